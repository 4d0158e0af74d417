# Shared by the scripts in this folder: virtual environments and building rdm into them.
# Source it; it only defines functions.

RDM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# rdm_venv DIR TORCH_SPEC [PACKAGES...]: create DIR (once) with torch and build tools.
rdm_venv() {
  local dir="$1" torch_spec="$2"
  shift 2
  if [ ! -x "$dir/bin/python" ]; then
    echo "== creating virtual environment $dir ($torch_spec)" >&2
    python3 -m venv "$dir"
    "$dir/bin/python" -m pip install -q --upgrade pip
  fi
  "$dir/bin/python" -m pip install -q "$torch_spec" numpy scikit-build-core cmake ninja "$@"
}

# rdm_install PYTHON: build and install rdm from the source tree (against the torch
# already in that environment: no build isolation, which would pull a second torch).
rdm_install() {
  echo "== building rdm with $1" >&2
  (cd "$RDM_ROOT" && "$1" -m pip install -q --no-build-isolation --no-deps .)
}
