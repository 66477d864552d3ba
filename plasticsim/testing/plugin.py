"""pytest plugin: the ``spectrum_regression`` fixture for golden spectra in users' suites.

PYTEST_DONT_REWRITE (no ``assert`` here needs rewriting; the plugin is often imported
before pytest could rewrite it).

Loaded by pytest only, through the ``pytest11`` entry point ``plasticsim.testing.plugin``,
or explicitly with ``-p plasticsim.testing.plugin`` or ``pytest_plugins =
["plasticsim.testing.plugin"]`` (where autoloading is off); explicit and automatic loading
coexist, since the entry point carries the module's name. The command-line option is only
known if the plugin is loaded at start-up (entry point, ``-p``, or the *root*
``conftest.py``), not from a test module's ``pytest_plugins``. ``import plasticsim`` never
imports this module, nor pytest.

Usage in a test::

    def test_pruned_spectrum(spectrum_regression):
        res = plasticsim.noise_prune(A, density=0.2, rng=1)
        spectrum_regression.check(
            {"pruned": np.linalg.eigvals(res.pruned)}, rtol=1e-6, metadata={"seed": 1}
        )

The golden lives beside the test file, in ``golden/<test module>/<test name>.json``
(a :func:`plasticsim.testing.save_golden` file: JSON, slowest mode first). A missing
golden or a drift fails the test with the comparison report; running pytest with
``--plasticsim-update-golden`` writes missing goldens and rewrites drifted ones instead,
and lists them at the end of the run. Goldens that still match are left untouched.

Why a small plugin and not pytest-regressions: the goldens must be read by the
``plasticsim check`` command without pytest, in the same format as ``plasticsim
snapshot``; a spectrum is a set (eigenvalues are paired, slowest first, not compared by
position) tested to a relative tolerance; and the file should carry the seed, model and
version. pytest-regressions' ``ndarrays_regression`` compares arrays position by
position and stores binary ``.npz``; using it would add two dependencies
(pytest-regressions, pytest-datadir) for a fixture of a few dozen lines over
:func:`plasticsim.testing.check_golden`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

__all__ = ["SpectrumRegression", "spectrum_regression"]

UPDATE_OPTION = "--plasticsim-update-golden"
_written = pytest.StashKey[list]()


def pytest_addoption(parser):
    group = parser.getgroup("plasticsim", "plasticsim golden spectra")
    group.addoption(
        UPDATE_OPTION,
        action="store_true",
        default=False,
        dest="plasticsim_update_golden",
        help="write missing golden spectra and rewrite drifted ones instead of failing.",
    )


def pytest_configure(config):
    config.stash.setdefault(_written, [])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    written = config.stash.get(_written, [])
    if not written:
        return
    terminalreporter.write_sep("-", "plasticsim golden spectra")
    for action, path in written:
        terminalreporter.write_line(f"{action} {path}")


def _display(path: Path, root: Path) -> Path:
    """``path`` relative to ``root`` (pytest's rootdir) when it lies below it."""
    try:
        return path.relative_to(root)
    except ValueError:
        return path


class SpectrumRegression:
    """Compare spectra with the golden files of one test (the ``spectrum_regression`` fixture).

    Attributes
    ----------
    directory : pathlib.Path
        Where this test's goldens are (``<test dir>/golden/<module>``); may be reassigned.
    basename : str
        Default file name (without ``.json``): the test's name, made file-safe.
    update : bool
        ``--plasticsim-update-golden`` was given.
    """

    def __init__(self, directory, basename, nodeid, update, written, root):
        self.directory = Path(directory)
        self.basename = basename
        self.nodeid = nodeid
        self.update = update
        self._written = written
        self._root = Path(root)
        self._checked: set[Path] = set()

    def path(self, name: str | None = None) -> Path:
        """The golden file for ``name`` (default: the test's name)."""
        return self.directory / f"{name or self.basename}.json"

    def check(self, spectra, *, rtol, slowest=None, name=None, metadata=None):
        """Compare ``spectra`` with the golden; fail with the report when they differ.

        Parameters
        ----------
        spectra : array_like, mapping of str to array_like, or Results
            One eigenvalue array, several by name, or the results of
            :func:`plasticsim.experiment.run_model` (all their spectra; the seed, the
            model name and its settings go into the metadata, as
            :func:`plasticsim.testing.snapshot_model` records them).
        rtol : float
            Relative tolerance (also stored in a golden this call writes).
        slowest : int, default=None
            Only compare the ``slowest`` modes of each spectrum.
        name : str, default=None
            File name (without ``.json``) when a test checks more than one golden.
        metadata : dict, default=None
            Stored with a golden this call writes (seed, parameters, ...).
        """
        __tracebackhide__ = True
        from . import check_golden, load_golden, save_golden, spectra_from_results
        from ._models import results_metadata

        meta = {"test": self.nodeid}
        if hasattr(spectra, "arrays") and hasattr(spectra, "model"):
            meta.update(results_metadata(spectra))
            spectra = spectra_from_results(spectra)
        meta.update(metadata or {})
        path = self.path(name).absolute()
        if path in self._checked:
            raise ValueError(
                f"the golden {str(path)!r} was already checked in this test; give each "
                "check its own name=."
            )
        self._checked.add(path)
        shown = _display(path, self._root)
        if not path.exists():
            if self.update:
                save_golden(path, spectra, metadata=meta, rtol=rtol)
                self._written.append(("created", shown))
                return
            raise AssertionError(
                f"golden spectrum {shown} does not exist; run pytest with {UPDATE_OPTION} "
                "to create it from this run."
            )
        try:
            golden = dataclasses.replace(load_golden(path), path=shown)
        except ValueError:
            if not self.update:
                raise
            golden = None  # an unreadable golden is rewritten
        if golden is not None:
            ok, report = check_golden(golden, spectra, rtol=rtol, slowest=slowest)
            if ok:
                return
        if self.update:
            save_golden(path, spectra, metadata=meta, rtol=rtol)
            self._written.append(("updated", shown))
            return
        raise AssertionError(
            f"{report}\nIf the change is intended, rerun pytest with {UPDATE_OPTION} to "
            f"rewrite {shown}."
        )


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "golden"


@pytest.fixture
def spectrum_regression(request) -> SpectrumRegression:
    """Compare spectra with this test's golden files; see :class:`SpectrumRegression`."""
    node = request.node
    test_file = Path(os.fspath(request.path))
    # "test_mod.py::TestClass::test_x[a]" -> "TestClass.test_x_a"
    basename = _safe(".".join(node.nodeid.split("::")[1:]) or node.name)
    config = request.config
    return SpectrumRegression(
        directory=test_file.parent / "golden" / test_file.stem,
        basename=basename,
        nodeid=node.nodeid,
        update=bool(config.getoption("plasticsim_update_golden", default=False)),
        written=config.stash.setdefault(_written, []),
        root=config.rootpath,
    )
