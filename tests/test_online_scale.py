"""Sparse construction and the O(n + m) checks of plasticsim.online (RateNetwork at scale).

The dense, the sparse and the synapse-list forms of one network must give the same
simulation bit for bit; the Gershgorin and ARPACK checks used above
``_checks.EXACT_MAX_N`` neurons are exercised on small networks by lowering that
threshold, and compared with exact eigenvalues; one test builds 100,000 neurons.
"""

from __future__ import annotations

import logging
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from brian2 import ms, second

from plasticsim.networks import clustered, clustered_asymmetric
from plasticsim.online import RateNetwork, _checks
from plasticsim.online import network as _network

TAU = 10 * ms
DT = 0.5 * ms  # h = 0.05


# Brian2's numpy target, no log files, no saved scripts (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("brian_prefs")


def _symmetric():
    return clustered([6, 6], p_in=0.8, p_out=0.2, n_strong=0, w_in=0.3, w_out=0.3, rng=3)


def _asymmetric():
    return clustered_asymmetric(
        [6, 6], p_in=0.6, p_out=0.2, n_strong=1, w_in=0.3, w_out=0.3, strong_factor=3, rng=4
    )


def _lists(A):
    """Synapse lists of A in a scrambled order (from_synapses must sort them)."""
    off = A.copy()
    np.fill_diagonal(off, 0.0)
    post, pre = np.nonzero(off)
    order = np.random.default_rng(0).permutation(pre.size)
    return pre[order], post[order], off[post, pre][order], -np.diag(A)


def _build(kind, A, **kw):
    kw = {"tau": TAU, "dt": DT, "target": "numpy", "rng": 11, **kw}
    if kind == "dense":
        return RateNetwork.from_matrix(A, **kw)
    if kind == "csr":
        return RateNetwork.from_matrix(sp.csr_array(A), **kw)
    if kind == "coo_matrix":
        return RateNetwork.from_matrix(sp.coo_matrix(A), **kw)
    pre, post, w, leak = _lists(A)
    return RateNetwork.from_synapses(A.shape[0], pre, post, w, leak=leak, **kw)


def _run(net):
    rep = net.sleep(0.3 * second, density=0.4)
    rec = net.wake(20 * DT, inputs=np.linspace(-1, 1, net.n))
    rep2 = net.sleep(0.2 * second, density=0.5, relabile=1.0)
    return rep, rec, rep2


@pytest.mark.parametrize("make", [_symmetric, _asymmetric])
def test_sparse_and_lists_equal_dense_bit_for_bit(make):
    A = make()
    runs = {}
    for kind in ("dense", "csr", "coo_matrix", "lists"):
        net = _build(kind, A)
        before = net.synapse_states()
        runs[kind] = (net, before, *_run(net))
    net0, before0, rep0, rec0, rep20 = runs["dense"]
    assert rep0.counts_after["PRUNED"] == 0  # compacted
    assert net0.n_synapses < before0.pre.size  # something was pruned and removed
    for kind in ("csr", "coo_matrix", "lists"):
        net, before, rep, rec, rep2 = runs[kind]
        for a, b in zip(before, before0, strict=True):
            np.testing.assert_array_equal(a, b)
        for r, r0 in ((rep, rep0), (rep2, rep20)):
            assert r.seed == r0.seed and r.burn_in == r0.burn_in
            np.testing.assert_array_equal(r.scores, r0.scores)
            np.testing.assert_array_equal(r.kept, r0.kept)
            np.testing.assert_array_equal(r.leak_change, r0.leak_change)
        np.testing.assert_array_equal(rec.rates, rec0.rates)
        for a, b in zip(net.synapse_states(), net0.synapse_states(), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(net.leak, net0.leak)
        np.testing.assert_array_equal(net.state, net0.state)
        np.testing.assert_array_equal(net.sparse_matrix().toarray(), net0.matrix)


def test_sparse_symmetrisation_within_tolerance_matches_dense():
    # Symmetric up to 1e-14 relative: both paths make it symmetric to the bit, identically.
    A = _symmetric()
    B = A.copy()
    i, j = np.argwhere(np.triu(A, 1) != 0)[0]
    B[i, j] *= 1 + 1e-14
    dense = RateNetwork.from_matrix(B, tau=TAU, dt=DT, target="numpy", rng=0)
    sparse = RateNetwork.from_matrix(sp.csr_array(B), tau=TAU, dt=DT, target="numpy", rng=0)
    np.testing.assert_array_equal(dense.matrix, sparse.sparse_matrix().toarray())
    M = sparse.sparse_matrix()
    assert (M != M.T).nnz == 0 and M[i, j] != A[i, j]


def test_sparse_explicit_zeros_and_duplicates():
    A = _asymmetric()
    coo = sp.coo_array(A)
    # an explicit zero is no synapse; a duplicate is summed (scipy's rule)
    half = coo.data[0] / 2
    data = np.concatenate([coo.data, [0.0, half]])
    data[0] = half
    zi, zj = np.argwhere(A == 0)[0]
    row = np.concatenate([coo.row, [zi, coo.row[0]]])
    col = np.concatenate([coo.col, [zj, coo.col[0]]])
    M = sp.coo_array((data, (row, col)), shape=A.shape)
    net = RateNetwork.from_matrix(M, tau=TAU, dt=DT, target="numpy", rng=0)
    ref = RateNetwork.from_matrix(A, tau=TAU, dt=DT, target="numpy", rng=0)
    assert net.n_synapses == ref.n_synapses
    np.testing.assert_array_equal(net.matrix, ref.matrix)


# ------------------------------------------------------------------ validation


def _ok():
    # 0 <-> 1, 1 -> 2
    return {"n": 3, "pre": [0, 1, 1], "post": [1, 0, 2], "w": [0.5, 0.5, -0.2], "leak": 1.0}


@pytest.mark.parametrize(
    ("change", "exc", "match"),
    [
        ({"pre": [0, 1, 3]}, ValueError, r"pre\[2\] == 3, must be a neuron index in \[0, 3\)"),
        ({"post": [1, -1, 2]}, ValueError, r"post\[1\] == -1, must be a neuron index"),
        ({"post": [1, 1, 2]}, ValueError, r"pre\[1\] == post\[1\] == 1: self-synapses"),
        (
            {"pre": [0, 0, 1], "post": [1, 1, 2]},
            ValueError,
            r"synapse 0 -> 1 is given twice \(entries 0 and 1",
        ),
        ({"w": [0.5, 0.0, 0.2]}, ValueError, r"w\[1\] == 0.0: a synapse needs a non-zero"),
        ({"w": [0.5, np.inf, 0.2]}, ValueError, r"w\[1\] == inf, all weights must be finite"),
        ({"w": [0.5, 0.5]}, ValueError, r"pre, post and w have shapes \(3,\), \(3,\) and \(2,\)"),
        ({"pre": [[0, 1, 1]]}, ValueError, r"pre has shape \(1, 3\), must be 1-D"),
        ({"pre": [0.0, 1.0, 1.0]}, TypeError, "pre must be an array of integer neuron indices"),
        ({"w": ["a", "b", "c"]}, TypeError, "w must be an array of real weights"),
        ({"leak": 0.0}, ValueError, r"leak\[0\] == 0.0, every leak must be > 0"),
        ({"leak": [1.0, -1.0, 1.0]}, ValueError, r"leak\[1\] == -1.0, every leak must be > 0"),
        ({"leak": [1.0, 1.0]}, ValueError, r"leak has shape \(2,\)"),
        ({"n": 0}, ValueError, "n == 0, must be an integer >= 1"),
        ({"n": 3.0}, TypeError, "n must be an integer"),
        ({"leak": 0.1, "w": [2.0, 2.0, 0.1]}, ValueError, "not stable"),
        ({"tau": 0 * ms}, ValueError, "tau == .* must be > 0"),
    ],
)
def test_from_synapses_rejects(change, exc, match):
    kw = {**_ok(), **change}
    gen = np.random.default_rng(0)
    state = gen.bit_generator.state
    with pytest.raises(exc, match=match):
        RateNetwork.from_synapses(
            kw.pop("n"), kw.pop("pre"), kw.pop("post"), kw.pop("w"), target="numpy", rng=gen, **kw
        )
    assert gen.bit_generator.state == state


def test_from_synapses_accepts_the_good_input():
    kw = _ok()
    net = RateNetwork.from_synapses(
        kw["n"], kw["pre"], kw["post"], kw["w"], leak=kw["leak"], target="numpy", rng=0
    )
    A = np.array([[-1.0, 0.5, 0.0], [0.5, -1.0, 0.0], [0.0, -0.2, -1.0]])
    np.testing.assert_array_equal(net.matrix, A)


@pytest.mark.parametrize(
    ("A", "exc", "match"),
    [
        (sp.csr_array(np.zeros((2, 3))), ValueError, "must be square"),
        (sp.csr_array(np.array([[-1.0, np.nan], [0, -1.0]])), ValueError, r"A\[0, 1\] == nan"),
        (sp.csr_array(np.array([[-1.0, 0.5], [0.5, 0.0]])), ValueError, r"A\[1, 1\] == 0.0"),
        (sp.csr_array(np.array([[-1.0, 1j], [0, -1.0]])), TypeError, "must be real"),
        (sp.csr_array(np.array([[-1.0, 2.0], [2.0, -1.0]])), ValueError, "not stable"),
    ],
)
def test_from_matrix_sparse_rejects(A, exc, match):
    with pytest.raises(exc, match=match):
        RateNetwork.from_matrix(A, target="numpy", rng=0)


def test_matrix_refused_above_the_limit(monkeypatch):
    net = _build("csr", _symmetric())
    monkeypatch.setattr(_network, "MATRIX_MAX_N", 5)
    with pytest.raises(ValueError, match=r"dense 12 x 12 array .* use net.sparse_matrix\(\)"):
        _ = net.matrix
    M = net.sparse_matrix()
    assert isinstance(M, sp.csr_array) and M.shape == (12, 12)


# ------------------------------------------------------------------ checks at scale


@pytest.fixture
def large_checks(monkeypatch):
    """Every network counts as large: the Gershgorin/ARPACK checks run on small ones."""
    monkeypatch.setattr(_checks, "EXACT_MAX_N", 0)


def _exact_abscissa(A):
    return float(np.max(np.linalg.eigvals(A).real))


def test_gershgorin_certifies_a_dominant_network_and_bounds_the_burn_in(large_checks, caplog):
    A = _symmetric()  # clustered(): -A diagonally dominant
    exact = _exact_abscissa(A)
    net = _build("csr", A)
    assert net._abscissa_check == _checks.GERSHGORIN
    rows = np.abs(A).sum(axis=1) - 2 * np.abs(np.diag(A))
    assert net._abscissa == pytest.approx(float(np.max(rows)), rel=1e-12)
    assert exact <= net._abscissa < 0  # an upper bound: a longer (safe) burn-in
    with caplog.at_level(logging.INFO, logger="plasticsim.online"):
        burn = net._default_burn_in()
    assert float(burn) == pytest.approx(5 * float(TAU) / abs(net._abscissa))
    assert float(burn) >= 5 * float(TAU) / abs(exact)
    assert any("Gershgorin" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("symmetric", [True, False])
def test_arpack_estimates_the_abscissa_when_not_dominant(large_checks, symmetric):
    rng = np.random.default_rng(5)
    n = 30
    W = rng.normal(scale=0.6, size=(n, n))
    if symmetric:
        W = (W + W.T) / 2
    np.fill_diagonal(W, 0.0)
    lam = np.linalg.eigvals(W)
    A = W - (np.max(lam.real) + 0.3) * np.eye(n)  # abscissa exactly -0.3
    assert np.any(np.abs(np.diag(A)) < np.abs(W).sum(axis=1))  # not dominant
    net = _build("csr", A, dt=0.1 * ms)
    assert net._abscissa_check == _checks.ARPACK
    assert net._abscissa == pytest.approx(-0.3, abs=1e-6)  # ARPACK tol 1e-8, relative


@pytest.mark.parametrize("symmetric", [True, False])
def test_arpack_rejects_an_unstable_sparse_network(large_checks, symmetric):
    rng = np.random.default_rng(6)
    n = 30
    W = rng.normal(scale=0.6, size=(n, n))
    if symmetric:
        W = (W + W.T) / 2
    np.fill_diagonal(W, 0.0)
    A = W - (np.max(np.linalg.eigvals(W).real) - 0.05) * np.eye(n)  # abscissa +0.05
    assert np.all(np.diag(A) < 0)
    with pytest.raises(ValueError, match=r"A is not stable: .* is 0.05 by ARPACK"):
        _build("csr", A, dt=0.1 * ms)


@pytest.mark.parametrize("make", [_symmetric, _asymmetric])
def test_unstable_step_rejected_by_the_large_checks(large_checks, make):
    A = make()
    lam = np.linalg.eigvals(A)
    h_max = float(np.min(-2 * lam.real / np.abs(lam) ** 2))  # |1 + h lambda| < 1 iff h < this
    with pytest.raises(ValueError, match=r"dt == .* too large.*check: ARPACK"):
        _build("csr", A, dt=1.05 * h_max * TAU)
    # Just below the exact limit: Gershgorin cannot certify it, ARPACK does (and warns:
    # that dt is coarse, naming the check).
    with pytest.warns(RuntimeWarning, match=r"coarse.*check: ARPACK"):
        _build("csr", A, dt=0.95 * h_max * TAU)


def test_gershgorin_certifies_a_fine_step(large_checks):
    A = _symmetric()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = _build("csr", A, dt=0.1 * ms)  # h = 0.01: h (leak + R) far below 0.25
    assert net._abscissa_check == _checks.GERSHGORIN
    _, radius, growth = _checks.gershgorin(
        A.shape[0], *_table(net), net.leak, float(net.dt / net.tau)
    )
    assert growth < 1 and 0.01 * radius <= _checks.STIFFNESS_WARN


def _table(net):
    s = net.synapse_states()
    return s.pre, s.post, s.weight


def test_after_decisions_the_large_checks_warn_on_an_unstable_step(large_checks):
    # As test_online's 2-neuron case, on 3 neurons (ARPACK needs n >= 3): h = 0.35,
    # eigenvalues -0.5 and -3.5 (and the lone neuron's -2); keeping the pair rescales
    # it to w/p = 3, leaks 3.5: eigenvalue -6.5, |1 - 0.35 * 6.5| = 1.275 >= 1.
    A = np.array([[-2.0, 1.5, 0.0], [1.5, -2.0, 0.0], [0.0, 0.0, -2.0]])
    seen = 0
    for seed in range(8):
        with pytest.warns(RuntimeWarning, match="coarse"):
            net = RateNetwork.from_matrix(
                sp.csr_array(A), tau=TAU, dt=3.5 * ms, trace_dt=3.5 * ms, target="numpy", rng=seed
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rep = net.sleep(35 * ms * 20, density=0.5, burn_in=35 * ms * 4)
        unstable = [w for w in caught if "Euler step is unstable" in str(w.message)]
        assert len(unstable) == (rep.counts_after["STABLE"] == 2)
        if unstable:
            assert "check: ARPACK" in str(unstable[0].message)
        seen += len(unstable)
    assert seen > 0


# ------------------------------------------------------------------ 100,000 neurons


def _large_synapses(n, per, rng):
    """Symmetric, diagonally dominant: each neuron linked to ``per`` random others."""
    gen = np.random.default_rng(rng)
    half = n * per // 2
    a = gen.integers(0, n, half)
    b = (a + gen.integers(1, n, half)) % n  # never a == b
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = np.unique(lo.astype(np.int64) * n + hi)
    lo, hi = key // n, key % n
    w = gen.uniform(0.05, 0.15, lo.size) * np.where(gen.random(lo.size) < 0.8, 1, -1)
    pre, post, w = np.concatenate([lo, hi]), np.concatenate([hi, lo]), np.concatenate([w, w])
    leak = np.bincount(post, np.abs(w), minlength=n) + 0.5
    return pre, post, w, leak


def test_hundred_thousand_neurons_without_n_squared():
    n = 100_000
    pre, post, w, leak = _large_synapses(n, 10, rng=1)
    m = pre.size
    tracemalloc.start()
    try:
        net = RateNetwork.from_synapses(n, pre, post, w, leak=leak, target="numpy", rng=0)
        M = net.sparse_matrix()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # n^2 float64 would be 80 GB, even an n^2 bool mask 10 GB: the peak is O(n + m). The
    # bound, 400 bytes per synapse, is ~2x what is measured (the sparse input is copied,
    # symmetrised and sorted; Brian2 keeps ~40 bytes per synapse).
    assert peak < 400 * m
    assert net._abscissa_check == _checks.GERSHGORIN
    assert net.n_synapses == m and M.nnz == m + n
    with pytest.raises(ValueError, match="sparse_matrix"):
        _ = net.matrix
    # A few steps of sleep with decisions and compaction at this size (O(m) each).
    rep = net.sleep(10 * net.trace_dt, burn_in=0 * ms, density=0.1)
    assert rep.decided and rep.symmetric and rep.n_candidates == m
    assert net.n_synapses == rep.counts_after["STABLE"] < m
    assert np.all(net.leak > 0)


@pytest.mark.parametrize("make", [_symmetric, _asymmetric])
def test_large_fixed_point_by_krylov_solve(large_checks, make):
    # Above EXACT_MAX_N the default x0 = -A^{-1} b comes from CG (symmetric) or GMRES,
    # to rtol 1e-10 of b: the error in x is at most cond(A) * 1e-10 relative.
    A = make()
    b = np.linspace(-1, 1, A.shape[0])
    net = _build("csr", A, bias=b)
    exact = -np.linalg.solve(A, b)
    cond = np.linalg.cond(A)
    np.testing.assert_allclose(net.state, exact, rtol=0, atol=2e-10 * cond * np.abs(exact).max())


@pytest.mark.parametrize("case", ["symmetric", "one-missing", "unsorted"])
def test_partner_index_matches_a_brute_force_search(case):
    from plasticsim.online._decisions import partner_index

    pre, post, _, _ = _large_synapses(40, 6, rng=2)
    order = np.lexsort((pre, post))
    pre, post = pre[order], post[order]
    if case == "one-missing":
        pre, post = np.delete(pre, 5), np.delete(post, 5)
    if case == "unsorted":
        perm = np.random.default_rng(0).permutation(pre.size)
        pre, post = pre[perm], post[perm]
    expected = np.array(
        [
            next((f for f in range(pre.size) if (pre[f], post[f]) == (b, a)), -1)
            for a, b in zip(pre, post, strict=True)
        ]
    )
    np.testing.assert_array_equal(partner_index(pre, post, 40), expected)
    assert (expected < 0).sum() == (1 if case == "one-missing" else 0)
