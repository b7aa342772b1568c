"""F.interpolate / nn.Upsample (issue 10): forward and gradient against PyTorch for nearest,
linear, bilinear, trilinear, size or scale_factor, align_corners, f32/f64, odd shapes."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = [  # (shape, kwargs)
    ((2, 3, 5, 7), dict(scale_factor=2)),
    ((1, 2, 5, 7), dict(size=(8, 11))),
    ((1, 2, 9, 6), dict(size=(4, 3))),             # downsampling
    ((2, 1, 5, 7), dict(scale_factor=(1.5, 0.75))),
    ((1, 3, 5, 7), dict(scale_factor=2, mode="bilinear")),
    ((2, 2, 5, 7), dict(size=(3, 13), mode="bilinear", align_corners=True)),
    ((1, 1, 4, 4), dict(size=(1, 1), mode="bilinear", align_corners=True)),
    ((2, 3, 5, 7), dict(scale_factor=1.7, mode="bilinear")),
    ((2, 3, 5, 7), dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True)),
    ((1, 2, 6, 5), dict(size=(4, 9), mode="bilinear", align_corners=False)),
    ((2, 3, 11), dict(scale_factor=3, mode="linear")),
    ((2, 3, 11), dict(size=5, mode="linear", align_corners=True)),
    ((2, 3, 11), dict(size=17)),
    ((1, 2, 3, 4, 5), dict(scale_factor=2)),
    ((1, 2, 3, 4, 5), dict(size=(5, 3, 7), mode="trilinear", align_corners=True)),
    ((1, 2, 3, 4, 5), dict(scale_factor=(2, 1, 0.5), mode="trilinear")),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kw", CASES)
def test_interpolate_matches_torch(shape, kw, dtype):
    rng = np.random.default_rng(len(shape) * 7 + len(kw))
    x0 = rng.standard_normal(shape).astype(dtype)
    x, tx = cr.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    y, ty = F.interpolate(x, **kw), TF.interpolate(tx, **kw)
    assert y.shape == tuple(ty.shape) and y.dtype == x.dtype
    tol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    g0 = rng.standard_normal(y.shape).astype(dtype)
    y.backward(g0)
    ty.backward(torch.from_numpy(g0))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=10 * tol, atol=10 * tol)


def test_upsample_modules_match_torch():
    x0 = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    pairs = [(nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
             (nn.Upsample(size=(7, 3), mode="bilinear", align_corners=False),
              torch.nn.Upsample(size=(7, 3), mode="bilinear", align_corners=False)),
             (nn.UpsamplingNearest2d(scale_factor=3), torch.nn.UpsamplingNearest2d(scale_factor=3)),
             (nn.UpsamplingBilinear2d(size=(6, 9)), torch.nn.UpsamplingBilinear2d(size=(6, 9)))]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours(cr.from_numpy(x0)).numpy(),
                                   theirs(torch.from_numpy(x0)).numpy(), rtol=2e-6, atol=2e-6)
        assert "mode=" in repr(ours)
    # a small decoder trains through it (gradients reach the conv before the upsampling)
    net = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.Upsample(scale_factor=2,
                                                                   mode="bilinear"))
    net(cr.from_numpy(x0)).pow(2).mean().backward()
    assert net[0].weight.grad is not None and np.all(np.isfinite(net[0].weight.grad.numpy()))


def test_interpolate_on_a_view_and_identity_size():
    base = np.arange(2 * 3 * 6 * 8, dtype=np.float64).reshape(2, 3, 6, 8)
    view = base[:, :, ::2, 1::2]
    got = F.interpolate(cr.from_numpy(view), scale_factor=2, mode="bilinear").numpy()
    want = TF.interpolate(torch.from_numpy(view.copy()), scale_factor=2, mode="bilinear")
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-12)
    same = F.interpolate(cr.from_numpy(base), size=(6, 8))
    assert np.array_equal(same.numpy(), base) and not np.shares_memory(same.numpy(), base)


def test_interpolate_bad_input():
    x = cr.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match="interpolate: give exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="interpolate: give exactly one of size and scale_factor"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="interpolate: mode must be 'nearest'"):
        F.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match=r"interpolate: mode 'bilinear' needs a 4-D input"):
        F.interpolate(cr.zeros(1, 2, 4), scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="interpolate: align_corners can only be set"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match=r"interpolate: size must have 2 entries"):
        F.interpolate(x, size=(2, 3, 4))
    with pytest.raises(ValueError, match=r"interpolate: size must be positive ints"):
        F.interpolate(x, size=(0, 3))
    with pytest.raises(ValueError, match=r"interpolate: scale_factor must be positive numbers"):
        F.interpolate(x, scale_factor=-2.0)
    with pytest.raises(ValueError, match=r"interpolate: scale_factor 0.1 gives an empty output"):
        F.interpolate(x, scale_factor=0.1)
    with pytest.raises(TypeError, match=r"interpolate: argument 'input' must be"):
        F.interpolate("image", scale_factor=2)
    with pytest.raises(ValueError, match="Upsample: give exactly one of size and scale_factor"):
        nn.Upsample()
