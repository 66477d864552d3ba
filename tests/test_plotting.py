"""Tests of plasticsim.plotting: every figure renders to a valid, non-blank, labelled PNG."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread
from scipy import stats

from plasticsim import noise_covariance, pruning_probabilities, synapse_scores
from plasticsim.experiment import run_model
from plasticsim.networks import cluster_labels, clustered, dale
from plasticsim.plotting import (
    EXACT_ERROR,
    plot_online_states,
    plot_spectra,
    plot_structure,
    plot_trace_scores,
    plot_trajectory_errors,
    pool_blocks,
    pool_sparse,
    result_figures,
    trace_ratio_summary,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_valid_png(path, *, min_bytes=5_000):
    """A PNG file with content: signature, size, and pixels that are not one colour."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert len(data) > min_bytes, f"{path.name} is only {len(data)} bytes"
    img = imread(path)
    assert img.ndim == 3 and min(img.shape[:2]) >= 100
    rgb = img[..., :3]
    assert float(rgb.std()) > 0.02, f"{path.name} is blank"
    # More than 1% of the pixels are not background white.
    assert np.mean(np.any(rgb < 0.95, axis=-1)) > 0.01, f"{path.name} is nearly empty"


def assert_labelled(fig: Figure):
    for ax in fig.axes:
        assert ax.get_xlabel() or ax.get_ylabel(), f"unlabelled axes {ax.get_title()!r}"


def save(fig: Figure, tmp_path, name: str):
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=50)
    return path


def test_structure_panels(tmp_path):
    sizes = [12, 8, 10]
    A = clustered(sizes, rng=0)
    C = noise_covariance(A)
    P = pruning_probabilities(A, C=C, density=0.3)
    fig = plot_structure(A, C, P, labels=cluster_labels(sizes))
    titles = {ax.get_title() for ax in fig.axes}
    assert {
        "weights",
        "covariance under noise",
        "covariance difference",
        "keep probability",
    } <= titles
    assert_labelled(fig)
    assert_valid_png(save(fig, tmp_path, "structure"))


def test_structure_of_a_signed_network(tmp_path):
    A = dale(16, 4, rng=0)
    C = noise_covariance(A)
    P = pruning_probabilities(A, C=C, density=0.5)
    fig = plot_structure(A, C, P)
    assert_labelled(fig)
    assert_valid_png(save(fig, tmp_path, "signed"))


def test_spectra_real_and_complex(tmp_path):
    lam = -np.geomspace(0.05, 20, 30)
    rng = np.random.default_rng(0)
    matched = {"noise": lam * (1 + 0.05 * rng.random(30)), "weight": lam * 1.5}
    errors = {k: np.abs(v - lam) / np.abs(lam) for k, v in matched.items()}
    errors["noise"][0] = 0.0  # an exactly kept mode is drawn on the axis floor
    fig = plot_spectra(lam, matched, errors)
    assert fig.axes[0].get_xscale() == "log"
    assert_labelled(fig)
    assert_valid_png(save(fig, tmp_path, "real"))
    lamc = lam + 1j * rng.normal(size=30)
    fig = plot_spectra(lamc, {"uniform": lamc * 1.1}, {"uniform": np.full(30, 0.1)})
    assert fig.axes[0].get_xlabel() == "Re λ (1/τ)"
    assert_valid_png(save(fig, tmp_path, "complex"))


def test_trajectory_errors_with_a_skipped_method(tmp_path):
    t = np.linspace(0, 5, 51)
    rng = np.random.default_rng(1)
    errors = {"noise": 0.1 * rng.random((4, 51)), "uniform": 0.5 * rng.random((4, 51))}
    fig = plot_trajectory_errors(t, errors, tau_ms=10.0, skipped=["weight"])
    (ax,) = fig.axes
    assert "τ = 10 ms" in ax.get_xlabel()
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any("unstable" in label for label in labels)
    assert_valid_png(save(fig, tmp_path, "dynamics"))


def test_online_figures(tmp_path):
    counts = np.array([[100, 0, 0], [0, 30, 70], [10, 15, 75]])
    fig = plot_online_states(counts)
    assert_labelled(fig)
    assert_valid_png(save(fig, tmp_path, "states"))
    rng = np.random.default_rng(2)
    exact = rng.lognormal(size=200)
    est = exact * (1 + 0.1 * rng.normal(size=200))
    fig = plot_trace_scores(est, exact, np.repeat([0, 1], 100))
    assert_labelled(fig)
    assert_valid_png(save(fig, tmp_path, "traces"))
    # nothing positive to draw: still a labelled figure, no error
    assert_labelled(plot_trace_scores(np.zeros(3), np.zeros(3)))


@pytest.fixture(scope="module")
def online_results():
    model = {
        "seed": 0,
        "network": {"generator": "clustered", "params": {"sizes": [12, 8, 10], "p_out": 0.05}},
        "pruning": {"density": 0.3, "online": True, "controls": ["uniform"]},
        "online": {"dt": 0.01, "sleep": 4.0, "burn_in": 1.0},
        "evaluation": {"dynamics": {"trials": 2, "duration": 1.0, "dt": 0.02}},
    }
    return run_model(model)


def test_result_figures_of_an_online_run(online_results, tmp_path):
    figs = result_figures(online_results)
    assert sorted(figs) == ["dynamics", "online_states", "online_traces", "spectra", "structure"]
    for name, fig in figs.items():
        assert_labelled(fig)
        assert_valid_png(save(fig, tmp_path, name))


def test_result_figures_pool_the_structure_to_the_output_resolution(online_results):
    """30 neurons drawn at 5 dpi: 15 rows per panel fit, so 2 x 2 blocks."""
    res = online_results
    model = {**res.model, "output": {**res.model["output"], "dpi": 5}}
    low = type(res)(model=model, metrics=res.metrics, arrays=res.arrays)
    fig = result_figures(low)["structure"]
    assert panel(fig, "weights").get_title() == "weights\n(max |value| of 2 × 2 blocks)"
    assert panel(result_figures(res)["structure"], "weights").get_title() == "weights"


def test_result_figures_follow_what_was_computed(online_results):
    res = online_results
    arrays = {
        k: v
        for k, v in res.arrays.items()
        if not k.startswith(("online_", "eigenvalues_", "trajectory_error_"))
    }
    bare = type(res)(model=res.model, metrics=res.metrics, arrays=arrays)
    assert sorted(result_figures(bare)) == ["structure"]


# ------------------------------------------------------------------ what the figures show


def panel(fig, title):
    """The axes whose title starts with ``title``."""
    (ax,) = [ax for ax in fig.axes if ax.get_title().startswith(title)]
    return ax


def tick_labels_overlap(fig, ax, which):
    """Whether two visible tick labels of ``ax``'s x or y axis overlap once drawn."""
    fig.canvas.draw()
    axis = ax.xaxis if which == "x" else ax.yaxis
    boxes = [
        t.get_window_extent()
        for t in axis.get_ticklabels(which="both")
        if t.get_visible() and t.get_text()
    ]
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_pool_blocks_absmax_keeps_one_long_range_synapse():
    """n = 2000 neurons on 200 rows: one weak synapse between clusters stays visible."""
    n, block = 2000, 10
    rng = np.random.default_rng(0)
    W = np.full((n, n), np.nan)
    W[:1000, :1000] = rng.uniform(0.01, 0.03, (1000, 1000))  # a dense cluster
    W[1845, 17] = -0.004  # the only synapse between clusters, weak and inhibitory
    pooled = pool_blocks(W, block, how="absmax")
    assert pooled.shape == (200, 200)
    assert pooled[184, 1] == -0.004  # kept with its sign
    assert np.count_nonzero(~np.isnan(pooled[100:, :])) == 1  # nothing else outside
    # every tile of the cluster shows its largest |weight|
    tiles = W[:1000, :1000].reshape(100, 10, 100, 10)
    assert np.array_equal(pooled[:100, :100], tiles.max(axis=(1, 3)))
    # a mean would dilute the synapse by its empty neighbours only if NaN counted: it
    # does not, so a lone entry keeps its value there too
    assert pool_blocks(W, block, how="mean")[184, 1] == -0.004


def test_pool_blocks_mean_and_partial_tiles():
    rng = np.random.default_rng(1)
    M = rng.standard_normal((7, 7))
    pooled = pool_blocks(M, 3, how="mean")
    assert pooled.shape == (3, 3)
    assert np.isclose(pooled[0, 0], M[:3, :3].mean())
    assert np.isclose(pooled[2, 1], M[6:, 3:6].mean())  # partial tile: its entries only
    assert np.isclose(pooled[2, 2], M[6, 6])
    assert np.array_equal(pool_blocks(M, 1, how="mean"), M)


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "match"),
    [
        ((np.zeros((3, 4)), 2), {"how": "mean"}, ValueError, r"M has shape \(3, 4\)"),
        ((np.zeros((3, 3)), 0), {"how": "mean"}, ValueError, "block == 0, must be >= 1"),
        ((np.zeros((3, 3)), 1.5), {"how": "mean"}, TypeError, "block == 1.5, must be an int"),
        ((np.zeros((3, 3)), 2), {"how": "max"}, ValueError, "how == 'max', must be one of"),
    ],
)
def test_pool_blocks_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        pool_blocks(*args, **kwargs)


def test_structure_of_a_large_network_is_pooled_to_the_pixels(tmp_path):
    """More neurons than rows drawn: panels pooled, said in the titles, synapse kept."""
    sizes = [120, 60, 60]
    A = clustered(sizes, p_out=0.0, n_strong=0, rng=0)
    A[210, 20] = A[20, 210] = 0.02  # the one long-range pair
    A[210, 210] -= 0.02
    A[20, 20] -= 0.02
    C = noise_covariance(A)
    P = pruning_probabilities(A, C=C, density=0.3)
    fig = plot_structure(A, C, P, labels=cluster_labels(sizes), max_blocks=30)
    for title in ("weights", "covariance under noise", "covariance difference", "keep prob"):
        ax = panel(fig, title)
        assert "8 × 8 blocks" in ax.get_title()
        image = ax.get_images()[0].get_array()
        assert image.shape == (30, 30)
        assert ax.get_xlim() == (-0.5, 239.5)  # axes stay in neuron numbers
    weights = panel(fig, "weights").get_images()[0].get_array()
    assert weights[210 // 8, 20 // 8] == pytest.approx(0.02)
    assert weights[20 // 8, 210 // 8] == pytest.approx(0.02)
    keep = panel(fig, "keep prob").get_images()[0].get_array()
    assert keep[210 // 8, 20 // 8] == pytest.approx(P[210, 20])
    assert_valid_png(save(fig, tmp_path, "pooled"))
    # a small network is drawn entry by entry
    small = plot_structure(A[:30, :30], C[:30, :30], P[:30, :30], max_blocks=30)
    assert panel(small, "weights").get_title() == "weights"


def test_structure_covariance_scale_shows_the_diagonal():
    """The scale covers every off-diagonal C_ij; larger variances: own colour, an arrow."""
    sizes = [12, 8, 10]
    A = clustered(sizes, rng=0)
    C = noise_covariance(A)
    P = pruning_probabilities(A, C=C, density=0.3)
    fig = plot_structure(A, C, P, labels=cluster_labels(sizes))
    image = panel(fig, "covariance under noise").get_images()[0]
    off = C[~np.eye(30, dtype=bool)]
    assert image.norm.vmax == pytest.approx(np.abs(off).max())
    assert np.diag(C).max() > image.norm.vmax  # this network's variances exceed it
    cmap = image.get_cmap()
    assert tuple(cmap.get_over()[:3]) == (0.0, 0.0, 0.0)  # ...drawn black
    colorbar = image.colorbar
    assert colorbar.extend in ("max", "both")
    assert "diagonal" in colorbar.ax.get_ylabel()


def test_structure_covariance_difference_is_the_rules_score():
    """The panel is synapse_scores / |a| (inhibitory synapses with +2 C_ij)."""
    A = dale(16, 4, rng=0)
    C = noise_covariance(A)
    P = pruning_probabilities(A, C=C, density=0.5)
    fig = plot_structure(A, C, P)
    shown = np.asarray(panel(fig, "covariance difference").get_images()[0].get_array())
    syn = (A != 0) & ~np.eye(20, dtype=bool)
    assert np.allclose(shown[syn], (synapse_scores(A, C) / np.abs(np.where(syn, A, 1)))[syn])
    assert np.all(np.isnan(shown[~syn]))


def test_spectra_error_axis_follows_the_data(tmp_path):
    """The axis starts a factor 3 below the smallest real error, not at a fixed 1e-6."""
    lam = -np.geomspace(0.05, 20, 30)
    err = np.geomspace(2e-3, 0.5, 30)
    err[0] = 1e-15  # round-off: this mode is kept exactly
    errors = {"noise": err, "weight": 2 * err}
    matched = {k: lam * (1 + e) for k, e in errors.items()}
    fig = plot_spectra(lam, matched, errors)
    by_mode, cdf = panel(fig, "error by mode"), panel(fig, "distribution")
    floor = by_mode.get_ylim()[0]
    assert floor == pytest.approx(err[1] / 3)  # err[0] is round-off
    assert cdf.get_xlim()[0] == pytest.approx(floor)
    assert "1e-6" not in by_mode.get_ylabel() + cdf.get_xlabel()
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(f"error < {EXACT_ERROR:g}" in t and "noise-prune" in t for t in texts)
    assert_valid_png(save(fig, tmp_path, "floor"))


def test_spectra_complex_zoom_on_the_slowest_modes(tmp_path):
    """Slow modes near 0 next to a bulk far away: the zoom resolves them; the legend is
    the figure's, outside every panel."""
    rng = np.random.default_rng(3)
    bulk = -rng.uniform(5, 20, 40) + 1j * rng.normal(size=40)
    lam = np.concatenate([[-0.1, -0.12, -0.15], bulk])
    lam = lam[np.argsort(-lam.real)]
    matched = {"noise": lam * 1.05, "weight": lam * 1.5}
    errors = {k: np.abs(m - lam) / np.abs(lam) for k, m in matched.items()}
    fig = plot_spectra(lam, matched, errors)
    zoom = panel(fig, "zoom")
    assert zoom.get_title().startswith("zoom: the 3 slowest modes")
    lo, hi = zoom.get_xlim()
    assert lo < -0.15 and -0.1 < hi < 0 and hi - lo < 0.2  # the slow modes fill it
    assert all(ax.get_legend() is None for ax in fig.axes)
    assert len(fig.legends) == 1
    assert_valid_png(save(fig, tmp_path, "zoom"))


@pytest.mark.parametrize(("lo", "hi"), [(1.7, 8.0), (2.2e-3, 7e-2), (0.9, 1.3)])
def test_short_log_axes_have_readable_tick_labels(lo, hi):
    """Less than two decades: matplotlib would label minor ticks "2×10^0", "3×10^0", ...
    and they run into each other."""
    lam = -np.geomspace(lo, hi, 40)
    fig = plot_spectra(lam, {"noise": lam * 1.1}, {"noise": np.full(40, 0.1)})
    ax = panel(fig, "eigenvalues")
    assert not tick_labels_overlap(fig, ax, "x")
    assert not tick_labels_overlap(fig, ax, "y")
    labels = [t.get_text() for t in ax.get_xticklabels(which="both") if t.get_text()]
    assert len(labels) >= 2 and not any("times" in t or "×" in t for t in labels)
    exact = np.geomspace(lo, hi, 300)
    fig = plot_trace_scores(exact * 1.03, exact)
    for ax in fig.axes:
        assert not tick_labels_overlap(fig, ax, "x")


def test_trace_ratio_summary_and_legend():
    rng = np.random.default_rng(4)
    exact = rng.lognormal(size=400)
    expected = exact * np.where(exact > 1, 1.06, 1.02)  # a mode-dependent time-step bias
    est = expected * (1 + 0.05 * rng.normal(size=400))
    s = trace_ratio_summary(est, exact, expected)
    assert s["predicted_mean"] == pytest.approx(np.mean(expected / exact))
    assert s["mean"] == pytest.approx(np.mean(est / exact))
    assert s["median"] == pytest.approx(np.median(est / exact))
    fig = plot_trace_scores(est, exact, expected=expected, h=0.004)
    (label,) = [t.get_text() for t in fig.legends[0].get_texts() if "epoch 1" in t.get_text()]
    assert f"median {s['median']:.3f}, mean {s['mean']:.3f}" in label
    assert f"Euler–Maruyama predicts mean {s['predicted_mean']:.3f}" in label
    figure_legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("dt = 0.004 τ" in t for t in figure_legend)


def test_online_traces_exceed_exact_scores_by_the_predicted_euler_bias():
    """The trace estimates' mean ratio to the exact scores is the Euler-Maruyama bias.

    Eight sleep epochs without decisions on a 12-neuron network at a coarse step
    (h max|lambda| = 0.23): each epoch's mean of estimate / exact has expectation
    mean(expected / exact), the chain's scores over the continuous ones (the ratio is
    linear in the traces). Epochs are independent (noise), 5 tau of burn-in each against
    a slowest relaxation time of 1 tau, so the mean over epochs is compared with the
    prediction by a two-sided t-test at level 0.01 (7 degrees of freedom). The same test
    refuses "no bias" (prediction 1): the bias is far larger than the statistical error.
    """
    model = {
        "seed": 0,
        "network": {
            "generator": "clustered",
            "params": {
                "sizes": [6, 6],
                "p_in": 0.8,
                "p_out": 0.2,
                "w_in": 0.4,
                "w_out": 0.4,
                "n_strong": 0,
                "leak": 1.0,
            },
        },
        "pruning": {"density": 0.5, "offline": False, "online": True, "controls": []},
        "online": {"dt": 0.045, "sleep": 50.0, "burn_in": 5.0, "cycles": 8, "decide": False},
        "evaluation": {"spectra": False, "dynamics": {"enabled": False}},
    }
    res = run_model(model)
    assert res.metrics["warnings"] == []  # h max|lambda| below RateNetwork's warning
    a = res.arrays
    means, predicted = [], []
    for e in range(8):
        sel = a["online_scores_epoch"] == e
        s = trace_ratio_summary(
            a["online_scores_estimated"][sel],
            a["online_scores_exact"][sel],
            a["online_scores_euler"][sel],
        )
        means.append(s["mean"])
        predicted.append(s["predicted_mean"])
    assert np.ptp(predicted) == 0.0  # no decisions: the same network every epoch
    means = np.array(means)
    se = means.std(ddof=1) / np.sqrt(means.size)
    t = stats.t.ppf(0.995, df=means.size - 1)
    assert abs(means.mean() - predicted[0]) <= t * se
    assert means.mean() - 1.0 > t * se  # the bias is there, and resolved
    epoch = res.metrics["online"]["epochs"][0]
    assert epoch["euler_score_ratio_mean"] == pytest.approx(predicted[0])


@pytest.mark.parametrize("how", ["absmax", "mean"])
@pytest.mark.parametrize("block", [1, 3, 7])
def test_pool_sparse_is_pool_blocks_of_the_stored_entries(how, block):
    """pool_sparse == pool_blocks with NaN wherever nothing is stored (no n x n needed)."""
    import scipy.sparse as sps

    gen = np.random.default_rng(0)
    M = sps.random_array((20, 20), density=0.15, random_state=gen, format="csr")
    M.data = gen.standard_normal(M.data.size)  # signed values: absmax keeps the sign
    dense = np.full((20, 20), np.nan)
    r, c = M.nonzero()
    dense[r, c] = M[r, c]
    np.testing.assert_allclose(
        pool_sparse(M, block, how=how), pool_blocks(dense, block, how=how), equal_nan=True
    )


def test_pool_sparse_rejects_bad_input():
    import scipy.sparse as sps

    M = sps.eye_array(4, format="csr")
    with pytest.raises(TypeError, match="M must be a square scipy.sparse matrix"):
        pool_sparse(np.eye(4), 2, how="mean")
    with pytest.raises(TypeError, match=r"block == 2.0, must be an integer"):
        pool_sparse(M, 2.0, how="mean")
    with pytest.raises(ValueError, match=r"block == 0, must be >= 1"):
        pool_sparse(M, 0, how="mean")
    with pytest.raises(ValueError, match=r"how == 'max', must be one of"):
        pool_sparse(M, 2, how="max")


def test_trace_scores_draw_a_subset_at_scale(monkeypatch):
    """Beyond MAX_TRACE_POINTS a fixed subset is drawn and said; statistics use all."""
    import plasticsim.plotting as plotting

    monkeypatch.setattr(plotting, "MAX_TRACE_POINTS", 500)
    rng = np.random.default_rng(1)
    exact = rng.random(3000) + 0.1
    est = exact * (1 + 0.1 * rng.standard_normal(3000))
    fig = plotting.plot_trace_scores(est, exact, reference="sketched")
    ax, axr = fig.axes[:2]
    assert "500 of 3,000 synapses drawn" in ax.get_title()
    assert ax.get_xlabel().startswith("sketched score")
    points = [line for line in ax.lines if line.get_marker() == "."]
    assert sum(line.get_xdata().size for line in points) == 500
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "(m = 3000)" in legend and "estimate/sketched" in legend
    again = plotting.plot_trace_scores(est, exact, reference="sketched")
    np.testing.assert_array_equal(points[0].get_xdata(), again.axes[0].lines[1].get_xdata())
