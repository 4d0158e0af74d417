"""AdamW with decoupled weight decay on matrices only, and a warm-up + cosine schedule."""
import math
from dataclasses import dataclass

import torch
from torch import nn


def build_optimizer(model: nn.Module, config) -> torch.optim.AdamW:
    """Weight decay for the ≥ 2-D weights (projections, experts, embeddings); none for
    norms, biases, gains and the other vectors, which decay would pull towards zero."""
    decay, no_decay = [], []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (decay if parameter.dim() >= 2 else no_decay).append(parameter)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2))


@dataclass
class WarmupCosine:
    """Learning-rate multiplier: linear from 0 over ``warmup`` steps, then a half cosine from
    1 down to ``min_ratio`` at ``total`` steps. An object rather than a lambda so that the
    LambdaLR state (and so the checkpoint) carries it."""

    warmup: int
    total: int
    min_ratio: float

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(optimizer, config) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, WarmupCosine(config.warmup_steps, config.steps, config.min_lr_ratio)
    )
