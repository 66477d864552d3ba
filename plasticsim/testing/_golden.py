"""Golden spectra: a run's eigenvalues stored in a small text file, compared with later runs.

A golden file is JSON (one number per line, so ``git diff`` shows which eigenvalue moved)::

    {
      "format": "plasticsim-golden-spectrum",
      "format_version": 1,
      "plasticsim_version": "0.1.0",
      "rtol": 1e-06,
      "metadata": {"seed": 3, "model_name": "clustered", ...},
      "spectra": {
        "original": {"real": [-1.0, ...]},
        "noise": {"real": [...], "imag": [...]}
      }
    }

Each spectrum is stored slowest first (decreasing real part, ties by imaginary part);
``imag`` is omitted for a real spectrum. Numbers are written with ``repr``, so they read
back bit for bit. ``rtol`` is the tolerance the golden was made for: the default of
:func:`check_golden`. Files are written atomically (a temporary file beside the target,
then :func:`os.replace`), so a reader never sees half a golden.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._validation import _fmt, check_nonnegative
from ..spectra import _relative
from ._assertions import (
    check_eigenvalues,
    check_slowest,
    pair_eigenvalues,
    slowest_first,
    spectrum_failure,
)

__all__ = ["Golden", "GoldenError", "save_golden", "load_golden", "check_golden", "DEFAULT_RTOL"]

FORMAT = "plasticsim-golden-spectrum"
FORMAT_VERSION = 1
#: Name of the spectrum when a single eigenvalue array (not a mapping) is saved.
SINGLE = "eigenvalues"
#: Default tolerance of a golden made by :func:`plasticsim.testing.snapshot_model`. Rerunning
#: the same seed on the same build reproduces the spectrum to the bit; another BLAS/LAPACK
#: build or CPU changes eigenvalues of these small, well-conditioned matrices by round-off
#: (~1e-13 relative), while a change in what was pruned (one synapse kept or lost, rescaled
#: by 1/p) moves eigenvalues by far more than 1e-6. The band between is wide.
DEFAULT_RTOL = 1e-6


class GoldenError(ValueError):
    """A golden file that cannot be used: unreadable, not a golden, or missing a setting.

    A ``ValueError``; the ``plasticsim`` command reports it as bad input (exit status 2),
    unlike a drift (exit status 1).
    """


@dataclass(frozen=True)
class Golden:
    """A golden file as read by :func:`load_golden` (or written by :func:`save_golden`).

    Attributes
    ----------
    spectra : dict of str to ndarray
        Each spectrum slowest first (float64, or complex128 when complex).
    metadata : dict
        What the golden was made from (seed, model, test, ...), as saved.
    rtol : float or None
        Tolerance the golden was made for; the default of :func:`check_golden`.
    plasticsim_version : str or None
        Version of plasticsim that wrote it.
    path : pathlib.Path or None
        Where it was read from or written to.
    """

    spectra: dict
    metadata: dict = field(default_factory=dict)
    rtol: float | None = None
    plasticsim_version: str | None = None
    path: Path | None = None

    @property
    def eigenvalues(self) -> np.ndarray:
        """The only spectrum of a golden holding one (``ValueError`` otherwise)."""
        if len(self.spectra) != 1:
            raise ValueError(
                f"the golden holds {len(self.spectra)} spectra ({', '.join(self.spectra)}); "
                "pick one from .spectra."
            )
        return next(iter(self.spectra.values()))


def _spectra(eigenvalues, name: str = "eigenvalues") -> dict[str, np.ndarray]:
    """Normalise an eigenvalue array or a mapping of them to ``{name: 1-D array}``."""
    if isinstance(eigenvalues, Golden):
        return dict(eigenvalues.spectra)
    if isinstance(eigenvalues, Mapping):
        if not eigenvalues:
            raise ValueError(f"{name} is an empty mapping, must hold at least one spectrum.")
        out = {}
        for key, values in eigenvalues.items():
            if not isinstance(key, str) or not key:
                raise TypeError(f"{name} keys must be non-empty strings, got {key!r}.")
            out[key] = check_eigenvalues(values, f"{name}[{key!r}]")
        return out
    return {SINGLE: check_eigenvalues(eigenvalues, name)}


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"{type(obj).__name__} {obj!r} is not JSON-serialisable")


def _version() -> str:
    from .. import __version__

    return __version__


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0o600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_golden(path, eigenvalues, *, metadata=None, rtol=None) -> Golden:
    """Write a golden spectrum (or several) to a JSON file, atomically.

    Parameters
    ----------
    path : str or path-like
        The file to write (its directory is created; an existing file is replaced).
    eigenvalues : array_like of shape (n,) or mapping of str to array_like
        One spectrum (stored under the name ``"eigenvalues"``) or several by name, e.g.
        ``{"original": ..., "noise": ..., "weight": ...}``. Any order: each is stored
        slowest first.
    metadata : dict, default=None
        JSON-serialisable facts about the run (seed, model name and parameters, test);
        numpy scalars and arrays are converted.
    rtol : float, default=None
        The tolerance later runs are checked against by default.

    Returns
    -------
    Golden
        What was written, with ``path`` set.

    Examples
    --------
    >>> import os, tempfile
    >>> from plasticsim.testing import load_golden, save_golden
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "golden.json")
    ...     _ = save_golden(path, [-2.0, -0.5 + 1j, -0.5 - 1j], metadata={"seed": 7}, rtol=1e-6)
    ...     g = load_golden(path)
    >>> g.eigenvalues
    array([-0.5-1.j, -0.5+1.j, -2. +0.j])
    >>> g.metadata, g.rtol
    ({'seed': 7}, 1e-06)
    """
    spectra = {}
    for key, values in _spectra(eigenvalues).items():
        if np.iscomplexobj(values) and not np.any(values.imag):
            values = values.real  # stored, and read back, as a real spectrum
        spectra[key] = slowest_first(values)
    if rtol is not None:
        rtol = check_nonnegative("rtol", rtol)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a dict, got {_fmt(metadata)}.")
    stored = {}
    for key, values in spectra.items():
        entry = {"real": values.real.tolist()}
        if np.iscomplexobj(values):
            entry["imag"] = values.imag.tolist()
        stored[key] = entry
    version = _version()
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "plasticsim_version": version,
        "rtol": rtol,
        "metadata": dict(metadata),
        "spectra": stored,
    }
    try:
        text = json.dumps(doc, indent=2, allow_nan=False, default=_json_default) + "\n"
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metadata must be JSON-serialisable (finite numbers): {exc}.") from None
    path = Path(path)
    _write_atomic(path, text)
    return Golden(
        spectra=spectra,
        metadata=json.loads(json.dumps(doc["metadata"], default=_json_default)),
        rtol=rtol,
        plasticsim_version=version,
        path=path,
    )


def load_golden(path) -> Golden:
    """Read a golden file written by :func:`save_golden`.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    Golden

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    GoldenError
        A ``ValueError``: if the file cannot be read, is not a golden spectrum file (the
        message names the file and what is wrong), or was written by a newer format
        version.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldenError(f"cannot read the golden {str(path)!r}: {exc}.") from None

    def bad(msg):
        return GoldenError(f"{str(path)!r} is not a plasticsim golden spectrum file: {msg}.")

    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad(f"invalid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise bad(f"its 'format' is not {FORMAT!r}")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise bad(f"'format_version' == {version!r}, must be an integer")
    if version > FORMAT_VERSION:
        raise GoldenError(
            f"{str(path)!r} has format_version {version}; this plasticsim reads up to "
            f"{FORMAT_VERSION}: upgrade plasticsim."
        )
    rtol = doc.get("rtol")
    if rtol is not None and (
        isinstance(rtol, bool) or not isinstance(rtol, int | float) or not rtol >= 0
    ):
        raise bad(f"'rtol' == {rtol!r}, must be a number >= 0 or null")
    metadata = doc.get("metadata", {})
    if not isinstance(metadata, dict):
        raise bad(f"'metadata' must be an object, got {type(metadata).__name__}")
    raw = doc.get("spectra")
    if not isinstance(raw, dict) or not raw:
        raise bad("'spectra' must be a non-empty object of spectra")
    spectra = {}
    for key, entry in raw.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("real"), list):
            raise bad(f"spectrum {key!r} must be an object with a 'real' list")
        try:
            real = np.array(entry["real"], dtype=np.float64)
            imag = entry.get("imag")
            values = real if imag is None else real + 1j * np.array(imag, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise bad(f"spectrum {key!r}: {exc}") from None
        try:
            spectra[key] = check_eigenvalues(values, f"spectrum {key!r}")
        except (TypeError, ValueError) as exc:
            raise bad(str(exc).rstrip(".")) from None
    return Golden(
        spectra=spectra,
        metadata=metadata,
        rtol=None if rtol is None else float(rtol),
        plasticsim_version=doc.get("plasticsim_version"),
        path=path,
    )


def _describe(golden: Golden) -> str:
    facts = [
        f"{k}={v!r}"
        for k, v in golden.metadata.items()
        if isinstance(v, str | int | float | bool) or v is None
    ]
    now = _version()
    made = f"plasticsim {golden.plasticsim_version}"
    if golden.plasticsim_version != now:
        made += f" (now {now})"
    return ", ".join([*facts, made])


def check_golden(golden, eigenvalues, *, rtol=None, slowest=None) -> tuple[bool, str]:
    """Compare spectra with a golden file; return ``(ok, report)``.

    Parameters
    ----------
    golden : str, path-like or Golden
        The golden file (or one already loaded).
    eigenvalues : array_like of shape (n,) or mapping of str to array_like
        The new spectra, named as in the golden (a single array is named
        ``"eigenvalues"``, as :func:`save_golden` names it). Any order.
    rtol : float, default=None
        Relative tolerance; default: the golden's own ``rtol``.
    slowest : int, default=None
        Only compare the ``slowest`` modes of every spectrum.

    Returns
    -------
    ok : bool
        Every spectrum of the golden is present, has the same number of eigenvalues and
        agrees within ``rtol`` (pairing as :func:`assert_eigenvalues_close`), and there is
        no spectrum the golden lacks.
    report : str
        One line per spectrum (``ok``, ``DRIFT``, ``MISSING``, ``NEW``, ``SIZE``) and for a
        drift the worst mode and a table of the modes beyond ``rtol``, with the golden
        and the new values.

    Raises
    ------
    GoldenError
        A ``ValueError``: if ``rtol`` is None and the golden stores none, or the golden
        file is invalid.

    Examples
    --------
    >>> import os, tempfile
    >>> from plasticsim.testing import check_golden, save_golden
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "golden.json")
    ...     golden = save_golden(path, {"noise": [-0.1, -1.0, -2.0]}, rtol=1e-6)
    ...     ok, report = check_golden(path, {"noise": [-0.1, -1.1, -2.0]})
    >>> ok
    False
    >>> print(report.replace(d, "<dir>"))  # doctest: +ELLIPSIS
    DRIFT from golden <dir>/golden.json (rtol=1e-06): 1 of 1 spectra differ
      made with: plasticsim ...
      noise: DRIFT: 1 of 3 modes differ by more than rtol=1e-06.
        Worst: mode 2 (1 = slowest): golden -1, now -1.1, relative error 0.1 = 1e+05 x rtol.
          mode  golden   now  rel. error
             2      -1  -1.1         0.1
    """
    if not isinstance(golden, Golden):
        golden = load_golden(golden)
    spectra = _spectra(eigenvalues)
    if rtol is None:
        if golden.rtol is None:
            raise GoldenError(
                f"rtol is None and the golden {str(golden.path)!r} stores no rtol; pass rtol."
            )
        rtol = golden.rtol
    rtol = check_nonnegative("rtol", rtol)
    lines, bad = [], 0
    for key, expected in golden.spectra.items():
        if key not in spectra:
            bad += 1
            lines.append(
                f"  {key}: MISSING from the new run (the golden has {expected.size} eigenvalues)."
            )
            continue
        actual = spectra[key]
        if actual.size != expected.size:
            bad += 1
            lines.append(
                f"  {key}: SIZE: {actual.size} eigenvalues now, {expected.size} in the golden."
            )
            continue
        m = check_slowest(slowest, expected.size)
        e, a = pair_eigenvalues(expected, actual)
        errors = _relative(e, a)
        failure = spectrum_failure(
            e, a, errors, rtol, m, labels=("golden", "now"), indent="      "
        )
        if failure is None:
            scope = f"{m} slowest of {e.size}" if m < e.size else f"{e.size}"
            worst = float(np.max(errors[:m]))
            lines.append(f"  {key}: ok ({scope} eigenvalues, max relative error {worst:.3g}).")
        else:
            bad += 1
            lines.append(f"  {key}: DRIFT: {failure[0]}")
            lines += ["    " + failure[1], *failure[2:]]
    for key, actual in spectra.items():
        if key not in golden.spectra:
            bad += 1
            lines.append(f"  {key}: NEW: not in the golden ({actual.size} eigenvalues).")
    n = len(set(golden.spectra) | set(spectra))
    where = f"golden {golden.path}" if golden.path is not None else "the golden"
    if bad:
        head = f"DRIFT from {where} (rtol={rtol:g}): {bad} of {n} spectra differ"
    else:
        head = f"OK: {n} spectra match {where} within rtol={rtol:g}"
    report = "\n".join([head, f"  made with: {_describe(golden)}", *lines])
    return bad == 0, report
