"""Tokenizers: the built-in byte-level one, or a `tokenizers` JSON file when that package is installed."""
from pathlib import Path


class ByteTokenizer:
    """UTF-8 bytes as tokens (vocabulary 256): needs no file and covers any text."""

    vocab_size = 256
    name = "bytes"

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(text) for text in texts]

    def decode(self, tokens) -> str:
        return bytes(tokens).decode("utf-8", errors="replace")


class JSONTokenizer:
    """A Hugging Face `tokenizers` tokenizer saved as JSON."""

    def __init__(self, path):
        try:
            from tokenizers import Tokenizer
        except ImportError as error:
            raise ImportError(
                f"--tokenizer {path} needs the `tokenizers` package (pip install tokenizers); "
                "without --tokenizer the built-in byte tokenizer is used"
            ) from error
        self._tokenizer = Tokenizer.from_file(str(path))
        self.vocab_size = self._tokenizer.get_vocab_size()
        self.name = str(path)

    def encode(self, text: str) -> list[int]:
        return self._tokenizer.encode(text).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [encoding.ids for encoding in self._tokenizer.encode_batch(texts)]

    def decode(self, tokens) -> str:
        return self._tokenizer.decode(list(tokens))


def load_tokenizer(path: str | None):
    """The byte tokenizer for None, else the `tokenizers` JSON file at ``path``."""
    if path is None:
        return ByteTokenizer()
    if not Path(path).is_file():
        raise FileNotFoundError(f"--tokenizer: no such file {path}")
    return JSONTokenizer(path)
