"""Benchmarks (see bench/README or the README performance section)."""
