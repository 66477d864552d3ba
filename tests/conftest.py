"""Fixtures shared by the test modules."""

import pytest


@pytest.fixture
def brian_prefs():
    """Brian2's numpy target, no log files, no saved scripts; restored afterwards."""
    from plasticsim._brian import brian2

    prefs = brian2.prefs
    names = ("codegen.target", "logging.file_log", "logging.save_script")
    old = {name: prefs[name] for name in names}
    prefs["codegen.target"] = "numpy"
    prefs["logging.file_log"] = False
    prefs["logging.save_script"] = False
    yield
    for name, value in old.items():
        prefs[name] = value
