"""The embedded default corpus: the source of the running interpreter's standard library.

It ships with every Python installation, so ``rdm-train`` with no data argument works
offline on a fresh machine. Modules are read in sorted order, so the corpus (for a given
Python version) is the same on every machine and every run.
"""
import inspect
from pathlib import Path


def standard_library_dir() -> Path:
    """The directory of the pure-Python standard library (where ``inspect.py`` lives)."""
    return Path(inspect.getsourcefile(inspect)).resolve().parent


def default_corpus(max_bytes: int) -> list[str]:
    """The text of the standard library's modules (walked in sorted order), about
    ``max_bytes`` of it; one document per module."""
    documents, total = [], 0
    for path in _module_files(standard_library_dir()):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        documents.append(text)
        total += len(text)
        if total >= max_bytes:
            return documents
    if not documents:
        raise RuntimeError(f"found no standard-library sources under {standard_library_dir()}; pass --data")
    return documents


# Installed packages are not the standard library; tests and IDLE are noisy or huge.
_SKIPPED_DIRS = {"site-packages", "dist-packages", "test", "tests", "idlelib", "__pycache__"}


def _module_files(directory: Path):
    """.py files under ``directory`` in sorted order, not descending into _SKIPPED_DIRS."""
    entries = sorted(directory.iterdir())
    for entry in entries:
        if entry.is_file() and entry.suffix == ".py":
            yield entry
    for entry in entries:
        if entry.is_dir() and entry.name not in _SKIPPED_DIRS and not entry.name.startswith("."):
            yield from _module_files(entry)
