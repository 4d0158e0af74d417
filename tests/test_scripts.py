"""The shell scripts parse, and the GPU check fails cleanly where it cannot run: bad
arguments, or no CUDA device (as on this CPU-only test machine)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "scripts").rglob("*.sh"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses(script):
    subprocess.run(["bash", "-n", str(script)], check=True)


def _gpu_check(*args, tmp_path):
    env = dict(os.environ, PYTHON=sys.executable)
    return subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True)


@pytest.mark.parametrize("args", [(), ("out", "bogus"), ("out", "smoke", "extra")])
def test_gpu_check_usage_errors(args, tmp_path):
    result = _gpu_check(*args, tmp_path=tmp_path)
    assert result.returncode == 2 and "usage: bash scripts/gpu_check.sh OUT_DIR" in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the failure without a GPU")
def test_gpu_check_without_a_gpu_fails_cleanly(tmp_path):
    result = _gpu_check(str(tmp_path / "out"), "smoke", tmp_path=tmp_path)
    assert result.returncode == 1 and "no CUDA device" in result.stderr
    assert "no CUDA device" in (tmp_path / "out" / "no_gpu.txt").read_text()
