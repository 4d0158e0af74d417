#!/usr/bin/env bash
# Builds, on a machine without a GPU, what the GPU check loads on a lent GPU machine, so
# that device time goes to running rather than compiling: _C.so with the CUDA kernels for
# sm_90a, _simt.so (the same kernels emulated on the CPU, for the twin comparisons) and
# _build_info.py, against the device's torch (2.11.0+cu130, whose CUDA wheel is on PyPI),
# plus pylib/: pytest for the device's Python 3.12 in case it has none (pure Python).
# The libraries never link libpython (checked here), so a Python 3.11 build loads there.
#
# Usage: bash scripts/build_gpu_artifact.sh [OUT_DIR]   (default build/gpu-artifact, <= 64 MiB)
# Environment: RDM_GPU_VENV (default .venv-gpu), RDM_GPU_TORCH (default torch==2.11.0, or
# a wheel file), RDM_GPU_TORCH_VERSION (default 2.11.0+cu130: what the build must link),
# RDM_GPU_ARCHS (default 90a).
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
out="${1:-$RDM_ROOT/build/gpu-artifact}"
venv="${RDM_GPU_VENV:-$RDM_ROOT/.venv-gpu}"
want_torch="${RDM_GPU_TORCH_VERSION:-2.11.0+cu130}"
build="$RDM_ROOT/build/gpu-artifact-build"
max_bytes=$((64 * 1024 * 1024))

rdm_venv "$venv" "${RDM_GPU_TORCH:-torch==2.11.0}" nvidia-cutlass
have_torch="$("$venv/bin/python" -c 'import torch; print(torch.__version__)')"
if [ "$have_torch" != "$want_torch" ]; then
  echo "build_gpu_artifact: $venv has torch $have_torch, the GPU machine runs $want_torch" >&2
  exit 1
fi
export PATH="$venv/bin:$PATH"
rdm_cmake_build "$venv/bin/python" "$build" "$build.log" -DRDM_REQUIRE_CUDA=ON -DRDM_BUILD_SIMT=ON \
  -DRDM_CUDA_ARCHS="${RDM_GPU_ARCHS:-90a}"

rm -rf "$out"
mkdir -p "$out"
cp "$build/_C.so" "$build/_simt.so" "$build/_build_info.py" "$out/"
strip --strip-unneeded "$out/_C.so" "$out/_simt.so"  # host symbols and debug info only
if readelf -d "$out/_C.so" "$out/_simt.so" | grep -i "NEEDED.*libpython"; then
  echo "build_gpu_artifact: a library links libpython: it would not load on another Python" >&2
  exit 1
fi
"$venv/bin/python" -m pip install -q --target "$out/pylib" --python-version 3.12 --only-binary=:all: \
  --implementation py --no-compile pytest expecttest
bytes="$(du -sb "$out" | cut -f1)"
du -ah "$out" | sort -h | tail -6
if [ "$bytes" -gt "$max_bytes" ]; then
  echo "build_gpu_artifact: $out is $bytes bytes, over the 64 MiB a device run can carry" >&2
  exit 1
fi
echo "GPU artifact for torch $have_torch in $out ($((bytes / 1024 / 1024)) MiB); carry it as build/gpu-artifact"
