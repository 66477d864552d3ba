"""plasticsim: noise-driven synaptic pruning of recurrent rate networks.

A recurrent network driven by noise reveals, through the co-fluctuations of its neurons,
which synapses matter; pruning the rest with probabilities ``min(1, k s_ij)`` preserves
the spectrum and the dynamics while removing most synapses.

Reference: E. Moore, R. Chaudhuri, "Using noise to probe recurrent neural network
structure and prune synapses", NeurIPS 2020, arXiv:2011.07334.
"""

# sweep is a callable package: plasticsim.sweep(model, grid, ...) runs a sweep.
from . import networks, sweep, testing
from .covariance import empirical_covariance, euler_covariance, noise_covariance
from .dynamics import Trajectory, TrajectoryError, simulate, trajectory_error
from .estimate import estimate_scores
from .experiment import ModelError, Results, load_model, run_model
from .rule import (
    PruneResult,
    control_probabilities,
    k_from_epsilon,
    noise_prune,
    pruning_probabilities,
    solve_k,
    sparsify,
    synapse_scores,
)
from .sketch import sketch_scores
from .spectra import (
    SpectralComparison,
    compare_spectra,
    match_eigenvalues,
    quadratic_form_range,
    slowest_eigenvalues,
)
from .sweep import SweepError, SweepResult

__version__ = "0.1.0"

# The online simulator imports Brian2 (~2 s); load it only when one of its names is used.
_ONLINE = (
    "EpochRecord",
    "LABILE",
    "LearnReport",
    "PRUNED",
    "STABLE",
    "RateNetwork",
    "SleepEpoch",
    "SleepReport",
    "SpikingNetwork",
    "SpikingWakeRecord",
    "SynapseState",
    "SynapseStates",
    "WakeEpoch",
    "WakeRecord",
    "pattern_completion",
)

# Linear-response theory of LIF networks (plasticsim.spiking) uses Brian2's units: lazy too.
_SPIKING = (
    "LinearResponse",
    "OperatingPoint",
    "lif_cv",
    "lif_gain",
    "lif_rate",
    "linear_response",
    "operating_point",
)


def __getattr__(name):
    if name in _ONLINE:
        from . import online

        return getattr(online, name)
    if name in _SPIKING:
        from . import spiking

        return getattr(spiking, name)
    raise AttributeError(f"module 'plasticsim' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ONLINE) | set(_SPIKING))


__all__ = [
    "EpochRecord",
    "LABILE",
    "LearnReport",
    "LinearResponse",
    "ModelError",
    "OperatingPoint",
    "PRUNED",
    "PruneResult",
    "RateNetwork",
    "Results",
    "STABLE",
    "SleepEpoch",
    "SleepReport",
    "SpectralComparison",
    "SpikingNetwork",
    "SpikingWakeRecord",
    "SynapseState",
    "SynapseStates",
    "Trajectory",
    "TrajectoryError",
    "WakeEpoch",
    "WakeRecord",
    "compare_spectra",
    "control_probabilities",
    "empirical_covariance",
    "estimate_scores",
    "euler_covariance",
    "k_from_epsilon",
    "lif_cv",
    "lif_gain",
    "lif_rate",
    "linear_response",
    "load_model",
    "match_eigenvalues",
    "networks",
    "noise_covariance",
    "noise_prune",
    "operating_point",
    "pattern_completion",
    "pruning_probabilities",
    "quadratic_form_range",
    "run_model",
    "simulate",
    "sketch_scores",
    "slowest_eigenvalues",
    "solve_k",
    "sparsify",
    "synapse_scores",
    "sweep",
    "SweepError",
    "SweepResult",
    "testing",
    "trajectory_error",
]
