"""% // fmod remainder floor_divide, format(t, spec), ``in`` and reversed() on Tensors
(issue 10: found porting scripts, e.g. the quickstart's ``f"loss: {loss:>7f}"``)."""
import numpy as np
import pytest

import chainrule as cr

A = np.array([[5.5, -5.5, 3.2], [-7.1, 0.4, 2.9]])
B = np.array([[2.0, 2.0, -2.1], [-3.0, 0.3, 1.7]])
CASES = [
    lambda m, x, y: x % y,
    lambda m, x, y: x % 2.5,
    lambda m, x, y: 7.3 % y,
    lambda m, x, y: m.remainder(x, y),
    lambda m, x, y: x.fmod(y),
    lambda m, x, y: m.fmod(x, -1.5),
    lambda m, x, y: (x // y) * x,
    lambda m, x, y: (4.1 // y) + m.floor_divide(x, 1.5) * y,
    lambda m, x, y: x.remainder(y[0]),
]
NO_TORCH_GRAD = {2, 6, 7}  # PyTorch: "derivative for aten::floor_divide / remainder (of a
# number by a tensor) is not implemented"; chainrule gives the zero / -floor(a/b) gradient


@pytest.mark.parametrize("i", range(len(CASES)))
def test_gradcheck_float64(i):
    xs = [cr.tensor(A, requires_grad=True), cr.tensor(B, requires_grad=True)]
    assert cr.gradcheck(lambda x, y: CASES[i](cr, x, y), xs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("i", range(len(CASES)))
def test_vs_torch(i, dtype):
    torch = pytest.importorskip("torch")
    xs = [cr.tensor(a.astype(dtype), requires_grad=True) for a in (A, B)]
    ts = [torch.tensor(a.astype(dtype), requires_grad=True) for a in (A, B)]
    out, tout = CASES[i](cr, *xs), CASES[i](torch, *ts)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), **tol)
    if i in NO_TORCH_GRAD:
        return
    out.sum().backward()
    tout.sum().backward()
    for x, t in zip(xs, ts):
        assert (x.grad is None) == (t.grad is None)
        if t.grad is not None:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **tol)


def test_integer_division_like_torch():
    torch = pytest.importorskip("torch")
    for f in (lambda m: m.tensor([7, -7, 6]) % 3, lambda m: m.tensor([7, -7, 6]) // 2,
              lambda m: 10 // m.tensor([3, -3, 4]), lambda m: m.tensor([7, -7]).fmod(3)):
        got, want = f(cr), f(torch)
        assert got.dtype == np.int64 and got.tolist() == want.tolist()


def test_format_contains_reversed():
    loss = cr.tensor(1.23456)
    assert f"loss: {loss:>7f}" == f"loss: {1.23456:>7f}"
    assert f"{cr.tensor(5):>3d}" == "  5" and format(cr.tensor(2.5), ".1f") == "2.5"
    assert f"{cr.tensor([1.0])}" == str(cr.tensor([1.0]))
    with pytest.raises(TypeError):
        format(cr.tensor([1.0, 2.0]), ".2f")  # as PyTorch: only 0-d tensors take a spec
    assert 3 in cr.tensor([1, 3]) and 2 not in cr.tensor([1, 3])
    assert cr.tensor(2.0) in cr.tensor([[1.0, 2.0]])
    with pytest.raises(RuntimeError, match="Tensor.__contains__"):
        "a" in cr.tensor([1, 3])
    assert [t.item() for t in reversed(cr.tensor([1, 2, 3]))] == [3, 2, 1]


def test_legacy_tensor_types_like_torch():
    torch = pytest.importorskip("torch")
    cases = [lambda m: m.FloatTensor([1, 2]), lambda m: m.LongTensor([[1], [2]]),
             lambda m: m.DoubleTensor(np.array([0.5])), lambda m: m.BoolTensor([True, False]),
             lambda m: m.tensor([1.7, -2.2]).type(m.LongTensor),
             lambda m: m.tensor([1, 0]).type(m.FloatTensor), lambda m: m.IntTensor([3]),
             lambda m: m.ByteTensor([1, 255])]
    for f in cases:
        got, want = f(cr), f(torch)
        assert got.dtype == np.dtype(str(want.dtype).replace("torch.", ""))
        assert got.tolist() == want.tolist()
    assert cr.FloatTensor(2, 3).shape == torch.FloatTensor(2, 3).shape
    assert isinstance(cr.tensor([1.0]), cr.FloatTensor) == isinstance(torch.tensor([1.0]),
                                                                       torch.FloatTensor)
    assert isinstance(cr.tensor([1]), cr.FloatTensor) == isinstance(torch.tensor([1]),
                                                                    torch.FloatTensor)


def test_legacy_tensor_types_without_torch():
    assert cr.FloatTensor(3).tolist() == [0, 0, 0] and cr.LongTensor().shape == (0,)
    assert cr.zeros(2, dtype=cr.LongTensor).dtype == cr.int64
    assert isinstance(cr.zeros(1, dtype=cr.float64), cr.DoubleTensor)
    assert not isinstance(cr.zeros(1), cr.DoubleTensor) and not isinstance(3, cr.FloatTensor)
    with pytest.raises(TypeError, match="FloatTensor: expects sizes"):
        cr.FloatTensor([1], [2])


def test_numpy_array_protocol_copies_only_when_asked():
    t = cr.tensor([1.0, 2.0, 3.0])
    shared = np.asarray(t)
    shared[0] = 5.0
    assert t[0].item() == 5.0  # np.asarray: zero-copy
    snap = np.array(t)  # NumPy 2 passes copy=True and trusts the result
    snap[1] = 9.0
    assert t[1].item() == 2.0
    assert np.array(t, dtype=np.float64).dtype == np.float64
    assert np.asarray(t, dtype=np.float32) is t.array
    with pytest.raises(ValueError, match="copy=False"):
        t.__array__(np.float64, copy=False)
