"""Reference PyTorch implementations of every rdm op.

Each function has the signature of its `torch.ops.rdm.<name>` op. They are the ops' CPU
kernels, the oracle of the tests and the baseline of the benchmarks: readable, vectorised,
fp32 math (fp64 when given fp64 inputs).
"""
from .act import act_accumulate, act_accumulate_fwd
from .attention import sliding_window_attention
from .gla import chunk_gla, fused_recurrent_gla
from .moe import grouped_gemm, moe_permute, moe_unpermute
from .selective_scan import selective_scan, selective_state_update

__all__ = [
    "act_accumulate",
    "act_accumulate_fwd",
    "selective_scan",
    "selective_state_update",
    "chunk_gla",
    "fused_recurrent_gla",
    "sliding_window_attention",
    "grouped_gemm",
    "moe_permute",
    "moe_unpermute",
]
