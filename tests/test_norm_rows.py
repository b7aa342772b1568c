"""Group and layer norm on the fused row kernels (ops.group_norm_* / ops.layer_norm_*)
beyond the registry's cases: threads, large shapes, stability, the autograd node."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, ops, reference as ref
from helpers import HAVE_TORCH, assert_close, torch

DTYPES = [np.float32, np.float64]
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")


def _run(kind, x, spec, w, b, dy):
    fwd = getattr(ops, f"{kind}_norm_forward")
    bwd = getattr(ops, f"{kind}_norm_backward")
    y, mean, rstd = fwd(x, spec, w, b)
    return (y, mean, rstd) + bwd(dy, x, spec, w, mean, rstd)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,shape,spec", [("group", (9, 12, 17, 19), 4),
                                             ("group", (3, 32, 1, 1000), 32),
                                             ("group", (257, 6), 3),
                                             ("layer", (301, 257), 257),
                                             ("layer", (7, 33, 10, 13), (10, 13)),
                                             ("layer", (5000, 16), 16)])
def test_one_and_two_threads_agree_bitwise_and_match_reference(kind, shape, spec, dtype, rng):
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    ps = (shape[1],) if kind == "group" else tuple(np.atleast_1d(spec))
    w, b = rng.standard_normal(ps).astype(dtype), rng.standard_normal(ps).astype(dtype)
    res = []
    for nt in (1, 2):
        cr.set_num_threads(nt)
        res.append(_run(kind, x, spec, w, b, dy))
    for a, c in zip(*res):
        np.testing.assert_array_equal(a, c)
    fwd = getattr(ref, f"{kind}_norm_forward")(x, spec, w, b)
    bwd = getattr(ref, f"{kind}_norm_backward")(dy, x, spec, w, fwd[1], fwd[2])
    for name, got, want in zip(("y", "mean", "rstd", "dx", "dweight", "dbias"), res[1],
                               fwd + bwd):
        assert_close(got, want, dtype, name=name)


def test_layer_norm_statistics_are_stable_with_a_large_mean(rng):
    x = (1e4 + 1e-2 * rng.standard_normal((6, 500))).astype(np.float64)
    _, mean, rstd = ops.layer_norm_forward(x, 500, eps=0.0)
    assert_close(1 / rstd ** 2, x.var(axis=1), np.float64, rtol=1e-9)
    assert_close(mean, x.mean(axis=1), np.float64)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_modules_match_torch_forward_and_gradients(dtype, rng):
    x = rng.standard_normal((4, 6, 5, 7)).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    for ours, theirs in ((nn.GroupNorm(3, 6, dtype=dtype), torch.nn.GroupNorm(3, 6)),
                         (nn.LayerNorm((5, 7), dtype=dtype), torch.nn.LayerNorm((5, 7)))):
        theirs = theirs.to(tdt)
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(rng.standard_normal(theirs.weight.shape)))
            theirs.bias.copy_(torch.tensor(rng.standard_normal(theirs.bias.shape)))
        ours.weight.array[...] = theirs.weight.detach().numpy()
        ours.bias.array[...] = theirs.bias.detach().numpy()
        xt = cr.tensor(x, requires_grad=True)
        y = ours(xt)
        y.backward(dy)
        tx = torch.tensor(x, requires_grad=True)
        ty = theirs(tx)
        ty.backward(torch.tensor(dy))
        assert_close(y.array, ty.detach().numpy(), dtype, name="y")
        assert_close(xt.grad.array, tx.grad.numpy(), dtype, name="dx")
        assert_close(ours.weight.grad.array, theirs.weight.grad.numpy(), dtype, name="dw")
        assert_close(ours.bias.grad.array, theirs.bias.grad.numpy(), dtype, name="db")


def test_bad_input_names_the_function():
    x = np.zeros((2, 6, 3), np.float32)
    with pytest.raises(ValueError, match="group_norm_forward.*num_groups=4"):
        ops.group_norm_forward(x, 4)
    with pytest.raises(ValueError, match="layer_norm_forward.*normalized_shape"):
        ops.layer_norm_forward(x, (6,))
    with pytest.raises(ValueError, match="layer_norm_backward.*'rstd'"):
        ops.layer_norm_backward(x, x, 3, None, np.zeros((2, 6), np.float32),
                                np.zeros((2, 5), np.float32))
