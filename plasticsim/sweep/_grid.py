"""The grid of a sweep: its axes, its cells, its seeds, and their validation.

A *grid* maps dotted model keys (the paths of ``--set``: ``pruning.density``,
``network.params.sizes``, ``noise.tau_noise``) to lists of values; its *cells* are the
Cartesian product of the axes, in the order the axes were given, the last axis varying
fastest. Every cell is the base model with the cell's values set, validated against the
model schema before anything runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..experiment import Model, ModelError, load_model
from ..experiment._model import _KEY_RE, _plain_copy

__all__ = ["Cell", "parse_grid", "parse_seeds", "expand_grid", "run_key"]


@dataclasses.dataclass(frozen=True)
class Cell:
    """One point of the grid: its index, its settings and the validated model.

    Attributes
    ----------
    index : int
        Position in the product of the axes (last axis fastest).
    settings : dict
        ``{dotted key: value}``, one entry per axis.
    model : Model
        The base model with ``settings`` applied, validated.
    """

    index: int
    settings: dict
    model: Model

    @property
    def label(self) -> str:
        """``"pruning.density=0.1, noise.sigma=2.0"`` (TOML values)."""
        return ", ".join(f"{k}={_toml(v)}" for k, v in self.settings.items())


def _toml(value) -> str:
    """A value as TOML text (also the text of the table's grid columns)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return repr(value)


def _split_values(text: str) -> list[str]:
    """Split ``"0.1,[1, 2],'a,b'"`` at the commas outside brackets, braces and quotes."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _parse_value(raw: str):
    """A TOML value; a bare word is a string (as for ``--set``)."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def parse_grid(grid) -> dict[str, list]:
    """Normalise a grid to ``{dotted key: [values]}``.

    Parameters
    ----------
    grid : mapping or sequence of str
        ``{"pruning.density": [0.05, 0.1]}``, or the CLI's ``--grid`` strings
        ``"KEY=V1,V2,..."`` (values are TOML, split at the commas outside brackets; a bare
        word is a string).

    Returns
    -------
    dict
        Axes in the order given.

    Raises
    ------
    TypeError
        If ``grid`` is neither a mapping nor a sequence of strings, or an axis's values
        are not a list.
    ValueError
        For a malformed entry, a key that is not a dotted path, an empty axis, a key given
        twice or a value repeated within an axis.

    Examples
    --------
    >>> parse_grid(["pruning.density=0.05,0.1", "network.params.sizes=[4, 2],[8, 4]"])
    {'pruning.density': [0.05, 0.1], 'network.params.sizes': [[4, 2], [8, 4]]}
    >>> parse_grid(["pruning.density"])
    Traceback (most recent call last):
    ...
    ValueError: grid entry 'pruning.density' must be KEY=V1,V2,..., e.g. pruning.density=0.05,0.1.
    """  # noqa: E501
    if isinstance(grid, Mapping):
        items = []
        for key, values in grid.items():
            if isinstance(values, str) or not isinstance(values, Sequence):
                raise TypeError(
                    f"grid[{key!r}] must be a list of values, got {type(values).__name__} "
                    f"{values!r}."
                )
            items.append((key, list(values)))
    elif isinstance(grid, Sequence) and not isinstance(grid, str):
        items = []
        for entry in grid:
            if not isinstance(entry, str):
                raise TypeError(
                    f"grid entries must be 'KEY=V1,V2,...' strings, got "
                    f"{type(entry).__name__} {entry!r}."
                )
            key, sep, raw = entry.partition("=")
            if not sep or not raw.strip():
                raise ValueError(
                    f"grid entry {entry!r} must be KEY=V1,V2,..., e.g. pruning.density=0.05,0.1."
                )
            items.append((key.strip(), [_parse_value(v) for v in _split_values(raw)]))
    else:
        raise TypeError(
            "grid must be a mapping {key: [values]} or a sequence of 'KEY=V1,V2,...' "
            f"strings, got {type(grid).__name__} {grid!r}."
        )
    axes: dict[str, list] = {}
    for key, values in items:
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise ValueError(f"grid key {key!r} is not a dotted model key (a.b.c).")
        if key in axes:
            raise ValueError(f"grid key {key!r} is given twice; give all its values at once.")
        if not values:
            raise ValueError(f"grid[{key!r}] has no values; an axis needs at least one.")
        try:
            values = _plain_copy(values)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"grid[{key!r}] must hold TOML values only: {exc}.") from None
        texts = [json.dumps(v, sort_keys=True) for v in values]
        if len(set(texts)) != len(texts):
            raise ValueError(f"grid[{key!r}] == {values!r} repeats a value.")
        axes[key] = values
    for a in axes:
        for b in axes:
            if b.startswith(a + "."):
                raise ValueError(f"grid keys {a!r} and {b!r} overlap; sweep one of them.")
    return axes


_SEEDS_RE = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_seeds(seeds) -> list[int]:
    """Normalise seeds: ``"0-19"``, ``"0,3,7-9"``, an int, or a sequence of ints.

    Returns the seeds in the order given, without repeats.

    Raises
    ------
    TypeError
        For a seed that is not an integer.
    ValueError
        For a negative seed, a reversed range, a malformed string, a repeated seed or no
        seed.

    Examples
    --------
    >>> parse_seeds("0-3,10")
    [0, 1, 2, 3, 10]
    >>> parse_seeds("3-1")
    Traceback (most recent call last):
    ...
    ValueError: seeds '3-1': the range 3-1 is reversed; write 1-3.
    """
    if isinstance(seeds, str):
        out = []
        for part in seeds.split(","):
            m = _SEEDS_RE.match(part.strip())
            if not m:
                raise ValueError(
                    f"seeds {seeds!r}: {part.strip()!r} is not a seed or a range "
                    "(e.g. '0-19' or '0,3,7-9')."
                )
            lo = int(m.group(1))
            hi = lo if m.group(2) is None else int(m.group(2))
            if hi < lo:
                raise ValueError(
                    f"seeds {seeds!r}: the range {lo}-{hi} is reversed; write {hi}-{lo}."
                )
            out.extend(range(lo, hi + 1))
    elif isinstance(seeds, int) and not isinstance(seeds, bool):
        out = [seeds]
    elif isinstance(seeds, Sequence):
        out = list(seeds)
    else:
        raise TypeError(
            f"seeds must be an int, a sequence of ints or a string like '0-19', got "
            f"{type(seeds).__name__} {seeds!r}."
        )
    for s in out:
        if isinstance(s, bool) or not isinstance(s, int):
            raise TypeError(f"seeds must be integers, got {type(s).__name__} {s!r}.")
        if s < 0:
            raise ValueError(f"seed == {s}, must be >= 0.")
    if not out:
        raise ValueError("seeds is empty; give at least one seed.")
    if len(set(out)) != len(out):
        raise ValueError(f"seeds {seeds!r} repeat a seed.")
    return out


def expand_grid(model: Model, axes: dict[str, list]) -> list[Cell]:
    """The cells of the grid, each validated against the model schema.

    Raises
    ------
    ModelError
        For the first invalid cell: names the key (``"(from --grid)"``) and the rule.

    Examples
    --------
    >>> base = load_model("clustered")
    >>> cells = expand_grid(base, {"pruning.density": [0.05, 0.1], "noise.sigma": [1.0, 2.0]})
    >>> [c.label for c in cells[:2]]
    ['pruning.density=0.05, noise.sigma=1.0', 'pruning.density=0.05, noise.sigma=2.0']
    >>> cells[3].model.config["noise"]["sigma"]
    2.0
    """
    cells = []
    for index, values in enumerate(itertools.product(*axes.values())):
        settings = dict(zip(axes, values, strict=True))
        try:
            cell_model = load_model(model, overrides=settings)
        except ModelError as exc:
            problems = [
                (key, msg.replace("(from --set)", "(from --grid)")) for key, msg in exc.problems
            ]
            raise ModelError(f"{model.source} (grid cell {_label(settings)})", problems) from None
        cells.append(Cell(index, settings, cell_model))
    return cells


def _label(settings: dict) -> str:
    return ", ".join(f"{k}={_toml(v)}" for k, v in settings.items())


def _settings_of(model: Model) -> dict:
    """What determines a run's numbers: the config without name, description and output.

    A network read from a file adds the file's SHA-256, so an edited file reruns.
    """
    cfg = _plain_copy(model.config)
    for key in ("name", "description", "output"):
        cfg.pop(key, None)
    cfg.pop("seed", None)
    if cfg["network"].get("file"):
        path = Path(cfg["network"]["file"])
        path = path if path.is_absolute() else model.base_dir / path
        try:
            cfg["network"]["file_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            cfg["network"]["file_sha256"] = None  # the run itself reports the missing file
    return cfg


def run_key(model: Model, seed: int) -> str:
    """The resume key of one run: a hash of the cell's full settings and the seed.

    Examples
    --------
    >>> a = load_model("clustered")
    >>> run_key(a, 0) == run_key(load_model("clustered", overrides=["output.dpi=60"]), 0)
    True
    >>> run_key(a, 0) == run_key(load_model("clustered", overrides=["noise.sigma=2"]), 0)
    False
    """
    text = json.dumps({"settings": _settings_of(model), "seed": seed}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]
