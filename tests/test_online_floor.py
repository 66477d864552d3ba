"""``sleep(min_kept=...)``: the online rule never cuts a neuron loose when asked not to."""

import numpy as np
import pytest
from brian2 import ms

from plasticsim.networks import clustered
from plasticsim.online import RateNetwork

pytestmark = pytest.mark.usefixtures("brian_prefs")


def degrees(M):
    off = M != 0
    np.fill_diagonal(off, False)
    return off.sum(axis=1), off.sum(axis=0)


def slept(A, m, **kwargs):
    net = RateNetwork.from_matrix(A, tau=10 * ms, dt=0.05 * ms, rng=1)
    rep = net.sleep(60 * ms, density=0.1, burn_in=10 * ms, min_kept=m, **kwargs)
    return net, rep


@pytest.fixture(scope="module")
def sym():
    # ~10 synapses per neuron at density 0.1: about 200 exp(-1) ~ 70 neurons are left
    # without any without the floor.
    return clustered([100, 100], p_in=0.1, p_out=0.01, leak=0.05, rng=2)


def test_floor_keeps_the_sample_and_adds_only_what_is_missing(sym):
    free, rep0 = slept(sym, 0)
    again, _ = slept(sym, 0)
    np.testing.assert_array_equal(free.matrix, again.matrix)  # the published rule
    for m in (1, 3):
        net, rep = slept(sym, m)
        d_in, d_out = degrees(net.matrix)
        had = degrees(sym)[0]
        assert np.count_nonzero(degrees(free.matrix)[0] < m) > 20  # the floor acts
        assert np.all(d_in >= np.minimum(m, had))
        np.testing.assert_array_equal(d_in, d_out)  # pairs rescued whole
        np.testing.assert_array_equal(net.matrix, net.matrix.T)
        # The same uniforms: every synapse the free sleep kept is kept, with its weight.
        kept0 = rep0.kept
        assert np.all(rep.kept[kept0])
        w0, w = free.matrix, net.matrix
        both = (w0 != 0) & ~np.eye(200, dtype=bool)
        np.testing.assert_allclose(w[both], w0[both], rtol=1e-12)
        # Matched leak: every row sum (minus the slack) is kept, rescued or not.
        np.testing.assert_allclose(w.sum(axis=1), sym.sum(axis=1), rtol=0, atol=1e-12)


def test_floor_counts_inputs_and_outputs_when_asymmetric():
    rng = np.random.default_rng(3)
    n = 120
    W = (rng.random((n, n)) < 0.08) * rng.uniform(0.05, 0.15, (n, n))
    np.fill_diagonal(W, 0)
    A = W - np.diag(W.sum(axis=1) + 0.5)
    free, _ = slept(A, 0)
    net, _ = slept(A, 1)
    f_in, f_out = degrees(free.matrix)
    d_in, d_out = degrees(net.matrix)
    assert np.count_nonzero(f_in == 0) > 5 and np.count_nonzero(f_out == 0) > 5
    h_in, h_out = degrees(A)
    assert np.all(d_in[h_in > 0] >= 1) and np.all(d_out[h_out > 0] >= 1)


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (0.5, TypeError)])
def test_floor_bad_input_before_any_work(sym, bad, error):
    net = RateNetwork.from_matrix(sym, tau=10 * ms, dt=0.05 * ms, rng=1)
    with pytest.raises(error, match="min_kept"):
        net.sleep(60 * ms, density=0.1, min_kept=bad)
    assert float(net.t) == 0.0 and not net.reports
