"""RDMForCausalLM: prelude blocks, a looped recurrent core, coda blocks and an LM head."""
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import generation, io
from .block import Block
from .cache import RDMCache
from .config import RDMConfig
from .core import RecurrentCore
from .depth_sampling import sample_loop_count
from .feedforward import MoE
from .packing import PackedDocuments


@dataclass
class RDMOutput:
    logits: Tensor  # (B, T, vocab_size)
    loss: Tensor | None  # () next-token cross-entropy + ponder_weight · ponder_cost, given labels
    lm_loss: Tensor | None  # () the next-token cross-entropy alone, given labels
    cache: RDMCache | None  # the updated cache, when one was passed
    n_loops: int  # loops the core ran
    loops_per_token: Tensor  # () float32 mean loops a token ran before halting
    ponder_cost: Tensor | None  # () float32 mean ACT ponder cost N + R (None without ACT)
    # (MoE blocks, num_experts) int32 rows routed to each expert (the core's summed over loops)
    expert_load: Tensor | None
    injection_spectral_radius: Tensor  # () float32 ρ(A) of the core injection, < 1


class RDMForCausalLM(nn.Module):
    """A recurrent-depth hybrid causal language model built from ``rdm.ops``.

    ``forward(input_ids, labels=None, n_loops=None, cache=None, cu_seqlens=None)``. ``n_loops`` defaults to
    ``config.n_loops``, except in training mode with ``config.sample_loops``, where every
    call draws it from ``sample_loop_count`` at step ``self.training_step`` (then
    incremented; set it when resuming). ``n_loops`` may exceed ``config.max_loops`` (depth
    extrapolation); 0 is an error.

    Training-mode calls also move the MoE router biases towards even expert load
    (``update_router_biases``). Under data parallelism set ``auto_update_router_biases =
    False``, sum ``RDMOutput.expert_load`` over the ranks and call ``update_router_biases``
    with the sum, so that every rank keeps the same biases.

    With a cache (``new_cache``) the call continues the sequence the cache has seen and
    updates the cache: prefilling a prompt and then decoding token by token gives the logits
    of one forward over the whole sequence.

    ``cu_seqlens`` packs several documents into each row (see ``rdm.models.packing``): every
    document then gets the logits and loss it would get alone; no attention, scan or
    convolution state and no label crosses a boundary.
    """

    def __init__(self, config: RDMConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model)
        nn.init.normal_(self.embed_tokens.weight, std=config.initializer_range)
        self.prelude = nn.ModuleList(Block(config, mixer, config.prelude_ffn) for mixer in config.prelude_mixers)
        self.core = RecurrentCore(config)
        self.coda = nn.ModuleList(Block(config, mixer, config.coda_ffn) for mixer in config.coda_mixers)
        self.final_norm = nn.RMSNorm(config.d_model, eps=config.norm_eps)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        self.training_step = 0
        self.auto_update_router_biases = True

    # -- forward -----------------------------------------------------------------------

    def forward(
        self,
        input_ids: Tensor,
        labels: Tensor | None = None,
        n_loops: int | None = None,
        cache: RDMCache | None = None,
        cu_seqlens: Tensor | None = None,
    ) -> RDMOutput:
        """input_ids, labels: (B, T) int64; labels are shifted inside (position t predicts
        t + 1) and −100 is ignored. cu_seqlens: optional (S + 1,) int32 starts of the S
        documents packed into the B·T tokens flattened row after row, then B·T; it must
        contain every row start. Not with a cache."""
        packed = None
        if cu_seqlens is not None:
            if cache is not None:
                raise ValueError("cu_seqlens (packed documents) cannot be combined with a decode cache")
            packed = PackedDocuments.from_cu_seqlens(cu_seqlens.to(input_ids.device), *input_ids.shape)
        n_loops = self._resolve_n_loops(n_loops, cache)
        position = 0 if cache is None else cache.position
        loads = []  # expert loads in forward order, None for dense blocks

        x = self.embed_tokens(input_ids)
        x = self._run_blocks(self.prelude, x, cache and cache.prelude, position, packed, loads)
        core = self.core(x, n_loops, cache and cache.core, position, packed)
        loads.append(core.expert_load)
        x = self._run_blocks(self.coda, core.hidden, cache and cache.coda, position, packed, loads)
        logits = self.lm_head(self.final_norm(x))

        if cache is not None:
            cache.position += input_ids.shape[1]
        loads = [load for load in loads if load is not None]
        expert_load = torch.stack(loads) if loads else None
        if self.training and self.auto_update_router_biases and expert_load is not None:
            self.update_router_biases(expert_load)

        ponder_cost = None if core.ponder_cost is None else core.ponder_cost.mean()
        loss = lm_loss = None
        if labels is not None:
            if packed is not None:
                labels = packed.mask_boundary_labels(labels)
            lm_loss = F.cross_entropy(
                logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=-100
            )
            loss = lm_loss if ponder_cost is None else lm_loss + self.config.ponder_weight * ponder_cost
        return RDMOutput(
            logits=logits,
            loss=loss,
            lm_loss=lm_loss,
            cache=cache,
            n_loops=n_loops,
            loops_per_token=core.loops_per_token.mean(),
            ponder_cost=ponder_cost,
            expert_load=expert_load,
            injection_spectral_radius=self.injection_spectral_radius(),
        )

    @staticmethod
    def _run_blocks(
        blocks: nn.ModuleList, x: Tensor, states: list | None, position: int, packed: PackedDocuments | None,
        loads: list,
    ) -> Tensor:
        for index, block in enumerate(blocks):
            x, load = block(x, None if states is None else states[index], position, packed)
            loads.append(load)
        return x

    def _resolve_n_loops(self, n_loops: int | None, cache: RDMCache | None) -> int:
        if n_loops is None:
            if self.training and self.config.sample_loops:
                n_loops = sample_loop_count(
                    self.config.n_loops, self.config.loop_sampling_sigma, self.config.max_loops,
                    self.training_step, self.config.loop_sampling_seed,
                )
                self.training_step += 1
            else:
                n_loops = self.config.n_loops
        if n_loops < 1:
            raise ValueError(f"n_loops must be ≥ 1, got {n_loops}")
        if cache is not None and n_loops > cache.max_loops:
            raise ValueError(f"the cache holds core states for {cache.max_loops} loops, not {n_loops}: "
                             "make it with new_cache(batch_size, n_loops)")
        return n_loops

    def update_router_biases(self, expert_load: Tensor) -> None:
        """Moves every MoE router bias towards even load; expert_load: (MoE blocks,
        num_experts) as in ``RDMOutput.expert_load``."""
        for moe, load in zip(self._moe_layers(), expert_load):
            moe.update_router_bias(load)

    def _moe_layers(self) -> list[MoE]:
        """The MoE feed-forwards in forward order (the order of ``RDMOutput.expert_load``)."""
        blocks = [*self.prelude, self.core.block, *self.coda]
        return [block.ffn for block in blocks if isinstance(block.ffn, MoE)]

    # -- decoding ----------------------------------------------------------------------

    def new_cache(self, batch_size: int, n_loops: int | None = None, device=None, dtype=None) -> RDMCache:
        """An empty decode cache for up to ``n_loops`` (default ``config.n_loops``) core loops;
        device and dtype default to the model's."""
        weight = self.embed_tokens.weight
        device, dtype = device or weight.device, dtype or weight.dtype
        n_loops = self.config.n_loops if n_loops is None else n_loops
        if n_loops < 1:
            raise ValueError(f"n_loops must be ≥ 1, got {n_loops}")
        return RDMCache(
            prelude=[block.new_state(batch_size, device, dtype) for block in self.prelude],
            core=self.core.new_states(batch_size, n_loops, device, dtype),
            coda=[block.new_state(batch_size, device, dtype) for block in self.coda],
        )

    @torch.no_grad()
    def generate(self, input_ids: Tensor, max_new_tokens: int, **sampling) -> Tensor:
        """(B, T) prompt → (B, T + new tokens); see ``rdm.models.generation.generate``."""
        return generation.generate(self, input_ids, max_new_tokens, **sampling)

    def stream_generate(self, input_ids: Tensor, max_new_tokens: int, **sampling) -> Iterator[Tensor]:
        """Yields each new (B,) token; see ``rdm.models.generation.stream_generate``."""
        return generation.stream_generate(self, input_ids, max_new_tokens, **sampling)

    # -- persistence -------------------------------------------------------------------

    def save_pretrained(self, directory) -> None:
        io.save_pretrained(self, directory)

    @classmethod
    def from_pretrained(cls, directory, device=None) -> "RDMForCausalLM":
        return io.load_pretrained(cls, directory, device)

    # -- monitoring --------------------------------------------------------------------

    def count_parameters(self, trainable_only: bool = False) -> int:
        """Parameters, tied ones counted once."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def injection_spectral_radius(self) -> Tensor:
        """ρ(A) of the core's state injection (< 1 by construction), detached."""
        return self.core.injection.spectral_radius()

    def gradient_checkpointing_enable(self, enabled: bool = True) -> None:
        """Recompute each core loop in the backward pass instead of storing its activations
        (not applied with a decode cache, whose states the loops update)."""
        self.core.gradient_checkpointing = enabled

    def architecture_summary(self) -> str:
        config = self.config

        def count(module):
            return sum(p.numel() for p in module.parameters())

        def blocks(mixers, ffn):
            runs = [(mixer, len(list(group))) for mixer, group in itertools.groupby(mixers)]
            return ", ".join(f"{count} × {mixer}+{ffn}" for mixer, count in runs) or "none"

        lines = [
            f"RDMForCausalLM: {self.count_parameters():,} parameters, d_model {config.d_model}, "
            f"vocab {config.vocab_size} ({'tied' if config.tie_embeddings else 'untied'} embeddings)",
            f"  prelude (once):  {blocks(config.prelude_mixers, config.prelude_ffn)}  [{count(self.prelude):,}]",
            f"  core (looped):   {config.core_mixer}+{config.core_ffn} × {config.n_loops} loops "
            f"(trained up to {config.max_loops}), halting {config.halting}  [{count(self.core):,}]",
            f"  coda (once):     {blocks(config.coda_mixers, config.coda_ffn)}  [{count(self.coda):,}]",
        ]
        if not self.embed_tokens.weight.is_meta:  # a model built on the meta device has no values
            lines.append(f"  injection ρ(A) = {self.injection_spectral_radius().item():.4f}")
        if config.num_experts and "moe" in (config.prelude_ffn, config.core_ffn, config.coda_ffn):
            lines.append(f"  MoE: {config.num_experts} experts, top-{config.experts_per_token}, "
                         f"{config.num_shared_experts} shared, hidden {config.expert_hidden}")
        if "swa" in (*config.prelude_mixers, config.core_mixer, *config.coda_mixers):
            lines.append(f"  attention: {config.attn_heads} heads / {config.attn_kv_heads} kv, window "
                         f"{config.attn_window}, {config.attn_num_memory} memory tokens")
        return "\n".join(lines)
