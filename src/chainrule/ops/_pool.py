"""pool kernels (placeholder; filled in by the pool work)."""
__all__ = []
