import pytest
import torch

from rdm.train import TrainConfig


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny models on tiny tensors: intra-op threads only add synchronisation (see tests/models)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def corpus(tmp_path):
    """A small JSONL corpus of varied documents (deterministic)."""
    import json
    import random

    words = "the loop core halts after enough depth while each token reads its own state".split()
    generator = random.Random(0)
    path = tmp_path / "corpus.jsonl"
    with path.open("w") as file:
        for _ in range(120):
            text = " ".join(generator.choice(words) for _ in range(generator.randint(3, 30)))
            file.write(json.dumps({"text": text + "."}) + "\n")
    return path


@pytest.fixture
def tiny_config(tmp_path, corpus):
    """A TrainConfig that trains the tiny preset for a few fast CPU steps."""

    def make(**overrides) -> TrainConfig:
        values = dict(
            data=[str(corpus)], seq_len=32, batch_size=2, steps=4, warmup_steps=1, lr=1e-2,
            save_every=2, keep_last=2, eval_loops=[1, 2], eval_rows=4, sample_tokens=4, log_every=1,
            threads=1, out=str(tmp_path / "run"), held_out_fraction=0.1,
        )
        values.update(overrides)
        return TrainConfig(**values)

    return make
