"""rdm.models: a recurrent-depth hybrid causal language model built from ``rdm.ops``.

A prelude of blocks run once, one core block looped over depth with stable injection,
depth LoRA and ACT halting, and a coda of blocks run once; Mamba, GLA and sliding-window
attention mixers, dense SwiGLU or MoE feed-forwards; a constant-size decode cache.
"""
from .cache import RDMCache
from .config import RDMConfig
from .depth_sampling import sample_loop_count
from .generation import generate, sample_next_token, stream_generate
from .model import RDMForCausalLM, RDMOutput

__all__ = [
    "RDMCache",
    "RDMConfig",
    "RDMForCausalLM",
    "RDMOutput",
    "generate",
    "sample_loop_count",
    "sample_next_token",
    "stream_generate",
]
