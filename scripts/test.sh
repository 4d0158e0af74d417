#!/usr/bin/env bash
# Sets up a virtual environment with CPU torch, builds rdm (with the SIMT emulation that
# runs the CUDA kernels on the CPU) and runs the whole test suite. Extra arguments go to
# pytest. Environment: RDM_VENV (default .venv), RDM_TORCH (default torch==2.13.0).
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
venv="${RDM_VENV:-$RDM_ROOT/.venv}"
rdm_venv "$venv" "${RDM_TORCH:-torch==2.13.0}" pytest expecttest safetensors
rdm_install "$venv/bin/python"
cd "$RDM_ROOT"
set +e
"$venv/bin/python" -m pytest tests "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
