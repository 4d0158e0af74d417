import pytest
import torch

from rdm.models import RDMConfig, RDMForCausalLM


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny models run on tensors far too small for intra-op threads to pay off; on a busy
    machine the threads' synchronisation made these tests several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def make_model():
    """Builds a seeded tiny model in eval mode; keyword arguments override config fields."""

    def make(seed: int = 0, **overrides) -> RDMForCausalLM:
        torch.manual_seed(seed)
        return RDMForCausalLM(RDMConfig.preset("tiny", **overrides)).eval()

    return make
