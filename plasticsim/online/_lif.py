"""Brian2 model strings, defaults and unit checks of the spiking online network.

Leaky integrate-and-fire neurons with current-based exponential synapses (potentials
relative to rest, every current in mV)::

    tau_m dv/dt   = (E_L - v) + mu + I_syn + I_ext + I_noise      (v clamped while refractory)
    tau_s dI_syn/dt = -I_syn            (a spike of j: I_syn_i += J[i, j] mV)
    tau_r dr/dt   = -r                  (its own spike: r += 1 / tau_r; a rate, in Hz)
    v > V_th: spike, v = V_r, refractory for t_ref

Noise (``sigma`` in mV):

- white: ``I_noise = sigma sqrt(tau_m) xi(t)`` with Brian2's ``xi`` (units ``s^-1/2``), so
  ``dv/dt = (...) / tau_m + sigma xi / sqrt(tau_m)``; a free membrane has variance
  ``sigma^2 / 2`` (Brunel 2000's convention, the one of :mod:`plasticsim.spiking`).
- Ornstein-Uhlenbeck, correlation time ``tau_noise > 0``:
  ``tau_noise dI_noise/dt = -I_noise + sigma sqrt(tau_m) xi_n(t)``. Its integral over a
  window much longer than ``tau_noise`` is that of ``sigma sqrt(tau_m) xi``: the same
  integrated intensity (``sigma^2 tau_m``, the zero-frequency power), and white noise as
  ``tau_noise -> 0``. Its stationary variance is ``sigma^2 tau_m / (2 tau_noise)``.
- Poisson background (optional, with or without ``sigma``): ``n_inputs`` independent
  Poisson trains of ``rate`` each add ``weight`` to ``I_syn`` (Brian2's ``PoissonInput``),
  filtered like recurrent input: mean ``n rate weight tau_s``.

Weights are stored as numbers of mV (``w : 1``; a spike adds ``w * mV`` to ``I_syn``), so
every plain array of the network (``J``, the synapse table, the sleep reports) is in mV,
the convention of :mod:`plasticsim.spiking`. Traces are in ``mV Hz^2 s`` and scores
(``trace / T``) in ``mV Hz^2``.

Defaults: :data:`plasticsim.spiking.LIF_DEFAULTS`, the one place for them (the theory
and the simulator share it; the choice is justified there). A lone neuron at the defaults
fires at 9.0 Hz with ISI CV 0.77, measured on 200 neurons over 3 s at ``dt = 0.1 ms``
(the diffusion theory, without the discrete-step correction, says 9.5 Hz and 0.81).

Order within a time step (Brian2 slots): trace and sums (``groups, -2``, every
``trace_dt``, on the network's clock: ``spiking._SampleRunner``) read ``r`` before the
neurons' state update and threshold, as in the rate network. A sample adds
``r_post r_pre trace_dt`` to each synapse's ``trace`` and ``r``, ``r^2 trace_dt`` to each
neuron's ``rsum``, ``rsq``; after the measurement ``SpikingNetwork._trace_values``
replaces the synapses' sums by the traces ``|w| (rsq_post + rsq_pre) - 2 w trace``.
"""

from __future__ import annotations

import numbers

import numpy as np
from brian2 import Hz, Quantity, TimedArray, have_same_dimensions, mV, second, volt

from ..spiking import LIF_DEFAULTS, _fmt, check_values

DEFAULTS = LIF_DEFAULTS  # the one place (plasticsim.spiking)

RATE_SLOT = ("start", 0)  # rate monitor of a wake
NEURON_STATE = (  # neuron variables an epoch may change (restored when it fails)
    "v", "I_syn", "I_noise", "r", "rsum", "rsq", "n_spikes", "I_ext", "mu", "lastspike",
    "not_refractory",
)  # fmt: skip


def neuron_model(*, ou: bool) -> str:
    """Equations of the NeuronGroup (module docstring)."""
    drive = "E_L - v + mu + I_syn + I_ext"
    if ou:
        lines = [
            f"dv/dt = ({drive} + I_noise)/tau_m : volt (unless refractory)",
            "dI_noise/dt = (-I_noise + sigma*sqrt(tau_m)*xi_n)/tau_noise : volt",
        ]
    else:
        lines = [f"dv/dt = ({drive})/tau_m + sigma*xi/sqrt(tau_m) : volt (unless refractory)"]
    lines += [
        "dI_syn/dt = -I_syn/tau_s : volt",
        "dr/dt = -r/tau_r : hertz",  # low-pass filtered own spike train
        "mu : volt (constant)",  # constant drive; homeostasis changes it between runs
        "I_ext : volt",  # external (wake) input, zero during sleep
        "rsum : hertz",  # sum of r over the trace samples
        "rsq : hertz",  # sum of r**2 trace_dt over the trace samples (in Hz^2 s)
        "n_spikes : integer",  # spikes since the start of the epoch's measurement
    ]
    return "\n".join(lines)


RESET = "v = V_r\nr += 1/tau_r\nn_spikes += 1"
THRESHOLD = "v > V_th"
SYNAPSE_MODEL = "\n".join(
    [
        "w : 1",  # weight in mV (a spike adds w*mV to I_syn)
        "sgn : 1 (constant)",
        "status : integer (constant)",
        # During a measurement the cross term sum r_post r_pre trace_dt (Hz^2 s), then
        # the trace |w| (rsq_post + rsq_pre) - 2 w (cross term), in mV Hz^2 s (w in mV).
        "trace : hertz",
    ]
)
ON_PRE = "I_syn_post += w*mV"
TRACE_CODE = "trace += r_post*r_pre*trace_dt"  # the cross term (SpikingNetwork._trace_values)
SUM_CODE = "rsum += r\nrsq += r**2*trace_dt"
INPUT_CODE = "I_ext = plasticsim_input(t - t_wake, i)"


# ------------------------------------------------------------------------ validation


def check_quantity(name: str, value, unit, example: str, *, rule=None, n=None) -> np.ndarray:
    """``value`` in SI units as float64 (a scalar, or ``(n,)`` when ``n`` is given).

    ``unit`` is a Brian2 unit (``mV``, ``ms``, ``Hz``); ``rule`` is ``None``,
    ``"positive"`` or ``"nonnegative"``. A value without units or in other units is a
    ``TypeError`` naming the argument; a bad value a ``ValueError``.
    """
    if not isinstance(value, Quantity) or not have_same_dimensions(value, unit):
        what = "no units" if not isinstance(value, Quantity) else f"dimensions {value.dim}"
        raise TypeError(
            f"{name} must be a Brian2 quantity with the dimensions of {unit!r} such as "
            f"{example}, got {_fmt(value)} ({what})."
        )
    arr = np.asarray(value, dtype=np.float64)  # SI
    if n is None and arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {arr.shape}.")
    if n is not None:
        if arr.ndim == 0:
            arr = np.full(n, float(arr))
        if arr.shape != (n,):
            raise ValueError(f"{name} has shape {arr.shape}, must be a scalar or ({n},).")
    return check_values(name, value, arr, rule)


def check_poisson(poisson):
    """``None`` or ``(n_inputs, rate, weight)``: ``(int, Hz, mV)`` checked, SI floats."""
    if poisson is None:
        return None
    if not isinstance(poisson, tuple | list) or len(poisson) != 3:
        raise TypeError(
            f"poisson must be None or a tuple (n_inputs, rate, weight) such as "
            f"(100, 10*Hz, 0.5*mV), got {_fmt(poisson)}."
        )
    n_in, rate, weight = poisson
    if isinstance(n_in, bool) or not isinstance(n_in, numbers.Integral):
        raise TypeError(f"poisson n_inputs must be an integer, got {n_in!r}.")
    if n_in < 1:
        raise ValueError(f"poisson n_inputs == {n_in}, must be >= 1.")
    rate = float(check_quantity("poisson rate", rate, Hz, "10*Hz", rule="positive"))
    weight = float(check_quantity("poisson weight", weight, mV, "0.5*mV"))
    if weight == 0:
        raise ValueError("poisson weight == 0 mV, must be non-zero.")
    return int(n_in), rate, weight


def check_input(inputs, n: int, duration: float):
    """Wake input: ``(constant volts of shape (n,), None)`` or ``(None, TimedArray)``."""
    if inputs is None:
        return None, None
    if isinstance(inputs, TimedArray):
        values = np.asarray(inputs.values)
        if values.ndim != 2 or values.shape[1] != n:
            raise ValueError(f"inputs is a TimedArray of shape {values.shape}, must be (m, {n}).")
        if not have_same_dimensions(inputs.dim, volt.dim):
            raise TypeError(f"inputs must be in volts (e.g. values*mV), got {inputs.dim}.")
        covered = values.shape[0] * float(inputs.dt)
        if covered < duration * (1 - 1e-9):
            raise ValueError(
                f"inputs covers {covered * second!s}, shorter than duration == "
                f"{duration * second!s}."
            )
        return None, inputs
    return check_quantity("inputs", inputs, mV, "2*mV", n=n), None


def weights_in_mv(name: str, J):
    """A weight matrix's values as plain numbers of mV.

    ``J`` is a plain array or ``scipy.sparse`` matrix in mV, or a dense Brian2 quantity
    with the dimensions of a voltage.
    """
    if isinstance(J, Quantity):
        if not have_same_dimensions(J, mV):
            raise TypeError(
                f"{name} must be in volts (a plain or sparse array in mV, or an array "
                f"times mV), got dimensions {J.dim}."
            )
        return np.asarray(J, dtype=np.float64) / float(mV)
    return J
