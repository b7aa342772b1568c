"""chainrule.utils — PyTorch's ``torch.utils`` counterparts (``chainrule.utils.data``)."""
from . import data

__all__ = ["data"]
