"""Test-case generators for the kernel table (chainrule.ops._registry): for each kernel,
argument sets in a given dtype over odd/prime sizes, batch 1 and non-contiguous views, plus
the PyTorch equivalents where they need adapting. Only the registry imports this."""
import numpy as np

# ---- case helpers: odd/prime sizes, batch 1, non-contiguous views of the same values ----
def _a(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _strided(a):
    """The values of a as a non-contiguous view (every other element of a larger array)."""
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype) if a.ndim else a.copy()
    if not a.ndim:
        return big
    big[..., ::2] = a
    return big[..., ::2]


def _matmul_cases(rng, dt):
    return [((_a(rng, (7, 5), dt), _a(rng, (5, 3), dt)), {}),
            ((_a(rng, (1, 13), dt), _a(rng, (13, 11), dt)), {}),
            ((_a(rng, (5, 7), dt), _a(rng, (3, 5), dt)), dict(trans_a=True, trans_b=True)),
            ((_strided(_a(rng, (6, 9), dt)), _a(rng, (9, 4), dt).T.copy().T), {}),
            # skinny: one side <= 16 with large K and M / N takes the GEMV-like path of
            # csrc/gemm_skinny_tmpl.h (rows or columns of the big operand contiguous)
            ((_a(rng, (257, 701), dt), _a(rng, (701, 5), dt)), {}),
            ((_a(rng, (701, 263), dt), _a(rng, (3, 701), dt)), dict(trans_a=True, trans_b=True)),
            ((_a(rng, (1, 997), dt), _a(rng, (997, 911), dt)), {}),
            ((_strided(_a(rng, (131, 1009), dt)), _a(rng, (13, 1009), dt)), dict(trans_b=True))]


def _linear_cases(rng, dt):
    return [((_a(rng, (7, 5), dt), _a(rng, (3, 5), dt), _a(rng, 3, dt)), {}),
            ((_a(rng, (1, 11), dt), _a(rng, (13, 11), dt), _a(rng, 13, dt)), {}),
            ((_strided(_a(rng, (5, 3), dt)), _a(rng, (2, 3), dt), None), {})]


def _linear_bwd_cases(rng, dt):
    return [((_a(rng, (7, 3), dt), _a(rng, (7, 5), dt), _a(rng, (3, 5), dt)), {}),
            ((_a(rng, (1, 13), dt), _a(rng, (1, 11), dt), _a(rng, (13, 11), dt)),
             dict(bias=False)),
            ((_strided(_a(rng, (5, 2), dt)), _a(rng, (5, 3), dt), _a(rng, (2, 3), dt)),
             dict(need_dx=False))]


# (x shape, w shape, stride, padding, dilation)
_CONV = [((2, 3, 7, 5), (4, 3, 3, 2), 1, 0, 1), ((1, 2, 9, 7), (3, 2, 3, 3), 2, 1, 1),
         ((3, 1, 6, 11), (2, 1, 2, 3), (1, 2), (2, 1), (2, 1))]


# grouped / depthwise / "same" convolutions: (x shape, w shape, stride, padding, dilation, groups)
_GCONV = [((2, 5, 7, 6), (5, 1, 3, 3), 1, 1, 1, 5), ((1, 3, 9, 8), (3, 1, 5, 5), (2, 3), 2, 1, 3),
          ((2, 3, 6, 5), (6, 1, 3, 3), 1, 1, 1, 3), ((2, 6, 7, 5), (4, 3, 3, 2), 1, (1, 0), 1, 2),
          ((1, 2, 7, 6), (3, 2, 4, 2), 1, "same", (1, 2), 1), ((1, 1, 5, 5), (1, 1, 3, 3), 1,
                                                               "valid", 1, 1),
          ((3, 4, 6, 7), (4, 1, 5, 5), 1, "same", 1, 4)]


def _conv_cases(rng, dt):
    out = []
    for i, (xs, ws, s, p, d) in enumerate(_CONV):
        x = _a(rng, xs, dt)
        out.append(((_strided(x) if i == 2 else x, _a(rng, ws, dt, 0.5),
                     _a(rng, ws[0], dt) if i != 1 else None, s, p, d), {}))
    for i, (xs, ws, s, p, d, g) in enumerate(_GCONV):
        x = _a(rng, xs, dt)
        out.append(((_strided(x) if i == 1 else x, _a(rng, ws, dt, 0.5),
                     _a(rng, ws[0], dt) if i != 2 else None, s, p, d, g), {}))
    return out


def _conv_out(xs, ws, s, p, d):
    s, p, d = ((v, v) if isinstance(v, int) else v for v in (s, p, d))
    return tuple((xs[2 + i] + 2 * p[i] - d[i] * (ws[2 + i] - 1) - 1) // s[i] + 1
                 for i in range(2))


def _conv_bwd_cases(rng, dt):
    out = [((_a(rng, (xs[0], ws[0]) + _conv_out(xs, ws, s, p, d), dt), _a(rng, xs, dt),
             _a(rng, ws, dt), s, p, d), dict(bias=i != 1)) for i, (xs, ws, s, p, d)
           in enumerate(_CONV)]
    for i, (xs, ws, s, p, d, g) in enumerate(_GCONV):
        pq = xs[2:] if p == "same" else _conv_out(xs, ws, s, 0 if p == "valid" else p, d)
        out.append(((_a(rng, (xs[0], ws[0]) + pq, dt), _a(rng, xs, dt), _a(rng, ws, dt), s, p,
                     d, g), dict(bias=i != 2, need_dx=i != 3)))
    return out


def _unfold_cases(rng, dt):
    return [((_a(rng, xs, dt), ws[2:], s, p, d), {}) for xs, ws, s, p, d in _CONV] + \
        [((_strided(_a(rng, (2, 5, 4), dt)), 3, 1, 1, 1), {})]


def _fold_cases(rng, dt):
    out = []
    for (x, k, s, p, d), _ in _unfold_cases(rng, dt):
        xs = x.shape if x.ndim == 4 else (1,) + x.shape
        P, Q = _conv_out(xs, (1, xs[1]) + ((k, k) if isinstance(k, int) else tuple(k)), s, p, d)
        kk = (k, k) if isinstance(k, int) else k
        shape = (xs[0], xs[1] * kk[0] * kk[1], P * Q)
        out.append(((_a(rng, shape if x.ndim == 4 else shape[1:], dt), x.shape, k, s, p, d), {}))
    return out


_POOL = [((2, 3, 7, 5), 2, None, 0), ((1, 2, 9, 8), 3, 2, 1), ((3, 1, 6, 11), (2, 3), (1, 2), (1, 1))]
# max options: (x shape, kernel, stride, padding, dilation, ceil_mode)
_MAX_OPT = [((2, 3, 7, 5), 2, None, 0, 1, True), ((1, 2, 9, 8), 3, 2, 1, 2, False),
            ((3, 1, 6, 11), (2, 3), (1, 2), (1, 1), (2, 1), True),
            ((1, 1, 5, 7), 3, 2, 1, (1, 2), True)]
# avg options: (x shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor)
_AVG_OPT = [((2, 3, 7, 5), 3, 2, 1, True, True, None), ((1, 2, 9, 8), 3, 2, 1, False, False, None),
            ((3, 1, 6, 11), (2, 3), (1, 2), (1, 1), True, False, None),
            ((1, 1, 5, 7), 3, 2, 1, True, True, 5), ((2, 1, 4, 4), 2, None, 0, False, True, 3)]
# adaptive: (x shape, output_size)
_ADAPT = [((2, 3, 7, 5), 3), ((1, 2, 9, 8), (4, None)), ((3, 1, 6, 11), (1, 1)),
          ((1, 1, 5, 7), (7, 3)), ((2, 3, 10, 10), 1)]


def _pool_cases(rng, dt):
    return [((_strided(_a(rng, xs, dt)) if i == 2 else _a(rng, xs, dt), k, s, p), {})
            for i, (xs, k, s, p) in enumerate(_POOL)]


def _max_pool_cases(rng, dt):
    return _pool_cases(rng, dt) + [
        ((_strided(_a(rng, xs, dt)) if i == 2 else _a(rng, xs, dt), k, s, p),
         dict(dilation=d, ceil_mode=c)) for i, (xs, k, s, p, d, c) in enumerate(_MAX_OPT)]


def _avg_pool_cases(rng, dt):
    return _pool_cases(rng, dt) + [
        ((_strided(_a(rng, xs, dt)) if i == 2 else _a(rng, xs, dt), k, s, p),
         dict(ceil_mode=c, count_include_pad=inc, divisor_override=dv))
        for i, (xs, k, s, p, c, inc, dv) in enumerate(_AVG_OPT)]


def _max_pool_bwd_cases(rng, dt):
    from . import max_pool2d_forward
    out = []
    for (x, k, s, p), kw in _max_pool_cases(rng, dt):
        y, idx = max_pool2d_forward(x, k, s, p, **kw)
        out.append(((_a(rng, y.shape, dt), idx, x.shape), {}))
    return out


def _avg_pool_bwd_cases(rng, dt):
    from . import avg_pool2d_forward
    return [((_a(rng, avg_pool2d_forward(x, k, s, p, **kw).shape, dt), x.shape, k, s, p), kw)
            for (x, k, s, p), kw in _avg_pool_cases(rng, dt)]


def _unpool_cases(rng, dt):
    """Indices of non-overlapping max pools (distinct indices: repeated ones keep only the
    last write, which finite differences cannot see; tests/test_pool_options.py has them)."""
    from . import max_pool2d_forward
    out = []
    for i, (xs, k, kw) in enumerate([((2, 3, 7, 5), 2, {}), ((1, 2, 9, 8), 3, dict(ceil_mode=True)),
                                     ((3, 1, 6, 11), (2, 3), {}), ((1, 1, 5, 5), 1, {})]):
        y, idx = max_pool2d_forward(_a(rng, xs, dt), k, **kw)
        x = _a(rng, y.shape, dt)
        out.append(((_strided(x) if i == 2 else x, idx, xs), {}))
    return out


def _unpool_bwd_cases(rng, dt):
    return [((_a(rng, shape, dt), idx), {}) for (x, idx, shape), _ in _unpool_cases(rng, dt)]


def _adaptive_cases(rng, dt):
    return [((_strided(_a(rng, xs, dt)) if i == 2 else _a(rng, xs, dt), o), {})
            for i, (xs, o) in enumerate(_ADAPT)]


def _adaptive_bwd_cases(rng, dt):
    from . import adaptive_avg_pool2d_forward
    return [((_a(rng, adaptive_avg_pool2d_forward(x, o).shape, dt), x.shape), {})
            for (x, o), _ in _adaptive_cases(rng, dt)]


# (T, N, I, H, nonlinearity)
_RNN = [(5, 3, 4, 7, "tanh"), (3, 1, 2, 5, "relu"), (4, 2, 3, 3, "sigmoid")]


def _rnn_args(rng, dt, T, N, I, H):
    k = 1 / np.sqrt(H)
    return (_a(rng, (T, N, I), dt), _a(rng, (N, H), dt, 0.5), _a(rng, (H, I), dt, k),
            _a(rng, (H, H), dt, k))


def _rnn_cases(rng, dt):
    return [(_rnn_args(rng, dt, T, N, I, H) + (_a(rng, H, dt, 0.1), _a(rng, H, dt, 0.1), nl), {})
            for T, N, I, H, nl in _RNN]


def _rnn_bwd_cases(rng, dt):
    from . import rnn_forward
    out = []
    for (x, h0, w_ih, w_hh, b_ih, b_hh, nl), _ in _rnn_cases(rng, dt):
        hs = rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, nl)
        out.append(((_a(rng, hs.shape, dt), x, h0, hs, w_ih, w_hh, nl), {}))
    return out


# (T, N, I, H) for the LSTM / GRU kernels: odd sizes, batch 1, H past one vector
_GATED = [(5, 3, 4, 7), (3, 1, 2, 5), (4, 2, 3, 17)]


def _gated_cases(G):
    def cases(rng, dt):
        out = []
        for i, (T, N, I, H) in enumerate(_GATED):
            x, h0, w_ih, w_hh = _rnn_args(rng, dt, T, N, I, G * H)
            h0, w_hh = h0[:, :H], w_hh[:, :H]
            x = _strided(x) if i == 1 else x
            b = (None, None) if i == 2 else (_a(rng, G * H, dt, 0.1), _a(rng, G * H, dt, 0.1))
            c0 = (_a(rng, (N, H), dt, 0.5),) if G == 4 else ()
            out.append(((x, h0) + c0 + (w_ih, np.ascontiguousarray(w_hh)) + b, {}))
        return out
    return cases


def _lstm_bwd_cases(rng, dt):
    from . import lstm_forward
    out = []
    for i, (args, _) in enumerate(_gated_cases(4)(rng, dt)):
        hs, cs, gates = lstm_forward(*args)
        dc_n = None if i == 1 else _a(rng, cs.shape[1:], dt)
        out.append(((_a(rng, hs.shape, dt), dc_n) + args[:5] + (hs, cs, gates),
                    dict(bias=args[5] is not None)))
    return out


def _gru_bwd_cases(rng, dt):
    from . import gru_forward
    out = []
    for args, _ in _gated_cases(3)(rng, dt):
        hs, gates = gru_forward(*args)
        out.append(((_a(rng, hs.shape, dt),) + args[:4] + (hs, gates),
                    dict(bias=args[4] is not None)))
    return out


def _bidir_cases(rng, dt):
    """lstm_bidir_forward: the LSTM cases, each with a second (reverse) set of states and
    weights; the third case without biases."""
    out = []
    for args, _ in _gated_cases(4)(rng, dt):
        x, h0, c0, w_ih, w_hh, b_ih, b_hh = args
        rev = (_a(rng, h0.shape, dt, 0.5), _a(rng, c0.shape, dt, 0.5), _a(rng, w_ih.shape, dt),
               _a(rng, w_hh.shape, dt)) + ((None, None) if b_ih is None else
                                          (_a(rng, b_ih.shape, dt, 0.1),
                                           _a(rng, b_hh.shape, dt, 0.1)))
        out.append(((x, h0, c0, w_ih, w_hh, b_ih, b_hh) + rev, {}))
    return out


def _bidir_bwd_cases(rng, dt):
    from . import lstm_bidir_forward
    out = []
    for i, (args, _) in enumerate(_bidir_cases(rng, dt)):
        y = lstm_bidir_forward(*args)
        hs = y[0]
        dc_n = None if i == 1 else _a(rng, hs.shape[1:], dt)
        grads = (_a(rng, hs.shape, dt), dc_n, _a(rng, hs.shape, dt), _a(rng, hs.shape[1:], dt))
        out.append((grads + args[:5] + y[:3] + args[7:11] + y[3:],
                    dict(bias=args[5] is not None, input_grad=i != 0)))
    return out


def _gated_torch(G):
    """hs (and cs) from torch's own cells, the activated gates recomputed with torch ops."""
    def run(torch, x, h0, *rest):
        c0, (w_ih, w_hh, b_ih, b_hh) = (rest[0], rest[1:]) if G == 4 else (None, rest)
        H = h0.shape[1]
        h, c, hs, cs, gs = h0, c0, [], [], []
        for t in range(x.shape[0]):
            gi = torch.nn.functional.linear(x[t], w_ih, b_ih)
            gh = torch.nn.functional.linear(h, w_hh, b_hh)
            if G == 4:
                i, f, g, o = (gi + gh).split(H, 1)
                gs.append(torch.cat([i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()], 1))
                h, c = torch.lstm_cell(x[t], (h, c), w_ih, w_hh, b_ih, b_hh)
                cs.append(c)
            else:
                r, z = (gi[:, :2 * H] + gh[:, :2 * H]).sigmoid().split(H, 1)
                n = (gi[:, 2 * H:] + r * gh[:, 2 * H:]).tanh()
                gs.append(torch.cat([r, z, n, gh[:, 2 * H:]], 1))
                h = torch.gru_cell(x[t], h, w_ih, w_hh, b_ih, b_hh)
            hs.append(h)
        out = (torch.stack(hs),) + ((torch.stack(cs),) if G == 4 else ())
        return out + (torch.stack(gs),)
    return run


# ---- embedding ----------------------------------------------------------------------------
def _embedding_cases(rng, dt):
    """(weight, indices): repeated rows, 2-D indices, a non-contiguous table, batch 1."""
    w = lambda n, d: _a(rng, (n, d), dt)
    return [((w(11, 7), rng.integers(0, 11, 13)), {}),
            ((_strided(w(5, 3)), rng.integers(0, 5, (4, 6))), {}),
            ((w(17, 1), np.array([16])), {}),
            ((w(3, 5), np.array([[2, 2], [2, 0]], np.int32)), {})]


def _embedding_bwd_cases(rng, dt):
    out = []
    for i, ((w, idx), _) in enumerate(_embedding_cases(rng, dt)):
        kw = [{}, dict(padding_idx=1), dict(scale_grad_by_freq=True),
              dict(padding_idx=-1, scale_grad_by_freq=True)][i]
        out.append(((_a(rng, np.shape(idx) + (w.shape[1],), dt), idx, w.shape[0]), kw))
    return out


# ---- activations, softmax cross-entropy, optimizer steps --------------------------------
_ACT_SHAPES = [(7, 13), (1, 5), (2, 3, 5, 7), (11,)]


def _unary_cases(rng, dt):
    return [((_strided(_a(rng, s, dt)) if i == 0 else _a(rng, s, dt, 3.0),), {})
            for i, s in enumerate(_ACT_SHAPES)]


def _act_bwd_cases(fwd):
    def cases(rng, dt):
        from . import _act
        f = getattr(_act, fwd)
        out = [((_a(rng, x.shape, dt), f(x)), {}) for (x,), _ in _unary_cases(rng, dt)]
        (dy, y), _ = out[0]
        out.append(((dy.copy(), y), dict(out=np.empty(y.shape, dt))))  # out=: same answer
        return out
    return cases


def _xent_cases(rng, dt):
    return [((_a(rng, (N, C), dt, 3.0), rng.integers(0, C, N)), {})
            for N, C in ((7, 5), (1, 13), (16, 10), (3, 1))]


def _xent_bwd_cases(rng, dt):
    from . import softmax_cross_entropy_forward as fwd
    out = []
    for i, ((a, t), _) in enumerate(_xent_cases(rng, dt)):
        prob = fwd(a, t)[1]
        scale = [0.25, _a(rng, len(t), dt), np.ones(1, dt), 2][i]
        out.append(((prob, t, scale), {}))
    return out


def _sgd_cases(rng, dt):
    p = lambda n: _a(rng, n, dt)
    return [((p((5, 7)), p((5, 7)), p((5, 7))), dict(lr=0.1, momentum=0.9, first_step=True)),
            ((p(13), _strided(p(13)), p(13)), dict(lr=0.05, momentum=0.9, dampening=0.1,
                                                     weight_decay=0.01)),
            ((p((2, 3, 3)), p((2, 3, 3)), p((2, 3, 3))),
             dict(lr=0.1, momentum=0.5, nesterov=True, maximize=True)),
            ((p(11), p(11), None), dict(lr=0.3, weight_decay=0.1))]


def _adam_cases(rng, dt):
    p = lambda n: _a(rng, n, dt)
    v = lambda n: np.abs(_a(rng, n, dt))
    return [((p((5, 7)), p((5, 7)), p((5, 7)), v((5, 7)), None), dict(step=1)),
            ((p(13), _strided(p(13)), p(13), v(13), None),
             dict(step=7, lr=0.01, beta1=0.8, beta2=0.99, weight_decay=0.1)),
            ((p((2, 3, 3)), p((2, 3, 3)), p((2, 3, 3)), v((2, 3, 3)), None),
             dict(step=3, weight_decay=0.05, decoupled=True, maximize=True)),
            ((p((3, 5)), p((3, 5)), p((3, 5)), v((3, 5)), v((3, 5))),
             dict(step=4, lr=0.02, weight_decay=0.1, maximize=True)),
            ((p(11), _strided(p(11)), p(11), v(11), v(11)),
             dict(step=2, decoupled=True, weight_decay=0.01))]


def _rmsprop_cases(rng, dt):
    p = lambda n: _a(rng, n, dt)
    v = lambda n: np.abs(_a(rng, n, dt)) + 1
    return [((p((5, 7)), p((5, 7)), v((5, 7)), None, None), {}),
            ((p(13), _strided(p(13)), v(13), p(13) * 0.1, p(13)),
             dict(lr=0.01, alpha=0.9, momentum=0.9, weight_decay=0.1, maximize=True)),
            ((p((2, 3, 3)), p((2, 3, 3)), v((2, 3, 3)), p((2, 3, 3)) * 0.1, None),
             dict(lr=0.05, eps=1e-4)),
            ((p(11), p(11), v(11), None, p(11)), dict(momentum=0.5))]


def _adagrad_cases(rng, dt):
    p = lambda n: _a(rng, n, dt)
    v = lambda n: np.abs(_a(rng, n, dt))
    return [((p((5, 7)), p((5, 7)), v((5, 7))), dict(step=1)),
            ((p(13), _strided(p(13)), v(13)),
             dict(step=5, lr=0.1, lr_decay=0.01, weight_decay=0.1, maximize=True)),
            ((p((2, 3, 3)), p((2, 3, 3)), v((2, 3, 3))), dict(step=2, eps=1e-6))]


def _adadelta_cases(rng, dt):
    p = lambda n: _a(rng, n, dt)
    v = lambda n: np.abs(_a(rng, n, dt))
    return [((p((5, 7)), p((5, 7)), v((5, 7)), v((5, 7))), {}),
            ((p(13), _strided(p(13)), v(13), v(13)),
             dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True)),
            ((p((2, 3, 3)), p((2, 3, 3)), v((2, 3, 3)), v((2, 3, 3))), dict(eps=1e-3))]


# ---- batch norm and dropout (x shapes: NC, NCL, NCHW; odd sizes, batch 1) ----
_BN = [(7, 3), (1, 5, 9), (3, 4, 5, 3), (2, 1, 3, 7)]


def _bn_cases(rng, dt):
    out = []
    for i, xs in enumerate(_BN):
        C = xs[1]
        x = _a(rng, xs, dt, 2.0) + 0.5
        w, b = (_a(rng, C, dt), _a(rng, C, dt)) if i != 1 else (None, None)
        out.append(((_strided(x) if i == 2 else x, w, b, 1e-5 if i else 1e-3), {}))
    x = _a(rng, _BN[2], dt, 2.0)  # fused with a residual add and a ReLU
    out.append(((x, _a(rng, x.shape[1], dt), _a(rng, x.shape[1], dt), 1e-5),
                dict(relu=True, residual=_a(rng, x.shape, dt))))
    return out


def _bn_inference_cases(rng, dt):
    return [((x, _a(rng, x.shape[1], dt), np.abs(_a(rng, x.shape[1], dt)) + 0.1, w, b, eps), {})
            for (x, w, b, eps), k in _bn_cases(rng, dt) if not k]


def _bn_bwd_cases(rng, dt):
    out = []
    for i, ((x, w, b, eps), k) in enumerate(_bn_cases(rng, dt)):
        C = x.shape[1]
        mean, invstd = _a(rng, C, dt), np.abs(_a(rng, C, dt)) + 0.5
        mask = [(True, True, True), (True, False, True), (False, True, True), (True,) * 3,
                (True,) * 3][i]
        extra = dict(relu_out=_a(rng, x.shape, dt)) if k else {}  # the fused ReLU's mask
        out.append(((_a(rng, x.shape, dt), x, w, mean, invstd),
                    dict(training=i != 3, output_mask=mask, **extra)))
    return out


def _bn_torch(torch, x, w=None, b=None, eps=1e-5, relu=False, residual=None):
    dims = [0] + list(range(2, x.dim()))
    var = x.detach().var(dims, unbiased=False)
    y = torch.nn.functional.batch_norm(x, None, None, w, b, training=True, eps=eps)
    y = y if residual is None else y + torch.as_tensor(residual)
    y = torch.relu(y) if relu else y
    return y, x.detach().mean(dims), 1 / torch.sqrt(var + eps), var



# ---- group and layer norm (odd sizes, batch 1, L = 1, no affine, non-contiguous) ----
_GN = [((3, 6, 5, 7), 3), ((2, 4), 2), ((1, 5, 9), 1), ((2, 6, 3, 5), 6)]
_LN = [((4, 7, 13), (13,)), ((3, 5, 6), (5, 6)), ((1, 37), 37), ((2, 3, 5), (5,))]


def _gn_cases(rng, dt):
    out = []
    for i, (xs, G) in enumerate(_GN):
        C = xs[1]
        x = _a(rng, xs, dt, 2.0) + 0.5
        w, b = (_a(rng, C, dt), _a(rng, C, dt)) if i != 2 else (None, None)
        out.append(((_strided(x) if i == 3 else x, G, w, b, 1e-5 if i else 1e-3), {}))
    return out


def _ln_cases(rng, dt):
    out = []
    for i, (xs, s) in enumerate(_LN):
        x = _a(rng, xs, dt, 2.0) - 0.3
        w, b = (_a(rng, s, dt), _a(rng, s, dt)) if i != 2 else (None, None)
        out.append(((_strided(x) if i == 3 else x, s, w, b, 1e-5), {}))
    return out


def _rows_bwd_cases(cases, stat_shape):
    def make(rng, dt):
        out = []
        for i, ((x, spec, w, b, eps), _) in enumerate(cases(rng, dt)):
            st = stat_shape(x, spec)
            mean, rstd = _a(rng, st, dt), np.abs(_a(rng, st, dt)) + 0.5
            mask = [(True, True, True), (True, False, True), (False, True, True), (True,) * 3][i]
            out.append(((_a(rng, x.shape, dt), x, spec, w, mean, rstd), dict(output_mask=mask)))
        return out
    return make


_gn_bwd_cases = _rows_bwd_cases(_gn_cases, lambda x, G: (x.shape[0], G))
_ln_bwd_cases = _rows_bwd_cases(_ln_cases, lambda x, s: x.shape[:x.ndim - len(np.atleast_1d(s))])


def _gn_torch(torch, x, G, w=None, b=None, eps=1e-5):
    return torch.ops.aten.native_group_norm(x, w, b, x.shape[0], x.shape[1],
                                            int(np.prod(x.shape[2:])), G, eps)


def _ln_torch(torch, x, s, w=None, b=None, eps=1e-5):
    s = tuple(np.atleast_1d(s))
    y, mean, rstd = torch.ops.aten.native_layer_norm(x, list(s), w, b, eps)
    lead = x.shape[:x.dim() - len(s)]
    return y, mean.reshape(lead), rstd.reshape(lead)

_DROP = [((7, 5), 0.5, 3, 0), ((1, 130), 0.1, 2**64 - 1, 5), ((2, 3, 4, 5), 0.9, 0, 2**40),
         ((11,), 0.0, 7, 0)]


def _dropout_cases(rng, dt):
    return [((_strided(_a(rng, s, dt)) if i == 1 else _a(rng, s, dt), p, seed, off), {})
            for i, (s, p, seed, off) in enumerate(_DROP)]


def _dropout_bwd_cases(rng, dt):
    return [((_a(rng, s, dt), rng.random(s) < 0.5, p), {}) for s, p, _, _ in _DROP]


def _dropout_mask_cases(rng, dt):
    return [((s, p, seed), dict(offset=off)) for s, p, seed, off in _DROP]


def _xent_torch(torch, logits, target):
    F = torch.nn.functional
    return F.cross_entropy(logits, target, reduction="none"), torch.softmax(logits, 1)


def _pool_torch(kind):
    def run(torch, x, k, s=None, p=0, **kw):
        F = torch.nn.functional
        if kind == "max":
            return F.max_pool2d(x, k, s, p, return_indices=True, **kw)
        return F.avg_pool2d(x, k, s, p, **kw)
    return run



# ---- sparse x dense (graph layers): (R, C, edges) with empty rows, self loops, duplicate
# edges, isolated nodes, a one-node graph and no edges at all ----------------------------
def _coo_cases(rng):
    r, c = rng.integers(0, 9, 30), rng.integers(0, 7, 30)
    r[r == 3] = 4  # row 3 empty
    dup = np.array([[5, 5, 5], [2, 2, 2]])  # one edge three times
    loops = np.arange(5)
    return [(9, 7, np.concatenate([r, dup[0], loops]), np.concatenate([c, dup[1], loops])),
            (1, 1, np.array([0, 0]), np.array([0, 0])),
            (4, 3, np.zeros(0, np.int64), np.zeros(0, np.int64)),
            (6, 6, np.array([1, 0, 1]), np.array([0, 1, 1]))]


def _spmm_cases(rng, dt):
    from . import csr_from_coo
    out = []
    for i, (R, C, r, c) in enumerate(_coo_cases(rng)):
        indptr, indices, perm = csr_from_coo(r, c, R, C)
        F = (5, 1, 3, 33)[i]
        x = _a(rng, (C, F), dt)
        args = (indptr, indices, _a(rng, len(r), dt), _strided(x) if i == 3 else x)
        out.append((args + ((perm,) if i != 1 else ()), {}))
    return out


def _spmm_t(indptr, indices, C, perm=None):
    """A^T's CSR with its perm pointing at the values of A (perm, or A's CSR order)."""
    from . import csr_from_coo
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    t_indptr, t_indices, t_perm = csr_from_coo(indices, rows, C, len(indptr) - 1)
    return t_indptr, t_indices, (t_perm if perm is None else perm[t_perm])


def _spmm_bwd_call(a, k, y, dy):
    perm = a[4] if len(a) > 4 else None
    return (dy,) + tuple(a[:4]) + _spmm_t(a[0], a[1], a[3].shape[0], perm) + (perm,), {}


def _spmm_bwd_cases(rng, dt):
    from . import spmm
    out = []
    for i, (a, _) in enumerate(_spmm_cases(rng, dt)):
        args, _ = _spmm_bwd_call(a, {}, None, _a(rng, spmm(*a).shape, dt))
        out.append((args, dict(need_dx=i != 2, need_dvalues=i != 3)))
    return out


def _spmm_torch(torch, indptr, indices, values, x, perm=None):
    rows = torch.repeat_interleave(torch.arange(len(indptr) - 1), indptr[1:] - indptr[:-1])
    v = values if perm is None else values[perm]
    A = torch.zeros((len(indptr) - 1, x.shape[0]), dtype=x.dtype)
    return A.index_put((rows, indices), v, accumulate=True) @ x


def _coo_pairs(rng, dt):
    return [((r, c, R, C), {}) for R, C, r, c in _coo_cases(rng)]


def _unpool_torch(torch, x, idx, shape):
    # torch wants a kernel: stride 1 and kernel H-P+1 make its default output size H
    k = (shape[2] - x.shape[2] + 1, shape[3] - x.shape[3] + 1)
    return torch.nn.functional.max_unpool2d(x, idx, k, 1, output_size=shape[2:])


# every helper above, underscores included, for the registry's star import
__all__ = [n for n in dir() if n.startswith("_") and not n.startswith("__")]
