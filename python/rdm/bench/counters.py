"""Emulated-kernel counters for rdm-bench --simt: what a profiler would report, without a GPU.

The emulation counts per launch (rdm.simt, docs/kernels.md "Performance counters"); this
module sums the launches of one case, compares them with what the case must at least
move and compute, and turns the ratios into a roofline estimate at the real shapes.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch

from rdm.bench.roofline import Cost, GpuPeaks, floor_seconds


@dataclass
class SimtCounters:
    """The counters of one case's emulated launches, with the case's compulsory work."""

    kernels: tuple[str, ...]  # distinct kernel names, in launch order
    launches: int
    compulsory_bytes: int  # the case's floor bytes (Case.cost) at the emulated shape
    global_bytes: int  # requested bytes, summed over warp requests (loads + stores)
    global_unique_bytes: int  # 32 x distinct sectors: DRAM traffic if L2 keeps what the launch touches
    sector_efficiency: Optional[float]  # requested bytes / bytes of the sectors moved
    coalescing: Optional[float]  # ideal sectors / sectors
    bank_conflicts: int  # extra shared-memory wavefronts
    bank_conflict_rate: Optional[float]  # extra / ideal wavefronts
    tensor_flops_executed: int  # 2mnk per warp-wide mma
    tensor_flops_useful: Optional[int]  # what the op needs (Case.tensor_flops); None: no tensor-core work
    barriers: int
    cp_async_bytes: int
    # DRAM bytes estimate / compulsory bytes: 1.0 is a kernel that moves only what it must.
    bytes_ratio: Optional[float]
    # Requested (L1/L2) bytes / compulsory bytes: re-reads by other blocks count here.
    requested_ratio: Optional[float]
    # Executed / useful tensor-core FLOPs (padding and recomputation cost this much more).
    flop_ratio: Optional[float]
    totals: dict[str, int]  # every raw counter, summed over the launches


def collect(run: Callable[[], Any]) -> list[dict]:
    """Runs `run()` and returns the emulated launches it made (rdm.simt.counting)."""
    simt = importlib.import_module("rdm.simt")
    with simt.counting() as launches:
        run()
    return launches


def summarise(launches: list[dict], compulsory_bytes: int, tensor_flops_useful: Optional[int]) -> SimtCounters:
    simt = importlib.import_module("rdm.simt")
    total = simt.summary(launches)
    global_bytes, unique_bytes = total.get("global_bytes", 0), total.get("global_unique_bytes", 0)
    executed = total.get("mma_flops", 0)
    kernels = tuple(dict.fromkeys(launch["kernel"] for launch in launches))
    return SimtCounters(
        kernels=kernels,
        launches=len(launches),
        compulsory_bytes=compulsory_bytes,
        global_bytes=global_bytes,
        global_unique_bytes=unique_bytes,
        sector_efficiency=total.get("sector_efficiency"),
        coalescing=total.get("coalescing"),
        bank_conflicts=total.get("bank_conflicts", 0),
        bank_conflict_rate=total.get("bank_conflict_rate"),
        tensor_flops_executed=executed,
        tensor_flops_useful=tensor_flops_useful,
        barriers=total.get("barriers", 0),
        cp_async_bytes=total.get("cp_async_bytes", 0),
        bytes_ratio=unique_bytes / compulsory_bytes if compulsory_bytes else None,
        requested_ratio=global_bytes / compulsory_bytes if compulsory_bytes else None,
        flop_ratio=executed / tensor_flops_useful if tensor_flops_useful else None,
        totals={name: value for name, value in total.items() if isinstance(value, int)},
    )


def estimate_seconds(gpu: GpuPeaks, full: Cost, counters: SimtCounters, dtype: torch.dtype) -> Optional[float]:
    """Roofline estimate at a real shape from the ratios measured at the emulated one.

    Bytes scale with the problem, so the real shape moves its compulsory bytes times the
    emulated bytes ratio; FLOPs scale likewise by executed/useful. Per-request ratios
    (sector efficiency, bank conflicts) do not scale and are already in the bytes ratio at
    sector granularity. None when the kernels counted no global traffic.
    """
    if counters.bytes_ratio is None or counters.global_unique_bytes == 0:
        return None
    flops = full.flops if counters.flop_ratio is None else int(full.flops * counters.flop_ratio)
    return floor_seconds(gpu, Cost(int(full.bytes_moved * counters.bytes_ratio), flops), dtype)


# GPUs the --simt roofline estimate is given for (names as torch reports them).
ESTIMATE_GPUS = ("NVIDIA H100 80GB HBM3", "NVIDIA H200")


def _percent(value: Optional[float]) -> str:
    return "-" if value is None else f"{value * 100:.1f}"


def _ratio(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.3f}"


COUNTER_COLUMNS = (
    "op", "case", "pass", "dtype", "kernels", "launches", "bytes/compulsory", "requested/compulsory",
    "sector eff %", "coalescing %", "bank conflict %", "tensor FLOPs useful/exec", "barriers",
)


def counter_cells(row: Any) -> tuple[str, ...]:
    """One line of the counters table for a Result whose simt_counters are set."""
    c: SimtCounters = row.simt_counters
    flops = "-" if c.tensor_flops_useful is None and not c.tensor_flops_executed else (
        f"{c.tensor_flops_useful or 0}/{c.tensor_flops_executed}"
    )
    return (
        row.op, row.case, row.mode, row.dtype, ",".join(c.kernels), str(c.launches), _ratio(c.bytes_ratio),
        _ratio(c.requested_ratio), _percent(c.sector_efficiency), _percent(c.coalescing),
        _percent(c.bank_conflict_rate), flops, str(c.barriers),
    )


def estimates(results: Any, full_cases: list, gpu_names: tuple[str, ...] = ESTIMATE_GPUS) -> list[dict]:
    """Roofline estimates at the real shapes (`full_cases`, rdm.bench cases of size "full")
    from the emulated rows of `results`: per op, pass and dtype, the worst bytes and FLOP
    ratios of its emulated cases."""
    from rdm.bench.harness import DTYPES  # harness imports this module
    from rdm.bench.roofline import detect_gpu

    worst: dict[tuple[str, str, str], list] = {}
    for row in results:
        if row.simt_counters is None or row.simt_counters.bytes_ratio is None:
            continue
        worst.setdefault((row.op, row.mode, row.dtype), []).append(row)
    out = []
    for (op, mode, dtype_name), rows in worst.items():
        counters = max((row.simt_counters for row in rows), key=lambda c: (c.bytes_ratio, c.flop_ratio or 0))
        dtype = DTYPES[dtype_name]
        for case in full_cases:
            if case.op != op or case.mode != mode:
                continue
            cost = case.cost(dtype)
            for name in gpu_names:
                gpu = detect_gpu(name)
                floor = floor_seconds(gpu, cost, dtype)
                estimate = estimate_seconds(gpu, cost, counters, dtype)
                out.append({
                    "op": op, "case": case.label, "mode": mode, "dtype": dtype_name, "shape": case.shape,
                    "gpu": gpu.name, "emulated_cases": [row.case for row in rows],
                    "bytes_ratio": counters.bytes_ratio, "flop_ratio": counters.flop_ratio,
                    "floor_ms": floor * 1e3, "estimate_ms": None if estimate is None else estimate * 1e3,
                })
    return out


ESTIMATE_COLUMNS = ("op", "case", "pass", "dtype", "gpu", "bytes ratio", "floor ms", "estimate ms", "% floor")


def estimate_cells(row: dict) -> tuple[str, ...]:
    estimate = row["estimate_ms"]
    return (
        row["op"], row["case"], row["mode"], row["dtype"], row["gpu"], _ratio(row["bytes_ratio"]),
        f"{row['floor_ms']:.4g}", "-" if estimate is None else f"{estimate:.4g}",
        "-" if not estimate else f"{row['floor_ms'] / estimate * 100:.1f}",
    )
