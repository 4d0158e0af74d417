"""The cases where rdm is not the fastest implementation a run timed, listed after its table
so that a slow path (or a regression) is visible without reading every row."""
from __future__ import annotations

from typing import Sequence

from rdm.bench.harness import Result

# Within this fraction of the fastest, rdm counts as the fastest: CPU timings on a shared
# machine wobble by a few per cent from one repeat to the next.
NOISE = 0.05


def not_fastest(results: Sequence[Result], rdm_impl: str = "rdm", own: Sequence[str] = ()) -> list[str]:
    """One line per (op, case, pass, dtype) whose `rdm_impl` row is timed and slower than
    another timed row by more than NOISE. `own`: rows that run rdm's own code (on the CPU
    the reference is the op's kernel), which are not competitors."""
    groups: dict[tuple, dict[str, float]] = {}
    for row in results:
        if row.timing is not None:
            groups.setdefault((row.op, row.case, row.mode, row.dtype), {})[row.impl] = row.timing.median_ms
    lines = []
    for (op, case, mode, dtype), times in groups.items():
        if rdm_impl not in times:
            continue
        rivals = {impl: ms for impl, ms in times.items() if impl != rdm_impl and impl not in own}
        if not rivals:
            continue
        fastest = min(rivals, key=rivals.get)
        if rivals[fastest] * (1 + NOISE) < times[rdm_impl]:
            lines.append(f"  {op} | {case} | {mode} | {dtype}: {fastest} {rivals[fastest]:.4g} ms, "
                         f"rdm {times[rdm_impl]:.4g} ms ({times[rdm_impl] / rivals[fastest]:.2f}x slower)")
    return lines


def report(results: Sequence[Result], device_type: str) -> str:
    """The text printed after a table."""
    own = ("reference",) if device_type == "cpu" else ()
    lines = not_fastest(results, own=own)
    if not lines:
        return "rdm is the fastest implementation timed in every case (within 5%)."
    return "\n".join([f"rdm is not the fastest in {len(lines)} case(s):", *lines])
