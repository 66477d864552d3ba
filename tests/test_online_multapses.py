"""Several synapses between the same two neurons (multapses), online and in analysis.

What the rule predicts (plasticsim/multapses.py): synapses of one pair share their trace
up to ``|w|`` (so ``p`` is proportional to ``|w|`` within the pair), are decided
independently, each kept one is rescaled to the pair's ``1 / (k D)``, and the pair's
summed strength is unchanged in expectation. The statistical tests condition on the
probabilities the epoch computed: given them, the decisions are Bernoulli draws, and
the tolerances below are normal quantiles of sums of those independent draws.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from brian2 import ms

from plasticsim import noise_prune, synapse_scores
from plasticsim.multapses import (
    _ordered_pairs,
    expected_within_pair_correlation,
    multapse_scores,
    pair_index,
    pair_sum_ratio,
    split_synapses,
    weights_after,
    within_pair_correlation,
)
from plasticsim.networks import clustered
from plasticsim.online import RateNetwork
from plasticsim.online._decisions import has_multapses, weights_symmetric

pytestmark = pytest.mark.usefixtures("brian_prefs")

DT = 0.5 * ms  # h = 0.05; the networks below have max|lambda| < 4, (dt/tau) max|lambda| < 0.2


def two_per_pair(seed=0, sizes=(4, 4)):
    A = clustered(list(sizes), p_in=0.8, p_out=0.25, n_strong=0, w_in=0.2, w_out=0.2, rng=seed)
    return A, split_synapses(A, 2, spread=0.5, rng=seed)


def build(n, pre, post, w, leak, **kw):
    kw = {"dt": DT, "target": "numpy", "rng": 0, "multapses": True} | kw
    return RateNetwork.from_synapses(n, pre, post, w, leak=leak, **kw)


# ------------------------------------------------------------------ construction


def test_repeated_pair_without_multapses_names_the_option():
    with pytest.raises(ValueError, match=r"1 -> 0 is given twice .*\(\.\.\., multapses=True\)"):
        RateNetwork.from_synapses(2, [1, 1, 0], [0, 0, 1], [0.2, 0.3, 0.5], leak=2.0)


def test_multapses_must_be_bool():
    with pytest.raises(TypeError, match="multapses must be True or False"):
        RateNetwork.from_synapses(2, [1, 0], [0, 1], [0.2, 0.5], leak=2.0, multapses=1)
    with pytest.raises(TypeError, match="multapses must be True or False"):
        RateNetwork.from_matrix(-np.eye(2), multapses="yes")


def test_dense_input_cannot_hold_multapses():
    with pytest.raises(ValueError, match=r"multapses=True .*dense A .*from_synapses"):
        RateNetwork.from_matrix(np.array([[-2.0, 0.5], [0.5, -2.0]]), multapses=True)


def test_each_entry_is_a_synapse_and_the_matrix_sums_them():
    A, (pre, post, w, leak) = two_per_pair()
    n = A.shape[0]
    net = build(n, pre, post, w, leak)
    assert net.n_synapses == pre.size == 2 * np.count_nonzero(A - np.diag(np.diag(A)))
    np.testing.assert_allclose(net.matrix, A, rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(net.sparse_matrix().toarray(), net.matrix, rtol=0, atol=1e-16)
    table = net.synapse_states()
    # each entry kept apart, in (post, pre) order, a pair's entries in the order given
    key = table.post.astype(np.int64) * n + table.pre
    assert np.all(np.diff(key) >= 0)
    order = np.argsort(post * n + pre, kind="stable")
    np.testing.assert_array_equal(table.weight, w[order])


def test_sparse_entries_give_the_same_network():
    A, (pre, post, w, leak) = two_per_pair()
    n = A.shape[0]
    coo = sp.coo_array(
        (
            np.concatenate([w, -leak]),
            (np.concatenate([post, np.arange(n)]), np.concatenate([pre, np.arange(n)])),
        ),
        shape=(n, n),
    )
    a = RateNetwork.from_matrix(coo, dt=DT, target="numpy", rng=0, multapses=True)
    b = build(n, pre, post, w, leak)
    for x, y in zip(a.synapse_states(), b.synapse_states(), strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.leak, b.leak)


def test_has_multapses_and_symmetry_helpers():
    pre = np.array([1, 0, 0], dtype=np.int32)
    post = np.array([0, 1, 1], dtype=np.int32)
    assert has_multapses(pre, post, 2)
    assert not has_multapses(pre[:2], post[:2], 2)
    assert has_multapses(pre[::-1].copy(), post[::-1].copy(), 2)  # unsorted table
    # i->j twice (0.3 + 0.3) and j->i once (0.3): every synapse "finds" an equal partner,
    # but the summed matrix is not symmetric
    assert not weights_symmetric(2, pre, post, np.array([0.3, 0.3, 0.3]))


def test_symmetric_pairing_with_multapses():
    A, (pre, post, w, leak) = two_per_pair()
    net = build(A.shape[0], pre, post, w, leak)
    # the summed matrix is symmetric (to rounding), the multapse table cannot be paired
    np.testing.assert_allclose(net.matrix, net.matrix.T, rtol=1e-14, atol=1e-16)
    with pytest.raises(ValueError, match=r"symmetric=True cannot pair .*multapses"):
        net.sleep(20 * ms, burn_in=5 * ms, decide=False, symmetric=True)
    rep = net.sleep(20 * ms, burn_in=5 * ms, decide=False)
    assert rep.symmetric is False


# ------------------------------------------------------------------ the rule on multapses


@pytest.fixture(scope="module")
def decided():
    """One sleep of a 40-neuron network, every synapse split in two (spread 0.2)."""
    from plasticsim._brian import brian2

    old = brian2.prefs["codegen.target"]
    brian2.prefs["codegen.target"] = "numpy"
    try:
        A = clustered([20, 20], p_in=0.5, p_out=0.1, n_strong=0, w_in=0.1, w_out=0.1, rng=5)
        n = A.shape[0]
        pre, post, w, leak = split_synapses(A, 2, spread=0.2, rng=5)
        net = build(n, pre, post, w, leak, rng=5)
        rep = net.sleep(300 * ms, burn_in=30 * ms, density=0.3, compact=False)
    finally:
        brian2.prefs["codegen.target"] = old
    return n, net, rep


def test_traces_of_a_pair_differ_only_by_the_weight(decided):
    n, _, rep = decided
    pair, _, _ = pair_index(rep.pre, rep.post, n)
    ratio = rep.scores / np.abs(rep.weights)
    e, f = _ordered_pairs(rep.pre, rep.post, n)
    # both integrate (x_post - sgn x_pre)^2 on the same trajectory: equal up to rounding
    np.testing.assert_allclose(ratio[e], ratio[f], rtol=1e-12)
    p = rep.probabilities
    unclipped = (p[e] < 1) & (p[f] < 1)
    np.testing.assert_allclose(
        p[e][unclipped] / p[f][unclipped],
        np.abs(rep.weights[e] / rep.weights[f])[unclipped],
        rtol=1e-12,
    )
    assert rep.symmetric is False and rep.candidate.all()


def test_kept_synapses_of_a_pair_are_rescaled_to_one_strength(decided):
    n, net, rep = decided
    after = weights_after(rep)
    np.testing.assert_array_equal(after, net.synapse_states().weight)
    e, f = _ordered_pairs(rep.pre, rep.post, n)
    both = rep.kept[e] & rep.kept[f] & (rep.probabilities[e] < 1) & (rep.probabilities[f] < 1)
    assert both.sum() >= 10
    # w / p = w / (k |w| D) = sgn / (k D): the same for every unclipped survivor of a pair
    np.testing.assert_allclose(after[e][both], after[f][both], rtol=1e-12)


def test_synapses_of_a_pair_are_decided_independently(decided):
    n, _, rep = decided
    e, f = _ordered_pairs(rep.pre, rep.post, n)
    e, f = e[e < f], f[e < f]  # each unordered couple once (two synapses per pair here)
    p = rep.probabilities
    both = rep.kept[e] & rep.kept[f]
    pp = p[e] * p[f]
    # Independent draws: "both kept" is Bernoulli(p_e p_f) per pair, independent across
    # pairs; z ~ N(0, 1), |z| < 4 fails with probability 6e-5.
    z = (both.sum() - pp.sum()) / np.sqrt(np.sum(pp * (1 - pp)))
    assert abs(z) < 4, z
    # A pair decided as one unit would keep both with probability ~min(p_e, p_f):
    # the test can tell them apart (that expectation is many standard deviations away).
    joint = np.minimum(p[e], p[f])
    assert (joint.sum() - pp.sum()) / np.sqrt(np.sum(pp * (1 - pp))) > 8


def test_pair_sum_is_preserved_in_expectation(decided):
    n, _, rep = decided
    mean, se = pair_sum_ratio(
        rep.pre, rep.post, rep.weights, weights_after(rep), rep.probabilities, n
    )
    # mean of independent per-pair ratios with mean 1 and the given variances: within 4 se
    assert abs(mean - 1) < 4 * se, (mean, se)
    assert se < 0.06  # the test has power: a 25% bias would be > 4 se


def test_strengths_of_a_pair_decorrelate(decided):
    n, _, rep = decided
    before = within_pair_correlation(rep.pre, rep.post, rep.weights, n)
    after = within_pair_correlation(rep.pre, rep.post, weights_after(rep), n)
    indep = expected_within_pair_correlation(rep.pre, rep.post, rep.weights, rep.probabilities, n)
    pair, _, _ = pair_index(rep.pre, rep.post, n)
    p_pair = np.bincount(pair, rep.probabilities) / np.bincount(pair)
    joint = expected_within_pair_correlation(
        rep.pre, rep.post, rep.weights, p_pair[pair], n, joint=True
    )
    # (seed 5: before 0.83, after 0.017, independent 0.030, joint 0.98)
    assert before > 0.6 and joint > 0.6 and indep < 0.2
    # the measured correlation is decided between the two hypotheses at their midpoint
    assert after < 0.5 * (indep + joint), (after, indep, joint)


# ------------------------------------------------------------------ lifecycle


def test_compaction_and_save_load_keep_multapses(tmp_path):
    A, (pre, post, w, leak) = two_per_pair(seed=2, sizes=(5, 5))
    net = build(A.shape[0], pre, post, w, leak, rng=3)
    rep = net.sleep(60 * ms, burn_in=10 * ms, density=0.5)
    assert rep.counts_after["PRUNED"] == 0 and net.n_synapses == rep.kept.sum()
    table = net.synapse_states()
    assert has_multapses(table.pre, table.post, net.n)  # some pair kept both synapses
    # the matched leak: each neuron's leak absorbs the change of its summed |w|
    change = np.bincount(
        rep.post, np.abs(weights_after(rep)) - np.abs(rep.weights), minlength=net.n
    )
    np.testing.assert_allclose(net.leak, leak + change, rtol=1e-14)
    path = tmp_path / "multi.npz"
    net.save(path)
    back = RateNetwork.load(path)
    for x, y in zip(net.synapse_states(), back.synapse_states(), strict=True):
        np.testing.assert_array_equal(x, y)
    a = net.sleep(30 * ms, burn_in=5 * ms, density=0.5, relabile=1.0)
    b = back.sleep(30 * ms, burn_in=5 * ms, density=0.5, relabile=1.0)
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(net.matrix, back.matrix)


# ------------------------------------------------------------------ analysis helpers


def test_split_keeps_the_matrix_and_scores_add_up():
    A = clustered([6, 6], p_in=0.7, p_out=0.2, n_strong=0, w_in=0.2, w_out=0.2, rng=1)
    n = A.shape[0]
    pre, post, w, leak = split_synapses(A, 3, spread=0.9, rng=1)
    M = np.zeros((n, n))
    np.add.at(M, (post, pre), w)
    M[np.diag_indices(n)] = -leak
    np.testing.assert_allclose(M, A, rtol=1e-14, atol=1e-16)
    s = multapse_scores(n, pre, post, w, leak)
    S = np.zeros((n, n))
    np.add.at(S, (post, pre), s)
    # same-sign synapses: the pair's scores add up to the summed synapse's score
    np.testing.assert_allclose(S, synapse_scores(A), rtol=1e-12, atol=1e-15)
    # and the offline rule on the pairs keeps its meaning: one entry per pair
    assert noise_prune(A, density=0.5, rng=0).pruned.shape == (n, n)


def test_correlation_helpers():
    pre, post = np.array([0, 0, 1, 1, 2, 2]), np.array([3, 3, 3, 3, 3, 3])
    w = np.array([1.0, 1.1, 2.0, 2.2, 3.0, 2.9])
    assert within_pair_correlation(pre, post, w, 4) > 0.95
    # all probabilities 1: nothing changes, the expectation is the correlation itself
    assert expected_within_pair_correlation(pre, post, w, np.ones(6), 4) == pytest.approx(
        within_pair_correlation(pre, post, w, 4)
    )
    with pytest.raises(ValueError, match="no pair of neurons has two or more synapses"):
        within_pair_correlation([0, 1], [1, 0], [1.0, 1.0], 2)
    with pytest.raises(ValueError, match="spread == 1.0, must be in"):
        split_synapses(-np.eye(2), 2, spread=1.0)
