"""The backward that WRITES dx and dw (kernels' write=True; cr_conv2d_backward_set_*,
cr_conv2d_depthwise_backward_set_*): ops.conv2d_backward takes it for 1x1 layers at stride 1
(the pointwise path writes every pixel of dx and all of dw) and for depthwise layers (the
AVX-512 kernels write them; the plane loops zero them first), with np.empty arrays. Checked:
dx and dw never read (NaN-filled ones come out right; db still accumulates), bitwise equal to
the accumulating call into zeros, in float32 and float64 at every ISA level, odd shapes,
batch 1, strides 1-3, only dx or only dw, 1 vs 2 threads bitwise, against the NumPy
reference, and PyTorch as an oracle on MobileNet's layers."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _kernels, ops, reference as ref
from helpers import assert_close

# (x shape, K, kernel R, stride, padding, groups)
CASES = [((2, 5, 9, 11), 7, 1, 1, 0, 1),     # pointwise, odd plane: written straight
         ((1, 3, 1, 1), 4, 1, 1, 0, 1),      # one-pixel images (the plain GEMM), batch 1
         ((3, 17, 4, 4), 19, 1, 1, 0, 1),    # prime channel counts
         ((2, 8, 6, 7), 8, 1, 2, 0, 1),      # pointwise stride 2: zeroed, then accumulated
         ((2, 6, 7, 7), 5, 3, 1, 1, 1),      # 3x3 dense layer: zeroed, then accumulated
         ((2, 16, 8, 8), 16, 3, 1, 1, 16),   # depthwise, small plane (channel vectors)
         ((3, 35, 7, 9), 35, 3, 2, 1, 35),   # depthwise stride 2, odd plane
         ((1, 33, 32, 32), 33, 3, 1, 1, 33),  # depthwise 32x32 (plane-wise kernel), batch 1
         ((2, 20, 33, 31), 20, 3, 2, 1, 20),  # depthwise stride 2, large odd plane
         ((2, 20, 33, 31), 20, 3, 1, 1, 20),  # depthwise stride 1, large odd plane
         ((2, 17, 5, 6), 17, 5, 1, 2, 17),   # depthwise 5x5
         ((2, 17, 6, 6), 17, 3, 3, 1, 17),   # depthwise stride 3
         ((2, 17, 6, 6), 17, 2, 2, 0, 17),   # depthwise even kernel (plane loops)
         ((1, 64, 2, 2), 64, 3, 1, 1, 64)]   # MobileNet's last depthwise plane


def _data(case, dt, seed=0):
    xs, K, R, s, p, g = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(dt)
    w = rng.standard_normal((K, xs[1] // g, R, R)).astype(dt)
    y = ops.conv2d_forward(x, w, None, s, p, 1, g)
    return x, w, rng.standard_normal(y.shape).astype(dt)


def _kernel_pair(case, dt, x, w, dy, need_dx=True, need_dw=True):
    """(dx, dw, db) from the accumulating call into zeros and from the writing call into NaN
    (db: 1 before either call, it accumulates in both)."""
    xs, K, R, s, p, g = case
    sig = "float" if dt == np.float32 else "double"
    f = (_kernels.conv2d_backward if g == 1 else _kernels.conv2d_depthwise_backward)[sig]
    out = []
    for write in (False, True):
        fill = np.nan if write else 0
        dx = np.full(xs, fill, dt) if need_dx else None
        dw = np.full(w.shape, fill, dt) if need_dw else None
        db = np.ones(K, dt)
        f(dx, dw, db, dy, x, w, (s, s), (p, p), (1, 1), write)
        out.append((dx, dw, db))
    return out


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_write_equals_accumulate_into_zeros(case, dt, level):
    x, w, dy = _data(case, dt)
    for need_dx, need_dw in ((True, True), (True, False), (False, True)):
        acc, put = _kernel_pair(case, dt, x, w, dy, need_dx, need_dw)
        for a, b in zip(acc, put):
            if a is not None:
                assert not np.isnan(b).any()
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_ops_backward_matches_reference(case, dt, level):
    xs, K, R, s, p, g = case
    x, w, dy = _data(case, dt, seed=1)
    got = ops.conv2d_backward(dy, x, w, s, p, 1, g)
    want = ref.conv2d_backward(dy, x, w, s, p, 1, g)
    for a, b, n in zip(got, want, "dx dw db".split()):
        assert_close(a, b, dt, rtol=1e-4 if dt == np.float32 else None, name=n)
    dx, dw, db = ops.conv2d_backward(dy, x, w, s, p, 1, g, bias=False, need_dw=False)
    assert dw is None and db is None
    np.testing.assert_array_equal(dx, got[0])
    dx, dw, db = ops.conv2d_backward(dy, x, w, s, p, 1, g, need_dx=False)
    assert dx is None
    np.testing.assert_array_equal(dw, got[1])
    np.testing.assert_array_equal(db, got[2])


@pytest.mark.parametrize("case", CASES)
def test_threads_bitwise(case):
    x, w, dy = _data(case, np.float32, seed=2)
    xs, K, R, s, p, g = case
    res = []
    for nt in (1, 2):
        cr.set_num_threads(nt)
        res.append(ops.conv2d_backward(dy, x, w, s, p, 1, g))
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", [CASES[0], CASES[5], CASES[7]])
def test_reused_memory_does_not_leak_through(case):
    """dx and dw from np.empty may hold an earlier gradient's values: none may leak through."""
    xs, K, R, s, p, g = case
    x, w, dy = _data(case, np.float32, seed=3)
    first = [a.copy() for a in ops.conv2d_backward(dy, x, w, s, p, 1, g)]
    for _ in range(3):
        junk = [np.full_like(a, 7.0) for a in first]  # freed: np.empty may hand them out
        del junk
        for a, b in zip(ops.conv2d_backward(dy, x, w, s, p, 1, g), first):
            np.testing.assert_array_equal(a, b)


# MobileNet v1 (3x32x32) layers whose dx and dw are written:
# (x shape, K, R, stride, padding, groups)
MOBILENET = [((4, 32, 32, 32), 64, 1, 1, 0, 1), ((4, 64, 32, 32), 64, 3, 2, 1, 64),
             ((4, 128, 16, 16), 128, 3, 1, 1, 128), ((4, 512, 4, 4), 512, 1, 1, 0, 1),
             ((4, 512, 4, 4), 512, 3, 1, 1, 512), ((4, 1024, 2, 2), 1024, 3, 1, 1, 1024)]


@pytest.mark.parametrize("case", MOBILENET)
def test_torch_oracle(case):
    torch = pytest.importorskip("torch")
    xs, K, R, s, p, g = case
    x, w, dy = _data(case, np.float32, seed=4)
    tx = torch.from_numpy(x).requires_grad_()
    tw = torch.from_numpy(w).requires_grad_()
    torch.nn.functional.conv2d(tx, tw, None, s, p, 1, g).backward(torch.from_numpy(dy))
    dx, dw, _ = ops.conv2d_backward(dy, x, w, s, p, 1, g, bias=False)
    assert_close(dx, tx.grad.numpy(), np.float32, rtol=1e-4, name="dx")
    assert_close(dw, tw.grad.numpy(), np.float32, rtol=1e-4, name="dw")


@pytest.mark.parametrize("groups", [1, 4])
def test_empty_batch_gives_zero_dw(groups):
    """A batch of 0 images: nothing is written, so dw (and db) must come back zero (write
    mode must not hand out np.empty's garbage)."""
    for dtype in (np.float32, np.float64):
        x = np.zeros((0, 4, 5, 5), dtype)
        w = np.full((4, 4 // groups, 1, 1), 7, dtype)
        dy = np.zeros((0, 4, 5, 5), dtype)
        for _ in range(3):  # reuse of freed garbage-filled memory
            np.full((4, 4 // groups, 1, 1), np.nan, dtype)
            dx, dw, db = ops.conv2d_backward(dy, x, w, 1, 0, groups=groups)
            assert dx.shape == x.shape
            np.testing.assert_array_equal(dw, np.zeros_like(w))
