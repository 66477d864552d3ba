"""Figures of a sweep: each headline metric against each swept axis, one line per method.

A point is the mean over seeds of a metric for one method in one cell; its bar is the 95%
confidence interval of that mean, ``mean +/- t_{0.975, n-1} s / sqrt(n)`` (Student's t,
``s`` the sample standard deviation over the ``n`` seeds; no bar for one seed). The
headline metrics are the largest relative error of the slowest modes (one panel per
``evaluation.slowest``), the median relative eigenvalue error, the quadratic-form epsilon
(symmetric networks) and the mean trajectory error. With several axes, each figure shows
one axis and is drawn once per combination of the other axes' values.

The x axis is logarithmic when the axis is a density, a connection probability or ``k``
(positive values), the y axis when a metric's positive values span more than two decades.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict

import numpy as np

from ._grid import _toml

__all__ = ["HEADLINE", "headline_metrics", "mean_interval", "sweep_figures"]

#: Headline metrics other than the slowest modes: ``(column, label)``.
HEADLINE = (
    ("spectra.eig_rel_err_median", "median relative eigenvalue error"),
    ("spectra.qf_epsilon", "quadratic-form epsilon"),
    ("dynamics.trajectory_error_mean", "mean trajectory error"),
)
_LOG_AXES = ("density", "p_in", "p_out", "p", "k")


def headline_metrics(columns) -> list[tuple[str, str]]:
    """The headline ``(column, label)`` pairs present among ``columns``."""
    slowest = sorted(
        (int(m.group(1)), c)
        for c in columns
        if (m := re.fullmatch(r"spectra\.slowest(\d+)_rel_err_max", c))
    )
    out = [(c, f"slowest-{m} modes: max relative error") for m, c in slowest]
    return out + [(c, label) for c, label in HEADLINE if c in columns]


def mean_interval(values) -> tuple[float, float]:
    """Mean and half-width of its 95% Student-t confidence interval (NaN for n < 2).

    Examples
    --------
    >>> m, h = mean_interval([1.0, 2.0, 3.0])
    >>> m, round(h, 4)  # t_{0.975, 2} = 4.3027, s = 1, n = 3
    (2.0, 2.4841)
    """
    from scipy.stats import t

    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    if x.size < 2:
        return float(x[0]), math.nan
    half = t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean()), float(half)


def _numeric(values) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text).strip("_")


def sweep_figures(rows: list[dict], axes: dict[str, list], columns: list[str]) -> dict:
    """The figures, ``{file stem: matplotlib Figure}``, from the table's rows.

    Parameters
    ----------
    rows : list of dict
        The table's rows (see :mod:`plasticsim.sweep._table`).
    axes : dict
        The grid, ``{key: [values]}``.
    columns : list of str
        The table's columns.
    """
    from matplotlib.figure import Figure

    from ..plotting import METHOD_STYLE

    metrics = headline_metrics(columns)
    if not rows or not metrics:
        return {}
    methods = list(dict.fromkeys(r["method"] for r in rows))
    keyed = defaultdict(list)
    for r in rows:
        keyed[(r["cell"], r["method"])].append(r)
    cell_of = {}
    for r in rows:
        cell_of[tuple(_toml(r[k]) for k in axes)] = r["cell"]
    figures = {}
    for axis, values in axes.items():
        others = [k for k in axes if k != axis]
        numeric = _numeric(values)
        leaf = axis.rsplit(".", 1)[-1]
        logx = numeric and leaf in _LOG_AXES and min(values) > 0
        order = sorted(values) if numeric else list(values)
        xs = order if numeric else list(range(len(order)))
        for combo in itertools.product(*(axes[k] for k in others)):
            fixed = dict(zip(others, combo, strict=True))
            ncols = min(3, len(metrics))
            nrows = math.ceil(len(metrics) / ncols)
            fig = Figure(figsize=(4.2 * ncols, 3.3 * nrows), layout="constrained")
            axs = fig.subplots(nrows, ncols, squeeze=False).ravel()
            for ax, (col, label) in zip(axs, metrics, strict=False):
                positive = []
                for method in methods:
                    name, colour = METHOD_STYLE.get(method, (method, None))
                    means, halves = [], []
                    for v in order:
                        settings = {**fixed, axis: v}
                        cell = cell_of.get(tuple(_toml(settings[k]) for k in axes))
                        vals = [r.get(col) for r in keyed.get((cell, method), [])]
                        m, h = mean_interval(vals)
                        means.append(m)
                        halves.append(h)
                    means, halves = np.array(means), np.array(halves)
                    if np.all(np.isnan(means)):
                        continue
                    positive.extend(means[means > 0])
                    ax.errorbar(
                        xs, means, yerr=np.where(np.isnan(halves), 0.0, halves),
                        marker="o", ms=4, capsize=3, color=colour, label=name,
                    )  # fmt: skip
                if logx:
                    ax.set_xscale("log")
                    ax.minorticks_off()
                if numeric:
                    ax.set_xticks(xs, [f"{v:g}" for v in order])
                if not numeric:
                    ax.set_xticks(xs, [_toml(v) for v in order], rotation=20)
                if positive and max(positive) > 100 * min(positive):
                    ax.set_yscale("log")
                ax.set_xlabel(axis)
                ax.set_title(label, fontsize=10)
                ax.grid(alpha=0.3)
            for ax in axs[len(metrics) :]:
                ax.set_visible(False)
            axs[0].legend(fontsize=8)
            n_seeds = len({r["seed"] for r in rows})
            where = ", ".join(f"{k}={_toml(v)}" for k, v in fixed.items())
            title = f"mean and 95% interval over {n_seeds} seed{'s' * (n_seeds != 1)}"
            fig.suptitle(title + (f"; {where}" if where else ""), fontsize=10)
            stem = _slug(axis + ("__" + "__".join(f"{k}={_toml(v)}" for k, v in fixed.items())
                                 if fixed else ""))  # fmt: skip
            figures[stem] = fig
    return figures
