"""Running a model: :func:`run_model` and its stages, in order.

The stages are the network, the exact rule (covariance, scores, probabilities), offline
noise-prune, online noise-prune (``_online``), the controls, the spectra and the
dynamics; a spiking model (``spiking.enabled``) runs its own stages (``_spiking``). Each
fills metrics and arrays; :func:`run_model` collects them into
:class:`~plasticsim.experiment.Results`.

Randomness: one integer seed per run. Every stage that draws random numbers gets its own
child of ``numpy.random.SeedSequence(seed)``, spawned in the fixed order of
:data:`_STAGES`.
"""

from __future__ import annotations

import datetime
import logging
import math
import platform
import time
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np

from .._validation import check_rng, is_sparse, spectral_abscissa
from ._lifetime import _run_lifetime
from ._model import Model, _plain_copy, load_model
from ._network import _build_network, _kept_fraction, fragments
from ._online import _run_online
from ._progress import LogProgress, _phase
from ._results import Results, _check_target
from ._schema import METHODS, _fail
from ._spiking import run_spiking

__all__ = ["run_model"]

log = logging.getLogger(__package__)  # one logger for the package: plasticsim.experiment

#: Stages that draw random numbers; each gets its own child SeedSequence, in this order.
#: Append new stages at the end so that existing seeds never change.
_STAGES = (
    "network",
    "noise",
    "weight",
    "uniform",
    "magnitude",
    "online",
    "dynamics",
    "inputs",
    "lifetime",
)


def _stage_seeds(seed: int) -> dict[str, int]:
    """One independent 63-bit seed per stage, from ``SeedSequence(seed).spawn``."""
    children = np.random.SeedSequence(seed).spawn(len(_STAGES))
    return {
        name: int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))
        for name, child in zip(_STAGES, children, strict=True)
    }


class _Drive:
    """External input ``u(s)`` of the dynamics: the bias plus an optional random pattern.

    :func:`plasticsim.dynamics.trajectory_error` calls it once at the start of every step,
    so it also advances the progress bar (without effect on the numbers).
    """

    def __init__(self, bias, pattern, kind: str, pulse: float, n_steps: int, advance):
        self.bias = bias
        self.driven = None if pattern is None else bias + pattern
        self.kind, self.pulse, self.advance = kind, pulse, advance
        self.every = max(1, n_steps // 100)
        self.calls = 0

    def __call__(self, s):
        self.calls += 1
        if self.calls % self.every == 0:
            self.advance(self.every)
        if self.driven is not None and (self.kind == "constant" or s < self.pulse):
            return self.driven
        return self.bias


class _Run:
    """One run of a model: the stages in order, filling metrics, arrays and timings."""

    def __init__(self, model: Model, seed: int, progress):
        self.model, self.cfg, self.seed = model, model.config, seed
        self.seeds = _stage_seeds(seed)
        self.progress = progress
        self.timings: dict[str, float] = {}
        self.arrays: dict[str, np.ndarray] = {}
        self.methods: dict[str, dict] = {}
        self.matrices: dict[str, np.ndarray] = {}
        self.extra: dict = {}
        # The nonlinearity argument of the simulators: "relu" or None (linear).
        self.nonlinearity = "relu" if self.cfg["neurons"]["nonlinearity"] == "relu" else None

    def phase(self, key: str, label: str, total=None):
        return _phase(self.progress, self.timings, key, label, total)

    def network(self):
        with self.phase("network", "network"):
            A, labels, info = _build_network(self.model, self.seeds["network"])
        self.A, self.info, self.n_syn = A, info, info["n_synapses"]
        self.sparse = is_sparse(A)
        self.arrays["matrix_original"] = A
        if labels is not None:
            self.arrays["labels"] = labels
        kind = "symmetric" if info["symmetric"] else "asymmetric"
        kind += ", sparse" if self.sparse else ""
        log.info("network: %d neurons, %d synapses, %s", info["n"], self.n_syn, kind)
        if self.sparse:
            info["fragments"] = fragments(A)

    def rule(self):
        """Covariance, scores and the exact rule's probabilities (for every method)."""
        if self.sparse:
            return self._rule_sparse()
        from ..covariance import noise_covariance
        from ..rule import pruning_probabilities, synapse_scores

        noise, pr = self.cfg["noise"], self.cfg["pruning"]
        with self.phase("covariance", "covariance"):
            C = noise_covariance(self.A, sigma=noise["sigma"], noise_tau=noise["tau_noise"])
        with self.phase("probabilities", "scores and probabilities"):
            S = synapse_scores(self.A, C)
            P, k = pruning_probabilities(
                self.A, C=C, density=pr["density"], k=pr["k"], return_k=True
            )
        self.C, self.P, self.k = C, P, k
        # Controls prune to the same expected density as the rule (given, or from k).
        self.density = pr["density"] or self._expected_density(P)
        self.arrays.update(covariance=C, scores=S, probabilities=P)

    def _rule_sparse(self):
        """Scores (sketched for large networks) and probabilities, never ``n x n``.

        The scores are drawn from the stage seed ``noise`` (the sketch's random signs);
        the sampling of the offline rule uses the same seed on another stream
        (:func:`plasticsim.rule.sparsify`).
        """
        from .._sparse import from_list, synapse_list
        from ..rule import _k_from_values, _resolve_method, synapse_scores

        noise, pr = self.cfg["noise"], self.cfg["pruning"]
        try:
            method = _resolve_method(
                self.A, pr["method"], C=None, noise_tau=noise["tau_noise"], eps=pr["eps"]
            )
        except ValueError as exc:
            raise _fail(self.model.source, "pruning.method", f"pruning.method: {exc}") from None
        label = f"scores ({method}) and probabilities"
        with self.phase("probabilities", label):
            S = synapse_scores(
                self.A,
                sigma=noise["sigma"],
                noise_tau=noise["tau_noise"],
                method=method,
                eps=pr["eps"],
                rng=self.seeds["noise"],
            )
            i, j, s = synapse_list(S)
            k = _k_from_values(s, pr["density"], pr["k"], "score")
            P = from_list(S.shape[0], i, j, np.minimum(1.0, k * s))
        self.C, self.P, self.k = None, P, k
        self.density = pr["density"] or self._expected_density(P)
        self.arrays.update(scores=S, probabilities=P)
        self.extra["scores"] = {"method": method, "eps": pr["eps"]}
        self.extra["not_computed"] = {
            "covariance": "an n x n array: a sparse network stores the synapses' scores "
            "(arrays 'scores') instead",
            "whole_spectrum": "the spectra cover the slowest modes only (evaluation.slowest); "
            "whole-spectrum statistics are null",
            "dynamics": "plasticsim.dynamics simulates dense matrices "
            "(evaluation.dynamics.enabled = false)",
        }

    def offline(self):
        from ..rule import sparsify

        with self.phase("prune.noise", "offline noise-prune"):
            pr = self.cfg["pruning"]
            B = sparsify(
                self.A,
                self.P,
                rng=self.seeds["noise"],
                diagonal=pr["diagonal"],
                min_kept=pr["min_kept"],
            )
        self._method("noise", B, self.P, k=self.k)

    def controls(self):
        from ..rule import control_probabilities, sparsify

        diagonal = self.cfg["pruning"]["diagonal"]
        for name in self.cfg["pruning"]["controls"]:
            with self.phase(f"prune.{name}", f"control: {name}"):
                P = control_probabilities(self.A, strategy=name, density=self.density)
                rescale = name != "magnitude"
                B = sparsify(
                    self.A,
                    P,
                    rng=self.seeds[name],
                    diagonal=diagonal,
                    rescale=rescale,
                    min_kept=self.cfg["pruning"]["min_kept"],
                )
            self._method(name, B, P)

    def online(self):
        if self.cfg["pruning"]["diagonal"] != "matched":
            log.warning(
                "pruning.diagonal == %r applies offline; the online rule changes each leak "
                "by the matched (homeostatic) rule",
                self.cfg["pruning"]["diagonal"],
            )
        B, record, arrays = _run_online(self)
        self.extra["online"] = record
        self.arrays.update(arrays)
        self._method("online", B, None, k=record["epochs"][-1]["k"])

    def lifetime(self):
        record, arrays = _run_lifetime(self)
        self.extra["lifetime"] = record
        self.arrays.update(arrays)

    def _method(self, name: str, B: np.ndarray, P, **extra):
        self.matrices[name] = B
        self.arrays[f"matrix_{name}"] = B
        entry = {"kept_fraction": _kept_fraction(self.A, B)}
        if self.sparse:
            entry["fragments"] = fragments(B)
        if P is not None:
            self.arrays[f"probabilities_{name}"] = P
            entry["expected_density"] = self._expected_density(P)
        entry.update(extra)
        self.methods[name] = entry
        log.info("%s: kept %.1f%% of the synapses", name, 100 * entry["kept_fraction"])
        if self.sparse:
            f = entry["fragments"]
            log.info(
                "%s: %d connected groups, %d isolated neurons, largest group %d",
                name,
                f["components"],
                f["isolated"],
                f["largest"],
            )

    def _expected_density(self, P: np.ndarray) -> float:
        """Expected fraction of the synapses kept with probabilities ``P``."""
        return float(P.sum() / self.n_syn)

    def spectra(self):
        from ..spectra import compare_spectra

        slowest = tuple(self.cfg["evaluation"]["slowest"])
        # Sparse: only the slowest max(slowest) modes (Lanczos per connected group).
        modes = max(slowest) if self.sparse else None
        label = f"spectra ({modes} slowest modes)" if self.sparse else "spectra"
        with self.phase("spectra", label, total=len(self.matrices)) as advance:
            for name, B in self.matrices.items():
                cmp = compare_spectra(self.A, B, slowest=modes)
                # A's eigenvalues, slowest first (the same order for every method).
                self.arrays["eigenvalues_original"] = cmp.eigenvalues
                self.arrays[f"eigenvalues_{name}"] = cmp.matched
                self.arrays[f"relative_errors_{name}"] = cmp.relative_errors
                entry = self.methods[name]
                entry["spectra"] = cmp.summary(slowest=slowest)
                entry["spectral_abscissa"] = float(np.max(np.real(cmp.matched)))
                advance(1)
        self.info["spectral_abscissa"] = float(np.real(self.arrays["eigenvalues_original"][0]))

    def _abscissa(self, name: str) -> float:
        entry = self.methods[name]
        if "spectral_abscissa" not in entry:
            entry["spectral_abscissa"] = spectral_abscissa(self.matrices[name])
        return entry["spectral_abscissa"]

    def dynamics(self):
        from ..dynamics import trajectory_error

        cfg, A = self.cfg, self.A
        dyn = cfg["evaluation"]["dynamics"]
        n, trials = A.shape[0], dyn["trials"]
        n_steps = max(1, round(dyn["duration"] / dyn["dt"]))
        gen = np.random.default_rng(self.seeds["inputs"])
        # Fixed draw order (x0, then the pattern) whatever the options.
        x0_random = gen.standard_normal((trials, n)) * dyn["x0_scale"]
        pattern = gen.standard_normal((trials, n)) * dyn["amplitude"]
        bias = np.full(n, cfg["neurons"]["bias"])
        if dyn["x0"] == "random":
            x0 = x0_random
        elif dyn["x0"] == "fixed_point":  # of the linear original network under the bias
            x0 = np.linalg.solve(-A, bias)
        else:
            x0 = None
        pattern = None if dyn["inputs"] == "none" else pattern
        names = list(self.matrices)
        label = f"dynamics ({trials} trials x {len(names)} networks)"
        with self.phase("dynamics", label, total=n_steps * len(names)) as advance:
            for name in names:
                entry = self.methods[name]
                if not self._abscissa(name) < 0:
                    log.warning(
                        "%s: the pruned network is unstable (spectral abscissa %.3g): its "
                        "dynamics are not simulated",
                        name,
                        entry["spectral_abscissa"],
                    )
                    entry["dynamics"] = {"skipped": "unstable"}
                    advance(n_steps)
                    continue
                drive = _Drive(bias, pattern, dyn["inputs"], dyn["pulse"], n_steps, advance)
                res = trajectory_error(
                    A,
                    self.matrices[name],
                    duration=dyn["duration"],
                    dt=dyn["dt"],
                    sigma=dyn["sigma"],
                    x0=x0,
                    inputs=drive,
                    nonlinearity=self.nonlinearity,
                    trials=trials,
                    rng=self.seeds["dynamics"],  # the same noise for every method
                    record_every=dyn["record_every"],
                )
                advance(n_steps - drive.calls // drive.every * drive.every)
                self.arrays["times"] = res.times
                self.arrays[f"trajectory_error_{name}"] = res.errors
                later = res.errors[:, 1:] if res.errors.shape[1] > 1 else res.errors
                entry["dynamics"] = {
                    "trajectory_error_mean": float(np.mean(later)),
                    "trajectory_error_final": float(res.mean[-1]),
                    "trajectory_error_final_std": float(res.std[-1]),
                    "trajectory_error_max": float(np.max(res.mean)),
                }


def _versions() -> dict:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in ("plasticsim", "numpy", "scipy", "matplotlib", "brian2"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _json_ready(x):
    """Plain Python scalars; NaN and infinity become None (JSON has neither)."""
    if isinstance(x, dict):
        return {k: _json_ready(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_ready(v) for v in x]
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(x) else None
    return x


def run_model(model, *, out=None, rng=None, force=False, overrides=(), progress=None):
    """Run a model: build the network, prune it, evaluate, and optionally save the results.

    Parameters
    ----------
    model : str, path-like, dict or Model
        A TOML model file, the name of a shipped model (``"clustered"``), or the model as
        a dict (relative paths then resolve against the working directory).
    out : str or path-like, default=None
        Also write the results to this directory (atomically, see :meth:`Results.save`).
    rng : None, int or numpy.random.Generator, default=None
        Seed of the run; ``None`` uses the model's ``seed`` (fresh entropy when it has
        none). The seed used is ``results.metrics["seed"]``.
    force : bool, default=False
        Replace an existing ``out``.
    overrides : sequence of str or mapping, default=()
        Changes to the model, as the CLI's ``--set`` (see :func:`load_model`).
    progress : object, default=None
        Receives ``start(phase, total)``, ``advance(n)`` and ``finish()``; by default each
        phase is logged (:class:`LogProgress`).

    Returns
    -------
    Results

    Raises
    ------
    ModelError
        For an invalid model, also when the network it describes is invalid.
    FileExistsError
        If ``out`` exists and may not be replaced: without ``force``, or with ``force``
        when it is not a plasticsim result or holds files plasticsim did not write
        (checked before running).
    PermissionError, NotADirectoryError
        If ``out`` cannot be written (a write probe, before running).

    Notes
    -----
    Warnings raised while running (e.g. a coarse online ``dt``) are logged and recorded in
    ``metrics["warnings"]``. The same model and seed give identical arrays.

    Examples
    --------
    >>> res = run_model("clustered", rng=0, overrides=[
    ...     "network.params.sizes=[20, 10, 15]", "pruning.online=false",
    ...     "evaluation.dynamics.trials=2", "evaluation.dynamics.duration=1.0"])
    >>> list(res.metrics["methods"])
    ['noise', 'weight', 'uniform']
    >>> res.arrays["matrix_noise"].shape
    (45, 45)
    """
    model = load_model(model, overrides=overrides)
    if out is not None:
        _check_target(Path(out), force)
    seed = check_rng(model.config["seed"] if rng is None else rng)[0]
    progress = LogProgress() if progress is None else progress
    if model.config["pruning"]["online"] or model.config["lifetime"]["enabled"]:
        # Import Brian2 first: on import it routes Python warnings to its logger
        # (logging.captureWarnings), which would bypass the recording below.
        from .. import online  # noqa: F401
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        results = _execute(model, seed, progress)
    seen = []
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        if text not in seen:
            seen.append(text)
            log.warning("%s", text)
    results.metrics["warnings"] = seen
    if out is not None:
        results.save(out, force=force)
    return results


def _execute(model: Model, seed: int, progress) -> Results:
    t0 = time.perf_counter()
    cfg = model.config
    run = _Run(model, seed, progress)
    log.info("model %s (%s), seed %d", model.name, model.source, seed)
    if cfg["spiking"]["enabled"]:  # a spiking LIF network: its own stages (_spiking)
        run_spiking(run)
    else:
        run.network()
        run.rule()
        if cfg["pruning"]["offline"]:
            run.offline()
        if cfg["pruning"]["online"]:
            run.online()
        run.controls()
        if cfg["lifetime"]["enabled"]:
            run.lifetime()
        run.matrices = {m: run.matrices[m] for m in METHODS if m in run.matrices}
        if cfg["evaluation"]["spectra"] and run.matrices:
            run.spectra()
        if cfg["evaluation"]["dynamics"]["enabled"] and run.matrices:
            run.dynamics()
    run.timings["total"] = time.perf_counter() - t0
    config = _plain_copy(cfg)
    config["seed"] = seed
    metrics = {
        "model": config,
        "source": model.source,
        "seed": seed,
        "seeds": run.seeds,
        "network": run.info,
        "k": run.k,
        "density": run.density,
        "methods": {m: run.methods[m] for m in METHODS if m in run.methods},
        **run.extra,
        "timings": run.timings,
        "versions": _versions(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    return Results(model=config, metrics=_json_ready(metrics), arrays=run.arrays)
