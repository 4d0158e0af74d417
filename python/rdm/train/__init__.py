"""rdm.train: the ``rdm-train`` trainer for ``rdm.models`` on PyTorch's own distributed engine.

Modules, one job each: ``config`` (TrainConfig, command line, TOML/JSON), ``tokenizer``
(bytes or a `tokenizers` file), ``corpus`` (the embedded default corpus), ``sources``
(files, folders, JSONL), ``data`` (packing into rows with cu_seqlens, per-step batches),
``optim`` (AdamW, warm-up + cosine), ``rng``, ``checkpoint`` (atomic, keep-last-K),
``distributed`` (DDP, FSDP2), ``evaluate`` (the depth-extrapolation curve), ``progress``
(progress line, metrics JSONL), ``trainer`` (the loop), ``cli``.
"""
from .config import TrainConfig, parse_args
from .trainer import Trainer, train

__all__ = ["TrainConfig", "Trainer", "parse_args", "train"]
