"""The network core shared by every online network (DESIGN.md §2, §2b).

A network that prunes itself during sleep is, whatever its neurons are, a Brian2
``NeuronGroup`` and a ``Synapses`` object whose per-synapse variables are the weight
``w``, its constant sign ``sgn``, the state ``status`` (LABILE / STABLE / PRUNED) and the
``trace``, inside one Brian2 ``Network`` that lives as long as the object.
:class:`SynapticNetwork` holds what does not depend on the neuron model:

- the synapse table and states (:meth:`~SynapticNetwork.synapse_states`), read without
  copying what an epoch does not change;
- building the ``Synapses`` under a fixed name and compaction (Brian2 cannot delete
  synapses, brian2 issue #166: the survivors are copied into a new ``Synapses`` of the
  same name, which reuses the compiled code);
- the trace runners of a measurement, seeding Brian2 for one epoch, and runs that must
  reach their end (``_rollback.check_completed``);
- what the sleep epoch (``_epochs.sleep``: relabile draws, traces, decisions of ``density``
  or ``k``, reweighting ``w / p``, the :class:`~plasticsim.online.SleepReport`) and the
  all-or-nothing record of an epoch (``_rollback``) need from a network.

A subclass provides the neuron model through a few hooks (``_synapse_kwargs``,
``_trace_code``, ``_sum_code``, ``_namespace``, ``_default_burn_in``,
``_sleep_inputs_off``, ``_start_measurement``, ``_homeostasis``) and the class
attributes ``_NEURON_STATE`` (neuron variables an epoch may change, restored on
rollback) and ``_CACHED`` (attributes restored on rollback).
"""

from __future__ import annotations

import importlib.util
import logging
from contextlib import contextmanager

import brian2
import numpy as np
from brian2 import Network, NeuronGroup, Quantity, Synapses, second
from brian2.devices.device import RuntimeDevice, get_device
from brian2.groups.group import CodeRunner

from . import _model, _rollback
from .states import PRUNED, SynapseStates

__all__ = ["SynapticNetwork"]

logger = logging.getLogger(__name__)

# Marks a call of the constructor from a classmethod of the network (not by a user).
TOKEN = object()


def readonly(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a`` (no copy)."""
    v = a.view()
    v.flags.writeable = False
    return v


def codeobj_class(target: str):
    """Brian2's code object class of ``target`` ("numpy" or "cython")."""
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


def check_device() -> None:
    """Refuse to build on a device other than Brian2's runtime device."""
    if not isinstance(get_device(), RuntimeDevice):
        raise RuntimeError(
            f"plasticsim.online runs on Brian2's runtime device, but the active device "
            f"is {type(get_device()).__name__}; call brian2.set_device('runtime')."
        )


class SynapticNetwork:
    """Base of the online networks: synapse table, states, compaction, runs (Brian2).

    Not built directly: the subclasses' constructors (``from_matrix``, ``from_synapses``,
    ``load``) check their input and assemble the Brian2 objects. The instance attributes
    every subclass sets: ``_n``, ``_dt``, ``_trace_dt``, ``_center``, ``_target``,
    ``_codeobj``, ``_name``, ``_seed``, ``_gen`` (the decisions' generator), ``_clock``,
    ``_trace_clock``, ``_G``, ``_S``, ``_net`` and ``reports``.
    """

    # Synapse variables copied by a compaction.
    _SYNAPSE_VARIABLES = ("w", "sgn", "status", "trace")
    # Neuron variables an epoch may change (restored when an epoch fails); those the
    # model lacks are skipped.
    _NEURON_STATE: tuple[str, ...] = ()
    # Attributes (cached values) an epoch may change, restored when it fails.
    _CACHED: tuple[str, ...] = ()
    # How to build one (the message of a direct call of the constructor).
    _BUILD_HINT = "build the network with one of its classmethods."

    def __init__(self, _token=None, **state):
        if _token is not TOKEN:
            raise TypeError(self._BUILD_HINT)
        self.__dict__.update(state)

    # ------------------------------------------------------------------ model hooks

    def _synapse_kwargs(self) -> dict:
        """Keyword arguments of ``Synapses`` besides the groups, clock, name and target
        (``model=...``, and ``on_pre=...`` for event-driven synapses)."""
        raise NotImplementedError

    def _trace_code(self) -> str:
        """Code of one trace sample, run on the synapses on the trace clock."""
        raise NotImplementedError

    def _sum_code(self) -> str:
        """Code of one sample of the neurons' sums (centred traces), on the trace clock."""
        raise NotImplementedError

    def _namespace(self, *, noise: bool = True) -> dict:
        """The run namespace (every external constant of the model strings)."""
        raise NotImplementedError

    def _default_burn_in(self) -> Quantity:
        """The burn-in of a sleep epoch when none is given."""
        raise NotImplementedError

    def _sleep_inputs_off(self) -> None:
        """Switch the external (wake) input off at the start of a sleep epoch."""

    def _start_measurement(self) -> None:
        """Reset what a measurement accumulates: the traces and (centred) the sums."""
        if len(self._S):
            self._S.variables["trace"].set_value(np.zeros(len(self._S)))
        if self._center:
            self._G.variables["rsum"].set_value(np.zeros(self._n))

    def _trace_values(self) -> np.ndarray:
        """Every synapse's trace at the end of a measurement (a view of Brian2's array)."""
        return self._S.variables["trace"].get_value() if len(self._S) else np.empty(0)

    def _excitability_schedule(self, excitability, duration, cover=None):
        """The checked sleep schedule (``sleep(excitability=...)``) of this network."""
        raise TypeError(
            f"excitability schedules modulate a leak: {type(self).__name__} has none; "
            "use a RateNetwork or excitability=None."
        )

    def _homeostasis(
        self, *, weights_before, weights_after, pre, post, leak_change, n_samples
    ) -> dict:
        """Apply the neurons' homeostatic change after the decisions.

        Called within the epoch, after the decisions were written (``weights_after``, the
        live Brian2 weights) and before compaction, or with ``weights_after=None`` when
        nothing was decided. ``leak_change`` is :func:`._decisions.decide`'s per-neuron
        change of the total absolute input (zeros without decisions), ``n_samples`` the
        trace samples of the window. Returns the report's homeostasis fields.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ save / load hooks
    # (``_persist``): the format name, the parameters and neuron arrays of the model, the
    # cached values, and the rebuild (``_FORMAT``, ``_META_KEYS``, ``_saved_meta``,
    # ``_saved_neurons``, ``_saved_neuron_names``, ``_from_saved`` in each subclass).

    _CACHE_KEYS: tuple[str, ...] = ()

    def _saved_cache(self) -> dict:
        """Cached values written to a saved file's metadata (keys ``_CACHE_KEYS``)."""
        return {}

    def _load_cache(self, meta: dict) -> None:
        """Restore the cached values of :meth:`_saved_cache` from a file's metadata."""

    # ------------------------------------------------------------------ building

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
            clock=self._clock,
            name=f"{self._name}_synapses",
            codeobj_class=self._codeobj,
            **self._synapse_kwargs(),
        )
        if pre.size:  # connect() raises on empty arrays
            # Brian2 stores synapse indices as int32: hand them over in that type (no
            # transient int64 copy of the table).
            S.connect(i=np.asarray(pre, dtype=np.int32), j=np.asarray(post, dtype=np.int32))
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
                code=self._trace_code(),
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
                    code=self._sum_code(),
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
    def dt(self) -> Quantity:
        return self._dt

    @property
    def trace_dt(self) -> Quantity:
        """Interval between trace samples (a multiple of ``dt``)."""
        return self._trace_dt

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

    def _table(self, *, weights=None, live_status=False):
        """``pre, post, w, sgn, status`` of the synapses, without copying what is not changed.

        ``pre``, ``post`` (Brian2's int32) and ``sgn`` are read-only views of the Brian2
        arrays (nothing writes them: a compaction builds a new ``Synapses``, whose arrays
        are new ones); ``w`` and ``status`` are copies (an epoch changes them), ``w`` the
        given ``weights`` instead when a copy already exists (the epoch's rollback record),
        ``status`` Brian2's own array with ``live_status=True`` (writes change the network;
        a sleep's rollback record restores it). Values are Brian2's (SI units).
        """
        S = self._S
        if len(S) == 0:
            e = np.empty(0)
            return (e.astype(np.int32), e.astype(np.int32), e, e, e.astype(np.int32))
        get = S.variables
        return (
            readonly(get["_synaptic_pre"].get_value()),
            readonly(get["_synaptic_post"].get_value()),
            get["w"].get_value().copy() if weights is None else weights,
            readonly(get["sgn"].get_value()),
            get["status"].get_value() if live_status else get["status"].get_value().copy(),
        )

    def _status(self) -> np.ndarray:
        """Read-only view of the synapses' states (no copy)."""
        if len(self._S) == 0:
            return np.empty(0, dtype=np.int32)
        return readonly(self._S.variables["status"].get_value())

    def synapse_states(self) -> SynapseStates:
        """The synapse table: ``pre``, ``post``, ``weight`` and ``state`` of every synapse.

        Returns
        -------
        SynapseStates
            A named tuple of arrays; ``state`` holds ``LABILE``/``STABLE``/``PRUNED``.
        """
        pre, post, w, _, status = self._table()
        return SynapseStates(pre, post, w, status.astype(np.int8))

    # ------------------------------------------------------------------ compaction

    def compact(self) -> int:
        """Remove the PRUNED synapses from the simulation; return how many were removed.

        The ``Synapses`` is rebuilt from the survivors under the same name (so compiled
        code is reused), inside the same Brian2 ``Network``.
        """
        before = len(self._S)
        self._compact()
        return before - len(self._S)

    def _compact(self) -> None:
        # Memory: the survivors' variables are copied one at a time (a second copy of the
        # kept part only), the old Synapses is released before the new one is filled, and
        # no full-size copy of the table is made.
        S = self._S
        status = S.variables["status"].get_value() if len(S) else np.empty(0, dtype=np.int32)
        keep = status != PRUNED
        if keep.all():
            return
        pre = S.variables["_synaptic_pre"].get_value()[keep]  # int32, Brian2's type
        post = S.variables["_synaptic_post"].get_value()[keep]
        values = {v: S.variables[v].get_value()[keep] for v in self._SYNAPSE_VARIABLES}
        before = keep.size
        del status, keep, S
        self._replace_synapses(pre, post, values)
        del values
        logger.debug("compacted: %d -> %d synapses", before, len(self._S))

    def _replace_synapses(self, pre, post, values) -> None:
        """A new ``Synapses`` (same name) from a table sorted by ``(post, pre)``, in the
        network in place of the old one (released before the new one is filled)."""
        self._net.remove(self._S)
        self._S = None
        self._S = self._make_synapses(pre, post, values)
        self._net.add(self._S)
        self._adopt(self._S)

    # ------------------------------------------------------------------ running

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
