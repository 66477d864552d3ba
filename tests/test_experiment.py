"""Tests of plasticsim.experiment: the model schema, runs, seeds and atomic results."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from plasticsim import experiment
from plasticsim.experiment import (
    SCHEMA,
    ModelError,
    load_model,
    read_results,
    run_model,
    shipped_models,
)
from plasticsim.networks import clustered


def small(**sections):
    """A small, fast offline model (45 neurons); ``sections`` replace whole tables."""
    model = {
        "seed": 3,
        "network": {
            "generator": "clustered",
            "params": {"sizes": [20, 10, 15], "p_in": 0.6, "p_out": 0.05},
        },
        "pruning": {"density": 0.3, "controls": ["weight", "uniform"]},
        "evaluation": {"dynamics": {"trials": 2, "duration": 1.0, "dt": 0.02}},
        "output": {"figures": False},
    }
    model.update(sections)
    return model


ONLINE = {
    "pruning": {"density": 0.3, "online": True, "controls": ["weight"]},
    "online": {"dt": 0.01, "sleep": 6.0, "burn_in": 1.0},
}


# --------------------------------------------------------------------------- schema


def _leaf_keys(table, prefix=""):
    for name, field in table.fields.items():
        if isinstance(field, experiment._schema._Table):
            yield from _leaf_keys(field, prefix + name + ".")
        else:
            yield prefix + name, name


def test_every_schema_key_is_documented():
    readme = (experiment.models_dir() / "README.md").read_text(encoding="utf-8")
    sections = {m.group(1) for m in re.finditer(r"^### `\[([a-z.]+)\]`", readme, re.M)}
    for full, leaf in _leaf_keys(SCHEMA):
        assert f"| `{leaf}` |" in readme, f"{full} is not documented in models/README.md"
        if "." in full:
            assert full.rsplit(".", 1)[0] in sections, f"no section for {full}"


@pytest.mark.parametrize("name", sorted(shipped_models()))
def test_shipped_models_are_valid(name):
    model = load_model(name)
    assert model.name == name
    assert model.config["description"]


#: "Largest relative error of the 3 slowest modes (seed 1): noise-prune 0.24, weight 0.31"
_QUOTE = re.compile(
    r"the (?:(\d+) )?slowest modes? \(seed (\d+)\): ((?:[a-z-]+ \d+\.\d+(?:, )?)+)"
)
_METHOD = {"noise-prune": "noise", "online": "online", "weight": "weight"}
_METHOD |= {"uniform": "uniform", "magnitude": "magnitude"}


@pytest.mark.parametrize(
    "name",
    sorted(set(shipped_models()) - {"clustered_large", "clustered_huge", "lifetime", "spiking"}),
)
def test_shipped_descriptions_quote_their_own_runs(name):
    """Every number a description quotes is what the model gives, at its real size.

    A description states what its model shows, also where noise-prune does not win; a
    change of the model (or of the rule) that changes a quoted error fails here. Online
    numbers are quoted too but not rerun (the Brian2 sleeps at full size take minutes);
    switching the online stage off changes no other stage's numbers (own random
    streams). clustered_large and clustered_huge take minutes: their numbers are checked
    by hand. lifetime prunes no matrix (its lifetimes take minutes; its claims are tested
    in tests/test_lifetime.py); spiking's numbers are Brian2 simulations of minutes too (its
    claims are tested at small size in tests/test_spiking_model.py).
    """
    model = load_model(name)
    text = " ".join(model.config["description"].split())
    quotes = _QUOTE.findall(text)
    assert quotes, f"{name}: the description quotes no slowest-mode errors"
    res = run_model(
        name,
        overrides=[
            "pruning.online=false",
            "evaluation.dynamics.enabled=false",
            "output.figures=false",
        ],
    )
    methods = res.metrics["methods"]
    for m, seed, values in quotes:
        assert int(seed) == model.config["seed"]
        key = f"slowest{m or 1}_rel_err_max"
        for item in values.split(", "):
            label, number = item.rsplit(" ", 1)
            method = _METHOD[label]
            if method == "online":
                continue
            got = methods[method]["spectra"][key]
            digits = len(number.split(".")[1])
            assert round(got, digits) == float(number), f"{name}: {label} {key} is {got:.3g}"
    assert isinstance(model.config["seed"], int)


def test_repository_models_directory_is_the_package_one():
    repo_models = Path(__file__).resolve().parents[1] / "models"
    if not repo_models.exists():
        pytest.skip("not run from a repository checkout")
    assert repo_models.resolve() == experiment.models_dir()
    assert (repo_models / "clustered.toml").is_file()


def test_defaults_are_filled_and_dependent_defaults_resolved():
    cfg = load_model(small()).config
    assert cfg["neurons"] == {
        "tau": 10.0,
        "leak": "network",
        "nonlinearity": "linear",
        "bias": 0.0,
    }
    assert cfg["pruning"]["diagonal"] == "matched"
    assert cfg["online"]["burn_in"] is None
    assert cfg["evaluation"]["dynamics"]["sigma"] == cfg["noise"]["sigma"] == 1.0
    assert cfg["name"] == "model"


@pytest.mark.parametrize(
    ("change", "key", "pattern"),
    [
        (
            {"pruning": {"densty": 0.1}},
            "pruning.densty",
            r"unknown key 'pruning.densty' .*did you mean 'pruning.density'\?",
        ),
        ({"colour": "red"}, "colour", r"unknown key 'colour' \(allowed in the top level"),
        (
            {"pruning": {"density": 1.5}},
            "pruning.density",
            r"pruning.density == 1.5, must be a number in \(0, 1\]",
        ),
        (
            {"pruning": {"density": "0.1"}},
            "pruning.density",
            r"pruning.density must be a number, got a string '0.1'",
        ),
        (
            {"pruning": {"density": 0.1, "diagonal": "matchd"}},
            "pruning.diagonal",
            r"pruning.diagonal == 'matchd', must be one of .*did you mean 'matched'",
        ),
        (
            {"pruning": {"density": 0.1, "controls": ["weight", "random"]}},
            "pruning.controls",
            r"pruning.controls\[1\] == 'random', must be one of 'weight'",
        ),
        (
            {"pruning": {"density": 0.1, "controls": ["weight", "weight"]}},
            "pruning.controls",
            r"must not repeat an entry",
        ),
        (
            {"pruning": {"density": 0.1, "online": "yes"}},
            "pruning.online",
            r"pruning.online must be true or false, got a string 'yes'",
        ),
        ({"seed": -1}, "seed", r"seed == -1, must be an integer >= 0"),
        ({"seed": 1.5}, "seed", r"seed must be an integer, got a number 1.5"),
        (
            {"neurons": {"leak": "big"}},
            "neurons.leak",
            r"neurons.leak == 'big', must be 'network' or a number > 0",
        ),
        ({"neurons": {"leak": -1}}, "neurons.leak", r"neurons.leak == -1, must be a number > 0"),
        ({"noise": 3}, "noise", r"noise must be a table, got an integer 3"),
        ({"evaluation": {"slowest": []}}, "evaluation.slowest", r"at least 1 entries"),
        (
            {"evaluation": {"dynamics": {"trials": 0}}},
            "evaluation.dynamics.trials",
            r"evaluation.dynamics.trials == 0, must be an integer >= 1",
        ),
        ({"online": {"dt": float("nan")}}, "online.dt", r"online.dt == nan, must be finite"),
        # name is the default result folder: no separators, not "." or ".."
        ({"name": "."}, "name", r"name == '.', must be a name of letters, digits"),
        ({"name": ".."}, "name", r"name == '..', must be a name of letters"),
        ({"name": "../escaped"}, "name", r"name == '../escaped', must be a name of"),
        ({"name": "a b"}, "name", r"name == 'a b', must be a name of"),
        (
            {"evaluation": {"slowest": [1, 1]}},
            "evaluation.slowest",
            r"evaluation.slowest == \[1, 1\], must not repeat an entry",
        ),
        ({"output": {"dpi": 5000}}, "output.dpi", r"output.dpi == 5000, must be an integer in"),
    ],
)
def test_schema_errors_name_the_key_and_the_rule(change, key, pattern):
    model = small()
    for section, value in change.items():
        model[section] = value
    with pytest.raises(ModelError, match=pattern) as info:
        load_model(model)
    assert key in [k for k, _ in info.value.problems]
    assert str(info.value).startswith("<dict>: ")


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"pruning": {"density": 0.1, "k": 2.0}}, r"exactly one of pruning.density and pruning.k"),
        ({"pruning": {}}, r"exactly one of pruning.density and pruning.k"),
        (
            {"network": {"generator": "clustered", "file": "a.npy"}},
            r"exactly one of network.generator and network.file",
        ),
        ({"network": {"file": "a.txt"}}, r"network.file == 'a.txt', must end with .npy"),
        ({"pruning": {"density": 0.1, "offline": False}}, r"no method"),
        (
            {"pruning": {"density": 0.1, "online": True}, "online": {"cycles": 3}},
            r"online.cycles == 3 needs online.relabile > 0",
        ),
        ({"online": {"sleep": 10.0, "burn_in": 10.0}}, r"online.burn_in == 10.0, must be <"),
        (
            {"online": {"dt": 0.01, "trace_dt": 0.025}},
            r"online.trace_dt == 0.025 \(units of tau\), must be a multiple of online.dt",
        ),
        (
            {"evaluation": {"dynamics": {"duration": 1.0, "dt": 2.0}}},
            r"evaluation.dynamics.dt == 2.0, must be <= evaluation.dynamics.duration",
        ),
        (
            {"network": {"generator": "clustered", "params": {"sizes": [5], "p_inn": 0.5}}},
            r"unknown key 'network.params.p_inn': clustered\(\) takes sizes, .*mean 'p_in'",
        ),
        (
            {"network": {"generator": "dale", "params": {"n_exc": 10}}},
            r"network.params.n_inh is required by network.generator == 'dale'",
        ),
    ],
)
def test_rules_across_keys(change, pattern):
    model = small()
    model.update(change)
    with pytest.raises(ModelError, match=pattern):
        load_model(model)


SPARSE_NET = {
    "generator": "clustered",
    "params": {"sizes": [60, 40], "p_in": 0.3, "p_out": 0.01, "leak": 0.1, "sparse": True},
}


@pytest.mark.parametrize(
    "change, pattern",
    [
        (
            {"network": SPARSE_NET},
            r"evaluation.dynamics.enabled == true needs a dense network .*set "
            r"evaluation.dynamics.enabled = false",
        ),
        (
            {
                "pruning": {"density": 0.2, "online": True},
                "online": {"start": "stationary"},
                "neurons": {"nonlinearity": "relu"},
            },
            r"online.start == 'stationary' draws from the stationary Gaussian of a linear "
            r"network under white noise",
        ),
        (
            {"pruning": {"density": 0.2, "method": "sketch"}},
            r"pruning.method == 'sketch' is for sparse networks \(network.params.sparse",
        ),
        (
            {"pruning": {"density": 0.2, "eps": 0.5}},
            r"pruning.eps == 0.5 is for sparse networks",
        ),
    ],
)
def test_sparse_rules(change, pattern):
    """What a sparse network cannot run is refused before any work, with the reason."""
    model = small()
    model.update(change)
    with pytest.raises(ModelError, match=pattern):
        load_model(model)


def test_sparse_run_is_the_library_rule_on_sparse_input():
    """A sparse run (exact scores at 100 neurons) gives what the library gives for the
    same sparse network and stage seeds: the probabilities, the pruned networks (csr),
    the slowest eigenvalues; a sketch needs white noise (a model error otherwise)."""
    import scipy.sparse as sps

    from plasticsim import compare_spectra, pruning_probabilities, sparsify

    sections = {
        "pruning": {"density": 0.3, "controls": ["uniform"]},
        "evaluation": {"slowest": [3], "dynamics": {"enabled": False}},
    }
    res = run_model(small(network=SPARSE_NET, **sections), rng=4)
    A = res.arrays["matrix_original"]
    assert sps.issparse(A) and res.metrics["scores"]["method"] == "exact"  # n <= 4096
    P = pruning_probabilities(A, density=0.3)
    np.testing.assert_allclose(res.arrays["probabilities"].toarray(), P.toarray(), rtol=1e-12)
    B = sparsify(A, P, rng=res.metrics["seeds"]["noise"])
    assert (res.arrays["matrix_noise"] != B).nnz == 0
    lam = compare_spectra(A, B, slowest=3).matched
    np.testing.assert_allclose(res.arrays["eigenvalues_noise"], lam, rtol=1e-9)
    for m in ("noise", "uniform"):
        assert sps.issparse(res.arrays[f"matrix_{m}"])
        frag = res.metrics["methods"][m]["fragments"]
        assert frag["largest"] <= 100 and frag["components"] >= 1
    with pytest.raises(ModelError, match=r"pruning.method: noise_tau == 0.5"):
        run_model(
            small(network=SPARSE_NET, noise={"tau_noise": 0.5}, **sections),
            overrides=["pruning.method=sketch"],
        )


def test_sparse_online_stage_compares_traces_with_the_rules_scores():
    """Online on a sparse network: a sparse pruned matrix, the traces set against the rule
    stage's scores (exact at 100 neurons), no n x n Euler covariance."""
    import scipy.sparse as sps

    from plasticsim._sparse import values_at

    sections = {
        "pruning": {"density": 0.3, "online": True},
        "online": {"dt": 0.02, "sleep": 4.0, "burn_in": 1.0},
        "evaluation": {"slowest": [3], "dynamics": {"enabled": False}},
    }
    res = run_model(small(network=SPARSE_NET, **sections), rng=4)
    B = res.arrays["matrix_online"]
    assert sps.issparse(B) and B.shape == (100, 100)
    pre, post = res.arrays["online_pre"], res.arrays["online_post"]
    ref = values_at(res.arrays["scores"], post, pre)
    np.testing.assert_array_equal(res.arrays["online_scores_exact"], ref)
    assert np.all(ref > 0) and "online_scores_euler" not in res.arrays
    epoch = res.metrics["online"]["epochs"][0]
    assert epoch["reference_scores"] == "exact" and epoch["start"] == "current"
    assert epoch["trace_score_correlation"] > 0.3
    assert abs(res.metrics["methods"]["online"]["kept_fraction"] - 0.3) < 0.05
    assert res.metrics["methods"]["online"]["fragments"]["components"] >= 1


def test_stationary_draws_have_the_chains_covariance():
    """online.start = 'stationary': draws of x whose covariance is the Euler-Maruyama
    chain's stationary covariance at online.dt (and whose mean is the bias's fixed point)."""
    from plasticsim.covariance import euler_covariance
    from plasticsim.experiment._online import _stationary_draw
    from plasticsim.experiment._run import _Run

    model = load_model(small(neurons={"bias": 0.5}, online={"dt": 0.01, "start": "stationary"}))
    run = _Run(model, 7, experiment.NoProgress())
    run.network()
    A = run.A
    X = np.array([_stationary_draw(run, A, c) for c in range(4000)])
    mean = np.linalg.solve(-A, np.full(45, 0.5))
    P = euler_covariance(A, h=0.01, sigma=1.0)
    N = X.shape[0]
    # Standard errors: the sample mean's sqrt(P_ii / N); the sample covariance's
    # sqrt((P_ii P_jj + P_ij^2) / N) (Wishart). 5 standard errors over ~1,000 entries.
    z_mean = (X.mean(axis=0) - mean) / np.sqrt(np.diag(P) / N)
    d = np.diag(P)
    z_cov = (np.cov(X.T) - P) / np.sqrt((np.outer(d, d) + P**2) / N)
    assert np.abs(z_mean).max() < 5 and np.abs(z_cov).max() < 5
    # Different cycles, different draws; the same cycle, the same draw.
    np.testing.assert_array_equal(_stationary_draw(run, A, 3), X[3])


def test_stationary_start_skips_the_burn_in():
    """The draw is stationary: the default burn-in is 0, the whole sleep is measured."""
    res = run_model(
        small(
            pruning=ONLINE["pruning"],
            online={"dt": 0.01, "sleep": 6.0, "start": "stationary"},
            evaluation={"dynamics": {"enabled": False}},
        )
    )
    epoch = res.metrics["online"]["epochs"][0]
    assert epoch["start"] == "stationary" and epoch["measured_tau"] == pytest.approx(6.0)


def test_valid_names_descriptions_and_numpy_scalars_are_accepted():
    model = small(name="run_1.v-2", description="", seed=np.int64(3))
    model["network"]["params"]["sizes"] = [np.int64(20), 10, 15]
    cfg = load_model(model).config
    assert cfg["name"] == "run_1.v-2" and cfg["description"] == ""
    assert cfg["seed"] == 3 and type(cfg["seed"]) is int
    assert load_model(small(online={"dt": 0.01, "trace_dt": 0.03})).config["online"][
        "trace_dt"
    ] == pytest.approx(0.03)
    with pytest.raises(ModelError, match=r"<dict>: the model must hold TOML values only"):
        load_model(small(seed={3}))


def test_the_default_name_is_a_safe_folder_name(tmp_path):
    path = tmp_path / "my model.toml"
    path.write_text(
        '[network]\ngenerator = "clustered"\nparams = { sizes = [5, 5] }\n'
        "[pruning]\ndensity = 0.3\n"
    )
    assert load_model(path).name == "my_model"


def test_all_problems_are_reported_at_once():
    model = small(pruning={"density": 2.0, "diagonal": "x", "controll": []})
    with pytest.raises(ModelError) as info:
        load_model(model)
    assert [k for k, _ in info.value.problems] == [
        "pruning.controll",
        "pruning.density",
        "pruning.diagonal",
    ]
    assert "3 problems" in str(info.value)


def test_file_errors_name_the_file(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text('[pruning]\ndensity = 0.1\ndiagonal = "zero"\nkk = 1\n')
    with pytest.raises(ModelError, match=re.escape(f"{path}: unknown key 'pruning.kk'")):
        load_model(path)
    path.write_text("[pruning\n")
    with pytest.raises(ModelError, match=re.escape(f"{path}: not valid TOML")):
        load_model(path)
    with pytest.raises(FileNotFoundError, match="no model file .* no shipped model"):
        load_model(tmp_path / "missing.toml")


def test_overrides_parse_toml_values_and_name_the_source():
    base = experiment.shipped_models()["clustered"]
    model = load_model(
        base,
        overrides=[
            "network.params.sizes=[4, 3]",
            "network.generator=clustered_asymmetric",  # a bare word is a string
            "pruning.online=false",
            "online.burn_in=",  # empty: back to the default
            "evaluation.dynamics.trials = 3",
        ],
    )
    cfg = model.config
    assert cfg["network"]["params"]["sizes"] == [4, 3]
    assert cfg["network"]["generator"] == "clustered_asymmetric"
    assert cfg["pruning"]["online"] is False
    assert cfg["online"]["burn_in"] is None
    assert cfg["evaluation"]["dynamics"]["trials"] == 3
    assert "(with --set evaluation.dynamics.trials, network.generator" in model.source
    with pytest.raises(ModelError, match=r"pruning.density == 3.0, .*\(from --set\)"):
        load_model(base, overrides=["pruning.density=3.0"])
    with pytest.raises(ModelError, match="expected KEY=VALUE"):
        load_model(base, overrides=["pruning.density"])
    with pytest.raises(ModelError, match="seed is not a table"):
        load_model(base, overrides=["seed.x=1"])


# --------------------------------------------------------------------------- networks


def test_matrix_files_resolve_relative_to_the_model(tmp_path):
    A = clustered([8, 6], rng=0)
    (tmp_path / "sub").mkdir()
    np.save(tmp_path / "sub" / "a.npy", A)
    np.savez(tmp_path / "sub" / "two.npz", first=A, second=2 * A)
    np.savetxt(tmp_path / "sub" / "a.csv", A, delimiter=",", header="a comment")
    model = tmp_path / "m.toml"
    for spec in (
        'file = "sub/a.npy"',
        'file = "sub/a.csv"',
        'file = "sub/two.npz"\narray = "first"',
    ):
        model.write_text(
            f"[network]\n{spec}\n[pruning]\ndensity = 0.5\n"
            "[evaluation.dynamics]\nenabled = false\n[output]\nfigures = false\n"
        )
        res = run_model(model, rng=0)
        np.testing.assert_array_equal(res.arrays["matrix_original"], A)
        assert res.metrics["network"]["sha256"]
    model.write_text('[network]\nfile = "sub/two.npz"\n[pruning]\ndensity = 0.5\n')
    with pytest.raises(ModelError, match=r"holds arrays \['first', 'second'\]"):
        run_model(model)
    model.write_text('[network]\nfile = "nope.npy"\n[pruning]\ndensity = 0.5\n')
    with pytest.raises(ModelError, match=r"network.file == 'nope.npy': no such file"):
        run_model(model)


def test_leak_override_and_stability_errors(tmp_path):
    W = clustered([8, 6], rng=0)
    np.fill_diagonal(W, 0.0)
    np.save(tmp_path / "w.npy", W)
    model = {
        "network": {"file": str(tmp_path / "w.npy")},
        "pruning": {"density": 0.5},
        "evaluation": {"dynamics": {"enabled": False}},
        "output": {"figures": False},
    }
    with pytest.raises(ModelError, match=r"A\[0, 0\] == 0.0: pruning.diagonal == 'matched'"):
        run_model(model)
    model["neurons"] = {"leak": 0.1}
    with pytest.raises(ModelError, match=r"not stable: its spectral abscissa is .*neurons.leak"):
        run_model(model)
    model["neurons"] = {"leak": 100.0}
    res = run_model(model, rng=0)
    assert np.all(np.diag(res.arrays["matrix_original"]) == -100.0)


def test_generator_value_errors_are_model_errors():
    model = small(network={"generator": "clustered", "params": {"sizes": [5, 0]}})
    with pytest.raises(ModelError, match=r"network.params of generator 'clustered': sizes\[1\]"):
        run_model(model)


# --------------------------------------------------------------------------- runs


def test_run_returns_metrics_and_arrays_for_every_method():
    res = run_model(
        small(pruning={"density": 0.3, "controls": ["weight", "uniform", "magnitude"]})
    )
    methods = res.metrics["methods"]
    assert list(methods) == ["noise", "weight", "uniform", "magnitude"]
    n_syn = res.metrics["network"]["n_synapses"]
    for name, entry in methods.items():
        B = res.arrays[f"matrix_{name}"]
        assert B.shape == (45, 45)
        assert entry["kept_fraction"] == pytest.approx(
            (np.count_nonzero(B) - np.count_nonzero(np.diag(B))) / n_syn
        )
        spectra = entry["spectra"]
        assert {"slowest1_rel_err_max", "slowest5_rel_err_max", "eig_rel_err_median"} <= set(
            spectra
        )
        assert entry["dynamics"]["trajectory_error_mean"] >= 0
        assert res.arrays[f"trajectory_error_{name}"].shape == (2, res.arrays["times"].size)
        assert res.arrays[f"eigenvalues_{name}"].shape == (45,)
    # the exact rule at the requested density
    assert methods["noise"]["expected_density"] == pytest.approx(0.3)
    assert methods["noise"]["k"] == res.metrics["k"]
    # every control at the same expected density (magnitude: deterministic, rounded)
    assert methods["weight"]["expected_density"] == pytest.approx(0.3)
    assert methods["uniform"]["expected_density"] == pytest.approx(0.3)
    assert methods["magnitude"]["kept_fraction"] == pytest.approx(0.3, abs=0.01)
    assert res.metrics["warnings"] == []
    json.dumps(res.metrics, allow_nan=False)  # JSON-ready


def test_same_seed_same_arrays_and_stages_are_independent():
    a = run_model(small(), rng=11)
    b = run_model(small(), rng=11)
    assert a.arrays.keys() == b.arrays.keys()
    for key in a.arrays:
        np.testing.assert_array_equal(a.arrays[key], b.arrays[key], err_msg=key)
    assert a.metrics["seeds"] == b.metrics["seeds"]
    c = run_model(small(), rng=12)
    assert not np.array_equal(a.arrays["matrix_original"], c.arrays["matrix_original"])
    # Dropping a control does not change the other stages' draws.
    d = run_model(small(pruning={"density": 0.3, "controls": ["uniform"]}), rng=11)
    for key in ("matrix_original", "matrix_noise", "matrix_uniform", "trajectory_error_noise"):
        np.testing.assert_array_equal(a.arrays[key], d.arrays[key], err_msg=key)
    # The stage seeds are distinct children of the run's seed.
    assert len(set(a.metrics["seeds"].values())) == len(a.metrics["seeds"])


def test_seed_from_model_rng_argument_and_generator():
    model = small()
    model["seed"] = 5
    assert run_model(model).metrics["seed"] == 5
    assert run_model(model, rng=6).metrics["seed"] == 6
    gen = np.random.default_rng(0)
    seed = run_model(model, rng=gen).metrics["seed"]
    expected = np.random.default_rng(0).integers(0, 2**63)
    assert seed == expected
    del model["seed"]
    first, second = run_model(model), run_model(model)
    assert first.metrics["seed"] != second.metrics["seed"]  # fresh entropy, recorded
    again = run_model(model, rng=first.metrics["seed"])
    np.testing.assert_array_equal(again.arrays["matrix_noise"], first.arrays["matrix_noise"])


def test_k_instead_of_density_sets_the_controls_density():
    res = run_model(small(pruning={"k": 20.0, "controls": ["uniform"]}))
    density = res.metrics["density"]
    assert 0 < density < 1
    assert res.metrics["methods"]["noise"]["expected_density"] == pytest.approx(density)
    assert res.metrics["methods"]["uniform"]["expected_density"] == pytest.approx(density)


def test_unstable_pruned_networks_are_recorded_not_simulated():
    # A balanced E/I network with a uniform leak: sparsifying its random bulk widens it,
    # so pruned networks at low density lose stability (dale.toml uses "dominant").
    model = small(
        network={"generator": "dale", "params": {"n_exc": 40, "n_inh": 10, "p": 0.3}},
        pruning={"density": 0.1, "controls": ["uniform"]},
    )
    res = run_model(model, rng=0)
    skipped = [
        m for m, e in res.metrics["methods"].items() if e["dynamics"].get("skipped") == "unstable"
    ]
    assert skipped, "expected at least one unstable pruned network"
    for m in skipped:
        assert res.metrics["methods"][m]["spectral_abscissa"] >= 0
        assert f"trajectory_error_{m}" not in res.arrays


def test_cycle_density_reaches_the_target_over_the_cycles():
    n, target, cycles = 1000, 100.0, 3
    alive = n
    for c in range(cycles):
        d, ok = experiment._online._cycle_density(target, c, cycles, alive, alive)  # relabile = 1
        assert ok
        alive = alive * d
    assert alive == pytest.approx(target)
    # relabile < 1: fewer candidates, each cycle keeps fewer of them
    d_half, ok = experiment._online._cycle_density(target, 1, 3, 500, 400)
    assert ok and d_half < experiment._online._cycle_density(target, 1, 3, 500, 500)[0]
    assert experiment._online._cycle_density(target, 0, 3, 1000, 10) == (0.1, False)


# --------------------------------------------------------------------------- online


def test_online_run_records_epochs_and_is_reproducible():
    a = run_model(small(**ONLINE), rng=4)
    b = run_model(small(**ONLINE), rng=4)
    for key in ("matrix_online", "online_scores_estimated", "online_state_counts"):
        np.testing.assert_array_equal(a.arrays[key], b.arrays[key], err_msg=key)
    (epoch,) = a.metrics["online"]["epochs"]
    n_syn = a.metrics["network"]["n_synapses"]
    assert epoch["counts_before"] == {"LABILE": n_syn, "STABLE": 0, "PRUNED": 0}
    counts = a.arrays["online_state_counts"]
    assert counts.tolist()[0] == [n_syn, 0, 0]
    assert counts[1].sum() == n_syn and counts[1, 0] == 0
    assert a.metrics["methods"]["online"]["kept_fraction"] == pytest.approx(counts[1, 1] / n_syn)
    assert epoch["trace_score_correlation"] > 0.5
    assert a.arrays["online_scores_estimated"].shape == a.arrays["online_scores_exact"].shape
    # the online stage does not disturb the offline draws
    offline = run_model(small(), rng=4)
    np.testing.assert_array_equal(offline.arrays["matrix_noise"], a.arrays["matrix_noise"])


def test_online_configuration_errors_are_model_errors():
    model = small(**ONLINE)
    model["online"] = {"dt": 0.5, "sleep": 6.0}  # Euler-Maruyama unstable for this network
    with pytest.raises(ModelError, match=r"online \(online times x neurons.tau == 10 ms\)"):
        run_model(model)


def test_other_simulator_value_errors_are_not_model_errors(monkeypatch):
    """Only the simulator's known refusals of a configuration become a ModelError."""
    from plasticsim.online import RateNetwork

    def broken(*args, **kwargs):
        raise ValueError("internal: array sizes do not match")

    monkeypatch.setattr(RateNetwork, "from_matrix", broken)
    with pytest.raises(ValueError, match="internal: array sizes") as info:
        run_model(small(**ONLINE))
    assert not isinstance(info.value, ModelError)


def test_coarse_online_step_warning_is_recorded(caplog):
    model = small(**ONLINE)
    model["online"] = {"dt": 0.02, "sleep": 6.0, "burn_in": 1.0}  # h max|lambda| ~ 0.8
    res = run_model(model, rng=0)
    assert any("RuntimeWarning" in w and "coarse" in w for w in res.metrics["warnings"])
    assert any("coarse" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- results


def test_save_writes_loadable_results_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "res"
    res = run_model(small(), out=out)
    assert res.path == out
    assert sorted(p.name for p in out.iterdir()) == ["arrays.npz", "metrics.json"]
    with np.load(out / "arrays.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["matrix_noise"], res.arrays["matrix_noise"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"]["pruning"]["density"] == 0.3
    assert metrics["seed"] == 3 and metrics["versions"]["numpy"] == np.__version__
    loaded = read_results(out)
    assert loaded.metrics == metrics
    with pytest.raises(FileExistsError, match="already exists; use --force"):
        run_model(small(), out=out)
    before = (out / "metrics.json").read_text()
    run_model(small(), out=out, rng=9, force=True)
    assert (out / "metrics.json").read_text() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]  # nothing left aside


def test_existing_target_is_refused_before_running(tmp_path, monkeypatch):
    (tmp_path / "res").mkdir()
    monkeypatch.setattr(experiment._run, "_execute", lambda *a: pytest.fail("ran anyway"))
    with pytest.raises(FileExistsError):
        run_model(small(), out=tmp_path / "res")


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failure_while_saving_leaves_no_partial_directory(tmp_path, monkeypatch, error):
    res = run_model(small(output={"figures": True, "dpi": 30}))
    calls = []

    def failing_savefig(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == 2:  # after the first figure was written
            raise error

    monkeypatch.setattr("matplotlib.figure.Figure.savefig", failing_savefig)
    with pytest.raises(type(error)):
        res.save(tmp_path / "res")
    assert list(tmp_path.iterdir()) == []
    # an existing result survives a failed --force replacement untouched
    monkeypatch.undo()
    res.save(tmp_path / "res")
    before = sorted(p.name for p in (tmp_path / "res").iterdir())
    calls.clear()
    monkeypatch.setattr("matplotlib.figure.Figure.savefig", failing_savefig)
    with pytest.raises(type(error)):
        res.save(tmp_path / "res", force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == before


def test_force_replaces_only_a_previous_result(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment._run, "_execute", lambda *a: pytest.fail("ran anyway"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a plasticsim result"):
        run_model(small(), out=other, force=True)
    assert (other / "keep.txt").read_text() == "mine"
    # never the working directory or one of its ancestors, even if it looks like a result
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    (tmp_path / "a" / "metrics.json").write_text("{}")
    (work / "metrics.json").write_text("{}")
    monkeypatch.chdir(work)
    for target in [Path("."), work, Path(".."), tmp_path / "a"]:
        with pytest.raises(FileExistsError, match="working directory or one of its ancestors"):
            run_model(small(), out=target, force=True)
    assert (work / "metrics.json").is_file()


def test_out_under_a_file_is_refused_before_running(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment._run, "_execute", lambda *a: pytest.fail("ran anyway"))
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="is not a directory"):
        run_model(small(), out=tmp_path / "file" / "res")


def test_a_failed_move_aside_leaves_no_temporary_directory(tmp_path, monkeypatch):
    res = run_model(small())
    res.save(tmp_path / "res")
    real_rename = experiment._results.os.rename

    def failing_rename(src, dst):
        if Path(dst).name == "result":  # moving the old result aside
            raise PermissionError("read-only")
        return real_rename(src, dst)

    monkeypatch.setattr(experiment._results.os, "rename", failing_rename)
    with pytest.raises(PermissionError):
        res.save(tmp_path / "res", force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]
    assert (tmp_path / "res" / "metrics.json").is_file()


def test_read_results_refuses_other_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a plasticsim result"):
        read_results(tmp_path)


def test_online_cycles_after_everything_is_pruned_only_measure():
    """A sleep asked to decide with no LABILE synapse raises; once every synapse is pruned
    a later cycle has nothing to decide and only measures (recorded as not decided)."""
    model = small(
        pruning={"k": 1e-9, "online": True, "controls": ["weight"]},  # p ~ 1e-9: all pruned
        online={"dt": 0.01, "sleep": 3.0, "burn_in": 1.0, "cycles": 2, "relabile": 1.0},
    )
    first, second = run_model(model, rng=4).metrics["online"]["epochs"]
    assert first["decided"] and first["counts_after"]["PRUNED"] == first["n_candidates"]
    assert not second["decided"] and second["n_candidates"] == 0
