"""Choice of the dtype that the reference implementations compute in."""
import torch


def compute_dtype(*tensors):
    """Returns float64 if any given tensor is float64, else float32.

    fp16/bf16/fp32 inputs are all computed in fp32 (the precision the CUDA kernels
    accumulate in); float64 inputs stay float64 so that tests and gradcheck can run
    the references exactly. ``None`` entries (absent optional inputs) are ignored.
    """
    if any(t is not None and t.dtype == torch.float64 for t in tensors):
        return torch.float64
    return torch.float32
