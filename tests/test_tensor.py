"""Autograd Tensor: every op against finite differences (float64), values against NumPy and
(when installed) PyTorch, dtype rules, accumulation, no_grad and error messages."""
import os
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.gradcheck import GradcheckError
from helpers import HAVE_TORCH, assert_close

f64 = np.float64


def T(rng, *shape, positive=False):
    a = rng.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return cr.tensor(a, dtype=f64, requires_grad=True)


# ---------------------------------------------------------------------------- gradients
BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)),
                 ((), (2, 3)), ((5,), ())]


@pytest.mark.parametrize("sa,sb", BINARY_SHAPES)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow"])
def test_binary_ops_gradcheck_with_broadcasting(rng, op, sa, sb):
    a = T(rng, *sa, positive=op in ("pow",))
    b = T(rng, *sb, positive=op in ("div", "pow"))
    fns = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
           "div": lambda x, y: x / y, "pow": lambda x, y: x ** y}
    out = fns[op](a, b)
    assert out.shape == np.broadcast_shapes(sa, sb)
    assert_close(out.array, fns[op](a.array, b.array))
    assert cr.gradcheck(fns[op], (a, b))


@pytest.mark.parametrize("fn", [
    lambda x: 2.5 + x, lambda x: x + 2.5, lambda x: 2.5 - x, lambda x: x - 2.5,
    lambda x: 2.5 * x, lambda x: x * 2.5, lambda x: 2.5 / x, lambda x: x / 2.5,
    lambda x: x ** 3, lambda x: x ** 0.5, lambda x: x ** -1.5, lambda x: 1.7 ** x,
    lambda x: -x, lambda x: +x, lambda x: x ** 2, lambda x: x ** 1, lambda x: x ** 0,
])
def test_ops_with_python_numbers_gradcheck(rng, fn):
    x = T(rng, 3, 5, positive=True)
    assert cr.gradcheck(fn, (x,))


@pytest.mark.parametrize("name", ["exp", "log", "relu", "sigmoid", "tanh", "abs", "sqrt"])
def test_unary_ops_gradcheck(rng, name):
    positive = name in ("log", "sqrt")
    x = T(rng, 4, 3, positive=positive)
    if name in ("relu", "abs"):  # keep away from the kink at 0
        x.array[np.abs(x.array) < 1e-3] = 0.5
    assert cr.gradcheck(lambda t: getattr(t, name)(), (x,))
    ref = {"exp": np.exp, "log": np.log, "relu": lambda a: np.maximum(a, 0),
           "sigmoid": lambda a: 1 / (1 + np.exp(-a)), "tanh": np.tanh, "abs": np.abs,
           "sqrt": np.sqrt}[name]
    assert_close(getattr(x, name)().array, ref(x.array))


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((1, 7), (7, 1)), ((4,), (4, 3)),
                                   ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
                                   ((2, 3, 4), (2, 4, 5)), ((4,), (2, 4, 3)),
                                   ((2, 1, 3, 4), (5, 4, 2)), ((2, 3, 4), (4,))])
def test_matmul_numpy_semantics_and_gradcheck(rng, sa, sb):
    a, b = T(rng, *sa), T(rng, *sb)
    out = a @ b
    assert_close(out.array, np.matmul(a.array, b.array))
    assert cr.gradcheck(lambda x, y: x @ y, (a, b))


def test_matmul_2d_transposed_views_and_reflected(rng):
    a = T(rng, 5, 3)
    b = T(rng, 5, 4)
    out = a.T @ b  # a.T is a Fortran-ordered view: passed as a transpose flag
    assert_close(out.array, a.array.T @ b.array)
    assert cr.gradcheck(lambda x, y: x.T @ y, (a, b))
    c = rng.standard_normal((2, 5))
    r = c @ a  # ndarray @ Tensor -> Tensor.__rmatmul__
    assert isinstance(r, cr.Tensor)
    assert_close(r.array, c @ a.array)
    r.sum().backward()
    assert_close(a.grad, c.T @ np.ones((2, 3)))


def test_matmul_shape_errors():
    a = cr.tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"matmul.*\(3, 4\).*\(5, 2\)"):
        a @ cr.tensor(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="matmul"):
        a @ cr.tensor(np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        a @ cr.tensor(np.float64(2.0))


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2), (2, 1, 0)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_reductions_gradcheck(rng, op, axis, keepdims):
    x = T(rng, 3, 4, 5)
    out = getattr(x, op)(axis=axis, keepdims=keepdims)
    want = getattr(np, op)(x.array, axis=axis, keepdims=keepdims)
    assert isinstance(out.array, np.ndarray) and out.dtype == np.float64
    assert_close(out.array, want)
    assert cr.gradcheck(lambda t: getattr(t, op)(axis=axis, keepdims=keepdims), (x,))


def test_reduction_axis_errors():
    x = cr.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        x.sum(axis=2)
    with pytest.raises(TypeError, match="axis must be an int"):
        x.mean(axis=1.0)


def test_shape_ops_gradcheck(rng):
    x = T(rng, 2, 3, 4)
    assert cr.gradcheck(lambda t: t.reshape(4, 6) * 1.5, (x,))
    assert cr.gradcheck(lambda t: t.reshape((6, -1)), (x,))
    assert cr.gradcheck(lambda t: t.transpose(0, 2), (x,))
    assert cr.gradcheck(lambda t: t.T, (x,))
    assert cr.gradcheck(lambda t: t.flatten(1), (x,))
    assert x.T.shape == (4, 3, 2) and x.transpose(1, -1).shape == (2, 4, 3)
    assert x.flatten(1).shape == (2, 12) and x.flatten().shape == (24,)
    with pytest.raises(ValueError, match=r"cannot reshape.*\(2, 3, 4\).*\(5, 5\)"):
        x.reshape(5, 5)


def test_trace_gradcheck(rng):
    for shape in [(4, 4), (3, 5), (5, 2)]:
        x = T(rng, *shape)
        assert_close(x.trace().array, np.trace(x.array))
        assert cr.gradcheck(lambda t: t.trace(), (x,))
    with pytest.raises(ValueError, match="2-D"):
        T(rng, 3).trace()


def test_getitem_gradcheck(rng):
    x = T(rng, 4, 5)
    assert cr.gradcheck(lambda t: t[1:3, ::2], (x,))
    assert cr.gradcheck(lambda t: t[2], (x,))
    assert cr.gradcheck(lambda t: t[1, 3], (x,))
    assert cr.gradcheck(lambda t: t[[0, 2, 0]], (x,))  # repeated rows accumulate
    assert cr.gradcheck(lambda t: t[x.array > 0], (x,))


def test_composite_expression_gradcheck(rng):
    W = T(rng, 3, 4)
    b = T(rng, 3)
    x = T(rng, 5, 4)

    def f(W, b, x):
        h = (x @ W.T + b).tanh()
        return ((h * h).sum(axis=1) / (1.0 + h.exp().mean())).log().mean() + W.trace()
    assert cr.gradcheck(f, (W, b, x))


# ---------------------------------------------------------------------------- engine
def test_diamond_and_reuse_accumulate():
    x = cr.tensor(3.0, dtype=f64, requires_grad=True)
    y = x * x + x * 2.0 + x  # dy/dx = 2x + 3 = 9
    y.backward()
    assert x.grad == pytest.approx(9.0)
    z = x * x
    w = z * z  # x^4 -> 4x^3 = 108
    w.backward()
    assert x.grad == pytest.approx(9.0 + 108.0)  # accumulated


def test_grad_accumulates_across_backward_calls(rng):
    W = T(rng, 3, 2)
    x = rng.standard_normal((4, 2))
    (x @ W.T).sum().backward()
    g1 = W.grad.array.copy()
    (x @ W.T).sum().backward()
    assert_close(W.grad, 2 * g1)
    out = (x @ W.T).sum()
    out.backward(retain_graph=True)
    out.backward()  # the same graph again
    assert_close(W.grad, 4 * g1)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        out.backward()  # freed by the last call, as in PyTorch
    assert_close(W.grad, 4 * g1)


def test_backward_frees_the_graph(rng):
    W = T(rng, 3, 2)
    # the interior nodes of the walked graph drop their parents and saved arrays
    z = (W * 2.0).sum()
    inner = z._parents[0]
    z.backward()
    assert z._parents == () and inner._parents == ()
    assert inner._backward.__closure__ is None  # no cell holds a saved array any more
    with pytest.raises(RuntimeError, match="already freed"):
        (inner * 1.0).sum().backward()


def test_shared_grad_arrays_are_not_aliased():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # add passes the same upstream array to both parents
    a.grad += 10
    assert_close(b.grad, np.ones(2, np.float32))
    (a + b).sum().backward()
    assert_close(b.grad, 2 * np.ones(2, np.float32))
    assert_close(a.grad, 12 * np.ones(2, np.float32))


def test_non_leaf_grads_not_kept_and_no_grad_leaves_untouched(rng):
    x = T(rng, 3)
    c = cr.tensor(rng.standard_normal(3))  # requires_grad=False
    h = x * 2.0
    (h * c).sum().backward()
    assert h.grad is None and c.grad is None
    assert not h.is_leaf and x.is_leaf
    assert_close(x.grad, 2.0 * c.array.astype(f64), rtol=1e-6)


def test_deep_graph_has_no_recursion_limit():
    x = cr.tensor(1.0, dtype=f64, requires_grad=True)
    y = x
    n = sys.getrecursionlimit() * 3
    for _ in range(n):
        y = y + 1e-3
    y.backward()
    assert x.grad == 1.0
    assert y.item() == pytest.approx(1.0 + n * 1e-3)


def test_backward_with_explicit_grad_and_errors(rng):
    x = T(rng, 2, 3)
    y = x * 3.0
    with pytest.raises(ValueError, match="one element"):
        y.backward()
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        y.backward(np.ones(3))
    with pytest.raises(TypeError, match="dtype"):
        y.backward(np.ones((2, 3), np.float32))
    g = rng.standard_normal((2, 3))
    y.backward(g)
    assert_close(x.grad, 3.0 * g)
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.tensor([1.0, 2.0]).sum().backward()


def test_no_grad_and_enable_grad(rng):
    x = T(rng, 3)
    with cr.no_grad():
        y = x * 2 + 1
        assert not cr.is_grad_enabled()
        with cr.enable_grad():
            z = x * 2
        with cr.no_grad():
            pass
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad

    @cr.no_grad()
    def f(t):
        return t * t
    assert not f(x).requires_grad
    assert cr.is_grad_enabled()


def test_grad_assignment():
    x = cr.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    x.grad = np.full((2, 3), 2.0, np.float32)
    (x * 1.0).sum().backward()
    assert_close(x.grad, np.full((2, 3), 3.0, np.float32))
    x.grad = None
    assert x.grad is None
    with pytest.raises(ValueError, match=r"shape \(3, 2\).*\(2, 3\)"):
        x.grad = np.zeros((3, 2), np.float32)
    with pytest.raises(TypeError, match="dtype float64"):
        x.grad = np.zeros((2, 3))
    with pytest.raises(TypeError, match="ndarray"):
        x.grad = [[0, 0, 0], [0, 0, 0]]


# ---------------------------------------------------------------------------- creation, dtypes
def test_tensor_creation_dtypes():
    assert cr.tensor(1.5).dtype == np.float32
    assert cr.tensor(3).dtype == np.int64  # PyTorch's inference: ints -> int64
    assert cr.tensor([[1, 2], [3, 4]]).dtype == np.int64
    assert cr.tensor(True).dtype == np.bool_
    assert cr.tensor([1.0, 2.0]).dtype == np.float32
    assert cr.tensor(np.zeros(3)).dtype == np.float64
    assert cr.tensor(np.zeros(3, np.float32)).dtype == np.float32
    assert cr.tensor(np.arange(3)).dtype == np.int64  # NumPy arrays keep their dtype
    assert cr.tensor(np.arange(3, dtype=np.int32)).dtype == np.int32
    assert cr.tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert cr.tensor(np.zeros(3), dtype="float32").dtype == np.float32
    src = np.zeros(3)
    t = cr.tensor(src)
    src[0] = 5
    assert t.array[0] == 0  # a copy
    assert cr.tensor(t).dtype == np.float64
    assert cr.tensor([1, 2], dtype=np.int64).dtype == np.int64  # integer tensors exist
    with pytest.raises(TypeError, match="float16 is not supported"):
        cr.tensor([1, 2], dtype=np.float16)
    with pytest.raises(TypeError, match="complex"):
        cr.tensor(np.array([1j]))
    with pytest.raises(TypeError, match="must be numbers"):
        cr.tensor("abc")
    with pytest.raises(TypeError, match="float16"):
        cr.tensor(np.zeros(2, np.float16))


def test_python_numbers_keep_dtype():
    x = cr.tensor([1.0, 2.0])
    for y in (x + 1, 1 + x, x * 2.5, 2.5 * x, x / 3, 3 / x, x - 1, 1 - x, x ** 2, 2 ** x,
              x + np.float64(1.5), np.float64(2) * x, x * np.int64(3)):
        assert y.dtype == np.float32, y
    d = cr.tensor(np.ones(2))
    assert (d * 2).dtype == np.float64


def test_mixed_dtypes_raise_typeerror():
    a = cr.tensor(np.ones(3, np.float32))
    b = cr.tensor(np.ones(3, np.float64))
    for fn in (lambda: a + b, lambda: a * b, lambda: a - b, lambda: a / b, lambda: a ** b,
               lambda: a @ b, lambda: a + np.ones(3), lambda: np.ones(3) * a):
        with pytest.raises(TypeError, match="mixed float dtypes"):
            fn()
    c = a + np.arange(3)  # an integer operand takes the float dtype (PyTorch's promotion)
    assert c.dtype == np.float32 and np.array_equal(c.array, [1, 2, 3])
    with pytest.raises(TypeError, match="complex128"):
        a + np.arange(3) * 1j
    with pytest.raises(TypeError):
        a + "x"


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "**"])
def test_broadcast_errors_name_the_shapes(op):
    a, b = cr.tensor(np.ones((2, 4))), cr.tensor(np.ones((3, 1, 3)))
    with pytest.raises(ValueError, match=r"shapes \(2, 4\) and \(3, 1, 3\) do not broadcast"):
        eval(f"a {op} b")


def test_ndarray_operands_reflect_to_tensor(rng):
    x = T(rng, 3)
    c = rng.standard_normal(3)
    for y, want in ((c + x, c + x.array), (c - x, c - x.array), (c * x, c * x.array),
                    (c / x, c / x.array)):
        assert isinstance(y, cr.Tensor)
        assert_close(y.array, want)


def test_conversions(rng):
    x = cr.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    assert x.numpy() is x.array
    assert x.shape == (2, 3) and x.ndim == 2 and x.numel() == 6 and len(x) == 2
    d = x.detach()
    assert not d.requires_grad and d.array is x.array
    assert cr.tensor([[2.5]]).item() == 2.5
    with pytest.raises(ValueError, match="one element"):
        x.item()
    assert np.asarray(x) is x.array
    assert "requires_grad=True" in repr(x)


# ---------------------------------------------------------------------------- gradcheck itself
def _wrong_square(x):
    from chainrule.autograd.function import make
    a = x.array

    def backward(g):
        return (g * a,)  # wrong: should be 2 a
    return make(a * a, (x,), backward)


def test_gradcheck_detects_a_wrong_gradient(rng):
    x = T(rng, 3, 2)
    with pytest.raises(GradcheckError, match=r"input 0 at element \(\d, \d\): analytic"):
        cr.gradcheck(_wrong_square, (x,))
    assert cr.gradcheck(_wrong_square, (x,), raise_exception=False) is False
    assert x.grad is None  # gradcheck leaves .grad as it found it


def test_gradcheck_argument_errors(rng):
    with pytest.raises(TypeError, match="float64"):
        cr.gradcheck(lambda t: t * 2, (cr.tensor([1.0, 2.0], requires_grad=True),))
    with pytest.raises(ValueError, match="requires grad"):
        cr.gradcheck(lambda t: t * 2, (cr.tensor(np.ones(2)),))
    x = T(rng, 2)
    assert cr.gradcheck(lambda t, k: t * k, (x, 3.0))  # non-tensor inputs pass through
    assert cr.gradcheck(lambda t: t.exp(), x)


# ---------------------------------------------------------------------------- PyTorch oracle
@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
def test_against_torch_expression(rng):
    import torch
    A = rng.standard_normal((4, 5))
    B = rng.standard_normal((5,))
    C = rng.standard_normal((2, 4, 5))

    def run(lib, A, B, C):
        if lib == "cr":
            a, b, c = (cr.tensor(v, requires_grad=True) for v in (A, B, C))
        else:
            a, b, c = (torch.tensor(v, requires_grad=True) for v in (A, B, C))
        h = ((a * b).sigmoid() @ b + (c / (1 + b * b)).tanh().sum(axis=(0, 2)) if lib == "cr"
             else (a * b).sigmoid() @ b + (c / (1 + b * b)).tanh().sum(dim=(0, 2)))
        out = (h.relu() ** 2).mean() + (c.exp().log() * a).mean() + a.T[1:3].sum()
        out.backward()
        grads = [t.grad if lib == "cr" else t.grad.numpy() for t in (a, b, c)]
        return (out.item(), *grads)

    for got, want in zip(run("cr", A, B, C), run("torch", A, B, C)):
        assert_close(got, want)


def test_dtype_casts_are_differentiable(rng):
    x = cr.tensor(rng.standard_normal(3), requires_grad=True)  # float64 data keeps its dtype
    assert x.dtype == np.float64
    y = x.float()
    assert y.dtype == np.float32 and x.double() is x
    (y * 2.0).sum().backward()
    assert x.grad.dtype == np.float64
    assert_close(x.grad, np.full(3, 2.0))
    i = x.to(np.int32)  # to an integer dtype: a constant (no gradient), as in PyTorch
    assert i.dtype == np.int32 and not i.requires_grad
    with pytest.raises(TypeError, match="not supported"):
        x.to(np.complex64)


@pytest.mark.parametrize("seed", range(5))
def test_random_dag_with_reuse_gradcheck(seed):
    """Random expression DAGs whose nodes are reused by later nodes (fan-out at every depth):
    the backward order must still visit each node after all of its consumers."""
    rng = np.random.default_rng(seed)
    leaves = [cr.tensor(rng.uniform(0.5, 1.5, (3, 4)), requires_grad=True) for _ in range(3)]
    plan = [(rng.integers(0, 4), rng.integers(0, 1000), rng.integers(0, 1000)) for _ in range(12)]

    def f(*xs):
        nodes = list(xs)
        for op, i, j in plan:
            a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
            nodes.append([lambda: a * b, lambda: a + b.tanh(), lambda: (a - b).sigmoid(),
                          lambda: a / (1.0 + b * b)][op]())
        return sum(nodes[3:], nodes[-1] * 0.0)
    assert cr.gradcheck(f, tuple(leaves))


def test_reductions_accept_torch_spelling(rng):
    x = T(rng, 2, 3)
    assert_close(x.sum(dim=1, keepdim=True).array, x.array.sum(1, keepdims=True))
    assert_close(x.mean(dim=(0, 1)).array, x.array.mean())


# ---------------------------------------------------------------------------- property-based
from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                max_side=3),
       op=st.sampled_from(["add", "sub", "mul", "div"]), seed=st.integers(0, 2**16))
def test_broadcasting_gradients_property(shapes, op, seed):
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    a = cr.tensor(rng.uniform(0.5, 2.0, sa), requires_grad=True)
    b = cr.tensor(rng.uniform(0.5, 2.0, sb), requires_grad=True)
    fn = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
          "div": lambda x, y: x / y}[op]
    out = fn(a, b)
    assert out.shape == shapes.result_shape
    out.backward(np.ones(out.shape))
    assert a.grad.shape == sa and b.grad.shape == sb
    a.grad = b.grad = None
    assert cr.gradcheck(fn, (a, b))


def test_no_grad_is_per_thread():
    import threading
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    inside, release = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with cr.no_grad():
            inside.set()
            release.wait(5)
            seen["worker"] = (x * 2).requires_grad

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    seen["main"] = (x * 2).requires_grad  # the other thread's no_grad must not leak here
    release.set()
    t.join()
    assert seen == {"main": True, "worker": False}


def test_zero_dim_results_are_arrays():
    a = cr.tensor(2.0, requires_grad=True)
    b = cr.tensor(3.0)
    for y in (a + b, a * b, a - 1.0, 1.0 / a, a ** 2, -a, a.exp(), a.log(), a.relu(),
              a.sigmoid(), a.tanh(), a.sum(), a.mean(), a.reshape(()), a[()]):
        assert type(y.array) is np.ndarray and y.shape == () and y.dtype == np.float32, y
    (a * b).backward()
    assert type(a.grad.array) is np.ndarray and a.grad.shape == () and a.grad == 3.0


# one line per op, run identically on chainrule and PyTorch (tinygrad's helper_test_op)
TORCH_OPS = [
    ("add_bcast", [(3, 4), (4,)], lambda a, b: a + b),
    ("sub_bcast", [(3, 1), (1, 4)], lambda a, b: a - b),
    ("mul_bcast", [(2, 3, 4), (3, 1)], lambda a, b: a * b),
    ("div", [(3, 4), (3, 4)], lambda a, b: a / (b * b + 1.0)),
    ("pow_tensor", [(3, 4), (3, 4)], lambda a, b: (a * a + 0.5) ** b),
    ("pow_number", [(3, 4)], lambda a: (a * a + 0.5) ** 1.7),
    ("rpow", [(3, 4)], lambda a: 2.0 ** a),
    ("reflected", [(3, 4)], lambda a: 1.0 - 2.0 / (3.0 + a * a) + 4.0 * a),
    ("matmul_2d", [(3, 4), (4, 5)], lambda a, b: a @ b),
    ("matmul_1d_2d", [(4,), (4, 5)], lambda a, b: a @ b),
    ("matmul_2d_1d", [(3, 4), (4,)], lambda a, b: a @ b),
    ("matmul_1d_1d", [(4,), (4,)], lambda a, b: a @ b),
    ("matmul_batched", [(2, 3, 4), (4, 5)], lambda a, b: a @ b),
    ("matmul_bcast_batch", [(2, 1, 3, 4), (5, 4, 2)], lambda a, b: a @ b),
    ("matmul_T", [(4, 3), (4, 5)], lambda a, b: a.T @ b),
    ("unary", [(3, 4)], lambda a: (a.exp() + (a * a + 1.0).log() + a.relu() + a.sigmoid()
                                   + a.tanh() - a)),
    ("sum_dim", [(2, 3, 4)], lambda a: a.sum(dim=1)[:, None, :] * a.sum(dim=(0, 2), keepdim=True)),
    ("mean_all", [(2, 3, 4)], lambda a: a.mean() * a),
    ("reshape_transpose", [(2, 3, 4)], lambda a: a.reshape(4, 6).transpose(0, 1) * 2.0),
    ("trace", [(4, 4)], lambda a: a.trace() * a),
    ("getitem", [(4, 5)], lambda a: a[1:3, ::2] * a[0, :3]),
]


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,shapes,fn", TORCH_OPS, ids=[o[0] for o in TORCH_OPS])
def test_op_matches_torch(rng, name, shapes, fn, dtype):
    import torch
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = fn(*ours), fn(*theirs)
    assert out.dtype == dtype and out.shape == tuple(tout.shape)
    assert_close(out.array, tout.detach().numpy(), name=f"{name} output")
    dout = rng.standard_normal(out.shape).astype(dtype)
    out.backward(dout)
    tout.backward(torch.from_numpy(dout))
    for i, (o, t) in enumerate(zip(ours, theirs)):
        assert_close(o.grad, t.grad.numpy(), name=f"{name} grad {i}")


def test_float32_gradients_are_never_promoted(rng, monkeypatch):
    """Every op's backward must hand float32 gradients to float32 leaves: a float64 gradient
    would be silently cast at the leaf but slow everything and trip the kernels' dtype checks."""
    import chainrule.autograd.engine as ag
    import chainrule.nn.functional as F
    seen = []
    real = ag._accumulate

    def spy(leaf, g):
        seen.append(np.asarray(g).dtype)
        real(leaf, g)
    monkeypatch.setattr(ag, "_accumulate", spy)
    for name, shapes, fn in TORCH_OPS:
        ts = [cr.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
              for s in shapes]
        out = fn(*ts)
        out.backward(np.ones(out.shape, np.float32))
    x = cr.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    p = cr.tensor(rng.uniform(0.1, 0.9, (4, 3)).astype(np.float32), requires_grad=True)
    for f in (lambda: F.softmax(x, 1).sum(), lambda: F.log_softmax(x, 0).sum(),
              lambda: F.mse_loss(x, p), lambda: F.binary_cross_entropy(p, p.array),
              lambda: F.binary_cross_entropy_with_logits(x, p),
              lambda: F.cross_entropy(x, np.array([0, 1, 2, 0]), 0.1),
              lambda: F.cross_entropy(x, p, 0.1, "none").sum(), lambda: (x.mean(0) ** 2).mean(),
              lambda: F.max_pool2d(x.reshape(1, 1, 4, 3), 2).sum(),
              lambda: F.avg_pool2d(x.reshape(1, 1, 4, 3), 2, 1, 1).sum()):
        f().backward()
    assert len(seen) > 40
    assert set(seen) == {np.dtype(np.float32)}


# ---------------------------------------------------------------------------- fused relu,
# gradient reuse without copies (autograd.engine.sole)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_kernel_matches_numpy_special_values(rng, dtype):
    from chainrule import _kernels
    a = rng.standard_normal((3, 7, 11)).astype(dtype)  # odd sizes: vector tails
    a.flat[:6] = [np.nan, -0.0, 0.0, np.inf, -np.inf, 1e-40]
    y = np.empty_like(a)
    _kernels.relu_forward(y, a)
    ref = np.maximum(a, 0)
    assert np.array_equal(y, ref, equal_nan=True)
    assert not np.signbit(y).any()  # -0 -> +0, as numpy.maximum(-0.0, 0)
    g = rng.standard_normal(a.shape).astype(dtype)
    g.flat[7] = np.nan  # NaN upstream gradient stays NaN even where the mask is 0
    dx = np.empty_like(a)
    _kernels.relu_backward(dx, g, y)
    with np.errstate(invalid="ignore"):
        assert np.array_equal(dx, g * (a > 0), equal_nan=True)
    _kernels.relu_backward(g, g, y)  # in place
    assert np.array_equal(g, dx, equal_nan=True)
    big = rng.standard_normal(300_001).astype(dtype)  # the threaded path (odd length)
    yb = np.empty_like(big)
    _kernels.relu_forward(yb, big)
    assert np.array_equal(yb, np.maximum(big, 0))


def test_relu_kernel_argument_errors():
    from chainrule import _kernels
    a = np.ones(8, np.float32)
    with pytest.raises(TypeError, match="relu_forward"):
        _kernels.relu_forward(np.empty(8), a)
    with pytest.raises(ValueError, match="elements"):
        _kernels.relu_forward(np.empty(7, np.float32), a)
    with pytest.raises(ValueError, match="overlap"):
        _kernels.relu_forward(a[1:], a[:-1])
    with pytest.raises(ValueError, match="C-contiguous"):
        _kernels.relu_forward(np.empty(4, np.float32), a[::2])
    with pytest.raises(ValueError, match="writable"):
        ro = np.empty(8, np.float32)
        ro.flags.writeable = False
        _kernels.relu_forward(ro, a)
    with pytest.raises(TypeError, match="one float dtype"):
        _kernels.relu_backward(np.empty(8, np.float32), a, np.ones(8))
    with pytest.raises(ValueError, match="counts differ"):
        _kernels.relu_backward(np.empty(8, np.float32), a, np.ones(9, np.float32))
    with pytest.raises(ValueError, match="overlap"):
        _kernels.relu_backward(a[1:], a[:-1], np.ones(7, np.float32))
    _kernels.relu_forward(np.empty(0, np.float32), np.empty(0, np.float32))  # size 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_noncontiguous_and_zero_dim(rng, dtype):
    a = rng.standard_normal((6, 5)).astype(dtype)
    x = cr.tensor(a, requires_grad=True)
    y = x.T.relu()  # a Fortran-ordered view
    assert y.dtype == dtype and y.array.flags.c_contiguous
    assert_close(y.array, np.maximum(a.T, 0))
    y.backward(np.ones((5, 6), dtype)[:, :])
    assert_close(x.grad, (a > 0).astype(dtype))
    s = cr.tensor(np.array(-2.0, dtype), requires_grad=True)
    s.relu().backward()
    assert s.grad == 0 and s.grad.dtype == dtype


def _ptr(a):
    return np.asarray(a).__array_interface__["data"][0]


def test_fresh_gradients_are_adopted_not_copied(rng, monkeypatch):
    """A kernel's fresh output becomes the leaf's .grad and a ReLU backward overwrites its
    incoming gradient: no copies on the hot path (this fails if the reference-count
    calibration in autograd stops matching the walk)."""
    import chainrule.nn.functional as F
    from chainrule import _kernels
    seen, inplace = {}, []
    real_lb, real_rb = _kernels.linear_backward, _kernels.relu_backward

    def lb(dx, dw, *args, **kw):  # F.linear hands the kernel fresh output buffers
        seen.setdefault("dx", []).append(_ptr(dx))
        seen.setdefault("dw", []).append(_ptr(dw))
        return real_lb(dx, dw, *args, **kw)

    def rb(dinp, dout, out):
        inplace.append(dinp is dout)
        return real_rb(dinp, dout, out)
    monkeypatch.setattr(_kernels, "linear_backward", lb)
    monkeypatch.setattr(_kernels, "relu_backward", rb)
    x = T(rng, 4, 3)
    w1, w2 = T(rng, 5, 3), T(rng, 2, 5)
    F.linear(F.linear(x, w1).relu(), w2).sum().backward()
    assert inplace == [True]
    assert _ptr(w2.grad) == seen["dw"][0] and _ptr(w1.grad) == seen["dw"][1]
    assert _ptr(x.grad) == seen["dx"][1]


def test_gradients_someone_else_holds_are_never_overwritten(rng):
    a = rng.standard_normal((4, 3))
    g = rng.standard_normal((4, 3))
    g0 = g.copy()
    x = cr.tensor(a, requires_grad=True)
    x.relu().backward(g)  # the caller's grad array: read, never written or adopted
    assert np.array_equal(g, g0)
    assert x.grad is not g and not np.shares_memory(x.grad, g)
    # one upstream array reaching a ReLU and a leaf (add hands it to both parents)
    y = cr.tensor(a, requires_grad=True)
    z = cr.tensor(a, requires_grad=True)
    (y.relu() + z).backward(g)
    assert_close(z.grad, g0)
    assert_close(y.grad, g0 * (a > 0))
    # a ReLU output used twice: each consumer's gradient is separate
    w = cr.tensor(a, requires_grad=True)
    r = w.relu()
    (r * 2.0 + r.relu()).sum().backward()
    assert_close(w.grad, 3.0 * (a > 0))
    # a tensor's data passed as grad stays intact
    t = cr.tensor(g0.copy())
    u = cr.tensor(a, requires_grad=True)
    u.relu().backward(t)
    assert np.array_equal(t.array, g0)
    u.relu().backward(t)  # adopted-or-not, accumulation stays correct
    assert_close(u.grad, 2 * g0 * (a > 0))


@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="under AddressSanitizer malloc is ASan's, which ignores mallopt")
def test_malloc_tuning_keeps_step_memory_mapped():
    """Freed activations stay mapped: re-allocating a few MB costs no page faults (glibc);
    CHAINRULE_MALLOC_TUNING=0 or the user's own malloc settings turn the tuning off."""
    import platform
    import subprocess
    from chainrule import _runtime as A  # the tuning moved from autograd to the runtime
    assert A.tune_heap({"CHAINRULE_MALLOC_TUNING": "0"}) is False
    assert A.tune_heap({"MALLOC_TRIM_THRESHOLD_": "0"}) is False
    assert A.tune_heap({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}) is False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("the tuning is glibc-only")
    code = ("import resource, numpy as np, chainrule\n"
            "def step():\n"
            "    bufs = [np.ones(300_000, np.float32) for _ in range(12)]\n"
            "    del bufs\n"
            "step()\n"
            "r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "for _ in range(5): step()\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)\n")
    import os
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MALLOC_") and k != "CHAINRULE_MALLOC_TUNING"}
    faults = int(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                text=True, check=True).stdout)
    off = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env={**env, "CHAINRULE_MALLOC_TUNING": "0"}).stdout)
    assert faults < 100 < off  # 5 steps x 14 MB: ~17000 faults without the tuning


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_tanh_backward_kernels(rng, dtype):
    from chainrule import _kernels
    y = rng.uniform(-1, 1, (5, 13)).astype(dtype)
    g = rng.standard_normal(y.shape).astype(dtype)
    d = np.empty_like(y)
    _kernels.sigmoid_backward(d, g, y)
    assert np.array_equal(d, g * y * (1 - y))  # NumPy's order: no contraction possible
    _kernels.tanh_backward(d, g, y)
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else {}
    assert_close(d, g * (1 - y * y), **tol)  # 1 - y*y may be one FMA
    _kernels.sigmoid_backward(g, g, y)  # in place
    with pytest.raises(ValueError, match="tanh_backward: element counts differ"):
        _kernels.tanh_backward(d, g, y[:2])
    with pytest.raises(TypeError, match="sigmoid_backward"):
        _kernels.sigmoid_backward(d, g.astype(np.float64 if dtype == np.float32 else
                                             np.float32), y)
    x = cr.tensor(rng.standard_normal((3, 4)), dtype=dtype, requires_grad=True)
    (x.sigmoid() * 2.0 + x.tanh()).sum().backward()
    s = 1 / (1 + np.exp(-x.array.astype(f64)))
    want = 2 * s * (1 - s) + 1 - np.tanh(x.array.astype(f64)) ** 2
    assert_close(x.grad, want, **(dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else {}))
