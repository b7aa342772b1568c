"""conv kernels (placeholder; filled in by the conv work)."""
__all__ = []
