import numpy as np
import pytest
import scipy.sparse as sps
from scipy.linalg import cho_factor, cho_solve
from scipy.stats import chi2, wilcoxon

from plasticsim import (
    control_probabilities,
    noise_covariance,
    noise_prune,
    pruning_probabilities,
    solve_k,
    sparsify,
    synapse_scores,
)
from plasticsim._sparse import synapse_list, values_at
from plasticsim.networks import clustered
from plasticsim.sketch import (
    DEFAULT_EPS,
    DEFAULT_RTOL,
    sample_stationary,
    sketch_dimension,
    sketch_scores,
    solve_sdd,
    stationary_rhs,
)
from plasticsim.spectra import slowest_eigenvalues


def ring(n, w=1.0, slack=0.5, sign=1.0):
    """Sparse symmetric ring, -A diagonally dominant with the given slack."""
    i = np.arange(n)
    W = sps.coo_array((np.full(n, sign * w), (i, (i + 1) % n)), shape=(n, n))
    W = (W + W.T).tocsr()
    return (W - sps.diags_array(np.full(n, 2 * w + slack))).tocsr()


@pytest.fixture(scope="module")
def net2000():
    """The issue's test network: 2,000 neurons, symmetric, -A diagonally dominant."""
    # 10 clusters of 200 joined by ~8 weak synapses per pair of clusters, a small leak:
    # slow inter-cluster modes (-0.05 to -0.13) that weight pruning loses at density 0.1.
    A = clustered([200] * 10, p_in=0.9, p_out=0.0002, w_in=0.2, w_out=0.2, leak=0.05, rng=3)
    return A, sps.csr_array(A)


@pytest.fixture(scope="module")
def scores2000(net2000):
    A, As = net2000
    C = noise_covariance(A)  # once: the O(n^3) step of the exact path
    return C, synapse_scores(A, C), synapse_scores(As, method="sketch", rng=7)


def probabilities_from(S, density):
    """What pruning_probabilities does with the scores (checked in test_sketched_rule)."""
    k = solve_k(S.data, density * S.nnz)
    P = S.copy()
    P.data = np.minimum(1.0, k * S.data)
    return P


def test_accuracy_at_default_eps(net2000, scores2000):
    """Issue 10: median relative error <= 10 %, 99th percentile <= 35 % at the default eps.

    Theory: a score's relative error is ~ sqrt(2 / q) (chi-square with q degrees of
    freedom over q); q = 325 at n = 2000, eps = 0.75 gives a 7.8 % standard deviation,
    so a median ~5 % and a 99th percentile ~21 %: the bounds hold with margin, and fail
    if q were ~4x too small or the solves or the projection were wrong.
    """
    A, _ = net2000
    _, exact, sketch = scores2000
    assert sketch_dimension(2000, DEFAULT_EPS) == 325
    syn = (A != 0) & ~np.eye(A.shape[0], dtype=bool)
    rel = np.abs(sketch.toarray()[syn] / exact[syn] - 1.0)
    assert np.median(rel) <= 0.10
    assert np.percentile(rel, 99) <= 0.35
    # and it is a real estimate, not a constant factor: the spread of the scores matters
    assert np.median(rel) >= 0.02


def test_sketched_pruning_keeps_slow_modes_like_exact(net2000, scores2000):
    """Issue 10: slowest-5 errors after pruning at density 0.1, sketch vs exact, 20 seeds.

    Paired design: each seed samples both networks with the same uniforms, so only the
    probabilities differ. Two-sided Wilcoxon signed-rank test at alpha = 0.01: no
    detectable difference. Power check: the same test on the weight baseline (which
    loses the slow modes, the paper's headline) must reject.
    """
    A, As = net2000
    C, _, sketch = scores2000
    Ps_exact = pruning_probabilities(As, C=C, density=0.1, method="exact")
    Ps_sketch = probabilities_from(sketch, 0.1)
    Pw = control_probabilities(As, strategy="weight", density=0.1)
    lam = slowest_eigenvalues(As, 5)

    def slow5(P, seed):
        mu = slowest_eigenvalues(sparsify(As, P, rng=seed), 5)
        return float(np.max(np.abs(mu - lam) / np.abs(lam)))

    e_exact, e_sketch, e_weight = (
        np.array([slow5(P, s) for s in range(20)]) for P in (Ps_exact, Ps_sketch, Pw)
    )
    assert wilcoxon(e_sketch, e_exact).pvalue > 0.01
    assert wilcoxon(e_weight, e_exact).pvalue < 0.01
    assert np.median(e_weight) > np.median(e_exact)


def test_sketched_rule():
    """pruning_probabilities and noise_prune with method='sketch' use sketch_scores."""
    As = ring(30, slack=0.2)
    S = sketch_scores(As, rng=5)
    P = pruning_probabilities(As, density=0.4, method="sketch", rng=5)
    np.testing.assert_array_equal(P.toarray(), probabilities_from(S, 0.4).toarray())
    res = noise_prune(As, density=0.4, method="sketch", rng=5)
    np.testing.assert_array_equal(res.scores.toarray(), S.toarray())


def test_unbiased_with_exact_solves():
    """E ||Q y||^2 = ||y||^2 for independent +-1/sqrt(q) signs: the mean over seeds
    converges to the exact score; standard error sqrt(2 / q / n_seeds) per score."""
    As = ring(12, slack=0.3)
    exact = synapse_scores(As, method="exact").toarray()
    n_seeds, eps = 200, 1.0
    q = sketch_dimension(12, eps)
    mean = (
        sum(sketch_scores(As, eps=eps, rng=s, rtol=1e-12).toarray() for s in range(n_seeds))
        / n_seeds
    )
    syn = exact > 0
    z = (mean[syn] / exact[syn] - 1.0) / np.sqrt(2.0 / q / n_seeds)
    # 24 scores (12 pairs, 2 entries each), z ~ N(0, 1) up to the pairs' correlation
    assert np.max(np.abs(z)) < 4.0


def test_reproducible_symmetric_and_sparse():
    As = ring(50, sign=-1.0)
    S1 = sketch_scores(As, rng=3)
    S2 = sketch_scores(As, rng=3)
    S3 = sketch_scores(As, rng=4)
    assert isinstance(S1, sps.csr_array)
    assert np.array_equal(S1.toarray(), S2.toarray())
    assert not np.array_equal(S1.toarray(), S3.toarray())
    assert (S1 - S1.T).count_nonzero() == 0
    assert S1.nnz == 100
    # dense input gives a dense answer with the same numbers
    assert np.array_equal(sketch_scores(As.toarray(), rng=3), S1.toarray())


def test_solvers_agree():
    As = ring(40, slack=0.05)
    jac = sketch_scores(As, rng=1, solver="jacobi", rtol=1e-10).toarray()
    amg = sketch_scores(As, rng=1, solver="amg", rtol=1e-10).toarray()
    np.testing.assert_allclose(amg, jac, rtol=1e-6)


def test_auto_picks_the_sketch_for_large_sdd():
    As = ring(5000)
    S = synapse_scores(As, rng=2)
    np.testing.assert_array_equal(S.toarray(), sketch_scores(As, rng=2).toarray())
    # ring with uniform weights: every synapse has the same effective resistance
    R = S.data
    assert np.std(R) / np.mean(R) < 0.25


@pytest.mark.parametrize(
    "A, kwargs, err, match",
    [
        (ring(6).toarray() + np.triu(np.ones((6, 6)) * 0.01, 1), {}, ValueError, "symmetric"),
        (ring(6, slack=-0.5), {}, ValueError, "not diagonally dominant"),
        (ring(6, slack=0.0), {}, ValueError, "not stable.*neuron 0"),
        (ring(6), {"eps": 1.5}, ValueError, r"eps == 1.5, must be in \(0, 1\]"),
        (ring(6), {"eps": "x"}, TypeError, "eps must be a real number"),
        (ring(6), {"solver": "lu"}, ValueError, "solver == 'lu'"),
        (ring(6), {"maxiter": 0}, ValueError, "maxiter == 0"),
        (ring(6), {"sigma": -1.0}, ValueError, "sigma == -1.0"),
        (ring(6) - ring(6), {}, ValueError, "no synapses"),
    ],
)
def test_bad_input(A, kwargs, err, match):
    with pytest.raises(err, match=match):
        sketch_scores(A, **kwargs)


def test_zero_slack_is_fine_when_signs_are_frustrated():
    """An odd inhibitory ring without slack is not balanced: -A is positive definite."""
    As = ring(5, slack=0.0, sign=-1.0)
    assert np.linalg.eigvalsh(As.toarray()).max() < 0
    S = sketch_scores(As, rng=0, rtol=1e-12)
    # q = 69 at n = 5: relative sd sqrt(2 / 69) = 17 %; 3.5 sd
    np.testing.assert_allclose(S.data, synapse_scores(As).data, rtol=0.6)


def test_unconverged_solve_raises():
    with pytest.raises(ValueError, match="did not reach rtol=1e-12 in maxiter=1"):
        sketch_scores(ring(200, slack=1e-3), rng=0, solver="jacobi", maxiter=1, rtol=1e-12)


@pytest.fixture(scope="module")
def slow_net():
    """Slow modes: 10 clusters of 300 (~60 synapses per neuron), ~1 long-range synapse per
    pair of clusters at 1/100 of the weight, leak 1e-6: eigenvalues of -A at 1e-6 and
    2e-6 to 8e-6 (the clusters' modes), the bulk from 0.42."""
    A = clustered(
        [300] * 10,
        p_in=0.2,
        p_out=1 / 300**2,
        w_in=0.77 / 60,
        w_out=0.77 / 6000,
        leak=1e-6,
        sparse=True,
        rng=1,
    )
    i, j, a = synapse_list(A)
    long = np.flatnonzero((i // 300 != j // 300) & (i < j))
    M = -A.toarray()
    G = cho_solve(cho_factor(M), np.eye(M.shape[0]))  # (-A)^{-1}, 72 MB
    # exact scores of every synapse: s = (sigma^2 / 2) |a| b^T (-A)^{-1} b
    exact = 0.5 * np.abs(a) * (G[i, i] + G[j, j] - 2 * np.sign(a) * G[i, j])
    return A, (i, j, a), long, exact, M, G


def chi2_band(q, n_scores, alpha=1e-3):
    """Two-sided band of ||Q y||^2 / ||y||^2 holding for all n_scores at once (Bonferroni).

    For Gaussian Q it is chi2_q / q; Achlioptas (2003) shows the moments of the +-1 sign
    matrix's ||Q y||^2 are at most the Gaussian ones, so the chi-square tails bound it.
    """
    a = alpha / (2 * n_scores)
    return chi2.ppf(a, q) / q, chi2.isf(a, q) / q


def test_slow_modes_long_range_scores(slow_net):
    """Every long-range score within the sketch's JL band of exact, with slow modes.

    Band: chi2_band for the q = 342 projections and the long-range pairs (alpha 1e-3 in
    all), widened by the solves' per-score bound |sqrt(s) - sqrt(s_sketch)| <= rtol
    sqrt(s_exact) (module docstring). A stopping rule on the relative residual alone
    (1e-4) gave ratios 0.48 to 1.84 here: the slow modes went unresolved.
    """
    A, (i, j, a), long, exact, _, _ = slow_net
    S = sketch_scores(A, rng=1)
    q = sketch_dimension(A.shape[0], DEFAULT_EPS)
    lo, hi = chi2_band(q, long.size)
    lo, hi = (np.sqrt(lo) - DEFAULT_RTOL) ** 2, (np.sqrt(hi) + DEFAULT_RTOL) ** 2
    ratio = values_at(S, i[long], j[long]) / exact[long]
    assert long.size >= 30
    assert np.all((ratio > lo) & (ratio < hi)), (ratio.min(), ratio.max(), lo, hi)


def test_per_score_solve_bound(slow_net):
    """The module docstring's guarantee, checked at every synapse against the same
    projection with solves 1e6 times tighter: |sqrt(s) - sqrt(s_ref)| <= rtol sqrt(exact)."""
    A, _, _, exact, _, _ = slow_net
    rtol = 0.05
    s = sketch_scores(A, rng=2, rtol=rtol).data
    ref = sketch_scores(A, rng=2, rtol=rtol * 1e-6).data
    err = np.abs(np.sqrt(s) - np.sqrt(ref))
    assert np.all(err <= rtol * np.sqrt(exact) * (1 + 1e-6) + 1e-7 * np.sqrt(ref))
    # and the loose solves do differ from the tight ones (the bound is not vacuous here)
    assert np.max(err / np.sqrt(exact)) > 1e-3 * rtol


def test_solve_sdd_energy_error(slow_net):
    """||x - x*||_M <= rtol ||x*||_M per column, for random and slow right-hand sides."""
    A, _, _, _, M, G = slow_net
    gen = np.random.default_rng(0)
    # cluster indicators: almost entirely in the slow modes' span
    slow = np.repeat(np.eye(10), 300, axis=0)[:, :3] - 0.1
    B = np.hstack([gen.standard_normal((M.shape[0], 3)), slow])
    for rtol in (1e-3, 1e-8):
        X = solve_sdd(A, B, rtol=rtol)
        Xs = G @ B
        err = np.sqrt(np.einsum("ij,ij->j", X - Xs, M @ (X - Xs)))
        size = np.sqrt(np.einsum("ij,ij->j", Xs, B))
        assert np.all(err <= rtol * size)
    x = solve_sdd(A, B[:, 0])
    assert x.shape == (3000,)
    np.testing.assert_allclose(x, Xs[:, 0], rtol=1e-5)


def test_sample_stationary_covariance():
    """Empirical covariance of exact samples against (sigma^2 / 2) (-A)^{-1}.

    Zero-mean Gaussian samples: Var(C_hat_ij) = (C_ij^2 + C_ii C_jj) / N (Wishart);
    z-scores over the 820 entries, Bonferroni at alpha ~1e-3: |z| < 4.9.
    """
    A = clustered([20, 20], p_in=0.5, p_out=0.005, w_in=0.2, w_out=0.2, leak=1e-4, rng=4)
    A = sps.csr_array(A)
    N, sigma = 4000, 1.5
    X = sample_stationary(A, N, sigma=sigma, rng=3)
    assert X.shape == (N, 40)
    C = 0.5 * sigma**2 * np.linalg.inv(-A.toarray())
    Chat = X.T @ X / N
    se = np.sqrt((C**2 + np.outer(np.diag(C), np.diag(C))) / N)
    z = (Chat - C) / se
    assert np.max(np.abs(z[np.triu_indices(40)])) < 4.9
    # the slow mode is there: its variance is (sigma^2 / 2) / lambda_min, huge
    assert np.linalg.eigvalsh(-A.toarray())[0] < 1e-3
    np.testing.assert_array_equal(sample_stationary(A, 3, rng=3), sample_stationary(A, 3, rng=3))
    # U^T g has covariance -A: the same check on the raw draws
    V = stationary_rhs(A, N, rng=5)
    Mx = -A.toarray()
    se = np.sqrt((Mx**2 + np.outer(np.diag(Mx), np.diag(Mx))) / N)
    assert np.max(np.abs((V.T @ V / N - Mx) / se)[np.triu_indices(40)]) < 4.9


@pytest.mark.parametrize(
    "args, kwargs, err, match",
    [
        ((ring(6), np.ones(5)), {}, ValueError, r"B has shape \(5,\), must be \(6,\)"),
        ((ring(6), np.ones(6)), {"rtol": 0}, ValueError, "rtol == 0"),
        ((ring(6), np.ones(6)), {"max_modes": -1}, ValueError, "max_modes == -1"),
        ((ring(6), np.full(6, np.nan)), {}, ValueError, "B has non-finite"),
        ((ring(6, slack=-0.5), np.ones(6)), {}, ValueError, "this solve needs A with -A diag"),
    ],
)
def test_solve_sdd_bad_input(args, kwargs, err, match):
    with pytest.raises(err, match=match):
        solve_sdd(*args, **kwargs)
