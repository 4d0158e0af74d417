"""Backward of a reference op by autograd through its forward (the CPU backward kernels).

A backward kernel can run below the autograd layer: torch.compile's runtime calls it with
the Autograd dispatch keys excluded from the thread-local dispatch state, where
``enable_grad`` alone records nothing. torch has no public API to put those keys back, but
that state, like grad mode, is per thread and starts fresh in a new thread. So the autograd
computation runs on one persistent worker thread, with the caller waiting for its result
(and getting its exceptions). The alternative, a closed-form backward per reference, would
repeat every reference's math in a second, hand-derived form that must be kept in step with
it; these kernels are the slow reference path, where a thread hand-off costs nothing.
"""
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

import torch
from torch import Tensor

_worker_state = threading.local()  # .active: set on the worker thread
_executor_lock = threading.Lock()
_executor = None


def _mark_worker():
    _worker_state.active = True


def _worker() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rdm-grad-through",
                                           initializer=_mark_worker)
        return _executor


def _on_caller_stream(args, fn):
    """fn wrapped to run on the caller's current CUDA device and stream (both per thread:
    the worker would otherwise use the default stream and race with the caller's work)."""
    device = next((a.device for a in args if isinstance(a, Tensor) and a.is_cuda), None)
    if device is None:
        return fn
    stream = torch.cuda.current_stream(device)

    def on_stream():
        with torch.cuda.device(device), torch.cuda.stream(stream):
            return fn()

    return on_stream


def _with_autograd(fn):
    """fn() with autograd recording, whatever the calling thread's dispatch state."""

    def with_grad():
        with torch.enable_grad():
            return fn()

    if getattr(_worker_state, "active", False):
        # Re-entered from the worker itself (a reference that calls an op whose backward
        # is a reference too): its state is already fresh, and waiting for itself would hang.
        return with_grad()
    return _worker().submit(with_grad).result()


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

    def gradients():
        leaves_args = list(args)
        for i in wrt:
            leaves_args[i] = leaves_args[i].detach().requires_grad_(True)
        outputs = forward(*leaves_args)
        pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if g is not None and o.requires_grad]
        leaves = [leaves_args[i] for i in wrt]
        grads = (
            torch.autograd.grad([o for o, _ in pairs], leaves, [g for _, g in pairs], allow_unused=True)
            if pairs
            else [None] * len(leaves)
        )
        return [torch.zeros_like(leaf) if g is None else g.detach() for leaf, g in zip(leaves, grads)]

    return _with_autograd(_on_caller_stream(args, gradients))
