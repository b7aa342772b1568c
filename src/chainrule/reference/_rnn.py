"""rnn kernels (placeholder; filled in by the rnn work)."""
__all__ = []
