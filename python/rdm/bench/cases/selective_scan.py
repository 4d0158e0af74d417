"""Cases for rdm.ops.selective_scan: the Mamba S6 scan of the prelude blocks.

Per channel d and state n: ``h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t``,
``y_t = C_t h_t + D u_t``, ``out = y · silu(z)``, with Δ = softplus(delta + delta_bias)
as in a Mamba layer (B and C shared by all channels: G = 1).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from rdm.bench.harness import FWD, FWD_BWD, Case, CaseInputs, Peer, Target, importable, resolve, simt_op
from rdm.bench.roofline import Cost
from rdm.models.config import RDMConfig

# label -> RDMConfig preset.
MODELS = {
    "full": {"100M": "100m", "500M": "500m", "1B": "1b"},
    "small": {"tiny": "tiny", "100M": "100m"},  # the presets a CPU user trains
}
TOKENS = {  # per size: label -> (batch, L)
    # One sequence: the float64 oracle's fwd+bwd saves ~14 GiB per 1B-model sequence of
    # 1024 tokens (its chunked prefix scan keeps every pass for autograd).
    "full": {"b1x2048": (1, 2048), "b1x4096": (1, 4096)},
    # Sequence lengths a CPU user trains and prefills at.
    "small": {"b1x256": (1, 256), "b1x2048": (1, 2048)},
}
# label -> (batch, dim, N, L): L = 264 crosses the reference's 64-step chunks and the kernel's
# 128-step chunks (two whole, one partial); L % 4 == 0 like the real shapes, so that the
# emulated kernel takes their path (16-byte vectors per lane) and its counters carry over.
TINY_SHAPES = {"tiny d32 N8 b2x264": (2, 32, 8, 264), "tiny d48 N16 b1x128": (1, 48, 16, 128)}
# The naive loop keeps one autograd node per step: only where L is this short.
NAIVE_MAX_LENGTH = 512


def selective_scan_naive(u, delta, A, B, C, D, z, delta_bias, delta_softplus):
    """What one would write without the kernel: the recurrence, one token at a time, in fp32."""
    dt = delta.float() + delta_bias[:, None]
    dt = F.softplus(dt) if delta_softplus else dt
    u32, B32, C32 = u.float(), B.float(), C.float()
    h = u32.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for t in range(u.shape[-1]):
        dt_t = dt[:, :, t, None]
        h = torch.exp(dt_t * A) * h + dt_t * B32[:, None, :, t] * u32[:, :, t, None]
        ys.append((h * C32[:, None, :, t]).sum(-1))
    y = (torch.stack(ys, dim=-1) + D[:, None] * u32) * F.silu(z.float())
    return y.to(u.dtype), h


def mamba_selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus):
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn

    # Same argument order as rdm's; the last state is only returned when asked for.
    return selective_scan_fn(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state=True)


def _input_factory(batch: int, dim: int, state: int, length: int):
    def make_inputs(device: torch.device, dtype: torch.dtype, requires_grad: bool) -> CaseInputs:
        generator = torch.Generator(device).manual_seed(0)

        def draw(sampler, *shape):
            return sampler(*shape, generator=generator, device=device)

        u = draw(torch.randn, batch, dim, length).to(dtype)
        delta = (0.5 * draw(torch.randn, batch, dim, length)).to(dtype)
        # Mamba's initialisation: softplus(delta_bias) log-uniform in [1e-3, 0.1] and
        # S4D-real A = -(1..N), so every decay exp(ΔA) lies in (0, 1).
        dt = torch.exp(draw(torch.rand, dim) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
        delta_bias = dt + torch.log(-torch.expm1(-dt))  # inverse softplus
        A = -torch.arange(1, state + 1, dtype=torch.float32, device=device).repeat(dim, 1)
        B = draw(torch.randn, batch, state, length).to(dtype)
        C = draw(torch.randn, batch, state, length).to(dtype)
        D = draw(torch.randn, dim)
        z = draw(torch.randn, batch, dim, length).to(dtype)
        tensors = [t.requires_grad_(requires_grad) for t in (u, delta, A, B, C, D, z, delta_bias)]
        # Training differentiates `out` only: the last state feeds no loss (nor has a
        # gradient in mamba_ssm). In out's dtype, as autograd would round it to that anyway
        # and the float64 oracle must see the same values.
        grad_outputs = (draw(torch.randn, batch, dim, length).to(dtype),) if requires_grad else ()
        return CaseInputs((*tensors, True), grad_outputs)

    return make_inputs


def _cost_function(batch: int, dim: int, state: int, length: int, mode: str):
    def cost(dtype: torch.dtype) -> Cost:
        elt = torch.finfo(dtype).bits // 8
        per_channel = batch * dim * length * elt  # one of u, delta, z, out
        per_state = batch * state * length * elt  # one of B, C
        params = dim * state * 4 + 2 * dim * 4  # A, D, delta_bias
        # reads u, delta, z, B, C and the parameters; writes out and the last state
        forward = Cost(4 * per_channel + 2 * per_state + params + batch * dim * state * 4,
                       flops=9 * batch * dim * length * state)  # decay exp+mul, drive, update, C·h
        if mode == FWD:
            return forward
        # reads u, delta, z, B, C, grad_out and the parameters; writes their gradients.
        # The backward recomputes the states and runs the adjoint scan: twice the work.
        backward = Cost(4 * per_channel + 2 * per_state + params + 3 * per_channel + 2 * per_state + params,
                        flops=2 * forward.flops)
        return forward + backward

    return cost


def _case(label: str, batch: int, dim: int, state: int, length: int, mode: str, with_simt: bool) -> Case:
    return Case(
        op="selective_scan",
        label=label,
        shape=f"{batch}x{dim}x{length} N{state}",
        mode=mode,
        make_inputs=_input_factory(batch, dim, state, length),
        cost=_cost_function(batch, dim, state, length, mode),
        kernel="rdm.ops:selective_scan",
        reference="rdm.reference:selective_scan",
        naive=selective_scan_naive if length <= NAIVE_MAX_LENGTH else None,
        compile_naive=False,  # compiling would unroll the loop over tokens
        peers=(Peer("mamba_ssm", mamba_selective_scan, importable("mamba_ssm")),),
        output_names=("out", "last_state"),
        arg_names=("u", "delta", "A", "B", "C", "D", "z", "delta_bias"),
        simt=simt_op("selective_scan") if with_simt else None,
    )


# --- selective_state_update: one decode step of the scan --------------------------------

DECODE_BATCH = {"full": 64, "small": 8}


def _on_a_copy(step: Target):
    """The step updates `state` in place; every call starts from a copy of the case's state so
    that all implementations (and repeated timed calls) see the same input. The copy's traffic
    is counted in the cost."""

    def run(state, *rest):
        fresh = state.clone()
        return resolve(step)(fresh, *rest), fresh

    return run


def state_update_naive(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus):
    """One step written out in fp32, as one would without the op."""
    dt = dt.float() + dt_bias
    dt = F.softplus(dt) if dt_softplus else dt
    state.mul_(torch.exp(dt[..., None] * A)).add_(dt[..., None] * B.float()[:, None, :] * x.float()[..., None])
    y = (state * C.float()[:, None, :]).sum(-1) + D * x.float()
    return (y * F.silu(z.float())).to(x.dtype)


def _state_update_inputs(batch: int, dim: int, state_size: int):
    scan_inputs = _input_factory(batch, dim, state_size, 1)

    def make_inputs(device: torch.device, dtype: torch.dtype, requires_grad: bool) -> CaseInputs:
        u, delta, A, B, C, D, z, delta_bias, _ = scan_inputs(device, dtype, False).args
        state = torch.randn(batch, dim, state_size, device=device)
        return CaseInputs((state, u[..., 0], delta[..., 0], A, B[..., 0], C[..., 0], D, z[..., 0], delta_bias, True), ())

    return make_inputs


def _state_update_cost(batch: int, dim: int, state_size: int):
    def cost(dtype: torch.dtype) -> Cost:
        elt = torch.finfo(dtype).bits // 8
        state_bytes = batch * dim * state_size * 4
        # copy (read + write), then the step reads and writes the state; x, dt, z in, y out
        return Cost(4 * state_bytes + 4 * batch * dim * elt + 2 * batch * state_size * elt + dim * state_size * 4,
                    flops=7 * batch * dim * state_size)

    return cost


def _state_update_case(label: str, batch: int, dim: int, state_size: int, with_simt: bool = False) -> Case:
    return Case(
        op="selective_state_update",
        label=label,
        shape=f"{batch}x{dim} N{state_size}",
        mode=FWD,
        make_inputs=_state_update_inputs(batch, dim, state_size),
        cost=_state_update_cost(batch, dim, state_size),
        kernel=_on_a_copy("rdm.ops:selective_state_update"),
        reference=_on_a_copy("rdm.reference:selective_state_update"),
        naive=_on_a_copy(state_update_naive),
        output_names=("y", "state"),
        arg_names=("state", "x", "dt", "A", "B", "C", "D", "z", "dt_bias"),
        simt=_on_a_copy(simt_op("selective_state_update")) if with_simt else None,
    )


def _scan_widths(size: str) -> list[tuple[str, int, int]]:
    """(model label, scan channels, state size) of each model preset benchmarked at `size`."""
    widths = []
    for model, preset in MODELS[size].items():
        config = RDMConfig.preset(preset)
        widths.append((model, config.mamba_expand * config.d_model, config.mamba_d_state))
    return widths


def cases(size: str) -> list[Case]:
    if size == "tiny":
        shapes = list(TINY_SHAPES.items())
        decode = [_state_update_case("tiny decode d32 N8 b2", 2, 32, 8, with_simt=True)]
    else:
        widths = _scan_widths(size)
        shapes = [
            (f"{model} {tokens_label}", (batch, dim, state, length))
            for model, dim, state in widths
            for tokens_label, (batch, length) in TOKENS[size].items()
        ]
        batch = DECODE_BATCH[size]
        decode = [_state_update_case(f"{model} decode b{batch}", batch, dim, state) for model, dim, state in widths]
    tiny = size == "tiny"
    return [_case(label, *shape, mode, tiny) for label, shape in shapes for mode in (FWD, FWD_BWD)] + decode
