"""csrc/kernels/common/dispatch.h: runtime values become the right compile-time constants,
and a value without an instantiation is a clear error. Compiled with g++ (no torch)."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CXX = os.environ.get("CXX") or shutil.which("g++")

EXPECTED = """\
scalar 0 -> 4 bytes
scalar 1 -> 2 bytes
scalar 2 -> 2 bytes
bool 0
bool 1
int 64
int 128
int 256
error head_dim: no kernel instantiation for 96 (supported: 64, 128, 256)
error dtype: no kernel instantiation for ScalarKind(7) (supported: float32, float16, bfloat16)
error a: no kernel instantiation for float32 (supported: float16, bfloat16)
"""


@pytest.mark.skipif(CXX is None, reason="no C++ compiler (g++) found")
def test_dispatch_header(tmp_path):
    exe = tmp_path / "test_dispatch"
    # RDM_SIMT: host_types.h then needs no CUDA headers.
    subprocess.run([CXX, "-std=c++20", "-Wall", "-Wextra", "-Werror", "-DRDM_SIMT", f"-I{ROOT / 'csrc'}",
                    str(ROOT / "tests" / "cpp" / "test_dispatch.cpp"), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    assert out == EXPECTED
