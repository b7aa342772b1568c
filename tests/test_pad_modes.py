"""F.pad modes reflect / replicate / circular and Conv1d/Conv2d padding_mode (issue 10),
forward and gradient against PyTorch, float32 and float64, odd shapes, batch 1."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = [  # (shape, pad)
    ((1, 3, 7), (2, 3)), ((5, 4), (1, 2)), ((2, 3, 5, 7), (1, 2, 3, 4)),
    ((1, 2, 6, 5), (0, 4, 2, 0)), ((3, 5, 6), (4, 0, 2, 5)),
    ((1, 2, 3, 4, 5), (1, 1, 2, 0, 0, 3)), ((2, 4, 3, 3), (2, 2, 2, 2)),
]


def _limit(mode, shape, pad):
    """pads within each mode's limits (reflect < size, circular <= size)."""
    out = list(pad)
    for i in range(len(pad) // 2):
        s = shape[len(shape) - 1 - i]
        cap = s - 1 if mode == "reflect" else s if mode == "circular" else 99
        out[2 * i], out[2 * i + 1] = min(out[2 * i], cap), min(out[2 * i + 1], cap)
    return tuple(out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", CASES)
def test_pad_matches_torch(shape, pad, mode, dtype):
    pad = _limit(mode, shape, pad)
    rng = np.random.default_rng(len(shape) + sum(pad))
    x0 = rng.standard_normal(shape).astype(dtype)
    x = cr.tensor(x0, requires_grad=True)
    tx = torch.tensor(x0, requires_grad=True)
    y, ty = F.pad(x, pad, mode=mode), TF.pad(tx, pad, mode=mode)
    assert y.shape == tuple(ty.shape) and y.dtype == x.dtype
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    g0 = rng.standard_normal(y.shape).astype(dtype)
    y.backward(g0)
    ty.backward(torch.from_numpy(g0))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)


def test_pad_modes_on_a_strided_view_and_zero_pads():
    base = np.arange(2 * 3 * 8, dtype=np.float64).reshape(2, 3, 8)
    for mode in ("reflect", "replicate", "circular"):
        got = F.pad(cr.from_numpy(base[:, :, ::2]), (1, 2), mode=mode).numpy()
        want = TF.pad(torch.from_numpy(base[:, :, ::2].copy()), (1, 2), mode=mode).numpy()
        np.testing.assert_array_equal(got, want)
        x = cr.tensor(base, requires_grad=True)
        y = F.pad(x, (0, 0), mode=mode)  # nothing padded: a copy, gradient passes through
        assert np.array_equal(y.numpy(), base) and not np.shares_memory(y.numpy(), base)
        y.sum().backward()
        assert np.all(x.grad.numpy() == 1)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding,stride,dilation", [(1, 1, 1), (2, 2, 1), ("same", 1, 2),
                                                     ((1, 2), 1, 1), ("valid", 1, 1)])
def test_conv2d_padding_mode_matches_torch(mode, padding, stride, dilation):
    rng = np.random.default_rng(3)
    m = nn.Conv2d(3, 4, (3, 4) if padding == "same" else 3, stride=stride, padding=padding,
                  dilation=dilation, padding_mode=mode)
    t = torch.nn.Conv2d(3, 4, (3, 4) if padding == "same" else 3, stride=stride,
                        padding=padding, dilation=dilation, padding_mode=mode)
    t.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in m.state_dict().items()})
    x0 = rng.standard_normal((2, 3, 7, 9)).astype(np.float32)
    x, tx = cr.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    y, ty = m(x), t(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    g0 = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(g0)
    ty.backward(torch.from_numpy(g0))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(m.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-4,
                               atol=1e-4)
    assert f"padding_mode={mode}" in repr(m)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv1d_padding_mode_matches_torch(mode):
    m = nn.Conv1d(2, 3, 3, padding=2, padding_mode=mode)
    t = torch.nn.Conv1d(2, 3, 3, padding=2, padding_mode=mode)
    t.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in m.state_dict().items()})
    x0 = np.random.default_rng(1).standard_normal((1, 2, 5)).astype(np.float32)
    np.testing.assert_allclose(m(cr.from_numpy(x0)).numpy(),
                               t(torch.from_numpy(x0)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_pad_mode_bad_input():
    x = cr.zeros(1, 2, 3)
    with pytest.raises(ValueError, match="pad: mode must be 'constant', 'reflect'"):
        F.pad(x, (1, 1), mode="mirror")
    with pytest.raises(ValueError, match=r"pad: reflect padding \(3, 1\) must be smaller than "
                                         r"the size 3 of dim 2"):
        F.pad(x, (3, 1), mode="reflect")
    with pytest.raises(ValueError, match=r"pad: circular padding \(0, 4\) must be at most"):
        F.pad(x, (0, 4), mode="circular")
    with pytest.raises(ValueError, match="pad: mode 'replicate' needs non-negative pads"):
        F.pad(x, (-1, 1), mode="replicate")
    with pytest.raises(ValueError, match=r"pad: mode 'reflect' pads the last 1, 2 or 3 dims"):
        F.pad(cr.zeros(3), (1, 1), mode="reflect")
    with pytest.raises(ValueError, match=r"pad: mode 'replicate' pads the last 1, 2 or 3 dims"):
        F.pad(cr.zeros(1, 1, 2, 3), (1, 1), mode="replicate")
    with pytest.raises(ValueError, match="applies to mode 'constant' only"):
        F.pad(x, (1, 1), mode="reflect", value=2.0)
    with pytest.raises(ValueError, match="Conv2d: padding_mode='mirror' is not supported"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")
