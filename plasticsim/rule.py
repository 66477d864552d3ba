"""The noise-prune rule: synapse scores, pruning probabilities, sparsification, controls.

Conventions (DESIGN.md §1): ``A[i, j]`` is the synapse from presynaptic ``j`` onto
postsynaptic ``i``; the diagonal holds the (negative) leak. The score of a synapse
``a = A[i, j] != 0``, ``i != j``, is

    s_ij = |a| (C_ii + C_jj - 2 sign(a) C_ij) = |a| E[(x_i - sign(a) x_j)^2],

where ``C`` is the stationary covariance under noise. A synapse is kept with probability
``p_ij = min(1, k s_ij)`` and, when kept, rescaled to ``A[i, j] / p_ij``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sps

from ._sparse import (
    SPARSE_EXACT_MAX_N,
    apply_sparse,
    check_sparse_stable,
    from_list,
    keep_minimum,
    sample_uniforms,
    synapse_list,
    values_at,
)
from ._validation import (
    STREAM_SAMPLING,
    check_choice,
    check_density,
    check_has_synapses,
    check_integer,
    check_matrix,
    check_matrix_or_sparse,
    check_nonnegative,
    check_positive,
    check_probability_matrix,
    check_rng,
    check_sparse_matrix,
    check_stable,
    check_symmetric,
    is_sparse,
    is_symmetric,
)
from .covariance import noise_covariance

__all__ = [
    "synapse_scores",
    "pruning_probabilities",
    "solve_k",
    "k_from_epsilon",
    "control_probabilities",
    "sparsify",
    "noise_prune",
    "PruneResult",
]

_DIAGONAL_MODES = ("matched", "original", "zero")
_CONTROLS = ("weight", "uniform", "magnitude")
_METHODS = ("auto", "exact", "sketch")


def _check_covariance(C, n: int) -> np.ndarray:
    C = check_matrix(C, "C")
    if C.shape != (n, n):
        raise ValueError(f"C has shape {C.shape}, must match A's shape {(n, n)}.")
    if not is_symmetric(C):
        dev = float(np.max(np.abs(C - C.T)))
        raise ValueError(f"C is not symmetric (max |C - C.T| == {dev:.3g}); a covariance is.")
    d = np.diag(C)
    if np.any(d <= 0):
        i = int(np.argmax(d <= 0))
        raise ValueError(f"C[{i}, {i}] == {float(d[i])!r}; a variance must be > 0.")
    return C


def _check_noise(sigma, noise_tau) -> None:
    check_positive("sigma", sigma)
    check_nonnegative("noise_tau", noise_tau)


def _check_leak(A, what: str) -> None:
    diag = A.diagonal() if is_sparse(A) else np.diag(A)
    if np.any(diag >= 0):
        i = int(np.argmax(diag >= 0))
        raise ValueError(
            f"A[{i}, {i}] == {float(diag[i])!r}: {what} needs a leak on the diagonal, "
            "every A[i, i] must be < 0."
        )


def _sparse_synapses(A: sps.csr_array, name: str = "A"):
    i, j, a = synapse_list(A)
    if i.size == 0:
        raise ValueError(
            f"{name} has no synapses: every off-diagonal entry is zero, nothing to prune."
        )
    return i, j, a


def _given_scores(A, scores, i, j, C, method, eps) -> np.ndarray:
    """The values of user-given ``scores`` at the synapses ``(i, j)`` of ``A``, checked.

    ``scores`` (dense or sparse, ``A``'s shape) must be finite and ``>= 0`` and hold
    nothing where ``A`` has no synapse; ``C``, ``method`` and ``eps`` must be left unset.
    """
    if C is not None:
        raise ValueError(
            "C and scores are both given: the scores replace the covariance; leave C unset."
        )
    for name, value, unset in (("method", method, "auto"), ("eps", eps, None)):
        if not (value is unset or value == unset):
            raise ValueError(
                f"{name} == {value!r} with scores given: the scores replace the covariance "
                f"and its method; leave {name} unset."
            )
    n = A.shape[0]
    if is_sparse(scores):
        S = check_sparse_matrix(scores, "scores")
    else:
        S = sps.csr_array(check_matrix(scores, "scores"))
    if S.shape != (n, n):
        raise ValueError(f"scores has shape {S.shape}, must match A's shape {(n, n)}.")
    si, sj, sv = synapse_list(S)
    if sv.size and not (np.all(np.isfinite(sv)) and sv.min() >= 0):
        bad = np.flatnonzero(~(np.isfinite(sv) & (sv >= 0)))[0]
        raise ValueError(
            f"scores[{si[bad]}, {sj[bad]}] == {float(sv[bad])!r}; scores must be finite and >= 0."
        )
    stray = values_at(A if is_sparse(A) else sps.csr_array(A), si, sj) == 0
    if np.any(stray & (sv != 0)):
        bad = np.flatnonzero(stray & (sv != 0))[0]
        raise ValueError(
            f"scores[{si[bad]}, {sj[bad]}] == {float(sv[bad])!r} where A has no synapse; scores "
            "must share A's synapses (e.g. from plasticsim.estimate_scores(A, ...))."
        )
    return values_at(S, i, j)


def _resolve_method(A, method, *, C, noise_tau, eps) -> str:
    """``"exact"`` or ``"sketch"`` for ``method``, or raise before any work.

    ``"auto"``: exact for dense input, for sparse input with ``n <= SPARSE_EXACT_MAX_N``
    and when a covariance ``C`` is given; the sketch for larger sparse, symmetric,
    diagonally dominant ``A`` under white noise; any other large sparse ``A`` raises.
    """
    from .sketch import sdd_violation

    check_choice("method", method, _METHODS)
    if method == "exact":
        if eps is not None:
            raise ValueError(
                f"eps == {eps!r} is the accuracy of method='sketch'; method='exact' takes no eps."
            )
        return "exact"
    if method == "sketch":
        if C is not None:
            raise ValueError(
                "C is given but method='sketch' uses no covariance; pass method='exact' "
                "to score with C."
            )
        if noise_tau != 0:
            raise ValueError(
                f"noise_tau == {noise_tau!r}: method='sketch' needs white noise "
                "(noise_tau == 0), where C = sigma^2 (-A)^-1 / 2. Use method='exact' or "
                "plasticsim.estimate_scores for coloured noise."
            )
        return "sketch"
    n = A.shape[0]
    if not is_sparse(A) or n <= SPARSE_EXACT_MAX_N or C is not None:
        return "exact"
    why = None
    if noise_tau != 0:
        why = f"noise_tau == {noise_tau!r} (the sketch needs white noise)"
    elif not is_symmetric(A):
        why = "A is not symmetric"
    else:
        why = sdd_violation(A)
    if why is None:
        return "sketch"
    gb = 8.0 * n * n / 1e9
    raise ValueError(
        f"A is sparse with n == {n} > {SPARSE_EXACT_MAX_N} neurons and {why}, so "
        "method='auto' has no scalable exact method: the sketch covers symmetric, "
        "diagonally dominant A under white noise. Alternatives: method='exact' (forms "
        f"the dense n x n covariance, {gb:.3g} GB, O(n^3) time) or "
        "plasticsim.estimate_scores(A, duration, ...) (scores by simulation, any stable A)."
    )


def _sparse_score_values(A, i, j, a, C, *, sigma, noise_tau, method, eps, rng, sym):
    """Scores of the synapses ``(i, j, a)`` of sparse ``A``, aligned with the list."""
    if method == "sketch":
        from .sketch import _sketch_values

        return _sketch_values(A, i, j, a, sigma=sigma, eps=eps, rng=rng), None
    n = A.shape[0]
    if C is None:
        C = noise_covariance(
            A.toarray(),
            sigma=sigma,
            noise_tau=noise_tau,
            structure="symmetric" if sym else "general",
        )
    else:
        C = _check_covariance(C, n)
    d = np.diag(C)
    # The dense path's operations in its order: (C_ii + C_jj) - (2 sign(a)) C_ij, then
    # times |a|, so the values agree with it to the bit.
    s = d[i] + d[j]
    s -= (2.0 * np.sign(a)) * C[i, j]
    s *= np.abs(a)
    np.maximum(s, 0.0, out=s)
    return s, C


def synapse_scores(A, C=None, *, sigma=1.0, noise_tau=0.0, method="auto", eps=None, rng=None):
    r"""Noise-prune score of every synapse.

    .. math:: s_{ij} = |a_{ij}| \left(C_{ii} + C_{jj} - 2\,\mathrm{sign}(a_{ij})\,C_{ij}\right)
              = |a_{ij}|\, E\left[(x_i - \mathrm{sign}(a_{ij})\, x_j)^2\right]

    A synapse between neurons that already co-fluctuate (excitatory) or anti-fluctuate
    (inhibitory) scores low: other paths carry what it carries.

    Parameters
    ----------
    A : array_like or scipy.sparse array of shape (n, n)
        Connectivity, row = postsynaptic, leak on the diagonal.
    C : array_like of shape (n, n), default=None
        Stationary covariance; computed with :func:`noise_covariance` when omitted.
    sigma, noise_tau : float
        Passed to :func:`noise_covariance` when ``C`` is omitted.
    method : {"auto", "exact", "sketch"}, default="auto"
        ``"exact"``: from the covariance (dense, ``n x n``). ``"sketch"``: random
        projection and fast solves, for symmetric ``A`` with ``-A`` diagonally dominant
        under white noise (:func:`plasticsim.sketch.sketch_scores`). ``"auto"``: exact
        for dense input and for sparse input with ``n <= 4096``
        (``plasticsim._sparse.SPARSE_EXACT_MAX_N``), the sketch for larger sparse
        symmetric diagonally dominant input, and a ``ValueError`` naming the
        alternatives (``method="exact"``, :func:`plasticsim.estimate_scores`) otherwise.
    eps : float, default=None
        Accuracy of the sketch (default :data:`plasticsim.sketch.DEFAULT_EPS`); only with
        a method that may sketch.
    rng : None, int or numpy.random.Generator, default=None
        Random signs of the sketch.

    Returns
    -------
    S : ndarray of shape (n, n), or scipy.sparse.csr_array for sparse ``A``
        Scores; zero on the diagonal and wherever ``A`` has no synapse. Symmetric when
        ``A`` is (the sketch too: both entries of a pair get the pair's score).

    Notes
    -----
    ``O(n^2)`` time and memory once ``C`` is known; sparse input stores only the ``m``
    scores but the exact method still needs ``C``. For symmetric ``A`` with white noise,
    ``s_ij = (sigma^2 / 2) |a_ij| R_ij`` where ``R_ij = b^T (-A)^{-1} b``,
    ``b = e_i - sign(a) e_j``: the weight times the effective resistance of the edge
    (Spielman & Srivastava's leverage score), up to ``sigma^2 / 2``. The sketch
    estimates exactly this in ``O(q m)`` for ``q = O(log n / eps^2)``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[-2.0, 1.0], [1.0, -2.0]])
    >>> C = noise_covariance(A)
    >>> S = synapse_scores(A, C)
    >>> bool(np.isclose(S[0, 1], abs(A[0, 1]) * (C[0, 0] + C[1, 1] - 2 * C[0, 1])))
    True
    """
    sparse_in = is_sparse(A)
    A = check_matrix_or_sparse(A, "A")
    _check_noise(sigma, noise_tau)
    method = _resolve_method(A, method, C=C, noise_tau=noise_tau, eps=eps)
    if sparse_in or method == "sketch":
        As = A if sparse_in else sps.csr_array(A)
        i, j, a = synapse_list(As)
        s, _ = _sparse_score_values(
            As,
            i,
            j,
            a,
            C,
            sigma=sigma,
            noise_tau=noise_tau,
            method=method,
            eps=eps,
            rng=rng,
            sym=is_symmetric(As),
        )
        S = from_list(As.shape[0], i, j, s)
        return S if sparse_in else S.toarray()
    n = A.shape[0]
    C = (
        noise_covariance(A, sigma=sigma, noise_tau=noise_tau)
        if C is None
        else (_check_covariance(C, n))
    )
    d = np.diag(C)
    # (C_ii + C_jj) first, then the cross term: every step is symmetric in (i, j) to the
    # bit, so S is exactly symmetric when A and C are.
    S = np.add.outer(d, d)
    S -= 2.0 * np.sign(A) * C
    S *= np.abs(A)
    np.fill_diagonal(S, 0.0)
    # Round-off can leave a tiny negative value where x_i and +-x_j are nearly identical.
    np.maximum(S, 0.0, out=S)
    return S


def solve_k(scores: np.ndarray, target: float) -> float:
    """Solve ``sum min(1, k s) == target`` for ``k > 0``, clipping included.

    ``scores`` is a 1-D array of the positive scores; ``0 < target <= scores.size``.
    ``f(k) = sum min(1, k s)`` is continuous, increasing and piecewise linear with breaks
    at ``k = 1 / s_(r)``. With the scores sorted in decreasing order and ``T_r`` the sum of
    ``s_(r), s_(r+1), ...``, ``f(1 / s_(r)) = r + 1 + T_(r+1) / s_(r)`` (ties included).
    The first breakpoint where ``f`` reaches the target bounds the segment on which exactly
    ``r`` scores clip, where ``k = (target - r) / T_r``. ``O(m log m)`` for ``m`` scores.
    """
    try:
        s = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"scores must be a 1-D array of real numbers: {exc}") from exc
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"scores has shape {s.shape}, must be 1-D and non-empty.")
    if not np.all(np.isfinite(s) & (s > 0)):
        bad = s[~(np.isfinite(s) & (s > 0))][0]
        raise ValueError(
            f"scores has an entry {float(bad)!r}; every score must be finite and > 0."
        )
    target = check_positive("target", target)
    if target > s.size * (1 + 1e-12):
        raise ValueError(
            f"target == {target!r}, must be <= the number of scores ({s.size}): "
            "sum min(1, k s) cannot exceed it."
        )
    s = np.sort(s)[::-1]
    m = s.size
    tail = np.concatenate([np.cumsum(s[::-1])[::-1], [0.0]])  # tail[r] = sum s[r:]
    f_break = np.arange(1, m + 1) + tail[1:] / s
    r = int(np.searchsorted(f_break, target, side="left"))
    if r >= m:  # target == m (up to round-off): keep everything
        return float(1.0 / s[-1])
    return float((target - r) / tail[r])


def _check_density_or_k(density, k) -> None:
    if (density is None) == (k is None):
        raise ValueError(f"give exactly one of density or k, got density={density!r}, k={k!r}.")
    if k is not None:
        check_positive("k", k)
    else:
        check_density(density)


def _k_from_values(values: np.ndarray, density, k, what: str) -> float:
    """``k`` given, or solved so that ``sum min(1, k values) == density * values.size``."""
    _check_density_or_k(density, k)
    if k is not None:
        return float(k)
    density = float(density)
    positive = values[values > 0]
    target = density * values.size
    if target > positive.size * (1 + 1e-12):
        raise ValueError(
            f"density == {density!r} asks to keep {target:.6g} of {values.size} synapses "
            f"in expectation, but only {positive.size} have a positive {what}."
        )
    return float(solve_k(positive, min(target, positive.size)))


def _probabilities_from_scores(S: np.ndarray, mask: np.ndarray, density, k, what: str):
    """``min(1, k S)`` on ``mask``, with ``k`` given or solved from ``density``."""
    k = _k_from_values(S[mask], density, k, what)
    P = np.zeros_like(S)
    P[mask] = np.minimum(1.0, k * S[mask])
    return P, float(k)


def pruning_probabilities(
    A,
    *,
    C=None,
    density=None,
    k=None,
    sigma=1.0,
    noise_tau=0.0,
    symmetric="auto",
    return_k=False,
    method="auto",
    eps=None,
    rng=None,
    scores=None,
):
    """Keep probabilities ``p_ij = min(1, k s_ij)`` of the noise-prune rule.

    Parameters
    ----------
    A : array_like or scipy.sparse array of shape (n, n)
        Stable connectivity, row = postsynaptic, leak on the diagonal.
    C : array_like of shape (n, n), default=None
        Stationary covariance; computed when omitted.
    density : float in (0, 1], default=None
        Expected fraction of existing off-diagonal synapses to keep. ``k`` is solved so
        that ``sum min(1, k s) == density * n_synapses`` exactly, clipping included.
    k : float > 0, default=None
        The global constant; give exactly one of ``density`` and ``k``.
    sigma, noise_tau : float
        Noise of the covariance (ignored when ``C`` is given).
    symmetric : {"auto", True, False}, default="auto"
        ``True`` asserts that ``A`` is symmetric (and raises if not); the covariance then
        takes the Cholesky path.
    return_k : bool, default=False
        Also return the ``k`` used.
    method, eps, rng
        How the scores are computed; see :func:`synapse_scores`.
    scores : array_like or scipy.sparse array of shape (n, n), default=None
        Scores computed elsewhere (e.g. :func:`plasticsim.estimate_scores`, or an online
        sleep's traces): finite, ``>= 0``, only where ``A`` has synapses. They replace
        the covariance, so ``C``, ``method`` and ``eps`` must be left unset.

    Returns
    -------
    P : ndarray of shape (n, n), or scipy.sparse.csr_array for sparse ``A``
        Probabilities; zero on the diagonal and where there is no synapse, symmetric when
        ``A`` is.
    k : float
        Only when ``return_k`` is true.

    Examples
    --------
    >>> import numpy as np
    >>> from plasticsim.networks import erdos_renyi
    >>> A = erdos_renyi(50, 0.3, rng=0)
    >>> P = pruning_probabilities(A, density=0.2)
    >>> n_syn = np.count_nonzero(A) - 50
    >>> bool(np.isclose(P.sum(), 0.2 * n_syn))
    True
    """
    sparse_in = is_sparse(A)
    A = check_matrix_or_sparse(A, "A")
    sym = check_symmetric(A, symmetric)
    if sparse_in:
        i, j, a = _sparse_synapses(A)
    else:
        mask = check_has_synapses(A)
    _check_density_or_k(density, k)
    _check_noise(sigma, noise_tau)
    if not isinstance(return_k, bool | np.bool_):
        raise TypeError(f"return_k must be True or False, got {return_k!r}.")
    given = scores is not None
    if not given:
        method = _resolve_method(A, method, C=C, noise_tau=noise_tau, eps=eps)
    if given or sparse_in or method == "sketch":
        # The synapse-list path: scores given, sparse input or sketched scores.
        As = A if sparse_in else sps.csr_array(A)
        if not sparse_in:
            i, j, a = synapse_list(As)
        if given:
            s = _given_scores(A, scores, i, j, C, method, eps)
        else:
            s, _ = _sparse_score_values(
                As,
                i,
                j,
                a,
                C,
                sigma=sigma,
                noise_tau=noise_tau,
                method=method,
                eps=eps,
                rng=rng,
                sym=sym,
            )
        k_used = _k_from_values(s, density, k, "score")
        P = from_list(As.shape[0], i, j, np.minimum(1.0, k_used * s))
        P = P if sparse_in else P.toarray()
        return (P, k_used) if return_k else P
    if C is None:
        C = noise_covariance(
            A, sigma=sigma, noise_tau=noise_tau, structure="symmetric" if sym else "general"
        )
    else:
        C = _check_covariance(C, A.shape[0])
    S = synapse_scores(A, C)
    P, k_used = _probabilities_from_scores(S, mask, density, k, "score")
    return (P, k_used) if return_k else P


def k_from_epsilon(eps, n, *, sigma=1.0, delta=None):
    r"""The theory constant ``k`` for a ``(1 +- eps)`` spectral guarantee.

    For symmetric ``A`` with ``-A`` diagonally dominant, white noise of amplitude
    ``sigma`` and the ``"matched"`` diagonal, keeping each synapse with
    ``p = min(1, k s)`` where

    .. math:: k = \frac{6 \ln(2 n / \delta)}{\varepsilon^2 \sigma^2}

    gives ``(1 - eps) x^T (-A) x <= x^T (-A') x <= (1 + eps) x^T (-A) x`` (a band on the
    ratio ``x^T A' x / x^T A x``) for all ``x`` with
    probability at least ``1 - delta``, keeping ``O(n log(n / delta) / eps^2)`` synapses
    in expectation. This is the ``k = c log(N) / (eps^2 sigma^2)`` of Moore & Chaudhuri
    with the constant made explicit.

    Parameters
    ----------
    eps : float in (0, 1]
        Relative accuracy of the quadratic forms.
    n : int
        Number of neurons.
    sigma : float, default=1.0
        White-noise amplitude used to compute the scores.
    delta : float in (0, 1), default=1/n
        Allowed failure probability.

    Returns
    -------
    k : float

    Notes
    -----
    Derivation. Write ``M = -A = D_s + sum_e |a_e| b_e b_e^T`` with ``b_e = e_i -
    sign(a_e) e_j`` and a non-negative diagonal slack ``D_s`` (diagonal dominance); the
    matched diagonal keeps ``D_s`` and replaces each edge by its sample. With
    ``C = sigma^2 M^{-1} / 2`` the score is ``s_e = (sigma^2 / 2) tau_e`` where
    ``tau_e = |a_e| b_e^T M^{-1} b_e <= 1`` is the leverage, so ``p_e = min(1, rho tau_e)``
    with ``rho = k sigma^2 / 2``. In the frame ``M^{-1/2} . M^{-1/2}`` each sampled term
    has norm at most ``1 / rho`` (deterministic parts are split into such pieces) and the
    sum has mean ``I``. The matrix Chernoff bound (Tropp 2012, Thm 1.1, with
    ``e^{-eps}/(1-eps)^{1-eps} <= e^{-eps^2/2}`` and ``e^{eps}/(1+eps)^{1+eps} <=
    e^{-eps^2/3}``) bounds the failure probability by ``2 n exp(-eps^2 rho / 3)``, which
    is ``delta`` for ``rho = 3 ln(2 n / delta) / eps^2``.

    References
    ----------
    .. [1] E. Moore, R. Chaudhuri, NeurIPS 2020, arXiv:2011.07334.
    .. [2] D. Spielman, N. Srivastava, "Graph sparsification by effective resistances",
       SIAM J. Comput. 40(6), 2011.
    .. [3] J. Tropp, "User-friendly tail bounds for sums of random matrices", Found.
       Comput. Math. 12, 2012.

    Examples
    --------
    >>> round(k_from_epsilon(0.5, 100), 2)
    237.68
    """
    eps = check_positive("eps", eps)
    if eps > 1:
        raise ValueError(f"eps == {eps!r}, must be in (0, 1].")
    n = check_integer("n", n, 1)
    sigma = check_positive("sigma", sigma)
    if delta is None:
        delta = 1.0 / n if n > 1 else 0.5
    delta = check_positive("delta", delta)
    if not delta < 1:
        raise ValueError(f"delta == {delta!r}, must be in (0, 1).")
    rho = 3.0 * math.log(2.0 * n / delta) / eps**2
    return 2.0 * rho / sigma**2


def control_probabilities(A, *, strategy, density, symmetric="auto"):
    """Baseline pruning probabilities at the same expected density.

    Parameters
    ----------
    A : array_like or scipy.sparse array of shape (n, n)
    strategy : {"weight", "uniform", "magnitude"}
        ``"weight"``: ``p = min(1, k |a|)`` with ``k`` solved for the density like the
        noise rule; ``"uniform"``: ``p = density`` for every synapse; ``"magnitude"``:
        deterministic, ``p = 1`` for the ``round(density * n_synapses)`` strongest
        synapses (whole pairs when ``A`` is symmetric) and 0 for the rest — pair it with
        ``sparsify(..., rescale=False)``.
    density : float in (0, 1]
    symmetric : {"auto", True, False}, default="auto"

    Returns
    -------
    P : ndarray of shape (n, n), or scipy.sparse.csr_array for sparse ``A``

    Notes
    -----
    Sparse input: ``O(m log m)``; stability is certified by the Gershgorin bound when
    ``-A`` is strictly diagonally dominant, else by a dense or ARPACK eigenvalue check.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[-3.0, 1.0, 0.2], [1.0, -3.0, 0.5], [0.2, 0.5, -3.0]])
    >>> control_probabilities(A, strategy="magnitude", density=1/3)[0, 1]
    np.float64(1.0)
    """
    if is_sparse(A):
        return _control_sparse(A, strategy, density, symmetric)
    A = check_matrix(A, "A")
    check_choice("strategy", strategy, _CONTROLS)
    density = check_density(density)
    sym = check_symmetric(A, symmetric)
    mask = check_has_synapses(A)
    check_stable(A)
    if strategy == "weight":
        return _probabilities_from_scores(np.abs(A), mask, density, None, "weight")[0]
    P = np.zeros_like(A)
    if strategy == "uniform":
        P[mask] = density
        return P
    # magnitude: deterministic top-|a|; ties broken by position (stable sort).
    pick = np.triu(mask, 1) if sym else mask
    idx = np.flatnonzero(pick)
    n_keep = _n_keep_magnitude(density, idx.size)
    order = np.argsort(-np.abs(A.ravel()[idx]), kind="stable")
    P.ravel()[idx[order[:n_keep]]] = 1.0
    if sym:
        P = np.maximum(P, P.T)
    return P


def _n_keep_magnitude(density: float, n_pick: int) -> int:
    n_keep = int(round(density * n_pick))
    if n_keep == 0:
        raise ValueError(
            f"density == {density!r} keeps round({density!r} * {n_pick}) == 0 synapses "
            f"with strategy='magnitude'; it must keep at least one."
        )
    return n_keep


def _control_sparse(A, strategy, density, symmetric) -> sps.csr_array:
    """:func:`control_probabilities` for sparse ``A`` (same values as the dense path)."""
    A = check_sparse_matrix(A, "A")
    check_choice("strategy", strategy, _CONTROLS)
    density = check_density(density)
    sym = check_symmetric(A, symmetric)
    i, j, a = _sparse_synapses(A)
    check_sparse_stable(A)
    n = A.shape[0]
    if strategy == "weight":
        w = np.abs(a)
        k = _k_from_values(w, density, None, "weight")
        return from_list(n, i, j, np.minimum(1.0, k * w))
    if strategy == "uniform":
        return from_list(n, i, j, np.full(i.size, density))
    # magnitude: the synapse list is row-major like the dense path's flatnonzero, so the
    # stable sort breaks ties identically.
    pick = np.flatnonzero(i < j) if sym else np.arange(i.size)
    n_keep = _n_keep_magnitude(density, pick.size)
    order = np.argsort(-np.abs(a[pick]), kind="stable")
    chosen = pick[order[:n_keep]]
    ri, rj = i[chosen], j[chosen]
    if sym:
        ri, rj = np.concatenate([ri, rj]), np.concatenate([rj, ri])
    return from_list(n, ri, rj, np.ones(ri.size))


def _sample(A: np.ndarray, P: np.ndarray, sym: bool, gen: np.random.Generator) -> np.ndarray:
    """Boolean keep mask, one uniform per synapse (per unordered pair when symmetric)."""
    n = A.shape[0]
    U = gen.random((n, n))
    if sym:
        U = np.triu(U, 1)
        U = U + U.T
    keep = U < P
    np.fill_diagonal(keep, False)
    return keep


def _keep_minimum_dense(P: np.ndarray, keep: np.ndarray, mask, sym: bool, m: int) -> int:
    """:func:`plasticsim._sparse.keep_minimum` on a dense keep mask (updated in place)."""
    if m == 0:
        return 0
    i, j = np.nonzero(mask)
    kept = keep[i, j]
    added = keep_minimum(P.shape[0], i, j, P[i, j], kept, sym, m)
    keep[i[added], j[added]] = True
    return int(np.unique(added).size)


def _apply(A: np.ndarray, P: np.ndarray, keep: np.ndarray, diagonal: str, rescale: bool):
    B = np.zeros_like(A)
    B[keep] = A[keep] / P[keep] if rescale else A[keep]
    diag = np.diag(A)
    if diagonal == "original":
        np.fill_diagonal(B, diag)
    elif diagonal == "matched":
        off = np.abs(A)
        np.fill_diagonal(off, 0.0)
        change = off.sum(axis=1) - np.abs(B).sum(axis=1)
        np.fill_diagonal(B, diag + change)
        lost = np.flatnonzero((diag < 0) & (np.diag(B) >= 0))
        if lost.size:
            warnings.warn(
                f"diagonal='matched' left {lost.size} neuron(s) without a leak (first: "
                f"A'[{lost[0]}, {lost[0]}] == {float(B[lost[0], lost[0]]):.4g} >= 0): -A is "
                "not diagonally dominant there, so rescaled synapses outweigh the leak. "
                "The pruned network may be unstable; consider diagonal='original'.",
                RuntimeWarning,
                stacklevel=3,
            )
    return B


def sparsify(A, P, *, rng=None, diagonal="matched", rescale=True, symmetric="auto", min_kept=0):
    """Keep each synapse with probability ``P[i, j]`` and rescale it to ``A[i, j] / P[i, j]``.

    Parameters
    ----------
    A : array_like or scipy.sparse array of shape (n, n)
    P : array_like or scipy.sparse array of shape (n, n)
        Keep probabilities in [0, 1] (off-diagonal entries are used).
    rng : None, int or numpy.random.Generator, default=None
    diagonal : {"matched", "original", "zero"}, default="matched"
        ``"matched"``: ``A'[i, i] = A[i, i] + sum_{j != i} (|A[i, j]| - |A'[i, j]|)``, the
        edge-decomposition diagonal of the proof (online: each neuron's leak changes by
        the change of its total absolute input); ``"original"`` keeps ``A``'s diagonal;
        ``"zero"`` sets it to 0.
    rescale : bool, default=True
        Divide kept weights by ``p`` (unbiased: ``E[A'] = A`` off the diagonal).
    symmetric : {"auto", True, False}, default="auto"
        Symmetric ``A`` and ``P``: each unordered pair is sampled once and both entries
        written, so the result is symmetric.
    min_kept : int >= 0, default=0
        Every neuron keeps at least ``min_kept`` of its input synapses and of its output
        synapses (of those it has with ``p > 0``): after sampling, a neuron left with
        fewer keeps its highest-probability dropped synapses (a pair whole when
        symmetric), rescaled by ``1 / p`` like the others. ``0`` is the rule as
        published. See Notes.

    Returns
    -------
    B : ndarray of shape (n, n), or scipy.sparse.csr_array for sparse ``A``

    Notes
    -----
    Dense: ``O(n^2)``. Sparse ``A``: ``O(m log m)`` for ``m`` synapses, one uniform per
    synapse (per unordered pair when symmetric). For ``n <= 4096`` the uniforms are the
    ones the dense path draws, so a sparse network and its dense twin give the same
    pruned network with the same ``rng``; larger networks draw only ``m`` uniforms.

    Fragments and ``min_kept``: a neuron keeps each synapse independently, so at density
    ``d`` a neuron with ``D`` synapses loses all of them with probability about
    ``exp(-d D)`` — about ``n exp(-d D)`` isolated neurons, 4.5 at ``n = 1e5``,
    ``D = 100``, ``d = 0.1``. With the matched diagonal an isolated neuron keeps only its
    slack, an eigenvalue at exactly ``-slack`` next to the slowest mode (DESIGN.md §2b,
    "Fragments"); without input or without output the same holds for asymmetric ``A``.
    ``min_kept=1`` prevents this: the matched diagonal still keeps every neuron's slack,
    so a symmetric diagonally dominant ``A`` stays so. The price is a small bias: a
    rescued synapse is kept with probability above its ``p`` but still rescaled by
    ``1 / p``, so ``E[A'] = A`` no longer holds exactly for the few synapses of the
    rescued neurons (about ``n exp(-d D)`` of them). Rescue is deterministic (highest
    ``p`` first, ties by row-major order) and costs ``O(m log m)``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[-2.0, 1.0], [1.0, -2.0]])
    >>> sparsify(A, np.full((2, 2), 0.5), rng=1)
    array([[-1.,  0.],
           [ 0., -1.]])
    """
    min_kept = check_integer("min_kept", min_kept, minimum=0)
    if is_sparse(A):
        return _sparsify_sparse(A, P, rng, diagonal, rescale, symmetric, min_kept)
    A = check_matrix(A, "A")
    if is_sparse(P):
        P = check_sparse_matrix(P, "P").toarray()
    P = check_probability_matrix(P, A.shape[0])
    check_choice("diagonal", diagonal, _DIAGONAL_MODES)
    if not isinstance(rescale, bool | np.bool_):
        raise TypeError(f"rescale must be True or False, got {rescale!r}.")
    sym = check_symmetric(A, symmetric)
    if sym and not is_symmetric(P):
        raise ValueError("symmetric A needs a symmetric P: P differs from P.T.")
    _, gen = check_rng(rng, STREAM_SAMPLING)
    keep = _sample(A, P, sym, gen)
    mask = A != 0
    np.fill_diagonal(mask, False)
    keep &= mask
    _keep_minimum_dense(P, keep, mask, sym, min_kept)
    return _apply(A, P, keep, diagonal, bool(rescale))


def _check_sparse_probabilities(P, n: int) -> sps.csr_array:
    P = check_sparse_matrix(P, "P") if is_sparse(P) else sps.csr_array(check_matrix(P, "P"))
    if P.shape != (n, n):
        raise ValueError(f"P has shape {P.shape}, must match A's shape {(n, n)}.")
    if P.nnz:
        lo, hi = float(P.data.min()), float(P.data.max())
        if lo < 0 or hi > 1:
            bad = lo if lo < 0 else hi
            raise ValueError(f"P has an entry {bad!r}; probabilities must be in [0, 1].")
    return P


def _sparsify_sparse(A, P, rng, diagonal, rescale, symmetric, min_kept) -> sps.csr_array:
    A = check_sparse_matrix(A, "A")
    n = A.shape[0]
    P = _check_sparse_probabilities(P, n)
    check_choice("diagonal", diagonal, _DIAGONAL_MODES)
    if not isinstance(rescale, bool | np.bool_):
        raise TypeError(f"rescale must be True or False, got {rescale!r}.")
    sym = check_symmetric(A, symmetric)
    if sym and not is_symmetric(P):
        raise ValueError("symmetric A needs a symmetric P: P differs from P.T.")
    _, gen = check_rng(rng, STREAM_SAMPLING)
    i, j, a = synapse_list(A)
    p = values_at(P, i, j)
    keep = sample_uniforms(n, i, j, sym, gen) < p
    keep_minimum(n, i, j, p, keep, sym, min_kept)
    return apply_sparse(A, i, j, a, p, keep, diagonal, bool(rescale))


@dataclass(frozen=True)
class PruneResult:
    """Outcome of :func:`noise_prune`.

    Attributes
    ----------
    pruned : ndarray of shape (n, n)
        The pruned connectivity ``A'``.
    probabilities : ndarray of shape (n, n)
        Keep probabilities ``p_ij``.
    kept : ndarray of bool, shape (n, n)
        Which synapses were kept.
    covariance : ndarray of shape (n, n) or None
        Stationary covariance of the original network; ``None`` when the scores were
        sketched (no covariance is formed).
    scores : ndarray of shape (n, n)
    k : float
        The constant used (given, or solved from the density).
    seed : int
        Seed of the sampling (and of the sketch); ``noise_prune(A, ..., rng=seed)``
        repeats the result.
    n_synapses : int
        Synapses of the original network.
    method : {"exact", "sketch", "given"}
        How the scores were computed.
    rescued : int
        Synapses kept by ``min_kept`` beyond the sample (a symmetric pair counts twice).

    For sparse input every matrix is a ``scipy.sparse.csr_array`` (``kept`` of bool).
    """

    pruned: np.ndarray
    probabilities: np.ndarray
    kept: np.ndarray
    covariance: np.ndarray | None
    scores: np.ndarray
    k: float
    seed: int
    n_synapses: int = field(default=0)
    method: str = "exact"
    rescued: int = 0

    @property
    def kept_fraction(self) -> float:
        """Fraction of the original synapses kept."""
        if is_sparse(self.kept):
            return float(self.kept.count_nonzero()) / self.n_synapses
        return float(np.count_nonzero(self.kept)) / self.n_synapses


def noise_prune(
    A,
    *,
    density=None,
    k=None,
    sigma=1.0,
    noise_tau=0.0,
    diagonal="matched",
    rng=None,
    method="auto",
    eps=None,
    min_kept=0,
    scores=None,
):
    """Prune a network with the noise-prune rule (offline).

    Computes the scores (exactly from the stationary covariance, or sketched), the
    probabilities (``k`` given or solved from ``density``), and samples the pruned
    network.

    Parameters
    ----------
    A : array_like or scipy.sparse array of shape (n, n)
        Stable connectivity with a leak (``A[i, i] < 0``) on the diagonal.
    density, k : float
        Exactly one: the expected kept fraction, or the global constant.
    sigma, noise_tau : float
        Noise amplitude and correlation time (units of tau) that probe the network.
    diagonal : {"matched", "original", "zero"}, default="matched"
    rng : None, int or numpy.random.Generator, default=None
        Seeds the sampling and, on an independent stream, the sketch.
    method : {"auto", "exact", "sketch"}, default="auto"
    eps : float, default=None
        How the scores are computed; see :func:`synapse_scores`.
    min_kept : int >= 0, default=0
        Every neuron keeps at least this many input and output synapses; see
        :func:`sparsify` (0: the rule as published).
    scores : array_like or scipy.sparse array of shape (n, n), default=None
        Scores computed elsewhere (e.g. :func:`plasticsim.estimate_scores`); they replace
        the covariance (``method`` and ``eps`` unset; the result's ``method`` is
        ``"given"`` and its ``covariance`` is ``None``). See
        :func:`pruning_probabilities`.

    Returns
    -------
    PruneResult
        Sparse input gives sparse matrices (``csr_array``) in the result.

    Examples
    --------
    >>> from plasticsim.networks import clustered
    >>> A = clustered([30, 20], rng=0)
    >>> res = noise_prune(A, density=0.2, rng=1)
    >>> res.seed
    1
    >>> bool(abs(res.kept_fraction - 0.2) < 0.05)
    True
    """
    sparse_in = is_sparse(A)
    A = check_matrix_or_sparse(A, "A")
    check_choice("diagonal", diagonal, _DIAGONAL_MODES)
    if diagonal == "matched":
        _check_leak(A, "diagonal='matched'")
    _check_density_or_k(density, k)
    _check_noise(sigma, noise_tau)
    min_kept = check_integer("min_kept", min_kept, minimum=0)
    given = None
    if scores is not None:
        i, j, _ = _sparse_synapses(A) if sparse_in else synapse_list(sps.csr_array(A))
        given = _given_scores(A, scores, i, j, None, method, eps)
        method = "given"
    else:
        method = _resolve_method(A, method, C=None, noise_tau=noise_tau, eps=eps)
    if sparse_in:
        _sparse_synapses(A)
    seed, gen = check_rng(rng, STREAM_SAMPLING)  # last: bad input never advances rng
    if sparse_in or method == "sketch":
        return _noise_prune_sparse(
            A,
            sparse_in,
            density,
            k,
            sigma,
            noise_tau,
            diagonal,
            seed,
            gen,
            method,
            eps,
            min_kept,
            given,
        )
    sym = is_symmetric(A)
    mask = check_has_synapses(A)
    if given is None:
        C = noise_covariance(
            A, sigma=sigma, noise_tau=noise_tau, structure="symmetric" if sym else "general"
        )
        S = synapse_scores(A, C)
    else:
        C, S = None, np.zeros(A.shape)
        S[mask] = given
    P, k_used = _probabilities_from_scores(S, mask, density, k, "score")
    keep = _sample(A, P, sym, gen) & mask
    rescued = _keep_minimum_dense(P, keep, mask, sym, min_kept)
    B = _apply(A, P, keep, diagonal, True)
    return PruneResult(
        pruned=B,
        probabilities=P,
        kept=keep,
        covariance=C,
        scores=S,
        k=k_used,
        seed=seed,
        n_synapses=int(mask.sum()),
        method=method,
        rescued=rescued,
    )


def _noise_prune_sparse(
    A, sparse_in, density, k, sigma, noise_tau, diagonal, seed, gen, method, eps, min_kept, given
):
    As = A if sparse_in else sps.csr_array(A)
    n = As.shape[0]
    sym = is_symmetric(As)
    i, j, a = _sparse_synapses(As)
    if given is not None:
        s, C = given, None
    else:
        s, C = _sparse_score_values(
            As,
            i,
            j,
            a,
            None,
            sigma=sigma,
            noise_tau=noise_tau,
            method=method,
            eps=eps,
            rng=seed,
            sym=sym,
        )
    k_used = _k_from_values(s, density, k, "score")
    p = np.minimum(1.0, k_used * s)
    keep = sample_uniforms(n, i, j, sym, gen) < p
    rescued = np.unique(keep_minimum(n, i, j, p, keep, sym, min_kept)).size
    B = apply_sparse(As, i, j, a, p, keep, diagonal, True)
    P = from_list(n, i, j, p)
    S = from_list(n, i, j, s)
    kept = from_list(n, i[keep], j[keep], np.ones(int(keep.sum()), dtype=bool))
    if not sparse_in:
        B, P, S, kept = B.toarray(), P.toarray(), S.toarray(), kept.toarray()
    return PruneResult(
        pruned=B,
        probabilities=P,
        kept=kept,
        covariance=C,
        scores=S,
        k=k_used,
        seed=seed,
        n_synapses=int(i.size),
        method=method,
        rescued=int(rescued),
    )
