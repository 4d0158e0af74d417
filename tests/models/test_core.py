"""The recurrent core: ACT halting, ponder cost, stable injection, depth LoRA, loop counts."""
import pytest
import torch

from rdm.models import sample_loop_count
from rdm.models.core import DepthLoRA, StableInjection


def core_inputs(model, length=6):
    return torch.randn(2, length, model.config.d_model)


@pytest.mark.parametrize("halt_bias, expected_loops", [(-30.0, 4.0), (30.0, 1.0), (0.0, None)])
def test_act_weights_sum_to_one(make_model, halt_bias, expected_loops):
    # −30: the threshold is never reached, so the last loop must hand out the remainder;
    # +30: every token halts at the first loop; 0: halting somewhere in between.
    model = make_model()
    with torch.no_grad():
        model.core.halting.bias.fill_(halt_bias)
        out = model.core(core_inputs(model), n_loops=4)
    torch.testing.assert_close(out.halting_weight_sum, torch.ones_like(out.halting_weight_sum))
    if expected_loops is not None:
        assert torch.all(out.loops_per_token == expected_loops)
    assert torch.all(out.ponder_cost >= out.loops_per_token)


def test_ponder_cost_is_differentiable_through_the_remainder(make_model):
    model = make_model()
    with torch.no_grad():
        model.core.halting.bias.zero_()  # p = 0.5: tokens halt at the second loop with R = 0.5
    out = model.core(core_inputs(model), n_loops=4)
    assert torch.all(out.loops_per_token == 2)
    out.ponder_cost.sum().backward()
    # R = 1 − p_1 = 1 − sigmoid(bias): dR/dbias = −1/4 per token.
    torch.testing.assert_close(model.core.halting.bias.grad, torch.tensor([-0.25 * 12]))


def test_loss_includes_weighted_ponder_cost(make_model):
    model = make_model(ponder_weight=0.5)
    input_ids = torch.randint(0, model.config.vocab_size, (1, 8))
    out = model(input_ids, labels=input_ids)
    language_loss = torch.nn.functional.cross_entropy(out.logits[0, :-1], input_ids[0, 1:])
    torch.testing.assert_close(out.loss, language_loss + 0.5 * out.ponder_cost)


def test_halting_none_returns_the_last_state(make_model):
    model = make_model(halting="none")
    out = model(torch.randint(0, model.config.vocab_size, (1, 5)), n_loops=3)
    assert out.ponder_cost is None and out.loops_per_token.item() == 3


@pytest.mark.parametrize("log_A, log_dt", [(1e30, 1e30), (-1e30, -1e30), (1e30, -5.0), (0.0, 0.0)])
def test_injection_decay_is_stable_at_extreme_parameters(log_A, log_dt):
    injection = StableInjection(4)
    with torch.no_grad():
        injection.log_A.fill_(log_A)
        injection.log_dt.fill_(log_dt)
    decay = injection.decay()
    assert torch.all(decay >= 0) and torch.all(decay < 1)
    assert injection.spectral_radius() < 1
    decay.sum().backward()
    assert torch.isfinite(injection.log_A.grad).all() and torch.isfinite(injection.log_dt.grad).all()


def test_depth_lora_reuses_the_last_trained_depth_beyond_it():
    lora = DepthLoRA(8, 2, max_loops=3)
    with torch.no_grad():
        lora.up.weight.normal_()
        lora.depth_scale.normal_()
    x = torch.randn(1, 2, 8)
    torch.testing.assert_close(lora(x, 100), lora(x, 2))
    assert not torch.allclose(lora(x, 1), lora(x, 2))


def test_32_loops_give_finite_gradients(make_model):
    model = make_model()
    input_ids = torch.randint(0, model.config.vocab_size, (1, 8))
    model(input_ids, labels=input_ids, n_loops=32).loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_truncated_backprop_reaches_only_the_last_loops(make_model):
    model = make_model(backprop_loops=1)
    with torch.no_grad():
        model.core.depth_lora.up.weight.normal_()
    input_ids = torch.randint(0, model.config.vocab_size, (1, 8))
    model(input_ids, labels=input_ids, n_loops=3).loss.backward()
    depth_grad_norms = model.core.depth_lora.depth_scale.grad.norm(dim=-1)
    assert depth_grad_norms[0] == 0 and depth_grad_norms[1] == 0 and depth_grad_norms[2] > 0


def test_gradient_checkpointing_gives_the_same_gradients(make_model):
    input_ids = torch.randint(0, 256, (1, 8))
    grads = []
    for checkpointing in (False, True):
        model = make_model()
        model.gradient_checkpointing_enable(checkpointing)
        model(input_ids, labels=input_ids, n_loops=3).loss.backward()
        grads.append([p.grad for p in model.parameters()])
    for plain, recomputed in zip(*grads):
        torch.testing.assert_close(recomputed, plain)


def test_zero_loops_is_an_error(make_model):
    model = make_model()
    with pytest.raises(ValueError, match="n_loops"):
        model(torch.zeros(1, 3, dtype=torch.long), n_loops=0)
    with pytest.raises(ValueError, match="n_loops"):
        model.new_cache(1, n_loops=0)


def test_sampled_loop_counts_depend_on_the_step_only():
    draws = [sample_loop_count(4, 0.5, 8, step) for step in range(400)]
    assert draws == [sample_loop_count(4, 0.5, 8, step) for step in range(400)]
    assert min(draws) >= 1 and max(draws) == 8
    assert 3.0 < sum(draws) / len(draws) < 5.0
    assert sum(d == 8 for d in draws) < 0.2 * len(draws)  # not always the maximum


def test_training_forward_samples_its_depth_per_step(make_model):
    model = make_model().train()
    input_ids = torch.randint(0, 256, (1, 4))
    depths = []
    for _ in range(6):
        depths.append(model(input_ids).n_loops)
    expected = [sample_loop_count(2, 0.5, 4, step) for step in range(6)]
    assert depths == expected and model.training_step == 6
    assert model.eval()(input_ids).n_loops == model.config.n_loops
