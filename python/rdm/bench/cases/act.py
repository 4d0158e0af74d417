"""Cases for rdm.ops.act_accumulate: one adaptive-computation-time halting step.

Per position: p = sigmoid(h . w + b); positions still running whose cumulative
probability crosses the threshold (or all running ones on the last step) halt with
weight 1 - cum_p, other running ones get weight p, halted ones 0; the weighted h is
added to h_acc and the weight to cum_p.
"""
from __future__ import annotations

import torch

from rdm.bench.harness import FWD, FWD_BWD, Case, CaseInputs, simt_op
from rdm.bench.roofline import Cost

THRESHOLD = 0.99
# Positions whose halting decision is within this distance of the threshold are moved
# to the halted state when inputs are built: there fp32 and the float64 oracle could
# round to different decisions, a legitimate difference the check would call a bug.
DECISION_MARGIN = 1e-3
HALTED_FRACTION = 0.25  # mid-recurrence, some positions have already halted

MODEL_DIMS = {"100M": 768, "500M": 1536, "1B": 2048}
TOKENS = {  # per size: label -> (batch, sequence)
    "full": {"b8x2048": (8, 2048), "b1x4096": (1, 4096), "decode b64x1": (64, 1)},
    "small": {"b1x512": (1, 512), "decode b64x1": (64, 1)},
}
# Few enough threads for the SIMT emulation; D=192 and 5 tokens are not powers of two so
# that the kernels' partial-tile paths run too. D=512 (warp per row) and D=1024 (128 threads
# per row) are wide enough for tests/test_simt_counters.py to hold the per-request sector
# efficiency at the model widths, where per-row scalars weigh little.
TINY_SHAPES = {
    "tiny D64 b2x8": (2, 8, 64),
    "tiny D192 b1x5": (1, 5, 192),
    "tiny D512 b1x4": (1, 4, 512),
    "tiny D1024 b1x3": (1, 3, 1024),
}


def act_accumulate_naive(h, halt_weight, halt_bias, h_acc, cum_p, threshold: float, is_last: bool):
    """What one would write without the fused op: separate fp32 torch ops."""
    h32 = h.float()
    p = torch.sigmoid(torch.matmul(h32, halt_weight) + halt_bias)
    running = cum_p < threshold
    halt_now = running & ((cum_p + p >= threshold) | is_last)
    weight = torch.where(halt_now, 1.0 - cum_p, torch.where(running, p, torch.zeros_like(p)))
    h_acc_out = h_acc + weight.unsqueeze(-1) * h32
    cum_p_out = cum_p + weight
    return h_acc_out, cum_p_out, weight


def _input_factory(batch: int, seq: int, dim: int):
    def make_inputs(device: torch.device, dtype: torch.dtype, requires_grad: bool) -> CaseInputs:
        # Drawn on the device itself: on the CPU, full-size inputs would take longer to
        # build than the GPU takes to run the case.
        generator = torch.Generator(device).manual_seed(0)

        def draw(sampler, *shape):
            return sampler(*shape, generator=generator, device=device)

        h = draw(torch.randn, batch, seq, dim).to(dtype)
        halt_weight = draw(torch.randn, dim) / dim**0.5  # logits ~ N(0, 1)
        halt_bias = draw(torch.randn, 1)
        h_acc = draw(torch.randn, batch, seq, dim)
        cum_p = draw(torch.rand, batch, seq) * (THRESHOLD - DECISION_MARGIN)
        halted = draw(torch.rand, batch, seq) < HALTED_FRACTION
        p = torch.sigmoid(h.double() @ halt_weight.double() + halt_bias.double())
        ambiguous = (cum_p.double() + p - THRESHOLD).abs() < DECISION_MARGIN
        cum_p = torch.where(halted | ambiguous, torch.ones_like(cum_p), cum_p)

        tensors = [t.requires_grad_(requires_grad) for t in (h, halt_weight, halt_bias, h_acc, cum_p)]
        grad_outputs = ()
        if requires_grad:
            grad_outputs = (draw(torch.randn, batch, seq, dim), draw(torch.randn, batch, seq), draw(torch.randn, batch, seq))
        return CaseInputs((*tensors, THRESHOLD, False), grad_outputs)

    return make_inputs


def _forward_cost(tokens: int, dim: int, dtype: torch.dtype) -> Cost:
    elt = torch.finfo(dtype).bits // 8
    read = tokens * dim * elt + tokens * dim * 4 + tokens * 4 + dim * 4 + 4  # h, h_acc, cum_p, w, b
    # h_acc_out, cum_p_out, weight, and the uint8 halting decisions saved for the backward
    write = tokens * dim * 4 + tokens * 4 + tokens * 4 + tokens
    return Cost(read + write, flops=4 * tokens * dim)  # dot product + weighted accumulate


# The backward's grid, as csrc/kernels/act/act_params.h sizes it: per row tile (the first
# whose row covers D): (elements per row, rows per block, blocks resident per SM).
_BACKWARD_TILES = ((256, 4, 4), (512, 4, 4), (2048, 1, 4), (8192, 1, 1))
_H200_SMS = 132  # when no GPU is present to ask


def _backward_blocks(tokens: int, dim: int) -> int:
    sms = torch.cuda.get_device_properties(0).multi_processor_count if torch.cuda.is_available() else _H200_SMS
    rows_per_block, per_sm = next((rows, per_sm) for cols, rows, per_sm in _BACKWARD_TILES if dim <= cols)
    return min(-(-tokens // rows_per_block), sms * per_sm)


def _backward_cost(tokens: int, dim: int, dtype: torch.dtype) -> Cost:
    """What the backward moves: the kernel and the column sum of its per-block partial
    gradients, which writes grad_halt_weight and grad_halt_bias directly (fp32 parameters:
    no copy). grad_h_acc is grad_h_acc_out itself (h_acc_out = h_acc + ...): nothing is
    written."""
    elt = torch.finfo(dtype).bits // 8
    partials = _backward_blocks(tokens, dim) * (dim + 1) * 4
    # h, grad_h_acc_out, grads of cum_p_out and weight, cum_p, halt_state, w, b
    kernel_read = tokens * dim * elt + tokens * dim * 4 + 2 * tokens * 4 + tokens * 4 + tokens + dim * 4 + 4
    kernel_write = tokens * dim * elt + tokens * 4 + partials  # grad_h, grad_cum_p, partials
    column_sum = partials + (dim + 1) * 4  # reads the partials, writes the two gradients
    # 2ND for the dot grad_h_acc_out . h (the gradient of p), 2ND for grad_w = sum dlogit * h,
    # 4ND for grad_h = weight * grad_h_acc_out + dlogit * w
    return Cost(kernel_read + kernel_write + column_sum, flops=8 * tokens * dim)


def _cost_function(tokens: int, dim: int, mode: str):
    def cost(dtype: torch.dtype) -> Cost:
        forward = _forward_cost(tokens, dim, dtype)
        return forward if mode == FWD else forward + _backward_cost(tokens, dim, dtype)

    return cost


def _case(label: str, batch: int, seq: int, dim: int, mode: str, with_simt: bool) -> Case:
    return Case(
        op="act_accumulate",
        label=label,
        shape=f"{batch}x{seq}x{dim}",
        mode=mode,
        make_inputs=_input_factory(batch, seq, dim),
        cost=_cost_function(batch * seq, dim, mode),
        kernel="rdm.ops:act_accumulate",
        reference="rdm.reference:act_accumulate",
        naive=act_accumulate_naive,
        simt=simt_op("act_accumulate") if with_simt else None,
        output_names=("h_acc_out", "cum_p_out", "weight"),
        arg_names=("h", "halt_weight", "halt_bias", "h_acc", "cum_p"),
    )


def cases(size: str) -> list[Case]:
    if size == "tiny":
        shapes = [(label, batch, seq, dim) for label, (batch, seq, dim) in TINY_SHAPES.items()]
    else:
        shapes = [
            (f"{model} {tokens_label}", batch, seq, dim)
            for model, dim in MODEL_DIMS.items()
            for tokens_label, (batch, seq) in TOKENS[size].items()
        ]
    return [
        _case(label, batch, seq, dim, mode, with_simt=size == "tiny")
        for label, batch, seq, dim in shapes
        for mode in (FWD, FWD_BWD)
    ]
