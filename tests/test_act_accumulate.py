"""rdm.act_accumulate: reference semantics, emulated and CUDA kernels, autograd, compile."""
import math

import pytest
import torch
from torch.library import opcheck

import rdm
from rdm.reference._autograd import grad_through
from act_inputs import act_inputs, as_float64, misaligned_copy
from tolerance import assert_close_to_oracle

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
OUTPUTS = ("h_acc_out", "cum_p_out", "weight")
GRADS = ("grad_h", "grad_halt_weight", "grad_halt_bias", "grad_cum_p")
needs_simt = pytest.mark.skipif(not rdm.HAS_SIMT, reason="rdm was built without the SIMT emulation")

# (lead shape, D): batch 1, length 1, odd D (scalar path), D like 40/72, and one row
# length per kernel tile (a warp per row holding 8 or 16 elements per thread, 128 and 512
# threads per row).
KERNEL_SHAPES = [((1, 1), 1), ((2, 3), 3), ((1, 7), 40), ((3, 5), 72), ((2, 5), 300), ((1, 3), 1000), ((1, 2), 5000)]


def oracle(args, threshold, is_last):
    return rdm.reference.act_accumulate(*as_float64(args), threshold, is_last)


def check_forward(actual, args, threshold, is_last):
    expected = oracle(args, threshold, is_last)
    baseline = rdm.reference.act_accumulate(*args, threshold, is_last)
    for name, a, e, b in zip(OUTPUTS, actual, expected, baseline):
        assert a.dtype == torch.float32, name
        assert_close_to_oracle(a.cpu(), e, b.cpu(), name)


def reference_backward(args, grads, threshold, is_last):
    """Gradients (h, halt_weight, halt_bias, cum_p) by autograd through the reference."""
    return grad_through(rdm.reference.act_accumulate, (*args, threshold, is_last), (0, 1, 2, 4), grads)


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
    grads = random_grads(args)
    opcheck(torch.ops.rdm.act_accumulate_backward.default, (grads[0], grads[1], None, *[args[i].detach() for i in (0, 1, 2, 4)], 0.9, True))


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


@pytest.mark.parametrize("namespace", ["rdm", pytest.param("rdm_simt", marks=needs_simt)])
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
        check_forward(torch.ops.rdm_simt.act_accumulate(*args, 0.9, is_last), args, 0.9, is_last)


@needs_simt
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lead,dim", KERNEL_SHAPES)
def test_emulated_backward_kernel(dtype, lead, dim, poison_empty):
    args = act_inputs(lead, dim, dtype, 0.9, seed=dim)
    grads = random_grads(args)
    h, w, b, _, cum_p = args
    for is_last, (g_acc, g_cum, g_weight) in ((False, grads), (True, (grads[0], None, grads[2]))):
        actual = torch.ops.rdm_simt.act_accumulate_backward(g_acc, g_cum, g_weight, h, w, b, cum_p, 0.9, is_last)
        grads_in = (g_acc, g_cum, g_weight)
        expected = reference_backward(as_float64(args), [None if g is None else g.double() for g in grads_in], 0.9, is_last)
        baseline = reference_backward(args, grads_in, 0.9, is_last)
        for name, a, e, base in zip(GRADS, actual, expected, baseline):
            assert a.dtype == base.dtype and a.shape == base.shape, name
            assert_close_to_oracle(a, e, base, name)


@needs_simt
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_emulated_kernel_unaligned_rows_and_bf16_parameters(dtype, poison_empty):
    h, w, b, h_acc, cum_p = act_inputs((2, 3), 64, dtype, param_dtype=dtype)
    args = (misaligned_copy(h), w, b, misaligned_copy(h_acc), cum_p)
    assert args[0].data_ptr() % 16 != 0
    check_forward(torch.ops.rdm_simt.act_accumulate(*args, 0.9, False), args, 0.9, False)
    g = random_grads(args)
    grad_w = torch.ops.rdm_simt.act_accumulate_backward(g[0], g[1], g[2], args[0], w, b, cum_p, 0.9, False)[1]
    assert grad_w.dtype == dtype
    expected = reference_backward(as_float64(args), [x.double() for x in g], 0.9, False)[1]
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
    opcheck(torch.ops.rdm_simt.act_accumulate.default, (*[a.detach() for a in args], 0.9, False))


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
        out = rdm.ops.act_accumulate(*cuda_args, 0.9, is_last)
        check_forward(out, args, 0.9, is_last)
        h, w, b, _, cum_p = cuda_args
        back = torch.ops.rdm.act_accumulate_backward(*cuda_grads, h, w, b, cum_p, 0.9, is_last)
        expected = reference_backward(as_float64(args), [g.double() for g in grads], 0.9, is_last)
        baseline = reference_backward(args, grads, 0.9, is_last)
        for name, a, e, base in zip(GRADS, back, expected, baseline):
            assert_close_to_oracle(a.cpu(), e, base, name)
        if rdm.HAS_SIMT and math.prod(lead) * dim <= 16384:
            twin = torch.ops.rdm_simt.act_accumulate(*args, 0.9, is_last)
            for a, e in zip(out, twin):
                torch.testing.assert_close(a.cpu(), e, rtol=1e-5, atol=1e-5)


@pytest.mark.cuda
def test_cuda_opcheck_and_compile():
    args = [t.cuda().requires_grad_() for t in act_inputs((4, 7), 96, torch.bfloat16)]
    opcheck(torch.ops.rdm.act_accumulate.default, (*args, 0.9, False))
    compiled = torch.compile(lambda *a: rdm.ops.act_accumulate(*a, 0.9, True), fullgraph=True)
    for c, e in zip(compiled(*args), rdm.ops.act_accumulate(*args, 0.9, True)):
        torch.testing.assert_close(c, e)
