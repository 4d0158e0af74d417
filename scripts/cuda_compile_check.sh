#!/usr/bin/env bash
# Compile check of the CUDA kernels on a machine without a GPU: builds _C with nvcc
# against a CUDA torch (CUDA required: no silent CPU-only build), prints each kernel's
# registers, shared memory and spills from ptxas, and asserts that every rdm op has a
# CUDA kernel registered. Environment: RDM_CUDA_VENV (default .venv-cuda), RDM_CUDA_TORCH
# (default torch==2.14.1), RDM_CUDA_ARCHS (default 90).
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
venv="${RDM_CUDA_VENV:-$RDM_ROOT/.venv-cuda}"
build="$RDM_ROOT/build/cuda-compile-check"
rdm_venv "$venv" "${RDM_CUDA_TORCH:-torch==2.14.1}"
"$venv/bin/python" -m pip install -q --no-deps nvidia-cutlass
export PATH="$venv/bin:$PATH"  # cmake and ninja from the environment
cmake -S "$RDM_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPython_EXECUTABLE="$venv/bin/python" -DRDM_REQUIRE_CUDA=ON -DRDM_BUILD_SIMT=OFF \
  -DRDM_PTXAS_VERBOSE=ON -DRDM_CUDA_ARCHS="${RDM_CUDA_ARCHS:-90}" > "$build.configure.log" 2>&1 \
  || { cat "$build.configure.log"; exit 1; }
if ! cmake --build "$build" -j "$(nproc)" > "$build.log" 2>&1; then
  grep -E -A5 "error|FAILED" "$build.log" | head -80
  echo "CUDA build failed (full log: $build.log)" >&2
  exit 1
fi
"$venv/bin/python" "$RDM_ROOT/scripts/ptxas_report.py" "$build.log"
"$venv/bin/python" "$RDM_ROOT/scripts/check_cuda_registrations.py" "$build/_C.so"
