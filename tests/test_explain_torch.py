"""explain against PyTorch: every key of the trace (z, a, dL/da, delta, gradients, rnn h.t and
dL/dh.t, updated parameters) for conv + pool, rnn, residual + softmax/cross-entropy problems."""
from pathlib import Path

import numpy as np
import pytest

from chainrule.explain import load_problem, parse_problem

torch = pytest.importorskip("torch")
TF = torch.nn.functional
HERE = Path(__file__).parent / "explain_problems"


def _t(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _act(act, slope, z):
    return {"identity": lambda: z, "relu": lambda: TF.relu(z),
            "sigmoid": lambda: torch.sigmoid(z), "tanh": lambda: torch.tanh(z),
            "bipolar_sigmoid": lambda: 2 * torch.sigmoid(z) - 1,
            "softmax": lambda: torch.softmax(z, -1),
            "leaky_relu": lambda: TF.leaky_relu(z, slope)}[act]()


class TorchTrace:
    """The same problem computed by PyTorch, keyed like the explain trace."""

    def __init__(self, problem):
        self.p, self.vals, self.params, self.keep = problem, {}, [], []
        x = _t(problem["input"], True)
        out = self.run(problem["layers"], x, "layers")
        loss = self.loss(out) + sum(problem["l2"] * (w * w).sum() for k, w in self.params
                                    if k.rsplit(".", 1)[1] in ("weight", "w_ih", "w_hh"))
        loss.backward()
        self.vals["output"], self.vals["loss"] = out.detach().numpy(), loss.item()
        self.vals["dL_dinput"] = x.grad.numpy()
        for key, kind, t in self.keep:
            self.vals[f"{key}.{kind}"] = (t.grad if kind.startswith(("dL", "delta"))
                                          else t).detach().numpy().copy()
        for k, w in self.params:
            i, name = k.rsplit(".", 1)
            self.vals[f"{i}.grad.{name}"] = w.grad.numpy().copy()
        self.update()

    def watch(self, key, kind, t, grad_kind):
        t.retain_grad()
        self.keep += [(key, kind, t), (key, grad_kind, t)]

    def param(self, key, name, v):
        if v is None:
            return None
        w = _t(v, True)
        self.params.append((f"{key}.{name}", w))
        return w

    def run(self, layers, x, prefix):
        for i, s in enumerate(layers):
            x = self.layer(s, x, f"{prefix}.{i}")
        return x

    def layer(self, s, x, key):
        t = s["type"]
        if t == "rnn":
            return self.rnn(s, x, key)
        if t == "linear":
            z = TF.linear(x, self.param(key, "weight", s["weight"]),
                          self.param(key, "bias", s["bias"]))
        elif t == "conv2d":
            z = TF.conv2d(x, self.param(key, "weight", s["weight"]),
                          self.param(key, "bias", s["bias"]), s["stride"], s["padding"])
        elif t == "max_pool2d":
            z = TF.max_pool2d(x, s["kernel_size"], s["stride"], s["padding"])
        elif t == "avg_pool2d":
            z = TF.avg_pool2d(x, s["kernel_size"], s["stride"], s["padding"])
        elif t == "flatten":
            z = x.flatten(1)
        else:
            z = x + self.run(s["layers"], x, f"{key}.layers")
        a = _act(s.get("activation", "identity"), s.get("negative_slope", 0.01), z)
        if a is z:
            a = z * 1.0  # a separate node, so dL/da and dL/dz are both kept
        self.watch(key, "z", z, "delta")
        self.watch(key, "a", a, "dL_da")
        return a

    def rnn(self, s, x, key):
        wi, wh = self.param(key, "w_ih", s["w_ih"]), self.param(key, "w_hh", s["w_hh"])
        bi, bh = self.param(key, "b_ih", s["b_ih"]), self.param(key, "b_hh", s["b_hh"])
        h = _t(s["h0"], True)
        hs, zs = [h], []
        for t in range(x.shape[0]):
            z = TF.linear(x[t], wi, bi) + TF.linear(h, wh, bh)
            z.retain_grad()
            h = _act(s["nonlinearity"], 0.0, z)
            h.retain_grad()
            hs.append(h)
            zs.append(z)
        a = torch.stack(hs[1:])
        a.retain_grad()
        self.rnn_parts = getattr(self, "rnn_parts", []) + [(key, hs, zs, a)]
        return a

    def loss(self, out):
        L, tgt = self.p["loss"], self.p["target"]
        t, red = L["type"], L["reduction"]
        if t in ("mse", "sse", "half_sse"):
            v = TF.mse_loss(out, _t(tgt), reduction=red if t == "mse" else "sum")
            return 0.5 * v if t == "half_sse" else v
        if t == "bce":
            return TF.binary_cross_entropy(out, _t(tgt), reduction=red)
        target = torch.tensor(tgt) if tgt.dtype.kind in "iu" else _t(tgt)
        if t == "nll":
            return TF.nll_loss(out, target, reduction=red)
        if L["softmax_input"]:  # -sum q log p on the probabilities themselves
            eps, C = L["label_smoothing"], out.shape[1]
            q = TF.one_hot(target, C).double() if target.dtype == torch.int64 else target
            q = (1 - eps) * q + eps / C
            per_row = -(q * torch.log(out)).sum(1)
            v = per_row.mean() if red == "mean" else per_row.sum()
            # the same value as torch's cross_entropy of the logits the softmax came from
            ref = TF.cross_entropy(torch.log(out), target, label_smoothing=eps, reduction=red)
            assert abs(v.item() - ref.item()) < 1e-12
            return v
        return TF.cross_entropy(out, target, label_smoothing=L["label_smoothing"],
                                reduction=red)

    def update(self):
        for key, hs, zs, a in getattr(self, "rnn_parts", []):
            self.vals[f"{key}.z"] = torch.stack(zs).detach().numpy()
            self.vals[f"{key}.a"] = a.detach().numpy()
            self.vals[f"{key}.dL_da"] = a.grad.numpy()
            self.vals[f"{key}.delta"] = torch.stack([z.grad for z in zs]).numpy()
            for t, h in enumerate(hs):
                self.vals[f"{key}.h.{t}"] = h.detach().numpy()
                self.vals[f"{key}.dL_dh.{t}"] = h.grad.numpy()
        o = self.p["optimizer"]
        if o is None:
            return
        ws = [w for _, w in self.params]
        if o["type"] == "sgd":
            opt = torch.optim.SGD(ws, lr=o["lr"], momentum=o["momentum"],
                                  dampening=o["dampening"], nesterov=o["nesterov"],
                                  weight_decay=o["weight_decay"])
            for k, w in self.params:
                if k in o["momentum_buffer"]:
                    opt.state[w]["momentum_buffer"] = _t(o["momentum_buffer"][k])
        else:
            opt = torch.optim.Adam(ws, lr=o["lr"], betas=o["betas"], eps=o["eps"],
                                   weight_decay=o["weight_decay"])
        opt.step()
        for k, w in self.params:
            i, name = k.rsplit(".", 1)
            self.vals[f"{i}.new.{name}"] = w.detach().numpy()


def assert_matches_torch(problem_dict, rtol=1e-10, atol=1e-12):
    trace = load_problem(problem_dict).to_dict()
    ref = TorchTrace(parse_problem(problem_dict)).vals
    assert set(trace) == set(ref)
    for k, v in trace.items():
        np.testing.assert_allclose(np.asarray(v), np.asarray(ref[k]).reshape(np.shape(v)),
                                   rtol=rtol, atol=atol, err_msg=k)
    return trace


def _file(name):
    import json
    return json.loads((HERE / f"{name}.json").read_text())


@pytest.mark.parametrize("name", ["hw_mlp_bce", "hw_conv_maxpool", "rnn_mse",
                                  "residual_softmax_ce", "relu2_half_sse_l2",
                                  "hw_linreg_momentum", "hw_logreg_bce"])
def test_problem_files_match_torch(name):
    assert_matches_torch(_file(name))


def _rand(rng, *shape):
    return (rng.integers(-8, 9, shape) / 4 + rng.normal(0, 1e-3, shape)).tolist()


@pytest.mark.parametrize("seed", range(6))
def test_conv_pool_example_matches_torch(seed):
    rng = np.random.default_rng(seed)
    N, C, K = 1 + seed % 2, 2, 3
    prob = {"input": _rand(rng, N, C, 7, 6), "target": _rand(rng, N, 2),
            "layers": [{"type": "conv2d", "weight": _rand(rng, K, C, 3, 2),
                        "bias": _rand(rng, K) if seed % 3 else None, "stride": [2, 1],
                        "padding": [1, 0], "activation": ["leaky_relu", "relu", "tanh"][seed % 3],
                        "negative_slope": 0.1},
                       {"type": "max_pool2d", "kernel_size": 2, "stride": 1},
                       {"type": "avg_pool2d", "kernel_size": [1, 2], "padding": [0, 1]},
                       {"type": "flatten"}],
            "loss": {"type": "mse"}, "optimizer": {"type": "adam", "lr": 0.01}}
    shape = (N, K * 3 * 3)  # conv (4, 5) -> max (3, 4) -> avg (3, 3)
    prob["layers"].append({"type": "linear", "weight": _rand(rng, 2, shape[1]),
                           "bias": _rand(rng, 2), "activation": "bipolar_sigmoid"})
    trace = assert_matches_torch(prob)
    assert np.shape(trace["layers.2.a"]) == (N, K, 3, 3)


@pytest.mark.parametrize("seed", range(4))
def test_rnn_example_matches_torch(seed):
    rng = np.random.default_rng(100 + seed)
    T, N, I, H = 3 + seed, 2, 3, 4
    prob = {"input": _rand(rng, T, N, I), "target": _rand(rng, T, N, 2),
            "layers": [{"type": "rnn", "w_ih": _rand(rng, H, I), "w_hh": _rand(rng, H, H),
                        "b_ih": _rand(rng, H) if seed % 2 else None,
                        "b_hh": _rand(rng, H) if seed % 2 else None,
                        "h0": _rand(rng, N, H) if seed else None,
                        "nonlinearity": ["tanh", "relu", "sigmoid", "tanh"][seed]},
                       {"type": "linear", "weight": _rand(rng, 2, H), "bias": None}],
            "loss": {"type": ["mse", "sse", "half_sse", "mse"][seed]}, "l2": 0.01 * seed,
            "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.5}}
    trace = assert_matches_torch(prob)
    assert len([k for k in trace if k.startswith("layers.0.dL_dh.")]) == T + 1


def test_rnn_trace_matches_the_rnn_kernels():
    """h.t from the step-by-step trace equals ops.rnn_forward; the BPTT gradients equal
    ops.rnn_backward (the fused kernels) and reference.rnn_backward."""
    from chainrule import ops, reference
    p = parse_problem(_file("rnn_mse"))
    s, tr = p["layers"][0], load_problem(_file("rnn_mse"))
    r = tr.layers[0]
    for mod in (ops, reference):
        hs = mod.rnn_forward(p["input"], s["h0"], s["w_ih"], s["w_hh"], s["b_ih"], s["b_hh"])
        np.testing.assert_allclose(r.a, hs, rtol=1e-12, atol=1e-14)
        dx, dh0, dwi, dwh, dbi, dbh = mod.rnn_backward(r.dL_da, p["input"], s["h0"], hs,
                                                       s["w_ih"], s["w_hh"])[:6]
        for got, want in ((r.dL_dx, dx), (r.dL_dh[0], dh0), (r.grad["w_ih"], dwi),
                          (r.grad["w_hh"], dwh), (r.grad["b_ih"], dbi), (r.grad["b_hh"], dbh)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


_CE, _CES = {"type": "cross_entropy"}, {"type": "cross_entropy", "label_smoothing": 0.2,
                                        "reduction": "sum"}


@pytest.mark.parametrize("loss,last", [(_CE, "identity"), (_CE, "softmax"), (_CES, "identity"),
                                       (_CES, "softmax"), ({"type": "nll"}, "identity"),
                                       ({"type": "bce"}, "sigmoid"),
                                       ({"type": "bce", "reduction": "sum"}, "sigmoid")])
def test_classification_losses_match_torch(loss, last):
    rng = np.random.default_rng(7)
    target = [2, 0, 1] if loss["type"] != "bce" else rng.uniform(0, 1, (3, 4)).tolist()
    prob = {"input": _rand(rng, 3, 3), "target": target,
            "layers": [{"type": "residual", "layers": [
                {"type": "linear", "weight": _rand(rng, 3, 3), "bias": _rand(rng, 3),
                 "activation": "sigmoid"}], "activation": "tanh"},
                {"type": "linear", "weight": _rand(rng, 4, 3), "bias": _rand(rng, 4),
                 "activation": last}],
            "loss": loss, "l2": 0.05, "optimizer": {"type": "sgd", "lr": 0.3,
                                                    "momentum": 0.9, "nesterov": True}}
    assert_matches_torch(prob)


def test_probability_targets_match_torch():
    rng = np.random.default_rng(3)
    q = rng.uniform(0, 1, (2, 3))
    prob = {"input": _rand(rng, 2, 4), "target": (q / q.sum(1, keepdims=True)).tolist(),
            "layers": [{"type": "linear", "weight": _rand(rng, 3, 4), "bias": None}],
            "loss": {"type": "cross_entropy", "label_smoothing": 0.1}}
    assert_matches_torch(prob)
