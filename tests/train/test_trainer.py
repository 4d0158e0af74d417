"""The training loop end to end in one process: loss, outputs, accumulation, the CLI entry."""
import json
from pathlib import Path

import pytest

from rdm.train import cli, train
from rdm.train.optim import WarmupCosine

from train_runs import read_metrics


def test_loss_falls_and_every_output_is_written(tiny_config, capsys):
    config = tiny_config(steps=10, warmup_steps=2, save_every=5)
    summary = train(config)
    records = read_metrics(config.out)
    losses = [record["loss"] for record in records]
    assert losses[-1] < losses[0] - 0.5, losses
    assert all(1 <= record["mean_loops"] <= 4 and record["expert_imbalance"] >= 1 for record in records)
    assert len({record["n_loops"] for record in records}) > 1  # the depth is sampled per step

    out = Path(config.out)
    assert (out / "depth_curve.md").read_text().startswith("| loops | held-out loss")
    assert [row["loops"] for row in json.loads((out / "depth_curve.json").read_text())] == [1, 2]
    assert summary["sample"].startswith(config.sample_prompt) and (out / "sample.txt").exists()
    assert json.loads((out / "config.json").read_text())["model"]["vocab_size"] == 256
    printed = capsys.readouterr().out
    assert "step     10/10 [####################] loss " in printed and "tok/s" in printed
    assert "imbalance" in printed and "sample (2 loops)" in printed
    pytest.importorskip("safetensors")
    assert (out / "model" / "model.safetensors").exists()


def test_gradient_accumulation_matches_one_big_batch(tiny_config, tmp_path):
    whole = tiny_config(steps=2, batch_size=4, out=str(tmp_path / "whole"), save_every=0)
    accumulated = tiny_config(steps=2, batch_size=2, grad_accum=2, out=str(tmp_path / "accumulated"), save_every=0)
    train(whole)
    train(accumulated)
    for want, got in zip(read_metrics(whole.out), read_metrics(accumulated.out)):
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-5)
        assert got["grad_norm"] == pytest.approx(want["grad_norm"], rel=1e-4)


def test_cli_entry_point_trains(tiny_config, tmp_path):
    out = tmp_path / "cli"
    assert cli.main(["--data", tiny_config().data[0], "--steps", "1", "--seq-len", "16", "--batch-size", "2",
                     "--eval-loops", "1", "--eval-rows", "2", "--sample-tokens", "2", "--save-every", "0",
                     "--threads", "1", "--out", str(out), "--model", "halting=none"]) == 0
    assert json.loads((out / "config.json").read_text())["model"]["halting"] == "none"
    assert len(read_metrics(out)) == 1


def test_gradient_checkpointing_per_loop_changes_nothing_but_memory(tiny_config, tmp_path):
    plain = tiny_config(steps=2, out=str(tmp_path / "plain"), save_every=0)
    recomputed = tiny_config(steps=2, out=str(tmp_path / "recomputed"), save_every=0, gradient_checkpointing=True)
    train(plain)
    train(recomputed)
    for want, got in zip(read_metrics(plain.out), read_metrics(recomputed.out)):
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-6)
        assert got["grad_norm"] == pytest.approx(want["grad_norm"], rel=1e-5)


def test_bf16_autocast_trains_evaluates_and_samples(tiny_config, tmp_path):
    """The CUDA default (bf16 autocast), run on the CPU: training, the packed evaluation and
    the cached generation of the sample all accept the narrower activations."""
    config = tiny_config(steps=1, precision="bf16", out=str(tmp_path / "bf16"), save_every=0, sample_tokens=3)
    summary = train(config)
    assert summary["final"]["loss"] == pytest.approx(5.5, abs=0.5)  # about ln 256 at the start
    assert len(summary["sample"].encode()) >= len(config.sample_prompt)


def test_resume_with_more_steps_extends_the_schedule(tiny_config):
    train(tiny_config(steps=2, save_every=2))
    longer = tiny_config(steps=4, save_every=2, resume=True)
    train(longer)
    records = read_metrics(longer.out)
    assert [record["step"] for record in records] == [1, 2, 3, 4]
    schedule = WarmupCosine(longer.warmup_steps, longer.steps, longer.min_lr_ratio)
    assert [record["lr"] for record in records[2:]] == pytest.approx([longer.lr * schedule(s) for s in (2, 3)])


@pytest.mark.parametrize("change, message", [
    ({"model": {"halting": "none"}}, "another model config"),
    ({"seq_len": 16}, "rows of data"),
    ({"batch_size": 4}, "global batch"),
])
def test_resume_refuses_an_incompatible_checkpoint(tiny_config, change, message):
    train(tiny_config(steps=2, save_every=2))
    with pytest.raises(ValueError, match=message):
        train(tiny_config(steps=4, resume=True, **change))
