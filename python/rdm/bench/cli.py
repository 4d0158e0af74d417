"""Command line of rdm-bench: pick ops, device, dtypes and sizes; print a table, write JSON."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

import torch

from rdm.bench import cases as registry
from rdm.bench import counters as simt_counters
from rdm.bench.harness import (
    DTYPE_NAMES,
    DTYPES,
    Case,
    Result,
    RunConfig,
    format_columns,
    format_table,
    plan_implementations,
    roofline_note,
    run_cases,
    write_json,
)

# Defaults per device: a GPU run is the real measurement (full sizes, >= 20 timed runs,
# torch.compile baselines); a CPU run is a quick check that finishes in well under a minute.
_DEFAULTS = {
    "cuda": {"sizes": "full", "compile": True, "repeats": 50, "warmup": 10},
    "cpu": {"sizes": "small", "compile": False, "repeats": 20, "warmup": 3},
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rdm-bench",
        description="Check and time rdm's kernels against the PyTorch reference, naive PyTorch and peer libraries.",
    )
    parser.add_argument("--ops", help=f"comma-separated ops to run (default: all of {','.join(registry.op_names())})")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto",
                        help="default auto: cuda when available")
    parser.add_argument("--dtype", default="bf16,fp32", help=f"comma-separated, of {','.join(DTYPES)} (default bf16,fp32)")
    parser.add_argument("--sizes", choices=registry.SIZES,
                        help="case sizes (default: full on cuda, small on cpu)")
    parser.add_argument("--simt", action="store_true",
                        help="cpu only: also run the emulated CUDA kernels (torch.ops.rdm_simt) on tiny cases, "
                        "report their performance counters and a roofline estimate at the full shapes")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="also time torch.compile'd reference/naive (default: on for cuda, off for cpu)")
    parser.add_argument("--repeats", type=int, help="timed runs per implementation (default: 50 cuda, 20 cpu)")
    parser.add_argument("--warmup", type=int, help="untimed runs first (default: 10 cuda, 3 cpu)")
    parser.add_argument("--out", help="write every figure and the environment to this JSON file (updated after each case)")
    parser.add_argument("--list", action="store_true", help="list the cases and implementations, run nothing")
    return parser


def _comma_list(text: str, known: Sequence[str], what: str, parser: argparse.ArgumentParser) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item not in known]
    if unknown or not items:
        parser.error(f"unknown {what} {','.join(unknown) or repr(text)}; choose from {','.join(known)}")
    return items


def _config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> tuple[RunConfig, str]:
    device_type = args.device
    if device_type == "auto":
        device_type = "cuda" if torch.cuda.is_available() else "cpu"
    # --list runs nothing, so it may show a GPU run's plan on a machine without one.
    if device_type == "cuda" and not torch.cuda.is_available() and not args.list:
        parser.error("--device cuda: no CUDA device is available")
    if args.simt and device_type != "cpu":
        parser.error("--simt emulates the kernels on the CPU: use it with --device cpu")
    defaults = _DEFAULTS[device_type]
    repeats = defaults["repeats"] if args.repeats is None else args.repeats
    warmup = defaults["warmup"] if args.warmup is None else args.warmup
    if repeats < 1 or warmup < 0:
        parser.error("--repeats must be >= 1 and --warmup >= 0")
    config = RunConfig(
        device=torch.device(device_type),
        dtypes=tuple(DTYPES[name] for name in _comma_list(args.dtype, list(DTYPES), "dtype", parser)),
        compile=defaults["compile"] if args.compile is None else args.compile,
        simt=args.simt,
        repeats=repeats,
        warmup=warmup,
    )
    return config, args.sizes or defaults["sizes"]


def select_cases(ops: Sequence[str], size: str, simt: bool) -> list[Case]:
    """The cases of `ops` at `size`, plus, for --simt, the tiny cases the emulation can run."""
    selected = []
    for op in ops:
        selected += registry.load_cases(op, size)
        if simt and size != "tiny":
            selected += [case for case in registry.load_cases(op, "tiny") if case.simt is not None]
    return selected


def _listing(cases: Sequence[Case], config: RunConfig) -> str:
    header = ("op", "case", "pass", "shape", "dtype", "implementations")
    rows = [
        (case.op, case.label, case.mode, case.shape, DTYPE_NAMES[dtype],
         ", ".join(impl.name for impl in plan_implementations(case, dtype, config)))
        for case in cases
        for dtype in config.dtypes
    ]
    return "\n".join(format_columns(header, rows, first_numeric=len(header)))


def simt_report(results: Sequence[Result], estimates: Sequence[dict]) -> str:
    """The counters of the emulated rows and the roofline estimates derived from them."""
    counted = [row for row in results if row.simt_counters is not None]
    lines = ["", "emulated kernels (counters at the tiny shapes; docs/kernels.md \"Performance counters\"):"]
    lines += format_columns(simt_counters.COUNTER_COLUMNS, [simt_counters.counter_cells(row) for row in counted],
                            simt_counters.COUNTER_COLUMNS.index("launches"))
    lines += ["", "roofline estimate at the full shapes (compulsory bytes x bytes/compulsory of the worst tiny case):"]
    lines += format_columns(simt_counters.ESTIMATE_COLUMNS, [simt_counters.estimate_cells(row) for row in estimates],
                            simt_counters.ESTIMATE_COLUMNS.index("bytes ratio"))
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the rdm-bench console script; non-zero exit if any row failed its check."""
    parser = build_parser()
    args = parser.parse_args(argv)
    ops = registry.op_names() if args.ops is None else _comma_list(args.ops, registry.op_names(), "op", parser)
    config, size = _config(args, parser)
    cases = select_cases(ops, size, config.simt)
    if args.list:
        print(_listing(cases, config))
        return 0
    write = (lambda done: write_json(args.out, config, done)) if args.out else None  # after every case
    results = run_cases(cases, config, on_case=write)
    print(format_table(results, roofline_note(config.device)))
    estimates = []
    if config.simt:
        full_cases = [case for op in ops for case in registry.load_cases(op, "full")]
        estimates = simt_counters.estimates(results, full_cases)
        print(simt_report(results, estimates))
    if args.out:
        write_json(args.out, config, results, estimates)
        print(f"wrote {args.out}", file=sys.stderr)
    return 1 if any(row.failed for row in results) else 0
