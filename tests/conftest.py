"""Fixtures shared by the test modules."""

from contextlib import contextmanager

import pytest


@contextmanager
def numpy_prefs():
    """Brian2's numpy target, no log files, no saved scripts; restored afterwards."""
    from plasticsim._brian import brian2

    prefs = brian2.prefs
    names = ("codegen.target", "logging.file_log", "logging.save_script")
    old = {name: prefs[name] for name in names}
    prefs["codegen.target"] = "numpy"
    prefs["logging.file_log"] = False
    prefs["logging.save_script"] = False
    try:
        yield
    finally:
        for name, value in old.items():
            prefs[name] = value


@pytest.fixture
def brian_prefs():
    """Brian2's numpy target for one test (:func:`numpy_prefs`)."""
    with numpy_prefs():
        yield


@pytest.fixture(scope="module")
def brian_prefs_module():
    """Brian2's numpy target for a whole module (its module-scoped simulations)."""
    with numpy_prefs():
        yield
