"""Rotary position embedding (RoPE) at absolute positions, so decoding continues them."""
import torch
from torch import Tensor


def apply_rotary(x: Tensor, first_position: int | Tensor, theta: float) -> Tensor:
    """Rotates channel pairs ``(i, i + D/2)`` of x by ``position · theta^(−2i/D)``.

    Args:
        x: (B, T, H, D) queries or keys, D even; token t sits at ``first_position + t``.
        first_position: absolute position of the first token (the number of tokens a decode
            cache has already seen), so that positions continue across decode steps; or a
            (T,) integer tensor of every token's position (packed documents restart at 0).
        theta: RoPE base.

    Returns:
        (B, T, H, D) in x's dtype; the rotation is computed in float32.
    """
    half = x.shape[-1] // 2
    inv_freq = theta ** (-torch.arange(half, device=x.device, dtype=torch.float32) / half)
    if isinstance(first_position, Tensor):
        positions = first_position.to(device=x.device, dtype=torch.float32)
    else:
        positions = torch.arange(first_position, first_position + x.shape[1], device=x.device, dtype=torch.float32)
    angles = positions[:, None] * inv_freq  # (T, D/2)
    cos, sin = angles.cos()[:, None, :], angles.sin()[:, None, :]  # broadcast over heads
    x1, x2 = x.float().split(half, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1).to(x.dtype)
