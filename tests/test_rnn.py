"""ops.rnn_forward / ops.rnn_backward against reference, finite differences, an explicit
product of step Jacobians, and torch.nn.RNN (when installed); thread determinism; bad input."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import ops, reference

from helpers import HAVE_TORCH, assert_close, assert_grad_close, numerical_grad

NONLIN = ["tanh", "relu", "sigmoid"]
DTYPES = [np.float32, np.float64]
# (T, N, I, H): T=1, N=1, H not a multiple of 16, prime sizes, I=1
SHAPES = [(1, 1, 1, 1), (1, 3, 4, 7), (5, 1, 3, 13), (7, 4, 5, 33), (3, 2, 17, 16), (4, 5, 1, 7)]
GRAD_NAMES = ["dx", "dh0", "dw_ih", "dw_hh", "db_ih", "db_hh"]


def make_case(rng, T, N, I, H, dtype=np.float64, bias=True, wscale=None):
    """Random RNN inputs; weights ~ U(-1/sqrt(H), 1/sqrt(H)) like PyTorch's init (x2)."""
    k = (wscale if wscale is not None else 2.0) / np.sqrt(max(H, 1))
    c = {"x": rng.standard_normal((T, N, I)),
         "h0": rng.standard_normal((N, H)) * 0.5,
         "w_ih": rng.uniform(-k, k, (H, I)),
         "w_hh": rng.uniform(-k, k, (H, H)),
         "b_ih": rng.uniform(-k, k, H) if bias else None,
         "b_hh": rng.uniform(-k, k, H) if bias else None}
    return {n: (None if v is None else v.astype(dtype)) for n, v in c.items()}


def _fwd(c, nl, mod=ops):
    return mod.rnn_forward(c["x"], c["h0"], c["w_ih"], c["w_hh"], c["b_ih"], c["b_hh"], nl)


def _bwd(dhs, c, hs, nl, mod=ops, **kw):
    return mod.rnn_backward(dhs, c["x"], c["h0"], hs, c["w_ih"], c["w_hh"], nl,
                            bias=c["b_ih"] is not None, **kw)


# ---- fast vs reference ---------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nl", NONLIN)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_forward_backward_match_reference(rng, dtype, nl, shape, bias):
    c = make_case(rng, *shape, dtype=dtype, bias=bias)
    hs = _fwd(c, nl)
    hs_ref = _fwd(c, nl, reference)
    assert hs.dtype == dtype and hs.shape == (shape[0], shape[1], shape[3])
    assert_close(hs, hs_ref, name=f"hs ({nl})")
    dhs = rng.standard_normal(hs.shape).astype(dtype)
    got = _bwd(dhs, c, hs, nl, return_dh_norms=True)
    exp = _bwd(dhs, c, hs, nl, reference, return_dh_norms=True)
    assert len(got) == 7
    for name, g, e in zip(GRAD_NAMES + ["dh_norms"], got, exp):
        if e is None:
            assert g is None, name
            continue
        assert g.dtype == (np.float64 if name == "dh_norms" else dtype), name
        assert_close(g, e, dtype=dtype, name=f"{name} ({nl}, {np.dtype(dtype).name})")


def test_backward_default_returns_six(rng):
    c = make_case(rng, 3, 2, 4, 5)
    hs = _fwd(c, "tanh")
    out = _bwd(np.ones_like(hs), c, hs, "tanh")
    assert len(out) == 6
    out = ops.rnn_backward(np.ones_like(hs), c["x"], c["h0"], hs, c["w_ih"], c["w_hh"],
                           bias=False)
    assert out[4] is None and out[5] is None


def test_bias_gradients_are_the_column_sums(rng):
    c = make_case(rng, 4, 3, 2, 9)
    hs = _fwd(c, "tanh")
    dhs = rng.standard_normal(hs.shape)
    dx, dh0, dwi, dwh, dbi, dbh = _bwd(dhs, c, hs, "tanh")
    np.testing.assert_array_equal(dbi, dbh)
    # db is dw_ih's gradient w.r.t. a constant-1 input column
    c1 = dict(c, x=np.concatenate([c["x"], np.ones(c["x"].shape[:2] + (1,))], axis=2),
              w_ih=np.concatenate([c["w_ih"], np.zeros((9, 1))], axis=1))
    g = _bwd(dhs, c1, _fwd(c1, "tanh"), "tanh")
    assert_close(g[2][:, -1], dbi, name="db vs ones column")


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_sequences(rng, dtype):
    for shape in [(0, 3, 4, 5), (3, 0, 4, 5), (3, 2, 0, 5), (3, 2, 4, 0)]:
        c = make_case(rng, *shape, dtype=dtype)
        hs = _fwd(c, "tanh")
        assert_close(hs, _fwd(c, "tanh", reference), name=f"hs {shape}")
        dhs = np.ones_like(hs)
        got = _bwd(dhs, c, hs, "tanh", return_dh_norms=True)
        exp = _bwd(dhs, c, hs, "tanh", reference, return_dh_norms=True)
        for name, g, e in zip(GRAD_NAMES + ["dh_norms"], got, exp):
            assert g.shape == e.shape, (shape, name)
            assert_close(g, e, dtype=dtype, name=f"{name} {shape}")


def test_non_contiguous_inputs(rng):
    T, N, I, H = 4, 3, 5, 11
    c = make_case(rng, T, N, I, H)
    # every argument as a strided / transposed / Fortran-ordered view of the same values
    big_x = np.zeros((T, 2 * N, I + 3))
    big_x[:, ::2, 1:I + 1] = c["x"]
    nc = {"x": big_x[:, ::2, 1:I + 1],
          "h0": np.asfortranarray(c["h0"]),
          "w_ih": np.ascontiguousarray(c["w_ih"].T).T,
          "w_hh": np.asfortranarray(c["w_hh"]),
          "b_ih": np.repeat(c["b_ih"], 2)[::2],
          "b_hh": np.repeat(c["b_hh"], 3)[::3]}
    assert not nc["x"].flags.c_contiguous and not nc["w_ih"].flags.c_contiguous
    assert not nc["b_ih"].flags.c_contiguous
    hs = _fwd(c, "tanh")
    np.testing.assert_array_equal(_fwd(nc, "tanh"), hs)
    dhs = rng.standard_normal((T, N, H))
    dhs_nc = np.asfortranarray(dhs)
    hs_nc = np.asfortranarray(hs)
    for g, e in zip(_bwd(dhs_nc, nc, hs_nc, "tanh"), _bwd(dhs, c, hs, "tanh")):
        np.testing.assert_array_equal(g, e)


# ---- finite differences (float64) ---------------------------------------------------
@pytest.mark.parametrize("nl", NONLIN)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(1, 1, 2, 3), (4, 3, 2, 7), (3, 2, 3, 5)])
def test_backward_vs_finite_differences(rng, nl, bias, shape):
    c = make_case(rng, *shape, bias=bias)
    if nl == "relu":  # keep every pre-activation away from the kink at 0
        hs = _fwd(c, nl)
        h, mins = c["h0"], []
        for t in range(shape[0]):
            a = c["x"][t] @ c["w_ih"].T + h @ c["w_hh"].T
            if bias:
                a = a + c["b_ih"] + c["b_hh"]
            mins.append(np.min(np.abs(a)))
            h = hs[t]
        assert min(mins) > 1e-4, "seeded case sits on relu's kink; change the seed"
    hs = _fwd(c, nl)
    dhs = rng.standard_normal(hs.shape)
    grads = dict(zip(GRAD_NAMES, _bwd(dhs, c, hs, nl)))
    for name in ["x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"]:
        if c[name] is None:
            assert grads["d" + name] is None
            continue
        arr = c[name].copy()

        def f(v, name=name):
            return _fwd(dict(c, **{name: v}), nl)

        num = numerical_grad(f, arr, dhs)
        assert_grad_close(grads["d" + name], num, tol=1e-7, name=f"d{name} ({nl})")


# ---- the gradient at h_0 is v times the product of the step Jacobians ----------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_dh0_is_product_of_step_jacobians_sigmoid(rng, dtype):
    T, N, I, H = 6, 3, 4, 9
    c = make_case(rng, T, N, I, H, dtype=dtype, wscale=4.0)
    hs = _fwd(c, "sigmoid")
    v = rng.standard_normal((N, H)).astype(dtype)
    dhs = np.zeros_like(hs)
    dhs[-1] = v  # the loss only looks at h_T
    dx, dh0, *_rest, norms = _bwd(dhs, c, hs, "sigmoid", return_dh_norms=True)
    hs64 = hs.astype(np.float64)
    w = c["w_hh"].astype(np.float64)
    for n in range(N):
        # dh_{t-1} = dh_t @ J_t,  J_t = dh_t/dh_{t-1} = diag(sigma'(a_t)) @ w_hh, so
        # dh_0 = v @ J_T @ J_{T-1} @ ... @ J_1, every J_t formed explicitly as a matrix
        prod = np.eye(H)
        for t in range(T - 1, -1, -1):
            prod = prod @ (np.diag(hs64[t, n] * (1 - hs64[t, n])) @ w)
        assert_close(dh0[n], v[n].astype(np.float64) @ prod, dtype=dtype, name=f"dh0[{n}]")
    assert np.abs(dh0).max() > 1e-6  # the product has not vanished: the test can fail
    # the norms are those of the rows stacked over the batch: recompute for all n at once
    P = [None] * T
    g = v.astype(np.float64)
    for t in range(T - 1, -1, -1):
        P[t] = g
        g = np.einsum("nj,nj,jk->nk", g, hs64[t] * (1 - hs64[t]), w)
    assert_close(norms, np.array([np.linalg.norm(p) for p in P]), dtype=dtype, name="norms")
    # sigmoid' <= 1/4: each step shrinks the gradient by at most radius(w)/4 in the 2-norm
    s = np.linalg.norm(w, 2) / 4
    for t in range(T - 1):
        assert norms[t] <= norms[t + 1] * s * (1 + 1e-5) + 1e-12


# ---- PyTorch as an extra oracle -----------------------------------------------------
@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nl", NONLIN)
@pytest.mark.parametrize("bias", [True, False])
def test_matches_torch_rnn(rng, dtype, nl, bias):
    import torch
    T, N, I, H = 6, 4, 5, 13
    c = make_case(rng, T, N, I, H, dtype=dtype, bias=bias)
    hs = _fwd(c, nl)
    dhs = rng.standard_normal(hs.shape).astype(dtype)
    got = _bwd(dhs, c, hs, nl)

    tdt = torch.float64 if dtype == np.float64 else torch.float32
    m = torch.nn.RNN(I, H, nonlinearity=nl if nl != "sigmoid" else "tanh", bias=bias).to(tdt)
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.from_numpy(c["w_ih"]))
        m.weight_hh_l0.copy_(torch.from_numpy(c["w_hh"]))
        if bias:
            m.bias_ih_l0.copy_(torch.from_numpy(c["b_ih"]))
            m.bias_hh_l0.copy_(torch.from_numpy(c["b_hh"]))
    x = torch.from_numpy(c["x"]).requires_grad_(True)
    h0 = torch.from_numpy(c["h0"]).requires_grad_(True)
    if nl == "sigmoid":  # torch.nn.RNN has no sigmoid: write the same recurrence by hand
        h, outs = h0, []
        for t in range(T):
            a = x[t] @ m.weight_ih_l0.T + h @ m.weight_hh_l0.T
            if bias:
                a = a + m.bias_ih_l0 + m.bias_hh_l0
            h = torch.sigmoid(a)
            outs.append(h)
        out = torch.stack(outs)
    else:
        out, _ = m(x, h0[None])
    out.backward(torch.from_numpy(dhs))
    assert_close(hs, out.detach().numpy(), name="hs vs torch")
    exp = [x.grad, h0.grad, m.weight_ih_l0.grad, m.weight_hh_l0.grad,
           m.bias_ih_l0.grad if bias else None, m.bias_hh_l0.grad if bias else None]
    for name, g, e in zip(GRAD_NAMES, got, exp):
        if e is None:
            assert g is None
        else:
            assert_close(g, e.numpy(), dtype=dtype, name=f"{name} vs torch ({nl})")


# ---- threads ------------------------------------------------------------------------
# T*N*H*H >= 2e6 multiply-adds runs the recurrence on 2 threads, each on its own slice of
# the batch (slices of 8 rows; N = 9 leaves the second thread a single row)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 16, 24, 70), (6, 33, 7, 130), (4, 21, 9, 161),
                                   (30, 9, 4, 150), (2, 3, 5, 7)])
def test_one_and_two_threads_bitwise_identical(rng, dtype, shape):
    c = make_case(rng, *shape, dtype=dtype)
    dhs = rng.standard_normal((shape[0], shape[1], shape[3])).astype(dtype)
    res = []
    for n in (1, 2, 2, 1):
        cr.set_num_threads(n)
        hs = _fwd(c, "tanh")
        res.append([hs] + list(_bwd(dhs, c, hs, "tanh", return_dh_norms=True)))
    for other in res[1:]:
        for a, b in zip(res[0], other):
            np.testing.assert_array_equal(a, b)
    hs_ref = _fwd(c, "tanh", reference)
    assert_close(res[0][0], hs_ref, name="hs vs reference")
    exp = _bwd(dhs, c, hs_ref, "tanh", reference, return_dh_norms=True)
    for name, g, e in zip(GRAD_NAMES + ["dh_norms"], res[0][1:], exp):
        assert_close(g, e, dtype=dtype, name=f"{name} vs reference")


# ---- bad input ----------------------------------------------------------------------
def _good(rng, dtype=np.float64):
    return make_case(rng, 3, 2, 4, 5, dtype=dtype)


# (argument changed, bad value, the argument the message must blame: sizes are taken from
# x (T, N, I) and w_hh (H, H), so a wrong x or w_hh shows up as a mismatch elsewhere)
@pytest.mark.parametrize("arg, bad, blamed", [
    ("x", np.zeros((3, 2, 5)), "w_ih"),      # I disagrees with w_ih
    ("x", np.zeros((3, 4)), "x"),            # rank
    ("h0", np.zeros((3, 5)), "h0"),          # N
    ("h0", np.zeros((2, 6)), "h0"),          # H
    ("h0", np.zeros((1, 2, 5)), "h0"),       # rank
    ("w_ih", np.zeros((5, 3)), "w_ih"),
    ("w_ih", np.zeros((6, 4)), "w_ih"),
    ("w_hh", np.zeros((5, 4)), "w_hh"),      # not square
    ("w_hh", np.zeros((6, 6)), "w_ih"),      # H disagrees with everything else
    ("b_ih", np.zeros(4), "b_ih"),
    ("b_hh", np.zeros(6), "b_hh"),
    ("b_hh", np.zeros((5, 1)), "b_hh"),
])
def test_forward_shape_errors(rng, arg, bad, blamed):
    c = _good(rng)
    c[arg] = bad
    for mod in (ops, reference):
        with pytest.raises(ValueError, match=rf"rnn_forward: argument '{blamed}' must") as e:
            _fwd(c, "tanh", mod)
        if arg == blamed:
            assert str(bad.shape) in str(e.value)  # the received shape is named


@pytest.mark.parametrize("arg, bad, blamed", [
    ("dhs", np.zeros((3, 2, 4)), "dhs"), ("dhs", np.zeros((2, 2, 5)), "dhs"),
    ("dhs", np.zeros((3, 2)), "dhs"),
    ("hs", np.zeros((3, 3, 5)), "hs"), ("hs", np.zeros((4, 2, 5)), "hs"),
    ("x", np.zeros((3, 2, 3)), "w_ih"), ("x", np.zeros((4, 2, 4)), "dhs"),
    ("h0", np.zeros((2, 4)), "h0"), ("w_ih", np.zeros((5, 5)), "w_ih"),
    ("w_hh", np.zeros((5, 6)), "w_hh"),
])
def test_backward_shape_errors(rng, arg, bad, blamed):
    c = _good(rng)
    a = dict(c, hs=np.zeros((3, 2, 5)), dhs=np.zeros((3, 2, 5)))
    a[arg] = bad
    for mod in (ops, reference):
        with pytest.raises(ValueError, match=rf"rnn_backward: argument '{blamed}' must"):
            mod.rnn_backward(a["dhs"], a["x"], a["h0"], a["hs"], a["w_ih"], a["w_hh"])


@pytest.mark.parametrize("bad", ["gelu", "Tanh", ""])
def test_unknown_nonlinearity(rng, bad):
    c = _good(rng)
    for mod in (ops, reference):
        with pytest.raises(ValueError, match="nonlinearity"):
            _fwd(c, bad, mod)
        with pytest.raises(ValueError, match="nonlinearity"):
            mod.rnn_backward(np.zeros((3, 2, 5)), c["x"], c["h0"], np.zeros((3, 2, 5)),
                             c["w_ih"], c["w_hh"], bad)
    with pytest.raises(TypeError, match="nonlinearity"):
        _fwd(c, None)


@pytest.mark.parametrize("arg", ["x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"])
def test_mixed_dtypes_and_ints(rng, arg):
    c = _good(rng)
    for mod in (ops, reference):
        mixed = dict(c, **{arg: c[arg].astype(np.float32)})
        with pytest.raises(TypeError, match="mixed float dtypes"):
            _fwd(mixed, "tanh", mod)
        ints = dict(c, **{arg: c[arg].astype(np.int64)})
        with pytest.raises(TypeError, match=rf"'{arg}' must have dtype float"):
            _fwd(ints, "tanh", mod)
    hs = np.zeros((3, 2, 5), np.float32)
    with pytest.raises(TypeError, match="mixed float dtypes"):
        ops.rnn_backward(hs, c["x"], c["h0"], hs, c["w_ih"], c["w_hh"])
    with pytest.raises(TypeError, match="must have dtype float"):
        ops.rnn_backward(np.zeros((3, 2, 5), np.int32), c["x"], c["h0"], hs, c["w_ih"],
                         c["w_hh"])
    with pytest.raises(TypeError):
        ops.rnn_forward(None, c["h0"], c["w_ih"], c["w_hh"])
    with pytest.raises(TypeError):
        ops.rnn_forward(c["x"].astype(np.complex128), c["h0"], c["w_ih"], c["w_hh"])


def test_kernel_binding_rechecks_shapes(rng):
    """_kernels.rnn_* re-derive the sizes, so a caller skipping ops cannot go out of bounds."""
    from chainrule import _kernels
    c = _good(rng)
    hs = np.zeros((3, 2, 6))
    with pytest.raises(ValueError, match="hs"):
        _kernels.rnn_forward(hs, c["x"], c["h0"], c["w_ih"], c["w_hh"], None, None,
                             _kernels.ACT_TANH)
    hs = np.zeros((3, 2, 5))
    with pytest.raises(ValueError, match="b_ih"):
        _kernels.rnn_forward(hs, c["x"], c["h0"], c["w_ih"], c["w_hh"], np.zeros(3), None,
                             _kernels.ACT_TANH)
    with pytest.raises(ValueError, match="activation"):
        _kernels.rnn_forward(hs, c["x"], c["h0"], c["w_ih"], c["w_hh"], None, None, 99)
    with pytest.raises(ValueError, match="dh_norms"):
        _kernels.rnn_backward(np.zeros((3, 2, 4)), np.zeros((2, 5)), np.zeros((5, 4)),
                              np.zeros((5, 5)), None, None, np.zeros(2), hs, c["x"],
                              c["h0"], hs, c["w_ih"], c["w_hh"], _kernels.ACT_TANH)
