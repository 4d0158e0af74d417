"""Print every kernel's registers, shared memory, stack and spills from a ptxas -v build log.

Usage: python ptxas_report.py BUILD_LOG
Spills are flagged: they usually mean a tile is too large for the register file.
"""
import re
import subprocess
import sys

ENTRY = re.compile(r"Compiling entry function '(\S+)' for '(\S+)'")
FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
USAGE = re.compile(r"Used (\d+) registers(?:.*?(\d+) bytes smem)?")


def demangle(names):
    try:
        out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True).stdout
        return out.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return list(names)


def parse(lines):
    kernels, current = [], None
    for line in lines:
        if m := ENTRY.search(line):
            current = {"name": m.group(1), "arch": m.group(2), "regs": 0, "smem": 0, "stack": 0, "spill_st": 0, "spill_ld": 0}
            kernels.append(current)
        elif current and (m := FRAME.search(line)):
            current.update(stack=int(m.group(1)), spill_st=int(m.group(2)), spill_ld=int(m.group(3)))
        elif current and (m := USAGE.search(line)):
            current.update(regs=int(m.group(1)), smem=int(m.group(2) or 0))
    return kernels


def main(path):
    with open(path, errors="replace") as f:
        kernels = parse(f)
    if not kernels:
        sys.exit(f"ptxas_report: no 'Compiling entry function' lines in {path} (built without -Xptxas=-v?)")
    for k, name in zip(kernels, demangle([k["name"] for k in kernels])):
        k["pretty"] = re.sub(r"\s+", " ", name)
    print(f"{'arch':<7} {'regs':>4} {'smem B':>7} {'stack B':>7} {'spill st/ld B':>13}  kernel")
    for k in sorted(kernels, key=lambda k: (k["pretty"], k["arch"])):
        spill = f"{k['spill_st']}/{k['spill_ld']}"
        flag = "  <- spills" if k["spill_st"] or k["spill_ld"] else ""
        print(f"{k['arch']:<7} {k['regs']:>4} {k['smem']:>7} {k['stack']:>7} {spill:>13}  {k['pretty']}{flag}")
    print(f"{len(kernels)} kernels, {sum(1 for k in kernels if k['spill_st'] or k['spill_ld'])} with spills")


if __name__ == "__main__":
    main(sys.argv[1])
