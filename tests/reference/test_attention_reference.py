import pytest
import torch

from oracles import assert_matches_oracle, sliding_window_attention_oracle
import rdm.reference.attention as attention_module
from rdm.reference.attention import sliding_window_attention


def make_inputs(batch, num_queries, num_keys, heads, kv_heads, head_dim, dtype=torch.float64):
    torch.manual_seed(0)
    return dict(
        q=torch.randn(batch, num_queries, heads, head_dim).to(dtype),
        k=torch.randn(batch, num_keys, kv_heads, head_dim).to(dtype),
        v=torch.randn(batch, num_keys, kv_heads, head_dim).to(dtype),
    )


def check_against_oracle(inputs, **kwargs):
    out, lse = sliding_window_attention(**inputs, **kwargs)
    expected_out, expected_lse = sliding_window_attention_oracle(**inputs, **kwargs)
    assert out.dtype == inputs["q"].dtype
    assert lse.dtype == (torch.float64 if out.dtype == torch.float64 else torch.float32)
    assert_matches_oracle(out, expected_out)
    assert_matches_oracle(lse, expected_lse)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("window, num_global", [(1, 0), (1, 3), (5, 0), (40, 3), (1000, 0), (8, 100)])
@pytest.mark.parametrize("batch, num_queries, num_keys, heads, kv_heads, head_dim", [
    (1, 1, 1, 1, 1, 40), (2, 7, 7, 4, 2, 40), (1, 65, 130, 6, 2, 72), (2, 130, 130, 3, 1, 16)])
def test_matches_oracle(dtype, window, num_global, batch, num_queries, num_keys, heads, kv_heads, head_dim):
    inputs = make_inputs(batch, num_queries, num_keys, heads, kv_heads, head_dim, dtype)
    check_against_oracle(inputs, window=window, num_global=num_global)


def test_explicit_scale():
    check_against_oracle(make_inputs(1, 70, 90, 2, 2, 8), window=20, num_global=2, scale=0.9)


# Packed sequence bounds: all non-empty, and with empty sequences (equal neighbours) first,
# in the middle, several in a row and last.
PACKED = {"non_empty": [0, 1, 10, 75, 140], "with_empty": [0, 0, 1, 10, 10, 10, 75, 140, 140]}


@pytest.mark.parametrize("bounds", PACKED)
@pytest.mark.parametrize("window, num_global", [(1, 0), (8, 2), (1000, 3)])
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_packed_sequences(dtype, window, num_global, bounds):
    cu_seqlens = torch.tensor(PACKED[bounds], dtype=torch.int32)
    inputs = make_inputs(1, 140, 140, 4, 2, 40, dtype)
    check_against_oracle(inputs, window=window, num_global=num_global, cu_seqlens=cu_seqlens)


@pytest.mark.parametrize("packed", [None, [0, 1, 8, 11], [0, 0, 1, 8, 8, 11, 11]], ids=["batch", "packed",
                                                                                    "packed_with_empty"])
def test_gradients(monkeypatch, packed):
    # A block of 4 queries makes the 11 queries span several blocks; gradcheck covers out and lse.
    monkeypatch.setattr(attention_module, "BLOCK_SIZE", 4)
    cu_seqlens = None if packed is None else torch.tensor(packed, dtype=torch.int32)
    inputs = make_inputs(1, 11, 11, 4, 2, 3)
    tensors = [inputs[name].requires_grad_() for name in "qkv"]

    def run(q, k, v):
        return sliding_window_attention(q, k, v, window=3, num_global=2, cu_seqlens=cu_seqlens)

    assert torch.autograd.gradcheck(run, tensors)
