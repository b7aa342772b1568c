"""ops.lstm_* / ops.gru_* (C) against reference (NumPy), finite differences, torch.nn.LSTM /
torch.nn.GRU (one layer, when installed), thread determinism, every ISA path, bad input."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import chainrule as cr
from chainrule import ops, reference

from helpers import HAVE_TORCH, assert_close, assert_grad_close, numerical_grad

CELLS = ["lstm", "gru"]
DTYPES = [np.float32, np.float64]
# (T, N, I, H): T=1, N=1, I=1, H=1, odd / prime sizes, H not a multiple of the vector
SHAPES = [(1, 1, 1, 1), (1, 3, 4, 7), (5, 1, 3, 13), (7, 4, 5, 33), (3, 2, 17, 16),
          (4, 9, 1, 23)]
INPUTS = {"lstm": ["x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"],
          "gru": ["x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"]}
GRADS = {"lstm": ["dx", "dh0", "dc0", "dw_ih", "dw_hh", "db_ih", "db_hh"],
         "gru": ["dx", "dh0", "dw_ih", "dw_hh", "db_ih", "db_hh"]}


def make_case(rng, cell, T, N, I, H, dtype=np.float64, bias=True, wscale=2.0):
    G = 4 if cell == "lstm" else 3
    k = wscale / np.sqrt(max(H, 1))
    c = {"x": rng.standard_normal((T, N, I)), "h0": rng.standard_normal((N, H)) * 0.5,
         "w_ih": rng.uniform(-k, k, (G * H, I)), "w_hh": rng.uniform(-k, k, (G * H, H)),
         "b_ih": rng.uniform(-k, k, G * H) if bias else None,
         "b_hh": rng.uniform(-k, k, G * H) if bias else None}
    if cell == "lstm":
        c["c0"] = rng.standard_normal((N, H)) * 0.5
    return {n: (None if v is None else v.astype(dtype)) for n, v in c.items()}


def fwd(mod, cell, c):
    if cell == "lstm":
        return mod.lstm_forward(c["x"], c["h0"], c["c0"], c["w_ih"], c["w_hh"], c["b_ih"],
                                c["b_hh"])
    return mod.gru_forward(c["x"], c["h0"], c["w_ih"], c["w_hh"], c["b_ih"], c["b_hh"])


def bwd(mod, cell, c, out, dhs, dc_n=None, **kw):
    kw.setdefault("bias", c["b_ih"] is not None)
    if cell == "lstm":
        return mod.lstm_backward(dhs, dc_n, c["x"], c["h0"], c["c0"], c["w_ih"], c["w_hh"],
                                 *out, **kw)
    return mod.gru_backward(dhs, c["x"], c["h0"], c["w_ih"], c["w_hh"], *out, **kw)


def compare_all(cell, c, rng, dtype, tag=""):
    """forward outputs and every gradient (with dh_norms) of ops vs reference."""
    out = fwd(ops, cell, c)
    exp = fwd(reference, cell, c)
    for i, (g, e) in enumerate(zip(out, exp)):
        assert g.dtype == e.dtype == np.dtype(dtype)
        assert_close(g, e, dtype=dtype, name=f"{cell} forward[{i}] {tag}")
    T, N, H = out[0].shape
    dhs = rng.standard_normal((T, N, H)).astype(dtype)
    dcn = rng.standard_normal((N, H)).astype(dtype) if cell == "lstm" else None
    kw = {"dc_n": dcn} if cell == "lstm" else {}
    got = bwd(ops, cell, c, out, dhs, return_dh_norms=True, **kw)
    want = bwd(reference, cell, c, exp, dhs, return_dh_norms=True, **kw)
    assert len(got) == len(GRADS[cell]) + 1
    for name, g, e in zip(GRADS[cell] + ["dh_norms"], got, want):
        if e is None:
            assert g is None, name
            continue
        assert_close(g, e, dtype=dtype, name=f"{cell} {name} {tag}")
    return out, got


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_match_reference(rng, cell, dtype, shape, bias):
    compare_all(cell, make_case(rng, cell, *shape, dtype=dtype, bias=bias), rng, dtype)


@settings(max_examples=30, deadline=None)
@given(cell=st.sampled_from(CELLS), T=st.integers(1, 5), N=st.integers(1, 20),
       I=st.integers(0, 9), H=st.integers(1, 40), f64=st.booleans(), bias=st.booleans(),
       threads=st.sampled_from([1, 2]), seed=st.integers(0, 2**31 - 1))
def test_random_shapes_match_reference(cell, T, N, I, H, f64, bias, threads, seed):
    dtype = np.float64 if f64 else np.float32
    rng = np.random.default_rng(seed)
    cr.set_num_threads(threads)
    compare_all(cell, make_case(rng, cell, T, N, I, H, dtype=dtype, bias=bias), rng, dtype)


@pytest.mark.parametrize("cell", CELLS)
def test_empty_sizes(rng, cell):
    for shape in [(0, 3, 4, 5), (3, 0, 4, 5), (3, 2, 0, 5), (3, 2, 4, 0)]:
        compare_all(cell, make_case(rng, cell, *shape), rng, np.float64, tag=str(shape))


@pytest.mark.parametrize("cell", CELLS)
def test_backward_defaults_and_no_bias(rng, cell):
    c = make_case(rng, cell, 3, 2, 4, 5)
    out = fwd(ops, cell, c)
    g = bwd(ops, cell, c, out, np.ones_like(out[0]))
    assert len(g) == len(GRADS[cell]) and g[-1] is not None
    g = bwd(ops, cell, c, out, np.ones_like(out[0]), bias=False)
    assert g[-1] is None and g[-2] is None
    if cell == "lstm":  # dc_n = None means zeros
        z = bwd(ops, cell, c, out, np.ones_like(out[0]), np.zeros((2, 5)))
        for a, b in zip(bwd(ops, cell, c, out, np.ones_like(out[0])), z):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell", CELLS)
def test_non_contiguous_inputs(rng, cell):
    c = make_case(rng, cell, 4, 3, 5, 11)
    nc = {k: (np.asfortranarray(v) if v.ndim > 1 else np.repeat(v, 2)[::2]) for k, v in
          c.items()}
    big = np.zeros((4, 6, 8))
    big[:, ::2, 1:6] = c["x"]
    nc["x"] = big[:, ::2, 1:6]
    assert not nc["x"].flags.c_contiguous and not nc["w_hh"].flags.c_contiguous
    a, b = fwd(ops, cell, c), fwd(ops, cell, nc)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    dhs = rng.standard_normal(a[0].shape)
    for u, v in zip(bwd(ops, cell, c, a, dhs),
                    bwd(ops, cell, nc, [np.asfortranarray(o) for o in a], np.asfortranarray(dhs))):
        np.testing.assert_array_equal(u, v)


# ---- finite differences (float64) ------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("shape", [(3, 2, 3, 4), (1, 1, 2, 3), (4, 3, 1, 5)])
def test_backward_vs_finite_differences(rng, cell, shape):
    c = make_case(rng, cell, *shape)
    T, N, I, H = shape
    dhs = rng.standard_normal((T, N, H))
    dcn = rng.standard_normal((N, H)) if cell == "lstm" else None

    def loss_out(c2):
        out = fwd(ops, cell, c2)
        parts = [out[0].ravel()] + ([out[1][-1].ravel()] if cell == "lstm" else [])
        return np.concatenate(parts)
    dout = np.concatenate([dhs.ravel()] + ([dcn.ravel()] if cell == "lstm" else []))
    grads = bwd(ops, cell, c, fwd(ops, cell, c), dhs, dcn)
    for name, g in zip(INPUTS[cell], grads):
        num = numerical_grad(lambda v: loss_out(dict(c, **{name: v})), c[name], dout)
        assert_grad_close(g, num, tol=1e-6, name=f"{cell} d{name}")


# ---- PyTorch as oracle (one layer) -----------------------------------------------------
@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
def test_matches_torch(rng, cell, dtype, bias):
    import torch
    T, N, I, H = 6, 5, 7, 9
    c = make_case(rng, cell, T, N, I, H, dtype=dtype, bias=bias, wscale=1.0)
    m = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(I, H, bias=bias)
    m = m.double() if dtype == np.float64 else m
    with torch.no_grad():
        for k in ["w_ih", "w_hh"] + (["b_ih", "b_hh"] if bias else []):
            getattr(m, k.replace("w_", "weight_").replace("b_", "bias_") + "_l0").copy_(
                torch.from_numpy(c[k]))
    x = torch.from_numpy(c["x"]).requires_grad_()
    h0 = torch.from_numpy(c["h0"])[None].clone().requires_grad_()
    if cell == "lstm":
        c0 = torch.from_numpy(c["c0"])[None].clone().requires_grad_()
        y, (hn, cn) = m(x, (h0, c0))
    else:
        y, hn = m(x, h0)
    out = fwd(ops, cell, c)
    assert_close(out[0], y.detach().numpy(), dtype=dtype, name="output")
    assert_close(out[0][-1], hn[0].detach().numpy(), dtype=dtype, name="h_n")
    dhs = rng.standard_normal((T, N, H)).astype(dtype)
    dhn = rng.standard_normal((N, H)).astype(dtype)
    loss = (y * torch.from_numpy(dhs)).sum() + (hn[0] * torch.from_numpy(dhn)).sum()
    dh_all = dhs.copy()
    dh_all[-1] += dhn
    dcn = None
    if cell == "lstm":
        assert_close(out[1][-1], cn[0].detach().numpy(), dtype=dtype, name="c_n")
        dcn = rng.standard_normal((N, H)).astype(dtype)
        loss = loss + (cn[0] * torch.from_numpy(dcn)).sum()
    loss.backward()
    g = dict(zip(GRADS[cell], bwd(ops, cell, c, out, dh_all, dcn)))
    assert_close(g["dx"], x.grad.numpy(), dtype=dtype, name="dx")
    assert_close(g["dh0"], h0.grad[0].numpy(), dtype=dtype, name="dh0")
    if cell == "lstm":
        assert_close(g["dc0"], c0.grad[0].numpy(), dtype=dtype, name="dc0")
    for k in ["w_ih", "w_hh"] + (["b_ih", "b_hh"] if bias else []):
        p = getattr(m, k.replace("w_", "weight_").replace("b_", "bias_") + "_l0")
        assert_close(g["d" + k], p.grad.numpy(), dtype=dtype, name="d" + k)


# ---- threads and ISA paths ---------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", DTYPES)
# (T, N, I, H) with T*N*H*H*G > 2e6 (two threads): split over the batch rows, and small
# batches (N < 12 rows per thread) or a w_hh over 1 MiB (H = 301) split over the hidden
# units (one barrier per step)
@pytest.mark.parametrize("shape", [(7, 40, 17, 53), (4, 13, 5, 131), (12, 3, 9, 150),
                                   (6, 7, 5, 131), (3, 29, 5, 301), (2, 25, 3, 97)])
def test_one_and_two_threads_bitwise_identical(rng, cell, dtype, shape):
    c = make_case(rng, cell, *shape, dtype=dtype)
    T, N, I, H = shape
    dhs = rng.standard_normal((T, N, H)).astype(dtype)
    res = []
    for nt in (1, 2):
        cr.set_num_threads(nt)
        out = fwd(ops, cell, c)
        res.append(list(out) + list(bwd(ops, cell, c, out, dhs, return_dh_norms=True)))
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)
    compare_all(cell, c, rng, dtype, tag="2 threads")


def _paths():
    from chainrule import _kernels
    out = []
    for p in ("generic", "avx2", "avx512"):
        try:
            _kernels.rnn_set_path(p)
            out.append(p)
        except ValueError:
            pass
    _kernels.rnn_set_path("auto")
    return out


@pytest.fixture
def isa():
    from chainrule import _kernels
    yield _kernels
    _kernels.rnn_set_path("auto")


@pytest.mark.parametrize("path", _paths())
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_isa_path_matches_reference(rng, isa, path, cell, dtype):
    isa.rnn_set_path(path)
    for shape in [(3, 1, 2, 5), (4, 11, 3, 37), (2, 9, 4, 70)]:
        compare_all(cell, make_case(rng, cell, *shape, dtype=dtype), rng, dtype, tag=path)


@pytest.mark.parametrize("path", _paths())
@pytest.mark.parametrize("dtype", DTYPES)
def test_gate_math_accuracy_and_special_values(isa, path, dtype):
    """H = 1, w_hh = 0, zero states: the GRU's n = tanh(x) when z = sigmoid(-big) = 0 ...
    simpler through the LSTM: w_ih picks the pre-activation, c0 = 0, so c = i * g and
    h = o * tanh(c); with i = o = sigmoid(+inf) = 1: c = tanh(x). And f's column gives
    the gate buffer's sigmoid(x). Within 4 ulp of float64 math, NaN/inf propagate."""
    isa.rnn_set_path(path)
    mag = np.logspace(-12, 3, 2000)
    x = np.concatenate([-mag, [0.0], mag, np.linspace(-5, 5, 1001)]).astype(dtype)
    N = x.size
    inf = np.inf
    w_ih = np.array([[0], [1], [1], [0]], dtype)      # a_i = 0*x, a_f = x, a_g = x, a_o = 0
    b = np.array([inf, 0, 0, inf], dtype)            # i = o = 1
    hs, cs, gates = ops.lstm_forward(x.reshape(1, N, 1), np.zeros((N, 1), dtype),
                                     np.zeros((N, 1), dtype), w_ih, np.zeros((4, 1), dtype),
                                     b, None)
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore"):
        sig = 1 / (1 + np.exp(-x64))
    eps, tiny = np.finfo(dtype).eps, np.finfo(dtype).tiny
    lo = -87.0 if dtype == np.float32 else -708.0
    for got, want, name in [(cs[0, :, 0], np.tanh(x64), "tanh"),
                            (gates[0, :, 1], sig, "sigmoid")]:
        ok = x >= lo
        rel = np.abs(got[ok] - want[ok]) / np.maximum(np.abs(want[ok]), tiny)
        assert rel.max() <= 4 * eps, (name, path, rel.max() / eps)
        assert np.abs(got[~ok] - want[~ok]).max(initial=0) <= 1e-37
    special = np.array([np.nan, inf, -inf], dtype)
    hs, cs, gates = ops.lstm_forward(special.reshape(1, 3, 1), np.zeros((3, 1), dtype),
                                     np.zeros((3, 1), dtype), w_ih, np.zeros((4, 1), dtype),
                                     b, None)
    np.testing.assert_array_equal(gates[0, :, 1], np.array([np.nan, 1, 0], dtype))
    np.testing.assert_array_equal(gates[0, :, 2], np.array([np.nan, 1, -1], dtype))


# ---- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("arg, bad, blamed", [
    ("x", np.zeros((3, 2, 5)), "w_ih"),         # I disagrees with w_ih
    ("x", np.zeros((3, 4)), "x"),               # rank
    ("h0", np.zeros((3, 5)), "h0"),
    ("h0", np.zeros((1, 2, 5)), "h0"),
    ("w_hh", np.zeros((5, 5)), "w_hh"),         # not G*H rows
    ("b_ih", np.zeros(4), "b_ih"),
    ("b_hh", np.zeros((5, 1)), "b_hh"),
])
def test_forward_shape_errors(rng, cell, arg, bad, blamed):
    c = make_case(rng, cell, 3, 2, 4, 5)
    c[arg] = bad
    for mod in (ops, reference):
        with pytest.raises(ValueError, match=rf"{cell}_forward: argument '{blamed}' must") as e:
            fwd(mod, cell, c)
        assert str(bad.shape) in str(e.value)


@pytest.mark.parametrize("cell", CELLS)
def test_backward_shape_and_dtype_errors(rng, cell):
    c = make_case(rng, cell, 3, 2, 4, 5)
    out = fwd(ops, cell, c)
    for mod in (ops, reference):
        with pytest.raises(ValueError, match=rf"{cell}_backward: argument 'dhs' must"):
            bwd(mod, cell, c, out, np.zeros((3, 2, 4)))
        with pytest.raises(ValueError, match=rf"{cell}_backward: argument 'gates' must"):
            bwd(mod, cell, c, (out[0],) * (len(out) - 1) + (out[0],), np.zeros((3, 2, 5)))
        with pytest.raises(TypeError, match="mixed float dtypes"):
            bwd(mod, cell, c, out, np.zeros((3, 2, 5), np.float32))
        with pytest.raises(TypeError, match="'x' must have dtype float"):
            fwd(mod, cell, dict(c, x=c["x"].astype(np.int64)))
    if cell == "lstm":
        with pytest.raises(ValueError, match="lstm_backward: argument 'dc_n' must"):
            bwd(ops, cell, c, out, np.zeros((3, 2, 5)), np.zeros((2, 4)))
        with pytest.raises(TypeError, match="lstm_forward: argument 'c0'"):
            fwd(ops, cell, dict(c, c0=None))


def test_kernel_bindings_recheck_shapes(rng):
    from chainrule import _kernels
    c = make_case(rng, "lstm", 3, 2, 4, 5)
    hs = np.zeros((3, 2, 5))
    with pytest.raises(ValueError, match="gates"):
        _kernels.lstm_forward(hs, hs, np.zeros((3, 2, 19)), c["x"], c["h0"], c["c0"],
                              c["w_ih"], c["w_hh"], None, None)
    g = make_case(rng, "gru", 3, 2, 4, 5)
    with pytest.raises(ValueError, match="w_ih"):
        _kernels.gru_forward(hs, np.zeros((3, 2, 20)), g["x"], g["h0"], g["w_ih"][:9],
                             g["w_hh"], None, None)
