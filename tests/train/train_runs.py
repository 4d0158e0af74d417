"""Running rdm-train in subprocesses (the way users do), on the rdm these tests import."""
import json
import os
import subprocess
import sys
from pathlib import Path

import rdm
from rdm.train.progress import read_metrics as read_metrics_file


def subprocess_env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    package_root = str(Path(rdm.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    return env


def command(config, tmp_path, *extra, launcher=("-m", "rdm.train")) -> list[str]:
    """The command line that runs TrainConfig ``config`` through a JSON settings file."""
    path = Path(tmp_path) / f"settings-{len(list(Path(tmp_path).glob('settings-*')))}.json"
    path.write_text(json.dumps(config.to_dict()))
    return [sys.executable, *launcher, "--config", str(path), *extra]


def read_metrics(out) -> list[dict]:
    """The per-step records of the run in folder ``out``."""
    return read_metrics_file(Path(out) / "metrics.jsonl")


def run(args, timeout=300) -> subprocess.CompletedProcess:
    result = subprocess.run(args, env=subprocess_env(), capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result
