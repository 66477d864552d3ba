"""The sweep directory: one record per finished run, written atomically, read to resume.

Layout of a sweep directory ``DIR``::

    DIR/sweep.json        the model, the grid, the seeds, versions, timings, per-run status
    DIR/results.csv       the tidy table (one row per cell, seed and method)
    DIR/<axis>.png        the figures (headline metrics against each swept axis)
    DIR/records/KEY.json  one record per finished run (metrics, or the error)
    DIR/runs/KEY/         each run's full result directory (with keep_runs)

``KEY`` is :func:`~plasticsim.sweep._grid.run_key`: a hash of the cell's full settings
and the seed, so a rerun of the same command skips the runs already done and a changed
model reruns. Every file is written to a temporary name in its directory and renamed
(``os.replace``, atomic on POSIX), so an interruption never leaves half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["SweepStore", "atomic_write", "write_json"]


def atomic_write(path: Path, write) -> None:
    """Write ``path`` through ``write(binary file)`` into a temporary file, then rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.partial-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates it private (0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path: Path, data) -> None:
    """Write JSON (no NaN) atomically."""
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


class SweepStore:
    """Records of the finished runs of a sweep directory.

    Parameters
    ----------
    out : path-like
        The sweep directory; see :meth:`prepare` for the rules on an existing one.
    """

    def __init__(self, out):
        self.root = Path(out)
        self.records = self.root / "records"
        self.runs = self.root / "runs"

    @staticmethod
    def check(out, force: bool) -> None:
        """Refuse, before any work, a directory that is not (and cannot become) a sweep.

        An existing ``out`` is resumed when it holds ``sweep.json``, used when empty, and
        otherwise refused. ``force`` discards a previous sweep in ``out`` (never another
        kind of directory, the working directory or one of its ancestors).
        """
        root = Path(out)
        for parent in root.absolute().parents:
            if parent.exists():
                if not parent.is_dir():
                    raise NotADirectoryError(
                        f"cannot write {str(root)!r}: {str(parent)!r} is not a directory."
                    )
                break
        if not root.exists():
            return
        if not root.is_dir():
            raise FileExistsError(f"{str(root)!r} exists and is not a directory.")
        is_sweep = (root / "sweep.json").is_file()
        if not is_sweep and any(root.iterdir()):
            raise FileExistsError(
                f"{str(root)!r} exists and is not a plasticsim sweep (no sweep.json); "
                "choose another directory."
            )
        if force and is_sweep:
            resolved, cwd = root.resolve(), Path.cwd().resolve()
            if resolved == cwd or resolved in cwd.parents:
                raise FileExistsError(
                    f"refusing to replace {str(root)!r}: it is the working directory or one "
                    "of its ancestors; choose another directory."
                )

    def prepare(self, force: bool) -> None:
        """Create the directory; with ``force``, first discard a previous sweep in it.

        The previous sweep is renamed aside in one step, then deleted, so an interruption
        leaves either the old sweep or none.
        """
        self.check(self.root, force)
        if force and (self.root / "sweep.json").is_file():
            old = Path(tempfile.mkdtemp(prefix=f".{self.root.name}.old-", dir=self.root.parent))
            os.rename(self.root, old / "sweep")
            shutil.rmtree(old, ignore_errors=True)
        self.records.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.records / f"{key}.json"

    def load(self, key: str) -> dict | None:
        """The record of ``key``, or None (also for an unreadable record: it reruns)."""
        try:
            with open(self.path(key), encoding="utf-8") as fh:
                record = json.load(fh)
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and record.get("key") == key else None

    def save(self, record: dict) -> None:
        write_json(self.path(record["key"]), record)

    def run_dir(self, key: str) -> Path:
        return self.runs / key
