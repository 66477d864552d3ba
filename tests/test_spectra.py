import numpy as np
import pytest
import scipy.sparse as sps

from plasticsim import noise_prune
from plasticsim.networks import clustered, clustered_asymmetric
from plasticsim.spectra import (
    compare_spectra,
    match_eigenvalues,
    quadratic_form_range,
    slowest_eigenvalues,
)


def sym_stable(n, seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, n))
    W = (W + W.T) / 2
    np.fill_diagonal(W, 0)
    return W - np.diag(np.abs(W).sum(1) + 0.5)


def test_identical_and_scaled():
    A = sym_stable(20, 0)
    same = compare_spectra(A, A)
    assert same.symmetric
    assert np.max(same.relative_errors) < 1e-12
    np.testing.assert_allclose(same.cosines, 1, rtol=1e-10)
    np.testing.assert_allclose(same.rayleigh, 1, rtol=1e-10)
    assert same.epsilon < 1e-12
    scaled = compare_spectra(A, 1.1 * A)
    np.testing.assert_allclose(scaled.relative_errors, 0.1, rtol=1e-9)
    assert scaled.qf_min == pytest.approx(1.1) and scaled.qf_max == pytest.approx(1.1)
    assert np.all(np.diff(same.eigenvalues) <= 0)  # slowest (nearest 0) first


def test_quadratic_form_range_bounds_random_vectors_and_is_attained():
    A = sym_stable(15, 1)
    B = sym_stable(15, 2)
    lo, hi = quadratic_form_range(A, B)
    X = np.random.default_rng(3).standard_normal((15, 5000))
    q = np.einsum("ij,ij->j", X, B @ X) / np.einsum("ij,ij->j", X, A @ X)
    assert lo - 1e-12 <= q.min() and q.max() <= hi + 1e-12
    # attained at the generalised eigenvectors: brute force via A^{-1/2} B A^{-1/2}
    w, V = np.linalg.eigh(-A)
    R = V @ np.diag(w**-0.5) @ V.T
    ref = np.linalg.eigvalsh(R @ -B @ R)
    assert lo == pytest.approx(ref[0], rel=1e-10) and hi == pytest.approx(ref[-1], rel=1e-10)


def test_cosine_detects_rotated_eigenvectors():
    A = np.diag([-1.0, -2.0, -3.0])
    c, s = np.cos(0.3), np.sin(0.3)
    Q = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    B = Q @ A @ Q.T  # same spectrum, rotated eigenvectors
    cmp = compare_spectra(A, B)
    assert np.max(cmp.relative_errors) < 1e-12
    assert cmp.cosines[0] < 0.99 and cmp.cosines[2] == pytest.approx(1.0)


def test_general_matching_by_assignment():
    rng = np.random.default_rng(4)
    lam = np.array([-0.5, -1 + 2j, -1 - 2j, -3.0, -4 + 0.5j, -4 - 0.5j])
    V = rng.standard_normal((6, 6))
    # a real matrix with this spectrum: real block-diagonal form, then a similarity
    blocks = np.zeros((6, 6))
    blocks[0, 0], blocks[3, 3] = -0.5, -3.0
    blocks[1:3, 1:3] = [[-1, 2], [-2, -1]]
    blocks[4:6, 4:6] = [[-4, 0.5], [-0.5, -4]]
    A = V @ blocks @ np.linalg.inv(V)
    B = V @ (blocks * 1.01) @ np.linalg.inv(V)
    cmp = compare_spectra(A, B)
    assert not cmp.symmetric and cmp.qf_min is None
    np.testing.assert_allclose(np.sort_complex(cmp.eigenvalues), np.sort_complex(lam), atol=1e-9)
    np.testing.assert_allclose(cmp.relative_errors, 0.01, rtol=1e-6)
    assert cmp.eigenvalues[0] == pytest.approx(-0.5)
    assert cmp.slowest_error(1) == pytest.approx(0.01, rel=1e-6)


@pytest.mark.parametrize("shift", [-1e-13, 0.0, 1e-13])
def test_matching_does_not_follow_rounding_noise(shift):
    """Tied pairings (same total distance) are decided the same way under any rounding.

    Values on a line with every b beyond every a: the crossed and the uncrossed pairing
    cost the same total |a - b|; a 1e-13 perturbation (LAPACK run with another thread
    count) must not flip the pairing. Larger example: a spectrum and a slightly shifted
    copy with an outlier, as after pruning.
    """
    a = np.array([-1.0, -2.0])
    b = np.array([-4.0 + shift, -3.0 - shift])
    assert match_eigenvalues(a, b).tolist() == [-3.0 - shift, -4.0 + shift]
    rng = np.random.default_rng(5)
    a = -np.sort(rng.uniform(1, 5, 60))[::-1]
    b = np.append(a[1:] - 0.3, -9.0) + shift * rng.standard_normal(60)
    reference = match_eigenvalues(a, np.append(a[1:] - 0.3, -9.0))
    np.testing.assert_allclose(match_eigenvalues(a, b), reference, atol=1e-12)


def test_match_eigenvalues_beats_sorting():
    a = np.array([-1.0, -1.2, -5.0])
    b = np.array([-5.1, -1.19, -1.01])
    np.testing.assert_allclose(match_eigenvalues(a, b), [-1.01, -1.19, -5.1])


def test_summary_is_json_ready():
    A = sym_stable(10, 5)
    summ = compare_spectra(A, A * 0.9).summary()
    assert summ["slowest1_rel_err_max"] == pytest.approx(0.1)
    assert all(isinstance(v, float | bool) for v in summ.values())


@pytest.mark.parametrize(
    "B, match",
    [
        (np.eye(3), r"B has shape \(3, 3\), must match A's shape \(2, 2\)"),
        (np.array([[1.0, np.inf], [0, 1]]), "non-finite"),
    ],
)
def test_bad_input(B, match):
    with pytest.raises(ValueError, match=match):
        compare_spectra(-np.eye(2), B)


def test_slowest_error_and_qf_bad_input():
    cmp = compare_spectra(-np.eye(2), -np.eye(2))
    with pytest.raises(ValueError, match="m == 0"):
        cmp.slowest_error(0)
    with pytest.raises(ValueError, match="needs symmetric"):
        quadratic_form_range(np.array([[-1.0, 1.0], [0.0, -1.0]]), -np.eye(2))
    with pytest.raises(ValueError, match="positive definite"):
        quadratic_form_range(np.eye(2), -np.eye(2))


# ------------------------------------------------------------------ sparse input


@pytest.fixture(scope="module")
def pruned_pair():
    A = clustered([60, 40, 50], p_in=0.6, p_out=0.01, leak=0.1, rng=2)
    B = noise_prune(A, density=0.3, rng=4).pruned
    return A, B


@pytest.mark.parametrize("solver", ["auto", "lanczos", "lobpcg", "shift-invert"])
def test_sparse_symmetric_matches_dense(pruned_pair, solver):
    A, B = pruned_pair
    k = 6
    dense = compare_spectra(A, B)
    sp = compare_spectra(sps.csr_array(A), sps.csr_array(B), slowest=k, solver=solver)
    assert sp.method == "sparse" and dense.method == "dense"
    assert sp.solver == ("lanczos" if solver == "auto" else solver)
    # LOBPCG accepts residuals <= 1e-6 max|A| (an eigenvalue error <= r^2 / gap near
    # convergence); shift-invert Lanczos converges to ARPACK's machine tolerance
    np.testing.assert_allclose(sp.eigenvalues, dense.eigenvalues[:k], rtol=1e-7)
    np.testing.assert_allclose(sp.matched, dense.matched[:k], rtol=1e-7)
    np.testing.assert_allclose(sp.relative_errors, dense.relative_errors[:k], atol=1e-6)
    np.testing.assert_allclose(sp.rayleigh, dense.rayleigh[:k], rtol=1e-5)
    np.testing.assert_allclose(sp.cosines, dense.cosines[:k], rtol=1e-5)
    # what needs the whole spectrum is not computed ...
    assert sp.qf_min is None and sp.qf_max is None and sp.epsilon is None
    # ... the probe range stands in, and lies inside the certified range over all x
    assert dense.qf_min - 1e-9 <= sp.qf_probe_min <= sp.qf_probe_max <= dense.qf_max + 1e-9
    assert sp.n_probes == 20
    assert sp.slowest_error(k) == pytest.approx(dense.slowest_error(k), abs=1e-6)
    with pytest.raises(ValueError, match="only the 6 slowest modes were computed"):
        sp.slowest_error(7)
    summ = sp.summary()
    assert summ["method"] == "sparse" and summ["n_modes"] == k
    assert summ["eig_rel_err_mean"] is None and "qf_epsilon" not in summ
    assert summ["slowest5_rel_err_max"] == pytest.approx(dense.slowest_error(5), abs=1e-6)


def test_sparse_general_matches_dense():
    A = clustered_asymmetric([30, 20, 25], p_in=0.5, p_out=0.02, leak=0.2, rng=3)
    B = A * 1.02
    sp = compare_spectra(sps.csr_array(A), sps.csr_array(B), slowest=4)
    dense = compare_spectra(A, B)
    assert not sp.symmetric and sp.solver == "lanczos" and sp.rayleigh is None
    np.testing.assert_allclose(sp.eigenvalues, dense.eigenvalues[:4], rtol=1e-8)
    np.testing.assert_allclose(sp.relative_errors, 0.02, rtol=1e-6)
    np.testing.assert_allclose(
        slowest_eigenvalues(sps.csr_array(A), 4), dense.eigenvalues[:4], rtol=1e-8
    )


def test_dense_slowest_truncates_only_the_arrays(pruned_pair):
    A, B = pruned_pair
    full, cut = compare_spectra(A, B), compare_spectra(A, B, slowest=3)
    for name in ("eigenvalues", "matched", "relative_errors", "rayleigh", "cosines"):
        np.testing.assert_array_equal(getattr(cut, name), getattr(full, name)[:3])
    assert cut.qf_min == full.qf_min and cut.method == "dense"


def test_sparse_bad_input(pruned_pair):
    A, _ = pruned_pair
    As = sps.csr_array(A)
    with pytest.raises(ValueError, match=r"slowest == 149, must be < n - 1 == 149"):
        compare_spectra(As, As, slowest=149)
    with pytest.raises(ValueError, match="solver == 'qr'"):
        compare_spectra(As, As, solver="qr")
    with pytest.raises(ValueError, match=r"B has shape \(2, 2\), must match"):
        compare_spectra(As, sps.eye_array(2))
    with pytest.raises(TypeError, match="slowest must be an integer"):
        compare_spectra(As, As, slowest=2.5)
    with pytest.raises(ValueError, match="k == 0"):
        slowest_eigenvalues(As, 0)


def test_fragments_repeated_eigenvalues_are_all_found():
    """Pruned-off fragments each contribute -slack: the same eigenvalue many times."""
    A = clustered([30] * 8, p_in=0.5, p_out=0.002, leak=0.5, n_strong=0, rng=1)
    B = noise_prune(A, density=0.05, rng=2).pruned
    ref = np.linalg.eigvalsh(B)[::-1][:12]
    assert np.sum(np.isclose(ref, ref[0])) >= 3  # the test has repeated eigenvalues
    np.testing.assert_allclose(slowest_eigenvalues(sps.csr_array(B), 12), ref, rtol=1e-9)


def test_sparse_original_modes_are_computed_once_and_bit_for_bit():
    """Comparing several pruned networks with one original reuses the original's slowest
    modes; the results equal fresh computations bit for bit, and an edited A is redone."""
    import plasticsim.spectra as spectra
    from plasticsim import noise_prune

    A = clustered([150, 150, 150], p_in=0.2, p_out=0.002, leak=0.01, sparse=True, rng=1)
    Bs = [noise_prune(A, density=0.3, rng=s, min_kept=1).pruned for s in (1, 2)]
    spectra._ORIGINAL_MODES.clear()
    first = [compare_spectra(A, B, slowest=6) for B in Bs]
    calls = []
    real = spectra._slowest_symmetric
    spectra._slowest_symmetric = lambda *a, **k: calls.append(k["vectors"]) or real(*a, **k)
    try:
        again = [compare_spectra(A, B, slowest=6) for B in Bs]
        assert calls == [False, False]  # only the pruned networks' eigenvalues
        A2 = A.copy()
        A2.data *= 1.5
        compare_spectra(A2, Bs[0], slowest=6)
        A2.data /= 1.5
        A2.data[0] *= 1 + 1e-12  # an in-place edit of the same object is noticed
        compare_spectra(A2, Bs[0], slowest=6)
        assert calls[2:] == [True, False, True, False]
    finally:
        spectra._slowest_symmetric = real
    for a, b in zip(first, again, strict=True):
        for field in ("eigenvalues", "matched", "cosines", "rayleigh"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        assert (a.qf_probe_min, a.qf_probe_max) == (b.qf_probe_min, b.qf_probe_max)
