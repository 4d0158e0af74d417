"""Inputs for act_accumulate tests whose halting decisions are unambiguous.

The decision `cum_p + p >= threshold` is discontinuous: a kernel and the float64 oracle
must not disagree because p differs in the last bits. Positions whose float64 margin to
the threshold is below `margin` are moved to a clear decision.
"""
import torch


def misaligned_copy(t: torch.Tensor) -> torch.Tensor:
    """A contiguous copy of t whose data pointer is not 16-byte aligned (one element off)."""
    buffer = torch.empty(t.numel() + 1, dtype=t.dtype, device=t.device)
    view = buffer[1:].view(t.shape)
    view.copy_(t)
    return view


def act_inputs(lead, dim, dtype, threshold=0.9, *, seed=0, device="cpu", margin=1e-3, param_dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(*lead, dim, generator=g).to(dtype)
    halt_weight = (torch.randn(dim, generator=g) / dim**0.5).to(param_dtype)
    halt_bias = (0.5 * torch.randn((), generator=g)).to(param_dtype)
    p = torch.sigmoid(h.double() @ halt_weight.double() + halt_bias.double())

    # A mix of fresh (0), already halted (1) and partly accumulated positions.
    kind = torch.randint(0, 4, lead, generator=g)
    cum_p = torch.rand(lead, generator=g) * threshold
    cum_p = torch.where(kind == 0, 0.0, torch.where(kind == 1, 1.0, cum_p))
    ambiguous = ((cum_p.double() + p - threshold).abs() < margin) & (cum_p < threshold)
    cum_p = torch.where(ambiguous, (threshold - p + 3 * margin).clamp(min=0).float(), cum_p)

    h_acc = torch.randn(*lead, dim, generator=g)
    tensors = (h, halt_weight, halt_bias, h_acc, cum_p)
    return tuple(t.to(device) for t in tensors)


def as_float64(tensors):
    return tuple(t.double() for t in tensors)
