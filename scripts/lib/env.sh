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

# rdm_cmake_build PYTHON BUILD_DIR LOG [CMAKE_ARGS...]: configure and build rdm with CMake
# itself (no pip: the libraries stay in BUILD_DIR), every line of output in LOG. A clean
# build, so that LOG has the compiler's report of every kernel. Uses the cmake and ninja
# first on PATH; on failure prints the errors and returns 1.
rdm_cmake_build() {
  local py="$1" build="$2" log="$3"
  shift 3
  if ! command -v cmake > /dev/null; then
    echo "rdm_cmake_build: cmake is not on PATH (pip install cmake ninja)" >&2
    return 1
  fi
  local generator=()
  command -v ninja > /dev/null && generator=(-G Ninja)
  mkdir -p "$(dirname "$log")"
  echo "== building rdm in $build (log: $log)" >&2
  if cmake -S "$RDM_ROOT" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE="$py" "$@" \
      > "$log" 2>&1 && cmake --build "$build" --clean-first -j "$(nproc)" >> "$log" 2>&1; then
    return 0
  fi
  grep -E -A5 "error|FAILED|CMake Error" "$log" | head -80 >&2
  echo "rdm_cmake_build: the build failed (full log: $log)" >&2
  return 1
}
