"""The selective-scan CUDA kernels (forward scan and decode step), emulated through
torch.ops.rdm_simt, against the float64 reference. Shapes are small (one OS thread per CUDA
thread) and chosen per code path: the list of which shape reaches which path is beside
each kernel (csrc/kernels/selective_scan/selective_scan_{fwd,decode}_kernel.h)."""
import pytest
import torch

import rdm
from op_checks import check_against_float64, check_compiled_matches_eager, float64, opcheck_with_and_without_grad
from rdm import reference
from test_selective_scan_op import OUTPUTS, scan_inputs
from tolerance import assert_close_to_oracle

pytestmark = pytest.mark.skipif(not rdm.HAS_SIMT, reason="rdm was built without the SIMT emulation")
DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def positive_steps(args):
    """Without softplus Δ is delta + delta_bias itself: keep it positive (a negative step makes
    exp(Δ A) > 1, and the state grows until it overflows)."""
    args = list(args)
    args[1] = args[1].abs()
    if args[7] is not None:
        args[7] = args[7].abs()
    return args


def simt_scan(*args):
    return torch.ops.rdm_simt.selective_scan(*args)


def check_scan(args):
    check_against_float64(simt_scan, reference.selective_scan, args, OUTPUTS)


def read_flag(name="selective_scan"):
    return torch.ops.rdm_simt._device_errors(torch.empty(0), name)


# (batch, dim, N, L, groups): chunk kChunk = 128 steps, 4 per lane, 4 channels per block.
SHAPES = {
    "L1_N1": (1, 4, 1, 1, None),            # one step: the tail path only
    "L9_N16_G2": (2, 4, 16, 9, 2),           # one chunk, vector loads + tail
    "L130_N16_dim6": (2, 6, 16, 130, 1),     # two chunks (carry), partial last block
    "L300_N40_G2": (1, 4, 40, 300, 2),       # three chunks, N > 32 (second state register)
    "L260_N16_aligned": (1, 4, 16, 260, 2),  # two chunks of 16-byte vector loads, then a staged one
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_reference(dtype, shape, poison_empty):
    batch, dim, n, length, groups = SHAPES[shape]
    check_scan(scan_inputs(dtype, batch=batch, dim=dim, state_size=n, length=length, groups=groups))


@pytest.mark.parametrize("absent", ["D", "z", "delta_bias", "softplus", "initial_state", "all"])
def test_forward_optional_inputs(absent, poison_empty):
    args = scan_inputs(torch.float32, batch=2, dim=4, state_size=8, length=70, groups=2)
    position = {"D": 5, "z": 6, "delta_bias": 7, "initial_state": 9}
    if absent == "softplus":
        args[8] = False
        args = positive_steps(args)
    elif absent == "all":
        args = positive_steps(scan_inputs(torch.float32, batch=2, dim=4, state_size=8, length=70, groups=None,
                                          optional=False))
    else:
        args[position[absent]] = None
    check_scan(args)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_forward_fp32_bc(dtype, poison_empty):
    check_scan(scan_inputs(dtype, batch=1, dim=4, state_size=8, length=20, bc_dtype=torch.float32))


def test_forward_unaligned_and_strided(poison_empty):
    """Rows L + 1 elements apart and a B with an odd state stride: element-wise loads."""
    args = scan_inputs(torch.float32, batch=2, dim=4, state_size=5, length=33, groups=2)
    for i in (0, 1, 6):
        wide = torch.zeros(*args[i].shape[:-1], 34)
        wide[..., :33] = args[i]
        args[i] = wide[..., :33]
    wide_b = torch.zeros(2, 2, 5, 35)
    wide_b[..., :33] = args[3]
    args[3] = wide_b[..., :33]
    assert args[0].stride(1) == 34
    check_scan(args)


VARLEN = {
    "straddles_chunks": [3, 1, 140, 0, 7],            # resets mid-chunk, length 1, empty, 140 > a chunk
    "empty_first_and_last": [0, 1, 0, 130, 0],       # the 130-step sequence straddles chunk 0 / 1
    "single": [9],
}


@pytest.mark.parametrize("lengths", VARLEN)
@pytest.mark.parametrize("optional", [True, False], ids=["inputs", "no_inputs"])
def test_forward_varlen(lengths, optional, poison_empty):
    args = scan_inputs(torch.float32, dim=4, state_size=6, lengths=VARLEN[lengths], optional=optional)
    check_scan(args if optional else positive_steps(args))


@pytest.mark.parametrize("values", [[0, 5, 3, 9], [0, 4, 40], [-2, 4, 9], [0, 4, 8]])
def test_forward_bad_cu_seqlens_reported(values):
    """On CUDA the host never reads cu_seqlens: the kernel clamps bad values (no out-of-bounds
    access, the launch completes) and reports the first one through the device error flag."""
    read_flag()
    args = scan_inputs(torch.float32, dim=4, state_size=4, lengths=[4, 5])
    args[9] = None  # (S, dim, N): S follows cu_seqlens
    args[10] = torch.tensor(values, dtype=torch.int32)
    simt_scan(*args)
    assert read_flag().startswith("rdm.selective_scan: cu_seqlens must ")


# --- backward ----------------------------------------------------------------------------

GRADS = ("grad_u", "grad_delta", "grad_A", "grad_B", "grad_C", "grad_D", "grad_z", "grad_delta_bias",
         "grad_initial_state")


def output_grads(args, which="both", seed=1):
    gen = torch.Generator().manual_seed(seed)
    u, A = args[0], args[2]
    states = u.shape[0] if args[10] is None else args[10].numel() - 1
    grad_out = torch.randn(u.shape, generator=gen).to(u.dtype)
    grad_last = torch.randn(states, u.shape[1], A.shape[1], generator=gen)
    return [grad_out if which != "last_state" else None, grad_last if which != "out" else None]


# Gradients that are zero by construction when no gradient reaches `out`.
NEED_GRAD_OUT = ("grad_C", "grad_D", "grad_z")
SUMMED_OVER_TIME = ("grad_A", "grad_D", "grad_delta_bias")


def check_backward(args, grads):
    """The emulated backward kernel against the reference's gradients (autograd through the
    float64 reference: the oracle; in the inputs' dtypes: the tolerance's baseline)."""
    actual = torch.ops.rdm_simt.selective_scan_backward(*grads, *args)
    expected = torch.ops.rdm.selective_scan_backward(*float64(grads), *float64(args))
    baseline = torch.ops.rdm.selective_scan_backward(*grads, *args)
    for name, a, e, b in zip(GRADS, actual, expected, baseline):
        if e.numel() == 0:
            assert a.numel() == 0, name
            continue
        assert a.dtype == b.dtype, name
        if grads[0] is not None or name not in NEED_GRAD_OUT:
            assert e.abs().max() > 0, f"{name}: the expected gradient is all zero, the test could not fail"
        if name in SUMMED_OVER_TIME and a.dtype == torch.float32:
            # fp32 sums over batch x L terms in another order than the reference's: within
            # a few ulps of the gradient's scale (the baseline's own error can be smaller).
            scale = max(e.abs().max().item(), 1.0)
            torch.testing.assert_close(a.double(), e, rtol=0, atol=1e-5 * scale, msg=name)
        else:
            assert_close_to_oracle(a, e, b, name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_backward_matches_reference(dtype, shape, poison_empty):
    batch, dim, n, length, groups = SHAPES[shape]
    args = scan_inputs(dtype, batch=batch, dim=dim, state_size=n, length=length, groups=groups)
    check_backward(args, output_grads(args))


@pytest.mark.parametrize("variant", ["no_optional_inputs", "no_softplus", "only_grad_out", "only_grad_last_state",
                                     "fp32_bc"])
def test_backward_variants(variant, poison_empty):
    kwargs = dict(batch=2, dim=4, state_size=8, length=70, groups=2)
    if variant == "no_optional_inputs":
        kwargs.update(optional=False, groups=None)
    if variant == "fp32_bc":
        kwargs.update(bc_dtype=torch.float32)
    args = scan_inputs(torch.bfloat16 if variant == "fp32_bc" else torch.float32, **kwargs)
    if variant == "no_softplus":
        args[8] = False
        args = positive_steps(args)
    if variant == "no_optional_inputs":
        args = positive_steps(args)
    which = {"only_grad_out": "out", "only_grad_last_state": "last_state"}.get(variant, "both")
    check_backward(args, output_grads(args, which))


@pytest.mark.parametrize("lengths", VARLEN)
def test_backward_varlen(lengths, poison_empty):
    args = scan_inputs(torch.float32, dim=4, state_size=6, lengths=VARLEN[lengths])
    check_backward(args, output_grads(args))


def test_autograd_reaches_the_emulated_backward():
    """torch.autograd through rdm_simt.selective_scan runs the emulated backward kernel and
    matches the reference's gradients."""
    args = scan_inputs(torch.float32, batch=1, dim=4, state_size=4, length=10)
    leaves = [a.detach().requires_grad_() if isinstance(a, torch.Tensor) and a.is_floating_point() else a
              for a in args]
    out, last = torch.ops.rdm_simt.selective_scan(*leaves)
    (out.sum() + 0.5 * last.sum()).backward()
    ref = [a.detach().double().requires_grad_() if isinstance(a, torch.Tensor) and a.is_floating_point() else a
           for a in args]
    out, last = reference.selective_scan(*ref)
    (out.sum() + 0.5 * last.sum()).backward()
    for a, r in zip(leaves, ref):
        if isinstance(a, torch.Tensor) and a.requires_grad:
            torch.testing.assert_close(a.grad.double(), r.grad, atol=1e-4, rtol=1e-4)


# --- decode ------------------------------------------------------------------------------


def decode_args(scan_args, t):
    u, delta, A, B, C, D, z, delta_bias, softplus, _, _ = scan_args
    return [u[..., t], delta[..., t], A, B[..., t], C[..., t], D, z[..., t] if z is not None else None, delta_bias,
            softplus]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["N16_G2", "N40", "minimal"])
def test_decode_matches_scan(dtype, variant, poison_empty):
    """A prefill with the scan kernel, then decode steps: the outputs of one scan over all."""
    n, groups, optional = {"N16_G2": (16, 2, True), "N40": (40, 1, True), "minimal": (8, None, False)}[variant]
    args = scan_inputs(dtype, batch=2, dim=4, state_size=n, length=7, groups=groups, optional=optional)
    args = args if optional else positive_steps(args)
    full, full_state = reference.selective_scan(*float64(args))
    prefill = [a[..., :4] if i in (0, 1, 3, 4, 6) and a is not None else a for i, a in enumerate(args)]
    out, state = simt_scan(*prefill)
    steps = [torch.ops.rdm_simt.selective_state_update(state, *decode_args(args, t)) for t in range(4, 7)]
    actual = torch.cat([out, torch.stack(steps, -1)], -1)
    baseline, baseline_state = reference.selective_scan(*args)
    assert_close_to_oracle(actual, full, baseline, "out")
    assert_close_to_oracle(state, full_state, baseline_state, "state")


@pytest.mark.parametrize("state_dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_decode_state_dtypes(state_dtype, poison_empty):
    args = scan_inputs(torch.bfloat16, batch=3, dim=4, state_size=8, length=1)
    state = args[9].to(state_dtype)
    expected_state = state.clone()
    expected = reference.selective_state_update(expected_state, *decode_args(args, 0))
    y = torch.ops.rdm_simt.selective_state_update(state, *decode_args(args, 0))
    torch.testing.assert_close(y, expected, atol=2e-2, rtol=2e-2)
    torch.testing.assert_close(state.float(), expected_state.float(), atol=1e-2, rtol=1e-2)
    assert state.dtype == state_dtype


def test_decode_state_batch_indices():
    """Row b updates state[indices[b]]; -1 is a padding slot (skipped, y = 0); an index past
    the state's rows is reported and skipped; other state rows stay as they were."""
    read_flag()
    args = scan_inputs(torch.float32, batch=4, dim=4, state_size=8, length=1)
    pool = torch.randn(6, 4, 8)
    indices = torch.tensor([4, -1, 0, 2], dtype=torch.int32)
    expected_pool = pool.clone()
    expected = reference.selective_state_update(expected_pool, *decode_args(args, 0), indices)
    assert (expected[1] == 0).all() and not torch.equal(expected_pool[4], pool[4])
    y = torch.ops.rdm_simt.selective_state_update(pool, *decode_args(args, 0), indices)
    torch.testing.assert_close(y, expected)
    torch.testing.assert_close(pool, expected_pool)
    assert read_flag("selective_state_update") == ""
    bad = torch.tensor([1, 9, 0, 2], dtype=torch.int32)
    before = pool.clone()
    y = torch.ops.rdm_simt.selective_state_update(pool, *decode_args(args, 0), bad)
    assert read_flag("selective_state_update").startswith("rdm.selective_state_update: state_batch_indices must ")
    assert (y[1] == 0).all() and torch.equal(pool[[3, 4, 5]], before[[3, 4, 5]])


def test_decode_head_layout():
    """Mamba-2's layout: x (batch, H, P), state (batch, H, P, N), A / D / dt_bias per head
    as stride-0 views; the kernel reads them in place."""
    batch, heads, head_dim, n = 2, 3, 4, 8
    g = torch.Generator().manual_seed(3)
    x, dt, z = (torch.randn(batch, heads, head_dim, generator=g) for _ in range(3))
    A = (-torch.rand(heads, generator=g))[:, None, None].expand(heads, head_dim, n)
    D = torch.randn(heads, generator=g)[:, None].expand(heads, head_dim)
    dt_bias = torch.randn(heads, generator=g)[:, None].expand(heads, head_dim)
    B, C = torch.randn(batch, 3, n, generator=g), torch.randn(batch, 3, n, generator=g)
    state = torch.randn(batch, heads, head_dim, n, generator=g)
    assert A.stride() == (1, 0, 0) and D.stride() == (1, 0)
    expected_state = state.clone()
    expected = reference.selective_state_update(expected_state, x, dt, A, B, C, D, z, dt_bias, True)
    y = torch.ops.rdm_simt.selective_state_update(state, x, dt, A, B, C, D, z, dt_bias, True)
    torch.testing.assert_close(y, expected)
    torch.testing.assert_close(state, expected_state)


def test_compiles_fullgraph_forward_and_backward():
    """torch.compile(fullgraph=True) over the emulated op: outputs and gradients (through the
    emulated backward kernel) equal eager."""
    check_compiled_matches_eager(simt_scan, scan_inputs(torch.float32, batch=1, dim=4, state_size=4, length=6))


def test_opcheck_emulated_forward_backward_and_decode():
    args = scan_inputs(torch.float32, batch=1, dim=4, state_size=4, length=6)
    opcheck_with_and_without_grad(torch.ops.rdm_simt.selective_scan, args)
    state = args[9].clone()
    torch.library.opcheck(torch.ops.rdm_simt.selective_state_update, (state, *decode_args(args, 0)))


def test_kernel_limits_raise_clear_errors():
    args = scan_inputs(torch.float32, batch=1, dim=4, state_size=257, length=3)
    too_big = r"rdm.selective_scan: N \(A.shape\[1\]\) must be at most 256 on .*, got N = 257"
    with pytest.raises(RuntimeError, match=too_big):
        simt_scan(*args)
    with pytest.raises(RuntimeError, match=r"rdm.selective_scan: .* needs u in float32, float16 or bfloat16"):
        simt_scan(*float64(scan_inputs(torch.float32, batch=1, dim=4, state_size=4, length=3)))
    args = scan_inputs(torch.float32, batch=2, dim=4, state_size=4, length=1)
    with pytest.raises(RuntimeError, match=r"state_batch_indices must be int32, got int64"):
        torch.ops.rdm_simt.selective_state_update(args[9], *decode_args(args, 0), torch.tensor([0, 1]))
