"""Spectral comparison of an original and a pruned network.

For symmetric networks the comparison is exact and certified: sorted eigenvalues, the
Rayleigh quotients of the original eigenvectors under the pruned matrix, the cosine
between each eigenvector ``v`` and ``B v``, and the range of the quadratic-form ratio
``x^T B x / x^T A x`` over *all* ``x`` (a generalised eigenvalue problem). For general
networks eigenvalues are paired by a minimum-cost assignment.

For sparse networks only what scales is computed: the ``slowest`` eigenvalues (symmetric:
LOBPCG or shift-invert Lanczos; general: ARPACK), their relative errors, and the
quadratic-form ratio over the slowest eigenvectors and random probe vectors. Fields that
need the whole spectrum are ``None`` and ``method`` says ``"sparse"``.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sps
import scipy.sparse.linalg as spla
from scipy.optimize import linear_sum_assignment

from ._validation import (
    check_choice,
    check_integer,
    check_matrix,
    check_rng,
    check_sparse_matrix,
    is_sparse,
    is_symmetric,
)

__all__ = [
    "SpectralComparison",
    "compare_spectra",
    "quadratic_form_range",
    "match_eigenvalues",
    "slowest_eigenvalues",
]


@dataclass(frozen=True)
class SpectralComparison:
    """Result of :func:`compare_spectra`; every array is ordered slowest mode first.

    Attributes
    ----------
    symmetric : bool
        Both matrices symmetric (exact real spectra and the quadratic-form certificate).
    eigenvalues : ndarray of shape (n,)
        Eigenvalues of ``A``, by decreasing real part (the slowest, nearest 0, first).
    matched : ndarray of shape (n,)
        The eigenvalue of ``B`` paired with each entry of ``eigenvalues``.
    relative_errors : ndarray of shape (n,)
        ``|matched - eigenvalues| / |eigenvalues|``.
    rayleigh : ndarray of shape (n,) or None
        Symmetric only: ``v^T B v / v^T A v`` for each unit eigenvector ``v`` of ``A``.
    cosines : ndarray of shape (n,) or None
        Symmetric only: ``|v . B v| / ||B v||``; 1 when ``v`` is still an eigenvector.
    qf_min, qf_max : float or None
        Symmetric with ``-A`` positive definite: the extreme values of
        ``x^T B x / x^T A x`` over all ``x != 0``. ``None`` when not computed (sparse
        input: it needs the whole generalised spectrum).
    method : {"dense", "sparse"}
        ``"dense"``: full spectra (arrays of length ``n``, or the ``slowest`` first
        entries of them); ``"sparse"``: only the ``slowest`` modes were computed.
    solver : str
        The eigensolver: ``"lapack"``, ``"lobpcg"``, ``"shift-invert"`` or ``"arpack"``.
    qf_probe_min, qf_probe_max : float or None
        Sparse symmetric: the range of ``x^T B x / x^T A x`` over the slowest
        eigenvectors of ``A`` and ``n_probes`` Gaussian probe vectors -- a lower bound
        on the range over all ``x``, not the certificate ``qf_min, qf_max``.
    n_probes : int
        Number of random probe vectors behind ``qf_probe_*``.
    """

    symmetric: bool
    eigenvalues: np.ndarray
    matched: np.ndarray
    relative_errors: np.ndarray
    rayleigh: np.ndarray | None = None
    cosines: np.ndarray | None = None
    qf_min: float | None = None
    qf_max: float | None = None
    method: str = "dense"
    solver: str = "lapack"
    qf_probe_min: float | None = None
    qf_probe_max: float | None = None
    n_probes: int = 0

    def slowest_error(self, m: int = 1) -> float:
        """Largest relative eigenvalue error among the ``m`` slowest modes."""
        m = check_integer("m", m, 1)
        if m > self.relative_errors.size and self.method == "sparse":
            raise ValueError(
                f"m == {m}, but only the {self.relative_errors.size} slowest modes were "
                "computed (compare_spectra(..., slowest=...))."
            )
        return float(np.max(self.relative_errors[:m]))

    @property
    def epsilon(self) -> float | None:
        """Smallest ``eps`` with ``1 - eps <= x^T B x / x^T A x <= 1 + eps`` for all ``x``."""
        if self.qf_min is None:
            return None
        return float(max(1.0 - self.qf_min, self.qf_max - 1.0))

    def summary(self, slowest=(1, 5)) -> dict:
        """Scalar metrics (JSON-ready): mean/median/max relative error, slowest modes.

        With ``method == "sparse"`` the whole-spectrum statistics are ``None`` (not
        computed) and ``n_modes`` says how many slowest modes the rest cover.
        """
        full = self.method == "dense"
        out = {"symmetric": self.symmetric}
        if not full:
            out["method"] = self.method
            out["n_modes"] = int(self.relative_errors.size)
        out |= {
            "eig_rel_err_mean": float(np.mean(self.relative_errors)) if full else None,
            "eig_rel_err_median": float(np.median(self.relative_errors)) if full else None,
            "eig_rel_err_max": float(np.max(self.relative_errors)) if full else None,
        }
        for m in slowest:
            m = min(int(m), self.relative_errors.size)
            out[f"slowest{m}_rel_err_max"] = self.slowest_error(m)
        if self.cosines is not None:
            out["cosine_min"] = float(np.min(self.cosines))
            out["cosine_mean"] = float(np.mean(self.cosines))
        if self.qf_min is not None:
            out["qf_ratio_min"] = float(self.qf_min)
            out["qf_ratio_max"] = float(self.qf_max)
            out["qf_epsilon"] = self.epsilon
        if self.qf_probe_min is not None:
            out["qf_probe_min"] = float(self.qf_probe_min)
            out["qf_probe_max"] = float(self.qf_probe_max)
        return out


def _pair(A, B, names=("A", "B")) -> tuple[np.ndarray, np.ndarray]:
    A = check_matrix(A, names[0])
    B = check_matrix(B, names[1])
    if A.shape != B.shape:
        raise ValueError(
            f"{names[1]} has shape {B.shape}, must match {names[0]}'s shape {A.shape}."
        )
    return A, B


def match_eigenvalues(a, b):
    """Pair two eigenvalue lists by minimum total ``|a_i - b_j|`` (Hungarian algorithm).

    Returns ``b`` reordered so that ``b[i]`` is paired with ``a[i]``. ``O(n^3)``.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([-1, -2 + 1j, -2 - 1j])
    >>> m = match_eigenvalues(a, np.array([-2.1 - 1j, -0.9, -2.1 + 1j]))
    >>> bool(np.allclose(m, [-0.9, -2.1 + 1j, -2.1 - 1j]))
    True
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-D of equal length, got {a.shape} and {b.shape}.")
    cost = np.abs(a[:, None] - b[None, :])
    rows, cols = linear_sum_assignment(cost)
    out = np.empty_like(b, dtype=np.result_type(a, b))
    out[rows] = b[cols]
    return out


def quadratic_form_range(A, B) -> tuple[float, float]:
    """Extreme values of ``x^T B x / x^T A x`` over all ``x != 0``.

    For symmetric ``A`` with ``-A`` positive definite these are the extreme generalised
    eigenvalues of ``(-B, -A)`` (LAPACK ``sygvd`` through :func:`scipy.linalg.eigh`).

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[-2.0, 1.0], [1.0, -2.0]])
    >>> lo, hi = quadratic_form_range(A, 1.5 * A)
    >>> round(lo, 12), round(hi, 12)
    (1.5, 1.5)
    """
    A, B = _pair(A, B)
    if not (is_symmetric(A) and is_symmetric(B)):
        raise ValueError("quadratic_form_range needs symmetric A and B.")
    try:
        w = sla.eigh(-B, -A, eigvals_only=True, check_finite=False)
    except np.linalg.LinAlgError as exc:
        raise ValueError(
            "quadratic_form_range needs -A positive definite (A stable and symmetric)."
        ) from exc
    return float(w[0]), float(w[-1])


def compare_spectra(A, B, *, slowest=None, n_probes=20, solver="auto", rng=0):
    """Compare the spectrum of a pruned network ``B`` with the original ``A``.

    Parameters
    ----------
    A, B : array_like or scipy.sparse array of shape (n, n)
        Original and pruned connectivity. If either is sparse, only the slowest modes
        are computed (see Notes).
    slowest : int, default=None
        Number of slowest modes (eigenvalues nearest 0, by decreasing real part). Dense
        input: ``None`` keeps every mode, an integer keeps the first ``slowest`` entries
        of the arrays (``qf_min, qf_max`` still range over all ``x``). Sparse input:
        ``None`` means 10; must be < n - 1.
    n_probes : int, default=20
        Sparse symmetric input: Gaussian probe vectors for ``qf_probe_min/max``.
    solver : {"auto", "lobpcg", "shift-invert"}, default="auto"
        Sparse symmetric input: LOBPCG on ``-A`` with a pyamg smoothed-aggregation
        preconditioner, or ARPACK shift-invert Lanczos around 0 (a sparse LU of ``A``).
        ``"auto"`` picks ``"lobpcg"``. General sparse input always uses ARPACK
        (``eigs``, largest real part).
    rng : None, int or numpy.random.Generator, default=0
        Probe vectors and LOBPCG's starting block (a fixed default: the same call gives
        the same numbers).

    Returns
    -------
    SpectralComparison

    Notes
    -----
    Symmetric ``A`` and ``B``: one ``eigh`` of ``A``, ``eigvalsh`` of ``B``, eigenvalues
    paired in sorted order (Weyl), and the generalised problem for the quadratic-form
    range: ``O(n^3)``. General: ``eigvals`` of both and a Hungarian assignment on
    ``|lambda_i - mu_j|`` (``O(n^3)``), since sorting complex spectra pairs the wrong
    modes. The relative error of the slowest modes (eigenvalues nearest 0) is the
    paper's measure of preserved dynamics.

    Sparse input costs ``O(m)`` per iteration of the eigensolver for ``m`` stored
    entries, and ``O(n * slowest)`` memory: nothing ``n x n``. Symmetric: the slowest
    eigenpairs of ``A`` and eigenvalues of ``B`` are paired in sorted order; ``rayleigh``
    and ``cosines`` are computed for the slowest eigenvectors; ``qf_min``/``qf_max``
    (the range over *all* ``x``, a generalised eigenproblem) are ``None`` and the
    probe range ``qf_probe_min``/``qf_probe_max`` stands in. General: the ``slowest``
    eigenvalues of largest real part of each, paired by minimum-cost assignment.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[-2.0, 1.0], [1.0, -2.0]])
    >>> cmp = compare_spectra(A, A)
    >>> cmp.eigenvalues
    array([-1., -3.])
    >>> float(cmp.relative_errors.max()), round(cmp.qf_min, 12), round(cmp.qf_max, 12)
    (0.0, 1.0, 1.0)

    Sparse input: the slowest modes only.

    >>> import scipy.sparse as sps
    >>> from plasticsim.networks import clustered
    >>> As = sps.csr_array(clustered([20, 20, 20], rng=0))
    >>> cmp = compare_spectra(As, As * 1.1, slowest=3)
    >>> cmp.method, cmp.qf_min, np.round(cmp.relative_errors, 9)
    ('sparse', None, array([0.1, 0.1, 0.1]))
    """
    if is_sparse(A) or is_sparse(B):
        return _compare_sparse(A, B, slowest, n_probes, solver, rng)
    check_choice("solver", solver, _SOLVERS)
    A, B = _pair(A, B)
    if slowest is not None:
        slowest = check_integer("slowest", slowest, 1)
        return _truncate(compare_spectra(A, B), slowest)
    if is_symmetric(A) and is_symmetric(B):
        lam, V = np.linalg.eigh(A)
        mu = np.linalg.eigvalsh(B)
        lam, V, mu = lam[::-1], V[:, ::-1], mu[::-1]
        BV = B @ V
        rq = np.einsum("ij,ij->j", V, BV)
        with np.errstate(divide="ignore", invalid="ignore"):
            cos = np.abs(rq) / np.linalg.norm(BV, axis=0)
        cos = np.where(np.isfinite(cos), cos, 0.0)
        qf_min = qf_max = None
        if lam[0] < 0:
            qf_min, qf_max = quadratic_form_range(A, B)
        return SpectralComparison(
            symmetric=True,
            eigenvalues=lam,
            matched=mu,
            relative_errors=_relative(lam, mu),
            rayleigh=rq / lam,
            cosines=cos,
            qf_min=qf_min,
            qf_max=qf_max,
        )
    lam = np.linalg.eigvals(A)
    mu = np.linalg.eigvals(B)
    order = np.lexsort((lam.imag, -lam.real))
    lam = lam[order]
    mu = match_eigenvalues(lam, mu)
    return SpectralComparison(
        symmetric=False, eigenvalues=lam, matched=mu, relative_errors=_relative(lam, mu)
    )


def _relative(lam: np.ndarray, mu: np.ndarray) -> np.ndarray:
    scale = np.abs(lam)
    tiny = np.finfo(float).tiny
    return np.abs(mu - lam) / np.maximum(scale, tiny)


_SOLVERS = ("auto", "lobpcg", "shift-invert")
_DEFAULT_SLOWEST = 10
# LOBPCG: residual tolerance asked for, and accepted, relative to max |A|. A residual
# ||A v - theta v|| = r bounds the eigenvalue error by r (and by r^2 / gap near
# convergence): 1e-6 max|A| is far below the errors pruning makes.
_EIG_TOL = 1e-8
_EIG_ACCEPT = 1e-6


def _truncate(cmp: SpectralComparison, m: int) -> SpectralComparison:
    m = min(m, cmp.eigenvalues.size)
    cut = {
        f.name: getattr(cmp, f.name)[:m]
        for f in dataclasses.fields(cmp)
        if isinstance(getattr(cmp, f.name), np.ndarray)
    }
    return dataclasses.replace(cmp, **cut)


def _as_csr(X, name: str) -> sps.csr_array:
    if is_sparse(X):
        return check_sparse_matrix(X, name)
    return sps.csr_array(check_matrix(X, name))


def _slowest_symmetric(A: sps.csr_array, k: int, solver: str, gen, vectors: bool):
    """The ``k`` largest (slowest) eigenvalues of symmetric ``A``, decreasing."""
    n = A.shape[0]
    if solver == "shift-invert":
        # nearest 0 = slowest for a stable A (every eigenvalue < 0)
        out = spla.eigsh(A, k=k, sigma=0.0, which="LM", return_eigenvectors=vectors)
        w, V = out if vectors else (out, None)
    else:
        import pyamg

        M = (-A).tocsr()
        pre = pyamg.smoothed_aggregation_solver(M).aspreconditioner()
        X = gen.standard_normal((n, min(n, k + max(5, k // 2))))
        scale = float(abs(M).max())
        with warnings.catch_warnings():
            # LOBPCG warns when the padding vectors stall; convergence of the wanted
            # ones is checked below from their own residuals.
            warnings.simplefilter("ignore", UserWarning)
            w, V = spla.lobpcg(M, X, M=pre, largest=False, tol=_EIG_TOL * scale, maxiter=500)
        order = np.argsort(w)[:k]
        w, V = w[order], V[:, order]
        resid = np.linalg.norm(M @ V - V * w, axis=0)
        if np.any(resid > _EIG_ACCEPT * scale):
            raise ValueError(
                f"LOBPCG did not converge on the {k} slowest modes (largest residual "
                f"{float(np.max(resid)):.3g} > {_EIG_ACCEPT:g} * max|A| == "
                f"{_EIG_ACCEPT * scale:.3g}); try solver='shift-invert'."
            )
        w = -w
    order = np.argsort(w)[::-1]
    return w[order], (V[:, order] if vectors else None)


def slowest_eigenvalues(A, k=10, *, solver="auto", rng=0) -> np.ndarray:
    """The ``k`` eigenvalues of largest real part (the slowest modes), decreasing.

    Parameters
    ----------
    A : array_like or scipy.sparse array of shape (n, n)
    k : int, default=10
        Must be < n - 1.
    solver : {"auto", "lobpcg", "shift-invert"}, default="auto"
        Symmetric ``A``; see :func:`compare_spectra`. General ``A``: ARPACK ``eigs``.
    rng : None, int or numpy.random.Generator, default=0
        LOBPCG's starting block.

    Returns
    -------
    ndarray of shape (k,)
        Real for symmetric ``A``, complex otherwise.

    Notes
    -----
    ``O(m)`` per iteration and ``O(n k)`` memory for ``m`` stored entries; the
    smoothed-aggregation preconditioner of LOBPCG costs a setup of a few products.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sps
    >>> off = np.full(9, 1.0)
    >>> A = sps.diags_array([off, np.full(10, -3.0), off], offsets=[-1, 0, 1])
    >>> lam = slowest_eigenvalues(A, 2)
    >>> bool(np.allclose(lam, np.linalg.eigvalsh(A.toarray())[::-1][:2]))
    True
    """
    A = _as_csr(A, "A")
    n = A.shape[0]
    k = check_integer("k", k, 1)
    if k >= n - 1:
        raise ValueError(f"k == {k}, must be < n - 1 == {n - 1} for the sparse eigensolvers.")
    check_choice("solver", solver, _SOLVERS)
    _, gen = check_rng(rng)
    if is_symmetric(A):
        return _slowest_symmetric(A, k, "lobpcg" if solver == "auto" else solver, gen, False)[0]
    lam = spla.eigs(A, k=k, which="LR", return_eigenvectors=False)
    return lam[np.lexsort((lam.imag, -lam.real))]


def _compare_sparse(A, B, slowest, n_probes, solver, rng) -> SpectralComparison:
    A = _as_csr(A, "A")
    B = _as_csr(B, "B")
    if A.shape != B.shape:
        raise ValueError(f"B has shape {B.shape}, must match A's shape {A.shape}.")
    n = A.shape[0]
    k = _DEFAULT_SLOWEST if slowest is None else check_integer("slowest", slowest, 1)
    if k >= n - 1:
        raise ValueError(
            f"slowest == {k}, must be < n - 1 == {n - 1} for the sparse eigensolvers; pass "
            "dense arrays for the whole spectrum."
        )
    n_probes = check_integer("n_probes", n_probes, 0)
    check_choice("solver", solver, _SOLVERS)
    _, gen = check_rng(rng)
    if is_symmetric(A) and is_symmetric(B):
        used = "lobpcg" if solver == "auto" else solver
        lam, V = _slowest_symmetric(A, k, used, gen, vectors=True)
        mu, _ = _slowest_symmetric(B, k, used, gen, vectors=False)
        BV = B @ V
        rq = np.einsum("ij,ij->j", V, BV)
        with np.errstate(divide="ignore", invalid="ignore"):
            cos = np.abs(rq) / np.linalg.norm(BV, axis=0)
        cos = np.where(np.isfinite(cos), cos, 0.0)
        X = np.hstack([V, gen.standard_normal((n, n_probes))])
        num = np.einsum("ij,ij->j", X, B @ X)
        den = np.einsum("ij,ij->j", X, A @ X)
        ok = den != 0
        ratio = num[ok] / den[ok]
        return SpectralComparison(
            symmetric=True,
            eigenvalues=lam,
            matched=mu,
            relative_errors=_relative(lam, mu),
            rayleigh=rq / lam,
            cosines=cos,
            method="sparse",
            solver=used,
            qf_probe_min=float(ratio.min()),
            qf_probe_max=float(ratio.max()),
            n_probes=n_probes,
        )
    lam = spla.eigs(A, k=k, which="LR", return_eigenvectors=False)
    mu = spla.eigs(B, k=k, which="LR", return_eigenvectors=False)
    order = np.lexsort((lam.imag, -lam.real))
    lam = lam[order]
    mu = match_eigenvalues(lam, mu)
    return SpectralComparison(
        symmetric=False,
        eigenvalues=lam,
        matched=mu,
        relative_errors=_relative(lam, mu),
        method="sparse",
        solver="arpack",
    )
