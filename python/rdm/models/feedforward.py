"""Feed-forward layers: dense SwiGLU and a routed mixture of SwiGLU experts."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops import grouped_gemm, moe_permute, moe_unpermute
from .config import RDMConfig


class SwiGLU(nn.Module):
    """``down(silu(gate(x)) · up(x))``; gate and up are one projection."""

    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.gate_up_proj = nn.Linear(d_model, 2 * hidden, bias=False)
        self.down_proj = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x: Tensor) -> tuple[Tensor, None]:
        """x: (..., d_model) → ((..., d_model), no expert load)."""
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up), None


class MoE(nn.Module):
    """Top-k routed SwiGLU experts plus shared experts that see every token.

    Routing is auxiliary-loss-free (DeepSeek-V3): experts are *chosen* on the router logits
    plus a per-expert bias that ``update_router_bias`` nudges towards even load outside
    autograd, while the gate weights are the *unbiased* softmax probabilities of the chosen
    experts, so the bias steers load without distorting the mixture or receiving gradients.
    The gate weights are not renormalised over the top k, so the router gets a gradient even
    with k = 1.
    """

    def __init__(self, config: RDMConfig):
        super().__init__()
        d_model, hidden = config.d_model, config.expert_hidden
        self.num_experts, self.top_k = config.num_experts, config.experts_per_token
        self.bias_update_rate = config.router_bias_update_rate
        self.router = nn.Linear(d_model, self.num_experts, bias=False)
        self.register_buffer("router_bias", torch.zeros(self.num_experts))
        self.experts_gate_up = nn.Parameter(torch.randn(self.num_experts, d_model, 2 * hidden) * d_model**-0.5)
        self.experts_down = nn.Parameter(torch.randn(self.num_experts, hidden, d_model) * hidden**-0.5)
        self.shared = SwiGLU(d_model, config.num_shared_experts * hidden) if config.num_shared_experts else None

    def route(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """tokens: (N, d_model) → (expert ids (N, k) int64, gate weights (N, k) float32)."""
        logits = self.router(tokens).float()
        expert_ids = torch.topk(logits + self.router_bias, self.top_k, dim=-1).indices
        gate_weights = logits.softmax(dim=-1).gather(-1, expert_ids)
        return expert_ids, gate_weights

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: (..., d_model) → ((..., d_model), expert load (num_experts,) int32: rows routed to each)."""
        tokens = x.reshape(-1, x.shape[-1])
        expert_ids, gate_weights = self.route(tokens)
        rows, row_id, offsets = moe_permute(tokens, expert_ids, self.num_experts)
        gate, up = grouped_gemm(rows, self.experts_gate_up, offsets).chunk(2, dim=-1)
        expert_out = grouped_gemm(F.silu(gate) * up, self.experts_down, offsets)
        out = moe_unpermute(expert_out, row_id, gate_weights)
        if self.shared is not None:
            out = out + self.shared(tokens)[0]
        load = torch.diff(offsets, prepend=offsets.new_zeros(1))
        return out.view(x.shape), load

    def _apply(self, fn, recurse=True):
        # Keep the bias float32 whatever dtype the model is cast to: in bfloat16, steps of
        # 1e-3 would round away once |bias| exceeds about 0.25, and balancing would stall.
        router_bias = self.router_bias
        super()._apply(fn, recurse)
        self.router_bias = router_bias.to(self.router_bias.device)
        return self

    @torch.no_grad()
    def update_router_bias(self, load: Tensor) -> None:
        """Moves every expert's bias by ``router_bias_update_rate`` towards even load: up for
        experts below the mean load, down for those above. load: (num_experts,) counts (sum
        them over data-parallel ranks first so that the ranks' biases stay equal)."""
        load = load.float()
        self.router_bias += self.bias_update_rate * torch.sign(load.mean() - load)
