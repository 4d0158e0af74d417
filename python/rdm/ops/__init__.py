"""Typed public wrappers of the rdm ops (importing this module registers their CPU
kernels, fake kernels and autograd formulas)."""
from .act import act_accumulate

__all__ = ["act_accumulate"]
