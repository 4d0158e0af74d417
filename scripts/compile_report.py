"""Per-kernel report of a CUDA build, checked against the expectations of each kernel family.

Usage: python compile_report.py --build-log LOG --binary _C.so --out JSON [--expectations JSON]

For every kernel and architecture in the binary it records what ptxas reported (registers,
static shared memory, stack, spill stores/loads; the build must use -Xptxas=-v), the block
size the kernel was compiled for (EIATTR_MAX_THREADS from __launch_bounds__, read with
`cuobjdump -elf`), the theoretical occupancy that follows, and the SASS instruction mix
(`cuobjdump -sass`). It fails on any spill, on a kernel that no expectation row covers, and
on a kernel whose SASS lacks an instruction its row requires (tensor-core or 128-bit
vector instructions lost to a refactor). The JSON is sorted, one kernel per line, without
timestamps or build paths, so a committed copy diffs cleanly.
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EXPECTATIONS = ROOT / "scripts" / "compile_expectations.json"

ENTRY = re.compile(r"Compiling entry function '(\S+)' for '(\S+)'")
FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
USAGE = re.compile(r"Used (\d+) registers(?:.*?(\d+) bytes smem)?")
SASS_FUNCTION = re.compile(r"^\s+Function : (\S+)")
SASS_INSTRUCTION = re.compile(r"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P[T0-9]+\s+)?([A-Z][A-Z0-9_.]*)")
ELF_INFO = re.compile(r"^\.nv\.info\.(\S+)")
MAX_THREADS = re.compile(r"Attribute:\s+EIATTR_MAX_THREADS")
VALUE = re.compile(r"Value:\s+((?:0x[0-9a-f]+\s*)+)")

# Per-SM limits of the occupancy calculator (CUDA C Programming Guide, compute capabilities
# 8.0 and 9.0). Shared memory: the largest carve-out, plus 1 KB the system reserves per block.
SM_LIMITS = {
    80: {"max_warps": 64, "max_blocks": 32, "registers": 65536, "reg_unit": 256, "shared": 167936,
         "shared_reserved_per_block": 1024, "shared_unit": 128},
    90: {"max_warps": 64, "max_blocks": 32, "registers": 65536, "reg_unit": 256, "shared": 233472,
         "shared_reserved_per_block": 1024, "shared_unit": 128},
}
SUB_PARTITIONS = 4  # registers are allocated per warp scheduler's quarter of the register file

# SASS classes the expectations can name: opcode (before the first dot) and an optional
# modifier that must be present (".128": a 16-byte access per thread).
SASS_CLASSES = {
    "HMMA": ("HMMA", None), "HGMMA": ("HGMMA", None), "LDSM": ("LDSM", None), "STSM": ("STSM", None),
    "LDGSTS": ("LDGSTS", None), "LDG": ("LDG", None), "LDG.128": ("LDG", "128"), "STG": ("STG", None),
    "STG.128": ("STG", "128"), "LDS": ("LDS", None), "STS": ("STS", None), "LDL": ("LDL", None),
    "STL": ("STL", None), "BAR": ("BAR", None), "SHFL": ("SHFL", None),
}


def parse_ptxas(lines) -> dict[tuple[str, str], dict]:
    """(mangled name, arch) -> ptxas resources, from a build log of `-Xptxas=-v` output."""
    kernels, current = {}, None
    for line in lines:
        if m := ENTRY.search(line):
            current = {"registers": 0, "shared_static_bytes": 0, "stack_bytes": 0, "spill_store_bytes": 0,
                       "spill_load_bytes": 0}
            kernels.setdefault((m.group(1), m.group(2)), current)  # a template in two files: same code
        elif current is not None and (m := FRAME.search(line)):
            current.update(stack_bytes=int(m.group(1)), spill_store_bytes=int(m.group(2)),
                           spill_load_bytes=int(m.group(3)))
        elif current is not None and (m := USAGE.search(line)):
            current.update(registers=int(m.group(1)), shared_static_bytes=int(m.group(2) or 0))
    return kernels


def parse_sass(text: str) -> dict[str, Counter]:
    """Mangled name -> opcode counts (full opcode with modifiers) from `cuobjdump -sass`."""
    functions, current = {}, None
    for line in text.splitlines():
        if m := SASS_FUNCTION.match(line):
            current = functions.setdefault(m.group(1), Counter())
        elif current is not None and (m := SASS_INSTRUCTION.search(line)):
            current[m.group(1)] += 1
    return functions


def parse_max_threads(text: str) -> dict[str, int]:
    """Mangled name -> threads per block it was compiled for, from `cuobjdump -elf`."""
    threads, current, pending = {}, None, False
    for line in text.splitlines():
        if m := ELF_INFO.match(line):
            current, pending = m.group(1), False
        elif current and MAX_THREADS.search(line):
            pending = True
        elif current and pending and (m := VALUE.search(line)):
            threads[current] = math.prod(int(v, 16) for v in m.group(1).split())
            pending = False
    return threads


def sass_mix(opcodes: Counter) -> dict[str, int]:
    mix = {name: 0 for name in SASS_CLASSES}
    for full, count in opcodes.items():
        op, *modifiers = full.split(".")
        for name, (want_op, want_mod) in SASS_CLASSES.items():
            if op == want_op and (want_mod is None or want_mod in modifiers):
                mix[name] += count
    mix["total"] = sum(opcodes.values())
    return mix


def occupancy(arch: str, registers: int, shared_bytes: int, threads: int | None) -> dict:
    """Theoretical occupancy (resident warps / max warps) and what limits it."""
    limits = SM_LIMITS.get(int(re.sub(r"\D", "", arch)) // 10 * 10)
    if limits is None or not threads:
        return {"fraction": None, "why": "unknown architecture" if limits is None else "block size unknown"}
    warps = math.ceil(threads / 32)
    bounds = {"warps": limits["max_warps"] // warps, "blocks": limits["max_blocks"]}
    if registers:
        per_warp = math.ceil(registers * 32 / limits["reg_unit"]) * limits["reg_unit"]
        warps_by_regs = SUB_PARTITIONS * ((limits["registers"] // SUB_PARTITIONS) // per_warp)
        bounds["registers"] = warps_by_regs // warps
    per_block = math.ceil((shared_bytes + limits["shared_reserved_per_block"]) / limits["shared_unit"])
    bounds["shared_memory"] = limits["shared"] // (per_block * limits["shared_unit"])
    limiter = min(bounds, key=bounds.get)
    blocks = bounds[limiter]
    return {"fraction": round(blocks * warps / limits["max_warps"], 4), "blocks_per_sm": blocks,
            "warps_per_sm": blocks * warps, "limited_by": limiter}


def demangle(names: list[str]) -> list[str]:
    try:
        out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True).stdout
        return [re.sub(r"\s+", " ", n) for n in out.splitlines()]
    except (OSError, subprocess.CalledProcessError):
        return list(names)


def find_cuobjdump() -> str:
    """cuobjdump on PATH, else from the nvidia-cuda-cuobjdump wheel of this interpreter."""
    if found := shutil.which("cuobjdump"):
        return found
    try:
        import nvidia  # namespace package of the nvidia-* wheels
        for base in nvidia.__path__:
            if hits := sorted(glob.glob(f"{base}/*/bin/cuobjdump")):
                return hits[0]
    except ImportError:
        pass
    sys.exit("compile_report: cuobjdump not found (pip install nvidia-cuda-cuobjdump)")


def cuobjdump(tool: str, flag: str, arch: str, binary: Path) -> str:
    result = subprocess.run([tool, flag, "-arch", arch, str(binary)], capture_output=True, text=True)
    if result.returncode != 0:  # e.g. -sass without nvdisasm beside cuobjdump or on PATH
        sys.exit(f"compile_report: {tool} {flag} -arch {arch} failed:\n{result.stderr.strip()}")
    return result.stdout


def check(entry: dict, rules: list[dict]) -> list[str]:
    """Problems of one kernel: spills, no expectation row, required instructions missing."""
    problems = []
    if entry["spill_store_bytes"] or entry["spill_load_bytes"]:
        problems.append(f"spills {entry['spill_store_bytes']} B stored / {entry['spill_load_bytes']} B loaded")
    rule = next((r for r in rules if re.search(r["kernels"], entry["kernel"])), None)
    if rule is None:
        return problems + ["no row of the expectations table matches this kernel: add one"]
    entry["expectation"] = rule["kernels"]
    for name, minimum in rule.get("require", {}).items():
        if entry["sass"].get(name, 0) < minimum:
            problems.append(f"{name}: {entry['sass'].get(name, 0)} in SASS, needs >= {minimum} ({rule['why']})")
    return problems


def build_report(ptxas: dict, sass: dict, threads: dict, rules: list[dict]) -> list[dict]:
    keys = sorted(ptxas)
    pretty = dict(zip([name for name, _ in keys], demangle([name for name, _ in keys])))
    entries = []
    for name, arch in keys:
        res = ptxas[(name, arch)]
        block = threads.get((name, arch))
        entry = {"kernel": pretty[name], "arch": arch, **res, "block_threads": block,
                 "occupancy": occupancy(arch, res["registers"], res["shared_static_bytes"], block),
                 "sass": sass_mix(sass.get((name, arch), Counter()))}
        if (name, arch) not in sass:
            entry["problems"] = ["not found in the binary's SASS"]
        else:
            entry["problems"] = check(entry, rules)
        entries.append(entry)
    return sorted(entries, key=lambda e: (e["kernel"], e["arch"]))


def print_table(entries: list[dict]) -> None:
    head = f"{'arch':<7}{'regs':>5}{'smem':>7}{'spill':>6}{'thr':>5}{'occ':>5}  " \
           f"{'HMMA':>5}{'LDSM':>5}{'LDGSTS':>7}{'LDG128':>7}{'STG128':>7}  kernel"
    print(head)
    for e in entries:
        occ = e["occupancy"]["fraction"]
        s = e["sass"]
        print(f"{e['arch']:<7}{e['registers']:>5}{e['shared_static_bytes']:>7}"
              f"{e['spill_store_bytes'] + e['spill_load_bytes']:>6}{e['block_threads'] or '?':>5}"
              f"{'?' if occ is None else f'{occ:.0%}':>5}  {s['HMMA'] + s['HGMMA']:>5}{s['LDSM']:>5}"
              f"{s['LDGSTS']:>7}{s['LDG.128']:>7}{s['STG.128']:>7}  {e['kernel']}")
        for problem in e["problems"]:
            print(f"    PROBLEM: {problem}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-log", required=True, type=Path, help="build output with ptxas -v lines")
    parser.add_argument("--binary", required=True, type=Path, help="the library holding the kernels (_C.so)")
    parser.add_argument("--out", required=True, type=Path, help="JSON report to write")
    parser.add_argument("--expectations", type=Path, default=DEFAULT_EXPECTATIONS)
    parser.add_argument("--environment", default="{}", help="JSON object stored as the report's environment")
    args = parser.parse_args(argv)

    with args.build_log.open(errors="replace") as f:
        ptxas = parse_ptxas(f)
    if not ptxas:
        sys.exit(f"compile_report: no 'Compiling entry function' lines in {args.build_log} (built without -Xptxas=-v?)")
    tool = find_cuobjdump()
    sass, threads = {}, {}
    for arch in sorted({arch for _, arch in ptxas}):
        for name, ops in parse_sass(cuobjdump(tool, "-sass", arch, args.binary)).items():
            sass[(name, arch)] = ops
        for name, count in parse_max_threads(cuobjdump(tool, "-elf", arch, args.binary)).items():
            threads[(name, arch)] = count
    rules = json.loads(args.expectations.read_text())["rules"]
    entries = build_report(ptxas, sass, threads, rules)
    print_table(entries)
    problems = sum(bool(e["problems"]) for e in entries)
    expectations = args.expectations.resolve()
    report = {"environment": json.loads(args.environment), "sm_limits": SM_LIMITS,
              "expectations": str(expectations.relative_to(ROOT) if expectations.is_relative_to(ROOT) else expectations),
              "kernels": entries}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # One kernel per line: a change to one kernel is a one-line diff.
    head = json.dumps({k: v for k, v in report.items() if k != "kernels"}, indent=1)[:-2]
    args.out.write_text(head + ',\n "kernels": [\n' + ",\n".join(json.dumps(e) for e in entries) + "\n ]\n}\n")
    kernels = len({e["kernel"] for e in entries})
    print(f"{len(entries)} kernel builds ({kernels} kernels), {problems} with problems; report: {args.out}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
