"""rdm::act_accumulate: the fused ACT halting-accumulate op (public wrapper; CPU kernels,
fakes and autograd of its internal companion rdm::_act_accumulate_fwd and of
rdm::act_accumulate_backward).

rdm::act_accumulate itself is a C++ composite of rdm::_act_accumulate_fwd, which also
returns each position's halting decision; autograd saves those decisions for the
backward, which never decides again. The CUDA kernels (and the emulated ones of rdm_simt)
are registered in C++.
"""
import torch
from torch import Tensor

from ..reference import act as reference
from ._registration import reference_kernel, register_autograd, register_op


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
    through the remainder ``1 - cum_p``); the backward takes the forward's halting decisions
    rather than deciding again. On CUDA one kernel reads h once per direction. Inputs need
    not be contiguous: any layout whose last dimension is contiguous and whose leading
    dimensions collapse into one stride is read in place.
    """
    return torch.ops.rdm.act_accumulate(h, halt_weight, halt_bias, h_acc, cum_p, threshold, is_last)


def _check(h, halt_weight, halt_bias, h_acc, cum_p, threshold, is_last):
    torch.ops.rdm._act_accumulate_check(h, halt_weight, halt_bias, h_acc, cum_p, threshold)


def _fake_forward(h, halt_weight, halt_bias, h_acc, cum_p, threshold, is_last):
    _check(h, halt_weight, halt_bias, h_acc, cum_p, threshold, is_last)
    def position(dtype=cum_p.dtype):
        return cum_p.new_empty(cum_p.shape, dtype=dtype)

    return h_acc.new_empty(h_acc.shape), position(), position(), position(torch.uint8)


_CPU = ("cpu",)  # the CUDA kernels are in C++
register_op("_act_accumulate_fwd", reference_kernel(_check, reference.act_accumulate_fwd), _fake_forward, devices=_CPU)
register_autograd(
    "_act_accumulate_fwd",
    backward="act_accumulate_backward",
    check=torch.ops.rdm._act_accumulate_backward_check,
    reference=reference.act_accumulate_given_decisions,
    num_grads=3,  # h_acc_out, cum_p_out, weight (halt_state is not differentiable)
    saved_inputs=(0, 1, 2, 4),  # h, halt_weight, halt_bias, cum_p
    saved_outputs=(3,),  # halt_state
    grad_positions=(0, 1, 2, 4),
    forwarded_grads={3: 0},  # h_acc_out = h_acc + weight * h
    devices=_CPU,
)
