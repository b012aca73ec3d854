"""servflow benchmarks: run with ``python -m benchmarks [--quick]``."""
