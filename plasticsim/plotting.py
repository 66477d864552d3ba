"""Figures of a run: structure (the paper's Fig. 1), spectra, dynamics, online sleep.

Every function returns a :class:`matplotlib.figure.Figure` built without ``pyplot`` (no
global figure registry, no interactive backend): save it with ``fig.savefig(path)``,
which renders through Agg. Time is in units of the membrane time constant ``tau``;
eigenvalues in units of ``1/tau``.

Reference: E. Moore, R. Chaudhuri, NeurIPS 2020, arXiv:2011.07334, Fig. 1 (weights,
covariance, covariance difference, probabilities).
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

__all__ = [
    "plot_structure",
    "plot_spectra",
    "plot_trajectory_errors",
    "plot_online_states",
    "plot_trace_scores",
    "result_figures",
    "METHOD_STYLE",
]

#: Label and colour of each method, the same in every figure.
METHOD_STYLE = {
    "noise": ("noise-prune (offline, exact)", "C0"),
    "online": ("noise-prune (online, Brian2)", "C2"),
    "weight": ("weight control", "C3"),
    "uniform": ("uniform control", "C7"),
    "magnitude": ("magnitude control", "C1"),
}
_STATE_COLOURS = {"LABILE": "C1", "STABLE": "C0", "PRUNED": "0.8"}


def _style(name: str) -> tuple[str, str]:
    return METHOD_STYLE.get(name, (name, None))


def _boundaries(ax, labels) -> None:
    if labels is None:
        return
    edges = np.flatnonzero(np.diff(labels)) + 0.5
    for e in edges:
        ax.axhline(e, color="k", lw=0.6, alpha=0.6)
        ax.axvline(e, color="k", lw=0.6, alpha=0.6)


def _matrix_panel(
    fig, ax, M, title, cbar_label, *, cmap, norm=None, labels=None, vmin=None, vmax=None
):
    im = ax.imshow(M, cmap=cmap, norm=norm, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title)
    ax.set_xlabel("presynaptic neuron j")
    ax.set_ylabel("postsynaptic neuron i")
    _boundaries(ax, labels)
    cb = fig.colorbar(im, ax=ax, shrink=0.85)
    cb.set_label(cbar_label)


def plot_structure(A, C, P, *, labels=None, title=None) -> Figure:
    """The four panels of Moore & Chaudhuri's Fig. 1.

    Weights (off-diagonal ``A``), stationary covariance ``C``, covariance difference
    ``C_ii + C_jj - 2 sign(a_ij) C_ij`` (the variance of ``x_i - sign(a) x_j``, Eq. 4 of
    the paper) on the synapses, and keep probabilities ``P``.

    Parameters
    ----------
    A, C, P : ndarray of shape (n, n)
    labels : ndarray of int, shape (n,), default=None
        Group of every neuron (clusters); boundaries are drawn between groups.
    title : str, default=None

    Returns
    -------
    matplotlib.figure.Figure
    """
    A, C, P = (np.asarray(M, dtype=float) for M in (A, C, P))
    n = A.shape[0]
    syn = A != 0
    np.fill_diagonal(syn, False)
    fig = Figure(figsize=(11, 9.5), layout="constrained")
    axes = fig.subplots(2, 2)
    W = np.where(syn, A, np.nan)
    top = float(np.nanpercentile(np.abs(W), 99.5)) if syn.any() else 1.0
    # signed weights on a diverging map centred at 0; excitatory-only on a sequential one
    scale = (
        {"cmap": "RdBu_r", "norm": TwoSlopeNorm(0.0, -top, top)}
        if np.nanmin(W) < 0
        else {"cmap": "viridis", "vmin": 0.0, "vmax": top}
    )
    _matrix_panel(fig, axes[0, 0], W, "weights", "weight a_ij (1/τ)", labels=labels, **scale)
    cmax = float(np.percentile(np.abs(C), 99.5))
    _matrix_panel(
        fig,
        axes[0, 1],
        C,
        "covariance under noise",
        "C_ij (σ² units)",
        cmap="RdBu_r",
        norm=TwoSlopeNorm(0.0, -cmax, cmax),
        labels=labels,
    )
    d = np.diag(C)
    D = np.add.outer(d, d) - 2.0 * np.sign(A) * C
    _matrix_panel(
        fig,
        axes[1, 0],
        np.where(syn, D, np.nan),
        "covariance difference",
        "C_ii + C_jj − 2 sign(a_ij) C_ij",
        cmap="magma",
        labels=labels,
    )
    _matrix_panel(
        fig,
        axes[1, 1],
        np.where(syn, P, np.nan),
        "keep probability",
        "p_ij = min(1, k s_ij)",
        cmap="magma",
        vmin=0.0,
        vmax=1.0,
        labels=labels,
    )
    fig.suptitle(title or f"network structure and the noise-prune rule (n = {n})")
    return fig


def _real_negative(values) -> bool:
    v = np.asarray(values)
    return bool(np.all(np.abs(np.imag(v)) == 0) and np.all(np.real(v) < 0))


def plot_spectra(eigenvalues, matched, relative_errors, *, title=None) -> Figure:
    """Eigenvalues of the original against each pruned network, and their relative errors.

    Parameters
    ----------
    eigenvalues : ndarray of shape (n,)
        Eigenvalues of the original network, slowest (largest real part) first.
    matched : dict of str to ndarray of shape (n,)
        Per method, the paired eigenvalue of the pruned network.
    relative_errors : dict of str to ndarray of shape (n,)
        Per method, ``|matched - eigenvalues| / |eigenvalues|``.
    title : str, default=None

    Returns
    -------
    matplotlib.figure.Figure
        Three panels: pruned against original eigenvalue (``-lambda`` on log axes for
        real negative spectra, else the complex plane), relative error by mode (slowest
        first), and the distribution (empirical CDF) of the relative errors.
    """
    lam = np.asarray(eigenvalues)
    fig = Figure(figsize=(15, 4.8), layout="constrained")
    ax0, ax1, ax2 = fig.subplots(1, 3)
    all_real = _real_negative(lam) and all(_real_negative(m) for m in matched.values())
    if all_real:
        lo, hi = float(np.min(-lam.real)), float(np.max(-lam.real))
        ax0.plot([lo, hi], [lo, hi], color="k", lw=1, label="unchanged")
        for name, mu in matched.items():
            label, colour = _style(name)
            ax0.plot(-lam.real, -np.real(mu), ".", ms=4, alpha=0.7, color=colour, label=label)
        ax0.set_xscale("log")
        ax0.set_yscale("log")
        ax0.set_xlabel("−λ, original network (1/τ)")
        ax0.set_ylabel("−λ, pruned network (1/τ)")
        ax0.set_title("eigenvalues (slow modes bottom left)")
    else:
        ax0.plot(lam.real, lam.imag, "o", mfc="none", color="k", ms=5, label="original")
        for name, mu in matched.items():
            label, colour = _style(name)
            ax0.plot(np.real(mu), np.imag(mu), ".", ms=4, alpha=0.7, color=colour, label=label)
        ax0.axvline(0.0, color="k", lw=0.6, ls=":")
        ax0.set_xlabel("Re λ (1/τ)")
        ax0.set_ylabel("Im λ (1/τ)")
        ax0.set_title("eigenvalues in the complex plane")
    ax0.legend(fontsize="small")
    rank = np.arange(1, lam.size + 1)
    # Errors at round-off level (e.g. a mode every method keeps exactly) are drawn at the
    # floor so that the axes show the range that matters.
    floor = 1e-6
    for name, err in relative_errors.items():
        label, colour = _style(name)
        err = np.maximum(np.asarray(err, dtype=float), floor)
        ax1.plot(rank, err, lw=1, color=colour, label=label)
        srt = np.sort(err)
        ax2.step(
            srt, np.arange(1, srt.size + 1) / srt.size, where="post", color=colour, label=label
        )
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("mode rank (1 = slowest)")
    ax1.set_ylabel("relative eigenvalue error (floored at 1e-6)")
    ax1.set_title("error by mode")
    ax2.set_xscale("log")
    ax2.set_xlabel("relative eigenvalue error |μ − λ| / |λ| (floored at 1e-6)")
    ax2.set_ylabel("fraction of modes with error ≤ x")
    ax2.set_title("distribution of relative errors")
    ax2.legend(fontsize="small")
    fig.suptitle(title or "spectrum of the pruned networks")
    return fig


def plot_trajectory_errors(times, errors, *, tau_ms=None, skipped=(), title=None) -> Figure:
    """Relative trajectory error over time, mean ± sd over trials, per method.

    Parameters
    ----------
    times : ndarray of shape (n_rec,)
        Time in units of tau.
    errors : dict of str to ndarray of shape (trials, n_rec)
        ``||x_B - x_A|| / ||x_A||`` per trial, per method.
    tau_ms : float, default=None
        Membrane time constant, shown in the axis label.
    skipped : sequence of str
        Methods whose dynamics were skipped (unstable pruned network), named in the legend.

    Returns
    -------
    matplotlib.figure.Figure
    """
    times = np.asarray(times)
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.subplots()
    for name, err in errors.items():
        label, colour = _style(name)
        err = np.asarray(err, dtype=float)
        mean, sd = err.mean(axis=0), err.std(axis=0)
        ax.plot(times, mean, color=colour, label=f"{label} (n = {err.shape[0]} trials)")
        ax.fill_between(
            times, np.maximum(mean - sd, 0.0), mean + sd, color=colour, alpha=0.2, lw=0
        )
    for name in skipped:
        ax.plot([], [], " ", label=f"{_style(name)[0]}: unstable, not simulated")
    unit = "τ" if tau_ms is None else f"τ = {tau_ms:g} ms"
    ax.set_xlabel(f"time (units of {unit})")
    ax.set_ylabel("relative trajectory error ‖x_pruned − x‖ / ‖x‖")
    ax.set_ylim(bottom=0.0)
    ax.set_title(title or "dynamics under identical noise and input (mean ± sd)")
    ax.legend(fontsize="small")
    return fig


def plot_online_states(counts, *, title=None) -> Figure:
    """Synapse states over the online epochs.

    Parameters
    ----------
    counts : ndarray of shape (n_epochs + 1, 3)
        Number of LABILE, STABLE and PRUNED (cumulative, including compacted) synapses
        at the start and after every epoch.

    Returns
    -------
    matplotlib.figure.Figure
    """
    counts = np.asarray(counts, dtype=float)
    x = np.arange(counts.shape[0])
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    bottom = np.zeros_like(x, dtype=float)
    for state in ("STABLE", "LABILE", "PRUNED"):
        idx = {"LABILE": 0, "STABLE": 1, "PRUNED": 2}[state]
        ax.bar(
            x,
            counts[:, idx],
            bottom=bottom,
            color=_STATE_COLOURS[state],
            label=state.lower(),
            width=0.7,
        )
        bottom += counts[:, idx]
    ax.set_xticks(x, ["start"] + [f"after {i}" for i in x[1:]])
    ax.set_xlabel("sleep epoch")
    ax.set_ylabel("number of synapses")
    ax.set_title(title or "synapse states over sleep epochs")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_trace_scores(estimated, exact, epoch=None, *, title=None) -> Figure:
    """Trace-estimated scores of the online rule against the exact scores.

    Parameters
    ----------
    estimated, exact : ndarray of shape (m,)
        ``trace / T`` and :func:`plasticsim.synapse_scores` of the same synapses.
    epoch : ndarray of int, shape (m,), default=None
        Sleep epoch of each value (one colour per epoch).

    Returns
    -------
    matplotlib.figure.Figure
    """
    est = np.asarray(estimated, dtype=float)
    ex = np.asarray(exact, dtype=float)
    epoch = np.zeros(est.size, dtype=int) if epoch is None else np.asarray(epoch)
    ok = (est > 0) & (ex > 0) & np.isfinite(est) & np.isfinite(ex)
    fig = Figure(figsize=(6, 5.5), layout="constrained")
    ax = fig.subplots()
    if ok.any():
        for e in np.unique(epoch[ok]):
            sel = ok & (epoch == e)
            r = np.corrcoef(est[sel], ex[sel])[0, 1] if sel.sum() > 1 else np.nan
            ax.plot(
                ex[sel],
                est[sel],
                ".",
                ms=3,
                alpha=0.5,
                label=f"epoch {e + 1}: r = {r:.3f} (m = {sel.sum()})",
            )
        lo = float(min(ex[ok].min(), est[ok].min()))
        hi = float(max(ex[ok].max(), est[ok].max()))
        ax.plot([lo, hi], [lo, hi], color="k", lw=1, label="estimate = exact")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend(fontsize="small")
    ax.set_xlabel("exact score s_ij = |a_ij| E[(x_i − sign(a_ij) x_j)²]")
    ax.set_ylabel("trace estimate trace_ij / T")
    ax.set_title(title or "local trace estimate against the exact score")
    return fig


def result_figures(results) -> dict:
    """All figures of a :class:`plasticsim.experiment.Results`, ``{file stem: Figure}``."""
    arrays, metrics, model = results.arrays, results.metrics, results.model
    methods = list(metrics["methods"])
    name = model.get("name", "model")
    figs = {}
    figs["structure"] = plot_structure(
        arrays["matrix_original"],
        arrays["covariance"],
        arrays["probabilities"],
        labels=arrays.get("labels"),
        title=f"{name}: weights, covariance, covariance difference, probabilities",
    )
    spectral = [m for m in methods if f"eigenvalues_{m}" in arrays]
    if spectral:
        figs["spectra"] = plot_spectra(
            arrays["eigenvalues_original"],
            {m: arrays[f"eigenvalues_{m}"] for m in spectral},
            {m: arrays[f"relative_errors_{m}"] for m in spectral},
            title=f"{name}: spectrum of the pruned networks",
        )
    simulated = [m for m in methods if f"trajectory_error_{m}" in arrays]
    skipped = [m for m in methods if metrics["methods"][m].get("dynamics", {}).get("skipped")]
    if simulated or skipped:
        figs["dynamics"] = plot_trajectory_errors(
            arrays.get("times", np.zeros(1)),
            {m: arrays[f"trajectory_error_{m}"] for m in simulated},
            tau_ms=model["neurons"]["tau"],
            skipped=skipped,
            title=f"{name}: trajectory error under identical noise (mean ± sd)",
        )
    if "online_state_counts" in arrays:
        figs["online_states"] = plot_online_states(
            arrays["online_state_counts"], title=f"{name}: synapse states over sleep epochs"
        )
    if "online_scores_estimated" in arrays:
        figs["online_traces"] = plot_trace_scores(
            arrays["online_scores_estimated"],
            arrays["online_scores_exact"],
            arrays.get("online_scores_epoch"),
            title=f"{name}: trace estimate against exact score",
        )
    return figs
