"""Shared plumbing for registering the Python side of an op in both op libraries."""
import torch
from torch import Tensor

from .._loader import HAS_SIMT
from ..reference._autograd import grad_through

# `rdm` always; `rdm_simt` (the emulated CUDA kernels) when it was built. Fakes and
# autograd are registered for both so that opcheck and gradients work on either.
NAMESPACES = ("rdm", "rdm_simt") if HAS_SIMT else ("rdm",)


def qualified(namespace: str, name: str) -> str:
    return f"{namespace}::{name}"


def op(namespace: str, name: str):
    return getattr(getattr(torch.ops, namespace), name).default


# --- ops whose CPU kernel is the reference -------------------------------------------------
#
# Such an op's kernel runs its C++ check op, then the reference. Until an op's CUDA kernel
# lands (it is listed in csrc/registration/pending_cuda_kernels.txt) the reference is its
# CUDA kernel too. Its backward op, rdm::<name>_backward, takes the gradients of the outputs,
# then the op's inputs (then its outputs, if `saves_outputs`), and returns the gradients of
# the inputs at `grad_positions`, an empty tensor for an absent optional input (a fixed list
# of defined tensors); the autograd formula maps those back to None.


def fresh(outputs, inputs):
    """Op outputs as their schemas and fakes promise: contiguous, never aliasing an input (a
    reference may return a transposed view, or an input's own gradient unchanged)."""

    def one(t):
        t = t.contiguous()
        shares_storage = any(
            isinstance(i, Tensor) and i.untyped_storage().data_ptr() == t.untyped_storage().data_ptr() for i in inputs
        )
        return t.clone() if shares_storage else t

    return one(outputs) if isinstance(outputs, Tensor) else tuple(one(t) for t in outputs)


def reference_kernel(check, reference):
    """A kernel that validates its inputs with check(*inputs), then runs reference(*inputs)."""

    def kernel(*inputs):
        check(*inputs)
        return fresh(reference(*inputs), inputs)

    return kernel


def _with_defaults(name, fn):
    """fn called with every argument of rdm::<name>: the dispatcher leaves out the trailing
    arguments that equal their schema defaults when it calls a Python kernel or fake."""
    defaults = [argument.default_value for argument in op("rdm", name)._schema.arguments]

    def complete(*args):
        return fn(*args, *defaults[len(args) :])

    return complete


def register_op(name, kernel, fake):
    """kernel: rdm::<name>'s CPU and (for now) CUDA kernel; fake: its fake in every namespace."""
    torch.library.register_kernel(qualified("rdm", name), ("cpu", "cuda"), _with_defaults(name, kernel))
    for namespace in NAMESPACES:
        torch.library.register_fake(qualified(namespace, name), _with_defaults(name, fake))


def _absent_grad(inputs, grad_positions):
    """The gradient of an absent optional input: an empty tensor (a new one each time, as
    outputs must not alias each other)."""
    return inputs[grad_positions[0]].new_empty(0)


def register_backward(name, *, check, reference, num_outputs, grad_positions, saves_outputs=False):
    """Registers rdm::<name>_backward (kernel: autograd through reference; fake) and the
    autograd formula of rdm::<name>, in every namespace (see the section comment)."""

    def forward(*inputs):  # grad_through needs a sequence of outputs
        outputs = reference(*inputs)
        return (outputs,) if isinstance(outputs, Tensor) else outputs

    def split(args):
        inputs = args[num_outputs : len(args) - num_outputs if saves_outputs else len(args)]
        return args[:num_outputs], inputs

    def kernel(*args):
        grad_outputs, inputs = split(args)
        check(*inputs)
        present = [i for i in grad_positions if inputs[i] is not None]
        grads = dict(zip(present, grad_through(forward, inputs, present, grad_outputs)))
        grads = [grads[i] if i in grads else _absent_grad(inputs, grad_positions) for i in grad_positions]
        return fresh(grads, args)

    def fake(*args):
        _, inputs = split(args)
        check(*inputs)
        return tuple(
            _absent_grad(inputs, grad_positions) if inputs[i] is None else inputs[i].new_empty(inputs[i].shape)
            for i in grad_positions
        )

    def setup_context(ctx, inputs, output):
        saved = (*inputs, *output) if saves_outputs else inputs
        ctx.tensor_positions = [i for i, a in enumerate(saved) if isinstance(a, Tensor)]
        ctx.save_for_backward(*(saved[i] for i in ctx.tensor_positions))
        ctx.non_tensors = [None if isinstance(a, Tensor) else a for a in saved]

    def autograd_backward(backward_op):
        def backward(ctx, *grad_outputs):
            saved = list(ctx.non_tensors)
            for i, t in zip(ctx.tensor_positions, ctx.saved_tensors):
                saved[i] = t
            inputs = saved[: len(saved) - num_outputs] if saves_outputs else saved
            grads = backward_op(*grad_outputs, *saved)
            input_grads = [None] * len(inputs)
            for i, grad in zip(grad_positions, grads):
                input_grads[i] = None if inputs[i] is None else grad
            return tuple(input_grads)

        return backward

    register_op(f"{name}_backward", kernel, fake)
    for namespace in NAMESPACES:
        torch.library.register_autograd(
            qualified(namespace, name),
            autograd_backward(op(namespace, f"{name}_backward")),
            setup_context=setup_context,
        )
