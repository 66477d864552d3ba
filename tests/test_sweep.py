"""Tests of plasticsim.sweep on a real Dask cluster (no mocks).

One LocalCluster (2 worker processes, 1 thread each) serves most tests; the interruption
test runs the real command in a subprocess with its own local cluster, and one test
submits to a cluster started with the ``dask scheduler`` / ``dask worker`` commands on
127.0.0.1. The model is tiny (10 neurons) so that a run takes a fraction of a second.
"""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

import plasticsim  # noqa: E402
from plasticsim import cli  # noqa: E402
from plasticsim.experiment import ModelError, load_model, run_model  # noqa: E402
from plasticsim.sweep import (  # noqa: E402
    SweepError,
    expand_grid,
    parse_grid,
    parse_seeds,
    run_key,
)
from plasticsim.sweep._figures import sweep_figures  # noqa: E402
from plasticsim.sweep._table import flatten  # noqa: E402

TINY = [
    "network.params.sizes=[6, 4]",
    "pruning.online=false",
    "evaluation.dynamics.trials=2",
    "evaluation.dynamics.duration=1.0",
    "output.figures=false",
    "output.dpi=40",
]
# Runs of most of a second each (long dynamics), for interrupting and losing workers.
SLOW = [*TINY[:3], "evaluation.dynamics.duration=80.0", *TINY[4:]]


def set_args(overrides):
    return [arg for item in overrides for arg in ("--set", item)]


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        host="127.0.0.1",
    )
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def no_partial_files(root: Path) -> list:
    return [p for p in root.rglob("*") if ".partial-" in p.name or ".old-" in p.name]


# =========================================================================== grid


def test_parse_grid_splits_values_outside_brackets():
    axes = parse_grid(
        ["network.params.sizes=[6, 4],[8, 2]", "pruning.density=0.1, 0.2", "noise.tau_noise=0"]
    )
    assert axes == {
        "network.params.sizes": [[6, 4], [8, 2]],
        "pruning.density": [0.1, 0.2],
        "noise.tau_noise": [0],
    }
    assert parse_grid({"pruning.diagonal": ["zero", "matched"]}) == {
        "pruning.diagonal": ["zero", "matched"]
    }


@pytest.mark.parametrize(
    ("grid", "error", "match"),
    [
        (["pruning.density"], ValueError, "must be KEY=V1,V2"),
        (["pruning.density="], ValueError, "must be KEY=V1,V2"),
        (["pruning density=0.1"], ValueError, "not a dotted model key"),
        (["pruning.density=0.1", "pruning.density=0.2"], ValueError, "given twice"),
        (["pruning.density=0.1,0.1"], ValueError, "repeats a value"),
        (["network.params=1", "network.params.sizes=[2]"], ValueError, "overlap"),
        ({"pruning.density": []}, ValueError, "has no values"),
        ({"pruning.density": 0.1}, TypeError, r"grid\['pruning.density'\] must be a list"),
        ("pruning.density=0.1", TypeError, "grid must be a mapping"),
        ([0.1], TypeError, "grid entries must be"),
    ],
)
def test_parse_grid_rejects(grid, error, match):
    with pytest.raises(error, match=match):
        parse_grid(grid)


@pytest.mark.parametrize(
    ("seeds", "expected"),
    [("0-3", [0, 1, 2, 3]), ("5,0-1", [5, 0, 1]), (7, [7]), ([2, 3], [2, 3])],
)
def test_parse_seeds(seeds, expected):
    assert parse_seeds(seeds) == expected


@pytest.mark.parametrize(
    ("seeds", "error", "match"),
    [
        ("3-1", ValueError, "reversed"),
        ("a", ValueError, "is not a seed or a range"),
        ("0,0", ValueError, "repeat a seed"),
        ([], ValueError, "empty"),
        ([-1], ValueError, "must be >= 0"),
        ([1.5], TypeError, "must be integers"),
        (1.5, TypeError, "seeds must be an int"),
    ],
)
def test_parse_seeds_rejects(seeds, error, match):
    with pytest.raises(error, match=match):
        parse_seeds(seeds)


def test_expand_grid_is_the_product_last_axis_fastest():
    base = load_model("clustered", overrides=TINY)
    cells = expand_grid(base, parse_grid(["pruning.density=0.1,0.2,0.4", "noise.sigma=1,2"]))
    assert len(cells) == 6
    got = [(c.model.config["pruning"]["density"], c.model.config["noise"]["sigma"]) for c in cells]
    assert got == [(d, s) for d in (0.1, 0.2, 0.4) for s in (1.0, 2.0)]
    assert [c.index for c in cells] == list(range(6))
    # the rest of the model is the base's
    assert all(c.model.config["network"]["params"]["sizes"] == [6, 4] for c in cells)


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        (["pruning.densty=0.1"], r"unknown key 'pruning.densty' \(from --grid\).*did you mean"),
        (["pruning.density=0.1,2"], r"pruning.density == 2, must be a number in \(0, 1\]"),
        (["network.params.size=[4]"], r"unknown key 'network.params.size'"),
    ],
)
def test_invalid_cell_is_a_model_error_naming_the_key(grid, match, tmp_path):
    with pytest.raises(ModelError, match=match):
        plasticsim.sweep("clustered", grid, out=tmp_path / "s", overrides=TINY)
    assert not (tmp_path / "s").exists()  # nothing ran, nothing was written


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"workers": 0}, ValueError, r"workers == 0, must be an integer >= 1"),
        ({"workers": 1.5}, TypeError, "workers must be an integer"),
        ({"workers": 2, "scheduler": "tcp://127.0.0.1:8786"}, ValueError, "is for the local"),
        ({"scheduler": 8786}, TypeError, "scheduler must be an address"),
        ({"out": None}, TypeError, "out must be a directory"),
        ({"seeds": "0-x"}, ValueError, "is not a seed or a range"),
        ({"grid": ["seed=1,2"]}, ValueError, "give the seeds with seeds="),
        ({"grid": ["output.dpi=40,80"]}, ValueError, "run the same settings"),
    ],
)
def test_sweep_rejects_bad_arguments_before_running(kwargs, error, match, tmp_path):
    kwargs = {"out": tmp_path / "s", "grid": ["pruning.density=0.1"], **kwargs}
    with pytest.raises(error, match=match):
        plasticsim.sweep("clustered", overrides=TINY, **kwargs)
    assert not (tmp_path / "s").exists()


def test_cli_typo_is_exit_2_before_anything_runs(tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["sweep", "clustered", "--grid", "pruning.densty=0.1,0.2", "--out", str(out)]
    assert cli.main([*argv, *set_args(TINY)]) == 2
    err = capsys.readouterr().err
    assert "pruning.densty" in err and "did you mean 'pruning.density'" in err
    assert not out.exists()
    # malformed seeds and a directory that is not a sweep are also bad input
    assert cli.main(["sweep", "clustered", "--seeds", "2-1", "--out", str(out)]) == 2
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert cli.main(["sweep", "clustered", "--out", str(tmp_path / "other"), "--force"]) == 2
    assert "not a plasticsim sweep" in capsys.readouterr().err
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_unreachable_scheduler_is_exit_2_and_writes_nothing(tmp_path, capsys, monkeypatch):
    """No scheduler at the address: a clear error before the output directory exists."""
    from plasticsim.sweep import _sweep

    monkeypatch.setattr(_sweep, "_CONNECT_TIMEOUT", "1s")  # Dask retries until the timeout
    out = tmp_path / "s"
    argv = ["sweep", "clustered", "--scheduler", "tcp://127.0.0.1:1", "--out", str(out)]
    assert cli.main([*argv, *set_args(TINY)]) == 2
    err = capsys.readouterr().err
    assert "scheduler == 'tcp://127.0.0.1:1'" in err and "dask scheduler" in err
    assert not out.exists()


def test_cli_help_and_usage_errors(capsys, tmp_path):
    assert cli.main(["sweep", "--help"]) == 0
    assert "--grid KEY=V1,V2,..." in capsys.readouterr().out
    assert cli.main(["sweep", "clustered", "--workers", "0"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err
    argv = ["sweep", "clustered", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"]
    assert cli.main(argv) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert cli.main(["sweep", str(tmp_path / "missing.toml")]) == 2
    assert "no model file" in capsys.readouterr().err


def test_run_key_follows_the_settings_not_the_output():
    a = load_model("clustered", overrides=TINY)
    assert run_key(a, 1) != run_key(a, 2)
    same = load_model("clustered", overrides=[*TINY, "output.dpi=80", "name=other"])
    assert run_key(a, 1) == run_key(same, 1)
    assert run_key(a, 1) != run_key(load_model(a, overrides=["noise.sigma=2"]), 1)


# =========================================================================== table


def test_table_equals_the_single_runs_metrics(client, tmp_path):
    out = tmp_path / "sweep"
    res = plasticsim.sweep(
        "clustered",
        {"pruning.density": [0.2, 0.5]},
        seeds="0-1",
        out=out,
        scheduler=client,
        overrides=TINY,
        keep_runs=True,
    )
    methods = ["noise", "weight", "uniform"]
    assert len(res.rows) == 2 * 2 * len(methods)
    assert res.columns[:5] == ["cell", "pruning.density", "seed", "method", "run"]
    with open(out / "results.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == res.columns and len(table) == len(res.rows)
    for density, cell in ((0.2, 0), (0.5, 1)):
        for seed in (0, 1):
            model = load_model("clustered", overrides=[*TINY, f"pruning.density={density}"])
            key = run_key(model, seed)
            # the run kept by --keep-runs is a plasticsim result of its own
            with open(out / "runs" / key / "metrics.json") as fh:
                kept = json.load(fh)
            alone = run_model(model, rng=seed).metrics  # a single run, in this process
            assert kept["seed"] == seed and kept["model"]["pruning"]["density"] == density
            rows = [r for r in table if r["run"] == key]
            assert [r["method"] for r in rows] == methods
            for row in rows:
                assert row["cell"] == str(cell) and row["seed"] == str(seed)
                assert float(row["pruning.density"]) == density
                entry = flatten(kept["methods"][row["method"]])
                expected = {**entry, "network.n": 10, "run.k": kept["k"]}
                expected["timings.total"] = kept["timings"]["total"]
                for col, value in expected.items():
                    text = row[col]
                    if isinstance(value, bool):
                        assert text == str(value).lower(), col
                    else:  # written with repr: exact round trip
                        assert float(text) == value, col
                # the same numbers as a run outside Dask (BLAS threads may change rounding)
                for col, value in flatten(alone["methods"][row["method"]]).items():
                    if isinstance(value, float):
                        assert math.isclose(float(row[col]), value, rel_tol=1e-9), col
    sweep_json = json.loads((out / "sweep.json").read_text())
    assert sweep_json["status"] == "complete"
    assert sweep_json["grid"] == {"pruning.density": [0.2, 0.5]} and sweep_json["seeds"] == [0, 1]
    assert {r["status"] for r in sweep_json["runs"]} == {"ok"}
    assert sweep_json["versions"]["distributed"] == distributed.__version__
    assert no_partial_files(out) == []


def test_figures_one_per_axis_with_log_density(client, tmp_path):
    res = plasticsim.sweep(
        "clustered",
        ["pruning.density=0.1,0.4", "noise.sigma=1,2"],
        seeds=[0, 1],
        out=tmp_path / "s",
        scheduler=client,
        overrides=TINY,
    )
    names = sorted(p.name for p in res.figures)
    # one figure per axis and per value of the other axis
    assert names == [
        "noise.sigma__pruning.density=0.1.png",
        "noise.sigma__pruning.density=0.4.png",
        "pruning.density__noise.sigma=1.png",
        "pruning.density__noise.sigma=2.png",
    ]
    for p in res.figures:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    figs = sweep_figures(res.rows, parse_grid(["pruning.density=0.1,0.4", "noise.sigma=1,2"]),
                         res.columns)  # fmt: skip
    density_ax = figs["pruning.density__noise.sigma=1"].axes[0]
    sigma_ax = figs["noise.sigma__pruning.density=0.1"].axes[0]
    assert density_ax.get_xscale() == "log" and sigma_ax.get_xscale() == "linear"
    # one line per method, each point the mean over the two seeds
    lines = density_ax.get_lines()
    labels = [t.get_text() for t in figs["pruning.density__noise.sigma=1"].axes[0]
              .get_legend().get_texts()]  # fmt: skip
    assert len(labels) == 3
    col = "spectra.slowest3_rel_err_max"
    noise_at_01 = [r[col] for r in res.rows if r["method"] == "noise" and r["cell"] == 0]
    assert any(
        math.isclose(line.get_ydata()[0], sum(noise_at_01) / 2)
        for line in lines
        if len(line.get_ydata()) == 2
    )


# =========================================================================== robustness


def test_resume_skips_finished_runs_and_reruns_a_changed_model(client, tmp_path):
    out = tmp_path / "s"
    grid = ["pruning.density=0.2,0.5"]
    first = plasticsim.sweep("clustered", grid, seeds="0-1", out=out, scheduler=client,
                             overrides=TINY)  # fmt: skip
    records = {p.name: p.stat().st_mtime_ns for p in (out / "records").iterdir()}
    assert len(records) == 4 and not any(r["resumed"] for r in first.runs)
    second = plasticsim.sweep("clustered", grid, seeds="0-3", out=out, scheduler=client,
                              overrides=TINY)  # fmt: skip
    assert [r["resumed"] for r in second.runs] == [True, True, False, False] * 2
    for name, mtime in records.items():  # the finished runs were not redone
        assert (out / "records" / name).stat().st_mtime_ns == mtime
    assert len(second.rows) == 8 * 3
    # the first four runs' rows are the same numbers as before
    before = {(r["run"], r["method"]): r for r in first.rows}
    for row in second.rows:
        if (row["run"], row["method"]) in before:
            assert row == before[(row["run"], row["method"])]
    # the same settings reached through another grid are resumed, labelled by this grid
    at_half = [*TINY, "pruning.density=0.5"]
    other = plasticsim.sweep("clustered", ["noise.sigma=1.0"], seeds="0-1", out=out,
                             scheduler=client, overrides=at_half)  # fmt: skip
    assert all(r["resumed"] for r in other.runs)
    assert {(r["noise.sigma"], r["cell"]) for r in other.rows} == {(1.0, 0)}
    # --keep-runs promises each run's directory: runs finished without one run again
    kept = plasticsim.sweep("clustered", grid, seeds="0", out=out, scheduler=client,
                            overrides=TINY, keep_runs=True)  # fmt: skip
    assert not any(r["resumed"] for r in kept.runs)
    assert all((out / "runs" / r["key"] / "metrics.json").is_file() for r in kept.runs)
    again = plasticsim.sweep("clustered", grid, seeds="0", out=out, scheduler=client,
                             overrides=TINY, keep_runs=True)  # fmt: skip
    assert all(r["resumed"] for r in again.runs)
    # a changed model is a different run: nothing is resumed
    third = plasticsim.sweep("clustered", grid, seeds="0-1", out=out, scheduler=client,
                             overrides=[*TINY, "noise.sigma=2"])  # fmt: skip
    assert not any(r["resumed"] for r in third.runs)
    # --force starts afresh
    fourth = plasticsim.sweep("clustered", grid, seeds="0", out=out, scheduler=client,
                              overrides=TINY, force=True)  # fmt: skip
    assert not any(r["resumed"] for r in fourth.runs)
    assert len(list((out / "records").iterdir())) == 2


def test_failing_cell_is_recorded_and_the_sweep_goes_on(client, tmp_path, capsys):
    out = tmp_path / "s"
    # p_in = 1.5 passes the schema (a free-form generator parameter) and fails when the
    # network is built, on the worker
    argv = ["sweep", "clustered", "--grid", "network.params.p_in=0.9,1.5", "--seeds", "0-1"]
    argv += ["--out", str(out), "--scheduler", client.scheduler.address, *set_args(TINY)]
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert "2 of 4 runs failed, in 1 cell(s)" in captured.err
    assert "network.params.p_in=1.5 (seeds 0, 1)" in captured.err
    assert "p_in == 1.5, must be in [0, 1]" in captured.err
    with open(out / "results.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 2 * 3 and {r["network.params.p_in"] for r in table} == {"0.9"}
    sweep_json = json.loads((out / "sweep.json").read_text())
    assert sweep_json["status"] == "failed"
    failed = [r for r in sweep_json["runs"] if r["status"] == "failed"]
    assert [r["cell"] for r in failed] == [1, 1] and "p_in == 1.5" in failed[0]["error"]
    record = json.loads((out / "records" / f"{failed[0]['key']}.json").read_text())
    assert "Traceback" in record["traceback"]
    # the API raises after writing, with the result attached
    with pytest.raises(SweepError, match=r"network.params.p_in=1.5") as info:
        plasticsim.sweep("clustered", ["network.params.p_in=0.9,1.5"], seeds="0-1", out=out,
                         scheduler=client, overrides=TINY)  # fmt: skip
    res = info.value.result
    assert [r["resumed"] for r in res.runs] == [True, True, False, False]  # failures retried


def test_a_lost_worker_does_not_lose_the_sweep(client, tmp_path):
    out = tmp_path / "s"
    pids = list(client.run(os.getpid).values())
    killed = []

    def kill_one_worker():
        # wait until runs are under way (one finished), then kill a worker mid-run
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (out / "records").is_dir() and any((out / "records").iterdir()):
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    try:
        res = plasticsim.sweep("clustered", ["pruning.density=0.2,0.5"], seeds="0-1",
                               out=out, scheduler=client, overrides=SLOW)  # fmt: skip
    finally:
        killer.join()
        client.wait_for_workers(2, timeout=60)  # the nanny restarts it for later tests
    assert killed, "no run finished within 60 s"
    assert [r["status"] for r in res.runs] == ["ok"] * 4
    assert len(res.rows) == 4 * 3


def test_interrupt_keeps_finished_runs_and_the_rerun_resumes(tmp_path):
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "plasticsim", "sweep", "clustered", "--grid",
           "pruning.density=0.2,0.5", "--seeds", "0-2", "--out", str(out), "--workers", "2",
           *set_args(SLOW)]  # fmt: skip
    # A shell's background job may inherit SIGINT ignored: restore the default so that
    # Python turns it into KeyboardInterrupt, as on a terminal.
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            # a finished record, not the temporary file it is being written to
            if (out / "records").is_dir() and any(
                not p.name.startswith(".") for p in (out / "records").iterdir()
            ):
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted; the finished runs are kept" in err
    assert no_partial_files(out) == []
    done = [json.loads(p.read_text()) for p in (out / "records").iterdir()]
    assert 1 <= len(done) < 6 and {r["status"] for r in done} == {"ok"}
    with open(out / "results.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert sorted({r["run"] for r in table}) == sorted(r["key"] for r in done)
    assert len(table) == 3 * len(done)
    sweep_json = json.loads((out / "sweep.json").read_text())
    assert sweep_json["status"] == "interrupted"
    assert sweep_json["counts"] == {"ok": len(done), "failed": 0, "pending": 6 - len(done)}
    # the same command resumes: only the unfinished runs run
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"6 of 6 runs finished ({len(done)} resumed)" in rerun.stdout
    assert json.loads((out / "sweep.json").read_text())["status"] == "complete"


def test_sweep_through_a_dask_scheduler_started_on_localhost(tmp_path, capsys):
    """``dask scheduler`` and ``dask worker``, as the README tells a cluster user."""
    sched_file = tmp_path / "scheduler.json"
    bindir = Path(sys.executable).parent
    dask = [str(bindir / "dask")] if (bindir / "dask").exists() else [sys.executable, "-m",
                                                                         "dask"]  # fmt: skip
    procs = [
        subprocess.Popen(
            [
                *dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(sched_file),
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs.append(
            subprocess.Popen(
                [
                    *dask,
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--no-dashboard",
                    "--name",
                    "w0",
                ],  # fmt: skip
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        with distributed.Client(address, timeout="30s") as c:
            c.wait_for_workers(1, timeout=60)
        out = tmp_path / "s"
        argv = ["sweep", "clustered", "--grid", "pruning.density=0.2,0.5", "--seeds", "0-1",
                "--out", str(out), "--scheduler", address, *set_args(TINY)]  # fmt: skip
        assert cli.main(argv) == 0
        assert "4 of 4 runs finished" in capsys.readouterr().out
        sweep_json = json.loads((out / "sweep.json").read_text())
        assert sweep_json["scheduler"] == address and sweep_json["workers"] == 1
        hosts = {json.loads(p.read_text())["pid"] for p in (out / "records").iterdir()}
        assert os.getpid() not in hosts  # the runs ran on the worker, not here
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_workers_get_one_blas_thread_and_their_own_brian2_cache(client, tmp_path):
    """An online run on the workers: Brian2 imported in each worker's main thread (it
    installs a SIGINT handler), each worker compiling into its own cache directory."""
    res = plasticsim.sweep(
        "clustered",
        ["pruning.density=0.3"],
        seeds=[0],
        out=tmp_path / "s",
        scheduler=client,
        overrides=[
            *TINY,
            "pruning.online=true",
            "online.target=numpy",
            "online.sleep=4.0",
            "online.burn_in=1.0",
            "online.dt=0.02",
        ],  # fmt: skip
        cache_dir=str(tmp_path / "cache"),
    )
    assert [r["method"] for r in res.rows] == ["noise", "online", "weight", "uniform"]

    def worker_state():
        import gc

        from brian2 import prefs
        from threadpoolctl import threadpool_info

        threads = [p["num_threads"] for p in threadpool_info()]
        return prefs.codegen.runtime.cython.cache_dir, threads, gc.get_freeze_count()

    state = client.run(worker_state)
    dirs = [d for d, _, _ in state.values()]
    assert len(set(dirs)) == 2 and all(d.startswith(str(tmp_path / "cache")) for d in dirs)
    assert all(Path(d).is_dir() for d in dirs)
    assert all(threads and set(threads) == {1} for _, threads, _ in state.values())
    # Imports frozen out of the cyclic GC (Brian2 collects at every run): ~10^5 objects.
    assert all(frozen > 50_000 for _, _, frozen in state.values())
