"""The paper's headline claim, checked on a clustered network at low density."""

import numpy as np

from plasticsim import control_probabilities, noise_prune, sparsify
from plasticsim.networks import clustered


def slow_mode_error(A_eigs, B):
    """Largest relative error of the 2nd and 3rd slowest eigenvalues (the inter-cluster
    modes; the slowest, ``-leak``, is kept exactly by the matched diagonal for every
    method)."""
    mu = np.linalg.eigvalsh(B)[::-1]
    return float(np.max(np.abs(mu[1:3] - A_eigs[1:3]) / np.abs(A_eigs[1:3])))


def test_noise_prune_keeps_slow_modes_that_weight_pruning_destroys():
    # Three unequal clusters, dense inside (p_in = 0.9), joined by a few dozen sparse
    # long-range synapses (p_out = 2e-4): the slow inter-cluster modes hang on them.
    A = clustered([400, 150, 250], p_in=0.9, p_out=2e-4, leak=0.1, rng=0)
    eigs = np.linalg.eigvalsh(A)[::-1]
    assert np.isclose(eigs[0], -0.1)  # the slowest mode: the leak (uniform vector)
    density, seeds = 0.05, range(6)
    errors = {"noise": [], "weight": [], "uniform": []}
    kept = []
    for seed in seeds:
        res = noise_prune(A, density=density, rng=seed)
        kept.append(res.kept_fraction)
        errors["noise"].append(slow_mode_error(eigs, res.pruned))
        for strategy in ("weight", "uniform"):
            P = control_probabilities(A, strategy=strategy, density=density)
            errors[strategy].append(slow_mode_error(eigs, sparsify(A, P, rng=seed)))
    med = {name: float(np.median(v)) for name, v in errors.items()}
    # Same budget: ~5% of the synapses kept by noise-prune (binomial sd over ~1e5 pairs
    # is < 0.1%, so 0.045..0.055 is a wide band).
    assert 0.045 < np.mean(kept) < 0.055
    # Measured medians over these seeds: noise 0.17, weight 0.52, uniform 0.49. The
    # claim is a factor, not a tuned number: noise-prune at most 0.6x either control.
    assert med["noise"] < 0.6 * med["weight"], med
    assert med["noise"] < 0.6 * med["uniform"], med
