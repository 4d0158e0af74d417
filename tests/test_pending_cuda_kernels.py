"""csrc/registration/pending_cuda_kernels.txt against the Python registrations: every op it
lists exists and runs its reference on CUDA tensors once rdm is imported.

(scripts/check_cuda_registrations.py checks the other side on a CUDA build: that every op
not listed has a C++ CUDA kernel.)"""
import os

import pytest
import torch

import rdm  # noqa: F401  (registers the reference kernels)

PENDING = os.path.join(os.path.dirname(__file__), "..", "csrc", "registration", "pending_cuda_kernels.txt")


def pending_ops():
    with open(PENDING) as f:
        return sorted({line.split("#")[0].strip() for line in f} - {""})


@pytest.mark.parametrize("name", pending_ops())
def test_pending_op_exists_and_has_a_cuda_kernel_in_python(name):
    assert name in torch._C._dispatch_get_all_op_names(), f"{name} is not a declared op"
    assert torch._C._dispatch_has_kernel_for_dispatch_key(name, "CUDA"), f"{name} has no (reference) CUDA kernel"
