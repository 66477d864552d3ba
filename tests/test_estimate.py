import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sps

from plasticsim import estimate_scores, noise_covariance, synapse_scores

# K independent copies of the 2-neuron network A0 in one block-diagonal network: one
# simulation gives K independent replicate estimates of the same score.
A0 = np.array([[-2.0, 1.0], [1.0, -2.0]])
K = 400
LAM = -3.0  # d = x_0 - x_1 is the eigenvector of A0 with eigenvalue -3


def copies(A, k=K):
    return sps.block_diag([sps.csr_array(A)] * k, format="csr")


def replicate_scores(S, n0=2, i=0, j=1):
    """The score of synapse (i, j) in every copy."""
    S = S.tocsr()
    idx = np.arange(S.shape[0] // n0) * n0
    return np.asarray(S[idx + i, idx + j]).ravel()


def em_covariance(A, dt, sigma=1.0, theta=0.0):
    """Exact stationary covariance of the scheme itself (x-block), by discrete Lyapunov."""
    n = A.shape[0]
    if theta == 0:
        F = np.eye(n) + dt * A
        return sla.solve_discrete_lyapunov(F, sigma**2 * dt * np.eye(n))
    decay = np.exp(-dt / theta)
    eta_amp = (sigma / theta) * np.sqrt(theta * (1 - decay**2) / 2)
    F = np.block([[np.eye(n) + dt * A, dt * np.eye(n)], [np.zeros((n, n)), decay * np.eye(n)]])
    Q = np.zeros((2 * n, 2 * n))
    Q[n:, n:] = eta_amp**2 * np.eye(n)
    return sla.solve_discrete_lyapunov(F, Q)[:n, :n]


def em_score(A, dt, i=0, j=1, **kw):
    C = em_covariance(A, dt, **kw)
    a = A[i, j]
    return abs(a) * (C[i, i] + C[j, j] - 2 * np.sign(a) * C[i, j])


def predicted_rel_sd(duration, dt, sample_dt=0.1):
    """Relative standard deviation of the estimate of the A0 score (closed form).

    d is an AR(1) under Euler-Maruyama, d' = (1 + dt LAM) d + noise; samples every
    `every` steps have autocorrelation phi^h with phi = (1 + dt LAM)^every, and
    Var(mean d^2) / v^2 = (2 / N^2) [N + 2 sum_{h>=1} (N - h) phi^(2h)].
    """
    every = max(1, round(sample_dt / dt))
    N = round(duration / dt) // every
    phi = (1 + dt * LAM) ** every
    h = np.arange(1, N)
    return np.sqrt(2.0 / N**2 * (N + 2 * np.sum((N - h) * phi ** (2 * h))))


def test_mean_converges_and_error_matches_theory():
    dt, T = 0.02, 50.0
    est = replicate_scores(estimate_scores(copies(A0), T, dt=dt, rng=1))
    target = em_score(A0, dt)
    rel = est / target - 1.0
    # mean of K replicates within 4 standard errors of the scheme's exact score
    assert abs(np.mean(rel)) < 4 * predicted_rel_sd(T, dt) / np.sqrt(K)
    # RMS matches the closed form; an RMS from K Gaussian errors has relative sd
    # sqrt(1 / (2K)) = 3.5 %: 4 of those
    rms = np.sqrt(np.mean(rel**2))
    assert abs(rms / predicted_rel_sd(T, dt) - 1) < 4 * np.sqrt(1 / (2 * K))
    # and the closed form is the docstring's sqrt(2 / (|lambda| T)) up to O(dt)
    assert predicted_rel_sd(T, dt) == pytest.approx(np.sqrt(2 / (3 * T)), rel=0.05)


def test_error_shrinks_like_one_over_sqrt_duration():
    dt = 0.02
    target = em_score(A0, dt)
    rms = []
    for T, seed in ((25.0, 2), (100.0, 3)):
        est = replicate_scores(estimate_scores(copies(A0), T, dt=dt, rng=seed))
        rms.append(np.sqrt(np.mean((est / target - 1) ** 2)))
    expected = predicted_rel_sd(25.0, dt) / predicted_rel_sd(100.0, dt)
    assert expected == pytest.approx(2.0, rel=0.03)  # 4x the duration halves the error
    # ratio of two independent RMS estimates: relative sd sqrt(1/(2K) + 1/(2K)) = 5 %
    assert abs(rms[0] / rms[1] / expected - 1) < 4 * np.sqrt(1 / K)


def test_euler_bias_is_the_schemes_own_covariance():
    """dt = 0.1: the scheme's variance of the lambda = -3 mode is 1 / (1 - dt |lambda| / 2)
    = 1.176 times the continuous one; the estimates converge to that, not to the exact
    score, and the exact symmetric formula C_dt = (sigma^2/2)(-A)^-1 (I + dt A/2)^-1 holds."""
    dt, T = 0.1, 100.0
    est = np.mean(replicate_scores(estimate_scores(copies(A0), T, dt=dt, rng=4)))
    se = predicted_rel_sd(T, dt) / np.sqrt(K)
    target = em_score(A0, dt)
    exact = synapse_scores(A0)[0, 1]
    assert target / exact == pytest.approx(1 / (1 - dt * 3 / 2), rel=1e-12)
    C_dt = 0.5 * np.linalg.inv(-A0) @ np.linalg.inv(np.eye(2) + dt * A0 / 2)
    np.testing.assert_allclose(em_covariance(A0, dt), C_dt, rtol=1e-12)
    assert abs(est / target - 1) < 4 * se
    assert abs(est / exact - 1) > 10 * se


def test_ou_noise_converges_to_the_schemes_covariance():
    A = np.array([[-1.5, 0.5, 0.0], [0.5, -2.0, -0.7], [0.0, -0.7, -1.0]])
    theta, dt, T, k = 0.5, 0.02, 40.0, 200
    S = estimate_scores(copies(A, k), T, dt=dt, noise_tau=theta, rng=5)
    for i, j in ((0, 1), (1, 2)):
        est = replicate_scores(S, 3, i, j)
        se = np.std(est, ddof=1) / np.sqrt(k)
        target = em_score(A, dt, i, j, theta=theta)
        assert abs(np.mean(est) - target) < 4 * se
    # and the scheme's OU covariance is the continuous one up to O(dt): first order,
    # halving dt halves the bias
    C = noise_covariance(A, noise_tau=theta)
    bias = [np.max(np.abs(em_covariance(A, h, theta=theta) - C)) for h in (dt, dt / 2)]
    assert bias[0] / bias[1] == pytest.approx(2.0, rel=0.05)


def test_reproducible_and_types():
    A = np.array([[-2.0, 0.5, 0.0], [0.5, -2.0, 1.0], [0.0, 1.0, -2.0]])
    S1 = estimate_scores(A, 5.0, rng=3)
    S2 = estimate_scores(sps.csr_array(A), 5.0, rng=3)
    assert isinstance(S1, np.ndarray) and isinstance(S2, sps.csr_array)
    np.testing.assert_array_equal(S1, S2.toarray())
    assert not np.array_equal(S1, estimate_scores(A, 5.0, rng=4))
    assert np.count_nonzero(S1) == 4 and np.all(np.diag(S1) == 0)


@pytest.mark.parametrize(
    "A, kwargs, err, match",
    [
        (A0, {"duration": 0.0}, ValueError, "duration == 0.0, must be > 0"),
        (A0, {"duration": "x"}, TypeError, "duration must be a real number"),
        (A0, {"dt": 1.0}, ValueError, r"dt \* max_i sum_j \|A\[i, j\]\| == 3, must be < 2"),
        (A0, {"dt": -1.0}, ValueError, "dt == -1.0"),
        (A0, {"noise_tau": -1.0}, ValueError, "noise_tau == -1.0"),
        (A0, {"burn_in": -1.0}, ValueError, "burn_in == -1.0"),
        (A0, {"duration": 0.05, "dt": 0.01}, ValueError, "shorter than one sample"),
        (-np.eye(2), {}, ValueError, "no synapses"),
        (np.array([[0.5, 1.0], [1.0, 0.5]]), {}, ValueError, "not stable"),
        (np.ones((2, 3)), {}, ValueError, "must be square"),
    ],
)
def test_bad_input(A, kwargs, err, match):
    kw = {"duration": 1.0} | kwargs
    with pytest.raises(err, match=match):
        estimate_scores(A, kw.pop("duration"), **kw)
