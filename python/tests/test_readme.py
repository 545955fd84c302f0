"""The README's Python example runs and says what the README says it does."""

import os
import re
from pathlib import Path

import pytest

if os.environ.get("CI") != "true":
    pytest.importorskip("torch")

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "no python block in README.md"
    for code in blocks:
        scope = {}
        exec(compile(code, "README.md", "exec"), scope)
    d = scope["d"]
    assert d["verdict"] == "saddle_point"
    assert [round(v, 4) for v in d["eigenvalues"]] == [-0.7333, 0.0, 0.7333, 2.0]
