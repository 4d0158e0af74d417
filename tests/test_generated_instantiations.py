"""The committed kernel instantiation files are exactly what scripts/generate_instantiations.py
makes from csrc/kernels/instantiations.json, and the generator turns one new axis value
into one new file (no build, no torch)."""
import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "generate_instantiations.py"


def _generator():
    spec = importlib.util.spec_from_file_location("generate_instantiations", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gen = _generator()
SPEC = json.loads(gen.LIST.read_text())


def test_committed_files_match_the_list():
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_list_names_every_act_variant():
    result = subprocess.run([sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True, check=True)
    listed = [path for path in result.stdout.split() if path.startswith("csrc/kernels/act/")]
    variants = [(d, t) for d in ("forward", "backward") for t in ("f32", "f16", "bf16")]
    assert listed == [f"csrc/kernels/act/act_{d}_{t}.cu" for d, t in variants]
    text = (ROOT / "csrc/kernels/act/act_backward_bf16.cu").read_text()
    assert '#include "act_kernel.h"' in text and "RDM_ACT_INSTANTIATE(backward, kBFloat16, __nv_bfloat16)" in text


def test_one_new_axis_value_is_one_new_file():
    spec = copy.deepcopy(SPEC)
    spec["dtypes"]["f8"] = {"kind": "kFloat8", "type": "__nv_fp8_e4m3"}
    spec["families"]["act"]["axes"]["dtype"].append("f8")
    spec["families"]["demo"] = {
        "header": "csrc/kernels/demo/demo.h",
        "file": "csrc/kernels/demo/demo_hdim{head_dim}_{dtype}_{causal}.cu",
        "instantiate": "RDM_DEMO({head_dim}, {dtype.type}, {causal})",
        "axes": {"head_dim": [64, 128], "dtype": ["bf16"], "causal": ["true", "false"]},
    }
    before, after = gen.expected_files(SPEC), gen.expected_files(spec)
    added = {path: text for path, text in after.items() if path not in before}
    assert sorted(added) == sorted([
        "csrc/kernels/act/act_forward_f8.cu", "csrc/kernels/act/act_backward_f8.cu",
        *(f"csrc/kernels/demo/demo_hdim{d}_bf16_{c}.cu" for d in (64, 128) for c in ("true", "false")),
    ])
    assert added["csrc/kernels/act/act_forward_f8.cu"].endswith("\nRDM_ACT_INSTANTIATE(forward, kFloat8, __nv_fp8_e4m3)\n")
    assert "RDM_DEMO(128, __nv_bfloat16, false)" in added["csrc/kernels/demo/demo_hdim128_bf16_false.cu"]
    assert all(before[path] == after[path] for path in before)


def test_stale_and_unlisted_files_are_reported():
    spec = copy.deepcopy(SPEC)
    spec["families"]["act"]["instantiate"] += " // changed"
    spec["families"]["act"]["axes"]["dtype"].remove("f16")
    problems = gen.differences(gen.expected_files(spec))
    assert "out of date: csrc/kernels/act/act_forward_f32.cu" in problems
    assert "no longer in the list: csrc/kernels/act/act_backward_f16.cu" in problems


@pytest.mark.parametrize("change, message", [
    (lambda s: s["families"]["act"]["axes"]["dtype"].append("f64"), "unknown dtype"),
    (lambda s: s["families"]["act"].update(file="csrc/kernels/act/act_{dtype}.cu"), "must use every axis"),
    (lambda s: s["families"]["act"].update(instantiate="X({head_dim})"), "placeholder 'head_dim' is not an axis"),
])
def test_bad_lists_are_clear_errors(change, message):
    spec = copy.deepcopy(SPEC)
    change(spec)
    with pytest.raises(SystemExit, match=message):
        gen.expected_files(spec)
