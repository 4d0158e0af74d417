"""Checkpoints that survive crashes: written to a temporary file, flushed to disk and
renamed into place (``os.replace`` is atomic), so a checkpoint file is either complete or
absent; the newest ``keep_last`` are kept.

A checkpoint holds the full (unsharded) model and optimizer state, the schedule, the step
(which is also the data position, see ``rdm.train.data``), every rank's RNG states, and
the configs, so a run can resume on a different number of ranks with the same global batch.
"""
import os
import re
from pathlib import Path

import torch

_NAME = re.compile(r"^step-(\d{8})\.pt$")


def checkpoint_path(directory, step: int) -> Path:
    return Path(directory) / f"step-{step:08d}.pt"


def list_checkpoints(directory) -> list[Path]:
    """Complete checkpoints in ``directory``, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if _NAME.match(path.name))


def latest_checkpoint(directory) -> Path | None:
    checkpoints = list_checkpoints(directory)
    return checkpoints[-1] if checkpoints else None


def save_atomic(payload: dict, path: Path) -> None:
    """torch.save to ``path`` through a temporary file in the same folder, fsynced, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "wb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    # The rename itself is durable only once the folder's entry is on disk.
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def save_checkpoint(directory, step: int, payload: dict, keep_last: int) -> Path:
    """Writes ``step``'s checkpoint, then deletes all but the newest ``keep_last``."""
    path = checkpoint_path(directory, step)
    save_atomic(payload, path)
    for old in list_checkpoints(directory)[:-keep_last]:
        old.unlink()
    return path


def remove_stale_temporaries(directory) -> None:
    """Temporary files left by a writer that was killed mid-write."""
    directory = Path(directory)
    if directory.is_dir():
        for path in directory.glob(".step-*.pt.tmp-*"):
            path.unlink()


def load_checkpoint(path) -> dict:
    # The payload holds RNG states and plain Python objects besides tensors.
    return torch.load(path, map_location="cpu", weights_only=False)
