"""Reference for the fused ACT (adaptive computation time) halting-accumulate step.

act_accumulate_fwd is the reference of the companion op rdm::_act_accumulate_fwd: it also
returns each position's halting decision (halt_state), which the backward takes instead
of deciding again (act_accumulate_given_decisions), so that forward and backward always
agree even where another precision would decide differently.
"""
import torch
from torch import Tensor

# halt_state values (uint8), as in csrc/kernels/act/act_params.h.
HALTED = 0  # cum_p >= threshold before this step: weight 0
RUNNING = 1  # runs on: weight p
HALTS_NOW = 2  # halts at this step: weight 1 - cum_p


def _probability(h: Tensor, halt_weight: Tensor, halt_bias: Tensor) -> tuple[Tensor, Tensor]:
    """(h in the compute dtype, p = sigmoid(h . halt_weight + halt_bias))."""
    compute = torch.float64 if h.dtype == torch.float64 else torch.float32
    x = h.to(compute)
    logit = x @ halt_weight.to(compute) + halt_bias.to(compute).reshape(())
    return x, torch.sigmoid(logit)


def _weight(p: Tensor, cum_p: Tensor, halt_state: Tensor) -> Tensor:
    zero = torch.zeros_like(p)
    return torch.where(halt_state == HALTS_NOW, 1.0 - cum_p, torch.where(halt_state == RUNNING, p, zero))


def act_accumulate_fwd(
    h: Tensor,
    halt_weight: Tensor,
    halt_bias: Tensor,
    h_acc: Tensor,
    cum_p: Tensor,
    threshold: float,
    is_last: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One loop iteration of ACT halting: score, halt and accumulate.

    Shapes: h (..., D) in fp32/fp16/bf16 (or fp64); halt_weight (D,); halt_bias () or (1,);
    h_acc (..., D) fp32; cum_p (...) fp32 (fp64 throughout when h is fp64). Math is fp32.

    Per position: p = sigmoid(h . halt_weight + halt_bias); running = cum_p < threshold;
    halt_now = running and (cum_p + p >= threshold or is_last);
    weight = 0 if not running, 1 - cum_p if halt_now, else p;
    h_acc_out = h_acc + weight * h; cum_p_out = cum_p + weight.
    A position's weights over the loop sum to exactly 1 once it halts (at the latest when
    is_last), and it contributes nothing afterwards.

    Returns (h_acc_out (..., D), cum_p_out (...), weight (...)) in h_acc's dtype, and
    halt_state (...) uint8: HALTED, RUNNING or HALTS_NOW.
    """
    x, p = _probability(h, halt_weight, halt_bias)
    running = cum_p < threshold
    halt_now = running if is_last else running & (cum_p + p >= threshold)
    halt_state = torch.where(halt_now, HALTS_NOW, running.to(torch.uint8)).to(torch.uint8)
    weight = _weight(p, cum_p, halt_state)
    h_acc_out = h_acc + weight.unsqueeze(-1) * x
    cum_p_out = cum_p + weight
    return h_acc_out.contiguous(), cum_p_out.contiguous(), weight.contiguous(), halt_state.contiguous()


def act_accumulate(
    h: Tensor,
    halt_weight: Tensor,
    halt_bias: Tensor,
    h_acc: Tensor,
    cum_p: Tensor,
    threshold: float,
    is_last: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """act_accumulate_fwd without the decisions: (h_acc_out, cum_p_out, weight)."""
    return act_accumulate_fwd(h, halt_weight, halt_bias, h_acc, cum_p, threshold, is_last)[:3]


def act_accumulate_given_decisions(
    h: Tensor, halt_weight: Tensor, halt_bias: Tensor, cum_p: Tensor, halt_state: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """The step with the decisions fixed, as the backward differentiates it:
    (weight * h, cum_p_out, weight). h_acc only shifts h_acc_out, so it is left out."""
    x, p = _probability(h, halt_weight, halt_bias)
    weight = _weight(p, cum_p, halt_state)
    return weight.unsqueeze(-1) * x, cum_p + weight, weight
