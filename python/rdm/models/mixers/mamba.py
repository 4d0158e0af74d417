"""Mamba token mixer: gated selective scan (S6) behind a causal depthwise convolution."""
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...ops import selective_scan, selective_state_update
from ..config import RDMConfig
from ..packing import PackedDocuments


@dataclass
class MambaState:
    """Decode state of one Mamba mixer: constant size whatever the number of tokens seen."""

    conv: Tensor  # (B, d_inner, d_conv − 1) last convolution inputs, activation dtype
    ssm: Tensor  # (B, d_inner, d_state) float32 scan state


class MambaMixer(nn.Module):
    """in_proj → (x, z); x → causal depthwise conv1d → SiLU → selective scan gated by SiLU(z) → out_proj."""

    def __init__(self, config: RDMConfig):
        super().__init__()
        d_model, self.d_state, self.d_conv = config.d_model, config.mamba_d_state, config.mamba_d_conv
        self.d_inner = config.mamba_expand * d_model
        self.dt_rank = config.resolved_mamba_dt_rank
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=False)
        self.conv = nn.Conv1d(self.d_inner, self.d_inner, self.d_conv, groups=self.d_inner)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * self.d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=False)
        # Time steps start log-uniform in [1e-3, 1e-1]: dt_bias is their inverse softplus.
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        # S4D-real initialisation A = −(1, 2, …, N) per channel, stored as log(−A).
        state_index = torch.arange(1, self.d_state + 1, dtype=torch.float32)
        self.A_log = nn.Parameter(torch.log(state_index).repeat(self.d_inner, 1))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def new_state(self, batch_size: int, device, dtype) -> MambaState:
        return MambaState(
            conv=torch.zeros(batch_size, self.d_inner, self.d_conv - 1, device=device, dtype=dtype),
            ssm=torch.zeros(batch_size, self.d_inner, self.d_state, device=device, dtype=torch.float32),
        )

    def forward(
        self, x: Tensor, state: MambaState | None = None, position: int = 0, packed: PackedDocuments | None = None
    ) -> Tensor:
        """x: (B, T, d_model) → (B, T, d_model). With a state, continues from it and updates it;
        with ``packed`` (no state), the convolution and the scan restart at every document."""
        shape = x.shape
        if packed is not None:
            x = x.reshape(1, -1, x.shape[-1])  # the scan takes packed documents as one row
        batch, length, _ = x.shape
        u, z = self.in_proj(x).transpose(1, 2).chunk(2, dim=1)  # (B, d_inner, T) each
        if packed is None:
            history = state.conv if state is not None else u.new_zeros(batch, self.d_inner, self.d_conv - 1)
            conv_input = torch.cat([history, u], dim=-1)
            u = F.silu(self.conv(conv_input))  # no padding: the history makes it causal
        else:
            u = F.silu(self._packed_conv(u, packed))

        dt, B, C = self.x_proj(u.transpose(1, 2)).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = self.dt_proj(dt).transpose(1, 2)  # (B, d_inner, T)
        # The op takes A, D and dt_bias in float32 whatever the activation dtype.
        A, D, dt_bias = -torch.exp(self.A_log.float()), self.D.float(), self.dt_bias.float()
        if state is not None and length == 1 and not torch.is_grad_enabled():
            # Decode step: the single-token kernel updates the scan state in place.
            y = selective_state_update(
                state.ssm, u[..., 0], delta[..., 0], A, B[:, 0], C[:, 0], D, z[..., 0], dt_bias, dt_softplus=True
            ).unsqueeze(-1)
        else:
            y, last_state = selective_scan(
                u, delta, A, B.transpose(1, 2), C.transpose(1, 2), D, z, dt_bias,
                delta_softplus=True, initial_state=None if state is None else state.ssm,
                cu_seqlens=None if packed is None else packed.cu_seqlens,
            )
            if state is not None:
                state.ssm = last_state
        if state is not None:
            state.conv = conv_input[..., conv_input.shape[-1] - (self.d_conv - 1):]
        return self.out_proj(y.transpose(1, 2)).view(shape)

    def _packed_conv(self, u: Tensor, packed: PackedDocuments) -> Tensor:
        """The causal convolution of (1, d_inner, L) packed documents, each with its own zero
        history: the row is spread out with d_conv − 1 zeros in front of every document."""
        gap = self.d_conv - 1
        token_slots, gap_slots, _ = packed.gapped_layout(gap)
        spread = u.new_zeros(1, self.d_inner, u.shape[-1] + gap_slots.shape[0]).index_copy(2, token_slots, u)
        # Output o covers inputs o … o + gap: a token's output sits gap slots before it.
        return self.conv(spread).index_select(2, token_slots - gap)
