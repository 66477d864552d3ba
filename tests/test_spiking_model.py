"""The spiking model: its measured claims (traces against linear response, pruning with
homeostasis), its helpers (clustered_ei, homeostatic_drive, group_count_covariance) and
its schema checks.

The claims run on Brian2's cython target (several times faster than numpy at these sizes)
on small versions of models/spiking.toml; one simulation is shared by the asserts of each
claim (module-scoped fixtures).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from brian2 import Hz, ms, mV, second

from plasticsim.experiment import ModelError, NoProgress, load_model, run_model
from plasticsim.online import SpikingNetwork
from plasticsim.spiking import (
    clustered_ei,
    group_count_covariance,
    homeostatic_drive,
    linear_response,
)

pytestmark = pytest.mark.usefixtures("brian_prefs")

MU, SIGMA = 13.5 * mV, 6.0 * mV  # models/spiking.toml
TAU_R = 0.1  # s, the default rate filter
#: A small version of the shipped network: 3 clusters of 30, 24 inhibitory (114 neurons).
SMALL_NET = {"sizes": [30, 30, 30], "n_inh": 24}
SHIPPED_SLEEP = 20.0  # s, models/spiking.toml (the default of spiking.sleep)


# ------------------------------------------------------------------ traces vs theory


def _trace_vs_theory(net, J, duration):
    """One measuring sleep: trace scores, linear-response scores / (2 tau_r), weights."""
    rep = net.sleep(duration * second, burn_in=0.5 * second, decide=False)
    lr = linear_response(J, rates=net.rates, mu=MU, sigma=SIGMA, dt=0.1 * ms)
    theory = lr.scores[rep.post, rep.pre] / (2 * TAU_R)
    return rep.scores, theory, np.abs(rep.weights)


@pytest.fixture(scope="module")
def traces():
    J, _ = clustered_ei(**SMALL_NET, rng=3)
    net = SpikingNetwork.from_matrix(J, mu=MU, sigma=SIGMA, target="cython", rng=4)
    short = _trace_vs_theory(net, J, 2.5)
    long = _trace_vs_theory(net, J, SHIPPED_SLEEP)
    return short, long


def _ceiling(theory, T):
    """Correlation of the scores with their estimates when the only error is sampling.

    A score is ``|J|`` times the variance of ``r_i -+ r_j``, filtered spike trains of
    correlation time ``tau_r``; its estimate over ``T`` has relative variance about
    ``2 tau_r / T`` (the variance of a sample variance of an exponentially correlated
    signal), so ``r <= sd(s) / sqrt(var(s) + mean(s^2) 2 tau_r / T)``.
    """
    noise = np.mean(theory**2) * 2 * TAU_R / (T - 0.5)
    return float(theory.std() / np.sqrt(theory.var() + noise))


@pytest.mark.cython
def test_trace_scores_correlate_with_linear_response_and_grow_with_sleep(traces):
    (est_s, th_s, w_s), (est_l, th_l, w_l) = traces
    r_short = np.corrcoef(est_s, th_s)[0, 1]
    r_long = np.corrcoef(est_l, th_l)[0, 1]
    # The bar at the shipped sleep length (measured 0.975 here, 0.976-0.977 for
    # the shipped network over three seeds).
    assert r_long >= 0.8, r_long
    # Longer sleeps average more: the correlation grows. The sampling ceiling rises
    # from 0.815 (2 s of measurement) to 0.973 (19.5 s); the measured values sit at it
    # (measured 0.813 -> 0.975): the error is the sampling error the formula predicts,
    # the band below it leaves room for the theory's own error.
    assert r_long > r_short + 0.03, (r_short, r_long)
    for r, th, T in ((r_short, th_s, 2.5), (r_long, th_l, SHIPPED_SLEEP)):
        assert _ceiling(th, T) - 0.07 < r < _ceiling(th, T) + 0.02, (r, _ceiling(th, T))
    # The traces estimate the score divided by 2 tau_r (Cov(r) ~ S0 / (2 tau_r)): median
    # ratio 1 within the theory's few per cent (measured 1.023; 1.004 for the shipped
    # network). Short sleeps are biased low by the centring, a factor ~ 1 - 2 tau_r / T
    # (measured 0.90 at 2 s).
    assert abs(np.median(est_l / th_l) - 1) < 0.05


@pytest.mark.cython
def test_covariance_part_of_the_scores(traces):
    """Much of the agreement is the weights': score / |J| = S_ii + S_jj -+ 2 S_ij alone
    correlates less (measured 0.29 at 2 s and 0.45 at 19.5 s at this size, 0.66-0.70
    for the shipped network: the rates' spread across neurons, little of the cluster
    structure), and it too grows with the sleep."""
    (est_s, th_s, w_s), (est_l, th_l, w_l) = traces
    r_w_short = np.corrcoef(est_s / w_s, th_s / w_s)[0, 1]
    r_w_long = np.corrcoef(est_l / w_l, th_l / w_l)[0, 1]
    assert r_w_long > r_w_short + 0.1, (r_w_short, r_w_long)
    assert r_w_long > 0.3
    # The weights alone explain most of the trace scores' variance (measured r = 0.97).
    assert np.corrcoef(est_l, w_l)[0, 1] > 0.85


# ------------------------------------------------------------------ pruning claims

#: Small model runs (114 neurons, 10 s sleep, 4 s wakes), online traces and the weight
#: baseline; three seeds.
SEEDS = (1, 2, 3)
PRUNE_SMALL = [
    "spiking.sizes=[30, 30, 30]",
    "spiking.n_inh=24",
    "spiking.sleep=10.0",
    "spiking.wake=4.0",
    "pruning.offline=false",
    "pruning.controls=['weight']",
    "output.figures=false",
]


@pytest.fixture(scope="module")
def pruned_runs():
    return {
        s: run_model("spiking", rng=s, overrides=PRUNE_SMALL, progress=NoProgress()) for s in SEEDS
    }


@pytest.mark.cython
def test_rates_stay_within_20_percent_and_asynchronous(pruned_runs):
    """Pruning to 20% with homeostasis: population rates within 20% of the unpruned
    network's (measured 0.5-4%, up; 2.4-5% for the shipped network; the counting noise
    of a population mean over 4 s is ~2%), irregular and asynchronous, no neuron
    silenced, none runs away."""
    for seed, res in pruned_runs.items():
        base = res.metrics["spiking"]["original"]
        for name, e in res.metrics["methods"].items():
            assert 0.18 < e["kept_fraction"] < 0.22, (seed, name)
            for key in ("rate_ratio_exc", "rate_ratio_inh", "rate_ratio_worst_group"):
                assert abs(e[key] - 1) < 0.2, (seed, name, key, e[key])
            # variance / mean of the population count in 5 ms: ~1 asynchronous (the
            # unpruned network: 1.0-1.1), >> 1 for population bursts
            assert e["synchrony"] < 1.5, (seed, name, e["synchrony"])
            assert e["isi_cv_median"] > 0.7 and e["silent_neurons"] == 0
            assert e["rate_max"] < 3 * base["rate_max"]


@pytest.mark.cython
def test_slowest_modes_of_A_eff_are_kept_by_every_method(pruned_runs):
    """What holds: both the trace rule and the weight baseline keep the two slowest
    modes of A_eff within 8% (measured 0.6-3.1%), and the whole spectrum's median within
    15% (measured 5.2-5.7%). That the traces keep them better than the weight baseline
    is not asserted: here the traces were ahead in 3 of 3 seeds (0.006-0.016 against
    0.023-0.031), at the shipped size in 2 of 3 (benchmarks/spiking_claims.py), and the
    between-cluster count covariance was not kept better (behind in 3 of 3 seeds at the
    shipped size, every error below the measurement's floor)."""
    for seed, res in pruned_runs.items():
        for name in ("online", "weight"):
            s = res.metrics["methods"][name]["spectra"]
            assert s["slowest2_rel_err_max"] < 0.08, (seed, name, s)
            assert s["eig_rel_err_median"] < 0.15, (seed, name, s)
        # The unpruned network is in the linear-response regime: A_eff stable, its slow
        # cluster modes well inside the left half-plane.
        lam = res.metrics["spiking"]["linear_response"]["slowest_eigenvalues_original"]
        assert -0.95 < lam[0] < -0.5


@pytest.mark.cython
def test_homeostasis_is_the_same_for_every_method(pruned_runs):
    """Each method's drives keep every neuron's mean input at the sleep's rates."""
    res = pruned_runs[1]
    a = res.arrays
    J, r = a["matrix_original"], a["rates_sleep"]
    tau_s = 0.005
    for name in ("online", "weight"):
        mu = a[f"mu_{name}"]
        np.testing.assert_allclose(
            mu + tau_s * a[f"matrix_{name}"] @ r, 13.5 + tau_s * J @ r, rtol=0, atol=1e-9
        )


# ------------------------------------------------------------------ helpers


def test_clustered_ei_structure_and_probabilities():
    J, labels = clustered_ei([60, 60], 40, p_in=0.5, p_out=0.1, p_inh=0.3, rng=0)
    n = 160
    assert J.shape == (n, n) and labels.tolist() == [0] * 60 + [1] * 60 + [2] * 40
    assert (np.diag(J) == 0).all()
    assert (J[:, :120] >= 0).all() and (J[:, 120:] <= 0).all()
    exc = labels < 2
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(n, dtype=bool)
    # Empirical connection probabilities: binomial sd sqrt(p (1-p) / pairs) < 0.01.
    for mask, p in (
        (exc[:, None] & exc[None, :] & same & off, 0.5),
        (exc[:, None] & exc[None, :] & ~same, 0.1),
        (~(exc[:, None] & exc[None, :]) & off, 0.3),
    ):
        assert abs((J[mask] != 0).mean() - p) < 0.03
    # Weights within w (1 +- spread).
    assert J[:60, :60][J[:60, :60] != 0].min() >= 0.7 * 0.5
    assert J[:, 120:].min() >= -1.5 and J[:, 120:][J[:, 120:] != 0].max() <= -0.5
    np.testing.assert_array_equal(
        clustered_ei([60, 60], 40, rng=0)[0], clustered_ei([60, 60], 40, rng=0)[0]
    )


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"sizes": [], "n_inh": 2}, ValueError, "at least one cluster"),
        ({"sizes": [3], "n_inh": 0}, ValueError, "n_inh"),
        ({"sizes": [3], "n_inh": 2, "p_in": 1.5}, ValueError, "p_in == 1.5"),
        ({"sizes": [3], "n_inh": 2, "w_ie": -1}, ValueError, "w_ie"),
        ({"sizes": [3], "n_inh": 2, "spread": 1.0}, ValueError, "spread"),
    ],
)
def test_clustered_ei_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        clustered_ei(**kwargs)


def test_homeostatic_drive_dense_sparse_and_the_online_rule():
    J, _ = clustered_ei([5, 5], 4, rng=1)
    gen = np.random.default_rng(2)
    Jp = J * (gen.random(J.shape) < 0.3) / 0.3
    r = gen.uniform(2, 12, J.shape[0])
    expected = 0.005 * (J - Jp) @ r
    d = homeostatic_drive(J, Jp, r * Hz)
    np.testing.assert_allclose(np.asarray(d / mV), expected, rtol=1e-12, atol=1e-12)
    ds = homeostatic_drive(sp.csr_array(J), sp.csr_array(Jp), r * Hz)
    np.testing.assert_allclose(np.asarray(ds / mV), expected, rtol=1e-12, atol=1e-12)
    d2 = homeostatic_drive(J, Jp, r * Hz, tau_s=10 * ms)
    np.testing.assert_allclose(np.asarray(d2 / mV), 2 * expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="must match J's shape"):
        homeostatic_drive(J, Jp[:-1, :-1], r * Hz)
    with pytest.raises(TypeError, match="rates"):
        homeostatic_drive(J, Jp, r)


def test_group_count_covariance_equals_the_pair_average():
    gen = np.random.default_rng(0)
    n, T, b = 9, 20.0, 0.5
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    # Correlated spike trains: a shared Poisson source per group plus private spikes.
    times, idx = [], []
    for i in range(n):
        t = np.sort(gen.uniform(0, T, gen.poisson(5 * T)))
        times.append(t)
        idx.append(np.full(t.size, i))
    t, i = np.concatenate(times), np.concatenate(idx)
    C = group_count_covariance(i, t * second, labels, duration=T * second, bin_width=b * second)
    counts = np.zeros((n, int(T / b)))
    np.add.at(counts, (i, (t / b).astype(int)), 1)
    full = np.cov(counts) / b
    for a in range(3):
        for c in range(3):
            block = full[np.ix_(labels == a, labels == c)]
            if a == c:
                block = block[~np.eye(block.shape[0], dtype=bool)]
            np.testing.assert_allclose(C[a, c], block.mean(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="at least two"):
        group_count_covariance(
            i, t * second, [0] * 8 + [1], duration=T * second, bin_width=b * second
        )
    with pytest.raises(ValueError, match="need at least 2"):
        group_count_covariance(i, t * second, labels, duration=T * second, bin_width=T * second)
    with pytest.raises(TypeError, match="spike_t"):
        group_count_covariance(i, t, labels, duration=T * second, bin_width=b * second)


def test_sleep_min_kept_keeps_every_neuron_connected():
    J, _ = clustered_ei([8, 8], 4, p_in=0.5, p_out=0.2, p_inh=0.5, rng=2)
    kw = {"target": "numpy", "tau_r": 20 * ms, "mu": MU, "sigma": SIGMA}

    def degrees(min_kept):
        net = SpikingNetwork.from_matrix(J, rng=5, **kw)
        rep = net.sleep(300 * ms, burn_in=50 * ms, density=0.05, min_kept=min_kept)
        B = net.J.toarray() != 0
        return rep, B.sum(axis=1), B.sum(axis=0), net

    _, ins0, outs0, _ = degrees(0)
    rep, ins, outs, net = degrees(2)
    assert ins0.min() < 2 or outs0.min() < 2  # without it, density 0.05 cuts neurons loose
    have_in, have_out = (J != 0).sum(axis=1), (J != 0).sum(axis=0)
    assert (ins >= np.minimum(2, have_in)).all() and (outs >= np.minimum(2, have_out)).all()
    # The extra synapses are reweighted like the others, and the homeostasis counts them.
    np.testing.assert_allclose(
        np.asarray(net.mu / mV) + 0.005 * net.J.toarray() @ np.asarray(net.rates / Hz),
        13.5 + 0.005 * J @ np.asarray(net.rates / Hz),
        atol=1e-9,
    )
    with pytest.raises(ValueError, match="min_kept"):
        SpikingNetwork.from_matrix(J, rng=5, **kw).sleep(100 * ms, density=0.5, min_kept=-1)


# ------------------------------------------------------------------ schema


@pytest.mark.parametrize(
    "sets, match",
    [
        (["network.generator=clustered"], "network.generator is for rate models"),
        (["pruning.density=", "pruning.k=2.0"], "prunes to pruning.density"),
        (["pruning.online=false"], "always runs the sleep"),
        (["evaluation.dynamics.enabled=true"], "set evaluation.dynamics.enabled = false"),
        (["spiking.V_r=25.0"], "spiking.V_r == 25.0, must be < spiking.V_th"),
        (["spiking.dt=2.0"], "spiking.dt == 2.0 ms, must be <= 0.2"),
        (["spiking.count_bin=6.0", "spiking.wake=10.0"], "must fit twice"),
        (["spiking.sizes=[1, 5]"], "at least two neurons"),
        (["spiking.burn_in=30.0"], "spiking.burn_in == 30.0, must be < sleep"),
        (["spiking.target=cuda"], "spiking.target == 'cuda', must be one of"),
        (["lifetime.enabled=true"], "a spiking model .* cannot: enable one of the two"),
    ],
)
def test_spiking_model_errors(sets, match):
    with pytest.raises(ModelError, match=match):
        load_model("spiking", overrides=sets)


def test_spiking_keys_without_a_spiking_model_are_refused():
    with pytest.raises(ModelError, match="spiking.mu is read only by spiking models"):
        load_model("clustered", overrides=["spiking.mu=10.0"])
