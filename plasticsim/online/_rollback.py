"""All or nothing: an epoch that does not finish leaves the network as it found it.

Brian2 turns the first Ctrl-C during a ``Network.run`` into "stop this run", and the run
returns normally (``prefs.core.stop_on_keyboard_interrupt``, default ``True``;
BRIAN2_NOTES.md "Signals"). An epoch made of several runs would then carry on with a
truncated measurement and apply its decisions. Here:

* :func:`check_completed` (called after every run of an epoch) turns a run that stopped
  short into an exception: ``KeyboardInterrupt`` when a stop was requested (Ctrl-C, or
  ``brian2.stop()``), ``RuntimeError`` for any other early end (``Network.stop``, a
  maximum run time). The user's preference is left alone: with it set to ``False`` the
  first Ctrl-C raises ``KeyboardInterrupt`` inside the run, which ends the same way.
* :func:`epoch` wraps an epoch: it records what the epoch may change and, if anything
  is raised before the epoch returns, puts all of it back before re-raising. What is
  restored: the Brian2 objects of the network (the ``Synapses`` of before a compaction,
  without the trace runners, input runner or monitor), every synapse's weight, state and
  trace, every neuron variable an epoch may change (the network class's
  ``_NEURON_STATE``: for a ``RateNetwork`` ``x``, ``eta``, ``r``, sums, inputs, leaks),
  the clocks and simulated time, the decision generator, numpy's global generator
  (Brian2's noise source), the cached values named by ``_CACHED`` (a ``RateNetwork``'s
  spectral abscissa) and ``reports``. So a repeated call does exactly
  what the interrupted one would have done, bit for bit. Objects a user added to
  ``net.network`` themselves (e.g. a monitor) keep what they recorded.
* The restore itself runs with SIGINT (and a Python-level SIGTERM handler) deferred, so
  a second Ctrl-C during it cannot leave the network half restored; the deferred signal
  is delivered once the network is whole again.

Cost of the record: one copy of ``w`` and ``trace`` (float64) and of ``status`` (int8),
17 bytes per synapse, and of the neuron variables (``O(n)``) per epoch; a sleep reads
its weights before the decisions from this copy instead of making another.
"""

from __future__ import annotations

import copy
import signal
import threading
from contextlib import contextmanager

import numpy as np
from brian2 import Network

_SYNAPSE_STATE = ("w", "status", "trace")
_DEFERRED_SIGNALS = tuple(
    s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s
)


def check_completed(network: Network, t_end: float, dt: float, what: str) -> None:
    """Raise if the Brian2 run that should have reached ``t_end`` (seconds) stopped early.

    A requested stop (Brian2's SIGINT handler, ``brian2.stop()``) is a
    ``KeyboardInterrupt`` even when it came during the last step (the run then reached
    ``t_end``, but the Ctrl-C must not be swallowed); any other early end (``Network.stop``,
    Brian2's maximum run time) is a ``RuntimeError``.
    """
    t = float(network.t)
    if Network._globally_stopped:
        raise KeyboardInterrupt(
            f"{what} interrupted at t = {t:.6g} s (the run was to reach {t_end:.6g} s): "
            "Ctrl-C or brian2.stop(); the network was restored to its state before the call."
        )
    if t < t_end - 0.5 * dt:
        raise RuntimeError(
            f"{what}: the Brian2 run stopped early at t = {t:.6g} s instead of {t_end:.6g} s "
            "(Network.stop() or a maximum run time); the network was restored to its "
            "state before the call."
        )


class _Record:
    """What an epoch may change, copied at its start (see the module docstring)."""

    def __init__(self, net, *, synapses: bool):
        self.objects = set(net._net.objects)
        self.S = net._S
        # status as int8 (values 0..2; restored into Brian2's int32 unchanged).
        self.synapses = (
            {
                v: (
                    net._S.variables[v].get_value().astype(np.int8)
                    if v == "status"
                    else net._S.variables[v].get_value().copy()
                )
                for v in _SYNAPSE_STATE
            }
            if synapses and len(net._S)
            else None
        )
        G = net._G
        self.neurons = {
            v: G.variables[v].get_value().copy() for v in net._NEURON_STATE if v in G.variables
        }
        self.clocks = [
            (c, c.variables["timestep"].get_value().copy(), c.variables["t"].get_value().copy())
            for c in (net._clock, net._trace_clock)
        ]
        self.t_ = net._net.t_
        self.weights = None if self.synapses is None else self.synapses["w"]
        self.gen = copy.deepcopy(net._gen.bit_generator.state)
        self.np_random = np.random.get_state()  # noqa: NPY002 (Brian2's noise source)
        self.cached = {a: getattr(net, a) for a in net._CACHED}  # e.g. the abscissa
        self.n_reports = len(net.reports)

    def restore(self, net) -> None:
        """Put everything back (idempotent: safe to repeat after an interruption)."""
        bnet = net._net
        for obj in set(bnet.objects) - self.objects:  # trace runners, monitor, new Synapses
            bnet.remove(obj)
            if obj._network is None:  # never simulated: no "unused object" warning
                obj._network = bnet.id
        for obj in self.objects - set(bnet.objects):  # the Synapses before a compaction
            # Brian2 refuses to add an object that has been simulated (in any network); this
            # one was simulated in this very network, which it rejoins.
            obj._network = None
            bnet.add(obj)
            obj._network = bnet.id
        net._S = self.S
        if self.synapses is not None:
            for v, value in self.synapses.items():
                self.S.variables[v].set_value(value)
        for v, value in self.neurons.items():
            net._G.variables[v].set_value(value)
        for clock, timestep, t in self.clocks:
            clock.variables["timestep"].set_value(timestep)
            clock.variables["t"].set_value(t)
        bnet.t_ = self.t_
        net._gen.bit_generator.state = copy.deepcopy(self.gen)
        np.random.set_state(self.np_random)  # noqa: NPY002
        for a, value in self.cached.items():
            setattr(net, a, value)
        del net.reports[self.n_reports :]
        # An exception inside Network.run (a second Ctrl-C, an error in a report callback)
        # skips Brian2's reset of this flag; left set, Brian2's SIGINT handler would turn
        # the next Ctrl-C outside any run into a silent "stop" request. No run is active
        # here: the epoch's runs are over.
        Network._globally_running = False


@contextmanager
def _signals_deferred(pending: list):
    """Record SIGINT (and SIGTERM with a Python handler) instead of acting on them.

    Only the main thread receives signals and may install handlers; elsewhere this does
    nothing. A handler that is not a Python callable (``SIG_DFL``, ``SIG_IGN``) is kept:
    the default SIGTERM ends the process, which no restore could outlive anyway.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    try:
        for s in _DEFERRED_SIGNALS:
            handler = signal.getsignal(s)
            if callable(handler):
                previous[s] = signal.signal(s, lambda signum, frame: pending.append(signum))
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _restore(record: _Record, net) -> list:
    """Restore with signals deferred; return the signals that arrived meanwhile."""
    pending: list = []
    while True:
        try:
            with _signals_deferred(pending):
                record.restore(net)
            return pending
        except KeyboardInterrupt:  # in the few instructions before the handlers were set
            pending.append(signal.SIGINT)


@contextmanager
def epoch(net, *, synapses: bool = True):
    """Run an epoch all or nothing: on any exception restore the network, then re-raise.

    ``synapses=False`` (a wake) does not copy the synapse variables, which it never
    changes (the ``Synapses`` object itself is still restored). Yields the record: its
    copy of ``w`` (``record.weights``, never written) serves the epoch as the weights
    before its decisions, so that they are not copied twice.
    """
    record = _Record(net, synapses=synapses)
    try:
        yield record
    except BaseException:
        pending = _restore(record, net)
        # Signals that arrived during the restore are delivered now that the network is
        # whole, to the handlers that were deferred (a second Ctrl-C: a KeyboardInterrupt
        # chained to the first; a SIGTERM handler's exception replaces the original one).
        for s in dict.fromkeys(pending):
            handler = signal.getsignal(s)
            if callable(handler):
                handler(s, None)
        raise
