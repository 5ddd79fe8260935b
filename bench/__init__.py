"""Scale benchmarks (never timed tests): run them from the repository root as ``python -m bench.<name>``."""
