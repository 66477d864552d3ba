"""Golden spectra of model runs: the library side of ``plasticsim snapshot`` / ``check``.

:func:`snapshot_model` runs a model (:func:`plasticsim.experiment.run_model`) for a seed and
saves the spectra of the original and of every pruned network as a golden file;
:func:`check_model` reruns the model with the golden's seed and overrides and compares.

What is read from a run is confined to :func:`spectra_from_results`: the arrays
``eigenvalues_original`` and ``eigenvalues_<method>`` (one per pruning method) of
:class:`plasticsim.experiment.Results`, and ``results.model`` (the model as run, with its
``name`` and ``seed``). The dynamics do not enter a spectrum, so they are switched off
(each stage of a run draws from its own random stream, so this changes no eigenvalue),
and the spectra are switched on.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .._validation import _fmt, check_integer, check_nonnegative
from ._golden import DEFAULT_RTOL, Golden, GoldenError, check_golden, load_golden, save_golden

__all__ = ["spectra_from_results", "snapshot_model", "check_model"]

# Settings of every snapshot and check: the spectra on, the dynamics off unless the
# user's overrides turn them on. They are applied to the model as loaded, not as --set
# overrides, so that the model's source (logged, and in errors) names the user's only.
_DYNAMICS_KEY = "evaluation.dynamics.enabled"
_PREFIX = "eigenvalues_"


def spectra_from_results(results) -> dict[str, np.ndarray]:
    """The spectra of a model run, ``{"original": ..., "<method>": ...}``.

    Parameters
    ----------
    results : plasticsim.experiment.Results
        Anything with an ``arrays`` mapping holding ``eigenvalues_original`` and
        ``eigenvalues_<method>`` arrays.

    Returns
    -------
    dict of str to ndarray
        ``"original"`` first, then the methods in the order of the run.

    Raises
    ------
    TypeError
        If ``results`` has no ``arrays`` mapping.
    ValueError
        If it has no ``eigenvalues_*`` arrays (a run with ``evaluation.spectra = false``).

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> res = SimpleNamespace(arrays={"matrix_noise": np.eye(2),
    ...     "eigenvalues_noise": np.array([-1.0, -2.0]),
    ...     "eigenvalues_original": np.array([-1.0, -2.1])})
    >>> list(spectra_from_results(res))
    ['original', 'noise']
    """
    arrays = getattr(results, "arrays", None)
    if not isinstance(arrays, Mapping):
        raise TypeError(
            "results must be a plasticsim.experiment.Results (with an 'arrays' mapping), "
            f"got {_fmt(results)}."
        )
    spectra = {
        key.removeprefix(_PREFIX): np.asarray(value)
        for key, value in arrays.items()
        if key.startswith(_PREFIX)
    }
    if not spectra:
        raise ValueError(
            "results hold no eigenvalues_<method> arrays; run the model with "
            "evaluation.spectra = true."
        )
    if "original" in spectra:
        spectra = {"original": spectra.pop("original"), **spectra}
    return spectra


def results_metadata(results) -> dict:
    """What a golden records about a run: ``seed``, ``model_name`` and ``model`` (as run)."""
    model = getattr(results, "model", None)
    if not isinstance(model, Mapping):
        raise TypeError(
            "results must be a plasticsim.experiment.Results (with a 'model' dict), "
            f"got {_fmt(results)}."
        )
    seed = model.get("seed")
    return {
        "seed": None if seed is None else int(seed),
        "model_name": model.get("name"),
        "model": dict(model),
    }


def _check_overrides(overrides) -> list[str] | dict:
    """The user's overrides, checked: a sequence of ``"key=value"`` strings or a mapping."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return dict(overrides)
    if isinstance(overrides, str | bytes):
        raise TypeError(
            f"overrides must be a sequence of 'key=value' strings or a mapping, got the "
            f"string {overrides!r}; wrap it in a list."
        )
    items = list(overrides)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"overrides must hold 'key=value' strings, got {_fmt(item)}.")
    return items


def _load(model, overrides):
    """The model with the user's overrides, the spectra on and (by default) no dynamics."""
    from ..experiment import load_model

    overrides = _check_overrides(overrides)
    loaded = load_model(model, overrides=overrides)
    if isinstance(overrides, dict):
        keys = set(overrides)
    else:
        keys = {item.split("=", 1)[0].strip() for item in overrides}
    config = copy.deepcopy(loaded.config)
    if _DYNAMICS_KEY not in keys:
        config["evaluation"]["dynamics"]["enabled"] = False
    config["evaluation"]["spectra"] = True
    return dataclasses.replace(loaded, config=config)


def _check_golden_target(out: Path, force: bool) -> None:
    """Refuse, before running, a golden file that cannot be written or must not be replaced.

    Its directory (or nearest existing ancestor) must be a writable directory (a write
    probe); an existing ``out`` is replaced only with ``force`` and only if it is a golden.
    """
    from ..experiment._results import _check_writable

    out = Path(out)
    if out.is_dir():
        raise FileExistsError(f"{str(out)!r} is a directory; give the golden file's path.")
    if out.exists():
        if not force:
            raise FileExistsError(
                f"{str(out)!r} already exists; pass force=True (--force) to replace it."
            )
        try:
            load_golden(out)
        except (GoldenError, OSError) as exc:
            raise FileExistsError(
                f"refusing to replace {str(out)!r} with force=True (--force): it is not a "
                f"golden file ({exc}); remove it yourself or choose another path."
            ) from None
    _check_writable(out, "the golden file")


def _stored_overrides(overrides):
    if overrides is None:
        return []
    return dict(overrides) if isinstance(overrides, Mapping) else list(overrides)


def _run(model, seed, overrides):
    from ..experiment import run_model

    return run_model(_load(model, overrides), rng=seed)


def _model_ref(model):
    if isinstance(model, str | os.PathLike):
        return os.fspath(model)
    return None


def snapshot_model(model, out, *, seed=None, overrides=None, rtol=None, force=False) -> Golden:
    """Run a model and save the spectra of the original and pruned networks as a golden.

    Parameters
    ----------
    model : str, path-like, dict or plasticsim.experiment.Model
        As :func:`plasticsim.experiment.run_model` takes it: a TOML file, the name of a
        shipped model, or a dict.
    out : str or path-like
        The golden file to write (JSON, see :func:`save_golden`).
    seed : int, default=None
        Seed of the run; default: the model's ``seed`` (fresh entropy if it has none).
        The seed used is stored, so :func:`check_model` repeats the run.
    overrides : sequence of str or mapping, default=None
        ``"key=value"`` changes to the model (the CLI's ``--set``); stored and reapplied
        by :func:`check_model`.
    rtol : float, default=None
        Tolerance stored in the golden, the default of :func:`check_model`; default
        :data:`DEFAULT_RTOL` (1e-6).
    force : bool, default=False
        Replace an existing ``out`` (checked before running).

    Returns
    -------
    Golden
        What was written. Its metadata: ``seed``, ``model_name``, ``model_ref`` (the
        ``model`` argument when it is a path or name), ``overrides`` and ``model`` (every
        setting as run).

    Raises
    ------
    FileExistsError
        If ``out`` exists and ``force`` is false, or ``out`` is not a golden (``force``
        replaces a golden only), or is a directory; checked before running.
    PermissionError, NotADirectoryError
        If ``out`` cannot be written (a write probe in its directory, before running).
    plasticsim.experiment.ModelError
        For an invalid model.

    Examples
    --------
    >>> import os, tempfile
    >>> from plasticsim.testing import check_model, snapshot_model
    >>> model = {"name": "tiny", "network": {"generator": "clustered",
    ...          "params": {"sizes": [10, 8]}}, "pruning": {"density": 0.4}}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "tiny.json")
    ...     golden = snapshot_model(model, path, seed=3)
    ...     ok, report = check_model(model, path)
    >>> sorted(golden.spectra), golden.metadata["seed"], ok
    (['noise', 'original'], 3, True)
    """
    out = Path(out)
    if seed is not None:
        seed = check_integer("seed", seed, 0)
    rtol = DEFAULT_RTOL if rtol is None else check_nonnegative("rtol", rtol)
    _check_overrides(overrides)  # validate before running
    _check_golden_target(out, force)
    results = _run(model, seed, overrides)
    meta = results_metadata(results)
    metadata = {
        "seed": meta["seed"],
        "model_name": meta["model_name"],
        "model_ref": _model_ref(model),
        "overrides": _stored_overrides(overrides),
        "model": meta["model"],
    }
    from ..experiment._signals import deferred_signals

    spectra = spectra_from_results(results)
    with deferred_signals():  # no temporary file left behind by an interruption
        return save_golden(out, spectra, metadata=metadata, rtol=rtol)


def _flatten(d, prefix=""):
    out = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


#: Model keys that document a model and change no number: not reported as a drift's cause.
_PROSE = frozenset({"description"})


def _settings_diff(old: dict, new: dict, limit: int = 20) -> list[str]:
    a, b = _flatten(old), _flatten(new)
    keys = [
        k
        for k in sorted(set(a) | set(b))
        if k not in _PROSE and a.get(k, "<unset>") != b.get(k, "<unset>")
    ]
    lines = [f"    {k}: {a.get(k, '<unset>')!r} -> {b.get(k, '<unset>')!r}" for k in keys[:limit]]
    if len(keys) > limit:
        lines.append(f"    ... and {len(keys) - limit} more")
    return lines


def check_model(model, golden, *, rtol=None) -> tuple[bool, str]:
    """Rerun a model with a golden's seed and overrides and compare the spectra.

    Parameters
    ----------
    model : str, path-like, dict or plasticsim.experiment.Model
        The model, as for :func:`snapshot_model`.
    golden : str or path-like
        A golden written by :func:`snapshot_model`.
    rtol : float, default=None
        Relative tolerance; default: the golden's.

    Returns
    -------
    ok : bool
        Every spectrum matches (see :func:`check_golden`).
    report : str
        The comparison, and any model setting that differs from the golden's (a changed
        model file is the usual reason for a drift).

    Raises
    ------
    FileNotFoundError
        If the golden does not exist.
    GoldenError
        A ``ValueError``: if the golden is invalid or has no seed (not written by
        :func:`snapshot_model`);
        :class:`plasticsim.experiment.ModelError` for an invalid model.

    Examples
    --------
    See :func:`snapshot_model`.
    """
    g = load_golden(golden)
    seed = g.metadata.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise GoldenError(
            f"the golden {str(g.path)!r} has no integer 'seed' in its metadata "
            f"(got {seed!r}); write it with snapshot_model."
        )
    overrides = g.metadata.get("overrides") or None
    if rtol is not None:
        rtol = check_nonnegative("rtol", rtol)
    results = _run(model, seed, overrides)
    ok, report = check_golden(g, spectra_from_results(results), rtol=rtol)
    stored = g.metadata.get("model")
    if isinstance(stored, dict):
        diff = _settings_diff(stored, results.model)
        if diff:
            report += "\n  model settings that differ from the golden's (golden -> now):\n"
            report += "\n".join(diff)
    return ok, report
