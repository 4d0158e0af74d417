#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU and a CUDA torch already installed
# (nothing is downloaded): builds rdm for this GPU's architecture (with the SIMT
# emulation, so every kernel is also compared with its emulated twin), runs the whole
# test suite on CUDA, runs rdm-bench, and writes everything under
# benchmarks/results/<gpu-name>/. Environment: PYTHON (default python3).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYTHON:-python3}"
cd "$root"

gpu="$("$py" -c 'import torch; print(torch.cuda.get_device_name().replace(" ", "_"))')"
arch="$("$py" -c 'import torch; m, n = torch.cuda.get_device_capability(); print(f"{m}{n}")')"
out="$root/benchmarks/results/$gpu"
mkdir -p "$out"
echo "== $gpu (sm_$arch), torch $("$py" -c 'import torch; print(torch.__version__, torch.version.cuda)')" | tee "$out/environment.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv >> "$out/environment.txt" 2>&1 || true

echo "== build (sm_$arch)"
start=$(date +%s)
RDM_CUDA_ARCHS="$arch" RDM_REQUIRE_CUDA=ON CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
  "$py" -m pip install -q --no-build-isolation --no-deps -C build-dir=build/gpu-check . 2>&1 | tail -20
echo "build: $(( $(date +%s) - start )) s" | tee -a "$out/environment.txt"

echo "== tests on CUDA"
set +e
"$py" -m pytest tests -q -p no:cacheprovider --junitxml="$out/pytest.xml" 2>&1 | tee "$out/pytest.txt" | tail -25
tests_rc=${PIPESTATUS[0]}
echo "== rdm-bench (bf16: every case compiles its reference and naive baselines, and the"
echo "   whole check must stay within the 10 minutes of one device command)"
"$py" -m rdm.bench --device cuda --dtype bf16 --out "$out/bench.json" 2>&1 | tee "$out/bench.txt"
bench_rc=${PIPESTATUS[0]}
set -e
echo "tests exit $tests_rc, bench exit $bench_rc; results in $out"
[ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ]
