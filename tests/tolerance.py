"""Comparison against a float64 oracle with tolerances relative to plain PyTorch.

A kernel's result in some dtype is compared with the reference run in float64. The
allowed error is set by what the reference itself achieves in that dtype: a kernel may be
a few times worse than plain PyTorch in the same precision, plus a small floor, never
better-than-needed strict or arbitrarily loose.
"""
import torch

# Smallest tolerance per dtype of the result: the floor when the baseline happens to be exact.
FLOOR = {torch.float64: 1e-12, torch.float32: 1e-6, torch.float16: 1e-3, torch.bfloat16: 1e-2}
# How many times the baseline's error a kernel may show (different accumulation order,
# fast-math intrinsics, FMA contraction).
FACTOR = 4.0


def baseline_error(baseline: torch.Tensor, oracle: torch.Tensor) -> float:
    return (baseline.double() - oracle.double()).abs().max().item() if oracle.numel() else 0.0


def assert_close_to_oracle(actual, oracle, baseline, name="output"):
    """actual, baseline: results in the dtype under test; oracle: the float64 reference."""
    assert actual.shape == oracle.shape, f"{name}: shape {tuple(actual.shape)} != {tuple(oracle.shape)}"
    assert torch.isfinite(actual).all(), f"{name}: non-finite values (an element never written?)"
    scale = max(oracle.double().abs().max().item(), 1.0) if oracle.numel() else 1.0
    tol = max(FACTOR * baseline_error(baseline, oracle), FLOOR[actual.dtype] * scale)
    err = baseline_error(actual, oracle)
    assert err <= tol, f"{name}: max abs error {err:.3e} > tolerance {tol:.3e} (baseline error {baseline_error(baseline, oracle):.3e})"
