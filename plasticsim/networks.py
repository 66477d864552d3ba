"""Network generators: clustered (symmetric or not), Erdos-Renyi, and E/I with Dale's law.

Every generator returns a stable float64 connectivity ``A = -D + W`` (DESIGN.md §1):
``A[i, j]`` is the synapse from presynaptic ``j`` onto postsynaptic ``i`` (row = post),
``W`` is zero on the diagonal (no autapses) and the diagonal holds the negative leak.
Two diagonals are offered:

- ``diagonal="dominant"``: ``A[i, i] = -(sum_j |W[i, j]| + leak)``. Then ``-A`` is strictly
  row diagonally dominant with margin ``leak``, so by Gershgorin every eigenvalue has real
  part ``<= -leak``; for symmetric networks this is exactly the hypothesis of the
  spectral guarantee of Moore & Chaudhuri (and of :func:`plasticsim.k_from_epsilon`).
- ``diagonal="uniform"``: ``A[i, i] = -d`` with ``d = alpha(W) + leak``, ``alpha(W)`` the
  spectral abscissa of ``W`` (largest real part of an eigenvalue): the smallest uniform
  leak that leaves a stability margin ``leak``, i.e. ``alpha(A) = -leak``. Natural for E/I
  networks, where row sums of ``|W|`` overstate the leak needed.

Synaptic weights are positive (excitatory) unless stated otherwise and drawn uniformly in
``[w (1 - spread), w (1 + spread)]`` around their scale ``w``.

With ``sparse=True`` every generator returns a ``scipy.sparse.csr_array`` built in
``O(n + m)`` time and memory for ``m`` synapses (no ``n x n`` array is ever formed): the
pairs are drawn by geometric skipping over a row-by-row numbering of the candidate pairs
(Batagelj & Brandes 2005), each pair independently present with the same probability as
in the dense generator, so both have the same distribution (but different draws for the
same seed). Only ``diagonal="dominant"`` is available then (``"uniform"`` needs the whole
spectrum).

References
----------
.. [1] V. Batagelj, U. Brandes, "Efficient generation of large random networks",
   Phys. Rev. E 71, 036113 (2005).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

from ._validation import (
    STREAM_NETWORK,
    check_choice,
    check_integer,
    check_nonnegative,
    check_positive,
    check_rng,
)
from ._validation import spectral_abscissa as _spectral_abscissa

__all__ = [
    "clustered",
    "clustered_asymmetric",
    "erdos_renyi",
    "dale",
    "cluster_labels",
]

_DIAGONALS = ("dominant", "uniform")


# --------------------------------------------------------------------------- validation


def _check_probability(name: str, value) -> float:
    value = check_nonnegative(name, value)
    if value > 1:
        raise ValueError(f"{name} == {value!r}, must be in [0, 1].")
    return value


def _check_spread(value) -> float:
    value = check_nonnegative("spread", value)
    if not value < 1:
        raise ValueError(f"spread == {value!r}, must be in [0, 1) so weights stay > 0.")
    return value


def _check_sizes(sizes) -> np.ndarray:
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Iterable):
        raise TypeError(f"sizes must be a sequence of cluster sizes, got {sizes!r}.")
    sizes = list(sizes)
    if not sizes:
        raise ValueError("sizes == [], must list at least one cluster size.")
    return np.array([check_integer(f"sizes[{i}]", m, 1) for i, m in enumerate(sizes)])


# --------------------------------------------------------------------------- helpers


def cluster_labels(sizes):
    """Cluster index of every neuron, clusters laid out consecutively.

    Parameters
    ----------
    sizes : sequence of int
        Number of neurons in each cluster (each ``>= 1``).

    Returns
    -------
    labels : ndarray of int, shape (sum(sizes),)
        ``labels[i]`` is the cluster of neuron ``i``.

    Examples
    --------
    >>> cluster_labels([3, 2])
    array([0, 0, 0, 1, 1])
    """
    sizes = _check_sizes(sizes)
    return np.repeat(np.arange(sizes.size), sizes)


def _weights(gen: np.random.Generator, shape, spread: float) -> np.ndarray:
    """Unit-mean weight factors, uniform in ``[1 - spread, 1 + spread]``."""
    return 1.0 + spread * (2.0 * gen.random(shape) - 1.0)


def _with_diagonal(W: np.ndarray, leak: float, diagonal: str) -> np.ndarray:
    """``A = -D + W`` for the chosen diagonal convention (``W`` is zero on its diagonal)."""
    A = W
    if diagonal == "dominant":
        d = np.abs(W).sum(axis=1) + leak
    else:
        # trace(W) = 0, so alpha(W) >= 0 and d >= leak.
        d = np.full(W.shape[0], max(_spectral_abscissa(W), 0.0) + leak)
    A[np.diag_indices_from(A)] = -d
    return A


def _common(leak, diagonal, rng):
    leak = check_positive("leak", leak)
    check_choice("diagonal", diagonal, _DIAGONALS)
    _, gen = check_rng(rng, STREAM_NETWORK)
    return leak, gen


def _check_flag(name: str, value) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def _check_sparse(sparse, diagonal) -> bool:
    """Validate ``sparse``; a sparse network must use the dominant diagonal."""
    sparse = _check_flag("sparse", sparse)
    if sparse and diagonal == "uniform":
        raise ValueError(
            "diagonal == 'uniform' needs the spectral abscissa of W, a dense O(n^3) "
            "eigen-decomposition; with sparse=True use diagonal='dominant'."
        )
    return sparse


# --------------------------------------------------------------------------- sparse


# Gaps drawn per chunk: the expected count plus this many binomial standard deviations.
_CHUNK_SDS = 5.0


def _bernoulli_positions(gen: np.random.Generator, total: int, p: float) -> np.ndarray:
    """Sorted indices of a Bernoulli(p) subset of ``range(total)``, in O(p total) time.

    Geometric skipping: the gap between consecutive chosen indices is Geometric(p)
    (Batagelj & Brandes 2005). Gaps are drawn in chunks sized to the expected count plus
    five binomial standard deviations, so one chunk almost always suffices; the draws
    depend only on ``gen``, so the result is reproducible.
    """
    if total == 0 or p == 0.0:
        return np.empty(0, dtype=np.int64)
    chunks = []
    last = -1  # the last chosen index
    while True:
        left = total - 1 - last  # indices still to cover
        mu = left * p
        size = max(16, int(mu + _CHUNK_SDS * math.sqrt(mu * (1.0 - p)) + 16))
        gaps = gen.geometric(p, size=size)
        np.minimum(gaps, left + 1, out=gaps)  # a gap past the end ends the draw anyway
        pos = last + np.cumsum(gaps)
        if pos[-1] >= total:
            chunks.append(pos[: np.searchsorted(pos, total)])
            break
        chunks.append(pos)
        last = int(pos[-1])
    return np.concatenate(chunks)


def _pairs(positions: np.ndarray, row_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and rank within the row of pair indices numbered row by row.

    Row ``i`` owns the indices ``[starts[i], starts[i] + row_counts[i])``; ``positions``
    must be sorted. O(n log m + m).
    """
    starts = np.zeros(row_counts.size + 1, dtype=np.int64)
    np.cumsum(row_counts, out=starts[1:])
    per_row = np.diff(np.searchsorted(positions, starts))
    rows = np.repeat(np.arange(row_counts.size, dtype=np.int64), per_row)
    return rows, positions - starts[rows]


def _row_starts(row_counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(row_counts)[:-1]]).astype(np.int64)


def _insert_sorted(positions: np.ndarray, extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge sorted unique ``extra`` into sorted unique ``positions``; mask of ``extra``.

    O(m + k log m) (``np.union1d`` hashes and sorts the whole array).
    """
    at = np.searchsorted(positions, extra)
    found = at < positions.size
    found[found] = positions[at[found]] == extra[found]
    merged = np.insert(positions, at[~found], extra[~found])
    mask = np.zeros(merged.size, dtype=bool)
    mask[np.searchsorted(merged, extra)] = True
    return merged, mask


def _concat_rows(n: int, pieces) -> sp.csr_array:
    """Canonical ``csr_array`` whose row ``i`` is row ``i`` of each piece, in list order.

    Each piece is ``(rows, cols, vals)`` in CSR order (rows sorted, columns sorted within
    a row), and in every row the pieces' columns must lie in increasing, disjoint ranges
    in list order; the result is then canonical without any sort. O(n + m) (with
    32-bit indices when they fit, as scipy chooses).
    """
    counts = [np.bincount(rows, minlength=n) for rows, _, _ in pieces]
    per_row = np.sum(counts, axis=0, dtype=np.int64) if counts else np.zeros(n, np.int64)
    nnz = int(per_row.sum())
    idx = np.int32 if max(n, nnz) < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(per_row, out=indptr[1:])
    indices = np.empty(nnz, dtype=idx)
    data = np.empty(nnz)
    before = indptr[:-1].copy()  # next free slot of each row
    for (rows, cols, vals), count in zip(pieces, counts, strict=True):
        first = _row_starts(count)  # first entry of each row within the piece
        dest = (before - first)[rows] + np.arange(rows.size)
        indices[dest] = cols
        data[dest] = vals
        before += count
    A = sp.csr_array((data, indices, indptr.astype(idx)), shape=(n, n))
    A.has_canonical_format = True
    return A


def _triplets(A: sp.csr_array):
    """``(rows, cols, vals)`` of a canonical ``csr_array``, in CSR order."""
    rows = np.repeat(np.arange(A.shape[0], dtype=np.int64), np.diff(A.indptr))
    return rows, A.indices, A.data


def _assemble_sparse(n: int, pieces, leak: float, symmetric: bool) -> sp.csr_array:
    """``A = -D + W`` as a canonical ``csr_array`` with the dominant diagonal.

    ``pieces`` are synapse lists ``(rows, cols, vals)`` (``rows`` post, ``cols`` pre) as
    :func:`_concat_rows` takes them, together listing every synapse once and no
    self-pair. When ``symmetric`` they hold the upper triangle only (``rows < cols``),
    mirrored here with the values copied, so ``A`` is symmetric to the bit. O(n + m).
    """
    d = np.full(n, leak)
    for rows, cols, vals in pieces:
        d += np.bincount(rows, weights=np.abs(vals), minlength=n)
        if symmetric:
            d += np.bincount(cols, weights=np.abs(vals), minlength=n)
    diag = (np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64), -d)
    if symmetric:
        upper = _concat_rows(n, pieces)
        lower = upper.T.tocsr()  # a counting sort (scipy's csr_tocsc), O(n + m)
        return _concat_rows(n, [_triplets(lower), diag, _triplets(upper)])
    below, above = [], []
    for rows, cols, vals in pieces:
        lo = cols < rows
        below.append((rows[lo], cols[lo], vals[lo]))
        above.append((rows[~lo], cols[~lo], vals[~lo]))
    return _concat_rows(n, [*below, diag, *above])


# --------------------------------------------------------------------------- clustered


def _clustered_weights(
    sizes, p_in, p_out, w_in, w_out, spread, n_strong, strong_factor, symmetric, gen
):
    labels = np.repeat(np.arange(sizes.size), sizes)
    n = labels.size
    same = labels[:, None] == labels[None, :]
    # Fixed draw order: connectivity, weights, then strong synapses cluster by cluster.
    present = gen.random((n, n)) < np.where(same, p_in, p_out)
    W = np.where(same, w_in, w_out) * _weights(gen, (n, n), spread)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    for start, m in zip(starts, sizes, strict=True):
        n_pairs = m * (m - 1) // 2 if symmetric else m * (m - 1)
        k = min(n_strong, n_pairs)
        if k == 0:
            continue
        pick = gen.choice(n_pairs, size=k, replace=False)
        if symmetric:
            iu, ju = np.triu_indices(m, 1)
            i, j = iu[pick], ju[pick]
        else:  # ordered pairs (i, j), i != j, numbered row by row
            i = pick // (m - 1)
            j = pick % (m - 1)
            j = j + (j >= i)
        i, j = i + start, j + start
        present[i, j] = True
        W[i, j] *= strong_factor
    W *= present
    np.fill_diagonal(W, 0.0)
    if symmetric:
        W = np.triu(W, 1)
        W = W + W.T
    return W


def _clustered_sparse(
    sizes, p_in, p_out, w_in, w_out, spread, n_strong, strong_factor, leak, symmetric, gen
):
    """Sparse twin of :func:`_clustered_weights` + dominant diagonal, O(n + m) draws.

    Candidate pairs are numbered row by row in two index spaces, inside clusters and
    between them; with ``symmetric`` only pairs ``i < j`` (upper triangle). Inside a
    cluster the numbering is the dense generator's (``np.triu_indices`` order, or ordered
    pairs row by row), so the strong pairs are drawn exactly as there. Draw order:
    connectivity inside, between, strong pairs cluster by cluster, weights inside, between.
    """
    n = int(sizes.sum())
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    labels = np.repeat(np.arange(sizes.size), sizes)
    first = starts[labels]  # first neuron of each neuron's cluster
    end = first + sizes[labels]  # one past its last
    idx = np.arange(n, dtype=np.int64)
    if symmetric:  # row i: j in (i, end) inside, j in [end, n) between
        count_in, count_out = end - idx - 1, n - end
    else:  # row i: j in its cluster but i, j outside it
        count_in, count_out = sizes[labels] - 1, n - sizes[labels]
    count_in, count_out = count_in.astype(np.int64), count_out.astype(np.int64)
    pos_in = _bernoulli_positions(gen, int(count_in.sum()), p_in)
    pos_out = _bernoulli_positions(gen, int(count_out.sum()), p_out)
    start_in = _row_starts(count_in)
    strong = []
    for start, m in zip(starts, sizes, strict=True):
        n_pairs = m * (m - 1) // 2 if symmetric else m * (m - 1)
        k = min(n_strong, n_pairs)
        if k:
            strong.append(start_in[start] + gen.choice(n_pairs, size=k, replace=False))
    strong = np.sort(np.concatenate(strong)) if strong else np.empty(0, dtype=np.int64)
    pos_in, is_strong = _insert_sorted(pos_in, strong)
    w_inside = w_in * _weights(gen, pos_in.size, spread)
    w_inside[is_strong] *= strong_factor
    w_between = w_out * _weights(gen, pos_out.size, spread)
    rows_in, r_in = _pairs(pos_in, count_in)
    rows_out, r_out = _pairs(pos_out, count_out)
    if symmetric:
        cols_in = rows_in + 1 + r_in
        cols_out = end[rows_out] + r_out
    else:
        cols_in = first[rows_in] + r_in + (r_in >= rows_in - first[rows_in])
        cols_out = r_out + (r_out >= first[rows_out]) * sizes[labels[rows_out]]
    if symmetric:  # per row: inside columns (i, end), then between ones [end, n)
        pieces = [(rows_in, cols_in, w_inside), (rows_out, cols_out, w_between)]
    else:  # per row: between columns < first, inside ones, between ones >= end
        left = cols_out < first[rows_out]
        pieces = [
            (rows_out[left], cols_out[left], w_between[left]),
            (rows_in, cols_in, w_inside),
            (rows_out[~left], cols_out[~left], w_between[~left]),
        ]
    return _assemble_sparse(n, pieces, leak, symmetric)


def _clustered(
    sizes,
    p_in,
    p_out,
    w_in,
    w_out,
    spread,
    n_strong,
    strong_factor,
    leak,
    diagonal,
    rng,
    symmetric,
    sparse,
):
    sizes = _check_sizes(sizes)
    p_in = _check_probability("p_in", p_in)
    p_out = _check_probability("p_out", p_out)
    w_in = check_positive("w_in", w_in)
    w_out = check_positive("w_out", w_out)
    spread = _check_spread(spread)
    n_strong = check_integer("n_strong", n_strong, 0)
    strong_factor = check_positive("strong_factor", strong_factor)
    sparse = _check_sparse(sparse, diagonal)
    leak, gen = _common(leak, diagonal, rng)
    if sparse:
        return _clustered_sparse(
            sizes, p_in, p_out, w_in, w_out, spread, n_strong, strong_factor, leak, symmetric, gen
        )
    W = _clustered_weights(
        sizes, p_in, p_out, w_in, w_out, spread, n_strong, strong_factor, symmetric, gen
    )
    return _with_diagonal(W, leak, diagonal)


def clustered(
    sizes,
    *,
    p_in=0.5,
    p_out=0.02,
    w_in=1.0,
    w_out=1.0,
    spread=0.5,
    n_strong=2,
    strong_factor=10.0,
    leak=1.0,
    diagonal="dominant",
    rng=None,
    sparse=False,
):
    r"""Symmetric clustered network: dense inside clusters, sparse between, a few strong.

    The network of Moore & Chaudhuri's Fig. 1: neurons in clusters of (possibly unequal)
    sizes; each unordered pair inside a cluster is connected with probability ``p_in`` and
    each pair in different clusters with probability ``p_out``; ``n_strong`` pairs inside
    every cluster are, in addition, connected with ``strong_factor`` times the usual
    weight. Weights are excitatory,

    .. math:: W_{ij} = W_{ji} = w\, (1 + \text{spread}\,(2 U_{ij} - 1)), \quad
              U_{ij} \sim \mathcal{U}(0, 1),

    with ``w = w_in`` inside and ``w = w_out`` between clusters, and the leak on the
    diagonal as described in the module docstring. Noise-prune keeps the sparse
    between-cluster synapses (their neurons fluctuate independently) and the strong ones
    (large ``|a|``), and prunes most of the redundant dense ones.

    Parameters
    ----------
    sizes : sequence of int
        Cluster sizes, e.g. ``[30, 20]`` or ``[1000, 200, 800]``; neurons are numbered
        cluster by cluster (see :func:`cluster_labels`).
    p_in, p_out : float in [0, 1], default=0.5, 0.02
        Connection probability of a pair inside a cluster / in different clusters.
    w_in, w_out : float > 0, default=1.0
        Mean weight inside / between clusters.
    spread : float in [0, 1), default=0.5
        Relative half-width of the uniform weight distribution.
    n_strong : int >= 0, default=2
        Strong pairs per cluster (at most the number of pairs in the cluster). They are
        connected whatever ``p_in`` is.
    strong_factor : float > 0, default=10.0
        Weight multiplier of the strong synapses.
    leak : float > 0, default=1.0
        Stability margin: ``A[i, i] = -(sum_j |W[i, j]| + leak)`` (``"dominant"``) or
        ``-(alpha(W) + leak)`` (``"uniform"``).
    diagonal : {"dominant", "uniform"}, default="dominant"
        ``"uniform"`` is dense only.
    rng : None, int or numpy.random.Generator, default=None
    sparse : bool, default=False
        Return a ``scipy.sparse.csr_array`` built in ``O(n + m)`` without any ``n x n``
        array (see Notes).

    Returns
    -------
    A : ndarray of shape (n, n), or csr_array of shape (n, n) when ``sparse``
        Symmetric (to the bit) and stable, ``n = sum(sizes)``; every eigenvalue is
        ``<= -leak``.

    Notes
    -----
    Dense: ``O(n^2)`` time and memory (``O(n^3)`` with ``diagonal="uniform"``, for the
    eigenvalues). Draw order: one uniform per ordered pair for the connectivity, one for
    the weight (only the upper triangle is used), then the strong pairs cluster by cluster.

    Sparse: the same distribution, drawn in ``O(n + m)`` time and memory for ``m``
    synapses (``O(m log(m / n))`` for sorting the rows): the present pairs by geometric
    skipping (module References), then the strong pairs, then the weights of the
    present pairs only; a pair is sampled once and mirrored, so ``A`` is symmetric to the
    bit. A neuron of a cluster of ``m_c`` neurons has on average

    .. math:: (m_c - 1)\, p_{in} + (n - m_c)\, p_{out}

    synapses (plus its share of the strong pairs), so a large network is specified by
    its degrees: 100,000 neurons in 100 clusters of 1,000 with ~100 synapses each, one of
    them long-range, is ``clustered([1000] * 100, p_in=0.099, p_out=1 / 99_000,
    w_in=0.01, w_out=0.01, sparse=True)`` (weights ~ 1 / degree keep the leak ~ 2): about
    a second of CPU time for its 10 million synapses, 12 bytes per synapse in the result
    and ~60 at the peak while it is built.

    References
    ----------
    .. [1] E. Moore, R. Chaudhuri, "Using noise to probe recurrent neural network
       structure and prune synapses", NeurIPS 2020, arXiv:2011.07334, Fig. 1.

    Examples
    --------
    >>> import numpy as np
    >>> A = clustered([30, 20], rng=0)
    >>> A.shape
    (50, 50)
    >>> bool(np.array_equal(A, A.T))
    True
    >>> bool(np.linalg.eigvalsh(A).max() <= -1.0 + 1e-9)
    True

    Sparse, diagonally dominant with margin ``leak`` in every row:

    >>> S = clustered([300, 200], p_in=0.05, p_out=0.001, sparse=True, rng=0)
    >>> type(S).__name__, S.shape
    ('csr_array', (500, 500))
    >>> bool((S != S.T).nnz == 0)
    True
    >>> off = abs(S).sum(axis=1) - abs(S.diagonal())
    >>> bool(np.allclose(-S.diagonal() - off, 1.0))
    True
    """
    return _clustered(
        sizes,
        p_in,
        p_out,
        w_in,
        w_out,
        spread,
        n_strong,
        strong_factor,
        leak,
        diagonal,
        rng,
        symmetric=True,
        sparse=sparse,
    )


def clustered_asymmetric(
    sizes,
    *,
    p_in=0.5,
    p_out=0.02,
    w_in=1.0,
    w_out=1.0,
    spread=0.5,
    n_strong=2,
    strong_factor=10.0,
    leak=1.0,
    diagonal="dominant",
    rng=None,
    sparse=False,
):
    """Clustered network with every directed synapse drawn independently.

    Same block structure and parameters as :func:`clustered`, but ``A[i, j]`` and
    ``A[j, i]`` are drawn independently (presence and weight), and the ``n_strong``
    strong synapses per cluster are directed.

    Parameters
    ----------
    sizes, p_in, p_out, w_in, w_out, spread, n_strong, strong_factor, leak, diagonal, rng
        As in :func:`clustered`; ``n_strong`` is at most ``m (m - 1)`` for a cluster of
        ``m`` neurons.
    sparse : bool, default=False
        Return a ``scipy.sparse.csr_array`` built in ``O(n + m)`` (as in
        :func:`clustered`, over ordered pairs).

    Returns
    -------
    A : ndarray of shape (n, n), or csr_array of shape (n, n) when ``sparse``
        Stable (every eigenvalue has real part ``<= -leak``), in general not symmetric.

    Examples
    --------
    >>> import numpy as np
    >>> A = clustered_asymmetric([30, 20], rng=0)
    >>> bool(np.array_equal(A, A.T))
    False
    >>> bool(np.linalg.eigvals(A).real.max() <= -1.0 + 1e-9)
    True
    """
    return _clustered(
        sizes,
        p_in,
        p_out,
        w_in,
        w_out,
        spread,
        n_strong,
        strong_factor,
        leak,
        diagonal,
        rng,
        symmetric=False,
        sparse=sparse,
    )


# --------------------------------------------------------------------------- random


def _random_sparse(n, p, scale, spread, symmetric, signed, leak, gen):
    """Sparse Erdos-Renyi (and Dale) network with the dominant diagonal, O(n + m).

    Pairs numbered row by row: ``j > i`` when ``symmetric``, else every ``j != i``.
    ``scale`` is the mean weight, a scalar or one per presynaptic neuron (column). Draw
    order: connectivity, weights, then signs (only when ``signed``).
    """
    idx = np.arange(n, dtype=np.int64)
    count = n - 1 - idx if symmetric else np.full(n, n - 1, dtype=np.int64)
    rows, r = _pairs(_bernoulli_positions(gen, int(count.sum()), p), count)
    cols = rows + 1 + r if symmetric else r + (r >= rows)
    scale = scale[cols] if np.ndim(scale) else scale
    vals = scale * _weights(gen, rows.size, spread)
    if signed:
        vals *= np.where(gen.random(rows.size) < 0.5, -1.0, 1.0)
    return _assemble_sparse(n, [(rows, cols, vals)], leak, symmetric)


def erdos_renyi(
    n,
    p,
    *,
    weight=1.0,
    spread=0.5,
    symmetric=True,
    signed=False,
    leak=1.0,
    diagonal="dominant",
    rng=None,
    sparse=False,
):
    r"""Erdos-Renyi network: every pair connected independently with probability ``p``.

    .. math:: W_{ij} = \epsilon_{ij}\, w\, (1 + \text{spread}\,(2 U_{ij} - 1)),

    present with probability ``p``, where ``epsilon_ij = +1`` (``signed=False``) or a fair
    random sign (``signed=True``).

    Parameters
    ----------
    n : int >= 1
        Number of neurons.
    p : float in [0, 1]
        Connection probability (of an unordered pair when ``symmetric``, of an ordered
        pair otherwise).
    weight : float > 0, default=1.0
        Mean absolute weight ``w``.
    spread : float in [0, 1), default=0.5
        Relative half-width of the uniform weight distribution.
    symmetric : bool, default=True
        Draw each unordered pair once and write both entries.
    signed : bool, default=False
        Give each synapse (pair, when symmetric) a random sign.
    leak : float > 0, default=1.0
    diagonal : {"dominant", "uniform"}, default="dominant"
        ``"uniform"`` is dense only.
    rng : None, int or numpy.random.Generator, default=None
    sparse : bool, default=False
        Return a ``scipy.sparse.csr_array`` built in ``O(n + m)``.

    Returns
    -------
    A : ndarray of shape (n, n), or csr_array of shape (n, n) when ``sparse``
        Stable; symmetric to the bit when ``symmetric``.

    Notes
    -----
    Dense: ``O(n^2)``; draw order: connectivity, weights, then signs (only when
    ``signed``). Sparse: the same distribution in ``O(n + m)`` time and memory for ``m``
    synapses (pairs by geometric skipping, module References; then weights and signs of
    the present pairs only). The mean degree is ``(n - 1) p``.

    Examples
    --------
    >>> import numpy as np
    >>> A = erdos_renyi(50, 0.3, rng=0)
    >>> n_syn = np.count_nonzero(A) - 50
    >>> bool(0.25 < n_syn / (50 * 49) < 0.35)
    True
    >>> bool(np.array_equal(A, A.T))
    True
    >>> S = erdos_renyi(10_000, 0.001, sparse=True, rng=0)
    >>> bool(abs(S.nnz - 10_000 - 10_000 * 9_999 * 0.001) < 1_000)
    True
    """
    n = check_integer("n", n, 1)
    p = _check_probability("p", p)
    weight = check_positive("weight", weight)
    spread = _check_spread(spread)
    symmetric = _check_flag("symmetric", symmetric)
    signed = _check_flag("signed", signed)
    sparse = _check_sparse(sparse, diagonal)
    leak, gen = _common(leak, diagonal, rng)
    if sparse:
        return _random_sparse(n, p, weight, spread, symmetric, signed, leak, gen)
    present = gen.random((n, n)) < p
    W = weight * _weights(gen, (n, n), spread)
    if signed:
        W *= np.where(gen.random((n, n)) < 0.5, -1.0, 1.0)
    W *= present
    np.fill_diagonal(W, 0.0)
    if symmetric:
        W = np.triu(W, 1)
        W = W + W.T
    return _with_diagonal(W, leak, diagonal)


def dale(
    n_exc,
    n_inh,
    *,
    p=0.2,
    w_exc=1.0,
    w_inh=None,
    spread=0.5,
    leak=1.0,
    diagonal="uniform",
    rng=None,
    sparse=False,
):
    r"""Excitatory/inhibitory network obeying Dale's law.

    Neurons ``0 .. n_exc - 1`` are excitatory, the next ``n_inh`` inhibitory. Every ordered
    pair ``(i, j)``, ``i != j``, is connected independently with probability ``p``; the sign
    is set by the presynaptic neuron ``j`` (the column):

    .. math:: W_{ij} = +w_E\, f_{ij} \;(j \text{ excitatory}), \qquad
              W_{ij} = -w_I\, f_{ij} \;(j \text{ inhibitory}),

    with ``f_ij`` uniform in ``[1 - spread, 1 + spread]``. The default
    ``w_inh = w_exc * n_exc / n_inh`` balances excitation and inhibition: the expected
    input row sum is zero, so the mean-field outlier eigenvalue sits at 0 and the spectrum
    is a bulk around it.

    Parameters
    ----------
    n_exc, n_inh : int >= 1
        Numbers of excitatory and inhibitory neurons.
    p : float in [0, 1], default=0.2
        Connection probability of an ordered pair.
    w_exc : float > 0, default=1.0
        Mean excitatory weight.
    w_inh : float > 0, default=None
        Mean absolute inhibitory weight; ``w_exc * n_exc / n_inh`` (balanced) when omitted.
    spread : float in [0, 1), default=0.5
    leak : float > 0, default=1.0
    diagonal : {"uniform", "dominant"}, default="uniform"
        ``"uniform"`` adds the smallest common leak that makes ``A`` stable with margin
        ``leak``; ``"dominant"`` uses each row's absolute input (much larger for balanced
        networks). ``"uniform"`` is dense only: pass ``"dominant"`` with ``sparse``.
    rng : None, int or numpy.random.Generator, default=None
    sparse : bool, default=False
        Return a ``scipy.sparse.csr_array`` built in ``O(n + m)``.

    Returns
    -------
    A : ndarray of shape (n_exc + n_inh, n_exc + n_inh), or csr_array when ``sparse``
        Stable; off the diagonal, columns ``< n_exc`` are ``>= 0`` and the others ``<= 0``.

    Notes
    -----
    Dense: ``O(n^2)`` to draw, ``O(n^3)`` for the spectral abscissa when
    ``diagonal="uniform"``. Sparse: the same distribution in ``O(n + m)`` time and memory
    for ``m`` synapses (pairs by geometric skipping, module References; then the weights
    of the present pairs only); the mean in-degree is ``(n - 1) p``. The dominant
    diagonal of a balanced network is ``~ 2 p n w_exc`` (the absolute input), far more
    leak than it needs to be stable; scale the weights with ``1 / (p n)`` to keep it
    ``O(1)``.

    Examples
    --------
    >>> import numpy as np
    >>> A = dale(40, 10, rng=0)
    >>> off = ~np.eye(50, dtype=bool)
    >>> bool((A[:, :40][off[:, :40]] >= 0).all() and (A[:, 40:][off[:, 40:]] <= 0).all())
    True
    >>> round(float(np.linalg.eigvals(A).real.max()), 6)
    -1.0
    >>> S = dale(800, 200, p=0.01, diagonal="dominant", sparse=True, rng=0)
    >>> W = S - sp.diags_array(S.diagonal())
    >>> bool(W[:, :800].min() >= 0 and W[:, 800:].max() <= 0)
    True
    """
    n_exc = check_integer("n_exc", n_exc, 1)
    n_inh = check_integer("n_inh", n_inh, 1)
    p = _check_probability("p", p)
    w_exc = check_positive("w_exc", w_exc)
    w_inh = w_exc * n_exc / n_inh if w_inh is None else check_positive("w_inh", w_inh)
    spread = _check_spread(spread)
    sparse = _check_sparse(sparse, diagonal)
    leak, gen = _common(leak, diagonal, rng)
    n = n_exc + n_inh
    if sparse:
        scale = np.concatenate([np.full(n_exc, w_exc), np.full(n_inh, -w_inh)])
        return _random_sparse(n, p, scale, spread, False, False, leak, gen)
    present = gen.random((n, n)) < p
    scale = np.concatenate([np.full(n_exc, w_exc), np.full(n_inh, -w_inh)])
    W = scale[None, :] * _weights(gen, (n, n), spread)
    W *= present
    np.fill_diagonal(W, 0.0)
    return _with_diagonal(W, leak, diagonal)
