"""RDMConfig: every hyperparameter of an RDM recurrent-depth language model, with presets."""
import dataclasses
import json
import math
from dataclasses import dataclass

MIXERS = ("mamba", "gla", "swa")
FEEDFORWARDS = ("dense", "moe")
HALTING_MODES = ("act", "none")


@dataclass
class RDMConfig:
    """Hyperparameters of ``RDMForCausalLM``.

    Layout: ``prelude_mixers`` blocks run once, then one core block (``core_mixer`` +
    ``core_ffn``) looped ``n_loops`` times, then ``coda_mixers`` blocks run once. Every
    block is a token mixer (``"mamba"``, ``"gla"`` or ``"swa"``) followed by a feed-forward
    (``"dense"`` SwiGLU or ``"moe"``).
    """

    vocab_size: int = 32000
    d_model: int = 768
    tie_embeddings: bool = True
    norm_eps: float = 1e-6
    initializer_range: float = 0.02

    # Layout.
    prelude_mixers: tuple[str, ...] = ("mamba", "mamba")
    prelude_ffn: str = "dense"
    core_mixer: str = "gla"
    core_ffn: str = "moe"
    coda_mixers: tuple[str, ...] = ("swa",)
    coda_ffn: str = "dense"

    # Recurrent depth. ``n_loops`` is the default (and mean trained) depth; ``max_loops`` is
    # the deepest the model is trained at: sampled depths are clamped to it and the depth
    # LoRA has one scale per depth up to it (deeper loops reuse the last).
    n_loops: int = 4
    max_loops: int = 8
    loop_embedding_dim: int | None = None  # channels carrying the loop index; d_model // 8 if None
    depth_lora_rank: int = 16
    halting: str = "act"
    act_threshold: float = 0.99
    ponder_weight: float = 0.01
    # Training samples the depth per step from a Poisson log-normal around n_loops (as in
    # Huginn / Parcae) and backpropagates through only the last ``backprop_loops`` loops
    # (all when None). The sample is seeded by (loop_sampling_seed, step).
    sample_loops: bool = True
    loop_sampling_sigma: float = 0.5
    loop_sampling_seed: int = 0
    backprop_loops: int | None = None

    # Dense SwiGLU feed-forward.
    ffn_hidden: int = 2048

    # Mixture of experts: routed top-k experts plus always-on shared experts.
    num_experts: int = 8
    experts_per_token: int = 2
    num_shared_experts: int = 1
    expert_hidden: int = 1024
    router_bias_update_rate: float = 1e-3

    # Mamba (S6).
    mamba_d_state: int = 16
    mamba_d_conv: int = 4
    mamba_expand: int = 2
    mamba_dt_rank: int | None = None  # ceil(d_model / 16) if None

    # Gated linear attention.
    gla_heads: int = 4
    gla_expand_k: float = 0.5
    gla_expand_v: float = 1.0
    gla_gate_rank: int = 16
    gla_gate_normalizer: float = 16.0  # log-sigmoid gate divided by this: slow forgetting at init

    # Sliding-window attention.
    attn_heads: int = 12
    attn_kv_heads: int = 4
    attn_window: int = 512
    attn_num_memory: int = 16
    rope_theta: float = 10000.0

    def __post_init__(self):
        self.prelude_mixers = tuple(self.prelude_mixers)
        self.coda_mixers = tuple(self.coda_mixers)
        for mixer in (*self.prelude_mixers, self.core_mixer, *self.coda_mixers):
            _check_choice("mixer", mixer, MIXERS)
        for ffn in (self.prelude_ffn, self.core_ffn, self.coda_ffn):
            _check_choice("feed-forward", ffn, FEEDFORWARDS)
        _check_choice("halting", self.halting, HALTING_MODES)
        if not 1 <= self.n_loops <= self.max_loops:
            raise ValueError(f"need 1 ≤ n_loops ≤ max_loops, got {self.n_loops} and {self.max_loops}")
        if self.d_model % self.attn_heads or self.attn_heads % self.attn_kv_heads:
            raise ValueError("attn_heads must divide d_model and be a multiple of attn_kv_heads")
        if (self.d_model // self.attn_heads) % 2:
            raise ValueError("the attention head dimension must be even (RoPE rotates channel pairs)")
        if not 1 <= self.experts_per_token <= self.num_experts:
            raise ValueError("need 1 ≤ experts_per_token ≤ num_experts")
        if self.attn_window < 1 or self.attn_num_memory < 0:
            raise ValueError("need attn_window ≥ 1 and attn_num_memory ≥ 0")
        if self.backprop_loops is not None and self.backprop_loops < 1:
            raise ValueError("backprop_loops must be ≥ 1 (or None for all loops)")

    @property
    def resolved_loop_embedding_dim(self) -> int:
        width = self.d_model // 8 if self.loop_embedding_dim is None else self.loop_embedding_dim
        return width - width % 2  # sine and cosine pairs

    @property
    def resolved_mamba_dt_rank(self) -> int:
        return math.ceil(self.d_model / 16) if self.mamba_dt_rank is None else self.mamba_dt_rank

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "RDMConfig":
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "RDMConfig":
        return cls.from_dict(json.loads(text))

    @classmethod
    def preset(cls, name: str, **overrides) -> "RDMConfig":
        """``"tiny"`` (unit tests: a CPU forward and backward in about a second), ``"100m"``,
        ``"500m"`` or ``"1b"`` (parameter counts within 10% of the name, 32k vocabulary, tied
        embeddings); ``overrides`` replace preset fields."""
        if name not in _PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(_PRESETS)}")
        return cls(**{**_PRESETS[name], **overrides})


def _check_choice(what, value, choices):
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose one of {choices}")


_PRESETS = {
    "tiny": dict(
        vocab_size=256, d_model=64, prelude_mixers=("mamba",), coda_mixers=("swa",),
        n_loops=2, max_loops=4, depth_lora_rank=4, ffn_hidden=128,
        num_experts=4, experts_per_token=2, num_shared_experts=1, expert_hidden=64,
        mamba_d_state=8, gla_heads=2, gla_gate_rank=8,
        attn_heads=4, attn_kv_heads=2, attn_window=16, attn_num_memory=4,
    ),
    "100m": dict(
        d_model=768, prelude_mixers=("mamba",) * 4, coda_mixers=("swa",) * 2,
        n_loops=4, max_loops=8, ffn_hidden=2048,
        num_experts=8, experts_per_token=2, num_shared_experts=1, expert_hidden=1024,
        gla_heads=6, attn_heads=12, attn_kv_heads=4,
    ),
    "500m": dict(
        d_model=1536, prelude_mixers=("mamba",) * 6, coda_mixers=("swa",) * 3,
        n_loops=8, max_loops=16, ffn_hidden=4096,
        num_experts=16, experts_per_token=2, num_shared_experts=1, expert_hidden=2048,
        gla_heads=12, attn_heads=16, attn_kv_heads=4, attn_num_memory=32,
    ),
    "1b": dict(
        d_model=2048, prelude_mixers=("mamba",) * 8, coda_mixers=("swa",) * 4,
        n_loops=12, max_loops=24, ffn_hidden=5504,
        num_experts=16, experts_per_token=2, num_shared_experts=1, expert_hidden=2560,
        gla_heads=16, attn_heads=16, attn_kv_heads=4, attn_num_memory=32,
    ),
}
