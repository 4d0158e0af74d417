"""The tensor-core probe: cp.async, ldmatrix (x1/x2/x4, plain and .trans) and mma.sync
m16n8k16 in one warp. Emulated, it checks the emulation against the PTX ISA layouts; on a
GPU, the real instructions against the same reference and against the emulation."""
import pytest
import torch

import rdm

needs_simt = pytest.mark.skipif(not rdm.HAS_SIMT, reason="rdm was built without the SIMT emulation")
DTYPES = [torch.float16, torch.bfloat16]


def probe_inputs(dtype, b_k_major, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(16, 16, generator=g).to(dtype)
    b = torch.randn(16, 8, generator=g).to(dtype)  # (k, n)
    return a, b if b_k_major else b.t().contiguous()


def expected(a, b, b_k_major):
    b_kn = b if b_k_major else b.t()
    tile = a[:8, 8:16]
    return a.double() @ b_kn.double(), torch.stack([tile, tile.t()])


def check(out, tile, a, b, b_k_major):
    want_out, want_tile = expected(a, b, b_k_major)
    assert out.dtype == torch.float32 and tile.dtype == a.dtype
    torch.testing.assert_close(out.double().cpu(), want_out, rtol=1e-5, atol=1e-4)
    assert torch.equal(tile.cpu(), want_tile), "ldmatrix x1 / x1.trans copies must be exact"


@needs_simt
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("b_k_major", [True, False])
def test_emulated_probe_matches_matmul(dtype, b_k_major, poison_empty):
    a, b = probe_inputs(dtype, b_k_major)
    check(*torch.ops.rdm_simt._tensor_core_probe(a, b, b_k_major), a, b, b_k_major)


@needs_simt
def test_probe_rejects_bad_inputs():
    a, b = probe_inputs(torch.float16, True)
    with pytest.raises(RuntimeError, match="a must be float16 or bfloat16"):
        torch.ops.rdm_simt._tensor_core_probe(a.float(), b.float(), True)
    with pytest.raises(RuntimeError, match=r"b must have shape \[8, 16\]"):
        torch.ops.rdm_simt._tensor_core_probe(a, b, False)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("b_k_major", [True, False])
def test_gpu_probe_matches_matmul_and_emulation(dtype, b_k_major):
    a, b = probe_inputs(dtype, b_k_major, seed=1)
    out, tile = torch.ops.rdm._tensor_core_probe(a.cuda(), b.cuda(), b_k_major)
    check(out, tile, a, b, b_k_major)
    if rdm.HAS_SIMT:
        twin_out, twin_tile = torch.ops.rdm_simt._tensor_core_probe(a, b, b_k_major)
        torch.testing.assert_close(out.cpu(), twin_out, rtol=1e-6, atol=1e-5)
        assert torch.equal(tile.cpu(), twin_tile)
