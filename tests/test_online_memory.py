"""Memory of a sleeping network: what a sleep epoch and its report hold per synapse.

The epoch reads Brian2's index arrays as read-only int32 views, takes the weights before
its decisions from the rollback record, and writes its decisions in place; the bounds
below are derived from the arrays that must exist (see ``RateNetwork.from_matrix``,
Notes), and the in-place and blocked steps are checked against the plain expressions.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from brian2 import ms

from plasticsim.networks import clustered
from plasticsim.online import RateNetwork, _decisions

# Brian2's numpy target, no log files, no saved scripts (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("brian_prefs")


def _net(n=4000, k=20.0, seed=0):
    # Symmetric, diagonally dominant (leak ~2, row sums ~1), k synapses per neuron.
    A = clustered([1000] * (n // 1000), p_in=k / 999, p_out=0.0, w_in=1 / k, sparse=True, rng=seed)
    return RateNetwork.from_matrix(A, dt=0.1 * ms, target="numpy", rng=seed)


# Two trace samples are a noisy measurement: some kept synapses get a tiny p, and the
# check after the decisions warns about the rescaled network; memory is the point here.
@pytest.mark.filterwarnings("ignore:after the decisions:RuntimeWarning")
def test_sleep_epoch_and_report_memory_per_synapse():
    net = _net()
    m = net.n_synapses
    step = net.trace_dt
    net.sleep(2 * step, burn_in=0 * ms, decide=False)  # every code object runs once
    net.reports.clear()
    tracemalloc.start()
    try:
        # Peaks above the memory in use at the start (allocations since then).
        rep = net.sleep(2 * step, burn_in=0 * ms, decide=False)
        _, peak_measure = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        net.sleep(2 * step, burn_in=0 * ms, density=0.1)
        _, peak_decide = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A report without decisions owns weights and scores (float64) and the candidate
    # mask: 17 bytes per synapse; pre/post are views of Brian2's arrays, kept and
    # probabilities constants of one element. (Before: int64 copies of pre/post and full
    # kept/probabilities arrays, 42.)
    arrays = [rep.pre, rep.post, rep.weights, rep.scores, rep.candidate, rep.kept]
    arrays.append(rep.probabilities)
    owned = sum(a.nbytes for a in arrays if a.base is None)
    assert owned == 17 * m
    # The epoch's own peak (allocations since the start): record 17, report 17, scores 8,
    # int32 pairing/units ~10, the decisions' temporaries, and the numpy target's per-step
    # temporaries (~37 per synapse in a wake of this network, measured). Measured here 96
    # (measurement) and 87 (decisions); before the read-only views and the in-place
    # decisions 188 and 181: the bound sits between, 130.
    assert peak_measure < 130 * m
    assert peak_decide - base < 130 * m


def test_report_arrays_are_views_and_constants():
    net = _net(n=1000, k=10.0)
    rep = net.sleep(2 * net.trace_dt, burn_in=0 * ms, decide=False)
    for a in (rep.pre, rep.post):
        assert a.dtype == np.int32 and not a.flags.writeable
    pre = np.asarray(net.synapses.variables["_synaptic_pre"].get_value())
    assert np.shares_memory(rep.pre, pre)
    assert not rep.kept.flags.writeable and not rep.kept.any()
    assert not rep.probabilities.flags.writeable and np.all(np.isnan(rep.probabilities))
    assert rep.kept.shape == rep.probabilities.shape == (net.n_synapses,)
    states = net.synapse_states()
    with pytest.raises(ValueError, match="read-only"):
        states.pre[0] = 1
    # The synapse table of the simulation is unchanged by all this.
    np.testing.assert_array_equal(states.pre, pre)


@pytest.mark.parametrize("symmetric", [True, False])
def test_decide_in_place_equals_copies(symmetric):
    rng = np.random.default_rng(3)
    net = _net(n=1000, k=10.0)
    pre, post, w, _, status = net._table()
    status = status.copy()
    status[rng.random(status.size) < 0.2] = 1  # some STABLE synapses are not decided
    partner = _decisions.partner_index(pre, post, net.n)
    reps, unit_of = _decisions.decision_units(pre, post, partner, symmetric)
    unit_scores = rng.random(reps.size)
    kw = dict(pre=pre, post=post, n=net.n, unit_scores=unit_scores, reps=reps, unit_of=unit_of)
    ref = _decisions.decide(weight=w, status=status, k=1.5, gen=np.random.default_rng(7), **kw)
    out_w, out_s = w.copy(), status.copy()
    got = _decisions.decide(
        weight=w,
        status=out_s,
        k=1.5,
        gen=np.random.default_rng(7),
        out_weight=out_w,
        out_status=out_s,  # the same array as status, as the sleep passes it
        **kw,
    )
    assert got[0] is out_w and got[1] is out_s
    for a, b in zip(ref, got, strict=True):
        np.testing.assert_array_equal(a, b)  # bit for bit, NaNs in place


def test_sorted_check_and_int32_pairing_in_blocks(monkeypatch):
    monkeypatch.setattr(_decisions, "_CHUNK", 7)  # many block boundaries
    rng = np.random.default_rng(0)
    n = 50
    M = np.triu(rng.random((n, n)) < 0.2, 1)
    M = M | M.T
    post, pre = np.nonzero(M)  # sorted by (post, pre), symmetric pattern
    pre, post = pre.astype(np.int32), post.astype(np.int32)
    assert _decisions._sorted_by_post_pre(pre, post)
    for a, b in [(3, 4), (10, 11), (20, 40)]:  # any swap breaks the order
        p2, q2 = pre.copy(), post.copy()
        p2[[a, b]], q2[[a, b]] = p2[[b, a]], q2[[b, a]]
        key = q2.astype(np.int64) * n + p2
        assert _decisions._sorted_by_post_pre(p2, q2) == bool(np.all(key[1:] > key[:-1]))
    partner = _decisions.partner_index(pre, post, n)
    np.testing.assert_array_equal(pre[partner], post)
    np.testing.assert_array_equal(post[partner], pre)
    # The same pairs found by the sorting path, on a shuffled copy of the table.
    order = rng.permutation(pre.size)
    shuffled = _decisions.partner_index(pre[order], post[order], n)
    np.testing.assert_array_equal(order[shuffled], partner[order])
