"""Runs every rdm op that has a CUDA kernel under torch.cuda.set_sync_debug_mode("error"):
no device-to-host copy or stream synchronisation may happen on a CUDA op's path.

Usage: python gpu_sync_check.py OUT.json   (on a machine with a GPU, rdm importable)

Inputs come from rdm-bench's tiny cases (forward, and backward for fwd+bwd cases), made
and synchronised before the check starts. Ops still listed in
csrc/registration/pending_cuda_kernels.txt run their Python reference on CUDA, which syncs:
they are skipped. The profiler records which rdm ops really ran, and every op with a CUDA
kernel must have run (internal ops such as a backward are reached through the public
op's autograd; the rest are called directly in DIRECT_CALLS). Writes one JSON object and
exits 1 on any failure.
"""
from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

import torch

import rdm  # noqa: F401  (loads the op libraries)
from rdm.bench import cases as registry
from rdm.bench.harness import FWD_BWD, call, resolve

PENDING = Path(__file__).resolve().parents[1] / "csrc" / "registration" / "pending_cuda_kernels.txt"
DTYPES = (torch.bfloat16, torch.float32)


def _tensor_core_probe():
    a = torch.randn(16, 16, device="cuda", dtype=torch.float16)
    b = torch.randn(16, 8, device="cuda", dtype=torch.float16)
    return lambda: torch.ops.rdm._tensor_core_probe(a, b, True)


# Ops with a CUDA kernel that no bench case reaches: name -> makes the inputs, returns the call.
DIRECT_CALLS = {"rdm::_tensor_core_probe": _tensor_core_probe}


def pending_ops() -> set[str]:
    lines = PENDING.read_text().splitlines() if PENDING.exists() else []
    return {line.split("#")[0].strip() for line in lines} - {""}


def ops_with_cuda_kernels() -> list[str]:
    names = [n for n in torch._C._dispatch_get_all_op_names() if n.startswith("rdm::")]
    with_kernel = {n for n in names if torch._C._dispatch_has_kernel_for_dispatch_key(n, "CUDA")}
    return sorted(with_kernel - pending_ops())


def run_checked(label: str, run, results: list, reached: set) -> None:
    """Runs `run` once to warm up (first-call setup may sync), then again with syncs as
    errors, under the profiler; records the rdm ops the second run reached."""
    started = time.perf_counter()
    try:
        run()
        torch.cuda.synchronize()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            torch.cuda.set_sync_debug_mode("error")
            try:
                run()
            finally:
                torch.cuda.set_sync_debug_mode("default")
        torch.cuda.synchronize()  # surfaces an asynchronous kernel error here, outside the check
        ops = sorted({e.name for e in prof.events() if e.name.startswith("rdm::")})
        reached.update(ops)
        results.append({"run": label, "status": "ok", "ops": ops, "seconds": round(time.perf_counter() - started, 3)})
    except Exception as e:  # noqa: BLE001 - every failure is reported, the check goes on
        results.append({"run": label, "status": "error", "error": f"{type(e).__name__}: {e}",
                        "traceback": traceback.format_exc(limit=8)})


def main(out_path: str) -> int:
    if not torch.cuda.is_available():
        sys.exit("gpu_sync_check: no CUDA device")
    targets = ops_with_cuda_kernels()
    results: list[dict] = []
    reached: set[str] = set()
    for family in registry.op_names():
        for case in registry.load_cases(family, "tiny"):
            if f"rdm::{case.op}" not in targets:
                continue  # reference path on CUDA (pending kernel): it syncs by design
            fn = resolve(case.kernel)
            for dtype in DTYPES:
                inputs = case.make_inputs(torch.device("cuda"), dtype, case.mode == FWD_BWD)
                label = f"{case.op} | {case.label} | {case.mode} | {dtype}"
                run_checked(label, lambda: call(fn, inputs, case.mode), results, reached)
    for name, prepare in DIRECT_CALLS.items():
        if name in targets and name not in reached:
            run = prepare()
            torch.cuda.synchronize()
            run_checked(name, run, results, reached)
    not_reached = [name for name in targets if name not in reached]
    failed = [r for r in results if r["status"] != "ok"]
    report = {"ops_with_cuda_kernels": targets, "pending_skipped": sorted(pending_ops()), "not_reached": not_reached,
              "runs": results, "passed": not failed and not not_reached}
    Path(out_path).write_text(json.dumps(report, indent=1) + "\n")
    for r in results:
        print(f"{r['status']:<6} {r['run']}" + (f": {r['error']}" if r["status"] != "ok" else ""))
    if not_reached:
        print(f"not reached by any case: {', '.join(not_reached)} (add a bench case or a DIRECT_CALLS entry)")
    print(f"sync check: {len(results) - len(failed)} runs ok, {len(failed)} failed, {len(not_reached)} ops not reached")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
