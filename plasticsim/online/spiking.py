r"""A spiking network that prunes itself during sleep (Brian2; DESIGN.md §2b).

:class:`SpikingNetwork` is the spiking counterpart of :class:`RateNetwork`: leaky
integrate-and-fire neurons with current-based exponential synapses (the model and its
defaults are in ``plasticsim/online/_lif.py``), whose synapses carry the same weight,
sign, state and trace variables and go through the same state machine, decisions,
reweighting ``w / p``, ``relabile``, compaction, sleep report and all-or-nothing epochs
(``_core.SynapticNetwork``, ``_epochs.sleep``, ``_rollback``).

**Local traces.** Each neuron low-pass filters its own spike train,
``tau_r dr/dt = -r`` and ``r += 1 / tau_r`` on each of its spikes (``r`` is a rate, in Hz,
whose mean is the neuron's firing rate). During sleep every synapse ``j -> i`` of weight
``w`` (mV) accumulates ``|w| (r_i - sign(w) r_j)^2`` every ``trace_dt``, centred on the
sample means as the rate network does with a bias, so that

.. math:: s_{ij} = \mathrm{trace}/T - |w| (\bar r_i - \mathrm{sgn}\,\bar r_j)^2
          = |w|\,\widehat{\mathrm{Var}}(r_i - \mathrm{sgn}\, r_j).

A sample costs one multiply-add per synapse: the synapses accumulate only the cross
term ``X_ij = sum r_i r_j trace_dt`` and the neurons ``Q_i = sum r_i^2 trace_dt`` (and
``sum r_i``), and the trace is assembled once, after the measurement, as
``|w| (Q_i + Q_j) - 2 w X_ij`` (``|w| sgn = w``), the same sum to rounding. The samples
are every ``trace_dt`` (default ``tau_r / 4``, see :meth:`SpikingNetwork.from_matrix`).

For ``tau_r`` much longer than the network's correlation times ``Cov(r) ~ S(0) /
(2 tau_r)`` with ``S(0)`` the zero-frequency spike-count covariance per unit time, so
``s_ij`` is proportional to the linear-response score ``|J_ij| (S_ii + S_jj - 2 sign(J_ij)
S_ij)`` of :mod:`plasticsim.spiking` (Trousdale et al. 2012 [1]_; Grytskyy et al. 2013 [2]_).

**Homeostasis** (``homeostasis="matched"``, the default). In the rate network the
"matched" diagonal gives each neuron's leak the change of its total absolute input. A LIF
neuron's leak is its membrane, whose time constant sets the integration of every input;
what pruning changes is the *mean synaptic input* ``<I_syn,i> = tau_s sum_j J_ij r_j``,
and since the synapses are current-based, the neuron's firing rate depends on its input
through the mean and the variance of the total current (the diffusion approximation,
Brunel 2000 [3]_). Reweighting by ``w / p`` keeps the mean only in expectation (each
synapse's ``E[J'] = J``); at low density its realisation moves each neuron's mean input
by ``O(|J| sqrt(K / density))``, enough to silence a neuron or make it fire at saturation.
So after the decisions each neuron's constant drive changes by

.. math:: \Delta\mu_i = \tau_s \sum_j (J_{ij} - J'_{ij})\, r_j,

``r_j`` the firing rates measured during the sleep: the neuron's mean input at the
operating point of the sleep is exactly what it was (to rounding). It is local — a neuron
senses its own mean synaptic current and can regulate a tonic conductance or its
intrinsic excitability over the time scale of sleep (synaptic scaling / intrinsic
plasticity, Turrigiano 2008 [4]_) — zero in expectation (``E[J'] = J``), and it is the
first-order term of the rate picture's matched diagonal: with gains ``g``, the
linearised rate change is ``g_i Delta(mean input)``. The variance of the input is not
matched: fewer, stronger synapses add ``tau_s/2 sum_j (J'^2_ij - J^2_ij) r_j`` of shot
noise; the rates then stay close to the unpruned network's as long as that is small next
to the external noise (the test network: within 20 % at density 0.2). ``homeostasis=None``
leaves ``mu`` alone.

References
----------
.. [1] J. Trousdale, Y. Hu, E. Shea-Brown, K. Josic, "Impact of network structure and
   cellular response on spike time correlations", PLoS Comput. Biol. 8:e1002408, 2012.
.. [2] D. Grytskyy, T. Tetzlaff, M. Diesmann, M. Helias, "A unified view on weakly
   correlated recurrent networks", Front. Comput. Neurosci. 7:131, 2013.
.. [3] N. Brunel, "Dynamics of sparsely connected networks of excitatory and inhibitory
   spiking neurons", J. Comput. Neurosci. 8:183-208, 2000.
.. [4] G. Turrigiano, "The self-tuning neuron: synaptic scaling of excitatory synapses",
   Cell 135:422-435, 2008.
.. [5] E. Moore, R. Chaudhuri, "Using noise to probe recurrent neural network structure
   and prune synapses", NeurIPS 2020, arXiv:2011.07334.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import scipy.sparse as sp
from brian2 import (
    Clock,
    Hz,
    Network,
    NeuronGroup,
    PoissonInput,
    Quantity,
    SpikeMonitor,
    StateMonitor,
    mV,
    second,
    volt,
)
from brian2.groups.group import CodeRunner

from .._validation import STREAM_ONLINE, check_choice, check_rng
from ..spiking import _drive_change
from . import _core, _epochs, _inputs, _lif, _model, _persist, _rollback
from .states import LABILE, SleepReport, SpikingWakeRecord, count_states

__all__ = ["SpikingNetwork"]

logger = logging.getLogger(__name__)

HOMEOSTASIS = ("matched", None)


def _time(name, value, *, allow_zero=False) -> float:
    return float(
        _lif.check_quantity(
            name, value, second, "10*ms", rule="nonnegative" if allow_zero else "positive"
        )
    )


def _check_options(n, opts: dict) -> dict:
    """The constructors' keyword arguments, validated, in SI floats (and flags)."""
    o = {}
    for key in ("tau_m", "tau_s", "tau_r", "dt"):
        o[key] = _time(key, opts[key])
    for key in ("t_ref", "noise_tau"):
        o[key] = _time(key, opts[key], allow_zero=True)
    for key in ("V_th", "V_r", "E_L"):
        o[key] = float(_lif.check_quantity(key, opts[key], mV, "20*mV"))
    if not o["V_r"] < o["V_th"]:
        raise ValueError(f"V_r == {opts['V_r']!r} must be below V_th == {opts['V_th']!r}.")
    o["mu"] = _lif.check_quantity("mu", opts["mu"], mV, "15*mV", n=n)
    o["sigma"] = float(_lif.check_quantity("sigma", opts["sigma"], mV, "5*mV", rule="nonnegative"))
    o["poisson"] = _lif.check_poisson(opts["poisson"])
    if o["sigma"] == 0 and o["poisson"] is None:
        raise ValueError(
            "sigma == 0 mV and poisson is None: the network needs a noise source (sigma > 0, "
            "or a Poisson background poisson=(n_inputs, rate, weight))."
        )
    fastest = min(o["tau_m"], o["tau_s"], o["tau_r"])
    if o["noise_tau"] > 0:
        fastest = min(fastest, o["noise_tau"])
    if not o["dt"] <= 0.2 * fastest:
        raise ValueError(
            f"dt == {opts['dt']!s} is too large: Euler integration needs dt <= 0.2 times the "
            f"fastest time constant ({fastest * second!s} among tau_m, tau_s, tau_r, "
            "noise_tau)."
        )
    if opts["trace_dt"] is None:
        every = max(1, int(math.floor(o["tau_r"] / (4 * o["dt"]) + 1e-9)))
    else:
        trace_dt = _model.check_time("trace_dt", opts["trace_dt"])
        every = _model.multiple_of("trace_dt", trace_dt, o["dt"] * second, "dt")
    o["trace_dt"] = every * o["dt"]
    o["every"] = every
    if opts["v0"] is not None:
        o["v0"] = _lif.check_quantity("v0", opts["v0"], mV, "10*mV", n=n)
    else:
        o["v0"] = None
    check_choice("homeostasis", opts["homeostasis"], HOMEOSTASIS)
    o["homeostasis"] = opts["homeostasis"]
    check_choice("target", opts["target"], _inputs.TARGETS)
    o["target"] = opts["target"]
    name = opts["name"]
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name == {name!r}, must be a Python identifier.")
    o["name"] = name
    return o


class _SampleRunner(CodeRunner):
    """A ``CodeRunner`` on the network's clock that runs its code every ``every`` steps.

    The trace samples run at the steps ``i`` with ``i % every == 0`` (``t = k trace_dt``)
    in the slot of the runner, as they would on a clock of their own of ``dt =
    trace_dt``, but the network keeps a single clock: Brian2 runs a network of several
    clocks through a slower Python loop (it looks for the next clock at every step: ~3 us
    per step measured on the benchmark network, more than the trace's own work). A
    skipped step costs one Python call (~0.1 us). ``also``: code runners (the neurons' sums) run
    by this one at the same steps, right after its own code, instead of by the network
    (one Python call per step for all of them); they are contained in it and inactive for
    the network. After the run the trace clock is set to the next sample, as if it had
    ticked through every sample of the run (its ``timestep`` counts the samples).
    """

    def __init__(self, group, *, every: int, trace_clock, also=(), **kwargs):
        super().__init__(group, "stateupdate", **kwargs)
        self._every = every
        self._trace_clock = trace_clock
        self._also = list(also)
        for runner in self._also:
            runner.active = False  # run by this runner, not by the network
        self.contained_objects.extend(self._also)
        self._wait = 0

    def before_run(self, run_namespace):
        super().before_run(run_namespace)
        for runner in self._also:
            runner.before_run(run_namespace)
        # Brian2 calls run() once per step of the clock: count down (Python ints, cheaper
        # than reading the clock's timestep at every step) to the next step i with
        # i % every == 0.
        self._wait = -int(self._clock.variables["timestep"].get_value()[0]) % self._every

    def run(self):
        if self._wait:
            self._wait -= 1
            return
        self._wait = self._every - 1
        for codeobj in self._code_objects:
            codeobj()
        for runner in self._also:
            runner.run()

    def after_run(self):
        super().after_run()
        for runner in self._also:
            runner.after_run()
        every = self._every
        step = int(self._clock.variables["timestep"].get_value()[0])
        nxt = -(-step // every)  # the next sample's index
        clock = self._trace_clock
        clock.variables["timestep"].set_value(nxt)
        clock.variables["t"].set_value(nxt * clock.dt_)  # as Network.run sets it


class SpikingNetwork(_core.SynapticNetwork):
    """A noise-driven recurrent LIF network that prunes itself during sleep (Brian2).

    Build it with :meth:`from_matrix` (a dense or ``scipy.sparse`` weight matrix ``J``)
    or :meth:`from_synapses` (synapse lists). Model (``plasticsim/online/_lif.py``; see
    the module docstring for the traces and the homeostasis)::

        tau_m dv/dt     = (E_L - v) + mu + I_syn + I_ext + I_noise   (v clamped when refractory)
        tau_s dI_syn/dt = -I_syn          (a spike of j adds J[i, j] to I_syn of i)
        tau_r dr/dt     = -r              (r += 1/tau_r on the neuron's own spike)
        v > V_th: spike, v = V_r, refractory for t_ref

    ``I_noise`` is white (``sigma sqrt(tau_m) xi``), Ornstein-Uhlenbeck (``noise_tau >
    0``, same integrated intensity) and/or a Poisson background onto ``I_syn``.

    Units: every argument with a dimension is a Brian2 quantity (``mV``, ``ms``, ``Hz``);
    plain arrays (``J``, the synapse table, the reports) are in mV, Hz and seconds.

    Attributes
    ----------
    reports : list of SleepReport
        One per :meth:`sleep` call, in order.

    See Also
    --------
    RateNetwork : the rate network; the state machine and the decisions are shared.
    """

    _BUILD_HINT = (
        "build a SpikingNetwork with SpikingNetwork.from_matrix(J, ...) or "
        "SpikingNetwork.from_synapses(n, pre, post, w, ...)."
    )
    _NEURON_STATE = _lif.NEURON_STATE
    _CACHED = ("_last_rates",)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_matrix(
        cls,
        J,
        *,
        tau_m=_lif.DEFAULTS["tau_m"],
        tau_s=_lif.DEFAULTS["tau_s"],
        V_th=_lif.DEFAULTS["V_th"],
        V_r=_lif.DEFAULTS["V_r"],
        E_L=_lif.DEFAULTS["E_L"],
        t_ref=_lif.DEFAULTS["t_ref"],
        mu=_lif.DEFAULTS["mu"],
        sigma=_lif.DEFAULTS["sigma"],
        noise_tau=_lif.DEFAULTS["noise_tau"],
        poisson=None,
        tau_r=_lif.DEFAULTS["tau_r"],
        dt=_lif.DEFAULTS["dt"],
        trace_dt=None,
        homeostasis="matched",
        v0=None,
        target="cython",
        rng=None,
        name="plasticsim_lif",
    ):
        """Build the Brian2 network of a weight matrix ``J`` (row = postsynaptic).

        Parameters
        ----------
        J : array_like or scipy.sparse array/matrix of shape (n, n)
            ``J[i, j]`` is the synapse from ``j`` onto ``i``, the jump of ``I_syn`` of
            ``i`` at a spike of ``j``: a plain or sparse array in mV, or a dense Brian2
            quantity (e.g. ``J * mV``). The diagonal must be 0 (no autapses). Every
            non-zero entry becomes one LABILE synapse. Dale's law (columns of one sign) is
            allowed, not required. A sparse ``J`` gives the same network, bit for bit, as
            ``J.toarray()``; a symmetric ``J`` is made symmetric to the bit as in
            :meth:`RateNetwork.from_matrix`.
        tau_m, tau_s, tau_r : brian2 time, default=20*ms, 5*ms, 100*ms
            Membrane, synaptic and rate-filter time constants.
        V_th, V_r, E_L : brian2 voltage, default=20*mV, 10*mV, 0*mV
            Threshold, reset (``V_r < V_th``) and resting potential.
        t_ref : brian2 time >= 0, default=2*ms
            Refractory period (``v`` clamped at ``V_r``).
        mu : brian2 voltage, scalar or shape (n,), default=15*mV
            Constant drive of each neuron (changed by the homeostasis).
        sigma : brian2 voltage >= 0, default=5*mV
            Noise amplitude: a free membrane has variance ``sigma^2 / 2``.
        noise_tau : brian2 time >= 0, default=0*ms
            Correlation time of Ornstein-Uhlenbeck noise; ``0*ms`` is white noise.
        poisson : None or tuple (int, brian2 rate, brian2 voltage), default=None
            Poisson background ``(n_inputs, rate, weight)`` onto ``I_syn``
            (``PoissonInput``); on during sleep and noisy wakes.
        dt : brian2 time, default=0.1*ms
            Euler(-Maruyama) step, at most 0.2 times the fastest time constant.
        trace_dt : brian2 time, default=None
            Interval between trace samples, a multiple of ``dt``; by default the largest
            multiple of ``dt`` not above ``tau_r / 4``. The squared deviations the trace
            averages are correlated over ``tau_r / 2`` (``r`` over ``tau_r``, for ``tau_r``
            much longer than the network's own correlation times), so samples
            every ``trace_dt`` have ``(trace_dt / tau_r) coth(trace_dt / tau_r)`` times the
            variance of a continuous average over the same window: 1.021 at ``tau_r / 4``
            (1.003 at ``tau_r / 10``, 1.31 at ``tau_r``), for a sample costing ``O(m)``.
        homeostasis : {"matched", None}, default="matched"
            After the decisions, change each neuron's ``mu`` so that its mean synaptic
            input at the sleep's rates is unchanged (module docstring); ``None``: off.
        v0 : brian2 voltage, scalar or shape (n,), default=None
            Initial membrane potentials; by default uniform in ``[E_L, V_th)``, drawn
            from ``rng``.
        target : {"cython", "numpy"}, default="cython"
            Brian2 code-generation target of the network's objects.
        rng : None, int or numpy.random.Generator, default=None
            Source of every random choice (Brian2's seed of each epoch, the decisions, the
            initial ``v``): the same ``rng`` gives the same network, bit for bit, on the
            same target.
        name : str, default="plasticsim_lif"
            Prefix of the Brian2 object names.

        Returns
        -------
        SpikingNetwork

        Raises
        ------
        TypeError
            A quantity without units or with the wrong dimensions (naming the argument),
            or a non-numeric ``J``.
        ValueError
            Invalid values (non-zero diagonal of ``J``, negative times, ``V_r >= V_th``,
            ``dt`` too coarse, no noise source, ...), before anything is built.

        Notes
        -----
        Building is ``O(n + m)`` for ``m`` synapses (``O(m log m)`` for synapse lists); a
        step costs ``O(n)`` plus ``O(1)`` per spike and outgoing synapse; a trace sample
        ``O(m)``.

        Examples
        --------
        >>> import numpy as np
        >>> from brian2 import mV
        >>> J = np.array([[0.0, 1.0, -2.0], [1.0, 0.0, -2.0], [1.0, 1.0, 0.0]])
        >>> net = SpikingNetwork.from_matrix(J, mu=12 * mV, target="numpy", rng=0)
        >>> net.n, net.n_synapses
        (3, 6)
        >>> bool(np.array_equal(net.J.toarray(), J))
        True
        """
        J = _lif.weights_in_mv("J", J)
        if _inputs.is_sparse(J):
            conn = _inputs.from_sparse(J, "J", diagonal="zero")
        else:
            conn = _inputs.from_dense(J, "J", diagonal="zero")
        return cls._build(conn, rng=rng, **_opts(locals()))

    @classmethod
    def from_synapses(
        cls,
        n,
        pre,
        post,
        w,
        *,
        tau_m=_lif.DEFAULTS["tau_m"],
        tau_s=_lif.DEFAULTS["tau_s"],
        V_th=_lif.DEFAULTS["V_th"],
        V_r=_lif.DEFAULTS["V_r"],
        E_L=_lif.DEFAULTS["E_L"],
        t_ref=_lif.DEFAULTS["t_ref"],
        mu=_lif.DEFAULTS["mu"],
        sigma=_lif.DEFAULTS["sigma"],
        noise_tau=_lif.DEFAULTS["noise_tau"],
        poisson=None,
        tau_r=_lif.DEFAULTS["tau_r"],
        dt=_lif.DEFAULTS["dt"],
        trace_dt=None,
        homeostasis="matched",
        v0=None,
        target="cython",
        rng=None,
        name="plasticsim_lif",
    ):
        """Build the network from synapse lists ``pre[k] -> post[k]`` of weight ``w[k]``.

        The same network, bit for bit, as :meth:`from_matrix` of ``J[post, pre] = w``,
        without an ``n x n`` array (``O(m log m)``).

        Parameters
        ----------
        n : int >= 1
            Number of neurons.
        pre, post : array_like of int, shape (m,)
            Presynaptic and postsynaptic neuron of each synapse, in ``[0, n)``; no
            autapse, no pair given twice.
        w : array_like of float (mV) or brian2 voltage, shape (m,)
            Non-zero weights (``w < 0``: inhibitory).
        tau_m, ..., name
            As in :meth:`from_matrix`.

        Returns
        -------
        SpikingNetwork

        Examples
        --------
        >>> import numpy as np
        >>> from brian2 import mV
        >>> net = SpikingNetwork.from_synapses(
        ...     3, [1, 2, 0, 2, 0, 1], [0, 0, 1, 1, 2, 2], [1.0, -2.0, 1.0, -2.0, 1.0, 1.0] * mV,
        ...     target="numpy", rng=0)
        >>> net.J.toarray()
        array([[ 0.,  1., -2.],
               [ 1.,  0., -2.],
               [ 1.,  1.,  0.]])
        """
        w = _lif.weights_in_mv("w", w)
        conn = _inputs.from_synapses(n, pre, post, w, None)
        return cls._build(conn, rng=rng, **_opts(locals()))

    @classmethod
    def _build(cls, conn, *, rng, **options):
        o = _check_options(conn.n, options)
        _core.check_device()
        codeobj = _core.codeobj_class(o["target"])
        seed, gen = check_rng(rng, STREAM_ONLINE)  # last: every argument is valid
        n = conn.n
        v0 = o["v0"]
        if v0 is None:  # a stream of its own: the decisions' generator is untouched
            v0 = np.random.default_rng((seed, 1)).uniform(o["E_L"], o["V_th"], n)
        synapses = {
            "w": conn.w,
            "sgn": np.sign(conn.w),
            "status": np.full(conn.w.size, int(LABILE), dtype=np.int32),
        }
        o["v0"] = v0
        return cls._assemble(o, codeobj, seed, gen, n, conn.pre, conn.post, synapses)

    @classmethod
    def _assemble(cls, o, codeobj, seed, gen, n, pre, post, synapses):
        """The Brian2 objects of checked options ``o`` (SI floats), ``v = o["v0"]``."""
        name, dt = o["name"], o["dt"] * second
        clock = Clock(dt=dt, name=f"{name}_clock")
        trace_clock = Clock(dt=o["trace_dt"] * second, name=f"{name}_trace_clock")
        G = NeuronGroup(
            n,
            _lif.neuron_model(ou=o["noise_tau"] > 0),
            threshold=_lif.THRESHOLD,
            reset=_lif.RESET,
            refractory=o["t_ref"] * second,
            method="euler",
            clock=clock,
            name=f"{name}_neurons",
            codeobj_class=codeobj,
        )
        G.variables["v"].set_value(o["v0"])
        G.variables["mu"].set_value(o["mu"])
        net = cls(
            _core.TOKEN,
            _n=n,
            _o=o,
            _center=True,  # spike trains have non-zero means: always centred
            _dt=dt,
            _trace_dt=o["trace_dt"] * second,
            _trace_every=o["every"],
            _target=o["target"],
            _codeobj=codeobj,
            _name=name,
            _seed=seed,
            _gen=gen,
            _clock=clock,
            _trace_clock=trace_clock,
            _G=G,
            _S=None,
            _poisson=None,
            _last_rates=None,
            reports=[],
        )
        net._S = net._make_synapses(pre, post, synapses)
        objects = [G, net._S]
        if o["poisson"] is not None:
            n_in, rate, weight = o["poisson"]
            net._poisson = PoissonInput(G, "I_syn", n_in, rate * Hz, weight * volt)
            net._poisson.codeobj_class = codeobj
            objects.append(net._poisson)
        net._net = Network(*objects, name=f"{name}_network")
        for obj in objects:
            net._adopt(obj)
        logger.debug(
            "SpikingNetwork: n=%d, %d synapses, target=%s, dt=%s, trace_dt=%s, seed=%d",
            n,
            len(pre),
            o["target"],
            dt,
            net._trace_dt,
            seed,
        )
        return net

    # ------------------------------------------------------------------ model hooks

    def _synapse_kwargs(self) -> dict:
        return {"model": _lif.SYNAPSE_MODEL, "on_pre": _lif.ON_PRE}

    def _make_synapses(self, pre, post, values):
        S = super()._make_synapses(pre, post, values)
        if not pre.size:  # Brian2 refuses to run event-driven Synapses without synapses
            S.active = False
        return S

    def _make_trace_runners(self) -> list[CodeRunner]:
        # As _core's, on the network's clock every trace_dt (_SampleRunner): the trace
        # runner also runs the neurons' sums (the two are independent: both read r).
        when, order = _model.TRACE_SLOT
        kwargs = {"clock": self._clock, "when": when, "order": order}
        kwargs["codeobj_class"] = self._codeobj
        sums = CodeRunner(
            self._G, "stateupdate", code=self._sum_code(), name=f"{self._name}_sums", **kwargs
        )
        trace = _SampleRunner(
            self._S,
            code=self._trace_code(),
            name=f"{self._name}_trace",
            every=int(self._trace_every),
            trace_clock=self._trace_clock,
            also=[sums],
            **kwargs,
        )
        return [trace]

    def _trace_code(self) -> str:
        return _lif.TRACE_CODE

    def _sum_code(self) -> str:
        return _lif.SUM_CODE

    def _namespace(self, *, noise: bool = True) -> dict:
        o = self._o
        ns = {
            "tau_m": o["tau_m"] * second,
            "tau_s": o["tau_s"] * second,
            "tau_r": o["tau_r"] * second,
            "V_th": o["V_th"] * volt,
            "V_r": o["V_r"] * volt,
            "E_L": o["E_L"] * volt,
            "sigma": (o["sigma"] if noise else 0.0) * volt,
            "trace_dt": self._trace_dt,
        }
        if o["noise_tau"] > 0:
            ns["tau_noise"] = o["noise_tau"] * second
        return ns

    def _default_burn_in(self) -> Quantity:
        # The slowest of the model's own time constants, five times: the initial state
        # (or the previous epoch's) and the filtered rates r relax by e^-5.
        o = self._o
        return 5 * max(o["tau_m"], o["tau_s"], o["tau_r"], o["noise_tau"]) * second

    def _sleep_inputs_off(self) -> None:
        self._G.variables["I_ext"].set_value(np.zeros(self._n))

    def _start_measurement(self) -> None:
        super()._start_measurement()
        self._G.variables["rsq"].set_value(np.zeros(self._n))
        self._G.variables["n_spikes"].set_value(np.zeros(self._n, dtype=np.int32))

    def _trace_values(self) -> np.ndarray:
        """The traces ``|w| (Q_post + Q_pre) - 2 w X``, written over the cross terms.

        The samples accumulate per synapse only ``X = sum r_post r_pre trace_dt`` and per
        neuron ``Q = sum r^2 trace_dt`` (``rsq``): with ``|w| sgn = w`` the sum of
        ``|w| (r_post - sgn r_pre)^2 trace_dt`` is ``|w| (Q_post + Q_pre) - 2 w X``, and a
        sample reads three per-synapse arrays (the two int32 indices and ``trace``) instead
        of five (and ``w``, ``sgn``). ``O(m)`` time, once per measurement, and one float64
        temporary per synapse; clipped at 0 (a sum of squares: only round-off can make it
        negative).
        """
        trace = super()._trace_values()
        if trace.size:
            S = self._S
            pre = S.variables["_synaptic_pre"].get_value()
            post = S.variables["_synaptic_post"].get_value()
            w = S.variables["w"].get_value()
            q = self._G.variables["rsq"].get_value()
            trace *= w
            trace *= -2.0
            tmp = q[post]
            tmp += q[pre]
            tmp *= np.abs(w)  # np.abs(w): a second temporary, freed at once
            trace += tmp
            np.maximum(trace, 0.0, out=trace)
        return trace

    def _homeostasis(
        self, *, weights_before, weights_after, pre, post, leak_change, n_samples
    ) -> dict:
        """Record the sleep's firing rates; with decisions and ``homeostasis="matched"``
        change ``mu_i`` by ``tau_s sum_j (J_ij - J'_ij) r_j`` (mV; module docstring)."""
        measured = n_samples * float(self._trace_dt)
        rates = self._G.variables["n_spikes"].get_value() / measured  # Hz
        self._last_rates = rates
        zeros = np.zeros(self._n)
        if weights_after is None or self._o["homeostasis"] is None:
            return {"leak_change": zeros, "drive_change": zeros}
        # The same code as plasticsim.spiking.homeostatic_drive (offline baselines).
        change = _drive_change(
            post, pre, weights_before - weights_after, rates, self._o["tau_s"], self._n
        )  # mV
        mu = self._G.variables["mu"].get_value() + change * float(mV)
        self._G.variables["mu"].set_value(mu)
        return {"leak_change": zeros, "drive_change": change}

    # ------------------------------------------------------------------ save / load

    _FORMAT = "plasticsim.SpikingNetwork"
    _META_KEYS = ("n", "params", "trace_every", "name", "target")
    _SAVED_NEURONS = ("v", "I_syn", "r", "mu", "lastspike", "not_refractory")

    def _saved_meta(self) -> dict:
        params = {k: v for k, v in self._o.items() if k not in ("mu", "v0", "target", "name")}
        return {
            "params": params,
            "trace_every": int(self._trace_every),
            "name": self._name,
            "target": self._target,
        }

    def _saved_neurons(self) -> dict:
        G = self._G
        names = self._SAVED_NEURONS + (("I_noise",) if "I_noise" in G.variables else ())
        return {v: G.variables[v].get_value().astype(np.float64) for v in names}

    @classmethod
    def _saved_neuron_names(cls, meta: dict) -> list:
        params = meta.get("params")
        ou = isinstance(params, dict) and params.get("noise_tau", 0) > 0
        return list(cls._SAVED_NEURONS) + (["I_noise"] if ou else [])

    @classmethod
    def _from_saved(cls, meta, codeobj, target, gen, pre, post, neurons, synapses):
        o = dict(meta["params"])
        o.update(target=target, name=str(meta["name"]), mu=neurons["mu"], v0=neurons["v"])
        if o["poisson"] is not None:
            o["poisson"] = tuple(o["poisson"])
        net = cls._assemble(o, codeobj, int(meta["seed"]), gen, meta["n"], pre, post, synapses)
        G = net._G
        for v, value in neurons.items():
            G.variables[v].set_value(value.astype(bool) if v == "not_refractory" else value)
        return net

    def save(self, path) -> None:
        """Write the network to one ``.npz`` file, to continue later bit for bit.

        As :meth:`RateNetwork.save`: the synapse table, the neurons' ``v``, ``I_syn``,
        ``r``, ``mu``, ``lastspike``, ``not_refractory`` (and ``I_noise``), every
        parameter, the seed, the decisions' generator and the simulated time; JSON
        metadata, no pickle, written atomically. Not kept: the reports and
        :attr:`rates`. :meth:`load` on the same target continues exactly as this object
        would.
        """
        _persist.save(self, path)

    @classmethod
    def load(cls, path, *, target=None) -> SpikingNetwork:
        """A network written by :meth:`save`, ready to continue bit for bit.

        Parameters
        ----------
        path : str or os.PathLike
        target : {None, "cython", "numpy"}, default=None
            ``None`` keeps the saved target.

        Raises
        ------
        ValueError
            For a file that is not an ``.npz`` written by :meth:`save`.
        """
        return _persist.load(cls, path, target=target)

    # ------------------------------------------------------------------ state access

    @property
    def J(self) -> sp.csr_array:
        """The current weights as a ``scipy.sparse.csr_array`` in mV (row = post).

        PRUNED synapses not yet compacted away have weight 0 and are left out.
        """
        pre, post, w, _, _ = self._table()
        live = w != 0
        return sp.csr_array((w[live], (post[live], pre[live])), shape=(self._n, self._n))

    def sparse_matrix(self) -> sp.csr_array:
        """The same as :attr:`J` (the name :class:`RateNetwork` uses)."""
        return self.J

    @property
    def mu(self) -> Quantity:
        """Each neuron's constant drive (a copy)."""
        return self._G.variables["mu"].get_value().copy() * volt

    @property
    def rates(self) -> Quantity | None:
        """Firing rates (spike counts over time) of the last epoch: the measurement window
        of the last :meth:`sleep`, or the last :meth:`wake`; ``None`` before any."""
        return None if self._last_rates is None else self._last_rates.copy() * Hz

    @property
    def params(self) -> dict:
        """The model's parameters (Brian2 quantities; ``mu`` is per neuron, see
        :attr:`mu`)."""
        o = self._o
        out = {k: o[k] * second for k in ("tau_m", "tau_s", "tau_r", "t_ref", "noise_tau")}
        out.update({k: o[k] * volt for k in ("V_th", "V_r", "E_L", "sigma")})
        out["dt"], out["trace_dt"] = self._dt, self._trace_dt
        out["poisson"] = (
            None
            if o["poisson"] is None
            else (o["poisson"][0], o["poisson"][1] * Hz, o["poisson"][2] * volt)
        )
        out["homeostasis"] = o["homeostasis"]
        return out

    @property
    def v(self) -> Quantity:
        """Membrane potentials (a copy)."""
        return self._G.variables["v"].get_value().copy() * volt

    def __repr__(self) -> str:
        counts = count_states(self._status())
        return (
            f"SpikingNetwork(n={self._n}, synapses={counts}, target={self._target!r}, "
            f"t={self.t!s})"
        )

    # ------------------------------------------------------------------ epochs

    def sleep(
        self,
        duration,
        *,
        k=None,
        density=None,
        burn_in=None,
        decide=True,
        relabile=0.0,
        symmetric="auto",
        compact=True,
        report=None,
        report_period=10 * second,
        min_kept=0,
        rule="noise",
    ) -> SleepReport:
        r"""One sleep epoch: noise on, inputs off, local traces, then the decisions.

        After the burn-in every synapse integrates, every ``trace_dt``,
        ``trace += trace_dt |w| (r_post - sgn r_pre)^2`` (accumulated as its cross term
        ``r_post r_pre`` and the neurons' ``r^2``) and each neuron sums its ``r`` and
        counts its spikes; the score is the centred ``trace / T`` (module docstring), in
        mV Hz^2. Each LABILE synapse then becomes STABLE with probability
        ``p = min(1, k s)`` (weight divided by ``p``) or PRUNED (weight 0), and with
        ``homeostasis="matched"`` each neuron's ``mu`` changes by
        ``tau_s sum_j (J_ij - J'_ij) r_j`` (``report.drive_change``, mV).

        Parameters, return value, errors and the all-or-nothing behaviour are those of
        :meth:`RateNetwork.sleep` (the same code), except ``burn_in``, whose default is
        five times the slowest of ``tau_m``, ``tau_s``, ``tau_r`` and ``noise_tau``.

        Parameters
        ----------
        duration : brian2 time
        k, density, burn_in, decide, relabile, symmetric, compact, report, report_period
            See :meth:`RateNetwork.sleep`.
        min_kept : int >= 0, default=0
            After the decisions, a neuron left with fewer than ``min_kept`` surviving
            input (and, asymmetric, output) synapses keeps its highest-probability
            candidates, reweighted by ``1 / p`` like the others (as in
            :meth:`RateNetwork.sleep`); the homeostasis counts them like any other kept
            synapse. ``0``: the rule as published.
        rule : {"noise", "weight", "uniform"}, default="noise"
            What ``p = min(1, k s)`` is computed from: the traces (the rule), or a
            baseline at the same ``density`` with the same decisions, reweighting and
            homeostasis: ``s = |w|`` (``"weight"``) or ``s = 1`` (``"uniform"``), as in
            :meth:`RateNetwork.sleep`. The traces are measured (and reported) whatever
            the rule.

        Returns
        -------
        SleepReport
            Weights in mV, scores in mV Hz^2, ``drive_change`` in mV, ``leak_change`` 0.

        Examples
        --------
        >>> import numpy as np
        >>> from brian2 import mV, ms
        >>> J = np.array([[0.0, 1.0, -2.0], [1.0, 0.0, -2.0], [1.0, 1.0, 0.0]])
        >>> net = SpikingNetwork.from_matrix(J, tau_r=20 * ms, target="numpy", rng=0)
        >>> rep = net.sleep(400 * ms, burn_in=100 * ms, density=0.5)
        >>> rep.counts_before, rep.n_samples
        ({'LABILE': 6, 'STABLE': 0, 'PRUNED': 0}, 60)
        >>> sum(rep.counts_after.values()) == net.n_synapses
        True
        """
        return _epochs.sleep(
            self,
            duration,
            k=k,
            density=density,
            burn_in=burn_in,
            decide=decide,
            relabile=relabile,
            symmetric=symmetric,
            compact=compact,
            report=report,
            report_period=report_period,
            min_kept=min_kept,
            rule=rule,
        )

    def wake(
        self,
        duration,
        *,
        inputs=None,
        noise=True,
        record_spikes=False,
        record_rates=False,
        record_dt=None,
        report=None,
        report_period=10 * second,
    ) -> SpikingWakeRecord:
        """Run with the current synapses and external input; no traces, no decisions.

        Parameters
        ----------
        duration : brian2 time
        inputs : None, brian2 voltage or brian2.TimedArray, default=None
            External input ``I_ext``: a constant (scalar or shape ``(n,)``) or a
            ``TimedArray`` in volts of shape ``(m, n)``, called as ``u(t - t_start, i)``.
        noise : bool, default=True
            ``False`` switches the noise off (``sigma = 0``, the Poisson background
            paused, an OU current disconnected and restored afterwards, as in
            :meth:`RateNetwork.wake`).
        record_spikes : bool, default=False
            Record every spike (a raster: ``spike_i``, ``spike_t``).
        record_rates : bool or array_like of int, default=False
            Record the filtered rates ``r`` of all neurons, none, or the given ones.
        record_dt : brian2 time, default=None
            Interval of the rate samples, a multiple of ``dt`` (default ``dt``).
        report, report_period
            As in :meth:`sleep`.

        Returns
        -------
        SpikingWakeRecord
            Also sets :attr:`rates` to the wake's firing rates.

        Raises
        ------
        TypeError, ValueError
            For invalid arguments, before anything is simulated.
        KeyboardInterrupt
            Ctrl-C during the run: the network is then as before the call.

        Examples
        --------
        >>> import numpy as np
        >>> from brian2 import mV, ms
        >>> J = np.array([[0.0, 1.0, -2.0], [1.0, 0.0, -2.0], [1.0, 1.0, 0.0]])
        >>> net = SpikingNetwork.from_matrix(J, target="numpy", rng=0)
        >>> rec = net.wake(200 * ms, record_spikes=True)
        >>> bool(rec.spike_i.size == round(float(rec.firing_rates.sum() * 200 * ms)))
        True
        """
        duration = _model.check_time("duration", duration)
        noise = _model.check_bool("noise", noise)
        record_spikes = _model.check_bool("record_spikes", record_spikes)
        report_period = _model.check_time("report_period", report_period)
        indices = _epochs._check_record(self, record_rates)
        if record_dt is not None:
            record_dt = _model.check_time("record_dt", record_dt)
            _model.multiple_of("record_dt", record_dt, self._dt, "dt")
        constant, timed = _lif.check_input(inputs, self._n, float(duration))
        progress = _epochs._Progress(report, float(duration))

        G = self._G
        with _rollback.epoch(self, synapses=False):
            seed = int(self._gen.integers(0, 2**32))
            ns = self._namespace(noise=noise)
            G.variables["I_ext"].set_value(np.zeros(self._n) if constant is None else constant)
            G.variables["n_spikes"].set_value(np.zeros(self._n, dtype=np.int32))
            added = []
            if timed is not None:
                ns["plasticsim_input"] = timed
                ns["t_wake"] = self._net.t
                added.append(_epochs.input_runner(self, _lif.INPUT_CODE))
            rate_mon = spike_mon = None
            if indices is not None:
                clock_kw = {"clock": self._clock} if record_dt is None else {"dt": record_dt}
                rate_mon = StateMonitor(
                    G,
                    "r",
                    record=indices,
                    when=_lif.RATE_SLOT[0],
                    order=_lif.RATE_SLOT[1],
                    name=f"{self._name}_rate_monitor",
                    codeobj_class=self._codeobj,
                    **clock_kw,
                )
                added.append(rate_mon)
            if record_spikes:
                spike_mon = SpikeMonitor(
                    G, name=f"{self._name}_spike_monitor", codeobj_class=self._codeobj
                )
                added.append(spike_mon)
            paused = "I_noise" if not noise and self._o["noise_tau"] > 0 else None
            if not noise and self._poisson is not None:
                self._poisson.active = False
            try:
                with _epochs.running_with(self, added, paused=paused), self._seeded(seed):
                    self._run(float(duration), ns, progress, report_period, "wake")
            finally:
                if self._poisson is not None:
                    self._poisson.active = True
            firing = G.variables["n_spikes"].get_value() / float(duration)
            self._last_rates = firing
        if rate_mon is None:
            t, rates = np.zeros(0) * second, np.zeros((0, 0)) * Hz
        else:
            t, rates = rate_mon.t[:].copy(), rate_mon.r[:].T.copy()
        if spike_mon is None:
            spike_i, spike_t = np.zeros(0, dtype=np.int32), np.zeros(0) * second
        else:
            spike_i, spike_t = spike_mon.i[:].copy(), spike_mon.t[:].copy()
        return SpikingWakeRecord(t, rates, spike_i, spike_t, firing.copy() * Hz, seed)


def _opts(local: dict) -> dict:
    """The options of a constructor call (its locals minus the network's data)."""
    skip = ("cls", "J", "n", "pre", "post", "w", "rng", "conn")
    return {k: v for k, v in local.items() if k not in skip}
