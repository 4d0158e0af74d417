"""rdm::selective_scan and rdm::selective_state_update: the Mamba S6 scan and its decode
step (public wrappers, CPU reference kernels, fakes, autograd).

The CUDA kernels of both and of rdm::selective_scan_backward (and the emulated ones of
rdm_simt) are registered in C++ (csrc/ops/selective_scan_kernel.cpp).
"""
import torch
from torch import Tensor

from .. import reference
from .._debug import checked
from ..reference._precision import compute_dtype
from ._registration import reference_kernel, register_autograd, register_op


def selective_scan(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    initial_state: Tensor | None = None,
    cu_seqlens: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Selective scan (Mamba S6): ``h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t``, ``y_t = C_t h_t + D u_t``.

    Args:
        u: (batch, dim, L) input, L ≥ 1; float32, float16 or bfloat16 (float64 too).
        delta: (batch, dim, L) time steps Δ, u's dtype.
        A: (dim, N) float32 state matrix (diagonal per channel), normally negative.
        B, C: (batch, G, N, L), or (batch, N, L) meaning G = 1, with G dividing dim: channel
            d uses group ``d // (dim // G)``. u's dtype or float32; C has B's dtype.
        D: optional (dim,) float32 skip connection.
        z: optional (batch, dim, L) gate, u's dtype: ``out = y * silu(z)``.
        delta_bias: optional (dim,) float32, added to delta.
        delta_softplus: apply softplus to ``delta + delta_bias``.
        initial_state: optional (batch, dim, N) float32 h_0 (zeros if absent); (S, dim, N)
            with cu_seqlens.
        cu_seqlens: optional (S + 1,) int32, batch must be 1: the L tokens are S packed
            sequences (tokens ``cu_seqlens[s]:cu_seqlens[s+1]``, non-decreasing from 0 to
            L), each scanned from its own initial state; an empty sequence (equal
            neighbours) has no tokens and its last state is its initial state (or zeros).

    With float64 u, every tensor given as float32 above is float64 instead.

    Returns:
        (out (batch, dim, L) in u's dtype, last_state h_L (batch, dim, N) or (S, dim, N) in
        float32). All math is float32.

    Differentiable with respect to u, delta, A, B, C, D, z, delta_bias and initial_state,
    through out and last_state (backward: ``rdm::selective_scan_backward``). On CUDA the
    backward recomputes the states chunk by chunk from per-chunk checkpoints; its B and C
    gradients are summed over the channels of a group with atomics (order not fixed), the
    other parameter gradients in a fixed order.
    """
    return checked(
        "rdm", "selective_scan", u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state, cu_seqlens
    )


def selective_state_update(
    state: Tensor,
    x: Tensor,
    dt: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    dt_bias: Tensor | None = None,
    dt_softplus: bool = False,
    state_batch_indices: Tensor | None = None,
) -> Tensor:
    """One decode step of ``selective_scan``: updates ``state`` in place and returns y_t.

    Args:
        state: (batch, dim, N) h_{t-1} in float32, float16 or bfloat16 (math is float32,
            the result is stored back in the state's dtype); overwritten with h_t.
        x, dt, z: (batch, dim), float32, float16 or bfloat16 (float64 too); dt and z in x's dtype.
        A: (dim, N) float32; D, dt_bias: optional (dim,) float32.
        B, C: (batch, G, N) or (batch, N), x's dtype or float32; C has B's dtype.
        dt_softplus: apply softplus to ``dt + dt_bias``.
        state_batch_indices: optional (batch,) int32: row b updates
            ``state[state_batch_indices[b]]`` (state may then have any number of rows); a
            negative index is a padding slot: the row is skipped and its y is 0.

    Mamba-2's head layout works too, without copies: x, dt, z (batch, heads, head_dim),
    state (batch, heads, head_dim, N), A (heads, head_dim, N), D and dt_bias (heads,
    head_dim) — per-head values as stride-0 views, e.g. ``A_h[:, None, None].expand(...)``.

    Same semantics as ``selective_scan`` with L = 1 and ``initial_state=state``.

    Returns:
        y_t (batch, dim) in x's dtype.

    Not differentiable: it is an inference step that overwrites its state (no autograd
    formula is registered; train with ``selective_scan``).
    """
    return checked(
        "rdm", "selective_state_update", state, x, dt, A, B, C, D, z, dt_bias, dt_softplus, state_batch_indices
    )


_CPU = ("cpu",)  # the CUDA kernels are in C++


def _check_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state, cu_seqlens):
    torch.ops.rdm._selective_scan_check(u, delta, A, B, C, D, z, delta_bias, initial_state, cu_seqlens)


def _fake_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state, cu_seqlens):
    _check_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state, cu_seqlens)
    states = u.shape[0] if cu_seqlens is None else cu_seqlens.shape[0] - 1
    last_state = u.new_empty(states, u.shape[1], A.shape[1], dtype=compute_dtype(u))
    return u.new_empty(u.shape), last_state


def _check_update(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus, state_batch_indices):
    torch.ops.rdm._selective_state_update_check(state, x, dt, A, B, C, D, z, dt_bias, state_batch_indices)


def _fake_update(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus, state_batch_indices):
    _check_update(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus, state_batch_indices)
    return x.new_empty(x.shape)


register_op("selective_scan", reference_kernel(_check_scan, reference.selective_scan), _fake_scan, devices=_CPU)
register_autograd(
    "selective_scan",
    # the backward op takes grad_out, grad_last_state, then the forward's inputs
    check=lambda grad_out, grad_last_state, *inputs: _check_scan(*inputs),
    reference=reference.selective_scan,
    num_grads=2,
    grad_positions=(0, 1, 2, 3, 4, 5, 6, 7, 9),  # u, delta, A, B, C, D, z, delta_bias, initial_state
    devices=_CPU,
)
register_op(
    "selective_state_update",
    reference_kernel(_check_update, reference.selective_state_update),
    _fake_update,
    devices=_CPU,
)
