"""Shared plumbing for registering the Python side of an op in both op libraries."""
import torch

from .._loader import HAS_SIMT

# `rdm` always; `rdm_simt` (the emulated CUDA kernels) when it was built. Fakes and
# autograd are registered for both so that opcheck and gradients work on either.
NAMESPACES = ("rdm", "rdm_simt") if HAS_SIMT else ("rdm",)


def qualified(namespace: str, name: str) -> str:
    return f"{namespace}::{name}"


def op(namespace: str, name: str):
    return getattr(getattr(torch.ops, namespace), name).default
