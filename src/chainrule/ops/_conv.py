"""2-D convolution by im2col + GEMM (C with OpenMP): forward, backward, workspace control.

Shapes (PyTorch's): x (N, C, H, W), w (K, C, R, S), b (K,), y (N, K, P, Q) with
P = (H + 2*ph - dh*(R-1) - 1) // sh + 1 and Q likewise. ``stride``, ``padding`` and
``dilation`` are an int or an (h, w) pair.

Memory: the kernels never build im2col for a whole batch. Each thread owns one scratch
buffer holding the im2col columns of a block of output rows of one image (or of a few
small images side by side), capped by :func:`set_workspace_limit` (bytes per thread,
default 64 MiB, so the Winograd weights of 512->512 layers fit; exceeded only when a single
output row needs more: (C*R*S + K)*Q values).
Small stride-1 float32 layers on AVX-512 CPUs skip im2col and only keep a zero-padded
copy of one image per thread. :func:`conv2d_workspace_bytes` says exactly how much a call
allocates in total; one such buffer is kept between calls for reuse.

Results are deterministic: bitwise identical run to run, and (tested for 1 and 2) for any
thread count: threads split images and the columns of dw, never a sum.
"""
from __future__ import annotations

from typing import Any, Optional, TYPE_CHECKING, Tuple

import numpy as np

from .. import _kernels
from .._checks import (as_float_array, as_int, conv2d_output_size, conv_padding, same_dtype,
                       shape_nd, unfold_args)

if TYPE_CHECKING:
    from .._typing import DTypeLike

__all__ = ["conv2d_forward", "conv2d_backward", "im2col", "col2im", "set_workspace_limit",
           "get_workspace_limit", "conv2d_workspace_bytes", "conv2d_plan"]


# conv2d_output_size of argument sets that passed its checks before (a training step asks
# the same few every time, forward and backward): an exact-int key only, so a bool, float
# or NumPy integer stride still gets the checks' TypeError; bounded, cleared when full.
_SIZES: dict = {}


def _plain_pair(v) -> bool:
    return type(v) is int or (type(v) is tuple and len(v) == 2 and type(v[0]) is int
                              and type(v[1]) is int)


def _output_size(fn, x_shape, w_shape, stride, padding, dilation, groups):
    """conv2d_output_size(fn, ...), memoised for plain int arguments (same results)."""
    if (type(groups) is int and _plain_pair(stride) and _plain_pair(padding)
            and _plain_pair(dilation)):
        key = (x_shape, w_shape, stride, padding, dilation, groups)
        hit = _SIZES.get(key)
        if hit is None:
            hit = conv2d_output_size(fn, x_shape, w_shape, stride, padding, dilation, groups)
            if len(_SIZES) >= 256:
                _SIZES.clear()
            _SIZES[key] = hit
        return hit
    return conv2d_output_size(fn, x_shape, w_shape, stride, padding, dilation, groups)


def set_workspace_limit(nbytes: int) -> None:
    """Cap the im2col scratch of the conv kernels at ``nbytes`` bytes per thread (>= 1).

    Also releases the scratch buffer the kernels keep between calls."""
    nbytes = as_int("set_workspace_limit", "nbytes", nbytes, 1)
    _kernels.conv_set_workspace_limit(nbytes)


def get_workspace_limit() -> int:
    """The current per-thread cap of the conv scratch, in bytes."""
    return _kernels.conv_get_workspace_limit()


def conv2d_workspace_bytes(x_shape, w_shape, stride=1, padding=0, dilation=1,
                           dtype: DTypeLike = np.float32, *, backward: bool = False) -> int:
    """Total scratch bytes (all threads) conv2d_forward / conv2d_backward allocate for
    these shapes with the current thread count and workspace limit."""
    fn = "conv2d_workspace_bytes"
    stride, padding, dilation, _ = conv2d_output_size(fn, tuple(x_shape), tuple(w_shape),
                                                      stride, padding, dilation)
    return _kernels.conv2d_workspace_bytes(tuple(int(v) for v in x_shape),
                                           tuple(int(v) for v in w_shape), stride, padding,
                                           dilation, int(bool(backward)),
                                           np.dtype(dtype).itemsize)


def _step(info, which):
    """One phase of a plan (forward, dx or dw) from the C plan's figures."""
    algo = info["path"] if which == "forward" else info[f"{which}_path"]
    blocking = None
    if algo in ("im2col", "pointwise", "pointwise_dot"):
        blocking = dict(images_per_block=info["G"], rows_per_block=info["rows"],
                        columns=info["cols"], blocks=info["blocks"])
    elif algo in ("winograd", "winograd4_small"):
        blocking = dict(images_per_block=info["G"], tile_rows_per_block=info["rows"],
                        tiles_per_block=info["cols"], blocks=info["blocks"])
    return dict(algorithm=algo, threads=info["threads"], blocking=blocking,
                workspace_bytes=info["ws_bytes"])


def conv2d_plan(x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1, dtype=np.float32):
    """What conv2d_forward / conv2d_backward will run for these shapes, with the current
    thread count, workspace limit, instruction set and algorithm setting
    (CHAINRULE_CONV_ALGO / chainrule._runtime.set_conv_algo: "auto", "im2col", "implicit",
    "winograd", "pointwise").

    Returns {"algo": the setting, "groups": groups, "forward": step, "dx": step, "dw": step}
    where step = {"algorithm", "threads", "blocking", "workspace_bytes"}. algorithm is
    "im2col" (im2col + matrix products), "pointwise" (1x1 without padding, any stride and
    algorithm setting: one matrix product over the pixels of all N images, its panels packed
    straight from the images; blocking: images_per_block = N, blocks = 1), "pointwise_dot"
    (its dw for float32 stride-1 layers on AVX-512 CPUs with at most 8192 weights and 1024+
    pixels in all: dot products along the pixels, nothing packed), "implicit" (float32 AVX-512 paths reading the zero-padded image in place),
    "implicit_dw" (dw that way), "implicit_conv" (dx as the implicit forward of the flipped
    kernel), "winograd" (F(2x2, 3x3) forward of float32 stride-1 3x3 layers: by default
    on AVX-512 CPUs for large images (>= 56x56 outputs, 32+ channels) and for small ones
    (< 256 2x2 tiles, 32-256 channels: several whole images per block), everywhere when
    forced; its rounding error is bounded by 8 eps32 x the sum of |terms|; outputs of >= 28x28
    run F(4x4, 3x3) one image at a time instead -- forced, or by default on AVX-512 with 32+
    channels in and out -- 4x4 tiles, error bounded by 128 eps32 x the sum of |terms|, and
    their dw too when dx runs Winograd, "winograd_dw", within 64 eps32), "winograd_conv"
    (dx as the Winograd forward of the flipped kernel), "winograd_dw" (dw by Winograd, the
    adjoint of the forward in the filter, where the forward batches small images; same error
    bound), "phase" (float32 stride-2 layers
    whose kernel splits into phases with few zero taps, e.g. 10x5 and 20x5, on AVX-512
    CPUs: forward, dx and dw as stride-1 convolutions of the space-to-depth images),
    "implicit_s2" (float32 3x3 stride-2 layers on AVX-512 CPUs, on the input's 4 stride
    phases without im2col: the forward up to 128 channels in and out, dx and dw up to 64),
    "direct_s2" (their forward when K is a multiple of 16 and the batch has 48+ output
    pixels: output channels in the vector lanes, the padded image read in place),
    "direct_s2_dx" (their dx when C is a multiple of 16 and the padding at most 1, under the
    auto or implicit setting: the 4 stride phases of dx from 1x1 / 1x2 / 2x1 / 2x2
    sub-kernels, input channels in the vector lanes, dy zero-padded and read in place, no
    im2col or col2im; dw stays its path's),
    "winograd_5x5" (float32 AVX-512 forward and dx of g5_skip's 5x5 stride-1 layers with 8+
    outputs a side, odd sides from 13, at most 28 columns: Winograd F(2x2, 5x5), 36 products
    per 2x2 outputs instead of 100, error bounded by 64 eps32 x the sum of |terms|; dw too,
    within 128, with 13+ output columns and K a multiple of 32, else g5_skip),
    "direct" (float32 3x3 stride-1 padding-1 layers with few channels -- C <= 16, K <= 32,
    24+ columns -- on AVX-512 CPUs: forward, dx as the forward of the flipped kernel, and dw
    read the image in place),
    "implicit_rows" (float32 AVX-512 stride-1 forward of 5x5 and larger kernels with 48+
    output pixels in 16-column segments of the output rows, or one panel of all pixels for
    <= 128 of them, where they fill more vector lanes than the implicit path: e.g. 14x14 and
    7x7 outputs; weights up to 4 MiB), "rows_conv" (dx as that forward of the flipped kernel), "rows_dw" (dw of
    stride-1 float32 layers with 5x2 and larger kernels and 48+ output pixels over the valid
    pixels, AVX-512), "winograd4_small" (F(4x4, 3x3) forward of float32 stride-1 3x3 layers
    with small outputs (below 28x28, 32+ channels, by default on AVX-512 CPUs where it measured
    faster than the F(2x2) path): several whole images per block, error bounded by 128 eps32
    x the sum of |terms|), "winograd4_small_conv" (dx as that forward of the flipped kernel),
    "winograd4_small_dw" (dw by that path, the adjoint in the filter) or "depthwise". blocking
    (im2col paths): images per block, output rows per block, columns and blocks; winograd:
    images per block, tile rows per block, tiles per block, blocks. dx and dw run in one call: both report its total workspace_bytes.
    Grouped (not depthwise) layers with <= 64 channels per group run the grouped kernels, one
    parallel region over images x groups: "grouped_implicit" (float32 AVX-512, stride 1 or 2: the
    group read in place; dx at stride 1 only, as the convolution of dy by the flipped
    weights) or
    "grouped_im2col" (im2col of one group of one image and a small product), blocking None;
    wider groups run the plan shown once per group.
    """
    fn = "conv2d_plan"
    x_shape, w_shape = shape_nd(fn, "x_shape", x_shape, 4), shape_nd(fn, "w_shape", w_shape, 4)
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"{fn}: dtype must be float32 or float64, got {dt}")
    if isinstance(padding, str):  # "valid" / "same" (its odd extra row/column, as the call)
        probe, padding, _ = conv_padding(fn, np.empty((1, 1, 1, 1)), w_shape, stride, padding,
                                         dilation)
        x_shape = x_shape[:2] + (x_shape[2] + probe.shape[2] - 1, x_shape[3] + probe.shape[3] - 1)
    stride, padding, dilation, _ = conv2d_output_size(fn, x_shape, w_shape, stride, padding,
                                                      dilation, groups)
    groups = int(groups)
    out = dict(algo=_kernels.conv_algo(), groups=groups)
    if groups > 1 and groups == x_shape[1] == w_shape[0]:
        step = dict(algorithm="depthwise", threads=None, blocking=None, workspace_bytes=None)
        return dict(out, forward=step, dx=dict(step), dw=dict(step))
    if groups > 1:
        g = [_kernels.conv2d_grouped_info(x_shape, w_shape, groups, stride, padding, dilation,
                                          which, dt.itemsize) for which in (0, 1)]
        if g[0][0] and g[1][0]:  # both calls run the grouped kernels
            steps = [dict(algorithm=_GROUPED_PATHS[path], threads=info[2], blocking=None,
                          workspace_bytes=info[3])
                     for path, info in ((g[0][0], g[0]), (g[1][0], g[1]), (g[1][1], g[1]))]
            return dict(out, forward=steps[0], dx=steps[1], dw=steps[2])
    xs = (x_shape[0], x_shape[1] // groups) + tuple(x_shape[2:])
    ws = (w_shape[0] // groups,) + tuple(w_shape[1:])
    plan = [_kernels.conv2d_plan_info(xs, ws, stride, padding, dilation, which, dt.itemsize)
            for which in (0, 1)]
    return dict(out, forward=_step(plan[0], "forward"), dx=_step(plan[1], "dx"),
                dw=_step(plan[1], "dw"))


def _inputs(fn, x, w):
    x = as_float_array(fn, "x", x, 4)
    w = as_float_array(fn, "w", w, 4)
    return x, w


_GROUPED_PATHS = (None, "grouped_implicit", "grouped_im2col")


def _grouped_path(x_shape, w_shape, groups, stride, padding, dilation, which, dt) -> bool:
    """True when the grouped kernels (one parallel region over images x groups) run this
    call; else the ungrouped kernels run once per group."""
    info = _kernels.conv2d_grouped_info(tuple(x_shape), tuple(w_shape), groups, stride, padding,
                                        dilation, which, np.dtype(dt).itemsize)
    return info[0] != 0


def _group_slices(x, w, groups):
    """Per group g: the contiguous x channels and w filters it convolves."""
    Cg, Kg = x.shape[1] // groups, w.shape[0] // groups
    for g in range(groups):
        yield (g, np.ascontiguousarray(x[:, g * Cg:(g + 1) * Cg]),
               np.ascontiguousarray(w[g * Kg:(g + 1) * Kg]), slice(g * Kg, (g + 1) * Kg))


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray] = None, stride=1,
                   padding=0, dilation=1, groups: int = 1) -> np.ndarray:
    """y = conv2d(x, w) + b (cross-correlation, as torch.nn.functional.conv2d).

    x (N, C, H, W), w (K, C / groups, R, S), b (K,) or None  ->  y (N, K, P, Q)
    padding: int, pair, "valid" (0) or "same" (stride 1; an even kernel pads one more zero
    at the bottom/right, as PyTorch). groups: C and K split into that many independent
    convolutions; depthwise (groups = C = K) runs plane-wise loops in C, other groups the
    grouped kernels (see conv2d_plan) or, with many channels per group, the ungrouped ones
    once per group.
    """
    fn = "conv2d_forward"
    x, w = _inputs(fn, x, w)
    if b is not None:
        b = as_float_array(fn, "b", b, 1)
    dt = same_dtype(fn, x=x, w=w, b=b)
    x, padding, _ = conv_padding(fn, x, w.shape, stride, padding, dilation)
    stride, padding, dilation, (P, Q) = _output_size(fn, x.shape, w.shape, stride, padding,
                                                     dilation, groups)
    K, groups = w.shape[0], int(groups)
    if b is not None and b.shape[0] != K:
        raise ValueError(f"{fn}: argument 'b' must have shape ({K},) for w {w.shape}, got {b.shape}")
    y = np.empty((x.shape[0], K, P, Q), dtype=dt)
    if groups == 1:
        _kernels.conv2d_forward(y, x, w, b, stride, padding, dilation)
    elif groups == x.shape[1] == K:
        _kernels.conv2d_depthwise_forward(y, x, w, b, stride, padding, dilation)
    elif _grouped_path(x.shape, w.shape, groups, stride, padding, dilation, 0, dt):
        _kernels.conv2d_grouped_forward(y, x, w, b, groups, stride, padding, dilation)
    else:
        for g, xg, wg, ks in _group_slices(x, w, groups):
            yg = np.empty((x.shape[0], wg.shape[0], P, Q), dtype=dt)
            _kernels.conv2d_forward(yg, xg, wg, None if b is None else b[ks], stride, padding,
                                    dilation)
            y[:, ks] = yg
    return y


def conv2d_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, stride=1, padding=0, dilation=1,
                    groups: int = 1, *, bias=True, need_dx: bool = True,
                    need_dw: bool = True) -> Tuple[Any, Any, Any]:
    """Gradients of y = conv2d(x, w, b, stride, padding, dilation, groups) given dy = dL/dy.

    dy (N, K, P, Q), x (N, C, H, W), w (K, C / groups, R, S)
    -> dx (N, C, H, W), dw (K, C / groups, R, S), db (K,) (None if bias=False)
    need_dx=False skips dx (returned as None): a first layer's input needs no gradient;
    need_dw=False skips dw (None): a frozen weight, or conv_transpose2d's forward (which
    only wants dx, and whose x is then never read).
    """
    fn = "conv2d_backward"
    dy = as_float_array(fn, "dy", dy, 4)
    x, w = _inputs(fn, x, w)
    dt = same_dtype(fn, dy=dy, x=x, w=w)
    xs = x.shape
    x, padding, crop = conv_padding(fn, x, w.shape, stride, padding, dilation)
    stride, padding, dilation, (P, Q) = _output_size(fn, x.shape, w.shape, stride, padding,
                                                     dilation, groups)
    groups = int(groups)
    want = (x.shape[0], w.shape[0], P, Q)
    if dy.shape != want:
        raise ValueError(f"{fn}: argument 'dy' must have shape {want} for x {xs}, "
                         f"w {w.shape}, stride {stride}, padding {padding}, dilation "
                         f"{dilation}, groups {groups}, got {dy.shape}")
    # write: the kernel writes dx and dw (no zeroed arrays to add into): 1x1 layers at
    # stride 1 (the pointwise path writes every pixel) and depthwise layers (the kernels
    # write them, or zero them themselves)
    depthwise = groups == x.shape[1] == w.shape[0] and groups > 1
    write = depthwise or (groups == 1 and w.shape[2:] == (1, 1) and padding == (0, 0)
                          and stride == (1, 1))
    new = np.empty if write else np.zeros
    dx = new(x.shape, dtype=dt) if need_dx else None
    dw = new(w.shape, dtype=dt) if need_dw else None
    db = np.zeros(w.shape[0], dtype=dt) if bias else None
    # pick the fused specialisation by dtype: dispatch cannot infer it from a None dx
    sig = "float" if dt == np.float32 else "double"
    if groups == 1:
        _kernels.conv2d_backward[sig](dx, dw, db, dy, x, w, stride, padding, dilation, write)
    elif depthwise:
        _kernels.conv2d_depthwise_backward[sig](dx, dw, db, dy, x, w, stride, padding, dilation,
                                                write)
    elif _grouped_path(x.shape, w.shape, groups, stride, padding, dilation, 1, dt):
        _kernels.conv2d_grouped_backward[sig](dx, dw, db, dy, x, w, groups, stride, padding,
                                              dilation)
    else:
        Cg = x.shape[1] // groups
        for g, xg, wg, ks in _group_slices(x, w, groups):
            dxg = np.zeros(xg.shape, dtype=dt) if need_dx else None
            dwg = np.zeros(wg.shape, dtype=dt) if need_dw else None
            dbg = np.zeros(wg.shape[0], dt) if bias else None
            _kernels.conv2d_backward[sig](dxg, dwg, dbg, np.ascontiguousarray(dy[:, ks]), xg, wg,
                                          stride, padding, dilation)
            if need_dw:
                dw[ks] = dwg  # type: ignore[index]  # not None here (see the flags)
            if bias:
                db[ks] = dbg  # type: ignore[index]  # not None here (see the flags)
            if need_dx:
                dx[:, g * Cg:(g + 1) * Cg] = dxg  # type: ignore[index]
    if need_dx and crop:
        dx = np.ascontiguousarray(dx[:, :, :xs[2], :xs[3]])  # type: ignore[index]
    return dx, dw, db


def im2col(x: np.ndarray, kernel_size, stride=1, padding=0, dilation=1) -> np.ndarray:
    """The receptive fields of a convolution as columns (torch.nn.functional.unfold).

    x (N, C, H, W) -> col (N, C*R*S, P*Q), or x (C, H, W) -> (C*R*S, P*Q), with
    col[n, (c*R + r)*S + s, p*Q + q] = x[n, c, p*sh - ph + r*dh, q*sw - pw + s*dw]
    (0 outside the image); kernel_size (R, S), stride, padding, dilation: int or pair.
    """
    fn = "im2col"
    x = as_float_array(fn, "x", x, (3, 4))
    xs = x.shape if x.ndim == 4 else (1,) + x.shape
    wshape, stride, padding, dilation, (P, Q) = unfold_args(fn, xs, kernel_size, stride,
                                                            padding, dilation)
    col = np.empty((xs[0], wshape[1] * wshape[2] * wshape[3], P * Q), dtype=x.dtype)
    for n in range(xs[0]):
        _kernels.im2col(col[n], x[n] if x.ndim == 4 else x, wshape, stride, padding, dilation)
    return col if x.ndim == 4 else col[0]


def col2im(col: np.ndarray, input_shape, kernel_size, stride=1, padding=0,
           dilation=1) -> np.ndarray:
    """The adjoint of im2col (torch.nn.functional.fold): every column entry is added back
    to the input position it was read from (overlaps sum, padding is dropped).

    col (N, C*R*S, P*Q) and input_shape (N, C, H, W), or col (C*R*S, P*Q) and input_shape
    (C, H, W) -> an array of input_shape.
    """
    fn = "col2im"
    col = as_float_array(fn, "col", col, (2, 3))
    shape = shape_nd(fn, "input_shape", input_shape, col.ndim + 1)
    xs = shape if len(shape) == 4 else (1,) + shape
    wshape, stride, padding, dilation, (P, Q) = unfold_args(fn, xs, kernel_size, stride,
                                                            padding, dilation)
    want = (xs[0], wshape[1] * wshape[2] * wshape[3], P * Q)
    if (col.shape if col.ndim == 3 else (1,) + col.shape) != want:
        raise ValueError(f"{fn}: argument 'col' must have shape {want[3 - col.ndim:]} for "
                         f"input_shape {shape}, kernel_size {wshape[2:]}, stride {stride}, "
                         f"padding {padding}, dilation {dilation}, got {col.shape}")
    im = np.zeros(xs, dtype=col.dtype)
    cols = col if col.ndim == 3 else col[None]
    for n in range(xs[0]):
        _kernels.col2im(im[n], cols[n], wshape, stride, padding, dilation)
    return im if len(shape) == 4 else im[0]
