"""Packed variable-length batches (``cu_seqlens``) shared by the references."""
import torch


def sequence_bounds(cu_seqlens):
    """Returns ``[(start, end), ...]`` of each packed sequence.

    ``cu_seqlens`` is (S + 1,) int with ``cu_seqlens[0] == 0``; sequence ``s`` occupies
    tokens ``[cu_seqlens[s], cu_seqlens[s + 1])``. A sequence may be empty (equal
    neighbours): it has no tokens, and its final state is its initial state.
    """
    bounds = cu_seqlens.tolist()
    assert bounds[0] == 0 and all(a <= b for a, b in zip(bounds, bounds[1:])), (
        f"cu_seqlens must start at 0 and be non-decreasing, got {bounds}")
    return list(zip(bounds[:-1], bounds[1:]))


def map_packed_sequences(run, cu_seqlens, time_dim, per_token, per_sequence, cat_dims):
    """Runs ``run`` on each packed sequence separately and concatenates the results.

    Args:
        run: called as ``run(*per_token_slices, *per_sequence_slices)`` for each
            sequence; returns a tuple of tensors.
        cu_seqlens: (S + 1,) cumulative sequence starts (see ``sequence_bounds``); ``run``
            is called for empty sequences too, with slices of length 0.
        time_dim: the token dimension of every ``per_token`` tensor (batch must be 1).
        per_token: tensors (or ``None``) sliced along ``time_dim`` to each sequence.
        per_sequence: tensors (or ``None``) with one entry per sequence along dim 0,
            e.g. initial states; sequence ``s`` gets ``t[s:s + 1]`` (a batch of one).
        cat_dims: for each result of ``run``, the dim to concatenate sequences along.
    """
    results = []
    for index, (start, end) in enumerate(sequence_bounds(cu_seqlens)):
        token_slices = [None if t is None else t.narrow(time_dim, start, end - start) for t in per_token]
        sequence_slices = [None if t is None else t[index:index + 1] for t in per_sequence]
        results.append(run(*token_slices, *sequence_slices))
    return tuple(torch.cat(pieces, dim=dim) for pieces, dim in zip(zip(*results), cat_dims))
