"""`python -m rdm.bench`: the same as the rdm-bench console script."""
import sys

from rdm.bench.cli import main

sys.exit(main())
