r"""Sketched scores for large sparse symmetric, diagonally dominant networks.

For symmetric ``A`` with ``-A`` diagonally dominant and white noise, the stationary
covariance is ``C = (sigma^2 / 2) (-A)^{-1}`` and the score of synapse ``a = A[i, j]`` is

.. math:: s_{ij} = \frac{\sigma^2}{2} |a|\, b^T (-A)^{-1} b, \qquad
          b = e_i - \mathrm{sign}(a)\, e_j,

the weight times an effective resistance (DESIGN.md §2b). Write ``-A = U^T U`` with one
row of ``U`` per synapse pair, ``sqrt|a| (e_i - sign(a) e_j)``, and one per neuron with
slack ``sqrt(slack_i) e_i`` (``slack_i = -A[i, i] - sum_{j != i} |A[i, j]| >= 0``). Then
``b^T (-A)^{-1} b = ||U (-A)^{-1} b||^2``, and a random projection ``Q`` (``q x rows``,
entries ``+-1 / sqrt(q)``) keeps these norms to a factor ``1 +- eps`` for
``q = O(log n / eps^2)`` (Johnson-Lindenstrauss): with ``Y = (-A)^{-1} U^T Q^T`` (``q``
sparse solves, ``n x q``),

.. math:: s_{ij} \approx \frac{\sigma^2}{2} |a|\,
          \lVert Y_{i,:} - \mathrm{sign}(a)\, Y_{j,:} \rVert^2 .


The solves. ``M = -A`` of a leaky network with weakly coupled groups has a few very slow
eigenvectors (eigenvalues near the leak, far below the bulk). A conjugate-gradient
solve stopped on its relative residual leaves their components unresolved -- a residual
bound controls the error only up to the condition number -- and precisely the scores of
synapses between the groups live there (they came out many times too small). The
solves therefore (i) *deflate* the ``k`` slowest eigenvectors ``W`` of ``M``
(:mod:`plasticsim.spectra`'s Lanczos per connected group; ``k`` where the modelled cost
``(m + 2 n k) sqrt(hi / theta_{k+1})`` is least, i.e. at the spectral gap; none when
Gershgorin's bounds already give ``kappa(M) <= 1e3``): A-DEF2 deflated CG with a Jacobi
preconditioner, exact in ``span W`` through ``E = W^T M W``, which keeps every residual
orthogonal to ``W`` [3]_ [4]_; and (ii) stop on the *energy norm*: for ``r`` orthogonal to
``W``, ``||e||_M^2 = r^T M^{-1} r <= ||r||^2 / floor`` with
``floor = 1 / (1 / theta_{k+1} + sin^2 / lambda_1)`` (``theta`` the computed
eigenvalues of ``M``, ``sin`` the Davis-Kahan angle of ``W`` from the Ritz residuals;
at least the smallest slack, Gershgorin's lower bound).

Per score. With ``Y = M^{-1} R`` and computed ``Y~ = Y + E``, for a synapse
``b = e_i - sign(a) e_j`` Cauchy-Schwarz in the ``M^{-1}`` inner product gives
``||E^T b||^2 = sum_c (e_c^T b)^2 <= (b^T M^{-1} b) sum_c ||e_c||_M^2``. Each column
stops at ``||e_c||_M^2 <= rtol^2 / q``, so for every score at once

.. math:: \bigl| \sqrt{\tilde s_{ij}} - \sqrt{\hat s_{ij}} \bigr|
          \le \mathrm{rtol}\, \sqrt{s_{ij}},

``s~`` the computed, ``s^`` the exact-solve sketched, ``s`` the exact score: with the
Johnson-Lindenstrauss event ``s^ in (1 +- eps) s``, ``s~ / s`` lies in
``[(sqrt(1 - eps) - rtol)^2, (sqrt(1 + eps) + rtol)^2]``. ``DEFAULT_RTOL = 1e-2``: at
most ~2 % per score, below the sketch's own ``sqrt(2 / q)`` (6-8 %). The bound holds for
the eigenpairs as computed (ARPACK, residuals of ``1e-8`` relative); the last ``Y``
is read in float32 (see ``_pair_norms``).
References
----------
.. [1] D. Spielman, N. Srivastava, "Graph sparsification by effective resistances",
   SIAM J. Comput. 40(6), 2011 (Theorem 2 and its ``24 log n / eps^2`` projection).
.. [2] D. Achlioptas, "Database-friendly random projections: Johnson-Lindenstrauss with
   binary coins", J. Comput. Syst. Sci. 66, 2003.
.. [3] Y. Saad, M. Yeung, J. Erhel, F. Guyomarc'h, "A deflated version of the conjugate
   gradient algorithm", SIAM J. Sci. Comput. 21(5), 2000.
.. [4] J. M. Tang, R. Nabben, C. Vuik, Y. A. Erlangga, "Comparison of two-level
   preconditioners derived from deflation, domain decomposition and multigrid methods",
   J. Sci. Comput. 39, 2009 (A-DEF2); J. Frank, C. Vuik, "On the construction of
   deflation-based preconditioners", SIAM J. Sci. Comput. 23(2), 2001.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sps
from scipy.linalg import cho_factor, cho_solve
from scipy.sparse.csgraph import breadth_first_order, connected_components
from threadpoolctl import threadpool_limits

from ._sparse import from_list, synapse_list
from ._validation import (
    STREAM_SKETCH,
    check_choice,
    check_integer,
    check_matrix_or_sparse,
    check_positive,
    check_rng,
    is_sparse,
    is_symmetric,
)

__all__ = [
    "DEFAULT_EPS",
    "DEFAULT_MAX_MODES",
    "DEFAULT_MAXITER",
    "DEFAULT_RTOL",
    "DEFAULT_SOLVE_RTOL",
    "JL_CONSTANT",
    "sketch_dimension",
    "sketch_scores",
    "sdd_violation",
    "solve_sdd",
    "stationary_rhs",
    "sample_stationary",
]

logger = logging.getLogger(__name__)

#: ``q = ceil(JL_CONSTANT ln(n) / eps^2)``: Spielman & Srivastava 2011, Theorem 2 (from
#: Achlioptas' sign-matrix Johnson-Lindenstrauss lemma): every one of the effective
#: resistances is then within a factor ``1 +- eps`` with probability ``>= 1 - 1/n``.
JL_CONSTANT = 24.0

#: Default accuracy. A single score's relative error is about ``sqrt(2 / q)`` (a
#: chi-square with ``q`` degrees of freedom over ``q``), ``eps / sqrt(12 ln n)``: at
#: ``eps = 0.75`` that is 7.9 % (median 5 %, 99th percentile 21 %) at ``n = 2000`` and
#: 6.4 % at ``n = 10^5`` (``q = 325`` and ``491``); the sampling needs the scores only up
#: to a constant factor.
DEFAULT_EPS = 0.75

#: Solve tolerance of the sketch, per score: the solves change the square root of every
#: score by at most ``rtol`` times the square root of its exact value (see the module
#: docstring), ``1e-2``: a score moves by at most ~2 %, against the sketch's own
#: ``sqrt(2 / q)`` (6-8 %).
DEFAULT_RTOL = 1e-2

#: Relative energy-norm error of :func:`solve_sdd`: ``||x - x*||_M <= rtol ||x*||_M``.
DEFAULT_SOLVE_RTOL = 1e-6

#: Most slow eigenvectors of ``-A`` deflated (computed 12, 24, ... at a time until the
#: spectral gap is found).
DEFAULT_MAX_MODES = 64

#: Iterations of one block of conjugate gradients before restarting or giving up.
DEFAULT_MAXITER = 1000

_KAPPA_PLAIN = 1e3  # Gershgorin condition bound under which nothing is deflated
_FIRST_MODES = 12  # slow eigenpairs computed first (then doubled while no gap shows)
_SOLVERS = ("auto", "jacobi", "amg")
_BLOCK_ROWS = 1 << 14  # rows of U per block of random signs (16384 x q float64)
_BLOCK_COLS = 64  # right-hand sides per block of conjugate gradients


def sketch_dimension(n: int, eps: float) -> int:
    """Projection dimension ``q = ceil(24 ln(n) / eps^2)`` (at least 1).

    Examples
    --------
    >>> sketch_dimension(2000, 0.75), sketch_dimension(100_000, 0.75)
    (325, 492)
    """
    return max(1, math.ceil(JL_CONSTANT * math.log(max(n, 2)) / eps**2))


def _slack(A: sps.csr_array, i, a) -> np.ndarray:
    n = A.shape[0]
    return -A.diagonal() - np.bincount(i, weights=np.abs(a), minlength=n)


def sdd_violation(A: sps.csr_array) -> str | None:
    """Why ``-A`` is not symmetric diagonally dominant, or ``None`` when it is.

    Diagonally dominant here: ``slack_i = -A[i, i] - sum_{j != i} |A[i, j]| >= 0`` for
    every ``i``, up to round-off (``1e-12`` of the row's scale).
    """
    i, _, a = synapse_list(A)
    slack = _slack(A, i, a)
    scale = -A.diagonal()
    bad = slack < -1e-12 * np.maximum(np.abs(scale), 1.0)
    if not bad.any():
        return None
    r = int(np.argmax(bad))
    return (
        f"-A is not diagonally dominant (row {r}: -A[{r}, {r}] - sum_j |A[{r}, j]| == "
        f"{float(slack[r]):.4g} < 0)"
    )


def _check_sketchable(A: sps.csr_array, name: str = "A", what: str = "") -> np.ndarray:
    """Slack of each neuron; raise unless ``-A`` is symmetric, SDD and positive definite."""
    what = what or "method='sketch'"
    alt = " Use method='exact' or plasticsim.estimate_scores." if what == "method='sketch'" else ""
    if not is_symmetric(A):
        raise ValueError(f"{what} needs symmetric {name}; {name} is not.{alt}")
    why = sdd_violation(A)
    if why is not None:
        raise ValueError(f"{what} needs {name} with -{name} diagonally dominant: {why}.{alt}")
    i, j, a = synapse_list(A)
    slack = np.maximum(_slack(A, i, a), 0.0)
    # -A = D_slack + (signed Laplacian) is positive semi-definite; it is singular exactly
    # when a connected component has no slack and is balanced (its neurons split into two
    # groups with excitatory synapses inside and inhibitory ones between: the +-1 vector
    # of the groups is then a null vector). O(n + m).
    _, labels = connected_components(A, directed=False)
    has_slack = np.bincount(labels, weights=(slack > 0).astype(float)) > 0
    for c in np.flatnonzero(~has_slack):
        first = int(np.argmax(labels == c))
        if _balanced(A, first):
            raise ValueError(
                f"{name} is not stable: the connected group of neurons containing neuron "
                f"{first} has no leak beyond its synapses (zero slack) and balanced signs, "
                f"so -{name} is singular there (an eigenvalue 0). Increase the leak on the "
                "diagonal."
            )
    return slack


def _balanced(A: sps.csr_array, start: int) -> bool:
    """Whether the component of ``start`` splits into sign-consistent groups."""
    order, pred = breadth_first_order(A, start, directed=False)
    side = np.zeros(A.shape[0])
    side[start] = 1.0
    for v in order[1:]:
        side[v] = side[pred[v]] * np.sign(A[v, pred[v]])
    sub = A[order][:, order].tocoo()
    off = sub.row != sub.col
    r, c, w = order[sub.row[off]], order[sub.col[off]], sub.data[off]
    return bool(np.all(np.sign(w) == side[r] * side[c]))


def _projected_rhs(i, j, a, slack, n: int, q: int, gen: np.random.Generator) -> np.ndarray:
    """``R = U^T Q^T`` (``n x q``), ``Q`` random signs over ``sqrt(q)``, built blockwise.

    ``Q`` is never formed: each block of ``_BLOCK_ROWS`` rows of ``U`` gets its own random
    signs (one bit each, drawn as bytes), and ``R += U_block^T S_block``. The blocks are
    drawn in a fixed order, so the result depends on the seed alone.
    """
    up = i < j
    ei, ej, ea = i[up], j[up], a[up]
    w = np.sqrt(np.abs(ea))
    srows = np.flatnonzero(slack > 0)
    sw = np.sqrt(slack[srows])
    # rows of U: the pairs, then the neurons with slack
    rows_i = np.concatenate([ei, srows])
    rows_j = np.concatenate([ej, srows])
    val_i = np.concatenate([w, sw])
    val_j = np.concatenate([-np.sign(ea) * w, np.zeros(srows.size)])
    n_rows = rows_i.size
    R = np.zeros((n, q))
    nbytes = (q + 7) // 8
    for r0 in range(0, n_rows, _BLOCK_ROWS):
        r1 = min(n_rows, r0 + _BLOCK_ROWS)
        b = r1 - r0
        bits = np.unpackbits(
            np.frombuffer(gen.bytes(b * nbytes), dtype=np.uint8).reshape(b, nbytes), axis=1
        )[:, :q]
        signs = bits.astype(np.float64)
        signs *= 2.0
        signs -= 1.0
        cols = np.arange(b)
        Ut = sps.csr_array(
            (
                np.concatenate([val_i[r0:r1], val_j[r0:r1]]),
                (np.concatenate([rows_i[r0:r1], rows_j[r0:r1]]), np.concatenate([cols, cols])),
            ),
            shape=(n, b),
        )
        R += Ut @ signs
    R /= math.sqrt(q)
    return R


@dataclass(frozen=True)
class _Deflation:
    """The deflation space ``W`` (``n x k``, orthonormal) of the solves with ``M = -A``.

    ``floor`` bounds ``r^T r / r^T M^{-1} r`` from below for every residual ``r``
    orthogonal to ``W``, so that ``||e||_M^2 = r^T M^{-1} r <= ||r||^2 / floor``.
    """

    W: np.ndarray
    MW: np.ndarray
    E: tuple | None  # Cholesky factor of W^T M W (k x k)
    floor: float
    eigenvalues: np.ndarray  # the computed slowest eigenvalues of M, increasing

    @property
    def k(self) -> int:
        return self.W.shape[1]

    def correct(self, X, R):
        """Coarse correction in place: ``X += W E^{-1} W^T R``, ``R -= M W E^{-1} W^T R``."""
        if self.k:
            C = cho_solve(self.E, self.W.T @ R)
            X += self.W @ C
            R -= self.MW @ C

    def project(self, Z):
        """``P^T Z = Z - W E^{-1} (M W)^T Z`` in place (A-DEF2's projection)."""
        if self.k:
            Z -= self.W @ cho_solve(self.E, self.MW.T @ Z)
        return Z


def _gershgorin(M: sps.csr_array, slack: np.ndarray) -> tuple[float, float]:
    """``(lo, hi)`` with ``lo <= lambda_min(M) <= lambda_max(M) <= hi`` (Gershgorin)."""
    d = M.diagonal()
    return max(float(slack.min()), 0.0), float(np.max(2.0 * d - slack))


def _deflation(M: sps.csr_array, slack: np.ndarray, max_modes: int, gen) -> _Deflation:
    """Choose and compute the slow eigenvectors of ``M = -A`` to deflate.

    No deflation when Gershgorin's bounds already give ``kappa(M) <= _KAPPA_PLAIN``;
    otherwise the ``K`` slowest eigenpairs (:func:`plasticsim.spectra` Lanczos per
    connected group, ``K = 12, 24, ...`` up to ``max_modes + 1``) and ``k < K`` chosen to
    minimise the modelled cost of conjugate gradients on the complement,
    ``(m + 2 n k) sqrt(hi / theta_{k+1})`` (a sparse product plus the projection, times
    the iterations): the spectral gap decides.
    """
    n = M.shape[0]
    lo, hi = _gershgorin(M, slack)
    empty = np.zeros((n, 0))
    if lo > 0 and hi <= _KAPPA_PLAIN * lo:
        return _Deflation(empty, empty, None, lo, np.zeros(0))
    from .spectra import _slowest_symmetric

    A = (-M).tocsr()
    K = min(_FIRST_MODES, max_modes + 1, n - 1)
    while True:
        with threadpool_limits(limits=1, user_api="blas"):  # ARPACK's small BLAS calls
            lam, V = _slowest_symmetric(A, K, "lanczos", gen, vectors=True)
        theta = -lam  # eigenvalues of M, increasing
        ks = np.arange(K)
        cost = (M.nnz + 2.0 * n * ks) * np.sqrt(hi / np.maximum(theta[ks], 1e-300))
        k = int(np.argmin(cost))
        wider = min(2 * K, max_modes + 1, n - 1)
        if k < K - 1 or wider == K or hi <= _KAPPA_PLAIN * theta[K - 1]:
            break
        K = wider
    W = np.ascontiguousarray(V[:, :k])
    MW = M @ W
    E = 0.5 * (W.T @ MW + MW.T @ W)
    # residuals r ⊥ W: split r = r_V + r_c along the exact slow eigenvectors V and their
    # complement; ||r_V|| <= sin(angle(W, V)) ||r|| (Davis-Kahan: residual of the Ritz
    # pairs over the gap), so r^T M^{-1} r <= ||r||^2 (1 / theta_{k+1} + sin^2 / lambda_1).
    floor = float(theta[k])
    if k:
        s = float(np.linalg.norm(MW - W * theta[:k]))
        gap = float(theta[k] - theta[k - 1])
        sin2 = min(1.0, s / gap) ** 2 if gap > 0 else 1.0
        lowest = max(lo, float(theta[0]) - s)
        floor = 1.0 / (1.0 / floor + (sin2 / lowest if lowest > 0 else np.inf))
    floor = max(floor, lo)
    return _Deflation(W, MW, cho_factor(E) if k else None, floor, theta)


def _block_dpcg(M, dinv, B, X0, defl: _Deflation, atol2, rtol2: float, maxiter: int):
    """Deflated, Jacobi-preconditioned CG on all columns of ``B`` at once.

    A-DEF2 of Tang, Nabben, Vuik & Erlangga (2009): start from ``x0 + Q r0``
    (``Q = W E^{-1} W^T``), search directions ``P^T D^{-1} r`` with
    ``P^T = I - Q M``; every residual stays orthogonal to ``W``. Column ``c`` stops once
    ``||r_c||^2 <= floor (atol2_c + rtol2 b_c^T x_c)``, which bounds its error
    ``||x_c - x*_c||_M^2 <= atol2_c + rtol2 ||x*_c||_M^2`` (``b^T x <= ||x*||_M^2``
    for Galerkin iterates). Returns ``(X, R, done)`` with ``R`` the recursive residual.
    """
    X = X0.copy()
    R = B - M @ X if np.any(X) else B.copy()
    defl.correct(X, R)
    done = np.einsum("ij,ij->j", R, R) <= _target(defl, B, X, atol2, rtol2)
    Z = R * dinv[:, None]
    rz = np.einsum("ij,ij->j", R, Z)
    P = defl.project(Z)
    for _ in range(maxiter):
        if done.all():
            break
        MP = M @ P
        pmp = np.einsum("ij,ij->j", P, MP)
        alpha = np.where(done, 0.0, rz / np.where(pmp > 0, pmp, 1.0))
        X += alpha * P
        R -= alpha * MP
        done |= np.einsum("ij,ij->j", R, R) <= _target(defl, B, X, atol2, rtol2)
        Z = R * dinv[:, None]
        rz_new = np.einsum("ij,ij->j", R, Z)
        beta = np.where(done, 0.0, rz_new / np.where(rz > 0, rz, 1.0))
        P = defl.project(Z) + beta * P
        rz = rz_new
    return X, done


def _target(defl: _Deflation, B, X, atol2, rtol2: float) -> np.ndarray:
    """``floor (atol2 + rtol2 b^T x)`` per column: the squared residual norm to reach."""
    t = np.array(np.broadcast_to(atol2, (B.shape[1],)), dtype=float)
    if rtol2:
        t += rtol2 * np.maximum(np.einsum("ij,ij->j", B, X), 0.0)
    return defl.floor * t


def _amg_solve(M, B, X0, t, maxiter: int):
    """Smoothed-aggregation AMG-preconditioned CG (pyamg), one column at a time, then
    the coarse correction (residual orthogonal to ``W``)."""
    import pyamg

    ml = pyamg.smoothed_aggregation_solver(M)
    X = X0.copy()
    for c in range(B.shape[1]):
        bn = float(np.linalg.norm(B[:, c]))
        tol = 0.5 * math.sqrt(max(t[c], 0.0)) / bn if bn > 0 else 1.0
        X[:, c] = ml.solve(B[:, c], x0=X[:, c], tol=tol, accel="cg", maxiter=maxiter)
    return X


def _solve(
    M, B, *, atol2, rtol2: float, solver: str, maxiter: int, defl: _Deflation, shown: float
):
    """``X`` with ``M X = B`` to the energy-norm bound of :func:`_block_dpcg`, blockwise.

    Each block ends with a check on the true residual ``B - M X`` (after a final coarse
    correction): a column whose recursive residual drifted is restarted, twice at most,
    then handed to AMG (``solver="auto"``) or reported (``ValueError``).
    """
    # The products with W are thin (n x k times k x 64): threaded BLAS only waits on
    # busy cores for them (measured 150x slower under load), while the sparse products,
    # the bulk of the work, are single-threaded anyway.
    with threadpool_limits(limits=1, user_api="blas"):
        return _solve_blocks(
            M, B, atol2=atol2, rtol2=rtol2, solver=solver, maxiter=maxiter, defl=defl, shown=shown
        )


def _solve_blocks(M, B, *, atol2, rtol2, solver, maxiter, defl: _Deflation, shown: float):
    n, q = B.shape
    Y = np.empty_like(B)
    dinv = 1.0 / M.diagonal()
    atol2 = np.broadcast_to(np.asarray(atol2, dtype=float), (q,))
    for c0 in range(0, q, _BLOCK_COLS):
        c1 = min(q, c0 + _BLOCK_COLS)
        Bb = B[:, c0:c1]
        X = np.zeros_like(Bb)
        done = np.zeros(c1 - c0, dtype=bool)
        a2 = atol2[c0:c1]
        rounds = {"jacobi": ("jacobi",) * 3, "amg": ("amg",) * 2}.get(
            solver, ("jacobi",) * 3 + ("amg",)
        )
        for r, how in enumerate(rounds):
            if how == "jacobi":
                X, _ = _block_dpcg(M, dinv, Bb, X, defl, a2, rtol2, maxiter)
            else:
                if r and rounds[r - 1] == "jacobi":
                    logger.info(
                        "deflated Jacobi-CG left %d of %d columns above the tolerance after "
                        "%d iterations; finishing them with AMG-preconditioned CG.",
                        int((~done).sum()),
                        done.size,
                        maxiter,
                    )
                bad = np.flatnonzero(~done)
                t = _target(defl, Bb, X, a2, rtol2)[bad]
                if rtol2:  # b^T x grows to ||x*||_M^2 as the solve converges: aim lower
                    t = t * 0.25
                X[:, bad] = _amg_solve(M, Bb[:, bad], X[:, bad], t, maxiter)
            R = Bb - M @ X
            defl.correct(X, R)
            done = np.einsum("ij,ij->j", R, R) <= _target(defl, Bb, X, a2, rtol2)
            if done.all():
                break
        if not done.all():
            R = Bb - M @ X
            defl.correct(X, R)
            need = _target(defl, Bb, X, a2, rtol2)
            worst = float(np.max(np.sqrt(np.einsum("ij,ij->j", R, R) / need)))
            raise ValueError(
                f"the conjugate-gradient solves with -A did not reach rtol={shown:g} in "
                f"maxiter={maxiter} iterations (solver={solver!r}; worst residual "
                f"{worst:.3g} times the one needed): -A is too ill-conditioned after "
                f"deflating {defl.k} slow modes. Try solver='amg', a larger maxiter or "
                "max_modes, or method='exact' for a small network."
            )
        Y[:, c0:c1] = X
    return Y


def _pair_norms(Y, i, j, a) -> np.ndarray:
    """``||Y[i] - sign(a) Y[j]||^2`` for every synapse, in blocks of rows.

    Computed once per unordered pair (``i < j``) and copied to ``(j, i)``, so the two
    entries of a pair agree exactly. ``Y`` is read in float32 (half the memory traffic
    of this ``O(q m)`` step): the rounding error of a difference,
    ``~ 6e-8 ||Y_i|| / ||Y_i - sign Y_j||``, stays far below the sketch's own
    ``sqrt(2 / q)`` unless two neurons are coupled so tightly that their effective
    resistance is ``1e-5`` of their variance.
    """
    n = Y.shape[0]
    Y = Y.astype(np.float32)
    out = np.empty(i.size)
    up = np.flatnonzero(i < j)
    key_up = i[up] * n + j[up]  # increasing: the list is row-major
    low = np.flatnonzero(i > j)
    pos = np.searchsorted(key_up, j[low] * n + i[low])
    pos_c = np.minimum(pos, max(key_up.size - 1, 0))
    paired = (pos < key_up.size) & (key_up[pos_c] == j[low] * n + i[low])
    # every upper entry, plus any lower entry without an upper twin
    direct = np.concatenate([up, low[~paired]])
    sgn = np.sign(a).astype(np.float32)
    step = max(1, (1 << 22) // max(Y.shape[1], 1))
    for k0 in range(0, direct.size, step):
        e = direct[k0 : k0 + step]
        D = Y[i[e]] - sgn[e, None] * Y[j[e]]
        out[e] = np.einsum("ij,ij->i", D, D)
    out[low[paired]] = out[up[pos_c[paired]]]
    return out


def _check_solver_args(rtol, solver, maxiter, max_modes):
    rtol = check_positive("rtol", rtol)
    check_choice("solver", solver, _SOLVERS)
    maxiter = check_integer("maxiter", maxiter, 1)
    max_modes = check_integer("max_modes", max_modes, 0)
    return rtol, maxiter, max_modes


def _sketch_values(
    A: sps.csr_array,
    i,
    j,
    a,
    *,
    sigma: float,
    eps,
    rng,
    rtol: float = DEFAULT_RTOL,
    solver: str = "auto",
    maxiter: int = DEFAULT_MAXITER,
    max_modes: int = DEFAULT_MAX_MODES,
) -> np.ndarray:
    """Sketched scores aligned with the synapse list ``(i, j, a)`` of ``A``."""
    eps = DEFAULT_EPS if eps is None else check_positive("eps", eps)
    if eps > 1:
        raise ValueError(f"eps == {eps!r}, must be in (0, 1].")
    rtol, maxiter, max_modes = _check_solver_args(rtol, solver, maxiter, max_modes)
    slack = _check_sketchable(A)
    seed, gen = check_rng(rng, STREAM_SKETCH)
    n = A.shape[0]
    q = sketch_dimension(n, eps)
    R = _projected_rhs(i, j, a, slack, n, q, gen)
    M = (-A).tocsr()
    defl = _deflation(M, slack, max_modes, _eigen_rng(seed))
    logger.info(
        "sketch: n=%d, %d synapses, q=%d (eps=%g), rtol=%g, %d slow modes deflated "
        "(energy floor %.3g)",
        n,
        i.size,
        q,
        eps,
        rtol,
        defl.k,
        defl.floor,
    )
    # the columns of R carry 1/sqrt(q): sum_c ||e_c||_M^2 <= rtol^2 bounds every score
    Y = _solve(
        M, R, atol2=rtol**2 / q, rtol2=0.0, solver=solver, maxiter=maxiter, defl=defl, shown=rtol
    )
    del R
    return 0.5 * sigma**2 * np.abs(a) * _pair_norms(Y, i, j, a)


def _eigen_rng(seed: int) -> np.random.Generator:
    """Starting vectors of the eigensolver: their own stream of the sketch's seed."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM_SKETCH, 1)))


def sketch_scores(
    A,
    *,
    sigma=1.0,
    eps=None,
    rng=None,
    rtol=DEFAULT_RTOL,
    solver="auto",
    maxiter=DEFAULT_MAXITER,
    max_modes=DEFAULT_MAX_MODES,
):
    r"""Noise-prune scores by random projection, for symmetric diagonally dominant ``A``.

    .. math:: s_{ij} \approx \frac{\sigma^2}{2} |a_{ij}|\,
              \lVert Q U (-A)^{-1} (e_i - \mathrm{sign}(a_{ij}) e_j) \rVert^2

    Parameters
    ----------
    A : array_like or scipy.sparse array of shape (n, n)
        Symmetric, with ``-A`` diagonally dominant and every group of connected neurons
        leaking (``-A`` positive definite).
    sigma : float, default=1.0
        White-noise amplitude.
    eps : float in (0, 1], default=DEFAULT_EPS (0.75)
        Accuracy: ``q = ceil(24 ln(n) / eps^2)`` projections.
    rng : None, int or numpy.random.Generator, default=None
        The random signs (stream ``STREAM_SKETCH`` of the seed).
    rtol : float, default=DEFAULT_RTOL (1e-2)
        Solve tolerance per score: ``|sqrt(s~) - sqrt(s^)| <= rtol sqrt(s)`` for every
        synapse (module docstring), whatever the slow modes.
    solver : {"auto", "jacobi", "amg"}, default="auto"
        ``"jacobi"``: deflated Jacobi-preconditioned CG on blocks of 64 right-hand sides at
        once (three rounds of ``maxiter``, restarted from the true residual);
        ``"amg"``: pyamg smoothed-aggregation-preconditioned CG, one column at a time,
        then the deflation's coarse correction; ``"auto"``: Jacobi, then AMG for any
        column still above the tolerance.
    maxiter : int, default=1000
        Iterations per round before giving up (``ValueError``).
    max_modes : int, default=DEFAULT_MAX_MODES (64)
        Most slow eigenvectors of ``-A`` deflated (0: none).

    Returns
    -------
    S : scipy.sparse.csr_array, or ndarray for dense ``A``
        Scores at the synapses, exactly symmetric.

    Notes
    -----
    Cost: ``O(q m)`` for the projection and the scores, plus ``q`` solves. Memory
    ``O(q n + m)``: ``Y`` (``n x q``), never ``Q`` or anything ``n x n``. The random signs
    are drawn in blocks of 16384 rows of ``U`` (one bit each; a block of signs is
    ``16384 q`` doubles, 64 MB at ``q = 492``).

    Solver. On a clustered network of ``10^5`` neurons and ``10^7`` synapses (leak 1,
    ``-A`` diagonally dominant; ``benchmarks/large_offline.py``, a loaded 2-core machine)
    Jacobi-CG on a block of right-hand sides took 0.17 s per solve, against 1.0 s for
    pyamg smoothed aggregation (2 iterations, 4.6 s setup), 1.2 s for pyamg Ruge-Stuben
    (19.7 s setup) and 0.46 s for scipy's one-column Jacobi-CG: after Jacobi scaling and
    deflation of the few slow modes, ``-A`` is well conditioned, so AMG's costly V-cycles
    do not pay, and one sparse product serves 64 columns. Deflation costs one Lanczos run
    (about 0.4 s at ``n = 3000``, 5-10 s at ``10^5`` for 12 modes) and ``4 n k`` per
    column and iteration.

    Examples
    --------
    >>> import numpy as np
    >>> from plasticsim import synapse_scores
    >>> from plasticsim.networks import clustered
    >>> A = clustered([40, 40], rng=0)
    >>> S = sketch_scores(A, eps=0.5, rng=1)
    >>> E = synapse_scores(A, method="exact")
    >>> syn = (A != 0) & ~np.eye(80, dtype=bool)
    >>> rel = np.abs(S - E)[syn] / E[syn]
    >>> bool(np.median(rel) < 0.1)
    True
    """
    sparse_in = is_sparse(A)
    A = check_matrix_or_sparse(A, "A")
    sigma = check_positive("sigma", sigma)
    As = A if sparse_in else sps.csr_array(A)
    i, j, a = synapse_list(As)
    if i.size == 0:
        raise ValueError("A has no synapses: every off-diagonal entry is zero, nothing to prune.")
    s = _sketch_values(
        As,
        i,
        j,
        a,
        sigma=sigma,
        eps=eps,
        rng=rng,
        rtol=rtol,
        solver=solver,
        maxiter=maxiter,
        max_modes=max_modes,
    )
    S = from_list(As.shape[0], i, j, s)
    return S if sparse_in else S.toarray()


def _check_sdd_input(A, name="A") -> tuple[sps.csr_array, np.ndarray]:
    A = check_matrix_or_sparse(A, name)
    As = A if is_sparse(A) else sps.csr_array(A)
    return As, _check_sketchable(As, name, what="this solve")


def solve_sdd(
    A,
    B,
    *,
    rtol=DEFAULT_SOLVE_RTOL,
    solver="auto",
    maxiter=DEFAULT_MAXITER,
    max_modes=DEFAULT_MAX_MODES,
):
    r"""Solve ``(-A) X = B`` for symmetric ``A`` with ``-A`` diagonally dominant.

    The sketch's solver: conjugate gradients with a Jacobi preconditioner, deflating the
    slow eigenvectors of ``-A`` (see the module docstring). Every column satisfies

    .. math:: \lVert x - x^* \rVert_{-A} \le \mathrm{rtol}\, \lVert x^* \rVert_{-A},
              \qquad \lVert v \rVert_{-A}^2 = v^T (-A) v,

    the error in the energy norm, whatever the conditioning of ``-A`` (a bound on the
    residual alone would control it only up to the condition number).

    Parameters
    ----------
    A : array_like or scipy.sparse array of shape (n, n)
        Symmetric, ``-A`` diagonally dominant and positive definite.
    B : array_like of shape (n,) or (n, c)
    rtol : float, default=1e-6
        Relative error in the energy norm of each column.
    solver : {"auto", "jacobi", "amg"}, default="auto"
        As in :func:`sketch_scores`.
    maxiter : int, default=1000
        Iterations per round of conjugate gradients (three rounds, then AMG for
        ``"auto"``), before a ``ValueError``.
    max_modes : int, default=64
        Most slow eigenvectors deflated (0: none).

    Returns
    -------
    X : ndarray, the shape of ``B``

    Notes
    -----
    ``O(m)`` per iteration and column, plus ``O(n k)`` for ``k`` deflated modes; the
    iterations grow like ``sqrt(kappa)`` of ``-A`` with its ``k`` slowest modes removed,
    times ``log(1 / rtol)``. Memory ``O(n (c + k) + m)``.

    Examples
    --------
    >>> import numpy as np
    >>> from plasticsim.networks import clustered
    >>> A = clustered([30, 30], p_out=0.01, leak=1e-6, sparse=True, rng=0)
    >>> b = np.ones(60)
    >>> x = solve_sdd(A, b, rtol=1e-10)
    >>> bool(np.allclose(x, np.linalg.solve(-A.toarray(), b), rtol=1e-6))
    True
    """
    As, slack = _check_sdd_input(A)
    n = As.shape[0]
    Bv = np.asarray(B)
    if not (np.issubdtype(Bv.dtype, np.number) and not np.iscomplexobj(Bv)):
        raise TypeError(f"B must be a real array, got dtype {Bv.dtype}.")
    if Bv.ndim not in (1, 2) or Bv.shape[0] != n:
        raise ValueError(f"B has shape {Bv.shape}, must be ({n},) or ({n}, c) to match A.")
    if not np.all(np.isfinite(Bv)):
        raise ValueError("B has non-finite entries (nan or inf).")
    rtol, maxiter, max_modes = _check_solver_args(rtol, solver, maxiter, max_modes)
    M = (-As).tocsr()
    defl = _deflation(M, slack, max_modes, np.random.default_rng(0))
    B2 = np.array(Bv.reshape(n, -1), dtype=float)
    X = _solve(
        M, B2, atol2=0.0, rtol2=rtol**2, solver=solver, maxiter=maxiter, defl=defl, shown=rtol
    )
    return X.reshape(Bv.shape)


def stationary_rhs(A, size=None, *, rng=None) -> np.ndarray:
    r"""``U^T g`` for standard normal ``g``: Gaussian vectors with covariance ``-A``.

    ``-A = U^T U`` with the rows of ``U`` of the module docstring (one per synapse pair,
    one per neuron with slack); ``U^T g`` is accumulated pair by pair (``O(n + m)``,
    ``U`` is never formed). With :func:`solve_sdd` it gives exact samples of the
    stationary state, ``x = (sigma / sqrt 2) (-A)^{-1} U^T g``
    (:func:`sample_stationary`).

    Parameters
    ----------
    A : array_like or scipy.sparse array of shape (n, n)
        Symmetric with ``-A`` diagonally dominant.
    size : None or int, default=None
        Number of vectors; ``None``: one, shape ``(n,)``.
    rng : None, int or numpy.random.Generator, default=None

    Returns
    -------
    ndarray of shape (n,) or (size, n)

    Examples
    --------
    >>> import numpy as np
    >>> from plasticsim.networks import clustered
    >>> A = clustered([4, 4], rng=0)
    >>> V = stationary_rhs(A, 20000, rng=1)
    >>> bool(np.abs(V.T @ V / 20000 + A).max() < 0.05 * np.abs(A).max())
    True
    """
    As, slack = _check_sdd_input(A)
    if size is not None:
        size = check_integer("size", size, 1)
    _, gen = check_rng(rng, STREAM_SKETCH)
    return _rhs(As, slack, 1 if size is None else size, gen)[0 if size is None else slice(None)]


def _rhs(As, slack, size: int, gen) -> np.ndarray:
    n = As.shape[0]
    i, j, a = synapse_list(As)
    up = i < j
    ei, ej, ea = i[up], j[up], a[up]
    w = np.sqrt(np.abs(ea))
    sw = np.sqrt(slack)
    out = np.empty((size, n))
    for s in range(size):
        g = gen.standard_normal(ei.size) * w
        out[s] = np.bincount(ei, g, n) - np.bincount(ej, np.sign(ea) * g, n)
        out[s] += sw * gen.standard_normal(n)
    return out


def sample_stationary(A, size=None, *, sigma=1.0, rng=None, rtol=DEFAULT_SOLVE_RTOL, **kw):
    r"""Exact samples of the stationary state of ``dx = A x dt + sigma dW``.

    .. math:: x = \frac{\sigma}{\sqrt 2} (-A)^{-1} U^T g, \quad g \sim N(0, I),
              \qquad \mathrm{Cov}(x) = \frac{\sigma^2}{2} (-A)^{-1}

    for symmetric ``A`` with ``-A`` diagonally dominant (``-A = U^T U``, see
    :func:`stationary_rhs`), without the ``n x n`` covariance: one :func:`solve_sdd`
    per sample, to a relative energy-norm error ``rtol``.

    Parameters
    ----------
    A : array_like or scipy.sparse array of shape (n, n)
    size : None or int, default=None
        Number of samples; ``None``: one, shape ``(n,)``.
    sigma : float, default=1.0
        White-noise amplitude.
    rng : None, int or numpy.random.Generator, default=None
        The Gaussian draws (stream ``STREAM_SKETCH`` of the seed).
    rtol : float, default=1e-6
        Passed to :func:`solve_sdd`, as are ``solver``, ``maxiter`` and ``max_modes``.

    Returns
    -------
    ndarray of shape (n,) or (size, n)

    Notes
    -----
    ``O(n + m)`` per sample for the draw, plus the solves (:func:`solve_sdd`).

    Examples
    --------
    >>> import numpy as np
    >>> from plasticsim.networks import clustered
    >>> A = clustered([20, 20], leak=0.5, sparse=True, rng=0)
    >>> X = sample_stationary(A, 4000, rng=1)
    >>> C = 0.5 * np.linalg.inv(-A.toarray())
    >>> bool(np.abs(np.cov(X.T) - C).max() < 0.1 * np.abs(C).max())
    True
    """
    sigma = check_positive("sigma", sigma)
    V = stationary_rhs(A, size, rng=rng)
    X = solve_sdd(A, V.T, rtol=rtol, **kw).T
    return (sigma / math.sqrt(2.0)) * X
