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
from matplotlib import colormaps
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

__all__ = [
    "pool_blocks",
    "pool_sparse",
    "plot_structure",
    "plot_structure_sparse",
    "plot_spectra",
    "plot_trajectory_errors",
    "plot_online_states",
    "plot_lifetime",
    "plot_trace_scores",
    "trace_ratio_summary",
    "plot_rasters",
    "plot_rates",
    "plot_spiking_traces",
    "plot_count_covariance",
    "result_figures",
    "METHOD_STYLE",
]

#: Label and colour of each method, the same in every figure.
METHOD_STYLE = {
    "noise": ("noise-prune (offline)", "C0"),
    "online": ("noise-prune (online, Brian2)", "C2"),
    "weight": ("weight control", "C3"),
    "uniform": ("uniform control", "C7"),
    "magnitude": ("magnitude control", "C1"),
}
_STATE_COLOURS = {"LABILE": "C1", "STABLE": "C0", "PRUNED": "0.8"}
#: Label and colour of each sleep rule of a lifetime.
LIFETIME_STYLE = {
    "noise": ("noise-prune sleep", "C0"),
    "weight": ("weight-based pruning", "C3"),
    "uniform": ("random pruning", "C7"),
    "none": ("sleep without pruning", "C1"),
}


def _style(name: str) -> tuple[str, str]:
    return METHOD_STYLE.get(name, (name, None))


def _boundaries(ax, labels) -> None:
    if labels is None:
        return
    edges = np.flatnonzero(np.diff(labels)) + 0.5
    for e in edges:
        ax.axhline(e, color="k", lw=0.6, alpha=0.6)
        ax.axvline(e, color="k", lw=0.6, alpha=0.6)


_POOLINGS = ("absmax", "mean")


def pool_blocks(M, block, *, how):
    """Pool a square matrix into ``block x block`` tiles, one value per tile.

    An image of an ``n x n`` matrix on fewer than ``n`` pixels per side shows an
    arbitrary subset of the entries (aliasing, moiré): a sparse synapse between clusters
    vanishes. Pooling first gives every pixel a value computed from all its entries.

    Parameters
    ----------
    M : array_like of shape (n, n)
        NaN marks an entry with nothing to show (no synapse); NaN entries are ignored.
    block : int
        Tile size; the last row and column of tiles are partial when ``block`` does not
        divide ``n``.
    how : {"absmax", "mean"}
        ``"absmax"``: the entry of largest absolute value, with its sign (a single strong
        or isolated entry survives, e.g. one long-range synapse among empty entries);
        ``"mean"``: the mean of the tile's entries.

    Returns
    -------
    ndarray of shape (ceil(n / block), ceil(n / block))
        NaN where a tile holds only NaN.

    Notes
    -----
    ``O(n^2)`` time and one copy of ``M``.

    Examples
    --------
    >>> import numpy as np
    >>> M = np.full((6, 6), np.nan)
    >>> M[0, 5] = -2.0  # one synapse
    >>> M[4, 4], M[5, 5] = 1.0, 3.0
    >>> pool_blocks(M, 3, how="absmax")
    array([[nan, -2.],
           [nan,  3.]])
    >>> pool_blocks(M, 3, how="mean")
    array([[nan, -2.],
           [nan,  2.]])
    """
    M = np.asarray(M, dtype=float)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"M has shape {M.shape}, must be square (n, n).")
    if isinstance(block, bool) or not isinstance(block, int | np.integer):
        raise TypeError(f"block == {block!r}, must be an integer.")
    if block < 1:
        raise ValueError(f"block == {block!r}, must be >= 1.")
    if how not in _POOLINGS:
        raise ValueError(f"how == {how!r}, must be one of {_POOLINGS}.")
    n = M.shape[0]
    nb = -(-n // block)
    padded = np.full((nb * block, nb * block), np.nan)
    padded[:n, :n] = M
    tiles = padded.reshape(nb, block, nb, block).transpose(0, 2, 1, 3).reshape(nb, nb, -1)
    present = ~np.isnan(tiles)
    empty = ~present.any(axis=-1)
    if how == "absmax":
        idx = np.argmax(np.where(present, np.abs(tiles), -1.0), axis=-1)
        out = np.take_along_axis(tiles, idx[..., None], axis=-1)[..., 0]
    else:
        count = present.sum(axis=-1)
        out = np.where(present, tiles, 0.0).sum(axis=-1) / np.maximum(count, 1)
    out[empty] = np.nan
    return out


def pool_sparse(M, block, *, how):
    """:func:`pool_blocks` for a ``scipy.sparse`` matrix: the stored entries only.

    The stored entries play the part of the non-NaN entries of :func:`pool_blocks`: a
    tile without a stored entry is NaN. Nothing ``n x n`` is formed.

    Parameters
    ----------
    M : scipy.sparse array of shape (n, n)
    block : int >= 1
    how : {"absmax", "mean"}

    Returns
    -------
    ndarray of shape (ceil(n / block), ceil(n / block))

    Notes
    -----
    ``O(m log m)`` time for ``m`` stored entries (a sort for ``"absmax"``), ``O(m)``
    memory plus the pooled image.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sps
    >>> M = sps.csr_array(([-2.0, 1.0, 3.0], ([0, 4, 5], [5, 4, 5])), shape=(6, 6))
    >>> pool_sparse(M, 3, how="absmax")
    array([[nan, -2.],
           [nan,  3.]])
    >>> pool_sparse(M, 3, how="mean")
    array([[nan, -2.],
           [nan,  2.]])
    """
    import scipy.sparse as sps

    if not sps.issparse(M) or M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise TypeError(f"M must be a square scipy.sparse matrix, got {type(M).__name__}.")
    if isinstance(block, bool) or not isinstance(block, int | np.integer):
        raise TypeError(f"block == {block!r}, must be an integer.")
    if block < 1:
        raise ValueError(f"block == {block!r}, must be >= 1.")
    if how not in _POOLINGS:
        raise ValueError(f"how == {how!r}, must be one of {_POOLINGS}.")
    C = sps.coo_array(M)
    C.sum_duplicates()
    nb = -(-M.shape[0] // int(block))
    key = (C.row.astype(np.int64) // block) * nb + C.col.astype(np.int64) // block
    out = np.full(nb * nb, np.nan)
    if how == "absmax":
        order = np.lexsort((np.abs(C.data), key))
        last = np.ones(order.size, dtype=bool)
        last[:-1] = key[order][1:] != key[order][:-1]
        out[key[order][last]] = C.data[order][last]
    else:
        count = np.bincount(key, minlength=nb * nb)
        total = np.bincount(key, weights=C.data, minlength=nb * nb)
        present = count > 0
        out[present] = total[present] / count[present]
    return out.reshape(nb, nb)


def _extend(data, vmin, vmax) -> str:
    """Colour-bar ``extend`` for the values of ``data`` beyond ``[vmin, vmax]``."""
    finite = data[np.isfinite(data)]
    low = finite.size > 0 and float(finite.min()) < vmin
    high = finite.size > 0 and float(finite.max()) > vmax
    return {(False, False): "neither", (True, False): "min", (False, True): "max"}.get(
        (low, high), "both"
    )


def _matrix_panel(
    fig,
    ax,
    M,
    title,
    cbar_label,
    *,
    cmap,
    block,
    how,
    n,
    norm=None,
    labels=None,
    vmin=None,
    vmax=None,
):
    """One matrix as an image in neuron coordinates, pooled into ``block``-tiles if > 1.

    A sparse ``M`` shows its stored entries (the others are blank), pooled sparsely."""
    import scipy.sparse as sps

    if sps.issparse(M):
        shown = pool_sparse(M, block, how=how)
    else:
        shown = pool_blocks(M, block, how=how) if block > 1 else M
    edge = shown.shape[0] * block - 0.5
    im = ax.imshow(
        shown,
        cmap=cmap,
        norm=norm,
        vmin=vmin,
        vmax=vmax,
        interpolation="nearest",
        extent=(-0.5, edge, edge, -0.5),
    )
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    if block > 1:
        what = "max |value|" if how == "absmax" else "mean"
        title = f"{title}\n({what} of {block} × {block} blocks)"
    ax.set_title(title)
    ax.set_xlabel("presynaptic neuron j")
    ax.set_ylabel("postsynaptic neuron i")
    _boundaries(ax, labels)
    lo, hi = (norm.vmin, norm.vmax) if norm is not None else (vmin, vmax)
    lo = np.nanmin(shown) if lo is None else lo
    hi = np.nanmax(shown) if hi is None else hi
    cb = fig.colorbar(im, ax=ax, shrink=0.85, extend=_extend(shown, lo, hi))
    cb.set_label(cbar_label)


def plot_structure(A, C, P, *, labels=None, title=None, max_blocks=300) -> Figure:
    """The four panels of Moore & Chaudhuri's Fig. 1.

    Weights (off-diagonal ``A``), stationary covariance ``C``, covariance difference
    ``C_ii + C_jj - 2 sign(a_ij) C_ij`` (the variance of ``x_i - sign(a) x_j``, Eq. 4 of
    the paper; the score of :func:`plasticsim.synapse_scores` over ``|a_ij|``) on the
    synapses, and keep probabilities ``P``.

    Parameters
    ----------
    A, C, P : ndarray of shape (n, n)
    labels : ndarray of int, shape (n,), default=None
        Group of every neuron (clusters); boundaries are drawn between groups.
    title : str, default=None
    max_blocks : int, default=300
        Largest number of rows (and columns) drawn per panel. A larger network is pooled
        (:func:`pool_blocks`) into tiles of ``ceil(n / max_blocks)`` neurons, so that
        no panel has more rows than pixels (a panel is about 3.1 inches, 370 pixels, wide
        at 120 dpi; :func:`result_figures` uses ``3 x dpi``):
        weights by the largest ``|a_ij|`` of a tile (with its sign: one long-range synapse
        stays visible), the covariance, covariance difference and probabilities by their
        mean over the tile's entries (over its synapses for the last two). The panel
        titles say so.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    The weight scale ends at the 99.5th percentile of ``|a_ij|`` (stronger synapses take
    the end colour), the covariance scale at the largest off-diagonal ``|C_ij|`` (larger
    variances on the diagonal are drawn black); the colour bar then gets an arrow.
    """
    from .rule import synapse_scores

    A, C, P = (np.asarray(M, dtype=float) for M in (A, C, P))
    n = A.shape[0]
    if isinstance(max_blocks, bool) or not isinstance(max_blocks, int | np.integer):
        raise TypeError(f"max_blocks == {max_blocks!r}, must be an integer.")
    if max_blocks < 1:
        raise ValueError(f"max_blocks == {max_blocks!r}, must be >= 1.")
    block = -(-n // int(max_blocks))
    syn = A != 0
    np.fill_diagonal(syn, False)
    fig = Figure(figsize=(11, 9.5), layout="constrained")
    axes = fig.subplots(2, 2)
    common = {"block": block, "n": n, "labels": labels}
    W = np.where(syn, A, np.nan)
    top = float(np.nanpercentile(np.abs(W), 99.5)) if syn.any() else 1.0
    # signed weights on a diverging map centred at 0; excitatory-only on a sequential one
    scale = (
        {"cmap": "RdBu_r", "norm": TwoSlopeNorm(0.0, -top, top)}
        if syn.any() and np.nanmin(W) < 0
        else {"cmap": "viridis", "vmin": 0.0, "vmax": top}
    )
    _matrix_panel(
        fig, axes[0, 0], W, "weights", "weight a_ij (1/τ)", how="absmax", **common, **scale
    )
    off = ~np.eye(n, dtype=bool)
    cmax = float(np.max(np.abs(C[off]))) if n > 1 else float(abs(C[0, 0]))
    d = np.diag(C)
    label = f"C_ij (σ² units); diagonal C_ii {d.min():.3g} … {d.max():.3g}"
    if d.max() > cmax:
        label += " (black: beyond the scale)"
    _matrix_panel(
        fig,
        axes[0, 1],
        C,
        "covariance under noise",
        label,
        # variances beyond the off-diagonal range in a colour of their own
        cmap=colormaps["RdBu_r"].with_extremes(over="k", under="k"),
        norm=TwoSlopeNorm(0.0, -cmax, cmax),
        how="mean",
        **common,
    )
    # The rule's score over |a_ij| (scores, not a second copy of the formula).
    D = synapse_scores(A, C)
    D[syn] /= np.abs(A[syn])
    _matrix_panel(
        fig,
        axes[1, 0],
        np.where(syn, D, np.nan),
        "covariance difference",
        "C_ii + C_jj − 2 sign(a_ij) C_ij",
        cmap="magma",
        how="mean",
        **common,
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
        how="mean",
        **common,
    )
    fig.suptitle(title or f"network structure and the noise-prune rule (n = {n})")
    return fig


def plot_structure_sparse(A, S, P, *, pruned=None, labels=None, title=None, max_blocks=300):
    """The structure panels for a sparse network, pooled, without any ``n x n`` array.

    Weights, covariance difference ``s_ij / |a_ij|`` (the variance of
    ``x_i - sign(a) x_j``; the scores' own estimate, e.g. sketched), keep probabilities,
    and the weights of a pruned network. The covariance itself is ``n x n`` and not
    drawn. Each panel pools tiles of ``ceil(n / max_blocks)`` neurons
    (:func:`pool_sparse`; weights by the largest ``|a_ij|``, the rest by their mean over
    the tile's synapses), as :func:`plot_structure` does.

    Parameters
    ----------
    A, S, P : scipy.sparse array of shape (n, n)
        Connectivity, scores and keep probabilities (``S`` and ``P`` on the synapses).
    pruned : scipy.sparse array of shape (n, n), default=None
        A pruned network (the fourth panel); ``None`` leaves the panel out.
    labels : ndarray of int, shape (n,), default=None
    title : str, default=None
    max_blocks : int, default=300

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    ``O(m log m)`` time for ``m`` synapses.
    """
    import scipy.sparse as sps

    from ._sparse import from_list, synapse_list, values_at

    n = A.shape[0]
    if isinstance(max_blocks, bool) or not isinstance(max_blocks, int | np.integer):
        raise TypeError(f"max_blocks == {max_blocks!r}, must be an integer.")
    if max_blocks < 1:
        raise ValueError(f"max_blocks == {max_blocks!r}, must be >= 1.")
    block = -(-n // int(max_blocks))
    A = sps.csr_array(A)
    i, j, a = synapse_list(A)
    W = from_list(n, i, j, a)
    D = from_list(n, i, j, values_at(sps.csr_array(S), i, j) / np.abs(a))
    Pv = from_list(n, i, j, values_at(sps.csr_array(P), i, j))
    panels = 4 if pruned is not None else 3
    fig = Figure(figsize=(11, 9.5) if panels == 4 else (16, 5.2), layout="constrained")
    axes = fig.subplots(2, 2).ravel() if panels == 4 else fig.subplots(1, 3)
    common = {"block": block, "n": n, "labels": labels}
    top = float(np.percentile(np.abs(a), 99.5))
    scale = (
        {"cmap": "RdBu_r", "norm": TwoSlopeNorm(0.0, -top, top)}
        if a.min() < 0
        else {"cmap": "viridis", "vmin": 0.0, "vmax": top}
    )
    _matrix_panel(fig, axes[0], W, "weights", "weight a_ij (1/τ)", how="absmax", **common, **scale)
    _matrix_panel(
        fig,
        axes[1],
        D,
        "covariance difference (from the scores)",
        "s_ij / |a_ij| = C_ii + C_jj − 2 sign(a_ij) C_ij",
        cmap="magma",
        how="mean",
        **common,
    )
    _matrix_panel(
        fig,
        axes[2],
        Pv,
        "keep probability",
        "p_ij = min(1, k s_ij)",
        cmap="magma",
        vmin=0.0,
        vmax=1.0,
        how="mean",
        **common,
    )
    if pruned is not None:
        bi, bj, b = synapse_list(sps.csr_array(pruned))
        _matrix_panel(
            fig,
            axes[3],
            from_list(n, bi, bj, b),
            "weights after noise-prune",
            "weight b_ij (1/τ)",
            how="absmax",
            **common,
            **scale,
        )
    fig.suptitle(
        title or f"network structure and the noise-prune rule (n = {n}, covariance not drawn)"
    )
    return fig


def _real_negative(values) -> bool:
    v = np.asarray(values)
    return bool(np.all(np.abs(np.imag(v)) == 0) and np.all(np.real(v) < 0))


def _number(v: float) -> str:
    """A tick label: plain decimals between 1e-3 and 1e4, else ``m×10^e`` in mathtext."""
    if v == 0 or 1e-3 <= abs(v) < 1e4:
        return f"{v:g}"
    e = int(np.floor(np.log10(abs(v))))
    m = v / 10.0**e
    mant = "" if np.isclose(m, 1.0) else f"{m:g}×"
    return f"${mant}10^{{{e}}}$"


def _log_ticks(ax, which="xy") -> None:
    """Readable log-axis ticks: 1-2-5 labels on an axis of less than two decades.

    Matplotlib labels the minor ticks of a short log axis in scientific notation
    (``2×10^0``, ``3×10^0``, ...), and the labels run into each other. Call after
    the data (and limits) are set.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for name in which:
        axis = ax.xaxis if name == "x" else ax.yaxis
        if axis.get_scale() != "log":
            continue
        lo, hi = sorted(ax.get_xlim() if name == "x" else ax.get_ylim())
        if lo <= 0 or hi / lo >= 100:
            continue
        subs = (1.0, 2.0, 5.0) if hi / lo >= 6 else (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
        axis.set_major_locator(LogLocator(base=10.0, subs=subs))
        axis.set_major_formatter(FuncFormatter(lambda v, _pos: _number(v)))
        axis.set_minor_formatter(NullFormatter())


#: Relative eigenvalue errors below this are round-off: the mode is kept exactly.
EXACT_ERROR = 1e-9


def _error_floor(relative_errors) -> float:
    """Bottom of the error axes: below the smallest error that is not round-off."""
    values = np.concatenate([np.ravel(np.asarray(e, dtype=float)) for e in relative_errors])
    real = values[np.isfinite(values) & (values >= EXACT_ERROR)]
    if real.size == 0:
        return EXACT_ERROR
    return float(real.min()) / 3.0


def plot_spectra(eigenvalues, matched, relative_errors, *, title=None, n_slowest=8) -> Figure:
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
    n_slowest : int, default=8
        Complex spectra: the zoom panel shows this many slowest modes.

    Returns
    -------
    matplotlib.figure.Figure
        Pruned against original eigenvalue (``-lambda`` on log axes for real negative
        spectra; else the complex plane and a zoom on the ``n_slowest`` slowest modes and
        their partners), relative error by mode (slowest first), and the distribution
        (empirical CDF) of the relative errors. The error axes start below the smallest
        error that is not round-off; errors below :data:`EXACT_ERROR` (a mode kept
        exactly, e.g. the uniform mode under the matched diagonal) are drawn on that
        floor with triangles and counted in the legend. One legend for all panels,
        below them.
    """
    lam = np.asarray(eigenvalues)
    all_real = _real_negative(lam) and all(_real_negative(m) for m in matched.values())
    if all_real:
        fig = Figure(figsize=(15, 5.4), layout="constrained")
        ax0, ax1, ax2 = fig.subplots(1, 3)
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
        _log_ticks(ax0)
    else:
        fig = Figure(figsize=(12, 9.5), layout="constrained")
        (ax0, axz), (ax1, ax2) = fig.subplots(2, 2)
        # the zoom: the slowest modes, those decaying at most 5 times faster than the
        # slowest (at most n_slowest), and the partners that fall near them
        rate = -lam.real
        k = int(np.sum(rate[: max(1, int(n_slowest))] <= 5.0 * max(rate[0], 0.0)))
        k = max(k, 1)
        for ax in (ax0, axz):
            sel = slice(None) if ax is ax0 else slice(0, k)
            ax.plot(
                lam.real[sel], lam.imag[sel], "o", mfc="none", color="k", ms=6, label="original"
            )
            for name, mu in matched.items():
                label, colour = _style(name)
                mu = np.asarray(mu)[sel]
                ax.plot(np.real(mu), np.imag(mu), ".", ms=5, alpha=0.8, color=colour, label=label)
            ax.axvline(0.0, color="k", lw=0.6, ls=":")
            ax.set_xlabel("Re λ (1/τ)")
            ax.set_ylabel("Im λ (1/τ)")
        ax0.set_title("eigenvalues in the complex plane")
        left = -1.3 * max(float(rate[k - 1]), 1e-12)
        right = -0.7 * float(rate[0]) - 0.05 * left
        near = np.concatenate([lam[:k]] + [np.asarray(m)[:k] for m in matched.values()])
        near = near[np.isfinite(near) & (near.real >= left) & (near.real <= right)]
        half = max(float(np.max(np.abs(near.imag))), 0.05 * (right - left)) * 1.15
        axz.set_xlim(left, right)
        axz.set_ylim(-half, half)
        axz.set_title(f"zoom: the {k} slowest mode{'s' if k > 1 else ''} and their partners")
        # where the zoom lies in the full plane (no connector lines across the figure)
        ax0.add_patch(
            Rectangle((left, -half), right - left, 2 * half, fill=False, ec="0.3", lw=0.8)
        )
    rank = np.arange(1, lam.size + 1)
    floor = _error_floor(relative_errors.values())
    n_exact = {}
    for name, err in relative_errors.items():
        label, colour = _style(name)
        err = np.asarray(err, dtype=float)
        exact = err < EXACT_ERROR
        n_exact[name] = int(exact.sum())
        shown = np.where(exact, floor, err)
        ax1.plot(rank, shown, lw=1, color=colour)
        if exact.any():
            ax1.plot(rank[exact], shown[exact], "v", ms=6, color=colour, clip_on=False)
        srt = np.sort(shown)
        ax2.step(srt, np.arange(1, srt.size + 1) / srt.size, where="post", color=colour)
    ax1.set_ylim(bottom=floor)
    ax2.set_xlim(left=floor)
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("mode rank (1 = slowest)")
    ax1.set_ylabel("relative eigenvalue error |μ − λ| / |λ|")
    ax1.set_title("error by mode")
    ax2.set_xscale("log")
    ax2.set_xlabel("relative eigenvalue error |μ − λ| / |λ|")
    ax2.set_ylabel("fraction of modes with error ≤ x")
    ax2.set_title("distribution of relative errors")
    _log_ticks(ax1, "y")
    _log_ticks(ax2, "x")
    handles, texts = ax0.get_legend_handles_labels()
    if any(n_exact.values()):
        from matplotlib.lines import Line2D

        counts = ", ".join(f"{_style(m)[0]} {c}" for m, c in n_exact.items() if c)
        handles.append(Line2D([], [], ls="none", marker="v", color="0.3"))
        texts.append(f"kept exactly (error < {EXACT_ERROR:g}), drawn on the floor: {counts}")
    fig.legend(
        handles, texts, loc="outside lower center", ncols=min(len(texts), 3), fontsize="small"
    )
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


def plot_lifetime(kind, rules, synapses, completion, leak, slowest, *, title=None) -> Figure:
    """A lifetime per sleep rule: synapses, recall, mean leak and slowest eigenvalues.

    Parameters
    ----------
    kind : ndarray of shape (n_epochs,)
        0 for the start, 1 after a wake, 2 after a sleep.
    rules : list of str
        The sleep rules (first axis of the other arrays).
    synapses, leak : ndarray of shape (n_rules, n_repeats, n_epochs)
    completion : ndarray of shape (n_rules, n_repeats, n_epochs, K)
        Pattern completion of each pattern (averaged over patterns here).
    slowest : ndarray of shape (n_rules, n_repeats, n_epochs, m)
        The ``m`` slowest eigenvalues (real parts).

    Returns
    -------
    matplotlib.figure.Figure
        Mean over the repeats, with a band of one standard deviation; wake epochs shaded.
    """
    kind = np.asarray(kind)
    x = np.arange(kind.size)
    fig = Figure(figsize=(11, 7), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True).ravel()
    panels = (
        (np.asarray(synapses, dtype=float), "synapses"),
        (np.asarray(completion).mean(axis=3), "pattern completion (recall)"),
        (np.asarray(leak), "mean leak (1/tau)"),
    )
    for q, rule in enumerate(rules):
        label, colour = LIFETIME_STYLE.get(rule, (rule, None))
        for ax, (values, _) in zip(axes, panels, strict=False):
            mean, sd = values[q].mean(axis=0), values[q].std(axis=0)
            ax.plot(x, mean, "o-", color=colour, label=label, ms=3)
            ax.fill_between(x, mean - sd, mean + sd, color=colour, alpha=0.15, lw=0)
        lam = np.asarray(slowest)[q].mean(axis=0)  # (n_epochs, m)
        for j in range(lam.shape[1]):
            axes[3].plot(
                x,
                lam[:, j],
                "-",
                color=colour,
                lw=1.2 if j == 0 else 0.7,
                label=label if j == 0 else None,
            )
    for ax, (_, ylabel) in zip(
        axes, (*panels, (None, "slowest eigenvalues (1/tau)")), strict=True
    ):
        for i in np.flatnonzero(kind == 1):
            ax.axvspan(i - 0.5, i + 0.5, color="0.92", lw=0)
        ax.set_ylabel(ylabel)
    for ax in axes[2:]:
        ax.set_xlabel("epoch (shaded: learning wake; others: sleep)")
    axes[0].legend(fontsize="small")
    fig.suptitle(title or "a lifetime of wake and sleep (mean ± sd over repeats)")
    return fig


def trace_ratio_summary(estimated, exact, expected=None) -> dict:
    """Agreement of trace estimates with the exact scores, and the predicted time-step bias.

    Parameters
    ----------
    estimated, exact : ndarray of shape (m,)
        ``trace / T`` and the exact (continuous-time) scores of the same synapses, > 0.
    expected : ndarray of shape (m,), default=None
        The scores of the simulated Euler-Maruyama chain
        (``synapse_scores(A, euler_covariance(A, h=dt / tau))``).

    Returns
    -------
    dict
        ``r`` (correlation of estimate and exact score), ``median`` and ``mean`` of the
        ratios ``estimated / exact``, and with ``expected`` ``predicted_mean``, the mean of
        ``expected / exact``: the expectation of ``mean`` (the ratio is linear in the
        traces, whose expectation is ``expected``), so ``mean - predicted_mean`` is
        statistical error alone. The median of noisy ratios has no such simple
        expectation when the predicted ratios vary between synapses.

    Examples
    --------
    >>> import numpy as np
    >>> s = trace_ratio_summary(np.array([1.1, 2.1, 3.3]), np.array([1.0, 2.0, 3.0]),
    ...                         np.array([1.05, 2.1, 3.15]))
    >>> round(s["mean"], 3), round(s["predicted_mean"], 3)
    (1.083, 1.05)
    """
    est = np.asarray(estimated, dtype=float)
    ex = np.asarray(exact, dtype=float)
    ratio = est / ex
    out = {
        "r": float(np.corrcoef(est, ex)[0, 1]) if est.size > 1 else float("nan"),
        "median": float(np.median(ratio)),
        "mean": float(np.mean(ratio)),
    }
    if expected is not None:
        out["predicted_mean"] = float(np.mean(np.asarray(expected, dtype=float) / ex))
    return out


#: Most points a trace-score panel draws; the statistics use every synapse.
MAX_TRACE_POINTS = 100_000


def plot_trace_scores(
    estimated, exact, epoch=None, *, expected=None, h=None, title=None, reference="exact"
):
    """Trace-estimated scores of the online rule against the exact scores.

    Parameters
    ----------
    estimated, exact : ndarray of shape (m,)
        ``trace / T`` and :func:`plasticsim.synapse_scores` of the same synapses.
    epoch : ndarray of int, shape (m,), default=None
        Sleep epoch of each value (one colour per epoch).
    expected : ndarray of shape (m,), default=None
        What the traces estimate without statistical error: the scores under the
        stationary covariance of the simulated Euler-Maruyama chain
        (:func:`plasticsim.euler_covariance`), which exceed the exact scores by the
        time-step bias ``O(h |lambda|)``.
    h : float, default=None
        The simulation step ``dt / tau``, for the legend.
    title : str, default=None
    reference : str, default="exact"
        How ``exact`` was computed, for the labels (e.g. ``"sketched"`` at scale).

    Returns
    -------
    matplotlib.figure.Figure
        Beyond :data:`MAX_TRACE_POINTS` synapses a fixed random subset is drawn (said in
        the panel titles); the legend's statistics cover every synapse.
        Left: estimate against exact score (log axes) with the identity line and, per
        epoch, the line ``estimate = (predicted mean ratio) x exact``. Right: the ratio
        ``estimate / exact`` against the exact score, with the per-synapse Euler-Maruyama
        expectation ``expected / exact`` and the mean ratios. The legend gives per epoch
        the correlation ``r``, the median and mean ratio, and the Euler-Maruyama
        prediction of the mean (:func:`trace_ratio_summary`).
    """
    est = np.asarray(estimated, dtype=float)
    ex = np.asarray(exact, dtype=float)
    epoch = np.zeros(est.size, dtype=int) if epoch is None else np.asarray(epoch)
    pred = None if expected is None else np.asarray(expected, dtype=float)
    ok = (est > 0) & (ex > 0) & np.isfinite(est) & np.isfinite(ex)
    if pred is not None:
        ok &= np.isfinite(pred) & (pred > 0)
    fig = Figure(figsize=(12, 5.6), layout="constrained")
    ax, axr = fig.subplots(1, 2)
    # Points drawn: every valid synapse, or a fixed random subset of MAX_TRACE_POINTS.
    drawn = ok.copy()
    shown = ""
    if ok.sum() > MAX_TRACE_POINTS:
        keep = np.random.default_rng(0).choice(np.flatnonzero(ok), MAX_TRACE_POINTS, replace=False)
        drawn[:] = False
        drawn[keep] = True
        shown = f" ({MAX_TRACE_POINTS:,} of {int(ok.sum()):,} synapses drawn)"
    if not ok.any():
        for a in (ax, axr):
            a.text(0.5, 0.5, "no synapse with positive scores", ha="center", va="center")
    if ok.any():
        lo = float(min(ex[ok].min(), est[ok].min()))
        hi = float(max(ex[ok].max(), est[ok].max()))
        ax.plot([lo, hi], [lo, hi], color="k", lw=1, label=f"estimate = {reference}")
        axr.axhline(1.0, color="k", lw=1)
        for i, e in enumerate(np.unique(epoch[ok])):
            sel = ok & (epoch == e)
            colour = f"C{i % 10}"
            stats = trace_ratio_summary(est[sel], ex[sel], None if pred is None else pred[sel])
            ratio = est[sel] / ex[sel]
            text = (
                f"epoch {e + 1} (m = {sel.sum()}): r = {stats['r']:.3f}\n"
                f"estimate/{reference}: median {stats['median']:.3f}, "
                f"mean {stats['mean']:.3f}"
            )
            if pred is not None:
                text += f"\nEuler–Maruyama predicts mean {stats['predicted_mean']:.3f}"
                p_mean = stats["predicted_mean"]
                ax.plot([lo, hi], [p_mean * lo, p_mean * hi], color=colour, lw=1, ls="--")
            vis = drawn[sel]
            ax.plot(ex[sel][vis], est[sel][vis], ".", ms=3, alpha=0.5, color=colour, label=text)
            axr.plot(ex[sel][vis], ratio[vis], ".", ms=2, alpha=0.3, color=colour)
            axr.axhline(stats["mean"], color=colour, lw=1.5)
            if pred is not None:
                axr.plot(
                    ex[sel][vis], (pred[sel] / ex[sel])[vis], ".", ms=1.5, color="k", alpha=0.6
                )
                axr.axhline(p_mean, color=colour, lw=1.5, ls="--")
        if pred is not None:
            step = "" if h is None else f" at dt = {h:g} τ"
            ax.plot(
                [],
                [],
                color="0.3",
                ls="--",
                lw=1,
                label=f"predicted mean ratio × exact\n(Euler–Maruyama{step})",
            )
        # the right panel's key (lines in the epochs' colours there)
        ax.plot([], [], color="0.3", lw=1.5, label="right: mean ratio, measured")
        if pred is not None:
            ax.plot([], [], color="0.3", lw=1.5, ls="--", label="right: mean ratio, predicted")
            ax.plot(
                [], [], ".", ms=1.5, color="k", label=f"right: Euler–Maruyama expectation{step}"
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        axr.set_xscale("log")
        handles, texts = ax.get_legend_handles_labels()
        fig.legend(
            handles, texts, loc="outside lower center", ncols=3, fontsize="small", markerscale=3
        )
        _log_ticks(ax)
        _log_ticks(axr, "x")
    ax.set_xlabel(f"{reference} score s_ij = |a_ij| E[(x_i − sign(a_ij) x_j)²]")
    ax.set_ylabel("trace estimate trace_ij / T")
    ax.set_title(f"estimate against {reference} score{shown}")
    axr.set_xlabel(f"{reference} score s_ij")
    axr.set_ylabel(f"estimate / {reference}")
    axr.set_title(f"ratio: statistical error and the time-step bias{shown}")
    fig.suptitle(title or "local trace estimate against the exact score")
    return fig


# ------------------------------------------------------------------------ spiking


def _group_colours(labels):
    """One colour per group: excitatory clusters C0.., the last group (inhibitory) black."""
    g = int(np.max(labels)) + 1
    return [f"C{k % 10}" for k in range(g - 1)] + ["k"]


def plot_rasters(before, after, labels, *, window=2.0, title=None) -> Figure:
    """Spike rasters of a spiking network before and after sleep.

    Parameters
    ----------
    before, after : tuple (spike_i, spike_t)
        Neuron indices and times in seconds (from the start of each recording).
    labels : ndarray of int, shape (n,)
        Group of each neuron (excitatory clusters, the inhibitory population last).
    window : float, default=2.0
        Seconds shown from the start of each recording.
    title : str, default=None

    Returns
    -------
    matplotlib.figure.Figure
        Two rasters, coloured by group, with the population rate in 5 ms bins below.
    """
    labels = np.asarray(labels)
    colours = _group_colours(labels)
    fig = Figure(figsize=(12, 6), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True, height_ratios=[4, 1])
    for col, (name, (i, t)) in enumerate((("before sleep", before), ("after sleep", after))):
        i, t = np.asarray(i), np.asarray(t, dtype=float)
        sel = t < window
        ax, axp = axes[0, col], axes[1, col]
        for g, colour in enumerate(colours):
            m = sel & (labels[i] == g)
            ax.plot(t[m], i[m], ".", ms=1.0, color=colour)
        ax.set_ylim(-0.5, labels.size - 0.5)
        ax.set_title(f"{name}: {sel.sum()} spikes in {window:g} s")
        ax.set_ylabel("neuron")
        bins = np.arange(0.0, window + 1e-9, 0.005)
        counts, _ = np.histogram(t[sel], bins=bins)
        axp.plot(bins[:-1], counts / (0.005 * labels.size), color="0.3", lw=0.8)
        axp.set_xlabel("time (s)")
        axp.set_ylabel("rate (Hz)")
    fig.suptitle(title or "spike rasters before and after sleep")
    return fig


def plot_rates(original, rates, labels, *, title=None) -> Figure:
    """Firing rates of every pruned network against the unpruned network's.

    Parameters
    ----------
    original : ndarray of shape (n,)
        Rates (Hz) of the unpruned network.
    rates : dict of str to ndarray of shape (n,)
        Rates of each method's pruned network.
    labels : ndarray of int, shape (n,)
    title : str, default=None

    Returns
    -------
    matplotlib.figure.Figure
        One panel per method: each neuron's rate after against before, coloured by group,
        with the identity and ±20% lines; the legend gives the population means' ratios.
    """
    labels = np.asarray(labels)
    colours = _group_colours(labels)
    names = list(rates)
    fig = Figure(figsize=(3.4 * max(1, len(names)), 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, max(1, len(names)), sharex=True, sharey=True))
    orig = np.asarray(original, dtype=float)
    hi = max([orig.max()] + [np.max(r) for r in rates.values()]) * 1.05
    for ax, name in zip(axes, names, strict=False):
        r = np.asarray(rates[name], dtype=float)
        exc = labels < labels.max()
        ratio_e = r[exc].mean() / orig[exc].mean()
        ratio_i = r[~exc].mean() / orig[~exc].mean()
        for g, colour in enumerate(colours):
            m = labels == g
            ax.plot(orig[m], r[m], ".", ms=3, color=colour, alpha=0.6)
        ax.plot([0, hi], [0, hi], color="k", lw=1)
        for f in (0.8, 1.2):
            ax.plot([0, hi], [0, f * hi], color="k", lw=0.6, ls=":")
        ax.set_title(f"{_style(name)[0]}\nmean E ×{ratio_e:.3f}, I ×{ratio_i:.3f}", fontsize=9)
        ax.set_xlabel("rate before (Hz)")
        ax.set_xlim(0, hi)
        ax.set_ylim(0, hi)
    axes[0].set_ylabel("rate after pruning (Hz)")
    fig.suptitle(title or "firing rates after pruning (homeostasis on); dotted: ±20%")
    return fig


def plot_spiking_traces(estimated, theory, weights, *, title=None) -> Figure:
    """Trace scores of a spiking sleep against the linear-response scores.

    Parameters
    ----------
    estimated : ndarray of shape (m,)
        ``trace / T`` of each synapse (mV Hz^2).
    theory : ndarray of shape (m,)
        Linear-response score of each synapse divided by ``2 tau_r`` (what the traces
        estimate, mV Hz^2).
    weights : ndarray of shape (m,)
        The synapses' weights (mV).
    title : str, default=None

    Returns
    -------
    matplotlib.figure.Figure
        Left: estimate against theory (log axes, identity line), with Pearson ``r``.
        Right: both divided by ``|J|``, the covariance part ``S_ii + S_jj - 2 sgn S_ij``
        alone, with its ``r``: how much of the agreement the weights do not explain.
    """
    est = np.asarray(estimated, dtype=float)
    th = np.asarray(theory, dtype=float)
    w = np.abs(np.asarray(weights, dtype=float))
    ok = (est > 0) & (th > 0) & (w > 0)
    drawn = ok.copy()
    if ok.sum() > MAX_TRACE_POINTS:
        keep = np.random.default_rng(0).choice(np.flatnonzero(ok), MAX_TRACE_POINTS, replace=False)
        drawn[:] = False
        drawn[keep] = True
    fig = Figure(figsize=(11, 5), layout="constrained")
    ax, axw = fig.subplots(1, 2)
    for a, x, y, what in (
        (ax, th, est, "score"),
        (axw, th / np.where(w > 0, w, 1), est / np.where(w > 0, w, 1), "score / |J|"),
    ):
        if not ok.any():
            a.text(0.5, 0.5, "no synapse with positive scores", ha="center", va="center")
            continue
        r = float(np.corrcoef(x[ok], y[ok])[0, 1])
        exc = np.asarray(weights)[drawn] > 0
        a.plot(x[drawn][exc], y[drawn][exc], ".", ms=2, alpha=0.4, color="C3", label="excitatory")
        a.plot(
            x[drawn][~exc], y[drawn][~exc], ".", ms=2, alpha=0.4, color="C0", label="inhibitory"
        )
        lo, hi = float(min(x[ok].min(), y[ok].min())), float(max(x[ok].max(), y[ok].max()))
        a.plot([lo, hi], [lo, hi], color="k", lw=1, label="estimate = theory")
        a.set_xscale("log")
        a.set_yscale("log")
        a.set_xlabel(f"linear-response {what} / (2 τ_r)")
        a.set_ylabel(f"trace {what}")
        a.set_title(f"{what}: Pearson r = {r:.3f} (m = {int(ok.sum())})")
        a.legend(fontsize="small", markerscale=4)
    fig.suptitle(title or "spiking traces against linear-response scores")
    return fig


def plot_count_covariance(original, pruned, *, floor=None, title=None) -> Figure:
    """Pair-averaged spike-count covariance between groups, unpruned and per method.

    Parameters
    ----------
    original : ndarray of shape (g, g)
        Of the unpruned network (Hz), :func:`plasticsim.spiking.group_count_covariance`.
    pruned : dict of str to ndarray of shape (g, g)
    floor : ndarray of shape (g, g), default=None
        The unpruned network rerun with other noise (the measurement's spread).
    title : str, default=None

    Returns
    -------
    matplotlib.figure.Figure
        Heat maps on one colour scale; each title gives the relative Frobenius error
        against the unpruned network.
    """
    C0 = np.asarray(original, dtype=float)
    panels = [("unpruned", C0)]
    if floor is not None:
        panels.append(("unpruned, other noise", np.asarray(floor, dtype=float)))
    panels += [(_style(m)[0], np.asarray(C, dtype=float)) for m, C in pruned.items()]
    vmax = max(float(np.abs(C).max()) for _, C in panels) or 1.0
    fig = Figure(figsize=(2.8 * len(panels) + 1, 3.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    g = C0.shape[0]
    ticks = [f"E{k + 1}" for k in range(g - 1)] + ["I"]
    for ax, (name, C) in zip(axes, panels, strict=True):
        im = ax.imshow(C, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        err = np.linalg.norm(C - C0) / np.linalg.norm(C0)
        ax.set_title(name if C is C0 else f"{name}\nerror {err:.3f}", fontsize=9)
        ax.set_xticks(range(g), ticks)
        ax.set_yticks(range(g), ticks)
    fig.colorbar(im, ax=axes.tolist(), label="covariance per unit time (Hz)", shrink=0.8)
    fig.suptitle(title or "spike-count covariance between groups (pair average)")
    return fig


def _spiking_figures(results) -> dict:
    """Figures of a spiking model (``metrics["network"]["spiking"]``)."""
    arrays, metrics, model = results.arrays, results.metrics, results.model
    methods = list(metrics["methods"])
    name = model.get("name", "model")
    labels = arrays["labels"]
    figs = {
        "rasters": plot_rasters(
            (arrays["raster_before_i"], arrays["raster_before_t"]),
            (arrays["raster_after_i"], arrays["raster_after_t"]),
            labels,
            title=f"{name}: spikes before and after sleep (after: the online-pruned network)",
        ),
        "rates": plot_rates(
            arrays["rates_original"],
            {m: arrays[f"rates_{m}"] for m in methods},
            labels,
            title=f"{name}: firing rates after pruning with homeostasis (dotted: ±20%)",
        ),
        "online_traces": plot_spiking_traces(
            arrays["online_scores_estimated"],
            arrays["online_scores_exact"],
            arrays["matrix_original"][arrays["online_post"], arrays["online_pre"]],
            title=f"{name}: trace scores against linear-response scores",
        ),
        "online_states": plot_online_states(
            arrays["online_state_counts"], title=f"{name}: synapse states over the sleep"
        ),
        "count_covariance": plot_count_covariance(
            arrays["count_covariance_original"],
            {m: arrays[f"count_covariance_{m}"] for m in methods},
            floor=arrays.get("count_covariance_floor"),
            title=f"{name}: spike-count covariance between clusters (E1.., I)",
        ),
    }
    spectral = [m for m in methods if f"eigenvalues_{m}" in arrays]
    if spectral:
        figs["spectra"] = plot_spectra(
            arrays["eigenvalues_original"],
            {m: arrays[f"eigenvalues_{m}"] for m in spectral},
            {m: arrays[f"relative_errors_{m}"] for m in spectral},
            title=f"{name}: spectrum of the effective connectivity A_eff = -I + diag(g) J τ_s",
        )
    return figs


def result_figures(results) -> dict:
    """All figures of a :class:`plasticsim.experiment.Results`, ``{file stem: Figure}``.

    The structure figure is pooled to the pixels of the model's ``output.dpi``
    (:func:`plot_structure`, ``max_blocks = 3 x dpi``).
    """
    arrays, metrics, model = results.arrays, results.metrics, results.model
    if metrics.get("network", {}).get("spiking"):
        return _spiking_figures(results)
    methods = list(metrics["methods"])
    name = model.get("name", "model")
    figs = {}
    # A structure panel is about 3.1 inches wide: at most one matrix row per pixel.
    dpi = model.get("output", {}).get("dpi", 120)
    import scipy.sparse as sps

    if sps.issparse(arrays["matrix_original"]):
        figs["structure"] = plot_structure_sparse(
            arrays["matrix_original"],
            arrays["scores"],
            arrays["probabilities"],
            pruned=arrays.get("matrix_noise"),
            labels=arrays.get("labels"),
            max_blocks=max(1, int(3.0 * dpi)),
            title=f"{name}: weights, covariance difference, probabilities (pooled)",
        )
    else:
        figs["structure"] = plot_structure(
            arrays["matrix_original"],
            arrays["covariance"],
            arrays["probabilities"],
            labels=arrays.get("labels"),
            max_blocks=max(1, int(3.0 * dpi)),
            title=f"{name}: weights, covariance, covariance difference, probabilities",
        )
    spectral = [m for m in methods if f"eigenvalues_{m}" in arrays]
    if spectral:
        figs["spectra"] = plot_spectra(
            arrays["eigenvalues_original"],
            {m: arrays[f"eigenvalues_{m}"] for m in spectral},
            {m: arrays[f"relative_errors_{m}"] for m in spectral},
            title=f"{name}: spectrum of the pruned networks"
            + (
                f" (the {arrays['eigenvalues_original'].size} slowest modes; noise-prune "
                "scores sketched)"
                if metrics.get("scores", {}).get("method") == "sketch"
                else ""
            ),
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
    if "lifetime_synapses" in arrays:
        figs["lifetime"] = plot_lifetime(
            arrays["lifetime_kind"],
            metrics["lifetime"]["rules"],
            arrays["lifetime_synapses"],
            arrays["lifetime_completion"],
            arrays["lifetime_mean_leak"],
            arrays["lifetime_slowest"],
            title=f"{name}: a lifetime of learning wakes and pruning sleeps (mean ± sd)",
        )
    if "online_scores_estimated" in arrays:
        epochs = metrics.get("online", {}).get("epochs", [{}])
        ref = {"sketch": "sketched"}.get(epochs[0].get("reference_scores"), "exact")
        figs["online_traces"] = plot_trace_scores(
            arrays["online_scores_estimated"],
            arrays["online_scores_exact"],
            arrays.get("online_scores_epoch"),
            expected=arrays.get("online_scores_euler"),
            h=model.get("online", {}).get("dt"),
            title=f"{name}: trace estimate against {ref} score",
            reference=ref,
        )
    return figs
