"""Reference causal sliding-window attention with global memory tokens."""
import torch

from ._precision import compute_dtype
from ._varlen import map_packed_sequences

# Queries per block; a block only looks at the keys any of its queries can see.
BLOCK_SIZE = 64


def sliding_window_attention(q, k, v, window, num_global=0, scale=None, cu_seqlens=None):
    """Causal sliding-window attention in which the first ``num_global`` keys are always visible.

    Shapes and dtypes:
        q: (B, Tq, H, D); k, v: (B, Tk, Hkv, D); fp32/fp16/bf16 (float64 allowed for testing).
        ``H % Hkv == 0``: query head h uses kv head ``h // (H // Hkv)`` (GQA); ``Tq ≤ Tk``.
        window: int ≥ 1, the number of most recent positions seen, the query's own included.
        num_global: int ≥ 0, the number of leading "memory" keys every query sees (causality
            still applies: a query never sees a key after its own position).
        scale: float, defaults to D ** -0.5.
        cu_seqlens: optional (S + 1,) int32 with B == 1 and Tq == Tk: S packed sequences
            (empty ones allowed); positions and the global keys restart in every sequence.

    Semantics: query i sits at absolute position ``p_i = Tk − Tq + i`` (queries are the last
    Tq positions); key j is visible iff ``j ≤ p_i`` and (``p_i − j < window`` or
    ``j < num_global``). With ``s_ij = scale · q_i · k_j`` over visible keys:
        lse_i = log Σ_j exp(s_ij);  out_i = Σ_j exp(s_ij − lse_i) v_j
    Every query sees at least its own position, so no row is empty.

    Returns:
        out: (B, Tq, H, D) in q's dtype.
        lse: (B, H, Tq) in fp32 (float64 for float64 inputs).

    Scores, softmax and the weighted sum are fp32 (float64 for float64 inputs); only ``out``
    is cast back. Differentiable w.r.t. q, k and v.
    """
    if cu_seqlens is None:
        return _attend_batch(q, k, v, window, num_global, scale)
    assert q.shape[0] == 1 and q.shape[1] == k.shape[1], (
        f"cu_seqlens needs batch 1 and Tq == Tk, got q {tuple(q.shape)} and k {tuple(k.shape)}")

    def attend_one_sequence(q, k, v):
        return _attend_batch(q, k, v, window, num_global, scale)

    return map_packed_sequences(attend_one_sequence, cu_seqlens, time_dim=1, per_token=(q, k, v),
                                per_sequence=(), cat_dims=(1, -1))


def _attend_batch(q, k, v, window, num_global, scale):
    """``sliding_window_attention`` without ``cu_seqlens``."""
    assert window >= 1 and num_global >= 0, f"need window ≥ 1 and num_global ≥ 0, got {window}, {num_global}"
    dtype, out_dtype = compute_dtype(q, k, v), q.dtype
    batch, num_queries, heads, head_dim = q.shape
    num_keys, kv_heads = k.shape[1], k.shape[2]
    if scale is None:
        scale = head_dim ** -0.5
    if dtype == torch.float32 and q.device.type == "cpu" and num_queries > 1:
        return _fused_cpu(q, k, v, window, num_global, scale)
    # q (B, Hkv, H/Hkv, T, D): the query heads sharing a kv head lie along one dim, folded
    # into the query rows of a block, so that every matmul is against k and v (B, Hkv, T, D)
    # themselves (a broadcast dim would make matmul copy them per query head).
    group = heads // kv_heads
    q = q.to(dtype).reshape(batch, num_queries, kv_heads, group, head_dim).permute(0, 2, 3, 1, 4)
    k = k.to(dtype).transpose(1, 2)
    v = v.to(dtype).transpose(1, 2)
    first_position = num_keys - num_queries

    # Zero-length slices to start from: an empty packed sequence has no query block.
    outputs = [q.new_zeros(batch, kv_heads, heads // kv_heads, 0, head_dim)]
    lses = [q.new_zeros(batch, kv_heads, heads // kv_heads, 0)]
    for start in range(0, num_queries, BLOCK_SIZE):
        end = min(start + BLOCK_SIZE, num_queries)
        ranges = _candidate_ranges(first_position + start, first_position + end - 1, window, num_global)
        k_block, v_block = (_slices(t, ranges) for t in (k, v))
        rows = q[:, :, :, start:end].reshape(batch, kv_heads, group * (end - start), head_dim)
        scores = scale * (rows @ k_block.transpose(-1, -2)).view(batch, kv_heads, group, end - start, -1)
        if end - start > 1:  # a lone query sees every candidate key: no mask to apply
            positions = torch.arange(first_position + start, first_position + end, device=q.device)
            keys = torch.cat([torch.arange(a, b, device=q.device) for a, b in ranges])
            offsets = positions[:, None] - keys[None, :]
            visible = (offsets >= 0) & ((offsets < window) | (keys[None, :] < num_global))
            scores = scores.masked_fill(~visible, float("-inf"))
        lse = scores.logsumexp(dim=-1)
        probabilities = (scores - lse[..., None]).exp().view(batch, kv_heads, group * (end - start), -1)
        outputs.append((probabilities @ v_block).view(batch, kv_heads, group, end - start, head_dim))
        lses.append(lse)

    out = torch.cat(outputs, dim=3).permute(0, 3, 1, 2, 4).reshape(batch, num_queries, heads, head_dim)
    lse = torch.cat(lses, dim=3).reshape(batch, heads, num_queries)
    return out.to(out_dtype), lse


def _slices(t, ranges):
    """t's keys (dim 2) in ``ranges``, concatenated; a view when there is only one range."""
    parts = [t[:, :, start:end] for start, end in ranges]
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)


def _candidate_ranges(first_position, last_position, window, num_global):
    """Ascending ``[start, end)`` ranges of the keys that queries at positions ``first..last``
    may see: the global keys before the window band, then the band ``[first − window + 1,
    last]``. Ranges rather than indices, so that the keys are sliced, not gathered; the
    exact per-query visibility is applied as a mask on top."""
    band_start = max(0, first_position - window + 1)
    if num_global >= band_start:  # the globals reach the band: one range, sliced without a copy
        return [(0, last_position + 1)]
    ranges = [(0, num_global)] if num_global else []
    return ranges + [(band_start, last_position + 1)]


def _fused_cpu(q, k, v, window, num_global, scale):
    """fp32 on the CPU: torch's fused (flash) CPU attention with the visibility as a mask,
    which never materialises the scores and has a fused backward. The blocked form above
    stays the float64 path (and decoding's, where a lone query needs no mask)."""
    num_queries, heads, num_keys = q.shape[1], q.shape[2], k.shape[1]
    group = heads // k.shape[2]
    q32 = q.float().transpose(1, 2)                                             # (B, H, Tq, D)
    k32, v32 = (t.float().transpose(1, 2).repeat_interleave(group, dim=1) for t in (k, v))
    position = torch.arange(num_keys - num_queries, num_keys, device=q.device)[:, None]
    key = torch.arange(num_keys, device=q.device)[None, :]
    visible = (key <= position) & ((position - key < window) | (key < num_global))
    mask = torch.zeros(visible.shape, device=q.device).masked_fill(~visible, float("-inf"))
    out, lse = _FusedAttention.apply(q32, k32, v32, mask, scale)
    return out.transpose(1, 2).to(q.dtype), lse


class _FusedAttention(torch.autograd.Function):
    """(out, lse) of torch's CPU flash attention, differentiable through both: its own
    backward leaves lse out, so lse's gradient (d lse_i / d s_ij = p_ij) is added here."""

    @staticmethod
    def forward(ctx, q, k, v, mask, scale):
        out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            q, k, v, 0.0, False, attn_mask=mask, scale=scale)
        ctx.save_for_backward(q, k, v, mask, out, lse)
        ctx.scale = scale
        return out, lse

    @staticmethod
    def backward(ctx, grad_out, grad_lse):
        q, k, v, mask, out, lse = ctx.saved_tensors
        grad_out = torch.zeros_like(out) if grad_out is None else grad_out.contiguous()
        grad_q, grad_k, grad_v = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward(
            grad_out, q, k, v, out, lse, 0.0, False, attn_mask=mask, scale=ctx.scale)
        if grad_lse is not None and bool(grad_lse.any()):
            probabilities = torch.exp(ctx.scale * (q @ k.transpose(-1, -2)) + mask - lse[..., None])
            grad_scores = ctx.scale * probabilities * grad_lse[..., None]
            grad_q = grad_q + grad_scores @ k
            grad_k = grad_k + grad_scores.transpose(-1, -2) @ q
        return grad_q, grad_k, grad_v, None, None
