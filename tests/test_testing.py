"""The regression-test kit: assertions, golden spectra, model snapshots and the pytest plugin."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from plasticsim import compare_spectra, networks, noise_prune
from plasticsim.experiment import run_model, shipped_models
from plasticsim.testing import (
    DEFAULT_RTOL,
    Golden,
    assert_eigenvalues_close,
    assert_quadratic_forms_within,
    assert_spectrum_close,
    check_golden,
    check_model,
    load_golden,
    save_golden,
    snapshot_model,
    spectra_from_results,
)
from plasticsim.testing._golden import GoldenError

# "pytester" runs small user suites in-process. The plugin is also loaded here so that this
# suite can use its own fixture; with the pytest11 entry point installed (named after the
# module) pytest sees that it is already registered and skips it.
pytest_plugins = ["pytester", "plasticsim.testing.plugin"]
PLUGIN = ["-p", "plasticsim.testing.plugin"]


@pytest.fixture(scope="module")
def pruned():
    """A clustered network and a noise-pruned copy (symmetric, -A diagonally dominant)."""
    A = networks.clustered([20, 15], rng=0)
    B = noise_prune(A, density=0.4, rng=1).pruned
    return A, B


def slowest_first(A):
    return np.linalg.eigvalsh(A)[::-1]


# --------------------------------------------------------------------------- spectra


def test_eigenvalues_close_pairs_any_order_and_passes_within_rtol():
    lam = np.array([-0.1, -1.0, -2.5, -4.0])
    rng = np.random.default_rng(0)
    assert_eigenvalues_close(lam, rng.permutation(lam), rtol=0)
    assert_eigenvalues_close(lam, lam * (1 + 0.9e-3), rtol=1e-3)
    # complex conjugate pairs, shuffled: paired by assignment, not position
    mu = np.array([-0.5 + 2j, -0.5 - 2j, -1.0, -3 + 0.1j, -3 - 0.1j])
    assert_eigenvalues_close(mu, rng.permutation(mu) * (1 + 1e-9), rtol=1e-8)


def test_eigenvalues_close_fails_with_worst_mode_and_count():
    lam = -np.arange(1.0, 25.0) / 10
    bad = lam.copy()
    bad[[3, 7]] *= [1.01, 1.05]  # modes 4 and 8 (1 = slowest) beyond rtol, 8 the worst
    with pytest.raises(AssertionError) as info:
        assert_eigenvalues_close(lam, bad, rtol=1e-3)
    msg = str(info.value)
    assert "2 of 24 modes differ by more than rtol=0.001" in msg
    assert "Worst: mode 8 (1 = slowest): expected -0.8, actual -0.84" in msg
    assert "relative error 0.05 = 50 x rtol" in msg
    table = msg.splitlines()[2:]
    assert table[0].split() == ["mode", "expected", "actual", "rel.", "error"]
    assert [row.split()[0] for row in table[1:]] == ["4", "8"]


def test_slowest_restricts_to_the_slow_modes():
    lam = np.array([-0.1, -0.2, -1.0, -5.0])
    fast_off = lam * [1, 1, 1, 1.5]
    assert_eigenvalues_close(lam, fast_off, rtol=1e-6, slowest=3)
    with pytest.raises(AssertionError, match=r"1 of 4 modes .*\n.*mode 4 \(1 = slowest\)"):
        assert_eigenvalues_close(lam, fast_off, rtol=1e-6)
    with pytest.raises(AssertionError, match=r"1 of the 2 slowest modes \(of 4\)"):
        assert_eigenvalues_close(lam, lam * [1, 1.1, 1, 1], rtol=1e-6, slowest=2)


def test_many_failures_are_counted_not_all_listed():
    lam = -np.arange(1.0, 31.0)
    with pytest.raises(AssertionError) as info:
        assert_eigenvalues_close(lam, 1.1 * lam, rtol=0.01)
    assert "30 of 30 modes" in str(info.value)
    assert str(info.value).endswith("... and 20 more")


def test_spectrum_close_passes_on_a_copy_and_fails_on_a_perturbation(pruned):
    A, B = pruned
    assert_spectrum_close(B, B.copy(), rtol=1e-12)
    lam = slowest_first(B)
    # shift the third-slowest mode by 2% along its eigenvector
    w, V = np.linalg.eigh(B)
    v = V[:, -3]
    C = B + 0.02 * lam[2] * np.outer(v, v)
    assert_spectrum_close(B, C, rtol=0.03)
    with pytest.raises(AssertionError) as info:
        assert_spectrum_close(B, C, rtol=0.01)
    msg = str(info.value)
    assert msg.startswith("Spectra of A and B not close: 1 of 35 modes")
    assert f"Worst: mode 3 (1 = slowest): A {lam[2]:.6g}, B {1.02 * lam[2]:.6g}" in msg
    # only the two slowest modes: passes
    assert_spectrum_close(B, C, rtol=0.01, slowest=2)


def test_spectrum_close_agrees_with_compare_spectra(pruned):
    A, B = pruned
    err = compare_spectra(A, B).slowest_error(3)
    assert_spectrum_close(A, B, rtol=err * (1 + 1e-9), slowest=3)
    with pytest.raises(AssertionError, match="of the 3 slowest modes"):
        assert_spectrum_close(A, B, rtol=err * (1 - 1e-9), slowest=3)


def test_spectrum_close_on_an_asymmetric_network():
    A = networks.clustered_asymmetric([10, 8], rng=3)
    lam = np.linalg.eigvals(A)
    assert np.iscomplexobj(lam)  # a complex spectrum: the assignment path
    assert_spectrum_close(A, A.T.copy(), rtol=1e-9)  # same spectrum, other eigenvectors
    with pytest.raises(AssertionError, match="modes differ"):
        assert_spectrum_close(A, 1.01 * A, rtol=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"A": np.ones(3), "B": np.eye(3)}, ValueError, "A has shape .3,., must be a 2-D"),
        ({"B": np.ones(4)}, ValueError, "use assert_eigenvalues_close"),
        ({"B": -np.eye(4)}, ValueError, r"B has shape \(4, 4\), must match A's shape"),
        ({"B": "matrix"}, TypeError, "B must be a real 2-D array"),
        ({"rtol": -0.1}, ValueError, r"rtol == -0.1, must be >= 0"),
        ({"rtol": True}, TypeError, "rtol must be a real number"),
        ({"slowest": 0}, ValueError, r"slowest == 0, must be an integer >= 1"),
        ({"slowest": 4}, ValueError, r"slowest == 4, must be <= the number of eigenvalues"),
        ({"slowest": 1.5}, TypeError, "slowest must be an integer"),
    ],
)
def test_spectrum_close_validation(kwargs, error, match):
    args = {"A": -np.eye(3), "B": -np.eye(3), "rtol": 0.1, **kwargs}
    with pytest.raises(error, match=match):
        assert_spectrum_close(args.pop("A"), args.pop("B"), **args)


@pytest.mark.parametrize(
    ("expected", "actual", "error", "match"),
    [
        (np.eye(2), [1.0, 2.0], ValueError, "expected has shape .2, 2.*assert_spectrum_close"),
        ([1.0, 2.0], [1.0], ValueError, "actual has 1 eigenvalues, must match expected's 2"),
        ([1.0, np.nan], [1.0, 2.0], ValueError, r"expected\[1\] == nan; .* finite"),
        ([], [], ValueError, "expected is empty"),
        (["a", "b"], [1.0, 2.0], TypeError, "expected must be a numeric array"),
        ([1.0], None, TypeError, "actual must be a 1-D array of eigenvalues, got None"),
    ],
)
def test_eigenvalues_close_validation(expected, actual, error, match):
    with pytest.raises(error, match=match):
        assert_eigenvalues_close(expected, actual, rtol=0.1)


# --------------------------------------------------------------------------- quadratic forms


def test_quadratic_forms_pass_at_the_exact_epsilon(pruned):
    A, B = pruned
    eps = compare_spectra(A, B).epsilon
    assert_quadratic_forms_within(A, B, eps * (1 + 1e-9), rng=0)
    assert_quadratic_forms_within(A, A.copy(), 1e-12, rng=0)
    with pytest.raises(AssertionError, match=f"which needs eps >= {eps:.6g}"):
        assert_quadratic_forms_within(A, B, eps * (1 - 1e-6), rng=0)


def test_quadratic_forms_name_the_worst_eigenvector(pruned):
    A, _ = pruned
    w, V = np.linalg.eigh(A)
    k = 4  # slowest-first index of the perturbed mode (the 5th slowest)
    v = V[:, -1 - k]
    B = A + 0.3 * w[-1 - k] * np.outer(v, v)  # ratio 1.3 along v, 1 elsewhere
    with pytest.raises(AssertionError) as info:
        assert_quadratic_forms_within(A, B, 0.1, rng=0)
    msg = str(info.value)
    assert "Worst: eigenvector 5 of A (1 = slowest): x^T B x / x^T A x == 1.3" in msg
    assert "beyond the upper bound 1 + eps by 0.2 " in msg
    assert "Failing: 1 of 35 eigenvectors" in msg
    assert "Over all x (exact): the ratio spans [1, 1.3]" in msg


def test_quadratic_forms_name_a_random_vector_below_the_band():
    A = -np.eye(3)
    u = np.ones(3) / np.sqrt(3)
    B = A + 0.9 * np.outer(u, u)  # ratio 1 - 0.9 (x.u)^2 / |x|^2: 0.7 on A's eigenvectors
    with pytest.raises(AssertionError) as info:
        assert_quadratic_forms_within(A, B, 0.2, n_vectors=20, rng=11)
    msg = str(info.value)
    # a random vector nearer u than any basis vector is worse than every eigenvector
    assert "Worst: random vector " in msg
    assert "beyond the lower bound 1 - eps" in msg
    assert "Failing: 3 of 3 eigenvectors, " in msg and "of 20 random vectors (rng seed 11)" in msg
    assert "the ratio spans [0.1, 1]" in msg


def test_quadratic_forms_certificate_catches_what_sampled_vectors_miss():
    A = -np.eye(2)
    u = np.array([1.0, 1.0]) / np.sqrt(2)
    B = A + 0.3 * np.outer(u, u)  # ratio 0.85 on e_0, e_1; 0.7 along u
    with pytest.raises(AssertionError) as info:
        assert_quadratic_forms_within(A, B, 0.2, n_vectors=0)
    msg = str(info.value)
    assert "Every named vector is inside" in msg
    assert "the ratio spans [0.7, 1], which needs eps >= 0.3" in msg


def test_quadratic_forms_of_an_asymmetric_matrix_use_its_symmetric_part():
    rng = np.random.default_rng(5)
    S = networks.clustered([6, 6], rng=5)
    K = rng.standard_normal((12, 12))
    K = K - K.T  # antisymmetric: no effect on any quadratic form
    assert_quadratic_forms_within(S + K, S, 1e-12, rng=0)
    w, V = np.linalg.eigh(S)
    B = S + 0.5 * w[-2] * np.outer(V[:, -2], V[:, -2])  # ratio 1.5 along mode 2 (1 = slowest)
    with pytest.raises(AssertionError, match=r"eigenvector 2 of \(A \+ A.T\) / 2 .*== 1.5"):
        assert_quadratic_forms_within(S + K, B, 0.1, rng=0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"A": np.diag([-1.0, 1.0, -1.0])}, ValueError, r"A is not definite: .*\[-1, 1\]"),
        ({"B": -np.eye(2)}, ValueError, r"B has shape \(2, 2\), must match A's shape \(3, 3\)"),
        ({"eps": -0.5}, ValueError, r"eps == -0.5, must be >= 0"),
        ({"eps": "0.1"}, TypeError, "eps must be a real number"),
        ({"n_vectors": -1}, ValueError, r"n_vectors == -1, must be an integer >= 0"),
        ({"n_vectors": 10.0}, TypeError, "n_vectors must be an integer"),
        ({"rng": "seed"}, TypeError, "rng must be None, a non-negative int"),
    ],
)
def test_quadratic_forms_validation(kwargs, error, match):
    args = {"A": -np.eye(3), "B": -np.eye(3), "eps": 0.1, **kwargs}
    with pytest.raises(error, match=match):
        assert_quadratic_forms_within(args.pop("A"), args.pop("B"), args.pop("eps"), **args)


# --------------------------------------------------------------------------- golden files


def test_golden_round_trip_is_exact_sorted_and_text(tmp_path, pruned):
    A, B = pruned
    lam = np.linalg.eigvals(B)  # LAPACK order, not sorted
    mu = np.linalg.eigvals(networks.clustered_asymmetric([6, 5], rng=2))
    path = tmp_path / "sub" / "g.json"
    written = save_golden(
        path, {"noise": lam, "asym": mu}, metadata={"seed": np.int64(1), "n": 35}, rtol=1e-7
    )
    g = load_golden(path)
    assert list(g.spectra) == ["noise", "asym"]
    np.testing.assert_array_equal(g.spectra["noise"], np.sort(lam.real)[::-1])
    assert g.spectra["noise"].dtype == np.float64  # real spectra stay real
    assert g.spectra["asym"].dtype == np.complex128
    order = np.lexsort((mu.imag, -mu.real))
    np.testing.assert_array_equal(g.spectra["asym"], mu[order])  # bit for bit
    assert g.metadata == {"seed": 1, "n": 35} == written.metadata
    assert g.rtol == 1e-7 and g.plasticsim_version == written.plasticsim_version
    doc = json.loads(path.read_text())
    assert doc["format"] == "plasticsim-golden-spectrum" and "imag" not in doc["spectra"]["noise"]
    assert len(path.read_text().splitlines()) > lam.size  # one number per line
    assert os.listdir(path.parent) == ["g.json"]  # no temporary file left


def test_check_golden_passes_on_the_golden_and_reports_a_drift(tmp_path, pruned):
    _, B = pruned
    lam = slowest_first(B)
    path = tmp_path / "g.json"
    save_golden(path, {"original": lam, "noise": lam[::-1]}, metadata={"seed": 4}, rtol=1e-8)
    ok, report = check_golden(path, {"noise": lam, "original": lam})
    assert ok, report
    assert report.startswith(f"OK: 2 spectra match golden {path} within rtol=1e-08")
    assert "made with: seed=4, plasticsim" in report
    drifted = lam.copy()
    drifted[5] *= 1 + 1e-6
    ok, report = check_golden(path, {"original": lam, "noise": drifted})
    assert not ok
    lines = report.splitlines()
    assert lines[0] == f"DRIFT from golden {path} (rtol=1e-08): 1 of 2 spectra differ"
    assert lines[2].startswith("  original: ok (35 eigenvalues, max relative error 0")
    assert lines[3] == "  noise: DRIFT: 1 of 35 modes differ by more than rtol=1e-08."
    assert f"golden {lam[5]:.11g}, now {drifted[5]:.11g}" in lines[4]  # digits for rtol
    assert lines[5].split() == ["mode", "golden", "now", "rel.", "error"]
    assert lines[6].split()[0] == "6"  # index 5: the sixth slowest (1 = slowest)
    # a looser tolerance, given or stored, passes
    assert check_golden(path, {"original": lam, "noise": drifted}, rtol=1e-5)[0]
    assert check_golden(path, {"original": lam, "noise": drifted}, slowest=5)[0]


def test_check_golden_reports_missing_new_and_resized_spectra(tmp_path):
    path = tmp_path / "g.json"
    save_golden(path, {"a": [-1.0, -2.0], "b": [-1.0], "c": [-3.0]}, rtol=0)
    ok, report = check_golden(path, {"a": [-1.0], "b": [-1.0], "d": [-2.0]})
    assert not ok
    assert "3 of 4 spectra differ" in report
    assert "  a: SIZE: 1 eigenvalues now, 2 in the golden." in report
    assert "  b: ok" in report
    assert "  c: MISSING from the new run (the golden has 1 eigenvalues)." in report
    assert "  d: NEW: not in the golden (1 eigenvalues)." in report


def test_a_single_array_is_the_spectrum_named_eigenvalues(tmp_path):
    path = tmp_path / "g.json"
    g = save_golden(path, [-3.0, -1.0], rtol=0.0)
    assert list(g.spectra) == ["eigenvalues"]
    np.testing.assert_array_equal(load_golden(path).eigenvalues, [-1.0, -3.0])
    assert check_golden(path, [-1.0, -3.0])[0]
    assert_eigenvalues_close(load_golden(path).eigenvalues, [-3.0, -1.0], rtol=0)
    with pytest.raises(ValueError, match="holds 2 spectra"):
        _ = Golden(spectra={"a": np.ones(1), "b": np.ones(1)}).eigenvalues


def test_save_golden_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "g.json"
    save_golden(path, [-1.0], rtol=1e-6)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="metadata must be JSON-serialisable"):
        save_golden(path, [-2.0], metadata={"f": object()})
    with pytest.raises(TypeError, match="metadata must be JSON-serialisable"):
        save_golden(path, [-2.0], metadata={"x": float("nan")})

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save_golden(path, [-2.0], rtol=1e-6)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["g.json"]  # the temporary file was removed


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not json", "invalid JSON"),
        ('{"format": "other"}', "'format' is not 'plasticsim-golden-spectrum'"),
        ('{"format": "plasticsim-golden-spectrum", "format_version": 1}', "'spectra' must be"),
        (
            '{"format": "plasticsim-golden-spectrum", "format_version": 1, "spectra": '
            '{"a": {"real": [1, null]}}}',
            r"spectrum 'a'\[1\] == nan",
        ),
        (
            '{"format": "plasticsim-golden-spectrum", "format_version": 1, "rtol": -1, '
            '"spectra": {"a": {"real": [1]}}}',
            "'rtol' == -1, must be a number >= 0",
        ),
        (
            '{"format": "plasticsim-golden-spectrum", "format_version": 9, '
            '"spectra": {"a": {"real": [1]}}}',
            "format_version 9; .* upgrade plasticsim",
        ),
    ],
)
def test_load_golden_rejects_bad_files_naming_the_file(tmp_path, text, match):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(GoldenError, match=match) as info:
        load_golden(path)
    assert isinstance(info.value, ValueError)
    assert "bad.json" in str(info.value)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda p: save_golden(p, {1: [1.0]}), TypeError, "keys must be non-empty strings"),
        (lambda p: save_golden(p, {}), ValueError, "empty mapping"),
        (lambda p: save_golden(p, [[1.0]]), ValueError, "must be 1-D"),
        (lambda p: save_golden(p, [np.inf]), ValueError, "must be finite"),
        (lambda p: save_golden(p, [1.0], rtol=-1), ValueError, "rtol == -1.0, must be >= 0"),
        (lambda p: save_golden(p, [1.0], metadata=[1]), TypeError, "metadata must be a dict"),
        (lambda p: check_golden(p, [1.0]), GoldenError, "stores no rtol; pass rtol"),
        (lambda p: check_golden(p, [1.0], rtol="a"), TypeError, "rtol must be a real number"),
    ],
)
def test_golden_validation(tmp_path, call, error, match):
    path = tmp_path / "g.json"
    save_golden(path, [1.0])  # no rtol stored
    with pytest.raises(error, match=match):
        call(path)


# --------------------------------------------------------------------------- model runs

TINY = {
    "name": "tiny",
    "network": {"generator": "clustered", "params": {"sizes": [10, 8]}},
    "pruning": {"density": 0.4, "controls": ["weight"]},
}


def test_spectra_from_results_adapter():
    res = SimpleNamespace(
        arrays={
            "matrix_original": np.eye(2),
            "eigenvalues_noise": np.array([-1.0, -2.0]),
            "eigenvalues_original": np.array([-1.0, -2.1]),
            "eigenvalues_weight": np.array([-1.5, -2.0]),
        }
    )
    assert list(spectra_from_results(res)) == ["original", "noise", "weight"]
    with pytest.raises(ValueError, match="evaluation.spectra = true"):
        spectra_from_results(SimpleNamespace(arrays={"matrix_original": np.eye(2)}))
    with pytest.raises(TypeError, match="results must be a plasticsim.experiment.Results"):
        spectra_from_results({"eigenvalues_noise": [1.0]})


def test_snapshot_and_check_a_model(tmp_path):
    path = tmp_path / "tiny.json"
    golden = snapshot_model(TINY, path, seed=3, overrides=["pruning.density=0.5"])
    assert list(golden.spectra) == ["original", "noise", "weight"]
    assert golden.rtol == DEFAULT_RTOL
    meta = load_golden(path).metadata
    assert meta["seed"] == 3 and meta["model_name"] == "tiny"
    assert meta["overrides"] == ["pruning.density=0.5"]
    assert meta["model"]["pruning"]["density"] == 0.5
    # the same model, seed and overrides again: identical
    ok, report = check_model(TINY, path)
    assert ok, report
    assert "max relative error 0)" in report
    # the stored override is reapplied: the file's own density does not matter
    assert check_model({**TINY, "pruning": {"density": 0.9, "controls": ["weight"]}}, path)[0]
    # a drift: one stored eigenvalue edited in the text file
    doc = json.loads(path.read_text())
    doc["spectra"]["noise"]["real"][1] *= 1.01
    path.write_text(json.dumps(doc, indent=2))
    ok, report = check_model(TINY, path)
    assert not ok
    assert "  original: ok" in report and "  weight: ok" in report
    assert "  noise: DRIFT: 1 of 18 modes differ by more than rtol=1e-06." in report
    assert "Worst: mode 2 (1 = slowest)" in report and "relative error 0.0099" in report
    assert "model settings" not in report  # the model did not change
    with pytest.raises(FileExistsError, match="pass force=True"):
        snapshot_model(TINY, path, seed=3)
    assert snapshot_model(TINY, path, seed=4, force=True).metadata["seed"] == 4


def test_check_model_reports_the_changed_setting(tmp_path):
    path = tmp_path / "tiny.json"
    snapshot_model(TINY, path, seed=3)
    changed = {
        **TINY,
        "network": {"generator": "clustered", "params": {"sizes": [10, 8], "p_in": 0.6}},
    }
    ok, report = check_model(changed, path)
    assert not ok
    assert "model settings that differ from the golden's (golden -> now):" in report
    assert "    network.params.p_in: '<unset>' -> 0.6" in report


def test_check_model_ignores_a_changed_description(tmp_path):
    """A description documents the model and changes no number: not a drift's cause."""
    path = tmp_path / "tiny.json"
    snapshot_model({**TINY, "description": "before"}, path, seed=3)
    ok, report = check_model({**TINY, "description": "after, rewritten"}, path)
    assert ok, report
    assert "model settings" not in report


def test_model_helpers_validate(tmp_path):
    path = tmp_path / "g.json"
    with pytest.raises(TypeError, match="wrap it in a list"):
        snapshot_model(TINY, path, overrides="pruning.density=0.5")
    with pytest.raises(TypeError, match="must be an integer"):
        snapshot_model(TINY, path, seed=1.5)
    save_golden(path, [-1.0], rtol=1e-6)
    with pytest.raises(GoldenError, match="no integer 'seed'"):
        check_model(TINY, path)
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(GoldenError, match="cannot read the golden"):
        check_model(TINY, path)
    with pytest.raises(FileNotFoundError):
        check_model(TINY, tmp_path / "missing.json")


# --------------------------------------------------------------------------- pytest plugin

USER_TEST = """
from pathlib import Path

import numpy as np
import pytest

from plasticsim import networks, noise_prune


def spectrum():
    A = networks.clustered([12, 8], rng=0)
    lam = np.linalg.eigvalsh(noise_prune(A, density=0.5, rng=1).pruned)[::-1]
    lam[2] *= 1 + float(Path(__file__).with_name("perturbation.txt").read_text())
    return lam


def test_pruned(spectrum_regression):
    spectrum_regression.check({"pruned": spectrum()}, rtol=1e-6, metadata={"seed": 1})


@pytest.mark.parametrize("size", [3])
def test_slowest(spectrum_regression, size):
    spectrum_regression.check(spectrum()[:size], rtol=1e-6, name=f"slow{size}")
"""


def test_plugin_creates_passes_fails_on_drift_and_updates(pytester):
    pytester.makepyfile(test_user=USER_TEST)
    pytester.path.joinpath("perturbation.txt").write_text("0")
    golden = pytester.path / "golden" / "test_user" / "test_pruned.json"

    result = pytester.runpytest(*PLUGIN)  # no golden yet: fail with the instruction
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*golden spectrum golden/test_user/test_pruned.json does not exist; run pytest "
            "with --plasticsim-update-golden to create it*"
        ]
    )
    assert not golden.exists()

    result = pytester.runpytest(*PLUGIN, "--plasticsim-update-golden")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*plasticsim golden spectra*",
            "created golden/test_user/test_pruned.json",
            "created golden/test_user/slow3.json",
        ]
    )
    stored = load_golden(golden)
    assert stored.metadata == {"test": "test_user.py::test_pruned", "seed": 1}
    assert stored.rtol == 1e-6

    result = pytester.runpytest(*PLUGIN)  # on the golden: passes, writes nothing
    result.assert_outcomes(passed=2)
    assert "plasticsim golden spectra" not in result.stdout.str()

    pytester.path.joinpath("perturbation.txt").write_text("1e-3")  # mode 2 moves by 1e-3
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*DRIFT from golden golden/test_user/test_pruned.json (rtol=1e-06): "
            "1 of 1 spectra differ*",
            "*pruned: DRIFT: 1 of 20 modes differ by more than rtol=1e-06.*",
            "*Worst: mode 3 (1 = slowest): golden *, now *, relative error 0.001 = 1e+03 x rtol.*",
            "*rerun pytest with --plasticsim-update-golden to rewrite "
            "golden/test_user/test_pruned.json*",
        ]
    )
    before = golden.read_bytes()
    result = pytester.runpytest(*PLUGIN, "--plasticsim-update-golden")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["updated golden/test_user/test_pruned.json", "updated *slow3*"])
    assert golden.read_bytes() != before
    pytester.runpytest(*PLUGIN).assert_outcomes(passed=2)  # the new spectrum is the golden


def test_plugin_accepts_results_and_names_goldens_per_test(pytester):
    pytester.makepyfile(
        test_res="""
        import numpy as np
        from types import SimpleNamespace

        class TestRuns:
            def test_run(self, spectrum_regression):
                res = SimpleNamespace(
                    arrays={"eigenvalues_original": np.array([-1.0, -2.0])},
                    model={"seed": 5, "name": "m"},
                )
                spectrum_regression.check(res, rtol=0)
                spectrum_regression.check(res, rtol=0)  # same file twice: an error
        """
    )
    result = pytester.runpytest(*PLUGIN, "--plasticsim-update-golden")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ValueError: the golden * was already checked in this test*"])
    g = load_golden(pytester.path / "golden" / "test_res" / "TestRuns.test_run.json")
    assert g.metadata == {
        "test": "test_res.py::TestRuns::test_run",
        "seed": 5,
        "model_name": "m",
        "model": {"seed": 5, "name": "m"},
    }


def test_plugin_rewrites_an_unreadable_golden_only_on_update(pytester):
    pytester.makepyfile(
        test_c="""
        def test_c(spectrum_regression):
            spectrum_regression.check([-1.0, -2.0], rtol=1e-9)
        """
    )
    golden = pytester.path / "golden" / "test_c" / "test_c.json"
    golden.parent.mkdir(parents=True)
    golden.write_text("<<<<<<< merge conflict")
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*is not a plasticsim golden spectrum file: invalid JSON*"])
    pytester.runpytest(*PLUGIN, "--plasticsim-update-golden").assert_outcomes(passed=1)
    np.testing.assert_array_equal(load_golden(golden).eigenvalues, [-1.0, -2.0])


def test_this_suite_keeps_a_golden_spectrum(spectrum_regression):
    """Dogfood: the committed golden of a pruned clustered network (tests/golden/)."""
    A = networks.clustered([20, 15], rng=0)
    res = noise_prune(A, density=0.4, rng=1)
    eig = {"original": np.linalg.eigvalsh(A), "noise": np.linalg.eigvalsh(res.pruned)}
    spectrum_regression.check(eig, rtol=DEFAULT_RTOL, metadata={"network_seed": 0, "seed": 1})


# Every shipped model at a small size (seconds, not minutes), its own seed. The dynamics do
# not enter a spectrum (and draw from their own random stream), so they are off.
SMALL = {
    "asymmetric": ["network.params.sizes=[20, 10, 15]"],
    "clustered": ["network.params.sizes=[20, 10, 15]", "online.sleep=20.0", "online.burn_in=5.0"],
    "clustered_large": ["network.params.sizes=[40, 10, 30]"],
    # sparse and sketched, 600 neurons: the 10 slowest modes
    "clustered_huge": [
        "network.params.sizes=[200, 200, 200]",
        "network.params.p_in=0.2",
        "network.params.p_out=0.002",
        "network.params.w_in=0.025",
        "network.params.w_out=0.025",
        "network.params.leak=0.01",
        "online.target=numpy",
        "online.sleep=10.0",
    ],
    "dale": ["network.params.n_exc=32", "network.params.n_inh=8"],
    "from_file": [],
    # one short learning wake and one sleep (the spectra are of the network as built)
    "lifetime": [
        "lifetime.cycles=1",
        "lifetime.wake=3.0",
        "lifetime.sleep=4.0",
        "lifetime.burn_in=1.0",
        'lifetime.rules=["noise"]',
        "lifetime.repeats=1",
    ],
    "rectified": ["network.params.sizes=[20, 10, 15]", "online.sleep=20.0", "online.burn_in=5.0"],
    "multapses": ["network.params.sizes=[10, 10]", "online.sleep=20.0"],
    "sweeps": ["network.params.n_exc=32", "network.params.n_inh=8", "online.sleep=20.0"],
    # 46 LIF neurons (numpy target), one-second sleep and wakes: A_eff's spectra
    "spiking": [
        "spiking.sizes=[15, 15]",
        "spiking.n_inh=16",
        "spiking.target=numpy",
        "spiking.sleep=1.0",
        "spiking.burn_in=0.2",
        "spiking.wake=1.0",
        "spiking.settle=0.1",
        "output.figures=false",
    ],
    "sleep_cycles": [
        "network.params.sizes=[20, 10, 15]",
        "online.sleep=15.0",
        "online.burn_in=3.0",
        "online.wake=3.0",
    ],
}
MODEL_GOLDENS = Path(__file__).parent / "golden" / "models"


@pytest.mark.parametrize("name", sorted(shipped_models()))
def test_shipped_model_golden_spectra(spectrum_regression, name):
    """tests/golden/models/<name>.json; also readable by check_model / `plasticsim check`."""
    if name not in SMALL:
        pytest.fail(f"shipped model {name!r} has no small-size overrides in SMALL; add them.")
    overrides = [*SMALL[name], "evaluation.dynamics.enabled=false"]
    results = run_model(name, overrides=overrides)  # the model's own seed
    spectrum_regression.directory = MODEL_GOLDENS
    if results.model["lifetime"]["enabled"]:
        # A lifetime prunes no matrix of its own: its spectra are the slowest eigenvalues
        # of the network after each epoch, per sleep rule.
        slowest = results.arrays["lifetime_slowest"]  # (rule, repeat, record, mode)
        results = {
            f"{rule}_repeat{r}_record{e}": slowest[i, r, e]
            for i, rule in enumerate(results.model["lifetime"]["rules"])
            for r in range(slowest.shape[1])
            for e in range(slowest.shape[2])
        }
    spectrum_regression.check(
        results,
        rtol=DEFAULT_RTOL,
        name=name,
        metadata={"model_ref": name, "overrides": overrides},
    )


def test_check_model_reads_a_shipped_golden():
    ok, report = check_model("dale", MODEL_GOLDENS / "dale.json")
    assert ok, report
    assert report.startswith("OK: 5 spectra match golden")
    assert "model settings" not in report


def test_import_needs_no_pytest():
    code = (
        "import sys\n"
        "sys.modules['pytest'] = None  # any import of pytest now fails\n"
        "import plasticsim, plasticsim.testing\n"
        "from plasticsim.testing import assert_eigenvalues_close\n"
        "assert_eigenvalues_close([-1.0], [-1.0], rtol=0)\n"
        "try:\n"
        "    import plasticsim.testing.plugin\n"
        "except ImportError:\n"
        "    print('plugin needs pytest')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "plugin needs pytest"
