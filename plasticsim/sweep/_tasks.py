"""What runs on a Dask worker: the worker's setup and one task per (cell, seed) run.

:class:`WorkerSetup` is a ``distributed.WorkerPlugin``: on every worker, including one
that joins or is restarted later, it limits BLAS and OpenMP pools to one thread
(threadpoolctl: the workers share the cores, one run each), quiets the library's log
lines (each run's warnings are recorded in its metrics), and, when a run of the sweep
uses the online simulator, imports Brian2 in the worker's main thread (Brian2 installs a
SIGINT handler on import, which only the main thread may do; tasks run in worker threads),
gives the worker its own Cython cache directory, so that no two workers compile into
the same directory at once, and freezes the imported modules out of the cyclic garbage
collector (``plasticsim._brian.freeze_imports``: Brian2 collects at every run).

:func:`run_task` runs one (cell, seed) in memory and returns a JSON-ready record; a
failure of the run is part of the record (the sweep goes on), never an exception.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import threading
import time
import traceback
from pathlib import Path

from distributed import WorkerPlugin

__all__ = ["WorkerSetup", "run_task", "worker_cache_dir"]


def worker_cache_dir(root: str, worker_name) -> str:
    """The Cython cache directory of one worker: ``<root>/<host>-<worker name>``.

    :class:`WorkerSetup`'s default ``root`` is ``plasticsim-workers`` inside Brian2's
    default cache directory (``brian_extensions`` in Cython's cache directory, itself
    ``$CYTHON_CACHE_DIR`` when set). Worker names are unique within a Dask cluster (a
    ``LocalCluster`` names its workers 0, 1, ...; ``dask worker --name`` sets one), and
    the host tells clusters on different machines apart: builds use ``-march=native``
    and must not be shared across CPUs.

    Examples
    --------
    >>> worker_cache_dir("/tmp/cache", "tcp://10.0.0.2:4000").startswith("/tmp/cache/")
    True
    >>> worker_cache_dir("/tmp/cache", 0).endswith("-0")
    True
    """
    host = socket.gethostname().split(".")[0] or "host"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{host}-{worker_name}")
    return os.path.join(root, name)


def _default_cache_root() -> str:
    from brian2.codegen.runtime.cython_rt.extension_manager import get_cython_cache_dir

    from .. import _brian  # noqa: F401  (Brian2 imported the plasticsim way)

    base = get_cython_cache_dir() or os.path.join(os.path.expanduser("~"), ".cython")
    return os.path.join(os.path.expanduser(base), "plasticsim-workers")


class WorkerSetup(WorkerPlugin):
    """Prepare a Dask worker for plasticsim runs (see the module docstring).

    Parameters
    ----------
    brian : bool
        Import Brian2 and set a per-worker Cython cache directory.
    cache_root : str, default=None
        Parent of the per-worker cache directories (see :func:`worker_cache_dir`).
    ignore_sigint : bool, default=False
        Ignore SIGINT in the worker: for the workers of a local cluster, which a Ctrl-C on
        the terminal also reaches; the sweep's own process handles it and stops them.
    """

    name = "plasticsim-sweep"

    def __init__(self, brian: bool, cache_root: str | None = None, ignore_sigint=False):
        self.brian = brian
        self.cache_root = cache_root
        self.ignore_sigint = ignore_sigint

    def setup(self, worker):
        # Load the BLAS libraries first: threadpoolctl limits the pools that are loaded.
        import numpy  # noqa: F401
        import scipy.linalg  # noqa: F401
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = "1"  # pools loaded later (e.g. by a compiled extension)
        logger = logging.getLogger("plasticsim")
        logger.handlers[:] = [logging.NullHandler()]
        logger.propagate = False
        if self.brian:
            from .._brian import brian2, freeze_imports

            root = self.cache_root or _default_cache_root()
            path = worker_cache_dir(root, worker.name)
            os.makedirs(path, exist_ok=True)
            brian2.prefs.codegen.runtime.cython.cache_dir = path
            brian2.prefs.logging.file_log = False
            brian2.prefs.logging.save_script = False
            freeze_imports()  # Brian2's gc.collect() at every run: only the run's objects
        if self.ignore_sigint and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_task(spec: dict) -> dict:
    """Run one (cell, seed); return its record (``status`` ``"ok"`` or ``"failed"``).

    ``spec`` holds ``model`` (a validated :class:`~plasticsim.experiment.Model`),
    ``seed``, ``key``, ``cell`` (index), ``settings`` and ``keep`` (a directory to save
    the run's full result to, or ``None``).
    """
    from ..experiment import NoProgress, run_model

    t0 = time.perf_counter()
    record = {
        "key": spec["key"],
        "cell": spec["cell"],
        "settings": spec["settings"],
        "seed": spec["seed"],
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    try:
        keep = spec.get("keep")
        results = run_model(
            spec["model"],
            rng=spec["seed"],
            out=keep,
            force=keep is not None and Path(keep, "metrics.json").is_file(),
            progress=NoProgress(),
        )
    except Exception as exc:  # the run failed: recorded, the sweep goes on
        record.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        )
    else:
        record.update(status="ok", metrics=results.metrics)
        if keep is not None:
            record["run_dir"] = str(keep)
    record["wall_time"] = time.perf_counter() - t0
    return record
