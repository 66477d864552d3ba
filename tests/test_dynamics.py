"""Tests for plasticsim.dynamics: statistics, accuracy, reproducibility, relu, errors."""

import numpy as np
import pytest
import scipy.linalg as sla

import plasticsim.dynamics as dyn
from plasticsim import noise_covariance
from plasticsim._validation import STREAM_DYNAMICS
from plasticsim.covariance import empirical_covariance
from plasticsim.dynamics import Trajectory, TrajectoryError, simulate, trajectory_error
from plasticsim.networks import erdos_renyi

A3 = np.array([[-1.5, 0.4, -0.3], [0.2, -1.0, 0.5], [0.6, -0.2, -2.0]])


# --------------------------------------------------------------------------- statistics


@pytest.mark.parametrize(("a", "h"), [(1.0, 0.1), (2.0, 0.1)])
def test_single_unit_stationary_variance_euler_maruyama(a, h):
    # dx = -a x ds + sigma dB with step h is the AR(1) x' = phi x + sigma sqrt(h) xi,
    # phi = 1 - a h, whose stationary variance is sigma^2 h / (1 - phi^2)
    # = sigma^2 / (a (2 - a h)): 5.3 % (a h = 0.1) and 11 % (a h = 0.2) above the
    # continuous sigma^2 / (2 a).
    sigma, trials, duration = 0.8, 200, 400.0
    v_em = sigma**2 / (a * (2 - a * h))
    v_cont = sigma**2 / (2 * a)
    # Start in the stationary law: no burn-in needed, every sample is usable.
    x0 = np.sqrt(v_em) * np.random.default_rng(100).standard_normal((trials, 1))
    tr = simulate(
        np.array([[-a]]), duration=duration, dt=h, sigma=sigma, x0=x0, trials=trials, rng=1
    )
    x = tr.x[:, 1:, 0]
    m = float(np.mean(x**2))  # known zero mean: no centring bias
    # Tolerance: for a Gaussian AR(1) the lag-k correlation of x^2 is phi^(2k), so the
    # mean of N samples of x^2 has variance 2 v^2 / N_eff with
    # N_eff = N (1 - phi^2) / (1 + phi^2) (N_eff ~ 1e5 here; trials are independent).
    phi = 1 - a * h
    n_eff = x.size * (1 - phi**2) / (1 + phi**2)
    sd = v_em * np.sqrt(2 / n_eff)
    assert abs(m - v_em) < 4 * sd
    # The same estimate rejects the continuous value: the scheme's bias is resolved.
    # Power: the expected separation |v_em - v_cont| / sd is ~ 10 sd (a h = 0.1) and ~ 29
    # sd (a h = 0.2), so a 4 sd threshold fails only on a > 6 sd fluctuation.
    assert abs(v_em - v_cont) > 10 * sd
    assert abs(m - v_cont) > 4 * sd


def test_single_unit_stationary_variance_continuous_limit():
    # Small step: |v_em - v_cont| = v_cont a h / (2 - a h) ~ 0.25 %; tolerance is the
    # statistical 4 sd (as above) plus that known bias.
    a, h, sigma, trials, duration, every = 1.0, 0.005, 1.0, 100, 200.0, 10
    v_em = sigma**2 / (a * (2 - a * h))
    v_cont = sigma**2 / (2 * a)
    x0 = np.sqrt(v_em) * np.random.default_rng(101).standard_normal((trials, 1))
    tr = simulate(
        np.array([[-a]]),
        duration=duration,
        dt=h,
        sigma=sigma,
        x0=x0,
        trials=trials,
        rng=2,
        record_every=every,
    )
    x = tr.x[:, 1:, 0]
    phi = (1 - a * h) ** every  # correlation between recorded samples
    n_eff = x.size * (1 - phi**2) / (1 + phi**2)
    sd = v_em * np.sqrt(2 / n_eff)
    assert abs(float(np.mean(x**2)) - v_cont) < 4 * sd + abs(v_em - v_cont)


def test_network_covariance_matches_noise_covariance():
    A = erdos_renyi(5, 0.5, rng=3)  # symmetric, eigenvalues in [-5, -1]
    sigma, h, trials, duration, every = 0.7, 0.01, 10, 1000.0, 5
    C = noise_covariance(A, sigma=sigma)
    # Exact stationary covariance of the Euler-Maruyama chain x' = M x + sigma sqrt(h) xi.
    M = np.eye(5) + h * A
    C_h = sla.solve_discrete_lyapunov(M, sigma**2 * h * np.eye(5))
    x0 = np.random.default_rng(102).multivariate_normal(np.zeros(5), C_h, size=trials)
    tr = simulate(
        A, duration=duration, dt=h, sigma=sigma, x0=x0, trials=trials, rng=4, record_every=every
    )
    C_emp = empirical_covariance(tr.x)
    # Tolerance. With K(s) = e^{A s} C, Var(C_emp_ij) ~ (1/T) int (K_ii K_jj + K_ij K_ji) ds
    # over a total time T = trials * duration. A symmetric with eigenvalues <= -lam gives
    # |K_ij(s)| <= sqrt(C_ii C_jj) e^{-lam |s|}, so sd_ij <= sqrt(2 C_ii C_jj / (lam T)).
    # Centring each trial on its own mean biases C_emp by -Cov(mean_i, mean_j), at most
    # 2 sqrt(C_ii C_jj) / (lam * duration) by the same bound.
    lam = -np.linalg.eigvalsh(A)[-1]
    scale = np.sqrt(np.outer(np.diag(C_h), np.diag(C_h)))
    tol = 4 * scale * np.sqrt(2 / (lam * trials * duration)) + 2 * scale / (lam * duration)
    assert np.all(np.abs(C_emp - C_h) < tol)
    # Against the continuous covariance, add the known discretisation bias |C_h - C|.
    assert np.all(np.abs(C_emp - C) < tol + np.abs(C_h - C))
    # The tolerance is tight enough to mean something: below 10 % of every variance.
    assert np.all(np.diag(tol) < 0.1 * np.diag(C))


# --------------------------------------------------------------------------- accuracy


def test_deterministic_decay_matches_expm_first_order():
    x0 = np.array([1.0, -0.5, 2.0])
    errs = []
    for dt in (2e-3, 1e-3):
        tr = simulate(A3, duration=2.0, dt=dt, sigma=0.0, x0=x0, record_every=100)
        exact = np.stack([sla.expm(A3 * s) @ x0 for s in tr.times])
        err = np.abs(tr.x[0] - exact).max()
        # Euler's global error is O(dt) with a constant of order ||A^2 x0|| * T / 2.
        assert err < 5 * dt
        errs.append(err)
    # First order: halving dt halves the error.
    assert 1.8 < errs[0] / errs[1] < 2.2


def test_times_and_shapes():
    tr = simulate(A3, duration=1.0, dt=0.1, sigma=0.1, trials=4, rng=0, record_every=3)
    assert isinstance(tr, Trajectory)
    # n_steps = 10, recorded at steps 0, 3, 6, 9.
    np.testing.assert_allclose(tr.times, [0.0, 0.3, 0.6, 0.9])
    assert tr.x.shape == (4, 4, 3)
    assert tr.seed == 0


def test_duration_not_a_multiple_of_dt_rounds_steps():
    tr = simulate(A3, duration=1.04, dt=0.1, sigma=0.0, x0=np.ones(3))
    assert tr.times.size == 11 and tr.times[-1] == pytest.approx(1.0)


# --------------------------------------------------------------------------- randomness


def test_same_seed_bit_for_bit():
    kw = dict(duration=5.0, dt=0.01, sigma=0.5, trials=3)
    a = simulate(A3, rng=7, **kw)
    b = simulate(A3, rng=7, **kw)
    assert np.array_equal(a.x, b.x)
    c = simulate(A3, rng=np.random.default_rng(7), **kw)
    d = simulate(A3, rng=np.random.default_rng(7), **kw)
    assert np.array_equal(c.x, d.x) and c.seed == d.seed
    assert not np.array_equal(a.x, simulate(A3, rng=8, **kw).x)
    # rng=None records a seed that repeats the run.
    e = simulate(A3, rng=None, **kw)
    assert np.array_equal(e.x, simulate(A3, rng=e.seed, **kw).x)


def test_trials_get_independent_noise():
    tr = simulate(A3, duration=1.0, dt=0.01, sigma=1.0, trials=2, rng=0)
    assert not np.array_equal(tr.x[0], tr.x[1])


def test_sigma_zero_ignores_seed():
    kw = dict(duration=1.0, dt=0.01, sigma=0.0, x0=np.ones(3))
    assert np.array_equal(simulate(A3, rng=0, **kw).x, simulate(A3, rng=1, **kw).x)


def test_record_every_subsamples_the_same_run():
    kw = dict(duration=2.0, dt=0.01, sigma=0.5, trials=2, rng=3)
    full = simulate(A3, **kw)
    sub = simulate(A3, record_every=7, **kw)
    assert np.array_equal(sub.x, full.x[:, ::7])
    np.testing.assert_allclose(sub.times, full.times[::7])


def _hand_loop(A, x0, dt, sigma, n_steps, seed, inputs=None, relu=False):
    """Per-neuron, per-trial Euler-Maruyama written out in plain Python."""
    gen = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM_DYNAMICS,)))
    trials, n = x0.shape
    x = x0.copy()
    out = [x.copy()]
    for k in range(n_steps):
        xi = gen.standard_normal((trials, n)) * np.sqrt(dt)
        new = x.copy()
        for t in range(trials):
            for i in range(n):
                f = A[i, i] * x[t, i]
                for j in range(n):
                    if j != i:
                        f += A[i, j] * (max(x[t, j], 0.0) if relu else x[t, j])
                if inputs is not None:
                    f += inputs[k, i]
                new[t, i] = x[t, i] + dt * f + sigma * xi[t, i]
        x = new
        out.append(x.copy())
    return np.stack(out, axis=1)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("block", [None, 7])
def test_matches_hand_loop(relu, block, monkeypatch):
    # Also checks that noise drawn in blocks is the per-step stream
    # standard_normal((trials, n)) * sqrt(dt), block boundaries included.
    if block is not None:
        monkeypatch.setattr(dyn, "_NOISE_BLOCK", block * 2 * 3)
    x0 = np.array([[0.5, -0.2, 0.1], [-1.0, 0.3, 0.0]])
    n_steps, dt, sigma = 60, 0.05, 0.6
    u = np.random.default_rng(5).standard_normal((n_steps, 3))
    tr = simulate(
        A3,
        duration=n_steps * dt,
        dt=dt,
        sigma=sigma,
        x0=x0,
        inputs=u,
        nonlinearity="relu" if relu else None,
        trials=2,
        rng=11,
    )
    ref = _hand_loop(A3, x0, dt, sigma, n_steps, 11, inputs=u, relu=relu)
    np.testing.assert_allclose(tr.x, ref, rtol=1e-12, atol=1e-12)


def test_relu_differs_from_linear_only_when_rates_rectify():
    kw = dict(duration=8.0, dt=0.01, sigma=0.0, x0=np.array([1.0, 2.0, 1.5]))
    # Strong positive drive keeps x > 0: relu == linear to rounding.
    pos = dict(inputs=np.array([5.0, 5.0, 5.0]), **kw)
    lin = simulate(A3, **pos).x
    assert lin.min() > 0
    np.testing.assert_allclose(simulate(A3, nonlinearity="relu", **pos).x, lin, rtol=1e-12)
    # Negative drive pushes x < 0: the rectified recurrent input vanishes and each neuron
    # decays on its own leak, x_i' = A_ii x_i + u_i.
    neg = dict(inputs=np.array([-5.0, -5.0, -5.0]), **kw)
    r = simulate(A3, nonlinearity="relu", **neg).x[0, -1]
    assert np.all(r < 0)
    assert not np.allclose(r, simulate(A3, **neg).x[0, -1])
    d = np.diag(A3)
    # After the rates hit zero, each x_i follows its own linear leak towards -5 / |A_ii|.
    np.testing.assert_allclose(r, -5.0 / -d, rtol=0.01)


# --------------------------------------------------------------------------- inputs


def test_input_forms_agree():
    kw = dict(duration=1.0, dt=0.01, sigma=0.3, trials=2, rng=2)
    u = np.array([0.5, -1.0, 2.0])
    const = simulate(A3, inputs=u, **kw).x
    rows = simulate(A3, inputs=np.tile(u, (100, 1)), **kw).x
    func = simulate(A3, inputs=lambda s: u, **kw).x
    per_trial = simulate(A3, inputs=lambda s: np.tile(u, (2, 1)), **kw).x
    for other in (rows, func, per_trial):
        assert np.array_equal(const, other)


def test_callable_input_sees_step_start_times():
    seen = []
    simulate(
        np.array([[-1.0]]),
        duration=0.5,
        dt=0.1,
        sigma=0.0,
        inputs=lambda s: seen.append(s) or np.zeros(1),
    )
    np.testing.assert_allclose(seen, [0.0, 0.1, 0.2, 0.3, 0.4])


def test_per_trial_callable_input():
    tr = simulate(
        np.array([[-1.0]]),
        duration=0.1,
        dt=0.1,
        sigma=0.0,
        trials=2,
        inputs=lambda s: np.array([[1.0], [-1.0]]),
    )
    np.testing.assert_allclose(tr.x[:, -1, 0], [0.1, -0.1])


def test_x0_vector_broadcasts_to_trials():
    x0 = np.array([1.0, 0.0, -1.0])
    a = simulate(A3, duration=1.0, dt=0.1, sigma=0.2, x0=x0, trials=3, rng=0)
    b = simulate(A3, duration=1.0, dt=0.1, sigma=0.2, x0=np.tile(x0, (3, 1)), trials=3, rng=0)
    assert np.array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.x[:, 0], np.tile(x0, (3, 1)))


# --------------------------------------------------------------------------- trajectory_error


@pytest.mark.parametrize("nonlinearity", [None, "relu"])
def test_trajectory_error_of_identical_networks_is_zero(nonlinearity):
    res = trajectory_error(
        A3,
        A3.copy(),
        duration=3.0,
        dt=0.01,
        sigma=0.5,
        trials=3,
        rng=0,
        nonlinearity=nonlinearity,
        x0=np.ones(3),
    )
    assert isinstance(res, TrajectoryError)
    assert res.errors.shape == (3, 301)
    assert np.all(res.errors == 0) and np.all(res.mean == 0) and np.all(res.std == 0)


def test_trajectory_error_uses_the_noise_of_separate_runs():
    B = A3.copy()
    B[0, 1] = 0.0
    B[0, 0] -= 0.4
    kw = dict(duration=3.0, dt=0.01, sigma=0.5, trials=4, x0=np.ones(3), record_every=5)
    res = trajectory_error(A3, B, rng=9, **kw)
    xa = simulate(A3, rng=9, **kw).x
    xb = simulate(B, rng=9, **kw).x
    expected = np.linalg.norm(xb - xa, axis=2) / np.linalg.norm(xa, axis=2)
    np.testing.assert_allclose(res.errors, expected, rtol=1e-12)
    np.testing.assert_allclose(res.mean, expected.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(res.std, expected.std(axis=0), rtol=1e-12)
    assert res.seed == 9
    assert res.errors[:, 1:].min() > 0  # the networks do differ


def test_trajectory_error_zero_norm_guard():
    # One neuron, two steps of dt = 0.1, inputs chosen so that x_A returns exactly to 0:
    # x_A(1) = h u0, x_A(2) = x_A(1) + h (a x_A(1) + u1) = 0 for u1 = -(1/h + a) x_A(1).
    a, b, h, u0 = -1.0, -2.0, 0.1, 1.0
    x1 = h * u0
    u1 = -(1 / h + a) * x1
    u = np.array([[u0], [u1]])
    kw = dict(duration=2 * h, dt=h, sigma=0.0, inputs=u)
    res = trajectory_error(np.array([[a]]), np.array([[b]]), **kw)
    xb2 = x1 + h * (b * x1 + u1)
    rms = np.sqrt(x1**2 / 3)  # recorded |x_A| = 0, x1, 0
    np.testing.assert_allclose(res.errors[0], [0.0, 0.0, abs(xb2) / rms], atol=1e-15)
    # x_A zero at every recorded time while x_B is not: the error is inf there.
    res2 = trajectory_error(np.array([[a]]), np.array([[b]]), record_every=2, **kw)
    assert res2.errors[0, 0] == 0 and res2.errors[0, 1] == np.inf


# --------------------------------------------------------------------------- errors

GOOD = dict(duration=1.0, dt=0.1, sigma=0.1)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(A=np.ones(3)), ValueError, r"A has shape \(3,\), must be 2-D"),
        (dict(A=np.ones((2, 3))), ValueError, "must be square"),
        (dict(A=np.array([[np.nan]])), ValueError, "non-finite entry"),
        (dict(A="A"), TypeError, "A must be a real 2-D array"),
        (dict(duration=0.0), ValueError, r"duration == 0.0, must be > 0"),
        (dict(duration="1"), TypeError, "duration must be a real number"),
        (dict(dt=-0.1), ValueError, r"dt == -0.1, must be > 0"),
        (dict(dt=2.0), ValueError, r"dt == 2.0, must be <= duration == 1.0"),
        (dict(sigma=-1.0), ValueError, r"sigma == -1.0, must be >= 0"),
        (dict(sigma=np.nan), ValueError, "sigma == nan, must be finite"),
        (dict(trials=0), ValueError, "trials == 0, must be an integer >= 1"),
        (dict(trials=2.0), TypeError, "trials must be an integer"),
        (dict(record_every=0), ValueError, "record_every == 0, must be an integer >= 1"),
        (dict(record_every=True), TypeError, "record_every must be an integer"),
        (dict(nonlinearity="tanh"), ValueError, "nonlinearity == 'tanh', must be one of"),
        (dict(x0=np.ones(2)), ValueError, r"x0 has shape \(2,\), must be \(n,\)"),
        (dict(x0=np.ones((2, 3)), trials=3), ValueError, r"x0 has shape \(2, 3\)"),
        (dict(x0=[np.inf, 0, 0]), ValueError, "x0 has non-finite entries"),
        (dict(x0="abc"), TypeError, "x0 must be a real array"),
        (dict(inputs=np.ones(2)), ValueError, r"inputs has shape \(2,\), must be \(n,\)"),
        (dict(inputs=np.ones((9, 3))), ValueError, r"\(n_steps, n\) == \(10, 3\)"),
        (dict(inputs=[np.nan, 0, 0]), ValueError, "inputs has non-finite entries"),
        (dict(inputs=lambda s: np.ones(4)), ValueError, r"inputs\(s\) returned shape \(4,\)"),
        (dict(inputs=lambda s: [np.nan] * 3), ValueError, r"inputs\(s\) has non-finite"),
        (dict(rng=-3), ValueError, "rng == -3"),
        (dict(rng=1.5), TypeError, "rng must be None"),
    ],
)
@pytest.mark.parametrize("func", ["simulate", "trajectory_error"])
def test_bad_input_raises(func, kwargs, exc, match):
    kw = {**GOOD, **kwargs}
    A = kw.pop("A", A3)
    with pytest.raises(exc, match=match):
        if func == "simulate":
            simulate(A, **kw)
        else:
            trajectory_error(A, A3 if np.shape(A) != (3, 3) else A, **kw)


@pytest.mark.parametrize(
    ("B", "exc", "match"),
    [
        (np.ones((2, 2)), ValueError, r"B has shape \(2, 2\), must match A's shape \(3, 3\)"),
        (np.full((3, 3), np.inf), ValueError, "B has a non-finite entry"),
        (None, TypeError, "B must be a real 2-D array"),
    ],
)
def test_trajectory_error_bad_B(B, exc, match):
    with pytest.raises(exc, match=match):
        trajectory_error(A3, B, **GOOD)
