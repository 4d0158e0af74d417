"""Reference PyTorch implementations of every rdm op.

Each function has the signature of its `torch.ops.rdm.<name>` op. They are the ops' CPU
kernels, the oracle of the tests and the baseline of the benchmarks: readable, vectorised,
fp32 math (fp64 when given fp64 inputs).
"""
from .act import act_accumulate

__all__ = ["act_accumulate"]
