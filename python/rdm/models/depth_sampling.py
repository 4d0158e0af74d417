"""Per-step loop counts for training: a Poisson log-normal around the mean depth."""
import math

import torch

# Mixes the step into the seed so that consecutive steps get unrelated streams.
_STEP_STRIDE = 0x9E3779B97F4A7C15


def sample_loop_count(mean: float, sigma: float, max_loops: int, step: int, seed: int = 0) -> int:
    """Draws ``n ~ Poisson(exp(τ))`` with ``τ ~ Normal(log(mean) − σ²/2, σ)`` (so E[exp τ] =
    mean, as in Huginn), clamped to [1, max_loops].

    The generator is seeded by (seed, step) alone, so data-parallel ranks that share a step
    counter draw the same depth without communicating.
    """
    generator = torch.Generator().manual_seed((seed + step * _STEP_STRIDE) % 2**63)
    log_rate = torch.normal(math.log(mean) - sigma**2 / 2, sigma, (1,), generator=generator)
    count = torch.poisson(log_rate.exp(), generator=generator)
    return int(count.clamp(1, max_loops).item())
