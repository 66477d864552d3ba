"""Parameter sweeps on Dask: a model over a grid of settings and seeds, a tidy table.

:func:`sweep` runs every cell of a grid (the product of its axes, keys as ``--set``
paths) once per seed, one Dask task per (cell, seed), on a local cluster of worker
processes or on an existing Dask cluster (``scheduler="tcp://host:8786"``, e.g. started
with ``dask scheduler`` / ``dask worker`` or dask-jobqueue). It writes ``results.csv``
(one row per cell, seed and method), ``sweep.json`` and one figure per swept axis, and
resumes: a rerun skips the runs whose settings and seed already finished.

The package, one concept per module: ``_grid`` (axes, cells, seeds, resume keys),
``_tasks`` (the worker setup and the task), ``_resume`` (the sweep directory and its
records), ``_table`` (the tidy table), ``_figures`` and ``_sweep`` (:func:`sweep`).
Dask is imported only when a sweep runs.

``plasticsim.sweep`` is this package and is also callable: ``plasticsim.sweep(...)`` is
``plasticsim.sweep.sweep(...)`` (the issue's API), while ``import plasticsim.sweep`` and
``from plasticsim.sweep import parse_grid`` keep working as for any package.
"""

import sys
import types

from ._grid import Cell, expand_grid, parse_grid, parse_seeds, run_key
from ._sweep import SweepError, SweepResult, plan_sweep, sweep

__all__ = [
    "sweep",
    "plan_sweep",
    "SweepResult",
    "SweepError",
    "Cell",
    "parse_grid",
    "parse_seeds",
    "expand_grid",
    "run_key",
]


class _CallablePackage(types.ModuleType):
    """This package's module type: calling it calls :func:`sweep`."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
