"""Inputs for act_accumulate tests whose halting decisions are unambiguous.

The decision `cum_p + p >= threshold` is discontinuous: a kernel and the float64 oracle
must not disagree because p differs in the last bits. Positions whose float64 margin to
the threshold is below `margin` are moved to a clear decision. The first position is
always fresh (cum_p = 0), and every input set has a position that runs on without
halting, so that a backward through it has non-zero parameter gradients.
"""
import torch


def misaligned_copy(t: torch.Tensor) -> torch.Tensor:
    """A contiguous copy of t whose data pointer is not 16-byte aligned (one element off)."""
    buffer = torch.empty(t.numel() + 1, dtype=t.dtype, device=t.device)
    view = buffer[1:].view(t.shape)
    view.copy_(t)
    return view


# Non-contiguous layouts of the same values, for kernels that read strided inputs:
#   "padded_rows": rows (or positions) a stride apart with a gap of 8 elements (16-byte
#       vectors still fit), "odd_rows": a gap of 1 element (only the scalar path fits),
#   "transposed": the first two dimensions swapped in memory (they do not collapse into
#       one stride: the op copies once).
LAYOUTS = ("padded_rows", "odd_rows", "transposed")


def strided_copy(t: torch.Tensor, layout: str, *, rows: bool) -> torch.Tensor:
    """t's values in `layout`; rows: t is (..., D) (its last dimension stays contiguous),
    else a per-position (...) tensor."""
    if layout == "transposed":
        buffer = torch.empty(t.shape[1], t.shape[0], *t.shape[2:], dtype=t.dtype, device=t.device)
        view = buffer.transpose(0, 1)
    else:
        gap = 8 if layout == "padded_rows" else 1
        if rows:
            view = torch.empty(*t.shape[:-1], t.shape[-1] + gap, dtype=t.dtype, device=t.device)[..., : t.shape[-1]]
        else:
            view = torch.empty(*t.shape, gap + 1, dtype=t.dtype, device=t.device)[..., 0]
    view.copy_(t)
    assert not view.is_contiguous()
    return view


def act_inputs(lead, dim, dtype, threshold=0.9, *, seed=0, device="cpu", margin=1e-3, param_dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(*lead, dim, generator=g).to(dtype)
    halt_weight = (torch.randn(dim, generator=g) / dim**0.5).to(param_dtype)
    halt_bias = (0.5 * torch.randn((), generator=g)).to(param_dtype)
    p = torch.sigmoid(h.double() @ halt_weight.double() + halt_bias.double())

    # A mix of fresh (0), already halted (1) and partly accumulated positions.
    kind = torch.randint(0, 4, lead, generator=g)
    kind.view(-1)[0] = 0
    cum_p = torch.rand(lead, generator=g) * threshold
    cum_p = torch.where(kind == 0, 0.0, torch.where(kind == 1, 1.0, cum_p))
    ambiguous = ((cum_p.double() + p - threshold).abs() < margin) & (cum_p < threshold)
    cum_p = torch.where(ambiguous, (threshold - p + 3 * margin).clamp(min=0).float(), cum_p)
    runs_on = (cum_p.double() + p < threshold - margin).any()
    assert runs_on, "no position runs on: pick another seed"

    h_acc = torch.randn(*lead, dim, generator=g)
    tensors = (h, halt_weight, halt_bias, h_acc, cum_p)
    return tuple(t.to(device) for t in tensors)


def as_float64(tensors):
    return tuple(t.double() for t in tensors)
