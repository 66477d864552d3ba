"""The ``plasticsim`` command: run model files and sweeps, the demo, list models, summarise.

Exit status: 0 on success, 2 for bad input or usage (an invalid model, a missing file, an
output that cannot be written, an existing result without ``--force``), 1 for a failure
while running, 130 when interrupted. Progress and log lines go to stderr (bars on a
terminal, plain lines otherwise, nothing with ``--quiet``); summaries go to stdout.

Interruptions: SIGINT (Ctrl-C) and SIGTERM (``kill``, a job scheduler) at any moment of
``run``, ``demo``, ``snapshot`` or ``check`` stop the command with exit status 130; nothing
is written and an existing result (also one ``--force`` was replacing) is left
byte-identical. Two things make this so in the command's process:

- its own handler for both signals raises ``KeyboardInterrupt`` wherever the command is,
  and the library's atomic writes (:meth:`plasticsim.experiment.Results.save`) clean up
  on it;
- for a model with online pruning, Brian2 is imported first and its
  ``core.stop_on_keyboard_interrupt`` preference is turned off, and the handler is
  installed again over the one Brian2 installs on import. Brian2's own handler would
  otherwise turn the first Ctrl-C into "stop the current ``Network.run``": the run would
  return normally with a cut-short measurement and the command would go on to write it.
  Either measure alone would do for SIGINT; both keep it so if one of them is undone.

The result is committed by a rename; a signal that arrives after it (in the last
milliseconds: removing a replaced result, printing the summary) cannot undo it: the
command then says so and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import shutil
import signal
import sys
import textwrap
import threading
import time
import traceback
from pathlib import Path

__all__ = ["main", "build_parser", "TerminalProgress", "summary_table"]

log = logging.getLogger("plasticsim")

_EXIT_OK, _EXIT_FAILURE, _EXIT_USAGE, _EXIT_INTERRUPTED = 0, 1, 2, 130


class _InputError(Exception):
    """Bad input found while resolving a command's inputs, before any work (exit 2)."""


@contextlib.contextmanager
def _inputs(*errors):
    """Resolve a command's inputs: a missing file (or ``errors``) there is bad input.

    Only here does a ``FileNotFoundError``, ``NotADirectoryError`` or ``PermissionError``
    (e.g. an output directory that cannot be written) mean exit status 2; raised later,
    while running, it is a failure (exit status 1).
    """
    try:
        yield
    except (FileNotFoundError, NotADirectoryError, PermissionError, *errors) as exc:
        raise _InputError(str(exc)) from exc


# =========================================================================== progress


class TerminalProgress:
    """Progress bars on a terminal: one line per phase, redrawn at most 10 times a second.

    Has the ``start(phase, total)``, ``advance(n)``, ``finish()`` interface of
    :class:`plasticsim.experiment.LogProgress`; phases without a ``total`` show a
    spinner-free elapsed time.
    """

    def __init__(self, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.phase = None
        self.total = None
        self.done = 0
        self.t0 = self.last = 0.0
        self.width = 0

    def _write(self, text: str) -> None:
        pad = max(0, self.width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self.width = len(text)

    def _line(self) -> str:
        elapsed = time.perf_counter() - self.t0
        cols = shutil.get_terminal_size((80, 24)).columns
        label = f"{self.phase:<34.34}"
        if not self.total:
            return f"{label} {elapsed:6.1f} s"
        frac = min(1.0, self.done / self.total)
        bar_width = max(10, min(40, cols - len(label) - 20))
        filled = int(round(frac * bar_width))
        bar = "#" * filled + "." * (bar_width - filled)
        return f"{label} [{bar}] {100 * frac:3.0f}% {elapsed:6.1f} s"

    def start(self, phase: str, total: int | None = None) -> None:
        self.phase, self.total, self.done = phase, total, 0
        self.t0 = self.last = time.perf_counter()
        self.width = 0
        self._write(self._line())

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last >= 0.1:
            self.last = now
            self._write(self._line())

    def finish(self) -> None:
        elapsed = time.perf_counter() - self.t0
        self._write(f"{self.phase:<34.34} done {elapsed:6.2f} s")
        self.stream.write("\n")
        self.stream.flush()
        self.width = 0
        self.phase = None

    def clear(self) -> None:
        """Erase the current bar (before a log line is printed)."""
        if self.phase is not None and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()

    def redraw(self) -> None:
        if self.phase is not None:
            self.width = 0
            self._write(self._line())


class _BarAwareHandler(logging.StreamHandler):
    """Log lines that do not collide with a progress bar on the same terminal."""

    def __init__(self, stream, bar: TerminalProgress | None):
        super().__init__(stream)
        self.bar = bar

    def emit(self, record):
        if self.bar is not None:
            self.bar.clear()
        super().emit(record)
        if self.bar is not None:
            self.bar.redraw()


@contextlib.contextmanager
def _output(quiet: bool, verbose: bool = False):
    """Route the library's log lines to stderr and choose the progress reporter.

    Yields the reporter; the ``plasticsim`` logger's state is restored afterwards (so that
    ``main`` can be called in-process, e.g. by tests).
    """
    from .experiment import LogProgress, NoProgress

    logger = logging.getLogger("plasticsim")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    bar = None
    if quiet:
        progress = NoProgress()
    elif sys.stderr.isatty():
        progress = bar = TerminalProgress(sys.stderr)
    else:
        progress = LogProgress(logging.getLogger("plasticsim.progress"))
    t0 = time.perf_counter()

    class _Elapsed(logging.Formatter):
        def format(self, record):
            prefix = f"[{time.perf_counter() - t0:7.2f}s] "
            if record.levelno >= logging.WARNING:
                prefix += f"{record.levelname.lower()}: "
            return prefix + record.getMessage()

    handler = _BarAwareHandler(sys.stderr, bar)
    handler.setFormatter(_Elapsed())
    for h in saved[0]:
        logger.removeHandler(h)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    try:
        yield progress
    finally:
        logger.removeHandler(handler)
        for h in saved[0]:
            logger.addHandler(h)
        logger.setLevel(saved[1])
        logger.propagate = saved[2]


# =========================================================================== output


def _fmt(value, percent=False) -> str:
    if value is None:
        return "-"
    if percent:
        return f"{100 * value:.1f}%"
    return f"{value:.3g}"


def summary_table(metrics: dict) -> str:
    """A text table of the per-method metrics of a run."""
    from .plotting import METHOD_STYLE

    slowest = metrics["model"]["evaluation"]["slowest"]
    header = ["method", "kept"]
    n = metrics["network"]["n"]
    # An m larger than the network reports all n modes: label (and look up) min(m, n).
    slowest = list(dict.fromkeys(min(m, n) for m in slowest))
    header += [f"slowest-{m} err" for m in slowest]
    header += ["median eig err", "traj err"]
    sparse = any("fragments" in e for e in metrics["methods"].values())
    if sparse:  # sparse networks: the groups cut loose, beside the slowest-mode errors
        header += ["groups", "isolated"]
    spiking = bool(metrics["network"].get("spiking"))
    if spiking:  # spiking models: rates and the between-cluster count covariance
        header += ["rate E", "rate I", "cov err"]
    rows = []
    for name, entry in metrics["methods"].items():
        spectra = entry.get("spectra", {})
        dyn = entry.get("dynamics", {})
        label = METHOD_STYLE.get(name, (name,))[0]
        if name == "noise" and metrics.get("scores", {}).get("method") == "sketch":
            label += ", sketched scores"
        row = [label, _fmt(entry["kept_fraction"], percent=True)]
        row += [_fmt(spectra.get(f"slowest{m}_rel_err_max")) for m in slowest]
        row.append(_fmt(spectra.get("eig_rel_err_median")))
        row.append("unstable" if dyn.get("skipped") else _fmt(dyn.get("trajectory_error_mean")))
        if sparse:
            frag = entry.get("fragments", {})
            row += [str(frag.get("components", "-")), str(frag.get("isolated", "-"))]
        if spiking:
            row += [f"x{entry['rate_ratio_exc']:.3f}", f"x{entry['rate_ratio_inh']:.3f}"]
            row.append(_fmt(entry.get("count_covariance_rel_err")))
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    return "\n".join(lines)


def lifetime_table(record: dict) -> str:
    """A text table of the lifetimes of a run, one row per sleep rule (mean over repeats)."""
    from .plotting import LIFETIME_STYLE

    header = (
        "sleep rule",
        "synapses (end)",
        "max",
        "recall (end)",
        "recall change/sleep",
        "eig change/sleep",
    )
    rows = [header]
    for rule, e in record["summary"].items():
        rows.append(
            (
                LIFETIME_STYLE.get(rule, (rule,))[0],
                f"{e['synapses_final']:.1f}",
                str(e["synapses_max"]),
                _fmt(e["completion_final"]),
                f"{e['completion_change_per_sleep']:+.3f}",
                _fmt(e["eigenvalue_error_per_sleep"]),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += [
        f"lifetimes: {record['repeats']} repeat(s) per rule; recall: pattern completion;",
        "eig change/sleep: largest relative change of an eigenvalue in a sleep (mean).",
    ]
    return "\n".join(lines)


def _describe(metrics: dict, path: Path | None) -> str:
    net = metrics["network"]
    model = metrics["model"]
    pr = model["pruning"]
    target = f"density {pr['density']:g}" if pr["density"] is not None else f"k {pr['k']:g}"
    kind = "symmetric" if net["symmetric"] else "asymmetric"
    lines = [
        f"model    {model['name']} ({metrics['source']})",
        f"network  {net['n']} neurons, {net['n_synapses']} synapses, {kind}; pruned to {target}",
        f"seed     {metrics['seed']}    run time {metrics['timings']['total']:.1f} s",
    ]
    lines += ["", summary_table(metrics)]
    lines += [
        "",
        "kept: fraction of the synapses kept; slowest-m err: largest relative eigenvalue",
        "error of the m slowest modes; traj err: mean relative trajectory error under",
        "identical noise ('-' where not computed).",
    ]
    if "spiking" in metrics:
        sk = metrics["spiking"]
        lines += [
            "slowest-m err: of the effective connectivity A_eff = -I + diag(g) J tau_s at the",
            "measured rates; rate E/I: population mean rates after pruning over before;",
            "cov err: relative Frobenius error of the spike-count covariance between clusters",
            f"(an unpruned rerun with other noise: {sk['count_covariance_floor']:.3g}).",
            f"traces against linear response: r = "
            f"{sk['traces']['correlation_with_linear_response']:.3f} (score / |J|: r = "
            f"{sk['traces']['correlation_per_weight']:.3f}).",
        ]
    if "lifetime" in metrics:
        lines += ["", lifetime_table(metrics["lifetime"])]
    if "not_computed" in metrics:
        lines += [
            "groups: connected groups of neurons after pruning; isolated: neurons left",
            "without a synapse (each adds an eigenvalue at minus its leak).",
        ]
        lines += [f"not computed: {k} ({v})" for k, v in metrics["not_computed"].items()]
    for text in metrics.get("warnings", []):
        lines.append(f"warning: {text}")
    if path is not None:
        figures = sorted(p.name for p in path.glob("*.png"))
        lines += ["", f"results  {path}/"]
        lines += [f"         {name}" for name in ["metrics.json", "arrays.npz", *figures]]
    return "\n".join(lines)


# =========================================================================== commands


class _Watch:
    """Whether the output ``path`` was written: its identity (device, inode) changed.

    A result (a directory) or a golden (a file) is committed by renaming a complete
    temporary one onto ``path``, which gives ``path`` a new inode; so an interruption
    that arrives after the commit is told from one before it.
    """

    def __init__(self, path: Path):
        self.path = path
        self.before = self._identity()

    def _identity(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def written(self) -> bool:
        now = self._identity()
        return now is not None and now != self.before


def _freeze_imports() -> None:
    """Before a run in Brian2: :func:`plasticsim._brian.freeze_imports`."""
    from ._brian import freeze_imports

    freeze_imports()


def _uses_brian2(config) -> bool:
    """Whether a model's run simulates in Brian2 (online sleeps, a lifetime)."""
    return bool(config["pruning"]["online"] or config["lifetime"]["enabled"])


def _run(args, path: Path, out: Path) -> int:
    from .experiment import run_model

    args.watch = _Watch(out)
    with _output(args.quiet, args.verbose) as progress:
        results = run_model(
            path,
            out=out,
            rng=args.seed,
            force=args.force,
            overrides=args.set or (),
            progress=progress,
        )
    print(_describe(results.metrics, results.path))
    return _EXIT_OK


def _cmd_run(args) -> int:
    from .experiment import load_model, resolve_model
    from .experiment._results import _check_target

    with _inputs():
        path = resolve_model(args.model)
        model = load_model(path, overrides=args.set or ())
        out = Path(args.out) if args.out else Path("results") / model.name
        _check_target(out, args.force)
    if _uses_brian2(model.config):
        args.signals.brian2()
        _freeze_imports()
    return _run(args, path, out)


def _free_dir(base: Path) -> Path:
    if not base.exists():
        return base
    i = 2
    while (candidate := base.with_name(f"{base.name}-{i}")).exists():
        i += 1
    return candidate


def _cmd_demo(args) -> int:
    from .experiment import load_model, shipped_models
    from .experiment._results import _check_target

    path = shipped_models()["clustered"]
    with _inputs():
        model = load_model(path, overrides=args.set or ())
        if args.out:
            out = Path(args.out)
        else:
            default = Path("results") / "demo"
            out = default if args.force else _free_dir(default)
        _check_target(out, args.force)
    if _uses_brian2(model.config):
        args.signals.brian2()
        _freeze_imports()
    return _run(args, path, out)


def _cmd_models(args) -> int:
    import tomllib

    from .experiment import models_dir, shipped_models

    print(f"models shipped with plasticsim ({models_dir()}):\n")
    for name, path in shipped_models().items():
        with open(path, "rb") as fh:
            text = " ".join(tomllib.load(fh).get("description", "").split())
        print(f"  {name}")
        for line in textwrap.wrap(text, width=84):
            print(f"      {line}")
    print("\nrun one with:  plasticsim run NAME   (or a path to your own .toml)")
    print("schema:        models/README.md")
    return _EXIT_OK


def _cmd_show(args) -> int:
    from .experiment import read_results

    with _inputs():
        try:
            results = read_results(args.dir)
            text = _describe(results.metrics, results.path)
        except (ValueError, KeyError, TypeError, IndexError) as exc:  # a corrupt result
            what = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
            raise _InputError(f"{args.dir!r} is not a readable plasticsim result: {what}") from exc
    print(text)
    return _EXIT_OK


def _cmd_snapshot(args) -> int:
    from .experiment import load_model
    from .testing import snapshot_model
    from .testing._models import _check_golden_target

    out = Path(args.out)
    with _inputs():
        model = load_model(args.model, overrides=args.set or ())
        _check_golden_target(out, args.force)
    if model.config["pruning"]["online"]:
        args.signals.brian2()
    args.watch = _Watch(out)
    with _output(args.quiet, args.verbose):
        golden = snapshot_model(
            args.model,
            out,
            seed=args.seed,
            overrides=args.set or None,
            rtol=args.rtol,
            force=args.force,
        )
    names = ", ".join(sorted(golden.spectra))
    print(f"golden spectra ({names}) of seed {golden.metadata['seed']} written to {out}")
    return _EXIT_OK


def _cmd_check(args) -> int:
    from .experiment import load_model
    from .testing import check_model, load_golden

    with _inputs():
        golden = load_golden(args.golden)  # invalid: GoldenError (exit 2), like a missing file
        model = load_model(args.model, overrides=golden.metadata.get("overrides") or ())
    if model.config["pruning"]["online"]:
        args.signals.brian2()
    with _output(args.quiet, args.verbose):
        ok, report = check_model(args.model, args.golden, rtol=args.rtol)
    print(report)
    return _EXIT_OK if ok else _EXIT_FAILURE


def _cmd_sweep(args) -> int:
    """``plasticsim sweep``: the work is :func:`plasticsim.sweep.sweep`'s."""
    from .experiment import resolve_model
    from .sweep import SweepError, plan_sweep, sweep
    from .sweep._resume import SweepStore
    from .sweep._sweep import SchedulerUnreachable

    with _inputs(ValueError, TypeError):
        path = resolve_model(args.model)
        grid = args.grid or ()
        plan = plan_sweep(path, grid, seeds=args.seeds, out=".", overrides=args.set or ())
        out = Path(args.out) if args.out else Path("results") / f"{plan.base.name}-sweep"
        SweepStore.check(out, args.force)
    failure = None
    with _output(args.quiet, args.verbose) as progress:
        try:
            result = sweep(
                path,
                grid,
                seeds=args.seeds,
                out=out,
                workers=args.workers,
                scheduler=args.scheduler,
                overrides=args.set or (),
                keep_runs=args.keep_runs,
                force=args.force,
                progress=progress,
            )
        except SweepError as exc:
            result, failure = exc.result, exc
        except SchedulerUnreachable as exc:
            print(f"plasticsim: error: {exc}", file=sys.stderr)
            return _EXIT_USAGE
        except KeyboardInterrupt:
            print(
                f"\nplasticsim: interrupted; the finished runs are kept in {out}/ "
                "(rerun the same command to resume).",
                file=sys.stderr,
            )
            return _EXIT_INTERRUPTED
    print(result.summary())
    if failure is not None:
        print(f"plasticsim: error: {failure}", file=sys.stderr)
        return _EXIT_FAILURE
    return _EXIT_OK


# =========================================================================== parser


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; a seed must be >= 0")
    return value


def _workers(text: str) -> int:
    value = _seed(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: --workers must be >= 1")
    return value


def _rtol(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: rtol must be a finite number >= 0")
    return value


def _add_run_options(p: argparse.ArgumentParser, *, default_out: str) -> None:
    p.add_argument("--out", metavar="DIR", help=f"result directory (default: {default_out})")
    p.add_argument(
        "--seed", type=_seed, metavar="N", help="seed of the run (overrides the model's)"
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="change a model key, e.g. --set pruning.density=0.2 --set "
        "'network.params.sizes=[40, 20, 30]' (VALUE is TOML; a bare word is a string; "
        "repeatable)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing result directory")
    _add_output_options(p)


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", "-q", action="store_true", help="no progress or log lines")
    p.add_argument("--verbose", "-v", action="store_true", help="debug log lines")


def build_parser() -> argparse.ArgumentParser:
    """The ``plasticsim`` argument parser."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="plasticsim",
        description="Noise-driven synaptic pruning of recurrent rate networks "
        "(Moore & Chaudhuri, NeurIPS 2020): run model files, get metrics and figures.",
        epilog="exit status: 0 success, 1 failure while running, 2 bad input or usage, "
        "130 interrupted. See 'plasticsim COMMAND --help'.",
    )
    parser.add_argument("--version", action="version", version=f"plasticsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "run",
        help="run a model file",
        description="Run a model (a TOML file, or the name of a shipped model) and write "
        "metrics.json, arrays.npz and PNG figures to a new directory.",
    )
    p.add_argument("model", metavar="MODEL", help="model file, or a shipped model's name")
    _add_run_options(p, default_out="results/<model name>")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser(
        "demo",
        help="run the default demo model",
        description="Run the clustered demo model shipped with plasticsim (a few hundred "
        "neurons, offline and online pruning against baselines), print a summary and "
        "where the figures are.",
    )
    _add_run_options(p, default_out="results/demo, or results/demo-2, ... if it exists")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "models", help="list the shipped models", description="List the shipped models."
    )
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser(
        "show",
        help="summarise a result directory",
        description="Summarise a result directory written by 'plasticsim run'.",
    )
    p.add_argument("dir", metavar="DIR", help="result directory")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser(
        "snapshot",
        help="save a model's pruned spectra as a golden file",
        description="Run a model and save the eigenvalues of the original and every pruned "
        "network (slowest first, JSON) with the seed and settings, for 'plasticsim check'.",
    )
    p.add_argument("model", metavar="MODEL", help="model file, or a shipped model's name")
    p.add_argument("out", metavar="OUT", help="golden file to write (.json)")
    p.add_argument("--seed", type=_seed, metavar="N", help="seed (default: the model's)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="change a model key")
    p.add_argument("--rtol", type=_rtol, help="tolerance stored in the golden (default 1e-6)")
    p.add_argument("--force", action="store_true", help="replace an existing golden")
    _add_output_options(p)
    p.set_defaults(func=_cmd_snapshot)

    p = sub.add_parser(
        "check",
        help="rerun a model and compare its pruned spectra with a golden file",
        description="Rerun a model with the golden's seed and settings and compare the "
        "spectra; exit status 1 with a readable diff when they drift.",
    )
    p.add_argument("model", metavar="MODEL", help="model file, or a shipped model's name")
    p.add_argument("golden", metavar="GOLDEN", help="golden file from 'plasticsim snapshot'")
    p.add_argument("--rtol", type=_rtol, help="relative tolerance (default: the golden's)")
    _add_output_options(p)
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser(
        "sweep",
        help="run a model over a grid of settings and seeds (Dask)",
        description="Run a model for every cell of a grid (the product of the --grid axes) "
        "and every seed, one Dask task per run, on a local cluster or an existing one; "
        "write results.csv (one row per cell, seed and method), sweep.json and figures. "
        "Rerunning the same command resumes.",
    )
    p.add_argument("model", metavar="MODEL", help="model file, or a shipped model's name")
    p.add_argument(
        "--grid",
        action="append",
        metavar="KEY=V1,V2,...",
        help="an axis: a model key (as --set) and its values (TOML, split at the commas "
        "outside brackets), e.g. --grid pruning.density=0.05,0.1,0.2 (repeatable)",
    )
    p.add_argument(
        "--seeds", metavar="SEEDS", help="e.g. 0-19 or 0,3,7-9 (default: the model's seed)"
    )
    p.add_argument("--out", metavar="DIR", help="sweep directory (default: results/<name>-sweep)")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=_workers,
        metavar="N",
        help="worker processes of the local Dask cluster (default: the available cores)",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on an existing Dask cluster, e.g. tcp://host:8786",
    )
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="change a model key")
    p.add_argument(
        "--keep-runs", action="store_true", help="also keep each run's result directory"
    )
    p.add_argument(
        "--force", action="store_true", help="discard a previous sweep in DIR and start afresh"
    )
    _add_output_options(p)
    p.set_defaults(func=_cmd_sweep)
    return parser


def _interrupt(signum, frame):
    """The command's handler of SIGINT and SIGTERM: stop where it is."""
    raise KeyboardInterrupt


class _Signals:
    """The command's signal handling (see the module docstring), undone by :meth:`restore`.

    Installed from the main thread only (the only one that may); ``main`` called from
    another thread leaves the process's handlers alone.
    """

    def __init__(self):
        self.active = threading.current_thread() is threading.main_thread()
        self.previous = {}
        self.brian2_pref = None
        if self.active:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, _interrupt)

    def brian2(self) -> None:
        """Import Brian2 now, with its stop-on-Ctrl-C off and this handler over its own."""
        if not self.active:
            return
        from brian2 import prefs

        if self.brian2_pref is None:
            self.brian2_pref = prefs.core.stop_on_keyboard_interrupt
        prefs.core.stop_on_keyboard_interrupt = False
        signal.signal(signal.SIGINT, _interrupt)  # over the handler Brian2 installs on import

    def hold(self) -> None:
        """Ignore further signals (while the command reports how it ended)."""
        if self.active:
            for signum in self.previous:
                signal.signal(signum, signal.SIG_IGN)

    def restore(self) -> None:
        if self.brian2_pref is not None:
            from brian2 import prefs

            prefs.core.stop_on_keyboard_interrupt = self.brian2_pref
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def _interrupted(args) -> int:
    watch = getattr(args, "watch", None)
    if watch is not None and watch.written():
        print(
            f"\nplasticsim: a signal arrived after {str(watch.path)!r} was complete; it is "
            "kept (the command had finished its work).",
            file=sys.stderr,
        )
        return _EXIT_OK
    print("\nplasticsim: interrupted; no result was written.", file=sys.stderr)
    return _EXIT_INTERRUPTED


def main(argv=None) -> int:
    """Entry point of the ``plasticsim`` command; returns the exit status."""
    signals = _Signals()
    try:
        return _main(argv, signals)
    finally:
        signals.restore()


def _main(argv, signals: _Signals) -> int:
    args = argparse.Namespace()
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version (0) or a usage error (2)
            return int(exc.code or 0)
        if args.command is None:
            parser.print_help(sys.stderr)
            return _EXIT_USAGE
        args.signals = signals
        return args.func(args)
    except KeyboardInterrupt:
        signals.hold()
        return _interrupted(args)
    except BrokenPipeError:  # e.g. `plasticsim models | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return _EXIT_FAILURE
    except Exception as exc:
        if _is_bad_input(exc):
            print(f"plasticsim: error: {exc}", file=sys.stderr)
            return _EXIT_USAGE
        # a failure while running: show where, exit 1
        if os.environ.get("PLASTICSIM_TRACEBACK", "1") != "0":
            traceback.print_exc()
        print(f"plasticsim: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return _EXIT_FAILURE


def _is_bad_input(exc: Exception) -> bool:
    """An invalid model or golden, an existing output, or an input error (exit 2)."""
    from .experiment import ModelError
    from .testing._golden import GoldenError

    return isinstance(exc, ModelError | GoldenError | FileExistsError | _InputError)
