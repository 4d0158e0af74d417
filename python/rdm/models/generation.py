"""Autoregressive sampling with the constant-size decode cache."""
from collections.abc import Iterator

import torch
from torch import Tensor


def sample_next_token(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """logits: (B, V) → (B,) int64 tokens. ``temperature == 0`` is greedy; otherwise the
    distribution is cut to the ``top_k`` likeliest tokens, then to the smallest set whose
    probability reaches ``top_p``, and sampled with ``generator``."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    if top_k is not None:
        kth_largest = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        # Drop a token when the likelier ones already reach top_p (the likeliest always stays).
        drop = (probs.cumsum(dim=-1) - probs) >= top_p
        logits = logits.scatter(-1, order, sorted_logits.masked_fill(drop, float("-inf")))
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def stream_generate(
    model,
    input_ids: Tensor,
    max_new_tokens: int,
    n_loops: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_token_id: int | None = None,
    generator: torch.Generator | None = None,
) -> Iterator[Tensor]:
    """Prefills the (B, T) prompt into a fresh cache, then yields one (B,) token per step.

    ``n_loops`` may exceed the trained depth (depth extrapolation). A sequence that has
    produced ``eos_token_id`` keeps yielding it; generation stops once all have. Put the
    model in eval mode first: training-mode forwards update the MoE router biases.
    """
    n_loops = model.config.n_loops if n_loops is None else n_loops
    cache = model.new_cache(input_ids.shape[0], n_loops)
    logits = model(input_ids, n_loops=n_loops, cache=cache).logits[:, -1]
    finished = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
    for step in range(max_new_tokens):
        token = sample_next_token(logits, temperature, top_k, top_p, generator)
        if eos_token_id is not None:
            token = token.masked_fill(finished, eos_token_id)
            finished |= token == eos_token_id
        yield token
        if step == max_new_tokens - 1 or bool(finished.all()):
            return
        logits = model(token[:, None], n_loops=n_loops, cache=cache).logits[:, -1]


@torch.no_grad()
def generate(model, input_ids: Tensor, max_new_tokens: int, **sampling) -> Tensor:
    """``stream_generate`` collected: (B, T) prompt → (B, T + generated tokens)."""
    tokens = list(stream_generate(model, input_ids, max_new_tokens, **sampling))
    return torch.cat([input_ids, *(token[:, None] for token in tokens)], dim=1)
