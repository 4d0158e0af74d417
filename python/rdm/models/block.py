"""A pre-norm residual block: token mixer, then feed-forward."""
from torch import Tensor, nn

from .config import RDMConfig
from .feedforward import MoE, SwiGLU
from .mixers import MIXER_CLASSES
from .packing import PackedDocuments


class Block(nn.Module):
    """``x + mixer(norm(x))``, then ``+ ffn(norm(·))``."""

    def __init__(self, config: RDMConfig, mixer: str, ffn: str):
        super().__init__()
        self.mixer_norm = nn.RMSNorm(config.d_model, eps=config.norm_eps)
        self.mixer = MIXER_CLASSES[mixer](config)
        self.ffn_norm = nn.RMSNorm(config.d_model, eps=config.norm_eps)
        self.ffn = MoE(config) if ffn == "moe" else SwiGLU(config.d_model, config.ffn_hidden)

    def new_state(self, batch_size: int, device, dtype):
        return self.mixer.new_state(batch_size, device, dtype)

    def forward(
        self, x: Tensor, state=None, position: int = 0, packed: PackedDocuments | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """x: (B, T, d_model) at absolute positions ``position …``; state: the mixer's decode
        state or None; packed: the documents packed into the rows, or None for one sequence per
        row. Returns (B, T, d_model) and the expert load (None for a dense block)."""
        x = x + self.mixer(self.mixer_norm(x), state, position, packed=packed)
        ffn_out, expert_load = self.ffn(self.ffn_norm(x))
        return x + ffn_out, expert_load
