"""Build the worked solution of a Trace as a list of headings, notes and equations.

The numbers in each equation's result come from the Trace (chainrule's autograd); the
operands shown on the way (a transposed weight, relu'(z), a conv patch) are the trace's own
arrays rearranged with NumPy for display.
"""
from __future__ import annotations

import numpy as np

from .render import Eq, Heading, Note, Sym, fmt_num

__all__ = ["build"]

MAX_TERMS = 12  # longest written-out sum in one equation (else only its value)

_PARAM_SYM = {"weight": ("W", "W"), "bias": ("b", "b"), "w_ih": ("W_ih", "W_{ih}"),
              "w_hh": ("W_hh", "W_{hh}"), "b_ih": ("b_ih", "b_{ih}"),
              "b_hh": ("b_hh", "b_{hh}")}


def V(name, i, tex=None, sub=""):
    """a[1] / a^{[1]}; ``sub`` appends an index like .t or [0,1]."""
    t = tex or name
    return Sym(f"{name}[{i}]{sub}", f"{t}^{{[{i}]}}{_tex_sub(sub)}")


def _tex_sub(sub):
    if not sub:
        return ""
    if sub.startswith("."):
        return f"_{{{sub[1:]}}}"
    return sub


def D(sym):
    """dL/d<sym>."""
    return Sym(f"dL/d{sym.text}", r"\frac{\partial L}{\partial " + sym.tex + "}")


def P(name, i, sub=""):
    t, tex = _PARAM_SYM[name]
    return V(t, i, tex, sub)


def DELTA(i, sub=""):
    return Sym(f"delta[{i}]{sub}", rf"\delta^{{[{i}]}}{_tex_sub(sub)}")


def T(sym):
    return Sym(sym.text + "^T", "{" + sym.tex + r"}^{\top}")


def S(text, tex=None):
    return Sym(text, tex)


def _act_sym(act, slope):
    return {"identity": "", "leaky_relu": f"leaky_relu_{fmt_num(slope)}"}.get(act, act)


def _shape(a):
    return "x".join(str(n) for n in np.shape(a))


def _terms(pairs):
    """'a*b + c*d' for (a, b) pairs, negatives in parentheses."""
    def p(v):
        s = fmt_num(v)
        return f"({s})" if s.startswith("-") else s
    return " + ".join(f"{p(a)}*{p(b)}" for a, b in pairs) if pairs else "0"


def _sl(s):
    txt = f"{s.start}:{s.stop}"
    return txt + (f":{s.step}" if s.step != 1 else "")


def _idx(stride, p, r):
    return f"{p}+{r}" if stride == 1 else f"{stride}{p}+{r}"


class _Builder:
    def __init__(self, trace):
        self.t, self.items = trace, []
        self.p = trace.problem

    def add(self, *items):
        self.items.extend(items)

    # --------------------------------------------------------------- forward
    def forward(self, recs, in_sym):
        for r in recs:
            self.forward_layer(r, in_sym)
            in_sym = V("a", r.sym)

    def forward_layer(self, r, x):
        i, s = r.sym, r.spec
        z, a = V("z", i), V("a", i)
        self.add(Heading(2, f"Layer {i} ({r.key}): {self.describe(r)}"))
        t = r.type
        if t == "linear":
            W, b = P("weight", i), P("bias", i)
            sym = [x, "@", T(W)] + (["+", b] if "bias" in r.params else [])
            num = [r.x, "@", r.params["weight"].T] + (["+", r.params["bias"]]
                                                      if "bias" in r.params else [])
            self.add(Eq(z, sym, num, [r.z], key=f"{r.key}.z"))
        elif t == "conv2d":
            self.conv_forward(r, x, z)
        elif t in ("max_pool2d", "avg_pool2d"):
            self.pool_forward(r, x, z)
        elif t == "flatten":
            self.add(Eq(z, [S("flatten("), x, ")"], [r.z], key=f"{r.key}.z"))
        elif t == "residual":
            self.forward(r.children, x)
            last = V("a", r.children[-1].sym)
            self.add(Heading(2, f"Layer {i} ({r.key}): the skip connection"))
            self.add(Eq(z, [x, "+", last], [r.x, "+", r.children[-1].a], [r.z],
                        key=f"{r.key}.z"))
        elif t == "rnn":
            return self.rnn_forward(r, x, z, a)
        act = r.activation
        if t in ("max_pool2d", "avg_pool2d", "flatten") or act == "identity":
            self.add(Eq(a, [z], key=f"{r.key}.a"))
        elif act == "softmax":
            self.add(Eq(a, [S("softmax("), z, ")"],
                        [S("exp(z) / sum exp(z)", r"e^{z} / \sum e^{z}")], [r.a],
                        key=f"{r.key}.a"))
        else:
            f = _act_sym(act, s.get("negative_slope", 0.01))
            self.add(Eq(a, [S(f + "("), z, ")"], [S(f + "("), r.z, ")"], [r.a],
                        key=f"{r.key}.a"))

    def describe(self, r):
        s, t = r.spec, r.type
        if t == "linear":
            o, n = s["weight"].shape
            txt = f"linear {n} -> {o}" + ("" if "bias" in r.params else ", no bias")
        elif t == "conv2d":
            txt = (f"conv2d, weight {_shape(s['weight'])}, stride {s['stride']}, "
                   f"padding {s['padding']}")
        elif t in ("max_pool2d", "avg_pool2d"):
            txt = f"{t}, kernel {s['kernel_size']}, stride {s['stride']}"
        elif t == "rnn":
            H, I = s["w_ih"].shape
            return f"rnn {I} -> {H}, {s['nonlinearity']}, {r.x.shape[0]} steps"
        elif t == "residual":
            txt = f"residual block of {len(r.children)} layers"
        else:
            txt = t
        act = s.get("activation", "identity")
        return txt + ("" if act == "identity" else f", {act}")

    def conv_forward(self, r, x, z):
        s, W = r.spec, r.params["weight"]
        (sh, sw), (ph, pw) = s["stride"], s["padding"]
        K, C, R, Sw = W.shape
        xp = np.pad(r.x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        if ph or pw:
            self.add(Note(f"x_pad is {x.text} with {ph} row(s) and {pw} column(s) of zeros "
                          f"around each plane."))
        src = "x_pad" if (ph or pw) else x.text
        bsym = f" + b[{r.sym}][k]" if "bias" in r.params else ""
        self.add(Note(f"z[{r.sym}][n,k,p,q] = sum_c,r,s W[{r.sym}][k,c,r,s] * "
                      f"{src}[n,c,{_idx(sh, 'p', 'r')},{_idx(sw, 'q', 's')}]{bsym}"
                      "   (products with a zero factor are left out)"))
        if r.z.size <= 4 * MAX_TERMS:
            for n, k, p, q in np.ndindex(r.z.shape):
                patch = xp[n, :, p * sh:p * sh + R, q * sw:q * sw + Sw]
                pairs = [(a, w) for a, w in zip(patch.ravel(), W[k].ravel()) if a and w]
                b = f" + {fmt_num(r.params['bias'][k])}" if "bias" in r.params else ""
                self.add(Eq(V("z", r.sym, sub=f"[{n},{k},{p},{q}]"),
                            [S(f"sum({src}[{n},:,{p * sh}:{p * sh + R},{q * sw}:{q * sw + Sw}] "
                               f"* W[{r.sym}][{k}]){b}")],
                            [S(_terms(pairs[:MAX_TERMS]) + (" + ..." if len(pairs) > MAX_TERMS
                                                            else "") + b)], [r.z[n, k, p, q]]))
        self.add(Eq(z, [S("conv2d("), x, ",", P("weight", r.sym), ")"]
                    + (["+", P("bias", r.sym)] if "bias" in r.params else []), [r.z],
                    key=f"{r.key}.z"))

    def pool_forward(self, r, x, z):
        s = r.spec
        (kh, kw), (sh, sw), (ph, pw) = s["kernel_size"], s["stride"], s["padding"]
        xp = np.pad(r.x, ((0, 0), (0, 0), (ph, ph), (pw, pw)),
                    constant_values=-np.inf if r.type == "max_pool2d" else 0.0)
        W = r.x.shape[3]
        if r.z.size <= 4 * MAX_TERMS:
            for n, c, p, q in np.ndindex(r.z.shape):
                win = xp[n, c, p * sh:p * sh + kh, q * sw:q * sw + kw].ravel()
                vals = ", ".join(fmt_num(v) for v in win if np.isfinite(v))
                rows = f"{p * sh - ph}:{p * sh - ph + kh}"
                cols = f"{q * sw - pw}:{q * sw - pw + kw}"
                lhs = V("z", r.sym, sub=f"[{n},{c},{p},{q}]")
                if r.type == "max_pool2d":
                    at = int(r.extra["indices"][n, c, p, q])
                    self.add(Eq(lhs, [S(f"max({x.text}[{n},{c},{rows},{cols}])")],
                                [S(f"max({vals})")], [S(f"{fmt_num(r.z[n, c, p, q])}, at "
                                                        f"({at // W},{at % W})")]))
                else:
                    self.add(Eq(lhs, [S(f"mean({x.text}[{n},{c},{rows},{cols}])")],
                                [S(f"({' + '.join(fmt_num(v) for v in win)}) / {kh * kw}")],
                                [r.z[n, c, p, q]]))
        self.add(Eq(z, [S(f"{r.type}("), x, ")"], [r.z], key=f"{r.key}.z"))

    def rnn_forward(self, r, x, z, a):
        s, i = r.spec, r.sym
        f = s["nonlinearity"]
        bias = "b_ih" in r.params
        for t in range(1, len(r.h)):
            sym = [S(f"x_{t}", f"x_{{{t}}}"), "@", T(P("w_ih", i))] + \
                (["+", P("b_ih", i)] if bias else []) + \
                ["+", V("h", i, sub=f".{t - 1}"), "@", T(P("w_hh", i))] + \
                (["+", P("b_hh", i)] if bias else [])
            num = [r.x[t - 1], "@", r.params["w_ih"].T] + \
                (["+", r.params["b_ih"]] if bias else []) + \
                ["+", r.h[t - 1], "@", r.params["w_hh"].T] + \
                (["+", r.params["b_hh"]] if bias else [])
            self.add(Eq(V("z", i, sub=f".{t}"), sym, num, [r.z[t - 1]]))
            self.add(Eq(V("h", i, sub=f".{t}"), [S(f + "("), V("z", i, sub=f".{t}"), ")"],
                        [r.h[t]], key=f"{r.key}.h.{t}"))
        self.add(Eq(a, [S(f"(h.1, ..., h.{len(r.h) - 1})", rf"(h_1, \dots, h_{{{len(r.h) - 1}}})")],
                    key=f"{r.key}.a"))

    # --------------------------------------------------------------- loss
    def loss(self, out_sym):
        L, lo = self.p["loss"], self.t
        a, y = out_sym.text, "y"
        t, red = L["type"], L["reduction"]
        mean = red == "mean"
        form = {"mse": f"{'mean' if mean else 'sum'}(({a} - y)^2)",
                "sse": f"sum(({a} - y)^2)", "half_sse": f"1/2 sum(({a} - y)^2)",
                "bce": f"-{'mean' if mean else 'sum'}(y log {a} + (1 - y) log(1 - {a}))",
                "nll": f"-{'mean' if mean else 'sum'}_n {a}[n, y_n]"}.get(t)
        self.add(Heading(2, f"Loss: {t}"))
        if t == "cross_entropy":
            inner = f"log {a}" if L["softmax_input"] else f"log softmax({a})"
            form = f"-{'mean' if mean else 'sum'}_n sum_c q[n,c] {inner}"
            eps = L["label_smoothing"]
            if eps:
                self.add(Note(f"q = (1 - {fmt_num(eps)}) * onehot(y) + {fmt_num(eps)} / C "
                              f"(label smoothing)"))
            elif self.p["target"].dtype.kind in "iu":
                self.add(Note("q = onehot(y)"))
            if L["softmax_input"]:
                self.add(Note(f"{a} is already a softmax output, so cross_entropy takes it "
                              f"as probabilities (softmax is not applied twice)."))
        self.add(Eq(S("y"), [self.p["target"]]))
        if self.p["l2"]:
            c = fmt_num(self.p["l2"])
            self.add(Eq(S("L"), [S(f"{form} + {c} * sum(W^2)")],
                        [S(f"{fmt_num(lo.loss_data)} + {fmt_num(lo.l2_value)}")],
                        [lo.loss], key="loss"))
        else:
            self.add(Eq(S("L"), [S(form)], [lo.loss], key="loss"))

    def loss_grad(self, r):
        L, n = self.p["loss"], self.t.output.size
        a, y = r.a, self.p["target"]
        t, mean = L["type"], L["reduction"] == "mean"
        N = a.shape[0] if a.ndim > 1 else 1
        lhs, A = D(V("a", r.sym)), V("a", r.sym).text
        div = f" / {n}" if mean and n > 1 else ""
        if t in ("mse", "sse", "half_sse"):
            k = "" if t == "half_sse" else "2 * "
            num = ([2.0, "*"] if k else []) + ["(", a, "-", y, ")"] + (["/", float(n)]
                                                                       if div else [])
            self.add(Eq(lhs, [S(f"{k}({A} - y)" + (div if t == "mse" else ""))], num,
                        [r.dL_da], key=f"{r.key}.dL_da"))
            return
        form = {"bce": f"(-y / {A} + (1 - y) / (1 - {A})){div}",
                "nll": "-onehot(y)" + (f" / {N}" if mean and N > 1 else "")}.get(t)
        if t == "cross_entropy":
            form = (f"-q / {A}" if L["softmax_input"] else f"softmax({A}) - q") + \
                (f" / {N}" if mean and N > 1 else "")
        self.add(Eq(lhs, [S(form)], [r.dL_da], key=f"{r.key}.dL_da"))

    # --------------------------------------------------------------- backward
    def backward(self, recs, in_sym, din_sym):
        for k in range(len(recs) - 1, -1, -1):
            r = recs[k]
            prev = V("a", recs[k - 1].sym) if k else in_sym
            dprev = D(prev) if k else din_sym
            self.backward_layer(r, prev, dprev)

    def backward_layer(self, r, x, dx):
        i, t = r.sym, r.type
        self.add(Heading(2, f"Layer {i} ({r.key}): {self.describe(r)}"))
        z, g = V("z", i), D(V("a", i))
        if t == "rnn":
            self.rnn_backward(r, x, dx)
            return
        act = r.activation if t in ("linear", "conv2d", "residual") else "identity"
        d = DELTA(i)
        if act == "identity":
            self.add(Eq(d, [g], [r.delta], key=f"{r.key}.delta"))
        elif act == "softmax":
            self.add(Eq(d, [V("a", i), "*", "(", g, "-", S(f"sum({g.text} * a[{i}])",
                                                        rf"\sum {g.tex} a^{{[{i}]}}"), ")"],
                        [r.delta], key=f"{r.key}.delta"))
        else:
            f = _act_sym(act, r.spec.get("negative_slope", 0.01))
            self.add(Eq(d, [g, "*", S(f"{f}'("), z, ")"], [r.dL_da, "*", r.local], [r.delta],
                        key=f"{r.key}.delta"))
        if t == "linear":
            self.linear_backward(r, x, dx)
        elif t == "conv2d":
            self.conv_backward(r, x, dx)
        elif t == "max_pool2d":
            self.maxpool_backward(r, x, dx)
        elif t == "avg_pool2d":
            kh, kw = r.spec["kernel_size"]
            self.add(Note(f"every entry of a {kh}x{kw} window receives {g.text} of that window "
                          f"/ {kh * kw}."))
            self.add(Eq(dx, [r.dL_dx], key=self.dx_key(r)))
        elif t == "flatten":
            self.add(Eq(dx, [S(f"reshape({d.text}, {_shape(r.x)})"), ], [r.dL_dx],
                        key=self.dx_key(r)))
        elif t == "residual":
            inner = Sym(f"dL/d{x.text} (through the block)",
                        r"\frac{\partial L}{\partial " + x.tex + r"}\Big|_{\text{block}}")
            self.backward(r.children, x, inner)
            self.add(Heading(2, f"Layer {i} ({r.key}): the skip connection"))
            self.add(Eq(dx, [d, "+", inner], [r.extra["skip"], "+", r.extra["block"]],
                        [r.dL_dx], key=self.dx_key(r)))

    def dx_key(self, r):
        return "dL_dinput" if r.key == "layers.0" else None

    def l2_part(self, name, r):
        c = self.p["l2"]
        if c and name in ("weight", "w_ih", "w_hh"):
            return ["+", 2 * c, "*", r.params[name]]
        return []

    def linear_backward(self, r, x, dx):
        i, d = r.sym, DELTA(r.sym)
        W = r.params["weight"]
        d2, x2 = r.delta.reshape(-1, W.shape[0]), r.x.reshape(-1, W.shape[1])
        reg = self.l2_part("weight", r)
        sym = [T(d), "@", x] + (["+", S(f"2*{fmt_num(self.p['l2'])}*"), P("weight", i)]
                                if reg else [])
        self.add(Eq(D(P("weight", i)), sym, [d2.T, "@", x2] + reg, [r.grad["weight"]],
                    key=f"{r.key}.grad.weight"))
        if "bias" in r.params:
            self.add(Eq(D(P("bias", i)), [S(f"sum over rows of {d.text}")], [r.grad["bias"]],
                        key=f"{r.key}.grad.bias"))
        self.add(Eq(dx, [d, "@", P("weight", i)], [r.delta, "@", W], [r.dL_dx],
                    key=self.dx_key(r)))

    def conv_backward(self, r, x, dx):
        i, s = r.sym, r.spec
        W = r.params["weight"]
        (sh, sw), (ph, pw) = s["stride"], s["padding"]
        src = "x_pad" if (ph or pw) else x.text
        self.add(Note(f"each weight-gradient entry sums delta times the input patch that entry "
                      f"multiplied: dL/dW[{i}][k,c,r,s] = sum_n,p,q delta[{i}][n,k,p,q] * "
                      f"{src}[n,c,{_idx(sh, 'p', 'r')},{_idx(sw, 'q', 's')}]"))
        for (k, c, rr, ss), ((_, rows, cols), patch) in r.extra["patches"].items():
            where = f"{src}[:,{c},{_sl(rows)},{_sl(cols)}]"
            pairs = list(zip(r.delta[:, k].ravel(), patch.ravel()))
            sym = S(f"sum(delta[{i}][:,{k}] * {where})")
            num = S(_terms(pairs)) if len(pairs) <= MAX_TERMS else None
            extra = [S(f" + 2*{fmt_num(self.p['l2'])}*{fmt_num(W[k, c, rr, ss])}")] \
                if self.p["l2"] else []
            self.add(Eq(D(P("weight", i, sub=f"[{k},{c},{rr},{ss}]")), [sym] + extra,
                        [num] + extra if num else None, [r.grad["weight"][k, c, rr, ss]]))
        self.add(Eq(D(P("weight", i)), [r.grad["weight"]], key=f"{r.key}.grad.weight"))
        if "bias" in r.params:
            self.add(Eq(D(P("bias", i)), [S(f"sum of delta[{i}] over n, p, q per channel")],
                        [r.grad["bias"]], key=f"{r.key}.grad.bias"))
        self.add(Eq(dx, [S("conv_transpose2d("), DELTA(i), ",", P("weight", i), ")"],
                    [r.dL_dx], key=self.dx_key(r)))

    def maxpool_backward(self, r, x, dx):
        routes = r.extra["routes"]
        if len(routes) <= 4 * MAX_TERMS:
            for (n, c, p, q), (_, _, y0, x0), v in routes:
                self.add(Note(f"window ({p},{q}) of plane ({n},{c}): its max sits at "
                              f"({y0},{x0}), which receives dL/da[{r.sym}][{n},{c},{p},{q}] = "
                              f"{fmt_num(v)}; the other entries of the window get 0"))
        self.add(Eq(dx, [r.dL_dx], key=self.dx_key(r)))

    def rnn_backward(self, r, x, dx):
        i, f = r.sym, r.spec["nonlinearity"]
        T_ = len(r.h) - 1
        Whh = r.params["w_hh"]
        deltas = r.delta
        for t in range(T_, 0, -1):
            h = V("h", i, sub=f".{t}")
            ext = Sym(f"dL/da[{i}].{t}", r"\frac{\partial L}{\partial a^{[" + i + r"]}_{" +
                      str(t) + "}}")
            if t == T_:
                self.add(Eq(D(h), [ext], [r.dL_dh[t]], key=f"{r.key}.dL_dh.{t}"))
            else:
                self.add(Eq(D(h), [ext, "+", DELTA(i, f".{t + 1}"), "@", P("w_hh", i)],
                            [r.dL_da[t - 1], "+", deltas[t], "@", Whh], [r.dL_dh[t]],
                            key=f"{r.key}.dL_dh.{t}"))
            self.add(Eq(DELTA(i, f".{t}"), [D(h), "*", S(f"{f}'("), V("z", i, sub=f".{t}"),
                                                 ")"],
                        [r.dL_dh[t], "*", r.local[t - 1]], [deltas[t - 1]]))
        self.add(Eq(D(V("h", i, sub=".0")), [DELTA(i, ".1"), "@", P("w_hh", i)],
                    [deltas[0], "@", Whh], [r.dL_dh[0]], key=f"{r.key}.dL_dh.0"))
        self.add(Eq(DELTA(i), [S("(delta.1, ..., delta.T)")], key=f"{r.key}.delta"))
        for name, src in (("w_ih", "x_t"), ("w_hh", "h.{t-1}")):
            reg = self.l2_part(name, r)
            txt = f"sum_t delta[{i}].t^T @ {src}" + (f" + 2*{fmt_num(self.p['l2'])}*"
                                                     f"{_PARAM_SYM[name][0]}" if reg else "")
            self.add(Eq(D(P(name, i)), [S(txt)], [r.grad[name]], key=f"{r.key}.grad.{name}"))
        for name in ("b_ih", "b_hh"):
            if name in r.params:
                self.add(Eq(D(P(name, i)), [S(f"sum_t sum over rows of delta[{i}].t")],
                            [r.grad[name]], key=f"{r.key}.grad.{name}"))
        self.add(Eq(dx, [S(f"delta[{i}].t @ W_ih[{i}] for every t")], [r.dL_dx],
                    key=self.dx_key(r)))

    # --------------------------------------------------------------- update
    def update(self, recs):
        opt = self.p["optimizer"]
        for r in recs:
            self.update(r.children)
            for n, new in r.new.items():
                self.update_one(opt, r, n, new)

    def update_one(self, opt, r, name, new):
        w, g = r.params[name], r.grad[name]
        Wsym = P(name, r.sym)
        lhs = Sym(Wsym.text + "'", "{" + Wsym.tex + "}'")
        key = f"{r.key}.new.{name}"
        lr, wd = opt["lr"], opt["weight_decay"]
        gs = D(Wsym)
        if wd:
            g = g + wd * w
            self.add(Eq(Sym("g"), [gs, "+", wd, "*", Wsym], [g]))
            gs = Sym("g")
        if opt["type"] == "sgd" and opt["momentum"]:
            m, damp = opt["momentum"], opt["dampening"]
            old = opt["momentum_buffer"].get(f"{r.key}.{name}")
            v = Sym(f"v({Wsym.text})", f"v_{{{Wsym.tex}}}")
            if old is None:
                buf = g
                self.add(Eq(v, [gs], [buf]))
            else:
                buf = m * old + (1 - damp) * g
                self.add(Eq(v, [m, "*", S("v_old"), "+", 1 - damp, "*", gs],
                            [m, "*", old, "+", 1 - damp, "*", g], [buf]))
            if opt["nesterov"]:
                self.add(Eq(lhs, [Wsym, "-", lr, "*", "(", gs, "+", m, "*", v, ")"], [new],
                            key=key))
            else:
                self.add(Eq(lhs, [Wsym, "-", lr, "*", v], [w, "-", lr, "*", buf], [new],
                            key=key))
        elif opt["type"] == "sgd":
            self.add(Eq(lhs, [Wsym, "-", lr, "*", gs], [w, "-", lr, "*", g], [new], key=key))
        else:
            b1, b2 = opt["betas"]
            self.add(Eq(Sym("m"), [1 - b1, "*", gs], [(1 - b1) * g]))
            self.add(Eq(Sym("v"), [1 - b2, "*", gs, "*", gs], [(1 - b2) * g * g]))
            self.add(Eq(lhs, [Wsym, "-", lr, "*", S(f"(m / {fmt_num(1 - b1)}) / "
                                                    f"(sqrt(v / {fmt_num(1 - b2)}) + "
                                                    f"{opt['eps']:g})")], [new], key=key))


def build(trace):
    b = _Builder(trace)
    p = trace.problem
    x = Sym("x")
    b.add(Heading(1, "Problem"))
    opt = p["optimizer"]
    n = len(p["layers"])
    desc = f"{n} layer{'s' if n > 1 else ''}, loss {p['loss']['type']}"
    if p["l2"]:
        desc += f" + {fmt_num(p['l2'])} * sum of squared weights"
    if opt:
        desc += f", optimizer {opt['type']}(" + ", ".join(
            f"{k}={v}" for k, v in opt.items()
            if k not in ("type", "momentum_buffer") and v not in (0, 0.0, False)) + ")"
    b.add(Note(desc + "; float64 throughout."))
    b.add(Note("Layers are numbered from 1 as in textbooks (x is the input); --check keys "
               "count from 0: z[2] is layers.1.z, a[2] layers.1.a, dL/da[2] layers.1.dL_da, "
               "delta[2] layers.1.delta, dL/dW[2] layers.1.grad.weight, W[2]' "
               "layers.1.new.weight, z[2.1] layers.1.layers.0.z (inside a residual block), "
               "h[1].2 layers.0.h.2; one entry is e.g. layers.1.grad.weight[0,2]."))
    b.add(Eq(x, [p["input"]]))
    b.add(Heading(1, "Forward pass"))
    b.forward(trace.layers, x)
    last = trace.layers[-1]
    b.loss(V("a", last.sym))
    b.add(Heading(1, "Backward pass"))
    b.loss_grad(last)
    b.backward(trace.layers, x, D(x))
    if opt:
        b.add(Heading(1, f"Update ({opt['type']}, one step)"))
        b.update(trace.layers)
    return b.items
