"""Tests of the ``plasticsim`` command, end to end through ``python -m plasticsim``.

Every shipped model runs at reduced size (``--set``) in a subprocess; exit codes, help,
``--force``, ``--quiet`` and failures are checked in-process through ``cli.main``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from plasticsim import cli, experiment
from plasticsim.experiment import shipped_models

# Small and short: every model runs in a few seconds. Online runs use Brian2's numpy target.
FAST = [
    "evaluation.dynamics.trials=2",
    "evaluation.dynamics.duration=2.0",
    "output.dpi=40",
]
ONLINE_FAST = ["online.target=numpy", "online.sleep=6.0", "online.burn_in=1.0"]
REDUCED = {
    "clustered": ["network.params.sizes=[20, 10, 15]", *ONLINE_FAST],
    "clustered_large": ["network.params.sizes=[40, 10, 30]", "network.params.p_out=0.01"],
    "asymmetric": ["network.params.sizes=[20, 10, 15]"],
    "dale": ["network.params.n_exc=40", "network.params.n_inh=10"],
    "rectified": ["network.params.sizes=[12, 6, 8]", *ONLINE_FAST],
    "sleep_cycles": ["network.params.sizes=[12, 6, 8]", *ONLINE_FAST, "online.wake=1.0"],
    "from_file": [],
    "sweeps": ["network.params.n_exc=24", "network.params.n_inh=6", *ONLINE_FAST],
    "multapses": ["network.params.sizes=[8, 8]", *ONLINE_FAST],
    "clustered_huge": [],  # sparse: its own test below
    "lifetime": [
        "lifetime.cycles=1",
        "lifetime.wake=3.0",
        "lifetime.sleep=4.0",
        "lifetime.burn_in=1.0",
        'lifetime.rules=["noise"]',
    ],
    "spiking": [],  # a spiking network: its own test below (SPIKING_REDUCED)
}
#: A reduced spiking model: 26 LIF neurons, Brian2's numpy target, half-second epochs
#: (the test checks the command's plumbing: methods, figures, arrays, keys; the run's cost
#: is the numpy target's per-step overhead, proportional to the simulated time).
SPIKING_REDUCED = [
    "spiking.sizes=[10, 10]",
    "spiking.n_inh=6",
    "spiking.p_inh=0.5",
    "spiking.target=numpy",
    "spiking.sleep=0.5",
    "spiking.burn_in=0.1",
    "spiking.wake=0.5",
    "spiking.settle=0.05",
    "pruning.density=0.5",
    "output.dpi=40",
]
SPIKING_FIGURES = {
    "rasters", "rates", "online_traces", "online_states", "count_covariance", "spectra"
}  # fmt: skip
#: A reduced clustered_huge: 3,000 neurons in 3 clusters, still sparse and sketched.
HUGE_REDUCED = [
    "network.params.sizes=[1000, 1000, 1000]",
    "network.params.p_in=0.05",
    "network.params.p_out=1e-4",
    "network.params.w_in=0.02",
    "network.params.w_out=0.02",
    "network.params.leak=0.01",
    "online.target=numpy",
    "online.sleep=10.0",
    "output.dpi=40",
]
FIGURES = {"structure", "spectra", "dynamics"}
ONLINE_FIGURES = {"online_states", "online_traces"}


def assert_valid_png(path, *, min_bytes=5_000):
    """A PNG file with content: signature, size, and pixels that are not one colour."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert len(data) > min_bytes, f"{path.name} is only {len(data)} bytes"
    rgb = imread(path)[..., :3]
    assert float(rgb.std()) > 0.02, f"{path.name} is blank"
    assert np.mean(np.any(rgb < 0.95, axis=-1)) > 0.01, f"{path.name} is nearly empty"


def plasticsim(*args, cwd, check=None):
    """Run the real command in a subprocess; return the CompletedProcess."""
    env = {**os.environ, "PYTHONWARNINGS": "error::RuntimeWarning"}
    proc = subprocess.run(
        [sys.executable, "-m", "plasticsim", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    if check is not None:
        assert proc.returncode == check, proc.stderr
    return proc


def sets(items):
    return [arg for item in items for arg in ("--set", item)]


def test_every_shipped_model_is_exercised():
    assert set(REDUCED) == set(shipped_models())


@pytest.mark.parametrize("name", sorted(set(REDUCED) - {"clustered_huge", "spiking"}))
def test_shipped_model_runs_end_to_end(name, tmp_path):
    out = tmp_path / "out"
    proc = plasticsim("run", name, "--out", str(out), *sets(REDUCED[name] + FAST), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    model = experiment.load_model(name).config
    methods = ["noise"] if model["pruning"]["offline"] else []
    methods += ["online"] if model["pruning"]["online"] else []
    methods += model["pruning"]["controls"]
    assert list(metrics["methods"]) == methods
    assert metrics["model"]["name"] == name
    assert metrics["warnings"] == []
    with np.load(out / "arrays.npz", allow_pickle=False) as z:
        arrays = set(z.files)
        n = z["matrix_original"].shape[0]
        for m in methods:
            assert z[f"matrix_{m}"].shape == (n, n)
    expected = FIGURES | (ONLINE_FIGURES if "online" in methods else set())
    if model["lifetime"]["enabled"]:  # no pruning method, spectra nor dynamics: lifetimes
        expected = {"structure", "lifetime"}
    assert {p.stem for p in out.glob("*.png")} == expected
    for png in out.glob("*.png"):
        assert_valid_png(png, min_bytes=2_000)
    assert {"matrix_original", "covariance", "probabilities"} <= arrays
    if methods:
        assert "eigenvalues_original" in arrays
    if model["lifetime"]["enabled"]:
        assert {"lifetime_synapses", "lifetime_completion"} <= arrays
        assert "sleep rule" in proc.stdout  # the lifetime table
    # stdout: the summary, with every method and where the results are
    assert f"results  {out}/" in proc.stdout
    assert "slowest-" in proc.stdout
    # stderr: plain log lines (not a terminal), no progress bars
    assert "covariance done" in proc.stderr and "\r" not in proc.stderr
    if "online" in methods:
        epochs = metrics["online"]["epochs"]
        assert len(epochs) == model["online"]["cycles"]
        assert metrics["methods"]["online"]["kept_fraction"] > 0


def test_spiking_model_runs_end_to_end(tmp_path):
    """spiking.toml at 26 neurons through the real command: every method, figure, array."""
    out = tmp_path / "out"
    proc = plasticsim(
        "run", "spiking", "--out", str(out), *sets(SPIKING_REDUCED), cwd=tmp_path, check=0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["methods"]) == ["noise", "online", "weight", "uniform"]
    assert metrics["network"] | {"n": 26, "spiking": True} == metrics["network"]
    assert metrics["warnings"] == []
    for m, entry in metrics["methods"].items():
        assert 0.3 < entry["kept_fraction"] < 0.7, m
        assert entry["count_covariance_rel_err"] >= 0
        assert entry["spectra"]["slowest2_rel_err_max"] >= 0
    assert -1 <= metrics["spiking"]["traces"]["correlation_with_linear_response"] <= 1
    assert {p.stem for p in out.glob("*.png")} == SPIKING_FIGURES
    for png in out.glob("*.png"):
        assert_valid_png(png, min_bytes=2_000)
    with np.load(out / "arrays.npz", allow_pickle=False) as z:
        assert z["matrix_online"].shape == (26, 26)
        assert z["count_covariance_online"].shape == (3, 3)
        assert z["raster_before_i"].size == z["raster_before_t"].size > 0
    assert "cov err" in proc.stdout and "traces against linear response: r =" in proc.stdout


def test_huge_model_runs_sparse_end_to_end(tmp_path):
    """clustered_huge at 3,000 neurons through the real command: sparse throughout."""
    out = tmp_path / "out"
    proc = plasticsim(
        "run", "clustered_huge", "--out", str(out), *sets(HUGE_REDUCED), cwd=tmp_path, check=0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    n, n_syn = metrics["network"]["n"], metrics["network"]["n_synapses"]
    assert n == 3000 and metrics["network"]["sparse"] is True
    assert metrics["scores"]["method"] == "sketch"
    assert set(metrics["not_computed"]) == {"covariance", "whole_spectrum", "dynamics"}
    assert list(metrics["methods"]) == ["noise", "online", "weight", "uniform"]
    epoch = metrics["online"]["epochs"][0]
    assert epoch["start"] == "stationary" and epoch["reference_scores"] == "sketch"
    assert epoch["measured_tau"] == pytest.approx(10.0)  # no burn-in after the draw
    with np.load(out / "arrays.npz", allow_pickle=False) as z:
        # Nothing n x n (9e6 here): at most one entry per synapse and neuron (CSR parts).
        assert max(z[k].size for k in z.files) <= n_syn + n + 1
        assert "covariance" not in z.files and "matrix_original" not in z.files
        for m in ("original", "noise", "online", "weight", "uniform"):
            assert {f"matrix_{m}__{p}" for p in ("data", "indices", "indptr", "shape")} <= set(
                z.files
            )
            assert z[f"matrix_{m}__shape"].tolist() == [n, n]
            assert z[f"eigenvalues_{m}"].shape == (10,)
        assert z["matrix_original__data"].size == n_syn + n  # synapses and the leaks
    res = experiment.read_results(out)
    A = res.arrays["matrix_original"]
    assert A.shape == (n, n) and A.nnz == n_syn + n  # read back as a csr_array
    for entry in metrics["methods"].values():
        spectra = entry["spectra"]
        assert spectra["method"] == "sparse" and spectra["eig_rel_err_median"] is None
        assert 0 <= spectra["slowest5_rel_err_max"] <= spectra["slowest10_rel_err_max"]
        frag = entry["fragments"]
        assert 1 <= frag["components"] and frag["isolated"] < frag["components"] + 1
        assert frag["largest"] + frag["components"] - 1 <= n
        assert abs(entry["kept_fraction"] - 0.1) < 0.01  # ~2,000 pairs per cluster kept
    assert metrics["network"]["fragments"] == {"components": 1, "isolated": 0, "largest": n}
    assert {p.stem for p in out.glob("*.png")} == {"structure", "spectra", *ONLINE_FIGURES}
    for png in out.glob("*.png"):
        assert_valid_png(png, min_bytes=2_000)
    # the summary puts the fragments beside the slowest-mode errors; phases are logged
    assert "isolated" in proc.stdout and "not computed: covariance" in proc.stdout
    assert "scores (sketch) and probabilities done" in proc.stderr


def test_demo_from_an_empty_directory(tmp_path, monkeypatch):
    """The demo as shipped: full size, from a directory with no model files."""
    proc = plasticsim("demo", cwd=tmp_path, check=0)
    out = tmp_path / "results" / "demo"
    assert "results  results/demo/" in proc.stdout
    for name in FIGURES | ONLINE_FIGURES:
        assert_valid_png(out / f"{name}.png")
    metrics = json.loads((out / "metrics.json").read_text())
    # Timings are recorded (speed itself is measured in benchmarks/, not asserted here).
    timings = metrics["timings"]
    assert timings["total"] > 0 and all(t >= 0 for t in timings.values())
    assert sum(t for k, t in timings.items() if k != "total") <= timings["total"]
    errors = {m: e["spectra"]["slowest3_rel_err_max"] for m, e in metrics["methods"].items()}
    # The demo's message (fixed seed): the noise rule keeps the slow inter-cluster modes
    # better than uniform pruning at the same density.
    assert errors["noise"] < errors["uniform"] and errors["online"] < errors["uniform"]
    # A second demo (in-process, small, no figures) does not overwrite the first.
    monkeypatch.chdir(tmp_path)
    small = [*REDUCED["clustered"], *FAST, "output.figures=false"]
    assert cli.main(["demo", "--quiet", *sets(small)]) == 0
    assert (tmp_path / "results" / "demo-2" / "metrics.json").is_file()


def test_bad_model_file_exits_2_naming_file_and_key(tmp_path):
    model = tmp_path / "bad.toml"
    model.write_text('[network]\ngenerator = "clustered"\n[pruning]\ndensity = 2.0\n')
    proc = plasticsim("run", str(model), cwd=tmp_path, check=2)
    assert f"{model}: pruning.density == 2.0, must be a number in (0, 1]" in proc.stderr
    assert not (tmp_path / "results").exists()


# --------------------------------------------------------------------------- in-process


def small_model(tmp_path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(
        "seed = 1\n"
        '[network]\ngenerator = "clustered"\nparams = { sizes = [10, 8] }\n'
        '[pruning]\ndensity = 0.4\ncontrols = ["uniform"]\n'
        "[evaluation.dynamics]\ntrials = 2\nduration = 1.0\n"
        "[output]\nfigures = false\n"
    )
    return path


@pytest.mark.parametrize(
    "command", [[], ["run"], ["demo"], ["models"], ["show"], ["snapshot"], ["check"], ["sweep"]]
)
def test_help_everywhere(command, capsys):
    assert cli.main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: plasticsim")
    assert "--help" in out


def test_usage_errors_exit_2(capsys, tmp_path):
    assert cli.main([]) == 2
    assert cli.main(["frobnicate"]) == 2
    assert cli.main(["run"]) == 2
    assert cli.main(["run", "x", "--seed", "-3"]) == 2
    assert "a seed must be >= 0" in capsys.readouterr().err
    assert cli.main(["run", str(tmp_path / "missing.toml")]) == 2
    assert "no model file" in capsys.readouterr().err
    assert cli.main(["run", str(small_model(tmp_path)), "--set", "nokey"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_existing_result_needs_force(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = str(small_model(tmp_path))
    assert cli.main(["run", model, "--quiet"]) == 0
    assert (tmp_path / "results" / "small" / "metrics.json").is_file()
    capsys.readouterr()
    assert cli.main(["run", model, "--quiet"]) == 2
    assert "already exists; use --force" in capsys.readouterr().err
    assert cli.main(["run", model, "--quiet", "--force", "--seed", "2"]) == 0
    metrics = json.loads((tmp_path / "results" / "small" / "metrics.json").read_text())
    assert metrics["seed"] == 2
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["small"]


def test_quiet_prints_no_log_lines(tmp_path, capsys):
    out = tmp_path / "q"
    assert cli.main(["run", str(small_model(tmp_path)), "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "results  " in captured.out


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (RuntimeError("solver exploded"), 1, "failed: RuntimeError: solver exploded"),
        # a missing file while running is a failure, not bad input
        (FileNotFoundError("cache.bin"), 1, "failed: FileNotFoundError: cache.bin"),
        (ValueError("internal"), 1, "failed: ValueError: internal"),
        (KeyboardInterrupt(), 130, "interrupted; no result was written"),
    ],
)
def test_failures_while_running(tmp_path, capsys, monkeypatch, error, status, message):
    def boom(*args, **kwargs):
        raise error

    monkeypatch.setattr(experiment._run, "_execute", boom)
    monkeypatch.setenv("PLASTICSIM_TRACEBACK", "0")
    out = tmp_path / "res"
    assert cli.main(["run", str(small_model(tmp_path)), "--out", str(out)]) == status
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [tmp_path / "small.toml"]


def test_interrupt_while_writing_leaves_no_directory(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", interrupted)
    out = tmp_path / "res"
    assert cli.main(["run", str(small_model(tmp_path)), "--out", str(out), "--quiet"]) == 130
    assert list(tmp_path.iterdir()) == [tmp_path / "small.toml"]


def test_sigterm_while_writing_leaves_no_directory(tmp_path, capsys, monkeypatch):
    import signal

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # as a job scheduler stops a run

    monkeypatch.setattr(np, "savez_compressed", terminated)
    previous = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "res"
    assert cli.main(["run", str(small_model(tmp_path)), "--out", str(out), "--quiet"]) == 130
    assert list(tmp_path.iterdir()) == [tmp_path / "small.toml"]
    assert signal.getsignal(signal.SIGTERM) is previous  # the handler is restored


def test_terminal_progress_draws_and_finishes_a_bar(capsys):
    import io

    stream = io.StringIO()
    bar = cli.TerminalProgress(stream)
    bar.start("covariance", total=10)
    for _ in range(10):
        bar.advance(1)
    bar.finish()
    text = stream.getvalue()
    assert "\rcovariance" in text and "done" in text and text.endswith("\n")


def test_same_seed_through_the_command_gives_identical_arrays(tmp_path):
    args = ["run", str(small_model(tmp_path)), "--seed", "7", "--quiet"]
    assert cli.main([*args, "--out", str(tmp_path / "a")]) == 0
    assert cli.main([*args, "--out", str(tmp_path / "b")]) == 0
    with (
        np.load(tmp_path / "a" / "arrays.npz", allow_pickle=False) as a,
        np.load(tmp_path / "b" / "arrays.npz", allow_pickle=False) as b,
    ):
        assert a.files == b.files
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["seed"] == 7


def test_models_lists_every_shipped_model(capsys):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    for name in shipped_models():
        assert f"  {name}\n" in out


def test_show_summarises_a_result(tmp_path, capsys):
    out = tmp_path / "r"
    assert cli.main(["run", str(small_model(tmp_path)), "--out", str(out), "--quiet"]) == 0
    first = capsys.readouterr().out
    assert cli.main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert shown == first
    assert "model    small" in shown and "uniform control" in shown
    assert "metrics.json" in shown
    assert cli.main(["show", str(tmp_path)]) == 2
    assert "not a plasticsim result" in capsys.readouterr().err


def test_snapshot_then_check_passes_and_exits_1_on_drift(tmp_path):
    """The regression commands through the real command line."""
    model = small_model(tmp_path)
    golden = tmp_path / "golden.json"
    plasticsim("snapshot", str(model), str(golden), "--seed", "4", cwd=tmp_path, check=0)
    ok = plasticsim("check", str(model), str(golden), cwd=tmp_path, check=0)
    assert "noise: ok" in ok.stdout
    # an existing golden is never overwritten without --force
    again = plasticsim("snapshot", str(model), str(golden), cwd=tmp_path, check=2)
    assert "already exists" in again.stderr
    # drift: move the slowest pruned eigenvalue by 1% (the stored tolerance is 1e-6)
    data = json.loads(golden.read_text())
    data["spectra"]["noise"]["real"][0] *= 1.01
    golden.write_text(json.dumps(data))
    drift = plasticsim("check", str(model), str(golden), cwd=tmp_path, check=1)
    assert "DRIFT" in drift.stdout and "noise" in drift.stdout
    # a looser tolerance given on the command line accepts it
    plasticsim("check", str(model), str(golden), "--rtol", "0.02", cwd=tmp_path, check=0)


def test_force_never_deletes_what_is_not_a_result(tmp_path, capsys, monkeypatch):
    """--force with an unsafe name or directory exits 2 before running; nothing is lost."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(experiment._run, "_execute", lambda *a: pytest.fail("ran anyway"))
    (tmp_path / "results" / "keepme").mkdir(parents=True)
    (tmp_path / "results" / "keepme" / "data.txt").write_text("mine")
    model = str(small_model(tmp_path))
    run = ["run", model, "--quiet", "--force"]
    assert cli.main([*run, "--set", "name=."]) == 2
    assert "name == '.', must be a name of letters" in capsys.readouterr().err
    assert cli.main([*run, "--set", 'name="../escaped"']) == 2
    assert "name == '../escaped'" in capsys.readouterr().err
    assert cli.main([*run, "--out", str(tmp_path)]) == 2
    assert "working directory or one of its ancestors" in capsys.readouterr().err
    assert cli.main([*run, "--out", str(tmp_path.parent)]) == 2
    assert cli.main([*run, "--out", "results/keepme"]) == 2
    assert "not a plasticsim result (no metrics.json)" in capsys.readouterr().err
    assert (tmp_path / "results" / "keepme" / "data.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "small.toml"]


def test_out_under_a_file_exits_2_before_running(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(experiment._run, "_execute", lambda *a: pytest.fail("ran anyway"))
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "res"
    assert cli.main(["run", str(small_model(tmp_path)), "--out", str(out), "--quiet"]) == 2
    assert "is not a directory" in capsys.readouterr().err


@pytest.mark.parametrize("rtol", ["-1", "nan", "inf", "abc"])
def test_bad_rtol_is_a_usage_error(tmp_path, capsys, rtol):
    model = str(small_model(tmp_path))
    assert cli.main(["check", model, str(tmp_path / "g.json"), "--rtol", rtol]) == 2
    assert cli.main(["snapshot", model, str(tmp_path / "g.json"), "--rtol", rtol]) == 2
    assert "--rtol" in capsys.readouterr().err
    assert not (tmp_path / "g.json").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "invalid JSON"),
        (
            '{"format": "plasticsim-golden-spectrum", "format_version": 1, "rtol": 1e-6, '
            '"spectra": {"noise": {"real": [-1.0]}}}',
            "no integer 'seed'",
        ),
    ],
)
def test_check_with_an_invalid_golden_exits_2(tmp_path, capsys, monkeypatch, text, message):
    monkeypatch.setattr(experiment._run, "_execute", lambda *a: pytest.fail("ran anyway"))
    golden = tmp_path / "g.json"
    golden.write_text(text)
    assert cli.main(["check", str(small_model(tmp_path)), str(golden), "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert cli.main(["check", str(small_model(tmp_path)), str(tmp_path / "missing.json")]) == 2


@pytest.mark.parametrize("text", ["{not json", "{}", "[1, 2]"])
def test_show_a_corrupt_result_exits_2(tmp_path, capsys, text):
    (tmp_path / "metrics.json").write_text(text)
    assert cli.main(["show", str(tmp_path)]) == 2
    assert "is not a readable plasticsim result" in capsys.readouterr().err


def test_summary_labels_the_slowest_modes_it_reports():
    """An m larger than the network is reported (and labelled) as all n modes."""
    metrics = {
        "model": {"evaluation": {"slowest": [1, 100, 45]}},
        "network": {"n": 45},
        "methods": {
            "noise": {
                "kept_fraction": 0.3,
                "spectra": {"slowest1_rel_err_max": 0.01, "slowest45_rel_err_max": 0.02},
            }
        },
    }
    header, _, row = cli.summary_table(metrics).splitlines()
    assert "slowest-1 err" in header and "slowest-45 err" in header
    assert "slowest-100" not in header
    assert header.count("slowest-45") == 1
    assert row.split()[-4:] == ["0.01", "0.02", "-", "-"]


# --------------------------------------------------------------------------- output checks


def test_unwritable_output_exits_2_before_running(tmp_path, capsys, monkeypatch):
    """Found by a real write probe before any work: the path and the reason, exit 2."""
    monkeypatch.setattr(experiment._run, "_execute", lambda *a: pytest.fail("ran anyway"))
    model = str(small_model(tmp_path))
    # /proc: no directory can be created there, not even by root (chmod would not stop it)
    assert cli.main(["run", model, "--out", "/proc/plasticsim-test/res", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "cannot write the result directory '/proc/plasticsim-test/res'" in err
    assert "cannot create files in '/proc'" in err
    # a path under a file, also for the directory of a snapshot's golden file
    (tmp_path / "file").write_text("")
    golden = tmp_path / "file" / "sub" / "golden.json"
    assert cli.main(["snapshot", model, str(golden), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write the golden file {str(golden)!r}" in err
    assert "is not a directory" in err
    assert cli.main(["snapshot", model, "/proc/plasticsim-test/golden.json", "--quiet"]) == 2
    assert "cannot create files in '/proc'" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "small.toml"]


@pytest.mark.skipif(os.geteuid() == 0, reason="chmod does not stop root from writing")
def test_read_only_directory_exits_2_before_running(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(experiment._run, "_execute", lambda *a: pytest.fail("ran anyway"))
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    try:
        assert cli.main(["run", str(small_model(tmp_path)), "--out", str(locked / "r")]) == 2
        assert "Permission denied" in capsys.readouterr().err
    finally:
        locked.chmod(0o755)


def tree(directory: Path) -> dict:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def test_force_refuses_a_result_holding_foreign_files(tmp_path, capsys):
    out = tmp_path / "res"
    run = ["run", str(small_model(tmp_path)), "--out", str(out), "--quiet"]
    assert cli.main(run) == 0
    listed = json.loads((out / "metrics.json").read_text())["files"]
    assert sorted(listed) == sorted(p.name for p in out.iterdir())
    (out / "notes.txt").write_text("my notes")
    (out / "extra").mkdir()
    before = tree(out)
    capsys.readouterr()
    assert cli.main([*run, "--force"]) == 2
    err = capsys.readouterr().err
    assert "holds what plasticsim did not write: extra/, notes.txt" in err
    assert tree(out) == before and (out / "extra").is_dir()
    # once they are moved out, --force replaces the result
    (out / "notes.txt").unlink()
    (out / "extra").rmdir()
    assert cli.main([*run, "--force", "--seed", "5"]) == 0
    assert json.loads((out / "metrics.json").read_text())["seed"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res", "small.toml"]


def test_force_on_a_result_of_an_older_version_uses_its_known_files(tmp_path, capsys):
    """A result without metrics["files"]: metrics.json, arrays.npz and the known figures."""
    out = tmp_path / "old"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    for name in ["arrays.npz", "structure.png", "spectra.png", "online_traces.png"]:
        (out / name).write_bytes(b"")
    (out / "my_plot.png").write_bytes(b"")
    run = ["run", str(small_model(tmp_path)), "--out", str(out), "--quiet", "--force"]
    assert cli.main(run) == 2
    assert "did not write: my_plot.png;" in capsys.readouterr().err
    (out / "my_plot.png").unlink()
    assert cli.main(run) == 0


def test_snapshot_force_replaces_only_a_golden(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(experiment._run, "_execute", lambda *a: pytest.fail("ran anyway"))
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}')
    model = str(small_model(tmp_path))
    assert cli.main(["snapshot", model, str(notes), "--force", "--quiet"]) == 2
    assert "it is not a golden file" in capsys.readouterr().err
    assert notes.read_text() == '{"mine": true}'
    assert cli.main(["snapshot", model, str(tmp_path), "--force", "--quiet"]) == 2
    assert "is a directory" in capsys.readouterr().err


# --------------------------------------------------------------------------- messages


def test_a_misspelt_shipped_model_gets_a_suggestion(capsys):
    assert cli.main(["run", "clusterd"]) == 2
    err = capsys.readouterr().err
    assert "no model file 'clusterd'" in err and "did you mean 'clustered'?" in err
    assert cli.main(["snapshot", "asymetric", "g.json"]) == 2
    assert "did you mean 'asymmetric'?" in capsys.readouterr().err


def test_snapshot_logs_the_users_overrides_only(tmp_path, capsys):
    model = small_model(tmp_path)
    golden = tmp_path / "g.json"
    assert cli.main(["snapshot", str(model), str(golden), "--seed", "4"]) == 0
    err = capsys.readouterr().err
    assert f"model small ({model}), seed 4" in err
    assert "--set" not in err
    assert "dynamics" not in err  # switched off for a snapshot: no dynamics phase
    assert cli.main(["snapshot", str(model), str(golden), "--force", "--set", "seed=2"]) == 0
    assert f"model small ({model} (with --set seed)), seed 2" in capsys.readouterr().err


def test_check_numbers_modes_from_1_as_the_figures(tmp_path, capsys):
    model = str(small_model(tmp_path))
    golden = tmp_path / "g.json"
    assert cli.main(["snapshot", model, str(golden), "--seed", "4", "--quiet"]) == 0
    data = json.loads(golden.read_text())
    data["spectra"]["noise"]["real"][0] *= 1.01  # the slowest mode
    golden.write_text(json.dumps(data))
    capsys.readouterr()
    assert cli.main(["check", model, str(golden), "--quiet"]) == 1
    report = capsys.readouterr().out
    assert "Worst: mode 1 (1 = slowest): golden" in report
    table = report[report.index("mode  golden") :].splitlines()
    assert table[1].split()[0] == "1"


def test_a_signal_after_the_result_is_complete_does_not_undo_it(tmp_path, capsys, monkeypatch):
    """Interrupted while printing the summary: the result is whole, the command says so."""
    out = tmp_path / "res"
    run = ["run", str(small_model(tmp_path)), "--out", str(out), "--quiet"]
    assert cli.main(run) == 0
    capsys.readouterr()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_describe", interrupted)
    assert cli.main([*run, "--force", "--seed", "8"]) == 0
    err = capsys.readouterr().err
    assert f"a signal arrived after {str(out)!r} was complete; it is kept" in err
    assert json.loads((out / "metrics.json").read_text())["seed"] == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res", "small.toml"]
    # before the commit the same interruption is exit 130 and leaves the result alone
    monkeypatch.setattr(np, "savez_compressed", interrupted)
    assert cli.main([*run, "--force", "--seed", "9"]) == 130
    assert json.loads((out / "metrics.json").read_text())["seed"] == 8


def test_deferred_signals_deliver_after_the_block(monkeypatch):
    import signal

    from plasticsim.experiment._signals import deferred_signals

    received = []

    def handler(signum, frame):
        received.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        steps = []
        with pytest.raises(KeyboardInterrupt):
            with deferred_signals() as held:
                os.kill(os.getpid(), signal.SIGTERM)
                steps.append("after the signal")
                assert held.received == [signal.SIGTERM] and received == []
        assert steps == ["after the signal"] and received == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_freeze_imports_freezes_brian2_and_matplotlib_once_per_process():
    """Brian2 runs gc.collect() at every Network.run; before a Brian2 run the command
    freezes the long-lived imported modules (cli._freeze_imports) so that each collection
    walks only the run's own objects (the lifetime model: 15 s -> 8 s, the same arrays bit
    for bit). Once per process: a second call freezes nothing more."""
    code = (
        "import gc, sys\n"
        "from plasticsim import cli\n"
        "assert gc.get_freeze_count() == 0\n"
        "cli._freeze_imports()\n"
        "assert 'brian2' in sys.modules and 'matplotlib' in sys.modules\n"
        "n = gc.get_freeze_count()\n"
        "junk = [[] for _ in range(1000)]\n"
        "cli._freeze_imports()\n"
        "print(n, gc.get_freeze_count() - n)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    frozen, more = map(int, proc.stdout.split())
    assert frozen > 50_000  # Brian2, sympy, scipy, matplotlib: ~10^5 objects
    assert more == 0


@pytest.mark.parametrize(
    "command, sets_, freezes",
    [
        (["run", "asymmetric"], ["pruning.online=false"], False),  # no Brian2: nothing to do
        (["run", "clustered"], [], True),  # an online sleep
        (["run", "lifetime"], [], True),  # a lifetime (pruning.online = false)
        (["demo"], ["pruning.online=false"], False),
        (["demo"], [], True),
    ],
)
def test_only_runs_in_brian2_freeze_the_imports(monkeypatch, tmp_path, command, sets_, freezes):
    calls = []
    monkeypatch.setattr(cli, "_freeze_imports", lambda: calls.append(1))
    monkeypatch.setattr(cli, "_run", lambda args, path, out: 0)  # the dispatch only
    argv = [*command, "--out", str(tmp_path / "out"), *sets(sets_)]
    assert cli.main(argv) == 0
    assert calls == ([1] if freezes else [])
