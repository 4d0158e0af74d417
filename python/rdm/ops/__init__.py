"""Typed public wrappers of the rdm ops (importing this module registers their CPU
kernels, fake kernels and autograd formulas)."""
from .act import act_accumulate
from .attention import sliding_window_attention
from .gla import chunk_gla, fused_recurrent_gla
from .moe import grouped_gemm, moe_permute, moe_unpermute
from .selective_scan import selective_scan, selective_state_update

__all__ = [
    "act_accumulate",
    "selective_scan",
    "selective_state_update",
    "chunk_gla",
    "fused_recurrent_gla",
    "sliding_window_attention",
    "grouped_gemm",
    "moe_permute",
    "moe_unpermute",
]
