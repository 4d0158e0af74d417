"""Backward of a reference op by autograd through its forward (the CPU backward kernels)."""
import contextlib
from typing import Callable, Sequence

import torch
from torch import Tensor


@contextlib.contextmanager
def _autograd_enabled():
    """Grad mode on and the autograd dispatch keys back in play.

    A backward kernel runs below the autograd layer (torch.compile's runtime excludes the
    Autograd keys from the thread-local dispatch state), where enable_grad alone would
    record nothing.
    """
    include = torch._C._dispatch_tls_local_include_set()
    exclude = torch._C._dispatch_tls_local_exclude_set()
    autograd = torch._C.DispatchKeySet(torch._C.DispatchKey.ADInplaceOrView)
    for key in ("AutogradFunctionality", "AutogradOther", "AutogradNestedTensor"):
        autograd = autograd | torch._C.DispatchKeySet(getattr(torch._C.DispatchKey, key))
    with torch.enable_grad(), torch._C._ForceDispatchKeyGuard(include, exclude - autograd):
        yield


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
    with _autograd_enabled():
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
