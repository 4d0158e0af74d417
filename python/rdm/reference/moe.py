"""Reference mixture-of-experts routing (permute / unpermute) and grouped GEMM.

Row groups are described by ``offsets`` (E,) int32: the cumulative row ends of the
experts' groups, non-decreasing; expert e owns rows ``[offsets[e-1], offsets[e])`` with
``offsets[-1]`` read as 0, so empty groups are repeated values.
"""
import torch

from ._precision import compute_dtype


def grouped_gemm(x, w, offsets):
    """Multiplies each expert's group of rows by that expert's weight.

    Shapes and dtypes:
        x: (M, K), fp32/fp16/bf16 (float64 allowed for testing).
        w: (E, K, N), same dtype family as x.
        offsets: (E,) int32 cumulative row ends (see module docstring), ``offsets[E-1] ≤ M``.

    Semantics: ``out[rows of e] = x[rows of e] @ w[e]``; rows from ``offsets[E-1]`` on
    belong to no expert and are zero.

    Returns out (M, N) in x's dtype, accumulated in fp32 (float64 for float64 inputs).
    Differentiable w.r.t. x and w.
    """
    dtype = compute_dtype(x, w)
    ends = offsets.tolist()
    group_sizes = [end - start for start, end in zip([0] + ends[:-1], ends)]
    # A plain loop over experts on contiguous row slices: exact-size products, no masks and
    # no padding to the largest group (which would cost up to E times the memory when
    # routing is imbalanced).
    groups = x[:ends[-1]].split(group_sizes)
    # A CPU matmul of fp16/bf16 operands accumulates in fp32 and rounds once, to x's dtype:
    # what converting the operands to fp32 first gives, without the converted copies (on
    # CUDA, reduced-precision reductions may be enabled, so the operands are converted).
    if x.device.type == "cpu" and x.dtype == w.dtype:
        dtype = x.dtype
    # Experts without rows are skipped: a decoding step routes a token or two among many.
    products = [rows.to(dtype) @ w[expert].to(dtype) for expert, rows in enumerate(groups) if len(rows)]
    unrouted = x.new_zeros(x.shape[0] - ends[-1], w.shape[-1], dtype=dtype)
    return torch.cat(products + [unrouted]).to(x.dtype)


def moe_permute(x, topk_ids, num_experts):
    """Copies every token once per chosen expert, grouped by expert.

    Shapes and dtypes:
        x: (T, D), any float dtype.
        topk_ids: (T, k) integer, values in ``[0, num_experts)``; slot s of token t routes
            to expert ``topk_ids[t, s]``.

    Returns:
        x_sorted: (T·k, D) in x's dtype. Rows are ordered by expert ascending and, within an
            expert, by (token, slot) ascending; row r is ``x[row_id[r] // k]``.
        row_id: (T·k,) int32, ``row_id[r] = token·k + slot`` of row r.
        offsets: (num_experts,) int32 cumulative row ends of the experts' groups.

    Differentiable w.r.t. x.
    """
    slots_per_token = topk_ids.shape[1]
    expert_of_row = topk_ids.reshape(-1)  # indexed by token·k + slot
    # A stable sort keeps the (token, slot) order within each expert.
    row_id = torch.argsort(expert_of_row, stable=True)
    x_sorted = x[row_id // slots_per_token]
    offsets = torch.bincount(expert_of_row, minlength=num_experts).cumsum(0)
    return x_sorted, row_id.to(torch.int32), offsets.to(torch.int32)


def moe_unpermute(y_sorted, row_id, topk_weights):
    """Sums every token's expert outputs weighted by its routing weights.

    Shapes and dtypes:
        y_sorted: (T·k, D), fp32/fp16/bf16 (float64 allowed for testing), in the row order
            produced by ``moe_permute``.
        row_id: (T·k,) int32 from ``moe_permute``: row r holds slot ``row_id[r] % k`` of token
            ``row_id[r] // k``.
        topk_weights: (T, k) float.

    Semantics: ``y[t] = Σ_s topk_weights[t, s] · y_sorted[r]`` where ``row_id[r] = t·k + s``.

    Returns y (T, D) in y_sorted's dtype, accumulated in fp32 (float64 for float64 inputs).
    Differentiable w.r.t. y_sorted and topk_weights.
    """
    dtype = compute_dtype(y_sorted, topk_weights)
    num_tokens, slots_per_token = topk_weights.shape
    # Inverse permutation: the sorted row holding each (token, slot).
    row_of_slot = torch.argsort(row_id)
    y_by_slot = y_sorted.to(dtype)[row_of_slot].reshape(num_tokens, slots_per_token, -1)
    y = (topk_weights.to(dtype).unsqueeze(-1) * y_by_slot).sum(dim=1)
    return y.to(y_sorted.dtype)
