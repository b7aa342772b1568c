"""nn.RNN (placeholder until the RNN work lands; owned by the RNN work)."""


class RNN:  # pragma: no cover - placeholder
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("nn.RNN is not implemented yet")
