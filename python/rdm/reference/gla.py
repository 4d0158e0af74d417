"""Reference gated linear attention (GLA), flash-linear-attention conventions."""
import torch

from ._precision import compute_dtype
from ._varlen import map_packed_sequences

# Time steps per chunk: the intra-chunk decay tensor is (B, H, CHUNK_SIZE, CHUNK_SIZE, K).
CHUNK_SIZE = 64


def chunk_gla(q, k, v, g, scale=None, initial_state=None, cu_seqlens=None):
    """Gated linear attention ``S_t = diag(exp g_t) S_{t-1} + k_t v_tᵀ``, ``o_t = scale · q_tᵀ S_t``.

    Shapes and dtypes:
        q, k, g: (B, T, H, K); v: (B, T, H, V); fp32/fp16/bf16 (float64 allowed for testing).
        g: log forget gate per key channel, ≤ 0 in practice (the result is exact for any
            sign as long as nothing overflows).
        scale: float, defaults to K ** -0.5.
        initial_state: (B, H, K, V) fp32, or (S, H, K, V) with ``cu_seqlens``.
        cu_seqlens: optional (S + 1,) int32, B must be 1: the T tokens are S packed
            sequences (tokens ``cu_seqlens[s]:cu_seqlens[s+1]``), each run from its own
            initial state; an empty sequence has no tokens and keeps its initial state.

    Semantics, per batch and head (S_t is K x V, S_0 = initial_state or 0):
        S_t[i, j] = exp(g_t[i]) S_{t-1}[i, j] + k_t[i] v_t[j]
        o_t[j] = scale Σ_i q_t[i] S_t[i, j]

    Returns:
        o: (B, T, H, V) in v's dtype.
        final_state: S_T, (B, H, K, V) (or (S, H, K, V)) in fp32 (float64 for float64 inputs).

    Computed chunk by chunk (intra-chunk attention plus state passing between chunks) in
    fp32 (float64 for float64 inputs). Differentiable w.r.t. q, k, v, g and initial_state.
    """
    if cu_seqlens is None:
        return _gla_batch(q, k, v, g, scale, initial_state)
    assert q.shape[0] == 1, f"cu_seqlens needs batch 1, got q of shape {tuple(q.shape)}"

    def gla_one_sequence(q, k, v, g, initial_state):
        return _gla_batch(q, k, v, g, scale, initial_state)

    return map_packed_sequences(gla_one_sequence, cu_seqlens, time_dim=1, per_token=(q, k, v, g),
                                per_sequence=(initial_state,), cat_dims=(1, 0))


def fused_recurrent_gla(q, k, v, g, scale=None, initial_state=None, cu_seqlens=None):
    """Step-wise (recurrent) form of GLA: computes exactly the same function as ``chunk_gla``.

    The CUDA kernels differ (one walks the recurrence token by token, the other works
    chunk-wise), but both implement the recurrence documented in ``chunk_gla``, so they
    share this reference.
    """
    return chunk_gla(q, k, v, g, scale=scale, initial_state=initial_state, cu_seqlens=cu_seqlens)


def _gla_batch(q, k, v, g, scale, initial_state):
    """``chunk_gla`` without ``cu_seqlens``."""
    dtype, out_dtype = compute_dtype(q, k, v, g, initial_state), v.dtype
    batch, length, heads, key_dim = q.shape
    if scale is None:
        scale = key_dim ** -0.5
    # Heads-first (B, H, T, ·) so that per-head matmuls batch over the leading dims.
    q, k, v, g = (t.to(dtype).transpose(1, 2) for t in (q, k, v, g))
    if initial_state is None:
        state = q.new_zeros(batch, heads, key_dim, v.shape[-1])
    else:
        state = initial_state.to(dtype)

    # A zero-length slice to start from: an empty packed sequence has no chunk, so its output
    # is empty and its final state stays S_0.
    outputs = [v.new_zeros(batch, heads, 0, v.shape[-1])]
    for start in range(0, length, CHUNK_SIZE):
        chunk = slice(start, min(start + CHUNK_SIZE, length))
        q_c, k_c, v_c = q[:, :, chunk], k[:, :, chunk], v[:, :, chunk]
        log_decay = g[:, :, chunk].cumsum(dim=2)           # (B, H, T, K): chunk start -> step t, inclusive
        chunk_log_decay = log_decay[:, :, -1]               # (B, H, K): whole chunk

        # Contribution of the state carried in from earlier chunks.
        from_state = (q_c * log_decay.exp()) @ state

        # Intra-chunk: key s reaches query t (s ≤ t) with decay exp(G_t − G_s). Pairs s > t
        # are masked to −inf before exponentiating, so no exponent is ever positive (g ≤ 0).
        pair_log_decay = log_decay[:, :, :, None, :] - log_decay[:, :, None, :, :]  # [.., t, s, K]
        causal = torch.ones(q_c.shape[2], q_c.shape[2], dtype=torch.bool, device=q.device).tril()
        pair_decay = torch.where(causal[..., None], pair_log_decay, float("-inf")).exp()
        scores = torch.einsum("bhtk,bhsk,bhtsk->bhts", q_c, k_c, pair_decay)
        outputs.append(scale * (from_state + scores @ v_c))

        # Carry the state to the end of the chunk; exp(G_T − G_s) ≤ 1 again.
        k_decayed = k_c * (chunk_log_decay[:, :, None] - log_decay).exp()
        state = chunk_log_decay.exp()[..., None] * state + k_decayed.transpose(-1, -2) @ v_c

    o = torch.cat(outputs, dim=2).transpose(1, 2).to(out_dtype)
    return o, state
