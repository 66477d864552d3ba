import warnings

import numpy as np
import pytest
import scipy.sparse as sps

from plasticsim import (
    control_probabilities,
    k_from_epsilon,
    noise_covariance,
    noise_prune,
    pruning_probabilities,
    solve_k,
    sparsify,
    synapse_scores,
)
from plasticsim.spectra import quadratic_form_range


def sparse_stable(n, p, rng, symmetric=True, signed=True, slack=0.5):
    """Random sparse network, -A strictly diagonally dominant (the theorem's class)."""
    W = rng.uniform(0.2, 1.0, (n, n)) * (rng.random((n, n)) < p)
    if signed:
        W *= rng.choice([-1.0, 1.0], (n, n))
    if symmetric:
        W = np.triu(W, 1)
        W = W + W.T
    np.fill_diagonal(W, 0.0)
    return W - np.diag(np.abs(W).sum(axis=1) + slack)


# ---------------------------------------------------------------- scores


@pytest.mark.parametrize("symmetric", [True, False])
def test_scores_equal_brute_force(symmetric):
    rng = np.random.default_rng(10)
    A = sparse_stable(15, 0.4, rng, symmetric=symmetric)
    C = noise_covariance(A, sigma=0.6)
    S = synapse_scores(A, C)
    expected = np.zeros_like(A)
    for i in range(15):
        for j in range(15):
            a = A[i, j]
            if i != j and a != 0:
                expected[i, j] = abs(a) * (C[i, i] + C[j, j] - 2 * np.sign(a) * C[i, j])
    np.testing.assert_allclose(S, expected, rtol=1e-12, atol=1e-15)
    assert np.count_nonzero(S) == np.count_nonzero(A) - 15
    # computing C internally gives the same answer
    np.testing.assert_allclose(synapse_scores(A, sigma=0.6), S, rtol=1e-12)


def test_scores_are_weight_times_variance_of_difference():
    """s_ij = |a| E[(x_i - sign(a) x_j)^2], estimated from Gaussian samples of C."""
    rng = np.random.default_rng(11)
    A = sparse_stable(6, 0.8, rng, symmetric=False)
    C = noise_covariance(A)
    X = rng.multivariate_normal(np.zeros(6), C, size=200_000)
    i, j = np.argwhere((A != 0) & ~np.eye(6, dtype=bool))[0]
    a = A[i, j]
    mc = abs(a) * np.mean((X[:, i] - np.sign(a) * X[:, j]) ** 2)
    # relative standard error of a mean of chi-square(1) samples: sqrt(2 / 200000) ~ 0.003
    assert abs(mc / synapse_scores(A, C)[i, j] - 1) < 5 * np.sqrt(2 / 200_000)


def test_laplacian_limit_is_half_effective_resistance():
    rng = np.random.default_rng(12)
    n = 12
    W = np.triu(rng.uniform(0.5, 2.0, (n, n)) * (rng.random((n, n)) < 0.5), 1)
    W = W + W.T
    W[np.arange(n - 1), np.arange(1, n)] = W[np.arange(1, n), np.arange(n - 1)] = 1.0  # connected
    L = np.diag(W.sum(axis=1)) - W
    Lplus = np.linalg.pinv(L)  # independent: effective resistance from the pseudo-inverse
    edges = np.argwhere(np.triu(W, 1) > 0)
    R = np.array([Lplus[i, i] + Lplus[j, j] - 2 * Lplus[i, j] for i, j in edges])
    errors = []
    for delta in (1e-2, 1e-4, 1e-6):
        A = -(L + delta * np.eye(n))
        S = synapse_scores(A)
        ratio = np.array([S[i, j] / W[i, j] for i, j in edges])
        errors.append(np.max(np.abs(ratio - R / 2) / (R / 2)))
    # s/|a| = (1/2) b^T (L + delta I)^{-1} b = R/2 + O(delta): errors shrink ~100x per step
    assert errors[0] > 10 * errors[1] > 100 * errors[2]
    assert errors[2] < 1e-5


# ------------------------------------------------------------ probabilities


def test_solve_k_matches_bisection_with_heavy_clipping():
    rng = np.random.default_rng(13)
    s = np.concatenate([rng.lognormal(0, 2, 500), np.full(7, 3.0)])  # skewed, with ties
    for target in (1.0, 50.0, 400.0, 499.0, 507.0):
        k = solve_k(s, target)
        assert np.sum(np.minimum(1, k * s)) == pytest.approx(target, rel=1e-12)
        lo, hi = 0.0, 1e12  # brute-force bisection reference
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if np.sum(np.minimum(1, mid * s)) < target else (lo, mid)
        if target < s.size:
            assert k == pytest.approx(hi, rel=1e-9)


@pytest.mark.parametrize("density", [0.05, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("symmetric", [True, False])
def test_density_met_exactly_including_clipping(density, symmetric):
    rng = np.random.default_rng(14)
    A = sparse_stable(60, 0.3, rng, symmetric=symmetric)
    P, k = pruning_probabilities(A, density=density, return_k=True)
    mask = (A != 0) & ~np.eye(60, dtype=bool)
    assert P.sum() == pytest.approx(density * mask.sum(), rel=1e-12)
    np.testing.assert_allclose(P[mask], np.minimum(1, k * synapse_scores(A)[mask]), rtol=1e-12)
    assert np.all(P[~mask] == 0)
    if symmetric:
        assert np.array_equal(P, P.T)
    if density == 0.9:
        assert np.sum(P[mask] == 1) > 0.3 * mask.sum()  # heavy clipping really happens
        naive = np.minimum(
            1, density * mask.sum() * synapse_scores(A)[mask] / synapse_scores(A)[mask].sum()
        )
        assert naive.sum() < 0.95 * density * mask.sum()  # what normalise-then-clip misses
    if density == 1.0:
        assert np.all(P[mask] == 1)


def test_k_given_and_density_agree():
    A = sparse_stable(40, 0.3, np.random.default_rng(15))
    P1, k = pruning_probabilities(A, density=0.3, return_k=True)
    P2 = pruning_probabilities(A, k=k)
    np.testing.assert_allclose(P1, P2, rtol=1e-12)
    C = noise_covariance(A, sigma=2.0)
    P3 = pruning_probabilities(A, C=C, k=k / 4)  # scores scale with sigma^2
    np.testing.assert_allclose(P3, P2, rtol=1e-12)


def test_k_from_epsilon_formula():
    # k = 6 ln(2n/delta) / (eps^2 sigma^2), delta = 1/n by default
    assert k_from_epsilon(0.5, 100) == pytest.approx(6 * np.log(2 * 100 * 100) / 0.25)
    assert k_from_epsilon(0.5, 100, sigma=2.0, delta=0.1) == pytest.approx(
        6 * np.log(2000) / (0.25 * 4)
    )


# ------------------------------------------------------------------ sparsify


@pytest.mark.parametrize("symmetric", [True, False])
def test_sparsify_is_unbiased(symmetric):
    rng = np.random.default_rng(16)
    A = sparse_stable(20, 0.4, rng, symmetric=symmetric)
    P = pruning_probabilities(A, density=0.3)
    draws = 4000
    total = np.zeros_like(A)
    for _ in range(draws):
        total += sparsify(A, P, rng=rng, diagonal="original")
    mean = total / draws
    mask = (A != 0) & ~np.eye(20, dtype=bool)
    # Var(A'_ij) = a^2 (1/p - 1): standard error of the mean is |a| sqrt((1/p - 1)/draws).
    se = np.abs(A[mask]) * np.sqrt((1 / P[mask] - 1) / draws)
    z = (mean[mask] - A[mask])[se > 0] / se[se > 0]
    # ~100 entries: |z| < 4.5 for all of them fails with probability ~ 100 * 7e-6.
    assert np.max(np.abs(z)) < 4.5
    # z-scores are standard normal: their mean has standard error 1/sqrt(#entries)
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    np.testing.assert_array_equal(mean[~mask & ~np.eye(20, dtype=bool)], 0.0)


def test_sparsify_symmetric_in_symmetric_out():
    A = sparse_stable(30, 0.3, np.random.default_rng(17))
    P = pruning_probabilities(A, density=0.2)
    B = sparsify(A, P, rng=3)
    assert np.array_equal(B, B.T)
    B2 = sparsify(A, P, rng=3, symmetric=False)  # sampled per direction: asymmetric
    assert not np.array_equal(B2, B2.T)


def test_diagonal_modes():
    A = sparse_stable(25, 0.4, np.random.default_rng(18), symmetric=False)
    P = pruning_probabilities(A, density=0.3)
    kw = dict(rng=5)
    original = sparsify(A, P, diagonal="original", **kw)
    zero = sparsify(A, P, diagonal="zero", **kw)
    matched = sparsify(A, P, diagonal="matched", **kw)
    off = ~np.eye(25, dtype=bool)
    assert np.array_equal(original[off], matched[off]) and np.array_equal(zero[off], matched[off])
    np.testing.assert_array_equal(np.diag(original), np.diag(A))
    np.testing.assert_array_equal(np.diag(zero), 0.0)
    for i in range(25):
        change = np.sum(np.abs(np.delete(A[i], i))) - np.sum(np.abs(np.delete(matched[i], i)))
        assert matched[i, i] == pytest.approx(A[i, i] + change, rel=1e-12)
    # the matched diagonal keeps each row's slack: -A'_ii - sum |A'_ij| == -A_ii - sum |A_ij|
    slack = -np.diag(A) - np.abs(A * off).sum(axis=1)
    slack2 = -np.diag(matched) - np.abs(matched * off).sum(axis=1)
    np.testing.assert_allclose(slack2, slack, rtol=1e-10)


def test_rescale_false_and_p_one():
    A = sparse_stable(10, 0.5, np.random.default_rng(19))
    P = np.ones_like(A)
    np.testing.assert_array_equal(sparsify(A, P, rng=0), A)  # p = 1 keeps everything as is
    B = sparsify(A, np.full_like(A, 0.5), rng=0, rescale=False, diagonal="original")
    kept = B != 0
    np.testing.assert_array_equal(B[kept], A[kept])


def test_reproducible_and_seed_recorded():
    A = sparse_stable(30, 0.3, np.random.default_rng(20))
    r1 = noise_prune(A, density=0.2, rng=123)
    r2 = noise_prune(A, density=0.2, rng=123)
    assert r1.seed == 123
    assert np.array_equal(r1.pruned, r2.pruned) and np.array_equal(r1.kept, r2.kept)
    g = np.random.default_rng(7)
    r3 = noise_prune(A, density=0.2, rng=g)
    r4 = noise_prune(A, density=0.2, rng=r3.seed)  # the recorded seed repeats the run
    assert np.array_equal(r3.pruned, r4.pruned)
    assert noise_prune(A, density=0.2).seed != noise_prune(A, density=0.2).seed


def test_noise_prune_result_is_consistent():
    A = sparse_stable(40, 0.3, np.random.default_rng(21))
    res = noise_prune(A, density=0.25, sigma=0.5, rng=1)
    np.testing.assert_allclose(res.covariance, noise_covariance(A, sigma=0.5), rtol=1e-12)
    np.testing.assert_allclose(res.probabilities, pruning_probabilities(A, density=0.25))
    assert np.array_equal(res.kept, (res.pruned != 0) & ~np.eye(40, dtype=bool))
    np.testing.assert_allclose(res.pruned[res.kept], A[res.kept] / res.probabilities[res.kept])
    # kept count is a sum of independent Bernoullis (per pair): within 4 sd of the mean
    pairs = res.probabilities[np.triu(A != 0, 1)]
    sd = np.sqrt(np.sum(pairs * (1 - pairs)))
    assert abs(np.triu(res.kept).sum() - pairs.sum()) < 4 * sd


# ----------------------------------------------------------------- controls


def test_controls():
    A = sparse_stable(50, 0.3, np.random.default_rng(22))
    mask = (A != 0) & ~np.eye(50, dtype=bool)
    W = control_probabilities(A, strategy="weight", density=0.4)
    assert W.sum() == pytest.approx(0.4 * mask.sum(), rel=1e-12)
    ratio = W[mask & (W < 1)] / np.abs(A[mask & (W < 1)])
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)  # p proportional to |a|
    U = control_probabilities(A, strategy="uniform", density=0.4)
    assert np.all(U[mask] == 0.4) and np.all(U[~mask] == 0)
    M = control_probabilities(A, strategy="magnitude", density=0.4)
    assert np.array_equal(M, M.T)
    kept, dropped = np.abs(A[mask & (M == 1)]), np.abs(A[mask & (M == 0)])
    assert kept.min() >= dropped.max()
    assert abs(M[mask].sum() - 0.4 * mask.sum()) <= 2  # whole pairs, rounded


# ------------------------------------------------------------------ theorem


def chain_of_cliques(n_cliques, size, leak, rng):
    """Dense cliques joined in a chain by single bridges: very unequal leverages (each
    bridge carries everything between its two cliques, leverage ~1)."""
    n = n_cliques * size
    W = np.zeros((n, n))
    for c in range(n_cliques):
        block = slice(c * size, (c + 1) * size)
        W[block, block] = rng.uniform(0.5, 1.5, (size, size))
    for c in range(n_cliques - 1):
        W[c * size + rng.integers(size), (c + 1) * size + rng.integers(size)] = 1.0
    W = np.triu(W, 1)
    W = W + W.T
    return W - np.diag(W.sum(axis=1) + leak)


def test_spectral_guarantee_at_theory_rate():
    """k = k_from_epsilon(eps, n): all quadratic forms within (1 +- eps) w.p. >= 1 - 1/n.

    Checked exactly for *all* x through the generalised eigenvalues of (A', A), over many
    seeds, on a network whose leverages are very unequal. Negative controls at the same
    density (uniform and weight-based sampling, which ignore leverage) must break the band:
    otherwise the test could not tell the rule from any other sampler.
    """
    n_cliques, size, eps, seeds = 4, 150, 0.9, range(10)
    A = chain_of_cliques(n_cliques, size, 1e-3, np.random.default_rng(23))
    n = A.shape[0]
    k = k_from_epsilon(eps, n)
    slowest_vectors = np.linalg.eigh(A)[1][:, -5:]
    fails = {"noise": 0, "uniform": 0, "weight": 0}
    fractions = []
    for seed in seeds:
        res = noise_prune(A, k=k, rng=seed)
        fractions.append(res.kept_fraction)
        lo, hi = quadratic_form_range(A, res.pruned)
        fails["noise"] += not (1 - eps <= lo and hi <= 1 + eps)
        # random vectors and A's slowest eigenvectors are special cases of "all x"
        X = np.hstack([np.random.default_rng(seed).standard_normal((n, 20)), slowest_vectors])
        q = np.einsum("ij,ij->j", X, res.pruned @ X) / np.einsum("ij,ij->j", X, A @ X)
        assert np.all((q >= lo - 1e-12) & (q <= hi + 1e-12))
        for strategy in ("uniform", "weight"):
            P = control_probabilities(A, strategy=strategy, density=res.kept_fraction)
            lo_c, hi_c = quadratic_form_range(A, sparsify(A, P, rng=seed))
            fails[strategy] += not (1 - eps <= lo_c and hi_c <= 1 + eps)
    # Theory: P(a draw fails) <= delta = 1/n = 1/600, so P(any of 10 fails) <= 1.7%.
    assert fails["noise"] == 0, fails
    # The test is not trivial: about a third of the synapses are pruned ...
    assert np.mean(fractions) < 0.75
    # ... and samplers blind to leverage drop a bridge (probability 1 - 0.67^3 ~ 0.7 per
    # draw), which sends the quadratic form of that clique's indicator towards 0. With
    # 10 draws, fewer than 3 failures has probability < 0.2%.
    assert fails["uniform"] >= 3 and fails["weight"] >= 3, fails


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "exactly one of density or k"),
        ({"density": 0.5, "k": 1.0}, "exactly one of density or k"),
        ({"density": 1.7}, r"density == 1.7, must be in \(0, 1\]"),
        ({"density": 0.0}, r"density == 0.0, must be in \(0, 1\]"),
        ({"k": -2.0}, r"k == -2.0, must be > 0"),
        (
            {"k": 1.0, "symmetric": True, "A": [[-2.0, 1.0], [0.0, -2.0]]},
            "symmetric=True but A is not symmetric",
        ),
        ({"k": 1.0, "A": -np.eye(3)}, "A has no synapses"),
        ({"k": 1.0, "C": np.eye(2)}, r"C has shape \(2, 2\), must match"),
        ({"k": 1.0, "symmetric": "yes"}, "symmetric == 'yes', must be 'auto'"),
    ],
)
def test_probabilities_bad_input(kwargs, match):
    A = kwargs.pop("A", sparse_stable(4, 1.0, np.random.default_rng(0)))
    with pytest.raises(ValueError, match=match):
        pruning_probabilities(A, **kwargs)


@pytest.mark.parametrize(
    "P, kwargs, exc, match",
    [
        (np.full((3, 3), 1.5), {}, ValueError, r"P has an entry 1.5; probabilities must be in"),
        (np.full((3, 3), -0.1), {}, ValueError, "P has an entry -0.1"),
        (np.full((2, 2), 0.5), {}, ValueError, r"P has shape \(2, 2\), must match"),
        (np.full((3, 3), 0.5), {"diagonal": "keep"}, ValueError, "diagonal == 'keep'"),
        (np.full((3, 3), 0.5), {"rescale": 1}, TypeError, "rescale must be True or False"),
        (np.full((3, 3), 0.5), {"rng": "seed"}, TypeError, "rng must be None"),
        (np.full((3, 3), 0.5), {"rng": -1}, ValueError, "rng == -1"),
        (np.triu(np.full((3, 3), 0.5)), {}, ValueError, "symmetric A needs a symmetric P"),
    ],
)
def test_sparsify_bad_input(P, kwargs, exc, match):
    A = sparse_stable(3, 1.0, np.random.default_rng(0))
    with pytest.raises(exc, match=match):
        sparsify(A, P, **kwargs)


def test_noise_prune_bad_input_before_work():
    A = sparse_stable(5, 1.0, np.random.default_rng(0))
    bad_leak = A.copy()
    bad_leak[2, 2] = 0.5
    with pytest.raises(ValueError, match=r"A\[2, 2\] == 0.5: diagonal='matched' needs a leak"):
        noise_prune(bad_leak, density=0.5)
    with pytest.raises(ValueError, match="not stable"):
        noise_prune(A + 10 * np.eye(5), density=0.5, diagonal="original")
    with pytest.raises(ValueError, match="density == 2"):
        noise_prune(A, density=2)
    with pytest.raises(ValueError, match="strategy == 'random'"):
        control_probabilities(A, strategy="random", density=0.5)
    with pytest.raises(ValueError, match=r"eps == 1.5, must be in \(0, 1\]"):
        k_from_epsilon(1.5, 10)
    with pytest.raises(ValueError, match="n == 0"):
        k_from_epsilon(0.5, 0)
    with pytest.raises(ValueError, match="delta == 1.0"):
        k_from_epsilon(0.5, 10, delta=1.0)


def test_matched_diagonal_warns_when_a_leak_is_lost():
    # -A not diagonally dominant: a leak of 0.2 against inputs of total weight 1.8
    A = np.array([[-0.2, 0.9, 0.9], [0.9, -2.0, 0.0], [0.9, 0.0, -2.0]])
    P = np.full((3, 3), 0.5)
    with pytest.warns(RuntimeWarning, match=r"left 1 neuron\(s\) without a leak.*A'\[0, 0\]"):
        # neuron 0 loses both synapses with probability 1/4: A'[0, 0] = -0.2 + 1.8 = 1.6
        for seed in range(50):
            B = sparsify(A, P, rng=seed)
            if B[0, 0] >= 0:
                break
    assert B[0, 0] >= 0
    # a diagonally dominant network never loses a leak (the slack is kept)
    D = sparse_stable(30, 0.5, np.random.default_rng(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for seed in range(20):
            sparsify(D, pruning_probabilities(D, density=0.1), rng=seed)


@pytest.mark.parametrize(
    "scores, target, exc, match",
    [
        ([1.0, 2.0], 5.0, ValueError, r"target == 5.0, must be <= the number of scores \(2\)"),
        ([1.0, 2.0], 0.0, ValueError, r"target == 0.0, must be > 0"),
        ([1.0, 2.0], -1.0, ValueError, r"target == -1.0, must be > 0"),
        ([0.0, 2.0], 1.0, ValueError, r"entry 0.0; every score must be finite and > 0"),
        ([np.nan, 1.0], 1.0, ValueError, "every score must be finite"),
        ([], 1.0, ValueError, r"scores has shape \(0,\), must be 1-D and non-empty"),
        ([[1.0, 2.0]], 1.0, ValueError, "must be 1-D"),
        (["a"], 1.0, TypeError, "scores must be a 1-D array of real numbers"),
    ],
)
def test_solve_k_bad_input(scores, target, exc, match):
    with pytest.raises(exc, match=match):
        solve_k(scores, target)


def test_covariance_argument_is_validated():
    A = sparse_stable(4, 1.0, np.random.default_rng(0))
    C = noise_covariance(A)
    with pytest.raises(ValueError, match="C is not symmetric"):
        synapse_scores(A, C + np.triu(np.full((4, 4), 0.1), 1))
    with pytest.raises(ValueError, match=r"C\[0, 0\] == -1.0; a variance must be > 0"):
        pruning_probabilities(A, C=-np.eye(4), k=1.0)
    with pytest.raises(ValueError, match=r"sigma == -1.0, must be > 0"):
        pruning_probabilities(A, C=C, k=1.0, sigma=-1.0)
    with pytest.raises(TypeError, match="return_k must be True or False"):
        pruning_probabilities(A, k=1.0, return_k="yes")


def test_bad_input_never_advances_the_callers_generator():
    A = sparse_stable(5, 1.0, np.random.default_rng(0))
    g = np.random.default_rng(1)
    state = g.bit_generator.state
    for kwargs in ({"sigma": 0.0}, {"noise_tau": -1.0}, {"density": 2.0}):
        with pytest.raises(ValueError):
            noise_prune(A, **{"density": 0.5, **kwargs}, rng=g)
    assert g.bit_generator.state == state


def test_controls_refuse_unstable_and_empty_magnitude():
    A = sparse_stable(4, 1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="not stable"):
        control_probabilities(A + 20 * np.eye(4), strategy="uniform", density=0.5)
    pair = np.array([[-2.0, 1.0], [1.0, -2.0]])
    with pytest.raises(ValueError, match=r"keeps round\(0.1 \* 1\) == 0 synapses"):
        control_probabilities(pair, strategy="magnitude", density=0.1)


# ---------------------------------------------------------------- sparse input


def _pair_dense_sparse(symmetric, seed=20, n=40):
    A = sparse_stable(n, 0.3, np.random.default_rng(seed), symmetric=symmetric)
    return A, sps.csr_array(A)


@pytest.mark.parametrize("symmetric", [True, False])
def test_sparse_exact_equals_dense(symmetric):
    """Small sparse input on the exact path: the dense path's numbers, sparse."""
    A, As = _pair_dense_sparse(symmetric)
    S, Ss = synapse_scores(A), synapse_scores(As)
    assert isinstance(Ss, sps.csr_array)
    np.testing.assert_array_equal(Ss.toarray(), S)
    P, k = pruning_probabilities(A, density=0.2, return_k=True)
    Ps, ks = pruning_probabilities(As, density=0.2, return_k=True)
    assert isinstance(Ps, sps.csr_array) and ks == k
    np.testing.assert_array_equal(Ps.toarray(), P)
    np.testing.assert_array_equal(
        pruning_probabilities(As, k=3.0).toarray(), pruning_probabilities(A, k=3.0)
    )
    for strategy in ("weight", "uniform", "magnitude"):
        Pc = control_probabilities(As, strategy=strategy, density=0.3)
        assert isinstance(Pc, sps.csr_array)
        np.testing.assert_array_equal(
            Pc.toarray(), control_probabilities(A, strategy=strategy, density=0.3)
        )


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("diagonal", ["matched", "original", "zero"])
def test_sparse_sampling_equals_dense(symmetric, diagonal):
    """Same rng -> same kept synapses; the matched diagonal to round-off (its row sums
    add the same numbers in another order)."""
    A, As = _pair_dense_sparse(symmetric)
    P = pruning_probabilities(A, density=0.3)
    off = ~np.eye(A.shape[0], dtype=bool)
    for rescale in (True, False):
        B = sparsify(A, P, rng=7, diagonal=diagonal, rescale=rescale)
        Bs = sparsify(As, sps.csr_array(P), rng=7, diagonal=diagonal, rescale=rescale)
        assert isinstance(Bs, sps.csr_array)
        np.testing.assert_array_equal(Bs.toarray()[off], B[off])
        np.testing.assert_allclose(Bs.diagonal(), np.diag(B), rtol=1e-13, atol=0)
    res, ress = noise_prune(A, density=0.3, rng=9), noise_prune(As, density=0.3, rng=9)
    np.testing.assert_array_equal(ress.kept.toarray(), res.kept)
    np.testing.assert_array_equal(ress.pruned.toarray()[off], res.pruned[off])
    np.testing.assert_array_equal(ress.covariance, res.covariance)
    assert ress.kept_fraction == res.kept_fraction and ress.k == res.k
    assert ress.method == res.method == "exact"


def test_sparse_large_sampling_is_unbiased_and_symmetric():
    """n > 4096: one uniform per unordered pair. E[A'] = A off the diagonal; the kept
    count of m independent Bernoulli(p) pairs has sd sqrt(m p (1 - p))."""
    n = 5000
    i = np.arange(n)
    W = sps.coo_array((np.ones(2 * n), (np.r_[i, i], np.r_[(i + 1) % n, (i + 7) % n])))
    W = (W + W.T).tocsr()
    As = (W - sps.diags_array(np.full(n, 4.5))).tocsr()
    P = (W != 0).astype(float) * 0.3
    B = sparsify(As, P, rng=1)
    assert isinstance(B, sps.csr_array)
    assert (B - B.T).count_nonzero() == 0
    kept_pairs = (sps.triu(B, 1) != 0).sum()
    m = 2 * n
    assert abs(kept_pairs - 0.3 * m) < 4 * np.sqrt(m * 0.3 * 0.7)
    np.testing.assert_allclose(sps.triu(B, 1).data, 1 / 0.3)
    assert (sparsify(As, P, rng=1) != B).nnz == 0  # reproducible


def test_sketch_method_on_dense_and_sparse_prune():
    A = sparse_stable(60, 0.3, np.random.default_rng(3))
    res = noise_prune(sps.csr_array(A), density=0.3, rng=2, method="sketch")
    assert res.method == "sketch" and res.covariance is None
    assert isinstance(res.pruned, sps.csr_array)
    dense = noise_prune(A, density=0.3, rng=2, method="sketch")
    np.testing.assert_array_equal(dense.pruned, res.pruned.toarray())
    # the sketch draws on its own stream: the same seed gives the same scores
    np.testing.assert_array_equal(res.scores.toarray(), synapse_scores(A, method="sketch", rng=2))
    assert bool(abs(res.kept_fraction - 0.3) < 0.1)


def _large_nonsymmetric():
    n = 5000
    i = np.arange(n)
    W = sps.csr_array((np.full(n, 0.5), (i, (i + 1) % n)), shape=(n, n))
    return (W - sps.eye_array(n)).tocsr()


@pytest.mark.parametrize(
    "A, kwargs, match",
    [
        (_large_nonsymmetric(), {}, r"n == 5000 > 4096.*A is not symmetric.*method='exact'"),
        (
            # symmetric, leak 0.9 < sum |a| == 1 (raised before any work)
            _large_nonsymmetric() + _large_nonsymmetric().T + 1.1 * sps.eye_array(5000),
            {},
            "not diagonally dominant.*estimate_scores",
        ),
        (
            sps.csr_array(np.array([[-2.0, 1.0], [1.0, -2.0]])),
            {"method": "sketch", "noise_tau": 1.0},
            "needs white noise",
        ),
        (sps.csr_array(np.array([[-2.0, 1.0], [1.0, -2.0]])), {"method": "lu"}, "method == 'lu'"),
        (
            sps.csr_array(np.array([[-2.0, 1.0], [1.0, -2.0]])),
            {"method": "exact", "eps": 0.5},
            "takes no eps",
        ),
        (
            sps.csr_array(np.array([[-2.0, 1.0], [1.0, -2.0]])),
            {"method": "sketch", "C": np.eye(2)},
            "uses no covariance",
        ),
    ],
)
def test_method_bad_input(A, kwargs, match):
    with pytest.raises(ValueError, match=match):
        synapse_scores(A, **kwargs)


def test_sparse_bad_input():
    with pytest.raises(ValueError, match=r"shape \(2, 3\), must be square"):
        synapse_scores(sps.csr_array(np.ones((2, 3))))
    with pytest.raises(TypeError, match="must be real"):
        synapse_scores(sps.csr_array(np.eye(2) * (1 + 1j)))
    with pytest.raises(ValueError, match=r"non-finite entry A\[1, 0\] == nan"):
        synapse_scores(sps.csr_array(np.array([[-1.0, 0.0], [np.nan, -1.0]])))
    with pytest.raises(ValueError, match="no synapses"):
        pruning_probabilities(sps.eye_array(3) * -1.0, density=0.5)
    As = sps.csr_array(np.array([[-2.0, 1.0], [1.0, -2.0]]))
    with pytest.raises(ValueError, match=r"P has an entry 1.5"):
        sparsify(As, As * 0 + sps.csr_array(np.array([[0, 1.5], [1.5, 0]])))
    with pytest.raises(ValueError, match=r"P has shape \(3, 3\)"):
        sparsify(As, sps.eye_array(3))
    with pytest.raises(ValueError, match="not stable"):
        control_probabilities(-As, strategy="weight", density=0.5)
