"""``min_kept`` (no neuron cut loose) and ``scores=`` (scores computed elsewhere)."""

import numpy as np
import pytest
import scipy.sparse as sps

from plasticsim import noise_prune, pruning_probabilities, sparsify, synapse_scores
from plasticsim.networks import clustered, erdos_renyi


def off_diagonal(B) -> sps.csr_array:
    B = sps.csr_array(B).copy()
    B.setdiag(0)
    B.eliminate_zeros()
    return B


def in_out_degrees(B):
    M = off_diagonal(B)
    return np.diff(M.indptr), np.bincount(M.indices, minlength=M.shape[0])


@pytest.fixture(scope="module")
def sparse_clusters():
    # ~27 synapses per neuron at density 0.1: about 900 exp(-2.7) ~ 60 neurons lose all
    # of them without min_kept (DESIGN.md §2b "Fragments").
    return clustered([300, 300, 300], p_in=0.09, p_out=0.002, leak=0.01, sparse=True, rng=1)


def test_min_kept_zero_is_the_published_rule(sparse_clusters):
    a = noise_prune(sparse_clusters, density=0.1, rng=3)
    b = noise_prune(sparse_clusters, density=0.1, rng=3, min_kept=0)
    assert (a.pruned != b.pruned).nnz == 0
    assert b.rescued == 0


@pytest.mark.parametrize("m", [1, 2, 5])
def test_min_kept_leaves_no_neuron_below_the_floor(sparse_clusters, m):
    free = noise_prune(sparse_clusters, density=0.1, rng=3)
    floor = noise_prune(sparse_clusters, density=0.1, rng=3, min_kept=m)
    deg_free, _ = in_out_degrees(free.pruned)
    deg, deg_out = in_out_degrees(floor.pruned)
    have = np.diff(off_diagonal(sparse_clusters).indptr)
    assert np.count_nonzero(deg_free < m) > 10  # the regime where the floor acts
    assert np.all(deg >= np.minimum(m, have))
    np.testing.assert_array_equal(deg, deg_out)  # symmetric: pairs added whole
    # The sample is kept; only synapses of neurons below the floor are added.
    kf, kk = free.kept.toarray(), floor.kept.toarray()
    assert np.all(kk[kf])
    added = kk & ~kf
    rows = np.unique(np.nonzero(added)[0])
    short = np.flatnonzero(deg_free < m)
    assert set(rows) <= set(short) | set(np.nonzero(added)[1])
    assert floor.rescued == np.count_nonzero(added)
    # Each neuron below the floor keeps the highest-probability synapses it had dropped.
    P = floor.probabilities.toarray()
    A = sparse_clusters.toarray()
    for i in short[:20]:
        dropped = np.flatnonzero((A[i] != 0) & (np.arange(900) != i) & ~kf[i])
        best = dropped[np.argsort(-P[i, dropped], kind="stable")[: m - deg_free[i]]]
        assert np.all(kk[i, best])


def test_min_kept_removes_isolated_neurons_and_their_spurious_modes(sparse_clusters):
    """Each isolated neuron is an eigenvalue at exactly -leak (matched diagonal)."""
    leak = 0.01
    for m, isolated in ((0, True), (1, False)):
        res = noise_prune(sparse_clusters, density=0.1, rng=3, min_kept=m)
        deg, _ = in_out_degrees(res.pruned)
        ev = np.linalg.eigvalsh(res.pruned.toarray())
        at_leak = np.count_nonzero(np.abs(ev + leak) < 1e-9)
        assert (np.count_nonzero(deg == 0) > 0) == isolated
        assert at_leak >= np.count_nonzero(deg == 0)
        # The matched diagonal keeps every neuron's slack (row sums), rescued or not.
        np.testing.assert_allclose(
            res.pruned.sum(axis=1), sparse_clusters.sum(axis=1), rtol=0, atol=1e-12
        )


def test_min_kept_dense_equals_sparse(sparse_clusters):
    A = sparse_clusters.toarray()
    d = noise_prune(A, density=0.1, rng=5, min_kept=1)
    s = noise_prune(sparse_clusters, density=0.1, rng=5, min_kept=1)
    np.testing.assert_array_equal(d.kept, s.kept.toarray())
    np.testing.assert_allclose(d.pruned, s.pruned.toarray(), rtol=1e-13, atol=1e-15)
    assert d.rescued == s.rescued > 0


def test_min_kept_asymmetric_counts_inputs_and_outputs():
    rng = np.random.default_rng(4)
    n = 200
    W = (rng.random((n, n)) < 0.05) * rng.uniform(0.1, 1.0, (n, n))
    np.fill_diagonal(W, 0)
    A = W - np.diag(W.sum(axis=1) + 1.0)
    P = np.where(W != 0, 0.1, 0.0)
    free = sparsify(A, P, rng=2)
    floor = sparsify(A, P, rng=2, min_kept=1)
    has_in, has_out = in_out_degrees(A)
    d_in, d_out = in_out_degrees(free)
    assert np.count_nonzero((d_in == 0) & (has_in > 0)) > 5
    assert np.count_nonzero((d_out == 0) & (has_out > 0)) > 5
    f_in, f_out = in_out_degrees(floor)
    assert np.all(f_in[has_in > 0] >= 1) and np.all(f_out[has_out > 0] >= 1)
    # Kept synapses are rescaled by 1 / p like the sampled ones.
    kept = (floor != 0) & (W != 0)
    np.testing.assert_allclose(floor[kept], A[kept] / 0.1)


def test_min_kept_never_keeps_a_zero_probability_synapse():
    A = erdos_renyi(30, 0.3, rng=1)
    P = np.where(A != 0, 0.5, 0.0)
    np.fill_diagonal(P, 0)
    P[0, :] = P[:, 0] = 0.0  # neuron 0 cannot keep anything
    B = sparsify(A, P, rng=1, min_kept=3)
    assert np.count_nonzero(B[0]) == 1 and np.count_nonzero(B[:, 0]) == 1  # the leak


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_min_kept_bad_input(sparse_clusters, bad, error):
    with pytest.raises(error, match="min_kept"):
        noise_prune(sparse_clusters, density=0.1, min_kept=bad)
    with pytest.raises(error, match="min_kept"):
        sparsify(sparse_clusters, sparse_clusters, min_kept=bad)


# ---------------------------------------------------------------- scores=


@pytest.mark.parametrize("sparse", [False, True])
def test_given_scores_reproduce_the_rule(sparse):
    A = clustered([30, 20], rng=0)
    S = synapse_scores(A)
    ref = noise_prune(A, density=0.2, rng=1)
    An, Sn = (sps.csr_array(A), sps.csr_array(S)) if sparse else (A, S)
    res = noise_prune(An, density=0.2, rng=1, scores=Sn)
    pruned = res.pruned.toarray() if sparse else res.pruned
    np.testing.assert_allclose(pruned, ref.pruned, rtol=1e-13, atol=1e-15)
    assert res.method == "given" and res.covariance is None
    P, k = pruning_probabilities(An, density=0.2, scores=Sn, return_k=True)
    assert k == pytest.approx(ref.k, rel=1e-12)
    P = P.toarray() if sparse else P
    np.testing.assert_allclose(P, ref.probabilities, rtol=1e-12)


def test_given_scores_bad_input():
    A = clustered([30, 20], rng=0)
    S = synapse_scores(A)
    with pytest.raises(ValueError, match="method == 'exact' with scores given"):
        noise_prune(A, density=0.2, scores=S, method="exact")
    with pytest.raises(ValueError, match="C and scores are both given"):
        pruning_probabilities(A, density=0.2, scores=S, C=np.eye(50))
    i, j = np.argwhere((A == 0) & ~np.eye(50, dtype=bool))[0]
    stray = S.copy()
    stray[i, j] = 1.0
    with pytest.raises(ValueError, match=rf"scores\[{i}, {j}\] == 1.0 where A has no synapse"):
        noise_prune(A, density=0.2, scores=stray)
    neg = S.copy()
    neg[S > 0] *= -1
    with pytest.raises(ValueError, match="must be finite and >= 0"):
        noise_prune(A, density=0.2, scores=neg)
    with pytest.raises(ValueError, match="scores has shape"):
        noise_prune(A, density=0.2, scores=S[:10, :10])


def test_values_at_takes_int32_indices_of_large_networks():
    """Brian2's synapse tables hold int32 indices: i * n must not wrap at n = 1e5."""
    from plasticsim._sparse import from_list, values_at

    n = 100_000
    i = np.array([99_999, 50_000, 3], dtype=np.int32)
    j = np.array([1, 99_998, 7], dtype=np.int32)
    P = from_list(n, i.astype(np.int64), j.astype(np.int64), np.array([0.5, 0.25, 0.125]))
    np.testing.assert_array_equal(values_at(P, i, j), [0.5, 0.25, 0.125])
    np.testing.assert_array_equal(values_at(P, j, i), [0.0, 0.0, 0.0])
