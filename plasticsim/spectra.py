"""Spectral comparison of an original and a pruned network.

For symmetric networks the comparison is exact and certified: sorted eigenvalues, the
Rayleigh quotients of the original eigenvectors under the pruned matrix, the cosine
between each eigenvector ``v`` and ``B v``, and the range of the quadratic-form ratio
``x^T B x / x^T A x`` over *all* ``x`` (a generalised eigenvalue problem). For general
networks eigenvalues are paired by a minimum-cost assignment.

For sparse networks only what scales is computed: the ``slowest`` eigenvalues (symmetric:
Lanczos, one connected group at a time; general: Arnoldi), their relative errors, and the
quadratic-form ratio over the slowest eigenvectors and random probe vectors. Fields that
need the whole spectrum are ``None`` and ``method`` says ``"sparse"``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sps
import scipy.sparse.linalg as spla
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components

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

# Relative weight of the squared distance that breaks ties of the total distance
# (match_eigenvalues).
_TIE_BREAK = 1e-6


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
        The eigensolver: ``"lapack"``, ``"lanczos"`` (ARPACK, per connected group),
        ``"lobpcg"`` or ``"shift-invert"``.
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

    Notes
    -----
    The minimum of the total distance is often attained by many pairings: for values on a
    line, a crossing pair of pairs costs exactly what the uncrossed pair costs. Left to
    the solver, the choice among them then follows rounding noise (a LAPACK run with
    another thread count moved the slowest mode's error of a 200-neuron E/I network from
    0.17 to 0.32). Ties are therefore broken by the smallest total squared distance: the
    cost is ``|a_i - b_j| (1 + 1e-6 |a_i - b_j| / s)``, ``s = max |a|``, which changes a
    total by at most a relative 1e-6 and is strictly convex, so among (near-)optimal
    pairings the uncrossed one wins, whatever the rounding.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([-1, -2 + 1j, -2 - 1j])
    >>> m = match_eigenvalues(a, np.array([-2.1 - 1j, -0.9, -2.1 + 1j]))
    >>> bool(np.allclose(m, [-0.9, -2.1 + 1j, -2.1 - 1j]))
    True

    Values on a line are paired in order, although a crossed pairing has the same total
    distance:

    >>> match_eigenvalues(np.array([-1.0, -2.0]), np.array([-4.0, -3.0])).tolist()
    [-3.0, -4.0]
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-D of equal length, got {a.shape} and {b.shape}.")
    dist = np.abs(a[:, None] - b[None, :])
    scale = float(np.max(np.abs(a))) if a.size else 0.0
    cost = dist * (1.0 + _TIE_BREAK * dist / scale) if scale > 0 else dist
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
    solver : {"auto", "lanczos", "lobpcg", "shift-invert"}, default="auto"
        Sparse symmetric input. ``"lanczos"`` (the ``"auto"`` choice): ARPACK's
        implicitly restarted Lanczos for the largest eigenvalues, run on each connected
        group of neurons separately (so that the repeated eigenvalues of pruned-off
        fragments are all found); ``"lobpcg"``: LOBPCG on ``-A`` with a pyamg
        smoothed-aggregation preconditioner; ``"shift-invert"``: ARPACK Lanczos on
        ``A^{-1}`` (a sparse LU of ``A``: small networks only). General sparse input
        always uses ARPACK's Arnoldi (``eigs``, largest real part), per connected group.
    rng : None, int or numpy.random.Generator, default=0
        Probe vectors and the eigensolvers' starting vectors (a fixed default: the same
        call gives the same numbers).

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
    entries, and ``O(n * slowest)`` memory: nothing ``n x n``. Solver choice, measured on
    clustered diagonally dominant networks (5,000 neurons, 260,000 synapses, 10 modes):
    Lanczos 85 products and 0.06 s; LOBPCG 5-12 s (SA or Jacobi preconditioner, its
    dense Rayleigh-Ritz steps dominate); shift-invert 7 s (fill-in of the LU; at 10^5
    neurons it did not finish in 15 minutes). The slow end of a leaky network's spectrum
    is well separated relative to its width, which is what Lanczos needs. Symmetric: the slowest
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


_SOLVERS = ("auto", "lanczos", "lobpcg", "shift-invert")
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


_SMALL_COMPONENT = 64  # components up to this size get a dense eigensolver


# ARPACK's relative accuracy of the Ritz values. Measured on a 20-cluster network
# (20,000 neurons, 10 modes): 1e-8 instead of machine precision halves the products
# (236 against 381) and changes no eigenvalue by more than 1e-14 relative.
_ARPACK_TOL = 1e-8


def _arpack(A, k: int, sym: bool, vectors: bool, gen):
    n = A.shape[0]
    v0 = gen.standard_normal(n)
    # A Krylov space of 6k + 1 vectors: clustered networks have many nearly equal slow
    # eigenvalues, and a larger space restarts less (at 100,000 neurons in 100 clusters,
    # 10 modes: 486 products instead of 864 with ARPACK's default 2k + 1).
    ncv = min(n, max(2 * k + 1, 6 * k + 1))
    kw = {"k": k, "v0": v0, "ncv": ncv, "tol": _ARPACK_TOL, "return_eigenvectors": vectors}
    try:
        if sym:
            return spla.eigsh(A, which="LA", **kw)
        return spla.eigs(A, which="LR", **kw)
    except spla.ArpackNoConvergence as exc:
        raise ValueError(
            f"ARPACK did not converge on the {k} slowest modes of a {A.shape[0]}-neuron "
            "connected group; try solver='lobpcg' or 'shift-invert' (symmetric networks)."
        ) from exc


def _slowest_lanczos(A: sps.csr_array, k: int, sym: bool, vectors: bool, gen):
    """Slowest ``k`` eigenpairs, one connected group of neurons at a time.

    The spectrum of a network is the union of its connected components' spectra. Each
    component gets implicitly restarted Lanczos/Arnoldi (ARPACK ``eigsh``/``eigs``,
    eigenvalues of largest real part, ``O(m)`` per iteration) or, when small, a dense
    solver. This matters after pruning: every fragment contributes an eigenvalue (often
    exactly ``-slack``, the same for many fragments), and a Krylov method run on the
    whole matrix finds only one copy of a repeated eigenvalue.
    """
    n = A.shape[0]
    n_comp, labels = connected_components(A, directed=not sym, connection="weak")
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_comp + 1))
    sizes = np.diff(bounds)
    vals, owners = [], []  # eigenvalues and (component, column) to rebuild vectors
    blocks = {}
    diag = A.diagonal()
    single = np.flatnonzero(sizes == 1)
    if single.size:
        nodes = order[bounds[single]]
        vals.append(diag[nodes].astype(complex if not sym else float))
        owners.extend(("single", int(v)) for v in nodes)
    for c in np.flatnonzero(sizes > 1):
        idx = order[bounds[c] : bounds[c + 1]]
        sub = A if idx.size == n else A[idx][:, idx]  # one group: no copy
        kc = min(k, idx.size)
        if idx.size <= max(_SMALL_COMPONENT, k + 2):
            dense = sub.toarray()
            if sym:
                w, V = np.linalg.eigh(dense)
            else:
                w, V = np.linalg.eig(dense)
            top = np.argsort(-w.real, kind="stable")[:kc]
            w, V = w[top], V[:, top]
        else:
            out = _arpack(sub, kc if sym else min(kc, idx.size - 2), sym, vectors, gen)
            w, V = out if vectors else (out, None)
        blocks[int(c)] = (idx, V)
        vals.append(w)
        owners.extend((int(c), j) for j in range(w.size))
    w = np.concatenate(vals)
    top = np.lexsort((w.imag, -w.real))[:k] if not sym else np.argsort(-w, kind="stable")[:k]
    lam = w[top]
    if not vectors:
        return lam, None
    V = np.zeros((n, top.size), dtype=lam.dtype)
    for col, t in enumerate(top):
        comp, j = owners[t]
        if comp == "single":
            V[j, col] = 1.0
        else:
            idx, Vc = blocks[comp]
            V[idx, col] = Vc[:, j]
    return lam, V


def _slowest_symmetric(A: sps.csr_array, k: int, solver: str, gen, vectors: bool):
    """The ``k`` largest (slowest) eigenvalues of symmetric ``A``, decreasing."""
    n = A.shape[0]
    if solver == "lanczos":
        return _slowest_lanczos(A, k, True, vectors, gen)
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
    solver : {"auto", "lanczos", "lobpcg", "shift-invert"}, default="auto"
        Symmetric ``A``; see :func:`compare_spectra`. General ``A``: ARPACK ``eigs``.
    rng : None, int or numpy.random.Generator, default=0
        Starting vectors.

    Returns
    -------
    ndarray of shape (k,)
        Real for symmetric ``A``, complex otherwise.

    Notes
    -----
    ``O(m)`` per iteration and ``O(n k)`` memory for ``m`` stored entries, plus
    ``O(n + m)`` for the connected groups; a repeated eigenvalue *within* one connected
    group (non-generic for random weights) may be found only once by Lanczos.

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
        return _slowest_symmetric(A, k, "lanczos" if solver == "auto" else solver, gen, False)[0]
    return _slowest_lanczos(A, k, False, False, gen)[0]


#: The last original network's slowest modes (one entry): comparing many pruned networks
#: with one original (every method of a run) computes them once. Keyed by a 128-bit
#: digest of the matrix's contents (an edited A is recomputed) and the generator's state;
#: the state after them is kept so that a hit gives the same result bit for bit.
_ORIGINAL_MODES: dict = {}


def _fingerprint(A: sps.csr_array) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for part in (A.data, A.indices, A.indptr):
        h.update(np.ascontiguousarray(part).view(np.uint8))
    return h.digest()


def _original_modes(A: sps.csr_array, k: int, solver: str, gen):
    """``_slowest_symmetric(A, k, solver, gen, vectors=True)``, remembered for the last A."""
    key = (A.shape, k, solver, _fingerprint(A), repr(gen.bit_generator.state))
    hit = _ORIGINAL_MODES.get("entry")
    if hit is not None and hit[0] == key:
        lam, V, state = hit[1]
        gen.bit_generator.state = state
        return lam.copy(), V.copy()
    lam, V = _slowest_symmetric(A, k, solver, gen, vectors=True)
    _ORIGINAL_MODES["entry"] = (key, (lam, V, gen.bit_generator.state))
    return lam.copy(), V.copy()


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
        used = "lanczos" if solver == "auto" else solver
        lam, V = _original_modes(A, k, used, gen)
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
    lam = _slowest_lanczos(A, k, False, False, gen)[0]
    mu = match_eigenvalues(lam, _slowest_lanczos(B, k, False, False, gen)[0])
    return SpectralComparison(
        symmetric=False,
        eigenvalues=lam,
        matched=mu,
        relative_errors=_relative(lam, mu),
        method="sparse",
        solver="lanczos",
    )
