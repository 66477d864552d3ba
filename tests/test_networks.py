"""Tests for plasticsim.networks: stability, structure, statistics, reproducibility, errors."""

import numpy as np
import pytest
import scipy.sparse as sp

from plasticsim.networks import (
    cluster_labels,
    clustered,
    clustered_asymmetric,
    dale,
    erdos_renyi,
)

# Every generator with small, fast default arguments.
GENERATORS = {
    "clustered": lambda **kw: clustered([12, 8, 5], **kw),
    "clustered_asymmetric": lambda **kw: clustered_asymmetric([12, 8, 5], **kw),
    "erdos_renyi": lambda **kw: erdos_renyi(25, 0.3, **kw),
    "erdos_renyi_signed_asym": lambda **kw: erdos_renyi(
        25, 0.3, symmetric=False, signed=True, **kw
    ),
    "dale": lambda **kw: dale(20, 5, **kw),
}


def _off(n):
    return ~np.eye(n, dtype=bool)


def _abscissa(A):
    return float(np.max(np.linalg.eigvals(A).real))


# --------------------------------------------------------------------------- stability


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("diagonal", ["dominant", "uniform"])
@pytest.mark.parametrize("leak", [1.0, 0.3])
def test_stable_with_margin_leak(name, diagonal, leak):
    A = GENERATORS[name](leak=leak, diagonal=diagonal, rng=0)
    assert A.dtype == np.float64
    assert np.all(np.isfinite(A))
    # Round-off allowance: eigenvalue error ~ machine epsilon times ||A||.
    tol = 1e-10 * np.abs(A).sum(axis=1).max()
    alpha = _abscissa(A)
    # "dominant": Gershgorin discs centred at -(r_i + leak) with radius r_i, so every
    # eigenvalue has real part <= -leak. "uniform": alpha(A) == alpha(W) - alpha(W) - leak.
    assert alpha <= -leak + tol
    if diagonal == "uniform":
        assert alpha == pytest.approx(-leak, abs=tol)


@pytest.mark.parametrize("name", GENERATORS)
def test_dominant_diagonal_is_row_sum_plus_leak(name):
    A = GENERATORS[name](leak=0.7, diagonal="dominant", rng=1)
    off = np.abs(A) * _off(A.shape[0])
    np.testing.assert_allclose(-np.diag(A), off.sum(axis=1) + 0.7, rtol=1e-14)


@pytest.mark.parametrize("name", GENERATORS)
def test_uniform_diagonal_is_constant(name):
    A = GENERATORS[name](diagonal="uniform", rng=1)
    d = np.diag(A)
    assert np.all(d == d[0]) and d[0] < 0


def test_large_unequal_clusters_stable():
    A = clustered([1000, 200, 800], rng=0)
    assert A.shape == (2000, 2000)
    assert np.array_equal(A, A.T)
    assert np.linalg.eigvalsh(A)[-1] <= -1.0 + 1e-9


def test_dominant_symmetric_is_minus_laplacian_minus_leak():
    # For symmetric non-negative W, A = -(L + leak I), L the graph Laplacian: the uniform
    # vector is an exact eigenvector with eigenvalue -leak (the slowest mode).
    A = clustered([10, 10], leak=0.5, rng=3)
    np.testing.assert_allclose(A @ np.ones(20), -0.5 * np.ones(20), atol=1e-12)


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize("name", ["clustered", "erdos_renyi"])
@pytest.mark.parametrize("diagonal", ["dominant", "uniform"])
def test_symmetric_to_the_bit(name, diagonal):
    A = GENERATORS[name](diagonal=diagonal, rng=5)
    assert np.array_equal(A, A.T)


@pytest.mark.parametrize("name", ["clustered_asymmetric", "erdos_renyi_signed_asym", "dale"])
def test_asymmetric_generators_are_not_symmetric(name):
    A = GENERATORS[name](rng=5)
    assert not np.array_equal(A, A.T)


def test_dale_sign_structure_and_balance():
    n_exc, n_inh, p = 160, 40, 0.2
    A = dale(n_exc, n_inh, p=p, spread=0.5, rng=2)
    n = n_exc + n_inh
    W = A * _off(n)
    assert np.all(W[:, :n_exc] >= 0) and np.all(W[:, n_exc:] <= 0)
    assert np.any(W[:, :n_exc] > 0) and np.any(W[:, n_exc:] < 0)
    # Default w_inh = w_exc * n_exc / n_inh = 4: the expected total input is zero. Each
    # entry is Bernoulli(p) * w * f with f ~ U(0.5, 1.5), so Var = p w^2 E[f^2] - (p w)^2,
    # E[f^2] = 1 + spread^2 / 3. The grand total is a sum of independent entries.
    w = np.concatenate([np.full(n_exc, 1.0), np.full(n_inh, 4.0)])
    var = (p * w**2 * (1 + 0.5**2 / 3) - (p * w) ** 2) * (n - 1)  # per column
    sd_total = np.sqrt(var.sum())
    assert abs(W.sum()) < 4 * sd_total
    # Inhibitory weights have the requested scale: |W| in [w_inh/2, 3 w_inh/2].
    inh = -W[:, n_exc:][W[:, n_exc:] < 0]
    assert inh.min() >= 2.0 and inh.max() <= 6.0


def test_dale_explicit_w_inh():
    A = dale(10, 10, p=1.0, w_exc=1.0, w_inh=2.0, spread=0.0, diagonal="dominant", rng=0)
    W = A * _off(20)
    assert set(np.unique(W[:, :10][_off(20)[:, :10]])) == {1.0}
    assert set(np.unique(W[:, 10:][_off(20)[:, 10:]])) == {-2.0}


def test_cluster_labels():
    np.testing.assert_array_equal(cluster_labels([2, 1, 3]), [0, 0, 1, 2, 2, 2])
    np.testing.assert_array_equal(cluster_labels(np.array([4])), [0, 0, 0, 0])


def _pair_counts(A, sizes, symmetric):
    """(connected, total) pairs inside and between clusters (unordered if symmetric)."""
    lab = cluster_labels(sizes)
    n = lab.size
    same = lab[:, None] == lab[None, :]
    pick = np.triu(np.ones((n, n), dtype=bool), 1) if symmetric else _off(n)
    conn = (A != 0) & pick
    return (
        (int(conn[same].sum()), int(pick[same].sum())),
        (int(conn[~same].sum()), int(pick[~same].sum())),
    )


@pytest.mark.parametrize("symmetric", [True, False])
def test_cluster_densities_binomial(symmetric):
    sizes, p_in, p_out = [60, 40, 30], 0.3, 0.05
    gen = clustered if symmetric else clustered_asymmetric
    A = gen(sizes, p_in=p_in, p_out=p_out, n_strong=0, rng=11)
    (c_in, t_in), (c_out, t_out) = _pair_counts(A, sizes, symmetric)
    # Each pair (ordered pair when asymmetric) is an independent Bernoulli: the count is
    # Binomial(t, p), so |count - t p| < 4 sqrt(t p (1 - p)) fails with probability < 1e-4.
    for c, t, p in [(c_in, t_in, p_in), (c_out, t_out, p_out)]:
        assert abs(c - t * p) < 4 * np.sqrt(t * p * (1 - p)), (c, t, p)


def test_asymmetric_directions_independent():
    # Independent directions: a connected ordered pair is reciprocated with probability p,
    # not 1. Among the c connected ordered pairs inside clusters the number reciprocated is
    # ~ Binomial(c, p_in) (pairs counted twice; 4 sd of that binomial times sqrt(2) covers
    # the doubling).
    sizes, p_in = [60, 40], 0.3
    A = clustered_asymmetric(sizes, p_in=p_in, p_out=0.0, n_strong=0, rng=4)
    C = (A != 0) & _off(100)
    c = int(C.sum())
    recip = int((C & C.T).sum())
    assert abs(recip - c * p_in) < 4 * np.sqrt(2) * np.sqrt(c * p_in * (1 - p_in))


def test_erdos_renyi_density_binomial():
    n, p = 120, 0.1
    A = erdos_renyi(n, p, rng=9)
    c = int(np.triu(A != 0, 1).sum())
    t = n * (n - 1) // 2
    assert abs(c - t * p) < 4 * np.sqrt(t * p * (1 - p))


def test_erdos_renyi_signed_has_both_signs_and_symmetric_signs():
    A = erdos_renyi(40, 0.5, signed=True, rng=0)
    W = A * _off(40)
    assert np.array_equal(A, A.T)
    pos, neg = int((W > 0).sum()), int((W < 0).sum())
    # Fair signs over m = pos + neg entries (pairs counted twice): |pos - neg| / 2 is
    # within 4 sd = 4 sqrt(m/2 * 1/4) of 0.
    m = pos + neg
    assert abs(pos - neg) / 2 < 4 * np.sqrt(m / 2 / 4)
    B = erdos_renyi(40, 0.5, rng=0)
    assert np.all(B * _off(40) >= 0)


def test_weights_in_range_and_strong_synapses():
    sizes, w_in, w_out, spread = [20, 15], 2.0, 0.5, 0.25
    A = clustered(
        sizes,
        p_in=0.4,
        p_out=0.2,
        w_in=w_in,
        w_out=w_out,
        spread=spread,
        n_strong=3,
        strong_factor=10.0,
        rng=7,
    )
    lab = cluster_labels(sizes)
    same = lab[:, None] == lab[None, :]
    W = A * _off(35)
    out = W[~same & (W != 0)]
    assert out.size > 0
    assert out.min() >= w_out * (1 - spread) and out.max() <= w_out * (1 + spread)
    inside = W[same & (W != 0)]
    strong = inside > w_in * (1 + spread)
    # 3 strong unordered pairs per cluster -> 2 * 3 * 2 = 12 entries, all >= 10 w_in (1-s).
    assert int(strong.sum()) == 12
    assert inside[strong].min() >= 10 * w_in * (1 - spread)
    assert inside[~strong].min() >= w_in * (1 - spread)
    for c in range(2):
        block = W[np.ix_(lab == c, lab == c)]
        assert int((block > w_in * (1 + spread)).sum()) == 6


def test_strong_synapses_asymmetric_and_clipped():
    A = clustered_asymmetric([10, 6], p_in=0.0, p_out=0.0, n_strong=4, rng=0)
    W = A * _off(16)
    # p_in = 0: only the strong synapses exist, 4 directed ones per cluster.
    assert int((W != 0).sum()) == 8
    # A cluster of 2 has 1 unordered pair: n_strong is clipped to it.
    B = clustered([2, 1], p_in=0.0, p_out=0.0, n_strong=5, rng=0)
    assert int((B * _off(3) != 0).sum()) == 2 and B[0, 1] == B[1, 0] > 0


def test_zero_probability_gives_leak_only():
    A = erdos_renyi(5, 0.0, leak=2.0, rng=0)
    np.testing.assert_array_equal(A, -2.0 * np.eye(5))
    B = erdos_renyi(5, 0.0, leak=2.0, diagonal="uniform", rng=0)
    np.testing.assert_array_equal(B, -2.0 * np.eye(5))


# --------------------------------------------------------------------------- randomness


@pytest.mark.parametrize("name", GENERATORS)
def test_same_seed_bit_identical(name):
    make = GENERATORS[name]
    assert np.array_equal(make(rng=3), make(rng=3))
    assert np.array_equal(make(rng=np.random.default_rng(3)), make(rng=np.random.default_rng(3)))


@pytest.mark.parametrize("name", GENERATORS)
def test_different_seeds_differ(name):
    make = GENERATORS[name]
    assert not np.array_equal(make(rng=3), make(rng=4))


def test_generator_stream_advances():
    gen = np.random.default_rng(0)
    assert not np.array_equal(erdos_renyi(20, 0.3, rng=gen), erdos_renyi(20, 0.3, rng=gen))


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: clustered("ab"), TypeError, "sizes must be a sequence"),
        (lambda: clustered(5), TypeError, "sizes must be a sequence"),
        (lambda: clustered([]), ValueError, "at least one cluster"),
        (lambda: clustered([3, 0]), ValueError, r"sizes\[1\] == 0, must be an integer >= 1"),
        (lambda: clustered([3, 2.5]), TypeError, r"sizes\[1\] must be an integer"),
        (lambda: clustered([3, True]), TypeError, r"sizes\[1\] must be an integer"),
        (lambda: clustered([3], p_in=1.5), ValueError, r"p_in == 1.5, must be in \[0, 1\]"),
        (lambda: clustered([3], p_out=-0.1), ValueError, r"p_out == -0.1, must be >= 0"),
        (lambda: clustered([3], p_in="x"), TypeError, "p_in must be a real number"),
        (lambda: clustered([3], w_in=0.0), ValueError, r"w_in == 0.0, must be > 0"),
        (lambda: clustered([3], w_out=-1), ValueError, r"w_out == -1.0, must be > 0"),
        (lambda: clustered([3], spread=1.0), ValueError, r"spread == 1.0, must be in \[0, 1\)"),
        (lambda: clustered([3], spread=-0.5), ValueError, r"spread == -0.5, must be >= 0"),
        (lambda: clustered([3], n_strong=-1), ValueError, "n_strong == -1, must be an integer"),
        (lambda: clustered([3], n_strong=1.0), TypeError, "n_strong must be an integer"),
        (lambda: clustered([3], strong_factor=0), ValueError, "strong_factor == 0.0"),
        (lambda: clustered([3], leak=0.0), ValueError, r"leak == 0.0, must be > 0"),
        (lambda: clustered([3], leak=np.inf), ValueError, "leak == inf, must be finite"),
        (lambda: clustered([3], diagonal="max"), ValueError, "diagonal == 'max', must be one"),
        (lambda: clustered([3], rng=-1), ValueError, "rng == -1"),
        (lambda: clustered([3], rng="seed"), TypeError, "rng must be None"),
        (lambda: clustered_asymmetric([0]), ValueError, r"sizes\[0\] == 0"),
        (lambda: clustered_asymmetric([3], p_in=2), ValueError, "p_in == 2.0"),
        (lambda: erdos_renyi(0, 0.5), ValueError, "n == 0, must be an integer >= 1"),
        (lambda: erdos_renyi(5.0, 0.5), TypeError, "n must be an integer"),
        (lambda: erdos_renyi(5, 1.1), ValueError, r"p == 1.1, must be in \[0, 1\]"),
        (lambda: erdos_renyi(5, 0.5, weight=0), ValueError, "weight == 0.0, must be > 0"),
        (lambda: erdos_renyi(5, 0.5, symmetric="yes"), TypeError, "symmetric must be True"),
        (lambda: erdos_renyi(5, 0.5, signed=1), TypeError, "signed must be True"),
        (lambda: erdos_renyi(5, 0.5, diagonal=None), ValueError, "diagonal == None"),
        (lambda: dale(0, 5), ValueError, "n_exc == 0, must be an integer >= 1"),
        (lambda: dale(5, 0), ValueError, "n_inh == 0, must be an integer >= 1"),
        (lambda: dale(5, 5, p=-0.2), ValueError, r"p == -0.2, must be >= 0"),
        (lambda: dale(5, 5, w_exc=0), ValueError, "w_exc == 0.0, must be > 0"),
        (lambda: dale(5, 5, w_inh=-1.0), ValueError, r"w_inh == -1.0, must be > 0"),
        (lambda: dale(5, 5, leak=-1), ValueError, r"leak == -1.0, must be > 0"),
        (lambda: cluster_labels([1, -2]), ValueError, r"sizes\[1\] == -2"),
        (lambda: clustered([3], sparse=1), TypeError, "sparse must be True or False, got 1"),
        (lambda: erdos_renyi(5, 0.5, sparse="yes"), TypeError, "sparse must be True or False"),
        (lambda: dale(5, 5, sparse=None), TypeError, "sparse must be True or False, got None"),
        (
            lambda: clustered([3], diagonal="uniform", sparse=True),
            ValueError,
            "diagonal == 'uniform' needs the spectral abscissa.*use diagonal='dominant'",
        ),
        (
            lambda: clustered_asymmetric([3], diagonal="uniform", sparse=True),
            ValueError,
            "with sparse=True use diagonal='dominant'",
        ),
        (
            lambda: erdos_renyi(5, 0.5, diagonal="uniform", sparse=True),
            ValueError,
            "with sparse=True use diagonal='dominant'",
        ),
        # dale's default diagonal is "uniform": sparse needs "dominant" said explicitly.
        (lambda: dale(5, 5, sparse=True), ValueError, "with sparse=True use diagonal='dominant'"),
        (lambda: clustered([3], p_in=2, sparse=True), ValueError, r"p_in == 2.0, must be in"),
        (lambda: dale(5, 5, p=-1, sparse=True), ValueError, r"p == -1.0, must be >= 0"),
    ],
)
def test_bad_input_raises(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --------------------------------------------------------------------------- sparse

# Every generator's sparse form, small and fast.
SPARSE = {
    "clustered": lambda **kw: clustered([60, 40, 30], p_in=0.2, p_out=0.05, sparse=True, **kw),
    "clustered_asymmetric": lambda **kw: clustered_asymmetric(
        [60, 40, 30], p_in=0.2, p_out=0.05, sparse=True, **kw
    ),
    "erdos_renyi": lambda **kw: erdos_renyi(120, 0.1, sparse=True, **kw),
    "erdos_renyi_signed_asym": lambda **kw: erdos_renyi(
        120, 0.1, symmetric=False, signed=True, sparse=True, **kw
    ),
    "dale": lambda **kw: dale(96, 24, p=0.1, diagonal="dominant", sparse=True, **kw),
}
SYMMETRIC = ["clustered", "erdos_renyi"]


def _offdiag(S):
    """The synapses ``W`` of a sparse ``A`` (diagonal removed), as csr_array."""
    W = S.tocoo()
    keep = W.row != W.col
    return sp.csr_array((W.data[keep], (W.row[keep], W.col[keep])), shape=S.shape)


def _upper_pairs(S):
    """(i, j) of the synapses with i < j, one per unordered pair of a symmetric S."""
    W = _offdiag(S).tocoo()
    keep = W.row < W.col
    return W.row[keep], W.col[keep]


def _assert_dominant(S, leak):
    # -A[i, i] = sum_j |W[i, j]| + leak, summed in another order than the test's: the
    # difference is round-off, <= a few ulps of the row sum.
    off = np.asarray(abs(_offdiag(S)).sum(axis=1))
    diag = S.diagonal()
    assert np.all(diag < 0)
    np.testing.assert_allclose(-diag - off, leak, rtol=0, atol=1e-12 * (off.max() + leak))


@pytest.mark.parametrize("name", SPARSE)
def test_sparse_is_canonical_csr(name):
    S = SPARSE[name](rng=0)
    assert isinstance(S, sp.csr_array) and S.format == "csr"
    assert S.dtype == np.float64 and S.shape in [(120, 120), (130, 130)]
    # Canonical: sorted columns, no duplicates, no stored zeros (checked against scipy's
    # own canonicalisation of a copy).
    C = S.copy()
    C.has_canonical_format = False
    C.sum_duplicates()
    C.eliminate_zeros()
    for attr in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(C, attr), getattr(S, attr))
    # Every diagonal entry is stored and negative (the leak), zero-free.
    assert np.all(S.diagonal() < 0)
    assert np.all(np.isfinite(S.data))


@pytest.mark.parametrize("name", SPARSE)
@pytest.mark.parametrize("leak", [1.0, 0.3])
def test_sparse_dominant_and_stable(name, leak):
    S = SPARSE[name](leak=leak, rng=1)
    _assert_dominant(S, leak)
    A = S.toarray()
    assert np.max(np.linalg.eigvals(A).real) <= -leak + 1e-10 * np.abs(A).sum(axis=1).max()


@pytest.mark.parametrize("name", SYMMETRIC)
def test_sparse_symmetric_to_the_bit(name):
    S = SPARSE[name](rng=5)
    T = S.T.tocsr()
    for attr in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(T, attr), getattr(S, attr))


@pytest.mark.parametrize("name", ["clustered_asymmetric", "erdos_renyi_signed_asym", "dale"])
def test_sparse_asymmetric_are_not_symmetric(name):
    S = SPARSE[name](rng=5)
    assert (S != S.T).nnz > 0


@pytest.mark.parametrize("name", SPARSE)
def test_sparse_same_seed_bit_identical(name):
    make = SPARSE[name]
    for a, b in [(make(rng=3), make(rng=3)), (make(rng=np.random.default_rng(3)),) * 2]:
        for attr in ("indptr", "indices", "data"):
            np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    assert (make(rng=3) != make(rng=4)).nnz > 0
    gen = np.random.default_rng(0)
    assert (make(rng=gen) != make(rng=gen)).nnz > 0


def test_sparse_complete_blocks_equal_dense():
    # Probability 1 or 0 and spread 0 leave no randomness in the structure: the sparse
    # and dense generators must then give the same matrix, entry for entry (row sums of
    # integers are exact in any order). This pins down the pair -> (i, j) numbering.
    kw = dict(w_in=1.0, w_out=2.0, spread=0.0, n_strong=0, leak=0.5, rng=0)
    for p_in, p_out in [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]:
        for gen in (clustered, clustered_asymmetric):
            S = gen([5, 1, 3, 4], p_in=p_in, p_out=p_out, sparse=True, **kw)
            D = gen([5, 1, 3, 4], p_in=p_in, p_out=p_out, **kw)
            np.testing.assert_array_equal(S.toarray(), D)
    for symmetric in (True, False):
        S = erdos_renyi(9, 1.0, spread=0.0, symmetric=symmetric, sparse=True, rng=0)
        np.testing.assert_array_equal(S.toarray(), erdos_renyi(9, 1.0, spread=0.0, rng=0))
    kw = dict(p=1.0, w_inh=2.0, spread=0.0, diagonal="dominant", rng=0)
    np.testing.assert_array_equal(dale(7, 3, sparse=True, **kw).toarray(), dale(7, 3, **kw))
    S = erdos_renyi(5, 0.0, leak=2.0, sparse=True, rng=0)
    np.testing.assert_array_equal(S.toarray(), -2.0 * np.eye(5))


@pytest.mark.parametrize(
    "make",
    [
        lambda s: erdos_renyi(6, 0.5, sparse=True, rng=s),
        lambda s: erdos_renyi(5, 0.5, symmetric=False, sparse=True, rng=s),
        lambda s: clustered([3, 2], p_in=0.5, p_out=0.5, n_strong=0, sparse=True, rng=s),
        lambda s: clustered_asymmetric(
            [3, 2], p_in=0.5, p_out=0.5, n_strong=0, sparse=True, rng=s
        ),
    ],
)
def test_sparse_every_pair_equally_likely(make):
    # Each off-diagonal entry is present in Binomial(R, 1/2) of R independent draws;
    # 4.5 sd bounds every one of the <= 30 entries with probability > 1 - 30 * 7e-6.
    # An off-by-one in the skipping or the numbering empties or doubles some entry.
    R = 1000
    counts = sum((make(s) != 0).astype(np.int64).toarray() for s in range(R))
    n = counts.shape[0]
    off = counts[_off(n)]
    assert np.all(np.abs(off - R / 2) < 4.5 * np.sqrt(R / 4)), off
    assert np.all(np.diag(counts) == R)


@pytest.mark.parametrize("symmetric", [True, False])
def test_sparse_cluster_densities_binomial(symmetric):
    sizes, p_in, p_out = [60, 40, 30], 0.3, 0.05
    gen = clustered if symmetric else clustered_asymmetric
    S = gen(sizes, p_in=p_in, p_out=p_out, n_strong=0, sparse=True, rng=11)
    (c_in, t_in), (c_out, t_out) = _pair_counts(S.toarray(), sizes, symmetric)
    # Binomial(t, p) counts, 4 sd (as in the dense test).
    for c, t, p in [(c_in, t_in, p_in), (c_out, t_out, p_out)]:
        assert abs(c - t * p) < 4 * np.sqrt(t * p * (1 - p)), (c, t, p)


def test_sparse_asymmetric_directions_independent():
    # As test_asymmetric_directions_independent, on the sparse generator.
    sizes, p_in = [60, 40], 0.3
    S = clustered_asymmetric(sizes, p_in=p_in, p_out=0.0, n_strong=0, sparse=True, rng=4)
    C = _offdiag(S).toarray() != 0
    c = int(C.sum())
    recip = int((C & C.T).sum())
    assert abs(recip - c * p_in) < 4 * np.sqrt(2) * np.sqrt(c * p_in * (1 - p_in))


def test_sparse_weights_match_dense_distribution():
    # Same distribution, different draws: the inside and between weights of the sparse
    # and dense generators are two samples of U[w(1-s), w(1+s)] (strong ones aside), so
    # the two-sample KS test rejects with probability 1e-3 under agreement (fixed seeds).
    from scipy.stats import ks_2samp

    sizes = [80, 60]
    kw = dict(p_in=0.3, p_out=0.1, w_in=2.0, w_out=0.5, n_strong=0, rng=2)
    lab = cluster_labels(sizes)
    same = lab[:, None] == lab[None, :]
    up = np.triu(np.ones((140, 140), dtype=bool), 1)
    D = clustered(sizes, **kw)
    S = clustered(sizes, sparse=True, **kw).toarray()
    for block in (same, ~same):
        d, s = D[block & up], S[block & up]
        d, s = d[d != 0], s[s != 0]
        assert ks_2samp(d, s).pvalue > 1e-3
        # Counts: both Binomial(t, p) -> the difference has sd sqrt(2 t p (1 - p)).
        t = int((block & up).sum())
        p = kw["p_in"] if block is same else kw["p_out"]
        assert abs(d.size - s.size) < 4 * np.sqrt(2 * t * p * (1 - p))


def test_sparse_strong_synapses():
    sizes, w_in, spread = [20, 15, 2], 2.0, 0.25
    S = clustered(
        sizes, p_in=0.4, p_out=0.2, w_in=w_in, spread=spread, n_strong=3, sparse=True, rng=7
    )
    lab = cluster_labels(sizes)
    W = _offdiag(S).toarray()
    for c, pairs in enumerate([3, 3, 1]):  # the cluster of 2 has a single pair
        block = W[np.ix_(lab == c, lab == c)]
        strong = block > w_in * (1 + spread)
        assert int(strong.sum()) == 2 * pairs
        assert block[strong].min() >= 10 * w_in * (1 - spread)
    # Strong pairs are connected whatever p_in is; directed ones when asymmetric.
    A = clustered_asymmetric([10, 6], p_in=0.0, p_out=0.0, n_strong=4, sparse=True, rng=0)
    assert _offdiag(A).nnz == 8
    lab = cluster_labels([10, 6])
    i, j = _offdiag(A).nonzero()
    assert np.all(lab[i] == lab[j])


def test_sparse_dale_signs_per_column():
    n_exc, n_inh, w_inh, spread = 160, 40, 3.0, 0.5
    S = dale(n_exc, n_inh, p=0.1, w_inh=w_inh, diagonal="dominant", sparse=True, rng=2)
    W = _offdiag(S).tocoo()
    exc = W.col < n_exc
    assert np.all(W.data[exc] > 0) and np.all(W.data[~exc] < 0)
    assert exc.any() and (~exc).any()
    assert W.data[exc].min() >= 1 - spread and W.data[exc].max() <= 1 + spread
    inh = -W.data[~exc]
    assert inh.min() >= w_inh * (1 - spread) and inh.max() <= w_inh * (1 + spread)
    # Ordered pairs, Binomial(n (n - 1), p) of them, 4 sd.
    n, p = n_exc + n_inh, 0.1
    t = n * (n - 1)
    assert abs(W.nnz - t * p) < 4 * np.sqrt(t * p * (1 - p))


def test_sparse_erdos_renyi_signed_symmetric():
    S = erdos_renyi(200, 0.1, signed=True, sparse=True, rng=0)
    W = _offdiag(S)
    assert (W != W.T).nnz == 0
    pos, neg = int((W > 0).sum()), int((W < 0).sum())
    m = pos + neg  # pairs counted twice: fair signs on m/2 pairs, as in the dense test
    assert abs(pos - neg) / 2 < 4 * np.sqrt(m / 2 / 4)


def test_sparse_large_clustered_is_linear_in_memory():
    # 100,000 neurons in 100 clusters of 1,000, ~20 synapses per neuron inside the
    # cluster and ~1 long-range one: the generator's peak memory must be O(m), far below
    # the 80 GB of one dense n x n float64 array.
    import tracemalloc

    sizes, n, m_c = [1000] * 100, 100_000, 1000
    p_in, p_out = 19 / 999, 1 / 99_000
    tracemalloc.start()
    try:
        S = clustered(sizes, p_in=p_in, p_out=p_out, w_in=0.05, w_out=0.05, sparse=True, rng=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert S.shape == (n, n)
    # The result holds 12 bytes per stored entry (float64 value, int32 column); building
    # it keeps a few int64/float64 arrays per synapse alive at once (positions, rows,
    # columns, values, scatter indices; ~66 measured): 128 bytes per entry bounds that
    # with room, and for these ~2.1e6 entries is ~300x below n^2 * 8 bytes.
    assert peak < 128 * S.nnz
    assert 128 * S.nnz < n * n * 8 / 250
    T = S.T.tocsr()
    assert np.array_equal(T.indices, S.indices) and np.array_equal(T.data, S.data)
    _assert_dominant(S, 1.0)
    # Pair counts: inside Binomial(t_in, p_in), between Binomial(t_out, p_out) over
    # unordered pairs, 4 sd. The strong pairs (2 per cluster) add <= 200 inside.
    i, j = _upper_pairs(S)
    t_in = 100 * m_c * (m_c - 1) // 2
    t_out = n * (n - 1) // 2 - t_in
    between = int((i // m_c != j // m_c).sum())
    inside = i.size - between
    assert abs(between - t_out * p_out) < 4 * np.sqrt(t_out * p_out)
    assert abs(inside - t_in * p_in) < 4 * np.sqrt(t_in * p_in) + 200
    # Mean degree (synapses per neuron): (m_c - 1) p_in + (n - m_c) p_out = 19 + 0.99 = 20
    # (+ 0.004 strong); its sd is that of the total count, 2 sqrt(t p) / n.
    degree = (S.nnz - n) / n
    sd = 2 * np.sqrt(t_in * p_in + t_out * p_out) / n
    assert abs(degree - (19 + 99 / 100)) < 4 * sd + 400 / n


def test_sparse_validation_before_drawing():
    # A rejected call must not advance the caller's Generator.
    gen = np.random.default_rng(0)
    state = gen.bit_generator.state
    with pytest.raises(ValueError, match="use diagonal='dominant'"):
        dale(5, 5, sparse=True, rng=gen)
    with pytest.raises(TypeError, match="sparse must be"):
        clustered([3], sparse="no", rng=gen)
    assert gen.bit_generator.state == state


def test_sparse_sampling_across_chunks(monkeypatch):
    # The gaps are drawn in chunks sized to cover the range almost always at once; force
    # many short chunks and check the result is still a valid Bernoulli(p) subset.
    from plasticsim import networks

    monkeypatch.setattr(networks, "_CHUNK_SDS", -30.0)
    gen = np.random.default_rng(0)
    total, p = 200_000, 0.05
    pos = networks._bernoulli_positions(gen, total, p)
    assert pos.dtype == np.int64 and pos[0] >= 0 and pos[-1] < total
    assert np.all(np.diff(pos) > 0)
    # Binomial(total, p) count, 4 sd; halves of the range equally filled (no chunk seam).
    assert abs(pos.size - total * p) < 4 * np.sqrt(total * p * (1 - p))
    half = int((pos < total // 2).sum())
    assert abs(half - pos.size / 2) < 4 * np.sqrt(pos.size / 4)
    np.testing.assert_array_equal(networks._bernoulli_positions(gen, 1000, 1.0), np.arange(1000))
    assert networks._bernoulli_positions(gen, 1000, 0.0).size == 0
    # Reproducible: same seed, same chunks, same positions.
    again = networks._bernoulli_positions(np.random.default_rng(0), total, p)
    np.testing.assert_array_equal(again, pos)
