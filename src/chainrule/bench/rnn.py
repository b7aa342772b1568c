"""Benchmarks for the rnn family (placeholder)."""
