"""Loads the compiled op libraries that sit next to this file.

`_C.so` declares every op of the `rdm` library (and holds its CUDA kernels when built
with CUDA); `_simt.so`, when built, declares the `rdm_simt` library: the same CUDA
kernels emulated on the CPU.

The libraries link against libtorch's C++ ABI, which changes between torch releases and
between its CPU and CUDA builds: loaded into another torch they fail with an undefined
symbol, or worse. So before loading them, the torch they were built against (recorded by
CMake in `_build_info.py`) is compared with the running one.
"""
import os

import torch

_HERE = os.path.dirname(os.path.abspath(__file__))
REBUILD = "pip install --no-build-isolation ."


def _describe(version, cuda):
    return f"torch {version} ({f'CUDA {cuda}' if cuda else 'CPU'})"


def check_built_against_running_torch(build_info):
    """Raise ImportError unless build_info's TORCH_VERSION and TORCH_CUDA are the running
    torch's __version__ (local tag included) and version.cuda."""
    built = (build_info.TORCH_VERSION, build_info.TORCH_CUDA or None)
    running = (torch.__version__, torch.version.cuda or None)
    if built != running:
        raise ImportError(
            f"rdm's compiled libraries in {_HERE} were built against {_describe(*built)}, but the running torch "
            f"is {_describe(*running)}; loading them could crash on an undefined symbol. Rebuild rdm against "
            f"this torch: in the rdm source tree, run `{REBUILD}` (an isolated `pip install .` builds against "
            "the torch that pip downloads for the build, not the one installed)."
        )


def _load(name):
    path = os.path.join(_HERE, name)
    if not os.path.exists(path):
        return False
    torch.ops.load_library(path)
    return True


if not os.path.exists(os.path.join(_HERE, "_C.so")):
    raise ImportError(
        f"rdm: the compiled library _C.so is missing from {_HERE}. Install the package with "
        f"`{REBUILD}` instead of importing it from the source tree."
    )
try:
    from . import _build_info
except ImportError as e:
    raise ImportError(f"rdm: _build_info.py is missing from {_HERE}; rebuild with `{REBUILD}`") from e
check_built_against_running_torch(_build_info)
_load("_C.so")
HAS_SIMT = _load("_simt.so")
