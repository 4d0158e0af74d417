import pytest
import torch

from oracles import assert_matches_oracle, grouped_gemm_oracle, moe_permute_oracle, moe_unpermute_oracle
from rdm.reference.moe import grouped_gemm, moe_permute, moe_unpermute


def random_routing(num_tokens, slots, num_experts, used_experts):
    """Top-k expert ids (distinct per token) drawn from ``used_experts`` only, leaving the
    other experts empty, and softmax routing weights."""
    torch.manual_seed(0)
    choices = torch.rand(num_tokens, len(used_experts)).argsort(dim=1)[:, :slots]
    topk_ids = torch.tensor(used_experts)[choices]
    topk_weights = torch.randn(num_tokens, slots, dtype=torch.float64).softmax(dim=1)
    return topk_ids, topk_weights


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("rows, offsets", [
    (1, [1]), (20, [3, 3, 10, 17]), (33, [0, 0, 33]), (16, [0, 5, 5, 9, 9])])
def test_grouped_gemm_matches_oracle(dtype, rows, offsets):
    torch.manual_seed(0)
    x = torch.randn(rows, 72).to(dtype)
    w = torch.randn(len(offsets), 72, 40).to(dtype)
    offsets = torch.tensor(offsets, dtype=torch.int32)
    out = grouped_gemm(x, w, offsets)
    assert out.dtype == dtype
    assert_matches_oracle(out, grouped_gemm_oracle(x, w, offsets))
    assert (out[offsets[-1]:] == 0).all()


@pytest.mark.parametrize("slots", [1, 2, 4])
def test_permute_matches_oracle(slots):
    torch.manual_seed(0)
    x = torch.randn(13, 40).to(torch.bfloat16)
    topk_ids, _ = random_routing(13, slots, num_experts=7, used_experts=[0, 2, 3, 5, 6])
    x_sorted, row_id, offsets = moe_permute(x, topk_ids, num_experts=7)
    expected = moe_permute_oracle(x, topk_ids, num_experts=7)
    assert row_id.dtype == offsets.dtype == torch.int32
    for got, want in zip((x_sorted, row_id, offsets), expected):
        assert torch.equal(got, want)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("slots", [1, 2, 4])
def test_unpermute_matches_oracle(dtype, slots):
    topk_ids, topk_weights = random_routing(13, slots, num_experts=6, used_experts=[0, 1, 4, 5])
    _, row_id, _ = moe_permute(torch.zeros(13, 1), topk_ids, num_experts=6)
    y_sorted = torch.randn(13 * slots, 40).to(dtype)
    y = moe_unpermute(y_sorted, row_id, topk_weights.float())
    assert y.dtype == dtype
    assert_matches_oracle(y, moe_unpermute_oracle(y_sorted, row_id, topk_weights.float()))


def test_routed_layer_equals_per_token_loop():
    """permute -> grouped_gemm -> unpermute is a mixture of linear experts."""
    topk_ids, topk_weights = random_routing(11, 2, num_experts=5, used_experts=[1, 2, 4])
    x = torch.randn(11, 8, dtype=torch.float64)
    w = torch.randn(5, 8, 6, dtype=torch.float64)
    x_sorted, row_id, offsets = moe_permute(x, topk_ids, num_experts=5)
    y = moe_unpermute(grouped_gemm(x_sorted, w, offsets), row_id, topk_weights)
    expected = torch.stack([sum(topk_weights[t, s] * x[t] @ w[topk_ids[t, s]] for s in range(2)) for t in range(11)])
    assert_matches_oracle(y, expected)


def test_gradients():
    topk_ids, topk_weights = random_routing(5, 2, num_experts=4, used_experts=[0, 1, 3])
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)
    topk_weights.requires_grad_()

    def routed_layer(x, w, topk_weights):
        x_sorted, row_id, offsets = moe_permute(x, topk_ids, num_experts=4)
        return moe_unpermute(grouped_gemm(x_sorted, w, offsets), row_id, topk_weights)

    assert torch.autograd.gradcheck(routed_layer, (x, w, topk_weights))
    offsets = torch.tensor([2, 2, 6], dtype=torch.int32)  # with unrouted tail rows
    x_rows = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    w_experts = torch.randn(3, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: grouped_gemm(x, w, offsets), (x_rows, w_experts))
