"""``rdm-train`` / ``python -m rdm.train``: parse the settings and train."""
import sys

from .config import parse_args
from .trainer import train


def main(argv=None) -> int:
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
