"""Held-out loss and perplexity as a function of the loop count: the depth-extrapolation curve."""
import json
import math
from contextlib import nullcontext
from pathlib import Path

import torch

from ..models import RDMForCausalLM
from .data import Batch


@torch.no_grad()
def held_out_loss(model: RDMForCausalLM, batches: list[Batch], n_loops: int, device, autocast=nullcontext) -> float:
    """Mean next-token cross-entropy (nats per token) over the batches' documents at ``n_loops``."""
    was_training = model.training
    model.eval()
    total, targets = 0.0, 0
    try:
        for batch in batches:
            batch = batch.to(device)
            with autocast():
                out = model(batch.input_ids, labels=batch.input_ids, n_loops=n_loops, cu_seqlens=batch.cu_seqlens)
            total += out.lm_loss.item() * batch.num_targets
            targets += batch.num_targets
    finally:
        model.train(was_training)
    return total / targets


def depth_curve(model, batches, loop_counts, device, autocast=nullcontext) -> list[dict]:
    """[{"loops", "loss", "perplexity"}] for every loop count."""
    rows = []
    for n_loops in loop_counts:
        loss = held_out_loss(model, batches, n_loops, device, autocast)
        rows.append({"loops": n_loops, "loss": loss, "perplexity": math.exp(min(loss, 700.0))})
    return rows


def format_table(rows: list[dict], trained_mean: int, trained_max: int) -> str:
    """A Markdown table; loop counts beyond the trained maximum are marked extrapolated."""
    lines = ["| loops | held-out loss | perplexity | |", "| ---: | ---: | ---: | --- |"]
    for row in rows:
        note = "trained mean" if row["loops"] == trained_mean else (
            "extrapolated" if row["loops"] > trained_max else "")
        lines.append(f"| {row['loops']} | {row['loss']:.4f} | {row['perplexity']:.3f} | {note} |")
    return "\n".join(lines)


def write_depth_curve(rows: list[dict], out_dir, trained_mean: int, trained_max: int, title: str) -> list[str]:
    """Writes depth_curve.md, depth_curve.json and, when matplotlib is installed,
    depth_curve.png into ``out_dir``; returns messages about what was written."""
    out_dir = Path(out_dir)
    (out_dir / "depth_curve.md").write_text(format_table(rows, trained_mean, trained_max) + "\n")
    (out_dir / "depth_curve.json").write_text(json.dumps(rows, indent=2) + "\n")
    messages = [f"depth curve table: {out_dir / 'depth_curve.md'}"]
    try:
        import matplotlib
    except ImportError:
        messages.append("matplotlib is not installed: skipped the depth-curve plot (pip install matplotlib)")
        return messages
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    loops = [row["loops"] for row in rows]
    axis.plot(loops, [row["loss"] for row in rows], marker="o")
    axis.set_xscale("log", base=2)
    axis.set_xticks(loops, [str(n) for n in loops])
    axis.axvspan(1, trained_max, alpha=0.12, label=f"trained depths (1–{trained_max})")
    axis.axvline(trained_mean, linestyle="--", linewidth=1, label=f"trained mean ({trained_mean})")
    axis.set_xlabel("loops at inference")
    axis.set_ylabel("held-out loss (nats/token)")
    axis.set_title(title)
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out_dir / "depth_curve.png", dpi=120)
    plt.close(figure)
    messages.append(f"depth curve plot: {out_dir / 'depth_curve.png'}")
    return messages
