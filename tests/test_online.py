"""Tests of plasticsim.online: the Brian2 sleep simulator against the exact core.

Statistical tests compare Brian2 with the *exact* statistics of the chain it integrates:
Euler-Maruyama with step ``h = dt / tau`` is the linear recursion ``z <- F z + noise``,
whose stationary covariance ``P`` (a discrete Lyapunov equation) and whose estimator
variances (sums of lagged autocovariances, in closed form with Kronecker products) are
computed below. Tolerances are quantiles of those distributions; the Euler bias
``P - C = O(h)`` with respect to DESIGN's continuous ``C`` is checked separately.

The numpy target runs most tests (autouse fixture); ``@pytest.mark.cython`` tests repeat
a subset on Brian2's cython target.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
import scipy.linalg as sla
from brian2 import TimedArray, ms, second

from plasticsim import noise_covariance, noise_prune, sparsify, synapse_scores
from plasticsim._validation import is_symmetric
from plasticsim.dynamics import simulate
from plasticsim.networks import clustered, clustered_asymmetric, erdos_renyi
from plasticsim.online import (
    LABILE,
    PRUNED,
    STABLE,
    RateNetwork,
    SleepReport,
    SynapseState,
)
from plasticsim.online._decisions import estimate_scores, partner_index
from plasticsim.spectra import compare_spectra

TAU = 10 * ms
DT = 0.5 * ms  # h = dt / tau = 0.05: fast enough for numpy, exact theory below covers it
H = float(DT / TAU)


# Brian2's numpy target, no log files, no saved scripts (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("brian_prefs")


# Test networks are chosen with (dt / tau) max|lambda(A)| <= 0.25 (RateNetwork warns above):
# Euler-Maruyama then inflates no mode's variance by more than ~14%, so comparisons with
# DESIGN's continuous-time scores stay meaningful. Exact Euler theory is used wherever a
# test is tight.


def small_symmetric(n_per=4, rng=3):
    """Two clusters of ``n_per``, symmetric, -A diagonally dominant (margin 1)."""
    return clustered(
        [n_per, n_per], p_in=0.8, p_out=0.25, n_strong=0, w_in=0.4, w_out=0.4, rng=rng
    )


def medium(symmetric=True, rng=2):
    """Two clusters of 10 with one strong synapse (pair) each."""
    make = clustered if symmetric else clustered_asymmetric
    return make(
        [10, 10], p_in=0.6, p_out=0.1, n_strong=1, w_in=0.3, w_out=0.3, strong_factor=4, rng=rng
    )


def signed_network():
    """Symmetric Erdos-Renyi network of 8 with random signs: 14 of its 30 synapses are
    inhibitory, scored with ``+2 C_ij``; -A diagonally dominant (margin 1)."""
    return erdos_renyi(8, 0.5, weight=0.3, signed=True, rng=1)


def offdiag_mask(A):
    m = A != 0
    np.fill_diagonal(m, False)
    return m


# ------------------------------------------------------------------ exact Euler theory


def euler_chain(A, *, sigma, theta=0.0, h=H):
    """``(F, Q, n)`` of the Euler-Maruyama chain Brian2 integrates (DESIGN units).

    White: ``x <- (I + h A) x + sigma sqrt(h) N``. OU (``theta = noise_tau / tau``): the
    augmented ``z = (x, eta)``, ``z <- (I + h M) z + (0, sigma sqrt(h) / theta N)`` with
    ``M = [[A, I], [0, -I / theta]]``.
    """
    n = A.shape[0]
    if theta == 0:
        return np.eye(n) + h * A, sigma**2 * h * np.eye(n), n
    M = np.block([[A, np.eye(n)], [np.zeros((n, n)), -np.eye(n) / theta]])
    Q = np.zeros((2 * n, 2 * n))
    Q[n:, n:] = (sigma / theta) ** 2 * h * np.eye(n)
    return np.eye(2 * n) + h * M, Q, n


def lagged_sum(F, P, every):
    """``K = sum_{l >= 0} Gamma(l) (x) Gamma(l)`` for samples every ``every`` steps.

    ``Gamma(l) = G^l P`` with ``G = F^every``, so ``K = (I - G (x) G)^{-1} (P (x) P)``.
    """
    G = np.linalg.matrix_power(F, every)
    D = F.shape[0]
    return np.linalg.solve(np.eye(D * D) - np.kron(G, G), np.kron(P, P))


def covariance_theory(A, *, sigma, theta, every):
    """Exact stationary ``P`` (x-block) and the asymptotic ``n_samples * Var(C_hat_ab)``.

    Bartlett: ``n Var(C_ab) = sum_l Gamma_aa(l) Gamma_bb(l) + Gamma_ab(l) Gamma_ba(l)``
    over all lags ``l`` (Gaussian, stationary), ``= 2 K_(ab),(ab) + 2 K_(ab),(ba) -
    (P_aa P_bb + P_ab^2)`` with the ``l >= 0`` sum ``K``.
    """
    F, Q, n = euler_chain(A, sigma=sigma, theta=theta)
    P = sla.solve_discrete_lyapunov(F, Q)
    K = lagged_sum(F, P, every)
    D = F.shape[0]
    var = np.empty((n, n))
    for a in range(n):
        for b in range(n):
            ab, ba = a * D + b, b * D + a
            var[a, b] = 2 * K[ab, ab] + 2 * K[ab, ba] - (P[a, a] * P[b, b] + P[a, b] ** 2)
    return P[:n, :n], var


def score_theory(A, pre, post, *, sigma, theta=0.0, every):
    """Mean and ``n_samples * Cov`` of the uncentred trace estimates of ``pre -> post``.

    ``s_e = |w_e| mean_t (b_e . z_t)^2`` with ``b_e = e_post - sgn e_pre``; Isserlis gives
    ``Cov(d_e(t)^2, d_f(t')^2) = 2 (b_e Gamma(t'-t) b_f)^2`` and summing over lags
    ``n Cov(s_e, s_f) = 2 |w_e| |w_f| (K_ef + K_fe - (b_e P b_f)^2)``.
    """
    F, Q, n = euler_chain(A, sigma=sigma, theta=theta)
    P = sla.solve_discrete_lyapunov(F, Q)
    D = F.shape[0]
    w = A[post, pre]
    B = np.zeros((D, pre.size))
    B[post, np.arange(pre.size)] = 1.0
    B[pre, np.arange(pre.size)] -= np.sign(w)
    V = np.einsum("ie,je->ije", B, B).reshape(D * D, -1)  # columns b_e (x) b_e
    G = np.linalg.matrix_power(F, every)
    KV = np.linalg.solve(np.eye(D * D) - np.kron(G, G), np.kron(P, P) @ V)
    Kmat = V.T @ KV
    BPB = B.T @ P @ B
    aw = np.abs(w)
    mean = aw * np.diag(BPB)
    cov = 2 * np.outer(aw, aw) * (Kmat + Kmat.T - BPB**2)
    return mean, cov


def trace_relative_error(T, tau_c):
    """Relative error of ``trace / T``: ``2 sqrt(tau_c / T)`` (RateNetwork.sleep, Notes).

    ``Var(d^2) = 2 Var(d)^2`` for Gaussian ``d``, and a window ``T`` holds ``T / (2 tau_c)``
    independent looks at ``d^2`` (``tau_c``: its correlation time, same units as ``T``).
    White noise, symmetric ``A``: ``d``'s autocorrelation is a positive mixture of the
    modes' ``exp(lambda_k u)``, so ``tau_c <= tau / (2 |alpha|)`` for the spectral
    abscissa ``alpha`` (sampling every ``trace_dt = tau / 10`` adds ~0.3 %, neglected).
    """
    return 2 * np.sqrt(tau_c / T)


def expected_correlation(true, rel_err):
    """Expected ``corrcoef(estimate, true)`` for estimates ``true (1 + eps)``.

    ``eps`` unbiased with standard deviation ``rel_err`` (scalar or per entry):
    ``sqrt(Var(true) / (Var(true) + mean((rel_err true)^2)))`` to leading order. The
    spread of the true scores sets how small the relative errors must be: the closer
    the scores, the longer the sleep needed for a given correlation.
    """
    true = np.asarray(true, dtype=np.float64)
    return float(np.sqrt(true.var() / (true.var() + np.mean((rel_err * true) ** 2))))


def correlation_below(threshold, true, mean, cov, rng=0, draws=20_000):
    """Probability that ``corrcoef(estimate, true) < threshold`` for Gaussian estimates
    ``N(mean, cov)`` (the exact limit of the traces; Monte Carlo, fixed seed)."""
    lam, V = np.linalg.eigh(cov)
    g = np.random.default_rng(rng).standard_normal((draws, lam.size))
    est = mean + (g * np.sqrt(np.clip(lam, 0.0, None))) @ V.T
    est = est - est.mean(axis=1, keepdims=True)
    t = true - true.mean()
    corr = est @ t / np.sqrt(np.sum(est**2, axis=1) * np.sum(t**2))
    return float(np.mean(corr < threshold))


def euler_bias_bound(A, h=H):
    """Largest relative Euler-Maruyama bias of any score of a symmetric ``A``.

    The chain's stationary variance of a mode ``lambda`` is ``sigma^2 / (2 |lambda| (1 -
    h |lambda| / 2))``: its continuous value times ``1 / (1 - h |lambda| / 2)``. A score
    ``|a| b^T C b`` is a positive mixture of the modes' variances, so its relative bias
    lies in ``[0, 1 / (1 - h rho / 2) - 1]`` with ``rho = max |lambda|``.
    """
    rho = float(np.max(np.abs(np.linalg.eigvalsh(A))))
    return 1 / (1 - h * rho / 2) - 1


def squared_error_quantiles(cov, qs, rng=0, draws=200_000):
    """Quantiles of ``||z||^2`` for ``z ~ N(0, cov)`` (Monte Carlo, fixed seed)."""
    lam = np.clip(np.linalg.eigvalsh(cov), 0.0, None)
    g = np.random.default_rng(rng).standard_normal((draws, lam.size))
    return np.quantile(g**2 @ lam, qs)


# ------------------------------------------------------------------ the model itself


@pytest.mark.parametrize("relu", [False, True])
def test_wake_matches_numpy_reference_deterministically(relu):
    """Brian2's model is DESIGN's dynamics: same Euler steps as dynamics.simulate."""
    A = small_symmetric()
    n = A.shape[0]
    gen = np.random.default_rng(4)
    x0 = gen.uniform(-1, 1, n)
    u = gen.normal(0, 1, (200, n))
    net = RateNetwork.from_matrix(
        A, tau=TAU, dt=DT, target="numpy", rng=0, x0=x0, nonlinearity="relu" if relu else None
    )
    rec = net.wake(200 * DT, inputs=u, noise=False)
    ref = simulate(
        A,
        duration=200 * H,
        dt=H,
        sigma=0.0,
        x0=x0,
        inputs=u,
        nonlinearity="relu" if relu else None,
    )
    expected = ref.x[0, :200]
    if relu:
        expected = np.maximum(expected, 0.0)
    # Same arithmetic up to the order of the recurrent sum: round-off only.
    np.testing.assert_allclose(rec.rates, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(rec.t / second), np.arange(200) * float(DT))


def test_noise_free_wake_after_ou_sleep_is_deterministic():
    """noise=False with OU noise: the OU current left by a sleep must not drive x."""
    A = small_symmetric()
    n = A.shape[0]
    net = RateNetwork.from_matrix(
        A, tau=TAU, sigma=1.0, noise_tau=0.5 * TAU, dt=DT, target="numpy", rng=2
    )
    net.sleep(0.1 * second, decide=False)
    eta = net.neurons.variables["eta"].get_value().copy()
    assert np.abs(eta).max() > 0.5  # stationary sd sigma / sqrt(2 theta) = 1
    x0 = net.state
    u = np.random.default_rng(4).normal(0, 1, (200, n))
    rec = net.wake(200 * DT, inputs=u, noise=False)
    ref = simulate(net.matrix, duration=200 * H, dt=H, sigma=0.0, x0=x0, inputs=u)
    np.testing.assert_allclose(rec.rates, ref.x[0, :200], rtol=1e-10, atol=1e-12)
    # The noise was paused, not reset: the next noisy epoch continues from the same eta.
    np.testing.assert_array_equal(net.neurons.variables["eta"].get_value(), eta)


def test_constant_input_moves_the_fixed_point():
    A = small_symmetric()
    u = np.linspace(0.5, 1.5, A.shape[0])
    net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=0)
    rec = net.wake(0.5 * second, inputs=u, noise=False, record_dt=1 * ms)
    # 50 tau at a spectral abscissa <= -1: the transient is below e^-50.
    np.testing.assert_allclose(rec.rates[-1], -np.linalg.solve(A, u), rtol=1e-9)
    assert np.all(net._G.variables["I_ext"].get_value() == 0)  # inputs off afterwards


def test_timedarray_input_and_record_subset():
    A = small_symmetric()
    n = A.shape[0]
    u = np.random.default_rng(1).normal(size=(100, n))
    ta = TimedArray(u, dt=DT)
    a = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=0)
    b = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=0)
    ra = a.wake(100 * DT, inputs=ta, record=[0, 3])
    rb = b.wake(100 * DT, inputs=u, input_dt=DT)
    assert ra.rates.shape == (100, 2)
    np.testing.assert_array_equal(ra.rates, rb.rates[:, [0, 3]])
    assert ra.seed == rb.seed


@pytest.mark.parametrize("theta", [0.0, 0.5])
def test_empirical_covariance_matches_noise_covariance(theta):
    """White and OU: Brian2's covariance = exact Euler P (tight), = C up to the Euler bias."""
    A = small_symmetric(3, rng=5)
    sigma = 0.8
    every = 2  # record every trace_dt = 1 ms = 2 steps
    net = RateNetwork.from_matrix(
        A, tau=TAU, sigma=sigma, noise_tau=theta * TAU, dt=DT, target="numpy", rng=11
    )
    rec = net.wake(30 * second, record_dt=every * DT)
    burn = 400  # 0.4 s = 40 tau >> the slowest relaxation time tau / |alpha| <= tau
    X = rec.rates[burn:]
    C_hat = np.cov(X.T)
    P, nvar = covariance_theory(A, sigma=sigma, theta=theta, every=every)
    se = np.sqrt(nvar / X.shape[0])
    # 21 distinct entries; |z| <= 4.5 fails with probability ~21 * 6.8e-6 (normal limit).
    z = (C_hat - P) / se
    assert np.max(np.abs(z)) <= 4.5, np.round(z, 2)
    # DESIGN's C: the same statistical tolerance plus the deterministic Euler bias, which
    # is first order, |P - C| <= h rho(A) |C| (relative bias ~ h |lambda| / 2 per mode).
    C = noise_covariance(A, sigma=sigma, noise_tau=theta)
    bias = np.abs(P - C)
    rho = np.max(np.abs(np.linalg.eigvalsh(A)))
    assert bias.max() <= H * rho * np.abs(C).max()
    assert np.all(np.abs(C_hat - C) <= 4.5 * se + bias)
    # A wrong noise normalisation (sigma sqrt(2/tau)) would double every entry: far out.
    assert np.max(np.abs(C_hat - 2 * C) / se) > 20


# ------------------------------------------------------------------ traces and scores


@pytest.mark.parametrize("network", ["excitatory", "signed"])
def test_trace_scores_converge_like_one_over_sqrt_T(network):
    A = small_symmetric() if network == "excitatory" else signed_network()
    sigma = 1.0
    m = offdiag_mask(A)
    inhibitory = m & (A < 0)
    assert inhibitory.any() == (network == "signed")
    # DESIGN's continuous scores, with the sign rule written out: +2 C_ij for inhibitory
    # synapses. The wrong-sign formula (-2 C_ij for every synapse) is the alternative the
    # signed network must tell apart.
    C = noise_covariance(A, sigma=sigma)
    cii = np.diag(C)[:, None] + np.diag(C)[None, :]
    exact = synapse_scores(A, sigma=sigma)
    np.testing.assert_allclose(exact[m], (np.abs(A) * (cii - 2 * np.sign(A) * C))[m], rtol=1e-12)
    wrong = np.abs(A) * (cii - 2 * C)
    net = RateNetwork.from_matrix(A, tau=TAU, sigma=sigma, dt=DT, target="numpy", rng=21)
    every = int(round(float(net.trace_dt / DT)))
    assert every == 2 and not net.centered
    errors, spectra = {}, {}
    for T in (2, 32):
        rep = net.sleep(T * second + 50 * ms, burn_in=50 * ms, decide=False)
        assert float(rep.measured) == pytest.approx(T)
        assert rep.n_samples == round(T * second / net.trace_dt)
        mean, ncov = score_theory(A, rep.pre, rep.post, sigma=sigma, every=every)
        err2 = float(np.sum((rep.scores - mean) ** 2))
        # Exact distribution of the squared error at this T (Monte Carlo of its Gaussian
        # limit): the error is the predicted statistical error, with no bias floor.
        lo, hi = squared_error_quantiles(ncov / rep.n_samples, [0.0005, 0.9995])
        assert lo <= err2 <= hi, (T, lo, err2, hi)
        hi_err2 = hi
        errors[T] = np.sqrt(err2)
        spectra[T] = np.clip(np.linalg.eigvalsh(ncov / rep.n_samples), 0.0, None)
        est = rep.score_matrix()
    # 16x longer: the error shrinks ~4x. The ratio of the two independent errors has a
    # known distribution (the two Gaussian limits): its central 99.9% must hold it.
    g = np.random.default_rng(1).standard_normal((2, 200_000, spectra[2].size))
    ratio = np.sqrt((g[0] ** 2 @ spectra[2]) / (g[1] ** 2 @ spectra[32]))
    assert np.median(ratio) == pytest.approx(4.0, rel=0.1)  # 1/sqrt(T) in the theory
    lo, hi = np.quantile(ratio, [0.0005, 0.9995])
    assert lo <= errors[2] / errors[32] <= hi
    if network == "signed":
        # The same test at T = 32 against the chain's wrong-sign means rejects them (the
        # squared error is ~75x its 99.95 % quantile).
        P = sla.solve_discrete_lyapunov(*euler_chain(A, sigma=sigma)[:2])
        post, pre = rep.post, rep.pre
        mean_wrong = np.abs(A[post, pre]) * (P[post, post] + P[pre, pre] - 2 * P[post, pre])
        assert np.sum((rep.scores - mean_wrong) ** 2) > hi_err2
    # The spec: "correlation >= 0.95 after a long enough sleep". Long enough: at
    # T = 3200 tau each trace is off by ~2 sqrt(tau_c / T) <= 2.5 % (tau_c <= tau / 2,
    # alpha <= -1), which for these scores (coefficient of variation ~0.2) predicts a
    # correlation >= 0.99; the Euler bias below (a smooth 5-11 % inflation) costs < 0.002.
    alpha = float(np.max(np.linalg.eigvalsh(A)))
    r = trace_relative_error(32.0, float(TAU) / (2 * abs(alpha)))
    assert expected_correlation(exact[m], r) >= 0.99
    assert np.corrcoef(est[m], exact[m])[0, 1] >= 0.95
    # The long-run estimate sits within the Euler bias of DESIGN's scores: each chain
    # mean is DESIGN's score inflated by 0..b (b from 1 / (1 - h |lambda| / 2)), and each
    # estimate is within 4 statistical errors (r each) of its mean.
    b = euler_bias_bound(A)
    inflation = mean / exact[rep.post, rep.pre] - 1
    assert np.all(inflation >= 0) and np.all(inflation <= b)

    def within_bias(rel):
        return (rel >= -4 * r) & (rel <= b + 4 * r)

    rel = est[m] / exact[m] - 1
    assert np.all(within_bias(rel)), (rel, b, r)
    if network == "signed":
        # Against the wrong-sign formula every inhibitory estimate is out of that band
        # (16-30 % below it), and the spec's correlation fails too (0.76).
        assert not np.any(within_bias(est[inhibitory] / wrong[inhibitory] - 1))
        assert np.corrcoef(est[m], wrong[m])[0, 1] < 0.95


def test_ou_trace_scores_match_ou_synapse_scores():
    A = small_symmetric(3, rng=5)
    theta = 0.5
    net = RateNetwork.from_matrix(
        A, tau=TAU, sigma=1.0, noise_tau=theta * TAU, dt=DT, target="numpy", rng=8
    )
    rep = net.sleep(32 * second, decide=False)
    mean, ncov = score_theory(A, rep.pre, rep.post, sigma=1.0, theta=theta, every=2)
    err2 = float(np.sum((rep.scores - mean) ** 2))
    lo, hi = squared_error_quantiles(ncov / rep.n_samples, [0.0005, 0.9995])
    assert lo <= err2 <= hi
    exact = synapse_scores(A, sigma=1.0, noise_tau=theta)
    m = offdiag_mask(A)
    # The spec: "correlation >= 0.95 after a long enough sleep". OU noise makes
    # d^2 slower (tau_c = 0.92 tau for the slowest mode, lambda = -1, theta = 0.5, against
    # tau / 2 under white noise) and these scores are close together (coefficient of
    # variation 0.16, pairs identical), so this needs T ~ 3200 tau: each trace is then off
    # by ~2 sqrt(tau_c / T) = 3.4 % (exact chain: 2.7 %) and the exact Gaussian limit of
    # the estimates puts the correlation below 0.95 with probability ~1e-3 (~4 % at
    # T = 16 s, which is why the sleep is 32 s).
    true = exact[rep.post, rep.pre]
    assert correlation_below(0.95, true, mean, ncov / rep.n_samples) <= 2e-3
    assert np.corrcoef(rep.score_matrix()[m], exact[m])[0, 1] >= 0.95
    # White-noise scores of the same network differ: the OU scores are the right target.
    white = synapse_scores(A, sigma=1.0)
    assert (
        np.abs(rep.score_matrix()[m] - exact[m]).sum()
        < np.abs(rep.score_matrix()[m] - white[m]).sum()
    )


def test_centred_estimator_is_the_sample_variance():
    """The mean correction gives exactly |w| * (1/n) sum ((d - mean d)^2)."""
    gen = np.random.default_rng(0)
    n, steps, dts = 5, 400, 1e-3
    r = 3.0 + gen.normal(size=(steps, n)).cumsum(axis=0) * 0.01  # large mean, drifting
    pre, post = np.array([0, 1, 3, 4]), np.array([2, 2, 0, 1])
    w = np.array([0.5, -1.5, 2.0, -0.1])
    sgn = np.sign(w)
    d = r[:, post] - sgn * r[:, pre]
    trace = dts * np.abs(w) * (d**2).sum(axis=0)
    s = estimate_scores(
        trace, w, sgn, pre, post, measured=steps * dts, sums=r.sum(axis=0), n_samples=steps
    )
    np.testing.assert_allclose(s, np.abs(w) * d.var(axis=0), rtol=1e-9)


# ------------------------------------------------------------------ decisions


def check_decisions(net, rep, after_table, leak_before):
    """Exact bookkeeping of one epoch: weights / p, matched leaks, matrix = table."""
    pre, post, w_after, state_after = after_table
    key_after = post * net.n + pre
    key_before = rep.post * net.n + rep.pre
    kept = rep.kept
    # Stable weights are exactly the old weights divided by p.
    pos = np.searchsorted(key_after, key_before[kept])
    assert np.all(key_after[pos] == key_before[kept])
    np.testing.assert_array_equal(w_after[pos], rep.weights[kept] / rep.probabilities[kept])
    assert np.all(state_after[pos] == STABLE)
    # Compacted: exactly the survivors remain.
    assert net.n_synapses == int(kept.sum()) + int(np.sum(~rep.candidate))
    # Each leak changed by exactly the change of the neuron's total absolute input.
    abs_before = np.bincount(rep.post, np.abs(rep.weights), minlength=net.n)
    abs_after = np.bincount(post, np.abs(w_after), minlength=net.n)
    np.testing.assert_allclose(
        net.leak - leak_before, abs_after - abs_before, rtol=0, atol=1e-12 * abs_before.max()
    )
    np.testing.assert_allclose(
        rep.leak_change, abs_after - abs_before, rtol=0, atol=1e-12 * abs_before.max()
    )
    # net.matrix is the synapse table plus the leaks.
    M = np.zeros((net.n, net.n))
    M[post, pre] = w_after
    M[np.diag_indices(net.n)] = -net.leak
    np.testing.assert_array_equal(net.matrix, M)


@pytest.mark.parametrize("symmetric", [True, False])
def test_density_decisions(symmetric):
    A = medium(symmetric)
    net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=5)
    leak_before = net.leak
    density = 0.4
    rep = net.sleep(2 * second, density=density)
    assert isinstance(rep, SleepReport) and rep.decided and rep.symmetric == symmetric
    after = net.synapse_states()
    check_decisions(net, rep, after, leak_before)
    # One decision per unit (unordered pair when symmetric).
    units = rep.pre < rep.post if symmetric else np.ones(rep.pre.size, dtype=bool)
    p = rep.probabilities[units]
    n_units = int(units.sum())
    # k is solved so that the expected kept number is exactly density * units.
    assert p.sum() == pytest.approx(density * n_units, rel=1e-9)
    # Kept units ~ Poisson-binomial(p): |kept - sum p| <= 4 sd (two-sided 6e-5).
    kept_units = int(rep.kept[units].sum())
    assert abs(kept_units - p.sum()) <= 4 * np.sqrt(np.sum(p * (1 - p)))
    assert rep.counts_after == {"LABILE": 0, "STABLE": int(rep.kept.sum()), "PRUNED": 0}
    if symmetric:
        np.testing.assert_array_equal(net.matrix, net.matrix.T)
        partner = partner_index(rep.pre, rep.post, net.n)
        np.testing.assert_array_equal(rep.kept, rep.kept[partner])


def test_k_given_and_no_candidates_afterwards():
    A = small_symmetric()
    net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=6)
    rep = net.sleep(1 * second, k=2.0)
    assert rep.k == 2.0
    cand = rep.candidate
    np.testing.assert_allclose(
        rep.probabilities[cand], np.minimum(1, 2.0 * rep.scores[cand]), rtol=1e-12
    )
    # Everything is STABLE now: a second sleep asked to decide has nothing to decide. It
    # says so, naming the way out (relabile), before simulating anything; it changes
    # nothing, not even the generator (a later epoch is what it would have been).
    assert rep.counts_after["LABILE"] == 0
    M, t0, state = net.matrix, float(net.t), net._gen.bit_generator.state
    with pytest.raises(ValueError, match=r"nothing to decide: no synapse is LABILE.*relabile="):
        net.sleep(0.2 * second, k=2.0)
    with pytest.raises(ValueError, match=r"relabile=0.0 made none of the \d+ STABLE"):
        net.sleep(0.2 * second, density=0.5)
    np.testing.assert_array_equal(net.matrix, M)
    assert float(net.t) == t0 and net._gen.bit_generator.state == state
    assert len(net.reports) == 1
    # Measuring is still allowed.
    assert not net.sleep(0.2 * second, k=2.0, decide=False).decided


def test_sleep_cycles_with_relabile():
    A = medium()
    net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=9)
    first = net.sleep(1 * second, density=0.5)
    stable = first.counts_after["STABLE"]
    leak_before = net.leak
    second_rep = net.sleep(1 * second, density=0.5, relabile=1.0)
    # relabile=1: every survivor is a candidate again, and the cycle probes the network
    # as it now is (the weights during the measurement are the rescaled ones).
    assert second_rep.n_relabile == stable == second_rep.n_candidates
    np.testing.assert_array_equal(
        np.sort(second_rep.weights),
        np.sort(first.weights[first.kept] / first.probabilities[first.kept]),
    )
    check_decisions(net, second_rep, net.synapse_states(), leak_before)
    assert net.n_synapses < stable
    # The network stays symmetric through the cycles.
    np.testing.assert_array_equal(net.matrix, net.matrix.T)


def test_decide_false_only_measures():
    A = small_symmetric()
    net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=1)
    M = net.matrix
    rep = net.sleep(0.5 * second, decide=False, density=0.5)
    np.testing.assert_array_equal(net.matrix, M)
    assert not rep.decided and not rep.kept.any()
    # The probabilities that would have been used are still reported.
    assert np.sum(rep.probabilities[rep.pre < rep.post]) == pytest.approx(
        0.5 * np.sum(rep.pre < rep.post), rel=1e-9
    )
    assert np.isnan(rep.kept_fraction)


# ------------------------------------------------------------------ against the offline rule


def test_online_spectrum_comparable_to_offline_noise_prune():
    A = clustered(
        [12, 12], p_in=0.8, p_out=0.1, n_strong=1, w_in=0.2, w_out=0.5, strong_factor=5, rng=7
    )
    density = 0.3
    # dt = 0.25 ms: (dt / tau) max|lambda| = 0.16 (the strong pairs make this one stiff).
    net = RateNetwork.from_matrix(A, tau=TAU, dt=DT / 2, target="numpy", rng=3)
    rep = net.sleep(10 * second, density=density)
    # The online probabilities estimate the exact ones.
    exact = noise_prune(A, density=density, rng=0)
    m = rep.pre < rep.post
    p_exact = exact.probabilities[rep.post[m], rep.pre[m]]
    # The spec: "correlation >= 0.95 after a long enough sleep". Long enough:
    # T = 995 tau, so each trace, and with it each unclipped p = k s, is off by
    # ~2 sqrt(tau_c / T) <= 4.5 % (tau_c <= tau / 2, alpha = -1; the common error of the
    # solved k does not change a correlation), which for these spread-out probabilities
    # (coefficient of variation ~0.5) predicts a correlation >= 0.99.
    alpha = float(np.max(np.linalg.eigvalsh(A)))
    r = trace_relative_error(float(rep.measured), float(TAU) / (2 * abs(alpha)))
    assert expected_correlation(p_exact, r * (p_exact < 1)) >= 0.99
    assert np.corrcoef(rep.probabilities[m], p_exact)[0, 1] >= 0.95
    # Tolerance from 400 offline draws at the same density (noise_prune's exact
    # probabilities, sampled 400 times): the online metrics fall in the central 99% of
    # the offline distribution.
    metrics = np.array(
        [spectral_metrics(A, sparsify(A, exact.probabilities, rng=s)) for s in range(400)]
    )
    lo, hi = np.quantile(metrics, [0.005, 0.995], axis=0)
    got = spectral_metrics(A, net.matrix)
    assert np.all(got >= lo) and np.all(got <= hi), (lo, got, hi)


def spectral_metrics(A, B):
    """Mean, median and max relative eigenvalue error (smooth summaries; the slowest
    modes alone jump whenever a sample isolates a neuron, at this density)."""
    err = compare_spectra(A, B).relative_errors
    return np.array([err.mean(), np.median(err), err.max()])


def test_rectified_network_keeps_operating_point_and_linearisation():
    A = clustered(
        [8, 8], p_in=0.8, p_out=0.15, n_strong=1, w_in=0.3, w_out=0.5, strong_factor=4, rng=4
    )
    n = A.shape[0]
    b = np.random.default_rng(0).uniform(1.0, 2.0, n)
    x_star = -np.linalg.solve(A, b)  # -A is an M-matrix: x* > 0 for b > 0
    assert x_star.min() > 0.5
    sigma, density = 0.1, 0.5  # stationary sd <= sigma / sqrt(2) ~ 0.07: never near 0
    # dt = 0.25 ms: (dt / tau) max|lambda| = 0.15.
    net = RateNetwork.from_matrix(
        A, tau=TAU, sigma=sigma, dt=DT / 2, target="numpy", rng=12, bias=b, nonlinearity="relu"
    )
    assert net.centered
    rep = net.sleep(10 * second, density=density)
    # Centred traces estimate the scores of the linearisation (J = A: all units active).
    m = rep.pre < rep.post
    exact = synapse_scores(A, sigma=sigma)[rep.post[m], rep.pre[m]]
    # The spec: "correlation >= 0.95 after a long enough sleep". Long enough:
    # T = 995 tau, so each (centred) trace is off by ~2 sqrt(tau_c / T) <= 4.5 %
    # (tau_c <= tau / 2, alpha = -1), which for these scores (coefficient of variation
    # ~0.4) predicts a correlation >= 0.99.
    alpha = float(np.max(np.linalg.eigvalsh(A)))
    r = trace_relative_error(float(rep.measured), float(TAU) / (2 * abs(alpha)))
    assert expected_correlation(exact, r) >= 0.99
    assert np.corrcoef(rep.scores[m], exact)[0, 1] >= 0.95
    B = net.matrix
    x_new = -np.linalg.solve(B, b)
    assert x_new.min() > 0  # still all active: x_new is the rectified fixed point
    # Brian2 settles exactly there (Euler keeps fixed points): 40 tau, abscissa ~ -1.
    rec = net.wake(0.4 * second, noise=False, record_dt=1 * ms)
    np.testing.assert_allclose(rec.rates[-1], x_new, rtol=1e-8)
    # Tolerances from 400 offline draws of noise_prune at the same density (its exact
    # probabilities, computed once, and 400 samples of them).
    op_err = np.linalg.norm(x_new - x_star) / np.linalg.norm(x_star)
    P = noise_prune(A, density=density, sigma=sigma, rng=0).probabilities
    offline = np.array(
        [
            [np.linalg.norm(-np.linalg.solve(Bs, b) - x_star) / np.linalg.norm(x_star)]
            + list(spectral_metrics(A, Bs))
            for Bs in (sparsify(A, P, rng=s) for s in range(400))
        ]
    )
    hi = np.quantile(offline, 0.995, axis=0)
    got = np.array([op_err, *spectral_metrics(A, B)])
    assert np.all(got <= hi), (got, hi)


# ------------------------------------------------------------------ compaction, reproducibility


def test_compaction_same_trajectory_and_count():
    A = small_symmetric()
    u = np.random.default_rng(3).normal(size=(400, A.shape[0]))
    out = {}
    for compact in (True, False):
        net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=5)
        rep = net.sleep(1 * second, density=0.3, compact=compact)
        states = net.synapse_states()
        if compact:
            assert net.n_synapses == int(rep.kept.sum()) == rep.counts_after["STABLE"]
            assert not np.any(states.state == PRUNED)
        else:
            assert net.n_synapses == rep.pre.size
            assert np.all(states.weight[states.state == PRUNED] == 0)
            assert rep.counts_after["PRUNED"] == int((~rep.kept).sum())
        out[compact] = (net.matrix, net.wake(0.2 * second, inputs=u))
    np.testing.assert_array_equal(out[True][0], out[False][0])
    # Same noise, same synapses: the same trajectory (zero-weight terms add exact zeros).
    np.testing.assert_array_equal(out[True][1].rates, out[False][1].rates)


def test_explicit_compact_and_nothing_survives():
    A = small_symmetric()
    net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=5)
    net.sleep(0.5 * second, density=0.3, compact=False)
    pruned = int(np.sum(net.synapse_states().state == PRUNED))
    assert net.compact() == pruned and net.compact() == 0
    empty = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=5)
    rep = empty.sleep(0.2 * second, k=1e-12)  # p ~ 1e-12: everything is pruned
    assert empty.n_synapses == 0 and rep.counts_after == {"LABILE": 0, "STABLE": 0, "PRUNED": 0}
    # Leaks absorbed all of the input: the diagonal is -(margin 1) as built.
    np.testing.assert_allclose(empty.matrix, -np.eye(A.shape[0]), atol=1e-12)
    rec = empty.wake(10 * ms, noise=False)  # still runs (no summed input left)
    assert rec.rates.shape == (20, A.shape[0])
    with pytest.raises(ValueError, match="no LABILE or STABLE synapse left"):
        empty.sleep(0.1 * second, density=0.5, relabile=1.0)
    assert empty.sleep(0.1 * second, decide=False).n_candidates == 0


def test_same_rng_same_states_bit_for_bit():
    A = medium(symmetric=False, rng=1)
    runs = []
    for rng in (17, 17, np.random.default_rng(17), 18):
        net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=rng)
        rep = net.sleep(0.5 * second, density=0.5)
        runs.append((net.seed, rep.scores, net.synapse_states(), net.matrix))
    assert runs[0][0] == runs[1][0] == 17
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    for a, b in zip(runs[0][2], runs[1][2], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(runs[0][3], runs[1][3])
    # A Generator is recorded through the seed drawn from it; another seed differs.
    replay = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=runs[2][0])
    np.testing.assert_array_equal(replay.sleep(0.5 * second, density=0.5).scores, runs[2][1])
    assert not np.array_equal(runs[0][1], runs[3][1])


def test_global_numpy_random_state_untouched():
    A = small_symmetric()
    net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=0)
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    net.sleep(0.1 * second, decide=False)
    net.wake(10 * ms)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002


def test_two_networks_coexist():
    A = small_symmetric()
    a = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=1)
    b = RateNetwork.from_matrix(small_symmetric(rng=8), tau=TAU, dt=DT, target="numpy", rng=1)
    ra = a.sleep(0.2 * second, decide=False)
    b.sleep(0.2 * second, decide=False)
    rc = a.sleep(0.2 * second, decide=False)
    assert ra.pre.size == rc.pre.size and a.network is not b.network
    assert float(a.t) == pytest.approx(0.4)


# ------------------------------------------------------------------ progress, logging, repr


def test_report_hook_covers_the_whole_epoch(caplog):
    A = small_symmetric()
    net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=0)
    calls = []
    with caplog.at_level(logging.INFO, logger="plasticsim.online"):
        net.sleep(
            0.3 * second, decide=False, report=lambda *a: calls.append(a), report_period=1 * ms
        )
    completed = [c[1] for c in calls]
    assert completed[0] == 0.0 and completed[-1] == pytest.approx(1.0)
    assert all(np.diff(completed) >= 0)
    assert all(c[3] == calls[0][3] for c in calls)  # one duration: the whole epoch
    assert any("sleep:" in r.getMessage() for r in caplog.records)
    assert "RateNetwork(n=8" in repr(net) and "SleepReport(" in repr(net.reports[0])


def test_states_are_intenum():
    assert (LABILE, STABLE, PRUNED) == (0, 1, 2)
    assert SynapseState(2) is PRUNED


# ------------------------------------------------------------------ bad input


def _good():
    return small_symmetric()


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"A": "A"}, TypeError, "A must be a real 2-D array"),
        ({"A": np.zeros((2, 3))}, ValueError, "must be square"),
        ({"A": np.array([[-1.0, np.nan], [0.0, -1.0]])}, ValueError, "non-finite"),
        ({"A": np.array([[-1.0, 0.5], [0.5, 0.0]])}, ValueError, r"A\[1, 1\] == 0.0"),
        ({"A": np.array([[-1.0, 2.0], [2.0, -1.0]])}, ValueError, "not stable"),
        ({"tau": 0.01}, TypeError, "tau must be a Brian2 time"),
        ({"tau": 10 * second / second}, TypeError, "tau must be a Brian2 time"),
        ({"tau": 0 * ms}, ValueError, "tau == .* must be > 0"),
        ({"tau": [1, 2] * ms}, ValueError, "tau must be a scalar"),
        ({"sigma": 0.0}, ValueError, "sigma == 0.0, must be > 0"),
        ({"sigma": "1"}, TypeError, "sigma must be a real number"),
        ({"noise_tau": -1 * ms}, ValueError, "noise_tau == .* must be >= 0"),
        ({"noise_tau": 0.1 * ms, "dt": 0.5 * ms}, ValueError, "dt == .* too large"),
        ({"dt": 25 * ms}, ValueError, r"dt == .* too large.*\|1 \+ \(dt/tau\) lambda\|"),
        ({"dt": 1.0}, TypeError, "dt must be a Brian2 time"),
        ({"nonlinearity": "tanh"}, ValueError, "nonlinearity == 'tanh'"),
        ({"target": "cpp"}, ValueError, "target == 'cpp'"),
        ({"rng": -1}, ValueError, "rng == -1"),
        ({"rng": 1.5}, TypeError, "rng must be None"),
        ({"bias": np.ones(3)}, ValueError, r"bias has shape \(3,\)"),
        ({"bias": np.inf}, ValueError, "bias.* must be finite"),
        ({"x0": "zero"}, TypeError, "x0 must be a real scalar or array"),
        ({"trace_dt": 0.75 * ms}, ValueError, "trace_dt == .* multiple of dt"),
        ({"center": "yes"}, ValueError, "center == 'yes'"),
        ({"center": 1}, TypeError, "center must be 'auto', True or False"),
        ({"name": "has space"}, ValueError, "name == 'has space'"),
    ],
)
def test_from_matrix_rejects(kwargs, exc, match):
    kwargs = dict(kwargs)
    A = kwargs.pop("A", _good())
    kwargs.setdefault("dt", DT)
    kwargs.setdefault("target", "numpy")
    # A Generator passed with bad input is not advanced: rng is checked (drawn from) last.
    gen = np.random.default_rng(0)
    kwargs.setdefault("rng", gen)
    state = gen.bit_generator.state
    with pytest.raises(exc, match=match):
        RateNetwork.from_matrix(A, **kwargs)
    assert gen.bit_generator.state == state


def test_direct_construction_refused():
    with pytest.raises(TypeError, match="from_matrix"):
        RateNetwork()


@pytest.fixture(scope="module")
def tiny_net():
    return RateNetwork.from_matrix(_good(), tau=TAU, dt=DT, target="numpy", rng=0)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"duration": 1.0}, TypeError, "duration must be a Brian2 time"),
        ({"duration": -1 * second}, ValueError, "duration == .* must be > 0"),
        (
            {"duration": 50 * ms, "burn_in": 50 * ms, "density": 0.5},
            ValueError,
            "leaves no measurement",
        ),
        ({"burn_in": -1 * ms}, ValueError, "burn_in == .* must be >= 0"),
        ({}, ValueError, "decide=True needs k or density"),
        ({"k": 1.0, "density": 0.5}, ValueError, "at most one of k and density"),
        ({"k": 0.0}, ValueError, "k == 0.0, must be > 0"),
        ({"density": 1.5}, ValueError, r"density == 1.5, must be in \(0, 1\]"),
        ({"density": 0.5, "relabile": 2.0}, ValueError, r"relabile == 2.0, must be in \[0, 1\]"),
        ({"density": 0.5, "relabile": True}, TypeError, "relabile must be a real number"),
        ({"decide": "yes"}, TypeError, "decide must be True or False"),
        ({"density": 0.5, "compact": 1}, TypeError, "compact must be True or False"),
        ({"density": 0.5, "symmetric": "sym"}, ValueError, "symmetric == 'sym'"),
        ({"density": 0.5, "symmetric": 1}, TypeError, "symmetric must be 'auto'"),
        ({"density": 0.5, "report": "html"}, ValueError, "report == 'html'"),
        ({"density": 0.5, "report": 3}, TypeError, "report must be None"),
        ({"density": 0.5, "report_period": 1.0}, TypeError, "report_period must be a Brian2"),
    ],
)
def test_sleep_rejects(tiny_net, kwargs, exc, match):
    kwargs = dict(kwargs)
    duration = kwargs.pop("duration", 0.2 * second)
    t0, M = float(tiny_net.t), tiny_net.matrix
    with pytest.raises(exc, match=match):
        tiny_net.sleep(duration, **kwargs)
    assert float(tiny_net.t) == t0  # raised before simulating anything
    np.testing.assert_array_equal(tiny_net.matrix, M)


def test_sleep_symmetric_true_needs_symmetric_table():
    A = medium(symmetric=False)
    net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=0)
    with pytest.raises(ValueError, match="symmetric=True but the synapse table"):
        net.sleep(0.2 * second, density=0.5, symmetric=True)
    # symmetric=False on a symmetric network decides each direction on its own.
    sym = RateNetwork.from_matrix(_good(), tau=TAU, dt=DT, target="numpy", rng=0)
    assert not sym.sleep(0.2 * second, density=0.5, symmetric=False).symmetric


def test_symmetric_within_tolerance_is_decided_symmetrically():
    """The online rule calls A symmetric exactly when the exact core does (is_symmetric)."""
    A = small_symmetric()
    assert A[0, 1] != 0
    A[0, 1] += 1e-15  # round-off: within is_symmetric's relative 1e-12
    assert is_symmetric(A) and not np.array_equal(A, A.T)
    assert is_symmetric(noise_prune(A, density=0.5, rng=0).pruned)  # offline: symmetric
    net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=5)
    np.testing.assert_array_equal(net.matrix, (A + A.T) / 2)  # symmetrised to the bit
    rep = net.sleep(0.2 * second, density=0.5)
    assert rep.symmetric
    np.testing.assert_array_equal(net.matrix, net.matrix.T)
    # Beyond the tolerance A is taken as it is, and decided per synapse.
    B = small_symmetric()
    B[0, 1] += 1e-6
    far = RateNetwork.from_matrix(B, tau=TAU, dt=DT, target="numpy", rng=5)
    np.testing.assert_array_equal(far.matrix, B)
    assert not far.sleep(0.2 * second, density=0.5).symmetric


def test_default_burn_in_follows_the_pruned_network():
    """Pruning can slow the slowest mode: the next default burn-in is measured on it."""
    # Margins 0.1 and 10 coupled by w = 2: eigenvalues -1.71 and -12.39, so the default
    # burn-in is 5 tau. Pruning the pair leaves the leaks 0.1 and 10 (matched diagonal):
    # abscissa -0.1, relaxation time 10 tau, burn-in 50 tau.
    A = np.array([[-2.1, 2.0], [2.0, -12.0]])
    dt = 0.2 * ms  # (dt / tau) max|lambda| = 0.248 <= 0.25: no stiffness warning
    net = RateNetwork.from_matrix(A, tau=TAU, dt=dt, target="numpy", rng=0)
    first = net.sleep(0.1 * second, k=1e-12)  # p ~ 1e-12: everything is pruned
    assert float(first.burn_in) == pytest.approx(5 * float(TAU))
    np.testing.assert_allclose(net.matrix, np.diag([-0.1, -10.0]), rtol=1e-12)
    second_rep = net.sleep(0.6 * second, decide=False)
    assert float(second_rep.burn_in) == pytest.approx(50 * float(TAU))
    # Unstable after pruning (leak 0.5 - 2 < 0): the default burn-in is undefined.
    bad = RateNetwork.from_matrix(
        np.array([[-0.5, 2.0], [-2.0, -0.5]]), tau=TAU, dt=DT, target="numpy", rng=0
    )
    with pytest.warns(RuntimeWarning, match="leak <= 0"):
        bad.sleep(0.2 * second, k=1e-12)
    t0 = float(bad.t)
    with pytest.raises(ValueError, match="current matrix is not stable"):
        bad.sleep(0.2 * second, decide=False)
    assert float(bad.t) == t0


def test_stiffness_warning():
    # The paper's clustered network (strong synapses 10x) is stiff: at the default
    # dt = 0.1 ms, (dt / tau) max|lambda| ~ 0.47.
    A = clustered([10, 10], rng=0)
    with pytest.warns(RuntimeWarning, match=r"dt == 100. us is coarse.*use dt <="):
        RateNetwork.from_matrix(A, tau=TAU, target="numpy", rng=0)


def test_leak_warning_when_not_diagonally_dominant():
    # Stable (eigenvalues -0.5 +- 2i) but the leak 0.5 is below the absolute input 2:
    # pruning the synapse leaves leak 0.5 - 2 < 0, which the matched rule reports.
    A = np.array([[-0.5, 2.0], [-2.0, -0.5]])
    net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=0)
    with pytest.warns(RuntimeWarning, match=r"leak <= 0 \(first: leak\[0\] == -1.5"):
        net.sleep(0.2 * second, k=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"duration": 10}, TypeError, "duration must be a Brian2 time"),
        ({"inputs": np.ones(3)}, ValueError, r"inputs has shape \(3,\)"),
        ({"inputs": np.ones((2, 8))}, ValueError, "shorter than duration"),
        ({"inputs": np.ones((40, 8)), "input_dt": 0.7 * ms}, ValueError, "input_dt == .*"),
        ({"inputs": np.ones(8), "input_dt": DT}, ValueError, "input_dt is only used"),
        ({"input_dt": DT}, ValueError, "input_dt is only used"),
        ({"inputs": np.ones((40, 8, 1))}, ValueError, "inputs has shape"),
        ({"inputs": np.full((40, 8), np.nan)}, ValueError, "non-finite"),
        ({"inputs": np.ones(8) * ms}, TypeError, "dimensionless"),
        ({"inputs": TimedArray(np.ones((40, 3)), dt=DT)}, ValueError, "TimedArray of shape"),
        ({"inputs": TimedArray(np.ones((2, 8)), dt=DT)}, ValueError, "shorter than duration"),
        (
            {"inputs": TimedArray(np.ones((40, 8)), dt=DT), "input_dt": DT},
            ValueError,
            "must not be given with a TimedArray",
        ),
        ({"noise": 0}, TypeError, "noise must be True or False"),
        ({"record": [0, 9]}, ValueError, "record contains neuron 9"),
        ({"record": "all"}, TypeError, "record must be True, False"),
        ({"record_dt": 0.7 * ms}, ValueError, "record_dt == .* multiple of dt"),
        ({"report": object()}, TypeError, "report must be None"),
    ],
)
def test_wake_rejects(tiny_net, kwargs, exc, match):
    kwargs = dict(kwargs)
    duration = kwargs.pop("duration", 10 * ms)
    t0 = float(tiny_net.t)
    with pytest.raises(exc, match=match):
        tiny_net.wake(duration, **kwargs)
    assert float(tiny_net.t) == t0


# ------------------------------------------------------------------ cython target


@pytest.mark.cython
def test_cython_decisions_reproducible_and_compaction():
    A = small_symmetric()
    u = np.random.default_rng(3).normal(size=(100, A.shape[0]))
    runs = []
    for compact in (True, True, False):
        net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="cython", rng=5)
        leak_before = net.leak
        rep = net.sleep(1 * second, density=0.4, compact=compact)
        if compact:
            check_decisions(net, rep, net.synapse_states(), leak_before)
        runs.append((rep, net.matrix, net.wake(0.05 * second, inputs=u).rates))
    # Same rng: same states, same matrix, same trajectories, bit for bit (and compacted
    # == uncompacted under the same noise).
    np.testing.assert_array_equal(runs[0][0].scores, runs[1][0].scores)
    for other in runs[1:]:
        np.testing.assert_array_equal(runs[0][1], other[1])
        np.testing.assert_array_equal(runs[0][2], other[2])


@pytest.mark.cython
def test_cython_scores_and_covariance():
    A = small_symmetric()
    net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="cython", rng=21)
    rep = net.sleep(32 * second, decide=False)
    mean, ncov = score_theory(A, rep.pre, rep.post, sigma=1.0, every=2)
    err2 = float(np.sum((rep.scores - mean) ** 2))
    lo, hi = squared_error_quantiles(ncov / rep.n_samples, [0.0005, 0.9995])
    assert lo <= err2 <= hi
    m = offdiag_mask(A)
    exact = synapse_scores(A, sigma=1.0)
    # The spec's threshold; long enough as in test_trace_scores_converge_like_one_over_sqrt_T
    # (same network, T = 3195 tau: relative errors <= 2.5 %, predicted correlation 0.99).
    alpha = float(np.max(np.linalg.eigvalsh(A)))
    r = trace_relative_error(float(rep.measured), float(TAU) / (2 * abs(alpha)))
    assert expected_correlation(exact[m], r) >= 0.99
    assert np.corrcoef(rep.score_matrix()[m], exact[m])[0, 1] >= 0.95
    # Deterministic: the cython model takes the same Euler steps as the numpy reference.
    x0 = np.linspace(-1, 1, A.shape[0])
    det = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="cython", rng=0, x0=x0)
    rec = det.wake(100 * DT, noise=False)
    ref = simulate(A, duration=100 * H, dt=H, sigma=0.0, x0=x0)
    np.testing.assert_allclose(rec.rates, ref.x[0, :100], rtol=1e-10, atol=1e-12)


def test_logs_when_rescaled_synapses_make_dt_coarse(caplog):
    """(dt/tau) max|lambda| = 0.05 * 3.5 = 0.175 as built; a kept pair is rescaled to
    w/p = 3 with matched leaks 3.5, so max|lambda| = 6.5 and 0.05 * 6.5 = 0.325 > 0.25."""
    A = np.array([[-2.0, 1.5], [1.5, -2.0]])
    kept = pruned = 0
    for seed in range(10):
        net = RateNetwork.from_matrix(A, tau=10 * ms, dt=0.5 * ms, target="numpy", rng=seed)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="plasticsim.online"):
            report = net.sleep(300 * ms, density=0.5, burn_in=50 * ms)
        stiff = [r for r in caplog.records if "made the network faster" in r.getMessage()]
        if report.counts_after["STABLE"] == 2:
            kept += 1
            np.testing.assert_allclose(net.matrix, [[-3.5, 3.0], [3.0, -3.5]])
            assert len(stiff) == 1 and "0.325 > 0.25" in stiff[0].getMessage()
        else:
            pruned += 1
            assert stiff == []  # pruned: leak 0.5 only, nothing to report
    assert kept > 0 and pruned > 0  # both branches exercised (p = 0.5 per draw)


def test_warns_when_the_pruned_network_makes_euler_unstable():
    """h = dt/tau = 0.35. As built the eigenvalues are -0.5 and -3.5: Euler is stable
    (|1 - 0.35 * 3.5| = 0.225) but coarse (a warning, expected). A kept pair is rescaled
    (w/p = 3, leaks 3.5): eigenvalue -6.5 and |1 - 0.35 * 6.5| = 1.275 >= 1."""
    A = np.array([[-2.0, 1.5], [1.5, -2.0]])
    h = 0.35  # dt = 3.5 ms at tau = 10 ms: |1 - 0.35 * 6.5| = 1.275 >= 1 after a keep
    seen = 0
    for seed in range(10):
        with pytest.warns(RuntimeWarning, match="coarse for this network"):
            net = RateNetwork.from_matrix(
                A, tau=10 * ms, dt=h * 10 * ms, trace_dt=h * 10 * ms, target="numpy", rng=seed
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = net.sleep(35 * ms * 20, density=0.5, burn_in=35 * ms * 4)
        unstable = [w for w in caught if "Euler step is unstable" in str(w.message)]
        assert len(unstable) == (report.counts_after["STABLE"] == 2)
        seen += len(unstable)
    assert seen > 0


# ------------------------------------------------------------------ decisions, statistically
# Each test below fails when the corresponding bug is put back (checked by hand): relabile
# ignoring its probability, scores divided by the whole epoch instead of the measured
# window, OU decisions, per-synapse k-mode decisions on asymmetric networks, and the
# centring of the traces of a linear network with a bias.


def test_relabile_reopens_each_stable_unit_with_its_probability():
    """relabile = 0.3, strictly inside (0, 1): the number of STABLE pairs made LABILE
    again is Binomial(stable pairs, 0.3), and exactly those are decided."""
    A = erdos_renyi(30, 0.5, weight=0.1, rng=1)  # symmetric; (dt/tau) max|lambda| = 0.16
    net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=3)
    net.sleep(0.15 * second, burn_in=50 * ms, density=0.6)
    before = net.synapse_states()
    stable_pairs = int(np.sum((before.state == STABLE) & (before.pre < before.post)))
    assert stable_pairs > 100  # ~0.6 of 227 pairs
    q = 0.3
    rep = net.sleep(0.15 * second, burn_in=50 * ms, density=0.5, relabile=q)
    assert rep.symmetric and rep.counts_before["LABILE"] == 0
    pairs = rep.n_relabile // 2
    assert rep.n_relabile == 2 * pairs == rep.n_candidates
    # Binomial(N, q): |X - N q| <= 4 sd fails with probability 6e-5 (normal limit). The
    # bug "any relabile > 0 re-opens everything" gives X = N, 10 sd away; 1 - q, 8 sd.
    sd = np.sqrt(stable_pairs * q * (1 - q))
    assert abs(pairs - stable_pairs * q) <= 4 * sd, (pairs, stable_pairs)
    # Only STABLE synapses were re-opened, pairs together, and the others kept their
    # weights and state.
    np.testing.assert_array_equal(rep.weights, before.weight)
    assert np.all(before.state[rep.candidate] == STABLE)
    partner = partner_index(rep.pre, rep.post, net.n)
    np.testing.assert_array_equal(rep.candidate, rep.candidate[partner])
    after = net.synapse_states()
    untouched = ~rep.candidate
    key_after = after.post * net.n + after.pre
    pos = np.searchsorted(key_after, (rep.post * net.n + rep.pre)[untouched])
    np.testing.assert_array_equal(after.weight[pos], rep.weights[untouched])
    assert np.all(after.state[pos] == STABLE)


def test_nothing_to_decide_when_relabile_reopens_nothing():
    """relabile > 0 that happens to re-open nothing: the error says so, nothing changes."""
    A = np.array([[-2.0, 0.5], [0.5, -2.0]])
    net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=0)
    net.sleep(0.1 * second, burn_in=20 * ms, k=1e6)  # p = 1: the pair is kept
    assert net.synapse_states().state.tolist() == [STABLE, STABLE]
    t0, state = float(net.t), net._gen.bit_generator.state
    with pytest.raises(
        ValueError, match=r"relabile=1e-12 made 0 of the 2 STABLE synapses LABILE again"
    ):
        net.sleep(0.1 * second, k=1.0, relabile=1e-12)
    assert float(net.t) == t0 and net._gen.bit_generator.state == state


def test_scores_are_divided_by_the_measured_window_not_the_epoch():
    """Burn-in 3/4 of the epoch: trace / T with T the 1 s window matches the exact Euler
    chain's scores; dividing by the 4 s epoch would make every score 4x too small."""
    A = small_symmetric()
    net = RateNetwork.from_matrix(A, tau=TAU, sigma=1.0, dt=DT, target="numpy", rng=13)
    rep = net.sleep(4 * second, burn_in=3 * second, decide=False)
    assert float(rep.burn_in) == pytest.approx(3.0) and float(rep.measured) == pytest.approx(1.0)
    assert float(rep.duration) == pytest.approx(4.0)
    mean, ncov = score_theory(A, rep.pre, rep.post, sigma=1.0, every=2)
    err2 = float(np.sum((rep.scores - mean) ** 2))
    lo, hi = squared_error_quantiles(ncov / rep.n_samples, [0.0005, 0.9995])
    assert lo <= err2 <= hi, (lo, err2, hi)
    # The epoch-wide division is far outside (scores / 4: ~100x the 99.95 % quantile).
    assert float(np.sum((rep.scores * 0.25 - mean) ** 2)) > hi


def test_ou_decisions_follow_the_ou_scores():
    """OU noise (noise_tau = tau / 2), k given: p = min(1, k trace/T) with traces that
    match the OU chain, not the white-noise one; kept ~ Poisson-binomial(p); weights / p
    and matched leaks; the expected kept fraction matches the offline rule's under OU."""
    A = small_symmetric(rng=3)
    theta, sigma = 0.5, 1.0
    exact = synapse_scores(A, sigma=sigma, noise_tau=theta)
    m = offdiag_mask(A)
    k = 0.4 / float(np.mean(exact[m]))  # mean p ~ 0.4: few clipped, kept and pruned both
    net = RateNetwork.from_matrix(
        A, tau=TAU, sigma=sigma, noise_tau=theta * TAU, dt=DT, target="numpy", rng=14
    )
    leak_before = net.leak
    rep = net.sleep(4 * second + 50 * ms, burn_in=50 * ms, k=k)
    assert rep.decided and rep.symmetric and rep.k == k
    units = rep.pre < rep.post
    # The scores behind the decisions: the exact OU chain's distribution (99.9 %)...
    mean, ncov = score_theory(A, rep.pre, rep.post, sigma=sigma, theta=theta, every=2)
    sel = np.flatnonzero(units)
    err2 = float(np.sum((rep.scores[sel] - mean[sel]) ** 2))
    lo, hi = squared_error_quantiles(ncov[np.ix_(sel, sel)] / rep.n_samples, [0.0005, 0.9995])
    assert lo <= err2 <= hi, (lo, err2, hi)
    # ... and not the white-noise chain's (OU lowers these variances by ~40 %).
    white, _ = score_theory(A, rep.pre, rep.post, sigma=sigma, every=2)
    assert float(np.sum((rep.scores[sel] - white[sel]) ** 2)) > hi
    # p = min(1, k s) of the pair's score, decided once per pair.
    np.testing.assert_allclose(
        rep.probabilities[units], np.minimum(1.0, k * rep.scores[units]), rtol=1e-12
    )
    p = rep.probabilities[units]
    kept = int(rep.kept[units].sum())
    assert abs(kept - p.sum()) <= 4 * np.sqrt(np.sum(p * (1 - p)))  # two-sided 6e-5
    check_decisions(net, rep, net.synapse_states(), leak_before)
    # Expected kept fraction against the offline rule at the same k (noise_prune with
    # noise_tau): sum p = k sum s differs by the estimation error of the summed scores
    # (4 sd of the chain's covariance) plus the Euler bias of the chain's mean.
    offline = noise_prune(A, k=k, sigma=sigma, noise_tau=theta, rng=0).probabilities
    p_off = offline[rep.post[units], rep.pre[units]]
    assert np.all(p_off < 1) and np.all(p < 1)  # unclipped: sum p = k sum s
    sd_sum = k * np.sqrt(ncov[np.ix_(sel, sel)].sum() / rep.n_samples)
    euler = k * abs(float(np.sum(mean[sel] - exact[rep.post[sel], rep.pre[sel]])))
    assert abs(p.sum() - p_off.sum()) <= 4 * sd_sum + euler, (p.sum(), p_off.sum())


def test_asymmetric_k_mode_decides_each_synapse_on_its_own():
    """Asymmetric network, k given: each synapse is its own unit, p = min(1, k s) from its
    own trace (not a pair average), E[kept] = sum p, kept weights w / p."""
    A = medium(symmetric=False)
    exact = synapse_scores(A, sigma=1.0)
    m = offdiag_mask(A)
    assert np.sum(m & m.T) > 0  # reciprocal pairs with different weights exist
    k = 0.3 / float(np.mean(exact[m]))  # mean p ~ 0.3: "u > p" instead of "u < p" -> 0.7
    net = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=15)
    leak_before = net.leak
    rep = net.sleep(1 * second + 50 * ms, burn_in=50 * ms, k=k)
    assert rep.decided and not rep.symmetric and rep.n_candidates == rep.pre.size
    # The estimates follow the asymmetric Euler chain (99.9 %).
    mean, ncov = score_theory(A, rep.pre, rep.post, sigma=1.0, every=2)
    err2 = float(np.sum((rep.scores - mean) ** 2))
    lo, hi = squared_error_quantiles(ncov / rep.n_samples, [0.0005, 0.9995])
    assert lo <= err2 <= hi, (lo, err2, hi)
    np.testing.assert_array_equal(rep.probabilities, np.minimum(1.0, k * rep.scores))
    p = rep.probabilities
    assert 0.1 < p.mean() < 0.6 and np.all(p > 0)
    # Kept ~ Poisson-binomial(p), 126 independent synapses: 4 sd (two-sided 6e-5).
    assert abs(int(rep.kept.sum()) - p.sum()) <= 4 * np.sqrt(np.sum(p * (1 - p)))
    check_decisions(net, rep, net.synapse_states(), leak_before)
    # Reciprocal synapses are decided independently: both directions of a pair agree
    # only as often as independent draws would (not always, as a pair decision would).
    partner = partner_index(rep.pre, rep.post, net.n)
    both = np.flatnonzero((partner >= 0) & (rep.pre < rep.post))
    agree = rep.kept[both] == rep.kept[partner[both]]
    p1, p2 = p[both], p[partner[both]]
    q = p1 * p2 + (1 - p1) * (1 - p2)
    assert abs(int(agree.sum()) - q.sum()) <= 4 * np.sqrt(np.sum(q * (1 - q)))


def test_linear_network_with_bias_centres_the_traces():
    """Linear units with a tonic bias: activity has mean x* = -A^-1 b != 0, and the
    centred traces estimate the covariance-based scores (the Euler chain's, 99.9 %),
    not |w| E[(x_i - sgn x_j)^2], which adds |w| (x*_i - sgn x*_j)^2."""
    A = small_symmetric()
    n = A.shape[0]
    b = np.random.default_rng(2).uniform(0.0, 3.0, n)
    x_star = -np.linalg.solve(A, b)
    net = RateNetwork.from_matrix(A, tau=TAU, sigma=1.0, dt=DT, target="numpy", rng=16, bias=b)
    assert net.centered and net.nonlinearity is None
    np.testing.assert_allclose(net.state, x_star, rtol=1e-12)  # starts at the fixed point
    rep = net.sleep(4 * second + 50 * ms, burn_in=50 * ms, decide=False)
    mean, ncov = score_theory(A, rep.pre, rep.post, sigma=1.0, every=2)
    # Centring on the sample means removes a relative O(tau / T) (~1e-3 here) from the
    # mean, far below the statistical error (~7 %); the limit law is unchanged.
    err2 = float(np.sum((rep.scores - mean) ** 2))
    lo, hi = squared_error_quantiles(ncov / rep.n_samples, [0.0005, 0.9995])
    assert lo <= err2 <= hi, (lo, err2, hi)
    offset = (
        np.abs(A[rep.post, rep.pre])
        * (x_star[rep.post] - np.sign(A[rep.post, rep.pre]) * x_star[rep.pre]) ** 2
    )
    assert float(np.sum((rep.scores + offset - mean) ** 2)) > hi  # uncentred: rejected
    # Against DESIGN's continuous scores: within the Euler bias plus 4 relative errors.
    exact = synapse_scores(A, sigma=1.0)[rep.post, rep.pre]
    alpha = float(np.max(np.linalg.eigvalsh(A)))
    r = trace_relative_error(float(rep.measured), float(TAU) / (2 * abs(alpha)))
    rel = rep.scores / exact - 1
    assert np.all((rel >= -4 * r) & (rel <= euler_bias_bound(A) + 4 * r)), rel
