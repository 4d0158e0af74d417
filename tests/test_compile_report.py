"""scripts/compile_report.py on canned ptxas / cuobjdump output (no CUDA toolkit needed):
parsing, occupancy, and the failures it must report (spills, lost vector or tensor-core
instructions, a kernel with no expectation row)."""
import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("compile_report", ROOT / "scripts" / "compile_report.py")
report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report)

PTXAS = """\
ptxas info    : Compiling entry function '_Z3vecPK6float4PS_' for 'sm_80'
ptxas info    : Function properties for _Z3vecPK6float4PS_
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 40 registers, used 1 barriers, 4096 bytes smem, 372 bytes cmem[0]
ptxas info    : Compiling entry function '_Z3vecPK6float4PS_' for 'sm_90a'
ptxas info    : Function properties for _Z3vecPK6float4PS_
    8 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
ptxas info    : Used 255 registers, used 1 barriers, 4096 bytes smem
"""

SASS = """\
\t\tFunction : _Z3vecPK6float4PS_
        /*0000*/                   LDC R1, c[0x0][0x28] ;                   /* 0x00000a00ff017b82 */
        /*00d0*/                   LDG.E.128 R4, [R2.64] ;                  /* 0x0000080402067981 */
        /*00e0*/               @P0 LDG.E R5, [R2.64+0x4] ;                  /* 0x0000040402057981 */
        /*00f0*/              @!P1 STG.E.128 [R8.64], R4 ;                  /* 0x0000000408007986 */
        /*0100*/                   HMMA.16816.F32.BF16 R8, R4, R2, RZ ;      /* 0x0000000408007986 */
        /*0110*/                   EXIT ;                                   /* 0x000000000000794d */
"""

ELF = """\
.nv.info._Z3vecPK6float4PS_
\t<0x12>
\tAttribute:\tEIATTR_MAX_THREADS
\tFormat:\tEIFMT_SVAL
\tValue:\t0x100 0x1 0x1 
"""


def test_parsers():
    ptxas = report.parse_ptxas(PTXAS.splitlines())
    assert ptxas[("_Z3vecPK6float4PS_", "sm_80")]["registers"] == 40
    assert ptxas[("_Z3vecPK6float4PS_", "sm_90a")]["spill_store_bytes"] == 8
    assert ptxas[("_Z3vecPK6float4PS_", "sm_80")]["shared_static_bytes"] == 4096
    mix = report.sass_mix(report.parse_sass(SASS)["_Z3vecPK6float4PS_"])
    assert (mix["LDG.128"], mix["LDG"], mix["STG.128"], mix["HMMA"], mix["total"]) == (1, 2, 1, 1, 6)
    assert report.parse_max_threads(ELF) == {"_Z3vecPK6float4PS_": 256}


@pytest.mark.parametrize("arch, regs, smem, threads, fraction, limiter", [
    ("sm_80", 32, 0, 256, 1.0, "warps"),            # 8 blocks of 8 warps fill the SM
    ("sm_80", 128, 0, 512, 0.25, "registers"),      # 128 regs x 512 threads = the whole register file
    ("sm_90a", 40, 0, 32, 0.5, "blocks"),           # 32 one-warp blocks: half the warp slots
    ("sm_80", 16, 48 * 1024, 128, 0.1875, "shared_memory"),  # 3 blocks of (48 + 1) KB in 164 KB
    ("sm_90a", 16, 48 * 1024, 128, 0.25, "shared_memory"),   # 4 blocks in 228 KB
])
def test_occupancy(arch, regs, smem, threads, fraction, limiter):
    occ = report.occupancy(arch, regs, smem, threads)
    assert (occ["fraction"], occ["limited_by"]) == (fraction, limiter)


def _entry(mix, spills=0):
    sass = {name: 0 for name in report.SASS_CLASSES}
    sass.update(mix)
    return {"kernel": "void rdm::act::forward_kernel<float, rdm::act::Tile<1, 4> >(rdm::act::ForwardParams)",
            "spill_store_bytes": spills, "spill_load_bytes": 0, "sass": sass}


RULES = json.loads((ROOT / "scripts" / "compile_expectations.json").read_text())["rules"]


def test_expectations_pass_and_fail():
    assert report.check(_entry({"LDG.128": 6, "STG.128": 2}), RULES) == []
    lost = report.check(_entry({"LDG.128": 0, "STG.128": 2}), RULES)
    assert len(lost) == 1 and lost[0].startswith("LDG.128: 0 in SASS, needs >= 1")
    assert report.check(_entry({"LDG.128": 6, "STG.128": 2}, spills=4), RULES)[0].startswith("spills 4 B")
    unknown = dict(_entry({}), kernel="void rdm::new_family_kernel()")
    assert "no row of the expectations table" in report.check(unknown, RULES)[0]


def test_probe_needs_tensor_cores():
    name = "void rdm::(anonymous namespace)::tensor_core_probe_kernel<true, false>(rdm::TensorCoreProbeParams)"
    probe = dict(_entry({"HMMA": 1, "LDSM": 3, "LDGSTS": 2}), kernel=name)
    assert report.check(probe, RULES) == []
    probe["sass"]["HMMA"] = 0
    assert report.check(probe, RULES)[0].startswith("HMMA: 0")


def test_report_flags_a_kernel_missing_from_the_binary():
    ptxas = report.parse_ptxas(PTXAS.splitlines())
    sass = {("_Z3vecPK6float4PS_", "sm_80"): Counter({"LDG.E.128": 1})}
    entries = report.build_report(ptxas, sass, {}, RULES)
    by_arch = {e["arch"]: e for e in entries}
    assert by_arch["sm_90a"]["problems"] == ["not found in the binary's SASS"]
    assert by_arch["sm_80"]["occupancy"]["why"] == "block size unknown"
