"""Vectorised numpy reference simulation of noise-driven rate networks.

Dimensionless time ``s = t / tau`` (DESIGN.md §1). Linear network:

    dx = (A x + u(s)) ds + sigma dB(s),

rectified network (``nonlinearity="relu"``), with ``D = -diag(A)`` and ``W`` the
off-diagonal part of ``A``:

    dx = (-D x + W [x]_+ + u(s)) ds + sigma dB(s),

``B`` a standard Brownian motion, independent across neurons. Both are integrated with
Euler-Maruyama; every trial advances at once (state of shape ``(trials, n)``, one matrix
product per step), so the cost is ``O(n_steps * trials * n^2)`` with no Python loop over
neurons or trials.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._validation import (
    STREAM_DYNAMICS,
    check_choice,
    check_integer,
    check_matrix,
    check_nonnegative,
    check_positive,
    check_rng,
)

__all__ = ["simulate", "trajectory_error", "Trajectory", "TrajectoryError"]

_NONLINEARITIES = (None, "relu")
# Noise is drawn in blocks of steps of at most this many numbers; the stream is the same
# as one ``standard_normal((trials, n))`` per step (numpy fills arrays in C order).
_NOISE_BLOCK = 1 << 16


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Outcome of :func:`simulate`.

    Attributes
    ----------
    times : ndarray of shape (n_rec,)
        Recorded times in units of tau, ``0, record_every * dt, ...``.
    x : ndarray of shape (trials, n_rec, n)
        State at the recorded times (``x[:, 0]`` is the initial state).
    seed : int
        Seed of the noise; ``simulate(..., rng=seed)`` repeats the run bit for bit.
    """

    times: np.ndarray
    x: np.ndarray
    seed: int


@dataclass(frozen=True, eq=False)
class TrajectoryError:
    """Outcome of :func:`trajectory_error`.

    Attributes
    ----------
    times : ndarray of shape (n_rec,)
    errors : ndarray of shape (trials, n_rec)
        Relative error ``||x_B(s) - x_A(s)|| / ||x_A(s)||`` of every trial.
    mean, std : ndarray of shape (n_rec,)
        Mean and (population) standard deviation of ``errors`` over trials.
    seed : int
    """

    times: np.ndarray
    errors: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    seed: int


# --------------------------------------------------------------------------- validation


def _check_array(name: str, value) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real array: {exc}") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite entries; all entries must be finite.")
    return arr


def _check_x0(x0, trials: int, n: int) -> np.ndarray:
    if x0 is None:
        return np.zeros((trials, n))
    x0 = _check_array("x0", x0)
    if x0.shape not in ((n,), (trials, n)):
        raise ValueError(
            f"x0 has shape {x0.shape}, must be (n,) == {(n,)} or (trials, n) == {(trials, n)}."
        )
    return np.array(np.broadcast_to(x0, (trials, n)))


def _check_inputs(inputs, n_steps: int, n: int):
    """``None``, a callable, or a float64 array of shape (n,) or (n_steps, n)."""
    if inputs is None or callable(inputs):
        return inputs
    arr = _check_array("inputs", inputs)
    if arr.shape not in ((n,), (n_steps, n)):
        raise ValueError(
            f"inputs has shape {arr.shape}, must be (n,) == {(n,)} (constant) or "
            f"(n_steps, n) == {(n_steps, n)} (one row per step), or a callable u(s)."
        )
    return arr


def _input_at(inputs, k: int, s: float, trials: int, n: int):
    if inputs is None:
        return None
    if callable(inputs):
        u = _check_array("inputs(s)", inputs(s))
        if u.shape not in ((n,), (trials, n)):
            raise ValueError(
                f"inputs(s) returned shape {u.shape} at s == {s!r}, must be (n,) == {(n,)} "
                f"or (trials, n) == {(trials, n)}."
            )
        return u
    return inputs if inputs.ndim == 1 else inputs[k]


def _setup(A, duration, dt, sigma, x0, inputs, nonlinearity, trials, rng, record_every):
    A = check_matrix(A, "A")
    n = A.shape[0]
    duration = check_positive("duration", duration)
    dt = check_positive("dt", dt)
    if dt > duration:
        raise ValueError(f"dt == {dt!r}, must be <= duration == {duration!r}.")
    sigma = check_nonnegative("sigma", sigma)
    trials = check_integer("trials", trials, 1)
    record_every = check_integer("record_every", record_every, 1)
    check_choice("nonlinearity", nonlinearity, _NONLINEARITIES)
    n_steps = max(1, round(duration / dt))
    x0 = _check_x0(x0, trials, n)
    inputs = _check_inputs(inputs, n_steps, n)
    seed, gen = check_rng(rng, STREAM_DYNAMICS)
    return A, n, dt, sigma, x0, inputs, trials, record_every, n_steps, seed, gen


# --------------------------------------------------------------------------- engine


def _integrate(mats, x0, *, dt, sigma, inputs, relu, n_steps, record_every, gen):
    """Euler-Maruyama for one or more connectivities under the same noise and inputs.

    Returns the recorded times and one array of shape (trials, n_rec, n) per matrix.
    """
    trials, n = x0.shape
    n_rec = n_steps // record_every + 1
    if relu:
        leaks = [np.diag(M).copy() for M in mats]
        mats = [M - np.diag(np.diag(M)) for M in mats]
    transposed = [np.ascontiguousarray(M.T) for M in mats]
    states = [x0.copy() for _ in mats]
    records = [np.empty((trials, n_rec, n)) for _ in mats]
    for rec, x in zip(records, states, strict=True):
        rec[:, 0] = x
    noise_scale = sigma * math.sqrt(dt)
    block = max(1, _NOISE_BLOCK // (trials * n))
    xi = None
    for k in range(n_steps):
        if sigma > 0 and k % block == 0:
            xi = gen.standard_normal((min(block, n_steps - k), trials, n))
            xi *= noise_scale
        u = _input_at(inputs, k, k * dt, trials, n)
        for m, x in enumerate(states):
            if relu:
                drift = np.maximum(x, 0.0) @ transposed[m]
                drift += leaks[m] * x
            else:
                drift = x @ transposed[m]
            if u is not None:
                drift += u
            drift *= dt
            x += drift
            if xi is not None:
                x += xi[k % block]
        if (k + 1) % record_every == 0:
            r = (k + 1) // record_every
            for rec, x in zip(records, states, strict=True):
                rec[:, r] = x
    times = np.arange(n_rec) * (record_every * dt)
    return times, records


# --------------------------------------------------------------------------- public


def simulate(
    A,
    *,
    duration,
    dt,
    sigma,
    x0=None,
    inputs=None,
    nonlinearity=None,
    trials=1,
    rng=None,
    record_every=1,
):
    r"""Simulate a noise-driven rate network with Euler-Maruyama.

    Linear (``nonlinearity=None``) and rectified (``nonlinearity="relu"``) dynamics in
    units of the membrane time constant:

    .. math::

        dx &= (A x + u(s))\, ds + \sigma\, dB(s), \\
        dx &= (-D x + W [x]_+ + u(s))\, ds + \sigma\, dB(s),

    with ``D = -diag(A)`` and ``W`` the off-diagonal part of ``A``. One step of size
    ``h = dt`` is

    .. math:: x_{k+1} = x_k + h\, f(x_k, u_k) + \sigma \sqrt{h}\, \xi_k, \qquad
              \xi_k \sim \mathcal{N}(0, I).

    Parameters
    ----------
    A : array_like of shape (n, n)
        Connectivity, ``A[i, j]`` from ``j`` onto ``i``, leak on the diagonal. It need not
        be stable (this is a simulator), but an unstable linear network diverges.
    duration : float > 0
        Length of the run in units of tau; the run has ``n_steps = round(duration / dt)``
        steps and ends at ``n_steps * dt``.
    dt : float in (0, duration]
        Time step in units of tau.
    sigma : float >= 0
        Noise amplitude per neuron (``0``: deterministic, no random numbers drawn).
    x0 : array_like of shape (n,) or (trials, n), default=None
        Initial state (zeros when omitted).
    inputs : None, array_like or callable, default=None
        External input ``u``: a constant vector of shape ``(n,)``, an array of shape
        ``(n_steps, n)`` whose row ``k`` drives step ``k`` (from ``k dt`` to
        ``(k + 1) dt``), or a callable ``u(s)`` returning shape ``(n,)`` or ``(trials, n)``,
        evaluated at the start of every step.
    nonlinearity : {None, "relu"}, default=None
        ``"relu"`` rectifies the recurrent input (rates ``r = [x]_+``), not the leak.
    trials : int >= 1, default=1
        Independent noise realisations, advanced together.
    rng : None, int or numpy.random.Generator, default=None
    record_every : int >= 1, default=1
        Record the state every this many steps (the initial state is always recorded).

    Returns
    -------
    Trajectory
        ``times`` of shape ``(n_rec,)``, ``x`` of shape ``(trials, n_rec, n)`` with
        ``n_rec = n_steps // record_every + 1``, and the ``seed``.

    Notes
    -----
    ``O(n_steps * trials * n^2)`` time (one ``(trials, n) @ (n, n)`` product per step),
    ``O(trials * n_rec * n)`` memory. The noise of step ``k`` is
    ``standard_normal((trials, n)) * sqrt(dt)``, drawn step after step from the dynamics
    stream of ``seed`` (``SeedSequence(seed, spawn_key=(STREAM_DYNAMICS,))``, independent
    of the streams the network generators and the sampler derive from the same seed), so
    a run is reproducible bit for bit.

    Euler-Maruyama is weakly first order: for ``dx = -a x ds + sigma dB`` its stationary
    variance is ``sigma^2 / (a (2 - a h))`` rather than ``sigma^2 / (2 a)``, a relative
    bias of about ``a h / 2``; keep ``dt`` well below the fastest time scale of ``A``.

    See Also
    --------
    trajectory_error : the same run for two networks under identical noise.
    plasticsim.noise_covariance : the exact stationary covariance of the linear network.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[-1.0, 0.5], [0.5, -1.0]])
    >>> traj = simulate(A, duration=1.0, dt=0.01, sigma=0.0, x0=[1.0, 0.0])
    >>> traj.x.shape, traj.times[-1]
    ((1, 101, 2), np.float64(1.0))
    >>> from scipy.linalg import expm
    >>> bool(np.allclose(traj.x[0, -1], expm(A) @ [1.0, 0.0], atol=1e-2))
    True
    >>> noisy = simulate(A, duration=1.0, dt=0.01, sigma=0.5, trials=3, rng=0)
    >>> bool(np.array_equal(noisy.x, simulate(A, duration=1.0, dt=0.01, sigma=0.5,
    ...                                       trials=3, rng=noisy.seed).x))
    True
    """
    A, n, dt, sigma, x0, inputs, trials, record_every, n_steps, seed, gen = _setup(
        A, duration, dt, sigma, x0, inputs, nonlinearity, trials, rng, record_every
    )
    times, (x,) = _integrate(
        [A],
        x0,
        dt=dt,
        sigma=sigma,
        inputs=inputs,
        relu=nonlinearity == "relu",
        n_steps=n_steps,
        record_every=record_every,
        gen=gen,
    )
    return Trajectory(times=times, x=x, seed=seed)


def trajectory_error(
    A,
    B,
    *,
    duration,
    dt,
    sigma,
    x0=None,
    inputs=None,
    nonlinearity=None,
    trials=1,
    rng=None,
    record_every=1,
):
    r"""Relative distance between the trajectories of two networks under identical noise.

    Both networks start from the same ``x0`` and are advanced in one loop with the same
    noise increments and inputs (so ``trajectory_error(A, B, rng=s)`` sees exactly the
    noise of ``simulate(A, rng=s)`` and ``simulate(B, rng=s)``). The error of a trial is

    .. math:: e(s) = \frac{\lVert x_B(s) - x_A(s) \rVert}{\lVert x_A(s) \rVert},

    the relative trajectory error of Moore & Chaudhuri (Euclidean norms over neurons).

    Parameters
    ----------
    A : array_like of shape (n, n)
        Reference network (e.g. the original).
    B : array_like of shape (n, n)
        Compared network (e.g. the pruned one).
    duration, dt, sigma, x0, inputs, nonlinearity, trials, rng, record_every
        As in :func:`simulate`.

    Returns
    -------
    TrajectoryError
        ``times``, ``errors`` of shape ``(trials, n_rec)``, their ``mean`` and ``std``
        over trials, and the ``seed``.

    Notes
    -----
    Where ``||x_A(s)|| == 0`` (e.g. at ``s = 0`` with ``x0 = 0``) the pointwise ratio is
    undefined; there the denominator is replaced by the RMS norm of ``x_A`` over the
    recorded times of that trial, ``sqrt(mean_s ||x_A(s)||^2)``. If ``x_A`` is zero at
    every recorded time the error is ``0`` where ``x_B`` equals ``x_A`` and ``inf``
    elsewhere (``mean`` is then ``inf`` and ``std`` ``nan`` at that time). Cost: twice
    that of :func:`simulate`.

    References
    ----------
    .. [1] E. Moore, R. Chaudhuri, "Using noise to probe recurrent neural network
       structure and prune synapses", NeurIPS 2020, arXiv:2011.07334.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[-1.0, 0.5], [0.5, -1.0]])
    >>> res = trajectory_error(A, A, duration=2.0, dt=0.01, sigma=0.3, trials=4, rng=0)
    >>> res.errors.shape, float(res.errors.max())
    ((4, 201), 0.0)
    >>> B = np.array([[-1.0, 0.45], [0.45, -1.0]])
    >>> res = trajectory_error(A, B, duration=2.0, dt=0.01, sigma=0.3, x0=[1.0, 1.0], rng=0)
    >>> bool(0 < res.mean[-1] < 0.5)
    True
    """
    A = check_matrix(A, "A")
    B = check_matrix(B, "B")
    if B.shape != A.shape:
        raise ValueError(f"B has shape {B.shape}, must match A's shape {A.shape}.")
    # _setup validates everything else and draws from rng last
    A, n, dt, sigma, x0, inputs, trials, record_every, n_steps, seed, gen = _setup(
        A, duration, dt, sigma, x0, inputs, nonlinearity, trials, rng, record_every
    )
    times, (xa, xb) = _integrate(
        [A, B],
        x0,
        dt=dt,
        sigma=sigma,
        inputs=inputs,
        relu=nonlinearity == "relu",
        n_steps=n_steps,
        record_every=record_every,
        gen=gen,
    )
    diff = np.linalg.norm(xb - xa, axis=2)
    ref = np.linalg.norm(xa, axis=2)
    rms = np.sqrt(np.mean(ref**2, axis=1, keepdims=True))
    denom = np.where(ref > 0, ref, np.broadcast_to(rms, ref.shape))
    errors = np.zeros_like(diff)
    np.divide(diff, denom, out=errors, where=denom > 0)
    errors[(denom == 0) & (diff > 0)] = np.inf
    with np.errstate(invalid="ignore"):  # inf errors give an inf mean and a nan std
        mean, std = errors.mean(axis=0), errors.std(axis=0)
    return TrajectoryError(
        times=times,
        errors=errors,
        mean=mean,
        std=std,
        seed=seed,
    )
