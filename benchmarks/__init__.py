"""Benchmarks of labutils against the lab notes' recipe: `python -m benchmarks.run` (see benchmarks/README.md)."""
