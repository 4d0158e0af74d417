"""Reference gated linear attention (GLA), flash-linear-attention conventions."""
import torch

from ._precision import compute_dtype
from ._varlen import map_packed_sequences

# Time steps per chunk: the intra-chunk scores are (B, H, CHUNK_SIZE, CHUNK_SIZE), and
# (B, H, CHUNK_SIZE, CHUNK_SIZE, K) decays in the strong-decay (pairwise) form.
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
    fp32 (float64 for float64 inputs); a single token runs the recurrence directly.
    Differentiable w.r.t. q, k, v, g and initial_state.
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
    """``chunk_gla`` without ``cu_seqlens``: picks the form that is exact for these gates."""
    dtype, out_dtype = compute_dtype(q, k, v, g, initial_state), v.dtype
    if scale is None:
        scale = q.shape[-1] ** -0.5
    # Heads-first (B, H, T, ·) so that per-head matmuls batch over the leading dims.
    q, k, v, g = (t.to(dtype).transpose(1, 2) for t in (q, k, v, g))
    if initial_state is None:
        state = q.new_zeros(*q.shape[:2], q.shape[-1], v.shape[-1])
    else:
        state = initial_state.to(dtype)
    length = q.shape[2]
    if length == 1:
        o, state = _one_step(q, k, v, g, scale, state)
    elif length > 1 and _factors_fit(_chunked(g, min(CHUNK_SIZE, length))):
        o, state = _factored_chunks(q, k, v, g, scale, state)
    else:  # strong decay, or no token at all
        o, state = _pairwise_chunks(q, k, v, g, scale, state)
    return o.transpose(1, 2).to(out_dtype), state


def _one_step(q, k, v, g, scale, state):
    """A single token (decoding): the recurrence itself, a handful of small ops."""
    state = g[:, :, 0, :, None].exp() * state + k[:, :, 0, :, None] * v[:, :, 0, None, :]
    return scale * (q @ state), state


# The factored form splits exp(G_t − G_s) into exp(G_t) · exp(−G_s) per chunk: each factor
# must stay well inside the dtype's range (e^±30 ≈ 1e±13; fp32 reaches 3e38, and a masked
# pair s > t may reach e^60 times q·k before it is dropped), so that the products of factors
# are as accurate as the exponential of the difference.
FACTOR_LOG_LIMIT = 30.0


def _chunked(t, chunk):
    """(B, H, T, ·) -> (B, H, T / chunk, chunk, ·), zero-padded at the end: a padded step has
    k = v = 0 and gate 0 (decay 1), so it changes neither the outputs nor the state."""
    length = t.shape[2]
    padded = -(-length // chunk) * chunk
    t = torch.nn.functional.pad(t, (0, 0, 0, padded - length))
    return t.reshape(*t.shape[:2], padded // chunk, chunk, t.shape[-1])


def _factors_fit(g_chunks):
    """Whether every within-chunk cumulative log decay G stays within ±FACTOR_LOG_LIMIT."""
    return bool(g_chunks.detach().cumsum(dim=3).abs().amax() <= FACTOR_LOG_LIMIT)


def _factored_chunks(q, k, v, g, scale, state):
    """The chunk form as matmuls: ``exp(G_t − G_s) = exp(G_t) exp(−G_s)`` within a chunk turns
    the intra-chunk decayed scores into ``(q e^G)(k e^−G)ᵀ``; only the state passing between
    chunks is sequential. Needs _factors_fit."""
    length, chunk = q.shape[2], min(CHUNK_SIZE, q.shape[2])
    q_c, k_c, v_c, g_c = (_chunked(t, chunk) for t in (q, k, v, g))   # (B, H, n, C, ·)
    log_decay = g_c.cumsum(dim=3)                                    # chunk start -> step t, inclusive
    chunk_log_decay = log_decay[:, :, :, -1:]                        # (B, H, n, 1, K)
    q_decayed = q_c * log_decay.exp()
    causal = torch.ones(chunk, chunk, dtype=torch.bool, device=q.device).tril()
    scores = (q_decayed @ (k_c * (-log_decay).exp()).transpose(-1, -2)).masked_fill(~causal, 0.0)
    # What each chunk adds to the state it passes on: exp(G_T − G_s) ≤ 1 for g ≤ 0.
    chunk_updates = (k_c * (chunk_log_decay - log_decay).exp()).transpose(-1, -2) @ v_c  # (B, H, n, K, V)
    chunk_decays = chunk_log_decay.squeeze(3).exp()[..., None]       # (B, H, n, K, 1)
    states = []
    for index in range(q_c.shape[2]):
        states.append(state)
        state = chunk_decays[:, :, index] * state + chunk_updates[:, :, index]
    o = scale * (scores @ v_c + q_decayed @ torch.stack(states, dim=2))
    return o.reshape(*o.shape[:2], -1, o.shape[-1])[:, :, :length], state


def _pairwise_chunks(q, k, v, g, scale, state):
    """The chunk form with every decay exp(G_t − G_s) exponentiated on its own: never
    overflows, whatever the gates (for g ≤ 0 no exponent is positive), at the cost of a
    (chunk, chunk, K) tensor per chunk."""
    # A zero-length slice to start from: an empty packed sequence has no chunk, so its output
    # is empty and its final state stays S_0.
    outputs = [v.new_zeros(*v.shape[:2], 0, v.shape[-1])]
    for start in range(0, q.shape[2], CHUNK_SIZE):
        chunk = slice(start, min(start + CHUNK_SIZE, q.shape[2]))
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

    return torch.cat(outputs, dim=2), state
