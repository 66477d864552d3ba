"""plasticsim's errors read as plasticsim's own, not as "Brian 2 encountered an unexpected error".

Brian2 replaces ``sys.excepthook`` at import; plasticsim imports it through
``plasticsim._brian``, which puts the previous hook back unless the user imported Brian2
first. Checked in fresh interpreters (the hook is process state).
"""

import os
import subprocess
import sys

import pytest

BAD_NETWORK = (
    "from plasticsim.online import RateNetwork\n"
    "RateNetwork.from_matrix([[1.0, 0.0], [0.0, -1.0]], target='numpy')\n"
)


def run_python(code, tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path), MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )


def brian_files(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("brian_"))


@pytest.mark.parametrize(
    "entry",
    [
        BAD_NETWORK,
        # through the model runner, which imports Brian2 lazily too
        "import plasticsim.experiment._online\n" + BAD_NETWORK,
    ],
)
def test_uncaught_plasticsim_error_is_an_ordinary_traceback(tmp_path, entry):
    proc = run_python(entry, tmp_path)
    assert proc.returncode == 1
    assert "ValueError: A[0, 0] == 1.0" in proc.stderr
    assert "Brian 2 encountered an unexpected error" not in proc.stderr
    assert brian_files(tmp_path) == []  # no debug log or script copy left behind


def test_hook_is_restored_only_when_plasticsim_imported_brian2(tmp_path):
    code = (
        "import sys\n"
        "before = sys.excepthook\n"
        "import plasticsim.online\n"
        "assert sys.excepthook is before, sys.excepthook\n"
        "print('ok')\n"
    )
    proc = run_python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_a_user_who_imported_brian2_first_keeps_its_hook(tmp_path):
    proc = run_python("import brian2\n" + BAD_NETWORK, tmp_path)
    assert proc.returncode == 1
    assert "ValueError: A[0, 0] == 1.0" in proc.stderr
    assert "Brian 2 encountered an unexpected error" in proc.stderr
