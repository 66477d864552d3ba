"""The tidy table of a sweep: one row per (cell, seed, method), written as CSV.

Columns, in order: ``cell`` (the cell's index), one column per swept key (named by the
key, e.g. ``pruning.density``; a list or table value is written as TOML text), ``seed``,
``method``, ``run`` (the run's resume key, also the name of its kept result directory),
then every scalar of the run's ``metrics.json`` flattened with dots: first the method's
own entries (``kept_fraction``, ``spectra.slowest3_rel_err_max``,
``dynamics.trajectory_error_mean``, ...), then the run's (``network.n``,
``network.n_synapses``, ``run.k``, ``run.density``, ``timings.total``,
``online.epochs.0.k``, ...). The settings of the run (``model``, ``source``, the network
generator and its parameters), stage seeds and versions are in ``sweep.json`` and the
records, not in the table. A metric a method does not have is an empty field.
"""

from __future__ import annotations

import csv
import io

from ._grid import _toml
from ._resume import atomic_write

__all__ = ["flatten", "table_rows", "write_csv", "FIXED_COLUMNS"]

#: The first columns, around the grid's own.
FIXED_COLUMNS = ("cell", "seed", "method", "run")

# Entries of metrics.json that are settings, identifiers or provenance, not metrics.
_NOT_METRICS = ("model", "source", "seed", "seeds", "methods", "versions", "created")
_NETWORK_SETTINGS = ("generator", "params", "file", "array")


def flatten(data, prefix: str = "") -> dict:
    """Nested dicts and lists -> ``{"a.b.0": scalar}``.

    Examples
    --------
    >>> flatten({"a": {"b": 1, "c": [2, {"d": None}]}, "e": "x"})
    {'a.b': 1, 'a.c.0': 2, 'a.c.1.d': None, 'e': 'x'}
    """
    out = {}
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, dict | list):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _run_metrics(metrics: dict) -> dict:
    """The run-level metrics of ``metrics.json``: everything but the methods and settings."""
    out = {}
    for key, value in metrics.items():
        if key in _NOT_METRICS:
            continue
        if key == "network":
            value = {k: v for k, v in value.items() if k not in _NETWORK_SETTINGS}
        if key == "warnings":
            out["warnings"] = "; ".join(value)
        elif isinstance(value, dict | list):
            out.update(flatten(value, f"{key}."))
        else:
            out[f"run.{key}"] = value
    return out


def table_rows(records: list[dict], axes: list[str]) -> tuple[list[str], list[dict]]:
    """The columns and rows of the table from the runs' records (failed runs left out)."""
    rows, method_cols, run_cols = [], {}, {}
    for rec in records:
        if rec.get("status") != "ok":
            continue
        metrics = rec["metrics"]
        run_level = _run_metrics(metrics)
        run_cols.update(dict.fromkeys(run_level))
        for method, entry in metrics["methods"].items():
            own = flatten(entry)
            method_cols.update(dict.fromkeys(own))
            row = {"cell": rec["cell"], **rec["settings"], "seed": rec["seed"]}
            row.update(method=method, run=rec["key"], **own, **run_level)
            rows.append(row)
    head = ["cell", *axes, "seed", "method", "run"]
    clash = set(head) & (set(method_cols) | set(run_cols))
    if clash:  # cannot happen with the schema's keys; refuse rather than overwrite
        raise ValueError(f"table columns {sorted(clash)} are both grid keys and metrics.")
    return head + list(method_cols) + list(run_cols), rows


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return _toml(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # round-trips exactly
    return str(value)


def write_csv(path, columns: list[str], rows: list[dict]) -> None:
    """Write the table atomically (a temporary file renamed into place)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell_text(row.get(c)) for c in columns])
    data = buf.getvalue().encode("utf-8")
    atomic_write(path, lambda fh: fh.write(data))
