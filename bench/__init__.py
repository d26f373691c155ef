"""Benchmarks for the performance targets of SPEC §10 (run them; they print their figures)."""
