import pytest
import torch
import torch.nn.functional as F

from oracles import assert_matches_oracle, gla_oracle
import rdm.reference.gla as gla_module
from rdm.reference.gla import chunk_gla, fused_recurrent_gla


def make_inputs(batch, length, heads, key_dim, value_dim, dtype=torch.float64, states=None):
    """Random q, k, v, g (log-sigmoid gates, < 0) in ``dtype`` and an initial state in fp32
    (float64 when ``dtype`` is float64). ``states`` initial states (default: batch)."""
    torch.manual_seed(0)
    state_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    return dict(
        q=torch.randn(batch, length, heads, key_dim).to(dtype),
        k=torch.randn(batch, length, heads, key_dim).to(dtype),
        v=torch.randn(batch, length, heads, value_dim).to(dtype),
        g=F.logsigmoid(torch.randn(batch, length, heads, key_dim) + 2).to(dtype),
        initial_state=torch.randn(states or batch, heads, key_dim, value_dim).to(state_dtype),
    )


def check_against_oracle(inputs, **kwargs):
    o, final_state = chunk_gla(**inputs, **kwargs)
    expected_o, expected_state = gla_oracle(**inputs, **kwargs)
    assert o.dtype == inputs["v"].dtype
    assert final_state.dtype == (torch.float64 if o.dtype == torch.float64 else torch.float32)
    assert_matches_oracle(o, expected_o)
    assert_matches_oracle(final_state, expected_state)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("batch, length, heads, key_dim, value_dim", [
    (1, 1, 1, 40, 24), (2, 7, 2, 40, 72), (1, 65, 3, 72, 40), (2, 130, 2, 16, 8)])
def test_matches_oracle(dtype, batch, length, heads, key_dim, value_dim):
    check_against_oracle(make_inputs(batch, length, heads, key_dim, value_dim, dtype))


def test_without_initial_state_and_with_explicit_scale():
    inputs = make_inputs(2, 70, 2, 8, 6)
    inputs["initial_state"] = None
    check_against_oracle(inputs, scale=0.3)


def test_strong_decay_does_not_overflow():
    # g ≈ −60 per step: exp of a positive log-decay difference would overflow.
    inputs = make_inputs(1, 100, 2, 8, 4)
    inputs["g"] = inputs["g"] - 60
    o, final_state = chunk_gla(**inputs)
    assert torch.isfinite(o).all() and torch.isfinite(final_state).all()
    check_against_oracle(inputs)


def test_fused_recurrent_computes_the_same_function():
    inputs = make_inputs(2, 70, 2, 8, 6, torch.float32)
    for got, want in zip(fused_recurrent_gla(**inputs, scale=0.5), chunk_gla(**inputs, scale=0.5)):
        torch.testing.assert_close(got, want)


# Packed sequence bounds: all non-empty, and with empty sequences (equal neighbours) first,
# in the middle, several in a row and last; an empty sequence keeps its initial state.
PACKED = {"non_empty": [0, 1, 9, 75, 100], "with_empty": [0, 0, 1, 9, 9, 9, 75, 100, 100]}


@pytest.mark.parametrize("bounds", PACKED)
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_packed_sequences(dtype, bounds):
    cu_seqlens = torch.tensor(PACKED[bounds], dtype=torch.int32)
    inputs = make_inputs(1, 100, 2, 40, 8, dtype, states=len(cu_seqlens) - 1)
    check_against_oracle(inputs, cu_seqlens=cu_seqlens)
    inputs["initial_state"] = None
    check_against_oracle(inputs, cu_seqlens=cu_seqlens)


def test_state_passing_between_halves_equals_one_run():
    inputs = make_inputs(2, 101, 2, 8, 6)
    o, final_state = chunk_gla(**inputs)
    first_o, middle_state = chunk_gla(*(inputs[name][:, :37] for name in "qkvg"), initial_state=inputs["initial_state"])
    second_o, second_state = chunk_gla(*(inputs[name][:, 37:] for name in "qkvg"), initial_state=middle_state)
    torch.testing.assert_close(torch.cat([first_o, second_o], dim=1), o)
    torch.testing.assert_close(second_state, final_state)


# Gradients through packed sequences, empty ones included (their initial state's gradient
# is the final state's).
PACKED_FOR_GRADIENTS = {"non_empty": [0, 1, 7, 10], "with_empty": [0, 0, 1, 7, 7, 10, 10]}


@pytest.mark.parametrize("packed", [None, *PACKED_FOR_GRADIENTS])
def test_gradients(monkeypatch, packed):
    # A chunk of 4 makes the 10 steps cross chunk boundaries; gradcheck covers both outputs.
    monkeypatch.setattr(gla_module, "CHUNK_SIZE", 4)
    cu_seqlens = None if packed is None else torch.tensor(PACKED_FOR_GRADIENTS[packed], dtype=torch.int32)
    inputs = make_inputs(1, 10, 2, 3, 2, states=None if packed is None else len(cu_seqlens) - 1)
    tensors = [inputs[name].requires_grad_() for name in ("q", "k", "v", "g", "initial_state")]

    def run(q, k, v, g, initial_state):
        return chunk_gla(q, k, v, g, scale=0.7, initial_state=initial_state, cu_seqlens=cu_seqlens)

    assert torch.autograd.gradcheck(run, tensors)
