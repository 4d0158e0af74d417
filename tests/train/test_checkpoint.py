"""Checkpoints: atomic writes, keep-last-K, and the learning-rate schedule they carry."""
import pytest
import torch

from rdm.train import checkpoint
from rdm.train.optim import WarmupCosine


def test_keeps_the_last_k(tmp_path):
    for step in (2, 4, 6, 8):
        checkpoint.save_checkpoint(tmp_path, step, {"step": step}, keep_last=2)
    assert [path.name for path in checkpoint.list_checkpoints(tmp_path)] == ["step-00000006.pt", "step-00000008.pt"]
    assert checkpoint.load_checkpoint(checkpoint.latest_checkpoint(tmp_path)) == {"step": 8}


def test_a_write_that_dies_leaves_the_previous_checkpoint_and_no_partial_file(tmp_path, monkeypatch):
    checkpoint.save_checkpoint(tmp_path, 1, {"weights": torch.ones(3)}, keep_last=3)

    def dies_midway(payload, file):
        file.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save_checkpoint(tmp_path, 2, {"weights": torch.zeros(3)}, keep_last=3)
    assert [path.name for path in tmp_path.iterdir()] == ["step-00000001.pt"]
    assert torch.equal(checkpoint.load_checkpoint(checkpoint.latest_checkpoint(tmp_path))["weights"], torch.ones(3))


def test_the_file_appears_only_by_rename(tmp_path, monkeypatch):
    """While torch.save writes, the final name does not exist yet; a SIGKILL at that moment
    leaves only a temporary file, which the next run removes."""
    seen = []
    real_save = torch.save

    def watching_save(payload, file):
        seen.append(sorted(path.name for path in tmp_path.iterdir()))
        real_save(payload, file)

    monkeypatch.setattr(torch, "save", watching_save)
    checkpoint.save_checkpoint(tmp_path, 3, {"step": 3}, keep_last=1)
    assert seen == [[".step-00000003.pt.tmp-" + str(__import__("os").getpid())]]
    assert [path.name for path in tmp_path.iterdir()] == ["step-00000003.pt"]
    (tmp_path / ".step-00000004.pt.tmp-999").write_bytes(b"partial")
    assert checkpoint.latest_checkpoint(tmp_path).name == "step-00000003.pt"
    checkpoint.remove_stale_temporaries(tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == ["step-00000003.pt"]


def test_warmup_then_cosine():
    schedule = WarmupCosine(warmup=4, total=14, min_ratio=0.1)
    values = [schedule(step) for step in range(16)]
    assert values[:4] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert values[4] == pytest.approx(1.0)
    assert values[9] == pytest.approx(0.55)  # half way down the cosine
    assert values[14] == values[15] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(values[4:], values[5:]))
