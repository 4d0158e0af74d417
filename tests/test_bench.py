"""Fast tests of the rdm-bench harness, on the CPU.

A fake op built from plain torch functions stands in for the rdm kernels, so these
tests exercise the harness logic (checking, timing, reporting, CLI), not the kernels.
"""
import dataclasses
import json
import sys
import types

import pytest
import torch


from rdm.bench import cases as registry
from rdm.bench import cli, harness, roofline
from rdm.bench.harness import FWD, FWD_BWD, Case, CaseInputs, RunConfig
from rdm.bench.roofline import Cost


# ----------------------------------------------------------------------------- a fake op: y = 2x + 1


def scale_shift(x):
    return 2 * x + 1


def scale_shift_naive(x):
    return x + x + 1


def scale_shift_wrong(x):
    return 2 * x + 1.5


def scale_shift_wrong_gradient(x):
    return 2 * x.detach() + 1 + 0 * x  # right values, zero gradient


def scale_shift_raises(x):
    raise RuntimeError("kernel exploded")


def make_fake_inputs(device, dtype, requires_grad):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 8, generator=generator).to(device=device, dtype=dtype).requires_grad_(requires_grad)
    grad_outputs = (torch.randn(4, 8, generator=generator).to(device),) if requires_grad else ()
    return CaseInputs((x,), grad_outputs)


def fake_case(naive=scale_shift_naive, mode=FWD, label="fake 4x8"):
    return Case(
        op="scale_shift",
        label=label,
        shape="4x8",
        mode=mode,
        make_inputs=make_fake_inputs,
        cost=lambda dtype: Cost(bytes_moved=2 * 32 * torch.finfo(dtype).bits // 8, flops=64),
        kernel=scale_shift,
        reference=scale_shift,
        naive=naive,
    )


CPU_FP32 = RunConfig(torch.device("cpu"), (torch.float32,), compile=False, simt=False, repeats=3, warmup=1)


def results_by_impl(case, config=CPU_FP32, dtype=torch.float32, gpu=None):
    return {row.impl: row for row in harness.run_case(case, dtype, config, gpu)}


# ----------------------------------------------------------------------------- roofline

H100 = roofline.detect_gpu("NVIDIA H100 80GB HBM3")


@pytest.mark.parametrize("device_name, expected", [
    ("NVIDIA H100 80GB HBM3", "H100 SXM"),
    ("NVIDIA H100 PCIe", "H100 PCIe"),
    ("NVIDIA H100 NVL", "H100 NVL"),
    ("NVIDIA H200", "H200"),
    ("NVIDIA A100-SXM4-80GB", "A100 80GB SXM"),
    ("NVIDIA A100 80GB PCIe", "A100 80GB PCIe"),
    ("NVIDIA A100-SXM4-40GB", "A100 40GB"),
    ("NVIDIA GeForce RTX 4090", "RTX 4090"),
])
def test_detect_gpu_matches_reported_names(device_name, expected):
    assert roofline.detect_gpu(device_name).name == expected


def test_unknown_gpu_has_no_peaks():
    assert roofline.detect_gpu("Tesla T4") is None


def test_floor_is_the_slower_of_memory_and_compute():
    memory_bound = Cost(bytes_moved=int(3.35e12), flops=int(989e12) // 2)
    assert roofline.floor_seconds(H100, memory_bound, torch.bfloat16) == pytest.approx(1.0)
    compute_bound = Cost(bytes_moved=int(3.35e12) // 2, flops=int(989e12))
    assert roofline.floor_seconds(H100, compute_bound, torch.bfloat16) == pytest.approx(1.0)


def test_fp32_floor_uses_cuda_cores_unless_tf32_is_enabled():
    work = Cost(bytes_moved=0, flops=int(67e12))
    assert roofline.floor_seconds(H100, work, torch.float32) == pytest.approx(1.0)
    assert roofline.floor_seconds(H100, work, torch.float32, allow_tf32=True) == pytest.approx(67 / 495)


def test_costs_add():
    assert Cost(10, 1) + Cost(5, 2) == Cost(15, 3)


# ----------------------------------------------------------------------------- checking and timing


def test_passing_implementations_are_timed_with_rates():
    rows = results_by_impl(fake_case())
    assert set(rows) == {"reference", "naive"}  # the kernel has no row of its own on the CPU
    for row in rows.values():
        assert row.status == "ok" and not row.failed
        assert len(row.timing.samples_ms) == 3
        assert row.timing.min_ms <= row.timing.median_ms <= row.timing.max_ms
        assert row.gb_per_s == pytest.approx(row.bytes_moved / (row.timing.median_ms * 1e-3) / 1e9)
        assert row.floor_ms is None and row.fraction_of_floor is None  # no GPU, no floor
    assert rows["reference"].speedup_vs_reference == pytest.approx(1.0)


def test_floor_fraction_is_reported_for_a_known_gpu():
    row = results_by_impl(fake_case(), gpu=H100)["naive"]
    assert (row.bytes_moved, row.flops) == (2 * 32 * 4, 64)
    expected_floor_ms = roofline.floor_seconds(H100, Cost(row.bytes_moved, row.flops), torch.float32) * 1e3
    assert row.floor_ms == pytest.approx(expected_floor_ms)
    assert row.fraction_of_floor == pytest.approx(row.floor_ms / row.timing.median_ms)


def test_mismatch_is_reported_and_not_timed():
    calls = []

    def counted_wrong(x):
        calls.append(1)
        return scale_shift_wrong(x)

    row = results_by_impl(fake_case(naive=counted_wrong))["naive"]
    assert row.status == "mismatch" and row.failed
    assert row.timing is None and row.gb_per_s is None
    assert "out0" in row.detail and row.max_abs_error["out0"] == pytest.approx(0.5)
    assert len(calls) == 1  # the correctness run only


def test_gradients_are_checked_in_fwd_bwd_cases():
    rows = results_by_impl(fake_case(naive=scale_shift_wrong_gradient, mode=FWD_BWD))
    assert rows["reference"].status == "ok"
    assert rows["naive"].status == "mismatch"
    assert "grad(arg0)" in rows["naive"].detail


def test_mismatch_reports_use_output_and_argument_names():
    case = dataclasses.replace(
        fake_case(naive=scale_shift_wrong_gradient, mode=FWD_BWD), output_names=("y",), arg_names=("x",)
    )
    row = results_by_impl(case)["naive"]
    assert set(row.max_abs_error) == {"y", "grad(x)"}
    assert row.detail.startswith("grad(x):")


def test_an_implementation_that_raises_is_an_error_row():
    row = results_by_impl(fake_case(naive=scale_shift_raises))["naive"]
    assert row.status == "error" and row.timing is None
    assert "RuntimeError: kernel exploded" in row.detail


def test_every_row_is_an_error_when_the_oracle_cannot_run():
    rows = results_by_impl(dataclasses.replace(fake_case(), reference=scale_shift_raises))
    assert set(rows) == {"reference", "naive"}
    for row in rows.values():
        assert row.status == "error" and row.timing is None
        assert row.detail.startswith("reference in torch.float64 failed: RuntimeError")


def test_nan_output_is_a_mismatch():
    row = results_by_impl(fake_case(naive=lambda x: torch.full_like(x, float("nan"))))["naive"]
    assert row.status == "mismatch" and row.max_abs_error["out0"] is None


def test_compiled_and_simt_rows_are_planned_only_when_asked():
    case = fake_case()
    simt_case = dataclasses.replace(case, simt=scale_shift)
    plain = [impl.name for impl in harness.plan_implementations(simt_case, torch.float32, CPU_FP32)]
    assert plain == ["reference", "naive"]
    asked = RunConfig(torch.device("cpu"), (torch.float32,), compile=True, simt=True, repeats=3, warmup=1)
    names = [impl.name for impl in harness.plan_implementations(simt_case, torch.float32, asked)]
    assert names == ["rdm_simt", "reference", "reference+compile", "naive", "naive+compile"]


def test_peers_appear_only_when_available_and_supported():
    available = harness.Peer("peer_ok", scale_shift, available=harness.importable("json"), devices=("cpu",))
    missing = harness.Peer(
        "peer_missing", scale_shift, available=harness.importable("no_such_library_xyz"), devices=("cpu",)
    )
    bf16_only = harness.Peer("peer_bf16", scale_shift, available=lambda: True, dtypes=(torch.bfloat16,), devices=("cpu",))
    cuda_only = harness.Peer("peer_cuda", scale_shift, available=lambda: True)
    case = dataclasses.replace(fake_case(), peers=(available, missing, bf16_only, cuda_only))
    names = [impl.name for impl in harness.plan_implementations(case, torch.float32, CPU_FP32)]
    assert names == ["reference", "naive", "peer_ok"]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_rows_are_checked_and_timed_with_events():
    config = RunConfig(torch.device("cuda"), (torch.bfloat16,), compile=False, simt=False, repeats=3, warmup=1)
    gpu = roofline.detect_gpu(torch.cuda.get_device_name())
    rows = results_by_impl(fake_case(), config=config, dtype=torch.bfloat16, gpu=gpu)
    assert set(rows) == {"rdm", "reference", "naive"}
    for row in rows.values():
        assert row.status == "ok", row.detail
        assert len(row.timing.samples_ms) == 3 and row.timing.median_ms > 0
        assert (row.fraction_of_floor is None) == (gpu is None)


# ----------------------------------------------------------------------------- reporting


def test_table_has_a_line_per_row_and_lists_failures():
    results = harness.run_case(fake_case(naive=scale_shift_wrong), torch.float32, CPU_FP32, None)
    table = harness.format_table(results, note="a note")
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["op", "case", "pass"]
    assert sum(line.startswith("scale_shift") for line in lines) == len(results)
    assert "MISMATCH" in table and "1 failed (not timed):" in table and "a note" in table


def test_json_has_environment_config_and_every_figure(tmp_path):
    results = harness.run_case(fake_case(naive=scale_shift_wrong), torch.float32, CPU_FP32, None)
    path = tmp_path / "results.json"
    harness.write_json(path, CPU_FP32, results)
    payload = json.loads(path.read_text())
    environment = payload["environment"]
    for key in ("device_name", "torch", "cuda", "python", "git_commit", "date_utc"):
        assert key in environment
    assert payload["config"]["dtypes"] == ["fp32"] and payload["config"]["repeats"] == 3
    rows = {row["impl"]: row for row in payload["results"]}
    assert rows["reference"]["status"] == "ok" and len(rows["reference"]["timing"]["samples_ms"]) == 3
    assert rows["naive"]["status"] == "mismatch" and rows["naive"]["timing"] is None


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def fake_registry(monkeypatch):
    """Registers op 'fake' (passing) and 'fake_broken' (its naive is wrong)."""
    for name, naive in (("fake", scale_shift_naive), ("fake_broken", scale_shift_wrong)):
        module = types.ModuleType(f"rdm_bench_test_{name}")
        module.cases = lambda size, naive=naive: [fake_case(naive=naive, label=f"{size} case")]
        monkeypatch.setitem(sys.modules, module.__name__, module)
        monkeypatch.setitem(registry.CASE_MODULES, name, module.__name__)


def test_cli_list_filters_by_op(fake_registry, capsys):
    assert cli.main(["--list", "--ops", "fake", "--device", "cpu", "--dtype", "fp32"]) == 0
    listing = capsys.readouterr().out
    assert "scale_shift" in listing and "small case" in listing and "reference, naive" in listing
    assert "act_accumulate" not in listing


def test_cli_lists_act_cases_without_running_them(capsys):
    assert cli.main(["--list", "--ops", "act", "--device", "cpu", "--simt"]) == 0
    listing = capsys.readouterr().out
    assert "1B b1x512" in listing and "tiny D64 b2x8" in listing and "rdm_simt" in listing


def test_cli_lists_a_gpu_plan_without_a_gpu(capsys):
    assert cli.main(["--list", "--ops", "act", "--device", "cuda", "--dtype", "bf16"]) == 0
    listing = capsys.readouterr().out
    assert "1B b8x2048" in listing  # full sizes by default on cuda
    assert "rdm, reference, reference+compile, naive, naive+compile" in listing


def test_cli_rejects_unknown_op_and_dtype():
    with pytest.raises(SystemExit) as unknown_op:
        cli.main(["--list", "--ops", "nope", "--device", "cpu"])
    assert unknown_op.value.code == 2
    with pytest.raises(SystemExit) as unknown_dtype:
        cli.main(["--list", "--dtype", "fp8", "--device", "cpu"])
    assert unknown_dtype.value.code == 2


def test_cli_run_writes_json_and_exits_nonzero_on_failure(fake_registry, tmp_path, capsys):
    passing = tmp_path / "passing.json"
    assert cli.main(["--ops", "fake", "--device", "cpu", "--repeats", "2", "--out", str(passing)]) == 0
    assert len(json.loads(passing.read_text())["results"]) == 4  # 2 impls x 2 dtypes
    failing = tmp_path / "failing.json"
    assert cli.main(["--ops", "fake,fake_broken", "--device", "cpu", "--repeats", "2", "--out", str(failing)]) == 1
    captured = capsys.readouterr()
    assert "MISMATCH" in captured.out
    assert "[1/4] scale_shift" in captured.err  # progress goes to stderr


# ----------------------------------------------------------------------------- the ACT cases


def test_act_inputs_keep_clear_of_the_halting_threshold():
    from rdm.bench.cases import act

    case = registry.load_cases("act", "small")[0]
    h, halt_weight, halt_bias, _h_acc, cum_p, threshold, _is_last = case.make_inputs(
        torch.device("cpu"), torch.bfloat16, False
    ).args
    p = torch.sigmoid(h.double() @ halt_weight.double() + halt_bias.double())
    running = cum_p < threshold
    assert running.any() and (~running).any()
    assert ((cum_p.double() + p)[running] - threshold).abs().min() >= act.DECISION_MARGIN


def test_act_naive_matches_the_reference():
    case = next(c for c in registry.load_cases("act", "tiny") if c.mode == FWD_BWD)
    rows = results_by_impl(case)
    assert rows["reference"].status == "ok", rows["reference"].detail
    assert rows["naive"].status == "ok", rows["naive"].detail


# ----------------------------------------------------------------------------- --simt: counters and estimates


def fake_counters(bytes_ratio, flop_ratio=None, compulsory=1000):
    from rdm.bench.counters import SimtCounters

    return SimtCounters(
        kernels=("k",), launches=1, compulsory_bytes=compulsory, global_bytes=int(compulsory * bytes_ratio),
        global_unique_bytes=int(compulsory * bytes_ratio), sector_efficiency=1.0, coalescing=1.0, bank_conflicts=0,
        bank_conflict_rate=0.0, tensor_flops_executed=0, tensor_flops_useful=None, barriers=0, cp_async_bytes=0,
        bytes_ratio=bytes_ratio, requested_ratio=bytes_ratio, flop_ratio=flop_ratio, totals={},
    )


def test_simt_rows_carry_counters_and_json_has_estimates(tmp_path):
    pytest.importorskip("rdm.simt")
    case = dataclasses.replace(fake_case(), simt=scale_shift)  # a stand-in that launches no kernel
    config = dataclasses.replace(CPU_FP32, simt=True)
    rows = results_by_impl(case, config=config)
    counters = rows["rdm_simt"].simt_counters
    assert counters is not None and counters.launches == 0 and counters.compulsory_bytes == 2 * 32 * 4
    assert rows["reference"].simt_counters is None
    path = tmp_path / "simt.json"
    harness.write_json(path, config, list(rows.values()), [{"op": "scale_shift"}])
    payload = json.loads(path.read_text())
    assert payload["simt_estimates"] == [{"op": "scale_shift"}]
    assert payload["results"][0]["simt_counters"]["compulsory_bytes"] == 256


def test_estimate_scales_compulsory_bytes_by_the_emulated_ratio():
    from rdm.bench import counters

    memory_bound = Cost(bytes_moved=int(3.35e12), flops=0)
    assert counters.estimate_seconds(H100, memory_bound, fake_counters(1.25), torch.bfloat16) == pytest.approx(1.25)
    compute_bound = Cost(bytes_moved=0, flops=int(989e12))
    assert counters.estimate_seconds(H100, compute_bound, fake_counters(1.0, flop_ratio=2.0), torch.bfloat16) == (
        pytest.approx(2.0)
    )
    nothing_counted = dataclasses.replace(fake_counters(1.0), global_unique_bytes=0)
    assert counters.estimate_seconds(H100, memory_bound, nothing_counted, torch.bfloat16) is None


def test_estimates_use_the_worst_emulated_case_for_every_full_case():
    from rdm.bench import counters

    def row(label, ratio):
        result = harness.Result("scale_shift", label, FWD, "rdm_simt", "fp32", "4x8", "ok", "", {}, 256, 64, None)
        result.simt_counters = fake_counters(ratio)
        return result

    full = [fake_case(label="full a"), fake_case(label="full b"), fake_case(mode=FWD_BWD, label="other pass")]
    rows = counters.estimates([row("tiny 1", 1.1), row("tiny 2", 1.5)], full)
    assert {(r["case"], r["gpu"]) for r in rows} == {(c, g) for c in ("full a", "full b") for g in ("H100 SXM", "H200")}
    for r in rows:
        assert r["bytes_ratio"] == 1.5 and r["emulated_cases"] == ["tiny 1", "tiny 2"]
        assert r["estimate_ms"] == pytest.approx(1.5 * r["floor_ms"])
    report = cli.simt_report([row("tiny 1", 1.1)], rows)
    assert "bytes/compulsory" in report and "1.100" in report and "H200" in report


def test_cli_simt_prints_counters_and_estimates(tmp_path, capsys):
    pytest.importorskip("rdm.simt")
    out = tmp_path / "simt.json"
    argv = ["--ops", "act", "--device", "cpu", "--simt", "--sizes", "tiny", "--dtype", "fp32", "--repeats", "1",
            "--warmup", "0", "--out", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "emulated kernels" in printed and "act_forward_kernel" in printed and "roofline estimate" in printed
    payload = json.loads(out.read_text())
    simt_rows = [row for row in payload["results"] if row["impl"] == "rdm_simt"]
    assert simt_rows and all(row["simt_counters"]["launches"] >= 1 for row in simt_rows)
    assert {row["case"] for row in payload["simt_estimates"]} >= {"1B b8x2048"}
