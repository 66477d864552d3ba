"""Synapse states of the online rule and the records that sleep and wake epochs return.

A synapse is ``LABILE`` (a candidate: its trace accumulates and the next sleep decides
it), ``STABLE`` (consolidated: its weight was divided by its keep probability once and it
is no longer a candidate) or ``PRUNED`` (weight 0; removed from the simulation when the
synapses are compacted). DESIGN.md §2.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

import numpy as np

__all__ = [
    "SynapseState",
    "LABILE",
    "STABLE",
    "PRUNED",
    "SynapseStates",
    "SleepReport",
    "WakeRecord",
    "SpikingWakeRecord",
]


class SynapseState(IntEnum):
    """State of a synapse; stored as the integer ``status`` of Brian2's ``Synapses``."""

    LABILE = 0
    STABLE = 1
    PRUNED = 2


LABILE = SynapseState.LABILE
STABLE = SynapseState.STABLE
PRUNED = SynapseState.PRUNED


def count_states(status: np.ndarray) -> dict[str, int]:
    """Number of synapses in each state, keyed by state name."""
    status = np.asarray(status)  # counted without an int64 copy of a large table
    return {s.name: int(np.count_nonzero(status == s)) for s in SynapseState}


class SynapseStates(NamedTuple):
    """The synapse table: one entry per synapse in the simulation.

    Attributes
    ----------
    pre, post : ndarray of int32, shape (m,)
        Presynaptic and postsynaptic neuron; the synapse is ``A[post, pre]``. Read-only
        views of the simulator's index arrays (Brian2's int32), not copies.
    weight : ndarray of float64, shape (m,)
        Current weight (0 for ``PRUNED`` synapses that have not been compacted away).
    state : ndarray of int8, shape (m,)
        ``LABILE``, ``STABLE`` or ``PRUNED`` (compare with the constants).
    """

    pre: np.ndarray
    post: np.ndarray
    weight: np.ndarray
    state: np.ndarray


class WakeRecord(NamedTuple):
    """Rates recorded during :meth:`RateNetwork.wake`.

    Attributes
    ----------
    t : brian2 Quantity of shape (n_times,)
        Recording times (network time, so successive epochs continue).
    rates : ndarray of shape (n_times, n_recorded)
        The rates (``x`` for linear units, ``[x]_+`` for rectified ones).
    seed : int
        Brian2 seed of the epoch's noise.
    """

    t: object
    rates: np.ndarray
    seed: int


class SpikingWakeRecord(NamedTuple):
    """What :meth:`SpikingNetwork.wake` recorded.

    Attributes
    ----------
    t : brian2 Quantity of shape (n_times,)
        Times of the rate samples (network time, so successive epochs continue).
    rates : brian2 Quantity of shape (n_times, n_recorded)
        The low-pass filtered spike trains ``r`` (Hz) of the recorded neurons.
    spike_i : ndarray of int, shape (n_spikes,)
        Neuron of every spike (empty unless spikes were recorded).
    spike_t : brian2 Quantity of shape (n_spikes,)
        Time of every spike.
    firing_rates : brian2 Quantity of shape (n,)
        Each neuron's spike count over the wake divided by its duration.
    seed : int
        Brian2 seed of the epoch's noise.
    """

    t: object
    rates: object
    spike_i: np.ndarray
    spike_t: object
    firing_rates: object
    seed: int


@dataclass(frozen=True, eq=False)
class SleepReport:
    """What one :meth:`RateNetwork.sleep` epoch measured and decided.

    Per-synapse arrays follow the synapse table as it was during the measurement (before
    compaction): ``pre[e] -> post[e]``.

    Attributes
    ----------
    seed : int
        Brian2 seed of the epoch's noise.
    duration, burn_in, measured : brian2 Quantity
        Simulated time of the epoch, of its burn-in, and of the measurement window ``T``
        (``duration = burn_in + measured``; ``burn_in`` is stretched by less than one
        trace interval so that ``T`` starts on a trace sample).
    n_samples : int
        Trace samples in the window (``T = n_samples * trace_dt``).
    decided : bool
        Whether decisions were applied (``decide=True``).
    symmetric : bool
        Whether each unordered pair was decided once (both directions together).
    k : float or None
        The constant of ``p = min(1, k s)`` (given, or solved from ``density``); ``None``
        when neither was given.
    density : float or None
        The requested expected kept fraction of the candidates.
    counts_before, counts_after : dict
        Number of synapses per state (``{"LABILE": .., "STABLE": .., "PRUNED": ..}``) at
        the start of the epoch and after its decisions (after compaction, ``PRUNED`` is
        0).
    n_relabile : int
        STABLE synapses made LABILE again at the start of the epoch.
    pre, post : ndarray of int32, shape (m,)
        Read-only views of the simulator's index arrays of the epoch (Brian2's int32;
        successive reports without a compaction between them share them).
    weights : ndarray of float64, shape (m,)
        Weights during the measurement (before the decisions).
    scores : ndarray of float64, shape (m,)
        Trace-estimated scores ``trace / T`` (centred, see :meth:`RateNetwork.sleep`),
        comparable to ``synapse_scores(net.matrix, sigma=sigma, noise_tau=noise_tau/tau)``
        of the network as it was during the measurement.
    candidate : ndarray of bool, shape (m,)
        Synapses that were LABILE when the epoch was decided.
    probabilities : ndarray of float64, shape (m,)
        ``min(1, k s)`` for candidates (pair average of ``s`` when symmetric), NaN
        elsewhere or when no ``k`` was available (then a read-only constant array that
        stores a single NaN).
    kept : ndarray of bool, shape (m,)
        Candidates that became STABLE (without decisions a read-only constant ``False``
        array that stores a single element).
    leak_change : ndarray of float64, shape (n,)
        Change of each neuron's leak (the matched diagonal).
    n_neurons : int
    wall_time : float
        Wall-clock seconds of the whole epoch.
    drive_change : ndarray of float64, shape (n,), or None
        :class:`SpikingNetwork`: change of each neuron's constant drive ``mu`` in mV (its
        homeostasis; ``leak_change`` is then 0). ``None`` for a :class:`RateNetwork`.
    excitability : brian2.TimedArray or None
        The leak factors ``g(t - t_0)`` of a sleep with an excitability schedule
        (``leak_eff = leak * g``, from the start ``t_0`` of the epoch), else ``None``.
    """

    seed: int
    duration: object
    burn_in: object
    measured: object
    n_samples: int
    decided: bool
    symmetric: bool
    k: float | None
    density: float | None
    counts_before: dict
    counts_after: dict
    n_relabile: int
    pre: np.ndarray
    post: np.ndarray
    weights: np.ndarray
    scores: np.ndarray
    candidate: np.ndarray
    probabilities: np.ndarray
    kept: np.ndarray
    leak_change: np.ndarray
    n_neurons: int
    wall_time: float
    drive_change: np.ndarray | None = None
    excitability: object = None

    @property
    def n_candidates(self) -> int:
        """Number of synapses decided this epoch."""
        return int(np.count_nonzero(self.candidate))

    @property
    def kept_fraction(self) -> float:
        """Fraction of the candidates kept (NaN when there were none or no decision)."""
        n = self.n_candidates
        if not self.decided or n == 0:
            return float("nan")
        return float(np.count_nonzero(self.kept)) / n

    def score_matrix(self) -> np.ndarray:
        """The estimated scores as an ``(n, n)`` array laid out like ``synapse_scores``.

        The scores of several synapses of one pair (multapses) are summed: the score of
        the summed synapse when they share a sign (``sum_e |w_e| D = |A_ij| D``).
        """
        S = np.zeros((self.n_neurons, self.n_neurons))
        np.add.at(S, (self.post, self.pre), self.scores)
        return S

    def __repr__(self) -> str:
        k = "None" if self.k is None else f"{self.k:.6g}"
        return (
            f"SleepReport(measured={self.measured!s}, n_samples={self.n_samples}, "
            f"decided={self.decided}, symmetric={self.symmetric}, k={k}, "
            f"before={self.counts_before}, after={self.counts_after}, "
            f"wall_time={self.wall_time:.3g} s)"
        )
