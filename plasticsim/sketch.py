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

References
----------
.. [1] D. Spielman, N. Srivastava, "Graph sparsification by effective resistances",
   SIAM J. Comput. 40(6), 2011 (Theorem 2 and its ``24 log n / eps^2`` projection).
.. [2] D. Achlioptas, "Database-friendly random projections: Johnson-Lindenstrauss with
   binary coins", J. Comput. Syst. Sci. 66, 2003.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import scipy.sparse as sps
from scipy.sparse.csgraph import breadth_first_order, connected_components

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
    "DEFAULT_RTOL",
    "JL_CONSTANT",
    "sketch_dimension",
    "sketch_scores",
    "sdd_violation",
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

#: Relative residual ``||r|| <= rtol ||b||`` of every solve. The solve error enters a
#: score relatively at most ``sqrt(kappa) rtol`` (energy norm); ``1e-4`` keeps it far
#: below the sketch's own error for the condition numbers of leaky networks.
DEFAULT_RTOL = 1e-4

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


def _check_sketchable(A: sps.csr_array, name: str = "A") -> np.ndarray:
    """Slack of each neuron; raise unless ``-A`` is symmetric, SDD and positive definite."""
    if not is_symmetric(A):
        raise ValueError(
            f"method='sketch' needs symmetric {name}; {name} is not. Use method='exact' or "
            "plasticsim.estimate_scores."
        )
    why = sdd_violation(A)
    if why is not None:
        raise ValueError(
            f"method='sketch' needs {name} with -{name} diagonally dominant: {why}. Use "
            "method='exact' or plasticsim.estimate_scores."
        )
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


def _block_pcg(M, dinv, B, rtol: float, maxiter: int):
    """Jacobi-preconditioned CG on all columns of ``B`` at once (independent steps).

    Returns ``(X, converged)``: each column stops updating once
    ``||r|| <= rtol ||b||``. One sparse-times-dense product per iteration for the
    whole block, which streams ``M`` once for all columns.
    """
    X = np.zeros_like(B)
    R = B.copy()
    bnorm = np.linalg.norm(B, axis=0)
    target = rtol * bnorm
    done = np.linalg.norm(R, axis=0) <= target
    Z = R * dinv[:, None]
    P = Z.copy()
    rz = np.einsum("ij,ij->j", R, Z)
    for _ in range(maxiter):
        if done.all():
            break
        MP = M @ P
        pmp = np.einsum("ij,ij->j", P, MP)
        alpha = np.where(done, 0.0, rz / np.where(pmp > 0, pmp, 1.0))
        X += alpha * P
        R -= alpha * MP
        done |= np.linalg.norm(R, axis=0) <= target
        Z = R * dinv[:, None]
        rz_new = np.einsum("ij,ij->j", R, Z)
        beta = np.where(done, 0.0, rz_new / np.where(rz > 0, rz, 1.0))
        P = Z + beta * P
        rz = rz_new
    return X, done


def _amg_solve(M, B, X0, rtol: float, maxiter: int):
    """Smoothed-aggregation AMG-preconditioned CG (pyamg), one column at a time."""
    import pyamg

    ml = pyamg.smoothed_aggregation_solver(M)
    X = X0.copy()
    done = np.zeros(B.shape[1], dtype=bool)
    for c in range(B.shape[1]):
        res = []
        x = ml.solve(B[:, c], x0=X0[:, c], tol=rtol, accel="cg", maxiter=maxiter, residuals=res)
        X[:, c] = x
        done[c] = np.linalg.norm(B[:, c] - M @ x) <= rtol * np.linalg.norm(B[:, c]) * 1.0001
    return X, done


def _solve(M, R, rtol: float, solver: str, maxiter: int) -> np.ndarray:
    n, q = R.shape
    Y = np.empty_like(R)
    dinv = 1.0 / M.diagonal()
    for c0 in range(0, q, _BLOCK_COLS):
        c1 = min(q, c0 + _BLOCK_COLS)
        B = R[:, c0:c1]
        if solver == "amg":
            X, done = _amg_solve(M, B, np.zeros_like(B), rtol, maxiter)
        else:
            X, done = _block_pcg(M, dinv, B, rtol, maxiter)
            if not done.all() and solver == "auto":
                logger.info(
                    "Jacobi-CG left %d of %d columns above rtol=%g after %d iterations; "
                    "finishing them with AMG-preconditioned CG.",
                    int((~done).sum()),
                    done.size,
                    rtol,
                    maxiter,
                )
                bad = np.flatnonzero(~done)
                Xb, db = _amg_solve(M, B[:, bad], X[:, bad], rtol, maxiter)
                X[:, bad] = Xb
                done[bad] = db
        if not done.all():
            worst = np.max(np.linalg.norm(B - M @ X, axis=0) / np.linalg.norm(B, axis=0))
            raise ValueError(
                f"the sketch's conjugate-gradient solves with -A did not reach rtol={rtol:g} "
                f"in maxiter={maxiter} iterations (solver={solver!r}; worst relative "
                f"residual {worst:.3g}): -A is too ill-conditioned. Try solver='amg', a "
                "larger maxiter, or method='exact' for a small network."
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
    maxiter: int = 500,
) -> np.ndarray:
    """Sketched scores aligned with the synapse list ``(i, j, a)`` of ``A``."""
    eps = DEFAULT_EPS if eps is None else check_positive("eps", eps)
    if eps > 1:
        raise ValueError(f"eps == {eps!r}, must be in (0, 1].")
    rtol = check_positive("rtol", rtol)
    check_choice("solver", solver, _SOLVERS)
    maxiter = check_integer("maxiter", maxiter, 1)
    slack = _check_sketchable(A)
    _, gen = check_rng(rng, STREAM_SKETCH)
    n = A.shape[0]
    q = sketch_dimension(n, eps)
    logger.info("sketch: n=%d, %d synapses, q=%d (eps=%g), rtol=%g", n, i.size, q, eps, rtol)
    R = _projected_rhs(i, j, a, slack, n, q, gen)
    M = (-A).tocsr()
    Y = _solve(M, R, rtol, solver, maxiter)
    del R
    return 0.5 * sigma**2 * np.abs(a) * _pair_norms(Y, i, j, a)


def sketch_scores(
    A, *, sigma=1.0, eps=None, rng=None, rtol=DEFAULT_RTOL, solver="auto", maxiter=500
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
    rtol : float, default=1e-4
        Relative residual of each conjugate-gradient solve.
    solver : {"auto", "jacobi", "amg"}, default="auto"
        ``"jacobi"``: Jacobi-preconditioned CG on blocks of 64 right-hand sides at once;
        ``"amg"``: pyamg smoothed-aggregation-preconditioned CG, one column at a time;
        ``"auto"``: Jacobi, then AMG for any column still unconverged after ``maxiter``.
    maxiter : int, default=500
        Iterations per solve before giving up (``ValueError``).

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
    ``-A`` diagonally dominant; ``benchmarks/large_offline.py``, rtol ``1e-4``, a loaded
    2-core machine) Jacobi-CG on a block of right-hand sides took 0.17 s per solve,
    against 1.0 s for pyamg smoothed aggregation (2 iterations, 4.6 s setup), 1.2 s for
    pyamg Ruge-Stuben (19.7 s setup) and 0.46 s for scipy's one-column Jacobi-CG: a leaky
    diagonally dominant ``-A`` is well conditioned after Jacobi scaling, so AMG's costly
    V-cycles do not pay, and one sparse product serves 64 columns. AMG remains the
    fallback for nearly singular ``-A`` (tiny slack), where Jacobi needs
    ``O(sqrt(kappa))`` iterations.

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
        As, i, j, a, sigma=sigma, eps=eps, rng=rng, rtol=rtol, solver=solver, maxiter=maxiter
    )
    S = from_list(As.shape[0], i, j, s)
    return S if sparse_in else S.toarray()
