"""Evaluation suites and benchmarks: each prints a table and writes JSON."""
