"""The numbers of a worked backprop solution, computed by chainrule's autograd and kernels.

Every layer runs on fresh leaf tensors (its input, its parameters, its pre-activation z), so
one forward pass and one backward pass stop at each layer and record what a learner writes
down: z, a, dL/da, delta = dL/dz, the parameter gradients and (with an optimizer) the
updated parameters. The arithmetic is chainrule's (F.linear, F.conv2d, F.max_pool2d, the
activations, the losses, optim.SGD / optim.Adam); nothing is recomputed here by hand.
"""
from __future__ import annotations

import numpy as np

from .. import ops, optim
from ..autograd import tensor
from ..nn import functional as F
from .problem import ProblemError, param_names
from .render import fmt_num

__all__ = ["Trace", "LayerTrace", "compute_trace"]


def _leaf(a):
    return tensor(np.array(a, dtype=np.float64), requires_grad=True)


def _activate(act, slope, zl):
    """a = act(z) on the leaf zl (a Tensor); identity returns zl itself."""
    if act == "identity":
        return zl
    if act == "relu":
        return zl.relu()
    if act == "sigmoid":
        return zl.sigmoid()
    if act == "tanh":
        return zl.tanh()
    if act == "bipolar_sigmoid":
        return 2.0 * zl.sigmoid() - 1.0
    if act == "softmax":
        return F.softmax(zl, -1)
    if act == "leaky_relu":  # PyTorch's rule: slope where z <= 0 (also at z == 0)
        return zl * np.where(zl.array > 0, 1.0, slope)
    raise AssertionError(act)


def local_derivative(act, slope, z):
    """da/dz elementwise (None for softmax, whose derivative is a Jacobian)."""
    if act == "softmax":
        return None
    zl = _leaf(z)
    a = _activate(act, slope, zl)
    if a is zl:
        return np.ones_like(z)
    a.backward(np.ones_like(z))
    return np.array(zl.grad, dtype=np.float64)


class LayerTrace:
    """What one layer computed. ``key`` is its trace prefix (``layers.1`` or
    ``layers.2.layers.0``); ``sym`` the layer's number in equations, counted from 1 as in
    textbooks where a[0] is the input (``2`` for layers.1, ``3.1`` for layers.2.layers.0)."""

    def __init__(self, spec, key, sym, x):
        self.spec, self.key, self.sym, self.type = spec, key, sym, spec["type"]
        self.x = np.array(x)            # the layer's input
        self.z = self.a = self.dL_da = self.delta = self.local = self.dL_dx = None
        self.params = {n: spec[n] for n in param_names(spec) if spec.get(n) is not None}
        self.grad, self.new, self.extra, self.children = {}, {}, {}, []
        self.h, self.dL_dh = [], []     # rnn: h.0 .. h.T and dL/dh.0 .. dL/dh.T

    @property
    def activation(self):
        if self.type == "rnn":
            return self.spec["nonlinearity"]
        return self.spec.get("activation", "identity")


class Trace:
    """A worked solution: per-layer records plus output, loss and dL/dinput."""

    def __init__(self, problem, layers, output, loss, dL_dinput, loss_data, l2_value):
        self.problem, self.layers = problem, layers
        self.output, self.loss, self.dL_dinput = output, loss, dL_dinput
        self.loss_data, self.l2_value = loss_data, l2_value

    def records(self):
        """Every LayerTrace, outer before inner (depth first)."""
        def walk(recs):
            for r in recs:
                yield r
                yield from walk(r.children)
        return list(walk(self.layers))

    def items(self):
        """(key, value) in forward -> backward -> update order."""
        fwd, bwd, upd = [], [], []

        def forward(recs):
            for r in recs:
                forward(r.children)
                fwd.extend([(f"{r.key}.z", r.z), (f"{r.key}.a", r.a)])
                fwd.extend((f"{r.key}.h.{t}", h) for t, h in enumerate(r.h))

        def backward(recs):
            for r in reversed(recs):
                bwd.append((f"{r.key}.dL_da", r.dL_da))
                T = len(r.dL_dh) - 1
                bwd.extend((f"{r.key}.dL_dh.{t}", r.dL_dh[t]) for t in range(T, -1, -1))
                bwd.append((f"{r.key}.delta", r.delta))
                backward(r.children)
                bwd.extend((f"{r.key}.grad.{n}", g) for n, g in r.grad.items())

        def update(recs):
            for r in recs:
                update(r.children)
                upd.extend((f"{r.key}.new.{n}", v) for n, v in r.new.items())

        forward(self.layers)
        backward(self.layers)
        update(self.layers)
        return (fwd + [("output", self.output), ("loss", np.asarray(self.loss))] + bwd
                + [("dL_dinput", self.dL_dinput)] + upd)

    def to_dict(self) -> dict:
        """The JSON form: every key of the issue's list, values as (nested) lists."""
        return {k: np.asarray(v).tolist() for k, v in self.items()}

    def to_text(self) -> str:
        from .render import render
        return render(self, "text")

    def to_markdown(self) -> str:
        from .render import render
        return render(self, "md")

    def to_latex(self) -> str:
        from .render import render
        return render(self, "latex")

    def __repr__(self):
        return f"Trace(layers={len(self.layers)}, loss={self.loss!r})"


# --------------------------------------------------------------------------- forward
def _forward(spec, x, key, sym):
    r = LayerTrace(spec, key, sym, x)
    r.leaves = {n: _leaf(v) for n, v in r.params.items()}
    t = r.type
    if t == "rnn":
        return _forward_rnn(r)
    r.x_leaf = _leaf(x)
    if t == "linear":
        r.z_node = F.linear(r.x_leaf, r.leaves["weight"], r.leaves.get("bias"))
    elif t == "conv2d":
        r.z_node = F.conv2d(r.x_leaf, r.leaves["weight"], r.leaves.get("bias"),
                            stride=spec["stride"], padding=spec["padding"])
    elif t == "max_pool2d":
        r.z_node = F.max_pool2d(r.x_leaf, spec["kernel_size"], spec["stride"], spec["padding"])
        _, r.extra["indices"] = ops.max_pool2d_forward(r.x, spec["kernel_size"],
                                                       spec["stride"], spec["padding"])
    elif t == "avg_pool2d":
        r.z_node = F.avg_pool2d(r.x_leaf, spec["kernel_size"], spec["stride"], spec["padding"])
    elif t == "flatten":
        r.z_node = r.x_leaf.reshape(x.shape[0], -1)
    elif t == "residual":
        out = x
        for j, sub in enumerate(spec["layers"]):
            child = _forward(sub, out, f"{key}.layers.{j}", f"{sym}.{j + 1}")
            r.children.append(child)
            out = child.a
        r.block_leaf = _leaf(out)
        r.z_node = r.x_leaf + r.block_leaf
    r.z = np.array(r.z_node.array)
    r.z_leaf = _leaf(r.z)
    act, slope = spec.get("activation", "identity"), spec.get("negative_slope", 0.01)
    r.a_node = _activate(act, slope, r.z_leaf)
    r.a = np.array(r.a_node.array)
    r.local = local_derivative(act, slope, r.z)
    return r


def _forward_rnn(r):
    spec, L = r.spec, r.leaves
    r.x_leaf = _leaf(r.x)
    r.h, r.steps = [np.array(spec["h0"])], []
    for t in range(r.x.shape[0]):
        hp = _leaf(r.h[-1])
        z = F.linear(r.x_leaf[t], L["w_ih"], L.get("b_ih")) + F.linear(hp, L["w_hh"],
                                                                        L.get("b_hh"))
        zl = _leaf(z.array)
        h = _activate(spec["nonlinearity"], 0.0, zl)
        r.steps.append((hp, z, zl, h))
        r.h.append(np.array(h.array))
    r.z = np.stack([np.array(s[1].array) for s in r.steps])
    r.a = np.stack(r.h[1:])
    r.local = local_derivative(spec["nonlinearity"], 0.0, r.z)
    return r


# --------------------------------------------------------------------------- backward
def _grad(leaf, like):
    return np.zeros_like(like) if leaf.grad is None else np.array(leaf.grad, dtype=np.float64)


def _backward(r, g):
    """Given dL/da of this layer, fill the record and return dL/d(input)."""
    r.dL_da = np.array(g)
    if r.type == "rnn":
        return _backward_rnn(r)
    if r.a_node is r.z_leaf:
        r.delta = r.dL_da.copy()
    else:
        r.a_node.backward(g)
        r.delta = _grad(r.z_leaf, r.z)
    r.z_node.backward(r.delta)
    r.dL_dx = _grad(r.x_leaf, r.x)
    if r.type == "residual":
        r.extra["skip"] = r.dL_dx.copy()
        inner = _grad(r.block_leaf, r.z)
        for child in reversed(r.children):
            inner = _backward(child, inner)
        r.extra["block"] = inner
        r.dL_dx = r.dL_dx + inner
    for n, leaf in r.leaves.items():
        r.grad[n] = _grad(leaf, r.params[n])
    if r.type == "max_pool2d":
        r.extra["routes"] = _pool_routes(r)
    elif r.type == "conv2d":
        r.extra["patches"] = _conv_patches(r)
    return r.dL_dx


def _pool_routes(r):
    """[(output index, input index that received its gradient, the gradient)], from the
    kernel's argmax indices (the first maximum of each window, row-major)."""
    W = r.x.shape[3]
    return [((n, c, p, q), (n, c, int(i) // W, int(i) % W), float(r.dL_da[n, c, p, q]))
            for (n, c, p, q), i in np.ndenumerate(r.extra["indices"])]


def _conv_patches(r):
    """{(k, c, r, s): (slices into the padded input, the input patch)}: dL/dW[k,c,r,s] is
    sum(delta[:, k] * patch); the patch holds every input entry W[k,c,r,s] multiplied."""
    (sh, sw), (ph, pw) = r.spec["stride"], r.spec["padding"]
    P, Q = r.z.shape[2:]
    xp = np.pad(r.x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = {}
    for k, c, i, j in np.ndindex(r.params["weight"].shape):
        rows, cols = slice(i, i + sh * (P - 1) + 1, sh), slice(j, j + sw * (Q - 1) + 1, sw)
        out[(k, c, i, j)] = ((c, rows, cols), xp[:, c, rows, cols])
    return out


def _backward_rnn(r):
    dh_next = np.zeros_like(r.h[0])
    r.dL_dh = [None] * len(r.h)
    deltas = [None] * len(r.steps)
    for t in range(len(r.steps), 0, -1):
        hp, z, zl, h = r.steps[t - 1]
        dh = r.dL_da[t - 1] + dh_next
        r.dL_dh[t] = dh
        h.backward(dh)
        deltas[t - 1] = _grad(zl, z.array)
        z.backward(deltas[t - 1])
        dh_next = _grad(hp, r.h[t - 1])
    r.dL_dh[0] = dh_next
    r.delta = np.stack(deltas)
    r.dL_dx = _grad(r.x_leaf, r.x)
    for n, leaf in r.leaves.items():
        r.grad[n] = _grad(leaf, r.params[n])
    return r.dL_dx


# --------------------------------------------------------------------------- loss
def loss_tensor(loss, a_leaf, target):
    """The data loss as a chainrule Tensor of the network output leaf."""
    t, red = loss["type"], loss["reduction"]
    if t == "mse":
        return F.mse_loss(a_leaf, target, reduction=red)
    if t == "sse":
        return F.mse_loss(a_leaf, target, reduction="sum")
    if t == "half_sse":
        return 0.5 * F.mse_loss(a_leaf, target, reduction="sum")
    if t == "bce":
        return F.binary_cross_entropy(a_leaf, target, reduction=red)
    N, C = a_leaf.shape
    eps = loss["label_smoothing"]
    if t == "cross_entropy" and not loss["softmax_input"]:
        return F.cross_entropy(a_leaf, target, label_smoothing=eps, reduction=red)
    q = np.eye(C)[target] if target.dtype.kind in "iu" else np.array(target, dtype=np.float64)
    if t == "nll":  # the input holds log-probabilities
        total = -(a_leaf * q).sum()
    else:  # cross_entropy on softmax probabilities: softmax is not applied twice
        q = (1.0 - eps) * q + eps / C
        total = -(a_leaf.log() * q).sum()
    return total * (1.0 / N) if red == "mean" else total


# --------------------------------------------------------------------------- update
def _update(problem, records):
    opt = problem["optimizer"]
    recs = [r for r in records if r.leaves]
    params, keys = [], []
    for r in recs:
        for n, leaf in r.leaves.items():
            leaf.grad = tensor(r.grad[n])  # the recorded total gradient (data loss + l2)
            params.append(leaf)
            keys.append(f"{r.key}.{n}")
    if not params:
        return
    if opt["type"] == "sgd":
        o = optim.SGD(params, lr=opt["lr"], momentum=opt["momentum"],
                      dampening=opt["dampening"], nesterov=opt["nesterov"],
                      weight_decay=opt["weight_decay"])
        bufs = opt["momentum_buffer"]
        if bufs:
            sd = o.state_dict()
            sd["state"] = {i: {"momentum_buffer": bufs[k]} for i, k in enumerate(keys)
                           if k in bufs}
            o.load_state_dict(sd)
    else:
        o = optim.Adam(params, lr=opt["lr"], betas=opt["betas"], eps=opt["eps"],
                       weight_decay=opt["weight_decay"])
    o.step()
    for r in recs:
        for n, leaf in r.leaves.items():
            r.new[n] = np.array(leaf.array)


def _l2_backward(c, records):
    """Add the gradient of c * sum(W**2) (weights only, never biases); returns its value."""
    total = 0.0
    for r in records:
        for n, leaf in r.leaves.items():
            if n in ("weight", "w_ih", "w_hh"):
                term = c * (leaf * leaf).sum()
                total += term.item()
                term.backward()
                r.grad[n] = np.array(leaf.grad, dtype=np.float64)
    return total


def compute_trace(problem: dict) -> Trace:
    """Run forward, loss, backward and (optionally) one optimizer step on a parsed problem."""
    x = problem["input"]
    layers, out = [], x
    for i, spec in enumerate(problem["layers"]):
        r = _forward(spec, out, f"layers.{i}", str(i + 1))
        layers.append(r)
        out = r.a
    L = problem["loss"]
    if L["type"] == "bce" and (out.min() < 0 or out.max() > 1):
        last = problem["layers"][-1]
        raise ProblemError(f"loss (bce), field 'type': needs outputs in [0, 1], but layers."
                           f"{len(layers) - 1} ({last['type']}, activation "
                           f"{last.get('activation', 'identity')}) gives values in "
                           f"[{fmt_num(out.min())}, {fmt_num(out.max())}]; use the sigmoid "
                           f"activation")
    a_leaf = _leaf(out)
    loss_data = loss_tensor(problem["loss"], a_leaf, problem["target"])
    loss_data.backward()
    g = _grad(a_leaf, out)
    for r in reversed(layers):
        g = _backward(r, g)
    trace = Trace(problem, layers, np.array(out), 0.0, g, loss_data.item(), 0.0)
    records = trace.records()
    if problem["l2"]:
        trace.l2_value = _l2_backward(problem["l2"], records)
    trace.loss = trace.loss_data + trace.l2_value
    if problem["optimizer"] is not None:
        _update(problem, records)
    return trace
