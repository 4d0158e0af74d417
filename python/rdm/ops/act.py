"""rdm::act_accumulate: the fused ACT halting-accumulate op (public wrapper, CPU kernel,
fake kernel, autograd)."""
import torch
from torch import Tensor

from ..reference import act as reference
from ..reference._autograd import grad_through
from ._registration import NAMESPACES, op, qualified


def act_accumulate(
    h: Tensor,
    halt_weight: Tensor,
    halt_bias: Tensor,
    h_acc: Tensor,
    cum_p: Tensor,
    threshold: float = 0.99,
    is_last: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """One ACT (adaptive computation time) step of a recurrent-depth loop, fused.

    Args:
        h: (..., D) hidden state of this loop iteration; float32, float16 or bfloat16
            (float64 on CPU).
        halt_weight: (D,) halting projection, float32 or h's dtype.
        halt_bias: () or (1,), halt_weight's dtype.
        h_acc: (..., D) float32 running weighted sum of states (zeros before the loop).
        cum_p: (...) float32 cumulative halting probability (zeros before the loop).
        threshold: halting threshold in (0, 1].
        is_last: True on the last iteration: every still-running position halts.

    Per position: ``p = sigmoid(h @ halt_weight + halt_bias)`` (fp32 dot);
    ``running = cum_p < threshold``; ``halt_now = running and (cum_p + p >= threshold or
    is_last)``; ``weight = 0`` if not running, ``1 - cum_p`` if halting now, else ``p``;
    ``h_acc_out = h_acc + weight * h``; ``cum_p_out = cum_p + weight``. A halted position has
    ``cum_p_out == 1``, its weights sum to exactly 1, and it contributes nothing afterwards.

    Returns:
        (h_acc_out (..., D) float32, cum_p_out (...) float32, weight (...) float32).

    Differentiable with respect to h, halt_weight, halt_bias, h_acc and cum_p (the latter
    through the remainder ``1 - cum_p``). On CUDA one kernel reads h once per direction.
    """
    return torch.ops.rdm.act_accumulate(h, halt_weight, halt_bias, h_acc, cum_p, threshold, is_last)


def _cpu_forward(h, halt_weight, halt_bias, h_acc, cum_p, threshold, is_last):
    torch.ops.rdm._act_accumulate_check(h, halt_weight, halt_bias, h_acc, cum_p, threshold)
    return reference.act_accumulate(h, halt_weight, halt_bias, h_acc, cum_p, threshold, is_last)


def _cpu_backward(grad_h_acc_out, grad_cum_p_out, grad_weight, h, halt_weight, halt_bias, cum_p, threshold, is_last):
    torch.ops.rdm._act_accumulate_check(h, halt_weight, halt_bias, grad_h_acc_out, cum_p, threshold)
    # h_acc only shifts h_acc_out, so any h_acc gives the same gradients for the others.
    args = (h, halt_weight, halt_bias, torch.zeros_like(grad_h_acc_out), cum_p, threshold, is_last)
    return tuple(grad_through(reference.act_accumulate, args, (0, 1, 2, 4), (grad_h_acc_out, grad_cum_p_out, grad_weight)))


def _fake_forward(namespace):
    def fake(h, halt_weight, halt_bias, h_acc, cum_p, threshold, is_last):
        op(namespace, "_act_accumulate_check")(h, halt_weight, halt_bias, h_acc, cum_p, threshold)
        return h_acc.new_empty(h_acc.shape), cum_p.new_empty(cum_p.shape), cum_p.new_empty(cum_p.shape)

    return fake


def _fake_backward(grad_h_acc_out, grad_cum_p_out, grad_weight, h, halt_weight, halt_bias, cum_p, threshold, is_last):
    return (
        h.new_empty(h.shape),
        halt_weight.new_empty(halt_weight.shape),
        halt_bias.new_empty(halt_bias.shape),
        cum_p.new_empty(cum_p.shape),
    )


def _setup_context(ctx, inputs, output):
    h, halt_weight, halt_bias, _h_acc, cum_p, threshold, is_last = inputs
    ctx.save_for_backward(h, halt_weight, halt_bias, cum_p)
    ctx.threshold, ctx.is_last = threshold, is_last


def _autograd_backward(namespace):
    backward_op = op(namespace, "act_accumulate_backward")

    def backward(ctx, grad_h_acc_out, grad_cum_p_out, grad_weight):
        h, halt_weight, halt_bias, cum_p = ctx.saved_tensors
        if grad_h_acc_out is None:
            grad_h_acc_out = torch.zeros(h.shape, dtype=cum_p.dtype, device=h.device)
        grad_h, grad_w, grad_b, grad_cum_p = backward_op(
            grad_h_acc_out, grad_cum_p_out, grad_weight, h, halt_weight, halt_bias, cum_p, ctx.threshold, ctx.is_last
        )
        # h_acc_out = h_acc + ...: the gradient of h_acc is the incoming one.
        return grad_h, grad_w, grad_b, grad_h_acc_out, grad_cum_p, None, None

    return backward


torch.library.register_kernel("rdm::act_accumulate", "cpu", _cpu_forward)
torch.library.register_kernel("rdm::act_accumulate_backward", "cpu", _cpu_backward)
for _ns in NAMESPACES:
    torch.library.register_fake(qualified(_ns, "act_accumulate"), _fake_forward(_ns))
    torch.library.register_fake(qualified(_ns, "act_accumulate_backward"), _fake_backward)
    torch.library.register_autograd(
        qualified(_ns, "act_accumulate"), _autograd_backward(_ns), setup_context=_setup_context
    )
