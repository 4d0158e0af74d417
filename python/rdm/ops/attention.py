"""rdm::sliding_window_attention: causal sliding-window attention with global tokens
(public wrapper, reference kernel, fake, autograd)."""
import torch
from torch import Tensor

from .. import reference
from .._debug import checked
from ..reference._precision import compute_dtype
from ._registration import reference_kernel, register_backward, register_op


def sliding_window_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    window: int,
    num_global: int = 0,
    scale: float | None = None,
    cu_seqlens: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Causal attention over the last ``window`` positions plus the first ``num_global`` keys.

    Args:
        q: (B, Tq, H, D) with Tq, H, D ≥ 1; float32, float16 or bfloat16 (float64 too).
        k, v: (B, Tk, Hkv, D), q's dtype, with Tk ≥ Tq and Hkv dividing H: query head h
            uses kv head ``h // (H // Hkv)`` (grouped-query attention).
        window: ≥ 1, the number of most recent positions a query sees, its own included.
        num_global: ≥ 0, the number of leading "memory" keys every query also sees (never
            a key after the query's own position).
        scale: defaults to ``D ** -0.5``.
        cu_seqlens: optional (S + 1,) int32 with B = 1 and Tq = Tk: S packed sequences
            (non-decreasing from 0 to Tq; empty sequences allowed); positions and global
            keys restart in each.

    Query i sits at position ``p_i = Tk − Tq + i``; key j is visible iff ``j ≤ p_i`` and
    (``p_i − j < window`` or ``j < num_global``). With ``s_ij = scale · q_i · k_j`` over the
    visible keys: ``lse_i = log Σ_j exp(s_ij)``, ``out_i = Σ_j exp(s_ij − lse_i) v_j``.

    Returns:
        (out (B, Tq, H, D) in q's dtype, lse (B, H, Tq) float32; float64 for float64 q).
        Softmax and accumulation are float32.

    Differentiable with respect to q, k and v, through out and lse (backward:
    ``rdm::sliding_window_attention_backward``, which also takes out and lse).
    """
    return checked("rdm", "sliding_window_attention", q, k, v, window, num_global, scale, cu_seqlens)


def _check(q, k, v, window, num_global, scale, cu_seqlens):
    torch.ops.rdm._sliding_window_attention_check(q, k, v, window, num_global, scale, cu_seqlens)


def _fake(q, k, v, window, num_global, scale, cu_seqlens):
    _check(q, k, v, window, num_global, scale, cu_seqlens)
    batch, num_queries, heads, _ = q.shape
    return q.new_empty(q.shape), q.new_empty(batch, heads, num_queries, dtype=compute_dtype(q))


register_op("sliding_window_attention", reference_kernel(_check, reference.sliding_window_attention), _fake)
# The reference recomputes the attention from q, k and v; the saved out and lse are for the
# CUDA kernel.
register_backward(
    "sliding_window_attention",
    check=_check,
    reference=reference.sliding_window_attention,
    num_outputs=2,
    grad_positions=(0, 1, 2),
    saves_outputs=True,
)
