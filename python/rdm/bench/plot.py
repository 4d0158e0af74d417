"""rdm-bench --plot FILE.png: the results as a chart (matplotlib is optional)."""
from __future__ import annotations

from typing import Sequence

from rdm.bench.harness import Result

MISSING = "--plot needs matplotlib, which is not installed (pip install matplotlib)"


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot(results: Sequence[Result], model_rows: Sequence = (), path: str = "rdm-bench.png") -> None:
    """One horizontal bar per (case, implementation): median time, log scale, with the
    roofline floor as a tick where there is one; then, for --ops model, training tokens/s
    per model and implementation."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    timed = [row for row in results if row.timing is not None]
    panels = [panel for panel in (timed, model_rows) if panel]
    if not panels:
        raise ValueError("nothing to plot: no row was timed")
    heights = [max(2.0, 0.22 * (len(timed) if panel is timed else 2 * len(panel))) for panel in panels]
    figure, axes = plt.subplots(len(panels), 1, figsize=(11, sum(heights) + 1), squeeze=False,
                                gridspec_kw={"height_ratios": heights})
    axes = list(axes[:, 0])
    if timed:
        _cases(axes.pop(0), timed)
    if model_rows:
        _models(axes.pop(0), model_rows)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _colour(impl: str) -> str:
    palette = {"rdm": "tab:red", "reference": "tab:blue", "naive": "tab:gray", "plain": "tab:gray",
               "rdm+compile": "tab:orange", "rdm_simt": "tab:purple"}
    return palette.get(impl, "tab:green")


def _cases(ax, rows) -> None:
    labels = [f"{row.op} | {row.case} | {row.mode} | {row.dtype} | {row.impl}" for row in rows]
    positions = range(len(rows))
    ax.barh(positions, [row.timing.median_ms for row in rows], color=[_colour(row.impl) for row in rows])
    floors = [(index, row.floor_ms) for index, row in enumerate(rows) if row.floor_ms]
    if floors:
        ax.scatter([ms for _, ms in floors], [index for index, _ in floors], marker="|", s=120, color="black",
                   label="roofline floor", zorder=3)
        ax.legend(loc="lower right")
    ax.set_yticks(list(positions), labels, fontsize=6)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("median ms (log scale; shorter is faster)")


def _models(ax, rows) -> None:
    bars = [(f"{row.model} | {row.impl} | train {shape}", tok_s, row.impl)
            for row in rows for shape, tok_s in row.train_tok_s.items()]
    ax.barh(range(len(bars)), [tok_s for _, tok_s, _ in bars], color=[_colour(impl) for _, _, impl in bars])
    ax.set_yticks(range(len(bars)), [label for label, _, _ in bars], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("training tokens/s (longer is faster)")
