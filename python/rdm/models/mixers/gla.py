"""Gated linear attention (GLA) token mixer with a low-rank log-sigmoid forget gate."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...ops import chunk_gla, fused_recurrent_gla
from ..config import RDMConfig
from ..packing import PackedDocuments


@dataclass
class GLAState:
    """Decode state of one GLA mixer: constant size whatever the number of tokens seen."""

    kv: Tensor  # (B, H, K, V) float32 recurrent state


class GLAMixer(nn.Module):
    """q, k, v projections; per-key-channel forget gate ``logsigmoid(W_up W_down x) / normalizer``;
    per-head RMSNorm of the output, gated by SiLU of an output-gate projection."""

    def __init__(self, config: RDMConfig):
        super().__init__()
        d_model, self.heads = config.d_model, config.gla_heads
        self.key_dim = int(d_model * config.gla_expand_k) // self.heads
        self.value_dim = int(d_model * config.gla_expand_v) // self.heads
        self.gate_normalizer = config.gla_gate_normalizer
        self.q_proj = nn.Linear(d_model, self.heads * self.key_dim, bias=False)
        self.k_proj = nn.Linear(d_model, self.heads * self.key_dim, bias=False)
        self.v_proj = nn.Linear(d_model, self.heads * self.value_dim, bias=False)
        self.forget_gate = nn.Sequential(
            nn.Linear(d_model, config.gla_gate_rank, bias=False),
            nn.Linear(config.gla_gate_rank, self.heads * self.key_dim, bias=True),
        )
        self.output_gate = nn.Linear(d_model, self.heads * self.value_dim, bias=False)
        self.output_norm = nn.RMSNorm(self.value_dim, eps=config.norm_eps)
        self.o_proj = nn.Linear(self.heads * self.value_dim, d_model, bias=False)

    def new_state(self, batch_size: int, device, dtype) -> GLAState:
        shape = (batch_size, self.heads, self.key_dim, self.value_dim)
        return GLAState(torch.zeros(shape, device=device, dtype=torch.float32))

    def forward(
        self, x: Tensor, state: GLAState | None = None, position: int = 0, packed: PackedDocuments | None = None
    ) -> Tensor:
        """x: (B, T, d_model) → (B, T, d_model). With a state, continues from it and updates it;
        with ``packed`` (no state), every document starts from a zero state."""
        if packed is not None:
            # The op takes packed documents as one row: flatten the rows into it.
            return self._forward(x.reshape(1, -1, x.shape[-1]), None, packed.cu_seqlens).view(x.shape)
        return self._forward(x, state, None)

    def _forward(self, x: Tensor, state: GLAState | None, cu_seqlens: Tensor | None) -> Tensor:
        batch, length, _ = x.shape
        q = self.q_proj(x).view(batch, length, self.heads, self.key_dim)
        k = self.k_proj(x).view(batch, length, self.heads, self.key_dim)
        v = self.v_proj(x).view(batch, length, self.heads, self.value_dim)
        # The log gate stays float32 (the op accepts it) so slow decays are not rounded to 0.
        g = F.logsigmoid(self.forget_gate(x).float()) / self.gate_normalizer
        g = g.view(batch, length, self.heads, self.key_dim)
        # Same function either way; the recurrent kernel is the one made for single tokens.
        gla = fused_recurrent_gla if length == 1 else chunk_gla
        o, final_state = gla(q, k, v, g, initial_state=None if state is None else state.kv, cu_seqlens=cu_seqlens)
        if state is not None:
            state.kv = final_state
        gate = F.silu(self.output_gate(x)).view(batch, length, self.heads, self.value_dim)
        return self.o_proj((self.output_norm(o) * gate).reshape(batch, length, -1))
