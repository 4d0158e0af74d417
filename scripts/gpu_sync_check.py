"""Runs every rdm op that has a CUDA kernel under torch.cuda.set_sync_debug_mode("error"):
no device-to-host copy or stream synchronisation may happen on a CUDA op's path.

Usage: python gpu_sync_check.py OUT.json   (on a machine with a GPU, rdm importable)

Inputs come from rdm-bench's tiny cases (forward, and backward for fwd+bwd cases). Each
case runs once under the profiler, which tells which rdm ops it reaches: a case that
reaches an op still listed in csrc/registration/pending_cuda_kernels.txt (its Python
reference runs on CUDA and syncs) is skipped; the others run again with syncs as errors.
Every op with a CUDA kernel must be reached by a checked run (internal ops such as a
backward through the public op's autograd; the rest by DIRECT_CALLS). Writes one JSON
object and exits 1 on any failure.
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


def case_call(case, dtype):
    """A bench case's forward (and backward) on CUDA inputs made now."""
    fn = resolve(case.kernel)
    inputs = case.make_inputs(torch.device("cuda"), dtype, case.mode == FWD_BWD)
    return lambda: call(fn, inputs, case.mode)


def pending_ops() -> set[str]:
    lines = PENDING.read_text().splitlines() if PENDING.exists() else []
    return {line.split("#")[0].strip() for line in lines} - {""}


def ops_with_cuda_kernels(pending: set[str]) -> list[str]:
    names = [n for n in torch._C._dispatch_get_all_op_names() if n.startswith("rdm::")]
    with_kernel = {n for n in names if torch._C._dispatch_has_kernel_for_dispatch_key(n, "CUDA")}
    return sorted(with_kernel - pending)


def run_checked(label: str, prepare, results: list, reached: set, pending: set) -> None:
    """Makes the inputs (`prepare` returns the call), runs the call once under the profiler,
    which also warms up (first-call setup may sync) and tells which rdm ops it reaches;
    unless one of them is pending, runs it again with syncs as errors. Records the outcome,
    and the ops reached by checked runs."""
    started = time.perf_counter()
    try:
        run = prepare()
        torch.cuda.synchronize()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            run()
        torch.cuda.synchronize()
        ops = sorted({e.name for e in prof.events() if e.name.startswith("rdm::")})
        if set(ops) & pending:
            results.append({"run": label, "status": "skipped", "ops": ops, "why": "reaches a pending op"})
            return
        torch.cuda.set_sync_debug_mode("error")
        try:
            run()
        finally:
            torch.cuda.set_sync_debug_mode("default")
        torch.cuda.synchronize()  # surfaces an asynchronous kernel error here, outside the check
        reached.update(ops)
        results.append({"run": label, "status": "ok", "ops": ops, "seconds": round(time.perf_counter() - started, 3)})
    except Exception as e:  # noqa: BLE001 - every failure is reported, the check goes on
        results.append({"run": label, "status": "error", "error": f"{type(e).__name__}: {e}",
                        "traceback": traceback.format_exc(limit=8)})


def main(out_path: str) -> int:
    if not torch.cuda.is_available():
        sys.exit("gpu_sync_check: no CUDA device")
    pending = pending_ops()
    targets = ops_with_cuda_kernels(pending)
    results: list[dict] = []
    reached: set[str] = set()
    for family in registry.op_names():
        for case in registry.load_cases(family, "tiny"):
            for dtype in DTYPES:
                label = f"{case.op} | {case.label} | {case.mode} | {dtype}"
                run_checked(label, lambda: case_call(case, dtype), results, reached, pending)
    for name, prepare in DIRECT_CALLS.items():
        if name in targets and name not in reached:
            run_checked(name, prepare, results, reached, pending)
    not_reached = [name for name in targets if name not in reached]
    failed = [r for r in results if r["status"] == "error"]
    report = {"ops_with_cuda_kernels": targets, "pending": sorted(pending), "not_reached": not_reached,
              "runs": results, "passed": not failed and not not_reached}
    Path(out_path).write_text(json.dumps(report, indent=1) + "\n")
    for r in results:
        print(f"{r['status']:<7} {r['run']}" + (f": {r['error']}" if r["status"] == "error" else ""))
    if not_reached:
        print(f"not reached by any case: {', '.join(not_reached)} (add a bench case or a DIRECT_CALLS entry)")
    ok = sum(r["status"] == "ok" for r in results)
    print(f"sync check: {ok} runs ok, {len(failed)} failed, {len(results) - ok - len(failed)} skipped (pending ops), "
          f"{len(not_reached)} ops with a kernel not reached")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
