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

import logging
import warnings

import numpy as np
from brian2 import (
    Clock,
    Network,
    NeuronGroup,
    Quantity,
    ms,
    second,
)
from brian2.groups.group import CodeRunner

from .._validation import STREAM_ONLINE, check_rng
from . import (
    _checks,
    _core,
    _epochs,
    _inputs,
    _learning,
    _lifetime,
    _model,
    _persist,
    _schedule,
)
from ._core import SynapticNetwork
from ._decisions import weights_symmetric
from .states import (
    LABILE,
    SleepReport,
    WakeRecord,
    count_states,
)

__all__ = ["RateNetwork"]

logger = logging.getLogger(__name__)

# ``matrix`` (dense) refuses networks larger than this: 10,000 neurons are 800 MB.
MATRIX_MAX_N = 10_000


_readonly = _core.readonly
_codeobj_class = _core.codeobj_class
_check_device = _core.check_device


def _checks_symmetric(n, pre, post, w) -> bool:
    """Whether the summed ``W`` is symmetric, for the choice of eigensolver."""
    if n <= _checks.EXACT_MAX_N:
        W = _checks.dense_A(n, pre, post, w, np.zeros(n))
        return bool(np.array_equal(W, W.T))
    return weights_symmetric(n, pre, post, w)


def _fixed_point(conn, bias: np.ndarray) -> np.ndarray:
    """The linear fixed point ``x* = -A^{-1} b`` (0 without bias).

    Up to ``EXACT_MAX_N`` neurons a dense solve (``O(n^3)``); above, a Jacobi-
    preconditioned Krylov solve on the sparse ``A`` (conjugate gradients for symmetric
    ``-A``, which is then positive definite since ``A`` is stable; GMRES otherwise),
    ``O(m)`` per iteration. It is only the starting state: the burn-in of the first sleep
    removes any remaining error, so a solve that stops short is logged, not raised.
    """
    n = conn.n
    if not np.any(bias != 0):
        return np.zeros(n)
    if n <= _checks.EXACT_MAX_N:
        A = _checks.dense_A(n, conn.pre, conn.post, conn.w, conn.leak)
        return -np.linalg.solve(A, bias)
    import scipy.sparse.linalg as spla

    negA = -_checks.sparse_A(n, conn.pre, conn.post, conn.w, conn.leak)
    M = spla.LinearOperator((n, n), matvec=lambda v: v / conn.leak, dtype=np.float64)
    solver = spla.cg if conn.symmetric else spla.gmres
    x, info = solver(negA, bias, rtol=1e-10, maxiter=1000, M=M)
    if info != 0:
        logger.warning(
            "x0: the Krylov solve of A x = -bias stopped after %s iterations without "
            "reaching rtol 1e-10; the first burn-in absorbs the difference.",
            info,
        )
    return x


class RateNetwork(SynapticNetwork):
    """A noise-driven recurrent rate network that prunes itself during sleep (Brian2).

    Build it with :meth:`from_matrix` (a dense or ``scipy.sparse`` ``A``),
    :meth:`from_synapses` (synapse lists) or :meth:`load` (a saved network). Dynamics
    (DESIGN.md §1, time in real units; the derivation of the noise scaling is in
    ``plasticsim/online/_model.py``)::

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

    _BUILD_HINT = (
        "build a RateNetwork with RateNetwork.from_matrix(A, ...), "
        "RateNetwork.from_synapses(n, pre, post, w, leak=...) or RateNetwork.load(path)."
    )
    # Neuron variables an epoch may change, restored when it fails (_rollback).
    _NEURON_STATE = ("x", "eta", "r", "rsum", "I_syn", "I_ext", "leak", "gain", "bias")
    # The cached spectral abscissa (the default burn-in), restored when an epoch fails.
    _CACHED = ("_abscissa", "_abscissa_check")

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
        multapses=False,
    ):
        """Build the Brian2 network of a stable connectivity ``A`` (DESIGN.md §1).

        Parameters
        ----------
        A : array_like or scipy.sparse array/matrix of shape (n, n)
            ``A[i, j]`` is the synapse from ``j`` onto ``i``; the diagonal is minus the
            leak and must be negative; every eigenvalue must have negative real part.
            Every non-zero off-diagonal entry becomes one LABILE synapse (explicit zeros
            of a sparse ``A`` do not; its duplicate entries are summed, scipy's rule). A
            sparse ``A`` is never made dense, and gives the same network, bit for bit, as
            ``A.toarray()``. An ``A``
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
        multapses : bool, default=False
            ``True``: every stored off-diagonal entry of a ``scipy.sparse`` ``A`` is its
            own synapse, so a COO array that stores a position several times gives
            several synapses between the same two neurons (multapses; see
            :meth:`from_synapses`), summed in ``matrix``. A dense ``A`` holds one number
            per pair and cannot say this: ``multapses=True`` with a dense ``A`` is a
            ``ValueError`` (use :meth:`from_synapses`).

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
        *Checks.* Up to 2,000 neurons (``plasticsim.online._checks.EXACT_MAX_N``)
        stability and the Euler step are checked on the exact eigenvalues of ``A`` (one
        dense ``O(n^3)`` eigen-decomposition). Above, without any ``n x n`` array:
        Gershgorin discs in ``O(n + m)`` (a diagonally dominant ``A`` is certified stable,
        and the step is certified when every disc lies in the step's stability disc),
        else ARPACK (``scipy.sparse.linalg.eigsh``/``eigs``) for the few extreme
        eigenvalues needed, with a bounded number of iterations. Errors and warnings
        name the check used.

        *Cost.* Building is ``O(n + m)`` for ``m`` synapses beyond those checks (and
        ``O(m log m)`` to sort synapse lists); a step costs ``O(n + m)``.

        *Memory*, bytes per synapse measured with ``tracemalloc`` at 10,000 neurons and
        1,000,000 synapses (cython target; the neurons' share is negligible):

        - a built network: 37 (Brian2's ``_synaptic_pre``/``_synaptic_post`` int32,
          ``w``, ``sgn``, ``trace`` float64, ``status`` int32: 36);
        - building: peak 93 above the start, of it 12 the caller's sparse ``A`` (its
          symmetrised copies; int32 indices from the start);
        - a sleep epoch: peak 46 above the network without decisions, 60 with (the
          rollback record, 17: ``w`` and ``trace`` float64, ``status`` int8; the scores;
          int32 pairing and units; the decisions' temporaries: they are written in place
          into Brian2's arrays, which the record restores if the epoch fails);
        - each :class:`SleepReport` kept in ``net.reports``: 17 without decisions
          (``weights``, ``scores``, ``candidate``; ``pre``/``post`` are read-only views of
          Brian2's indices, ``kept``/``probabilities`` constant arrays), 26 with;
        - compaction: the survivors' copy only (< 5 at density 0.1), the old
          ``Synapses`` is kept until the epoch ends (the record's).

        So a 10-million-synapse network sleeps in ~1 GB plus ~0.2 GB per report kept:
        ``net.reports.clear()`` releases them.

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

        A ``scipy.sparse`` matrix gives the same network:

        >>> import scipy.sparse as sp
        >>> same = RateNetwork.from_matrix(sp.csr_array(A), sigma=0.5, target="numpy", rng=0)
        >>> bool(np.array_equal(same.sparse_matrix().toarray(), A))
        True
        """
        if _model.check_bool("multapses", multapses):
            if not _inputs.is_sparse(A):
                raise ValueError(
                    "multapses=True needs synapse lists or a scipy.sparse A that stores "
                    "each synapse as its own entry: a dense A holds one number per pair "
                    "of neurons and cannot express several synapses between them; use "
                    "RateNetwork.from_synapses(n, pre, post, w, leak=..., multapses=True)."
                )
            conn = _inputs.from_sparse_entries(A)
        elif _inputs.is_sparse(A):
            conn = _inputs.from_sparse(A)
        else:
            conn = _inputs.from_dense(A)
        return cls._build(
            conn,
            tau=tau,
            sigma=sigma,
            noise_tau=noise_tau,
            nonlinearity=nonlinearity,
            dt=dt,
            target=target,
            rng=rng,
            bias=bias,
            x0=x0,
            trace_dt=trace_dt,
            center=center,
            name=name,
        )

    @classmethod
    def from_synapses(
        cls,
        n,
        pre,
        post,
        w,
        *,
        leak,
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
        multapses=False,
    ):
        """Build the network from synapse lists, Brian2's way: ``pre[k] -> post[k]``.

        The network is ``A = -diag(leak) + W`` with ``W[post[k], pre[k]] = w[k]``; it is
        the network :meth:`from_matrix` builds from that ``A`` (dense or sparse), with the
        same synapse table, checks and simulation, bit for bit. No ``n x n`` array is
        formed: ``O(m log m)`` time (the synapses are sorted by ``(post, pre)``) and
        ``O(n + m)`` memory for ``m`` synapses.

        Parameters
        ----------
        n : int >= 1
            Number of neurons.
        pre, post : array_like of int, shape (m,)
            Presynaptic and postsynaptic neuron of each synapse, in ``[0, n)``; no
            self-synapse (``pre[k] == post[k]``), no pair given twice unless
            ``multapses``.
        w : array_like of float, shape (m,)
            Non-zero, finite weights (``w < 0``: inhibitory).
        leak : float > 0 or array_like of shape (n,)
            Each neuron's leak, ``A[i, i] == -leak[i]``.
        tau, sigma, noise_tau, nonlinearity, dt, target, rng, bias, x0, trace_dt, center, name
            As in :meth:`from_matrix`.
        multapses : bool, default=False
            Allow a pair ``(pre, post)`` several times: each entry is its own synapse
            (Brian2's repeated ``i``/``j`` in ``Synapses.connect``) with its own weight,
            trace, state and decision; the network's ``A[post, pre]`` is the sum of the
            pair's weights (:attr:`matrix`, :meth:`sparse_matrix`), which the checks and
            the dynamics use. Entries of a pair keep the order given. With multapses
            :meth:`sleep` decides every synapse on its own (``symmetric="auto"`` is
            ``False``, ``symmetric=True`` an error): a synapse has no unique reverse
            partner. The matched leak change is per synapse (``sum |w|`` over the
            synapses, equal to ``|A_ij|`` when a pair's synapses share a sign), and
            ``sleep(min_kept=...)`` counts synapses, not pairs. Without ``multapses`` a
            repeated pair is an error.

        Returns
        -------
        RateNetwork

        Raises
        ------
        TypeError, ValueError
            For invalid arguments (indices out of range, self-synapses, duplicate pairs
            without ``multapses``, zero or non-finite weights, non-positive leaks,
            mismatched shapes, and every rule of :meth:`from_matrix`), naming the
            argument, the entry and the rule.

        Examples
        --------
        >>> import numpy as np
        >>> net = RateNetwork.from_synapses(
        ...     3, [1, 0, 2, 1], [0, 1, 1, 2], [0.5, 0.5, 0.8, 0.8], leak=2.0,
        ...     target="numpy", rng=0)
        >>> A = np.array([[-2.0, 0.5, 0.0], [0.5, -2.0, 0.8], [0.0, 0.8, -2.0]])
        >>> bool(np.array_equal(net.sparse_matrix().toarray(), A))
        True

        Two synapses ``0 -> 1`` (multapses), each its own synapse, summed in ``A``:

        >>> multi = RateNetwork.from_synapses(
        ...     2, [0, 0, 1], [1, 1, 0], [0.25, 0.5, 0.5], leak=2.0,
        ...     target="numpy", rng=0, multapses=True)
        >>> multi.n_synapses, float(multi.matrix[1, 0])
        (3, 0.75)
        """
        multapses = _model.check_bool("multapses", multapses)
        conn = _inputs.from_synapses(n, pre, post, w, leak, multapses=multapses)
        return cls._build(
            conn,
            tau=tau,
            sigma=sigma,
            noise_tau=noise_tau,
            nonlinearity=nonlinearity,
            dt=dt,
            target=target,
            rng=rng,
            bias=bias,
            x0=x0,
            trace_dt=trace_dt,
            center=center,
            name=name,
        )

    @classmethod
    def _build(cls, conn, *, rng, **options):
        """Check the options and the spectrum, then build (shared by the constructors)."""
        opts = _inputs.check_options(conn.n, **options)
        _check_device()
        codeobj = _codeobj_class(opts["target"])
        abscissa, check = _checks.construction_checks(
            conn, tau=opts["tau"], dt=opts["dt"], noise_tau=opts["noise_tau"], stacklevel=4
        )
        # Last of the checks: a Generator is advanced only once every argument is valid.
        seed, gen = check_rng(rng, STREAM_ONLINE)
        x0 = opts["x0"]
        if x0 is None:
            x0 = _fixed_point(conn, opts["bias"])
        neurons = {"leak": conn.leak, "bias": opts["bias"], "x": x0}
        if opts["relu"]:
            neurons["r"] = np.maximum(x0, 0.0)
        synapses = {
            "w": conn.w,
            "sgn": np.sign(conn.w),
            "status": np.full(conn.w.size, int(LABILE), dtype=np.int32),
        }
        net = cls._assemble(
            opts, codeobj, seed, gen, conn.n, conn.pre, conn.post, neurons, synapses
        )
        net._abscissa, net._abscissa_check = abscissa, check
        return net

    @classmethod
    def _assemble(cls, opts, codeobj, seed, gen, n, pre, post, neurons, synapses):
        """The Brian2 objects of a checked network, with the given variable values."""
        name, dt, relu = opts["name"], opts["dt"], opts["relu"]
        clock = Clock(dt=dt, name=f"{name}_clock")
        trace_clock = Clock(dt=opts["trace_dt"], name=f"{name}_trace_clock")
        G = NeuronGroup(
            n,
            _model.neuron_model(ou=float(opts["noise_tau"]) > 0, relu=relu, center=opts["center"]),
            method="euler",
            clock=clock,
            name=f"{name}_neurons",
            codeobj_class=codeobj,
        )
        G.variables["gain"].set_value(np.ones(n))  # the leak factor (1 outside a schedule)
        for var, value in neurons.items():
            G.variables[var].set_value(value)

        net = cls(
            _FROM_MATRIX,
            _n=n,
            _tau=opts["tau"],
            _sigma=opts["sigma"],
            _noise_tau=opts["noise_tau"],
            _relu=relu,
            _center=opts["center"],
            _dt=dt,
            _trace_dt=opts["trace_dt"],
            _trace_every=opts["every"],
            _target=opts["target"],
            _codeobj=codeobj,
            _name=name,
            _seed=seed,
            _gen=gen,
            _abscissa=None,
            _abscissa_check=None,
            _clock=clock,
            _trace_clock=trace_clock,
            _G=G,
            _S=None,
            reports=[],
        )
        net._S = net._make_synapses(pre, post, synapses)
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
            pre.size,
            opts["target"],
            dt,
            opts["trace_dt"],
            seed,
        )
        return net

    # ------------------------------------------------------------------ model hooks

    def _synapse_kwargs(self) -> dict:
        return {"model": _model.synapse_model(relu=self._relu)}

    def _trace_code(self) -> str:
        return _model.trace_code(self._relu)

    def _sum_code(self) -> str:
        return _model.sum_code(self._relu)

    def _sleep_inputs_off(self) -> None:
        self._G.variables["I_ext"].set_value(np.zeros(self._n))

    def _excitability_schedule(self, excitability, duration, cover=None):
        """The schedule as a ``TimedArray`` (:func:`._schedule.resolve`), checked.

        Frozen-time checks of the extremes: the network with every leak at its smallest
        factor must be stable, and the Euler step stable with every leak at its largest
        (``_checks``: exact eigenvalues up to 2,000 neurons, bounds or ARPACK above).
        """
        timed = _schedule.resolve(
            excitability, n=self._n, dt=self._dt, duration=duration, name=self._name, cover=cover
        )
        low, high = _schedule.extremes(timed, self._n)
        pre, post, w, _, _ = self._table()
        live = w != 0
        pre, post, w = pre[live], post[live], w[live]
        leak = self._G.variables["leak"].get_value()
        symmetric = _checks_symmetric(self._n, pre, post, w)
        if np.any(low < 1):
            alpha, check = _checks.abscissa(self._n, pre, post, w, leak * low, symmetric)
            if not alpha < 0:
                raise ValueError(
                    f"excitability lowers the leaks to {float(low.min()):.4g} x leak, where "
                    f"the network is not stable (spectral abscissa {alpha:.6g}, {check}); "
                    "keep every leak factor high enough (a factor >= 1 never lowers a leak)."
                )
        h = float(self._dt / self._tau)
        spec = _checks.spectrum(self._n, pre, post, w, leak * high, symmetric=symmetric, h=h)
        if not spec.growth < 1:
            raise ValueError(
                f"excitability raises the leaks to {float(high.max()):.4g} x leak, where the "
                f"Euler step is unstable: |1 + (dt/tau) lambda| == {spec.growth:.4g} >= 1 "
                f"({spec.step_check}); build the network with a smaller dt."
            )
        if h * spec.radius > _checks.STIFFNESS_WARN:
            logger.warning(
                "excitability: at the largest leak factor (dt/tau) max|lambda| == %.3g > %s "
                "(%s): the traces overestimate the scores of the fastest modes there.",
                h * spec.radius,
                _checks.STIFFNESS_WARN,
                spec.step_check,
            )
        return timed

    def _excitability_on(self, timed, namespace: dict) -> CodeRunner:
        """Attach the code runner that sets ``gain = g(t - t_sleep)`` at every step."""
        namespace["plasticsim_excitability"] = timed
        namespace["t_sleep"] = self._net.t
        when, order = _model.EXCITABILITY_SLOT
        runner = CodeRunner(
            self._G,
            "stateupdate",
            code=_model.excitability_code(np.ndim(timed.values) == 2),
            clock=self._clock,
            when=when,
            order=order,
            name=f"{self._name}_excitability",
            codeobj_class=self._codeobj,
        )
        self._net.add(runner)
        self._adopt(runner)
        return runner

    def _excitability_off(self, runner: CodeRunner) -> None:
        """Detach the schedule; every leak factor back to 1 (the rest leak)."""
        self._net.remove(runner)
        self._G.variables["gain"].set_value(np.ones(self._n))

    def _homeostasis(
        self, *, weights_before, weights_after, pre, post, leak_change, n_samples
    ) -> dict:
        """The matched diagonal: each neuron's leak absorbs the change of its total
        absolute input (``leak_change``); then warn if the network may be unstable or
        the Euler step too coarse for it."""
        if weights_after is None:
            return {"leak_change": leak_change}
        leak = self._G.variables["leak"].get_value() + leak_change
        self._G.variables["leak"].set_value(leak)
        self._abscissa = None  # the network changed: the next default burn-in recomputes it
        if np.any(leak <= 0):
            bad = np.flatnonzero(leak <= 0)
            warnings.warn(
                f"after the decisions {bad.size} neuron(s) have a leak <= 0 (first: "
                f"leak[{bad[0]}] == {leak[bad[0]]:.4g}); the network may be unstable. "
                "The matched diagonal keeps leaks positive for diagonally dominant -A.",
                RuntimeWarning,
                stacklevel=5,
            )
        _epochs.warn_if_stiff(self, leak, weights_after, post)
        return {"leak_change": leak_change}

    # ------------------------------------------------------------------ state access

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
    def nonlinearity(self):
        return "relu" if self._relu else None

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
    def matrix(self) -> np.ndarray:
        """The current effective ``A`` (leak on the diagonal), an ``(n, n)`` ndarray.

        With multapses (:meth:`from_synapses`) ``A[i, j]`` is the sum of the weights of
        the synapses ``j -> i``.

        Every function of the exact core applies to it, e.g.
        ``synapse_scores(net.matrix, sigma=net.sigma, noise_tau=net.noise_tau / net.tau)``.
        Refused (``ValueError``) above ``MATRIX_MAX_N = 10,000`` neurons (800 MB): use
        :meth:`sparse_matrix` there.
        """
        if self._n > MATRIX_MAX_N:
            raise ValueError(
                f"matrix would be a dense {self._n} x {self._n} array "
                f"({8 * self._n**2 / 1e9:.3g} GB); it is refused above n == {MATRIX_MAX_N} "
                "neurons: use net.sparse_matrix(), a scipy.sparse.csr_array."
            )
        pre, post, w, _, _ = self._table()
        return _checks.dense_A(self._n, pre, post, w, self._G.variables["leak"].get_value())

    def sparse_matrix(self):
        """The current effective ``A`` as a ``scipy.sparse.csr_array`` (``O(n + m)``).

        The diagonal holds minus the leaks; PRUNED synapses not yet compacted away
        (``sleep(compact=False)``) have weight 0 and are left out; the synapses of one
        pair (multapses) are summed into one entry (:meth:`synapse_states` keeps them
        apart).

        Returns
        -------
        scipy.sparse.csr_array of shape (n, n)
            ``sparse_matrix().toarray()`` equals :attr:`matrix`.
        """
        pre, post, w, _, _ = self._table()
        live = w != 0
        return _checks.sparse_A(
            self._n, pre[live], post[live], w[live], self._G.variables["leak"].get_value()
        )

    def __repr__(self) -> str:
        counts = count_states(self._status())
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

    def _current_abscissa(self) -> float:
        """Spectral abscissa of the network as it now is (cached until a decision).

        The decisions change the weights and leaks, and the slowest mode can get slower
        (the matched leaks keep Gershgorin's bound, not the abscissa), so it is recomputed
        after every epoch that decided anything, by the checks of construction
        (``_checks.abscissa``): exact up to 2,000 neurons (one dense eigen-decomposition),
        above a Gershgorin upper bound (``O(n + m)``) when the network is diagonally
        dominant, else an ARPACK estimate.
        """
        if self._abscissa is None:
            pre, post, w, _, _ = self._table()
            live = w != 0
            pre, post, w = pre[live], post[live], w[live]
            if self._n <= _checks.EXACT_MAX_N:  # today's rule: symmetric to the bit
                A = _checks.dense_A(self._n, pre, post, w, self.leak)
                symmetric = bool(np.array_equal(A, A.T))
            else:
                symmetric = weights_symmetric(self._n, pre, post, w)
            self._abscissa, self._abscissa_check = _checks.abscissa(
                self._n, pre, post, w, self.leak, symmetric
            )
        return self._abscissa

    def _default_burn_in(self) -> Quantity:
        # Five of the slowest relaxation times of the network as it now is (tau / |alpha|,
        # at least tau) plus five noise correlation times: transients of the initial state
        # and of the previous epoch decay by e^-5 in amplitude, e^-10 in covariance. With a
        # Gershgorin bound of alpha (large networks) this is an upper bound: a longer,
        # safe burn-in.
        abscissa = self._current_abscissa()
        if not abscissa < 0:
            raise ValueError(
                f"the network's current matrix is not stable: its spectral abscissa (largest "
                f"real part of an eigenvalue) is {abscissa:.6g} ({self._abscissa_check}), "
                "must be < 0. An unstable network "
                "has no stationary covariance; increase the leak on the diagonal."
            )
        relax = float(self._tau) * max(1.0, 1.0 / abs(abscissa))
        burn_in = (5 * relax + 5 * float(self._noise_tau)) * second
        logger.info(
            "default burn-in %s from the spectral abscissa %.6g (%s)",
            burn_in,
            abscissa,
            self._abscissa_check,
        )
        return burn_in

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
        excitability=None,
        rule="noise",
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
            slowest mode) by the checks of construction (exact up to 2,000 neurons;
            above, a Gershgorin upper bound, i.e. a longer burn-in, for a diagonally
            dominant network, else an ARPACK estimate; the log names it). Raises
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
            ``"auto"``: when the synapse table is symmetric (weights and states). With
            multapses (several synapses of one pair) a synapse has no unique reverse
            partner: ``"auto"`` decides each synapse on its own and ``True`` raises
            ``ValueError``.
        compact : bool, default=True
            Rebuild the ``Synapses`` without the pruned ones, so that later epochs cost
            what the survivors cost. ``False`` keeps them with weight 0.
        report : None, {"text", "stdout", "stderr"} or callable, default=None
            Progress through Brian2's ``report=`` hook, for the whole epoch; a callable
            receives ``(elapsed, completed, start, duration)``.
        report_period : brian2 time, default=10*second
            Wall-clock interval between reports.
        min_kept : int >= 0, default=0
            After the decisions, a neuron left with fewer than ``min_kept`` surviving
            input (and, asymmetric, output) synapses keeps its highest-probability
            candidates, rescaled by ``1 / p`` like the others: no neuron is cut loose at
            low density (see :func:`plasticsim.sparsify`). ``0``: the rule as published.
        excitability : None, UpDown, callable or brian2.TimedArray, default=None
            A sleep schedule of each neuron's leak: ``leak_eff = leak * g(t - t_0)`` from
            the start ``t_0`` of the epoch, burn-in included (slow-wave sleep's up and
            down states, :class:`plasticsim.online.UpDown`). ``g`` is an ``UpDown``; a
            callable of a brian2 time array returning factors of shape ``(steps,)`` or
            ``(steps, n)`` (sampled at every ``dt``); or a dimensionless ``TimedArray``
            of that shape covering the epoch. Factors must be finite and > 0. The traces
            are measured under the modulated dynamics (``trace / T`` is the time-average
            of the scores over the schedule); afterwards every factor is 1 again and the
            matched change of the decisions applies to the rest leak. Checked before
            anything runs, at frozen times: stability with every leak at its smallest
            factor, the Euler step at its largest (each one eigen-decomposition up to
            2,000 neurons). ``report.excitability`` keeps the schedule.
        rule : {"noise", "weight", "uniform"}, default="noise"
            What ``p = min(1, k s)`` is computed from: the traces (the rule), or a
            baseline at the same ``density`` with the same decisions, reweighting and
            matched leak: ``s = |w|`` (``"weight"``) or ``s = 1`` (``"uniform"``). The
            traces are measured (and reported) whatever the rule.

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
        an epoch that follows decisions costs one ``O(n^3)`` eigen-decomposition up to
        2,000 neurons and ``O(n + m)`` (Gershgorin) or a bounded ARPACK call above.

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
            min_kept=min_kept,
            excitability=excitability,
            rule=rule,
        )

    # ------------------------------------------------------------------ save / load

    _FORMAT = _persist.FORMAT
    _META_KEYS = (
        "n", "tau", "sigma", "noise_tau", "nonlinearity", "dt", "trace_dt", "trace_every",
        "center", "name", "target",
    )  # fmt: skip
    _CACHE_KEYS = ("abscissa", "abscissa_check")

    def _saved_meta(self) -> dict:
        return {
            "tau": float(self._tau),
            "sigma": float(self._sigma),
            "noise_tau": float(self._noise_tau),
            "nonlinearity": "relu" if self._relu else None,
            "dt": float(self._dt),
            "trace_dt": float(self._trace_dt),
            "trace_every": int(self._trace_every),
            "center": bool(self._center),
            "name": self._name,
            "target": self._target,
        }

    def _saved_cache(self) -> dict:
        return {"abscissa": self._abscissa, "abscissa_check": self._abscissa_check}

    def _load_cache(self, meta: dict) -> None:
        self._abscissa = None if meta["abscissa"] is None else float(meta["abscissa"])
        self._abscissa_check = meta["abscissa_check"]

    def _saved_neurons(self) -> dict:
        G = self._G
        names = ["leak", "bias", "x"] + [v for v in ("eta", "r", "rsum") if v in G.variables]
        return {name: G.variables[name].get_value().copy() for name in names}

    @classmethod
    def _saved_neuron_names(cls, meta: dict) -> list:
        names = ["leak", "bias", "x"]
        if meta.get("noise_tau", 0) > 0:
            names.append("eta")
        if meta.get("nonlinearity") == "relu":
            names.append("r")
        if meta.get("center"):
            names.append("rsum")
        return names

    @classmethod
    def _from_saved(cls, meta, codeobj, target, gen, pre, post, neurons, synapses):
        opts = {
            "tau": _persist.seconds(meta, "tau"),
            "sigma": float(meta["sigma"]),
            "noise_tau": _persist.seconds(meta, "noise_tau"),
            "relu": meta["nonlinearity"] == "relu",
            "dt": _persist.seconds(meta, "dt"),
            "target": target,
            "trace_dt": _persist.seconds(meta, "trace_dt"),
            "every": int(meta["trace_every"]),
            "center": bool(meta["center"]),
            "name": str(meta["name"]),
        }
        return cls._assemble(
            opts, codeobj, int(meta["seed"]), gen, meta["n"], pre, post, neurons, synapses
        )

    def save(self, path) -> None:
        """Write the network to one ``.npz`` file, to continue later bit for bit.

        The file holds the synapse table (``pre``, ``post``, ``w``, ``sgn``, ``status``),
        the neurons' variables (``leak``, ``bias``, ``x``, and ``eta``, ``r``, ``rsum``
        when the model has them), every parameter, the seed, the state of the decisions'
        generator and the simulated time; metadata is a JSON string inside the archive
        (no pickle). :meth:`load` on the same target continues exactly as this object
        would (same decisions, same noise, same states). The sleep reports and the
        traces of the last epoch are not kept (every sleep starts its traces at 0).
        Written atomically: a temporary file in the same folder, then ``os.replace``.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (replaced if it exists); ``.npz`` is the natural suffix.

        See Also
        --------
        load
        """
        _persist.save(self, path)

    @classmethod
    def load(cls, path, *, target=None) -> RateNetwork:
        """A network written by :meth:`save`, ready to continue bit for bit.

        Parameters
        ----------
        path : str or os.PathLike
            A file written by :meth:`save`.
        target : {None, "cython", "numpy"}, default=None
            Brian2 target; ``None`` keeps the saved one. Continuation is bit-identical on
            the saved target (Brian2's noise streams differ between targets).

        Returns
        -------
        RateNetwork

        Raises
        ------
        ValueError
            For a file that is not an ``.npz`` written by :meth:`save` (another
            archive, a plasticsim results file, a missing entry, an unknown format
            version), naming the file and what is wrong.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from brian2 import ms
        >>> A = np.array([[-3.0, 1.0, 1.0], [1.0, -3.0, 1.0], [1.0, 1.0, -3.0]])
        >>> net = RateNetwork.from_matrix(A, sigma=0.5, dt=0.5 * ms, target="numpy", rng=1)
        >>> _ = net.sleep(100 * ms, density=0.5)
        >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
        >>> net.save(path)
        >>> back = RateNetwork.load(path)
        >>> a = net.sleep(60 * ms, burn_in=10 * ms, decide=False)
        >>> b = back.sleep(60 * ms, burn_in=10 * ms, decide=False)
        >>> bool(np.array_equal(net.state, back.state) and np.array_equal(a.scores, b.scores))
        True
        """
        return _persist.load(cls, path, target=target)

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

    def learn(
        self,
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
    ):
        r"""A learning wake: inputs drive the network and the synapses grow Hebbian.

        The ``patterns`` are presented in turn, each for ``present``, as the external
        input ``u = amplitude * patterns[k]``; every synapse follows, on the trace clock
        (every ``trace_dt``),

        .. math:: \frac{d|w|}{ds} = \eta\,(r_{post} r_{pre} - \mathrm{decay}\,|w|),
                  \qquad 0 \le |w| \le w_{max},

        with its sign fixed (``s = t / tau``); after every learning step (every
        ``homeostasis_dt``) each neuron's leak changes by the change of its total
        absolute input (the matched diagonal), so every neuron's slack ``leak - sum |w|``
        is kept. At the end, up to ``budget`` new LABILE synapses of weight ``w_new``
        are created between the most co-active unconnected pairs
        (``mean_t r_i r_j > threshold``). No decisions: pruning is sleep's
        (``plasticsim/online/_learning.py`` has the rationale).

        Parameters
        ----------
        duration : brian2 time
        patterns : array_like of shape (K, n) or (n,)
            Input patterns (DESIGN units, added to ``A x + b``).
        present : brian2 time
            How long each pattern is shown (a multiple of ``dt``); the patterns cycle.
        amplitude : float, default=1.0
        eta : float > 0, default=0.1
            Learning rate per ``tau``.
        decay : float >= 0, default=1.0
            Weight decay: without co-activity ``|w|`` relaxes to 0 over ``tau / (eta decay)``;
            with it to ``<r_post r_pre> / decay``.
        w_max : float > 0, default=inf
            Cap of ``|w|``.
        budget : int >= 0, default=0
            Most new synapses of the epoch (a symmetric network's pairs count twice).
        w_new : float > 0, default=0.05
            Weight of a new synapse (excitatory; only from neurons without a negative
            synapse out, Dale's law).
        threshold : float, default=0.0
            Co-activity a pair needs for a new synapse.
        sigma : float >= 0, default=None
            Noise amplitude during the epoch (default: the network's ``sigma``).
        homeostasis_dt : brian2 time, default=None
            Interval of the leak updates, a multiple of ``dt`` (default ``trace_dt``:
            after every learning step, so the slack is exact at every step). Applied
            within the run by a Brian2 ``NetworkOperation`` (``O(n + m)`` per update).
        report, report_period
            As in :meth:`sleep`.

        Returns
        -------
        plasticsim.online.LearnReport

        Raises
        ------
        TypeError, ValueError
            For invalid arguments, before anything is simulated.
        KeyboardInterrupt
            Ctrl-C: the network is restored as it was before the call (as :meth:`sleep`).

        Notes
        -----
        Cost: ``O(n + m)`` per step, plus ``O(m)`` per learning step (every ``trace_dt``),
        ``O(n)`` memory per sample for the rates of the growth step (``budget > 0``) and
        ``O(c T)`` for the co-activity of ``c`` candidate pairs over ``T`` samples (every
        absent pair up to 10^6 of them, else a uniform sample of 10^6).

        Examples
        --------
        >>> import numpy as np
        >>> from brian2 import ms
        >>> A = -1.1 * np.eye(4) + 0.05 * (np.ones((4, 4)) - np.eye(4))
        >>> net = RateNetwork.from_matrix(A, sigma=0.1, dt=0.5 * ms, target="numpy", rng=0)
        >>> rep = net.learn(50 * ms, patterns=[[1.0, 1.0, 0.0, 0.0]], present=50 * ms)
        >>> W = net.matrix
        >>> bool(W[0, 1] > 0.05 > W[2, 3])  # the co-active pair grew, the silent one decayed
        True
        >>> slack = -np.diag(W) - (np.abs(W).sum(1) - np.abs(np.diag(W)))
        >>> bool(np.allclose(slack, 1.1 - 3 * 0.05))  # the homeostatic leak kept the slack
        True
        """
        return _learning.learn(
            self,
            duration,
            patterns=patterns,
            present=present,
            amplitude=amplitude,
            eta=eta,
            decay=decay,
            w_max=w_max,
            budget=budget,
            w_new=w_new,
            threshold=threshold,
            sigma=sigma,
            homeostasis_dt=homeostasis_dt,
            report=report,
            report_period=report_period,
        )

    def live(self, schedule, *, patterns=None, cue_fraction=0.5, slowest=5):
        """A lifetime: run a schedule of learning wakes and pruning sleeps, measuring each.

        Parameters
        ----------
        schedule : sequence of WakeEpoch and SleepEpoch
            Run in order: a :class:`~plasticsim.online.WakeEpoch` is :meth:`learn`, a
            :class:`~plasticsim.online.SleepEpoch` is :meth:`sleep` (``rule`` "noise",
            "weight", "uniform", or "none": no decisions).
        patterns : array_like of shape (K, n), default=None
            The patterns the task measure is computed for; by default every distinct
            pattern of the wakes.
        cue_fraction : float in (0, 1), default=0.5
            Part of each pattern's support that is cued (:func:`pattern_completion`).
        slowest : int >= 0, default=5
            Eigenvalues recorded (exact up to 2,000 neurons, else
            :func:`plasticsim.spectra.slowest_eigenvalues`).

        Returns
        -------
        list of EpochRecord
            One for the start (epoch 0) and one after each epoch: synapse counts, mean
            leak, slowest eigenvalues, pattern completion and the epoch's report.

        Raises
        ------
        TypeError, ValueError
            For an invalid schedule, before anything runs (each epoch's own arguments are
            checked when it starts).
        KeyboardInterrupt
            Ctrl-C during an epoch. The epoch is rolled back (all or nothing), the epochs
            before it stay applied, and the exception's ``records`` attribute holds their
            records (any other exception carries them too).

        Notes
        -----
        The task measure and the rationale of the learning rule are in
        ``plasticsim/online/_lifetime.py`` and ``_learning.py``. Cost: the epochs', plus
        one dense ``O(n^3)`` eigen-decomposition and solve per epoch up to 2,000 neurons.

        Examples
        --------
        >>> import numpy as np
        >>> from brian2 import ms
        >>> from plasticsim.online import SleepEpoch, WakeEpoch
        >>> A = -1.2 * np.eye(6) + 0.05 * (np.ones((6, 6)) - np.eye(6))
        >>> net = RateNetwork.from_matrix(A, sigma=0.2, dt=0.5 * ms, target="numpy", rng=0)
        >>> p = np.array([[1.0, 1, 1, 0, 0, 0]])
        >>> recs = net.live([WakeEpoch(100 * ms, p, 100 * ms, budget=4),
        ...                  SleepEpoch(100 * ms, density=0.5, relabile=0.5)])
        >>> [r.kind for r in recs]
        ['start', 'wake', 'sleep']
        >>> bool(recs[1].completion[0] > recs[0].completion[0])  # learning helps recall
        True
        """
        return _lifetime.live(
            self, schedule, patterns=patterns, cue_fraction=cue_fraction, slowest=slowest
        )


_FROM_MATRIX = _core.TOKEN
