"""Reference for the fused ACT (adaptive computation time) halting-accumulate step."""
import torch
from torch import Tensor


def act_accumulate(
    h: Tensor,
    halt_weight: Tensor,
    halt_bias: Tensor,
    h_acc: Tensor,
    cum_p: Tensor,
    threshold: float,
    is_last: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """One loop iteration of ACT halting: score, halt and accumulate.

    Shapes: h (..., D) in fp32/fp16/bf16 (or fp64); halt_weight (D,); halt_bias () or (1,);
    h_acc (..., D) fp32; cum_p (...) fp32 (fp64 throughout when h is fp64). Math is fp32.

    Per position: p = sigmoid(h . halt_weight + halt_bias); running = cum_p < threshold;
    halt_now = running and (cum_p + p >= threshold or is_last);
    weight = 0 if not running, 1 - cum_p if halt_now, else p;
    h_acc_out = h_acc + weight * h; cum_p_out = cum_p + weight.
    A position's weights over the loop sum to exactly 1 once it halts (at the latest when
    is_last), and it contributes nothing afterwards.

    Returns (h_acc_out (..., D), cum_p_out (...), weight (...)), in h_acc's dtype.
    """
    compute = torch.float64 if h.dtype == torch.float64 else torch.float32
    x = h.to(compute)
    logit = x @ halt_weight.to(compute) + halt_bias.to(compute).reshape(())
    p = torch.sigmoid(logit)
    running = cum_p < threshold
    halt_now = running if is_last else running & (cum_p + p >= threshold)
    weight = torch.where(halt_now, 1.0 - cum_p, torch.where(running, p, torch.zeros_like(p)))
    h_acc_out = h_acc + weight.unsqueeze(-1) * x
    cum_p_out = cum_p + weight
    return h_acc_out.contiguous(), cum_p_out.contiguous(), weight.contiguous()
