"""Brian2 model strings of the online network, and validation of Brian2 quantities.

Units (BRIAN2_NOTES.md "Units"). DESIGN.md §1 writes the dynamics in dimensionless time
``s = t / tau``::

    white:  dx/ds = A x + sigma xi(s),                     <xi(s) xi(s')> = delta(s - s')
    OU:     dx/ds = A x + eta,  d eta/ds = (-eta + sigma xi(s)) / theta,  theta = tau_n / tau

so that the stationary covariance solves ``A C + C A^T + sigma^2 I = 0`` (white). In real
time ``t = tau s``: ``dx/dt = (1/tau) dx/ds`` and, because
``delta(s - s') = delta((t - t') / tau) = tau delta(t - t')``, the white noise of unit
intensity in ``s`` is ``xi(s) = sqrt(tau) xi(t)`` with ``xi(t)`` Brian2's ``xi`` (units
``s^-1/2``). Hence

    white:  dx/dt = (A x) / tau + (sigma / tau) sqrt(tau) xi(t)
                  = (A x) / tau + sigma xi / sqrt(tau)
    OU:     dx/dt = (A x + eta) / tau
            deta/dt = (1 / tau) (-eta + sigma sqrt(tau) xi(t)) / theta
                    = (-eta + sigma sqrt(tau) xi_n) / tau_n

with ``A x = -leak x + I_syn`` (``I_syn = sum_j w_ij r_j``). (``sigma sqrt(2 / tau) xi``
would give a lone leaky unit the variance ``sigma^2`` instead of DESIGN's
``sigma^2 / 2``.) Brian2 integrates with Euler-Maruyama (``method="euler"``): with
``h = dt / tau`` one step is ``x <- x + h (A x) + sigma sqrt(h) N(0, I)``, whose stationary
covariance solves ``A C + C A^T + h A C A^T + sigma^2 I = 0`` — the continuous ``C`` up to
a relative ``O(h |lambda|)`` for an eigenvalue ``lambda`` of ``A``.

Rectified units (``nonlinearity="relu"``) follow DESIGN.md §1 and
:func:`plasticsim.dynamics.simulate`: ``tau dx/dt = -leak x + W [x]_+ + b + u``; the rate
``r = [x]_+`` is stored once per step as a neuron variable (a subexpression read as
``r_pre`` would be recomputed per synapse).
"""

from __future__ import annotations

import numbers

import numpy as np
from brian2 import Quantity, have_same_dimensions, second

# Order of the operations within a time step (Brian2 schedule slots, then order):
#   start,  -3 : excitability          gain = g(t - t_sleep)          (sleep schedule)
#   start,  -2 : wake input            I_ext = u(t - t_wake)          (if any)
#   start,  -1 : rectified rate        r = clip(x, 0, inf)            (relu)
#   start,   0 : rate monitor                                         (wake)
#   groups, -2 : trace / sums          trace += ..., rsum += r         (trace clock)
#   groups, -1 : summed recurrent input I_syn = sum_j w r_j           (Brian2's slot)
#   groups,  0 : neuron state update   x <- x + dt f(x, I_syn, ...)
# so that the input, the trace and the monitor all read r(t_n) before x(t_n+1) is made.
EXCITABILITY_SLOT = ("start", -3)
INPUT_SLOT = ("start", -2)
RATE_SLOT = ("start", -1)
MONITOR_SLOT = ("start", 0)
TRACE_SLOT = ("groups", -2)


def neuron_model(*, ou: bool, relu: bool, center: bool) -> str:
    """Equations of the NeuronGroup (see the module docstring for the units)."""
    # gain: the leak factor of an excitability schedule (_schedule.py), 1 outside it
    drive = "-leak*gain*x + I_syn + bias + I_ext"
    if ou:
        lines = [
            f"dx/dt = ({drive} + eta)/tau : 1",
            "deta/dt = (-eta + sigma*sqrt(tau)*xi_n)/tau_n : 1",
        ]
    else:
        lines = [f"dx/dt = ({drive})/tau + sigma*xi/sqrt(tau) : 1"]
    lines += [
        "leak : 1 (constant)",  # > 0; A[i, i] = -leak_i; changed only between runs
        "gain : 1",  # leak factor: 1, or g(t) during a sleep with an excitability schedule
        "bias : 1 (constant)",  # tonic drive b: sets the operating point, on during sleep
        "I_syn : 1",  # target of the summed recurrent input
        "I_ext : 1",  # external (wake) input u, zero during sleep
    ]
    if relu:
        lines.append("r : 1")
    if center:
        lines.append("rsum : 1")  # sum of the rate over the trace samples
    return "\n".join(lines)


def rate_name(relu: bool) -> str:
    """Name of the neuron variable the synapses read (the rate)."""
    return "r" if relu else "x"


def synapse_model(*, relu: bool) -> str:
    """Equations of the Synapses: weight, sign, state, trace and the summed input.

    ``sgn`` is stored once (weights are only ever divided by ``p > 0``, so signs never
    change): computing ``sign(w)`` per synapse per sample is the most expensive part of
    the trace in compiled code (BRIAN2_NOTES.md). The trace is advanced by a separate
    code runner on the trace clock (:func:`trace_code`).
    """
    r = rate_name(relu)
    return "\n".join(
        [
            "w : 1",
            "sgn : 1 (constant)",
            "status : integer (constant)",
            "trace : second",
            f"I_syn_post = w*{r}_pre : 1 (summed)",
        ]
    )


def trace_code(relu: bool) -> str:
    """One trace sample: ``trace += trace_dt |w| (r_post - sgn r_pre)^2``.

    ``trace_dt`` comes from the run namespace: inside code run on a clock other than the
    group's, Brian2's ``dt`` is the group's dt (BRIAN2_NOTES.md), not the sample interval.
    """
    r = rate_name(relu)
    return f"trace += abs(w)*({r}_post - sgn*{r}_pre)**2*trace_dt"


def sum_code(relu: bool) -> str:
    return f"rsum += {rate_name(relu)}"


RATE_CODE = "r = clip(x, 0, inf)"
INPUT_CODE = "I_ext = plasticsim_input(t - t_wake, i)"


def excitability_code(per_neuron: bool) -> str:
    """One step of a sleep schedule: the leak factor at the time since the epoch began."""
    return f"gain = plasticsim_excitability(t - t_sleep{', i' if per_neuron else ''})"


# ------------------------------------------------------------------------ validation


def _fmt(value) -> str:
    if isinstance(value, np.ndarray) and not isinstance(value, Quantity):
        return f"array of shape {value.shape}"
    return repr(value)


def check_time(name: str, value, *, allow_zero: bool = False) -> Quantity:
    """Return ``value`` as a scalar Brian2 time, or raise (``TypeError``/``ValueError``)."""
    if not isinstance(value, Quantity) or not have_same_dimensions(value, second):
        raise TypeError(f"{name} must be a Brian2 time quantity such as 10*ms, got {_fmt(value)}.")
    if np.ndim(value) != 0:
        raise ValueError(f"{name} must be a scalar time, got shape {np.shape(value)}.")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} == {value!r}, must be finite.")
    if allow_zero and not v >= 0:
        raise ValueError(f"{name} == {value!r}, must be >= 0 ms.")
    if not allow_zero and not v > 0:
        raise ValueError(f"{name} == {value!r}, must be > 0 ms.")
    return Quantity(v, dim=second.dim)


def check_fraction(name: str, value) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_fmt(value)}.")
    value = float(value)
    if not 0 <= value <= 1:
        raise ValueError(f"{name} == {value!r}, must be in [0, 1].")
    return value


def check_bool(name: str, value) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {_fmt(value)}.")
    return bool(value)


def check_vector(name: str, value, n: int) -> np.ndarray:
    """A scalar or a length-``n`` real vector, returned as float64 of shape ``(n,)``."""
    if isinstance(value, str | bytes | Quantity):
        raise TypeError(
            f"{name} must be a real scalar or array of shape ({n},), got {_fmt(value)}."
        )
    arr = np.asarray(value)
    if (
        arr.dtype == object
        or not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_))
        or np.iscomplexobj(arr)
    ):
        raise TypeError(f"{name} must be real, got dtype {arr.dtype}.")
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{name} has shape {arr.shape}, must be a scalar or ({n},).")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        i = int(np.argmax(~np.isfinite(arr)))
        raise ValueError(f"{name}[{i}] == {arr[i]!r}, all entries must be finite.")
    return arr


def multiple_of(name: str, value: Quantity, base: Quantity, base_name: str) -> int:
    """``value / base`` as an integer >= 1, or raise if it is not (close to) one."""
    ratio = float(value) / float(base)
    k = int(round(ratio))
    if k < 1 or abs(ratio - k) > 1e-9 * max(1.0, ratio):
        raise ValueError(
            f"{name} == {value!s} must be a positive integer multiple of "
            f"{base_name} == {base!s} (ratio {ratio:.6g})."
        )
    return k
