"""Reference selective scan (Mamba S6) and its single-step decode form.

Argument conventions follow ``mamba_ssm.selective_scan_fn`` / ``selective_state_update``.
"""
import torch
import torch.nn.functional as F

from ._precision import compute_dtype
from ._varlen import map_packed_sequences

# Time steps per chunk at most: memory per chunk is O(batch * dim * N * CHUNK_SIZE).
CHUNK_SIZE = 64
# ... and fewer where the states are large: a chunk's per-step tensors (decays, states) of
# about this many elements stay in a CPU's L2 cache between the ops that walk them, which
# takes those memory-bound ops several times less than streaming them from DRAM.
CHUNK_ELEMENTS = 2**17


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   initial_state=None, cu_seqlens=None):
    """Selective scan ``h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t``, ``y_t = C_t h_t + D u_t``.

    Shapes and dtypes:
        u, delta, z: (batch, dim, L), fp32/fp16/bf16 (float64 allowed for testing).
        A: (dim, N) fp32; expected negative (decays ≤ 1), but the result is exact for
            any sign as long as nothing overflows.
        B, C: (batch, G, N, L), or (batch, N, L) meaning G = 1; ``dim % G == 0`` and
            channel ``d`` uses group ``d // (dim // G)``.
        D, delta_bias: (dim,) fp32.
        initial_state: (batch, dim, N) fp32, or (S, dim, N) with ``cu_seqlens``.
        cu_seqlens: optional (S + 1,) int32, batch must be 1: the L tokens are S packed
            sequences (tokens ``cu_seqlens[s]:cu_seqlens[s+1]``), each scanned from its own
            initial state; an empty sequence has no tokens and keeps its initial state.

    Semantics, per channel d, state index n and group g of d:
        Δ = delta + delta_bias (if given), then softplus(Δ) if ``delta_softplus``
        h_t[d, n] = exp(Δ_t[d] A[d, n]) h_{t-1}[d, n] + Δ_t[d] B_t[g, n] u_t[d]
        y_t[d] = Σ_n C_t[g, n] h_t[d, n] + D[d] u_t[d];  out = y * silu(z) if z given
        h_0 = initial_state or 0.

    Returns:
        out: (batch, dim, L) in u's dtype.
        last_state: h_L, (batch, dim, N) (or (S, dim, N)) in fp32 (float64 for float64 inputs).

    All math is fp32 (float64 for float64 inputs). Differentiable w.r.t. every tensor input.
    """
    if cu_seqlens is None:
        return _scan_batch(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state)
    assert u.shape[0] == 1, f"cu_seqlens needs batch 1, got u of shape {tuple(u.shape)}"

    def scan_one_sequence(u, delta, B, C, z, initial_state):
        return _scan_batch(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state)

    return map_packed_sequences(scan_one_sequence, cu_seqlens, time_dim=-1,
                                per_token=(u, delta, B, C, z), per_sequence=(initial_state,),
                                cat_dims=(-1, 0))


def selective_state_update(state, x, dt, A, B, C, D=None, z=None, dt_bias=None, dt_softplus=False,
                           state_batch_indices=None):
    """One decode step of ``selective_scan``, updating ``state`` in place.

    Shapes: state (batch, dim, N) fp32/fp16/bf16 (math in fp32, stored back in its dtype),
    mutated to h_t; x, dt, z: (batch, dim); A: (dim, N); B, C: (batch, G, N) or (batch, N);
    D, dt_bias: (dim,). Mamba-2's head layout: x, dt, z (batch, H, P), state (batch, H, P, N),
    A (H, P, N), D and dt_bias (H, P); it is the same step with dim = H * P.
    state_batch_indices: optional (batch,) int: row b updates ``state[state_batch_indices[b]]``;
    a negative index is a padding slot (skipped, y = 0).
    Returns y_t in x's shape and dtype; same semantics as ``selective_scan`` with L = 1
    and ``initial_state=state``. Not meant to be differentiated.
    """
    heads = x.dim() == 3

    def channels(t, start):  # Mamba-2's (H, P) as one channel dimension (a copy if need be)
        return t.flatten(start, start + 1) if heads and t is not None else t

    rows = torch.arange(x.shape[0], device=x.device) if state_batch_indices is None else state_batch_indices.long()
    keep = rows >= 0

    def kept(t, per_channel=True):  # the rows that are not padding
        return None if t is None else (channels(t, 1) if per_channel else t)[keep]

    h = channels(state[rows[keep]], 1)
    y_kept, h = _decode_step(h, kept(x), kept(dt), channels(A, 0), kept(B, False), kept(C, False), channels(D, 0),
                             kept(z), channels(dt_bias, 0), dt_softplus)
    state[rows[keep]] = h.reshape(state[rows[keep]].shape).to(state.dtype)
    y = x.new_zeros(channels(x, 1).shape)
    y[keep] = y_kept
    return y.reshape(x.shape)


def _decode_step(h, x, dt, A, B, C, D, z, dt_bias, dt_softplus):
    """One step of the recurrence for h (batch, dim, N), x/dt/z (batch, dim), B/C (batch, G, N)
    or (batch, N): returns (y in x's dtype, the new h in the compute dtype). Written out for
    one step rather than through the scan: a decode step is a handful of small elementwise
    ops, and the scan's per-call setup would dominate it."""
    dtype = compute_dtype(x, dt, A, B, C, D, z, dt_bias)
    batch, dim = x.shape
    if B.dim() == 2:
        B, C = B.unsqueeze(1), C.unsqueeze(1)
    groups, state_size = B.shape[1], B.shape[2]
    step = dt.to(dtype)
    if dt_bias is not None:
        step = step + dt_bias.to(dtype)
    if dt_softplus:
        step = F.softplus(step)
    step = step.reshape(batch, groups, dim // groups, 1)
    x_g = x.to(dtype).reshape(batch, groups, dim // groups, 1)
    h = h.to(dtype).reshape(batch, groups, dim // groups, state_size)
    decay = torch.exp(step * A.to(dtype).reshape(groups, dim // groups, state_size))
    h = torch.addcmul(decay * h, step * x_g, B.to(dtype).unsqueeze(2))
    y = (h @ C.to(dtype).unsqueeze(-1)).reshape(batch, dim)
    if D is not None:
        y = y + D.to(dtype) * x.to(dtype)
    if z is not None:
        y = y * F.silu(z.to(dtype))
    return y.to(x.dtype), h.reshape(batch, dim, state_size)


def _scan_batch(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state):
    """``selective_scan`` without ``cu_seqlens``."""
    dtype = compute_dtype(u, delta, A, B, C, D, z, delta_bias, initial_state)
    batch, dim, length = u.shape
    if B.dim() == 3:
        B = B.unsqueeze(1)
    if C.dim() == 3:
        C = C.unsqueeze(1)
    groups, state_size = B.shape[1], B.shape[2]
    assert dim % groups == 0, f"dim ({dim}) must be a multiple of the number of groups ({groups})"

    dt = delta.to(dtype)
    if delta_bias is not None:
        dt = dt + delta_bias.to(dtype)[:, None]
    if delta_softplus:
        dt = F.softplus(dt)
    h0 = u.new_zeros(batch, dim, state_size, dtype=dtype) if initial_state is None else initial_state.to(dtype)
    y, h = _Recurrence.apply(dt, A.to(dtype), B.to(dtype), C.to(dtype), u.to(dtype), h0)
    if D is not None:
        y = y + D.to(dtype)[:, None] * u.to(dtype)
    if z is not None:
        y = y * F.silu(z.to(dtype))
    return y.to(u.dtype), h


class _Recurrence(torch.autograd.Function):
    """``h_t = exp(dt_t A) h_{t-1} + dt_t u_t B_t``, ``y_t = Σ_n C_t[n] h_t[:, n]``; returns (y, h_L).

    Inputs: dt, u (batch, dim, L); A (dim, N); B, C (batch, G, N, L); h0 (batch, dim, N).
    Walks the recurrence one step at a time, one fused multiply-add over the whole state per
    step: linear work (a log-depth parallel scan does log L times more, which a CPU pays in
    full), and it only multiplies decays, never divides by them, so a strong decay cannot
    overflow. CHUNK_SIZE steps at a time, so that the per-step tensors of one chunk bound the
    memory. The backward walks the adjoint recurrence backwards, recomputing each chunk's
    states from the chunk-start states the forward keeps.
    """

    @staticmethod
    def forward(ctx, dt, A, B, C, u, h0):
        groups = B.shape[1]
        h = h0.reshape(h0.shape[0], groups, -1, h0.shape[-1])   # (batch, G, P, N)
        starts, ys = [], []
        for chunk in _chunks(u.shape[-1], h0.numel()):
            starts.append(h)
            states = _chunk_states(dt, A, B, u, h, chunk)         # (T, batch, G, P, N)
            ys.append(states @ _time_major_bc(C, chunk).transpose(-1, -2))  # (T, batch, G, P, 1)
            h = states[-1]
        ctx.save_for_backward(dt, A, B, C, u, h0, *starts)
        return _batch_major(ys, u), h.reshape(h0.shape).clone()

    @staticmethod
    def backward(ctx, grad_y, grad_h):
        dt, A, B, C, u, h0, *starts = ctx.saved_tensors
        groups = B.shape[1]
        A_g = A.reshape(groups, -1, A.shape[-1])
        # carry: the gradient reaching h_t through h_{t+1} (through h_L's own at the end).
        carry = torch.zeros_like(h0) if grad_h is None else grad_h.to(h0.dtype)
        carry = carry.reshape(h0.shape[0], groups, -1, h0.shape[-1])
        pieces = {name: [] for name in ("dt", "u", "B", "C")}
        grad_A = torch.zeros_like(A_g)
        for chunk, h_start in reversed(list(zip(_chunks(u.shape[-1], h0.numel()), starts))):
            dt_c, u_c = _time_major(dt, groups, chunk), _time_major(u, groups, chunk)  # (T, b, G, P, 1)
            decay = torch.exp(dt_c * A_g)                                              # (T, b, G, P, N)
            states = _chunk_states(dt, A, B, u, h_start, chunk)
            B_c, C_c = _time_major_bc(B, chunk), _time_major_bc(C, chunk)              # (T, b, G, 1, N)
            gy = (torch.zeros_like(dt_c) if grad_y is None
                  else _time_major(grad_y, groups, chunk))
            # g_t = dL/dh_t = C_t dy_t + exp(dt_{t+1} A) g_{t+1}, walked backwards in place.
            g = gy * C_c
            g[-1] += carry
            for t in range(g.shape[0] - 2, -1, -1):
                g[t].addcmul_(decay[t + 1], g[t + 1])
            carry = decay[0] * g[0]
            previous = torch.cat([h_start.unsqueeze(0), states[:-1]])  # h_{t-1}
            grad_exponent = g * previous * decay                       # dL/d(dt_t A)
            grad_drive = g @ B_c.transpose(-1, -2)                     # dL/d(dt_t u_t), (T, b, G, P, 1)
            pieces["dt"].append((grad_exponent * A_g).sum(-1, keepdim=True) + grad_drive * u_c)
            pieces["u"].append(grad_drive * dt_c)
            pieces["B"].append((g * (dt_c * u_c)).sum(-2, keepdim=True))  # (T, b, G, 1, N)
            pieces["C"].append((gy * states).sum(-2, keepdim=True))
            grad_A += (grad_exponent * dt_c).sum(dim=(0, 1))
        return (_batch_major(pieces["dt"][::-1], u), grad_A.reshape(A.shape), _batch_major_bc(pieces["B"][::-1], B),
                _batch_major_bc(pieces["C"][::-1], C), _batch_major(pieces["u"][::-1], u), carry.reshape(h0.shape))


def _chunks(length, state_numel):
    steps = max(1, min(CHUNK_SIZE, CHUNK_ELEMENTS // state_numel))
    return [slice(start, min(start + steps, length)) for start in range(0, length, steps)]


def _time_major(t, groups, chunk):
    """(batch, dim, L) -> the chunk's steps as (T, batch, G, P, 1)."""
    batch, dim, _ = t.shape
    return t[..., chunk].permute(2, 0, 1).reshape(-1, batch, groups, dim // groups, 1)


def _time_major_bc(t, chunk):
    """(batch, G, N, L) -> the chunk's steps as (T, batch, G, 1, N), contiguous: products
    with it then come out time-major too, so that each step's slice is one dense block."""
    return t[..., chunk].permute(3, 0, 1, 2).unsqueeze(3).contiguous()


def _batch_major(pieces, like):
    """(T, batch, G, P, 1) chunks in time order -> (batch, dim, L) like ``like``."""
    if not pieces:
        return torch.zeros_like(like)
    return torch.cat(pieces).reshape(like.shape[-1], *like.shape[:2]).permute(1, 2, 0)


def _batch_major_bc(pieces, like):
    """(T, batch, G, 1, N) chunks in time order -> (batch, G, N, L) like ``like``."""
    if not pieces:
        return torch.zeros_like(like)
    return torch.cat(pieces).squeeze(3).permute(1, 2, 3, 0)


def _chunk_states(dt, A, B, u, h, chunk):
    """h_t for every step t of ``chunk`` as (T, batch, G, P, N), from h (batch, G, P, N) before it."""
    groups = B.shape[1]
    dt_c = _time_major(dt, groups, chunk)
    decay = torch.exp(dt_c * A.reshape(groups, -1, A.shape[-1]))
    states = (dt_c * _time_major(u, groups, chunk)) * _time_major_bc(B, chunk)  # the drives, then the states
    states[0].addcmul_(decay[0], h)
    for t in range(1, states.shape[0]):
        states[t].addcmul_(decay[t], states[t - 1])
    return states
