"""Argument checks shared by ``chainrule.ops`` and ``chainrule.reference``.

Every public kernel validates its inputs here before touching C: wrong types raise
TypeError, wrong ranks/shapes/values raise ValueError, and every message names the
function, the argument, what was expected and what was received.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_F32, _F64 = FLOAT_DTYPES
_ND = np.ndarray
_I64: np.dtype = np.dtype(np.int64)


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"ndarray of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__}"


def as_float_array(fn: str, name: str, x, ndim=None, *, contiguous: bool = True) -> np.ndarray:
    """Return ``x`` as a float32/float64 ndarray (C-contiguous unless told otherwise).

    ``ndim`` may be an int or a tuple of allowed ranks. Non-contiguous inputs are copied.
    """
    if type(x) is _ND and (x.dtype is _F32 or x.dtype is _F64) and x.flags.c_contiguous \
            and (ndim is None or x.ndim == ndim):  # fast path: nothing to convert
        return x
    if x is None:
        raise TypeError(f"{fn}: argument '{name}' must be a float32 or float64 array, got None")
    if type(x) is not np.ndarray:  # np.matrix etc. become plain arrays (never their own `*`)
        if isinstance(getattr(x, "array", None), np.ndarray):  # a Tensor
            x = x.array
        else:
            try:
                x = np.asarray(x)
            except Exception as e:  # pragma: no cover - exotic objects
                raise TypeError(f"{fn}: argument '{name}' must be an array, got {_describe(x)}") from e
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{fn}: argument '{name}' must have dtype float32 or float64, got {x.dtype} "
            f"(shape {x.shape})")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{fn}: argument '{name}' must be {want}, got shape {x.shape}")
    if contiguous and not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    return x


def plain(dt, *arrays) -> bool:
    """True when dt is float32/float64 and every array is a C-contiguous ndarray of dtype
    dt: the common case, handed to C without conversion (the caller still checks the
    shapes, and takes the full checks when this is False)."""
    if dt is not _F32 and dt is not _F64:
        return False
    for a in arrays:
        if not (type(a) is _ND and a.dtype is dt and a.flags.c_contiguous):
            return False
    return True


def same_dtype(fn: str, **arrays) -> np.dtype:
    """Check that all given (non-None) arrays share one float dtype and return it."""
    dt = None
    for v in arrays.values():  # fast path: no lists, no message unless they differ
        if v is not None:
            if dt is None:
                dt = v.dtype
            elif v.dtype != dt:
                break
    else:
        if dt is not None:
            return dt
    items = [(k, v) for k, v in arrays.items() if v is not None]
    dt = items[0][1].dtype
    for k, v in items[1:]:
        if v.dtype != dt:
            desc = ", ".join(f"'{kk}' {vv.dtype}" for kk, vv in items)
            raise TypeError(f"{fn}: mixed float dtypes ({desc}); all arrays must share one dtype "
                            f"(cast with .astype)")
    return dt


def check_shape(fn: str, name: str, x: np.ndarray, expected: tuple) -> None:
    """``expected`` may contain None for 'any size' in a dimension."""
    if x.shape == expected:  # fast path
        return
    ok = x.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, x.shape))
    if not ok:
        want = "(" + ", ".join("*" if e is None else str(e) for e in expected) + \
               ("," if len(expected) == 1 else "") + ")"
        raise ValueError(f"{fn}: argument '{name}' must have shape {want}, got {x.shape}")


def as_int(fn: str, name: str, v, minimum=None) -> int:
    if type(v) is int and (minimum is None or v >= minimum) and v <= 2**63 - 1:
        return v  # fast path: a plain int in range (no ABC checks)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{fn}: argument '{name}' must be an int, got {v!r}")
    v = int(v)
    if minimum is not None and v < minimum:
        raise ValueError(f"{fn}: argument '{name}' must be >= {minimum}, got {v}")
    if v > 2**63 - 1:
        raise ValueError(f"{fn}: argument '{name}' must be < 2**63, got {v}")
    return v


# ---- sizes -------------------------------------------------------------------------------
# A kernel's output or work array of more than 2**48 elements is past the address space of
# any machine chainrule runs on (and far past its RAM), and the C side's int64 index and
# byte products (N*K*P*Q, (C*R*S + K)*P*Q*threads*8, kh*kw, ...) could overflow on such
# sizes: the wrappers reject them with a ValueError before allocating or calling C.
MAX_ELEMS = 2**48
MAX_BYTES = 2**63 - 1  # NumPy's (and malloc's) limit for one array


def check_numel(fn: str, what: str, shape) -> int:
    """The element count of ``shape``; a ValueError naming ``fn`` and ``what`` past 2**48."""
    n = 1
    for s in shape:
        n *= int(s)
    if n > MAX_ELEMS:
        raise ValueError(f"{fn}: {what} {tuple(int(s) for s in shape)} would hold {n} elements, "
                         f"more than any machine can address (2**48); the sizes are too large")
    return n


def check_bytes(fn: str, name: str, shape, dtype) -> int:
    """The bytes of an array of ``shape`` and ``dtype``; a ValueError naming ``fn`` and
    ``name`` when no array can be that large (NumPy's limit, 2**63 - 1 bytes)."""
    dt = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    nbytes = dt.itemsize
    for s in shape:
        nbytes *= s
    if nbytes > MAX_BYTES or any(s > MAX_BYTES for s in shape):
        raise ValueError(f"{fn}: {name} of shape {shape} and dtype {dt} would take {nbytes} "
                         f"bytes, more than an array can hold (2**63 - 1)")
    return nbytes


def alloc(fn: str, name: str, shape, dtype, fill=None) -> np.ndarray:
    """``np.empty(shape, dtype)`` (``np.full`` with ``fill``) for a size the user chose (a
    module's parameters, a factory): a size no array can have is a ValueError, one the
    machine cannot give a MemoryError, both naming ``fn``, ``name``, the shape and the
    bytes (PyTorch raises RuntimeError naming the bytes for both)."""
    dt = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    nbytes = check_bytes(fn, name, shape, dt)
    try:
        return np.empty(shape, dt) if fill is None else np.full(shape, fill, dt)
    except MemoryError:
        raise MemoryError(f"{fn}: cannot allocate {nbytes} bytes for {name} of shape {shape} "
                          f"and dtype {dt}") from None


def pair(fn: str, name: str, v, minimum=None) -> tuple:
    """An int or an (h, w) pair of ints -> (h, w), each checked against ``minimum``."""
    if type(v) is tuple and len(v) == 2 and type(v[0]) is int and type(v[1]) is int \
            and (minimum is None or (v[0] >= minimum and v[1] >= minimum)) \
            and v[0] <= 2**63 - 1 and v[1] <= 2**63 - 1:
        return v  # fast path: a pair of plain ints in range
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{fn}: argument '{name}' must be an int or a pair (h, w), got {v!r}")
        return (as_int(fn, name, v[0], minimum), as_int(fn, name, v[1], minimum))
    if isinstance(v, np.ndarray) and v.shape == (2,):
        return (as_int(fn, name, v[0].item(), minimum), as_int(fn, name, v[1].item(), minimum))
    x = as_int(fn, name, v, minimum)
    return (x, x)


# ---- convolution and pooling argument checks (shared by ops and reference) -------------

def conv_padding(fn: str, x, w_shape, stride, padding, dilation):
    """padding "valid" -> 0; "same" (stride 1 only) -> the symmetric part d*(k-1)//2, and x
    gets the odd extra zero row/column at the bottom/right (PyTorch's choice). Returns
    (x, padding, crop): crop says x was extended (the caller crops dx back)."""
    if not isinstance(padding, str):
        return x, padding, False
    if padding == "valid":
        return x, 0, False
    if padding != "same":
        raise ValueError(f"{fn}: argument 'padding' must be an int, a pair, 'valid' or 'same', "
                         f"got {padding!r}")
    if pair(fn, "stride", stride, 1) != (1, 1):
        raise ValueError(f"{fn}: padding='same' needs stride 1, got stride {stride}")
    dil = pair(fn, "dilation", dilation, 1)
    total = [d * (k - 1) for d, k in zip(dil, tuple(w_shape)[2:4])]
    extra = [t % 2 for t in total]
    if any(extra):
        x = np.pad(x, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))
    return x, (total[0] // 2, total[1] // 2), any(extra)


def conv_groups(fn: str, groups, C, K) -> int:
    """groups: an int >= 1 dividing both the input channels C and the filters K."""
    groups = as_int(fn, "groups", groups, 1)
    if C % groups or K % groups:
        raise ValueError(f"{fn}: groups={groups} must divide the input channels ({C}) and "
                         f"the output channels ({K})")
    return groups


def conv2d_output_size(fn: str, x_shape, w_shape, stride, padding, dilation,
                       groups=1) -> tuple:
    """Normalise stride/padding/dilation to pairs and return (stride, padding, dilation, (P, Q)).

    x_shape (N, C, H, W), w_shape (K, C / groups, R, S); P = (H + 2ph - dh(R-1) - 1)//sh + 1.
    """
    stride = pair(fn, "stride", stride, 1)
    padding = pair(fn, "padding", padding, 0)
    dilation = pair(fn, "dilation", dilation, 1)
    N, C, H, W = x_shape
    K, Cw, R, S = w_shape
    groups = conv_groups(fn, groups, C, K)
    if groups != 1:
        if Cw * groups != C:
            raise ValueError(f"{fn}: channel mismatch: x {tuple(x_shape)} has C={C} channels "
                             f"but w {tuple(w_shape)} with groups={groups} expects "
                             f"C={Cw * groups}")
        Cw = C
    if Cw != C:
        raise ValueError(f"{fn}: channel mismatch: x {tuple(x_shape)} has C={C} channels but "
                         f"w {tuple(w_shape)} expects C={Cw}")
    if min(C, H, W) < 1 or min(K, R, S) < 1:
        raise ValueError(f"{fn}: empty dimension: x {tuple(x_shape)}, w {tuple(w_shape)} "
                         f"(only the batch N may be 0)")
    check_numel(fn, "the zero-padded input image (C, H + 2*ph, W + 2*pw)",
                (C, H + 2 * padding[0], W + 2 * padding[1]))
    out = []
    for name, size, k, s, p, d in (("height", H, R, stride[0], padding[0], dilation[0]),
                                   ("width", W, S, stride[1], padding[1], dilation[1])):
        eff = d * (k - 1) + 1
        if eff > size + 2 * p:
            raise ValueError(f"{fn}: kernel {name} {k} (dilated to {eff}) is larger than the "
                             f"padded input {name} {size} + 2*{p} (x {tuple(x_shape)}, "
                             f"w {tuple(w_shape)})")
        out.append((size + 2 * p - eff) // s + 1)
    check_numel(fn, "the output (N, K, P, Q)", (N, K) + tuple(out))
    check_numel(fn, "one image's im2col columns (C*R*S + K, P*Q)",
                (C * R * S + K, out[0] * out[1]))
    return stride, padding, dilation, tuple(out)


def pool2d_output_size(fn: str, x_shape, kernel_size, stride, padding) -> tuple:
    """Normalise kernel/stride/padding (stride None = kernel) and return
    (kernel, stride, padding, (P, Q)); P = (H + 2ph - kh)//sh + 1. PyTorch's rule
    padding <= kernel/2 is enforced."""
    kernel, stride, padding, _, PQ = pool2d_args(fn, x_shape, kernel_size, stride, padding)
    return kernel, stride, padding, PQ


def pool2d_args(fn: str, x_shape, kernel_size, stride, padding, dilation=1,
                ceil_mode=False) -> tuple:
    """pool2d_output_size with dilation and ceil_mode: (kernel, stride, padding, dilation,
    (P, Q)). P = (H + 2ph - dh*(kh-1) - 1)/sh + 1 rounded down, or up with ceil_mode (then
    one less when the last window would start past the input and the left padding, PyTorch's
    rule). padding <= kernel/2 (the undilated kernel, PyTorch's rule); a dilated window
    that holds no input element is a ValueError (PyTorch returns -inf and a bad index)."""
    kernel = pair(fn, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None else pair(fn, "stride", stride, 1)
    padding = pair(fn, "padding", padding, 0)
    dilation = pair(fn, "dilation", dilation, 1)
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"{fn}: argument 'ceil_mode' must be a bool, got {ceil_mode!r}")
    N, C, H, W = x_shape
    if min(H, W) < 1:
        raise ValueError(f"{fn}: input {tuple(x_shape)} has an empty plane")
    out = []
    for name, size, k, s, p, dl in (("height", H, kernel[0], stride[0], padding[0], dilation[0]),
                                    ("width", W, kernel[1], stride[1], padding[1], dilation[1])):
        if 2 * p > k:
            raise ValueError(f"{fn}: padding {name} {p} must be at most half the kernel size "
                             f"{k} (got kernel_size {kernel}, padding {padding})")
        ext = dl * (k - 1) + 1
        if ext > size + 2 * p:
            what = "kernel" if dl == 1 else "dilated kernel"
            raise ValueError(f"{fn}: {what} {name} {ext} is larger than the padded input "
                             f"{name} {size} + 2*{p} (input {tuple(x_shape)})")
        e = size + 2 * p - ext
        o = (-(-e // s) if ceil_mode else e // s) + 1
        if ceil_mode and (o - 1) * s >= size + p:
            o -= 1
        for j in range(o if dl > 1 else 0):  # windows starting in the left padding
            a = j * s - p
            if a >= 0:
                break
            i0 = -(a // dl)
            if i0 >= k or a + i0 * dl >= size:
                raise ValueError(f"{fn}: window {j} along the {name} holds no input element "
                                 f"(input {tuple(x_shape)}, kernel_size {kernel}, padding "
                                 f"{padding}, dilation {dilation})")
        out.append(o)
    check_numel(fn, "the output (N, C, P, Q)", (N, C) + tuple(out))
    return kernel, stride, padding, dilation, tuple(out)


def divisor_arg(fn: str, divisor_override) -> int:
    """avg pooling's divisor_override: None -> 0, else an int >= 1."""
    if divisor_override is None:
        return 0
    return as_int(fn, "divisor_override", divisor_override, 1)


def flag(fn: str, name: str, v) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{fn}: argument '{name}' must be a bool, got {v!r}")
    return bool(v)


def adaptive_output_size(fn: str, x_shape, output_size) -> tuple:
    """(P, Q) from an int, a pair, or a pair with None entries (None keeps the input size)."""
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise ValueError(f"{fn}: argument 'output_size' must be an int or a pair, got "
                             f"{output_size!r}")
        pq = tuple(x_shape[2 + i] if v is None else as_int(fn, "output_size", v, 1)
                   for i, v in enumerate(output_size))
    else:
        pq = (as_int(fn, "output_size", output_size, 1),) * 2
    if min(x_shape[2], x_shape[3]) < 1:
        raise ValueError(f"{fn}: input {tuple(x_shape)} has an empty plane")
    check_numel(fn, "the output (N, C, P, Q) for this output_size", tuple(x_shape[:2]) + pq)
    return pq


def unfold_args(fn: str, x_shape, kernel_size, stride, padding, dilation) -> tuple:
    """im2col / col2im: x_shape (N, C, H, W) -> (wshape (1, C, R, S), stride, padding,
    dilation, (P, Q)), everything normalised to pairs and checked like a convolution."""
    R, S = pair(fn, "kernel_size", kernel_size, 1)
    wshape = (1, x_shape[1], R, S)
    stride, padding, dilation, PQ = conv2d_output_size(fn, x_shape, wshape, stride, padding,
                                                       dilation)
    return wshape, stride, padding, dilation, PQ


def shape_nd(fn: str, name: str, shape, ndim: int) -> tuple:
    """An ``ndim``-tuple of non-negative ints (a shape given by the caller)."""
    if isinstance(shape, np.ndarray):
        shape = shape.tolist()
    if not isinstance(shape, (tuple, list)) or len(shape) != ndim:
        raise ValueError(f"{fn}: argument '{name}' must be a {ndim}-tuple, got {shape!r}")
    shape = tuple(as_int(fn, name, v, 0) for v in shape)
    check_numel(fn, f"argument '{name}'", shape)
    return shape


def shape4(fn: str, name: str, shape) -> tuple:
    """A 4-tuple of non-negative ints (an NCHW shape given by the caller)."""
    if isinstance(shape, np.ndarray):
        shape = shape.tolist()
    if not isinstance(shape, (tuple, list)) or len(shape) != 4:
        raise ValueError(f"{fn}: argument '{name}' must be a 4-tuple (N, C, H, W), got {shape!r}")
    shape = tuple(as_int(fn, name, v, 0) for v in shape)
    check_numel(fn, f"argument '{name}'", shape)
    return shape


def as_index_array(fn: str, name: str, x) -> np.ndarray:
    """An integer ndarray as C-contiguous int64 (floats and bools are a TypeError)."""
    if type(x) is _ND and x.dtype is _I64 and x.flags.c_contiguous:  # fast path
        return x
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"{fn}: argument '{name}' must be an integer (int64) array, got "
                        f"{_describe(x)}")
    return np.ascontiguousarray(x, dtype=np.int64)

# ---- RNN (ops.rnn_* and reference.rnn_*) ----------------------------------------------
RNN_NONLINEARITIES = ("tanh", "relu", "sigmoid")


def rnn_nonlinearity(fn: str, nonlinearity) -> str:
    """Check the RNN activation name: one of 'tanh', 'relu', 'sigmoid'."""
    if not isinstance(nonlinearity, str):
        raise TypeError(f"{fn}: argument 'nonlinearity' must be a str, got {nonlinearity!r}")
    if nonlinearity not in RNN_NONLINEARITIES:
        raise ValueError(f"{fn}: unknown nonlinearity {nonlinearity!r}; expected one of "
                         f"{', '.join(repr(n) for n in RNN_NONLINEARITIES)}")
    return nonlinearity


def rnn_args(fn: str, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, **seqs):
    """Validate the arguments of an RNN kernel; return (arrays dict, (T, N, I, H)).

    x (T, N, I), h0 (N, H), w_ih (H, I), w_hh (H, H), b_ih (H,) or None, b_hh (H,) or None;
    each of ``seqs`` (e.g. hs, dhs) must be (T, N, H). All arrays share one float dtype and
    are returned C-contiguous.
    """
    a: dict[str, Any] = {"x": as_float_array(fn, "x", x, 3),
         "h0": as_float_array(fn, "h0", h0, 2),
         "w_ih": as_float_array(fn, "w_ih", w_ih, 2),
         "w_hh": as_float_array(fn, "w_hh", w_hh, 2)}
    a["b_ih"] = None if b_ih is None else as_float_array(fn, "b_ih", b_ih, 1)
    a["b_hh"] = None if b_hh is None else as_float_array(fn, "b_hh", b_hh, 1)
    for k, v in seqs.items():
        a[k] = as_float_array(fn, k, v, 3)
    same_dtype(fn, **a)
    T, N, I = a["x"].shape
    if a["w_hh"].shape[0] != a["w_hh"].shape[1]:
        raise ValueError(f"{fn}: argument 'w_hh' must be square (H, H), got {a['w_hh'].shape}")
    H = a["w_hh"].shape[0]
    # sizes come from x (T, N, I) and w_hh (H, H); say so in every message
    ctx = f" (T, N, I) = {(T, N, I)} from 'x' and H = {H} from 'w_hh'"
    want = {"w_ih": (H, I), "h0": (N, H), "b_ih": (H,), "b_hh": (H,)}
    want.update({k: (T, N, H) for k in seqs})
    for k, shape in want.items():
        if a[k] is not None and a[k].shape != shape:
            raise ValueError(f"{fn}: argument '{k}' must have shape {shape}, got "
                             f"{a[k].shape};{ctx}")
    return a, (T, N, I, H)


# ---- dense layer (ops.linear_* and reference.linear_*) --------------------------------
def linear_args(fn: str, x, w, b):
    """x (N, in), w (out, in), b (out,) or None: one float dtype, C-contiguous."""
    x = as_float_array(fn, "x", x, 2)
    w = as_float_array(fn, "w", w, 2)
    if b is not None:
        b = as_float_array(fn, "b", b, 1)
    same_dtype(fn, x=x, w=w, b=b)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"{fn}: x has {x.shape[1]} features but w expects {w.shape[1]}: "
                         f"x {x.shape} must be (N, in) and w {w.shape} must be (out, in)")
    if b is not None:
        check_shape(fn, "b", b, (w.shape[0],))
    return x, w, b


# ---- outputs written in place (ops' keyword-only ``out=``; optimizer state) ------------
def out_array(fn: str, name: str, out, shape: tuple, dtype) -> np.ndarray:
    """``out`` must be a writable C-contiguous ndarray of exactly this shape and dtype (it is
    written in place, so it is never copied or cast)."""
    if type(out) is np.ndarray and out.shape == shape and out.dtype == dtype \
            and out.flags.c_contiguous and out.flags.writeable:  # fast path
        return out
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{fn}: argument '{name}' must be an ndarray (written in place), "
                        f"got {_describe(out)}")
    if out.dtype != dtype:
        raise TypeError(f"{fn}: argument '{name}' must have dtype {np.dtype(dtype)}, got "
                        f"{out.dtype} (shape {out.shape})")
    if out.shape != tuple(shape):
        raise ValueError(f"{fn}: argument '{name}' must have shape {tuple(shape)}, got "
                         f"{out.shape}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"{fn}: argument '{name}' must be a writable C-contiguous array "
                         f"(it is written in place), got strides {out.strides}")
    return out


def as_real(fn: str, name: str, v) -> float:
    """A real number (bool and complex are a TypeError) as a float."""
    if type(v) is float:  # fast path
        return v
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{fn}: argument '{name}' must be a real number, got {v!r}")
    return float(v)


def actfn_params(fn: str, kind: str, p0, p1) -> tuple:
    """Checked parameters (p0, p1) of a parameterised activation (csrc/actfn.h)."""
    if kind == "gelu":
        if p0 not in ("none", "tanh"):
            raise ValueError(f"{fn}: approximate must be 'none' or 'tanh', got {p0!r}")
        return (1.0 if p0 == "tanh" else 0.0), 0.0
    if kind == "silu":
        return 0.0, 0.0
    names = {"leaky_relu": ("negative_slope", None), "elu": ("alpha", None),
             "softplus": ("beta", "threshold"), "hardtanh": ("min_val", "max_val")}[kind]
    a = as_real(fn, names[0], p0)
    b = as_real(fn, names[1], p1) if names[1] else 0.0
    if kind == "softplus" and not 1e-30 <= abs(a) <= 1e30:  # float32 keeps it non-zero
        raise ValueError(f"{fn}: beta must be non-zero with 1e-30 <= |beta| <= 1e30, got "
                         f"{p0!r}")
    if kind == "hardtanh" and a > b:
        raise ValueError(f"{fn}: max_val ({p1!r}) must be >= min_val ({p0!r})")
    return a, b


def softmax_dim(fn: str, dim, ndim: int) -> int:
    """A softmax axis: an int in [-ndim, ndim) (0-d arrays take 0 or -1) -> a non-negative
    axis of a max(ndim, 1)-D array."""
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{fn}: argument 'dim' must be an int, got {dim!r}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise ValueError(f"{fn}: dim {dim} is out of range for an array with {ndim} dims")
    return int(dim) % n
