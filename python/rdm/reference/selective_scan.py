"""Reference selective scan (Mamba S6) and its single-step decode form.

Argument conventions follow ``mamba_ssm.selective_scan_fn`` / ``selective_state_update``.
"""
import torch
import torch.nn.functional as F

from ._precision import compute_dtype
from ._varlen import map_packed_sequences

# Time steps per chunk: memory per chunk is O(batch * dim * N * CHUNK_SIZE).
CHUNK_SIZE = 64


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

    def step(t, per_channel=True):  # the kept rows with a time dimension of one step
        return None if t is None else (channels(t, 1) if per_channel else t)[keep].unsqueeze(-1)

    h0 = channels(state[rows[keep]], 1).to(compute_dtype(x))
    out, new_state = _scan_batch(step(x), step(dt), channels(A, 0), step(B, False), step(C, False), channels(D, 0),
                                 step(z), channels(dt_bias, 0), dt_softplus, h0)
    state[rows[keep]] = new_state.reshape(state[rows[keep]].shape).to(state.dtype)
    y = x.new_zeros(channels(x, 1).shape)
    y[keep] = out.squeeze(-1)
    return y.reshape(x.shape)


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

    # Channels are viewed as (groups, channels per group) so that B and C broadcast over
    # the channels of their group without being copied per channel.
    def grouped(t):
        return t.to(dtype).reshape(batch, groups, dim // groups, *t.shape[2:])

    dt = delta.to(dtype)
    if delta_bias is not None:
        dt = dt + delta_bias.to(dtype)[:, None]
    if delta_softplus:
        dt = F.softplus(dt)
    dt, u_g = grouped(dt), grouped(u)                              # (batch, G, P, L)
    A_g = A.to(dtype).reshape(groups, dim // groups, state_size, 1)  # (G, P, N, 1)
    B_g, C_g = B.to(dtype).unsqueeze(2), C.to(dtype).unsqueeze(2)  # (batch, G, 1, N, L)
    if initial_state is None:
        h = u_g.new_zeros(batch, groups, dim // groups, state_size)
    else:
        h = grouped(initial_state)                                 # (batch, G, P, N)

    # A zero-length slice to start from: an empty packed sequence has no chunk, so its output
    # is empty and its last state stays h_0.
    ys = [u_g.new_zeros(batch, groups, dim // groups, 0)]
    for start in range(0, length, CHUNK_SIZE):
        chunk = slice(start, min(start + CHUNK_SIZE, length))
        dt_c = dt[..., None, chunk]                                # (batch, G, P, 1, T)
        decay = torch.exp(dt_c * A_g)                              # (batch, G, P, N, T)
        drive = dt_c * B_g[..., chunk] * u_g[..., None, chunk]
        decay_from_chunk_start, h_from_zero = _linear_recurrence(decay, drive)
        states = decay_from_chunk_start * h[..., None] + h_from_zero  # h_t for every t of the chunk
        ys.append((states * C_g[..., chunk]).sum(dim=-2))          # (batch, G, P, T)
        h = states[..., -1]

    y = torch.cat(ys, dim=-1).reshape(batch, dim, length)
    if D is not None:
        y = y + D.to(dtype)[:, None] * u.to(dtype)
    if z is not None:
        y = y * F.silu(z.to(dtype))
    return y.to(u.dtype), h.reshape(batch, dim, state_size)


def _linear_recurrence(decay, drive):
    """Solves ``h_t = decay_t * h_{t-1} + drive_t`` along the last dim with ``h_{-1} = 0``.

    Returns ``(decay_0 * ... * decay_t, h_t)`` for every t, so that the solution from a
    non-zero start h is ``products * h + h_t``.

    A log-depth (Hillis-Steele) prefix scan: after the pass with offset k, position t holds
    the composition of the affine maps of steps ``t-2k+1 .. t``. It only ever multiplies
    decays (≤ 1 for A < 0), never divides by them, so unlike an ``exp(cumsum)`` ratio form
    it cannot overflow however strong the decay within a chunk.
    """
    length = decay.shape[-1]
    offset = 1
    while offset < length:
        # Steps before the start of the sequence are the identity map (decay 1, drive 0).
        drive = drive + decay * F.pad(drive[..., :-offset], (offset, 0))
        decay = decay * F.pad(decay[..., :-offset], (offset, 0), value=1.0)
        offset *= 2
    return decay, drive
