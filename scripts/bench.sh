#!/usr/bin/env bash
# Sets up a virtual environment, builds rdm and runs rdm-bench on its default cases (on
# the GPU if there is one, else the CPU reference paths). Extra arguments go to rdm-bench.
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
venv="${RDM_VENV:-$RDM_ROOT/.venv}"
rdm_venv "$venv" "${RDM_TORCH:-torch==2.13.0}"
rdm_install "$venv/bin/python"
cd "$RDM_ROOT"
exec "$venv/bin/rdm-bench" "$@"
