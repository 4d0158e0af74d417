"""Reading training text: files, folders (recursively) and JSONL with a "text" field."""
import json
from collections.abc import Iterator
from pathlib import Path


def read_documents(paths: list[str]) -> Iterator[str]:
    """Yields documents: one per plain-text file, one per JSONL line (its "text"); folders
    are walked in sorted order, skipping hidden files and folders."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(
                file for file in path.rglob("*")
                if file.is_file() and not any(part.startswith(".") for part in file.relative_to(path).parts)
            )
            for file in files:
                yield from _read_file(file)
        elif path.is_file():
            yield from _read_file(path)
        else:
            raise FileNotFoundError(f"--data: no such file or folder {given}")


def _read_file(path: Path) -> Iterator[str]:
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                record = json.loads(line)
                if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                    raise ValueError(f"{path}:{number}: a JSONL record needs a string field \"text\"")
                yield record["text"]
    else:
        yield path.read_text(encoding="utf-8", errors="replace")
