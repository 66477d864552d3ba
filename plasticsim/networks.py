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
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

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
):
    sizes = _check_sizes(sizes)
    p_in = _check_probability("p_in", p_in)
    p_out = _check_probability("p_out", p_out)
    w_in = check_positive("w_in", w_in)
    w_out = check_positive("w_out", w_out)
    spread = _check_spread(spread)
    n_strong = check_integer("n_strong", n_strong, 0)
    strong_factor = check_positive("strong_factor", strong_factor)
    leak, gen = _common(leak, diagonal, rng)
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
    rng : None, int or numpy.random.Generator, default=None

    Returns
    -------
    A : ndarray of shape (n, n)
        Symmetric (to the bit) and stable, ``n = sum(sizes)``; every eigenvalue is
        ``<= -leak``.

    Notes
    -----
    ``O(n^2)`` time and memory (``O(n^3)`` with ``diagonal="uniform"``, for the
    eigenvalues). Draw order: one uniform per ordered pair for the connectivity, one for
    the weight (only the upper triangle is used), then the strong pairs cluster by cluster.

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

    Returns
    -------
    A : ndarray of shape (n, n)
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
    )


# --------------------------------------------------------------------------- random


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
    rng : None, int or numpy.random.Generator, default=None

    Returns
    -------
    A : ndarray of shape (n, n)
        Stable; symmetric to the bit when ``symmetric``.

    Notes
    -----
    ``O(n^2)``; draw order: connectivity, weights, then signs (only when ``signed``).

    Examples
    --------
    >>> import numpy as np
    >>> A = erdos_renyi(50, 0.3, rng=0)
    >>> n_syn = np.count_nonzero(A) - 50
    >>> bool(0.25 < n_syn / (50 * 49) < 0.35)
    True
    >>> bool(np.array_equal(A, A.T))
    True
    """
    n = check_integer("n", n, 1)
    p = _check_probability("p", p)
    weight = check_positive("weight", weight)
    spread = _check_spread(spread)
    if not isinstance(symmetric, bool | np.bool_):
        raise TypeError(f"symmetric must be True or False, got {symmetric!r}.")
    if not isinstance(signed, bool | np.bool_):
        raise TypeError(f"signed must be True or False, got {signed!r}.")
    leak, gen = _common(leak, diagonal, rng)
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
        networks).
    rng : None, int or numpy.random.Generator, default=None

    Returns
    -------
    A : ndarray of shape (n_exc + n_inh, n_exc + n_inh)
        Stable; off the diagonal, columns ``< n_exc`` are ``>= 0`` and the others ``<= 0``.

    Notes
    -----
    ``O(n^2)`` to draw, ``O(n^3)`` for the spectral abscissa when ``diagonal="uniform"``.

    Examples
    --------
    >>> import numpy as np
    >>> A = dale(40, 10, rng=0)
    >>> off = ~np.eye(50, dtype=bool)
    >>> bool((A[:, :40][off[:, :40]] >= 0).all() and (A[:, 40:][off[:, 40:]] <= 0).all())
    True
    >>> round(float(np.linalg.eigvals(A).real.max()), 6)
    -1.0
    """
    n_exc = check_integer("n_exc", n_exc, 1)
    n_inh = check_integer("n_inh", n_inh, 1)
    p = _check_probability("p", p)
    w_exc = check_positive("w_exc", w_exc)
    w_inh = w_exc * n_exc / n_inh if w_inh is None else check_positive("w_inh", w_inh)
    spread = _check_spread(spread)
    leak, gen = _common(leak, diagonal, rng)
    n = n_exc + n_inh
    present = gen.random((n, n)) < p
    scale = np.concatenate([np.full(n_exc, w_exc), np.full(n_inh, -w_inh)])
    W = scale[None, :] * _weights(gen, (n, n), spread)
    W *= present
    np.fill_diagonal(W, 0.0)
    return _with_diagonal(W, leak, diagonal)
