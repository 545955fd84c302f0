"""The example script a PyTorch user would start from runs and tells the lectures' story."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

if os.environ.get("CI") != "true":
    pytest.importorskip("torch")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pytorch_saddle.py"


def test_pytorch_saddle_example():
    out = subprocess.run([sys.executable, str(EXAMPLE)], check=True, capture_output=True,
                         text=True).stdout
    lines = out.splitlines()
    assert lines[0] == "PyTorch, 500 steps from zero: loss 0.366667"
    assert lines[1].startswith("trainscope: saddle point, ‖g‖ = 0.0e+00, eigenvalues [-0.7333,")
    assert "escape along the eigenvector of λ = -0.7333: loss 0.366667 → 0.091667" in lines[2]
    assert lines[-1].startswith("trainscope: local minimum like")
