"""Models: where the shipped ones live, ``--set`` overrides and :func:`load_model`.

A model is a TOML file, the name of a shipped model, or the same structure as a dict;
:func:`load_model` reads it, applies the overrides and validates it against
:data:`~plasticsim.experiment.SCHEMA` into a :class:`Model`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ._schema import SCHEMA, ModelError, _closest, _cross_checks, _fail, _walk

__all__ = ["Model", "load_model", "models_dir", "resolve_model", "shipped_models"]


@dataclasses.dataclass(frozen=True)
class Model:
    """A validated model.

    Attributes
    ----------
    config : dict
        Every key of :data:`SCHEMA` with its value or default (``None`` where unset).
    source : str
        Where it came from (file path or ``"<dict>"``), with the ``--set`` keys applied.
    base_dir : pathlib.Path
        Directory that relative paths (``network.file``) resolve against.
    """

    config: dict
    source: str
    base_dir: Path

    @property
    def name(self) -> str:
        return self.config["name"]


def models_dir() -> Path:
    """Directory of the models shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "models"


def shipped_models() -> dict[str, Path]:
    """The shipped models, ``{name: path}``, sorted by name."""
    return {p.stem: p for p in sorted(models_dir().glob("*.toml"))}


def resolve_model(ref) -> Path:
    """A model file from a path, or from the name of a shipped model (``"clustered"``).

    Raises
    ------
    FileNotFoundError
        If ``ref`` is neither an existing file nor the name of a shipped model; the
        message suggests the closest shipped model's name.

    Examples
    --------
    >>> resolve_model("clustered").name
    'clustered.toml'
    >>> resolve_model("clusterd")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no model file 'clusterd' and no shipped model of that name (shipped: asymmetric, clustered, clustered_huge, clustered_large, dale, from_file, lifetime, multapses, rectified, sleep_cycles, spiking, sweeps); did you mean 'clustered'?
    """  # noqa: E501
    path = Path(ref)
    if path.is_file():
        return path
    shipped = shipped_models()
    name = path.name.removesuffix(".toml")
    if path.parent == Path(".") and name in shipped:
        return shipped[name]
    hint = _closest(name, shipped) if path.parent == Path(".") else None
    raise FileNotFoundError(
        f"no model file {str(ref)!r} and no shipped model of that name "
        f"(shipped: {', '.join(shipped)})"
        + (f"; did you mean {hint!r}?" if hint is not None else ".")
    )


def _plain_default(obj):
    """numpy scalars and arrays as Python values; anything else is not a model value."""
    if isinstance(obj, np.generic | np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} {obj!r} is not a TOML value")


def _plain_copy(data):
    """A deep copy of JSON-like data as plain dicts, lists and scalars (numpy converted)."""
    return json.loads(json.dumps(data, default=_plain_default))


def _default_name(path: Path) -> str:
    """The file name without ``.toml``, made a safe folder name (``my model`` -> ``my_model``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem)
    return "model" if name in ("", ".", "..") else name


_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


def _parse_override(item: str) -> tuple[str, object]:
    """``"a.b=value"`` -> ``("a.b", value)``; ``value`` is TOML, a bare word a string."""
    if not isinstance(item, str) or "=" not in item:
        raise _fail("--set", "", f"--set {item!r}: expected KEY=VALUE, e.g. pruning.density=0.2.")
    key, raw = (part.strip() for part in item.split("=", 1))
    if not _KEY_RE.match(key):
        raise _fail("--set", key, f"--set {item!r}: {key!r} is not a dotted key (a.b.c).")
    if raw == "":
        return key, None  # an empty value removes the key: back to its default
    try:
        return key, tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return key, raw  # a bare word: --set network.generator=dale


def _apply_overrides(data: dict, overrides, source: str) -> set:
    """Apply ``KEY=VALUE`` strings or ``{dotted key: value}`` to ``data``; return the keys."""
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        items = [_parse_override(item) for item in overrides]
    done = set()
    for key, value in items:
        parts = key.split(".")
        node = data
        for depth, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                where = ".".join(parts[: depth + 1])
                raise _fail(source, key, f"--set {key}: {where} is not a table.")
        if value is None:
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = value
        done.add(key)
    return done


def load_model(model, *, overrides=()) -> Model:
    """Read and validate a model.

    Parameters
    ----------
    model : str, path-like, dict or Model
        A TOML file, the name of a shipped model, or the model as a dict (relative paths
        then resolve against the working directory).
    overrides : sequence of str or mapping, default=()
        ``"KEY=VALUE"`` strings (the CLI's ``--set``: the value is TOML, a bare word is a
        string, an empty value restores the default) or ``{dotted key: value}``.

    Returns
    -------
    Model

    Raises
    ------
    ModelError
        Unknown keys, wrong types, out-of-range values or inconsistent settings: every
        problem at once, each naming the key and the rule.
    FileNotFoundError
        If the file does not exist.

    Examples
    --------
    >>> m = load_model("clustered", overrides=["pruning.density=0.2"])
    >>> m.config["pruning"]["density"], m.config["neurons"]["tau"]
    (0.2, 10.0)
    >>> load_model({"network": {"generator": "clustered"}, "pruning": {"densty": 0.1}})
    Traceback (most recent call last):
    ...
    plasticsim.experiment.ModelError: <dict>: unknown key 'pruning.densty' (allowed in [pruning]: density, k, diagonal, offline, online, controls, method, eps, min_kept); did you mean 'pruning.density'?
    """  # noqa: E501
    if isinstance(model, Model):
        data, base, source = _plain_copy(model.config), model.base_dir, model.source
    elif isinstance(model, Mapping):
        base, source = Path.cwd(), "<dict>"
        try:
            data = _plain_copy(dict(model))
        except (TypeError, ValueError) as exc:  # e.g. a set, or a NaN (not TOML either)
            raise _fail(source, "", f"the model must hold TOML values only: {exc}.") from None
    else:
        path = resolve_model(model)
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise _fail(str(path), "", f"not valid TOML: {exc}.") from None
        base, source = path.resolve().parent, str(path)
        data.setdefault("name", _default_name(path))
    overridden = _apply_overrides(data, overrides, source)
    if overridden:
        source = f"{source} (with --set {', '.join(sorted(overridden))})"
    problems: list = []
    cfg = _walk(SCHEMA, data, "", problems, overridden)
    if not problems:
        problems = _cross_checks(cfg)
    if problems:
        raise ModelError(source, problems)
    cfg["name"] = cfg["name"] or "model"
    dyn = cfg["evaluation"]["dynamics"]
    if dyn["sigma"] is None:
        dyn["sigma"] = cfg["noise"]["sigma"]
    return Model(config=cfg, source=source, base_dir=base)
