"""Progress: a one-line bar on a terminal (a plain line per interval otherwise) and metrics JSONL."""
import json
import sys
import time
from pathlib import Path


def expert_imbalance(expert_load) -> float | None:
    """Max over MoE blocks of (busiest expert's load / mean load): 1.0 is perfectly even."""
    if expert_load is None:
        return None
    load = expert_load.float()
    return float((load.max(dim=-1).values / load.mean(dim=-1).clamp_min(1e-9)).max())


class Progress:
    """Prints ``step, loss, lr, tokens/s, mean loops, expert imbalance, ETA`` every
    ``log_every`` steps (redrawn in place on a terminal) on the main rank."""

    def __init__(self, total_steps: int, log_every: int, enabled: bool, stream=None):
        self.total, self.log_every, self.enabled = total_steps, log_every, enabled
        self.stream = stream or sys.stdout
        self.interactive = enabled and self.stream.isatty()
        self._tokens, self._clock, self._start = 0, time.perf_counter(), time.perf_counter()

    def update(self, step: int, tokens: int, record: dict) -> float | None:
        """Counts the tokens of step ``step`` (0-based); at a logging step, prints the line and
        returns the tokens/s since the last one (None otherwise)."""
        self._tokens += tokens
        done = step + 1
        if done % self.log_every and done != self.total:
            return None
        now = time.perf_counter()
        rate = self._tokens / max(now - self._clock, 1e-9)
        self._tokens, self._clock = 0, now
        if self.enabled:
            self._print(done, rate, record)
        return rate

    def _print(self, done: int, rate: float, record: dict) -> None:
        width = 20
        filled = round(width * done / self.total)
        elapsed = time.perf_counter() - self._start
        eta = elapsed / done * (self.total - done) if done else 0.0
        imbalance = record.get("expert_imbalance")
        line = (
            f"step {done:>6}/{self.total} [{'#' * filled}{'.' * (width - filled)}] "
            f"loss {record['loss']:.4f}  lr {record['lr']:.2e}  {rate:,.0f} tok/s  "
            f"loops {record['mean_loops']:.2f}  "
            + (f"imbalance {imbalance:.2f}  " if imbalance is not None else "")
            + f"eta {int(eta) // 60}:{int(eta) % 60:02d}"
        )
        end = "" if self.interactive and done != self.total else "\n"
        print(("\r" if self.interactive else "") + line, end=end, file=self.stream, flush=True)


class MetricsLog:
    """Appends one JSON record per step to ``path``. On resume the records after the resumed
    step (written before a crash) are dropped, so the file reads as one uninterrupted run."""

    def __init__(self, path, resume_step: int | None):
        self.path = Path(path)
        if resume_step is None:
            self.path.write_text("")
        elif self.path.exists():
            kept = [line for line in self.path.read_text().splitlines()
                    if line.strip() and json.loads(line).get("step", 0) <= resume_step]
            self.path.write_text("".join(line + "\n" for line in kept))

    def write(self, record: dict) -> None:
        with self.path.open("a") as file:
            file.write(json.dumps(record) + "\n")


def read_metrics(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
