"""Checks shared by the tests of the ops whose CPU kernel is their reference."""
import re

import pytest
import torch
from torch.library import opcheck

from tolerance import assert_close_to_oracle


def float64(args):
    """args with every floating-point tensor in float64 (indices and non-tensors unchanged)."""
    return [a.double() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args]


def check_against_float64(op_fn, reference_fn, args, names):
    """op_fn(*args) against reference_fn in float64 (the oracle) and in args' dtypes (the
    baseline of the tolerance); checks dtypes, shapes and values of every output."""
    actual = op_fn(*args)
    expected = reference_fn(*float64(args))
    baseline = reference_fn(*args)
    for name, a, e, b in zip(names, actual, expected, baseline):
        assert a.dtype == b.dtype and a.shape == b.shape, name
        if a.is_floating_point():
            assert_close_to_oracle(a.cpu(), e.cpu(), b.cpu(), name)
        else:
            assert torch.equal(a.cpu(), b.cpu()), name


def packed(lengths):
    """cu_seqlens (int32) of packed sequences of these lengths."""
    return torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)


def requiring_grad(args):
    """args with every floating-point tensor a leaf that requires grad."""
    return [a.detach().requires_grad_() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args]


def opcheck_with_and_without_grad(op, args):
    opcheck(op, tuple(args))
    opcheck(op, tuple(requiring_grad(args)))


def grads_of_outputs(outputs, seed=1):
    """Random gradients for the floating-point outputs (None for the others)."""
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(o.shape, generator=g, dtype=o.dtype).to(o.device) if o.is_floating_point() else None
        for o in outputs
    ]


def check_compiled_matches_eager(fn, args):
    """torch.compile(fn, fullgraph=True) against eager: the outputs and the gradients of a
    weighted sum of them with respect to every floating-point input."""
    leaves = requiring_grad(args)
    tensors = [a for a in leaves if isinstance(a, torch.Tensor) and a.requires_grad]

    def run(f):
        outputs = f(*leaves)
        outputs = (outputs,) if isinstance(outputs, torch.Tensor) else outputs
        differentiable = [o for o in outputs if o.requires_grad]
        loss = sum((o * w).sum() for o, w in zip(differentiable, grads_of_outputs(differentiable)))
        return [o.detach() for o in outputs], torch.autograd.grad(loss, tensors)

    eager_outputs, eager_grads = run(fn)
    compiled_outputs, compiled_grads = run(torch.compile(fn, fullgraph=True))
    for c, e in zip(compiled_outputs + list(compiled_grads), eager_outputs + list(eager_grads)):
        torch.testing.assert_close(c, e)


def check_reads_no_values_on_cuda(check_op, args):
    """check_op(*args) on CUDA copies of args, whose index values are bad, must pass without
    a device-to-host copy: on CUDA the values are the kernels' to check (they report bad ones
    through the device error flag, rdm.debug_checks), never the host's on every call."""
    cuda_args = [a.cuda() if isinstance(a, torch.Tensor) else a for a in args]
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("error")
    try:
        check_op(*cuda_args)
    finally:
        torch.cuda.set_sync_debug_mode(previous)


def raises(op_name, message):
    """pytest.raises for the RuntimeError "rdm.<op_name>: ..." containing `message` verbatim."""
    return pytest.raises(RuntimeError, match=re.escape(f"rdm.{op_name}: ") + ".*" + re.escape(message))


def message_ids(value):
    return value if isinstance(value, str) else ""
