"""Argument checks of the gated recurrent kernels (LSTM, GRU), shared by ``chainrule.ops``
and ``chainrule.reference``: one table says which shape each argument must have."""
from __future__ import annotations

from typing import Any

from ._checks import as_float_array, same_dtype

# the shape of each argument in terms of T, N, I, H and the gate count G
_SHAPES = {
    "x": lambda T, N, I, H, G: (T, N, I),
    "w_ih": lambda T, N, I, H, G: (G * H, I),
    "w_hh": lambda T, N, I, H, G: (G * H, H),
    "b_ih": lambda T, N, I, H, G: (G * H,),
    "b_hh": lambda T, N, I, H, G: (G * H,),
    "h0": lambda T, N, I, H, G: (N, H),
    "c0": lambda T, N, I, H, G: (N, H),
    "dc_n": lambda T, N, I, H, G: (N, H),
    "hs": lambda T, N, I, H, G: (T, N, H),
    "cs": lambda T, N, I, H, G: (T, N, H),
    "dhs": lambda T, N, I, H, G: (T, N, H),
    "gates": lambda T, N, I, H, G: (T, N, 4 * H),
}
_NDIM = {"x": 3, "w_ih": 2, "w_hh": 2, "b_ih": 1, "b_hh": 1, "h0": 2, "c0": 2, "dc_n": 2,
         "hs": 3, "cs": 3, "dhs": 3, "gates": 3}
_OPTIONAL = ("b_ih", "b_hh", "dc_n")


def gated_args(fn: str, G: int, **arrays):
    """Validate the arguments of an LSTM (G = 4) or GRU (G = 3) kernel.

    Sizes come from x (T, N, I) and w_hh (G*H, H); every other argument (None allowed for
    b_ih, b_hh, dc_n) must have its shape from the table above. All arrays share one float
    dtype and are returned C-contiguous: (dict name -> array or None, (T, N, I, H)).
    """
    a: dict[str, Any] = {
        k: None if v is None and k in _OPTIONAL else as_float_array(fn, k, v, _NDIM[k])
        for k, v in arrays.items()}
    same_dtype(fn, **a)
    T, N, I = a["x"].shape
    w = a["w_hh"]
    H = w.shape[1]
    if w.shape[0] != G * H:
        raise ValueError(f"{fn}: argument 'w_hh' must have shape ({G}*H, H) (gates stacked "
                         f"in PyTorch's order), got {w.shape}")
    ctx = f" (T, N, I) = {(T, N, I)} from 'x' and H = {H} from 'w_hh'"
    for k, v in a.items():
        if v is not None:
            want = _SHAPES[k](T, N, I, H, G)
            if v.shape != want:
                raise ValueError(f"{fn}: argument '{k}' must have shape {want}, got "
                                 f"{v.shape};{ctx}")
    return a, (T, N, I, H)
