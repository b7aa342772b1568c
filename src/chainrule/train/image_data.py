"""Image arrays for ``python -m chainrule train``: user-supplied ``--data path.npz`` and the
32x32 inputs of the CNN models (resnet20, vgg11, mobilenet).

``--data`` format: a NumPy ``.npz`` (``np.savez``; never unpickled) with
  - ``x``: images (N, C, H, W), float (used as is) or uint8 (divided by 255);
  - ``y``: labels (N,), integers 0 .. K-1 (K classes = the largest label + 1);
  - optionally ``x_test`` / ``y_test`` in the same form; without them a stratified 20%
    of (x, y) is held out as the test split (seed 0, as for the bundled digits).
CIFAR-10 saved as x (50000, 3, 32, 32) uint8 and y (50000,) fits directly.
"""
from __future__ import annotations

import numpy as np

CNN_SIDE = 32


def _images(path, name, x):
    if x.ndim != 4:
        raise ValueError(f"--data {path}: '{name}' must be images (N, C, H, W), got shape "
                         f"{x.shape}")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255)
    if x.dtype.kind not in "fiu":
        raise ValueError(f"--data {path}: '{name}' must be float or uint8, got {x.dtype}")
    return x.astype(np.float32)


def _labels(path, name, y, n):
    if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) != n:
        raise ValueError(f"--data {path}: '{name}' must be {n} integer labels (N,), got "
                         f"{y.dtype} {y.shape}")
    if n and y.min() < 0:
        raise ValueError(f"--data {path}: '{name}' has negative labels (min {y.min()})")
    return y.astype(np.int64)


def load_npz(path):
    """``--data path.npz`` -> (x_train, y_train, x_test, y_test); see the module docstring.
    Raises ValueError (a bad file) or OSError (cannot read it)."""
    from .. import data
    with np.load(path, allow_pickle=False) as z:
        keys = set(z.files)
        if not {"x", "y"} <= keys:
            raise ValueError(f"--data {path}: needs arrays 'x' and 'y', found "
                             f"{sorted(keys) or 'none'}")
        x = _images(path, "x", z["x"])
        y = _labels(path, "y", z["y"], len(x))
        if ("x_test" in keys) != ("y_test" in keys):
            raise ValueError(f"--data {path}: give both 'x_test' and 'y_test' or neither")
        if "x_test" in keys:
            xt = _images(path, "x_test", z["x_test"])
            yt = _labels(path, "y_test", z["y_test"], len(xt))
            if xt.shape[1:] != x.shape[1:]:
                raise ValueError(f"--data {path}: x_test images are {xt.shape[1:]}, x "
                                 f"images {x.shape[1:]}")
            return x, y, xt, yt
    if len(x) < 2:
        raise ValueError(f"--data {path}: needs at least 2 images to hold out a test split")
    x_train, x_test, y_train, y_test = data.train_test_split(x, y, test_fraction=0.2, seed=0)
    return x_train, y_train, x_test, y_test


def to_cnn_size(x, side=CNN_SIDE):
    """Images smaller than side x side for the CNNs: upsampled (nearest) when side is a
    multiple of H and W (8x8 digits -> 32x32), else zero-padded around the centre (28x28
    MNIST -> 32x32). Larger images are returned unchanged."""
    n, c, h, w = x.shape
    if h >= side and w >= side:
        return x
    if side % h == 0 and side % w == 0 and side // h == side // w:
        f = side // h
        return np.ascontiguousarray(x.repeat(f, axis=2).repeat(f, axis=3))
    out = np.zeros((n, c, max(h, side), max(w, side)), x.dtype)
    top, left = (out.shape[2] - h) // 2, (out.shape[3] - w) // 2
    out[:, :, top:top + h, left:left + w] = x
    return out
