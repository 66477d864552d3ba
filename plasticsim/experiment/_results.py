"""Results of a run: :class:`Results`, written atomically to a directory, and read back."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ._signals import deferred_signals

__all__ = ["Results", "read_results"]

log = logging.getLogger(__package__)  # one logger for the package: plasticsim.experiment


#: What plasticsim wrote into a result directory before results listed their files
#: (``metrics["files"]``): ``--force`` may replace these, and nothing else.
_LEGACY_FILES = frozenset(
    ["metrics.json", "arrays.npz"]
    + [f"{stem}.png" for stem in ("structure", "spectra", "dynamics")]
    + [f"{stem}.png" for stem in ("online_states", "online_traces")]
)


def _nearest_existing(path: Path) -> Path:
    """``path`` itself or its closest existing ancestor (absolute)."""
    path = path.absolute()
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor)  # pragma: no cover - the root always exists


def _check_writable(target: Path, what: str, *, inside: Path | None = None) -> None:
    """Refuse ``target`` if it cannot be written; ``inside`` is where the writes go
    (default: ``target``'s parent, or its nearest existing ancestor).

    That directory must exist as a directory (not a file on the path) in which a
    directory can be created. The test is a real write, not ``os.access``, which a
    read-only file system or a process running as root answer wrongly: a probe directory
    is created there and removed at once. Raises ``NotADirectoryError`` or
    ``PermissionError`` naming ``target``, the directory and the system's reason.
    """
    base = _nearest_existing(target.parent if inside is None else inside)
    if not base.is_dir():
        raise NotADirectoryError(
            f"cannot write {what} {str(target)!r}: {str(base)!r} is not a directory."
        )
    try:
        with deferred_signals():
            os.rmdir(tempfile.mkdtemp(prefix=".plasticsim-write-test-", dir=base))
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise PermissionError(
            f"cannot write {what} {str(target)!r}: cannot create files in {str(base)!r} "
            f"({reason})."
        ) from None


def _result_files(target: Path) -> frozenset:
    """The names plasticsim wrote into the result ``target`` (its ``metrics["files"]``)."""
    try:
        with open(target / "metrics.json", encoding="utf-8") as fh:
            files = json.load(fh).get("files")
    except (OSError, ValueError, AttributeError):
        files = None
    if isinstance(files, list) and all(isinstance(f, str) for f in files):
        return frozenset(files)
    return _LEGACY_FILES


def _check_target(target: Path, force: bool) -> None:
    """Refuse, before any work, an output directory that must not be written or replaced.

    ``target`` must be creatable (no file on its path, a writable directory above it,
    see :func:`_check_writable`); an existing ``target`` is replaced only with ``force``,
    only when it is a plasticsim result (it has a ``metrics.json``) holding nothing
    plasticsim did not write, and never when it is the working directory or one of its
    ancestors.
    """
    target = Path(target)
    if not target.exists():
        _check_writable(target, "the result directory")
        return
    if not target.is_dir():
        raise FileExistsError(f"{str(target)!r} exists and is not a directory.")
    if not force:
        raise FileExistsError(
            f"{str(target)!r} already exists; use --force (force=True) to replace it, or "
            "choose another directory."
        )
    resolved, cwd = target.resolve(), Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise FileExistsError(
            f"refusing to replace {str(target)!r}: it is the working directory or one of "
            "its ancestors; choose another directory."
        )
    if not (target / "metrics.json").is_file():
        raise FileExistsError(
            f"refusing to replace {str(target)!r} with --force (force=True): it is not a "
            "plasticsim result (no metrics.json); remove it yourself or choose another "
            "directory."
        )
    ours = _result_files(target)
    foreign = sorted(
        p.name + "/" if p.is_dir() else p.name
        for p in target.iterdir()
        if p.name not in ours or p.is_dir()
    )
    if foreign:
        listed = ", ".join(foreign[:10])
        if len(foreign) > 10:
            listed += f" and {len(foreign) - 10} more"
        raise FileExistsError(
            f"refusing to replace {str(target)!r} with --force (force=True): besides a "
            f"plasticsim result it holds what plasticsim did not write: {listed}; move "
            "them out or choose another directory."
        )
    # Replacing renames target aside (a write in its parent), then empties it.
    _check_writable(target, "the result directory")
    _check_writable(target, "the result directory", inside=target)


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
        from ..plotting import result_figures

        return result_figures(self)

    def save(self, out, *, force=False) -> Path:
        """Write ``metrics.json``, ``arrays.npz`` and the figures to the directory ``out``.

        Everything is written into a temporary directory beside ``out`` and renamed to
        ``out`` when complete, so an interruption or a failure leaves no partial result
        (and no directory this call created). An existing ``out`` is replaced only with
        ``force=True`` and only when it holds a plasticsim result and nothing else: it
        is moved aside, the new result renamed in, and the old one deleted; a failure
        before the rename leaves it byte-identical. SIGINT and SIGTERM are held during
        the renames and the clean-up (a few milliseconds) and delivered afterwards, so
        an interruption never leaves ``out`` missing or a temporary directory behind.
        ``metrics.json`` lists the files written (``metrics["files"]``).

        Returns
        -------
        pathlib.Path
            ``out``.

        Raises
        ------
        FileExistsError
            If ``out`` exists and may not be replaced (see ``force``).
        PermissionError, NotADirectoryError
            If ``out`` cannot be written (a write probe, before anything is written).
        """
        target = Path(out)
        _check_target(target, force)
        log.info("writing results to %s ...", target)
        tmp, created, done = None, [], False
        try:
            with deferred_signals():
                created = _make_parents(target.parent)
                tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o777 & ~umask)  # mkdtemp creates it private (0o700)
            figures = self.figures() if self.model["output"]["figures"] else {}
            files = ["metrics.json", "arrays.npz", *(f"{stem}.png" for stem in figures)]
            metrics = {**self.metrics, "files": files}
            with open(tmp / "metrics.json", "w", encoding="utf-8") as fh:
                json.dump(metrics, fh, indent=2, allow_nan=False)
                fh.write("\n")
            np.savez_compressed(tmp / "arrays.npz", **self.arrays)
            for stem, fig in figures.items():
                fig.savefig(tmp / f"{stem}.png", dpi=self.model["output"]["dpi"])
            with deferred_signals():
                _replace_dir(tmp, target, force)
                done = True
                self.metrics, self.path = metrics, target
        except BaseException:
            if not done:
                with deferred_signals():
                    if tmp is not None:
                        shutil.rmtree(tmp, ignore_errors=True)
                    for directory in reversed(created):
                        with contextlib.suppress(OSError):
                            directory.rmdir()
            raise
        log.info("results written to %s", target)
        return target


def _make_parents(directory: Path) -> list[Path]:
    """Create ``directory`` and its missing ancestors; return those created, outermost first."""
    missing = []
    for d in (directory, *directory.parents):
        if d.exists():
            break
        missing.append(d)
    created = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:  # made meanwhile by someone else: not ours to remove
            continue
        created.append(d)
    return created


def _replace_dir(tmp: Path, target: Path, force: bool) -> None:
    """Rename ``tmp`` to ``target``; with ``force`` an existing ``target`` is replaced.

    Call with signals held (:func:`deferred_signals`): between the two renames
    ``target`` is missing.
    """
    if not target.exists():
        os.rename(tmp, target)
        return
    _check_target(target, force)
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    try:
        os.rename(target, old / "result")
    except BaseException:
        os.rmdir(old)
        raise
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
