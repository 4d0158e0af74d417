"""rdm-bench: correctness-checked benchmarks of rdm's kernels.

Run `rdm-bench --help` (or `python -m rdm.bench --help`). Importing this package does
not load the compiled library; a case imports rdm.ops / rdm.reference when it runs.
"""
