"""Roofline floors: the least time an op can take on a given GPU.

A fused kernel must at least move its bytes through HBM once and execute its FLOPs,
so its time is bounded below by max(bytes / bandwidth, FLOPs / peak rate). The
fraction of that floor a measured run reaches says how much headroom is left.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch


@dataclass(frozen=True)
class Cost:
    """Work an op must do at minimum: HBM bytes read+written once, and FLOPs."""

    bytes_moved: int
    flops: int

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.bytes_moved + other.bytes_moved, self.flops + other.flops)


@dataclass(frozen=True)
class GpuPeaks:
    """Vendor datasheet peaks (dense, no sparsity), in bytes/s and FLOP/s."""

    name: str
    hbm_bytes_per_s: float
    bf16_flops_per_s: float  # tensor cores, fp32 accumulate; fp16 is the same rate
    tf32_flops_per_s: float  # tensor cores, only used for fp32 when TF32 is enabled
    fp32_flops_per_s: float  # CUDA cores (no tensor cores)


_TERA = 1e12  # TB/s and TFLOP/s alike

# Each entry: name fragments that must all appear (case-insensitive) in
# torch.cuda.get_device_name(), and the peaks. Most specific entries come first
# because e.g. "NVIDIA H100 PCIe" would also match a bare ("h100",).
GPU_TABLE: tuple[tuple[tuple[str, ...], GpuPeaks], ...] = (
    (("h100", "nvl"), GpuPeaks("H100 NVL", 3.9 * _TERA, 835 * _TERA, 418 * _TERA, 60 * _TERA)),
    (("h100", "pcie"), GpuPeaks("H100 PCIe", 2.0 * _TERA, 756 * _TERA, 378 * _TERA, 51 * _TERA)),
    # The SXM part reports itself as e.g. "NVIDIA H100 80GB HBM3".
    (("h100", "hbm3"), GpuPeaks("H100 SXM", 3.35 * _TERA, 989 * _TERA, 495 * _TERA, 67 * _TERA)),
    (("h100", "sxm"), GpuPeaks("H100 SXM", 3.35 * _TERA, 989 * _TERA, 495 * _TERA, 67 * _TERA)),
    (("h200", "nvl"), GpuPeaks("H200 NVL", 4.8 * _TERA, 835 * _TERA, 418 * _TERA, 60 * _TERA)),
    (("h200",), GpuPeaks("H200", 4.8 * _TERA, 989 * _TERA, 495 * _TERA, 67 * _TERA)),
    (("a100", "80gb", "pcie"), GpuPeaks("A100 80GB PCIe", 1.935 * _TERA, 312 * _TERA, 156 * _TERA, 19.5 * _TERA)),
    (("a100", "80gb"), GpuPeaks("A100 80GB SXM", 2.039 * _TERA, 312 * _TERA, 156 * _TERA, 19.5 * _TERA)),
    (("a100",), GpuPeaks("A100 40GB", 1.555 * _TERA, 312 * _TERA, 156 * _TERA, 19.5 * _TERA)),
    (("l40s",), GpuPeaks("L40S", 0.864 * _TERA, 362 * _TERA, 183 * _TERA, 91.6 * _TERA)),
    # GeForce parts run fp16/bf16 tensor cores at half rate with fp32 accumulation.
    (("rtx 4090",), GpuPeaks("RTX 4090", 1.008 * _TERA, 165 * _TERA, 82.6 * _TERA, 82.6 * _TERA)),
    (("rtx 3090",), GpuPeaks("RTX 3090", 0.936 * _TERA, 71 * _TERA, 35.6 * _TERA, 35.6 * _TERA)),
)


def detect_gpu(device_name: str) -> Optional[GpuPeaks]:
    """Peaks for a device name as torch reports it, or None for an unknown GPU."""
    lowered = device_name.lower()
    for fragments, peaks in GPU_TABLE:
        if all(fragment in lowered for fragment in fragments):
            return peaks
    return None


def peak_flops_per_s(gpu: GpuPeaks, dtype: torch.dtype, allow_tf32: bool) -> float:
    if dtype in (torch.bfloat16, torch.float16):
        return gpu.bf16_flops_per_s
    return gpu.tf32_flops_per_s if allow_tf32 else gpu.fp32_flops_per_s


def floor_seconds(gpu: GpuPeaks, cost: Cost, dtype: torch.dtype, allow_tf32: bool = False) -> float:
    """Least possible time for `cost` on `gpu`: the slower of moving the bytes and doing the math."""
    memory_time = cost.bytes_moved / gpu.hbm_bytes_per_s
    compute_time = cost.flops / peak_flops_per_s(gpu, dtype, allow_tf32)
    return max(memory_time, compute_time)
