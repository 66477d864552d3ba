"""Stationary covariance of a noise-driven linear rate network.

Time is measured in units of the membrane time constant, ``s = t / tau``:

- white noise: ``dx/ds = A x + sigma xi(s)``; the stationary covariance ``C`` solves the
  Lyapunov equation ``A C + C A^T + sigma^2 I = 0``;
- Ornstein-Uhlenbeck noise with correlation time ``theta = noise_tau`` (also in units of
  tau): ``dx/ds = A x + eta``, ``d eta/ds = (-eta + sigma xi) / theta``. ``C`` is the
  x-block of the stationary covariance of the augmented system ``(x, eta)``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from ._validation import (
    check_choice,
    check_integer,
    check_matrix,
    check_nonnegative,
    check_positive,
    is_symmetric,
    unstable_error,
)

__all__ = ["noise_covariance", "euler_covariance", "empirical_covariance"]

_STRUCTURES = ("auto", "symmetric", "general")


def noise_covariance(A, *, sigma=1.0, noise_tau=0.0, structure="auto"):
    r"""Stationary covariance of ``dx/ds = A x + noise``.

    White noise (``noise_tau == 0``) solves

    .. math:: A C + C A^T + \sigma^2 I = 0,

    Ornstein-Uhlenbeck noise with correlation time ``theta = noise_tau > 0`` returns the
    x-block of the stationary covariance of

    .. math:: dx/ds = A x + \eta, \qquad d\eta/ds = (-\eta + \sigma \xi) / \theta,

    which has the same integrated intensity ``sigma**2`` and tends to the white-noise
    covariance as ``theta -> 0``.

    Parameters
    ----------
    A : array_like of shape (n, n)
        Connectivity with the leak on the diagonal; ``A[i, j]`` is the synapse from ``j``
        onto ``i``. Every eigenvalue must have negative real part.
    sigma : float, default=1.0
        Noise amplitude (per neuron, independent across neurons).
    noise_tau : float, default=0.0
        Noise correlation time in units of the membrane time constant; 0 is white noise.
    structure : {"auto", "symmetric", "general"}, default="auto"
        ``"symmetric"`` uses a Cholesky factorisation of ``-A`` (no eigen-decomposition,
        no Lyapunov solver); ``"general"`` uses Bartels-Stewart (real Schur form and
        LAPACK ``trsyl``). ``"auto"`` picks ``"symmetric"`` when ``A`` is symmetric.

    Returns
    -------
    C : ndarray of shape (n, n)
        Symmetric positive definite stationary covariance.

    Raises
    ------
    ValueError
        If ``A`` is not square and finite, not stable, or ``structure="symmetric"`` is
        asked of an asymmetric ``A``.

    See Also
    --------
    scipy.linalg.solve_continuous_lyapunov : the bare solver of the general path.

    Notes
    -----
    Symmetric ``A``: ``C = sigma^2 (-A)^{-1} / 2`` for white noise and
    ``C = sigma^2 (-A)^{-1} (I - theta A)^{-1} / 2`` for OU noise (both factors commute),
    from the LAPACK Cholesky inverse (``potrf`` + ``potri``): about ``n^3`` flops.
    A failed factorisation is exactly the test that ``-A`` is not positive definite, i.e.
    that ``A`` is unstable.

    General ``A``: one real Schur decomposition ``A = U T U^T`` (about ``25 n^3`` flops),
    whose diagonal blocks also give the stability check for free, then ``trsyl``. With
    ``Q = sigma^2 I`` the right-hand side ``U^T Q U`` is ``Q`` itself, so this path costs
    at most what :func:`scipy.linalg.solve_continuous_lyapunov` costs. For OU noise the
    augmented system is block upper-triangular, and its Lyapunov equation splits exactly:
    ``Sigma_eta = sigma^2 / (2 theta) I``, ``Sigma_x_eta = -(sigma^2 / (2 theta))
    (A - I / theta)^{-1}``, and ``A C + C A^T + Sigma_x_eta + Sigma_x_eta^T = 0`` — one
    linear solve and one Lyapunov solve of size ``n`` instead of one of size ``2 n``.

    References
    ----------
    .. [1] E. Moore, R. Chaudhuri, "Using noise to probe recurrent neural network
       structure and prune synapses", NeurIPS 2020, arXiv:2011.07334.
    .. [2] R. H. Bartels, G. W. Stewart, "Solution of the matrix equation AX + XB = C",
       Comm. ACM 15(9), 1972.

    Examples
    --------
    >>> import numpy as np
    >>> from plasticsim import noise_covariance
    >>> A = np.array([[-2.0, 0.5], [0.3, -1.0]])
    >>> C = noise_covariance(A, sigma=0.5)
    >>> bool(np.allclose(A @ C + C @ A.T + 0.25 * np.eye(2), 0))
    True
    >>> S = np.array([[-2.0, 0.5], [0.5, -1.0]])
    >>> bool(np.allclose(noise_covariance(S), noise_covariance(S, structure="general")))
    True
    """
    A = check_matrix(A, "A")
    sigma = check_positive("sigma", sigma)
    theta = check_nonnegative("noise_tau", noise_tau)
    check_choice("structure", structure, _STRUCTURES)
    symmetric = is_symmetric(A)
    if structure == "symmetric" and not symmetric:
        dev = float(np.max(np.abs(A - A.T)))
        raise ValueError(
            f"structure='symmetric' but A is not symmetric: max |A - A.T| == {dev:.3g}."
        )
    if structure == "general" or not symmetric:
        return _general(A, sigma, theta)
    return _symmetric(A, sigma, theta)


def _spd_inverse(M: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Inverse of the symmetric positive definite ``M`` through its Cholesky factor.

    ``A`` is only used for the error message when ``M = -A`` is not positive definite.
    """
    c, info = lapack.dpotrf(M, lower=False, clean=False, overwrite_a=False)
    if info > 0:
        raise unstable_error(A)
    if info < 0:  # pragma: no cover - argument error inside LAPACK
        raise ValueError(f"LAPACK dpotrf: illegal value in argument {-info}.")
    inv, info = lapack.dpotri(c, lower=False, overwrite_c=True)
    if info != 0:  # pragma: no cover - cannot happen after a successful dpotrf
        raise ValueError(f"LAPACK dpotri failed with info={info}.")
    # potri fills the upper triangle only; mirror it.
    upper = np.triu(inv)
    return upper + np.triu(inv, 1).T


def _symmetric(A: np.ndarray, sigma: float, theta: float) -> np.ndarray:
    n = A.shape[0]
    inv = _spd_inverse(-A, A)
    if theta == 0:
        inv *= 0.5 * sigma**2
        return inv
    # (I - theta A) is SPD when A is negative definite; the factors commute.
    other = _spd_inverse(np.eye(n) - theta * A, A)
    C = inv @ other
    C = 0.5 * (C + C.T)
    C *= 0.5 * sigma**2
    return C


def _schur_stable(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    T, U = sla.schur(A, output="real", check_finite=False)
    # Eigenvalues of a real quasi-triangular T: its diagonal gives the real parts of all
    # eigenvalues (a 2x2 block of a complex pair has equal diagonal entries).
    abscissa = float(np.max(np.diag(T)))
    if not abscissa < 0:
        raise unstable_error(A, abscissa=abscissa)
    return T, U


def _lyapunov_schur(T: np.ndarray, U: np.ndarray, Q: np.ndarray | None, q: float) -> np.ndarray:
    """Solve ``A X + X A^T = -(Q or q I)`` given the real Schur form ``A = U T U^T``."""
    F = -q * np.eye(T.shape[0]) if Q is None else -(U.T @ Q @ U)
    trsyl = lapack.get_lapack_funcs("trsyl", (T, F))
    Y, scale, info = trsyl(T, T, F, tranb="T")
    if info < 0:  # pragma: no cover - argument error inside LAPACK
        raise ValueError(f"LAPACK trsyl: illegal value in argument {-info}.")
    if info > 0:  # pragma: no cover - only for eigenvalues summing to ~0; A is stable
        raise ValueError("LAPACK trsyl: A and -A^T have (nearly) common eigenvalues.")
    # trsyl solves T Y + Y T^T = scale * F (scale <= 1 guards against overflow), so the
    # solution of the unscaled equation is Y / scale.
    Y /= scale
    X = U @ Y @ U.T
    return 0.5 * (X + X.T)


def _general(A: np.ndarray, sigma: float, theta: float) -> np.ndarray:
    T, U = _schur_stable(A)
    if theta == 0:
        return _lyapunov_schur(T, U, None, sigma**2)
    n = A.shape[0]
    # Augmented system, block upper-triangular:  M = [[A, I], [0, -I/theta]],
    # noise only on eta with intensity sigma^2 / theta^2. Its Lyapunov equation in blocks:
    #   eta-eta: -2/theta S_ee + sigma^2/theta^2 I = 0   -> S_ee = sigma^2/(2 theta) I
    #   x-eta:   A S_xe - S_xe/theta + S_ee = 0           -> S_xe = -(A - I/theta)^{-1} S_ee
    #   x-x:     A C + C A^T + S_xe + S_xe^T = 0
    s_ee = sigma**2 / (2.0 * theta)
    S_xe = -s_ee * sla.solve(A - np.eye(n) / theta, np.eye(n), check_finite=False)
    return _lyapunov_schur(T, U, S_xe + S_xe.T, 0.0)


def euler_covariance(A, *, h, sigma=1.0, noise_tau=0.0):
    r"""Stationary covariance of the Euler-Maruyama chain of ``dx/ds = A x + noise``.

    A simulation with step ``h = dt / tau`` (the online simulator, Brian2's
    ``method="euler"``, and :func:`plasticsim.dynamics.simulate`) samples the chain

    .. math:: x_{k+1} = (I + h A)\, x_k + \sigma \sqrt{h}\, \xi_k,

    whose stationary covariance ``P`` solves the discrete Lyapunov equation
    ``P = F P F^T + sigma^2 h I`` with ``F = I + h A``, i.e.

    .. math:: A P + P A^T + h\, A P A^T + \sigma^2 I = 0 .

    It tends to :func:`noise_covariance` as ``h -> 0``. For OU noise
    (``theta = noise_tau > 0``) the chain is that of ``z = (x, eta)``:
    ``z <- (I + h M) z + (0, sigma sqrt(h) / theta xi)`` with
    ``M = [[A, I], [0, -I / theta]]``, and ``P`` is its x-block.

    Parameters
    ----------
    A : array_like of shape (n, n)
        Connectivity with the leak on the diagonal (row = postsynaptic).
    h : float
        Time step in units of the membrane time constant, ``dt / tau``.
    sigma : float, default=1.0
        Noise amplitude.
    noise_tau : float, default=0.0
        Noise correlation time in units of tau; 0 is white noise.

    Returns
    -------
    P : ndarray of shape (n, n)

    Raises
    ------
    ValueError
        If the chain has no stationary state: some ``|1 + h lambda| >= 1`` for an
        eigenvalue ``lambda`` of ``A`` (or ``-1 / noise_tau``).

    Notes
    -----
    For a mode ``lambda`` of a symmetric ``A`` (white noise) the chain's variance is
    ``sigma^2 / (2 |lambda| (1 - h |lambda| / 2))``: the continuous value inflated by
    ``1 / (1 - h |lambda| / 2)``. A score ``|a| b^T P b`` is a positive mixture of the
    modes' variances, so its Euler-Maruyama bias is a weighted average of these factors.
    Symmetric ``A`` with white noise uses ``P = (sigma^2 / 2) (-A)^{-1} (I + h A / 2)^{-1}``
    (both factors commute); otherwise :func:`scipy.linalg.solve_discrete_lyapunov`
    (bilinear transformation to a continuous Lyapunov equation) on ``F``, of size ``n``
    (white) or ``2 n`` (OU). One eigen-decomposition checks the chain's stability;
    ``O(n^3)`` in all.

    References
    ----------
    .. [1] P. E. Kloeden, E. Platen, "Numerical Solution of Stochastic Differential
       Equations", Springer 1992, Ch. 9 (Euler-Maruyama) and 17 (weak bias of
       stationary moments).

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[-2.0, 0.5], [0.3, -1.0]])
    >>> P = euler_covariance(A, h=0.1, sigma=0.5)
    >>> F = np.eye(2) + 0.1 * A
    >>> bool(np.allclose(F @ P @ F.T + 0.25 * 0.1 * np.eye(2), P))
    True
    >>> a = np.array([[-2.0]])  # one mode: sigma^2 / (2 |a| (1 - h |a| / 2))
    >>> float(euler_covariance(a, h=0.1)[0, 0]), 1 / (2 * 2 * (1 - 0.1))
    (0.2777777777777778, 0.2777777777777778)
    """
    A = check_matrix(A, "A")
    h = check_positive("h", h)
    sigma = check_positive("sigma", sigma)
    theta = check_nonnegative("noise_tau", noise_tau)
    n = A.shape[0]
    symmetric = is_symmetric(A)
    lam = np.linalg.eigvalsh(A) if symmetric else np.linalg.eigvals(A)
    rates = lam.astype(complex)
    if theta > 0:
        rates = np.append(rates, -1.0 / theta)
    growth = np.abs(1.0 + h * rates)
    if not np.all(growth < 1.0):
        worst = complex(rates[int(np.argmax(growth))])
        raise ValueError(
            f"h == {h!r}: the Euler-Maruyama chain has no stationary state, "
            f"|1 + h lambda| == {float(growth.max()):.4g} >= 1 for lambda == {worst:.4g} "
            "(eigenvalue of A, or -1/noise_tau); it needs |1 + h lambda| < 1 for all."
        )
    if symmetric and theta == 0:
        return 0.5 * sigma**2 * _spd_inverse(-A - 0.5 * h * A @ A, A)
    if theta == 0:
        F, Q = np.eye(n) + h * A, sigma**2 * h * np.eye(n)
    else:
        M = np.block([[A, np.eye(n)], [np.zeros((n, n)), -np.eye(n) / theta]])
        F = np.eye(2 * n) + h * M
        Q = np.zeros((2 * n, 2 * n))
        Q[n:, n:] = (sigma / theta) ** 2 * h * np.eye(n)
    P = sla.solve_discrete_lyapunov(F, Q, method="bilinear")[:n, :n]
    return 0.5 * (P + P.T)


def empirical_covariance(X, *, burn_in=0):
    """Sample covariance of recorded activity, one row per time step.

    Parameters
    ----------
    X : array_like of shape (n_steps, n) or (trials, n_steps, n)
        Recorded rates; several trials are pooled (each centred on its own mean).
    burn_in : int, default=0
        Number of leading steps of each trial to discard.

    Returns
    -------
    C : ndarray of shape (n, n)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((20000, 2))
    >>> bool(np.allclose(empirical_covariance(X), np.eye(2), atol=0.05))
    True
    """
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"X must be an array of real numbers: {exc}") from exc
    if not np.all(np.isfinite(X)):
        raise ValueError("X has a non-finite entry; recorded rates must be finite.")
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3:
        raise ValueError(f"X has shape {X.shape}, must be (n_steps, n) or (trials, n_steps, n).")
    burn_in = check_integer("burn_in", burn_in, 0)
    X = X[:, burn_in:, :]
    if X.shape[1] < 2:
        raise ValueError(
            f"burn_in == {burn_in!r} leaves {X.shape[1]} steps per trial, need at least 2."
        )
    Xc = X - X.mean(axis=1, keepdims=True)
    flat = Xc.reshape(-1, X.shape[2])
    return flat.T @ flat / (flat.shape[0] - X.shape[0])
