"""rdm::selective_scan and rdm::selective_state_update: the Mamba S6 scan and its decode
step (public wrappers, reference kernels, fakes, autograd)."""
import torch
from torch import Tensor

from .. import reference
from .._debug import checked
from ..reference._precision import compute_dtype
from ._registration import reference_kernel, register_backward, register_op


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

    Differentiable with respect to u, delta, A, B, C, D, z, delta_bias and initial_state
    (backward: ``rdm::selective_scan_backward``).
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
) -> Tensor:
    """One decode step of ``selective_scan``: updates ``state`` in place and returns y_t.

    Args:
        state: (batch, dim, N) float32 h_{t-1}; overwritten with h_t.
        x, dt, z: (batch, dim), float32, float16 or bfloat16 (float64 too); dt and z in x's dtype.
        A: (dim, N) float32; D, dt_bias: optional (dim,) float32.
        B, C: (batch, G, N) or (batch, N), x's dtype or float32; C has B's dtype.
        dt_softplus: apply softplus to ``dt + dt_bias``.

    Same semantics as ``selective_scan`` with L = 1 and ``initial_state=state``.

    Returns:
        y_t (batch, dim) in x's dtype.

    Not differentiable: it is an inference step that overwrites its state (no autograd
    formula is registered; train with ``selective_scan``).
    """
    return checked("rdm", "selective_state_update", state, x, dt, A, B, C, D, z, dt_bias, dt_softplus)


def _check_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state, cu_seqlens):
    torch.ops.rdm._selective_scan_check(u, delta, A, B, C, D, z, delta_bias, initial_state, cu_seqlens)


def _fake_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state, cu_seqlens):
    _check_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state, cu_seqlens)
    states = u.shape[0] if cu_seqlens is None else cu_seqlens.shape[0] - 1
    last_state = u.new_empty(states, u.shape[1], A.shape[1], dtype=compute_dtype(u))
    return u.new_empty(u.shape), last_state


def _check_update(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus):
    torch.ops.rdm._selective_state_update_check(state, x, dt, A, B, C, D, z, dt_bias)


def _fake_update(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus):
    _check_update(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus)
    return x.new_empty(x.shape)


register_op("selective_scan", reference_kernel(_check_scan, reference.selective_scan), _fake_scan)
register_backward(
    "selective_scan",
    check=_check_scan,
    reference=reference.selective_scan,
    num_outputs=2,
    grad_positions=(0, 1, 2, 3, 4, 5, 6, 7, 9),  # u, delta, A, B, C, D, z, delta_bias, initial_state
)
register_op(
    "selective_state_update", reference_kernel(_check_update, reference.selective_state_update), _fake_update
)
