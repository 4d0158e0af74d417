import pytest
import torch

from rdm.models import RDMConfig, RDMForCausalLM


@pytest.fixture
def make_model():
    """Builds a seeded tiny model in eval mode; keyword arguments override config fields."""

    def make(seed: int = 0, **overrides) -> RDMForCausalLM:
        torch.manual_seed(seed)
        return RDMForCausalLM(RDMConfig.preset("tiny", **overrides)).eval()

    return make
