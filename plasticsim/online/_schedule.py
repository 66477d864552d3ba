r"""Sleep schedules: sweeps of excitability during slow-wave sleep.

During a sleep epoch each neuron's leak may follow a factor of time,

.. math:: \mathrm{leak}_{\mathrm{eff}, i}(t) = \mathrm{leak}_i \, g_i(t - t_0),

with ``t_0`` the start of the epoch (burn-in included): a slow alternation of up states
(the rest excitability, ``g ~ 1``) and down states (hyperpolarised, a larger leak, in
which ``-A`` becomes diagonally dominant, the regime where the rule is provably safe).
The traces are measured under the modulated dynamics, so ``trace / T`` is the
time-average of ``|w| (x_i - sgn x_j)^2`` over the schedule; after the epoch the factor
returns to 1 and the matched homeostatic change of the decisions applies to the rest
leak. :class:`UpDown` is the square-wave schedule; any function of time or a Brian2
``TimedArray`` may be given instead (:func:`resolve`).

In Brian2 the factor is a neuron variable ``gain`` (``dx/dt = (-leak*gain*x + ...)/tau``)
set at every step, for the epoch only, from a ``TimedArray`` by a code runner; outside
such an epoch ``gain == 1``.

References
----------
.. [1] M. Steriade, A. Nunez, F. Amzica, "A novel slow (< 1 Hz) oscillation of neocortical
   neurons in vivo: depolarizing and hyperpolarizing components", J. Neurosci. 13 (1993).
.. [2] G. Tononi, C. Cirelli, "Sleep and the price of plasticity", Neuron 81 (2014).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from brian2 import Quantity, TimedArray, have_same_dimensions, second
from brian2.units.fundamentalunits import DIMENSIONLESS

from . import _model

__all__ = ["UpDown", "resolve"]


@dataclass(frozen=True)
class UpDown:
    """Square-wave excitability: up and down states alternating with a period.

    The leak factor is ``up`` for the first ``(1 - down_fraction) period`` of every
    period (counted from the start of the sleep epoch) and ``down`` for the rest:
    ``leak_eff = leak * up`` in up states, ``leak * down`` in down states.

    Parameters
    ----------
    period : brian2 time > 0
        One up state and one down state.
    up : float > 0, default=1.0
        Leak factor of the up states (1: the rest excitability).
    down : float > 0, default=3.0
        Leak factor of the down states (> 1: hyperpolarised, less excitable).
    down_fraction : float in [0, 1], default=0.5
        Fraction of each period spent in the down state.

    Examples
    --------
    >>> from brian2 import ms
    >>> s = UpDown(100 * ms, up=1.0, down=4.0)
    >>> [float(s(t * ms)) for t in (0, 49.9, 50, 99.9, 100)]
    [1.0, 1.0, 4.0, 4.0, 1.0]
    """

    period: Quantity
    up: float = 1.0
    down: float = 3.0
    down_fraction: float = 0.5

    def __post_init__(self):
        object.__setattr__(self, "period", _model.check_time("period", self.period))
        for name in ("up", "down"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name} must be a real number, got {value!r}.")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} == {value!r}, a leak factor must be finite and > 0.")
            object.__setattr__(self, name, float(value))
        object.__setattr__(
            self, "down_fraction", _model.check_fraction("down_fraction", self.down_fraction)
        )

    def __call__(self, t):
        """The leak factor at times ``t`` (brian2 times from the start of the epoch)."""
        phase = np.mod(np.asarray(t / second, dtype=np.float64), float(self.period))
        # A small tolerance so that sampled times on a switch (k dt == period / 2) fall
        # on the side the exact time is on, whatever the rounding of k * dt.
        switch = (1.0 - self.down_fraction) * float(self.period)
        down = phase >= switch - 1e-9 * float(self.period)
        return np.where(down, self.down, self.up)

    def mean(self) -> float:
        """Time-average of the leak factor over a period."""
        return (1 - self.down_fraction) * self.up + self.down_fraction * self.down


def _check_values(values: np.ndarray, n: int, what: str) -> np.ndarray:
    if values.dtype == object or not np.issubdtype(values.dtype, np.number):
        raise TypeError(f"excitability: {what} must be real numbers, got dtype {values.dtype}.")
    if np.iscomplexobj(values):
        raise TypeError(f"excitability: {what} must be real, got dtype {values.dtype}.")
    values = values.astype(np.float64)
    if values.ndim not in (1, 2) or (values.ndim == 2 and values.shape[1] != n):
        raise ValueError(
            f"excitability: {what} has shape {values.shape}, must be (steps,) (one factor for "
            f"every neuron) or (steps, {n}) (one per neuron)."
        )
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        k = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), values.shape))
        raise ValueError(
            f"excitability: {what}{list(k)} == {float(values[k])!r}; every leak factor "
            "must be finite and > 0."
        )
    return values


def resolve(
    excitability, *, n: int, dt: Quantity, duration: Quantity, name: str, cover=None
) -> TimedArray:
    """The schedule as a dimensionless ``TimedArray``, validated, covering ``duration``.

    A given ``TimedArray`` must cover ``cover`` (default ``duration``): the sleep as asked.
    The simulated sleep can be longer by less than one ``trace_dt`` (its window starts on
    the sample grid); Brian2's ``TimedArray`` holds its last value there.

    ``excitability`` is an :class:`UpDown`, a callable ``g(t)`` of a brian2 time array
    (from the start of the epoch) returning factors of shape ``(len(t),)`` or
    ``(len(t), n)``, or a ``TimedArray`` of such factors (used as it is, read at
    ``t - t_0``). Functions are sampled at every step ``dt`` over ``duration`` (one
    float per step, per neuron for a 2-D result). Raises ``TypeError``/``ValueError``
    naming what is wrong.
    """
    if isinstance(excitability, TimedArray):
        if not have_same_dimensions(excitability.dim, DIMENSIONLESS):
            raise ValueError(
                f"excitability must be dimensionless leak factors, got a TimedArray of "
                f"dimensions {excitability.dim}."
            )
        values = _check_values(np.asarray(excitability.values), n, "the TimedArray's values")
        covered = values.shape[0] * float(excitability.dt)
        need = duration if cover is None else cover
        if covered < float(need) * (1 - 1e-9):
            raise ValueError(
                f"excitability covers {covered * second!s}, shorter than the sleep "
                f"duration == {need!s}."
            )
        return excitability
    if not callable(excitability):
        raise TypeError(
            "excitability must be None, plasticsim.online.UpDown(...), a callable g(t) of "
            f"time or a brian2 TimedArray, got {excitability!r}."
        )
    steps = int(math.ceil(float(duration) / float(dt) - 1e-9)) + 1
    t = np.arange(steps) * float(dt) * second
    values = np.asarray(excitability(t))
    if values.ndim == 0:
        values = np.full(steps, float(values))
    if values.shape[:1] != (steps,):
        raise ValueError(
            f"excitability(t) returned shape {values.shape} for {steps} times, must be "
            f"({steps},) or ({steps}, {n})."
        )
    values = _check_values(values, n, "g(t)")
    return TimedArray(values, dt=dt, name=f"{name}_excitability_values")


def extremes(timed: TimedArray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each neuron's smallest and largest leak factor over the schedule."""
    values = np.asarray(timed.values, dtype=np.float64)
    if values.ndim == 1:
        return np.full(n, values.min()), np.full(n, values.max())
    return values.min(axis=0), values.max(axis=0)
