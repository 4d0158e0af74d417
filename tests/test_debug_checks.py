"""The device error flag and rdm.debug_checks, under the SIMT emulation: a kernel reports a
bad index (rdm_simt::_device_error_probe), the flag keeps it, debug mode reads, clears and
raises it after the op; with debug mode off nothing is read."""
import os
import re
import subprocess
import sys

import pytest
import torch

import rdm
from rdm import _debug

pytestmark = pytest.mark.skipif(not rdm.HAS_SIMT, reason="needs rdm built with the SIMT emulation")

TABLE = torch.arange(10.0, 15.0)  # table[i] = 10 + i, size 5
PROBE_MESSAGE = "rdm._device_error_probe: indices must lie in [0, table.shape[0]), got {value} at index {index}"


def probe(indices, code=1):
    return torch.ops.rdm_simt._device_error_probe(TABLE, torch.tensor(indices), code)


def read_flag(name="_device_error_probe"):
    """Reads and clears the emulated device's flag ("" when no error was reported)."""
    return torch.ops.rdm_simt._device_errors(TABLE, name)


@pytest.fixture(autouse=True)
def clean_flag_and_mode():
    read_flag()
    with rdm.debug_checks(False):
        yield
    read_flag()


def test_kernel_gathers_in_range_indices_and_reports_the_bad_one():
    out = probe([4, 0, 7, 2])
    torch.testing.assert_close(out, torch.tensor([14.0, 10.0, 0.0, 12.0]))  # the bad index reads nothing
    assert read_flag() == PROBE_MESSAGE.format(value=7, index=2) + " (error 1, reported by a kernel on cpu)"


def test_flag_is_cleared_by_reading_and_keeps_the_first_report():
    probe([1, -3])
    probe([9, 1])  # a later launch: the first report stays
    assert read_flag().startswith(PROBE_MESSAGE.format(value=-3, index=1))
    assert read_flag() == ""
    probe([0, 1, 2])
    assert read_flag() == ""


def test_one_of_several_bad_values_is_kept_whole():
    bad = {3: 5, 70: -1, 100: 99}  # index: value, in three blocks of 64 threads
    indices = [i % 5 for i in range(128)]
    for index, value in bad.items():
        indices[index] = value
    probe(indices)
    message = read_flag()
    assert any(message.startswith(PROBE_MESSAGE.format(value=v, index=i)) for i, v in bad.items()), message


def test_strided_indices():
    indices = torch.tensor([[1, 8], [2, 8], [6, 8]])[:, 0]  # stride 2: 1, 2, 6
    out = torch.ops.rdm_simt._device_error_probe(TABLE, indices, 1)
    torch.testing.assert_close(out, torch.tensor([11.0, 12.0, 0.0]))
    assert read_flag().startswith(PROBE_MESSAGE.format(value=6, index=2))


@pytest.mark.parametrize("code, argument", [(1, "indices"), (2, "cu_seqlens"), (3, "offsets"), (4, "topk_ids"),
                                            (5, "row_id")])
def test_every_error_code_names_its_argument(code, argument):
    probe([0, 5], code)
    assert read_flag("some_op").startswith(f"rdm.some_op: {argument} must ")


def test_debug_mode_raises_after_the_op_and_clears_the_flag():
    table, indices = TABLE, torch.tensor([0, 1, 5])
    with rdm.debug_checks(True):
        with pytest.raises(RuntimeError, match=re.escape(PROBE_MESSAGE.format(value=5, index=2))):
            _debug.checked("rdm_simt", "_device_error_probe", table, indices, 1)
        out = _debug.checked("rdm_simt", "_device_error_probe", table, torch.tensor([3, 4]), 1)
    torch.testing.assert_close(out, torch.tensor([13.0, 14.0]))
    assert read_flag() == ""


def test_without_debug_mode_the_flag_is_not_read():
    out = _debug.checked("rdm_simt", "_device_error_probe", TABLE, torch.tensor([2, 11]), 1)
    torch.testing.assert_close(out, torch.tensor([12.0, 0.0]))
    # Still there: nothing read it (on CUDA, nothing synchronized).
    assert read_flag().startswith(PROBE_MESSAGE.format(value=11, index=1))


def test_an_unread_error_is_raised_after_the_next_op_once_debug_mode_is_on():
    probe([-1])
    with rdm.debug_checks(True), pytest.raises(RuntimeError, match="got -1 at index 0"):
        _debug.checked("rdm_simt", "_device_error_probe", TABLE, torch.tensor([0]), 1)


def test_debug_checks_is_a_switch_and_a_context_manager():
    assert not _debug.enabled()
    with rdm.debug_checks(True):
        assert _debug.enabled()
        with rdm.debug_checks(False):
            assert not _debug.enabled()
        assert _debug.enabled()
    assert not _debug.enabled()
    rdm.debug_checks(True)
    try:
        assert _debug.enabled()
    finally:
        rdm.debug_checks(False)
    assert not _debug.enabled()


@pytest.mark.parametrize("value, expected", [("1", True), ("0", False), ("", False)])
def test_environment_variable(value, expected):
    env = {**os.environ, "RDM_DEBUG_CHECKS": value}
    result = subprocess.run([sys.executable, "-c", "import rdm, rdm._debug; print(rdm._debug.enabled())"],
                            env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == str(expected)


def test_cpu_path_under_debug_mode_keeps_its_own_checks():
    # The reference path validates values up front and has no flag to read.
    x, w = torch.randn(6, 4), torch.randn(2, 4, 3)
    with rdm.debug_checks(True):
        out = rdm.ops.grouped_gemm(x, w, torch.tensor([2, 6], dtype=torch.int32))
        torch.testing.assert_close(out[2:], x[2:] @ w[1])
        with pytest.raises(RuntimeError, match="offsets must be non-decreasing"):
            rdm.ops.grouped_gemm(x, w, torch.tensor([4, 2], dtype=torch.int32))


@pytest.mark.compile
def test_debug_mode_adds_nothing_to_a_compiled_graph():
    x, w, offsets = torch.randn(6, 4), torch.randn(2, 4, 3), torch.tensor([2, 6], dtype=torch.int32)

    def layer(x):
        return rdm.ops.grouped_gemm(x, w, offsets) * 2

    with rdm.debug_checks(True):
        torch.testing.assert_close(torch.compile(layer, fullgraph=True)(x), layer(x))


def test_emulated_ops_leave_value_checks_to_their_kernels_as_on_cuda():
    x, w, bad_offsets = torch.randn(6, 4), torch.randn(2, 4, 3), torch.tensor([4, 2], dtype=torch.int32)
    with pytest.raises(RuntimeError, match="offsets must be non-decreasing"):
        torch.ops.rdm._grouped_gemm_check(x, w, bad_offsets)
    torch.ops.rdm_simt._grouped_gemm_check(x, w, bad_offsets)  # the CUDA path's check: shapes and dtypes only
    with pytest.raises(RuntimeError, match="offsets must have shape"):
        torch.ops.rdm_simt._grouped_gemm_check(x, w, bad_offsets[:1])
