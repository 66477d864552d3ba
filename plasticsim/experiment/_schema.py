"""The model schema: every key of a model, its type, rule and default, and the checks.

:data:`SCHEMA` is the machine-readable form of ``models/README.md``: nested tables of
fields. :func:`_walk` validates a model (a dict, as read from TOML) against it, collecting
every problem at once and filling the defaults; :func:`_cross_checks` adds the rules that
involve several keys. Every problem becomes a :class:`ModelError` that names the source,
the key and the rule.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import re
from collections.abc import Sequence

from .. import networks

__all__ = ["SCHEMA", "METHODS", "ModelError"]

#: Method keys, in the order they appear in metrics, arrays and figures.
METHODS = ("noise", "online", "weight", "uniform", "magnitude")
_CONTROLS = ("weight", "uniform", "magnitude")
_GENERATORS = ("clustered", "clustered_asymmetric", "erdos_renyi", "dale")
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

    # Tracebacks name the class where users import it from, not this private module.
    __module__ = "plasticsim.experiment"

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


def _closest(word: str, options) -> str | None:
    """The option closest to a misspelt ``word`` (for "did you mean"), or None."""
    hint = difflib.get_close_matches(word, list(options), n=1)
    return hint[0] if hint else None


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


class _Text(_Field):
    what = "a string"

    def check(self, value):
        if not isinstance(value, str):
            raise self._wrong_type(value)
        return value


class _Name(_Str):
    """A name that is also a safe folder name: no separators, not ``.`` or ``..``."""

    what = "a name of letters, digits, '_', '-' and '.' (not '.' or '..')"
    pattern = re.compile(r"^[A-Za-z0-9_.-]+$")

    def check(self, value):
        if not isinstance(value, str):
            raise self._wrong_type(value)
        if not self.pattern.match(value) or value in (".", ".."):
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
            hint = _closest(value, self.choices)
            extra = f" (did you mean {hint!r}?)" if hint is not None else ""
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
    "method": _Choice(
        "scores: exact covariance, or sketched (sparse networks)",
        ("auto", "exact", "sketch"),
        "auto",
    ),
    "eps": _F("accuracy of the sketched scores (default: plasticsim.sketch.DEFAULT_EPS)", gt=0),
    "min_kept": _I("every neuron keeps at least this many synapses (every method)", 0, ge=0),
}
_EXCITABILITY = {
    "period": _F("period of the up/down alternation (units of tau); absent = no sweeps", gt=0),
    "up": _F("leak factor in up states", 1.0, gt=0),
    "down": _F("leak factor in down states", 3.0, gt=0),
    "down_fraction": _F("fraction of each period in the down state", 0.5, ge=0, le=1),
}
_ONLINE = {
    "target": _Choice("Brian2 code-generation target", ("numpy", "cython"), "numpy"),
    "dt": _F("integration step (units of tau)", 0.01, gt=0),
    "trace_dt": _F("interval between trace samples, a multiple of dt (units of tau)", gt=0),
    "cycles": _I("number of sleep (and wake) cycles", 1, ge=1),
    "sleep": _F("duration of each sleep epoch, burn-in included (units of tau)", 100.0, gt=0),
    "burn_in": _F(
        "unmeasured start of each sleep (units of tau; default: 5 x slowest, 0 when "
        "start = 'stationary')",
        ge=0,
    ),
    "start": _Choice(
        "state at each sleep's start: where the network is, or a draw from its stationary "
        "distribution (linear, white noise)",
        ("current", "stationary"),
        "current",
    ),
    "wake": _F("wake epoch after each sleep (units of tau); 0 = none", 0.0, ge=0),
    "decide": _Bool("make the decisions at the end of each sleep", True),
    "relabile": _F("probability that a stable synapse becomes labile again", 0.0, ge=0, le=1),
    "multapses": _I("synapses per connected pair (each synapse split into this many)", 1, ge=1),
    "multapse_spread": _F("spread of the multapses' shares of a synapse", 0.0, ge=0, le=0.9),
    "excitability": _Table("excitability sweeps during sleep (up/down states)", _EXCITABILITY),
}
_LIFE_RULES = ("noise", "weight", "uniform", "none")
_LIFETIME = {
    "enabled": _Bool("run lifetimes of learning wakes and pruning sleeps", False),
    "cycles": _I("wake/sleep cycles of each lifetime", 4, ge=1),
    "wake": _F("duration of each learning wake (units of tau)", 20.0, gt=0),
    "sleep": _F("duration of each sleep, burn-in included (units of tau)", 20.0, gt=0),
    "burn_in": _F("unmeasured start of each sleep (units of tau; default: 5 x slowest)", ge=0),
    "patterns": _I("number of input patterns (disjoint groups of neurons)", 3, ge=1),
    "pattern_size": _I("neurons per pattern", 10, ge=2),
    "present": _F("how long each pattern is shown (units of tau)", 5.0, gt=0),
    "amplitude": _F("input on a pattern's neurons", 1.0, gt=0),
    "eta": _F("learning rate (per tau)", 0.05, gt=0),
    "decay": _F("weight decay of the Hebbian rule", 1.0, ge=0),
    "budget": _I("most new synapses per wake", 40, ge=0),
    "w_new": _F("weight of a new synapse", 0.05, gt=0),
    "threshold": _F("co-activity a pair needs for a new synapse", 0.1),
    "homeostasis_dt": _F(
        "interval of the homeostatic leak updates (units of tau; default: every learning "
        "step, online.trace_dt)",
        gt=0,
    ),
    "relabile": _F("probability that a stable synapse is decided again", 0.5, ge=0, le=1),
    "rules": _List(
        "sleep rules compared",
        _Choice("", _LIFE_RULES),
        ("noise", "weight", "uniform"),
        unique=True,
        min_len=1,
    ),
    "repeats": _I("independent lifetimes per rule", 1, ge=1),
    "cue_fraction": _F("part of each pattern cued by the recall test", 0.5, gt=0, le=0.95),
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
    "slowest": _List(
        "numbers m of slowest modes reported", _I("m", ge=1), (1, 5), unique=True, min_len=1
    ),
    "dynamics": _Table("trajectories under identical noise", _DYNAMICS),
}
_SPIKING = {
    "enabled": _Bool(
        "the model is a spiking LIF network (this table; network, neurons, noise, online unused)",
        False,
    ),
    "sizes": _List("sizes of the excitatory clusters", _I("size", ge=1), (80, 80, 80), min_len=1),
    "n_inh": _I("number of inhibitory neurons", 60, ge=1),
    "p_in": _F("connection probability E -> E within a cluster", 0.8, ge=0, le=1),
    "p_out": _F("connection probability E -> E between clusters", 0.05, ge=0, le=1),
    "p_inh": _F("connection probability of a pair with an inhibitory neuron", 0.8, ge=0, le=1),
    "w_in": _F("E -> E weight within a cluster (mV)", 0.7, ge=0),
    "w_out": _F("E -> E weight between clusters (mV)", 0.5, ge=0),
    "w_ei": _F("E -> I weight (mV)", 0.4, ge=0),
    "w_ie": _F("magnitude of the I -> E and I -> I weights (mV)", 1.0, ge=0),
    "spread": _F("weights uniform in w (1 +- spread)", 0.5, ge=0),
    "mu": _F("constant drive (mV)", 15.0),
    "sigma": _F("white-noise amplitude (mV)", 5.0, gt=0),
    "tau_m": _F("membrane time constant (ms)", 20.0, gt=0),
    "tau_s": _F("synaptic time constant (ms)", 5.0, gt=0),
    "tau_r": _F("rate filter of the traces (ms)", 100.0, gt=0),
    "t_ref": _F("refractory period (ms)", 2.0, ge=0),
    "V_th": _F("threshold (mV)", 20.0),
    "V_r": _F("reset (mV)", 10.0),
    "dt": _F("integration step (ms)", 0.1, gt=0),
    "target": _Choice("Brian2 code-generation target", ("numpy", "cython"), "numpy"),
    "sleep": _F("duration of the sleep, burn-in included (s)", 20.0, gt=0),
    "burn_in": _F("unmeasured start of the sleep (s)", 0.5, ge=0),
    "wake": _F("measured duration of each evaluation wake (s)", 10.0, gt=0),
    "settle": _F("unrecorded start of each evaluation wake (s)", 0.5, ge=0),
    "count_bin": _F("counting window of the spike-count covariance (s)", 0.1, gt=0),
}
_OUTPUT = {
    "figures": _Bool("write PNG figures", True),
    "dpi": _I("figure resolution", 120, ge=20, le=1200),
}

#: The model schema: nested tables of fields. ``models/README.md`` documents every key.
SCHEMA = _Table(
    "a model",
    {
        "name": _Name("short name, also the result folder (default: the file name)"),
        "description": _Text("what the model shows", ""),
        "seed": _I("seed of the run (default: fresh entropy, recorded)", ge=0),
        "network": _Table("the connectivity A", _NETWORK),
        "neurons": _Table("the rate neurons", _NEURONS),
        "noise": _Table("the noise that probes the network", _NOISE),
        "pruning": _Table("what prunes the network", _PRUNING),
        "online": _Table("the online simulator and its sleep/wake schedule", _ONLINE),
        "lifetime": _Table("lifetimes of learning wakes and pruning sleeps", _LIFETIME),
        "evaluation": _Table("how pruned networks are compared", _EVALUATION),
        "spiking": _Table("a spiking LIF network pruned during sleep", _SPIKING),
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
        hint = _closest(key, spec.fields)
        end = f"; did you mean {prefix + hint!r}?" if hint is not None else "."
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
        hint = _closest(key, allowed)
        end = f"; did you mean {hint!r}?" if hint is not None else "."
        message = f"unknown key 'network.params.{key}': {generator}() takes {', '.join(allowed)}"
        problems.append((f"network.params.{key}", message + end))
    for key, p in sig.parameters.items():
        if key not in params and key != "rng" and p.default is inspect.Parameter.empty:
            message = f"network.params.{key} is required by network.generator == {generator!r}."
            problems.append((f"network.params.{key}", message))
    return problems


def _sparse_checks(cfg: dict) -> list:
    """What a sparse network (``network.params.sparse = true``) cannot run: the stages
    that need ``n x n`` arrays."""
    problems = []
    if cfg["evaluation"]["dynamics"]["enabled"]:
        problems.append(
            (
                "evaluation.dynamics.enabled",
                "evaluation.dynamics.enabled == true needs a dense network "
                "(plasticsim.dynamics simulates dense matrices); with network.params.sparse "
                "= true set evaluation.dynamics.enabled = false.",
            )
        )
    return problems


def _spiking_checks(cfg: dict) -> list:
    """Rules of a spiking model (``spiking.enabled = true``)."""
    sp, pr, net = cfg["spiking"], cfg["pruning"], cfg["network"]
    problems = []
    add = problems.append
    for key in ("generator", "file", "array"):
        if net[key] is not None:
            add(
                (
                    f"network.{key}",
                    f"network.{key} is for rate models; a spiking model (spiking.enabled = "
                    "true) builds its network from the [spiking] table.",
                )
            )
    if net["params"]:
        add(("network.params", "network.params is for rate models, not spiking ones."))
    if pr["density"] is None or pr["k"] is not None:
        add(
            (
                "pruning.density",
                "a spiking model prunes to pruning.density (pruning.k is not used: the "
                f"traces' units depend on the rates), got density={pr['density']!r}, "
                f"k={pr['k']!r}.",
            )
        )
    if not pr["online"]:
        add(
            (
                "pruning.online",
                "pruning.online == false: a spiking model always runs the sleep of its "
                "spiking network (the online rule); set pruning.online = true.",
            )
        )
    if pr["method"] != "auto" or pr["eps"] is not None:
        add(("pruning.method", "pruning.method and pruning.eps are for rate models."))
    if cfg["lifetime"]["enabled"]:
        add(
            (
                "lifetime.enabled",
                "lifetime.enabled == true runs rate-network lifetimes; a spiking model "
                "(spiking.enabled = true) cannot: enable one of the two.",
            )
        )
    if cfg["evaluation"]["dynamics"]["enabled"]:
        add(
            (
                "evaluation.dynamics.enabled",
                "evaluation.dynamics simulates rate networks; a spiking model compares "
                "spike-count covariances instead: set evaluation.dynamics.enabled = false.",
            )
        )
    if not sp["spread"] < 1:
        add(("spiking.spread", f"spiking.spread == {sp['spread']!r}, must be < 1."))
    if not sp["V_r"] < sp["V_th"]:
        add(("spiking.V_r", f"spiking.V_r == {sp['V_r']!r}, must be < spiking.V_th."))
    if not sp["burn_in"] < sp["sleep"]:
        add(("spiking.burn_in", f"spiking.burn_in == {sp['burn_in']!r}, must be < sleep."))
    fastest = min(sp["tau_m"], sp["tau_s"], sp["tau_r"])
    if not sp["dt"] <= 0.2 * fastest:
        add(
            (
                "spiking.dt",
                f"spiking.dt == {sp['dt']!r} ms, must be <= 0.2 x the fastest of tau_m, "
                f"tau_s, tau_r ({0.2 * fastest:g} ms).",
            )
        )
    if not 2 * sp["count_bin"] <= sp["wake"]:
        add(
            (
                "spiking.count_bin",
                f"spiking.count_bin == {sp['count_bin']!r} s, must fit twice in "
                f"spiking.wake == {sp['wake']!r} s.",
            )
        )
    if min(sp["sizes"] + [sp["n_inh"]]) < 2:
        add(
            (
                "spiking.sizes",
                "every cluster (spiking.sizes) and spiking.n_inh need at least two neurons "
                "(the covariance between clusters averages pairs).",
            )
        )
    return problems


def _spiking_defaults(cfg: dict) -> list:
    """A [spiking] key set while spiking.enabled is false would be ignored: a problem."""
    sp = cfg["spiking"]
    fields = SCHEMA.fields["spiking"].fields
    return [
        (
            f"spiking.{key}",
            f"spiking.{key} is read only by spiking models: set spiking.enabled = true.",
        )
        for key, field in fields.items()
        if key != "enabled" and sp[key] != field.default
    ]


def _cross_checks(cfg: dict) -> list:
    """Rules that involve several keys, as ``(key, message)`` problems."""
    if cfg["spiking"]["enabled"]:
        return _spiking_checks(cfg)
    net, pr, on = cfg["network"], cfg["pruning"], cfg["online"]
    problems = _check_params(net["generator"], net["params"]) if net["generator"] else []
    problems += _spiking_defaults(cfg)
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
    life = cfg["lifetime"]
    if not (pr["offline"] or pr["online"] or pr["controls"] or life["enabled"]):
        add(("pruning", "pruning.offline and pruning.online are false, no controls: no method."))
    if life["enabled"] and pr["density"] is None:
        add(
            (
                "pruning.density",
                "lifetime.enabled == true needs pruning.density (the fraction of the "
                "candidates each sleep keeps, for every rule); pruning.k is not comparable "
                "across rules.",
            )
        )
    if life["enabled"] and life["burn_in"] is not None and life["burn_in"] >= life["sleep"]:
        add(
            (
                "lifetime.burn_in",
                f"lifetime.burn_in == {life['burn_in']!r}, must be < lifetime.sleep.",
            )
        )
    if on["dt"] > on["sleep"]:
        add(("online.dt", f"online.dt == {on['dt']!r}, must be <= online.sleep."))
    if on["trace_dt"] is not None:
        ratio = on["trace_dt"] / on["dt"]
        # The simulator's rule (plasticsim.online): a positive integer multiple of dt.
        if round(ratio) < 1 or abs(ratio - round(ratio)) > 1e-9 * max(1.0, ratio):
            add(
                (
                    "online.trace_dt",
                    f"online.trace_dt == {on['trace_dt']!r} (units of tau), must be a "
                    f"multiple of online.dt == {on['dt']!r}.",
                )
            )
    if on["burn_in"] is not None and on["burn_in"] >= on["sleep"]:
        add(("online.burn_in", f"online.burn_in == {on['burn_in']!r}, must be < online.sleep."))
    if pr["online"] and on["start"] == "stationary":
        if cfg["neurons"]["nonlinearity"] != "linear" or cfg["noise"]["tau_noise"] != 0:
            add(
                (
                    "online.start",
                    "online.start == 'stationary' draws from the stationary Gaussian of a "
                    "linear network under white noise; it needs neurons.nonlinearity = "
                    "'linear' and noise.tau_noise = 0.",
                )
            )
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
    if net["params"].get("sparse") is True:
        problems.extend(_sparse_checks(cfg))
    elif pr["method"] == "sketch" or pr["eps"] is not None:
        key = "pruning.method" if pr["method"] == "sketch" else "pruning.eps"
        add(
            (
                key,
                f"{key} == {pr[key.split('.')[1]]!r} is for sparse networks "
                "(network.params.sparse = true); a dense network takes the exact scores.",
            )
        )
    if dyn["dt"] > dyn["duration"]:
        add(
            (
                "evaluation.dynamics.dt",
                f"evaluation.dynamics.dt == {dyn['dt']!r}, must be <= "
                "evaluation.dynamics.duration.",
            )
        )
    return problems
