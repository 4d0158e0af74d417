"""A run killed with SIGKILL and resumed reaches the same losses at the same steps as an
uninterrupted run, bit for bit (the CPU path is deterministic)."""
import json
import signal
import subprocess
import time

from rdm.train import train
from rdm.train.checkpoint import list_checkpoints

from train_runs import command, read_metrics, subprocess_env

STEPS = 12


def test_sigkilled_run_resumes_to_the_same_losses(tiny_config, tmp_path):
    reference = tiny_config(steps=STEPS, out=str(tmp_path / "reference"))
    train(reference)
    expected = read_metrics(reference.out)
    assert [record["step"] for record in expected] == list(range(1, STEPS + 1))

    crashed = tiny_config(steps=STEPS, out=str(tmp_path / "crashed"))
    checkpoints = tmp_path / "crashed" / "checkpoints"
    process = subprocess.Popen(command(crashed, tmp_path), env=subprocess_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not list_checkpoints(checkpoints):
            assert process.poll() is None, f"the run ended before its first checkpoint: {process.stderr.read()}"
            assert time.monotonic() < deadline, "no checkpoint within the deadline"
            time.sleep(0.01)
        assert process.poll() is None, "the run finished before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    killed_at = int(list_checkpoints(checkpoints)[-1].name[5:13])
    assert killed_at < STEPS
    assert not (tmp_path / "crashed" / "summary.json").exists()

    summary = train(tiny_config(steps=STEPS, out=str(tmp_path / "crashed"), resume=True))
    resumed = read_metrics(crashed.out)
    assert [record["step"] for record in resumed] == list(range(1, STEPS + 1))  # no step twice
    for got, want in zip(resumed, expected):
        assert {k: got[k] for k in ("loss", "lm_loss", "grad_norm", "n_loops", "lr")} == \
            {k: want[k] for k in ("loss", "lm_loss", "grad_norm", "n_loops", "lr")}, got["step"]
    reference_summary = json.loads((tmp_path / "reference" / "summary.json").read_text())
    assert summary["rank_parameter_digests"] == reference_summary["rank_parameter_digests"]
    assert summary["depth_curve"] == reference_summary["depth_curve"]
    assert [path.name for path in list_checkpoints(checkpoints)] == ["step-00000010.pt", "step-00000012.pt"]
