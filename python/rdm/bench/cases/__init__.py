"""Registry of benchmark case modules, one per op family.

To benchmark a new op, add a module next to this one that defines
``cases(size: str) -> list[rdm.bench.harness.Case]`` for the sizes in SIZES, and
register it in CASE_MODULES under the name ``--ops`` selects it by. Modules are
imported only when selected, and must not import the compiled library at import time
(refer to it with "module:function" targets instead).
"""
from __future__ import annotations

import importlib

from rdm.bench.harness import Case

# "tiny": shapes the SIMT emulation can run (one OS thread per CUDA thread);
# "small": the tiny and 100m presets at the lengths a CPU user runs (256-2048), for CPU runs;
# "full": realistic model widths and tokens per step, for GPUs.
SIZES = ("tiny", "small", "full")

CASE_MODULES: dict[str, str] = {
    "act": "rdm.bench.cases.act",
    "selective_scan": "rdm.bench.cases.selective_scan",
    "gla": "rdm.bench.cases.gla",
    "attention": "rdm.bench.cases.attention",
    "moe": "rdm.bench.cases.moe",
}


def op_names() -> list[str]:
    return list(CASE_MODULES)


def load_cases(op: str, size: str) -> list[Case]:
    if op not in CASE_MODULES:
        raise KeyError(f"unknown op {op!r}; known: {', '.join(CASE_MODULES)}")
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; known: {', '.join(SIZES)}")
    return importlib.import_module(CASE_MODULES[op]).cases(size)
