"""rdm-bench --ops model: the whole model, rdm against a plain-PyTorch model of the same architecture.

The plain model is the same module tree with the same weights, run with every rdm op swapped
for the bench's naive per-op baseline (attention through SDPA, experts in a Python loop; see
``plain_ops``). Implementations are run alternately in one process, so that a load change
on a shared machine hits all of them alike; each figure is a median over the repeats.
"""
from __future__ import annotations

import contextlib
import dataclasses
import statistics
import time
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from rdm.bench.harness import format_columns
from rdm.models import RDMConfig, RDMForCausalLM

# The matched config of issue 12 (~4M parameters): that of the plain-PyTorch peer it was
# compared with. Two shared experts of 128 make its one 256-wide shared SwiGLU.
MATCHED = dict(
    vocab_size=4096, d_model=256, attn_heads=8, attn_kv_heads=2,
    num_experts=16, experts_per_token=2, expert_hidden=128, num_shared_experts=2,
    depth_lora_rank=8, prelude_mixers=("mamba",), coda_mixers=("swa",), n_loops=4, max_loops=4,
    ffn_hidden=512, gla_heads=4,
)
TRAIN_SHAPES = ((4, 256), (1, 1024))  # (batch, tokens) of a training step
CONTEXTS = (64, 256, 1024)  # decode after a prompt of this many tokens
DECODE_STEPS = 8
IMPLS = ("rdm", "plain", "rdm+compile")


def configs(names: Sequence[str] = ("tiny", "matched")) -> dict[str, RDMConfig]:
    """name/mixers -> config: each model with its default mixers and with attention everywhere
    (a window covering the longest sequence, so that it is full causal attention)."""
    base = {"tiny": RDMConfig.preset("tiny"), "matched": RDMConfig(**MATCHED)}
    longest = max(max(length for _, length in TRAIN_SHAPES), max(CONTEXTS) + DECODE_STEPS)
    out = {}
    for name in names:
        # A fixed depth: sampled loop counts would make every step a different amount of work.
        config = dataclasses.replace(base[name], sample_loops=False)
        out[f"{name}/default"] = config
        out[f"{name}/attention"] = dataclasses.replace(
            config, prelude_mixers=("swa",) * len(config.prelude_mixers), core_mixer="swa",
            coda_mixers=("swa",) * len(config.coda_mixers), attn_window=longest)
    return out


# ----------------------------------------------------------------------------- the plain model


def sdpa_attention(q, k, v, window, num_global=0, scale=None, cu_seqlens=None):
    """sliding_window_attention as one would write it with SDPA: a boolean mask of the visible
    keys (no lse: the model does not use it)."""
    num_queries, num_keys = q.shape[1], k.shape[1]
    position = torch.arange(num_keys - num_queries, num_keys, device=q.device)[:, None]
    key = torch.arange(num_keys, device=q.device)[None, :]
    visible = (key <= position) & ((position - key < window) | (key < num_global))
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                         attn_mask=visible, scale=scale, enable_gqa=True)
    return out.transpose(1, 2), None


def _naive_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                initial_state=None, cu_seqlens=None):
    from rdm.bench.cases.selective_scan import selective_scan_naive

    # The naive loop starts from zeros: the model passes an initial state only when it
    # continues from a cache, which the bench always starts fresh (all zeros).
    return selective_scan_naive(u, delta, A, B, C, D, z, delta_bias, delta_softplus)


def _naive_gla(q, k, v, g, scale=None, initial_state=None, cu_seqlens=None):
    from rdm.bench.cases.gla import gla_naive

    return gla_naive(q, k, v, g, scale, initial_state)


def _naive_moe_forward(self, x):
    """MoE.forward with the experts in a Python loop (the bench's naive routed layer)."""
    from rdm.bench.cases.moe import routed_experts_naive

    tokens = x.reshape(-1, x.shape[-1])
    expert_ids, gate_weights = self.route(tokens)
    out = routed_experts_naive(tokens, expert_ids, gate_weights, self.experts_gate_up, self.experts_down)
    if self.shared is not None:
        out = out + self.shared(tokens)[0]
    load = torch.bincount(expert_ids.flatten(), minlength=self.num_experts).to(torch.int32)
    return out.view(x.shape), load


@contextlib.contextmanager
def plain_ops():
    """Within the block, rdm's models run the naive baselines instead of rdm's ops."""
    from rdm.bench.cases.act import act_accumulate_naive
    from rdm.bench.cases.selective_scan import state_update_naive
    from rdm.models import core, feedforward
    from rdm.models.mixers import gla, mamba, swa

    swaps = [
        (swa, "sliding_window_attention", sdpa_attention),
        (mamba, "selective_scan", _naive_scan),
        (mamba, "selective_state_update", state_update_naive),
        (gla, "chunk_gla", _naive_gla),
        (gla, "fused_recurrent_gla", _naive_gla),
        (core, "act_accumulate", act_accumulate_naive),
        (feedforward.MoE, "forward", _naive_moe_forward),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in swaps]
    try:
        for owner, name, replacement in swaps:
            setattr(owner, name, replacement)
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


# ----------------------------------------------------------------------------- measuring


def saved_bytes(fn: Callable[[], None]) -> int:
    """Bytes of the distinct storages that autograd saves for the backward while fn runs:
    the activation memory of a training step, what sets its peak. (The CPU allocator keeps
    freed memory, so the process's peak resident size says little once a step has run.)"""
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        fn()
    return sum(storages.values())


@dataclasses.dataclass
class ModelRow:
    model: str
    impl: str
    train_tok_s: dict = dataclasses.field(default_factory=dict)  # "BxT" -> tokens/s
    prefill_ms: dict = dataclasses.field(default_factory=dict)  # context -> ms
    decode_ms: dict = dataclasses.field(default_factory=dict)  # context -> ms per token
    cache_bytes: dict = dataclasses.field(default_factory=dict)  # context -> bytes
    saved_bytes: Optional[int] = None  # saved for the backward by a step of the first training shape
    error: str = ""


class _Runner:
    """One model's weights, run as rdm, as the plain model, or compiled."""

    def __init__(self, config: RDMConfig, seed: int = 0):
        torch.manual_seed(seed)
        self.model = RDMForCausalLM(config)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4)
        self.vocab = config.vocab_size
        self._compiled = None

    def forward_fn(self, impl: str):
        if impl != "rdm+compile":
            return self.model
        if self._compiled is None:
            self._compiled = torch.compile(self.model)
        return self._compiled

    def context(self, impl: str):
        return plain_ops() if impl == "plain" else contextlib.nullcontext()

    def train_step(self, impl: str, batch: int, length: int) -> float:
        ids = torch.randint(0, self.vocab, (batch, length))
        self.model.train()
        with self.context(impl):
            start = time.perf_counter()
            loss = self.forward_fn(impl)(ids, labels=ids).loss
            loss.backward()
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            return time.perf_counter() - start

    def prefill_and_decode(self, impl: str, context: int) -> tuple[float, float, int]:
        """(prefill seconds, median seconds per decoded token, cache bytes at the end)."""
        self.model.eval()
        with self.context(impl), torch.no_grad():
            cache = self.model.new_cache(1)
            ids = torch.randint(0, self.vocab, (1, context))
            start = time.perf_counter()
            logits = self.model(ids, cache=cache).logits
            prefill = time.perf_counter() - start
            steps = []
            for _ in range(DECODE_STEPS):
                token = logits[:, -1:].argmax(-1)
                start = time.perf_counter()
                logits = self.model(token, cache=cache).logits
                steps.append(time.perf_counter() - start)
            return prefill, statistics.median(steps), cache.nbytes()


def run(model_names: Sequence[str] = ("tiny", "matched"), impls: Sequence[str] = IMPLS, repeats: int = 3,
        train_shapes=TRAIN_SHAPES, contexts=CONTEXTS, log=print) -> list[ModelRow]:
    """Every figure of every (config, implementation), the implementations alternating."""
    rows = []
    for label, config in configs(model_names).items():
        runner = _Runner(config)
        by_impl = {impl: ModelRow(label, impl) for impl in impls}
        samples: dict = {}

        def measure(impl, key, fn):
            row = by_impl[impl]
            if row.error:
                return
            try:
                samples.setdefault((impl, key), []).append(fn())
            except Exception as exc:  # one failing implementation must not stop the others
                row.error = f"{key}: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"

        for impl in impls:  # warm-up (and compilation), untimed; activation memory of a first-shape step
            batch, length = train_shapes[0]
            measure(impl, "warmup", lambda: runner.train_step(impl, batch, length))
            if not by_impl[impl].error:
                try:
                    by_impl[impl].saved_bytes = saved_bytes(lambda: runner.train_step(impl, batch, length))
                except Exception:  # saved-tensor hooks are not supported everywhere (torch.compile)
                    by_impl[impl].saved_bytes = None
        for _ in range(repeats):
            for batch, length in train_shapes:
                for impl in impls:
                    measure(impl, f"train {batch}x{length}", lambda: runner.train_step(impl, batch, length))
            for context in contexts:
                for impl in impls:
                    if impl != "rdm+compile":  # decode is eager: a compiled step per length would recompile
                        measure(impl, f"decode {context}", lambda: runner.prefill_and_decode(impl, context))
        for impl, row in by_impl.items():
            for batch, length in train_shapes:
                times = samples.get((impl, f"train {batch}x{length}"))
                if times:
                    row.train_tok_s[f"{batch}x{length}"] = batch * length / statistics.median(times)
            for context in contexts:
                runs = samples.get((impl, f"decode {context}"))
                if runs:
                    row.prefill_ms[context] = 1e3 * statistics.median(r[0] for r in runs)
                    row.decode_ms[context] = 1e3 * statistics.median(r[1] for r in runs)
                    row.cache_bytes[context] = runs[-1][2]
            rows.append(row)
        log(f"  measured {label}")
    return rows


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def format_rows(rows: Sequence[ModelRow], train_shapes=TRAIN_SHAPES, contexts=CONTEXTS) -> str:
    shapes = [f"{b}x{t}" for b, t in train_shapes]
    header = ["model/mixers", "impl", *(f"train {s} tok/s" for s in shapes), *(f"prefill {c} ms" for c in contexts),
              *(f"decode {c} ms/tok" for c in contexts), *(f"cache {c} KB" for c in contexts), "saved MB"]
    cells = [
        [row.model, row.impl, *(_fmt(row.train_tok_s.get(s), ".0f") for s in shapes),
         *(_fmt(row.prefill_ms.get(c), ".1f") for c in contexts),
         *(_fmt(row.decode_ms.get(c), ".2f") for c in contexts),
         *(_fmt(None if c not in row.cache_bytes else row.cache_bytes[c] / 1024, ".1f") for c in contexts),
         _fmt(None if row.saved_bytes is None else row.saved_bytes / 2**20, ".1f")]
        for row in rows
    ]
    lines = format_columns(header, cells, 2)
    lines += [f"  {row.model} {row.impl} failed: {row.error}" for row in rows if row.error]
    return "\n".join(lines)


def targets(rows: Sequence[ModelRow], train_shapes=TRAIN_SHAPES, contexts=CONTEXTS) -> str:
    """Issue 12's targets: rdm's training step at least 2x the plain model's tokens/s, and
    decode ms/token at most the plain model's, per model and mixer choice."""
    lines = ["targets (rdm vs plain): train >= 2.00x tok/s, decode <= 1.00x ms/token"]
    by_key = {(row.model, row.impl): row for row in rows}
    for (model, impl), rdm in by_key.items():
        plain = by_key.get((model, "plain"))
        if impl != "rdm" or plain is None:
            continue
        for batch, length in train_shapes:
            shape = f"{batch}x{length}"
            if shape in rdm.train_tok_s and shape in plain.train_tok_s:
                ratio = rdm.train_tok_s[shape] / plain.train_tok_s[shape]
                lines.append(f"  {model} train {shape}: {ratio:.2f}x {'ok' if ratio >= 2 else 'MISSED'}")
        for context in contexts:
            if context in rdm.decode_ms and context in plain.decode_ms:
                ratio = rdm.decode_ms[context] / plain.decode_ms[context]
                lines.append(f"  {model} decode ctx {context}: {ratio:.2f}x {'ok' if ratio <= 1 else 'MISSED'}")
    return "\n".join(lines)


def profile(model_name: str = "matched", mixers: str = "default", shape=TRAIN_SHAPES[0], top: int = 15) -> str:
    """The top ops (by self CPU time) of one rdm training step, after a warm-up step."""
    runner = _Runner(configs((model_name,))[f"{model_name}/{mixers}"])
    runner.train_step("rdm", *shape)
    with torch.profiler.profile() as prof:
        runner.train_step("rdm", *shape)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top)
