"""The depth-extrapolation curve: held-out loss per loop count, table and (optional) plot."""
import builtins
import math

import pytest
import torch

from rdm.models import RDMConfig, RDMForCausalLM
from rdm.train.data import eval_batches, pack_documents
from rdm.train.evaluate import depth_curve, format_table, write_depth_curve

ROWS = [{"loops": 1, "loss": 2.5, "perplexity": math.exp(2.5)}, {"loops": 2, "loss": 2.0, "perplexity": math.exp(2.0)},
        {"loops": 8, "loss": 2.1, "perplexity": math.exp(2.1)}]


def test_curve_evaluates_each_loop_count_on_packed_rows():
    torch.manual_seed(0)
    model = RDMForCausalLM(RDMConfig.preset("tiny"))
    rows = pack_documents([list(range(i, i + 20)) for i in range(0, 200, 20)], seq_len=16)
    batches = eval_batches(rows, batch_size=4, max_rows=8)
    assert [batch.input_ids.shape[0] for batch in batches] == [4, 4]
    curve = depth_curve(model, batches, [1, 2, 8], "cpu")
    assert [row["loops"] for row in curve] == [1, 2, 8]
    losses = [row["loss"] for row in curve]
    assert all(math.isfinite(loss) and loss > 0 for loss in losses) and len(set(losses)) == 3
    assert curve[0]["perplexity"] == pytest.approx(math.exp(losses[0]))
    assert model.training  # evaluation restores the mode it found


def test_table_marks_the_trained_mean_and_extrapolation():
    table = format_table(ROWS, trained_mean=2, trained_max=4).splitlines()
    assert table[0].startswith("| loops | held-out loss | perplexity")
    assert table[2] == "| 1 | 2.5000 | 12.182 |  |"
    assert table[3].endswith("| trained mean |") and table[4].endswith("| extrapolated |")


def test_without_matplotlib_the_table_is_written_and_the_plot_skipped(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    messages = write_depth_curve(ROWS, tmp_path, 2, 4, "t")
    assert (tmp_path / "depth_curve.md").read_text().count("\n") == 5
    assert (tmp_path / "depth_curve.json").exists() and not (tmp_path / "depth_curve.png").exists()
    assert any("skipped the depth-curve plot" in message for message in messages)


def test_with_matplotlib_a_png_is_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    write_depth_curve(ROWS, tmp_path, 2, 4, "t")
    assert (tmp_path / "depth_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
