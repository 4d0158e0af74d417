"""Tests of the SIMT emulation layer (csrc/simt) through its C++ self-test program.

The self-test (tests/simt/*.cpp, plus the tensor-core probe kernel) is compiled from the
sources with g++ -- this file uses neither the rdm package nor torch nor a GPU -- in these
builds:
  * plain: every case must print PASS (planted-bug cases check the error the layer
    reports; the message is printed and checked again here);
  * planted emulator bugs: the plain build with csrc/simt/tensor_core.cpp recompiled with
    -DRDM_SIMT_PLANTED_BUG=n (a wrong fragment lane or rounding); the case that checks
    that instruction against its independent model must then FAIL;
  * shared library: the layer and the cases in a .so, to check that __shared__ variables
    are found and poisoned in a shared object too;
  * ThreadSanitizer: a missing __syncthreads must be reported as a data race, and the
    layer's own synchronisation must be race-free.
"""

from __future__ import annotations

import concurrent.futures
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIMT_DIR = ROOT / "csrc" / "simt"
SELFTEST_DIR = ROOT / "tests" / "simt"
PROBE = ROOT / "csrc" / "kernels" / "probe" / "tensor_core_probe.cu"
API_CHECK = SELFTEST_DIR / "portable_api_check.cu"  # every portable.h wrapper, compile-only
CXX = os.environ.get("CXX") or shutil.which("g++")
NVCC = shutil.which("nvcc") or ("/usr/local/cuda/bin/nvcc" if Path("/usr/local/cuda/bin/nvcc").exists() else None)

# -Wa,--no-warn: see csrc/simt/qualifiers.h (gas warns about the `noinit` sections).
CXXFLAGS = ["-std=c++20", "-O1", "-pthread", "-DRDM_SIMT", "-Wa,--no-warn", "-Wall", "-Wextra", "-Werror"]
CASE_TIMEOUT_S = 120

pytestmark = pytest.mark.skipif(CXX is None, reason="no C++ compiler (g++) found")


def _case_names() -> list[str]:
    names = []
    for source in sorted(SELFTEST_DIR.glob("*.cpp")):
        names += re.findall(r"^SIMT_CASE\((\w+)\)", source.read_text(), flags=re.MULTILINE)
    return sorted(names)


CASES = _case_names()

# Planted bugs: what the layer's report must contain (beyond the case's own checks).
PLANTED = {
    "divergent_barrier": [
        r"divergent barrier",
        r"test_barriers\.cpp:\d+:\d+.* but thread \d+ .*test_barriers\.cpp:\d+",
    ],
    "barrier_collective_deadlock": [r"deadlock", r"__syncthreads", r"__shfl_xor_sync"],
    "barrier_timeout": [r"timeout", r"waiting in __syncthreads at .*test_barriers\.cpp", r"still running\): threads 0"],
    "shfl_bad_mask": [
        r"member mask 0x0000ffff does not name the calling lane",
        r"lane 15 reads lane 16, which is not in the member mask",
        r"member mask 0x(000001ff|ffffffff) differs from the mask 0x(ffffffff|000001ff)",  # whichever came first
    ],
    "shfl_exited_lane": [r"have already exited"],
    "divergent_collective": [r"divergent warp collective"],
    "watchdog_warning": [r"\[warning\].*busy_thread_kernel.*no thread reached a barrier", r"running\): threads 0"],
    "collective_timeout": [r"timeout", r"waiting in __shfl_xor_sync at .*test_warp\.cpp"],
    "cp_async_missing_wait": [r"poison \(NaN\) without cp_async_wait"],
    "shared_read_before_write": [r"unwritten shared memory return the poison"],
    "exception_propagation": [r"boom from the kernel"],
    "trap_and_assert": [r"__trap\(\) called", r"assertion `mode != 1"],
    "bad_launch_config": [r"invalid configuration argument"],
    "ldmatrix_bad_address": [r"not 16-byte aligned", r"not in shared memory"],
    "cp_async_bad_address": [r"must be aligned", r"not in shared memory", r"src-size 9 exceeds the cp-size"],
    "global_bounds": [
        r"out-of-bounds global store of 4 bytes at 0x[0-9a-f]+ by thread \(31,0,0\) block \(0,0,0\) at "
        r".*test_global_bounds\.cpp:\d+",
        r"nearest buffer 'out' \[0x[0-9a-f]+, 0x[0-9a-f]+\), 4 bytes past its end",
    ],
}

# Bugs planted in the emulator (the RDM_SIMT_PLANTED_BUG values in csrc/simt/tensor_core.cpp)
# and the case that must catch each.
PLANTED_EMULATOR_BUGS = {
    1: "mma_m16n8k8",  # f16/bf16 A fragment: rows g and g+8 swapped in one lane
    2: "mma_tf32",  # tf32 operands rounded instead of truncated
    3: "mma_tf32",  # tf32 B fragment: rows t+4 read from b[0]
    4: "mma_f16_accumulate",  # f16 accumulators rounded toward zero
    5: "stmatrix",  # one lane stores another row's fragments
    6: "movmatrix",  # one lane's halves swapped
}
EMULATOR_BUG_SOURCE = SIMT_DIR / "tensor_core.cpp"

# The race ThreadSanitizer must find; every other case must be TSan-clean.
RACY = "missing_barrier"
# Cases not run under TSan: slow there (1024-thread blocks), or forking a multi-threaded
# process, which TSan does not support.
TSAN_SKIP = {"pool_reuse", "max_block_1024", "bad_launch_config", "launch_after_fork"}
# Planted shared-memory races that racecheck must report: real data races for TSan too.
TSAN_SKIP |= {
    "racecheck_missing_barrier", "racecheck_missing_syncwarp", "racecheck_write_after_read", "racecheck_atomics",
}
# ... and what racecheck and initcheck (tests/simt/test_racecheck.cpp) must report.
PLANTED |= {
    "racecheck_missing_barrier": [
        r"racecheck: shared-memory race",
        r"test_racecheck\.cpp:\d+:\d+.*test_racecheck\.cpp:\d+",
    ],
    "racecheck_missing_syncwarp": [r"racecheck: shared-memory race"],
    "initcheck_unwritten_read": [r"initcheck: thread 64 .* reads"],
}


def _compile_all(out_dir: Path, flags: list[str]) -> list[Path]:
    """Compiles the layer, the self-test and the probe kernel; returns the object files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(src, []) for src in sorted(SIMT_DIR.glob("*.cpp")) + sorted(SELFTEST_DIR.glob("*.cpp"))]
    jobs.append((PROBE, ["-x", "c++"]))  # a .cu file compiled as host C++

    def compile_one(job):
        src, lang = job
        obj = out_dir / (src.name + ".o")
        cmd = [CXX, *CXXFLAGS, *flags, *lang, "-c", str(src), "-o", str(obj)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"compile failed: {' '.join(cmd)}\n{result.stderr}")
        return obj

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(compile_one, jobs))


def _link(objects: list[Path], output: Path, flags: list[str]) -> Path:
    cmd = [CXX, "-pthread", *flags, *map(str, objects), "-o", str(output)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"link failed: {' '.join(cmd)}\n{result.stderr}")
    return output


@pytest.fixture(scope="session")
def plain_objects(tmp_path_factory) -> list[Path]:
    return _compile_all(tmp_path_factory.mktemp("simt_plain"), ["-fPIC"])


@pytest.fixture(scope="session")
def selftest(plain_objects) -> Path:
    return _link(plain_objects, plain_objects[0].parent / "simt_selftest", [])


@pytest.fixture(scope="session")
def selftest_shared_lib(plain_objects) -> Path:
    """The layer and all cases in libsimt_selftest.so; only main() in the executable."""
    out = plain_objects[0].parent
    main = [o for o in plain_objects if o.name == "main.cpp.o"]
    rest = [o for o in plain_objects if o.name != "main.cpp.o"]
    lib = _link(rest, out / "libsimt_selftest.so", ["-shared"])
    flags = [f"-L{out}", "-Wl,--no-as-needed", f"-l{lib.name[3:-3]}", f"-Wl,-rpath,{out}"]
    return _link(main, out / "simt_selftest_dyn", flags)


@pytest.fixture(scope="session")
def planted_bug_selftests(plain_objects) -> dict[int, Path]:
    """One self-test binary per planted emulator bug: the plain objects, with tensor_core.cpp
    recompiled with -DRDM_SIMT_PLANTED_BUG=n."""
    out = plain_objects[0].parent / "planted"
    out.mkdir(exist_ok=True)
    replaced = EMULATOR_BUG_SOURCE.name + ".o"
    assert any(o.name == replaced for o in plain_objects)
    others = [o for o in plain_objects if o.name != replaced]

    def build(bug: int) -> Path:
        obj = out / f"tensor_core_bug{bug}.o"
        cmd = [CXX, *CXXFLAGS, "-fPIC", f"-DRDM_SIMT_PLANTED_BUG={bug}", "-c", str(EMULATOR_BUG_SOURCE), "-o", str(obj)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"compile failed: {' '.join(cmd)}\n{result.stderr}")
        return _link([*others, obj], out / f"simt_selftest_bug{bug}", [])

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip(PLANTED_EMULATOR_BUGS, pool.map(build, PLANTED_EMULATOR_BUGS)))


@pytest.fixture(scope="session")
def tsan(tmp_path_factory) -> list[str]:
    """Command prefix running the ThreadSanitizer build; skips if TSan cannot run here."""
    objects = _compile_all(tmp_path_factory.mktemp("simt_tsan"), ["-g1", "-fsanitize=thread"])
    binary = _link(objects, objects[0].parent / "simt_selftest_tsan", ["-fsanitize=thread"])
    # TSan needs its fixed memory layout; with high-entropy ASLR it dies with "unexpected
    # memory mapping". Running without ASLR (setarch -R) avoids that.
    prefixes = [[str(binary)]]
    setarch = shutil.which("setarch")
    if setarch:
        prefixes.append([setarch, platform.machine(), "-R", str(binary)])
    failures = []
    for prefix in prefixes:
        result = subprocess.run([*prefix, "params_by_value"], capture_output=True, text=True, timeout=60)
        if result.returncode == 0 and "PASS" in result.stdout:
            return prefix
        failures.append(f"{' '.join(prefix)}: rc={result.returncode}: {result.stderr.strip()[:300]}")
    pytest.skip("ThreadSanitizer cannot run on this machine: " + " | ".join(failures))


def _run(prefix: list[str], case: str) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, case], capture_output=True, text=True, timeout=CASE_TIMEOUT_S)


def test_case_list_matches_sources(selftest):
    listed = subprocess.run([str(selftest), "--list"], capture_output=True, text=True, check=True).stdout.split()
    assert sorted(listed) == CASES
    assert set(PLANTED) <= set(CASES) and RACY in CASES


@pytest.mark.parametrize("case", CASES)
def test_selftest_case(selftest, case):
    result = _run([str(selftest)], case)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and f"PASS {case}" in result.stdout, output
    for pattern in PLANTED.get(case, []):
        assert re.search(pattern, output), f"report of planted bug lacks /{pattern}/:\n{output}"


@pytest.mark.parametrize("bug", sorted(PLANTED_EMULATOR_BUGS))
def test_planted_emulator_bug_is_caught(planted_bug_selftests, bug):
    """The independent model of each new tensor-core instruction catches a planted emulator bug."""
    case = PLANTED_EMULATOR_BUGS[bug]
    result = _run([str(planted_bug_selftests[bug])], case)
    assert result.returncode == 1 and f"FAIL {case}" in result.stdout, result.stdout + result.stderr


def test_unknown_case_is_an_error(selftest):
    result = _run([str(selftest)], "no_such_case")
    assert result.returncode == 2 and "unknown case" in result.stderr


@pytest.mark.parametrize("case", ["static_shared_poison", "dynamic_shared", "tensor_core_probe", "divergent_barrier"])
def test_in_shared_library(selftest_shared_lib, case):
    result = _run([str(selftest_shared_lib)], case)
    assert result.returncode == 0 and f"PASS {case}" in result.stdout, result.stdout + result.stderr


def test_tsan_reports_missing_barrier(tsan):
    result = _run(tsan, RACY)
    assert "WARNING: ThreadSanitizer: data race" in result.stderr, result.stderr
    assert "neighbour_kernel<false>" in result.stderr and "test_races.cpp" in result.stderr, result.stderr
    assert result.returncode != 0


@pytest.mark.parametrize("case", [c for c in CASES if c != RACY and c not in TSAN_SKIP])
def test_tsan_clean(tsan, case):
    result = _run(tsan, case)
    assert "ThreadSanitizer" not in result.stderr, result.stderr
    assert result.returncode == 0 and f"PASS {case}" in result.stdout, result.stdout + result.stderr


def test_api_check_compiles_under_shim(tmp_path):
    cmd = [CXX, *CXXFLAGS, "-x", "c++", "-c", str(API_CHECK), "-o", str(tmp_path / "api.o")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(NVCC is None, reason="nvcc not found")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90a"])
@pytest.mark.parametrize("source", [PROBE, API_CHECK], ids=["probe", "api_check"])
def test_compiles_with_nvcc(tmp_path, source, arch):
    """portable.h's real-CUDA side (inline PTX wrappers, launch) compiles, ptxas included."""
    cmd = [NVCC, "-std=c++20", f"-arch={arch}", "-c", str(source), "-o", str(tmp_path / "out.o")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


STMATRIX_CALL = """
#include "kernels/portable.h"
__global__ void store_kernel(unsigned* out) {
  __shared__ __align__(16) uint16_t rows[32][8];
  const uint32_t r[1] = {threadIdx.x};
  rdm::stmatrix(r, &rows[threadIdx.x][0]);
  __syncwarp();
  out[threadIdx.x] = rows[threadIdx.x][0];
}
"""


@pytest.mark.skipif(NVCC is None, reason="nvcc not found")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90a"])
def test_stmatrix_needs_sm90(tmp_path, arch):
    """An stmatrix call compiled for a GPU older than sm_90 is a compile error that says why."""
    source = tmp_path / "stmatrix_call.cu"
    source.write_text(STMATRIX_CALL)
    cmd = [NVCC, "-std=c++20", f"-arch={arch}", f"-I{ROOT / 'csrc'}", "-c", str(source), "-o", str(tmp_path / "o.o")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if arch == "sm_80":
        assert result.returncode != 0 and "stmatrix needs sm_90 or newer" in result.stderr, result.stderr
    else:
        assert result.returncode == 0, result.stderr
