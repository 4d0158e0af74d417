"""Print what CMake needs to know about the torch of the target interpreter, one fact per line.

1. torch.utils.cmake_prefix_path  2. torch.version.cuda ("" for a CPU build)
3. torch.__version__  4. comma-separated include dirs of the CUDA math libraries that
ship in the nvidia-* wheels (ATen/cuda/CUDAContext.h needs cublas_v2.h and friends,
which the toolkit on a build machine may lack).
"""
import glob
import os

import torch
import torch.utils

HEADERS_NEEDED_BY_ATEN_CUDA = ("cublas_v2.h", "cusparse.h", "cusolverDn.h")


def nvidia_wheel_include_dirs():
    try:
        import nvidia  # namespace package of the nvidia-* wheels
    except ImportError:
        return []
    dirs = []
    for base in nvidia.__path__:
        for inc in sorted(glob.glob(os.path.join(base, "**", "include"), recursive=True)):
            if any(os.path.exists(os.path.join(inc, h)) for h in HEADERS_NEEDED_BY_ATEN_CUDA):
                dirs.append(inc)
    return dirs


print(torch.utils.cmake_prefix_path)
print(torch.version.cuda or "")
print(torch.__version__)
print(",".join(nvidia_wheel_include_dirs()))
print("end")  # sentinel: keeps empty fields above from being stripped by CMake
