"""dtypes and devices as PyTorch spells them: ``cr.float32``, ``cr.long``, ...,
``cr.device("cpu")``. A dtype here is the NumPy dtype itself (``cr.float32 is
np.dtype("float32")``), so ``t.dtype == cr.float32`` and ``t.dtype == np.float32`` both hold.

Only float32/float64 tensors take part in autograd; integer and bool tensors exist for
labels, masks and indices (no gradient).
"""
from __future__ import annotations

import numpy as np

__all__ = ["float32", "float64", "float", "double", "int64", "long", "int32", "int", "int16",
           "short", "int8", "uint8", "bool", "FLOATS", "SUPPORTED", "to_dtype", "device",
           "check_device", "CPU", "get_default_dtype", "set_default_dtype"]

_builtin_float, _builtin_int, _builtin_bool = float, int, bool

# declared first: mypy cannot infer np.dtype(np.int64)'s type through the chained names
int64: np.dtype
long: np.dtype
int32: np.dtype
int: np.dtype
int16: np.dtype
short: np.dtype
int8: np.dtype
bool: np.dtype
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
int64 = long = np.dtype(np.int64)
int32 = int = np.dtype(np.int32)
int16 = short = np.dtype(np.int16)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool = np.dtype(np.bool_)

FLOATS = (float32, float64)  # the dtypes a tensor that requires grad may hold
SUPPORTED = (float32, float64, int64, int32, int16, int8, uint8, bool)
# dtype=float/int/bool (the Python types) mean what they mean to PyTorch: float64, int64,
# bool (torch.tensor([1], dtype=float).dtype is torch.float64; cr.float is float32)
_PY = {_builtin_float: float64, _builtin_int: int64, _builtin_bool: bool}


# PyTorch's default floating dtype: what factories, Python-float data and new module
# parameters get when no dtype is given. A one-element list so readers see changes.
_default = [float32]


def get_default_dtype() -> np.dtype:
    """The current default floating dtype (float32 unless :func:`set_default_dtype`)."""
    return _default[0]


def set_default_dtype(d) -> None:
    """Set the default floating dtype (cr.float32 or cr.float64, as torch.set_default_dtype):
    used by factories (zeros, rand, ...), tensors made from Python floats, arange/linspace
    with float arguments and the parameters of modules created afterwards."""
    try:
        dt = None if d is None or (isinstance(d, type) and d in _PY) else np.dtype(d)
    except TypeError:
        dt = None
    if dt is None or dt not in FLOATS:  # (np.dtype("float64") == None is True)
        raise TypeError(f"set_default_dtype: only floating dtypes cr.float32 and cr.float64 are "
                        f"supported, got {d!r}")
    _default[0] = dt


def to_dtype(fn, dtype, name="dtype"):
    """A supported NumPy dtype from ``dtype`` (a cr/NumPy dtype, a NumPy scalar type, the
    Python types float/int/bool, or a name like 'float32'); TypeError naming ``fn`` else."""
    if dtype in _PY and isinstance(dtype, type):
        return _PY[dtype]
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{fn}: argument '{name}' must be a dtype such as cr.float32 or "
                        f"cr.int64, got {dtype!r}") from None
    if dt not in SUPPORTED:
        raise TypeError(f"{fn}: dtype {dt} is not supported; use one of "
                        f"{', '.join(str(d) for d in SUPPORTED)}")
    return dt


class device:
    """``cr.device("cpu")``: chainrule runs on the CPU only; any other device is a
    ValueError. Compares equal to the string "cpu"."""

    __slots__ = ("type",)

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type = type.type
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string like 'cpu', got {type!r}")
        name = type.split(":")[0]
        if name != "cpu" or (index not in (None, 0)):
            raise ValueError(f"device: chainrule runs on the CPU only; got device {type!r}"
                             + (f" index {index}" if index is not None else ""))
        self.type = "cpu"

    @property
    def index(self):
        return None

    def __eq__(self, other):
        if isinstance(other, str):
            return other.split(":")[0] == "cpu"
        return isinstance(other, device)

    def __hash__(self):
        return hash("cpu")

    def __repr__(self):
        return "device(type='cpu')"

    def __str__(self):
        return "cpu"


CPU = device("cpu")


def check_device(fn, dev):
    """None or the CPU (a cr.device or a string) pass; anything else is a ValueError."""
    if dev is None or isinstance(dev, device):
        return
    if isinstance(dev, _builtin_int) and not isinstance(dev, _builtin_bool):
        raise ValueError(f"{fn}: device {dev!r} is a GPU index; chainrule runs on the CPU only")
    if not isinstance(dev, str):
        raise TypeError(f"{fn}: argument 'device' must be a string like 'cpu' or a cr.device, "
                        f"got {type(dev).__name__}")
    if dev.split(":")[0] != "cpu":
        raise ValueError(f"{fn}: chainrule runs on the CPU only; got device {dev!r}")
