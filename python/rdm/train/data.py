"""Packing documents into fixed-length rows, and the batches every rank reads at every step.

Documents are tokenized and laid end to end; the stream is cut into rows of ``seq_len``
tokens (the partial last row is dropped). A document cut by a row end continues as a new
document at the start of the next row. Each row keeps a mask of its document starts, from
which a batch's ``cu_seqlens`` follows, so the model never lets a document see another.

Batches are a pure function of the step: the training rows are shuffled once per epoch
by a generator seeded with (seed, epoch), and step s reads the global rows
``s·G … (s+1)·G − 1`` of that order (G = the global batch), split between ranks and
micro-batches. Resuming at a step therefore resumes the data exactly, on any world size
with the same global batch.
"""
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .corpus import default_corpus
from .sources import read_documents


@dataclass
class PackedRows:
    tokens: Tensor  # (N, T) int64
    starts: Tensor  # (N, T) bool: a document starts here (always at column 0)

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def select(self, index: Tensor) -> "PackedRows":
        return PackedRows(self.tokens[index], self.starts[index])


@dataclass
class Batch:
    input_ids: Tensor  # (B, T) int64; also the labels (the model shifts them)
    cu_seqlens: Tensor  # (S + 1,) int32 document starts over the flattened rows, then B·T

    @property
    def num_targets(self) -> int:
        """Tokens with a next token in their own document: B·T − S."""
        return self.input_ids.numel() - (self.cu_seqlens.shape[0] - 1)

    def to(self, device) -> "Batch":
        return Batch(self.input_ids.to(device), self.cu_seqlens.to(device))


def make_batch(rows: PackedRows) -> Batch:
    flat_starts = rows.starts.flatten().nonzero().flatten()
    cu_seqlens = torch.cat([flat_starts, flat_starts.new_tensor([rows.tokens.numel()])]).to(torch.int32)
    return Batch(rows.tokens, cu_seqlens)


def pack_documents(documents: list[list[int]], seq_len: int) -> PackedRows:
    """Token lists → rows of seq_len tokens with their document-start masks."""
    documents = [document for document in documents if document]
    if not documents:
        raise ValueError("no text to train on: every document is empty")
    stream = np.concatenate([np.asarray(document, dtype=np.int64) for document in documents])
    starts = np.zeros(stream.shape[0], dtype=bool)
    starts[np.cumsum([0] + [len(document) for document in documents[:-1]])] = True
    rows = stream.shape[0] // seq_len
    if rows < 2:
        raise ValueError(f"the data holds {stream.shape[0]} tokens: fewer than two rows of seq_len {seq_len}")
    tokens = torch.from_numpy(stream[: rows * seq_len].reshape(rows, seq_len))
    starts = torch.from_numpy(starts[: rows * seq_len].reshape(rows, seq_len).copy())
    starts[:, 0] = True  # a row start is a document start: the cut piece stands alone
    return PackedRows(tokens, starts)


def load_rows(paths: list[str], tokenizer, seq_len: int, corpus_bytes: int) -> PackedRows:
    """Reads, tokenizes and packs ``paths`` (or the default corpus when empty)."""
    texts = list(read_documents(paths)) if paths else default_corpus(corpus_bytes)
    return pack_documents(tokenizer.encode_batch(texts), seq_len)


def split_held_out(rows: PackedRows, fraction: float) -> tuple[PackedRows, PackedRows]:
    """(training rows, held-out rows): every k-th row is held out, k ≈ 1 / fraction, so the
    held-out rows are spread over the whole corpus."""
    every = max(2, round(1 / fraction))
    index = torch.arange(len(rows))
    held_out = index % every == every - 1
    if not held_out.any():
        held_out[-1] = True
    return rows.select(index[~held_out]), rows.select(index[held_out])


class BatchSchedule:
    """The rows of every (step, micro-batch, rank): see the module docstring."""

    def __init__(self, rows: PackedRows, batch_size: int, grad_accum: int, world_size: int, seed: int):
        self.rows, self.batch_size, self.grad_accum, self.world_size = rows, batch_size, grad_accum, world_size
        self.seed = seed
        self.global_batch = batch_size * grad_accum * world_size
        self._epoch, self._order = None, None

    def _epoch_order(self, epoch: int) -> Tensor:
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._order = epoch, torch.randperm(len(self.rows), generator=generator)
        return self._order

    def batch(self, step: int, micro: int, rank: int) -> Batch:
        first = step * self.global_batch + (rank * self.grad_accum + micro) * self.batch_size
        global_rows = torch.arange(first, first + self.batch_size)
        epochs, positions = global_rows // len(self.rows), global_rows % len(self.rows)
        index = torch.stack([self._epoch_order(int(e))[p] for e, p in zip(epochs, positions)])
        return make_batch(self.rows.select(index))

    def epoch(self, step: int) -> float:
        return step * self.global_batch / len(self.rows)


def eval_batches(rows: PackedRows, batch_size: int, max_rows: int) -> list[Batch]:
    """The first ``max_rows`` held-out rows in batches."""
    rows = rows.select(torch.arange(min(max_rows, len(rows))))
    return [make_batch(rows.select(torch.arange(i, min(i + batch_size, len(rows)))))
            for i in range(0, len(rows), batch_size)]
