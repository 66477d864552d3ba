r"""Wake learning: Hebbian growth of the synapses while inputs drive the network.

A learning wake presents input patterns and lets every synapse change by a local Hebbian
rule, applied on the trace clock (every ``trace_dt``) by a Brian2 code runner, like the
sleep's trace::

    d|w|/ds = eta (r_post r_pre - decay |w|),    0 <= |w| <= w_max,    sign(w) fixed

(``s = t / tau``; for an excitatory synapse this is ``dw/ds = eta (r_post r_pre - decay
w)``). Signs never change (Dale's law): a synapse whose magnitude reaches 0 stays at 0,
silent, and the next sleep prunes it (its score ``|w| E[...]`` and its weight are 0). An
inhibitory synapse (``sgn = -1``) grows stronger (more negative) with co-activity:
Hebbian inhibitory plasticity (Vogels et al. 2011), so that inhibition tracks excitation.

*Homeostatic leak.* Every ``homeostasis_dt`` (by default every learning step) each
neuron's leak changes by the change of its total absolute input,
``leak_i += sum_j (|w_ij|' - |w_ij|)``: the matched diagonal of the sleep's decisions,
applied to learning, run inside the Brian2 run by a ``NetworkOperation`` after the
learning step and before the neurons' update. So the slack ``leak_i - sum_j |w_ij|`` of
every neuron is a constant of the whole lifetime (with a longer ``homeostasis_dt`` it
drifts within one interval by that interval's weight change): a network whose ``-A`` is diagonally
dominant stays so (Gershgorin: every eigenvalue then has real part ``<= -min slack``),
however strong learning makes its synapses, and the symmetric network's ``-A`` stays
``diag(slack) + L`` with ``L`` the Laplacian of ``|W|`` (positive weights) -- exactly the
class on which noise pruning provably keeps the spectrum (Moore & Chaudhuri 2020).

*Growth.* At the end of the epoch new synapses are created where co-activity is strong:
among pairs without a synapse, those whose mean rate product ``c_ij = mean_t r_i r_j``
over the epoch (sampled every ``trace_dt``) exceeds ``threshold``, the ``budget`` largest
(symmetric networks: pairs, both directions, two synapses each). A new synapse is
excitatory (weight ``+w_new``), LABILE (the next sleep decides it), and only from a neuron
that is not inhibitory (none of its synapses out is negative): Dale's law. Its
postsynaptic leak grows by ``w_new`` (the slack is kept). Brian2 cannot add synapses
during a run: the ``Synapses`` is rebuilt with them under the same name, as a compaction.

Learning is off during sleep (the runner only joins the network for a learning wake),
and pruning is off during wake (no decisions).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
from brian2 import NetworkOperation, StateMonitor, TimedArray, second
from brian2.groups.group import CodeRunner

from .._validation import _check_real, check_integer, check_nonnegative, check_positive
from . import _model, _rollback
from ._epochs import input_runner, running_with
from .states import LABILE, PRUNED

__all__ = ["LearnReport", "learn"]

logger = logging.getLogger(__name__)

# The homeostatic leak runs after the learning step (TRACE_SLOT) and before the neurons'
# update ("groups", 0) of the same time step.
HOMEOSTASIS_SLOT = ("groups", -1)

# Candidate pairs examined for growth at most (all absent pairs when they are fewer).
MAX_CANDIDATES = 1_000_000


@dataclass(frozen=True)
class LearnReport:
    """What one learning wake did.

    Attributes
    ----------
    seed : int
        Brian2's seed of the epoch.
    duration : brian2 time
    n_new : int
        Synapses created (both directions of a symmetric pair count).
    new_pre, new_post : ndarray of int
        The new synapses.
    coactivity : ndarray
        ``mean_t r_i r_j`` of each new synapse's pair.
    weight_change : float
        ``sum |Δw|`` over the synapses that existed at the start (learning only).
    leak_change : ndarray of shape (n,)
        Each neuron's leak change (learning and growth).
    wall_time : float
        Seconds.
    """

    seed: int
    duration: object
    n_new: int
    new_pre: np.ndarray
    new_post: np.ndarray
    coactivity: np.ndarray
    weight_change: float
    leak_change: np.ndarray
    wall_time: float


def check_patterns(patterns, n: int) -> np.ndarray:
    """Patterns as a float ``(K, n)`` array (a single ``(n,)`` pattern becomes ``(1, n)``)."""
    arr = np.asarray(patterns)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(f"patterns must be a real array of shape (K, {n}), got {patterns!r}.")
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n or arr.shape[0] < 1:
        raise ValueError(f"patterns has shape {np.shape(patterns)}, must be (K, {n}) with K >= 1.")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("patterns has a non-finite entry; all entries must be finite.")
    return arr


def _check_wmax(w_max) -> float:
    if isinstance(w_max, bool | np.bool_) or not isinstance(w_max, int | float | np.number):
        raise TypeError(f"w_max must be a real number > 0 (or inf), got {w_max!r}.")
    w_max = float(w_max)
    if not w_max > 0:  # NaN fails too
        raise ValueError(f"w_max == {w_max!r}, must be > 0 (inf: no cap).")
    return w_max


def learning_code(relu: bool) -> str:
    """One learning step of every synapse (forward Euler over ``learn_h = trace_dt / tau``)."""
    r = _model.rate_name(relu)
    return (
        f"w = sgn*clip(abs(w) + learn_h*eta_learn*({r}_post*{r}_pre - decay_learn*abs(w)), "
        "0, w_max_learn)*int(status != status_pruned)"
    )


def _input_rows(patterns, duration: float, present: float, amplitude: float) -> np.ndarray:
    """The input, one row per presentation: the patterns in turn, scaled by ``amplitude``."""
    blocks = max(1, math.ceil(duration / present - 1e-9))
    order = np.arange(blocks) % patterns.shape[0]
    return amplitude * patterns[order]


def learn(
    net,
    duration,
    *,
    patterns,
    present,
    amplitude=1.0,
    eta=0.1,
    decay=1.0,
    w_max=np.inf,
    budget=0,
    w_new=0.05,
    threshold=0.0,
    sigma=None,
    homeostasis_dt=None,
    report=None,
    report_period=10 * second,
) -> LearnReport:
    """Implementation of :meth:`RateNetwork.learn` (documented there)."""
    from ._epochs import _Progress, warn_if_stiff

    wall0 = time.perf_counter()
    duration = _model.check_time("duration", duration)
    present = _model.check_time("present", present)
    _model.multiple_of("present", present, net._dt, "dt")
    patterns = check_patterns(patterns, net._n)
    amplitude = _check_real("amplitude", amplitude)
    eta = check_positive("eta", eta)
    decay = check_nonnegative("decay", decay)
    w_max = _check_wmax(w_max)
    budget = check_integer("budget", budget, minimum=0)
    w_new = check_positive("w_new", w_new)
    threshold = _check_real("threshold", threshold)
    sigma = net._sigma if sigma is None else check_nonnegative("sigma", sigma)
    if homeostasis_dt is None:
        homeostasis_dt = net._trace_dt
    homeostasis_dt = _model.check_time("homeostasis_dt", homeostasis_dt)
    _model.multiple_of("homeostasis_dt", homeostasis_dt, net._dt, "dt")
    report_period = _model.check_time("report_period", report_period)
    total = float(duration)
    progress = _Progress(report, total)
    rows = _input_rows(patterns, total, float(present), amplitude)

    with _rollback.epoch(net) as record:
        seed = int(net._gen.integers(0, 2**32))
        G = net._G
        ns = net._namespace()
        ns["sigma"] = sigma
        ns["plasticsim_input"] = TimedArray(rows, dt=present, name=f"{net._name}_input_values")
        ns["t_wake"] = net._net.t
        ns.update(
            learn_h=float(net._trace_dt / net._tau),
            eta_learn=eta,
            decay_learn=decay,
            w_max_learn=w_max,
            status_pruned=int(PRUNED),
        )
        G.variables["I_ext"].set_value(np.zeros(net._n))
        added = [input_runner(net)]
        when, order = _model.TRACE_SLOT
        if len(net._S):
            added.append(
                CodeRunner(
                    net._S,
                    "stateupdate",
                    code=learning_code(net._relu),
                    clock=net._trace_clock,
                    when=when,
                    order=order,
                    name=f"{net._name}_learning",
                    codeobj_class=net._codeobj,
                )
            )
        monitor = None
        if budget > 0:
            monitor = StateMonitor(
                G,
                _model.rate_name(net._relu),
                record=True,
                clock=net._trace_clock,
                when=_model.MONITOR_SLOT[0],
                order=_model.MONITOR_SLOT[1],
                name=f"{net._name}_monitor",
                codeobj_class=net._codeobj,
            )
            added.append(monitor)
        leak0 = G.variables["leak"].get_value().copy()
        homeostasis = None
        if len(net._S):
            homeostasis = _Homeostasis(net, record.weights)
            clock_kw = (
                {"clock": net._trace_clock}
                if float(homeostasis_dt) == float(net._trace_dt)
                else {"dt": homeostasis_dt}
            )
            added.append(
                NetworkOperation(
                    homeostasis,
                    when=HOMEOSTASIS_SLOT[0],
                    order=HOMEOSTASIS_SLOT[1],
                    name=f"{net._name}_homeostasis",
                    **clock_kw,
                )
            )
        with running_with(net, added):
            # A diverging wake is detected below and raised as one clear error.
            with net._seeded(seed), np.errstate(over="ignore", invalid="ignore"):
                net._run(total, ns, progress, report_period, "learning wake")
            if homeostasis is not None:
                homeostasis()  # the weight change since the last update (if any)
        w_prev = homeostasis.w_prev if homeostasis is not None else np.empty(0)
        w_start = record.weights if record.weights is not None else np.empty(0)
        leak = G.variables["leak"].get_value().copy()
        if not (np.all(np.isfinite(G.variables["x"].get_value())) and np.all(np.isfinite(w_prev))):
            raise RuntimeError(
                f"the learning wake diverged (non-finite rates or weights): the weights grew "
                f"faster than the homeostatic leak, updated every homeostasis_dt == "
                f"{homeostasis_dt!s}, could follow; decrease eta == {eta!r} or "
                "homeostasis_dt, or cap the weights (w_max). The network was restored."
            )
        weight_change = float(np.sum(np.abs(w_prev - w_start)))
        new_pre = new_post = np.empty(0, dtype=np.int64)
        coact = np.empty(0)
        if monitor is not None:
            rates = np.asarray(getattr(monitor, _model.rate_name(net._relu))).T  # (T, n)
            del monitor
            new_pre, new_post, coact = _choose_new(net, rates, budget, threshold)
            if new_pre.size:
                _grow(net, new_pre, new_post, w_new)
                leak = leak + np.bincount(new_post, minlength=net._n) * w_new
                G.variables["leak"].set_value(leak)
        net._abscissa = None  # the network changed: the next default burn-in recomputes it
        w_all = net._S.variables["w"].get_value() if len(net._S) else np.empty(0)
        post_all = (
            np.asarray(net._S.variables["_synaptic_post"].get_value())
            if len(net._S)
            else np.empty(0, dtype=np.int64)
        )
        warn_if_stiff(net, leak, w_all, post_all, stacklevel=4)
        rep = LearnReport(
            seed=seed,
            duration=duration,
            n_new=int(new_pre.size),
            new_pre=new_pre,
            new_post=new_post,
            coactivity=coact,
            weight_change=weight_change,
            leak_change=leak - leak0,
            wall_time=time.perf_counter() - wall0,
        )
    logger.info(
        "learning wake: %s, sum|dw| = %.4g, %d new synapses, %.2f s wall",
        duration,
        weight_change,
        rep.n_new,
        rep.wall_time,
    )
    return rep


class _Homeostasis:
    """The homeostatic leak, run by Brian2 during the wake (a ``NetworkOperation``).

    Each call changes every neuron's leak by the change of its total absolute input since
    the previous call, ``leak_i += sum_j (|w_ij| - |w_ij|_prev)`` (``O(n + m)``). It runs
    after the learning step and before the neurons' update of the same time step
    (:data:`HOMEOSTASIS_SLOT`), so with ``homeostasis_dt == trace_dt`` (the default) the
    neurons never see a weight without its leak: the slack is exact at every step.
    ``leak`` is a ``(constant)`` of the model (no model code writes it); its array is
    changed in place between steps, which Brian2's runtime targets read every step.
    """

    def __init__(self, net, w_start):
        self.S, self.G, self.n = net._S, net._G, net._n
        self.post = np.asarray(net._S.variables["_synaptic_post"].get_value())
        self.w_prev = np.array(w_start, dtype=np.float64)

    def __call__(self):
        w_now = self.S.variables["w"].get_value()
        change = np.abs(w_now) - np.abs(self.w_prev)
        if np.any(change != 0):
            leak = self.G.variables["leak"].get_value()
            leak += np.bincount(self.post, weights=change, minlength=self.n)  # in place
            self.w_prev[:] = w_now


def _choose_new(net, rates: np.ndarray, budget: int, threshold: float):
    """The new synapses: the ``budget`` most co-active absent pairs above ``threshold``.

    Candidates are every absent pair (``i != j``) when there are at most
    :data:`MAX_CANDIDATES`, else that many drawn uniformly (the network's generator).
    Co-activity ``c_ij = mean_t r_i(t) r_j(t)``: ``O(candidates x samples)`` time, in
    blocks. Symmetric networks (every synapse has its reverse): unordered pairs, both
    directions created. Presynaptic neurons with a negative synapse out are excluded
    (Dale's law: new synapses are excitatory).
    """
    from ._decisions import partner_index

    n = net._n
    pre, post, _, sgn, _ = net._table()
    symmetric = bool(pre.size) and bool(np.all(partner_index(pre, post, n) >= 0))
    inhibitory = np.zeros(n, dtype=bool)
    inhibitory[np.asarray(pre)[sgn < 0]] = True  # the sign, also of a silenced synapse
    existing = np.sort(np.asarray(post, dtype=np.int64) * n + np.asarray(pre, dtype=np.int64))
    # Candidate keys post * n + pre (symmetric: pre < post, one per unordered pair).
    n_absent = n * (n - 1) // (2 if symmetric else 1) - (existing.size // (2 if symmetric else 1))
    if n_absent <= MAX_CANDIDATES:
        i, j = _all_pairs(n)
        keys = i.astype(np.int64) * n + j  # i = post, j = pre
    else:
        keys = np.unique(net._gen.integers(0, n * n, size=MAX_CANDIDATES))
    post_c, pre_c = keys // n, keys % n
    keep = pre_c != post_c
    if symmetric:
        keep &= pre_c < post_c
    pos = np.searchsorted(existing, keys)
    present = (pos < existing.size) & (existing[np.minimum(pos, existing.size - 1)] == keys)
    keep &= ~present
    keep &= ~inhibitory[pre_c]
    if symmetric:
        keep &= ~inhibitory[post_c]
    post_c, pre_c = post_c[keep], pre_c[keep]
    coact = np.empty(post_c.size)
    T = rates.shape[0]
    block = max(1, (1 << 22) // max(1, T))
    for a in range(0, post_c.size, block):
        b = min(post_c.size, a + block)
        coact[a:b] = np.einsum("ti,ti->i", rates[:, post_c[a:b]], rates[:, pre_c[a:b]]) / T
    ok = np.flatnonzero(coact > threshold)
    units = budget // 2 if symmetric else budget
    chosen = ok[np.argsort(-coact[ok], kind="stable")[:units]]
    new_post, new_pre, c = post_c[chosen], pre_c[chosen], coact[chosen]
    if symmetric:
        new_post, new_pre = (
            np.concatenate([new_post, new_pre]),
            np.concatenate([new_pre, new_post]),
        )
        c = np.concatenate([c, c])
    return new_pre.astype(np.int64), new_post.astype(np.int64), c


def _all_pairs(n: int):
    i = np.repeat(np.arange(n, dtype=np.int64), n)
    j = np.tile(np.arange(n, dtype=np.int64), n)
    return i, j


def _grow(net, new_pre, new_post, w_new: float) -> None:
    """Rebuild the ``Synapses`` with the new LABILE synapses, sorted by ``(post, pre)``.

    The simulator keeps its table in that order (construction sorts it, compaction keeps
    it, and the pairing of symmetric synapses uses it); the same name reuses the compiled
    code. ``O(m log m)``.
    """
    S = net._S
    m = len(S)
    variables = net._SYNAPSE_VARIABLES
    if m:
        pre = np.asarray(S.variables["_synaptic_pre"].get_value(), dtype=np.int64)
        post = np.asarray(S.variables["_synaptic_post"].get_value(), dtype=np.int64)
        old = {v: S.variables[v].get_value().copy() for v in variables}
    else:
        pre = post = np.empty(0, dtype=np.int64)
        old = {v: np.empty(0) for v in variables}
    k = new_pre.size
    fresh = {
        "w": np.full(k, w_new),
        "sgn": np.ones(k),
        "status": np.full(k, int(LABILE)),
        "trace": np.zeros(k),
    }
    all_pre = np.concatenate([pre, new_pre])
    all_post = np.concatenate([post, new_post])
    order = np.argsort(all_post * net._n + all_pre, kind="stable")
    values = {
        v: np.concatenate([old[v], fresh[v].astype(old[v].dtype, copy=False)])[order]
        for v in variables
    }
    del S
    net._replace_synapses(all_pre[order], all_post[order], values)
    logger.debug("growth: %d -> %d synapses", m, len(net._S))
