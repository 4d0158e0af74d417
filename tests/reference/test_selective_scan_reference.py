import importlib

import pytest
import torch

from oracles import assert_matches_oracle, selective_scan_oracle
from rdm.reference.selective_scan import selective_scan, selective_state_update

# The module itself (rdm.reference.selective_scan is the function of the same name).
scan_module = importlib.import_module("rdm.reference.selective_scan")

LOW_PRECISION = [torch.float32, torch.bfloat16, torch.float16]


def make_inputs(batch, dim, state_size, length, groups, dtype=torch.float64, three_dim_bc=False, states=None):
    """Random inputs in the contract's dtypes: u, delta, z, B, C in ``dtype``; the rest fp32
    (float64 when ``dtype`` is float64). ``states`` initial states (default: batch)."""
    torch.manual_seed(0)
    param_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    bc_shape = (batch, state_size, length) if three_dim_bc else (batch, groups, state_size, length)
    return dict(
        u=torch.randn(batch, dim, length).to(dtype),
        delta=(0.5 * torch.randn(batch, dim, length)).to(dtype),
        A=-torch.exp(torch.randn(dim, state_size)).to(param_dtype),
        B=torch.randn(bc_shape).to(dtype),
        C=torch.randn(bc_shape).to(dtype),
        D=torch.randn(dim).to(param_dtype),
        z=torch.randn(batch, dim, length).to(dtype),
        delta_bias=(0.5 * torch.randn(dim)).to(param_dtype),
        delta_softplus=True,
        initial_state=torch.randn(states or batch, dim, state_size).to(param_dtype),
    )


def check_against_oracle(inputs, **kwargs):
    out, last_state = selective_scan(**inputs, **kwargs)
    expected_out, expected_state = selective_scan_oracle(**inputs, **kwargs)
    assert out.dtype == inputs["u"].dtype
    assert last_state.dtype == (torch.float64 if out.dtype == torch.float64 else torch.float32)
    assert_matches_oracle(out, expected_out)
    assert_matches_oracle(last_state, expected_state)


@pytest.mark.parametrize("dtype", [torch.float64] + LOW_PRECISION)
@pytest.mark.parametrize("batch, dim, state_size, length, groups", [
    (1, 4, 3, 1, 1), (2, 40, 16, 7, 2), (1, 72, 8, 65, 4), (2, 8, 4, 130, 1)])
def test_matches_oracle(dtype, batch, dim, state_size, length, groups):
    check_against_oracle(make_inputs(batch, dim, state_size, length, groups, dtype))


def test_three_dim_b_and_c_mean_one_group():
    check_against_oracle(make_inputs(2, 6, 5, 70, 1, torch.float32, three_dim_bc=True))


def test_optional_inputs_absent():
    inputs = make_inputs(2, 6, 5, 70, 3)
    for name in ("D", "z", "delta_bias", "initial_state"):
        inputs[name] = None
    inputs["delta_softplus"] = False
    inputs["delta"] = inputs["delta"].abs()  # a positive step without softplus
    check_against_oracle(inputs)


def test_strong_decay_does_not_overflow():
    # Δ·A ≈ −2000 per step: any form dividing by cumulative decays would overflow.
    inputs = make_inputs(1, 4, 3, 100, 1)
    inputs["delta"] = 20 + inputs["delta"]
    inputs["A"] = inputs["A"] - 100
    out, last_state = selective_scan(**inputs)
    assert torch.isfinite(out).all() and torch.isfinite(last_state).all()
    check_against_oracle(inputs)


def test_any_sign_of_a_is_exact():
    inputs = make_inputs(1, 4, 3, 80, 2)
    inputs["A"] = 0.1 * torch.randn(4, 3, dtype=torch.float64)
    check_against_oracle(inputs)


# Packed sequence bounds: all non-empty, and with empty sequences (equal neighbours) first,
# in the middle, several in a row and last; an empty sequence keeps its initial state.
PACKED = {"non_empty": [0, 1, 9, 75, 100], "with_empty": [0, 0, 1, 9, 9, 9, 75, 100, 100]}


@pytest.mark.parametrize("bounds", PACKED)
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_packed_sequences(dtype, bounds):
    cu_seqlens = torch.tensor(PACKED[bounds], dtype=torch.int32)
    inputs = make_inputs(1, 12, 4, 100, 3, dtype, states=len(cu_seqlens) - 1)
    check_against_oracle(inputs, cu_seqlens=cu_seqlens)
    inputs["initial_state"] = None
    check_against_oracle(inputs, cu_seqlens=cu_seqlens)


def test_state_passing_between_halves_equals_one_run():
    inputs = make_inputs(2, 8, 4, 101, 2)
    out, last_state = selective_scan(**inputs)
    halves = [{**inputs, **{name: inputs[name][..., part] for name in ("u", "delta", "B", "C", "z")}}
              for part in (slice(0, 37), slice(37, None))]
    first_out, middle_state = selective_scan(**halves[0])
    second_out, second_state = selective_scan(**{**halves[1], "initial_state": middle_state})
    torch.testing.assert_close(torch.cat([first_out, second_out], dim=-1), out)
    torch.testing.assert_close(second_state, last_state)


@pytest.mark.parametrize("three_dim_bc", [False, True])
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_state_update_steps_equal_scan(dtype, three_dim_bc):
    inputs = make_inputs(2, 8, 4, 5, 1 if three_dim_bc else 2, dtype, three_dim_bc=three_dim_bc)
    out, last_state = selective_scan(**inputs)
    state = inputs["initial_state"].clone()
    for t in range(5):
        y = selective_state_update(state, inputs["u"][..., t], inputs["delta"][..., t], inputs["A"],
                                   inputs["B"][..., t], inputs["C"][..., t], D=inputs["D"],
                                   z=inputs["z"][..., t], dt_bias=inputs["delta_bias"], dt_softplus=True)
        assert y.dtype == dtype
        torch.testing.assert_close(y, out[..., t])
    torch.testing.assert_close(state, last_state)


def test_gradients(monkeypatch):
    # A chunk of 4 makes the 9 steps cross two chunk boundaries; gradcheck covers both outputs.
    monkeypatch.setattr(scan_module, "CHUNK_SIZE", 4)
    inputs = make_inputs(1, 4, 3, 9, 2)
    names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias", "initial_state"]
    tensors = [inputs[name].requires_grad_() for name in names]

    def run(*tensors):
        return selective_scan(**{**inputs, **dict(zip(names, tensors))})

    assert torch.autograd.gradcheck(run, tensors)


# Gradients through packed sequences, empty ones included (their initial state's gradient
# is the final state's).
PACKED_FOR_GRADIENTS = {"non_empty": [0, 1, 7, 10], "with_empty": [0, 0, 1, 7, 7, 10, 10]}


@pytest.mark.parametrize("bounds", PACKED_FOR_GRADIENTS)
def test_gradients_packed_sequences(monkeypatch, bounds):
    monkeypatch.setattr(scan_module, "CHUNK_SIZE", 4)
    cu_seqlens = torch.tensor(PACKED_FOR_GRADIENTS[bounds], dtype=torch.int32)
    inputs = make_inputs(1, 4, 2, 10, 2, states=len(cu_seqlens) - 1)
    names = ["u", "delta", "B", "C", "initial_state"]
    tensors = [inputs[name].requires_grad_() for name in names]

    def run(*tensors):
        return selective_scan(**{**inputs, **dict(zip(names, tensors))}, cu_seqlens=cu_seqlens)

    assert torch.autograd.gradcheck(run, tensors)
