"""Benchmarks for the gemm family (placeholder)."""
