"""Cases for rdm.ops.grouped_gemm, and for moe_permute + grouped_gemm + moe_unpermute
together as the routed experts of a MoE layer (as rdm.models.MoE runs them):

    rows, row_id, offsets = moe_permute(x, topk_ids, E)
    gate, up = grouped_gemm(rows, w_gate_up, offsets).chunk(2, -1)
    out = moe_unpermute(grouped_gemm(silu(gate) * up, w_down, offsets), row_id, topk_weights)
"""
from __future__ import annotations

import dataclasses
from types import MappingProxyType

import torch
import torch.nn.functional as F

from rdm.bench.harness import DEFAULT_TOLERANCES, FWD, FWD_BWD, Case, CaseInputs, Peer, matmul_flops
from rdm.bench.roofline import Cost
from rdm.models.config import RDMConfig

# label -> RDMConfig preset. Small runs the 100M model only: the larger presets' expert
# weights alone are 0.6-1 GB in fp32, more than a quick CPU run should build and time.
MODELS = {
    "full": {"100M": "100m", "500M": "500m", "1B": "1b"},
    "small": {"100M": "100m"},
}
TOKENS = {"full": {"b8x2048": 8 * 2048}, "small": {"b1x64": 64}}  # per size: label -> tokens
# label -> (tokens, d_model, expert hidden, experts, top-k); odd token counts give expert
# groups of sizes that are no multiple of a kernel tile.
# In bf16 the expert outputs are rounded (grouped_gemm returns x's dtype) before the
# gate weights' gradients sum d_model of them: at 16k tokens the largest of those errors
# passes the default 1e-2 (1.1e-2 for the 100M model), so the layer's bf16 bound is twice that.
LAYER_TOLERANCES = MappingProxyType({
    **DEFAULT_TOLERANCES,
    torch.bfloat16: dataclasses.replace(DEFAULT_TOLERANCES[torch.bfloat16], atol=2e-2),
})
TINY_SHAPES = {"tiny E4 k2 D32 H48 t13": (13, 32, 48, 4, 2), "tiny E3 k1 D16 H24 t8": (8, 16, 24, 3, 1)}


def _route(generator: torch.Generator, tokens: int, experts: int, top_k: int, device: torch.device):
    """(topk_ids (tokens, k) int64, topk_weights (tokens, k) fp32) as the model's router
    makes them: the top k of random logits, weighted by their softmax probabilities."""
    logits = torch.randn(tokens, experts, generator=generator, device=device)
    topk_ids = logits.topk(top_k, dim=-1).indices
    return topk_ids, logits.softmax(dim=-1).gather(-1, topk_ids)


def _elt(dtype: torch.dtype) -> int:
    return torch.finfo(dtype).bits // 8


# ----------------------------------------------------------------------------- grouped_gemm


def grouped_gemm_naive(x, w, offsets):
    """What one would write without the kernel: a loop over experts selecting their rows with
    a boolean mask."""
    rows = torch.arange(x.shape[0], device=x.device)
    expert_of_row = torch.searchsorted(offsets, rows.to(offsets.dtype), right=True)  # E: no expert
    out = x.new_zeros(x.shape[0], w.shape[-1])
    for expert in range(w.shape[0]):
        mine = expert_of_row == expert
        out[mine] = x[mine] @ w[expert]
    return out


def torch_grouped_mm(x, w, offsets):
    # Same layout as rdm's: x (M, K) grouped by expert, w (E, K, N), int32 cumulative row ends.
    return torch._grouped_mm(x, w, offs=offsets)


def _gemm_inputs(tokens: int, in_dim: int, out_dim: int, experts: int, top_k: int):
    def make_inputs(device: torch.device, dtype: torch.dtype, requires_grad: bool) -> CaseInputs:
        generator = torch.Generator(device).manual_seed(0)
        topk_ids, _ = _route(generator, tokens, experts, top_k, device)
        offsets = torch.bincount(topk_ids.flatten(), minlength=experts).cumsum(0).to(torch.int32)
        x = torch.randn(tokens * top_k, in_dim, generator=generator, device=device).to(dtype)
        w = (torch.randn(experts, in_dim, out_dim, generator=generator, device=device) * in_dim**-0.5).to(dtype)
        grad_outputs = ()
        if requires_grad:
            grad_outputs = (torch.randn(tokens * top_k, out_dim, generator=generator, device=device).to(dtype),)
        return CaseInputs((x.requires_grad_(requires_grad), w.requires_grad_(requires_grad), offsets), grad_outputs)

    return make_inputs


def _gemm_cost(rows: int, in_dim: int, out_dim: int, experts: int, mode: str):
    def cost(dtype: torch.dtype) -> Cost:
        x, w, out = rows * in_dim * _elt(dtype), experts * in_dim * out_dim * _elt(dtype), rows * out_dim * _elt(dtype)
        forward = Cost(x + w + out + experts * 4, 2 * rows * in_dim * out_dim)  # reads x, w, offsets; writes out
        if mode == FWD:
            return forward
        # reads x, w, dout, offsets; writes dx = dout·wᵀ and dw = xᵀ·dout: two GEMMs
        return forward + Cost(2 * (x + w) + out + experts * 4, 2 * forward.flops)

    return cost


def _gemm_case(label: str, tokens: int, in_dim: int, out_dim: int, experts: int, top_k: int, mode: str) -> Case:
    rows = tokens * top_k
    cost = _gemm_cost(rows, in_dim, out_dim, experts, mode)
    return Case(
        op="grouped_gemm",
        label=label,
        shape=f"{rows}x{in_dim} E{experts}x{in_dim}x{out_dim}",
        mode=mode,
        make_inputs=_gemm_inputs(tokens, in_dim, out_dim, experts, top_k),
        cost=cost,
        tensor_flops=matmul_flops(cost),
        kernel="rdm.ops:grouped_gemm",
        reference="rdm.reference:grouped_gemm",
        naive=grouped_gemm_naive,
        peers=(Peer("torch._grouped_mm", torch_grouped_mm, lambda: hasattr(torch, "_grouped_mm"),
                    dtypes=(torch.bfloat16,)),),
        output_names=("out",),
        arg_names=("x", "w"),
    )


# ----------------------------------------------------------------------------- the routed experts


def _routed_experts(ops, x, topk_ids, topk_weights, w_gate_up, w_down):
    rows, row_id, offsets = ops.moe_permute(x, topk_ids, w_gate_up.shape[0])
    gate, up = ops.grouped_gemm(rows, w_gate_up, offsets).chunk(2, dim=-1)
    return ops.moe_unpermute(ops.grouped_gemm(F.silu(gate) * up, w_down, offsets), row_id, topk_weights)


def routed_experts(x, topk_ids, topk_weights, w_gate_up, w_down):
    import rdm.ops

    return _routed_experts(rdm.ops, x, topk_ids, topk_weights, w_gate_up, w_down)


def routed_experts_reference(x, topk_ids, topk_weights, w_gate_up, w_down):
    import rdm.reference

    return _routed_experts(rdm.reference, x, topk_ids, topk_weights, w_gate_up, w_down)


def routed_experts_naive(x, topk_ids, topk_weights, w_gate_up, w_down):
    """What one would write without the kernels: a loop over experts gathering the tokens
    routed to each with a boolean mask, summing into fp32."""
    out = torch.zeros(x.shape, dtype=torch.float32, device=x.device)
    for expert in range(w_gate_up.shape[0]):
        token, slot = torch.where(topk_ids == expert)
        gate, up = (x[token] @ w_gate_up[expert]).chunk(2, dim=-1)
        y = (F.silu(gate) * up) @ w_down[expert]
        out = out.index_add(0, token, topk_weights[token, slot, None] * y.float())
    return out.to(x.dtype)


def _layer_inputs(tokens: int, d_model: int, hidden: int, experts: int, top_k: int):
    def make_inputs(device: torch.device, dtype: torch.dtype, requires_grad: bool) -> CaseInputs:
        generator = torch.Generator(device).manual_seed(0)

        def draw(*shape, scale=1.0):
            return (torch.randn(*shape, generator=generator, device=device) * scale).to(dtype)

        topk_ids, topk_weights = _route(generator, tokens, experts, top_k, device)
        x = draw(tokens, d_model)
        w_gate_up = draw(experts, d_model, 2 * hidden, scale=d_model**-0.5)
        w_down = draw(experts, hidden, d_model, scale=hidden**-0.5)
        tensors = [t.requires_grad_(requires_grad) for t in (x, topk_weights, w_gate_up, w_down)]
        # Unit norm per token (rather than per element), so that the gate weights'
        # gradients, dot products over d_model, are O(1) like the other outputs.
        grad_outputs = (draw(tokens, d_model, scale=d_model**-0.5),) if requires_grad else ()
        return CaseInputs((tensors[0], topk_ids, *tensors[1:]), grad_outputs)

    return make_inputs


def _layer_cost(tokens: int, d_model: int, hidden: int, experts: int, top_k: int, mode: str):
    def cost(dtype: torch.dtype) -> Cost:
        elt = _elt(dtype)
        activations = tokens * d_model * elt  # one of x, out, dout, dx
        weights = 3 * experts * d_model * hidden * elt  # w_gate_up and w_down
        routing = tokens * top_k * (8 + 4)  # ids and weights
        # per routed row: 2·D·2H for gate_up, 2·H·D for down
        flops = 6 * tokens * top_k * d_model * hidden
        # A fused layer reads x, the routing and the weights and writes out; the rows in
        # expert order need not leave the chip.
        forward = Cost(2 * activations + weights + routing, flops)
        if mode == FWD:
            return forward
        # reads x, routing, weights, dout; writes dx, dweights, d topk_weights; twice the math
        return forward + Cost(3 * activations + 2 * weights + routing + tokens * top_k * 4, 2 * flops)

    return cost


def _layer_case(label: str, tokens: int, d_model: int, hidden: int, experts: int, top_k: int, mode: str) -> Case:
    cost = _layer_cost(tokens, d_model, hidden, experts, top_k, mode)
    return Case(
        op="moe_routed_experts",
        label=label,
        shape=f"{tokens}x{d_model} E{experts} k{top_k} H{hidden}",
        mode=mode,
        make_inputs=_layer_inputs(tokens, d_model, hidden, experts, top_k),
        cost=cost,
        tensor_flops=matmul_flops(cost),
        kernel=routed_experts,
        reference=routed_experts_reference,
        naive=routed_experts_naive,
        output_names=("out",),
        tolerances=LAYER_TOLERANCES,
        arg_names=("x", "topk_ids", "topk_weights", "w_gate_up", "w_down"),
    )


# ----------------------------------------------------------------------------- registry


def cases(size: str) -> list[Case]:
    if size == "tiny":
        shapes = list(TINY_SHAPES.items())
    else:
        shapes = []
        for model, preset in MODELS[size].items():
            config = RDMConfig.preset(preset)
            dims = (config.d_model, config.expert_hidden, config.num_experts, config.experts_per_token)
            shapes += [(f"{model} {label}", (tokens, *dims)) for label, tokens in TOKENS[size].items()]
    modes = (FWD, FWD_BWD)
    return [
        *(  # the layer's two expert projections
            _gemm_case(f"{label} {projection}", tokens, in_dim, out_dim, experts, top_k, mode)
            for label, (tokens, d_model, hidden, experts, top_k) in shapes
            for projection, in_dim, out_dim in (("gate_up", d_model, 2 * hidden), ("down", hidden, d_model))
            for mode in modes
        ),
        *(_layer_case(label, *shape, mode) for label, shape in shapes for mode in modes),
    ]
