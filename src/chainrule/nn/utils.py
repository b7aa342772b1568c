"""nn.utils: clip_grad_norm_ (placeholder until the RNN work lands)."""
