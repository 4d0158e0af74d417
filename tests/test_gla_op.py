"""rdm.chunk_gla and rdm.fused_recurrent_gla: the ops on their reference path, opcheck,
gradients, compile, input validation."""
import pytest
import torch
import torch.nn.functional as F
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
OPS = ["chunk_gla", "fused_recurrent_gla"]
OUTPUTS = ("o", "final_state")


def gla_inputs(dtype=torch.float32, *, batch=2, length=7, heads=2, key_dim=8, value_dim=4, scale=None,
               with_state=True, g_dtype=None, lengths=None, seed=0):
    """The GLA ops' arguments in schema order; `lengths`: packed sequences (batch 1, cu_seqlens)."""
    g = torch.Generator().manual_seed(seed)
    if lengths is not None:
        batch, length = 1, sum(lengths)
    states = batch if lengths is None else len(lengths)
    state_dtype = torch.float64 if dtype == torch.float64 else torch.float32

    def randn(*shape):
        return torch.randn(*shape, generator=g)

    q, k = randn(batch, length, heads, key_dim).to(dtype), randn(batch, length, heads, key_dim).to(dtype)
    v = randn(batch, length, heads, value_dim).to(dtype)
    gates = F.logsigmoid(randn(batch, length, heads, key_dim) + 2).to(g_dtype or dtype)
    initial_state = randn(states, heads, key_dim, value_dim).to(state_dtype) if with_state else None
    cu_seqlens = None if lengths is None else packed(lengths)
    return [q, k, v, gates, scale, initial_state, cu_seqlens]


VARIANTS = {
    "with_initial_state": dict(),
    "no_initial_state_scale": dict(with_state=False, scale=0.3),
    "packed_sequences": dict(lengths=[2, 1, 4]),
    "packed_with_empty_sequences": dict(lengths=[0, 2, 0, 0, 3, 0]),
}


def op_function(name):
    return getattr(rdm.ops, name)


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_cpu_path_matches_float64(name, dtype, variant):
    args = gla_inputs(dtype, **VARIANTS[variant])
    check_against_float64(op_function(name), getattr(rdm.reference, name), args, OUTPUTS)


@pytest.mark.parametrize("name", OPS)
def test_float32_gates_with_bfloat16_activations(name):
    args = gla_inputs(torch.bfloat16, g_dtype=torch.float32)
    check_against_float64(op_function(name), getattr(rdm.reference, name), args, OUTPUTS)


def test_both_ops_compute_the_same_function():
    args = gla_inputs(lengths=[3, 4])
    for a, b in zip(rdm.ops.chunk_gla(*args), rdm.ops.fused_recurrent_gla(*args)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("with_state", [True, False])
def test_empty_packed_sequences_keep_their_initial_state(name, with_state):
    q, k, v, g, scale, h0, cu = gla_inputs(lengths=[0, 3, 0, 4, 0], with_state=with_state)
    o, final = op_function(name)(q, k, v, g, scale, h0, cu)
    empty, full = [0, 2, 4], [1, 3]
    expected_empty = torch.zeros_like(final[empty]) if h0 is None else h0[empty]
    torch.testing.assert_close(final[empty], expected_empty, rtol=0, atol=0)
    # The other sequences are as if the empty ones were not there.
    o_full, final_full = op_function(name)(q, k, v, g, scale, None if h0 is None else h0[full], packed([3, 4]))
    torch.testing.assert_close(o, o_full)
    torch.testing.assert_close(final[full], final_full)
    assert final_full.abs().min() > 0


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_gradcheck_float64(name, variant):
    args = float64(gla_inputs(batch=1, length=4, heads=1, key_dim=3, value_dim=2, **VARIANTS[variant]))
    positions = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.is_floating_point()]

    def gla(*tensors):
        full = list(args)
        for i, t in zip(positions, tensors):
            full[i] = t
        return op_function(name)(*full)

    assert torch.autograd.gradcheck(gla, [args[i].requires_grad_() for i in positions])


@pytest.mark.parametrize("name", OPS)
def test_backward_op_gives_an_empty_gradient_for_an_absent_initial_state(name):
    args = gla_inputs(with_state=False)
    grads = getattr(torch.ops.rdm, f"{name}_backward")(*grads_of_outputs(op_function(name)(*args)), *args)
    assert [g.shape for g in grads] == [a.shape for a in args[:4]] + [(0,)]


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_opcheck(name, variant):
    args = gla_inputs(length=5, **VARIANTS[variant])
    opcheck_with_and_without_grad(getattr(torch.ops.rdm, name).default, args)
    grad_o, grad_state = grads_of_outputs(op_function(name)(*args))
    backward = getattr(torch.ops.rdm, f"{name}_backward").default
    opcheck(backward, (grad_o, grad_state, *args))
    opcheck(backward, (None, grad_state, *args))


@pytest.mark.compile
def test_torch_compile_fullgraph():
    args = gla_inputs(lengths=[3, 4])

    def layer(q, k, v, g, initial_state):
        o, state = rdm.ops.chunk_gla(q, k, v, g, None, initial_state, args[-1])
        o2, _ = rdm.ops.fused_recurrent_gla(torch.tanh(q), k, o, g, 0.5, state[:1])
        return o2, state

    check_compiled_matches_eager(layer, args[:4] + [args[5]])


# --- input validation -----------------------------------------------------------------------


def _bad_inputs():
    q, k, v, g, scale, h0, _ = gla_inputs()
    packed_args = gla_inputs(lengths=[2, 1, 4])
    yield "q must have shape (B, T, H, K)", [q[0], k, v, g, scale, h0, None]
    yield "q must have shape (B, T, H, K) with T, H, K >= 1", [q[:, :0], k[:, :0], v[:, :0], g[:, :0], scale, h0, None]
    yield "q must be float32, float16 or bfloat16 (or float64), got int32", [q.int(), k, v, g, scale, h0, None]
    yield "k must have shape q's shape", [q, k[..., :4], v, g, scale, h0, None]
    yield "k must be q's dtype float32, got bfloat16", [q, k.bfloat16(), v, g, scale, h0, None]
    yield "v must have shape (B, T, H, V) with (B, T, H) = [2, 7, 2]", [q, k, v[:, :3], g, scale, h0, None]
    yield "v must be q's dtype float32, got float16", [q, k, v.half(), g, scale, h0, None]
    yield "g must have shape q's shape", [q, k, v, g[:1], scale, h0, None]
    bf16 = gla_inputs(torch.bfloat16)
    yield "g must be q's dtype bfloat16 or float32, got float16", [*bf16[:3], g.half(), scale, h0, None]
    yield "scale must be finite, got inf", [q, k, v, g, float("inf"), h0, None]
    yield "initial_state must have shape (B, H, K, V) = [2, 2, 8, 4]", [q, k, v, g, scale, h0[..., :2], None]
    yield "initial_state must be float32, got float16", [q, k, v, g, scale, h0.half(), None]
    yield "initial_state must be on q's device", [q, k, v, g, scale, h0.to("meta"), None]
    yield "initial_state must have shape (S, H, K, V) (one per packed sequence)", packed_args[:5] + [h0, packed_args[6]]
    yield "q must have batch size 1", [q, k, v, g, scale, h0, packed_args[6]]
    yield "cu_seqlens must end at the number of tokens 7, got cu_seqlens[3] = 6", packed_args[:6] + [packed([2, 1, 3])]
    yield "cu_seqlens must be non-decreasing (equal neighbours: an empty sequence), got cu_seqlens[2] = 1 after 2", \
        packed_args[:6] + [torch.tensor([0, 2, 1, 7], dtype=torch.int32)]


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("message,args", list(_bad_inputs()), ids=message_ids)
def test_bad_inputs_raise_clear_errors(name, message, args):
    with raises(name, message):
        op_function(name)(*args)


# --- the reference path on CUDA tensors --------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.parametrize("name", OPS)
def test_cuda_reference_path_matches_cpu(name):
    args = gla_inputs(torch.bfloat16, g_dtype=torch.float32, lengths=[2, 5])
    cuda_args = [a.cuda() if isinstance(a, torch.Tensor) else a for a in args]
    for c, e in zip(op_function(name)(*cuda_args), op_function(name)(*args)):
        torch.testing.assert_close(c.cpu(), e)
    opcheck(getattr(torch.ops.rdm, name).default, tuple(cuda_args))
    backward = getattr(torch.ops.rdm, f"{name}_backward")
    grads = grads_of_outputs(op_function(name)(*args))
    for c, e in zip(backward(*[g.cuda() for g in grads], *cuda_args), backward(*grads, *args)):
        torch.testing.assert_close(c.cpu(), e)
    q, k, v, g, scale, h0, cu = args
    check_reads_no_values_on_cuda(getattr(torch.ops.rdm, f"_{name}_check"), [q, k, v, g, scale, h0, cu.flip(0)])
