"""rdm.act_accumulate: reference semantics, emulated and CUDA kernels, autograd, compile."""
import math

import pytest
import torch
from torch.library import opcheck

import rdm
from rdm.reference import act as act_reference
from rdm.reference._autograd import grad_through
from act_inputs import LAYOUTS, act_inputs, as_float64, misaligned_copy, strided_copy
from tolerance import assert_close_to_oracle

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
OUTPUTS = ("h_acc_out", "cum_p_out", "weight")
GRADS = ("grad_h", "grad_halt_weight", "grad_halt_bias", "grad_cum_p")
needs_simt = pytest.mark.skipif(not rdm.HAS_SIMT, reason="rdm was built without the SIMT emulation")
NAMESPACES = ["rdm", pytest.param("rdm_simt", marks=needs_simt)]

# (lead shape, D), chosen per kernel code path: the table beside the kernels
# (csrc/kernels/act/act_kernel.h) says which shape reaches which path.
KERNEL_SHAPES = [
    ((1, 1), 1),
    ((2, 3), 3),
    ((1, 7), 40),
    ((4, 9), 40),
    ((3, 5), 72),
    ((2, 5), 300),
    ((3, 4), 999),
    ((3, 4), 1000),
    ((1, 5), 2999),
    ((1, 5), 5000),
]


def oracle(args, threshold, is_last):
    """The float64 reference's (h_acc_out, cum_p_out, weight, halt_state)."""
    return act_reference.act_accumulate_fwd(*as_float64(args), threshold, is_last)


def check_forward(actual, args, threshold, is_last):
    """actual: the 3 outputs of act_accumulate, or the 4 of _act_accumulate_fwd."""
    expected = oracle(args, threshold, is_last)
    baseline = act_reference.act_accumulate_fwd(*args, threshold, is_last)
    for name, a, e, b in zip(OUTPUTS, actual, expected, baseline):
        assert a.dtype == torch.float32, name
        assert_close_to_oracle(a.cpu(), e, b.cpu(), name)
    if len(actual) == 4:
        assert actual[3].dtype == torch.uint8
        assert torch.equal(actual[3].cpu(), expected[3]), "halt_state differs from the float64 decisions"


def reference_backward(args, grads, halt_state):
    """Gradients (h, halt_weight, halt_bias, cum_p) by autograd through the reference, with
    the forward's decisions fixed."""
    h, w, b, _, cum_p = args
    return grad_through(act_reference.act_accumulate_given_decisions, (h, w, b, cum_p, halt_state), (0, 1, 2, 3), grads)


def check_backward(actual, args, grads, halt_state):
    expected = reference_backward(as_float64(args), [None if g is None else g.double() for g in grads], halt_state)
    baseline = reference_backward(args, grads, halt_state)
    assert expected[1].abs().max() > 0, "a case whose parameter gradients are all zero hides bugs"
    for name, a, e, base in zip(GRADS, actual, expected, baseline):
        assert a.dtype == base.dtype and a.shape == base.shape, name
        assert_close_to_oracle(a.cpu(), e, base.cpu(), name)


def random_grads(args, seed=1):
    g = torch.Generator().manual_seed(seed)
    h, _, _, h_acc, cum_p = args
    return tuple(torch.randn(t.shape, generator=g).to(t.device) for t in (h_acc, cum_p, cum_p))


# --- semantics of the op on its CPU (reference) path -------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lead,dim", [((1, 1), 1), ((2, 9), 40), ((4, 3), 72), ((1, 33), 256)])
@pytest.mark.parametrize("is_last", [False, True])
def test_cpu_path_matches_float64(dtype, lead, dim, is_last):
    args = act_inputs(lead, dim, dtype, 0.9, seed=dim)
    check_forward(rdm.ops.act_accumulate(*args, 0.9, is_last), args, 0.9, is_last)
    check_forward(torch.ops.rdm._act_accumulate_fwd(*args, 0.9, is_last), args, 0.9, is_last)


def _tie_inputs():
    """Halt weight 0 and bias 0, so p = 0.5 exactly: cum_p 0.25 lands exactly on the
    threshold 0.75 (halts: >=), 0.2 runs on, 0.9 has halted."""
    g = torch.Generator().manual_seed(0)
    lead, dim = (2, 5), 40
    h = torch.randn(*lead, dim, generator=g)
    cum_p = torch.tensor([0.25, 0.2, 0.25, 0.0, 0.9] * 2).view(lead)
    h_acc = torch.randn(*lead, dim, generator=g)
    return h, torch.zeros(dim), torch.zeros(()), h_acc, cum_p


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_exact_threshold_tie_halts(namespace, poison_empty):
    args = _tie_inputs()
    ops = getattr(torch.ops, namespace)
    h_acc_out, cum_p_out, weight, halt_state = ops._act_accumulate_fwd(*args, 0.75, False)
    expected_state = torch.tensor([2, 1, 2, 1, 0] * 2, dtype=torch.uint8).view(2, 5)
    assert torch.equal(halt_state, expected_state)
    assert torch.equal(weight, torch.tensor([0.75, 0.5, 0.75, 0.5, 0.0] * 2).view(2, 5))
    assert torch.equal(cum_p_out, torch.tensor([1.0, 0.7, 1.0, 0.5, 0.9] * 2).view(2, 5))

    # The backward through autograd sees the halting positions as halting.
    leaves = [t.clone().requires_grad_() for t in args]
    outs = ops.act_accumulate(*leaves, 0.75, False)
    grads = random_grads(args)
    actual = torch.autograd.grad(outs, [leaves[i] for i in (0, 1, 2, 4)], grads)
    check_backward(actual, args, grads, expected_state)


def test_semantics_per_position():
    h, w, b, h_acc, _ = act_inputs((4,), 8, torch.float32)
    cum_p = torch.tensor([0.0, 0.5, 0.95, 1.0])
    w = torch.zeros(8)
    b = torch.tensor(math.log(0.3 / 0.7))  # p = 0.3 everywhere
    h_acc_out, cum_out, weight = rdm.ops.act_accumulate(h, w, b, h_acc, cum_p, 0.75, False)
    # 0.0 + 0.3 runs on; 0.5 + 0.3 halts with the remainder; 0.95 and 1.0 have halted.
    torch.testing.assert_close(weight, torch.tensor([0.3, 0.5, 0.0, 0.0]))
    torch.testing.assert_close(cum_out, torch.tensor([0.3, 1.0, 0.95, 1.0]))
    torch.testing.assert_close(h_acc_out, h_acc + weight[:, None] * h)


@pytest.mark.parametrize("threshold", [0.5, 0.99, 1.0])
@pytest.mark.parametrize("bias", [-8.0, 0.0, 3.0])  # never / sometimes / quickly halting
def test_weights_sum_to_one_over_the_loop(threshold, bias):
    n_loops, lead, dim = 6, (3, 11), 16
    g = torch.Generator().manual_seed(0)
    w = torch.randn(dim, generator=g) / 4
    b = torch.tensor(bias)
    h_acc, cum_p = torch.zeros(*lead, dim), torch.zeros(lead)
    expected_acc, total_weight = torch.zeros(*lead, dim, dtype=torch.float64), torch.zeros(lead, dtype=torch.float64)
    for t in range(n_loops):
        h = torch.randn(*lead, dim, generator=g)
        was_halted = cum_p >= threshold
        h_acc, cum_p, weight = rdm.ops.act_accumulate(h, w, b, h_acc, cum_p, threshold, t == n_loops - 1)
        assert (weight[was_halted] == 0).all(), "a halted position contributed again"
        expected_acc += weight.double()[..., None] * h.double()
        total_weight += weight.double()
    assert (cum_p == 1.0).all(), "every position ends with cum_p == 1 exactly"
    torch.testing.assert_close(total_weight, torch.ones_like(total_weight), rtol=0, atol=1e-6)
    torch.testing.assert_close(h_acc.double(), expected_acc, rtol=1e-5, atol=1e-5)


def test_gradcheck_float64():
    h, w, b, h_acc, cum_p = as_float64(act_inputs((2, 3), 5, torch.float32, 0.8, margin=1e-2))
    leaves = [t.requires_grad_() for t in (h, w, b, h_acc, cum_p)]
    for is_last in (False, True):
        assert torch.autograd.gradcheck(lambda *a: rdm.ops.act_accumulate(*a, 0.8, is_last), leaves)


@pytest.mark.parametrize("requires_grad", [False, True])
def test_opcheck_cpu(requires_grad):
    args = list(act_inputs((2, 3), 24, torch.float32))
    if requires_grad:
        args = [t.requires_grad_() for t in args]
    opcheck(torch.ops.rdm.act_accumulate.default, (*args, 0.9, False))
    opcheck(torch.ops.rdm._act_accumulate_fwd.default, (*args, 0.9, True))
    grads = random_grads(args)
    state = oracle([a.detach() for a in args], 0.9, False)[3]
    saved = [args[i].detach() for i in (0, 1, 2, 4)]
    opcheck(torch.ops.rdm.act_accumulate_backward.default, (grads[0], grads[1], None, *saved, state))


@pytest.mark.compile
def test_torch_compile_fullgraph():
    args = [t.requires_grad_() for t in act_inputs((2, 5), 32, torch.float32)]

    def step(h, w, b, h_acc, cum_p):
        h_acc, cum_p, weight = rdm.ops.act_accumulate(torch.tanh(h), w, b, h_acc, cum_p, 0.9, False)
        return (h_acc.sum() + cum_p.sum() + weight.sum()) * 2

    compiled = torch.compile(step, fullgraph=True)
    eager_grads = torch.autograd.grad(step(*args), args)
    compiled_grads = torch.autograd.grad(compiled(*args), args)
    for e, c in zip(eager_grads, compiled_grads):
        torch.testing.assert_close(c, e)


# --- input validation ---------------------------------------------------------------------


def _bad_inputs():
    h, w, b, h_acc, cum_p = act_inputs((2, 3), 8, torch.float32)
    yield "halt_weight must have shape", (h, w[:4], b, h_acc, cum_p, 0.9)
    yield "halt_bias must have shape", (h, w, torch.zeros(2), h_acc, cum_p, 0.9)
    yield "h_acc must have h's shape", (h, w, b, h_acc[:, :2], cum_p, 0.9)
    yield "h_acc must be float32", (h, w, b, h_acc.half(), cum_p, 0.9)
    yield "cum_p must have shape", (h, w, b, h_acc, cum_p[:1], 0.9)
    yield "cum_p must be float32", (h, w, b, h_acc, cum_p.double(), 0.9)
    yield "h must be float32, float16 or bfloat16", (h.int(), w, b, h_acc, cum_p, 0.9)
    yield "h's last dimension D must be at least 1", (h[..., :0], w[:0], b, h_acc[..., :0], cum_p, 0.9)
    yield "must be on h's device", (h, w.to("meta"), b, h_acc, cum_p, 0.9)
    for bad in (0.0, 1.5, -0.1, float("nan")):
        yield "threshold must lie in (0, 1]", (h, w, b, h_acc, cum_p, bad)


def _bad_backward_inputs():
    h, w, b, h_acc, cum_p = act_inputs((2, 3), 8, torch.float32)
    state = torch.ones(cum_p.shape, dtype=torch.uint8)
    g = torch.ones_like(cum_p)
    yield "halt_state \\(the forward's decisions\\) must be Byte", (h_acc, g, g, h, w, b, cum_p, state.float())
    yield "halt_state \\(the forward's decisions\\) must have cum_p's shape", (h_acc, g, g, h, w, b, cum_p, state[:1])
    yield "grad_cum_p_out must have cum_p's shape", (h_acc, g[:1], g, h, w, b, cum_p, state)
    yield "grad_weight must be a floating tensor", (h_acc, g, g.int(), h, w, b, cum_p, state)


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("message,args", list(_bad_backward_inputs()), ids=lambda x: x if isinstance(x, str) else "")
def test_bad_backward_inputs_raise_clear_errors(namespace, message, args):
    with pytest.raises(RuntimeError, match=message):
        getattr(torch.ops, namespace).act_accumulate_backward(*args)


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("message,args", list(_bad_inputs()), ids=lambda x: x if isinstance(x, str) else "")
def test_bad_inputs_raise_clear_errors(namespace, message, args):
    op = getattr(torch.ops, namespace).act_accumulate
    with pytest.raises(RuntimeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        op(*args, False)


@needs_simt
def test_kernel_rejects_float64_and_oversized_rows():
    args = act_inputs((1, 2), 8, torch.float32)
    with pytest.raises(RuntimeError, match="float64 runs on the CPU reference path"):
        torch.ops.rdm_simt.act_accumulate(*as_float64(args), 0.9, False)
    big = act_inputs((1,), 8193, torch.float32)
    with pytest.raises(RuntimeError, match="supports D up to 8192"):
        torch.ops.rdm_simt.act_accumulate(*big, 0.9, False)


# --- the CUDA kernels, emulated on the CPU ---------------------------------------------------


@needs_simt
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lead,dim", KERNEL_SHAPES)
def test_emulated_forward_kernel(dtype, lead, dim, poison_empty):
    args = act_inputs(lead, dim, dtype, 0.9, seed=dim)
    for is_last in (False, True):
        check_forward(torch.ops.rdm_simt._act_accumulate_fwd(*args, 0.9, is_last), args, 0.9, is_last)


@needs_simt
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lead,dim", KERNEL_SHAPES)
def test_emulated_backward_kernel(dtype, lead, dim, poison_empty):
    args = act_inputs(lead, dim, dtype, 0.9, seed=dim)
    h, w, b, _, cum_p = args
    # The decisions of a step that is not the last: on the last one no position runs on,
    # and the parameter gradients would all be zero.
    state = oracle(args, 0.9, False)[3]
    g_acc, g_cum, g_weight = random_grads(args)
    for grads in ((g_acc, g_cum, g_weight), (g_acc, None, g_weight), (g_acc, g_cum, None)):
        actual = torch.ops.rdm_simt.act_accumulate_backward(*grads, h, w, b, cum_p, state)
        check_backward(actual, args, grads, state)


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_backward_follows_saved_decisions(namespace, poison_empty):
    """Decisions other than the ones h would give now: the backward must use them."""
    args = act_inputs((4, 9), 40, torch.float32)
    h, w, b, _, cum_p = args
    recomputed = oracle(args, 0.9, False)[3]
    saved = torch.randint(0, 3, recomputed.shape, generator=torch.Generator().manual_seed(2), dtype=torch.uint8)
    assert (saved != recomputed).sum() > 10
    grads = random_grads(args)
    actual = getattr(torch.ops, namespace).act_accumulate_backward(*grads, h, w, b, cum_p, saved)
    check_backward(actual, args, grads, saved)


@needs_simt
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("dim", [64, 1000])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_emulated_kernel_strided_inputs(dtype, dim, layout, poison_empty):
    """Every tensor input in a non-contiguous layout (rows a stride apart, or leading
    dimensions transposed): same results as from contiguous inputs."""
    args = act_inputs((3, 4), dim, dtype, seed=dim)
    h, w, b, h_acc, cum_p = args
    strided = (strided_copy(h, layout, rows=True), w, b, strided_copy(h_acc, layout, rows=True))
    strided = (*strided, strided_copy(cum_p, layout, rows=False))
    out = torch.ops.rdm_simt._act_accumulate_fwd(*strided, 0.9, False)
    check_forward(out, args, 0.9, False)

    g_acc, g_cum, g_weight = random_grads(args)
    grads = (strided_copy(g_acc, layout, rows=True), *(strided_copy(g, layout, rows=False) for g in (g_cum, g_weight)))
    state = strided_copy(out[3], layout, rows=False)
    actual = torch.ops.rdm_simt.act_accumulate_backward(*grads, strided[0], w, b, strided[4], state)
    check_backward(actual, args, (g_acc, g_cum, g_weight), out[3])


@needs_simt
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_emulated_kernel_unaligned_rows_and_bf16_parameters(dtype, poison_empty):
    h, w, b, h_acc, cum_p = act_inputs((2, 3), 64, dtype, param_dtype=dtype)
    args = (misaligned_copy(h), w, b, misaligned_copy(h_acc), cum_p)
    assert args[0].data_ptr() % 16 != 0
    out = torch.ops.rdm_simt._act_accumulate_fwd(*args, 0.9, False)
    check_forward(out, args, 0.9, False)
    g = random_grads(args)
    grad_w = torch.ops.rdm_simt.act_accumulate_backward(*g, args[0], w, b, cum_p, out[3])[1]
    assert grad_w.dtype == dtype
    expected = reference_backward(as_float64(args), [x.double() for x in g], out[3])[1]
    torch.testing.assert_close(grad_w.double(), expected, rtol=2e-2, atol=1e-2)


@needs_simt
def test_emulated_kernel_through_autograd_and_opcheck():
    args = [t.requires_grad_() for t in act_inputs((2, 3), 40, torch.float32)]
    outs = torch.ops.rdm_simt.act_accumulate(*args, 0.9, False)
    loss = sum((o * (i + 1)).sum() for i, o in enumerate(outs))
    grads = torch.autograd.grad(loss, args)
    ref_outs = rdm.reference.act_accumulate(*args, 0.9, False)
    ref_grads = torch.autograd.grad(sum((o * (i + 1)).sum() for i, o in enumerate(ref_outs)), args)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-5)
    detached = [a.detach() for a in args]
    opcheck(torch.ops.rdm_simt.act_accumulate.default, (*detached, 0.9, False))
    opcheck(torch.ops.rdm_simt._act_accumulate_fwd.default, (*args, 0.9, False))
    grads_out = random_grads(detached)
    state = oracle(detached, 0.9, False)[3]
    saved = [detached[i] for i in (0, 1, 2, 4)]
    opcheck(torch.ops.rdm_simt.act_accumulate_backward.default, (*grads_out, *saved, state))


# --- the CUDA kernels on a GPU -----------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lead,dim", KERNEL_SHAPES + [((8, 2048), 2048), ((64,), 768)])
def test_cuda_kernel_matches_oracle_and_emulation(dtype, lead, dim, poison_empty):
    args = act_inputs(lead, dim, dtype, 0.9, seed=dim)
    cuda_args = tuple(t.cuda() for t in args)
    grads = random_grads(args)
    cuda_grads = tuple(g.cuda() for g in grads)
    for is_last in (False, True):
        out = torch.ops.rdm._act_accumulate_fwd(*cuda_args, 0.9, is_last)
        check_forward(out, args, 0.9, is_last)
        if rdm.HAS_SIMT and math.prod(lead) * dim <= 16384:
            twin = torch.ops.rdm_simt._act_accumulate_fwd(*args, 0.9, is_last)
            for a, e in zip(out, twin):
                torch.testing.assert_close(a.cpu(), e, rtol=1e-5, atol=1e-5)
    h, w, b, _, cum_p = cuda_args
    state = oracle(args, 0.9, False)[3]
    back = torch.ops.rdm.act_accumulate_backward(*cuda_grads, h, w, b, cum_p, state.cuda())
    check_backward(back, args, grads, state)


@pytest.mark.cuda
@pytest.mark.parametrize("layout", LAYOUTS)
def test_cuda_kernel_strided_inputs(layout, poison_empty):
    args = act_inputs((8, 64), 1024, torch.bfloat16)
    h, w, b, h_acc, cum_p = (t.cuda() for t in args)
    strided = (strided_copy(h, layout, rows=True), w, b, strided_copy(h_acc, layout, rows=True))
    out = torch.ops.rdm._act_accumulate_fwd(*strided, strided_copy(cum_p, layout, rows=False), 0.9, False)
    check_forward(out, args, 0.9, False)


@pytest.mark.cuda
def test_cuda_opcheck_and_compile():
    args = [t.cuda().requires_grad_() for t in act_inputs((4, 7), 96, torch.bfloat16)]
    opcheck(torch.ops.rdm.act_accumulate.default, (*args, 0.9, False))
    opcheck(torch.ops.rdm._act_accumulate_fwd.default, (*args, 0.9, False))
    compiled = torch.compile(lambda *a: rdm.ops.act_accumulate(*a, 0.9, True), fullgraph=True)
    for c, e in zip(compiled(*args), rdm.ops.act_accumulate(*args, 0.9, True)):
        torch.testing.assert_close(c, e)
