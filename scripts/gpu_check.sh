#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU and a CUDA torch already installed
# (nothing is downloaded). Each step finishes well within 10 minutes and writes its results
# under OUT_DIR as it goes, so a run cut short still returns what it did:
#   smoke  the CUDA tests of every op at small sizes (pytest -m cuda: each kernel against
#          the float64 oracle and against its emulated twin on the same inputs, the
#          tensor-core probe against the hardware), then every op with a CUDA kernel under
#          torch.cuda.set_sync_debug_mode("error") (scripts/gpu_sync_check.py)
#   bench  rdm-bench's default cases on CUDA, one JSON update per finished case
#   all    smoke, then bench (the default)
# The libraries come from build/gpu-artifact (scripts/build_gpu_artifact.sh, built on a CPU
# machine against the device's torch) when they match the running torch; otherwise they
# are built here (needs cmake, nvcc, and ninja or make). Sanitizer and float64-oracle-heavy
# runs stay on the CPU (scripts/test.sh).
#
# Usage: bash scripts/gpu_check.sh OUT_DIR [smoke|bench|all]
# Environment: PYTHON (default python3), RDM_GPU_ARTIFACT (default build/gpu-artifact),
# RDM_SMOKE_TIMEOUT_S (default 420), RDM_BENCH_TIMEOUT_S (default 480), RDM_BENCH_ARGS
# (default --dtype bf16: both default dtypes do not fit in one 10-minute command).
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
usage="usage: bash scripts/gpu_check.sh OUT_DIR [smoke|bench|all]"
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "$usage" >&2; exit 2; }
step="${2:-all}"
case "$step" in smoke | bench | all) ;; *) echo "unknown step '$step'; $usage" >&2; exit 2 ;; esac
mkdir -p "$1"
out="$(cd "$1" && pwd)"
py="$(command -v "${PYTHON:-python3}")" || { echo "gpu_check: no ${PYTHON:-python3} found" >&2; exit 1; }
case "$py" in /*) ;; *) py="$PWD/$py" ;; esac  # the script runs from the source tree
artifact="${RDM_GPU_ARTIFACT:-$RDM_ROOT/build/gpu-artifact}"
cd "$RDM_ROOT"

# One line per step in summary.txt: a cut-short run leaves the steps it finished.
record() { echo "$1 exit=$2 seconds=$3" | tee -a "$out/summary.txt"; }

if ! "$py" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2> "$out/no_gpu.txt"; then
  echo "gpu_check: no CUDA device (or no torch) for $py (see $out/no_gpu.txt)" | tee -a "$out/no_gpu.txt" >&2
  exit 1
fi
rm -f "$out/no_gpu.txt"
"$py" - > "$out/environment.json" <<'PY'
import json, platform, shutil, subprocess, torch
query = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm", "--format=csv,noheader"]
smi = subprocess.run(query, capture_output=True, text=True).stdout.strip() if shutil.which("nvidia-smi") else None
print(json.dumps({"gpu": torch.cuda.get_device_name(), "capability": list(torch.cuda.get_device_capability()),
                  "nvidia_smi": smi, "torch": torch.__version__, "torch_cuda": torch.version.cuda,
                  "python": platform.python_version()}, indent=1))
PY

# --- the package: rdm's Python sources plus the carried (or freshly built) libraries -------
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp -r "$RDM_ROOT/python/rdm" "$stage/rdm"
matches_torch() {  # DIR: its _build_info.py names the running torch
  [ -f "$1/_C.so" ] && [ -f "$1/_build_info.py" ] && "$py" - "$1" <<'PY'
import runpy, sys, torch
info = runpy.run_path(f"{sys.argv[1]}/_build_info.py")
sys.exit(0 if (info["TORCH_VERSION"], info["TORCH_CUDA"] or None) == (torch.__version__, torch.version.cuda) else 1)
PY
}
device_build="$RDM_ROOT/build/gpu-check"  # a fallback build, reused by the next step on this machine
if matches_torch "$artifact"; then
  libs="$artifact"
  echo "libraries: carried build $artifact" | tee "$out/build.txt"
elif matches_torch "$device_build"; then
  libs="$device_build"
  echo "libraries: built on this machine by an earlier step, $libs" | tee "$out/build.txt"
else
  # sm_90 builds as sm_90a, as in RDM_CUDA_ARCHS' default.
  arch="$("$py" -c 'import torch; m, n = torch.cuda.get_device_capability(); print(m * 10 + n, "a" * (m == 9), sep="")')"
  libs="$device_build"
  echo "libraries: no carried build for this torch; building for sm_$arch in $libs" | tee "$out/build.txt"
  started=$(date +%s)
  if ! rdm_cmake_build "$py" "$libs" "$out/build.log" -DRDM_REQUIRE_CUDA=ON -DRDM_BUILD_SIMT=ON \
      -DRDM_CUDA_ARCHS="$arch"; then
    record build 1 $(( $(date +%s) - started ))
    exit 1
  fi
  record build 0 $(( $(date +%s) - started ))
fi
cat "$libs/_build_info.py" >> "$out/build.txt"  # the commit and torch they were built from
cp "$libs/_C.so" "$libs/_build_info.py" "$stage/rdm/"
[ -f "$libs/_simt.so" ] && cp "$libs/_simt.so" "$stage/rdm/"
export PYTHONPATH="$stage"
# pytest for the device's Python, carried in the artifact, only where none is installed.
if ! "$py" -c 'import pytest' 2> /dev/null && [ -d "$artifact/pylib" ]; then
  export PYTHONPATH="$stage:$artifact/pylib"
fi
"$py" -c 'import rdm; print("rdm from", rdm.__file__, "with SIMT" if rdm.HAS_SIMT else "without SIMT")' \
  | tee -a "$out/build.txt"

smoke() {
  mkdir -p "$out/smoke"
  local started rc=0
  started=$(date +%s)
  timeout -k 10 "${RDM_SMOKE_TIMEOUT_S:-420}" "$py" -m pytest tests -m cuda -q -p no:cacheprovider \
    --junitxml="$out/smoke/pytest.xml" > "$out/smoke/pytest.txt" 2>&1 || rc=$?
  tail -5 "$out/smoke/pytest.txt"
  timeout -k 10 120 "$py" scripts/gpu_sync_check.py "$out/smoke/sync_check.json" > "$out/smoke/sync_check.txt" 2>&1 \
    || rc=$(( rc ? rc : $? ))
  tail -3 "$out/smoke/sync_check.txt"
  record smoke "$rc" $(( $(date +%s) - started ))
  return "$rc"
}

bench() {
  mkdir -p "$out/bench"
  local started rc=0
  started=$(date +%s)
  # shellcheck disable=SC2086  # RDM_BENCH_ARGS is a list of arguments
  timeout -k 10 "${RDM_BENCH_TIMEOUT_S:-480}" "$py" -m rdm.bench --device cuda ${RDM_BENCH_ARGS:---dtype bf16} \
    --out "$out/bench/bench.json" > "$out/bench/bench.txt" 2>&1 || rc=$?
  tail -25 "$out/bench/bench.txt"
  record bench "$rc" $(( $(date +%s) - started ))
  return "$rc"
}

case "$step" in
  smoke) smoke ;;
  bench) bench ;;
  all)
    rc=0
    smoke || rc=$?
    bench || rc=$(( rc ? rc : $? ))
    exit "$rc"
    ;;
esac
