#!/usr/bin/env bash
# Compile check of the CUDA kernels on a machine without a GPU: builds _C with nvcc
# against a CUDA torch (CUDA required: no silent CPU-only build) for every architecture
# of RDM_CUDA_ARCHS, writes each kernel's resources, occupancy and SASS instruction mix
# to benchmarks/results/compile_check.json (scripts/compile_report.py; it fails on spills
# and on kernels that lost the instructions scripts/compile_expectations.json requires),
# and asserts that every rdm op has a CUDA kernel registered.
# Environment: RDM_CUDA_VENV (default .venv-cuda), RDM_CUDA_TORCH (default torch==2.14.1),
# RDM_CUDA_ARCHS (default 80;90a), RDM_COMPILE_REPORT (default the JSON above).
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
venv="${RDM_CUDA_VENV:-$RDM_ROOT/.venv-cuda}"
archs="${RDM_CUDA_ARCHS:-80;90a}"
build="$RDM_ROOT/build/cuda-compile-check"
report="${RDM_COMPILE_REPORT:-$RDM_ROOT/benchmarks/results/compile_check.json}"
# cuobjdump reads the cubins (and runs nvdisasm for -sass); 13.2 is the oldest release of
# their wheels and reads nvcc 13.0's cubins.
rdm_venv "$venv" "${RDM_CUDA_TORCH:-torch==2.14.1}" nvidia-cutlass "nvidia-cuda-cuobjdump>=13.2,<14" \
  "nvidia-cuda-nvdisasm>=13.2,<14"
export PATH="$venv/bin:$PATH"  # cmake and ninja from the environment
rdm_cmake_build "$venv/bin/python" "$build" "$build.log" -DRDM_REQUIRE_CUDA=ON -DRDM_BUILD_SIMT=OFF \
  -DRDM_PTXAS_VERBOSE=ON -DRDM_CUDA_ARCHS="$archs"
# The report's environment: what built the kernels (CMake's configure line names nvcc's version).
nvcc_version="$(sed -n 's/.*rdm: CUDA \([0-9.]*\) at .*/\1/p' "$build.log" | head -1)"
torch_version="$("$venv/bin/python" -c 'import torch; print(torch.__version__)')"
environment="{\"cuda_archs\": \"$archs\", \"nvcc\": \"$nvcc_version\", \"torch\": \"$torch_version\"}"
"$venv/bin/python" "$RDM_ROOT/scripts/compile_report.py" --build-log "$build.log" --binary "$build/_C.so" \
  --out "$report" --environment "$environment"
"$venv/bin/python" "$RDM_ROOT/scripts/check_cuda_registrations.py" "$build/_C.so"
