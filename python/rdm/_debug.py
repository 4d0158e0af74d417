"""Debug checks: errors that CUDA kernels report through the device error flag.

On CUDA, an op does not copy index-like inputs (cu_seqlens, offsets, topk ids, row ids) to
the host to validate them: its kernels treat a bad value safely and record it in a small
per-device flag (csrc/kernels/common/device_error.h). Reading that flag is a sync, so it is
only read in debug mode: after every op called through ``rdm.ops`` (eagerly; not inside a
torch.compile graph), raising a RuntimeError that names the op, the argument, the index and
the bad value. On the CPU path the ops check those values before running, always.
"""
import os

import torch
from torch import Tensor

ENV_VAR = "RDM_DEBUG_CHECKS"

_enabled = os.environ.get(ENV_VAR, "0").strip().lower() in ("1", "true", "yes", "on")


class debug_checks:
    """Turns the debug checks on or off: ``rdm.debug_checks(True)``.

    Also a context manager that restores the previous setting on exit::

        with rdm.debug_checks(True):
            out = rdm.ops.grouped_gemm(x, w, offsets)   # raises for bad offsets on CUDA

    The setting is process-wide; ``RDM_DEBUG_CHECKS=1`` in the environment turns it on at
    import. A flag that is not read keeps its first error until it is: turning the checks
    on later reports it after the next op on that device.
    """

    def __init__(self, enabled: bool):
        global _enabled
        self._previous = _enabled
        _enabled = bool(enabled)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        global _enabled
        _enabled = self._previous


def enabled() -> bool:
    """Whether the debug checks are on."""
    return _enabled


def checked(namespace: str, name: str, *args):
    """``torch.ops.<namespace>.<name>(*args)``; in debug mode, then raises the first error its
    kernels reported on the device of its outputs. The CPU path of ``rdm`` has no kernels
    that report (it validates values up front); ``rdm_simt`` runs the CUDA kernels on CPU
    tensors, so its flag is read too."""
    result = getattr(getattr(torch.ops, namespace), name)(*args)
    if _enabled and not torch.compiler.is_compiling():
        like = result if isinstance(result, Tensor) else next(t for t in result if isinstance(t, Tensor))
        if namespace == "rdm_simt" or like.is_cuda:
            message = getattr(torch.ops, namespace)._device_errors(like, name)
            if message:
                raise RuntimeError(message)
    return result
