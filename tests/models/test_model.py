"""The whole model: presets, loss, training, persistence, dtypes, torch.compile."""
import pytest
import torch
import torch.nn.functional as F

from rdm.models import RDMConfig, RDMForCausalLM


@pytest.mark.parametrize("name, target", [("100m", 100e6), ("500m", 500e6), ("1b", 1e9)])
def test_preset_parameter_counts_are_within_ten_percent(name, target):
    with torch.device("meta"):
        model = RDMForCausalLM(RDMConfig.preset(name))
    assert abs(model.count_parameters() - target) <= 0.1 * target
    assert f"{model.count_parameters():,} parameters" in model.architecture_summary()


def test_config_json_round_trip():
    config = RDMConfig.preset("tiny", coda_mixers=("swa", "gla"), backprop_loops=2)
    assert RDMConfig.from_json(config.to_json()) == config


def test_loss_shifts_labels_and_ignores_minus_100(make_model):
    model = make_model(halting="none")
    input_ids = torch.randint(0, model.config.vocab_size, (2, 6))
    labels = input_ids.clone()
    labels[:, :4] = -100  # only positions 3 → 4 and 4 → 5 count
    out = model(input_ids, labels=labels)
    expected = F.cross_entropy(out.logits[:, 3:5].flatten(0, 1), input_ids[:, 4:6].flatten())
    torch.testing.assert_close(out.loss, expected)


@pytest.mark.parametrize("tie_embeddings", [True, False])
def test_save_and_load_give_identical_logits(make_model, tmp_path, tie_embeddings):
    model = make_model(tie_embeddings=tie_embeddings)
    with torch.no_grad():
        model.core.block.ffn.router_bias.normal_()  # buffers travel with the weights
    model.save_pretrained(tmp_path)
    loaded = RDMForCausalLM.from_pretrained(tmp_path).eval()
    assert loaded.config == model.config
    assert (loaded.lm_head.weight is loaded.embed_tokens.weight) == tie_embeddings
    input_ids = torch.randint(0, model.config.vocab_size, (1, 10))
    with torch.no_grad():
        assert torch.equal(loaded(input_ids).logits, model(input_ids).logits)


def test_loss_falls_when_overfitting_one_batch(make_model):
    model = make_model(sample_loops=False).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    input_ids = torch.randint(0, model.config.vocab_size, (2, 16))
    losses = []
    for _ in range(15):
        loss = model(input_ids, labels=input_ids).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_bfloat16_forward_stays_bfloat16(make_model):
    model = make_model().to(torch.bfloat16)
    input_ids = torch.randint(0, model.config.vocab_size, (1, 12))
    with torch.no_grad():
        logits = model(input_ids).logits
        swa = model.coda[0].mixer
        hidden = torch.randn(1, 12, model.config.d_model, dtype=torch.bfloat16)
        assert swa(hidden).dtype == torch.bfloat16
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits.float()).all()


def test_monitoring_and_summary(make_model):
    model = make_model()
    out = model(torch.randint(0, model.config.vocab_size, (1, 4)))
    assert 0 < out.injection_spectral_radius < 1
    assert 1 <= out.loops_per_token <= model.config.n_loops
    summary = model.architecture_summary()
    for expected in ("1 × mamba+dense", "gla+moe × 2 loops", "1 × swa+dense", "ρ(A)", f"{model.count_parameters():,}"):
        assert expected in summary


@pytest.mark.compile
def test_compiled_training_step_runs(make_model):
    # fullgraph: the whole forward, router-bias update included, is one graph; AOTAutograd
    # compiles the backward from it.
    model = make_model(sample_loops=False).train()
    compiled = torch.compile(model, fullgraph=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2)
    input_ids = torch.randint(0, model.config.vocab_size, (2, 16))
    for _ in range(2):
        optimizer.zero_grad()
        loss = compiled(input_ids, labels=input_ids).loss
        loss.backward()
        optimizer.step()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert torch.any(model.core.block.ffn.router_bias != 0)
