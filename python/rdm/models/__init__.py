"""rdm.models: a recurrent-depth hybrid causal language model built from ``rdm.ops``.

A prelude of blocks run once (Mamba by default), one core block looped over depth (GLA +
MoE by default) with stable input injection, a depth LoRA and ACT halting, and a coda of
blocks run once (sliding-window attention with memory tokens by default). Every block is a
token mixer (Mamba, GLA or sliding-window attention) followed by a dense SwiGLU or MoE
feed-forward. Decoding keeps a cache whose size does not depend on the tokens seen.

    >>> from rdm.models import RDMConfig, RDMForCausalLM
    >>> model = RDMForCausalLM(RDMConfig.preset("tiny"))
    >>> out = model(input_ids, labels=input_ids)            # training: depth sampled per step
    >>> out.loss.backward()
    >>> model.eval().generate(prompt, 32, n_loops=8, top_p=0.9)  # deeper than trained
    >>> model.save_pretrained("ckpt"); RDMForCausalLM.from_pretrained("ckpt")

Modules: ``config`` (RDMConfig, presets), ``mixers`` (Mamba, GLA, attention and their
decode states), ``rope``, ``feedforward`` (SwiGLU, MoE), ``block``, ``core`` (the loop:
injection, depth LoRA, loop embedding, ACT), ``depth_sampling``, ``cache``, ``model``,
``generation``, ``io``, ``packing`` (documents packed into rows: ``cu_seqlens``).
"""
from .cache import RDMCache
from .config import RDMConfig
from .depth_sampling import sample_loop_count
from .generation import generate, sample_next_token, stream_generate
from .model import RDMForCausalLM, RDMOutput
from .packing import PackedDocuments

__all__ = [
    "PackedDocuments",
    "RDMCache",
    "RDMConfig",
    "RDMForCausalLM",
    "RDMOutput",
    "generate",
    "sample_loop_count",
    "sample_next_token",
    "stream_generate",
]
