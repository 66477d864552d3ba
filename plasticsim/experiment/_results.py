"""Results of a run: :class:`Results`, written atomically to a directory, and read back."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["Results", "read_results"]

log = logging.getLogger(__package__)  # one logger for the package: plasticsim.experiment


def _check_target(target: Path, force: bool) -> None:
    """Refuse, before any work, an output directory that must not be written or replaced.

    ``target`` must not lie under a file; an existing ``target`` is replaced only with
    ``force``, only when it is a plasticsim result (it has a ``metrics.json``), and never
    when it is the working directory or one of its ancestors.
    """
    for parent in target.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(
                    f"cannot write {str(target)!r}: {str(parent)!r} is not a directory."
                )
            break
    if not target.exists():
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
