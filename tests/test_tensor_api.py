"""The PyTorch-shaped Tensor API (issue 10 item 1) against PyTorch, op by op."""
import numpy as np
import pytest

import chainrule as cr
from torch_oracle import helper_test_op, torch

DT = [np.float32, np.float64]
T = torch


def _both(name):
    return lambda *xs: getattr(xs[0], name)()


OPS = [  # (shapes, function applied to chainrule and torch tensors alike)
    ([(3, 5)], lambda x: x.max(1).values),
    ([(3, 5)], lambda x: x.min(0, keepdim=True).values),
    ([(4, 7)], lambda x: x.max()),
    ([(3, 5)], lambda x: x.prod(1)),
    ([(2, 3, 5)], lambda x: x.prod()),
    ([(3, 5)], lambda x: x.std()),
    ([(3, 5)], lambda x: x.var(1, keepdim=True)),
    ([(3, 5)], lambda x: x.var(0, correction=0)),
    ([(3, 5)], lambda x: x.std(dim=(0, 1), unbiased=False)),
    ([(3, 5)], lambda x: x.norm()),
    ([(3, 5)], lambda x: x.norm(dim=1)),
    ([(3, 5)], lambda x: x.norm(p=1, dim=0)),
    ([(3, 5)], lambda x: x.norm(p=3)),
    ([(2, 3, 5)], lambda x: x.permute(2, 0, 1) * 1),
    ([(3, 5)], lambda x: x.t() * 1),
    ([(3, 1, 5)], lambda x: x.squeeze(1) * 1),
    ([(3, 5)], lambda x: x.unsqueeze(1).unsqueeze(-1) * 1),
    ([(3, 1)], lambda x: x.expand(3, 4) * 1),
    ([(3, 1)], lambda x: x.expand(2, -1, 7) * 1),
    ([(2, 3)], lambda x: x.repeat(2, 3) * 1),
    ([(2, 3)], lambda x: x.repeat(2, 1, 2) * 1),
    ([(2, 12)], lambda x: x.unflatten(1, (3, 4)) * 1),
    ([(2, 3, 4)], lambda x: x.flatten(1) * 1),
    ([(3, 5)], lambda x: x.clamp(-0.5, 0.7)),
    ([(3, 5)], lambda x: x.clamp(min=0.1)),
    ([(3, 5)], lambda x: x.sin()),
    ([(3, 5)], lambda x: x.cos()),
    ([(3, 5)], lambda x: (x * x).log1p()),
    ([(3, 5)], lambda x: x.softmax(1)),
    ([(3, 5)], lambda x: x.log_softmax(0)),
    ([(3, 5)], lambda x: x.log_softmax(dim=-1)),
    ([(3, 5)], lambda x: x.neg()),
    ([(3, 5)], lambda x: x.abs()),
    ([(3, 5), (5,)], lambda x, y: x.maximum(y)),
    ([(3, 5), (3, 1)], lambda x, y: x.minimum(y)),
    ([(3, 5), (5, 2)], lambda x, y: x.matmul(y)),
    ([(3, 5)], lambda x: x[1:, ::2] * 1),
    ([(4, 5)], lambda x: x[[0, 2, 2]] * 1),
    ([(4, 5)], lambda x: x[x > 0] * 1),
    ([(3, 5)], lambda x: x.clone()),
    ([(3, 5), (3, 5)], lambda x, y: x.where(x > y, y)),
]


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("i", range(len(OPS)))
def test_method_vs_torch(i, dtype):
    shapes, fn = OPS[i]
    helper_test_op(shapes, fn, dtype=dtype)


FUNCS = [
    ([(2, 3), (4, 3)], lambda x, y: cr.cat([x, y]), lambda x, y: T.cat([x, y])),
    ([(2, 3), (2, 5)], lambda x, y: cr.cat((x, y), dim=1), lambda x, y: T.cat((x, y), 1)),
    ([(2, 3), (2, 3)], lambda x, y: cr.stack([x, y], 1), lambda x, y: T.stack([x, y], 1)),
    ([(2, 3), (3,)], lambda x, y: cr.where(x > 0, x, y), lambda x, y: T.where(x > 0, x, y)),
    ([(2, 3), (3,)], lambda x, y: cr.maximum(x, y), lambda x, y: T.maximum(x, y)),
    ([(2, 3)], lambda x: cr.clamp(x, max=0.3), lambda x: T.clamp(x, max=0.3)),
    ([(2, 3)], lambda x: cr.softmax(x, 0), lambda x: T.softmax(x, 0)),
    ([(2, 3)], lambda x: cr.pow(x * x, 1.5), lambda x: T.pow(x * x, 1.5)),
    ([(2, 3)], lambda x: cr.sum(x, 1), lambda x: T.sum(x, 1)),
    ([(2, 3)], lambda x: cr.mean(x, dim=0, keepdim=True), lambda x: T.mean(x, 0, True)),
    ([(2, 3), (3, 4)], lambda x, y: cr.matmul(x, y), lambda x, y: T.matmul(x, y)),
]


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("i", range(len(FUNCS)))
def test_function_vs_torch(i, dtype):
    shapes, f, tf = FUNCS[i]
    helper_test_op(shapes, f, tf, dtype=dtype)


@pytest.mark.parametrize("i", [0, 2, 5, 9, 13, 19, 28, 33])
def test_gradcheck_float64(i):
    shapes, fn = OPS[i]
    rng = np.random.default_rng(1)
    xs = [cr.tensor(rng.uniform(0.5, 2, s), requires_grad=True) for s in shapes]
    assert cr.gradcheck(fn, xs)


def test_dtypes_like_pytorch():
    assert cr.tensor(1.5).dtype == cr.float32 and cr.tensor(2).dtype == cr.long
    assert cr.tensor([True]).dtype == cr.bool and cr.tensor(np.zeros(2)).dtype == cr.double
    assert cr.float is cr.float32 and cr.int is cr.int32 and cr.uint8 == np.uint8
    x = cr.tensor([1.5, -2.0])
    assert x.long().dtype == cr.int64 and x.int().dtype == cr.int32
    assert x.bool().dtype == cr.bool and x.double().float().dtype == cr.float32
    assert x.type_as(cr.tensor([1])).dtype == cr.int64 and x.to(cr.float64).dtype == cr.float64
    i = cr.tensor([1, 2])
    assert (i + 1).dtype == cr.int64 and (i + 0.5).dtype == cr.float32
    assert (i / 2).dtype == cr.float32 and (i * x).dtype == cr.float32
    with pytest.raises(RuntimeError, match="only float32/float64"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="only float32/float64"):
        i.requires_grad_()


def test_grad_and_data_are_tensors_sharing_memory():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    assert isinstance(w.grad, cr.Tensor) and np.array_equal(w.grad.numpy(), [2, 4])
    d = w.data
    assert isinstance(d, cr.Tensor) and not d.requires_grad and np.shares_memory(d, w)
    d.fill_(0.5)
    assert np.array_equal(w.array, [0.5, 0.5])
    assert w.grad.data.norm().item() == pytest.approx(np.sqrt(20))
    with cr.no_grad():
        w -= 0.25 * w.grad
    assert w.requires_grad and w.is_leaf and np.allclose(w.array, [0.0, -0.5])
    w.grad.zero_()
    assert np.array_equal(w._grad, [0, 0])
    w.grad = None
    assert w.grad is None


def test_manual_sgd_matches_torch():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    W0 = rng.standard_normal((3, 1))
    losses = []
    for lib in (cr, T):
        w = lib.tensor(W0, requires_grad=True)
        b = lib.zeros(1, dtype=lib.float64, requires_grad=True)
        x, y = lib.tensor(X), lib.tensor(Y)
        run = []
        for _ in range(5):
            loss = ((x @ w + b - y) ** 2).mean()
            loss.backward()
            with lib.no_grad():
                w -= 0.1 * w.grad
                b -= 0.1 * b.grad
                w.grad.zero_()
                b.grad.zero_()
            run.append(loss.item())
        losses.append(run)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-12)


def test_comparisons_and_logic():
    x = cr.tensor([1.0, 2.0, 3.0])
    assert (x > 1).dtype == cr.bool and (x == 2).tolist() == [False, True, False]
    assert ((x > 1) & (x < 3)).tolist() == [False, True, False]
    assert ((x < 2) | (x > 2)).tolist() == [True, False, True]
    assert (~(x > 1)).tolist() == [True, False, False] and ((x > 1) ^ (x > 2)).tolist() == \
        [False, True, False]
    assert x.eq(2).any() and not x.gt(3).any() and x.ge(1).all()
    assert {x: 1}[x] == 1 and bool(x[0] == 1)
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x > 0)
    v, i = x.max(0)
    assert v.item() == 3 and i.item() == 2 and x.argmin().item() == 0
    assert x.size() == (3,) and x.size(0) == 3 and x.dim() == 1 and x.numel() == 3


def test_inplace_rules():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.add_(1)
    y = w.sigmoid()
    with cr.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (y * w).sum().backward()
    w.grad = None  # the failed walk may have reached w before the check
    h = w * 3  # a recorded result: the in-place op is recorded too
    h += 1
    h.relu_()
    h.sum().backward()
    assert np.array_equal(w.grad.numpy(), [3, 3])
    z = cr.zeros(2, 3)
    z[0] = 1.0
    z[:, 1] = cr.tensor([5.0, 6.0])
    assert z.tolist() == [[1, 5, 1], [0, 6, 0]]
    z.clamp_(max=2).uniform_(0, 1)
    assert ((z >= 0) & (z < 1)).all()


def test_setitem_gradients_match_torch():
    def f(lib):
        x = lib.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        v = lib.tensor([7.0, 8.0], requires_grad=True)
        y = x * 2
        y[:, 0] = v
        (y * lib.tensor(np.arange(1.0, 7).reshape(2, 3))).sum().backward()
        return x.grad.numpy(), v.grad.numpy()
    for a, b in zip(f(cr), f(T)):
        np.testing.assert_array_equal(a, b)


def test_factories():
    cr.manual_seed(0)
    assert cr.zeros(2, 3).shape == (2, 3) and cr.ones((2,)).dtype == cr.float32
    assert cr.full((2,), 3).dtype == cr.int64 and cr.full((2,), 1.5).tolist() == [1.5, 1.5]
    assert cr.arange(5).tolist() == [0, 1, 2, 3, 4] and cr.arange(0, 1, 0.5).dtype == cr.float32
    assert cr.linspace(0, 1, 3).tolist() == [0, 0.5, 1] and cr.eye(2).tolist() == [[1, 0], [0, 1]]
    assert sorted(cr.randperm(5).tolist()) == [0, 1, 2, 3, 4]
    r = cr.randint(0, 3, (100,))
    assert r.dtype == cr.int64 and r.min().item() >= 0 and r.max().item() < 3
    assert cr.randn(2, 2, dtype=cr.float64, requires_grad=True).requires_grad
    a = np.zeros(3, np.float32)
    assert np.shares_memory(cr.from_numpy(a), a) and np.shares_memory(cr.as_tensor(a), a)
    assert cr.zeros_like(cr.ones(2, dtype=cr.long)).dtype == cr.int64
    cr.manual_seed(1)
    u = cr.rand(3)
    cr.manual_seed(1)
    assert np.array_equal(u, cr.rand(3))
    assert cr.zeros(1, device="cpu").device == cr.device("cpu") and u.to("cpu") is u
    with pytest.raises(ValueError, match="CPU only"):
        cr.zeros(1, device="cuda")
    with pytest.raises(ValueError, match="CPU only"):
        u.to("cuda:0")
    with pytest.raises(ValueError, match="zeros: size"):
        cr.zeros(-1)


def test_zero_dim_bugs():
    for op in ("relu", "sigmoid", "tanh"):  # issue 10 item 7: a shared incoming gradient
        x = cr.tensor(0.3, requires_grad=True)
        y = getattr(x, op)()
        (y + y).backward()
        t = T.tensor(0.3, requires_grad=True)
        tt = getattr(t, op)()
        (tt + tt).backward()
        assert x.grad.shape == () and x.grad.item() == pytest.approx(t.grad.item(), rel=1e-6)
    s = cr.tensor(2.0, requires_grad=True)
    s.sum(0).backward()
    assert s.sum(0).shape == () and s.grad.item() == 1.0


def test_bad_input_messages():
    x = cr.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="Tensor.to: dtype"):
        x.to(np.complex64)
    with pytest.raises(ValueError, match="cat: tensors must match"):
        cr.cat([cr.zeros(2, 3), cr.zeros(2, 4)])
    with pytest.raises(TypeError, match="where: argument 'condition'"):
        cr.where(x, x, x)
    with pytest.raises(IndexError, match="Tensor.max: dim 3"):
        x.max(3)
    m = cr.tensor(np.matrix([[1.0, 2.0], [3.0, 4.0]]))
    assert type(m.array) is np.ndarray and (m * m).tolist() == [[1, 4], [9, 16]]
