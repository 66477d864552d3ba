"""Tests of plasticsim.plotting: every figure renders to a valid, non-blank, labelled PNG."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from plasticsim import noise_covariance, pruning_probabilities
from plasticsim.experiment import run_model
from plasticsim.networks import cluster_labels, clustered, dale
from plasticsim.plotting import (
    plot_online_states,
    plot_spectra,
    plot_structure,
    plot_trace_scores,
    plot_trajectory_errors,
    result_figures,
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
    errors["noise"][0] = 0.0  # an exactly kept mode is drawn at the floor
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


def test_result_figures_follow_what_was_computed(online_results):
    res = online_results
    arrays = {
        k: v
        for k, v in res.arrays.items()
        if not k.startswith(("online_", "eigenvalues_", "trajectory_error_"))
    }
    bare = type(res)(model=res.model, metrics=res.metrics, arrays=arrays)
    assert sorted(result_figures(bare)) == ["structure"]
