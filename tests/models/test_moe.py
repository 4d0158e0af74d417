"""MoE routing: the load-balancing bias chooses experts but never weights them."""
import torch

from rdm.models import RDMConfig
from rdm.models.feedforward import MoE


def skewed_router_moe(rate=0.05):
    """An MoE whose router prefers expert 0 for every token (the tokens share a direction
    that expert 0's router row points along)."""
    torch.manual_seed(0)
    moe = MoE(RDMConfig.preset("tiny", num_experts=8, experts_per_token=2, router_bias_update_rate=rate))
    d_model = moe.router.in_features
    direction = torch.randn(d_model) / d_model**0.5
    with torch.no_grad():
        moe.router.weight.normal_(std=0.1)
        moe.router.weight[0] += 3 * direction
    tokens = torch.randn(256, d_model) * 0.5 + direction
    return moe, tokens


def routed_load(moe, tokens):
    expert_ids, _ = moe.route(tokens)
    return torch.bincount(expert_ids.flatten(), minlength=moe.num_experts)


def imbalance(load):
    return (load.max() / load.float().mean()).item()


def test_layer_load_counts_the_routed_rows():
    moe, tokens = skewed_router_moe()
    with torch.no_grad():
        _, load = moe(tokens)
    assert torch.equal(load.long(), routed_load(moe, tokens))


def test_bias_update_evens_out_a_skewed_load():
    moe, tokens = skewed_router_moe()
    before = imbalance(routed_load(moe, tokens))
    for _ in range(100):
        moe.update_router_bias(routed_load(moe, tokens))
    after = imbalance(routed_load(moe, tokens))
    assert before > 3.0  # expert 0 is chosen by nearly every token: ~4× the mean load
    assert after < 1.25


def test_gate_weights_are_the_unbiased_softmax():
    moe, tokens = skewed_router_moe()
    with torch.no_grad():
        moe.router_bias.copy_(torch.linspace(-2, 2, moe.num_experts))
    expert_ids, gate_weights = moe.route(tokens)
    probs = moe.router(tokens).float().softmax(dim=-1)
    torch.testing.assert_close(gate_weights, probs.gather(-1, expert_ids))
    assert "router_bias" not in dict(moe.named_parameters())


def test_router_gets_gradients_through_the_gate_weights():
    moe, tokens = skewed_router_moe()
    moe(tokens)[0].square().sum().backward()
    assert moe.router.weight.grad.abs().sum() > 0
    assert moe.experts_gate_up.grad.abs().sum() > 0 and moe.experts_down.grad.abs().sum() > 0


def test_training_forward_updates_the_bias_and_eval_does_not(make_model):
    model = make_model()
    input_ids = torch.randint(0, 256, (2, 16))
    bias = model.core.block.ffn.router_bias
    model(input_ids)
    assert torch.all(bias == 0)
    out = model.train()(input_ids, n_loops=2)
    assert out.expert_load.shape == (1, model.config.num_experts)
    assert out.expert_load.sum() == 2 * 16 * model.config.experts_per_token * 2  # tokens · k · loops
    assert torch.any(bias != 0)


def test_router_bias_stays_float32_in_a_bfloat16_model(make_model):
    model = make_model().to(torch.bfloat16)
    moe = model.core.block.ffn
    assert moe.router_bias.dtype == torch.float32 and moe.experts_down.dtype == torch.bfloat16
    with torch.no_grad():
        moe.router_bias.fill_(1.0)
    moe.update_router_bias(torch.tensor([0, 10, 10, 20]))
    torch.testing.assert_close(moe.router_bias, 1.0 + moe.bias_update_rate * torch.tensor([1.0, 0.0, 0.0, -1.0]))


def test_router_bias_updates_can_be_left_to_the_caller(make_model):
    model = make_model().train()
    model.auto_update_router_biases = False
    bias = model.core.block.ffn.router_bias
    out = model(torch.randint(0, 256, (2, 16)), n_loops=2)
    assert torch.all(bias == 0)
    model.update_router_biases(out.expert_load)
    assert torch.any(bias != 0)
