"""Packed documents: several documents per row, with boundaries that nothing crosses.

A (B, T) batch of packed rows is described by ``cu_seqlens``, the (S + 1,) cumulative
starts of its S documents over the B·T tokens flattened row after row. Every row start is
a document start (a document cut by a row end continues as a new document in the next
row). The mixers flatten the batch into one packed row and hand the boundaries to the
ops, which take packed sequences with batch 1.
"""
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class PackedDocuments:
    cu_seqlens: Tensor  # (S + 1,) int32 document starts over the flattened tokens, then B·T
    document: Tensor  # (B·T,) int64 index of each token's document
    positions: Tensor  # (B·T,) int64 position of each token within its document

    @classmethod
    def from_cu_seqlens(cls, cu_seqlens: Tensor, batch: int, length: int) -> "PackedDocuments":
        """Checks ``cu_seqlens`` against a (batch, length) batch and derives the per-token indices."""
        if cu_seqlens.dim() != 1 or cu_seqlens.dtype.is_floating_point or cu_seqlens.dtype.is_complex:
            raise ValueError(
                f"cu_seqlens must be a 1-D integer tensor, got {cu_seqlens.dtype} {tuple(cu_seqlens.shape)}"
            )
        bounds = cu_seqlens.tolist()
        if len(bounds) < 2 or bounds[0] != 0 or bounds[-1] != batch * length:
            raise ValueError(f"cu_seqlens must run from 0 to batch·length = {batch * length}, got {bounds}")
        if any(a >= b for a, b in zip(bounds, bounds[1:])):
            raise ValueError(f"cu_seqlens must be strictly increasing (no empty documents), got {bounds}")
        missing = sorted(set(range(0, batch * length, length)) - set(bounds))
        if missing:
            raise ValueError(f"cu_seqlens must contain every row start (multiples of {length}); missing {missing}")
        device = cu_seqlens.device
        cu = cu_seqlens.to(torch.int64)
        lengths = cu.diff()
        document = torch.repeat_interleave(torch.arange(len(bounds) - 1, device=device), lengths)
        positions = torch.arange(batch * length, device=device) - cu[document]
        return cls(cu_seqlens.to(torch.int32), document, positions)

    @property
    def num_documents(self) -> int:
        return self.cu_seqlens.shape[0] - 1

    def gapped_layout(self, gap: int) -> tuple[Tensor, Tensor, Tensor]:
        """A longer packed row with ``gap`` slots in front of every document.

        Returns (token_slots (B·T,) where each token goes, gap_slots (S·gap,) the gap slots
        document by document, cu_seqlens of the gapped row (S + 1,) int32). Attention puts
        the memory tokens in the gaps, the causal convolution its zero history.
        """
        starts = self.cu_seqlens[:-1].to(torch.int64)
        shift = torch.arange(self.num_documents, device=starts.device) * gap
        token_slots = torch.arange(self.document.shape[0], device=starts.device) + (self.document + 1) * gap
        gap_slots = ((starts + shift)[:, None] + torch.arange(gap, device=starts.device)).flatten()
        cu = self.cu_seqlens.to(torch.int64) + torch.arange(self.num_documents + 1, device=starts.device) * gap
        return token_slots, gap_slots, cu.to(torch.int32)

    def mask_boundary_labels(self, labels: Tensor) -> Tensor:
        """labels (B, T) with −100 at every document start: no token predicts across a boundary."""
        starts = self.cu_seqlens[:-1].to(torch.int64)
        return labels.flatten().index_fill(0, starts, -100).view(labels.shape)
