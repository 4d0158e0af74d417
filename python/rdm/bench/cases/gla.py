"""Cases for rdm.ops.chunk_gla and rdm.ops.fused_recurrent_gla: the gated linear
attention of the looped core block.

Per batch and head: ``S_t = diag(exp g_t) S_{t-1} + k_t v_tᵀ``, ``o_t = scale · S_tᵀ q_t``.
chunk_gla runs whole sequences (training, prefill); fused_recurrent_gla one decoding step
from a carried state.
"""
from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F

from rdm.bench.harness import FWD, FWD_BWD, Case, CaseInputs, Peer, importable
from rdm.bench.roofline import Cost
from rdm.models.config import RDMConfig

# label -> RDMConfig preset.
MODELS = {
    "full": {"100M": "100m", "500M": "500m", "1B": "1b"},
    "small": {"tiny": "tiny", "100M": "100m"},  # the presets a CPU user trains
}
TOKENS = {  # per size: label -> (batch, T) of the chunk_gla cases
    "full": {"b4x2048": (4, 2048), "b1x4096": (1, 4096)},
    # Sequence lengths a CPU user trains and prefills at.
    "small": {"b1x256": (1, 256), "b1x2048": (1, 2048)},
}
DECODE_BATCH = {"full": 64, "small": 8}
# label -> (batch, T, H, K, V); T = 70 crosses the reference's 64-step chunk boundary.
TINY_SHAPES = {"tiny H2 K16 V32 b2x70": (2, 70, 2, 16, 32), "tiny H3 K8 V24 b1x5": (1, 5, 3, 8, 24)}
NAIVE_MAX_TOKENS = 512  # the naive loop keeps one autograd node per token
CHUNK = 64  # the chunk length of the cost model (that of fla and the reference)


def gla_naive(q, k, v, g, scale=None, initial_state=None):
    """What one would write without the kernel: the recurrence, one token at a time, in fp32."""
    batch, length, heads, key_dim = q.shape
    scale = key_dim**-0.5 if scale is None else scale
    q32, k32, v32, decay = q.float(), k.float(), v.float(), g.float().exp()
    state = q32.new_zeros(batch, heads, key_dim, v.shape[-1]) if initial_state is None else initial_state
    outputs = []
    for t in range(length):
        state = decay[:, t, :, :, None] * state + k32[:, t, :, :, None] * v32[:, t, :, None, :]
        outputs.append(scale * torch.einsum("bhk,bhkv->bhv", q32[:, t], state))
    return torch.stack(outputs, dim=1).to(v.dtype), state


def _fla(name: str, gate_keyword: str):
    """Adapter of fla.ops.gla.<name>: its gate argument is `g` in chunk_gla and `gk` in
    fused_recurrent_gla, and older releases default to head-first (B, H, T, K) layouts."""

    def call(q, k, v, g, scale=None, initial_state=None):
        import fla.ops.gla

        fn = getattr(fla.ops.gla, name)
        layout = {"head_first": False} if "head_first" in inspect.signature(fn).parameters else {}
        return fn(q, k, v, **{gate_keyword: g}, scale=scale, initial_state=initial_state,
                  output_final_state=True, **layout)

    call.__qualname__ = call.__name__ = f"fla.{name}"
    return call


def _input_factory(batch: int, length: int, heads: int, key_dim: int, value_dim: int, decode: bool):
    def make_inputs(device: torch.device, dtype: torch.dtype, requires_grad: bool) -> CaseInputs:
        generator = torch.Generator(device).manual_seed(0)

        def draw(*shape):
            return torch.randn(*shape, generator=generator, device=device)

        q, k = draw(batch, length, heads, key_dim).to(dtype), draw(batch, length, heads, key_dim).to(dtype)
        v = draw(batch, length, heads, value_dim).to(dtype)
        # The model's gates: log-sigmoid scaled down by gla_gate_normalizer (slow forgetting).
        g = (F.logsigmoid(draw(batch, length, heads, key_dim)) / RDMConfig.gla_gate_normalizer).to(dtype)
        tensors = [t.requires_grad_(requires_grad) for t in (q, k, v, g)]
        if decode:  # a state carried from earlier tokens, of the size it reaches at steady state
            return CaseInputs((*tensors, None, draw(batch, heads, key_dim, value_dim)))
        # Training differentiates `o` only; in its dtype, as autograd would round it anyway.
        grad_outputs = (draw(batch, length, heads, value_dim).to(dtype),) if requires_grad else ()
        return CaseInputs(tuple(tensors), grad_outputs)

    return make_inputs


def _cost_function(batch: int, length: int, heads: int, key_dim: int, value_dim: int, mode: str, decode: bool):
    def cost(dtype: torch.dtype) -> Cost:
        elt = torch.finfo(dtype).bits // 8
        qkg = 3 * batch * length * heads * key_dim * elt
        vo = batch * length * heads * value_dim * elt  # one of v, o
        state = batch * heads * key_dim * value_dim * 4
        chunk = min(CHUNK, length)
        # per token: q·kᵀ and scores·v within the chunk, q·S and the kᵀv state update
        flops = 2 * batch * heads * length * (chunk * key_dim + chunk * value_dim + 2 * key_dim * value_dim)
        # reads q, k, g, v (and S_0 when decoding); writes o, S_T
        forward = Cost(qkg + 2 * vo + (2 if decode else 1) * state, flops)
        if mode == FWD:
            return forward
        # reads q, k, g, v, do; writes dq, dk, dg, dv; twice the forward's math (dq, dk, dv, dg)
        return forward + Cost(2 * qkg + 3 * vo, 2 * flops)

    return cost


def _case(op: str, label: str, shape: tuple[int, ...], mode: str, decode: bool = False) -> Case:
    batch, length, heads, key_dim, value_dim = shape
    return Case(
        op=op,
        label=label,
        shape=f"{batch}x{length}x{heads}x{key_dim}/{value_dim}",
        mode=mode,
        make_inputs=_input_factory(*shape, decode),
        cost=_cost_function(*shape, mode, decode),
        kernel=f"rdm.ops:{op}",
        reference=f"rdm.reference:{op}",
        naive=gla_naive if length <= NAIVE_MAX_TOKENS else None,
        compile_naive=False,  # compiling would unroll the loop over tokens
        peers=(Peer("fla", _fla(op, "g" if op == "chunk_gla" else "gk"), importable("fla")),),
        output_names=("o", "final_state"),
        arg_names=("q", "k", "v", "g"),
    )


def _model_dims(preset: str) -> tuple[int, int, int]:
    """(heads, key head dim, value head dim) of the model's GLA layer."""
    config = RDMConfig.preset(preset)
    heads = config.gla_heads
    return heads, int(config.d_model * config.gla_expand_k) // heads, int(config.d_model * config.gla_expand_v) // heads


def cases(size: str) -> list[Case]:
    if size == "tiny":
        chunked = list(TINY_SHAPES.items())
        decode = [(f"{label} decode", (batch, 1, *dims)) for label, (batch, _, *dims) in chunked]
    else:
        chunked, decode = [], []
        for model, preset in MODELS[size].items():
            dims = _model_dims(preset)
            chunked += [
                (f"{model} {tokens}", (batch, length, *dims)) for tokens, (batch, length) in TOKENS[size].items()
            ]
            decode.append((f"{model} decode b{DECODE_BATCH[size]}x1", (DECODE_BATCH[size], 1, *dims)))
    return [
        *(_case("chunk_gla", label, shape, mode) for label, shape in chunked for mode in (FWD, FWD_BWD)),
        # Decoding is inference only: forward from a carried state.
        *(_case("fused_recurrent_gla", label, shape, FWD, decode=True) for label, shape in decode),
    ]
