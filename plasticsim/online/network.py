"""The online (biological) noise-prune rule, simulated in Brian2 (DESIGN.md §2).

A :class:`RateNetwork` is a Brian2 ``NeuronGroup`` of leaky rate units driven by white or
Ornstein-Uhlenbeck noise and a ``Synapses`` object carrying, per synapse, the weight
``w``, its constant sign ``sgn``, the state ``status`` (LABILE / STABLE / PRUNED) and the
``trace``; the recurrent input reaches the neurons through a ``(summed)`` variable.
During :meth:`RateNetwork.sleep` every synapse integrates what it can know locally,
``|w| (r_post - sign(w) r_pre)^2``; at the end each labile synapse is consolidated with
probability ``p = min(1, k trace / T)`` (weight divided by ``p``) or pruned, and each
neuron's leak absorbs the change of its total absolute input.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import warnings
from contextlib import contextmanager

import brian2
import numpy as np
from brian2 import (
    Clock,
    Network,
    NeuronGroup,
    Quantity,
    Synapses,
    ms,
    second,
)
from brian2.devices.device import RuntimeDevice, get_device
from brian2.groups.group import CodeRunner

from .._validation import (
    STREAM_ONLINE,
    check_choice,
    check_matrix,
    check_positive,
    check_rng,
    is_symmetric,
    unstable_error,
)
from . import _epochs, _model, _rollback
from .states import (
    LABILE,
    PRUNED,
    SleepReport,
    SynapseStates,
    WakeRecord,
    count_states,
)

__all__ = ["RateNetwork"]

logger = logging.getLogger(__name__)

_TARGETS = ("numpy", "cython")
_NONLINEARITIES = (None, "relu")
# Warn when (dt / tau) max|lambda| exceeds this: Euler-Maruyama's stationary variance of a
# mode lambda is sigma^2 / (2 |lambda| (1 - h |lambda| / 2)), a relative bias of ~14% here.
_STIFFNESS_WARN = 0.25
_SYNAPSE_VARIABLES = ("w", "sgn", "status", "trace")


def _codeobj_class(target: str):
    if target == "numpy":
        from brian2.codegen.runtime.numpy_rt import NumpyCodeObject

        return NumpyCodeObject
    if importlib.util.find_spec("Cython") is None:
        raise ImportError(
            "target == 'cython' needs Cython (pip install cython) and a C++ compiler; "
            "use target='numpy' without them."
        )
    from brian2.codegen.runtime.cython_rt import CythonCodeObject

    return CythonCodeObject


class RateNetwork:
    """A noise-driven recurrent rate network that prunes itself during sleep (Brian2).

    Build it with :meth:`from_matrix`. Dynamics (DESIGN.md §1, time in real units; the
    derivation of the noise scaling is in ``plasticsim/online/_model.py``)::

        white:  tau dx/dt   = -leak x + W r + b + u(t) + sigma sqrt(tau) xi(t)
        OU:     tau dx/dt   = -leak x + W r + b + u(t) + eta
                tau_n deta/dt = -eta + sigma sqrt(tau) xi_n(t)

    with ``r = x`` (linear) or ``r = [x]_+`` (``nonlinearity="relu"``), ``A = -diag(leak)
    + W`` (row = post), tonic drive ``b`` (``bias``, on during sleep) and external input
    ``u`` (``wake(inputs=...)``, off during sleep). With ``s = t / tau`` this is
    DESIGN's ``dx/ds = A x + sigma xi(s)``, whose stationary covariance solves
    ``A C + C A^T + sigma^2 I = 0``: Brian2's covariance is
    ``noise_covariance(net.matrix, sigma=sigma, noise_tau=noise_tau / tau)`` up to the
    ``O(dt / tau)`` bias of Euler-Maruyama.

    One Brian2 ``Network`` lives as long as the object. Pruned synapses are removed by
    rebuilding the ``Synapses`` under the same name (Brian2 cannot delete synapses,
    brian2 issue #166; the same name reuses the compiled code).

    Attributes
    ----------
    reports : list of SleepReport
        One per :meth:`sleep` call, in order.

    See Also
    --------
    plasticsim.noise_prune : the exact, offline rule the online one converges to.

    References
    ----------
    .. [1] E. Moore, R. Chaudhuri, "Using noise to probe recurrent neural network
       structure and prune synapses", NeurIPS 2020, arXiv:2011.07334.
    .. [2] M. Stimberg, R. Brette, D. Goodman, "Brian 2, an intuitive and efficient
       neural simulator", eLife 8:e47314, 2019.
    """

    def __init__(self, _token=None, **state):
        if _token is not _FROM_MATRIX:
            raise TypeError("build a RateNetwork with RateNetwork.from_matrix(A, ...).")
        self.__dict__.update(state)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_matrix(
        cls,
        A,
        *,
        tau=10 * ms,
        sigma=1.0,
        noise_tau=0 * ms,
        nonlinearity=None,
        dt=0.1 * ms,
        target="cython",
        rng=None,
        bias=None,
        x0=None,
        trace_dt=None,
        center="auto",
        name="plasticsim",
    ):
        """Build the Brian2 network of a stable connectivity ``A`` (DESIGN.md §1).

        Parameters
        ----------
        A : array_like of shape (n, n)
            ``A[i, j]`` is the synapse from ``j`` onto ``i``; the diagonal is minus the
            leak and must be negative; every eigenvalue must have negative real part.
            Every non-zero off-diagonal entry becomes one LABILE synapse. An ``A``
            symmetric to the exact core's tolerance (``max |A - A.T| <= 1e-12 max |A|``,
            the test :func:`plasticsim.noise_prune` uses) is made symmetric to the bit,
            ``(A + A.T) / 2``, so that :meth:`sleep` decides each pair once as the offline
            rule does and the network stays symmetric (``matrix`` then differs from ``A``
            by that round-off).
        tau : brian2 time, default=10*ms
            Membrane time constant, the unit of DESIGN's dimensionless time.
        sigma : float > 0, default=1.0
            Noise amplitude in DESIGN's units (``A C + C A^T + sigma^2 I = 0``).
        noise_tau : brian2 time >= 0, default=0*ms
            Correlation time of Ornstein-Uhlenbeck noise; ``0*ms`` is white noise.
        nonlinearity : {None, "relu"}, default=None
            ``"relu"``: the synapses transmit (and their traces see) ``r = [x]_+``.
        dt : brian2 time, default=0.1*ms
            Euler-Maruyama step. It must keep the scheme stable
            (``|1 + (dt / tau) lambda| < 1`` for every eigenvalue ``lambda`` of ``A`` and
            ``dt < 2 noise_tau``); the covariance is then biased by ``O(dt / tau)``.
        target : {"cython", "numpy"}, default="cython"
            Brian2 code-generation target of every object of this network (set per
            object, Brian2's global preference is left alone). ``"numpy"`` needs no
            compiler; ``"cython"`` compiles once (cached) and runs several times faster.
        rng : None, int or numpy.random.Generator, default=None
            Source of every random choice: Brian2's seed of each epoch and the Python-side
            decisions are drawn from it, so the same ``rng`` gives the same states, bit
            for bit on the same target. A Generator is drawn from only after every
            argument has been checked: invalid input leaves it untouched.
        bias : float or array_like of shape (n,), default=None
            Tonic drive ``b`` (part of the neuron, on during sleep): it sets the operating
            point, ``x* = -A^{-1} b`` in the linear regime. Needed for rectified units.
        x0 : array_like of shape (n,), default=None
            Initial state; the linear fixed point ``-A^{-1} b`` (0 without bias) when
            omitted.
        trace_dt : brian2 time, default=None
            Interval between trace samples, a multiple of ``dt``; by default the largest
            multiple of ``dt`` not above ``tau / 10``. See :meth:`sleep` for its cost.
        center : {"auto", True, False}, default="auto"
            Centre the traces on the neurons' sample means (:meth:`sleep`); ``"auto"``
            centres when activity has a non-zero mean (a bias or rectified units).
        name : str, default="plasticsim"
            Prefix of the Brian2 object names. Generated code embeds them: networks of the
            same model and name share compiled code.

        Returns
        -------
        RateNetwork

        Raises
        ------
        TypeError, ValueError
            For invalid arguments, naming the argument, its value and the rule; all
            checks run before any Brian2 object is built.
        ImportError
            ``target="cython"`` without Cython.

        Warns
        -----
        RuntimeWarning
            When ``(dt / tau) max|lambda| > 0.25`` over the eigenvalues of ``A`` (and
            ``-tau / noise_tau``): Euler-Maruyama's stationary variance
            of a mode ``lambda`` is ``sigma^2 / (2 |lambda| (1 - h |lambda| / 2))`` with
            ``h = dt / tau``, so the fastest modes (and the scores of the synapses they
            dominate, e.g. strong synapses inside dense clusters) are inflated by more
            than 14%.

        Notes
        -----
        Construction costs one eigen-decomposition of ``A`` (``O(n^3)``: stability and
        the Euler check); a step costs ``O(n + m)`` for ``m`` synapses.

        Examples
        --------
        >>> import numpy as np
        >>> from brian2 import ms
        >>> A = np.array([[-2.0, 0.5, 0.0], [0.5, -2.0, 0.8], [0.0, 0.8, -2.0]])
        >>> net = RateNetwork.from_matrix(A, sigma=0.5, target="numpy", rng=0)
        >>> net.n, net.n_synapses
        (3, 4)
        >>> bool(np.array_equal(net.matrix, A))
        True
        """
        A = check_matrix(A, "A")
        n = A.shape[0]
        diag = np.diag(A).copy()
        if np.any(diag >= 0):
            i = int(np.argmax(diag >= 0))
            raise ValueError(
                f"A[{i}, {i}] == {float(diag[i])!r}: the diagonal holds minus each neuron's leak "
                "and every A[i, i] must be < 0."
            )
        tau = _model.check_time("tau", tau)
        sigma = check_positive("sigma", sigma)
        noise_tau = _model.check_time("noise_tau", noise_tau, allow_zero=True)
        check_choice("nonlinearity", nonlinearity, _NONLINEARITIES)
        dt = _model.check_time("dt", dt)
        check_choice("target", target, _TARGETS)
        bias = np.zeros(n) if bias is None else _model.check_vector("bias", bias, n)
        if x0 is not None:
            x0 = _model.check_vector("x0", x0, n)
        if trace_dt is None:
            every = max(1, int(math.floor(float(tau) / (10 * float(dt)) + 1e-9)))
            trace_dt = every * dt
        else:
            trace_dt = _model.check_time("trace_dt", trace_dt)
            every = _model.multiple_of("trace_dt", trace_dt, dt, "dt")
        if isinstance(center, str):
            check_choice("center", center, ("auto",))
        elif not isinstance(center, bool | np.bool_):
            raise TypeError(f"center must be 'auto', True or False, got {center!r}.")
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"name == {name!r}, must be a Python identifier.")
        if not isinstance(get_device(), RuntimeDevice):
            raise RuntimeError(
                f"plasticsim.online runs on Brian2's runtime device, but the active device "
                f"is {type(get_device()).__name__}; call brian2.set_device('runtime')."
            )
        codeobj = _codeobj_class(target)

        # Symmetric to the exact core's tolerance (is_symmetric, relative 1e-12): make it
        # symmetric to the bit, so that the synapse table is symmetric and sleep decides
        # each pair once, as noise_prune does for the same A (changes A by round-off only).
        symmetric = is_symmetric(A)
        if symmetric:
            A = 0.5 * (A + A.T)  # exact: a + b == b + a in floating point
        # Stability, and stability of the Euler-Maruyama step (one eigen-decomposition).
        lam = np.linalg.eigvalsh(A) if symmetric else np.linalg.eigvals(A)
        abscissa = float(np.max(lam.real))
        if not abscissa < 0:
            raise unstable_error(A, "A", abscissa)
        h = float(dt) / float(tau)
        rates = lam.astype(complex)
        if float(noise_tau) > 0:
            rates = np.append(rates, -float(tau) / float(noise_tau))
        growth = np.abs(1 + h * rates)
        if not np.all(growth < 1):
            worst = rates[int(np.argmax(growth))]
            raise ValueError(
                f"dt == {dt!s} is too large: the Euler-Maruyama step is unstable, "
                f"|1 + (dt/tau) lambda| == {float(growth.max()):.4g} >= 1 for lambda == "
                f"{complex(worst):.4g} (eigenvalue of A, or -tau/noise_tau); decrease dt."
            )

        stiffness = h * float(np.max(np.abs(rates)))
        if stiffness > _STIFFNESS_WARN:
            inflation = 0.5 * stiffness / (1 - 0.5 * stiffness)
            dt_ok = _STIFFNESS_WARN / stiffness * float(dt)
            warnings.warn(
                f"dt == {dt!s} is coarse for this network: (dt/tau) max|lambda| == "
                f"{stiffness:.3g} > {_STIFFNESS_WARN}, so Euler-Maruyama inflates the variance "
                f"of the fastest mode by ~{100 * inflation:.0f}% and the traces overestimate "
                f"the scores it dominates (lambda: eigenvalues of A and -tau/noise_tau); "
                f"use dt <= {dt_ok * second!s}.",
                RuntimeWarning,
                stacklevel=2,
            )

        # Last of the checks: a Generator is advanced only once every argument is valid.
        seed, gen = check_rng(rng, STREAM_ONLINE)

        relu = nonlinearity == "relu"
        if center == "auto":
            center = relu or bool(np.any(bias != 0))
        center = bool(center)
        if x0 is None:
            x0 = -np.linalg.solve(A, bias) if np.any(bias != 0) else np.zeros(n)

        off = A.copy()
        np.fill_diagonal(off, 0.0)
        post, pre = np.nonzero(off)  # row-major: sorted by post, then pre
        w = off[post, pre]

        clock = Clock(dt=dt, name=f"{name}_clock")
        trace_clock = Clock(dt=trace_dt, name=f"{name}_trace_clock")
        G = NeuronGroup(
            n,
            _model.neuron_model(ou=float(noise_tau) > 0, relu=relu, center=center),
            method="euler",
            clock=clock,
            name=f"{name}_neurons",
            codeobj_class=codeobj,
        )
        G.variables["leak"].set_value(-diag)
        G.variables["bias"].set_value(bias)
        G.variables["x"].set_value(x0)
        if relu:
            G.variables["r"].set_value(np.maximum(x0, 0.0))

        net = cls(
            _FROM_MATRIX,
            _n=n,
            _tau=tau,
            _sigma=sigma,
            _noise_tau=noise_tau,
            _relu=relu,
            _center=center,
            _dt=dt,
            _trace_dt=trace_dt,
            _trace_every=every,
            _target=target,
            _codeobj=codeobj,
            _name=name,
            _seed=seed,
            _gen=gen,
            _abscissa=abscissa,
            _clock=clock,
            _trace_clock=trace_clock,
            _G=G,
            _S=None,
            reports=[],
        )
        net._S = net._make_synapses(
            pre, post, {"w": w, "sgn": np.sign(w), "status": np.full(w.size, int(LABILE))}
        )
        objects = [G, net._S]
        if relu:
            objects.append(
                CodeRunner(
                    G,
                    "stateupdate",
                    code=_model.RATE_CODE,
                    clock=clock,
                    when=_model.RATE_SLOT[0],
                    order=_model.RATE_SLOT[1],
                    name=f"{name}_rate",
                    codeobj_class=codeobj,
                )
            )
        net._net = Network(*objects, name=f"{name}_network")
        for obj in (G, net._S):
            net._adopt(obj)
        logger.debug(
            "RateNetwork: n=%d, %d synapses, target=%s, dt=%s, trace_dt=%s, seed=%d",
            n,
            w.size,
            target,
            dt,
            trace_dt,
            seed,
        )
        return net

    def _adopt(self, obj) -> None:
        """Mark ``obj`` as belonging to this object's Brian2 network.

        Brian2 does this at the first run and logs an "unused object" warning for objects
        deleted before one; a network discarded right after being built or compacted is
        not a user mistake. (Brian2's own assignment, ``Network.before_run``.)
        """
        obj._network = self._net.id

    def _make_synapses(self, pre, post, values) -> Synapses:
        """A ``Synapses`` holding ``pre -> post`` with the given variables (same name)."""
        S = Synapses(
            self._G,
            self._G,
            _model.synapse_model(relu=self._relu),
            clock=self._clock,
            name=f"{self._name}_synapses",
            codeobj_class=self._codeobj,
        )
        if pre.size:  # connect() raises on empty arrays
            S.connect(i=np.asarray(pre, dtype=np.int64), j=np.asarray(post, dtype=np.int64))
            for var, value in values.items():
                S.variables[var].set_value(value)
        return S

    def _make_trace_runners(self) -> list[CodeRunner]:
        """Fresh code runners of the trace (and of the neurons' sums when centring).

        Brian2 refuses to re-add a simulated object to a network, so every measurement
        gets new runners; they keep their names, so their compiled code is reused. They
        join the network only for the measurement: during burn-in and wake the network
        runs on a single clock.
        """
        when, order = _model.TRACE_SLOT
        runners = [
            CodeRunner(
                self._S,
                "stateupdate",
                code=_model.trace_code(self._relu),
                clock=self._trace_clock,
                when=when,
                order=order,
                name=f"{self._name}_trace",
                codeobj_class=self._codeobj,
            )
        ]
        if self._center:
            runners.append(
                CodeRunner(
                    self._G,
                    "stateupdate",
                    code=_model.sum_code(self._relu),
                    clock=self._trace_clock,
                    when=when,
                    order=order,
                    name=f"{self._name}_sums",
                    codeobj_class=self._codeobj,
                )
            )
        return runners

    # ------------------------------------------------------------------ state access

    @property
    def n(self) -> int:
        """Number of neurons."""
        return self._n

    @property
    def n_synapses(self) -> int:
        """Synapses in the simulation (pruned ones count until compacted away)."""
        return len(self._S)

    @property
    def tau(self) -> Quantity:
        return self._tau

    @property
    def sigma(self) -> float:
        return self._sigma

    @property
    def noise_tau(self) -> Quantity:
        return self._noise_tau

    @property
    def dt(self) -> Quantity:
        return self._dt

    @property
    def trace_dt(self) -> Quantity:
        """Interval between trace samples (a multiple of ``dt``)."""
        return self._trace_dt

    @property
    def nonlinearity(self):
        return "relu" if self._relu else None

    @property
    def centered(self) -> bool:
        """Whether traces are centred on the neurons' sample means."""
        return self._center

    @property
    def target(self) -> str:
        return self._target

    @property
    def seed(self) -> int:
        """Seed of the network's generator: ``rng=seed`` repeats every epoch."""
        return self._seed

    @property
    def t(self) -> Quantity:
        """Simulated time so far."""
        return self._net.t

    @property
    def leak(self) -> np.ndarray:
        """Each neuron's leak (``A[i, i] == -leak[i]``), a copy."""
        return self._G.variables["leak"].get_value().copy()

    @property
    def bias(self) -> np.ndarray:
        return self._G.variables["bias"].get_value().copy()

    @property
    def state(self) -> np.ndarray:
        """Current ``x`` of every neuron, a copy."""
        return self._G.variables["x"].get_value().copy()

    @property
    def neurons(self) -> NeuronGroup:
        """The Brian2 ``NeuronGroup`` (read it; changing its structure is not supported)."""
        return self._G

    @property
    def synapses(self) -> Synapses:
        """The current Brian2 ``Synapses`` (replaced by every compaction)."""
        return self._S

    @property
    def network(self) -> Network:
        """The Brian2 ``Network`` (one for the life of the object)."""
        return self._net

    def _table(self):
        S = self._S
        if len(S) == 0:
            e = np.empty(0)
            return (e.astype(np.int64), e.astype(np.int64), e, e, e.astype(np.int32))
        pre = np.asarray(S.variables["_synaptic_pre"].get_value(), dtype=np.int64)
        post = np.asarray(S.variables["_synaptic_post"].get_value(), dtype=np.int64)
        get = S.variables
        return (
            pre,
            post,
            get["w"].get_value().copy(),
            get["sgn"].get_value().copy(),
            get["status"].get_value().copy(),
        )

    def synapse_states(self) -> SynapseStates:
        """The synapse table: ``pre``, ``post``, ``weight`` and ``state`` of every synapse.

        Returns
        -------
        SynapseStates
            A named tuple of arrays; ``state`` holds ``LABILE``/``STABLE``/``PRUNED``.
        """
        pre, post, w, _, status = self._table()
        return SynapseStates(pre, post, w, status.astype(np.int8))

    @property
    def matrix(self) -> np.ndarray:
        """The current effective ``A`` (leak on the diagonal), an ``(n, n)`` ndarray.

        Every function of the exact core applies to it, e.g.
        ``synapse_scores(net.matrix, sigma=net.sigma, noise_tau=net.noise_tau / net.tau)``.
        """
        pre, post, w, _, _ = self._table()
        A = np.zeros((self._n, self._n))
        A[post, pre] = w
        A[np.diag_indices(self._n)] = -self._G.variables["leak"].get_value()
        return A

    def __repr__(self) -> str:
        counts = count_states(self._table()[4])
        return (
            f"RateNetwork(n={self._n}, synapses={counts}, nonlinearity={self.nonlinearity!r}, "
            f"target={self._target!r}, t={self.t!s})"
        )

    # ------------------------------------------------------------------ running

    def _namespace(self, *, noise: bool = True) -> dict:
        ns = {
            "tau": self._tau,
            "sigma": self._sigma if noise else 0.0,
            "trace_dt": self._trace_dt,
        }
        if float(self._noise_tau) > 0:
            ns["tau_n"] = self._noise_tau
        return ns

    @contextmanager
    def _seeded(self, seed: int):
        """Seed Brian2's generator for one epoch; restore numpy's global state afterwards.

        Brian2's runtime targets draw their noise from numpy's legacy global generator
        (``brian2.seed`` seeds it and empties the cython buffers, so the next draw refills
        them from the seeded stream). Restoring numpy's state afterwards keeps plasticsim
        from disturbing a user's own ``np.random`` stream. (Brian2's own
        ``get_random_state``/``set_random_state`` must not be used for this: for cython
        they save the *address* of the random buffer, which a refill frees — restoring it
        leads to a double free.)
        """
        saved = np.random.get_state()  # noqa: NPY002 (Brian2 draws from it)
        brian2.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(saved)  # noqa: NPY002

    def _run(self, duration: float, namespace, progress, report_period, what: str):
        """One Brian2 run of ``duration`` seconds, which must reach its end.

        Brian2 turns a first Ctrl-C into "stop this run" and returns normally; a run that
        stopped short raises instead (``KeyboardInterrupt`` for a requested stop,
        ``RuntimeError`` otherwise, see ``_rollback.check_completed``), and the epoch
        around it (``_rollback.epoch``) restores the network.
        """
        hook = progress.for_run(duration)
        kwargs = {} if hook is None else {"report": hook, "report_period": report_period}
        t_end = float(self._net.t) + duration
        self._net.run(duration * second, namespace=namespace, **kwargs)
        _rollback.check_completed(self._net, t_end, float(self._dt), what)

    def _current_abscissa(self) -> float:
        """Spectral abscissa of the network as it now is (cached until a decision).

        The decisions change the weights and leaks, and the slowest mode can get slower
        (the matched leaks keep Gershgorin's bound, not the abscissa), so it is recomputed
        from :attr:`matrix` after every epoch that decided anything: one ``O(n^3)``
        eigen-decomposition (``eigvalsh`` when symmetric), the cost of construction.
        """
        if self._abscissa is None:
            A = self.matrix
            lam = np.linalg.eigvalsh(A) if np.array_equal(A, A.T) else np.linalg.eigvals(A)
            self._abscissa = float(np.max(lam.real))
        return self._abscissa

    def _default_burn_in(self) -> Quantity:
        # Five of the slowest relaxation times of the network as it now is (tau / |alpha|,
        # at least tau) plus five noise correlation times: transients of the initial state
        # and of the previous epoch decay by e^-5 in amplitude, e^-10 in covariance.
        abscissa = self._current_abscissa()
        if not abscissa < 0:
            raise unstable_error(self.matrix, "the network's current matrix", abscissa)
        relax = float(self._tau) * max(1.0, 1.0 / abs(abscissa))
        return (5 * relax + 5 * float(self._noise_tau)) * second

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
    ) -> SleepReport:
        r"""One sleep epoch: noise on, inputs off, local traces, then the decisions.

        After the burn-in every synapse integrates, at every trace sample (interval
        ``trace_dt``),

        .. math:: \mathrm{trace} \mathrel{+}= \Delta\, |w|\,(r_{post} - \mathrm{sgn}\, r_{pre})^2

        so that ``trace / T -> s_ij = |a| E[(x_i - sign(a) x_j)^2]`` (DESIGN.md §1) over the
        window ``T = n_samples * trace_dt``. Each LABILE synapse then becomes STABLE with
        probability ``p = min(1, k trace / T)`` (its weight divided by ``p``) or PRUNED
        (weight 0), and each neuron's leak changes by the change of its total absolute
        input, ``A'_ii = A_ii + sum_j (|A_ij| - |A'_ij|)`` (the matched diagonal, zero in
        expectation). STABLE synapses are traced too (cheaper than masking them; their
        scores are reported) but only LABILE ones are decided.

        Parameters
        ----------
        duration : brian2 time
            Length of the epoch, burn-in included (the window is ``duration - burn_in``,
            rounded to whole trace samples).
        k : float > 0, default=None
            The global constant of ``p = min(1, k s)``.
        density : float in (0, 1], default=None
            Instead of ``k``: the expected fraction of the candidates to keep; ``k`` is
            solved from the traces with :func:`plasticsim.solve_k` (clipping included).
            Give exactly one of ``k`` and ``density`` when ``decide`` is true.
        burn_in : brian2 time, default=None
            Unmeasured start of the epoch; by default five of the slowest relaxation
            times of the network as it now is (``5 tau / |alpha|`` for the spectral
            abscissa ``alpha``, at least ``5 tau``) plus five ``noise_tau``. ``alpha`` is
            recomputed after every epoch that changed the network (pruning can slow the
            slowest mode): one ``O(n^3)`` eigen-decomposition, as at construction. Raises
            ``ValueError`` if the network is no longer stable.
        decide : bool, default=True
            ``False`` only measures (the report then holds the scores, and the
            probabilities if ``k`` or ``density`` was given).
        relabile : float in [0, 1], default=0.0
            Probability that a STABLE synapse (pair, when symmetric) becomes LABILE again
            at the start of the epoch (only when ``decide``); ``1.0`` re-decides every
            survivor each epoch, a full noise-prune of the network as it now is.
        symmetric : {"auto", True, False}, default="auto"
            Decide each unordered pair once, both directions together (one uniform,
            ``p`` from the average of the two traces — identical up to rounding, since
            ``(x_i - s x_j)^2 = (x_j - s x_i)^2``), so a symmetric network stays symmetric.
            ``"auto"``: when the synapse table is symmetric (weights and states).
        compact : bool, default=True
            Rebuild the ``Synapses`` without the pruned ones, so that later epochs cost
            what the survivors cost. ``False`` keeps them with weight 0.
        report : None, {"text", "stdout", "stderr"} or callable, default=None
            Progress through Brian2's ``report=`` hook, for the whole epoch; a callable
            receives ``(elapsed, completed, start, duration)``.
        report_period : brian2 time, default=10*second
            Wall-clock interval between reports.

        Returns
        -------
        SleepReport
            Also appended to :attr:`reports`.

        Raises
        ------
        TypeError, ValueError
            For invalid arguments, before anything is simulated. Also ``ValueError``,
            before anything is simulated, when ``decide`` is true and no synapse is LABILE
            (after the ``relabile`` draws): decisions move a synapse one way only, LABILE
            -> STABLE or PRUNED, and STABLE synapses are decided again only once
            ``relabile`` makes them LABILE, so iterative pruning needs ``relabile > 0``.
        KeyboardInterrupt
            Ctrl-C during the epoch. Brian2 turns a first Ctrl-C into "stop the current
            run" (``prefs.core.stop_on_keyboard_interrupt``, left as the user set it); a
            run that stopped short raises here instead of yielding a truncated
            measurement. A stop by other means (``Network.stop``, a maximum run time) is a
            ``RuntimeError``.

        Notes
        -----
        *All or nothing.* Whatever ends an epoch before it returns (Ctrl-C, an error, a
        failing ``report`` callback) leaves the network exactly as it was before the call:
        synapses (the ``Synapses`` object of before a compaction included), weights,
        states, traces, leaks, ``x`` (and ``eta``), simulated time, the decision
        generator, numpy's global generator, and :attr:`reports` (no report of a
        cut-short epoch). Repeating the call then does, bit for bit, what the uninterrupted
        call would have done. The restore runs with Ctrl-C deferred, so a second Ctrl-C
        cannot interrupt it; it is raised once the network is whole. Objects a user added
        to :attr:`network` themselves keep what they recorded. Cost: one copy of the
        per-synapse state (``O(m)``) per epoch.

        -----
        *Estimator.* For a linear network without bias the activity has mean 0 and the
        trace is used as it is (an unbiased estimate). With a non-zero mean (bias or
        rectified units; ``center``) each neuron also sums its rate over the same samples
        and the score is centred exactly on the sample means ``mu``::

            s = trace / T - |w| (mu_post - sgn mu_pre)^2
              = |w| mean_t ((r_post - mu_post) - sgn (r_pre - mu_pre))^2,

        the sample variance of ``d = r_post - sgn r_pre`` (biased low by a relative
        ``O(tau / T)``, negligible next to the statistical error). Each synapse uses only
        its own weight and trace and its two neurons' rates and mean rates.

        *Statistical error.* The relative error (standard deviation over mean) of
        ``trace / T`` is ``~ 2 sqrt(tau_c / T)``, with ``tau_c`` the correlation time
        (integral of the autocorrelation) of ``d^2``: ``Var(d^2) = 2 Var(d)^2`` for
        Gaussian ``d``, so ``Var(trace / T) ~ 2 tau_c Var(d^2) / T = 4 (tau_c / T)
        E[d^2]^2``. For a mode of eigenvalue ``lambda``, ``tau_c = tau / (2 |lambda|)`` and
        the relative error is ``sqrt(2 tau / (|lambda| T))``; it shrinks like
        ``1 / sqrt(T / tau)``.

        *Sampling the trace every* ``Delta = trace_dt`` instead of every ``dt``
        multiplies the variance of the estimate of a component with
        ``d^2``-autocorrelation ``exp(-|u| / tau_c)`` by
        ``(Delta / 2 tau_c) coth(Delta / 2 tau_c) ~ 1 + (Delta / tau_c)^2 / 12``: for the
        default ``Delta = tau / 10`` and the slow modes that carry the scores
        (``|lambda| ~ 1``, ``tau_c ~ tau / 2``) that is ``+0.3 %`` (equivalent to losing
        0.3 % of ``T``), against a ten-fold cheaper trace.

        Cost: ``O(n + m)`` per step for ``m`` synapses (summed input) plus ``O(m)`` per
        trace sample; the decisions are ``O(m log m)`` once; the default ``burn_in`` of
        an epoch that follows decisions costs one ``O(n^3)`` eigen-decomposition.

        Examples
        --------
        >>> import numpy as np
        >>> from brian2 import ms, second
        >>> A = np.array([[-3.0, 1.0, 1.0], [1.0, -3.0, 1.0], [1.0, 1.0, -3.0]])
        >>> net = RateNetwork.from_matrix(A, sigma=0.5, dt=0.5 * ms, target="numpy", rng=1)
        >>> rep = net.sleep(0.5 * second, density=0.5)
        >>> rep.symmetric, rep.counts_before
        (True, {'LABILE': 6, 'STABLE': 0, 'PRUNED': 0})
        >>> bool(np.array_equal(net.matrix, net.matrix.T))
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
        )

    def compact(self) -> int:
        """Remove the PRUNED synapses from the simulation; return how many were removed.

        The ``Synapses`` is rebuilt from the survivors under the same name (so compiled
        code is reused), inside the same Brian2 ``Network``.
        """
        before = len(self._S)
        self._compact()
        return before - len(self._S)

    def _compact(self) -> None:
        S = self._S
        status = S.variables["status"].get_value() if len(S) else np.empty(0, dtype=np.int32)
        keep = status != PRUNED
        if keep.all():
            return
        pre, post, *_ = self._table()
        values = {v: S.variables[v].get_value()[keep].copy() for v in _SYNAPSE_VARIABLES}
        self._net.remove(S)
        self._S = self._make_synapses(pre[keep], post[keep], values)
        self._net.add(self._S)
        self._adopt(self._S)
        logger.debug("compacted: %d -> %d synapses", keep.size, len(self._S))

    def wake(
        self,
        duration,
        *,
        inputs=None,
        input_dt=None,
        noise=True,
        record=True,
        record_dt=None,
        report=None,
        report_period=10 * second,
    ) -> WakeRecord:
        """Run with the current synapses and external inputs; no traces, no decisions.

        Parameters
        ----------
        duration : brian2 time
        inputs : None, array_like or brian2.TimedArray, default=None
            External input ``u`` (DESIGN units, added to ``A x + b``): a constant of shape
            ``(n,)``; an array of shape ``(m, n)`` whose row ``k`` drives
            ``[k input_dt, (k + 1) input_dt)`` from the start of the wake (``m input_dt``
            must cover ``duration``); or a ``TimedArray`` of shape ``(m, n)``, called as
            ``u(t - t_start, i)``.
        input_dt : brian2 time, default=None
            Row interval of an array input, a multiple of ``dt`` (default ``dt``).
        noise : bool, default=True
            ``False`` runs the deterministic dynamics (``sigma = 0``). With OU noise the
            noise current ``eta`` is also disconnected (0) during the run and restored
            afterwards: the noise is paused, not reset, and the next noisy epoch continues
            from the stationary ``eta`` the previous one left.
        record : bool or array_like of int, default=True
            Record the rates of all neurons, none, or the given ones.
        record_dt : brian2 time, default=None
            Recording interval, a multiple of ``dt`` (default ``dt``).
        report, report_period
            As in :meth:`sleep`.

        Returns
        -------
        WakeRecord
            ``t`` (brian2 times), ``rates`` of shape ``(n_times, n_recorded)`` and the
            Brian2 ``seed`` of the run.

        Raises
        ------
        TypeError, ValueError
            For invalid arguments, before anything is simulated.
        KeyboardInterrupt
            Ctrl-C during the run (see :meth:`sleep`): the network, its time and its
            generators are then as before the call, as after any other error.
        """
        return _epochs.wake(
            self,
            duration,
            inputs=inputs,
            input_dt=input_dt,
            noise=noise,
            record=record,
            record_dt=record_dt,
            report=report,
            report_period=report_period,
        )


_FROM_MATRIX = object()
