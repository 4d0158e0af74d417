"""The bookkeeping of scripts/gpu_sync_check.py, on the CPU with the CUDA calls stubbed:
a run reaching a pending op is skipped, the others run again in "error" sync mode, and a
failure in that run is reported (the real check needs a GPU: scripts/gpu_check.sh smoke)."""
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

import rdm
from act_inputs import act_inputs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def sync_check(monkeypatch):
    spec = importlib.util.spec_from_file_location("gpu_sync_check", ROOT / "scripts" / "gpu_sync_check.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    modes = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", modes.append)
    return module, modes


def _act():
    args = act_inputs((2, 3), 40, torch.float32)
    return lambda: rdm.ops.act_accumulate(*args, 0.9, False)


def test_checked_run_records_the_ops_it_reached(sync_check):
    module, modes = sync_check
    results, reached = [], set()
    module.run_checked("act", _act, results, reached, pending=set())
    assert results[0]["status"] == "ok" and "rdm::act_accumulate" in results[0]["ops"]
    assert "rdm::act_accumulate" in reached and modes == ["error", "default"]


def test_run_reaching_a_pending_op_is_skipped(sync_check):
    module, modes = sync_check
    results, reached = [], set()
    module.run_checked("act", _act, results, reached, pending={"rdm::act_accumulate"})
    assert results[0]["status"] == "skipped" and not reached and modes == []


def test_failure_under_the_check_is_reported(sync_check):
    module, modes = sync_check
    calls = []

    def prepare():
        def run():
            calls.append(1)
            if len(calls) == 2:  # the checked run, as a sync would raise there
                raise RuntimeError("called a synchronizing CUDA operation")
        return run

    results, reached = [], set()
    module.run_checked("syncs", prepare, results, reached, pending=set())
    assert results[0]["status"] == "error" and "synchronizing" in results[0]["error"]
    assert modes == ["error", "default"] and not reached
