"""rdm.grouped_gemm, rdm.moe_permute and rdm.moe_unpermute: the ops on their reference path,
opcheck, gradients (a whole routed layer), compile, input and routing validation."""
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
    raises,
)

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def routing(num_tokens=6, slots=2, num_experts=5, used_experts=(0, 2, 3), seed=0):
    """Distinct experts per token drawn from `used_experts` (the others stay empty), and
    softmax routing weights in float32."""
    g = torch.Generator().manual_seed(seed)
    choices = torch.rand(num_tokens, len(used_experts), generator=g).argsort(dim=1)[:, :slots]
    topk_ids = torch.tensor(used_experts)[choices]
    topk_weights = torch.randn(num_tokens, slots, generator=g).softmax(dim=1)
    return topk_ids, topk_weights


def gemm_inputs(dtype=torch.float32, rows=10, ends=(2, 2, 7, 9), in_dim=8, out_dim=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, in_dim, generator=g).to(dtype)
    w = torch.randn(len(ends), in_dim, out_dim, generator=g).to(dtype)
    return [x, w, torch.tensor(ends, dtype=torch.int32)]


def moe_layer(x, w, topk_weights, topk_ids):
    x_sorted, row_id, offsets = rdm.ops.moe_permute(x, topk_ids, w.shape[0])
    y_sorted = rdm.ops.grouped_gemm(x_sorted, w, offsets)
    return rdm.ops.moe_unpermute(y_sorted, row_id, topk_weights)


# --- semantics on the reference path -------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ends", [(2, 2, 7, 9), (0, 10), (10,), (0, 0, 0)], ids=str)
def test_grouped_gemm_matches_float64(dtype, ends):
    args = gemm_inputs(dtype, ends=ends)
    check_against_float64(lambda *a: (rdm.ops.grouped_gemm(*a),), lambda *a: (rdm.reference.grouped_gemm(*a),),
                          args, ["out"])
    assert (rdm.ops.grouped_gemm(*args)[ends[-1]:] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("id_dtype", [torch.int32, torch.int64])
def test_permute_matches_reference(dtype, id_dtype):
    topk_ids, _ = routing()
    x = torch.randn(6, 8).to(dtype)
    x_sorted, row_id, offsets = rdm.ops.moe_permute(x, topk_ids.to(id_dtype), 5)
    expected = rdm.reference.moe_permute(x, topk_ids, 5)
    for actual, e in zip((x_sorted, row_id, offsets), expected):
        assert actual.dtype == e.dtype and torch.equal(actual, e)
    ends = offsets.tolist()
    assert ends[0] == ends[1] and ends[3] == ends[4] == 12, "experts 1 and 4 are empty"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weights_in_y_dtype", [False, True])
def test_unpermute_matches_float64(dtype, weights_in_y_dtype):
    topk_ids, topk_weights = routing()
    _, row_id, _ = rdm.ops.moe_permute(torch.zeros(6, 1), topk_ids, 5)
    y_sorted = torch.randn(12, 8).to(dtype)
    args = [y_sorted, row_id, topk_weights.to(dtype) if weights_in_y_dtype else topk_weights]
    check_against_float64(lambda *a: (rdm.ops.moe_unpermute(*a),), lambda *a: (rdm.reference.moe_unpermute(*a),),
                          args, ["y"])


def test_unpermute_with_unit_weights_inverts_permute_up_to_the_copies():
    topk_ids, _ = routing(slots=3, used_experts=(0, 1, 3, 4))
    x = torch.randn(6, 8)
    x_sorted, row_id, _ = rdm.ops.moe_permute(x, topk_ids, 5)
    torch.testing.assert_close(rdm.ops.moe_unpermute(x_sorted, row_id, torch.ones(6, 3)), 3 * x)


# --- gradients, opcheck, compile --------------------------------------------------------------------


def test_gradcheck_float64_through_a_routed_layer():
    topk_ids, topk_weights = routing()
    x, w, _ = float64(gemm_inputs(rows=6, ends=(0,) * 5, in_dim=3, out_dim=2))
    leaves = [t.requires_grad_() for t in (x, w, topk_weights.double())]
    assert torch.autograd.gradcheck(lambda *t: moe_layer(*t, topk_ids), leaves)


def test_permute_gradient_sums_the_copies():
    topk_ids, _ = routing()
    x = torch.randn(6, 8, requires_grad=True)
    x_sorted, row_id, _ = rdm.ops.moe_permute(x, topk_ids, 5)
    grad = torch.randn(x_sorted.shape)
    (grad_x,) = torch.autograd.grad(x_sorted, x, grad)
    expected = torch.zeros(6, 8).index_add_(0, row_id.long() // 2, grad)  # row r copies token row_id[r] // k
    torch.testing.assert_close(grad_x, expected)


def test_opcheck():
    topk_ids, topk_weights = routing()
    x = torch.randn(6, 8)
    opcheck_with_and_without_grad(torch.ops.rdm.moe_permute.default, [x, topk_ids, 5])
    x_sorted, row_id, offsets = rdm.ops.moe_permute(x, topk_ids, 5)
    gemm_args = [x_sorted, torch.randn(5, 8, 4), offsets]
    opcheck_with_and_without_grad(torch.ops.rdm.grouped_gemm.default, gemm_args)
    y_sorted = rdm.ops.grouped_gemm(*gemm_args)
    opcheck(torch.ops.rdm.grouped_gemm_backward.default, (*grads_of_outputs([y_sorted]), *gemm_args))
    unpermute_args = [y_sorted, row_id, topk_weights]
    opcheck_with_and_without_grad(torch.ops.rdm.moe_unpermute.default, unpermute_args)
    y = rdm.ops.moe_unpermute(*unpermute_args)
    opcheck(torch.ops.rdm.moe_unpermute_backward.default, (*grads_of_outputs([y]), *unpermute_args))


@pytest.mark.compile
def test_torch_compile_fullgraph():
    topk_ids, topk_weights = routing()
    x, w, _ = gemm_inputs(rows=6, ends=(0,) * 5)
    check_compiled_matches_eager(lambda x, w, weights: moe_layer(torch.tanh(x), w, weights, topk_ids),
                                 [x, w, topk_weights])


# --- input validation -------------------------------------------------------------------------


def _bad_gemm_inputs():
    x, w, offsets = gemm_inputs()
    yield "x must have shape (M, K)", [x[0], w, offsets]
    yield "x must be float32, float16 or bfloat16 (or float64), got int32", [x.int(), w, offsets]
    yield "w must have shape (E, K, N) with E >= 1, K = x.shape[1] = 8", [x, w[:, :4], offsets]
    yield "w must be x's dtype float32, got bfloat16", [x, w.bfloat16(), offsets]
    yield "offsets must be int32, got int64", [x, w, offsets.long()]
    yield "offsets must have shape (E,) = [4], got [3]", [x, w, offsets[:3]]
    yield "offsets must be on x's device", [x, w, offsets.to("meta")]
    yield "offsets must be non-negative, got offsets[0] = -1", [x, w, torch.tensor([-1, 2, 7, 9], dtype=torch.int32)]
    yield "offsets must be non-decreasing (cumulative row ends), got offsets[2] = 1 after 2", \
        [x, w, torch.tensor([2, 2, 1, 9], dtype=torch.int32)]
    yield "offsets[E - 1] must be at most the number of rows M = 10, got 11", \
        [x, w, torch.tensor([2, 2, 7, 11], dtype=torch.int32)]


@pytest.mark.parametrize("message,args", list(_bad_gemm_inputs()), ids=message_ids)
def test_bad_grouped_gemm_inputs_raise_clear_errors(message, args):
    with raises("grouped_gemm", message):
        rdm.ops.grouped_gemm(*args)


def _bad_permute_inputs():
    topk_ids, _ = routing()
    x = torch.randn(6, 8)
    yield "x must have shape (T, D)", [x[0], topk_ids, 5]
    yield "topk_ids must have shape (T, k) with T = 6 and k >= 1", [x, topk_ids[:4], 5]
    yield "topk_ids must be int32 or int64, got float32", [x, topk_ids.float(), 5]
    yield "num_experts must be at least 1, got 0", [x, topk_ids, 0]
    yield "topk_ids must lie in [0, num_experts) = [0, 3), got 3", [x, topk_ids, 3]
    yield "topk_ids must lie in [0, num_experts) = [0, 5), got -2", [x, torch.where(topk_ids == 2, -2, topk_ids), 5]


@pytest.mark.parametrize("message,args", list(_bad_permute_inputs()), ids=message_ids)
def test_bad_permute_inputs_raise_clear_errors(message, args):
    with raises("moe_permute", message):
        rdm.ops.moe_permute(*args)


def _bad_unpermute_inputs():
    topk_ids, weights = routing()
    _, row_id, _ = rdm.ops.moe_permute(torch.zeros(6, 1), topk_ids, 5)
    y = torch.randn(12, 8)
    yield "topk_weights must have shape (T, k) with k >= 1", [y, row_id, weights[:, :0]]
    yield "y_sorted must have shape (T * k, D) with T * k = 12, got [11, 8]", [y[:11], row_id, weights]
    yield "topk_weights must be y_sorted's dtype float32, got float16", [y, row_id, weights.half()]
    yield "topk_weights must be y_sorted's dtype bfloat16 or float32, got float16", \
        [y.bfloat16(), row_id, weights.half()]
    yield "row_id must be int32, got int64", [y, row_id.long(), weights]
    yield "row_id must have shape (T * k,) = [12], got [5]", [y, row_id[:5], weights]
    yield "row_id must be a permutation of 0 .. T * k - 1 = 11 (as moe_permute returns), got 12 at row 0", \
        [y, torch.where(row_id == row_id[0], 12, row_id), weights]
    yield "row_id must be a permutation of 0 .. T * k - 1 = 11 (as moe_permute returns), got 5 twice at row", \
        [y, torch.where(row_id == 4, 5, row_id), weights]


@pytest.mark.parametrize("message,args", list(_bad_unpermute_inputs()), ids=message_ids)
def test_bad_unpermute_inputs_raise_clear_errors(message, args):
    with raises("moe_unpermute", message):
        rdm.ops.moe_unpermute(*args)


def test_routing_values_are_not_read_from_meta_tensors():
    x, w, _ = gemm_inputs()
    bad_offsets = torch.tensor([9, 2, 1, 99], dtype=torch.int32, device="meta")
    assert rdm.ops.grouped_gemm(x.to("meta"), w.to("meta"), bad_offsets).shape == (10, 4)
    bad_ids = torch.full((6, 2), 7, device="meta")
    outputs = rdm.ops.moe_permute(torch.zeros(6, 8, device="meta"), bad_ids, 5)
    assert [t.shape for t in outputs] == [(12, 8), (12,), (5,)]


# --- the reference path on CUDA tensors --------------------------------------------------------


@pytest.mark.cuda
def test_cuda_reference_path_matches_cpu():
    topk_ids, topk_weights = routing()
    x, w, _ = gemm_inputs(torch.bfloat16, rows=6, ends=(0,) * 5)
    args = [x, w, topk_weights]
    cuda_args = [t.cuda().requires_grad_() for t in args]
    cpu_args = [t.requires_grad_() for t in args]
    cuda_y = moe_layer(*cuda_args, topk_ids.cuda())
    cpu_y = moe_layer(*cpu_args, topk_ids)
    torch.testing.assert_close(cuda_y.cpu(), cpu_y)
    grad = torch.randn(cpu_y.shape).to(cpu_y.dtype)
    for c, e in zip(torch.autograd.grad(cuda_y, cuda_args, grad.cuda()), torch.autograd.grad(cpu_y, cpu_args, grad)):
        torch.testing.assert_close(c.cpu(), e)
    check_reads_no_values_on_cuda(torch.ops.rdm._moe_permute_check, [x, topk_ids + 5, 5])
    check_reads_no_values_on_cuda(torch.ops.rdm._grouped_gemm_check, [x, w, torch.tensor([4, 2, 9, 7, 5],
                                                                                          dtype=torch.int32)])
    bad_row_id = torch.full((topk_ids.numel(),), -1, dtype=torch.int32)
    check_reads_no_values_on_cuda(torch.ops.rdm._moe_unpermute_check, [x.repeat(2, 1), bad_row_id, topk_weights])
