"""Benchmarks of issue 5: the sync against the source's limit, against dlt, and its costs.

`python -m benchmarks.run_all [--quick]` runs them all and writes docs/benchmarks.md.
"""
