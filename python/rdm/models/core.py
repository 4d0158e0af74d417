"""The recurrent core: one block looped over depth with stable input injection, a depth
LoRA, a loop-index embedding and ACT halting."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from ..ops import act_accumulate
from .block import Block
from .config import RDMConfig
from .packing import PackedDocuments

# exp(−exp(x)) is 1.0 in float32 for x below about −16 and 0 above about 4.5; clamping x to
# this range keeps every decay strictly inside [0, 1) (ρ(A) < 1 even in float32) and finite,
# with no 0·inf for any parameter values. The lower end gives a slowest decay of 1 − 1.2e-4.
_LOG_RATE_MIN, _LOG_RATE_MAX = -9.0, 9.0


class StableInjection(nn.Module):
    """``A ⊙ h + B ⊙ e`` with a per-channel decay ``A = exp(−exp(log_dt + log_A))`` ∈ [0, 1).

    A is the zero-order-hold discretisation of a negative continuous-time rate, computed in
    log space and clamped (see _LOG_RATE_MIN), so the spectral radius of the injection stays
    below 1 by construction and the recurrence cannot blow up over depth.
    """

    def __init__(self, d_model: int):
        super().__init__()
        self.log_A = nn.Parameter(torch.zeros(d_model))
        self.log_dt = nn.Parameter(torch.zeros(d_model))
        self.input_gain = nn.Parameter(torch.full((d_model,), 0.1))

    def decay(self) -> Tensor:
        """A: (d_model,) float32 in [0, 1)."""
        log_rate = (self.log_dt.float() + self.log_A.float()).clamp(_LOG_RATE_MIN, _LOG_RATE_MAX)
        return torch.exp(-torch.exp(log_rate))

    def spectral_radius(self) -> Tensor:
        """ρ(A) = max A (A is diagonal), a detached float32 scalar for monitoring."""
        return self.decay().detach().max()

    def forward(self, h: Tensor, e: Tensor) -> Tensor:
        return self.decay().to(h.dtype) * h + self.input_gain.to(h.dtype) * e


class DepthLoRA(nn.Module):
    """A depth-specific low-rank map ``up(down(x) ⊙ scale[t])`` added to the core block output.

    ``down`` and ``up`` are shared by all depths; each trained depth t < max_loops has its
    own scale vector, and deeper loops (depth extrapolation) reuse the last one. ``up``
    starts at zero so the adapter starts as the identity of the shared block.
    """

    def __init__(self, d_model: int, rank: int, max_loops: int):
        super().__init__()
        self.down = nn.Linear(d_model, rank, bias=False)
        self.up = nn.Linear(rank, d_model, bias=False)
        nn.init.zeros_(self.up.weight)
        self.depth_scale = nn.Parameter(torch.ones(max_loops, rank))

    def forward(self, x: Tensor, depth: int) -> Tensor:
        scale = self.depth_scale[min(depth, self.depth_scale.shape[0] - 1)]
        return self.up(self.down(x) * scale.to(x.dtype))


def loop_embedding(depth: int, d_model: int, width: int, device, dtype) -> Tensor:
    """Sinusoidal embedding of the loop index in the first ``width`` channels, zeros after:
    (d_model,). Sinusoids (not a table) so that any depth, trained or not, has one."""
    half = width // 2
    inv_freq = 10000.0 ** (-torch.arange(half, device=device, dtype=torch.float32) / max(half, 1))
    angles = depth * inv_freq
    return F.pad(torch.cat([angles.sin(), angles.cos()]), (0, d_model - 2 * half)).to(dtype)


@dataclass
class HaltingState:
    """Running ACT sums over the loops so far, per token (all float32)."""

    weighted_sum: Tensor  # (B, T, d_model) Σ weight_t · h_t
    cum_p: Tensor  # (B, T) Σ weight_t; 1 once halted
    loops: Tensor  # (B, T) loops run before and including the halting one: N
    remainder: Tensor  # (B, T) weight of the halting loop, R = 1 − Σ earlier weights; 0 until then


class ACTHalting(nn.Module):
    """Adaptive computation time over depth (Graves, 2016) through ``rdm.ops.act_accumulate``.

    Each loop adds ``p = sigmoid(w · h + b)`` of its state to a token's output until the
    running sum would cross the threshold; that loop, or the last one if the threshold is
    never reached, gets the remainder instead, so every token's weights sum to exactly 1.
    """

    def __init__(self, d_model: int, threshold: float):
        super().__init__()
        self.threshold = threshold
        self.weight = nn.Parameter(torch.zeros(d_model))
        # sigmoid(−2) ≈ 0.12 per loop: a token starts out using most of the loops.
        self.bias = nn.Parameter(torch.full((1,), -2.0))

    def initial_state(self, h: Tensor) -> HaltingState:
        zeros = h.new_zeros(h.shape[:-1], dtype=torch.float32)
        return HaltingState(h.new_zeros(h.shape, dtype=torch.float32), zeros, zeros, zeros)

    def forward(self, h: Tensor, state: HaltingState, is_last: bool) -> HaltingState:
        """Adds loop state h (B, T, d_model) to the sums."""
        running = state.cum_p < self.threshold
        weighted_sum, cum_p, weight = act_accumulate(
            h, self.weight, self.bias, state.weighted_sum, state.cum_p, self.threshold, is_last
        )
        halts_now = running & (cum_p >= self.threshold)
        return HaltingState(
            weighted_sum=weighted_sum,
            cum_p=cum_p,
            loops=state.loops + running.float(),
            remainder=state.remainder + torch.where(halts_now, weight, 0.0),
        )


@dataclass
class CoreOutput:
    hidden: Tensor  # (B, T, d_model): ACT-weighted mix of the depth states, or the last one
    loops_per_token: Tensor  # (B, T) float32: loops until halting (n_loops without ACT)
    ponder_cost: Tensor | None  # (B, T) float32 N + R, differentiable through R; None without ACT
    halting_weight_sum: Tensor | None  # (B, T) float32 Σ of the ACT weights (1 by construction)
    expert_load: Tensor | None  # (num_experts,) rows routed to each expert, summed over loops


class RecurrentCore(nn.Module):
    """One block looped over depth: ``h ← A ⊙ h + B ⊙ e + block(norm(h + loop_emb(t))) + lora_t(·)``.

    h starts at the prelude output e, which is also re-injected at every depth so that deep
    loops do not drift from the input.

    Halting (``config.halting``): ``"act"`` mixes the depth states with the ACT weights of
    ``rdm.ops.act_accumulate`` (per token, summing to 1) and reports the ponder cost N + R;
    ``"none"`` returns the last state. Every token runs all n_loops depths either way: the
    core mixer is recurrent over tokens at each depth, and a later token at depth t reads the
    depth-t state that every earlier token (halted or not) has advanced. So ACT weighs the
    outputs but saves no compute, and a decode step gives exactly the full-forward result.
    """

    def __init__(self, config: RDMConfig):
        super().__init__()
        self.config = config
        self.block = Block(config, config.core_mixer, config.core_ffn)
        self.input_norm = nn.RMSNorm(config.d_model, eps=config.norm_eps)
        self.injection = StableInjection(config.d_model)
        self.depth_lora = DepthLoRA(config.d_model, config.depth_lora_rank, config.max_loops)
        self.halting = ACTHalting(config.d_model, config.act_threshold) if config.halting == "act" else None
        self.gradient_checkpointing = False

    def new_states(self, batch_size: int, n_loops: int, device, dtype) -> list:
        """One decode state of the core mixer per loop depth."""
        return [self.block.new_state(batch_size, device, dtype) for _ in range(n_loops)]

    def _step(
        self, h: Tensor, e: Tensor, depth: int, state, position: int, packed: PackedDocuments | None
    ) -> tuple[Tensor, Tensor | None]:
        embedding = loop_embedding(depth, h.shape[-1], self.config.resolved_loop_embedding_dim, h.device, h.dtype)
        x = self.input_norm(h + embedding)
        block_out, expert_load = self.block(x, state, position, packed)
        return self.injection(h, e) + block_out + self.depth_lora(x, depth), expert_load

    def forward(
        self, e: Tensor, n_loops: int, states: list | None = None, position: int = 0,
        packed: PackedDocuments | None = None,
    ) -> CoreOutput:
        """e: (B, T, d_model) prelude output at absolute positions ``position …``; states: one
        decode state per depth (at least n_loops) or None; packed: documents packed in the rows."""
        h = e
        halting = None if self.halting is None else self.halting.initial_state(e)
        expert_load = None
        # Truncated backpropagation: the first loops run without autograd.
        keep_grad = torch.is_grad_enabled()
        first_grad_loop = n_loops - (self.config.backprop_loops or n_loops)
        for depth in range(n_loops):
            state = None if states is None else states[depth]
            with torch.set_grad_enabled(keep_grad and depth >= first_grad_loop):
                if self.gradient_checkpointing and torch.is_grad_enabled() and state is None:
                    h, load = checkpoint(self._step, h, e, depth, state, position, packed, use_reentrant=False)
                else:
                    h, load = self._step(h, e, depth, state, position, packed)
                if halting is not None:
                    halting = self.halting(h, halting, is_last=depth == n_loops - 1)
            if load is not None:
                expert_load = load if expert_load is None else expert_load + load

        if halting is None:
            loops = e.new_full(e.shape[:-1], n_loops, dtype=torch.float32)
            return CoreOutput(h, loops, None, None, expert_load)
        return CoreOutput(
            hidden=halting.weighted_sum.to(e.dtype),
            loops_per_token=halting.loops,
            ponder_cost=halting.loops + halting.remainder,
            halting_weight_sum=halting.cum_p,
            expert_load=expert_load,
        )
