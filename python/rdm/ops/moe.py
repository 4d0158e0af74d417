"""rdm::grouped_gemm, rdm::moe_permute and rdm::moe_unpermute: mixture-of-experts routing and
expert GEMMs (public wrappers, reference kernels, fakes, autograd).

A routed MoE layer is ``x_sorted, row_id, offsets = moe_permute(x, topk_ids, E)``, then
``grouped_gemm(x_sorted, w, offsets)`` per expert projection, then
``moe_unpermute(y_sorted, row_id, topk_weights)``.
"""
import torch
from torch import Tensor

from .. import reference
from .._debug import checked
from ..reference._precision import compute_dtype
from ._registration import NAMESPACES, op, qualified, reference_kernel, register_backward, register_op


def grouped_gemm(x: Tensor, w: Tensor, offsets: Tensor) -> Tensor:
    """Multiplies each expert's group of rows of x by that expert's weight.

    Args:
        x: (M, K) rows grouped by expert; float32, float16 or bfloat16 (float64 too).
        w: (E, K, N) expert weights, x's dtype.
        offsets: (E,) int32 cumulative row ends: expert e owns rows
            ``[offsets[e-1], offsets[e])`` (``offsets[-1]`` read as 0); non-negative,
            non-decreasing, ``offsets[E-1] ≤ M`` (``moe_permute`` returns them).

    Returns:
        out (M, N) in x's dtype, ``out[rows of e] = x[rows of e] @ w[e]``, accumulated in
        float32; rows from ``offsets[E-1]`` on belong to no expert and are zero.

    Differentiable with respect to x and w (backward: ``rdm::grouped_gemm_backward``).
    """
    return checked("rdm", "grouped_gemm", x, w, offsets)


def moe_permute(x: Tensor, topk_ids: Tensor, num_experts: int) -> tuple[Tensor, Tensor, Tensor]:
    """Copies every token once per chosen expert, grouped by expert.

    Args:
        x: (T, D) tokens; float32, float16 or bfloat16 (float64 too).
        topk_ids: (T, k) int32 or int64 in ``[0, num_experts)``: slot s of token t routes to
            expert ``topk_ids[t, s]``.
        num_experts: E ≥ 1.

    Returns:
        x_sorted: (T·k, D) in x's dtype, rows ordered by expert and, within an expert, by
            (token, slot); row r is ``x[row_id[r] // k]``.
        row_id: (T·k,) int32, ``row_id[r] = token·k + slot`` of row r.
        offsets: (E,) int32 cumulative row ends of the experts' groups (for ``grouped_gemm``).

    Differentiable with respect to x; the gradient is ``moe_unpermute`` of the incoming
    gradient with unit weights (no separate backward op).
    """
    return checked("rdm", "moe_permute", x, topk_ids, num_experts)


def moe_unpermute(y_sorted: Tensor, row_id: Tensor, topk_weights: Tensor) -> Tensor:
    """Sums every token's expert outputs weighted by its routing weights.

    Args:
        y_sorted: (T·k, D) expert outputs in ``moe_permute``'s row order; float32, float16
            or bfloat16 (float64 too).
        row_id: (T·k,) int32 from ``moe_permute``: a permutation of ``0 .. T·k − 1``; row r
            holds slot ``row_id[r] % k`` of token ``row_id[r] // k``.
        topk_weights: (T, k) float32 or y_sorted's dtype.

    Returns:
        y (T, D) in y_sorted's dtype, ``y[t] = Σ_s topk_weights[t, s] · y_sorted[r]`` with
        ``row_id[r] = t·k + s``, accumulated in float32.

    Differentiable with respect to y_sorted and topk_weights (backward:
    ``rdm::moe_unpermute_backward``).
    """
    return checked("rdm", "moe_unpermute", y_sorted, row_id, topk_weights)


def _check_gemm(x, w, offsets):
    torch.ops.rdm._grouped_gemm_check(x, w, offsets)


def _fake_gemm(x, w, offsets):
    _check_gemm(x, w, offsets)
    return x.new_empty(x.shape[0], w.shape[2])


def _check_permute(x, topk_ids, num_experts):
    torch.ops.rdm._moe_permute_check(x, topk_ids, num_experts)


def _fake_permute(x, topk_ids, num_experts):
    _check_permute(x, topk_ids, num_experts)
    rows = topk_ids.numel()
    x_sorted = x.new_empty(rows, x.shape[1])
    return x_sorted, x.new_empty(rows, dtype=torch.int32), x.new_empty(num_experts, dtype=torch.int32)


def _permute_setup_context(ctx, inputs, output):
    _, topk_ids, _ = inputs
    ctx.save_for_backward(output[1])
    ctx.topk_shape = topk_ids.shape


def _permute_backward(namespace):
    unpermute = op(namespace, "moe_unpermute")

    def backward(ctx, grad_x_sorted, _grad_row_id, _grad_offsets):
        (row_id,) = ctx.saved_tensors
        # x_sorted copies token row_id[r] // k into row r: the gradient sums those rows back.
        ones = grad_x_sorted.new_ones(ctx.topk_shape, dtype=compute_dtype(grad_x_sorted))
        return unpermute(grad_x_sorted, row_id, ones), None, None

    return backward


def _check_unpermute(y_sorted, row_id, topk_weights):
    torch.ops.rdm._moe_unpermute_check(y_sorted, row_id, topk_weights)


def _fake_unpermute(y_sorted, row_id, topk_weights):
    _check_unpermute(y_sorted, row_id, topk_weights)
    return y_sorted.new_empty(topk_weights.shape[0], y_sorted.shape[1])


register_op("grouped_gemm", reference_kernel(_check_gemm, reference.grouped_gemm), _fake_gemm)
register_backward(
    "grouped_gemm", check=_check_gemm, reference=reference.grouped_gemm, num_outputs=1, grad_positions=(0, 1)
)

register_op("moe_permute", reference_kernel(_check_permute, reference.moe_permute), _fake_permute)
for _ns in NAMESPACES:
    torch.library.register_autograd(
        qualified(_ns, "moe_permute"), _permute_backward(_ns), setup_context=_permute_setup_context
    )

register_op("moe_unpermute", reference_kernel(_check_unpermute, reference.moe_unpermute), _fake_unpermute)
register_backward(
    "moe_unpermute",
    check=_check_unpermute,
    reference=reference.moe_unpermute,
    num_outputs=1,
    grad_positions=(0, 2),  # y_sorted, topk_weights
)
