"""Sliding-window attention token mixer with RoPE, grouped-query heads and learned memory tokens."""
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...ops import sliding_window_attention
from ..config import RDMConfig
from ..packing import PackedDocuments
from ..rope import apply_rotary


@dataclass
class SWAState:
    """Decode state of one attention mixer: the keys and values of the last ``window`` tokens.

    The buffers grow with the tokens seen up to ``window`` rows (the newest token last), so
    a short context holds only what it needs. The memory tokens are parameters, not cached.
    """

    keys: Tensor  # (B, min(tokens seen, window), Hkv, head_dim), RoPE already applied
    values: Tensor  # (B, min(tokens seen, window), Hkv, head_dim)

    @property
    def filled(self) -> int:
        return self.keys.shape[1]


class SWAMixer(nn.Module):
    """Causal attention over the last ``attn_window`` tokens plus ``attn_num_memory`` learned
    key/value pairs that every query sees (the global band of ``sliding_window_attention``).

    The memory keys carry no position (no RoPE); token queries and keys are rotated at their
    absolute positions.
    """

    def __init__(self, config: RDMConfig):
        super().__init__()
        d_model, self.heads, self.kv_heads = config.d_model, config.attn_heads, config.attn_kv_heads
        self.head_dim = d_model // self.heads
        self.window, self.num_memory, self.rope_theta = config.attn_window, config.attn_num_memory, config.rope_theta
        self.q_proj = nn.Linear(d_model, self.heads * self.head_dim, bias=False)
        self.kv_proj = nn.Linear(d_model, 2 * self.kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.heads * self.head_dim, d_model, bias=False)
        memory_shape = (self.num_memory, self.kv_heads, self.head_dim)
        self.memory_keys = nn.Parameter(torch.randn(memory_shape) * self.head_dim**-0.5)
        self.memory_values = nn.Parameter(torch.randn(memory_shape) * self.head_dim**-0.5)

    def new_state(self, batch_size: int, device, dtype) -> SWAState:
        shape = (batch_size, 0, self.kv_heads, self.head_dim)
        return SWAState(torch.zeros(shape, device=device, dtype=dtype), torch.zeros(shape, device=device, dtype=dtype))

    def forward(
        self, x: Tensor, state: SWAState | None = None, position: int = 0, packed: PackedDocuments | None = None
    ) -> Tensor:
        """x: (B, T, d_model) at absolute positions ``position …`` → (B, T, d_model).

        With a state, attends to its cached tokens too and appends x's keys and values to it.
        With ``packed`` (no state), each document attends only to itself and the memory tokens,
        at positions counted from its own start.
        """
        if packed is not None:
            return self._forward_packed(x, packed)
        batch, length, _ = x.shape
        q = apply_rotary(self.q_proj(x).view(batch, length, self.heads, self.head_dim), position, self.rope_theta)
        k, v = self.kv_proj(x).view(batch, length, 2, self.kv_heads, self.head_dim).unbind(dim=2)
        k = apply_rotary(k, position, self.rope_theta)

        # Keys are [memory, cached tokens, new tokens]: the op places the queries at the last
        # positions, counts the window in key positions, and always shows the first num_memory.
        memory_shape = (batch, self.num_memory, self.kv_heads, self.head_dim)
        key_parts = [self.memory_keys.to(k.dtype).expand(memory_shape)]
        value_parts = [self.memory_values.to(v.dtype).expand(memory_shape)]
        if state is not None:
            # The cache may hold another dtype than the new keys (bf16 autocast after a float32 prefill).
            key_parts.append(state.keys.to(k.dtype))
            value_parts.append(state.values.to(v.dtype))
        keys, values = torch.cat([*key_parts, k], dim=1), torch.cat([*value_parts, v], dim=1)
        if state is not None:  # the last `window` tokens: views of the keys just built, not copies
            state.keys = keys[:, self.num_memory:][:, -self.window:]
            state.values = values[:, self.num_memory:][:, -self.window:]
        out, _ = sliding_window_attention(q, keys, values, window=self.window, num_global=self.num_memory)
        return self.o_proj(out.reshape(batch, length, -1))

    def _forward_packed(self, x: Tensor, packed: PackedDocuments) -> Tensor:
        """Every document gets its own copy of the memory tokens in front of it, in one packed
        row: then the op's per-sequence windows and global keys give each document exactly the
        attention it gets alone. The queries in the memory slots are zeros and dropped."""
        shape, tokens = x.shape, x.shape[0] * x.shape[1]
        x = x.reshape(1, tokens, -1)
        positions = packed.positions
        q = apply_rotary(self.q_proj(x).view(1, tokens, self.heads, self.head_dim), positions, self.rope_theta)
        k, v = self.kv_proj(x).view(1, tokens, 2, self.kv_heads, self.head_dim).unbind(dim=2)
        k = apply_rotary(k, positions, self.rope_theta)

        token_slots, memory_slots, cu_seqlens = packed.gapped_layout(self.num_memory)
        spread_length = tokens + memory_slots.shape[0]

        def spread(token_rows, memory=None):
            rows = token_rows.new_zeros(1, spread_length, *token_rows.shape[2:]).index_copy(1, token_slots, token_rows)
            if memory is None:
                return rows
            return rows.index_copy(1, memory_slots, memory.to(rows.dtype).repeat(packed.num_documents, 1, 1)[None])

        keys, values = spread(k, self.memory_keys), spread(v, self.memory_values)
        out, _ = sliding_window_attention(
            spread(q), keys, values, window=self.window, num_global=self.num_memory, cu_seqlens=cu_seqlens
        )
        return self.o_proj(out.index_select(1, token_slots).reshape(tokens, -1)).view(shape)
