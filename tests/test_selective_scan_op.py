"""rdm.selective_scan and rdm.selective_state_update: the ops on their reference path,
opcheck, gradients, compile, input validation."""
import pytest
import torch
from torch.library import opcheck

import rdm
from op_checks import (
    check_against_float64,
    check_compiled_matches_eager,
    check_reads_no_values_on_cuda,
    float64,
    grads_of_outputs,
    message_ids,
    opcheck_with_and_without_grad,
    packed,
    raises,
)

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
OUTPUTS = ("out", "last_state")


def scan_inputs(dtype=torch.float32, *, batch=2, dim=4, state_size=3, length=9, groups=2, optional=True,
                bc_dtype=None, lengths=None, seed=0):
    """selective_scan's arguments in schema order. `groups=None`: 3-D B and C (one group);
    `lengths`: packed sequences of these lengths (batch 1, cu_seqlens)."""
    g = torch.Generator().manual_seed(seed)
    param = torch.float64 if dtype == torch.float64 else torch.float32
    if lengths is not None:
        batch, length = 1, sum(lengths)
    states = batch if lengths is None else len(lengths)
    bc_shape = (batch, state_size, length) if groups is None else (batch, groups, state_size, length)

    def randn(*shape, dtype=dtype, scale=1.0):
        return (scale * torch.randn(*shape, generator=g)).to(dtype)

    u, delta, z = randn(batch, dim, length), randn(batch, dim, length, scale=0.5), randn(batch, dim, length)
    A = -torch.exp(randn(dim, state_size, dtype=param))
    B, C = randn(*bc_shape, dtype=bc_dtype or dtype), randn(*bc_shape, dtype=bc_dtype or dtype)
    D, delta_bias = randn(dim, dtype=param), randn(dim, dtype=param, scale=0.5)
    initial_state = randn(states, dim, state_size, dtype=param)
    cu_seqlens = None if lengths is None else packed(lengths)
    if not optional:
        D = z = delta_bias = initial_state = None
    return [u, delta, A, B, C, D, z, delta_bias, optional, initial_state, cu_seqlens]


VARIANTS = {
    "all_inputs": dict(),
    "no_optional_inputs_3d_bc": dict(optional=False, groups=None),
    "packed_sequences": dict(lengths=[3, 1, 5]),
    "packed_with_empty_sequences": dict(lengths=[0, 3, 0, 0, 5, 0]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_cpu_path_matches_float64(dtype, variant):
    args = scan_inputs(dtype, **VARIANTS[variant])
    check_against_float64(rdm.ops.selective_scan, rdm.reference.selective_scan, args, OUTPUTS)


def test_float32_b_and_c_with_bfloat16_u():
    args = scan_inputs(torch.bfloat16, bc_dtype=torch.float32)
    check_against_float64(rdm.ops.selective_scan, rdm.reference.selective_scan, args, OUTPUTS)


def test_packed_sequences_match_separate_runs():
    u, delta, A, B, C, D, z, bias, softplus, h0, cu = scan_inputs(lengths=[3, 1, 5])
    out, last = rdm.ops.selective_scan(u, delta, A, B, C, D, z, bias, softplus, h0, cu)
    for s, (start, end) in enumerate(zip(cu.tolist(), cu.tolist()[1:])):
        u_s, delta_s, B_s, C_s, z_s = (t[..., start:end] for t in (u, delta, B, C, z))
        out_s, last_s = rdm.ops.selective_scan(u_s, delta_s, A, B_s, C_s, D, z_s, bias, softplus, h0[s : s + 1])
        torch.testing.assert_close(out[..., start:end], out_s)
        torch.testing.assert_close(last[s : s + 1], last_s)


@pytest.mark.parametrize("optional", [True, False])
def test_empty_packed_sequences_keep_their_initial_state(optional):
    u, delta, A, B, C, D, z, bias, softplus, h0, cu = scan_inputs(lengths=[0, 3, 0, 5, 0], optional=optional)
    out, last = rdm.ops.selective_scan(u, delta, A, B, C, D, z, bias, softplus, h0, cu)
    empty, full = [0, 2, 4], [1, 3]
    expected_empty = torch.zeros_like(last[empty]) if h0 is None else h0[empty]
    torch.testing.assert_close(last[empty], expected_empty, rtol=0, atol=0)
    # The other sequences are as if the empty ones were not there.
    h0_full = None if h0 is None else h0[full]
    out_full, last_full = rdm.ops.selective_scan(u, delta, A, B, C, D, z, bias, softplus, h0_full, packed([3, 5]))
    torch.testing.assert_close(out, out_full)
    torch.testing.assert_close(last[full], last_full)
    assert last_full.abs().min() > 0


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradcheck_float64(variant):
    args = float64(scan_inputs(length=5, **VARIANTS[variant]))
    positions = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.is_floating_point()]

    def scan(*tensors):
        full = list(args)
        for i, t in zip(positions, tensors):
            full[i] = t
        return rdm.ops.selective_scan(*full)

    assert torch.autograd.gradcheck(scan, [args[i].requires_grad_() for i in positions])


def test_backward_op_gives_empty_gradients_for_absent_inputs():
    args = scan_inputs(optional=False)
    outputs = rdm.ops.selective_scan(*args)
    grads = torch.ops.rdm.selective_scan_backward(*grads_of_outputs(outputs), *args)
    assert [g.numel() for g in grads[5:8]] == [0, 0, 0] and grads[8].numel() == 0
    leaves = [t.requires_grad_() for t in args[:5]]
    expected = torch.autograd.grad(rdm.ops.selective_scan(*leaves, *args[5:]), leaves, grads_of_outputs(outputs))
    for g, e in zip(grads[:5], expected):
        torch.testing.assert_close(g, e)


@pytest.mark.parametrize("variant", VARIANTS)
def test_opcheck(variant):
    args = scan_inputs(length=5, **VARIANTS[variant])
    opcheck_with_and_without_grad(torch.ops.rdm.selective_scan.default, args)
    grad_out, grad_last = grads_of_outputs(rdm.ops.selective_scan(*args))
    opcheck(torch.ops.rdm.selective_scan_backward.default, (grad_out, grad_last, *args))
    opcheck(torch.ops.rdm.selective_scan_backward.default, (grad_out, None, *args))


# --- the decode step ------------------------------------------------------------------------


def update_inputs(dtype=torch.float32, optional=True, groups=2):
    u, delta, A, B, C, D, z, bias, softplus, h0, _ = scan_inputs(dtype, length=1, optional=True, groups=groups)
    step = [t[..., 0] for t in (u, delta, B, C, z)]
    x, dt, B, C, z = step
    if not optional:
        D = z = bias = None
    return [h0, x, dt, A, B, C, D, z, bias, optional]


@pytest.mark.parametrize("dtype", DTYPES + [torch.float64])
@pytest.mark.parametrize("optional,groups", [(True, 2), (False, None)])
def test_state_update_is_one_scan_step_in_place(dtype, optional, groups):
    state, x, dt, A, B, C, D, z, bias, softplus = update_inputs(dtype, optional, groups)
    before, storage = state.clone(), state.data_ptr()
    y = rdm.ops.selective_state_update(state, x, dt, A, B, C, D, z, bias, softplus)
    x_1, dt_1, B_1, C_1, z_1 = (None if t is None else t[..., None] for t in (x, dt, B, C, z))
    out, last = rdm.reference.selective_scan(x_1, dt_1, A, B_1, C_1, D, z_1, bias, softplus, before)
    assert y.dtype == x.dtype and state.data_ptr() == storage
    torch.testing.assert_close(y, out[..., 0])
    torch.testing.assert_close(state, last)


def test_state_update_opcheck():
    opcheck(torch.ops.rdm.selective_state_update.default, tuple(update_inputs()))
    opcheck(torch.ops.rdm.selective_state_update.default, tuple(update_inputs(torch.bfloat16, False, None)))


@pytest.mark.compile
def test_torch_compile_fullgraph():
    args = scan_inputs(length=6, lengths=[2, 4])

    def scan(u, delta, A, B, C, D, z, bias, h0):
        out, last = rdm.ops.selective_scan(torch.tanh(u), delta, A, B, C, D, z, bias, True, h0, args[-1])
        return out * 2, last

    check_compiled_matches_eager(scan, args[:8] + [args[9]])

    def decode(state, x, dt, A, B, C):
        return rdm.ops.selective_state_update(state, x, dt, A, B, C, dt_softplus=True)

    eager_state, x, dt, A, B, C = update_inputs()[:6]
    compiled_state = eager_state.clone()
    eager_y = decode(eager_state, x, dt, A, B, C)
    compiled_y = torch.compile(decode, fullgraph=True)(compiled_state, x, dt, A, B, C)
    torch.testing.assert_close(compiled_y, eager_y)
    torch.testing.assert_close(compiled_state, eager_state)


# --- input validation -----------------------------------------------------------------------


def _bad_scan_inputs():
    def good(**changes):
        args = dict(zip(["u", "delta", "A", "B", "C", "D", "z", "delta_bias", "delta_softplus", "initial_state",
                         "cu_seqlens"], scan_inputs()))
        return list({**args, **changes}.values())

    u, delta, A, B, C, D, z, bias, _, h0, _ = scan_inputs()
    yield "u must have shape (batch, dim, L)", good(u=u[0])
    yield "u must be float32, float16 or bfloat16", good(u=u.int())
    yield "u must have at least one time step", good(u=u[..., :0], delta=delta[..., :0], z=z[..., :0],
                                                     B=B[..., :0], C=C[..., :0])
    yield "delta must have shape (batch, dim, L)", good(delta=delta[:1])
    yield "delta must be u's dtype float32, got float16", good(delta=delta.half())
    yield "z must be u's dtype float32, got float64", good(z=z.double())
    yield "A must have shape (dim, N)", good(A=A[:2])
    yield "A must be float32, got float16", good(A=A.half())
    yield "A must be float64 (as u is float64), got float32", good(u=u.double(), delta=delta.double(), z=z.double())
    yield "D must have shape (dim,)", good(D=D[:2])
    yield "delta_bias must be float32", good(delta_bias=bias.half())
    yield "B must have shape (batch, N, L) or (batch, G, N, L)", good(B=B[:, :, :2], C=C[:, :, :2])
    yield "G dividing dim = 4", good(B=torch.randn(2, 3, 3, 9), C=torch.randn(2, 3, 3, 9))
    yield "B must be u's dtype float32, got float16", good(B=B.half(), C=C.half())
    yield "C must have shape B's shape", good(C=C[..., :4])
    yield "C must be B's dtype float32, got float64", good(C=C.double())
    yield "initial_state must have shape (batch, dim, N)", good(initial_state=h0[:1])
    yield "initial_state must be float32", good(initial_state=h0.half())
    yield "z must be on u's device", good(z=z.to("meta"))
    packed_args = scan_inputs(lengths=[3, 1, 5])
    cu = packed_args[-1]
    yield "cu_seqlens must be int32", packed_args[:-1] + [cu.long()]
    yield "cu_seqlens must have shape (S + 1,)", packed_args[:-1] + [cu[:1]]
    yield "u must have batch size 1", scan_inputs(optional=False)[:-1] + [torch.tensor([0, 9], dtype=torch.int32)]
    yield "initial_state must have shape (S, dim, N) (one per packed sequence)", packed_args[:-1] + [cu[[0, 1, 3]]]
    yield "cu_seqlens must start at 0, got cu_seqlens[0] = 1", packed_args[:-1] + [cu + 1]
    yield "cu_seqlens must be non-decreasing (equal neighbours: an empty sequence), got cu_seqlens[2] = 2 after 3", \
        packed_args[:-1] + [torch.tensor([0, 3, 2, 9], dtype=torch.int32)]
    yield "cu_seqlens must end at the number of tokens 9, got cu_seqlens[3] = 8", \
        packed_args[:-1] + [torch.tensor([0, 3, 4, 8], dtype=torch.int32)]


@pytest.mark.parametrize("message,args", list(_bad_scan_inputs()), ids=message_ids)
def test_bad_inputs_raise_clear_errors(message, args):
    with raises("selective_scan", message):
        rdm.ops.selective_scan(*args)


def test_values_are_not_read_from_meta_tensors():
    args = scan_inputs(lengths=[3, 1, 5])
    args[-1] = torch.tensor([5, 3, 3, 2], dtype=torch.int32)  # wrong values, right shape
    out, last = torch.ops.rdm.selective_scan(*[a.to("meta") if isinstance(a, torch.Tensor) else a for a in args])
    assert out.shape == args[0].shape and last.shape == (3, 4, 3)


def _bad_update_inputs():
    state, x, dt, A, B, C, D, z, bias, softplus = update_inputs()
    yield "x must have shape (batch, dim) or (batch, heads, head_dim)", [state, x[..., None, None], dt, A, B, C, D, z,
                                                                         bias, softplus]
    yield "A must have shape (heads, head_dim, N)", [state[..., None, :], x[..., None], dt[..., None], A, B, C, None,
                                                     None, None, softplus]
    yield "dt must be x's dtype float32, got float16", [state, x, dt.half(), A, B, C, D, z, bias, softplus]
    yield "B must have shape (batch, N) or (batch, G, N)", [state, x, dt, A, B[..., None], C, D, z, bias, softplus]
    yield "dt_bias must have shape (dim,)", [state, x, dt, A, B, C, D, z, bias[:1], softplus]
    yield "state must have shape (batch, dim, N)", [state[:1], x, dt, A, B, C, D, z, bias, softplus]
    yield "state must be float32, float16 or bfloat16, got float64", [state.double(), x, dt, A, B, C, D, z, bias,
                                                                     softplus]
    yield "state_batch_indices must have shape (batch,)", [state, x, dt, A, B, C, D, z, bias, softplus,
                                                           torch.zeros(1, dtype=torch.int32)]
    yield "state_batch_indices must be int32, got int64", [state, x, dt, A, B, C, D, z, bias, softplus,
                                                           torch.zeros(x.shape[0], dtype=torch.int64)]


@pytest.mark.parametrize("message,args", list(_bad_update_inputs()), ids=message_ids)
def test_bad_update_inputs_raise_clear_errors(message, args):
    with raises("selective_state_update", message):
        rdm.ops.selective_state_update(*args)


# --- the CUDA kernels ----------------------------------------------------------------------------


def _cuda(args):
    return [a.cuda() if isinstance(a, torch.Tensor) else a for a in args]


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_kernels_match_float64(dtype):
    """The CUDA forward against the float64 oracle; its backward and the decode step
    against the CPU reference (the same kernels' emulated twins are tested in
    test_selective_scan_kernels.py)."""
    args = scan_inputs(dtype, lengths=[3, 1, 5])
    check_against_float64(lambda *a: [o.cpu() for o in rdm.ops.selective_scan(*_cuda(a))],
                          rdm.reference.selective_scan, args, OUTPUTS)
    cuda_args = _cuda(args)
    opcheck(torch.ops.rdm.selective_scan.default, tuple(cuda_args))
    args32 = scan_inputs(torch.float32, lengths=[3, 1, 5])
    grads = grads_of_outputs(rdm.ops.selective_scan(*args32))
    cuda_grads = torch.ops.rdm.selective_scan_backward(*_cuda(grads), *_cuda(args32))
    for c, e in zip(cuda_grads, torch.ops.rdm.selective_scan_backward(*grads, *args32)):
        torch.testing.assert_close(c.cpu(), e, atol=1e-4, rtol=1e-4)
    state, *rest = update_inputs(dtype)
    cuda_state = state.cuda()
    y = rdm.ops.selective_state_update(cuda_state, *_cuda(rest))
    expected = rdm.ops.selective_state_update(state, *rest)
    torch.testing.assert_close(y.cpu(), expected, atol=1e-2, rtol=1e-2)
    torch.testing.assert_close(cuda_state.cpu(), state, atol=1e-4, rtol=1e-4)
    u, delta, A, B, C, D, z, bias, _, h0, cu = args
    check_reads_no_values_on_cuda(torch.ops.rdm._selective_scan_check, [u, delta, A, B, C, D, z, bias, h0, cu + 1])
