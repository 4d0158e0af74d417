"""rdm.sliding_window_attention: the op on its reference path, opcheck, gradients (through
out and lse), compile, input validation."""
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
OUTPUTS = ("out", "lse")


def attention_inputs(dtype=torch.float32, *, batch=2, num_queries=9, num_keys=None, heads=4, kv_heads=2, head_dim=8,
                     window=3, num_global=1, scale=None, lengths=None, seed=0):
    """sliding_window_attention's arguments in schema order; `lengths`: packed sequences."""
    g = torch.Generator().manual_seed(seed)
    if lengths is not None:
        batch, num_queries = 1, sum(lengths)
    num_keys = num_keys or num_queries
    q = torch.randn(batch, num_queries, heads, head_dim, generator=g).to(dtype)
    k = torch.randn(batch, num_keys, kv_heads, head_dim, generator=g).to(dtype)
    v = torch.randn(batch, num_keys, kv_heads, head_dim, generator=g).to(dtype)
    cu_seqlens = None if lengths is None else packed(lengths)
    return [q, k, v, window, num_global, scale, cu_seqlens]


VARIANTS = {
    "gqa_window_and_global": dict(),
    "fewer_queries_than_keys_scale": dict(num_queries=4, num_keys=11, kv_heads=1, num_global=0, scale=0.2),
    "packed_sequences": dict(lengths=[4, 1, 5], kv_heads=4, window=2, num_global=2),
    "packed_with_empty_sequences": dict(lengths=[0, 4, 0, 0, 5, 0], window=2, num_global=2),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_cpu_path_matches_float64(dtype, variant):
    args = attention_inputs(dtype, **VARIANTS[variant])
    check_against_float64(rdm.ops.sliding_window_attention, rdm.reference.sliding_window_attention, args, OUTPUTS)


def test_window_one_without_global_tokens_returns_v():
    q, k, v, *_ = attention_inputs(kv_heads=4)
    out, lse = rdm.ops.sliding_window_attention(q, k, v, window=1)
    torch.testing.assert_close(out, v)
    torch.testing.assert_close(lse, (q * k).sum(-1).transpose(1, 2) * q.shape[-1] ** -0.5)


def test_empty_packed_sequences_are_skipped():
    q, k, v, window, num_global, scale, cu = attention_inputs(lengths=[0, 4, 0, 5, 0])
    out, lse = rdm.ops.sliding_window_attention(q, k, v, window, num_global, scale, cu)
    expected = rdm.ops.sliding_window_attention(q, k, v, window, num_global, scale, packed([4, 5]))
    for a, e in zip((out, lse), expected):
        torch.testing.assert_close(a, e)
    # Positions restart at the second sequence: its first query sees only its own key.
    torch.testing.assert_close(out[:, 4], v[:, 4].repeat_interleave(2, dim=1))


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradcheck_float64(variant):
    args = float64(attention_inputs(head_dim=3, heads=2, **{**VARIANTS[variant], "kv_heads": 1}))
    q, k, v, *rest = args
    leaves = [t.requires_grad_() for t in (q, k, v)]
    assert torch.autograd.gradcheck(lambda *t: rdm.ops.sliding_window_attention(*t, *rest), leaves)


@pytest.mark.parametrize("variant", VARIANTS)
def test_opcheck(variant):
    args = attention_inputs(**VARIANTS[variant])
    opcheck_with_and_without_grad(torch.ops.rdm.sliding_window_attention.default, args)
    out, lse = rdm.ops.sliding_window_attention(*args)
    grad_out, grad_lse = grads_of_outputs((out, lse))
    backward = torch.ops.rdm.sliding_window_attention_backward.default
    opcheck(backward, (grad_out, grad_lse, *args, out, lse))
    opcheck(backward, (grad_out, None, *args, out, lse))


@pytest.mark.compile
def test_torch_compile_fullgraph():
    args = attention_inputs(lengths=[4, 5], kv_heads=4)

    def attend(q, k, v):
        out, lse = rdm.ops.sliding_window_attention(torch.tanh(q), k, v, 3, 1, None, args[-1])
        return out * 2, lse

    check_compiled_matches_eager(attend, args[:3])


# --- input validation -----------------------------------------------------------------------


def _bad_inputs():
    q, k, v, *_ = attention_inputs()
    packed_args = attention_inputs(lengths=[4, 1, 4])
    yield "q must have shape (B, Tq, H, D)", [q[0], k, v, 3, 0, None, None]
    yield "q must be float32, float16 or bfloat16 (or float64), got int64", [q.long(), k, v, 3, 0, None, None]
    three_kv_heads = torch.randn(2, 9, 3, 8)
    yield ("k must have shape (B, Tk, Hkv, D) with B = 2, Tk >= Tq = 9, Hkv dividing H = 4 and D = 8, "
           "got [2, 9, 3, 8]"), [q, three_kv_heads, three_kv_heads, 3, 0, None, None]
    yield "Tk >= Tq = 9", [q, k[:, :5], v[:, :5], 3, 0, None, None]
    yield "k must be q's dtype float32, got float16", [q, k.half(), v, 3, 0, None, None]
    yield "v must have shape k's shape", [q, k, v[..., :4], 3, 0, None, None]
    yield "v must be q's dtype float32, got bfloat16", [q, k, v.bfloat16(), 3, 0, None, None]
    yield "window must be at least 1 (the query's own position), got 0", [q, k, v, 0, 0, None, None]
    yield "num_global must be non-negative, got -1", [q, k, v, 3, -1, None, None]
    yield "scale must be finite, got nan", [q, k, v, 3, 0, float("nan"), None]
    yield "v must be on q's device", [q, k, v.to("meta"), 3, 0, None, None]
    q_1, k_1, v_1, *_, cu = packed_args
    yield "with cu_seqlens, k must have as many tokens as q", [q_1, k_1.repeat(1, 2, 1, 1), v_1.repeat(1, 2, 1, 1),
                                                              3, 0, None, cu]
    yield "q must have batch size 1", [q, k, v, 3, 0, None, torch.tensor([0, 9], dtype=torch.int32)]
    yield "cu_seqlens must be non-decreasing (equal neighbours: an empty sequence), got cu_seqlens[2] = 2 after 4", \
        packed_args[:6] + [torch.tensor([0, 4, 2, 9], dtype=torch.int32)]


@pytest.mark.parametrize("message,args", list(_bad_inputs()), ids=message_ids)
def test_bad_inputs_raise_clear_errors(message, args):
    with raises("sliding_window_attention", message):
        rdm.ops.sliding_window_attention(*args)


# --- the reference path on CUDA tensors --------------------------------------------------------


@pytest.mark.cuda
def test_cuda_reference_path_matches_cpu():
    args = attention_inputs(torch.bfloat16, lengths=[3, 6])
    cuda_args = [a.cuda() if isinstance(a, torch.Tensor) else a for a in args]
    out, lse = rdm.ops.sliding_window_attention(*cuda_args)
    for c, e in zip((out, lse), rdm.ops.sliding_window_attention(*args)):
        torch.testing.assert_close(c.cpu(), e)
    opcheck(torch.ops.rdm.sliding_window_attention.default, tuple(cuda_args))
    grads = [g.cuda() for g in grads_of_outputs((out, lse))]
    backward = torch.ops.rdm.sliding_window_attention_backward
    cuda_grads = backward(*grads, *cuda_args, out, lse)
    cpu_grads = backward(*[g.cpu() for g in grads], *args, out.cpu(), lse.cpu())
    for c, e in zip(cuda_grads, cpu_grads):
        torch.testing.assert_close(c.cpu(), e)
    check_reads_no_values_on_cuda(torch.ops.rdm._sliding_window_attention_check, args[:6] + [args[6].flip(0)])
