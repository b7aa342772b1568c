"""Benchmarks for the conv family (placeholder)."""
