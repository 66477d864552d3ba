"""Save and load an online network (one ``.npz``, no pickle).

Shared by :class:`~plasticsim.online.RateNetwork` and
:class:`~plasticsim.online.SpikingNetwork`: the synapse table, the generator, the time and
the checks of a file are common; each class names its format (``_FORMAT``), its
parameters (``_saved_meta``, ``_META_KEYS``), its neuron arrays (``_saved_neurons``,
``_saved_neuron_names``), its cached values (``_saved_cache``, ``_CACHE_KEYS``,
``_load_cache``) and rebuilds itself (``_from_saved``). Below, the RateNetwork format.

File format, version 1: a NumPy ``.npz`` archive read with ``allow_pickle=False``.

``metadata``
    A 0-d unicode array holding a JSON object: ``format == "plasticsim.RateNetwork"``,
    ``version``, ``n``; the parameters ``tau``, ``dt``, ``trace_dt``, ``noise_tau`` (in
    seconds), ``sigma``, ``nonlinearity``, ``center``, ``name``, ``target``; ``seed``;
    ``generator``, the decisions' ``numpy.random.Generator`` ``bit_generator.state``; the
    simulated time ``t`` (seconds); and the cached spectral abscissa with the name of its
    check (so the next default burn-in is the original's). Floats are written by
    ``json`` with ``repr``, which round-trips every float64 exactly.
``pre``, ``post`` (int64), ``w``, ``sgn`` (float64), ``status`` (int8)
    The synapse table, in the simulator's order (sorted by ``(post, pre)``), PRUNED
    synapses not yet compacted included.
``leak``, ``bias``, ``x`` (float64, shape ``(n,)``)
    The neurons; ``eta`` (OU noise), ``r`` (rectified) and ``rsum`` (centred traces) when
    the model has them.

Continuation is bit-identical on the same Brian2 target: every epoch seeds Brian2 from
the decisions' generator, whose state is saved, and every other variable of the model
is either saved or set before it is read (``I_syn`` is summed, ``I_ext`` zeroed and the
traces reset at the start of each epoch).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from brian2 import Quantity, second

from .._validation import check_choice
from .states import LABILE, PRUNED

__all__ = ["save", "load", "FORMAT", "VERSION", "seconds"]

FORMAT = "plasticsim.RateNetwork"
VERSION = 1
_SYNAPSE_ARRAYS = ("pre", "post", "w", "sgn", "status")


def _path(path) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    return Path(path)


def save(net, path) -> None:
    """Implementation of ``save`` of every online network (documented there).

    The network class gives its format name (``_FORMAT``), its parameters
    (``_saved_meta``) and its neuron arrays (``_saved_neurons``).
    """
    path = _path(path)
    pre, post, w, sgn, status = net._table()
    neurons = net._saved_neurons()
    meta = {"format": net._FORMAT, "version": VERSION, "n": net._n, **net._saved_meta()}
    meta.update(
        {
            "seed": int(net._seed),
            "generator": net._gen.bit_generator.state,
            "t": float(net._net.t_),
        }
    )
    meta.update(net._saved_cache())
    arrays = {
        "metadata": np.array(json.dumps(meta, allow_nan=False)),
        "pre": pre.astype(np.int64),  # the file's type (the simulator holds int32)
        "post": post.astype(np.int64),
        "w": w,
        "sgn": sgn,
        "status": status.astype(np.int8),
        **neurons,
    }
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _bad(cls, path, why: str) -> ValueError:
    return ValueError(f"{path} is not a network written by {cls.__name__}.save: {why}.")


def _read(path: Path, cls) -> tuple[dict, dict]:
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise _bad(cls, path, f"it cannot be read as a .npz archive ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise _bad(cls, path, "it is a single .npy array, not a .npz archive")
    with archive:
        files = set(archive.files)
        if "metadata" not in files:
            if "matrix_original" in files:
                raise _bad(
                    cls,
                    path,
                    "it is the arrays.npz of a plasticsim result (plasticsim run); its "
                    "'matrix_original' (or 'matrix_noise', ...) can be passed to "
                    f"{cls.__name__}.from_matrix",
                )
            raise _bad(cls, path, f"it has no 'metadata' entry (entries: {sorted(files)})")
        try:
            meta = json.loads(str(archive["metadata"][()]))
        except (ValueError, TypeError) as exc:
            raise _bad(cls, path, f"its metadata is not valid JSON ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != cls._FORMAT:
            raise _bad(
                cls, path, f"its metadata format is {_get(meta, 'format')!r}, not {cls._FORMAT!r}"
            )
        if meta.get("version") != VERSION:
            raise _bad(
                cls,
                path,
                f"its format version is {meta.get('version')!r}; this plasticsim reads "
                f"version {VERSION}",
            )
        needed = list(_SYNAPSE_ARRAYS) + cls._saved_neuron_names(meta)
        missing = [k for k in needed if k not in files]
        if missing:
            raise _bad(cls, path, f"entries {missing} are missing")
        arrays = {k: archive[k] for k in needed}
    return meta, arrays


def _get(meta, key):
    return meta.get(key) if isinstance(meta, dict) else None


def _check_contents(path, meta: dict, arrays: dict, cls) -> None:
    keys = (*cls._META_KEYS, "seed", "generator", "t", *cls._CACHE_KEYS)
    missing = [k for k in keys if k not in meta]
    if missing:
        raise _bad(cls, path, f"metadata entries {missing} are missing")
    n = meta["n"]
    if not isinstance(n, int) or n < 1:
        raise _bad(cls, path, f"metadata n == {n!r}, must be a positive integer")
    m = arrays["pre"].shape
    for k in _SYNAPSE_ARRAYS:
        a = arrays[k]
        if a.ndim != 1 or a.shape != m:
            raise _bad(cls, path, f"{k} has shape {a.shape}, must be {m} like pre")
    for k in ("pre", "post"):
        a = arrays[k]
        if not np.issubdtype(a.dtype, np.integer) or (a.size and (a.min() < 0 or a.max() >= n)):
            raise _bad(cls, path, f"{k} must hold neuron indices in [0, {n})")
    if arrays["status"].size and not np.all(
        (arrays["status"] >= LABILE) & (arrays["status"] <= PRUNED)
    ):
        raise _bad(cls, path, "status holds values other than LABILE, STABLE, PRUNED (0, 1, 2)")
    for k, a in arrays.items():
        if k in _SYNAPSE_ARRAYS:
            continue
        if a.shape != (n,):
            raise _bad(cls, path, f"{k} has shape {a.shape}, must be ({n},)")
    for k in ("w", "sgn", *[k for k in arrays if k not in _SYNAPSE_ARRAYS]):
        if not np.issubdtype(arrays[k].dtype, np.floating) or not np.all(np.isfinite(arrays[k])):
            raise _bad(cls, path, f"{k} must be finite float64 values")


def load(cls, path, *, target=None):
    """Implementation of ``load`` of every online network (documented there).

    The class rebuilds itself from the checked metadata and arrays (``_from_saved``).
    """
    from . import _core
    from ._inputs import TARGETS

    path = _path(path)
    if target is not None:
        check_choice("target", target, TARGETS)
    meta, arrays = _read(path, cls)
    _check_contents(path, meta, arrays, cls)
    target = meta["target"] if target is None else target
    check_choice("target", target, TARGETS)
    state = meta["generator"]
    bitgen = getattr(np.random, str(state.get("bit_generator")), None)
    if not (isinstance(bitgen, type) and issubclass(bitgen, np.random.BitGenerator)):
        raise _bad(cls, path, f"unknown bit generator {state.get('bit_generator')!r}")
    gen = np.random.Generator(bitgen())
    try:
        gen.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise _bad(cls, path, f"the generator state cannot be restored ({exc})") from None

    _core.check_device()
    codeobj = _core.codeobj_class(target)
    neurons = {k: v.astype(np.float64) for k, v in arrays.items() if k not in _SYNAPSE_ARRAYS}
    synapses = {
        "w": arrays["w"].astype(np.float64),
        "sgn": arrays["sgn"].astype(np.float64),
        "status": arrays["status"].astype(np.int32),
    }
    net = cls._from_saved(
        meta,
        codeobj,
        target,
        gen,
        arrays["pre"].astype(np.int64),
        arrays["post"].astype(np.int64),
        neurons,
        synapses,
    )
    net._net.t_ = float(meta["t"])
    net._load_cache(meta)
    return net


def seconds(meta: dict, key: str) -> Quantity:
    """A time of the metadata (seconds) as a Brian2 quantity."""
    return Quantity(float(meta[key]), dim=second.dim)
