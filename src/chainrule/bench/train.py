"""Benchmarks for the train family (placeholder)."""
