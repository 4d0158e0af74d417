"""Cases for rdm.ops.sliding_window_attention: the causal sliding-window attention with
global memory tokens and grouped-query heads of the coda blocks.

Query i (at position p = Tk − Tq + i) sees key j iff j ≤ p and (p − j < window or
j < num_global).
"""
from __future__ import annotations

import functools

import torch

from rdm.bench.harness import FWD, FWD_BWD, Case, CaseInputs, Peer, importable, matmul_flops
from rdm.bench.roofline import Cost
from rdm.models.config import RDMConfig

# label -> RDMConfig preset. A quick CPU run takes the 100M model only: a window of 512
# keys makes these the slowest small cases on the CPU.
MODELS = {
    "full": {"100M": "100m", "500M": "500m", "1B": "1b"},
    "small": {"100M": "100m"},
}
TOKENS = {  # per size: label -> (batch, T)
    "full": {"b4x4096": (4, 4096)},
    "small": {"b1x576": (1, 576)},  # past the 512-token window, so that it slides
}
DECODE_BATCH = {"full": 64, "small": 8}
# label -> (batch, Tq, Tk, heads, kv heads, head dim, window, num_global)
TINY_SHAPES = {
    "tiny H4/2 D16 w8 g3 b2x20": (2, 20, 20, 4, 2, 16, 8, 3),
    "tiny H4/2 D16 w16 g4 b1 q5 k37": (1, 5, 37, 4, 2, 16, 16, 4),  # the last 5 of 37 positions
}
TINY_DECODE = {"tiny decode b3 kv11": (3, 1, 11, 4, 2, 16, 8, 3)}
# The naive version materialises every (query, key) score in fp32: not beyond this.
NAIVE_MAX_SCORE_BYTES = 2**30


def attention_naive(q, k, v, window, num_global):
    """What one would write without the kernel: dense scores over all keys, masked, in fp32."""
    num_queries, heads, head_dim = q.shape[1:]
    num_keys, kv_heads = k.shape[1:3]
    q32 = q.float().transpose(1, 2)
    k32, v32 = (t.float().transpose(1, 2).repeat_interleave(heads // kv_heads, dim=1) for t in (k, v))
    scores = (q32 @ k32.transpose(-1, -2)) * head_dim**-0.5
    position = torch.arange(num_keys - num_queries, num_keys, device=q.device)[:, None]
    key = torch.arange(num_keys, device=q.device)[None, :]
    visible = (key <= position) & ((position - key < window) | (key < num_global))
    scores = scores.masked_fill(~visible, float("-inf"))
    lse = scores.logsumexp(dim=-1)
    out = (scores - lse[..., None]).exp() @ v32
    return out.transpose(1, 2).to(q.dtype), lse


def flash_attention(q, k, v, window, num_global):
    """flash_attn, for cases without global tokens: it has the window but no globals."""
    from flash_attn import flash_attn_func

    assert num_global == 0, "flash_attn has no global tokens"
    # window_size counts the keys left of the query's own; causal masks align to the last
    # key when Tq < Tk, as rdm's positions do.
    out, lse, _ = flash_attn_func(q, k, v, causal=True, window_size=(window - 1, 0), return_attn_probs=True)
    return out, lse


@functools.lru_cache(maxsize=None)
def _block_mask(num_queries: int, num_keys: int, window: int, num_global: int, device: torch.device):
    """flex_attention's mask of a case, built once: outside the timed calls, as a model would."""
    from torch.nn.attention.flex_attention import create_block_mask

    def visible(batch, head, query, key):
        position = query + (num_keys - num_queries)
        return (key <= position) & ((position - key < window) | (key < num_global))

    return create_block_mask(visible, None, None, num_queries, num_keys, device=device)


@functools.lru_cache(maxsize=None)
def _compiled_flex_attention():
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


def flex_sliding_window_attention(q, k, v, window, num_global):
    from torch.nn.attention import flex_attention as flex

    # Compiled on CUDA, where the fused kernel is the point; eager elsewhere (it checks).
    attend = _compiled_flex_attention() if q.is_cuda else flex.flex_attention
    block_mask = _block_mask(q.shape[1], k.shape[1], window, num_global, q.device)
    heads_first = [t.transpose(1, 2) for t in (q, k, v)]
    if hasattr(flex, "AuxRequest"):  # torch >= 2.9; return_lse is deprecated there
        out, aux = attend(*heads_first, block_mask=block_mask, enable_gqa=True, return_aux=flex.AuxRequest(lse=True))
        lse = aux.lse
    else:
        out, lse = attend(*heads_first, block_mask=block_mask, enable_gqa=True, return_lse=True)
    return out.transpose(1, 2), lse


def _input_factory(batch, num_queries, num_keys, heads, kv_heads, head_dim, window, num_global):
    def make_inputs(device: torch.device, dtype: torch.dtype, requires_grad: bool) -> CaseInputs:
        generator = torch.Generator(device).manual_seed(0)

        def draw(*shape):
            return torch.randn(*shape, generator=generator, device=device).to(dtype)

        q = draw(batch, num_queries, heads, head_dim).requires_grad_(requires_grad)
        k, v = (draw(batch, num_keys, kv_heads, head_dim).requires_grad_(requires_grad) for _ in range(2))
        # Training differentiates `out` only (flash_attn's lse has no gradient).
        grad_outputs = (draw(batch, num_queries, heads, head_dim),) if requires_grad else ()
        return CaseInputs((q, k, v, window, num_global), grad_outputs)

    return make_inputs


def _visible_pairs(num_queries: int, num_keys: int, window: int, num_global: int) -> int:
    """(query, key) pairs the mask lets through, per batch and head."""
    position = torch.arange(num_keys - num_queries, num_keys, dtype=torch.int64)
    band = torch.clamp(position + 1, max=window)
    globals_before_band = torch.clamp(position - window + 1, min=0).clamp(max=num_global)
    return int((band + globals_before_band).sum())


def _cost_function(batch, num_queries, num_keys, heads, kv_heads, head_dim, window, num_global, mode):
    def cost(dtype: torch.dtype) -> Cost:
        elt = torch.finfo(dtype).bits // 8
        q_bytes = batch * num_queries * heads * head_dim * elt  # one of q, out, dout, dq
        kv_bytes = batch * num_keys * kv_heads * head_dim * elt  # one of k, v, dk, dv
        lse = batch * heads * num_queries * 4
        # q·k and p·v: 2 multiply-adds per head dim per visible pair
        flops = 4 * batch * heads * head_dim * _visible_pairs(num_queries, num_keys, window, num_global)
        forward = Cost(2 * q_bytes + 2 * kv_bytes + lse, flops)  # reads q, k, v; writes out, lse
        if mode == FWD:
            return forward
        # reads q, k, v, out, dout, lse, writes dq, dk, dv; 2.5x the forward's math
        # (recomputed scores, dv, dp, dq, dk), as flash-attention counts it
        return forward + Cost(4 * q_bytes + 4 * kv_bytes + lse, int(2.5 * flops))

    return cost


def _case(label: str, shape: tuple[int, ...], mode: str) -> Case:
    batch, num_queries, num_keys, heads, kv_heads, head_dim, window, num_global = shape
    peers = [Peer("flex_attention", flex_sliding_window_attention, importable("torch.nn.attention.flex_attention"))]
    if num_global == 0:
        peers.append(Peer("flash_attn", flash_attention, importable("flash_attn"),
                          dtypes=(torch.bfloat16, torch.float16)))
    cost = _cost_function(*shape, mode)
    return Case(
        op="sliding_window_attention",
        label=label,
        shape=f"{batch}x{num_queries}/{num_keys}x{heads}/{kv_heads}x{head_dim} w{window} g{num_global}",
        mode=mode,
        make_inputs=_input_factory(*shape),
        cost=cost,
        tensor_flops=matmul_flops(cost),
        kernel="rdm.ops:sliding_window_attention",
        reference="rdm.reference:sliding_window_attention",
        naive=attention_naive if batch * heads * num_queries * num_keys * 4 <= NAIVE_MAX_SCORE_BYTES else None,
        peers=tuple(peers),
        output_names=("out", "lse"),
        arg_names=("q", "k", "v"),
    )


def cases(size: str) -> list[Case]:
    if size == "tiny":
        prefill = list(TINY_SHAPES.items())
        decode = list(TINY_DECODE.items())
    else:
        prefill, decode = [], []
        for model, preset in MODELS[size].items():
            config = RDMConfig.preset(preset)
            heads, kv_heads = config.attn_heads, config.attn_kv_heads
            dims = (heads, kv_heads, config.d_model // heads, config.attn_window)
            for tokens, (batch, length) in TOKENS[size].items():
                prefill.append((f"{model} {tokens}", (batch, length, length, *dims, config.attn_num_memory)))
                if size == "full":  # the layout flash_attn supports too
                    prefill.append((f"{model} {tokens} no memory", (batch, length, length, *dims, 0)))
            # A decoding step reads a cache of the memory tokens and the window (positions
            # then line up: the window is the last `window` keys, the globals come first).
            cache = config.attn_num_memory + config.attn_window
            decode.append((f"{model} decode b{DECODE_BATCH[size]} kv{cache}",
                           (DECODE_BATCH[size], 1, cache, *dims, config.attn_num_memory)))
    return [
        *(_case(label, shape, mode) for label, shape in prefill for mode in (FWD, FWD_BWD)),
        *(_case(label, shape, FWD) for label, shape in decode),  # decoding is inference only
    ]
