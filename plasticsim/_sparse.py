"""Sparse building blocks of the rule: synapse lists, sampling, the pruned matrix.

A sparse network is a canonical ``csr_array`` (see ``check_sparse_matrix``). Its synapses
are the stored off-diagonal entries, listed in row-major order as ``(i, j, a)``: the order
in which the dense path visits ``A[mask]``, so that sorted-order-independent steps (the
``k`` solved from the scores) and the sampling agree with the dense path bit for bit.
Everything here is ``O(n + m)`` in memory for ``m`` synapses; nothing forms an ``n x n``
array.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla

from ._validation import check_stable, unstable_error

__all__ = [
    "SPARSE_EXACT_MAX_N",
    "synapse_list",
    "from_list",
    "values_at",
    "check_sparse_stable",
    "sample_uniforms",
    "apply_sparse",
]

#: Largest ``n`` for which sparse input takes the exact (dense-covariance) path under
#: ``method="auto"``, and for which sparse sampling draws the dense path's uniforms.
#: The exact path holds the ``n x n`` covariance: 4096 neurons is 134 MB and one
#: ``O(n^3)`` Cholesky or Schur step of about a second.
SPARSE_EXACT_MAX_N = 4096


def synapse_list(A: sps.csr_array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, a)``: rows, columns and weights of the off-diagonal entries, row-major."""
    n = A.shape[0]
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(A.indptr))
    cols = A.indices.astype(np.int64)
    off = rows != cols
    return rows[off], cols[off], A.data[off]


def from_list(n: int, i, j, v) -> sps.csr_array:
    """A canonical ``csr_array`` with entries ``v`` at ``(i, j)`` (zeros dropped)."""
    out = sps.csr_array((np.asarray(v), (np.asarray(i), np.asarray(j))), shape=(n, n))
    out.sum_duplicates()
    out.eliminate_zeros()
    out.sort_indices()
    return out


def values_at(P: sps.csr_array, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``P[i, j]`` for many positions at once (0 where ``P`` stores nothing), ``O(m log m)``."""
    n = P.shape[0]
    prow = np.repeat(np.arange(n, dtype=np.int64), np.diff(P.indptr))
    pkey = prow * n + P.indices.astype(np.int64)  # sorted: canonical CSR is row-major
    key = np.asarray(i, dtype=np.int64) * n + np.asarray(j, dtype=np.int64)  # no int32 wrap
    pos = np.searchsorted(pkey, key)
    pos_c = np.minimum(pos, max(pkey.size - 1, 0))
    found = (pos < pkey.size) & (pkey[pos_c] == key) if pkey.size else np.zeros(key.size, bool)
    out = np.zeros(key.size)
    out[found] = P.data[pos_c[found]]
    return out


def check_sparse_stable(A: sps.csr_array, name: str = "A") -> None:
    """Raise ``ValueError`` unless every eigenvalue of sparse ``A`` has negative real part.

    First the Gershgorin bound: if ``A[i, i] + sum_{j != i} |A[i, j]| < 0`` for every
    row, every eigenvalue lies in the open left half-plane (``O(m)``, no eigensolver).
    Otherwise small networks (``n <= SPARSE_EXACT_MAX_N``) are checked densely, and large
    ones by ARPACK (``eigsh``/``eigs``, the eigenvalue of largest real part).
    """
    n = A.shape[0]
    i, _, a = synapse_list(A)
    radius = np.bincount(i, weights=np.abs(a), minlength=n)
    if np.all(A.diagonal() + radius < 0):
        return
    if n <= SPARSE_EXACT_MAX_N:
        check_stable(A.toarray(), name)
        return
    from ._validation import is_symmetric

    try:
        if is_symmetric(A):
            top = float(spla.eigsh(A, k=1, which="LA", return_eigenvectors=False)[0])
        else:
            w = spla.eigs(A, k=1, which="LR", return_eigenvectors=False)
            top = float(np.max(w.real))
    except spla.ArpackNoConvergence as exc:
        raise ValueError(
            f"{name} is not diagonally dominant (the Gershgorin bound cannot certify "
            "stability) and ARPACK did not converge on its eigenvalue of largest real "
            "part; stability could not be checked."
        ) from exc
    if not top < 0:
        raise unstable_error(A, name, top)


def sample_uniforms(
    n: int, i: np.ndarray, j: np.ndarray, sym: bool, gen: np.random.Generator
) -> np.ndarray:
    """One uniform per synapse (shared by ``(i, j)`` and ``(j, i)`` when ``sym``).

    For ``n <= SPARSE_EXACT_MAX_N`` these are exactly the uniforms the dense path draws
    (``gen.random((n, n))`` read at ``(i, j)``, or at ``(min, max)`` when symmetric),
    generated in row blocks: a small sparse network prunes exactly like its dense twin
    with the same ``rng``. Larger networks draw one uniform per stored synapse (per
    unordered pair when symmetric), ``O(m log m)`` instead of ``O(n^2)``.
    """
    r, c = (np.minimum(i, j), np.maximum(i, j)) if sym else (i, j)
    if n <= SPARSE_EXACT_MAX_N:
        u = np.empty(i.size)
        order = np.argsort(r, kind="stable")
        rs = r[order]
        block = max(1, (1 << 20) // n)  # rows per draw: ~8 MB of uniforms
        for r0 in range(0, n, block):
            r1 = min(n, r0 + block)
            ub = gen.random((r1 - r0, n))  # the same stream as gen.random((n, n))
            lo, hi = np.searchsorted(rs, [r0, r1])
            sel = order[lo:hi]
            u[sel] = ub[r[sel] - r0, c[sel]]
        return u
    if not sym:
        return gen.random(i.size)
    uniq, inv = np.unique(r * n + c, return_inverse=True)
    return gen.random(uniq.size)[inv]


def apply_sparse(
    A: sps.csr_array,
    i: np.ndarray,
    j: np.ndarray,
    a: np.ndarray,
    p: np.ndarray,
    keep: np.ndarray,
    diagonal: str,
    rescale: bool,
) -> sps.csr_array:
    """The pruned network from a keep mask over the synapse list (see ``rule._apply``)."""
    n = A.shape[0]
    b = a[keep] / p[keep] if rescale else a[keep]
    rows, cols = i[keep], j[keep]
    diag = A.diagonal()
    if diagonal == "zero":
        return from_list(n, rows, cols, b)
    if diagonal == "matched":
        change = np.bincount(i, weights=np.abs(a), minlength=n) - np.bincount(
            rows, weights=np.abs(b), minlength=n
        )
        new = diag + change
        lost = np.flatnonzero((diag < 0) & (new >= 0))
        if lost.size:
            warnings.warn(
                f"diagonal='matched' left {lost.size} neuron(s) without a leak (first: "
                f"A'[{lost[0]}, {lost[0]}] == {float(new[lost[0]]):.4g} >= 0): -A is "
                "not diagonally dominant there, so rescaled synapses outweigh the leak. "
                "The pruned network may be unstable; consider diagonal='original'.",
                RuntimeWarning,
                stacklevel=4,
            )
        diag = new
    idx = np.arange(n, dtype=np.int64)
    return from_list(n, np.concatenate([rows, idx]), np.concatenate([cols, idx]), np.r_[b, diag])


def _rank_within(groups: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order by group, highest ``p`` first (ties: list order); rank of each within its group."""
    order = np.lexsort((np.arange(p.size), -p, groups))
    g = groups[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, g.size]))
    return order, np.arange(g.size) - first


def keep_minimum(
    n: int,
    i: np.ndarray,
    j: np.ndarray,
    p: np.ndarray,
    keep: np.ndarray,
    sym: bool,
    m: int,
    partner: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of the synapses added so that no neuron keeps fewer than ``m`` synapses.

    A neuron that kept fewer than ``m`` of its input synapses (row ``i``) keeps its
    highest-probability dropped inputs until it has ``m`` (or none with ``p > 0`` is
    left), and then the same for its output synapses (column ``j``); with ``sym`` a pair
    is added whole, ``(i, j)`` and ``(j, i)``. Deterministic (ties by list order) and
    ``O(m log m)`` in the number of synapses. ``keep`` is updated in place. ``partner``
    (symmetric only): the index of each synapse's reverse, if known.
    """
    added = []
    if m <= 0:
        return np.zeros(0, dtype=np.int64)
    if sym and partner is None:
        key = i.astype(np.int64) * n + j.astype(np.int64)
        order = np.argsort(key, kind="stable")
        partner = order[np.searchsorted(key, j.astype(np.int64) * n + i, sorter=order)]
    for side in (i,) if sym else (i, j):
        counts = np.bincount(side[keep], minlength=n)
        short = counts < m
        cand = np.flatnonzero(short[side] & ~keep & (p > 0))
        if cand.size == 0:
            continue
        order, rank = _rank_within(side[cand], p[cand])
        chosen = cand[order[rank < (m - counts[side[cand[order]]])]]
        if sym:
            chosen = np.union1d(chosen, partner[chosen])
        keep[chosen] = True
        added.append(chosen)
    return np.concatenate(added) if added else np.zeros(0, dtype=np.int64)
