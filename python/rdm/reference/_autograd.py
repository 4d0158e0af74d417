"""Backward of a reference op by autograd through its forward (the CPU backward kernels)."""
from typing import Callable, Sequence

import torch
from torch import Tensor


def grad_through(
    forward: Callable[..., Sequence[Tensor]],
    args: Sequence,
    wrt: Sequence[int],
    grad_outputs: Sequence[Tensor | None],
) -> list[Tensor]:
    """Gradients of forward(*args) with respect to args[i] for i in wrt.

    grad_outputs holds one gradient per output (None: no gradient flows into it). Inputs
    that do not influence any output get zero gradients, never None.
    """
    args = list(args)
    with torch.enable_grad():
        for i in wrt:
            args[i] = args[i].detach().requires_grad_(True)
        outputs = forward(*args)
        pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if g is not None and o.requires_grad]
        leaves = [args[i] for i in wrt]
        grads = (
            torch.autograd.grad([o for o, _ in pairs], leaves, [g for _, g in pairs], allow_unused=True)
            if pairs
            else [None] * len(leaves)
        )
    return [torch.zeros_like(leaf) if g is None else g.detach() for leaf, g in zip(leaves, grads)]
