"""rdm::chunk_gla and rdm::fused_recurrent_gla: gated linear attention (public wrappers,
reference kernels, fakes, autograd). Both compute the same function; their CUDA kernels
will differ (chunk-parallel for training and prefill, token by token for decoding)."""
import torch
from torch import Tensor

from .. import reference
from .._debug import checked
from ..reference._precision import compute_dtype
from ._registration import reference_kernel, register_backward, register_op

_DOC = """Gated linear attention: ``S_t = diag(exp g_t) S_{{t-1}} + k_t v_tᵀ``, ``o_t = scale · S_tᵀ q_t``.

    {variant}

    Args:
        q, k: (B, T, H, K) with T ≥ 1; float32, float16 or bfloat16 (float64 too).
        v: (B, T, H, V), q's dtype.
        g: (B, T, H, K) log forget gates (≤ 0 in practice), q's dtype or float32.
        scale: defaults to ``K ** -0.5``.
        initial_state: optional (B, H, K, V) float32 S_0 (zeros if absent); (S, H, K, V)
            with cu_seqlens.
        cu_seqlens: optional (S + 1,) int32, B must be 1: the T tokens are S packed
            sequences (tokens ``cu_seqlens[s]:cu_seqlens[s+1]``, non-decreasing from 0 to
            T), each run from its own initial state; an empty sequence (equal neighbours)
            has no tokens and its final state is its initial state (or zeros).

    With float64 q, every tensor given as float32 above is float64 instead.

    Per batch and head, ``S_t[i, j] = exp(g_t[i]) S_{{t-1}}[i, j] + k_t[i] v_t[j]`` and
    ``o_t[j] = scale Σ_i q_t[i] S_t[i, j]``.

    Returns:
        (o (B, T, H, V) in v's dtype, final_state S_T (B, H, K, V) or (S, H, K, V) in
        float32). All math is float32.

    Differentiable with respect to q, k, v, g and initial_state (backward:
    ``rdm::{name}_backward``).
    """


def chunk_gla(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor,
    scale: float | None = None,
    initial_state: Tensor | None = None,
    cu_seqlens: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    return checked("rdm", "chunk_gla", q, k, v, g, scale, initial_state, cu_seqlens)


def fused_recurrent_gla(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    g: Tensor,
    scale: float | None = None,
    initial_state: Tensor | None = None,
    cu_seqlens: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    return checked("rdm", "fused_recurrent_gla", q, k, v, g, scale, initial_state, cu_seqlens)


chunk_gla.__doc__ = _DOC.format(
    name="chunk_gla", variant="Chunk-parallel form, for training and prefill; same function as fused_recurrent_gla."
)
fused_recurrent_gla.__doc__ = _DOC.format(
    name="fused_recurrent_gla", variant="Token-by-token form, for decoding; same function as chunk_gla."
)


def _register(name, reference_fn):
    check_op = getattr(torch.ops.rdm, f"_{name}_check")

    def fake(q, k, v, g, scale, initial_state, cu_seqlens):
        check_op(q, k, v, g, scale, initial_state, cu_seqlens)
        states = q.shape[0] if cu_seqlens is None else cu_seqlens.shape[0] - 1
        final_state = q.new_empty(states, q.shape[2], q.shape[3], v.shape[3], dtype=compute_dtype(q))
        return v.new_empty(v.shape), final_state

    register_op(name, reference_kernel(check_op, reference_fn), fake)
    register_backward(
        name,
        check=check_op,
        reference=reference_fn,
        num_outputs=2,
        grad_positions=(0, 1, 2, 3, 5),  # q, k, v, g, initial_state
    )


_register("chunk_gla", reference.chunk_gla)
_register("fused_recurrent_gla", reference.fused_recurrent_gla)
