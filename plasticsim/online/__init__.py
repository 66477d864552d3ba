"""The online (biological) noise-prune rule in Brian2 (DESIGN.md §2).

A recurrent rate network simulated in Brian2 prunes itself during sleep using only what
each synapse can know locally: its weight, a trace of its two neurons' activity and a
global constant ``k``. :class:`RateNetwork` holds the Brian2 objects; :meth:`~RateNetwork.sleep`
runs an epoch of noise-driven traces and decisions, :meth:`~RateNetwork.wake` the
dynamics with inputs. :class:`SpikingNetwork` is its spiking counterpart (leaky
integrate-and-fire neurons, traces of low-pass filtered spike trains), sharing the
synapse states, decisions, compaction and sleep report.

Reference: E. Moore, R. Chaudhuri, "Using noise to probe recurrent neural network
structure and prune synapses", NeurIPS 2020, arXiv:2011.07334.
"""

from .. import _brian  # noqa: F401  (first: Brian2 without its exception hook)
from ._learning import LearnReport
from ._lifetime import EpochRecord, SleepEpoch, WakeEpoch, pattern_completion
from ._schedule import UpDown
from .network import RateNetwork
from .spiking import SpikingNetwork
from .states import (
    LABILE,
    PRUNED,
    STABLE,
    SleepReport,
    SpikingWakeRecord,
    SynapseState,
    SynapseStates,
    WakeRecord,
)

__all__ = [
    "EpochRecord",
    "LearnReport",
    "SleepEpoch",
    "WakeEpoch",
    "pattern_completion",
    "LABILE",
    "PRUNED",
    "STABLE",
    "RateNetwork",
    "SleepReport",
    "SpikingNetwork",
    "SpikingWakeRecord",
    "SynapseState",
    "SynapseStates",
    "UpDown",
    "WakeRecord",
]
