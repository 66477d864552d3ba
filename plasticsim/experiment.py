"""Model files, runs and results: the pipeline behind the ``plasticsim`` command.

A *model* (a TOML file, or the same structure as a dict) describes a network, its neurons
and noise, how to prune it (the exact offline rule, the online Brian2 sleep simulator,
baseline controls) and how to evaluate the result (spectra, dynamics). The schema is
documented in ``models/README.md``; :data:`SCHEMA` is its machine-readable form. Every
unknown key, wrong type or out-of-range value is a :class:`ModelError` that names the
file, the key and the rule.

:func:`run_model` runs a model and returns :class:`Results` (metrics, arrays, figures);
:meth:`Results.save` writes them atomically to a directory.

Times in a model are in units of the membrane time constant ``tau`` (DESIGN.md §1),
except ``neurons.tau`` itself, in milliseconds, which sets the physical time scale of the
online Brian2 simulation and labels the figures.

Randomness: one integer seed per run. Every stage (network, offline sampling, each
control, online simulation, dynamics noise, dynamics inputs) draws from its own child of
``numpy.random.SeedSequence(seed)``, spawned in a fixed order, so the stages are
independent, each is reproducible on its own, and switching one stage off does not change
the numbers of the others.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import difflib
import hashlib
import inspect
import json
import logging
import math
import os
import platform
import re
import shutil
import tempfile
import time
import tomllib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from . import networks
from ._validation import check_matrix, check_rng, is_symmetric, spectral_abscissa

__all__ = [
    "SCHEMA",
    "METHODS",
    "ModelError",
    "Model",
    "Results",
    "LogProgress",
    "load_model",
    "run_model",
    "read_results",
    "shipped_models",
    "resolve_model",
    "models_dir",
]

log = logging.getLogger(__name__)

#: Method keys, in the order they appear in metrics, arrays and figures.
METHODS = ("noise", "online", "weight", "uniform", "magnitude")
_CONTROLS = ("weight", "uniform", "magnitude")
#: Stages that draw random numbers; each gets its own child SeedSequence, in this order.
#: Append new stages at the end so that existing seeds never change.
_STAGES = ("network", "noise", "weight", "uniform", "magnitude", "online", "dynamics", "inputs")
_GENERATORS = ("clustered", "clustered_asymmetric", "erdos_renyi", "dale")
_CLUSTERED = ("clustered", "clustered_asymmetric")
_MATRIX_SUFFIXES = (".npy", ".npz", ".csv")


# =========================================================================== errors


class ModelError(ValueError):
    """An invalid model: names the source (file and ``--set`` overrides), key and rule.

    Attributes
    ----------
    source : str
        The model file (or ``"<dict>"``), with the ``--set`` keys that changed it.
    problems : list of (str, str)
        ``(key, message)`` pairs; ``key`` is dotted (``"pruning.density"``).
    """

    def __init__(self, source: str, problems: Sequence[tuple[str, str]]):
        self.source = source
        self.problems = list(problems)
        if len(self.problems) == 1:
            text = f"{source}: {self.problems[0][1]}"
        else:
            lines = "\n".join(f"  - {msg}" for _, msg in self.problems)
            text = f"{source}: {len(self.problems)} problems:\n{lines}"
        super().__init__(text)


def _fail(source: str, key: str, message: str) -> ModelError:
    return ModelError(source, [(key, message)])


# =========================================================================== schema


class _Invalid(Exception):
    """Raised by a field check; the message completes ``"<key> ..."``."""


def _type_name(value) -> str:
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)


class _Field:
    """A leaf of the schema: a type, a rule, a default and a one-line description."""

    what = "a value"

    def __init__(self, doc: str, default=None):
        self.doc = doc
        self.default = default

    def rule(self) -> str:
        return self.what

    def check(self, value):  # pragma: no cover - every field overrides it
        return value

    def _wrong_type(self, value) -> _Invalid:
        return _Invalid(f"must be {self.what}, got {_type_name(value)} {value!r}")


class _Number(_Field):
    def __init__(self, doc, default=None, *, integer=False, gt=None, ge=None, le=None):
        super().__init__(doc, default)
        self.integer, self.gt, self.ge, self.le = integer, gt, ge, le
        self.what = "an integer" if integer else "a number"

    def rule(self) -> str:
        if self.gt is not None:
            lo = f"({self.gt}"
        elif self.ge is not None:
            lo = f"[{self.ge}"
        else:
            lo = None
        if lo and self.le is not None:
            return f"{self.what} in {lo}, {self.le}]"
        if self.gt is not None:
            return f"{self.what} > {self.gt}"
        if self.ge is not None:
            return f"{self.what} >= {self.ge}"
        return self.what

    def check(self, value):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._wrong_type(value)
        if self.integer and not isinstance(value, int):
            raise self._wrong_type(value)
        if not math.isfinite(value):
            raise _Invalid(f"== {value!r}, must be finite")
        ok = (
            (self.gt is None or value > self.gt)
            and (self.ge is None or value >= self.ge)
            and (self.le is None or value <= self.le)
        )
        if not ok:
            raise _Invalid(f"== {value!r}, must be {self.rule()}")
        return value if self.integer else float(value)


class _Bool(_Field):
    what = "true or false"

    def check(self, value):
        if not isinstance(value, bool):
            raise self._wrong_type(value)
        return value


class _Str(_Field):
    what = "a non-empty string"

    def check(self, value):
        if not isinstance(value, str):
            raise self._wrong_type(value)
        if not value.strip():
            raise _Invalid(f"== {value!r}, must be {self.what}")
        return value


class _Choice(_Field):
    def __init__(self, doc, choices, default=None):
        super().__init__(doc, default)
        self.choices = tuple(choices)
        self.what = "one of " + ", ".join(repr(c) for c in self.choices)

    def check(self, value):
        if not isinstance(value, str):
            raise self._wrong_type(value)
        if value not in self.choices:
            hint = difflib.get_close_matches(value, self.choices, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise _Invalid(f"== {value!r}, must be {self.what}{extra}")
        return value


class _List(_Field):
    def __init__(self, doc, item: _Field, default=(), *, unique=False, min_len=0):
        super().__init__(doc, list(default))
        self.item, self.unique, self.min_len = item, unique, min_len
        self.what = f"an array whose entries are {item.rule()}"

    def check(self, value):
        if not isinstance(value, list):
            raise self._wrong_type(value)
        if len(value) < self.min_len:
            raise _Invalid(f"== {value!r}, must have at least {self.min_len} entries")
        out = []
        for i, v in enumerate(value):
            try:
                out.append(self.item.check(v))
            except _Invalid as exc:
                raise _Invalid(f"[{i}] {exc}") from None
        if self.unique and len(set(out)) != len(out):
            raise _Invalid(f"== {value!r}, must not repeat an entry")
        return out


class _Leak(_Field):
    what = "'network' or a number > 0"

    def check(self, value):
        if value == "network":
            return value
        if isinstance(value, str):
            raise _Invalid(f"== {value!r}, must be {self.what}")
        return _Number(self.doc, gt=0).check(value)


class _Params(_Field):
    """A free-form table, checked against the generator's signature when it is built."""

    what = "a table"

    def check(self, value):
        if not isinstance(value, dict):
            raise self._wrong_type(value)
        return dict(value)


@dataclasses.dataclass(frozen=True)
class _Table:
    doc: str
    fields: dict


def _F(doc, default=None, **rule):
    return _Number(doc, default, **rule)


def _I(doc, default=None, **rule):
    return _Number(doc, default, integer=True, **rule)


_NETWORK = {
    "generator": _Choice("a generator of plasticsim.networks", _GENERATORS),
    "params": _Params("keyword arguments of the generator (not rng)", {}),
    "file": _Str("a weight matrix (.npy, .npz, .csv), relative to the model file"),
    "array": _Str("name of the array inside a .npz file that holds several"),
}
_NEURONS = {
    "tau": _F("membrane time constant in ms (online simulation, figures)", 10.0, gt=0),
    "leak": _Leak("'network' keeps A's diagonal; a number d sets A[i, i] = -d", "network"),
    "nonlinearity": _Choice("rates x or [x]+", ("linear", "relu"), "linear"),
    "bias": _F("tonic drive b of every neuron (sleep and dynamics)", 0.0),
}
_NOISE = {
    "sigma": _F("noise amplitude", 1.0, gt=0),
    "tau_noise": _F("noise correlation time (units of tau); 0 = white", 0.0, ge=0),
}
_PRUNING = {
    "density": _F("expected fraction of the synapses kept", gt=0, le=1),
    "k": _F("the constant of p = min(1, k s)", gt=0),
    "diagonal": _Choice(
        "diagonal of the pruned matrix", ("matched", "original", "zero"), "matched"
    ),
    "offline": _Bool("run the exact noise-prune rule", True),
    "online": _Bool("run the online Brian2 sleep simulator", False),
    "controls": _List("baselines at the same density", _Choice("", _CONTROLS), (), unique=True),
}
_ONLINE = {
    "target": _Choice("Brian2 code-generation target", ("numpy", "cython"), "numpy"),
    "dt": _F("integration step (units of tau)", 0.01, gt=0),
    "trace_dt": _F("interval between trace samples, a multiple of dt (units of tau)", gt=0),
    "cycles": _I("number of sleep (and wake) cycles", 1, ge=1),
    "sleep": _F("duration of each sleep epoch, burn-in included (units of tau)", 100.0, gt=0),
    "burn_in": _F("unmeasured start of each sleep (units of tau; default: 5 x slowest)", ge=0),
    "wake": _F("wake epoch after each sleep (units of tau); 0 = none", 0.0, ge=0),
    "decide": _Bool("make the decisions at the end of each sleep", True),
    "relabile": _F("probability that a stable synapse becomes labile again", 0.0, ge=0, le=1),
}
_DYNAMICS = {
    "enabled": _Bool("simulate", True),
    "trials": _I("independent noise realisations", 10, ge=1),
    "duration": _F("length of each trial (units of tau)", 20.0, gt=0),
    "dt": _F("Euler-Maruyama step (units of tau)", 0.01, gt=0),
    "sigma": _F("noise amplitude (default: noise.sigma)", ge=0),
    "x0": _Choice("initial state", ("zero", "random", "fixed_point"), "zero"),
    "x0_scale": _F("standard deviation of a random x0", 1.0, ge=0),
    "inputs": _Choice("random input pattern", ("none", "pulse", "constant"), "pulse"),
    "amplitude": _F("standard deviation of the input pattern", 1.0, ge=0),
    "pulse": _F("length of the input pulse (units of tau)", 2.0, gt=0),
    "record_every": _I("record every this many steps", 10, ge=1),
}
_EVALUATION = {
    "spectra": _Bool("compare spectra", True),
    "slowest": _List("numbers m of slowest modes reported", _I("m", ge=1), (1, 5), min_len=1),
    "dynamics": _Table("trajectories under identical noise", _DYNAMICS),
}
_OUTPUT = {
    "figures": _Bool("write PNG figures", True),
    "dpi": _I("figure resolution", 120, ge=20),
}

#: The model schema: nested tables of fields. ``models/README.md`` documents every key.
SCHEMA = _Table(
    "a model",
    {
        "name": _Str("short name (default: the file name without .toml)"),
        "description": _Str("what the model shows", ""),
        "seed": _I("seed of the run (default: fresh entropy, recorded)", ge=0),
        "network": _Table("the connectivity A", _NETWORK),
        "neurons": _Table("the rate neurons", _NEURONS),
        "noise": _Table("the noise that probes the network", _NOISE),
        "pruning": _Table("what prunes the network", _PRUNING),
        "online": _Table("the online simulator and its sleep/wake schedule", _ONLINE),
        "evaluation": _Table("how pruned networks are compared", _EVALUATION),
        "output": _Table("what is written", _OUTPUT),
    },
)


def _walk(spec: _Table, data, prefix: str, problems: list, overridden: set) -> dict:
    """Validate ``data`` against ``spec``; collect every problem, fill the defaults."""
    out = {}
    if not isinstance(data, dict):
        name = prefix.rstrip(".")
        problems.append((name, f"{name} must be a table, got {_type_name(data)} {data!r}."))
        data = {}
    for key in sorted(set(data) - set(spec.fields)):
        full = prefix + key
        hint = difflib.get_close_matches(key, list(spec.fields), n=1)
        end = f"; did you mean {prefix + hint[0]!r}?" if hint else "."
        where = f"[{prefix.rstrip('.')}]" if prefix else "the top level"
        allowed = ", ".join(spec.fields)
        message = f"unknown key {full!r}{_from_set(full, overridden)}"
        problems.append((full, f"{message} (allowed in {where}: {allowed}){end}"))
    for name, field in spec.fields.items():
        full = prefix + name
        value = data.get(name)
        if isinstance(field, _Table):
            value = {} if value is None else value
            out[name] = _walk(field, value, full + ".", problems, overridden)
        elif value is None:
            default = field.default
            out[name] = type(default)(default) if isinstance(default, list | dict) else default
        else:
            try:
                out[name] = field.check(value)
            except _Invalid as exc:
                sep = "" if str(exc).startswith("[") else " "
                problems.append((full, f"{full}{sep}{exc}{_from_set(full, overridden)}."))
                out[name] = field.default
    return out


def _from_set(key: str, overridden: set) -> str:
    return " (from --set)" if key in overridden else ""


def _check_params(generator: str, params: dict) -> list:
    """Unknown or missing keyword arguments of a generator (its values it checks itself)."""
    problems = []
    sig = inspect.signature(getattr(networks, generator))
    allowed = [p for p in sig.parameters if p != "rng"]
    for key in sorted(set(params) - set(allowed)):
        hint = difflib.get_close_matches(key, allowed, n=1)
        end = f"; did you mean {hint[0]!r}?" if hint else "."
        message = f"unknown key 'network.params.{key}': {generator}() takes {', '.join(allowed)}"
        problems.append((f"network.params.{key}", message + end))
    for key, p in sig.parameters.items():
        if key not in params and key != "rng" and p.default is inspect.Parameter.empty:
            message = f"network.params.{key} is required by network.generator == {generator!r}."
            problems.append((f"network.params.{key}", message))
    return problems


def _cross_checks(cfg: dict) -> list:
    """Rules that involve several keys, as ``(key, message)`` problems."""
    net, pr, on = cfg["network"], cfg["pruning"], cfg["online"]
    problems = _check_params(net["generator"], net["params"]) if net["generator"] else []
    add = problems.append
    if (net["generator"] is None) == (net["file"] is None):
        add(
            (
                "network",
                "network needs exactly one of network.generator and network.file, got "
                f"generator={net['generator']!r}, file={net['file']!r}.",
            )
        )
    if net["file"] is not None and net["params"]:
        add(("network.params", "network.params is for network.generator, not network.file."))
    if net["file"] is not None and not net["file"].endswith(_MATRIX_SUFFIXES):
        suffixes = ", ".join(_MATRIX_SUFFIXES)
        add(("network.file", f"network.file == {net['file']!r}, must end with {suffixes}."))
    if net["array"] is not None and not str(net["file"] or "").endswith(".npz"):
        add(("network.array", "network.array names an array of a .npz network.file."))
    if (pr["density"] is None) == (pr["k"] is None):
        add(
            (
                "pruning",
                "pruning needs exactly one of pruning.density and pruning.k, got "
                f"density={pr['density']!r}, k={pr['k']!r}.",
            )
        )
    if not (pr["offline"] or pr["online"] or pr["controls"]):
        add(("pruning", "pruning.offline and pruning.online are false, no controls: no method."))
    if on["dt"] > on["sleep"]:
        add(("online.dt", f"online.dt == {on['dt']!r}, must be <= online.sleep."))
    if on["burn_in"] is not None and on["burn_in"] >= on["sleep"]:
        add(("online.burn_in", f"online.burn_in == {on['burn_in']!r}, must be < online.sleep."))
    if pr["online"] and on["cycles"] > 1 and on["decide"] and on["relabile"] == 0:
        add(
            (
                "online.relabile",
                f"online.cycles == {on['cycles']} needs online.relabile > 0: every labile "
                "synapse is decided in its first sleep, so with online.relabile == 0 later "
                "sleeps have no candidates (1 re-decides every survivor each cycle).",
            )
        )
    dyn = cfg["evaluation"]["dynamics"]
    if dyn["dt"] > dyn["duration"]:
        add(
            (
                "evaluation.dynamics.dt",
                f"evaluation.dynamics.dt == {dyn['dt']!r}, must be <= "
                "evaluation.dynamics.duration.",
            )
        )
    return problems


# =========================================================================== loading


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
    return Path(__file__).resolve().parent / "models"


def shipped_models() -> dict[str, Path]:
    """The shipped models, ``{name: path}``, sorted by name."""
    return {p.stem: p for p in sorted(models_dir().glob("*.toml"))}


def resolve_model(ref) -> Path:
    """A model file from a path, or from the name of a shipped model (``"clustered"``).

    Raises
    ------
    FileNotFoundError
        If ``ref`` is neither an existing file nor the name of a shipped model.
    """
    path = Path(ref)
    if path.is_file():
        return path
    shipped = shipped_models()
    name = path.name.removesuffix(".toml")
    if path.parent == Path(".") and name in shipped:
        return shipped[name]
    raise FileNotFoundError(
        f"no model file {str(ref)!r} and no shipped model of that name "
        f"(shipped: {', '.join(shipped)})."
    )


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
    plasticsim.experiment.ModelError: <dict>: unknown key 'pruning.densty' (allowed in [pruning]: density, k, diagonal, offline, online, controls); did you mean 'pruning.density'?
    """  # noqa: E501
    if isinstance(model, Model):
        data, base, source = json.loads(json.dumps(model.config)), model.base_dir, model.source
    elif isinstance(model, Mapping):
        data, base, source = json.loads(json.dumps(dict(model))), Path.cwd(), "<dict>"
    else:
        path = resolve_model(model)
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise _fail(str(path), "", f"not valid TOML: {exc}.") from None
        base, source = path.resolve().parent, str(path)
        data.setdefault("name", path.stem)
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


# =========================================================================== progress


class LogProgress:
    """Progress of the long phases as log lines (the default; the CLI draws bars).

    A progress object has ``start(phase, total)``, ``advance(n)`` and ``finish()``;
    :func:`run_model` calls them around the covariance, the pruning, each sleep epoch, the
    spectra and the dynamics trials.
    """

    def __init__(self, logger: logging.Logger | None = None):
        self._log = logger or log
        self._phase = None
        self._t0 = 0.0

    def start(self, phase: str, total: int | None = None) -> None:
        self._phase, self._t0 = phase, time.perf_counter()
        self._log.info("%s ...", phase)

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self) -> None:
        self._log.info("%s done (%.2f s)", self._phase, time.perf_counter() - self._t0)


@contextlib.contextmanager
def _phase(progress, timings: dict, key: str, label: str, total=None) -> Iterator:
    t0 = time.perf_counter()
    progress.start(label, total)
    try:
        yield progress.advance
    finally:
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0
    progress.finish()


# =========================================================================== network


def _stage_seeds(seed: int) -> dict[str, int]:
    """One independent 63-bit seed per stage, from ``SeedSequence(seed).spawn``."""
    children = np.random.SeedSequence(seed).spawn(len(_STAGES))
    return {
        name: int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))
        for name, child in zip(_STAGES, children, strict=True)
    }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _load_matrix(model: Model) -> tuple[np.ndarray, dict]:
    net = model.config["network"]
    name = net["file"]
    path = (model.base_dir / name).resolve()
    if not path.is_file():
        raise _fail(
            model.source,
            "network.file",
            f"network.file == {name!r}: no such file {str(path)!r} (relative paths are "
            "relative to the model file).",
        )
    try:
        if path.suffix == ".csv":
            A = np.loadtxt(path, delimiter=",", ndmin=2, comments="#")
        elif path.suffix == ".npy":
            A = np.load(path, allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as z:
                names = list(z.files)
                key = net["array"]
                if key is None and len(names) != 1:
                    msg = f"network.file {name!r} holds arrays {names}: choose one with "
                    raise _fail(model.source, "network.array", msg + "network.array.")
                if key is not None and key not in names:
                    msg = f"network.array == {key!r}, must be one of {names} (in {name!r})."
                    raise _fail(model.source, "network.array", msg)
                A = z[names[0] if key is None else key]
    except (OSError, ValueError) as exc:
        if isinstance(exc, ModelError):
            raise
        msg = f"network.file {name!r} could not be read as a matrix: {exc}"
        raise _fail(model.source, "network.file", msg) from None
    return A, {"file": name, "path": str(path), "sha256": _sha256(path)}


def _generate(model: Model, seed: int) -> tuple[np.ndarray, np.ndarray | None, dict]:
    net = model.config["network"]
    name = net["generator"]
    fn = getattr(networks, name)
    params = dict(net["params"])
    try:
        A = fn(**params, rng=seed)
    except (TypeError, ValueError) as exc:
        msg = f"network.params of generator {name!r}: {exc}"
        raise _fail(model.source, "network.params", msg) from None
    labels = None
    if name in _CLUSTERED:
        labels = networks.cluster_labels(params["sizes"])
    elif name == "dale":
        labels = np.repeat([0, 1], [params["n_exc"], params["n_inh"]])
    return A, labels, {"generator": name, "params": params}


def _build_network(model: Model, seed: int) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """The connectivity ``A``, group labels (clusters, E/I) or None, and provenance."""
    cfg, source = model.config, model.source
    if cfg["network"]["generator"] is not None:
        A, labels, info = _generate(model, seed)
    else:
        (A, info), labels = _load_matrix(model), None
    try:
        A = check_matrix(A, "the network matrix").copy()
    except (TypeError, ValueError) as exc:
        raise _fail(source, "network", f"network: {exc}") from None
    leak = cfg["neurons"]["leak"]
    if leak != "network":
        np.fill_diagonal(A, -leak)
    off = A != 0
    np.fill_diagonal(off, False)
    if not off.any():
        raise _fail(source, "network", "network: every off-diagonal entry is zero: no synapse.")
    diag = np.diag(A)
    if cfg["pruning"]["diagonal"] == "matched" and np.any(diag >= 0):
        i = int(np.argmax(diag >= 0))
        msg = (
            f"the network has A[{i}, {i}] == {float(diag[i])!r}: pruning.diagonal == "
            "'matched' needs a leak on the diagonal (every A[i, i] < 0); set neurons.leak to a "
            "number > 0."
        )
        raise _fail(source, "neurons.leak", msg)
    symmetric = is_symmetric(A)
    if not _is_stable(A, symmetric):
        abscissa = spectral_abscissa(A)
        msg = (
            f"the network is not stable: its spectral abscissa is {abscissa:.6g}, must be < 0 "
            "(no stationary covariance); increase the leak (neurons.leak, or the generator's)."
        )
        raise _fail(source, "neurons.leak", msg)
    info.update(n=int(A.shape[0]), n_synapses=int(off.sum()), symmetric=symmetric)
    return A, labels, info


def _is_stable(A: np.ndarray, symmetric: bool) -> bool:
    """Every eigenvalue has a negative real part: a Cholesky factorisation of ``-A`` when
    ``A`` is symmetric (``n^3 / 3`` flops, no eigenvalues), else the eigenvalues."""
    if symmetric:
        try:
            np.linalg.cholesky(-A)
        except np.linalg.LinAlgError:
            return False
        return True
    return spectral_abscissa(A) < 0


def _kept_fraction(A: np.ndarray, B: np.ndarray) -> float:
    orig = A != 0
    np.fill_diagonal(orig, False)
    return float(np.count_nonzero(orig & (B != 0)) / np.count_nonzero(orig))


# =========================================================================== the run


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

    def phase(self, key: str, label: str, total=None):
        return _phase(self.progress, self.timings, key, label, total)

    def network(self):
        with self.phase("network", "network"):
            A, labels, info = _build_network(self.model, self.seeds["network"])
        self.A, self.info, self.n_syn = A, info, info["n_synapses"]
        self.arrays["matrix_original"] = A
        if labels is not None:
            self.arrays["labels"] = labels
        kind = "symmetric" if info["symmetric"] else "asymmetric"
        log.info("network: %d neurons, %d synapses, %s", info["n"], self.n_syn, kind)

    def rule(self):
        """Covariance, scores and the exact rule's probabilities (for every method)."""
        from .covariance import noise_covariance
        from .rule import pruning_probabilities, synapse_scores

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
        self.density = pr["density"] or float(P.sum() / self.n_syn)
        self.arrays.update(covariance=C, scores=S, probabilities=P)

    def offline(self):
        from .rule import sparsify

        with self.phase("prune.noise", "offline noise-prune"):
            B = sparsify(
                self.A, self.P, rng=self.seeds["noise"], diagonal=self.cfg["pruning"]["diagonal"]
            )
        self._method("noise", B, self.P, k=self.k)

    def controls(self):
        from .rule import control_probabilities, sparsify

        diagonal = self.cfg["pruning"]["diagonal"]
        for name in self.cfg["pruning"]["controls"]:
            with self.phase(f"prune.{name}", f"control: {name}"):
                P = control_probabilities(self.A, strategy=name, density=self.density)
                rescale = name != "magnitude"
                B = sparsify(self.A, P, rng=self.seeds[name], diagonal=diagonal, rescale=rescale)
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

    def _method(self, name: str, B: np.ndarray, P, **extra):
        self.matrices[name] = B
        self.arrays[f"matrix_{name}"] = B
        entry = {"kept_fraction": _kept_fraction(self.A, B)}
        if P is not None:
            self.arrays[f"probabilities_{name}"] = P
            entry["expected_density"] = float(P.sum() / self.n_syn)
        entry.update(extra)
        self.methods[name] = entry
        log.info("%s: kept %.1f%% of the synapses", name, 100 * entry["kept_fraction"])

    def spectra(self):
        from .spectra import compare_spectra

        slowest = tuple(self.cfg["evaluation"]["slowest"])
        with self.phase("spectra", "spectra", total=len(self.matrices)) as advance:
            for name, B in self.matrices.items():
                cmp = compare_spectra(self.A, B)
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
        from .dynamics import trajectory_error

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
        relu = "relu" if cfg["neurons"]["nonlinearity"] == "relu" else None
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
                    nonlinearity=relu,
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


# =========================================================================== online


def _cycle_density(target: float, cycle: int, cycles: int, alive: int, candidates: float):
    """Fraction of the candidates to keep in ``cycle`` so the run ends at ``target`` synapses.

    Each remaining cycle shrinks the surviving synapses by the same factor
    ``f = (target / alive)^(1 / remaining)`` in expectation; with ``L`` expected candidates
    (labile plus relabiled) that keeps ``d = 1 - alive (1 - f) / L`` of the candidates.
    Returns ``(d, reachable)``.

    Examples
    --------
    >>> _cycle_density(10.0, 0, 1, 100, 100)
    (0.1, True)
    """
    if candidates <= 0:
        return 1.0, True
    f = min(1.0, target / alive) ** (1.0 / (cycles - cycle))
    d = 1.0 - alive * (1.0 - f) / candidates
    if d <= 0:
        return 1.0 / candidates, False
    return min(1.0, round(d, 15)), True


class _EpochProgress:
    """Brian2's ``report`` callback of one epoch (``completed`` in [0, 1]) -> ``advance``."""

    def __init__(self, advance, units: int):
        self.advance, self.units, self.done = advance, units, 0

    def __call__(self, elapsed, completed, start, duration):
        now = min(self.units, int(float(completed) * self.units))
        if now > self.done:
            self.advance(now - self.done)
            self.done = now

    def close(self):
        self(None, 1.0, None, None)


def _state_counts(net, n_syn: int) -> list[int]:
    """LABILE, STABLE and PRUNED counts; PRUNED includes the synapses compacted away."""
    from .online import LABILE, STABLE

    state = net.synapse_states().state
    labile = int(np.count_nonzero(state == LABILE))
    stable = int(np.count_nonzero(state == STABLE))
    return [labile, stable, n_syn - labile - stable]


def _run_online(run: _Run):
    """The online sleep/wake schedule in Brian2; returns (matrix, metrics, arrays)."""
    from brian2 import ms, second

    from .online import RateNetwork
    from .rule import synapse_scores

    cfg = run.cfg
    on, pr, noise = cfg["online"], cfg["pruning"], cfg["noise"]
    tau = cfg["neurons"]["tau"] * ms
    bias = cfg["neurons"]["bias"]
    with run.phase("online.build", "online: build the Brian2 network"):
        try:
            net = RateNetwork.from_matrix(
                run.A,
                tau=tau,
                sigma=noise["sigma"],
                noise_tau=noise["tau_noise"] * tau,
                nonlinearity="relu" if cfg["neurons"]["nonlinearity"] == "relu" else None,
                dt=on["dt"] * tau,
                target=on["target"],
                rng=run.seeds["online"],
                bias=bias if bias != 0 else None,
                trace_dt=None if on["trace_dt"] is None else on["trace_dt"] * tau,
            )
        except ValueError as exc:  # e.g. online.dt too coarse for this network
            scale = f"online times x neurons.tau == {cfg['neurons']['tau']:g} ms"
            raise _fail(run.model.source, "online", f"online ({scale}): {exc}") from None
    units, cycles = 1000, on["cycles"]
    counts = [_state_counts(net, run.n_syn)]
    epochs = []
    # Per synapse and epoch, concatenated over the epochs into arrays of the same names.
    columns = {
        f"online_{name}": []
        for name in (
            "scores_estimated",
            "scores_exact",
            "scores_epoch",
            "probabilities",
            "pre",
            "post",
        )
    }
    for c in range(cycles):
        M = net.matrix
        labile, stable, _ = counts[-1]
        density, k = None, pr["k"]
        if k is None:
            expected = labile + on["relabile"] * stable
            alive = labile + stable
            density, reachable = _cycle_density(
                pr["density"] * run.n_syn, c, cycles, alive, expected
            )
            if not reachable:
                log.warning(
                    "online cycle %d: too few candidates to reach pruning.density == %g",
                    c + 1,
                    pr["density"],
                )
        with run.phase("online.sleep", f"online: sleep {c + 1}/{cycles}", units) as advance:
            hook = _EpochProgress(advance, units)
            try:
                rep = net.sleep(
                    on["sleep"] * tau,
                    k=k,
                    density=density,
                    burn_in=None if on["burn_in"] is None else on["burn_in"] * tau,
                    decide=on["decide"],
                    relabile=on["relabile"],
                    report=hook,
                    report_period=0.5 * second,
                )
            except ValueError as exc:  # e.g. the default burn-in leaves no measurement
                scale = f"online times x neurons.tau == {cfg['neurons']['tau']:g} ms"
                raise _fail(run.model.source, "online", f"online ({scale}): {exc}") from None
            hook.close()
        # The exact scores of the network as it was during the measurement.
        exact = synapse_scores(M, sigma=noise["sigma"], noise_tau=noise["tau_noise"])
        exact = exact[rep.post, rep.pre]
        ok = (rep.candidate if rep.candidate.any() else np.ones(exact.size, bool)) & (exact > 0)
        corr = float(np.corrcoef(rep.scores[ok], exact[ok])[0, 1]) if ok.sum() > 1 else None
        rel = np.abs(rep.scores[ok] - exact[ok]) / exact[ok]
        values = (rep.scores, exact, np.full(exact.size, c), rep.probabilities, rep.pre, rep.post)
        for column, value in zip(columns.values(), values, strict=True):
            column.append(value)
        counts.append(_state_counts(net, run.n_syn))
        epochs.append(
            {
                "cycle": c + 1,
                "seed": rep.seed,
                "measured_tau": float(rep.measured / tau),
                "n_samples": rep.n_samples,
                "decided": rep.decided,
                "symmetric": rep.symmetric,
                "k": rep.k,
                "density_of_candidates": density,
                "n_candidates": rep.n_candidates,
                "n_relabile": rep.n_relabile,
                "kept_fraction_of_candidates": rep.kept_fraction,
                "counts_before": rep.counts_before,
                "counts_after": dict(zip(("LABILE", "STABLE", "PRUNED"), counts[-1], strict=True)),
                "trace_score_correlation": corr,
                "trace_score_rel_err_median": float(np.median(rel)) if rel.size else None,
                "wall_time": rep.wall_time,
            }
        )
        if on["wake"] > 0:
            with run.phase("online.wake", f"online: wake {c + 1}/{cycles}", units) as advance:
                hook = _EpochProgress(advance, units)
                net.wake(on["wake"] * tau, record=False, report=hook, report_period=0.5 * second)
                hook.close()
    record = {
        "epochs": epochs,
        "seed": net.seed,
        "target": on["target"],
        "trace_dt_tau": float(net.trace_dt / tau),
    }
    arrays = {name: np.concatenate(column) for name, column in columns.items()}
    arrays["online_state_counts"] = np.array(counts, dtype=np.int64)
    return net.matrix, record, arrays


# =========================================================================== run_model


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
        If ``out`` exists and ``force`` is false (checked before running).

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
    if model.config["pruning"]["online"]:
        # Import Brian2 first: on import it routes Python warnings to its logger
        # (logging.captureWarnings), which would bypass the recording below.
        from . import online  # noqa: F401
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
    run.network()
    run.rule()
    if cfg["pruning"]["offline"]:
        run.offline()
    if cfg["pruning"]["online"]:
        run.online()
    run.controls()
    run.matrices = {m: run.matrices[m] for m in METHODS if m in run.matrices}
    if cfg["evaluation"]["spectra"]:
        run.spectra()
    if cfg["evaluation"]["dynamics"]["enabled"]:
        run.dynamics()
    run.timings["total"] = time.perf_counter() - t0
    config = json.loads(json.dumps(cfg))
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


# =========================================================================== results


def _check_target(target: Path, force: bool) -> None:
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{str(target)!r} exists and is not a directory.")
    if target.exists() and not force:
        raise FileExistsError(
            f"{str(target)!r} already exists; use --force (force=True) to replace it, or "
            "choose another directory."
        )


@dataclasses.dataclass(eq=False)
class Results:
    """The outcome of :func:`run_model`.

    Attributes
    ----------
    model : dict
        The model as run (every key, defaults filled in, the seed used).
    metrics : dict
        JSON-ready: per method (``metrics["methods"][name]``) the kept fraction, spectral
        errors and trajectory errors; ``timings``, ``seed`` and ``seeds``, ``versions``,
        ``warnings``, ``online`` (per-epoch records) and the model.
    arrays : dict of str to ndarray
        ``matrix_original``, ``covariance``, ``scores``, ``probabilities`` (the exact
        rule); per method ``matrix_<m>``, ``probabilities_<m>``, ``eigenvalues_<m>``,
        ``relative_errors_<m>``, ``trajectory_error_<m>``; ``eigenvalues_original``,
        ``times``; ``labels`` (clusters, E/I); ``online_*`` for online runs.
    path : pathlib.Path or None
        Where the results were saved, if they were.
    """

    model: dict
    metrics: dict
    arrays: dict
    path: Path | None = None

    def figures(self) -> dict:
        """The figures as ``{file stem: matplotlib.figure.Figure}``."""
        from .plotting import result_figures

        return result_figures(self)

    def save(self, out, *, force=False) -> Path:
        """Write ``metrics.json``, ``arrays.npz`` and the figures to the directory ``out``.

        Everything is written into a temporary directory beside ``out`` and renamed to
        ``out`` when complete, so an interruption or a failure leaves no partial result.
        An existing ``out`` is replaced only with ``force=True`` (moved aside, then
        deleted after the rename).

        Returns
        -------
        pathlib.Path
            ``out``.
        """
        target = Path(out)
        _check_target(target, force)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o777 & ~umask)  # mkdtemp creates it private (0o700)
            with open(tmp / "metrics.json", "w", encoding="utf-8") as fh:
                json.dump(self.metrics, fh, indent=2, allow_nan=False)
                fh.write("\n")
            np.savez_compressed(tmp / "arrays.npz", **self.arrays)
            if self.model["output"]["figures"]:
                for stem, fig in self.figures().items():
                    fig.savefig(tmp / f"{stem}.png", dpi=self.model["output"]["dpi"])
            _replace_dir(tmp, target, force)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.path = target
        log.info("results written to %s", target)
        return target


def _replace_dir(tmp: Path, target: Path, force: bool) -> None:
    """Rename ``tmp`` to ``target``; with ``force`` an existing ``target`` is replaced."""
    if not target.exists():
        os.rename(tmp, target)
        return
    _check_target(target, force)
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rename(target, old / "result")
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(old / "result", target)  # put the old result back
        os.rmdir(old)
        raise
    shutil.rmtree(old, ignore_errors=True)


def read_results(path) -> Results:
    """Load a saved result directory (``metrics.json`` and ``arrays.npz``).

    Raises
    ------
    FileNotFoundError
        If ``path`` has no ``metrics.json``.
    """
    path = Path(path)
    if not (path / "metrics.json").is_file():
        raise FileNotFoundError(f"{str(path)!r} is not a plasticsim result (no metrics.json).")
    with open(path / "metrics.json", encoding="utf-8") as fh:
        metrics = json.load(fh)
    arrays = {}
    if (path / "arrays.npz").is_file():
        with np.load(path / "arrays.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    return Results(model=metrics["model"], metrics=metrics, arrays=arrays, path=path)
