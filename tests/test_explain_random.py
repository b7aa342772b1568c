"""explain on random problems: the JSON trace equals chainrule's end-to-end autograd (one
backward through the whole model) and a plain backprop written on chainrule.reference."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, reference
from chainrule.explain import load_problem

ACTS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def _np_act(act, z):
    return {"identity": z, "relu": np.maximum(z, 0), "sigmoid": 1 / (1 + np.exp(-z)),
            "tanh": np.tanh(z)}[act]


def _np_dact(act, z, a):
    return {"identity": np.ones_like(z), "relu": (z > 0) * 1.0, "sigmoid": a * (1 - a),
            "tanh": 1 - a * a}[act]


def _random_mlp(rng):
    sizes = [int(n) for n in rng.integers(1, 5, rng.integers(2, 5))]
    layers = []
    for i in range(len(sizes) - 1):
        act = str(rng.choice(["identity", "relu", "sigmoid", "tanh"]))
        bias = rng.normal(size=sizes[i + 1]).tolist() if rng.random() < 0.7 else None
        layers.append({"type": "linear", "weight": rng.normal(size=(sizes[i + 1],
                                                                    sizes[i])).tolist(),
                       "bias": bias, "activation": act})
    N = int(rng.integers(1, 4))
    loss = str(rng.choice(["mse", "sse", "half_sse", "bce", "cross_entropy"]))
    if loss == "bce":
        layers[-1]["activation"] = "sigmoid"
        target = rng.uniform(0, 1, (N, sizes[-1])).tolist()
    elif loss == "cross_entropy":
        target = rng.integers(0, sizes[-1], N).tolist()
    else:
        target = rng.normal(size=(N, sizes[-1])).tolist()
    return {"input": rng.normal(size=(N, sizes[0])).tolist(), "target": target,
            "layers": layers, "loss": {"type": loss}, "l2": float(rng.choice([0.0, 0.1])),
            "optimizer": {"type": "sgd", "lr": 0.5, "momentum": float(rng.choice([0, 0.9]))}}


def _model(prob):
    mods = []
    for lay in prob["layers"]:
        w = np.array(lay["weight"])
        lin = nn.Linear(w.shape[1], w.shape[0], bias=lay["bias"] is not None).double()
        lin.weight.data[...] = w
        if lay["bias"] is not None:
            lin.bias.data[...] = lay["bias"]
        mods.append(lin)
        if lay["activation"] != "identity":
            mods.append(ACTS[lay["activation"]]())
    return nn.Sequential(*mods)


def _loss(kind, out, target):
    F = nn.functional
    if kind == "mse":
        return F.mse_loss(out, target)
    if kind in ("sse", "half_sse"):
        v = F.mse_loss(out, target, reduction="sum")
        return 0.5 * v if kind == "half_sse" else v
    if kind == "bce":
        return F.binary_cross_entropy(out, target)
    return F.cross_entropy(out, target)


@pytest.mark.parametrize("seed", range(25))
def test_trace_equals_end_to_end_autograd(seed):
    rng = np.random.default_rng(seed)
    prob = _random_mlp(rng)
    d = load_problem(prob).to_dict()
    model = _model(prob)
    x = cr.tensor(np.array(prob["input"]), requires_grad=True)
    tgt = np.array(prob["target"])
    tgt = tgt.astype(np.float64) if tgt.dtype.kind == "f" else tgt
    loss = _loss(prob["loss"]["type"], model(x), tgt)
    lins = [m for m in model if isinstance(m, nn.Linear)]
    for m in lins:
        loss = loss + prob["l2"] * (m.weight * m.weight).sum()
    loss.backward()
    assert d["loss"] == pytest.approx(loss.item(), rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(d["dL_dinput"], np.asarray(x.grad), rtol=1e-10, atol=1e-13)
    opt = cr.optim.SGD(model.parameters(), lr=0.5, momentum=prob["optimizer"]["momentum"])
    opt.step()
    for i, m in enumerate(lins):
        np.testing.assert_allclose(d[f"layers.{i}.grad.weight"], np.asarray(m.weight.grad),
                                   rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(d[f"layers.{i}.new.weight"], np.asarray(m.weight.data),
                                   rtol=1e-10, atol=1e-13)
        if m.bias is not None:
            np.testing.assert_allclose(d[f"layers.{i}.grad.bias"], np.asarray(m.bias.grad),
                                       rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("seed", range(25))
def test_trace_equals_backprop_on_the_reference(seed):
    """Layer by layer with reference.linear_forward / linear_backward and NumPy activations."""
    rng = np.random.default_rng(1000 + seed)
    prob = _random_mlp(rng)
    tr = load_problem(prob)
    d = tr.to_dict()
    a, cache = np.array(prob["input"]), []
    for lay in prob["layers"]:
        w = np.array(lay["weight"])
        b = None if lay["bias"] is None else np.array(lay["bias"])
        z = reference.linear_forward(a, w, b)
        cache.append((a, w, b, z, _np_act(lay["activation"], z)))
        a = cache[-1][-1]
    y, kind, N = np.array(prob["target"]), prob["loss"]["type"], a.shape[0]
    g = {"mse": lambda: 2 * (a - y) / a.size, "sse": lambda: 2 * (a - y),
         "half_sse": lambda: a - y, "bce": lambda: (a - y) / (a * (1 - a)) / a.size,
         "cross_entropy": lambda: (np.exp(a) / np.exp(a).sum(1, keepdims=True)
                                   - np.eye(a.shape[1])[y.astype(int)]) / N}[kind]()
    for i in range(len(cache) - 1, -1, -1):
        x, w, b, z, a = cache[i]
        lay = prob["layers"][i]
        np.testing.assert_allclose(d[f"layers.{i}.z"], z, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(d[f"layers.{i}.dL_da"], g, rtol=1e-9, atol=1e-12)
        delta = g * _np_dact(lay["activation"], z, a)
        np.testing.assert_allclose(d[f"layers.{i}.delta"], delta, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(tr.records()[i].local, _np_dact(lay["activation"], z, a),
                                   rtol=1e-12, atol=1e-14)
        g, dw, db = reference.linear_backward(delta, x, w, bias=b is not None)
        np.testing.assert_allclose(d[f"layers.{i}.grad.weight"], dw + 2 * prob["l2"] * w,
                                   rtol=1e-9, atol=1e-12)
        if b is not None:
            np.testing.assert_allclose(d[f"layers.{i}.grad.bias"], db, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(d["dL_dinput"], g, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_conv_pool_trace_equals_the_reference(seed):
    """conv2d -> max_pool2d -> flatten -> mse, by reference.conv2d_* and max_pool2d_*."""
    rng = np.random.default_rng(2000 + seed)
    N, C, K, H, W = 1 + seed % 2, 1 + seed % 3, 2, 6, 5
    x, w, b = rng.normal(size=(N, C, H, W)), rng.normal(size=(K, C, 2, 3)), rng.normal(size=K)
    stride, pad = (1 + seed % 2, 1), (seed % 2, 1)
    z = reference.conv2d_forward(x, w, b, stride, pad)
    p, idx = reference.max_pool2d_forward(z, 2, 1)
    y = rng.normal(size=(N, p[0].size))
    prob = {"input": x.tolist(), "target": y.tolist(),
            "layers": [{"type": "conv2d", "weight": w.tolist(), "bias": b.tolist(),
                        "stride": list(stride), "padding": list(pad)},
                       {"type": "max_pool2d", "kernel_size": 2, "stride": 1},
                       {"type": "flatten"}], "loss": {"type": "sse"}}
    tr = load_problem(prob)
    d = tr.to_dict()
    np.testing.assert_allclose(d["layers.0.z"], z, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(d["layers.1.z"], p, rtol=1e-12, atol=1e-13)
    dp = 2 * (p.reshape(N, -1) - y)
    dz = reference.max_pool2d_backward(dp.reshape(p.shape), idx, z.shape)
    dx, dw, db = reference.conv2d_backward(dz, x, w, stride, pad)
    np.testing.assert_allclose(d["layers.0.delta"], dz, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(d["layers.0.grad.weight"], dw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(d["layers.0.grad.bias"], db, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(d["dL_dinput"], dx, rtol=1e-10, atol=1e-12)
    # every routed max-pool gradient lands where reference's indices say
    routes = tr.records()[1].extra["routes"]
    for (n, c, pp, q), (_, _, r, s), v in routes:
        assert idx[n, c, pp, q] == r * z.shape[3] + s
        assert v == pytest.approx(dp.reshape(p.shape)[n, c, pp, q], rel=1e-12)
    patches = tr.records()[0].extra["patches"]
    assert len(patches) == w.size
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    for (k, c, i, j), ((c2, rows, cols), patch) in patches.items():  # dW = sum delta * patch
        assert c2 == c and np.array_equal(patch, xp[:, c, rows, cols])
        assert np.sum(dz[:, k] * patch) == pytest.approx(dw[k, c, i, j], rel=1e-10, abs=1e-12)


def test_explain_model_with_a_residual_block_matches_autograd():
    from chainrule.explain import Residual
    cr.manual_seed(0)
    block = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3))
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), Residual(block, "relu"), nn.Linear(3, 2))
    model.double()
    x, y = np.random.default_rng(0).normal(size=(2, 3)), np.array([1, 0])
    tr = cr.explain(model, x, y, "cross_entropy", {"type": "adam", "lr": 0.1}, l2=0.01)
    d = tr.to_dict()
    assert "layers.1.layers.1.grad.weight" in d and "layers.1.delta" in d
    assert "layers.1.layers.2.z" not in d  # Tanh merges into the Linear before it
    xt = cr.tensor(x, requires_grad=True)
    loss = nn.functional.cross_entropy(model(xt), y) + 0.01 * sum(
        (p * p).sum() for n, p in model.named_parameters() if n.endswith("weight"))
    loss.backward()
    assert d["loss"] == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(d["layers.1.layers.0.grad.weight"],
                               np.asarray(block[0].weight.grad), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(d["dL_dinput"], np.asarray(xt.grad), rtol=1e-10, atol=1e-13)


def test_explain_model_with_an_rnn_equals_the_problem_dict():
    cr.manual_seed(1)
    rnn, lin = nn.RNN(2, 3).double(), nn.Linear(3, 1).double()
    x = np.random.default_rng(1).normal(size=(4, 2, 2))
    y = np.random.default_rng(2).normal(size=(4, 2, 1))
    tr = cr.explain(nn.Sequential(rnn, lin), x, y, nn.MSELoss(),
                    cr.optim.SGD(list(rnn.parameters()) + list(lin.parameters()), lr=0.1))
    prob = {"input": x.tolist(), "target": y.tolist(),
            "layers": [{"type": "rnn", "w_ih": np.asarray(rnn.weight_ih_l0).tolist(),
                        "w_hh": np.asarray(rnn.weight_hh_l0).tolist(),
                        "b_ih": np.asarray(rnn.bias_ih_l0).tolist(),
                        "b_hh": np.asarray(rnn.bias_hh_l0).tolist()},
                       {"type": "linear", "weight": np.asarray(lin.weight).tolist(),
                        "bias": np.asarray(lin.bias).tolist()}],
            "loss": "mse", "optimizer": {"type": "sgd", "lr": 0.1}}
    assert tr.to_dict() == load_problem(prob).to_dict()
    out, _ = rnn(x)
    np.testing.assert_allclose(tr.to_dict()["layers.0.a"], np.asarray(out), rtol=1e-12)


def test_explain_rejects_what_it_cannot_explain():
    with pytest.raises(ValueError, match="module 0 .ReLU. must follow"):
        cr.explain(nn.Sequential(nn.ReLU()), np.ones((1, 2)), np.ones((1, 2)), "mse")
    with pytest.raises(ValueError, match="explain: layers.0 .linear., field 'weight'"):
        cr.explain(nn.Linear(3, 2), np.ones((1, 2)), np.ones((1, 2)), "mse")
    with pytest.raises(ValueError, match="loss must be"):
        cr.explain(nn.Linear(2, 2), np.ones((1, 2)), np.ones((1, 2)), nn.BCEWithLogitsLoss())
