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
# CUDA kernel too; once it lands in C++, the op registers the reference for "cpu" only.
#
# Backward ops: an op's autograd formula calls a backward op (rdm::<name>_backward, by
# default) with the gradients of the op's differentiable outputs, then what the forward
# saved: some or all of its inputs and, where the backward needs them, some of its outputs
# (e.g. the halting decisions that rdm::_act_accumulate_fwd, the internal companion of
# rdm::act_accumulate, returns for its backward). The backward op returns the gradients of
# the inputs at `grad_positions`, an empty tensor for an absent optional input (a fixed
# list of defined tensors); the autograd formula maps those back to None. Its reference
# kernel differentiates `reference(*saved)` by autograd.


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


REFERENCE_DEVICES = ("cpu", "cuda")  # an op whose CUDA kernel is still pending


def register_op(name, kernel, fake, *, devices=REFERENCE_DEVICES):
    """kernel: rdm::<name>'s kernel on `devices`, those where it is the Python reference
    ("cpu", and "cuda" while the CUDA kernel is pending); fake: its fake in every namespace."""
    torch.library.register_kernel(qualified("rdm", name), devices, _with_defaults(name, kernel))
    for namespace in NAMESPACES:
        torch.library.register_fake(qualified(namespace, name), _with_defaults(name, fake))


def _as_tuple(outputs):
    return (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)


def register_autograd(
    name,
    *,
    check,
    reference,
    num_grads,
    grad_positions,
    backward=None,
    saved_inputs=None,
    saved_outputs=(),
    forwarded_grads=None,
    devices=REFERENCE_DEVICES,
):
    """Registers the backward op (kernel on `devices`: autograd through reference; fake) and
    the autograd formula of rdm::<name>, in every namespace (see the section comment).

    backward: the backward op's name (default <name>_backward). It takes the gradients of
    the first num_grads outputs of rdm::<name>, then the saved arguments: the inputs at
    saved_inputs (default: all), then the outputs at saved_outputs. check(*args) validates
    all of its arguments; reference(*saved) recomputes those num_grads outputs
    differentiably. grad_positions: the inputs (each a saved one) whose gradients it
    returns, in order. forwarded_grads: {input position: output position} for inputs whose
    gradient is an output's gradient unchanged (e.g. an accumulator added to the output)."""
    backward = backward or f"{name}_backward"
    forwarded_grads = forwarded_grads or {}

    def layout(num_inputs):
        """Saved input positions, and each grad position's index among the saved arguments."""
        inputs = tuple(range(num_inputs)) if saved_inputs is None else tuple(saved_inputs)
        return inputs, [inputs.index(i) for i in grad_positions]

    def split(args):  # the backward op's arguments: gradients, then what was saved
        return args[:num_grads], args[num_grads:]

    def absent_grad(saved, saved_at):
        """The gradient of an absent optional input: an empty tensor (a new one each time, as
        outputs must not alias each other)."""
        return saved[saved_at[0]].new_empty(0)

    def saved_positions(saved):
        return layout(len(saved) - len(saved_outputs))[1]

    def forward(*saved):  # grad_through needs a sequence of outputs
        return _as_tuple(reference(*saved))

    def kernel(*args):
        check(*args)
        grad_outputs, saved = split(args)
        saved_at = saved_positions(saved)
        present = [j for j in saved_at if saved[j] is not None]
        grads = dict(zip(present, grad_through(forward, saved, present, grad_outputs)))
        return fresh([grads[j] if j in grads else absent_grad(saved, saved_at) for j in saved_at], args)

    def fake(*args):
        check(*args)
        _, saved = split(args)
        saved_at = saved_positions(saved)
        return tuple(
            absent_grad(saved, saved_at) if saved[j] is None else saved[j].new_empty(saved[j].shape) for j in saved_at
        )

    def setup_context(ctx, inputs, output):
        outputs = _as_tuple(output)
        saved = [inputs[i] for i in layout(len(inputs))[0]] + [outputs[i] for i in saved_outputs]
        ctx.num_inputs = len(inputs)
        ctx.tensor_positions = [i for i, a in enumerate(saved) if isinstance(a, Tensor)]
        ctx.save_for_backward(*(saved[i] for i in ctx.tensor_positions))
        ctx.non_tensors = [None if isinstance(a, Tensor) else a for a in saved]

    def autograd_backward(backward_op):
        def formula(ctx, *grad_outputs):
            saved = list(ctx.non_tensors)
            for i, t in zip(ctx.tensor_positions, ctx.saved_tensors):
                saved[i] = t
            grads = backward_op(*grad_outputs[:num_grads], *saved)
            input_grads = [None] * ctx.num_inputs
            for i, j, grad in zip(grad_positions, layout(ctx.num_inputs)[1], grads):
                input_grads[i] = None if saved[j] is None else grad
            for i, o in forwarded_grads.items():
                input_grads[i] = grad_outputs[o]
            return tuple(input_grads)

        return formula

    register_op(backward, kernel, fake, devices=devices)
    for namespace in NAMESPACES:
        torch.library.register_autograd(
            qualified(namespace, name),
            autograd_backward(op(namespace, backward)),
            setup_context=setup_context,
        )


def register_backward(name, *, check, reference, num_outputs, grad_positions, saves_outputs=False):
    """register_autograd for an op whose backward takes the gradients of all its outputs,
    then all its inputs (then all its outputs if `saves_outputs`); check and reference take
    the op's inputs."""

    def inputs_of(args):
        saved = args[num_outputs:]
        return saved[: len(saved) - num_outputs] if saves_outputs else saved

    register_autograd(
        name,
        check=lambda *args: check(*inputs_of(args)),
        reference=lambda *saved: reference(*inputs_of((None,) * num_outputs + saved)),
        num_grads=num_outputs,
        grad_positions=grad_positions,
        saved_outputs=tuple(range(num_outputs)) if saves_outputs else (),
    )
