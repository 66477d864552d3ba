"""The README's Python examples run as written (so the front page stays true)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, capsys):
    exec(compile(BLOCKS[index], f"README.md example {index + 1}", "exec"), {})
    out = capsys.readouterr().out
    if "slowest-3 error" in BLOCKS[index]:
        # the comparison the example makes must come out as the text says
        pairs = re.findall(r"noise ([\d.]+), weight ([\d.]+)", out)
        assert len(pairs) == 5
        assert sum(float(n) < float(w) for n, w in pairs) >= 4
