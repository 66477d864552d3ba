import numpy as np
import pytest
import scipy.linalg as sla

from plasticsim import empirical_covariance, noise_covariance


def random_stable(n, rng, symmetric=False, slack=0.5):
    """A random dense network with -A strictly row diagonally dominant (stable)."""
    W = rng.standard_normal((n, n))
    if symmetric:
        W = (W + W.T) / 2
    np.fill_diagonal(W, 0.0)
    return W - np.diag(np.abs(W).sum(axis=1) + slack)


@pytest.mark.parametrize("n", [1, 2, 7, 40])
@pytest.mark.parametrize("sigma", [1.0, 0.3])
def test_lyapunov_residual_general(n, sigma):
    A = random_stable(n, np.random.default_rng(n))
    C = noise_covariance(A, sigma=sigma)
    residual = A @ C + C @ A.T + sigma**2 * np.eye(n)
    # Backward-stable solver: residual ~ machine epsilon times ||A|| ||C||.
    assert np.max(np.abs(residual)) <= 1e-12 * np.linalg.norm(A) * np.linalg.norm(C)
    assert np.array_equal(C, C.T)
    assert np.linalg.eigvalsh(C)[0] > 0


def test_general_path_equals_scipy():
    A = random_stable(30, np.random.default_rng(1))
    expected = sla.solve_continuous_lyapunov(A, -0.49 * np.eye(30))
    np.testing.assert_allclose(noise_covariance(A, sigma=0.7), expected, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("noise_tau", [0.0, 0.3, 2.0])
def test_symmetric_path_equals_general(noise_tau):
    A = random_stable(25, np.random.default_rng(2), symmetric=True)
    fast = noise_covariance(A, sigma=1.3, noise_tau=noise_tau, structure="symmetric")
    slow = noise_covariance(A, sigma=1.3, noise_tau=noise_tau, structure="general")
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-13)
    # closed form for white noise: C = -sigma^2 A^{-1} / 2
    if noise_tau == 0:
        np.testing.assert_allclose(fast, -1.69 * np.linalg.inv(A) / 2, rtol=1e-10)


def augmented_covariance(A, sigma, theta):
    """Independent reference: the full 2n x 2n Lyapunov solve of the (x, eta) system."""
    n = A.shape[0]
    M = np.block([[A, np.eye(n)], [np.zeros((n, n)), -np.eye(n) / theta]])
    Q = np.zeros((2 * n, 2 * n))
    Q[n:, n:] = (sigma / theta) ** 2 * np.eye(n)
    return sla.solve_continuous_lyapunov(M, -Q)[:n, :n]


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("theta", [0.05, 1.0, 4.0])
def test_ou_equals_augmented_system(symmetric, theta):
    A = random_stable(12, np.random.default_rng(3), symmetric=symmetric)
    C = noise_covariance(A, sigma=0.8, noise_tau=theta)
    np.testing.assert_allclose(C, augmented_covariance(A, 0.8, theta), rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("symmetric", [False, True])
def test_ou_tends_to_white(symmetric):
    A = random_stable(10, np.random.default_rng(4), symmetric=symmetric)
    sigma = 0.9
    white = noise_covariance(A, sigma=sigma)
    # First order in theta: Sigma_x_eta = (sigma^2/2)(I - theta A)^{-1} ~ (sigma^2/2)(I + theta A),
    # so C(theta) = C(0) + theta C1 + O(theta^2) with A C1 + C1 A^T = -(sigma^2/2)(A + A^T),
    # whose solution is C1 = -(sigma^2/2) I for every stable A.
    remainders = []
    for theta in (1e-2, 1e-3, 1e-4):
        C = noise_covariance(A, sigma=sigma, noise_tau=theta)
        first_order = white - theta * sigma**2 / 2 * np.eye(10)
        remainders.append(np.abs(C - first_order).max() / theta**2)
    # the O(theta^2) remainder divided by theta^2 converges (theta |A| << 1 here)
    assert abs(remainders[2] - remainders[1]) < 0.2 * abs(remainders[1] - remainders[0]) + 1e-6
    assert remainders[2] < 1.2 * remainders[0]
    # and the approach is linear with slope -(sigma^2/2) on the diagonal
    C = noise_covariance(A, sigma=sigma, noise_tau=1e-4)
    np.testing.assert_allclose(np.diag(white - C) / 1e-4, sigma**2 / 2, rtol=1e-2)


def test_ou_matches_simulation():
    """Euler-Maruyama of the augmented system, many trials at once, fixed seed."""
    rng = np.random.default_rng(5)
    A = random_stable(3, rng, slack=1.0)
    sigma, theta, dt = 1.0, 0.5, 0.005
    trials, burn, steps = 400, 2000, 8000
    x = np.zeros((trials, 3))
    eta = np.zeros((trials, 3))
    acc = np.zeros((3, 3))
    for step in range(burn + steps):
        x = x + dt * (x @ A.T + eta)
        eta = (
            eta
            + dt * (-eta / theta)
            + (sigma / theta) * np.sqrt(dt) * rng.standard_normal((trials, 3))
        )
        if step >= burn:
            acc += x.T @ x
    C_emp = acc / (trials * steps)
    C = noise_covariance(A, sigma=sigma, noise_tau=theta)
    # Samples are correlated over ~1/|slowest eigenvalue| <= 1 time unit, so each trial of
    # steps*dt = 40 units gives >= ~20 independent samples: 400 trials -> >= 8000. The
    # standard error of a covariance entry is ~ sqrt(2/8000) ~ 0.016 of the variance scale;
    # Euler's O(dt) bias is ~ dt * |A| ~ 1%. Tolerance: 5 standard errors + bias ~ 0.09.
    scale = np.max(np.diag(C))
    assert np.max(np.abs(C_emp - C)) < 0.09 * scale
    # and the coloured noise really differs from white noise here (the test can fail)
    assert np.max(np.abs(noise_covariance(A, sigma=sigma) - C)) > 0.2 * scale


def test_empirical_covariance_pools_trials_and_burn_in():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((4, 5000, 2)) @ np.array([[1.0, 0.5], [0.0, 1.0]])
    C = empirical_covariance(X, burn_in=10)
    np.testing.assert_allclose(C, [[1.0, 0.5], [0.5, 1.25]], atol=0.05)
    with pytest.raises(ValueError, match="burn_in == 5000"):
        empirical_covariance(X, burn_in=5000)
    with pytest.raises(ValueError, match="must be"):
        empirical_covariance(np.zeros(5))


@pytest.mark.parametrize(
    "A, kwargs, exc, match",
    [
        (np.ones((2, 3)), {}, ValueError, r"shape \(2, 3\), must be square"),
        (np.ones(3), {}, ValueError, "must be 2-D"),
        (np.array([[-1.0, np.nan], [0.0, -1.0]]), {}, ValueError, "non-finite entry A\\[0, 1\\]"),
        ("abc", {}, TypeError, "A must be a real 2-D array"),
        (np.array([[-1 + 1j]]), {}, TypeError, "must be real"),
        (np.array([[0.5, 0.0], [1.0, -1.0]]), {}, ValueError, "spectral abscissa .* is 0.5"),
        (np.array([[0.5, 0.1], [0.1, -1.0]]), {}, ValueError, "not stable"),
        (
            np.array([[-1.0, 1.0], [0.0, -1.0]]),
            {"structure": "symmetric"},
            ValueError,
            "structure='symmetric' but A is not symmetric",
        ),
        (-np.eye(2), {"structure": "lu"}, ValueError, "structure == 'lu', must be one of"),
        (-np.eye(2), {"sigma": 0.0}, ValueError, r"sigma == 0.0, must be > 0"),
        (-np.eye(2), {"sigma": "1"}, TypeError, "sigma must be a real number"),
        (-np.eye(2), {"noise_tau": -1.0}, ValueError, r"noise_tau == -1.0, must be >= 0"),
        (-np.eye(2), {"noise_tau": np.inf}, ValueError, "must be finite"),
    ],
)
def test_bad_input(A, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        noise_covariance(A, **kwargs)


def test_marginally_stable_symmetric_is_refused():
    L = np.array([[-1.0, 1.0], [1.0, -1.0]])  # Laplacian: eigenvalue 0
    with pytest.raises(ValueError, match="not stable"):
        noise_covariance(L)


def test_empirical_covariance_bad_input():
    with pytest.raises(TypeError, match="X must be an array of real numbers"):
        empirical_covariance("abc")
    with pytest.raises(ValueError, match="X has a non-finite entry"):
        empirical_covariance(np.array([[0.0, np.nan], [1.0, 2.0], [0.5, 0.5]]))


# ------------------------------------------------------------- Euler-Maruyama covariance


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("theta", [0.0, 0.4])
def test_euler_covariance_solves_the_chain(symmetric, theta):
    """P is the stationary covariance of the chain z <- F z + noise (discrete Lyapunov)."""
    from plasticsim import euler_covariance

    n, h, sigma = 9, 0.05, 0.7
    A = random_stable(n, np.random.default_rng(5), symmetric=symmetric)
    P = euler_covariance(A, h=h, sigma=sigma, noise_tau=theta)
    if theta == 0:
        F, Q = np.eye(n) + h * A, sigma**2 * h * np.eye(n)
        full = P
    else:  # the augmented chain, solved directly (Kronecker form) for comparison
        M = np.block([[A, np.eye(n)], [np.zeros((n, n)), -np.eye(n) / theta]])
        F, Q = np.eye(2 * n) + h * M, np.zeros((2 * n, 2 * n))
        Q[n:, n:] = (sigma / theta) ** 2 * h * np.eye(n)
        full = sla.solve_discrete_lyapunov(F, Q, method="direct")
        assert np.allclose(P, full[:n, :n], rtol=1e-10, atol=0)
    if theta == 0:
        assert np.max(np.abs(F @ P @ F.T + Q - P)) <= 1e-12 * np.abs(P).max()
    assert np.array_equal(P, P.T)
    # O(h) above the continuous covariance, and converging to it as h -> 0
    C = noise_covariance(A, sigma=sigma, noise_tau=theta)
    small = euler_covariance(A, h=h / 100, sigma=sigma, noise_tau=theta)
    assert np.max(np.abs(small - C)) < np.max(np.abs(P - C)) / 50


def test_euler_covariance_per_mode_inflation():
    """Symmetric A, white noise: each mode's variance is sigma^2 / (2|l| (1 - h|l|/2))."""
    from plasticsim import euler_covariance

    A = random_stable(12, np.random.default_rng(2), symmetric=True)
    lam, V = np.linalg.eigh(A)
    h = 0.2 / np.abs(lam).max()
    P = euler_covariance(A, h=h, sigma=1.3)
    expected = 1.3**2 / (2 * np.abs(lam) * (1 - h * np.abs(lam) / 2))
    assert np.allclose(np.diag(V.T @ P @ V), expected, rtol=1e-12)
    # the closed form agrees with the general (discrete Lyapunov) path
    general = sla.solve_discrete_lyapunov(np.eye(12) + h * A, 1.3**2 * h * np.eye(12))
    assert np.allclose(P, general, rtol=1e-10, atol=0)


def test_euler_covariance_refuses_an_unstable_chain():
    from plasticsim import euler_covariance

    A = np.array([[-10.0, 1.0], [1.0, -2.0]])
    with pytest.raises(ValueError, match=r"h == 0\.25: the Euler-Maruyama chain has no"):
        euler_covariance(A, h=0.25)  # |1 + 0.25 * (-10.1)| > 1
    with pytest.raises(ValueError, match=r"h == 0\.0, must be > 0"):
        euler_covariance(A, h=0.0)
    with pytest.raises(ValueError, match="no stationary state"):
        euler_covariance(A, h=0.1, noise_tau=0.04)  # |1 - 0.1 / 0.04| > 1
