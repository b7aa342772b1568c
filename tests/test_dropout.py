"""Dropout: the Philox stream (known answers, fast == reference bit for bit, any thread
count), the mask statistics and scaling, reproducibility from cr.manual_seed, the
autograd layer and modules (eval identity, Dropout2d channels, inplace), bad p."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _kernels, nn, ops, reference as ref
from chainrule.nn import functional as F
from chainrule.reference._norm import philox4x32_10
from helpers import HAVE_TORCH, torch

DTYPES = [np.float32, np.float64]
# Random123's tests/kat_vectors, "philox4x32 10": counter, key, result
KAT = [((0, 0, 0, 0), (0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
       ((0xffffffff,) * 4, (0xffffffff,) * 2, (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
       ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
        (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1))]


@pytest.mark.parametrize("ctr, key, want", KAT)
def test_philox_known_answers(ctr, key, want):
    assert _kernels.philox4x32_10(ctr, key) == want
    assert tuple(int(w) for w in philox4x32_10(ctr, key)) == want


def test_mask_is_the_documented_stream():
    """Element i = 64 g + 16 q + k keeps iff word q of philox((16 g + k, 0, lo(offset),
    hi(offset)), (lo(seed), hi(seed))) >= floor(p * 2**32)."""
    seed, offset, p = 0x0123456789ABCDEF, (7 << 32) + 5, 0.3
    mask = ops.dropout_mask(150, p, seed, offset)
    for i in range(150):
        g, q, k = i // 64, (i % 64) // 16, i % 16
        w = _kernels.philox4x32_10((16 * g + k, 0, 5, 7), (0x89ABCDEF, 0x01234567))[q]
        assert mask[i] == (w >= int(p * 2**32))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(0,), (1,), (3,), (63,), (64,), (65,), (7, 13),
                                   (4097,), (3, 5, 7, 11), (100003,)])
def test_fast_matches_reference_bitwise(shape, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    for p, seed, offset in [(0.5, 1, 0), (0.1, 2**64 - 1, 2**64 - 1), (0.9, 12345, 3),
                            (0.0, 5, 6), (1.0, 5, 6)]:
        y, mask = ops.dropout_forward(x, p, seed, offset)
        yr, maskr = ref.dropout_forward(x, p, seed, offset)
        assert y.dtype == dtype and mask.dtype == np.uint8 and mask.shape == shape
        assert np.array_equal(mask, maskr)
        assert np.array_equal(y, yr)
        assert np.array_equal(ops.dropout_mask(shape, p, seed, offset), mask)
        assert np.array_equal(ref.dropout_mask(shape, p, seed, offset), mask)
        dy = rng.standard_normal(shape).astype(dtype)
        assert np.array_equal(ops.dropout_backward(dy, mask, p), ref.dropout_backward(dy, mask, p))


def test_non_contiguous_input(rng):
    base = rng.standard_normal((40, 30)).astype(np.float32)
    x = base[::2, 1::3]
    y, mask = ops.dropout_forward(x, 0.4, 9)
    yc, maskc = ops.dropout_forward(np.ascontiguousarray(x), 0.4, 9)
    assert np.array_equal(y, yc) and np.array_equal(mask, maskc)
    assert np.array_equal(ops.dropout_backward(x.T, mask.T, 0.4),
                          ref.dropout_backward(x.T, mask.T, 0.4))


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_two_and_three_threads_agree_bitwise(dtype, rng):
    x = rng.standard_normal(1_000_003).astype(dtype)
    outs = []
    for n in (1, 2, 3):
        cr.set_num_threads(n)
        y, mask = ops.dropout_forward(x, 0.3, 77, 11)
        outs.append((y, mask, ops.dropout_backward(x, mask, 0.3),
                     ops.dropout_mask(x.shape, 0.3, 77, 11)))
    for other in outs[1:]:
        for a, e in zip(outs[0], other):
            assert np.array_equal(a, e)


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.8])
def test_fraction_dropped_and_scaling(p):
    n = 400_000
    x = np.ones(n, np.float32)
    y, mask = ops.dropout_forward(x, p, 2024)
    dropped = 1.0 - mask.mean()
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs(dropped - p) < 6 * sigma, (dropped, p)
    scale = np.float32(1) / np.float32(1 - p)
    assert np.array_equal(y[mask == 1], np.full(int(mask.sum()), scale, np.float32))
    assert np.all(y[mask == 0] == 0)
    # neighbours are independent: P(both kept) ~ (1 - p)^2
    both = (mask[:-1] & mask[1:]).mean()
    assert abs(both - (1 - p) ** 2) < 6 * np.sqrt((1 - p) ** 2 / n)


def test_seeds_and_offsets_give_different_masks():
    masks = [ops.dropout_mask(4096, 0.5, s, o) for s, o in [(1, 0), (2, 0), (1, 1), (2**32, 0)]]
    for i in range(len(masks)):
        for j in range(i):
            assert 0.4 < (masks[i] != masks[j]).mean() < 0.6


@pytest.mark.parametrize("dtype", DTYPES)
def test_edge_probabilities(dtype, rng):
    x = rng.standard_normal((5, 7)).astype(dtype)
    y, mask = ops.dropout_forward(x, 0.0, 3)
    assert mask.all() and np.array_equal(y, x)
    y, mask = ops.dropout_forward(x, 1.0, 3)
    assert not mask.any() and np.array_equal(y, np.zeros_like(x))
    assert np.array_equal(ops.dropout_backward(x, mask, 1.0), np.zeros_like(x))
    x[0, 0] = np.nan  # as PyTorch's input * mask: a NaN stays NaN where dropped
    assert np.isnan(ops.dropout_forward(x, 1.0, 3)[0][0, 0])


# ---------------------------------------------------------------- autograd and modules
def test_manual_seed_reproduces_and_calls_differ(rng):
    x = rng.standard_normal((64, 64)).astype(np.float32)
    cr.manual_seed(3)
    a1, a2 = F.dropout(x).array, F.dropout(x).array
    cr.manual_seed(3)
    b1, b2 = F.dropout(x).array, F.dropout(x).array
    assert np.array_equal(a1, b1) and np.array_equal(a2, b2)
    assert not np.array_equal(a1 != 0, a2 != 0)
    cr.manual_seed(3)
    cr.set_num_threads(1)
    assert np.array_equal(F.dropout(x).array, a1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_is_the_mask_scaled(dtype, rng):
    x = cr.tensor(rng.standard_normal((6, 50)).astype(dtype), requires_grad=True)
    y = F.dropout(x, 0.25)
    g = rng.standard_normal((6, 50)).astype(dtype)
    y.backward(g)
    scale = dtype(1) / dtype(0.75)
    kept = y.array != 0
    assert np.array_equal(y.array, np.where(kept, x.array * scale, 0))
    assert np.array_equal(x.grad, np.where(kept, g * scale, 0))


def test_finite_differences_with_a_fixed_seed(rng):
    x = cr.tensor(rng.standard_normal((4, 9)), requires_grad=True)

    def f(x):
        cr.manual_seed(11)  # the same mask on every evaluation
        return F.dropout(x, 0.4) * 1.5
    assert cr.gradcheck(f, (x,))


def test_eval_is_the_identity(rng):
    x = cr.tensor(rng.standard_normal((3, 4, 5, 5)).astype(np.float32), requires_grad=True)
    for m in (nn.Dropout(0.7), nn.Dropout2d(0.7)):
        m.eval()
        assert m(x) is x
    assert F.dropout(x, 0.5, training=False) is x


def test_dropout2d_drops_whole_channels(rng):
    x = cr.tensor(rng.standard_normal((50, 40, 3, 4)), requires_grad=True)
    m = nn.Dropout2d(0.3)
    y = m(x)
    per_channel = (y.array != 0).reshape(50, 40, -1)
    kept = per_channel.all(axis=2)
    assert np.array_equal(kept, per_channel.any(axis=2))  # all or nothing per channel
    assert abs((1 - kept.mean()) - 0.3) < 6 * np.sqrt(0.3 * 0.7 / 2000)
    g = rng.standard_normal(x.shape)
    y.backward(g)
    assert np.array_equal(x.grad, np.where(kept[:, :, None, None], g * (1 / 0.7), 0))
    y3 = nn.Dropout2d(0.5)(rng.standard_normal((4, 6, 10)))  # (N, C, L)
    assert np.array_equal((y3.array != 0).all(axis=2), (y3.array != 0).any(axis=2))


def test_inplace(rng):
    a = rng.standard_normal((8, 8)).astype(np.float32)
    x = cr.tensor(a.copy())
    cr.manual_seed(5)
    y = F.dropout(x, 0.5, inplace=True)
    cr.manual_seed(5)
    want = F.dropout(cr.tensor(a), 0.5).array
    assert np.shares_memory(y.array, x.array) and np.array_equal(x.array, want)
    leaf = cr.tensor(a.copy(), requires_grad=True)
    with pytest.raises(ValueError, match="dropout: inplace=True on a leaf"):
        F.dropout(leaf, inplace=True)
    h = leaf * 2.0  # a non-leaf may be overwritten; the gradient still flows
    y = nn.Dropout(0.5, inplace=True)(h)
    y.backward(np.ones((8, 8), np.float32))
    assert np.array_equal(leaf.grad, np.where(y.array != 0, 4.0, 0.0).astype(np.float32))


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf")])
def test_bad_p_is_a_value_error(bad):
    x = np.ones(4, np.float32)
    for call in (lambda: nn.Dropout(bad), lambda: nn.Dropout2d(bad),
                 lambda: F.dropout(x, bad), lambda: F.dropout(x, bad, training=False),
                 lambda: ops.dropout_forward(x, bad, 0), lambda: ref.dropout_forward(x, bad, 0),
                 lambda: ops.dropout_backward(x, np.ones(4, np.uint8), bad)):
        with pytest.raises(ValueError, match="dropout probability 'p' must be between 0 and 1"):
            call()


def test_bad_arguments_are_rejected():
    x = np.ones(4, np.float32)
    with pytest.raises(TypeError, match="'p' must be a float"):
        F.dropout(x, "0.5")
    with pytest.raises(TypeError, match="'p' must be a float"):
        nn.Dropout(True)
    with pytest.raises(ValueError, match="dropout_forward: argument 'seed' must be in"):
        ops.dropout_forward(x, 0.5, -1)
    with pytest.raises(ValueError, match="'offset' must be in"):
        ops.dropout_forward(x, 0.5, 0, 2**64)
    with pytest.raises(TypeError, match="'seed' must be an int"):
        ops.dropout_forward(x, 0.5, 1.5)
    with pytest.raises(TypeError, match="dropout_backward: argument 'mask' must have dtype uint8"):
        ops.dropout_backward(x, np.ones(4, np.int64), 0.5)
    with pytest.raises(ValueError, match=r"'mask' must have the shape of dy \(4,\)"):
        ops.dropout_backward(x, np.ones(5, np.uint8), 0.5)
    with pytest.raises(TypeError, match="'x' must have dtype float32 or float64"):
        ops.dropout_forward(np.ones(3, np.int32), 0.5, 0)
    with pytest.raises(ValueError, match=r"dropout2d: input must be \(N, C, H, W\)"):
        F.dropout2d(x, 0.5)
    with pytest.raises(ValueError, match="dropout_mask: argument 'shape'"):
        ops.dropout_mask((-1, 2), 0.5, 0)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("p", [0.1, 0.5, 1 / 3, 1.0])
def test_scaling_and_edge_cases_match_torch(p):
    """PyTorch's RNG differs, but the kept values (x / (1 - p)) must be bitwise equal."""
    x = np.linspace(-3, 3, 4001).astype(np.float32)
    y, mask = ops.dropout_forward(x, p, 8)
    torch.manual_seed(0)
    ty = torch.nn.functional.dropout(torch.tensor(x), p, True).numpy()
    both = (mask == 1) & (ty != 0)
    assert np.array_equal(y[both], ty[both])
    assert (mask == 0).all() == (p == 1.0) and (ty == 0).all() == (p == 1.0)
    tm = torch.nn.Dropout(p)
    assert repr(nn.Dropout(p)) == repr(tm) and repr(nn.Dropout2d(p)) == repr(torch.nn.Dropout2d(p))
