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
    # (B, Hkv, H/Hkv, T, D): the query heads sharing a kv head lie along one dim, so that
    # k and v (B, Hkv, 1, T, D) broadcast to them without being repeated.
    q = q.to(dtype).reshape(batch, num_queries, kv_heads, heads // kv_heads, head_dim).permute(0, 2, 3, 1, 4)
    k = k.to(dtype).transpose(1, 2).unsqueeze(2)
    v = v.to(dtype).transpose(1, 2).unsqueeze(2)
    first_position = num_keys - num_queries

    # Zero-length slices to start from: an empty packed sequence has no query block.
    outputs = [q.new_zeros(batch, kv_heads, heads // kv_heads, 0, head_dim)]
    lses = [q.new_zeros(batch, kv_heads, heads // kv_heads, 0)]
    for start in range(0, num_queries, BLOCK_SIZE):
        end = min(start + BLOCK_SIZE, num_queries)
        positions = torch.arange(first_position + start, first_position + end, device=q.device)
        keys = _candidate_keys(first_position + start, first_position + end - 1, window, num_global, q.device)
        scores = scale * (q[:, :, :, start:end] @ k[:, :, :, keys].transpose(-1, -2))
        offsets = positions[:, None] - keys[None, :]
        visible = (offsets >= 0) & ((offsets < window) | (keys[None, :] < num_global))
        scores = scores.masked_fill(~visible, float("-inf"))
        lse = scores.logsumexp(dim=-1)
        outputs.append((scores - lse[..., None]).exp() @ v[:, :, :, keys])
        lses.append(lse)

    out = torch.cat(outputs, dim=3).permute(0, 3, 1, 2, 4).reshape(batch, num_queries, heads, head_dim)
    lse = torch.cat(lses, dim=3).reshape(batch, heads, num_queries)
    return out.to(out_dtype), lse


def _candidate_keys(first_position, last_position, window, num_global, device):
    """Ascending indices of the keys that queries at positions ``first..last`` may see.

    That is the window band ``[first − window + 1, last]`` plus the global keys before it;
    the exact per-query visibility is applied as a mask on top.
    """
    band_start = max(0, first_position - window + 1)
    globals_before_band = torch.arange(min(num_global, band_start), device=device)
    band = torch.arange(band_start, last_position + 1, device=device)
    return torch.cat([globals_before_band, band])
