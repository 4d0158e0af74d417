"""Plain float64 oracles for the reference implementations.

Written as directly as possible from the op contracts (a loop per time step, a dense
mask, a loop per expert / row) so that they are easy to trust; they are slow and only
meant for the small shapes of the tests. Every oracle returns float64 tensors.
"""
import torch
import torch.nn.functional as F

# Largest |reference − oracle| allowed, relative to max |oracle|, by the dtype the reference
# returns. The references compute in fp32, so their fp16/bf16 outputs carry the final
# rounding only: measured at 0.25–0.35 of the dtype's eps (2^-7 for bf16, 2^-10 for fp16)
# times max |oracle|, exactly what plain torch (sdpa, matmul) reaches in those dtypes
# against float64. fp32 errors measured ≤ 1e-6, float64 ≤ 1e-14.
RELATIVE_TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-5, torch.bfloat16: 2.0 ** -7, torch.float16: 2.0 ** -10}


def assert_matches_oracle(actual, expected):
    """Checks shape and max error (scaled by max |expected|) for the dtype of ``actual``."""
    assert actual.shape == expected.shape, f"shape {tuple(actual.shape)} != oracle {tuple(expected.shape)}"
    error = (actual.detach().to(torch.float64) - expected).abs().max().item()
    allowed = RELATIVE_TOLERANCE[actual.dtype] * expected.abs().max().item()
    assert error <= allowed, f"max error {error:.3g} > allowed {allowed:.3g} for {actual.dtype}"


def _f64(t):
    return None if t is None else t.detach().to(torch.float64)


def _packed_sequences(cu_seqlens, length):
    if cu_seqlens is None:
        return [(0, length)]
    bounds = cu_seqlens.tolist()
    return list(zip(bounds[:-1], bounds[1:]))


def selective_scan_oracle(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                          initial_state=None, cu_seqlens=None):
    u, delta, A, B, C, D, z, delta_bias, initial_state = map(
        _f64, (u, delta, A, B, C, D, z, delta_bias, initial_state))
    batch, dim, length = u.shape
    if B.dim() == 3:
        B, C = B.unsqueeze(1), C.unsqueeze(1)
    group_of_channel = torch.arange(dim) // (dim // B.shape[1])
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    out = torch.zeros(batch, dim, length, dtype=torch.float64)
    last_states = []
    for b in range(batch):
        for s, (start, end) in enumerate(_packed_sequences(cu_seqlens, length)):
            state_index = s if cu_seqlens is not None else b
            h = torch.zeros(dim, A.shape[1], dtype=torch.float64)
            if initial_state is not None:
                h = initial_state[state_index].clone()
            for t in range(start, end):
                B_t = B[b, group_of_channel, :, t]  # (dim, N)
                C_t = C[b, group_of_channel, :, t]
                h = torch.exp(delta[b, :, t, None] * A) * h + delta[b, :, t, None] * B_t * u[b, :, t, None]
                y = (C_t * h).sum(-1)
                if D is not None:
                    y = y + D * u[b, :, t]
                if z is not None:
                    y = y * F.silu(z[b, :, t])
                out[b, :, t] = y
            last_states.append(h)
    return out, torch.stack(last_states)


def gla_oracle(q, k, v, g, scale=None, initial_state=None, cu_seqlens=None):
    q, k, v, g, initial_state = map(_f64, (q, k, v, g, initial_state))
    batch, length, heads, key_dim = q.shape
    scale = key_dim ** -0.5 if scale is None else scale
    o = torch.zeros(*v.shape, dtype=torch.float64)
    final_states = []
    for b in range(batch):
        for s, (start, end) in enumerate(_packed_sequences(cu_seqlens, length)):
            state_index = s if cu_seqlens is not None else b
            S = torch.zeros(heads, key_dim, v.shape[-1], dtype=torch.float64)
            if initial_state is not None:
                S = initial_state[state_index].clone()
            for t in range(start, end):
                S = torch.exp(g[b, t])[:, :, None] * S + k[b, t][:, :, None] * v[b, t][:, None, :]
                o[b, t] = scale * torch.einsum("hk,hkv->hv", q[b, t], S)
            final_states.append(S)
    return o, torch.stack(final_states)


def sliding_window_attention_oracle(q, k, v, window, num_global=0, scale=None, cu_seqlens=None):
    """Dense (Tq x Tk) masked attention, per packed sequence."""
    q, k, v = map(_f64, (q, k, v))
    batch, num_queries, heads, head_dim = q.shape
    scale = head_dim ** -0.5 if scale is None else scale
    out = torch.zeros_like(q)
    lse = torch.zeros(batch, heads, num_queries, dtype=torch.float64)
    kv_head_of_head = torch.arange(heads) // (heads // k.shape[2])
    query_spans = _packed_sequences(cu_seqlens, num_queries)
    key_spans = _packed_sequences(cu_seqlens, k.shape[1])
    for (q_start, q_end), (k_start, k_end) in zip(query_spans, key_spans):
        q_s = q[:, q_start:q_end].transpose(1, 2)                       # (B, H, Tq, D)
        k_s = k[:, k_start:k_end][:, :, kv_head_of_head].transpose(1, 2)  # (B, H, Tk, D)
        v_s = v[:, k_start:k_end][:, :, kv_head_of_head].transpose(1, 2)
        positions = torch.arange(q_end - q_start) + (k_end - k_start) - (q_end - q_start)
        keys = torch.arange(k_end - k_start)
        visible = (keys[None] <= positions[:, None]) & (
            (positions[:, None] - keys[None] < window) | (keys[None] < num_global))
        scores = (scale * q_s @ k_s.transpose(-1, -2)).masked_fill(~visible, float("-inf"))
        out[:, q_start:q_end] = (torch.softmax(scores, dim=-1) @ v_s).transpose(1, 2)
        lse[:, :, q_start:q_end] = torch.logsumexp(scores, dim=-1)
    return out, lse


def grouped_gemm_oracle(x, w, offsets):
    x, w = _f64(x), _f64(w)
    out = torch.zeros(x.shape[0], w.shape[-1], dtype=torch.float64)
    start = 0
    for expert, end in enumerate(offsets.tolist()):
        rows = torch.zeros(x.shape[0], dtype=torch.bool)
        rows[start:end] = True
        out[rows] = x[rows] @ w[expert]
        start = end
    return out


def moe_permute_oracle(x, topk_ids, num_experts):
    num_tokens, slots = topk_ids.shape
    rows, row_ids, offsets = [], [], []
    for expert in range(num_experts):
        for token in range(num_tokens):
            for slot in range(slots):
                if topk_ids[token, slot] == expert:
                    rows.append(x[token])
                    row_ids.append(token * slots + slot)
        offsets.append(len(row_ids))
    return (torch.stack(rows), torch.tensor(row_ids, dtype=torch.int32),
            torch.tensor(offsets, dtype=torch.int32))


def moe_unpermute_oracle(y_sorted, row_id, topk_weights):
    y_sorted, topk_weights = _f64(y_sorted), _f64(topk_weights)
    num_tokens, slots = topk_weights.shape
    y = torch.zeros(num_tokens, y_sorted.shape[1], dtype=torch.float64)
    for r, slot_id in enumerate(row_id.tolist()):
        token, slot = divmod(slot_id, slots)
        y[token] += topk_weights[token, slot] * y_sorted[r]
    return y
