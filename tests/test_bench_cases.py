"""The rdm-bench case modules: every registered op builds its cases at every size, and on
tiny shapes every CPU implementation (rdm, reference, naive, CPU-capable peers) passes the
correctness gate against the float64 oracle."""
import dataclasses

import pytest
import torch

from rdm.bench import cases as registry
from rdm.bench import harness
from rdm.bench.harness import FWD, FWD_BWD, RunConfig

NEW_OPS = ("selective_scan", "gla", "attention", "moe")
CPU = torch.device("cpu")
QUICK = RunConfig(CPU, (torch.bfloat16, torch.float32), compile=False, simt=False, repeats=1, warmup=0)


@pytest.mark.parametrize("op", registry.op_names())
@pytest.mark.parametrize("size", registry.SIZES)
def test_every_registered_op_builds_its_cases(op, size):
    cases = registry.load_cases(op, size)
    assert cases
    assert len({(case.op, case.label, case.mode) for case in cases}) == len(cases), "duplicate cases"
    for case in cases:
        assert case.mode in (FWD, FWD_BWD)
        for dtype in (torch.bfloat16, torch.float32):
            cost = case.cost(dtype)
            assert cost.bytes_moved > 0 and cost.flops > 0, (case.label, cost)


@pytest.mark.parametrize("op", NEW_OPS)
def test_tiny_cases_pass_the_correctness_gate(op):
    for case in registry.load_cases(op, "tiny"):
        assert case.naive is not None, case.label
        for dtype in QUICK.dtypes:
            rows = harness.run_case(case, dtype, QUICK, gpu=None)
            assert {row.impl for row in rows} == {"rdm", "reference", "naive"}
            for row in rows:
                assert row.status == harness.OK, f"{case.label} | {case.mode} | {row.impl} | {row.dtype}: {row.detail}"


@pytest.mark.parametrize("op", NEW_OPS)
def test_peers_missing_here_are_left_out_of_a_gpu_plan(op):
    cuda = dataclasses.replace(QUICK, device=torch.device("cuda"))
    for case in registry.load_cases(op, "tiny"):
        planned = {impl.name for impl in harness.plan_implementations(case, torch.bfloat16, cuda)}
        for peer in case.peers:
            assert (peer.name in planned) == peer.available(), (case.label, peer.name)


def _on_cpu(case, peer_name):
    """`case` with only the named peer, moved to the CPU."""
    peer = next(peer for peer in case.peers if peer.name == peer_name)
    return dataclasses.replace(case, naive=None, peers=(dataclasses.replace(peer, devices=("cpu",)),))


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
def test_flex_attention_adapter_matches_the_oracle():
    # Eager flex_attention runs on the CPU (forward only): enough to check the mask and layouts.
    for case in registry.load_cases("attention", "tiny"):
        if case.mode == FWD:
            rows = harness.run_case(_on_cpu(case, "flex_attention"), torch.float32, QUICK, gpu=None)
            expected = [("rdm", "ok"), ("reference", "ok"), ("flex_attention", "ok")]
            assert [(row.impl, row.status) for row in rows] == expected, rows


@pytest.mark.skipif(not hasattr(torch, "_grouped_mm"), reason="this torch has no _grouped_mm")
def test_torch_grouped_mm_adapter_matches_the_oracle():
    for case in registry.load_cases("moe", "tiny"):
        if case.op == "grouped_gemm":
            rows = harness.run_case(_on_cpu(case, "torch._grouped_mm"), torch.bfloat16, QUICK, gpu=None)
            assert [(row.impl, row.status) for row in rows] == [
                ("rdm", "ok"), ("reference", "ok"), ("torch._grouped_mm", "ok")], rows


def test_attention_cost_counts_exactly_the_visible_pairs():
    from rdm.bench.cases import attention

    for num_queries, num_keys, window, num_global in [(20, 20, 8, 3), (5, 37, 16, 4), (1, 11, 8, 3), (9, 9, 4, 0)]:
        position = torch.arange(num_keys - num_queries, num_keys)[:, None]
        key = torch.arange(num_keys)[None, :]
        visible = (key <= position) & ((position - key < window) | (key < num_global))
        assert attention._visible_pairs(num_queries, num_keys, window, num_global) == int(visible.sum())

