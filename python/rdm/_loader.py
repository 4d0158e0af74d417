"""Loads the compiled op libraries that sit next to this file.

`_C.so` declares every op of the `rdm` library (and holds its CUDA kernels when built
with CUDA); `_simt.so`, when built, declares the `rdm_simt` library: the same CUDA
kernels emulated on the CPU.
"""
import os

import torch

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name):
    path = os.path.join(_HERE, name)
    if not os.path.exists(path):
        return False
    torch.ops.load_library(path)
    return True


if not _load("_C.so"):
    raise ImportError(
        f"rdm: the compiled library _C.so is missing from {_HERE}. Install the package with "
        "`pip install --no-build-isolation .` instead of importing it from the source tree."
    )
HAS_SIMT = _load("_simt.so")

