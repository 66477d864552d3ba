"""Run a sweep on Dask: :func:`sweep`, its result and its error."""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import time
from pathlib import Path

from .._validation import check_integer
from ..experiment import load_model
from ..experiment._run import _versions
from ._figures import sweep_figures
from ._grid import Cell, expand_grid, parse_grid, parse_seeds, run_key
from ._resume import SweepStore, write_json
from ._table import table_rows, write_csv

__all__ = ["sweep", "SweepResult", "SweepError", "plan_sweep"]

log = logging.getLogger(__package__)  # plasticsim.sweep


@dataclasses.dataclass(eq=False)
class SweepResult:
    """The outcome of :func:`sweep`.

    Attributes
    ----------
    path : pathlib.Path
        The sweep directory.
    columns : list of str
        The columns of ``results.csv``.
    rows : list of dict
        Its rows (Python values), one per (cell, seed, method) of the finished runs.
    runs : list of dict
        Per (cell, seed): ``cell``, ``settings``, ``seed``, ``key``, ``status`` (``"ok"``,
        ``"failed"``, or ``"pending"`` when interrupted), ``resumed`` and, for a failure,
        ``error``.
    figures : list of pathlib.Path
        The figures written.
    """

    path: Path
    columns: list
    rows: list
    runs: list
    figures: list

    @property
    def failed(self) -> list[dict]:
        """The runs that failed."""
        return [r for r in self.runs if r["status"] == "failed"]

    def summary(self) -> str:
        """A text summary: counts, the first headline metric per cell and method, files."""
        from ..plotting import METHOD_STYLE
        from ._figures import headline_metrics, mean_interval

        n_ok = sum(r["status"] == "ok" for r in self.runs)
        resumed = sum(r["resumed"] for r in self.runs)
        cells = list(dict.fromkeys((r["cell"], r["label"]) for r in self.runs))
        lines = [
            f"sweep    {len(cells)} cells x {len({r['seed'] for r in self.runs})} seeds: "
            f"{n_ok} of {len(self.runs)} runs finished ({resumed} resumed), "
            f"{len(self.failed)} failed"
        ]
        metrics = headline_metrics(self.columns)
        if metrics and self.rows:
            col, label = metrics[0]
            methods = list(dict.fromkeys(r["method"] for r in self.rows))
            names = [METHOD_STYLE.get(m, (m,))[0].split(" (")[0] for m in methods]
            width = max(len(c[1]) for c in cells)
            lines += ["", f"{label} (mean over seeds)", ""]
            lines.append("  ".join([f"{'cell':<{width}}", *(f"{n:>16}" for n in names)]))
            for index, text in cells:
                vals = []
                for m in methods:
                    got = [
                        r.get(col) for r in self.rows if r["cell"] == index and r["method"] == m
                    ]
                    mean = mean_interval(got)[0]
                    vals.append(f"{mean:>16.3g}" if got else f"{'-':>16}")
                lines.append("  ".join([f"{text:<{width}}", *vals]))
        lines += ["", f"results  {self.path}/"]
        lines += [f"         {n}" for n in ["results.csv", "sweep.json"]]
        lines += [f"         {p.name}" for p in self.figures]
        return "\n".join(lines)


class SweepError(RuntimeError):
    """Some runs of a sweep failed; the others' results were written (``.result``)."""

    def __init__(self, result: SweepResult):
        self.result = result
        failed = result.failed
        cells = {}
        for r in failed:
            cells.setdefault(r["label"], []).append(r["seed"])
        lines = [f"  {label} (seeds {', '.join(map(str, s))})" for label, s in cells.items()]
        first = failed[0]
        super().__init__(
            f"{len(failed)} of {len(result.runs)} runs failed, in {len(cells)} cell(s):\n"
            + "\n".join(lines)
            + f"\nfirst error ({first['label']}, seed {first['seed']}): {first['error']}\n"
            f"errors and tracebacks: {result.path / 'records'}/<run>.json"
        )


@dataclasses.dataclass
class _Plan:
    base: object
    axes: dict
    seeds: list
    cells: list
    out: Path


def plan_sweep(model, grid, *, seeds=None, out, overrides=()) -> _Plan:
    """Validate a sweep without running it: the model, the grid, every cell, the seeds.

    Raises the errors of :func:`sweep` (``ModelError`` naming a mistyped or invalid key,
    ``ValueError``, ``TypeError``) before anything runs.
    """
    base = load_model(model, overrides=overrides)
    axes = parse_grid(grid)
    if seeds is None:
        seeds = [base.config["seed"] if base.config["seed"] is not None else 0]
    seeds = parse_seeds(seeds)
    if "seed" in axes:
        raise ValueError("grid key 'seed' is not an axis: give the seeds with seeds= (--seeds).")
    cells = expand_grid(base, axes)
    seen = {}
    for cell in cells:  # cells that run the same settings would be one run twice
        key = run_key(cell.model, 0)
        if key in seen:
            raise ValueError(
                f"grid cells {seen[key].label!r} and {cell.label!r} run the same settings "
                "(name, description and output.* do not change a run); sweep other keys."
            )
        seen[key] = cell
    if out is None:
        raise TypeError("out must be a directory (str or path-like), got None.")
    return _Plan(base, axes, seeds, cells, Path(out))


def _open_client(scheduler, workers):
    """A ``distributed.Client``: to ``scheduler`` if given, else on a new LocalCluster.

    Returns ``(client, cluster or None, owned)``; ``owned`` tells whether to close it.
    """
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        return scheduler, None, False
    if scheduler is not None:
        return _connect(scheduler), None, True
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        # A free port: None still binds the scheduler's HTTP server to 8787 (and warns
        # when another cluster holds it).
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    )
    try:
        client = Client(cluster)
    except BaseException:
        cluster.close()
        raise
    return client, cluster, True


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def sweep(
    model,
    grid,
    *,
    seeds=None,
    out,
    workers=None,
    scheduler=None,
    overrides=(),
    keep_runs=False,
    force=False,
    progress=None,
    cache_dir=None,
) -> SweepResult:
    """Run a model over a grid of settings and seeds on Dask; write a table and figures.

    Every cell of the grid (the product of its axes) is the model with the cell's values
    set (as ``--set``), run once per seed; one Dask task is one (cell, seed) run. Results
    go to ``out``: ``results.csv`` (one row per cell, seed and method; every metric of
    the run's ``metrics.json`` flattened), ``sweep.json`` (model, grid, seeds, versions,
    timings, per-run status), one figure per swept axis, and the records that make a
    rerun resume.

    Parameters
    ----------
    model : str, path-like, dict or Model
        As for :func:`~plasticsim.run_model`.
    grid : mapping or sequence of str
        ``{"pruning.density": [0.05, 0.1]}`` or ``["pruning.density=0.05,0.1"]``; keys
        are the dotted paths of ``--set``.
    seeds : int, str or sequence of int, default=None
        ``"0-19"``, ``"0,3,7-9"``, ``[0, 1]``; default the model's seed (0 if it has none).
    out : str or path-like
        The sweep directory. An existing sweep there is resumed: runs whose settings and
        seed already finished are skipped (failed runs are retried).
    workers : int, default=None
        Worker processes of the local Dask cluster (one thread each); default the cores
        available. Not with ``scheduler``.
    scheduler : str or distributed.Client, default=None
        Run on an existing Dask cluster (``"tcp://host:8786"``) instead; its workers must
        see ``out`` at the same path when ``keep_runs`` is set.
    overrides : sequence of str or mapping, default=()
        Changes to the base model, as ``--set``.
    keep_runs : bool, default=False
        Also keep every run's full result directory (``out/runs/<run>/``); a finished
        run without one is run again.
    force : bool, default=False
        Discard a previous sweep in ``out`` and start afresh.
    progress : object, default=None
        ``start(phase, total)``, ``advance(n)``, ``finish()``; advanced once per finished
        run (default: log lines).
    cache_dir : str, default=None
        Parent of the workers' Brian2 Cython cache directories (one per worker).

    Returns
    -------
    SweepResult

    Raises
    ------
    ModelError
        For an invalid model or grid cell (names the key), before anything runs.
    TypeError, ValueError
        For invalid arguments, before anything runs.
    FileExistsError
        If ``out`` exists and is not a sweep (or ``force`` would replace the working
        directory).
    SweepError
        After the sweep, if some runs failed (the others are written; ``.result``).
    KeyboardInterrupt
        When interrupted: finished runs are kept and written to the table, no file is
        left half-written, and a rerun resumes.

    Notes
    -----
    Cost: one run per (cell, seed), spread over the workers; a lost worker's task is
    rescheduled by Dask (up to ``distributed.scheduler.allowed-failures`` times).

    Examples
    --------
    >>> import tempfile
    >>> tiny = ["network.params.sizes=[6, 4]", "pruning.online=false",
    ...         "evaluation.dynamics.enabled=false", "output.figures=false"]
    >>> with tempfile.TemporaryDirectory() as tmp:  # doctest: +SKIP
    ...     res = sweep("clustered", ["pruning.density=0.2,0.5"], seeds="0-1",
    ...                 out=tmp + "/sweep", workers=2, overrides=tiny)
    ...     len(res.rows)  # 2 cells x 2 seeds x 3 methods
    12
    """
    from ..experiment import LogProgress

    plan = plan_sweep(model, grid, seeds=seeds, out=out, overrides=overrides)
    if workers is not None:
        if scheduler is not None:
            raise ValueError(
                f"workers == {workers!r} is for the local cluster; with scheduler == "
                f"{scheduler!r} the cluster's own workers run the sweep (give one of them)."
            )
        workers = check_integer("workers", workers, minimum=1)
    if scheduler is not None and not isinstance(scheduler, str):
        from distributed import Client

        if not isinstance(scheduler, Client):
            raise TypeError(
                "scheduler must be an address like 'tcp://host:8786' or a "
                f"distributed.Client, got {type(scheduler).__name__} {scheduler!r}."
            )
    workers = workers or _available_cores()
    SweepStore.check(plan.out, force)
    progress = LogProgress(log) if progress is None else progress
    if not isinstance(scheduler, str):
        return _execute(plan, workers, scheduler, keep_runs, force, progress, cache_dir)
    # An address: reach the scheduler before anything is written.
    client = _connect(scheduler)
    try:
        return _execute(plan, workers, client, keep_runs, force, progress, cache_dir)
    finally:
        client.close()


class SchedulerUnreachable(ValueError):
    """No Dask scheduler answered at the address given to :func:`sweep`."""


_CONNECT_TIMEOUT = "30s"


def _connect(address: str):
    """A ``distributed.Client`` of the scheduler at ``address``, or a clear error."""
    from distributed import Client

    try:
        return Client(address, timeout=_CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerUnreachable(
            f"scheduler == {address!r}: no Dask scheduler answered within "
            f"{_CONNECT_TIMEOUT} ({exc}); start one with `dask scheduler` (and workers with "
            "`dask worker ADDRESS`), or omit the scheduler to run on a local cluster. "
            "Nothing was written."
        ) from None


def _execute(plan: _Plan, workers, scheduler, keep_runs, force, progress, cache_dir):
    t0 = time.perf_counter()
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    store = SweepStore(plan.out)
    store.prepare(force)
    runs, todo = [], []
    for cell in plan.cells:
        for seed in plan.seeds:
            key = run_key(cell.model, seed)
            run = {
                "cell": cell.index,
                "label": cell.label,
                "settings": cell.settings,
                "seed": seed,
                "key": key,
            }
            record = store.load(key)
            kept = not keep_runs or (store.run_dir(key) / "metrics.json").is_file()
            if record is not None and record.get("status") == "ok" and kept:
                run.update(status="ok", resumed=True, record=record)
            else:
                run.update(status="pending", resumed=False, record=None)
                todo.append((cell, run))
            runs.append(run)
    n_resumed = len(runs) - len(todo)
    info = {
        "started": started,
        "scheduler": None,
        "workers": None,
        "status": "running",
    }
    _write_sweep_json(plan, runs, info, t0)
    if n_resumed:
        log.info("resuming: %d of %d runs already finished", n_resumed, len(runs))
    try:
        if todo:
            _compute(plan, todo, store, workers, scheduler, keep_runs, progress, info, cache_dir)
        info["status"] = "complete"
    except KeyboardInterrupt:
        info["status"] = "interrupted"
        raise
    except BaseException:
        info["status"] = "error"  # e.g. no scheduler at the address given
        raise
    finally:
        if info["status"] == "complete" and any(r["status"] == "failed" for r in runs):
            info["status"] = "failed"
        result = _finish(
            plan, runs, info, t0, write_figures=info["status"] in ("complete", "failed")
        )
    if result.failed:
        raise SweepError(result)
    return result


def _compute(plan, todo, store, workers, scheduler, keep_runs, progress, info, cache_dir):
    from distributed import as_completed

    from ._tasks import WorkerSetup, run_task

    needs_brian = any(cell.model.config["pruning"]["online"] for cell, _ in todo)
    client, cluster, owned = _open_client(scheduler, workers)
    futures = {}
    try:
        info["scheduler"] = client.scheduler.address
        info["workers"] = len(client.scheduler_info(n_workers=-1)["workers"])
        setup = WorkerSetup(needs_brian, cache_dir, ignore_sigint=cluster is not None)
        client.register_plugin(setup, name=WorkerSetup.name)
        for cell, run in todo:
            spec = _spec(cell, run, store if keep_runs else None)
            fut = client.submit(run_task, spec, key=f"plasticsim-run-{run['key']}-{_nonce()}")
            futures[fut] = run
        log.info("%d runs on %d Dask workers (%s)", len(todo), info["workers"], info["scheduler"])
        progress.start(f"sweep: {len(todo)} runs", len(todo))
        for fut in as_completed(list(futures)):
            run = futures.pop(fut)
            record = _record_of(fut, run)
            store.save(record)
            _apply(run, record)
            if record["status"] == "failed":
                log.warning("%s, seed %d failed: %s", run["label"], run["seed"], record["error"])
            progress.advance(1)
        progress.finish()
    finally:
        if futures:
            try:
                client.cancel(list(futures), force=True)
            except Exception:  # pragma: no cover - the cluster may already be gone
                pass
        if owned:
            client.close()
            if cluster is not None:
                cluster.close()


def _nonce() -> str:
    return os.urandom(4).hex()


def _spec(cell: Cell, run: dict, store) -> dict:
    return {
        "model": cell.model,
        "seed": run["seed"],
        "key": run["key"],
        "cell": cell.index,
        "settings": cell.settings,
        "keep": None if store is None else str(store.run_dir(run["key"]).absolute()),
    }


def _record_of(fut, run) -> dict:
    """The task's record, or a failure record when Dask could not run it."""
    if fut.status == "finished":
        return fut.result()
    try:
        exc = fut.exception()  # e.g. KilledWorker: its workers died too often
    except BaseException as cancelled:  # cancelled by someone else on the cluster
        if isinstance(cancelled, KeyboardInterrupt):
            raise
        exc = cancelled
    return {
        "key": run["key"],
        "cell": run["cell"],
        "settings": run["settings"],
        "seed": run["seed"],
        "status": "failed",
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": None,
    }


def _apply(run: dict, record: dict) -> None:
    run["status"] = record["status"]
    run["record"] = record
    if record["status"] == "failed":
        run["error"] = record["error"]


def _write_sweep_json(plan: _Plan, runs: list, info: dict, t0: float) -> None:
    def entry(r):
        out = {k: r[k] for k in ("cell", "seed", "key", "status", "resumed")}
        rec = r.get("record") or {}
        if "wall_time" in rec:
            out["wall_time"] = rec["wall_time"]
        if r["status"] == "failed":
            out["error"] = r.get("error")
        return out

    counts = {s: sum(r["status"] == s for r in runs) for s in ("ok", "failed", "pending")}
    data = {
        "model": plan.base.config,
        "source": plan.base.source,
        "grid": plan.axes,
        "seeds": plan.seeds,
        "cells": [{"cell": c.index, "settings": c.settings, "label": c.label} for c in plan.cells],
        **info,
        "counts": counts,
        "versions": {**_versions(), **_dask_versions()},
        "timings": {
            "total": time.perf_counter() - t0,
            "runs_total": sum((r.get("record") or {}).get("wall_time", 0.0) for r in runs),
        },
        "runs": [entry(r) for r in runs],
    }
    write_json(plan.out / "sweep.json", data)


def _dask_versions() -> dict:
    from importlib import metadata

    out = {}
    for dist in ("dask", "distributed", "threadpoolctl"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover
            out[dist] = None
    return out


def _finish(plan: _Plan, runs: list, info: dict, t0: float, *, write_figures: bool):
    """Write the table, sweep.json and (when complete) the figures; return the result."""
    # The cell and settings of this sweep: a run resumed from a sweep over other axes
    # (the same full settings reached another way) is labelled as this grid's cell.
    records = [
        {**r["record"], "cell": r["cell"], "settings": r["settings"]}
        for r in runs
        if r["status"] == "ok"
    ]
    columns, rows = table_rows(records, list(plan.axes))
    write_csv(plan.out / "results.csv", columns, rows)
    figures = []
    if write_figures and rows:
        from ._resume import atomic_write

        dpi = plan.base.config["output"]["dpi"]
        for stem, fig in sweep_figures(rows, plan.axes, columns).items():
            path = plan.out / f"{stem}.png"
            atomic_write(path, lambda fh, fig=fig: fig.savefig(fh, format="png", dpi=dpi))
            figures.append(path)
    info["finished"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    info["figures"] = [p.name for p in figures]
    _write_sweep_json(plan, runs, info, t0)
    public = [{k: v for k, v in r.items() if k != "record"} for r in runs]
    return SweepResult(plan.out, columns, rows, public, figures)
