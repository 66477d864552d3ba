"""Sleep and wake epochs of the online networks (DESIGN.md §2).

The methods :meth:`RateNetwork.sleep` and :meth:`RateNetwork.wake` document the
behaviour; this module holds their implementations (:func:`sleep` is shared by every
network built on ``_core.SynapticNetwork``, through its hooks): running the Brian2 network with the
right objects attached, reading the traces back and applying the decisions (the pure
numpy part is in ``_decisions.py``).
"""

from __future__ import annotations

import logging
import math
import sys
import time
import warnings
from contextlib import contextmanager

import brian2
import numpy as np
from brian2 import Quantity, StateMonitor, TimedArray, second
from brian2.core.network import TextReport
from brian2.groups.group import CodeRunner

from .._validation import check_choice, check_density, check_integer, check_positive
from . import _model, _rollback, _rules
from ._decisions import decide as _decide
from ._decisions import (
    decision_units,
    estimate_scores,
    has_multapses,
    partner_index,
    relabile_units,
    solve_k_online,
    table_is_symmetric,
    weights_symmetric,
)
from .states import LABILE, PRUNED, SleepReport, WakeRecord, count_states

logger = logging.getLogger(__name__)

_REPORT_STRINGS = ("text", "stdout", "stderr")


def _check_k_density(k, density, decide: bool):
    if k is not None and density is not None:
        raise ValueError(f"give at most one of k and density, got k={k!r}, density={density!r}.")
    if decide and k is None and density is None:
        raise ValueError(
            "decide=True needs k or density (the constant of p = min(1, k s), or the "
            "expected fraction of candidates to keep); pass decide=False to only measure."
        )
    if k is not None:
        k = check_positive("k", k)
    if density is not None:
        density = check_density(density)
    return k, density


def _nothing_to_decide(counts: dict, relabile: float, n_relabile: int, k, density) -> str:
    """Why a sleep asked to decide has no candidate, and what to do about it."""
    asked = f"k={k!r}" if k is not None else f"density={density!r}"
    if counts["STABLE"] == 0:
        return (
            f"sleep({asked}) has nothing to decide: the network has no LABILE or STABLE "
            f"synapse left (states: {counts}); pass decide=False to only measure."
        )
    if relabile > 0:
        made = (
            f"relabile={relabile!r} made {n_relabile} of the {counts['STABLE']} STABLE "
            "synapses LABILE again this time (each STABLE synapse, or symmetric pair, "
            "independently with probability relabile)"
        )
    else:
        made = f"relabile={relabile!r} made none of the {counts['STABLE']} STABLE synapses LABILE"
    return (
        f"sleep({asked}) has nothing to decide: no synapse is LABILE (states: {counts}) "
        f"and {made}. Decisions move a synapse one way only, LABILE -> STABLE (kept, weight "
        "divided by p) or PRUNED, and a STABLE synapse is not decided again unless it is "
        "made LABILE: pass relabile=p in (0, 1] to re-open each STABLE synapse with "
        "probability p at the start of the epoch (relabile=1.0 re-decides every survivor), "
        "or decide=False to only measure."
    )


def _constant(value, m: int) -> np.ndarray:
    """A read-only length-``m`` array of ``value`` that stores one element (a report's
    ``kept`` or ``probabilities`` of an epoch without decisions)."""
    return np.broadcast_to(np.asarray(value), (m,))


class _Progress:
    """Maps Brian2's per-run ``report`` calls of an epoch's runs onto the whole epoch."""

    def __init__(self, report, total: float):
        if report is None:
            self.callback = None
        elif isinstance(report, str):
            check_choice("report", report, _REPORT_STRINGS)
            self.callback = TextReport(sys.stderr if report == "stderr" else sys.stdout)
        elif callable(report):
            self.callback = report
        else:
            raise TypeError(
                f"report must be None, 'text', 'stdout', 'stderr' or a callable "
                f"(elapsed, completed, start, duration), got {report!r}."
            )
        self.total = total
        self.done = 0.0
        self.wall0 = time.perf_counter()
        self.start = None

    def for_run(self, run_duration: float):
        if self.callback is None:
            return None
        offset = self.done
        self.done += run_duration

        def hook(elapsed, completed, start, duration):
            if self.start is None:
                self.start = start
            frac = (offset + completed * run_duration) / self.total if self.total > 0 else 1.0
            self.callback(
                (time.perf_counter() - self.wall0) * second,
                min(1.0, frac),
                self.start,
                self.total * second,
            )

        return hook


def warn_if_stiff(
    net, leak: np.ndarray, w: np.ndarray, post: np.ndarray, *, stacklevel: int = 5
) -> None:
    """After decisions: is dt still fine for the network as it now is?

    Rescaled weights (``w / p``) can make the pruned network faster than the original, so
    the construction-time check of ``(dt/tau) max|lambda|`` may no longer hold. Cheap
    first: Gershgorin bounds ``max|lambda|`` by ``max_i (leak_i + sum_j |w_ij|)`` in
    ``O(n_syn)``; only when that bound exceeds the threshold is the spectrum examined, by
    the checks of construction (``_checks.spectrum``: exact eigenvalues up to 2,000
    neurons, else Gershgorin discs, else ARPACK), whose name the messages give.
    ``stacklevel`` points the warnings at the caller of ``RateNetwork.sleep`` (called
    from ``RateNetwork._homeostasis``).
    """
    from ._checks import EXACT_MAX_N, STIFFNESS_WARN, spectrum

    h = float(net._dt / net._tau)
    rows = np.bincount(post, weights=np.abs(w), minlength=net._n)
    if h * float(np.max(leak + rows)) <= STIFFNESS_WARN:
        return
    pre = np.asarray(net._S.variables["_synaptic_pre"].get_value(), dtype=np.int64)
    live = w != 0
    pre, post, w = pre[live], post[live], w[live]
    # Small networks: the exact general eigenvalues, as always; large: O(m log m) pairing.
    symmetric = net._n > EXACT_MAX_N and weights_symmetric(net._n, pre, post, w)
    try:
        spec = spectrum(net._n, pre, post, w, leak, symmetric=symmetric, h=h)
    except ValueError as exc:  # ARPACK did not converge: say so, the epoch is done
        warnings.warn(
            f"after the decisions the Euler step could not be checked: {exc}",
            RuntimeWarning,
            stacklevel=stacklevel,
        )
        return
    stiffness = h * spec.radius
    if not spec.growth < 1:  # the next epoch would diverge: the caller must know
        warnings.warn(
            f"after the decisions the Euler step is unstable: |1 + (dt/tau) lambda| == "
            f"{spec.growth:.4g} >= 1 for the pruned network (check: {spec.step_check}), so "
            f"the next epoch diverges; rebuild it with a smaller dt "
            f"(RateNetwork.from_matrix(net.sparse_matrix(), dt=...)).",
            RuntimeWarning,
            stacklevel=stacklevel,
        )
    elif stiffness > STIFFNESS_WARN:  # accuracy only: a log line, not a warning
        logger.warning(
            "after the decisions (dt/tau) max|lambda| == %.3g > %s (check: %s): rescaled "
            "synapses made the network faster, and later traces overestimate the scores of "
            "its fastest modes; consider a smaller dt.",
            stiffness,
            STIFFNESS_WARN,
            spec.step_check,
        )


def sleep(
    net,
    duration,
    *,
    k,
    density,
    burn_in,
    decide,
    relabile,
    symmetric,
    compact,
    report,
    report_period,
    min_kept=0,
    excitability=None,
    rule="noise",
) -> SleepReport:
    """Implementation of :meth:`RateNetwork.sleep` (documented there), shared by every
    ``_core.SynapticNetwork``."""
    wall0 = time.perf_counter()
    rule = _rules.check_rule(rule)
    duration = _model.check_time("duration", duration)
    if burn_in is not None:
        burn_in = _model.check_time("burn_in", burn_in, allow_zero=True)
    decide = _model.check_bool("decide", decide)
    compact = _model.check_bool("compact", compact)
    relabile = _model.check_fraction("relabile", relabile)
    min_kept = check_integer("min_kept", min_kept, minimum=0)
    k, density = _check_k_density(k, density, decide)
    if not (isinstance(symmetric, str) and symmetric == "auto") and not isinstance(
        symmetric, bool | np.bool_
    ):
        if isinstance(symmetric, str):
            raise ValueError(f"symmetric == {symmetric!r}, must be 'auto', True or False.")
        raise TypeError(f"symmetric must be 'auto', True or False, got {symmetric!r}.")
    report_period = _model.check_time("report_period", report_period)
    if burn_in is None:  # after the cheap checks: it may cost an eigen-decomposition
        burn_in = net._default_burn_in()
    step = float(net._trace_dt)
    n_meas = int(round((float(duration) - float(burn_in)) / step))
    if n_meas < 1:
        raise ValueError(
            f"duration == {duration!s} leaves no measurement after burn_in == "
            f"{burn_in!s}: duration - burn_in must be >= trace_dt == {net._trace_dt!s}."
        )
    t_now = float(net._net.t)
    # Stretch the burn-in (by < one sample) so that the window starts on a sample.
    t_meas = math.ceil((t_now + float(burn_in)) / step - 1e-9) * step
    burn = max(0.0, t_meas - t_now)
    if burn < 0.5 * float(net._dt):  # round-off of the grid (fs): a run of no step, skipped
        burn = 0.0  # (each Brian2 run costs its code generation and a gc.collect, ~0.1 s)
    progress = _Progress(report, burn + n_meas * step)
    # A sleep schedule (_schedule.py): resolved and checked before anything is simulated.
    schedule = None
    if excitability is not None:
        schedule = net._excitability_schedule(
            excitability, (burn + n_meas * step) * second, cover=duration
        )

    # All or nothing (_rollback.epoch): whatever is raised before the report is appended
    # (a Ctrl-C that stopped a run, an error) leaves the network as it was before the call.
    # Memory (per synapse): pre/post/sgn are read-only views of Brian2's arrays and the
    # weights before the decisions are the record's copy; temporaries are dropped as soon
    # as they are used (see RateNetwork.from_matrix, Notes, for the measured peak).
    with _rollback.epoch(net) as record:
        # status is the Brian2 array itself (the record restores it on any exception).
        pre, post, w, sgn, status = net._table(weights=record.weights, live_status=True)
        # Multapses (several synapses of one pair): no synapse has a unique reverse
        # partner, so each synapse is decided on its own ("auto" -> False).
        multapses = has_multapses(pre, post, net._n)
        partner = partner_index(pre, post, net._n)
        table_sym = not multapses and table_is_symmetric(partner, w, status)
        if symmetric == "auto":
            sym = table_sym
        else:
            sym = bool(symmetric)
            if sym and multapses:
                raise ValueError(
                    "symmetric=True cannot pair the synapses: some pair of neurons has "
                    "several synapses (multapses), so a synapse has no unique reverse "
                    "partner to be decided with; pass symmetric=False (or 'auto') to decide "
                    "each synapse on its own."
                )
            if sym and not table_sym:
                raise ValueError(
                    "symmetric=True but the synapse table is not symmetric: some synapse "
                    "has no reverse partner with the same weight and state."
                )
        reps, unit_of = decision_units(pre, post, partner, sym)
        counts_before = count_states(status)

        n_relabile = 0
        if decide and relabile > 0:
            flip = relabile_units(status, reps, unit_of, relabile, net._gen)
            n_relabile = int(np.count_nonzero(flip))
            status[flip] = int(LABILE)
        if decide and not np.any(status == LABILE):  # before simulating anything
            raise ValueError(_nothing_to_decide(counts_before, relabile, n_relabile, k, density))

        seed = int(net._gen.integers(0, 2**32))
        ns = net._namespace()
        G = net._G
        net._sleep_inputs_off()
        sweep = None if schedule is None else net._excitability_on(schedule, ns)
        try:
            with net._seeded(seed):
                if burn > 0:
                    net._run(burn, ns, progress, report_period, "sleep (burn-in)")
                net._start_measurement()
                runners = net._make_trace_runners()
                i0 = int(round(float(net._net.t) / step))
                net._net.add(*runners)
                try:
                    net._run(n_meas * step, ns, progress, report_period, "sleep (measurement)")
                finally:
                    net._net.remove(*runners)
        finally:
            if sweep is not None:
                net._excitability_off(sweep)  # the leak factor back to 1
        n_samples = int(net._trace_clock.variables["timestep"].get_value()[0]) - i0
        measured = n_samples * step

        # A view: nothing writes the trace before the epoch ends.
        trace = net._trace_values()
        scores = estimate_scores(
            trace,
            w,
            sgn,
            pre,
            post,
            measured=measured,
            sums=G.variables["rsum"].get_value().copy() if net._center else None,
            n_samples=n_samples,
        )
        del trace
        unit_scores = scores[reps]
        if sym:
            unit_scores = 0.5 * (unit_scores + scores[partner[reps]])
        unit_scores = _rules.unit_scores_for(rule, unit_scores, w, reps)  # baselines
        del partner
        candidate_unit = status[reps] == LABILE
        k_used = k
        if k_used is None and density is not None and candidate_unit.any():
            k_used = solve_k_online(unit_scores[candidate_unit], density)

        leak_change = np.zeros(net._n)
        candidate = candidate_unit[unit_of]
        kept = _constant(False, w.size)
        deciding = bool(decide and k_used is not None and candidate.any())
        if deciding:  # _decide computes the probabilities itself
            probabilities = None
        elif k_used is not None:
            probabilities = np.where(
                candidate, np.minimum(1.0, k_used * unit_scores[unit_of]), np.nan
            )
        else:
            probabilities = _constant(np.nan, w.size)
        new_w = None
        if deciding:
            new_w, new_status, probabilities, kept, candidate, leak_change = _decide(
                weight=w,
                status=status,
                pre=pre,
                post=post,
                n=net._n,
                unit_scores=unit_scores,
                reps=reps,
                unit_of=unit_of,
                k=k_used,
                gen=net._gen,
                # In place: the Brian2 arrays hold w and status (the rollback record has
                # copies to restore them from).
                out_weight=net._S.variables["w"].get_value(),
                out_status=status,
                min_kept=min_kept,
            )
            del unit_scores, reps, unit_of, candidate_unit, new_status
        # The neurons' homeostatic change (RateNetwork: the matched diagonal).
        homeostasis = net._homeostasis(
            weights_before=w,
            weights_after=new_w,
            pre=pre,
            post=post,
            leak_change=leak_change,
            n_samples=n_samples,
        )
        if deciding:
            del new_w
            if compact and np.any(net._status() == PRUNED):
                net._compact()
        counts_after = count_states(net._status())
        rep = SleepReport(
            seed=seed,
            duration=(burn + measured) * second,
            burn_in=burn * second,
            measured=measured * second,
            n_samples=n_samples,
            decided=deciding,
            symmetric=sym,
            k=None if k_used is None else float(k_used),
            density=density,
            counts_before=counts_before,
            counts_after=counts_after,
            n_relabile=n_relabile,
            pre=pre,
            post=post,
            weights=w,
            scores=scores,
            candidate=candidate,
            probabilities=probabilities,
            kept=kept,
            n_neurons=net._n,
            wall_time=time.perf_counter() - wall0,
            excitability=schedule,
            **homeostasis,
        )
        net.reports.append(rep)
    logger.info(
        "sleep: T=%s (%d samples), %d candidates, k=%s, %s -> %s, %.2f s wall",
        rep.measured,
        n_samples,
        rep.n_candidates,
        "None" if rep.k is None else f"{rep.k:.4g}",
        counts_before,
        counts_after,
        rep.wall_time,
    )
    return rep


def wake(
    net, duration, *, inputs, input_dt, noise, record, record_dt, report, report_period
) -> WakeRecord:
    """Implementation of :meth:`RateNetwork.wake` (documented there)."""
    duration = _model.check_time("duration", duration)
    noise = _model.check_bool("noise", noise)
    report_period = _model.check_time("report_period", report_period)
    progress = _Progress(report, float(duration))
    indices = _check_record(net, record)
    if record_dt is not None:
        record_dt = _model.check_time("record_dt", record_dt)
        _model.multiple_of("record_dt", record_dt, net._dt, "dt")
    constant, timed = _check_inputs(net, inputs, input_dt, duration)

    # All or nothing, as in sleep: an interrupted wake leaves the network as it was.
    with _rollback.epoch(net, synapses=False):
        seed = int(net._gen.integers(0, 2**32))
        ns = net._namespace(noise=noise)
        G = net._G
        G.variables["I_ext"].set_value(np.zeros(net._n) if constant is None else constant)
        added = []
        if timed is not None:
            ns["plasticsim_input"] = timed
            ns["t_wake"] = net._net.t
            added.append(input_runner(net))
        monitor = None
        var = _model.rate_name(net._relu)
        if indices is not None:
            clock_kw = {"clock": net._clock} if record_dt is None else {"dt": record_dt}
            monitor = StateMonitor(
                G,
                var,
                record=indices,
                when=_model.MONITOR_SLOT[0],
                order=_model.MONITOR_SLOT[1],
                name=f"{net._name}_monitor",
                codeobj_class=net._codeobj,
                **clock_kw,
            )
            added.append(monitor)
        # Noise-free with OU noise: sigma = 0 stops the source, but the current eta left by
        # the previous epoch would still drive x (and decay over noise_tau). Disconnect it for
        # the run (eta = 0 stays 0 with sigma = 0) and restore it afterwards: the noise source
        # is paused, not reset, so the next noisy epoch starts from a stationary eta.
        paused = "eta" if not noise and float(net._noise_tau) > 0 else None
        with running_with(net, added, paused=paused), net._seeded(seed):
            net._run(float(duration), ns, progress, report_period, "wake")
    if monitor is None:
        return WakeRecord(np.zeros(0) * second, np.zeros((0, 0)), seed)
    t = monitor.t[:].copy()
    rates = np.asarray(getattr(monitor, var)).T.copy()
    return WakeRecord(t, rates, seed)


@contextmanager
def running_with(net, added, *, paused=None):
    """Brian2 objects ``added`` in the network for a run, and a neuron variable ``paused``
    (a noise current) held at 0; afterwards the objects leave, the external input returns
    to 0 and the paused variable to its value (paused, not reset: the next noisy epoch
    starts from where it was)."""
    G = net._G
    saved = None
    if paused is not None:
        saved = G.variables[paused].get_value().copy()
        G.variables[paused].set_value(np.zeros(net._n))
    if added:
        net._net.add(*added)
    try:
        yield
    finally:
        if added:
            net._net.remove(*added)
        G.variables["I_ext"].set_value(np.zeros(net._n))
        if saved is not None:
            G.variables[paused].set_value(saved)


def input_runner(net, code=_model.INPUT_CODE) -> CodeRunner:
    """The runner that reads the wake's input ``plasticsim_input(t - t_wake, i)`` each step
    (``code``: the neuron model's assignment of it)."""
    return CodeRunner(
        net._G,
        "stateupdate",
        code=code,
        clock=net._clock,
        when=_model.INPUT_SLOT[0],
        order=_model.INPUT_SLOT[1],
        name=f"{net._name}_input",
        codeobj_class=net._codeobj,
    )


def _check_record(net, record):
    if isinstance(record, bool | np.bool_):
        return np.arange(net._n) if record else None
    idx = np.asarray(record)
    if idx.dtype == object or not np.issubdtype(idx.dtype, np.integer) or idx.ndim != 1:
        raise TypeError(
            f"record must be True, False or a 1-D array of neuron indices, got {record!r}."
        )
    if idx.size and (idx.min() < 0 or idx.max() >= net._n):
        bad = int(idx[(idx < 0) | (idx >= net._n)][0])
        raise ValueError(f"record contains neuron {bad}, must be in [0, {net._n}).")
    return idx.astype(np.int64) if idx.size else None


def _check_inputs(net, inputs, input_dt, duration):
    """``(constant, timed)``: a constant vector, or a TimedArray, or neither."""
    if inputs is None:
        if input_dt is not None:
            raise ValueError("input_dt is only used with an array of inputs.")
        return None, None
    if isinstance(inputs, TimedArray):
        if input_dt is not None:
            raise ValueError("input_dt must not be given with a TimedArray (it has its own dt).")
        values = np.asarray(inputs.values)
        if values.ndim != 2 or values.shape[1] != net._n:
            raise ValueError(
                f"inputs is a TimedArray of shape {values.shape}, must be (m, {net._n})."
            )
        if not brian2.have_same_dimensions(
            inputs.dim, brian2.units.fundamentalunits.DIMENSIONLESS
        ):
            raise ValueError(f"inputs must be dimensionless, got dimensions {inputs.dim}.")
        covered = values.shape[0] * float(inputs.dt)
        if covered < float(duration) * (1 - 1e-9):
            raise ValueError(
                f"inputs covers {covered * second!s}, shorter than duration == {duration!s}."
            )
        return None, inputs
    if isinstance(inputs, Quantity) or isinstance(inputs, str | bytes):
        raise TypeError(f"inputs must be dimensionless numbers, got {inputs!r}.")
    arr = np.asarray(inputs)
    if arr.ndim == 1:
        if input_dt is not None:
            raise ValueError("input_dt is only used with an (m, n) array of inputs.")
        return _model.check_vector("inputs", arr, net._n), None
    if arr.ndim != 2 or arr.shape[1] != net._n:
        raise ValueError(f"inputs has shape {arr.shape}, must be ({net._n},) or (m, {net._n}).")
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(f"inputs must be real, got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("inputs has a non-finite entry; all entries must be finite.")
    input_dt = net._dt if input_dt is None else _model.check_time("input_dt", input_dt)
    _model.multiple_of("input_dt", input_dt, net._dt, "dt")
    covered = arr.shape[0] * float(input_dt)
    if covered < float(duration) * (1 - 1e-9):
        raise ValueError(
            f"inputs has {arr.shape[0]} rows of input_dt == {input_dt!s}, covering "
            f"{covered * second!s}: shorter than duration == {duration!s}."
        )
    return None, TimedArray(arr, dt=input_dt, name=f"{net._name}_input_values")
