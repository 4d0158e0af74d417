"""rdm-bench's report of slow cases, --ops model, --profile and --plot, at tiny sizes."""
import subprocess
import sys

import pytest
import torch

from rdm.bench import cli, harness, model_bench, plot, regressions
from rdm.models import RDMForCausalLM

TRAIN = ((1, 12),)
CONTEXTS = (4, 24)


def timed_row(impl, median_ms, case="c", dtype="fp32"):
    row = harness.Result("op", case, "fwd", impl, dtype, "1", "ok", "", {}, 1, 1, None)
    row.timing = harness.Timing.of([median_ms])
    return row


def test_not_fastest_lists_each_case_where_a_rival_beats_rdm_beyond_noise():
    results = [
        timed_row("rdm", 10.0, "slow"), timed_row("naive", 5.0, "slow"),
        timed_row("rdm", 10.0, "noise"), timed_row("naive", 9.8, "noise"),
        timed_row("rdm", 10.0, "own"), timed_row("reference", 2.0, "own"),
        timed_row("rdm", 1.0, "fast"), timed_row("naive", 5.0, "fast"),
    ]
    lines = regressions.not_fastest(results, own=("reference",))
    assert len(lines) == 1 and "slow" in lines[0] and "naive" in lines[0] and "2.00x slower" in lines[0]
    # On a GPU the reference is a rival like any other.
    assert len(regressions.not_fastest(results)) == 2
    assert "not the fastest in 1 case" in regressions.report(results, "cpu")


def test_plain_model_is_the_same_function_as_rdm():
    for label, config in model_bench.configs(("tiny",)).items():
        torch.manual_seed(0)
        model = RDMForCausalLM(config).eval()
        ids = torch.randint(0, config.vocab_size, (2, 20))
        with torch.no_grad():
            expected = model(ids).logits
            with model_bench.plain_ops():
                plain = model(ids).logits
            assert model(ids).logits.equal(expected), "plain_ops must restore rdm's ops"
        torch.testing.assert_close(plain, expected, atol=2e-4, rtol=2e-4, msg=label)


def test_model_bench_measures_every_figure_and_checks_the_targets():
    rows = model_bench.run(("tiny",), impls=("rdm", "plain"), repeats=1, train_shapes=TRAIN, contexts=CONTEXTS,
                           log=lambda line: None)
    assert [(row.model, row.impl) for row in rows] == [
        (model, impl) for model in ("tiny/default", "tiny/attention") for impl in ("rdm", "plain")]
    for row in rows:
        assert not row.error, row.error
        assert row.train_tok_s["1x12"] > 0 and all(row.decode_ms[c] > 0 and row.prefill_ms[c] > 0 for c in CONTEXTS)
        assert row.saved_bytes > 0
    by_model = {(row.model, row.impl): row for row in rows}
    default = by_model[("tiny/default", "rdm")]
    # The tiny preset's window is 16: the cache grows with the context up to it, then stops.
    attention = by_model[("tiny/attention", "rdm")]
    assert attention.cache_bytes[4] < attention.cache_bytes[24]
    table = model_bench.format_rows(rows, TRAIN, CONTEXTS)
    assert "tiny/attention" in table and "decode 24 ms/tok" in table
    report = model_bench.targets(rows, TRAIN, CONTEXTS)
    assert report.count("tiny/") == 2 * (len(TRAIN) + len(CONTEXTS))
    assert default.cache_bytes[4] <= default.cache_bytes[24]


def test_context_that_outgrows_the_window_keeps_the_cache_at_the_window():
    config = model_bench.configs(("tiny",))["tiny/default"]
    model = RDMForCausalLM(config).eval()
    sizes = []
    with torch.no_grad():
        for context in (4, config.attn_window, 3 * config.attn_window):
            cache = model.new_cache(1)
            model(torch.zeros(1, context, dtype=torch.long), cache=cache)
            sizes.append(cache.nbytes())
    assert sizes[0] < sizes[1] == sizes[2]


def test_profile_prints_the_top_ops_of_a_step():
    # In a fresh interpreter, as `rdm-bench --profile` runs: late in a long test session the
    # torch profiler has been seen to record no events at all (not reproducible in isolation).
    code = "from rdm.bench import model_bench; print(model_bench.profile('tiny', shape=(1, 8), top=5))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "Self CPU" in run.stdout and "aten::" in run.stdout


def test_plot_writes_an_image(tmp_path):
    pytest.importorskip("matplotlib")
    row = timed_row("rdm", 2.0)
    row.floor_ms = 1.0
    model_row = model_bench.ModelRow("tiny/default", "rdm", train_tok_s={"1x12": 100.0})
    path = tmp_path / "bench.png"
    plot.plot([row, timed_row("naive", 3.0)], [model_row], str(path))
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_plot_without_matplotlib_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(plot, "available", lambda: False)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--ops", "act", "--device", "cpu", "--plot", "out.png"])
    assert exit_info.value.code == 2
    assert "pip install matplotlib" in capsys.readouterr().err


def test_cli_model_op_is_cpu_only_and_known_to_the_op_list(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--ops", "model", "--device", "cuda", "--list"])
    assert "--device cpu" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--ops", "model", "--models", "huge", "--device", "cpu", "--list"])
