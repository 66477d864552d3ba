"""Real SIGINT and SIGTERM sent to ``python -m plasticsim`` at several moments of a run.

Each test starts the command in a subprocess, reads its log lines (stderr, ``--verbose``)
until the line that marks the moment wanted, and then sends the signal: no fixed sleeps,
so the timing holds on a loaded machine. Inside Brian2's ``Network.run`` is marked by the
first progress line of a sleep epoch (Brian2 calls the progress callback from inside the
run), and the epoch is made long enough (hundreds of tau, many seconds) that the run is
still going when the signal lands. Every interruption must end the command with status
130, leave no result and no temporary file, and leave an existing result byte-identical.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from plasticsim import cli

# A small clustered network (45 neurons) whose sleep of 400 tau is 1e5 steps at online.dt
# 0.004: its burn-in (one Network.run) and its measurement (another) last many seconds
# each on Brian2's numpy target (about 5,000 steps/s measured). The first progress line
# comes from the burn-in's loop, 0.5 s (report_period) after it starts.
LONG_SLEEP = [
    "network.params.sizes=[20, 10, 15]",
    "online.target=numpy",
    "online.sleep=400.0",
    "online.burn_in=200.0",
    "pruning.offline=false",
    "pruning.controls=[]",
    "evaluation.dynamics.enabled=false",
    "output.figures=false",
]
# Offline only, fast up to the dynamics, whose 1e6 Euler steps take minutes.
LONG_DYNAMICS = [
    "network.params.sizes=[20, 10, 15]",
    "pruning.online=false",
    "evaluation.dynamics.trials=1",
    "evaluation.dynamics.duration=10000.0",
]
SMALL = [
    "network.params.sizes=[20, 10, 15]",
    "pruning.online=false",
    "evaluation.dynamics.trials=2",
    "evaluation.dynamics.duration=1.0",
    "output.dpi=30",
]
TIMEOUT = 240  # seconds; a run that is not interrupted lasts far longer than any wait


def sets(items):
    return [arg for item in items for arg in ("--set", item)]


class Command:
    """``python -m plasticsim ARGS`` in a subprocess, its stderr read line by line."""

    def __init__(self, *args, cwd: Path, env=None):
        self.stdout = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in interrupt()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "plasticsim", *args],
            cwd=cwd,
            stdout=self.stdout,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, marker: str) -> None:
        """Read stderr until a line contains ``marker``; fail if the command ends first."""
        while True:
            try:
                line = self._queue.get(timeout=TIMEOUT)
            except queue.Empty:
                self.proc.kill()
                self.proc.wait()
                pytest.fail(f"no {marker!r} within {TIMEOUT} s:\n{''.join(self.lines)}")
            if line is None:
                self.proc.wait()
                pytest.fail(
                    f"the command ended (status {self.proc.returncode}) before "
                    f"{marker!r}:\n{''.join(self.lines)}"
                )
            self.lines.append(line)
            if marker in line:
                return

    def interrupt(self, signum) -> tuple[int, str, str]:
        """Send ``signum``; return the exit status, the whole stderr and stdout."""
        self.proc.send_signal(signum)
        try:
            status = self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            status = None
        self._reader.join(timeout=10)
        while (line := self._queue.get_nowait() if not self._queue.empty() else None) is not None:
            self.lines.append(line)
        self.proc.stderr.close()
        self.stdout.seek(0)
        stdout = self.stdout.read()
        self.stdout.close()
        return status, "".join(self.lines), stdout


def snapshot(directory: Path) -> dict:
    """Every file under ``directory``: relative path -> bytes (and the empty directories)."""
    out = {}
    for path in sorted(directory.rglob("*")):
        rel = str(path.relative_to(directory))
        out[rel] = path.read_bytes() if path.is_file() else None
    return out


def previous_result(cwd: Path, out: Path) -> dict:
    """A complete earlier result in ``out`` (a small offline run), and its snapshot."""
    assert cli.main(["demo", "--out", str(out), "--quiet", *sets(SMALL)]) == 0
    before = snapshot(out)
    assert "metrics.json" in before and "structure.png" in before
    return before


def assert_interrupted(status, stderr, cwd: Path, expected: list[str]):
    assert status == 130, stderr
    assert "interrupted; no result was written" in stderr
    assert "results written" not in stderr
    assert "Traceback" not in stderr, stderr
    # no result, no temporary directory (.<name>.partial-*, .<name>.old-*), no probe
    assert sorted(p.name for p in cwd.iterdir()) == sorted(expected)


def test_sigint_inside_brian2_run_with_force_keeps_the_old_result(tmp_path):
    """Brian2 would turn this Ctrl-C into "stop the run": the run would go on and write."""
    out = tmp_path / "res"
    before = previous_result(tmp_path, out)
    args = ["run", "clustered", "--out", str(out), "--force", "--verbose", *sets(LONG_SLEEP)]
    cmd = Command(*args, cwd=tmp_path)
    cmd.wait_for("online: sleep 1/1: ")  # a progress line: from inside Network.run
    status, stderr, stdout = cmd.interrupt(signal.SIGINT)
    assert_interrupted(status, stderr, tmp_path, ["res"])
    assert "online: sleep 1/1 done" not in stderr
    assert stdout == ""
    assert snapshot(out) == before


def test_sigint_inside_a_lifetime_sleep_leaves_nothing(tmp_path):
    """The lifetime model (``pruning.online = false``, Brian2 all the same): the command's
    handler, not Brian2's "stop the run", takes the Ctrl-C of a sleep (10^6 steps)."""
    long_sleep = [
        "lifetime.cycles=1",
        'lifetime.rules=["noise"]',
        "lifetime.repeats=1",
        "lifetime.wake=10.0",
        "lifetime.sleep=20000.0",
        "online.target=numpy",
        "output.figures=false",
    ]
    cmd = Command("run", "lifetime", "--out", "res", *sets(long_sleep), cwd=tmp_path)
    cmd.wait_for("live: epoch 1 (wake)")  # the sleep's Network.run starts next
    time.sleep(1.0)
    status, stderr, stdout = cmd.interrupt(signal.SIGINT)
    assert_interrupted(status, stderr, tmp_path, [])
    assert "live: epoch 2" not in stderr
    assert "Simulation stop requested" not in stderr  # Brian2's own handler
    assert stdout == ""


def test_sigterm_while_building_the_brian2_network_leaves_nothing(tmp_path):
    """``demo``: its default output (results/demo) and the parent are not created."""
    # 900 neurons: building the Brian2 network takes seconds.
    big = ["network.params.sizes=[400, 200, 300]", *LONG_SLEEP[1:]]
    cmd = Command("demo", *sets(big), cwd=tmp_path)
    cmd.wait_for("online: build the Brian2 network ...")
    status, stderr, _ = cmd.interrupt(signal.SIGTERM)
    assert_interrupted(status, stderr, tmp_path, [])


def test_sigint_while_evaluating_the_dynamics(tmp_path):
    cmd = Command("run", "clustered", "--out", "res", *sets(LONG_DYNAMICS), cwd=tmp_path)
    cmd.wait_for("dynamics (1 trials")
    status, stderr, _ = cmd.interrupt(signal.SIGINT)
    assert_interrupted(status, stderr, tmp_path, [])
    assert "dynamics (1 trials x 3 networks) done" not in stderr


SAVE_HOOK = """
import sys
import threading

import numpy as np

_save = np.savez_compressed
_hold = threading.Event()


def savez_compressed(*args, **kwargs):
    # Mark the moment (arrays.npz is being written) and wait there for the signal.
    print("TEST: writing arrays.npz", file=sys.stderr, flush=True)
    _hold.wait(600)
    return _save(*args, **kwargs)


np.savez_compressed = savez_compressed
"""


def test_sigterm_while_saving_with_force_keeps_the_old_result(tmp_path):
    """Interrupted in the middle of writing: no partial result, the old one untouched.

    (SIGINT at the same moment: ``test_cli.py::test_interrupt_while_writing...``; both
    signals take the same path, a ``KeyboardInterrupt``.)
    The moment is made exact by a ``sitecustomize`` module in the subprocess that stops
    ``numpy.savez_compressed`` (called while the result is written) until the signal;
    everything else is the real command.
    """
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SAVE_HOOK)
    env = {"PYTHONPATH": os.pathsep.join([str(hooks), os.environ.get("PYTHONPATH", "")])}
    work = tmp_path / "work"
    work.mkdir()
    out = work / "res"
    before = previous_result(work, out)
    cmd = Command("run", "clustered", "--out", "res", "--force", *sets(SMALL), cwd=work, env=env)
    cmd.wait_for("writing results to res ...")
    cmd.wait_for("TEST: writing arrays.npz")
    status, stderr, _ = cmd.interrupt(signal.SIGTERM)
    assert_interrupted(status, stderr, work, ["res"])
    assert snapshot(out) == before


def test_snapshot_and_check_interrupted_inside_brian2_run(tmp_path):
    """snapshot --force keeps the old golden byte-identical; check stops with 130."""
    golden = tmp_path / "golden.json"
    offline = ["network.params.sizes=[20, 10, 15]", "pruning.online=false"]
    assert cli.main(["snapshot", "clustered", str(golden), "--quiet", *sets(offline)]) == 0
    before = golden.read_bytes()
    cmd = Command(
        "snapshot", "clustered", "golden.json", "--force", "--verbose", *sets(LONG_SLEEP),
        cwd=tmp_path,
    )  # fmt: skip
    cmd.wait_for("online: sleep 1/1: ")
    status, stderr, stdout = cmd.interrupt(signal.SIGINT)
    assert_interrupted(status, stderr, tmp_path, ["golden.json"])
    assert golden.read_bytes() == before and stdout == ""
    # check reruns a golden's overrides: here the long sleep, stopped inside it
    data = json.loads(before)
    data["metadata"]["overrides"] = LONG_SLEEP
    (tmp_path / "long.json").write_text(json.dumps(data))
    cmd = Command("check", "clustered", "long.json", "--verbose", cwd=tmp_path)
    cmd.wait_for("online: sleep 1/1: ")
    status, stderr, stdout = cmd.interrupt(signal.SIGTERM)
    assert_interrupted(status, stderr, tmp_path, ["golden.json", "long.json"])
    assert stdout == ""
