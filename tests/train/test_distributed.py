"""Two CPU processes (gloo, launched by torchrun) against one process with the same global batch."""
import json
from pathlib import Path

import pytest

from rdm.train import train

from train_runs import command, read_metrics, run

STEPS = 3


@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_two_ranks_match_one_process(mode, tiny_config, tmp_path):
    single = tiny_config(steps=STEPS, batch_size=4, out=str(tmp_path / "single"), save_every=0)
    train(single)
    two = tiny_config(steps=STEPS, batch_size=2, out=str(tmp_path / mode), dist=mode, save_every=STEPS)
    run(command(two, tmp_path, launcher=("-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                                         "-m", "rdm.train")))

    summary = json.loads((Path(two.out) / "summary.json").read_text())
    digests = summary["rank_parameter_digests"]
    assert len(digests) == 2 and digests[0] == digests[1], "the ranks hold different parameters"
    expected, got = read_metrics(single.out), read_metrics(two.out)
    assert [record["step"] for record in got] == list(range(1, STEPS + 1))
    for want, have in zip(expected, got):
        assert have["n_loops"] == want["n_loops"]
        assert have["loss"] == pytest.approx(want["loss"], rel=1e-5), have["step"]
        assert have["grad_norm"] == pytest.approx(want["grad_norm"], rel=1e-4), have["step"]
    assert summary["final"]["expert_imbalance"] == pytest.approx(expected[-1]["expert_imbalance"])
    # The checkpoint holds the full, unsharded model whatever the wrapping.
    assert (Path(two.out) / "checkpoints" / f"step-{STEPS:08d}.pt").exists()
