r"""Several synapses between the same two neurons (multapses): build and analyse them.

The online rule (:class:`plasticsim.online.RateNetwork`, built with
``from_synapses(..., multapses=True)``) keeps a trace per synapse and decides every
synapse on its own. For synapses ``e`` and ``f`` of the same pair ``j -> i`` the traces
differ only by the weight: both integrate ``|w| (x_i - sgn x_j)^2`` on the same
trajectory, so (same sign)

.. math:: \frac{\mathrm{trace}_e}{|w_e|} = \frac{\mathrm{trace}_f}{|w_f|}, \qquad
          p_e = \min(1, k |w_e| D_{ij}), \quad D_{ij} = E[(x_i - \mathrm{sgn}\, x_j)^2].

Within a pair the keep probability is proportional to the weight (the weight rule's
form), the pair sets the factor ``k D_ij``. The decisions are independent draws, each
kept synapse is rescaled to ``w_e / p_e = sgn / (k D_ij)`` (the same strength for every
unclipped survivor of the pair, whatever its weight before), and every synapse's
expected weight is unchanged: ``E[w'_e] = w_e``, so the pair's summed strength is kept
in expectation, with variance ``sum_e w_e^2 (1 - p_e) / p_e``.

Across pairs, the strengths of two synapses of one pair then correlate only through
what they shared before (their conditional covariance is zero):

.. math:: \mathrm{Cov}(w'_e, w'_f) = \mathrm{Cov}(w_e, w_f), \qquad
          \mathrm{Var}(w'_e) = \mathrm{Var}(w_e) + E[w_e^2 (1 - p_e) / p_e],

which :func:`expected_within_pair_correlation` evaluates; a rule that decides each
pair as one unit (the offline rule on the summed matrix) adds ``E[w_e w_f (1 - p)/p]``
to the covariance instead (``joint=True``).

The offline rule (:func:`plasticsim.noise_prune`) works on the matrix, one entry per
pair (the sum of its synapses); :func:`multapse_scores` gives the exact per-synapse
scores the online traces estimate.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._validation import check_integer, check_rng

__all__ = [
    "split_synapses",
    "pair_index",
    "multapse_scores",
    "weights_after",
    "within_pair_correlation",
    "expected_within_pair_correlation",
    "pair_sum_ratio",
]


def split_synapses(A, n_split=2, *, spread=0.0, rng=None):
    """Split every synapse of ``A`` into ``n_split`` synapses of the same pair.

    Synapse ``a = A[i, j]`` (``j -> i``) becomes ``n_split`` synapses with weights
    ``a f_1, ..., a f_K``, ``f_l = u_l / sum(u)``, ``u_l`` uniform in
    ``[1 - spread, 1 + spread]``: their sum is ``a`` (up to rounding), so the network
    (its summed ``A``) is unchanged.

    Parameters
    ----------
    A : array_like or scipy.sparse array of shape (n, n)
        Connectivity (row = post), minus the leaks on the diagonal.
    n_split : int >= 1, default=2
        Synapses per pair.
    spread : float in [0, 1), default=0.0
        Spread of the fractions; ``0`` splits each synapse into equal parts.
    rng : None, int or numpy.random.Generator, default=None

    Returns
    -------
    pre, post : ndarray of int64, shape (n_split * m,)
    w : ndarray of float64, shape (n_split * m,)
    leak : ndarray of float64, shape (n,)
        The arguments of ``RateNetwork.from_synapses(n, pre, post, w, leak=leak,
        multapses=True)``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[-2.0, 0.6], [0.4, -2.0]])
    >>> pre, post, w, leak = split_synapses(A, 3, rng=0)
    >>> pre.tolist(), post.tolist(), np.round(w, 3).tolist()
    ([1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1], [0.2, 0.2, 0.2, 0.133, 0.133, 0.133])
    """
    n_split = check_integer("n_split", n_split, minimum=1)
    spread = float(spread)
    if not 0 <= spread < 1:
        raise ValueError(f"spread == {spread!r}, must be in [0, 1).")
    _, gen = check_rng(rng)
    M = sp.csr_array(A) if sp.issparse(A) else sp.csr_array(np.asarray(A, dtype=np.float64))
    M.sum_duplicates()
    n = M.shape[0]
    leak = -M.diagonal()
    post = np.repeat(np.arange(n), np.diff(M.indptr))
    off = (M.indices != post) & (M.data != 0)
    post, pre, a = post[off], M.indices[off].astype(np.int64), M.data[off]
    u = 1.0 + spread * (2.0 * gen.random((a.size, n_split)) - 1.0)
    frac = u / u.sum(axis=1, keepdims=True)
    w = (a[:, None] * frac).ravel()
    return np.repeat(pre, n_split), np.repeat(post, n_split), w, leak


def pair_index(pre, post, n):
    """Number of the pair ``pre -> post`` of every synapse, and each pair's neurons.

    Returns
    -------
    pair : ndarray of int64, shape (m,)
        Pairs numbered in ``(post, pre)`` order.
    pair_pre, pair_post : ndarray of int64, shape (n_pairs,)
    """
    key = np.asarray(post, dtype=np.int64) * n + np.asarray(pre, dtype=np.int64)
    keys, pair = np.unique(key, return_inverse=True)
    return pair, keys % n, keys // n


def multapse_scores(n, pre, post, w, leak, *, sigma=1.0, noise_tau=0.0):
    """Exact score of every synapse of a synapse list (multapses allowed).

    ``s_e = |w_e| (C_ii + C_jj - 2 sgn(w_e) C_ij)`` for synapse ``e: j -> i``, with ``C``
    the stationary covariance of the summed ``A`` (:func:`plasticsim.noise_covariance`);
    without multapses this is :func:`plasticsim.synapse_scores` read at the synapses.
    What the online traces ``trace / T`` estimate. Dense: ``O(n^3)``.
    """
    from .covariance import noise_covariance

    pre = np.asarray(pre, dtype=np.int64)
    post = np.asarray(post, dtype=np.int64)
    w = np.asarray(w, dtype=np.float64)
    A = np.zeros((n, n))
    np.add.at(A, (post, pre), w)
    A[np.diag_indices(n)] = -np.broadcast_to(np.asarray(leak, dtype=np.float64), (n,))
    C = noise_covariance(A, sigma=sigma, noise_tau=noise_tau)
    d = np.diag(C)
    return np.abs(w) * (d[post] + d[pre] - 2.0 * np.sign(w) * C[post, pre])


def weights_after(report) -> np.ndarray:
    """Each synapse's weight after the decisions of a :class:`SleepReport`.

    ``w / p`` for kept candidates, 0 for pruned ones, unchanged for the others; aligned
    with ``report.pre`` and ``report.post`` (before compaction).
    """
    w = np.array(report.weights, dtype=np.float64)
    if not report.decided:
        return w
    cand = np.asarray(report.candidate)
    kept = np.asarray(report.kept)
    out = w.copy()
    out[cand & ~kept] = 0.0
    out[kept] = w[kept] / np.asarray(report.probabilities)[kept]
    return out


def _ordered_pairs(pre, post, n):
    """Indices ``(e, f)``, ``e != f``, of every ordered couple of synapses of one pair."""
    pair, _, _ = pair_index(pre, post, n)
    order = np.argsort(pair, kind="stable")
    counts = np.bincount(pair)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    es, fs = [], []
    for c in np.unique(counts[counts > 1]):
        groups = order[starts[counts == c][:, None] + np.arange(c)]  # (g, c)
        a, b = np.nonzero(~np.eye(c, dtype=bool))
        es.append(groups[:, a].ravel())
        fs.append(groups[:, b].ravel())
    if not es:
        raise ValueError("no pair of neurons has two or more synapses: nothing to correlate.")
    return np.concatenate(es), np.concatenate(fs)


def within_pair_correlation(pre, post, weight, n) -> float:
    """Correlation of the strengths of synapses that share a pair of neurons.

    The Pearson correlation, over every ordered couple ``(e, f)``, ``e != f``, of
    synapses of the same pair (each pair with ``K >= 2`` synapses gives ``K (K - 1)``
    couples), of ``w_e`` and ``w_f``: the intraclass correlation of the strengths, 1
    when the synapses of each pair are equal, 0 when they are unrelated. ``O(sum K^2)``.

    Examples
    --------
    >>> within_pair_correlation([0, 0, 1, 1], [2, 2, 2, 2], [1.0, 1.0, 2.0, 2.0], 3)
    1.0
    """
    w = np.asarray(weight, dtype=np.float64)
    e, f = _ordered_pairs(pre, post, n)
    return float(np.corrcoef(w[e], w[f])[0, 1])


def expected_within_pair_correlation(pre, post, weight, probability, n, *, joint=False):
    """:func:`within_pair_correlation` expected after unbiased decisions.

    Every synapse ``e`` with keep probability ``p_e`` (NaN: not a candidate, kept as it
    is) becomes ``w_e / p_e`` or 0. Independent decisions (the online rule with
    multapses): ``E[w'_e w'_f] = w_e w_f`` for ``e != f`` and ``E[w'^2_e] = w_e^2 / p_e``;
    ``joint=True``, the pair decided as one unit with one ``p`` (equal within the pair):
    ``E[w'_e w'_f] = w_e w_f / p``. Returns the ratio of the expected pooled moments (the
    correlation's limit over many pairs).
    """
    w = np.asarray(weight, dtype=np.float64)
    p = np.asarray(probability, dtype=np.float64)
    p = np.where(np.isnan(p), 1.0, p)
    e, f = _ordered_pairs(pre, post, n)
    if joint and not np.allclose(p[e], p[f], rtol=1e-12, atol=0):
        raise ValueError(
            "joint=True needs one probability per pair (equal for its synapses), got "
            "different probabilities within a pair."
        )
    mx = np.mean(w[e])
    my = np.mean(w[f])
    cross = w[e] * w[f] / (p[e] if joint else 1.0)
    cov = np.mean(cross) - mx * my
    vx = np.mean(w[e] ** 2 / p[e]) - mx**2
    vy = np.mean(w[f] ** 2 / p[f]) - my**2
    return float(cov / np.sqrt(vx * vy))


def pair_sum_ratio(pre, post, w_before, w_after, probability, n):
    """Mean over pairs of the summed strength after / before, and its standard error.

    Given the probabilities, each pair's ratio ``S'/S`` has mean 1 and variance
    ``sum_e w_e^2 (1 - p_e) / p_e / S^2`` (independent decisions); the standard error
    of the mean over ``N`` pairs is the square root of the summed variances over ``N``.
    A ``|mean - 1| / se`` beyond ~4 refutes unbiasedness.

    Returns
    -------
    mean_ratio, standard_error : float
    """
    w0 = np.asarray(w_before, dtype=np.float64)
    w1 = np.asarray(w_after, dtype=np.float64)
    p = np.asarray(probability, dtype=np.float64)
    p = np.where(np.isnan(p), 1.0, p)
    pair, _, _ = pair_index(pre, post, n)
    s0 = np.bincount(pair, weights=w0)
    s1 = np.bincount(pair, weights=w1)
    var = np.bincount(pair, weights=w0**2 * (1.0 - p) / p) / s0**2
    return float(np.mean(s1 / s0)), float(np.sqrt(var.sum()) / s0.size)
