"""Performance counters and shared-memory checks of the emulated kernels (torch.ops.rdm_simt).

Every emulated launch counts what a profiler would (docs/kernels.md, "Performance counters"):

    with rdm.simt.counting() as launches:
        torch.ops.rdm_simt.act_accumulate(...)
    launches[0]["kernel"], launches[0]["counters"]["global_load_bytes"]
    rdm.simt.summary(launches)["sector_efficiency"]

and can run racecheck and initcheck of shared memory (like compute-sanitizer), which fail
the launch with a report; by default they follow RDM_SIMT_CHECKS (e.g. "race,init"):

    with rdm.simt.checks("race", "init"):
        ...
"""
from __future__ import annotations

import contextlib
import json
from typing import Iterator, Sequence

import torch

from ._loader import HAS_SIMT

CHECKS = ("race", "init")


def _ops():
    if not HAS_SIMT:
        raise RuntimeError("this rdm build has no SIMT emulation (_simt.so)")
    return torch.ops.rdm_simt


def launches(clear: bool = True) -> list[dict]:
    """The emulated launches since the last clear (at most the latest 4096), oldest first."""
    return json.loads(_ops()._simt_launches(clear))


@contextlib.contextmanager
def counting() -> Iterator[list[dict]]:
    """Collects the launches made inside the block into the yielded list (filled on exit)."""
    launches(clear=True)
    collected: list[dict] = []
    try:
        yield collected
    finally:
        collected.extend(launches(clear=True))


def set_checks(*names: str) -> str:
    """Runs later launches with the named checks ("race", "init"; none: no check), or with
    what RDM_SIMT_CHECKS says for set_checks("env"). Returns the previous setting."""
    unknown = [name for name in names if name not in CHECKS + ("env",)]
    if unknown or ("env" in names and len(names) > 1):
        raise ValueError(f"rdm.simt.set_checks: expected 'env' or names from {CHECKS}, got {names}")
    return _ops()._simt_set_checks(",".join(names) or "none")


@contextlib.contextmanager
def checks(*names: str) -> Iterator[None]:
    """Runs the launches inside the block with the named checks, then restores the setting."""
    previous = set_checks(*names)
    try:
        yield
    finally:
        _ops()._simt_set_checks(previous)


def summary(records: Sequence[dict]) -> dict:
    """The counters summed over `records`, with the ratios a profiler would show:
    sector_efficiency (requested bytes / bytes of the sectors moved), coalescing (ideal /
    actual sectors), bank_conflict_rate (extra wavefronts / ideal ones)."""
    total: dict = {}
    for record in records:
        for name, value in record["counters"].items():
            total[name] = total.get(name, 0) + value

    def global_sum(name: str) -> int:
        return total.get(f"global_load_{name}", 0) + total.get(f"global_store_{name}", 0)

    sectors, ideal_wavefronts = global_sum("sectors"), total.get("shared_ideal_wavefronts", 0)
    total["global_bytes"] = global_sum("bytes")
    total["global_unique_bytes"] = global_sum("unique_bytes")
    total["sector_efficiency"] = total["global_bytes"] / (32 * sectors) if sectors else None
    total["coalescing"] = global_sum("ideal_sectors") / sectors if sectors else None
    total["bank_conflict_rate"] = total.get("bank_conflicts", 0) / ideal_wavefronts if ideal_wavefronts else None
    return total
