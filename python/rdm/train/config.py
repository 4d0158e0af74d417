"""TrainConfig: every setting of a training run, from defaults, a TOML/JSON file and the command line.

Precedence: the defaults below < the file given with ``--config`` < command-line flags.
In a file, top-level keys are TrainConfig fields and the ``model`` table overrides fields
of the model preset (``RDMConfig``); on the command line the same is ``--model KEY=VALUE``.
"""
import argparse
import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..models import RDMConfig

DIST_MODES = ("none", "ddp", "fsdp")
PRECISIONS = ("auto", "bf16", "fp32")


def _setting(default, help: str):
    """A TrainConfig field with its --help text (lists get a fresh copy per instance)."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    # Model: a preset of RDMConfig plus field overrides (vocab_size follows the tokenizer).
    preset: str = _setting("tiny", "model preset: tiny, 100m, 500m or 1b")
    model: dict = field(default_factory=dict)

    # Data.
    data: list[str] = _setting([], "text files, folders or .jsonl ({\"text\": ...}); none: the embedded "
                               "default corpus (this Python's standard library source)")
    tokenizer: str | None = _setting(None, "a `tokenizers` JSON file (default: UTF-8 bytes)")
    seq_len: int = _setting(128, "tokens per packed row")
    corpus_bytes: int = _setting(4_000_000, "characters of the default corpus to read")
    held_out_fraction: float = _setting(0.02, "fraction of the rows held out for evaluation (at least one)")

    # Optimisation.
    steps: int = _setting(300, "optimizer steps")
    batch_size: int = _setting(8, "rows per micro-batch and rank; a step sees batch · accumulation · ranks rows")
    grad_accum: int = _setting(1, "micro-batches per optimizer step")
    lr: float = _setting(3e-3, "peak learning rate")
    min_lr_ratio: float = _setting(0.1, "final learning rate of the cosine, as a fraction of the peak")
    warmup_steps: int = _setting(30, "steps of linear warm-up")
    weight_decay: float = _setting(0.1, "AdamW weight decay (matrices only)")
    beta1: float = _setting(0.9, "AdamW β1")
    beta2: float = _setting(0.95, "AdamW β2")
    grad_clip: float = _setting(1.0, "clip the global gradient norm to this")
    precision: str = _setting("auto", "auto (bf16 autocast on CUDA, float32 on the CPU), bf16 or fp32")
    gradient_checkpointing: bool = _setting(False, "recompute each core loop in the backward pass")
    seed: int = _setting(0, "seed of the initialisation and the data order")

    # Checkpoints and output.
    out: str = _setting("runs/rdm", "output folder: checkpoints/, metrics.jsonl, depth curve, sample, model/")
    save_every: int = _setting(100, "steps between checkpoints (and one at the end); 0: none")
    keep_last: int = _setting(3, "checkpoints kept")
    resume: bool = _setting(False, "continue from the newest checkpoint in OUT/checkpoints")

    # Evaluation, progress and the sample at the end.
    eval_loops: list[int] = _setting([1, 2, 4, 8, 16, 32], "loop counts of the depth-extrapolation curve")
    eval_rows: int = _setting(64, "held-out rows evaluated per loop count (at most)")
    log_every: int = _setting(10, "steps between progress lines")
    sample_prompt: str = _setting("def ", "prompt of the sample generated at the end")
    sample_tokens: int = _setting(80, "tokens of that sample")

    # Hardware.
    device: str = _setting("auto", "auto: cuda:LOCAL_RANK when CUDA is available, else cpu")
    dist: str = _setting("none", "none, ddp or fsdp (FSDP2); launch with torchrun for ddp/fsdp")
    # On a busy 2-core machine 2 threads ran the tiny preset 15× slower than 1: its tensors
    # are too small to split.
    threads: int | None = _setting(None, "torch intra-op threads (default: 1 for a small model, d_model ≤ 256, "
                                         "on the CPU, else torch's choice)")

    def __post_init__(self):
        _check_choice("dist", self.dist, DIST_MODES)
        _check_choice("precision", self.precision, PRECISIONS)
        for name in ("steps", "batch_size", "grad_accum", "seq_len", "keep_last", "log_every", "eval_rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.seq_len < 2:
            raise ValueError(f"seq_len must be ≥ 2 (a row predicts its next tokens), got {self.seq_len}")
        if not 0 < self.held_out_fraction < 1:
            raise ValueError(f"held_out_fraction must be in (0, 1), got {self.held_out_fraction}")
        if self.save_every < 0 or self.warmup_steps < 0:
            raise ValueError("save_every and warmup_steps must be ≥ 0")
        if not self.eval_loops or min(self.eval_loops) < 1:
            raise ValueError(f"eval_loops must be loop counts ≥ 1, got {self.eval_loops}")
        unknown = set(self.model) - {f.name for f in dataclasses.fields(RDMConfig)}
        if unknown:
            raise ValueError(f"unknown model fields {sorted(unknown)}; see rdm.models.RDMConfig")

    def model_config(self, vocab_size: int) -> RDMConfig:
        """The preset with the overrides; the vocabulary grows to the tokenizer's if smaller."""
        config = RDMConfig.preset(self.preset, **self.model)
        if config.vocab_size < vocab_size:
            config = dataclasses.replace(config, vocab_size=vocab_size)
        return config

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _check_choice(what, value, choices):
    if value not in choices:
        raise ValueError(f"{what} must be one of {choices}, got {value!r}")


def load_file(path) -> dict:
    """Settings from a .toml or .json file."""
    path = Path(path)
    if path.suffix == ".toml":
        return tomllib.loads(path.read_text())
    if path.suffix == ".json":
        return json.loads(path.read_text())
    raise ValueError(f"--config takes a .toml or .json file, got {path}")


def parse_value(text: str):
    """A command-line value: JSON when it parses (numbers, booleans, lists, null), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rdm-train",
        description="Train an rdm recurrent-depth language model (single process, or torchrun with --dist).",
        epilog="Example: rdm-train --preset tiny --steps 300 --out runs/tiny  |  "
        "torchrun --nproc_per_node=8 -m rdm.train --dist fsdp --preset 100m --data corpus/",
    )
    parser.add_argument("--config", help="a .toml or .json file of settings (flags override it)")
    parser.add_argument("--model", action="append", default=[], metavar="KEY=VALUE",
                        help="override a model config field, e.g. --model n_loops=3 (repeatable)")
    for item in dataclasses.fields(TrainConfig):
        if item.name == "model":
            continue
        flag = "--" + item.name.replace("_", "-")
        # Defaults stay None here so that only the flags actually given override the file.
        if item.type is bool:
            parser.add_argument(flag, dest=item.name, action=argparse.BooleanOptionalAction, default=None,
                                help=item.metadata["help"])
        elif item.name in ("data", "eval_loops"):
            kind = int if item.name == "eval_loops" else str
            parser.add_argument(flag, dest=item.name, nargs="+", type=kind, default=None, help=item.metadata["help"])
        else:
            kind = int if item.type in (int, int | None) else float if item.type is float else str
            default = "" if item.default is None else f" (default: {item.default})"
            parser.add_argument(flag, dest=item.name, type=kind, default=None, metavar=item.name.upper(),
                                help=item.metadata["help"] + default)
    return parser


def parse_args(argv=None) -> TrainConfig:
    """The TrainConfig of a command line (``argv`` defaults to sys.argv[1:])."""
    parser = build_parser()
    args = parser.parse_args(argv)
    values = load_file(args.config) if args.config else {}
    model = dict(values.pop("model", {}))
    for item in args.model:
        key, separator, value = item.partition("=")
        if not separator:
            parser.error(f"--model takes KEY=VALUE, got {item!r}")
        model[key] = parse_value(value)
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(values) - names
    if unknown:
        parser.error(f"unknown settings {sorted(unknown)} in {args.config}")
    for name in names - {"model"}:
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    try:
        return TrainConfig(**values, model=model)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
