"""chainrule.optim: fused SGD / Adam / AdamW vs NumPy formulas and torch.optim.

The kernels are checked three ways: against PyTorch's algorithms written out in NumPy
(float64, several steps, every option), against torch.optim itself when installed, and
for exact resumability through state_dict / load_state_dict.
"""
import copy

import numpy as np
import pytest

import chainrule as cr
from chainrule import _kernels, optim
from helpers import HAVE_TORCH, assert_close


class Param:
    """The smallest thing an optimizer accepts: an ndarray .array (a Tensor's values) and a
    .grad."""

    def __init__(self, data):
        self.array = data
        self.grad = None

    data = property(lambda self: self.array, lambda self, v: setattr(self, "array", v))


# the last size runs the OpenMP path (threads split the buffer into chunks)
SIZES = [(1,), (7,), (3, 5), (2, 3, 11), (_kernels.OPTIM_PARALLEL_MIN + 13,)]


def make_params(rng, dtype, sizes=SIZES):
    return [Param(rng.standard_normal(s).astype(dtype)) for s in sizes]


def grads_for(rng, params, steps):
    """Per step, per param: a gradient array or None (param 1 skips step 1)."""
    out = []
    for t in range(steps):
        gs = [rng.standard_normal(p.data.shape).astype(p.data.dtype) for p in params]
        if t == 1 and len(gs) > 1:
            gs[1] = None
        out.append(gs)
    return out


# ---- PyTorch's algorithms, written out in NumPy (float64) ------------------------------
def ref_sgd(ps, grads, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    ps = [p.astype(np.float64) for p in ps]
    bufs = [None] * len(ps)
    for gs in grads:
        for i, g in enumerate(gs):
            if g is None:
                continue
            g = g.astype(np.float64) + weight_decay * ps[i]
            if momentum != 0:
                if bufs[i] is None:
                    bufs[i] = g.copy()
                else:
                    bufs[i] = momentum * bufs[i] + (1 - dampening) * g
                g = g + momentum * bufs[i] if nesterov else bufs[i]
            ps[i] = ps[i] - lr * g
    return ps


def ref_adam(ps, grads, lr, betas, eps, weight_decay, decoupled):
    b1, b2 = betas
    ps = [p.astype(np.float64) for p in ps]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    t = [0] * len(ps)
    for gs in grads:
        for i, g in enumerate(gs):
            if g is None:
                continue
            t[i] += 1
            g = g.astype(np.float64)
            if decoupled:
                ps[i] = ps[i] * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * ps[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            mhat = m[i] / (1 - b1 ** t[i])
            vhat = v[i] / (1 - b2 ** t[i])
            ps[i] = ps[i] - lr * mhat / (np.sqrt(vhat) + eps)
    return ps


def run(opt_factory, params, grads):
    opt = opt_factory(params)
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = g
        opt.step()
    return opt


SGD_CONFIGS = [
    dict(lr=0.1),
    dict(lr=0.05, weight_decay=0.01),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.1, momentum=0.8, dampening=0.3, weight_decay=0.02),
    dict(lr=0.07, momentum=0.9, nesterov=True),
    dict(lr=0.07, momentum=0.5, nesterov=True, weight_decay=0.1),
]
ADAM_CONFIGS = [
    dict(lr=1e-3),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
    dict(lr=0.1, betas=(0.0, 0.5), eps=1e-3),
]


def tol(dtype):
    # float32 runs its arithmetic in float32; float64 must match the float64 formula closely
    return dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", SGD_CONFIGS, ids=str)
def test_sgd_matches_numpy_formula(rng, dtype, cfg):
    params = make_params(rng, dtype)
    init = [p.array.copy() for p in params]
    grads = grads_for(rng, params, 5)
    run(lambda ps: optim.SGD(ps, **cfg), params, grads)
    expected = ref_sgd(init, grads, **cfg)
    for i, (p, e) in enumerate(zip(params, expected)):
        assert p.data.dtype == dtype
        assert_close(p.data, e, dtype=dtype, name=f"param {i}", **tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
@pytest.mark.parametrize("cfg", ADAM_CONFIGS, ids=str)
def test_adam_matches_numpy_formula(rng, dtype, cls, cfg):
    params = make_params(rng, dtype)
    init = [p.array.copy() for p in params]
    grads = grads_for(rng, params, 6)
    Opt = getattr(optim, cls)
    run(lambda ps: Opt(ps, **cfg), params, grads)
    full = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                weight_decay=0.0 if cls == "Adam" else 1e-2)
    full.update(cfg)
    expected = ref_adam(init, grads, decoupled=(cls == "AdamW"), **full)
    for i, (p, e) in enumerate(zip(params, expected)):
        assert_close(p.data, e, dtype=dtype, name=f"param {i}", **tol(dtype))


def test_adamw_default_weight_decay_is_nonzero(rng):
    # the same gradients through Adam and AdamW differ only by the decoupled decay
    p1, p2 = Param(np.ones(4)), Param(np.ones(4))
    a, w = optim.Adam([p1]), optim.AdamW([p2])
    assert w.param_groups[0]["weight_decay"] == 1e-2 and a.param_groups[0]["weight_decay"] == 0
    p1.grad = p2.grad = np.full(4, 0.5)
    a.step()
    w.step()
    assert_close(p2.data, p1.data - 1e-3 * 1e-2 * 1.0, rtol=1e-14, atol=1e-15)


def test_momentum_buffer_starts_at_grad_with_dampening():
    # PyTorch: buf = grad on the first step (no (1 - dampening) factor)
    p = Param(np.zeros(3))
    opt = optim.SGD([p], lr=1.0, momentum=0.9, dampening=0.5)
    p.grad = np.array([1.0, 2.0, 3.0])
    opt.step()
    assert_close(p.data, [-1.0, -2.0, -3.0], rtol=0, atol=0)
    opt.step()  # buf = 0.9*g + 0.5*g = 1.4*g
    assert_close(p.data, [-2.4, -4.8, -7.2], rtol=1e-15, atol=0)


# ---- torch.optim as an oracle -----------------------------------------------------------
@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,cfg", [("SGD", c) for c in SGD_CONFIGS]
                         + [("Adam", c) for c in ADAM_CONFIGS]
                         + [("AdamW", c) for c in ADAM_CONFIGS], ids=str)
def test_matches_torch_optim(rng, dtype, name, cfg):
    import torch
    params = make_params(rng, dtype)
    grads = grads_for(rng, params, 6)
    tparams = [torch.tensor(p.array.copy(), requires_grad=True) for p in params]
    run(lambda ps: getattr(optim, name)(ps, **cfg), params, grads)
    topt = getattr(torch.optim, name)(tparams, **cfg)
    for gs in grads:
        for tp, g in zip(tparams, gs):
            tp.grad = None if g is None else torch.from_numpy(g.copy())
        topt.step()
    for i, (p, tp) in enumerate(zip(params, tparams)):
        assert_close(p.data, tp.detach().numpy(), dtype=dtype, name=f"{name} param {i}",
                     **tol(dtype))


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("name,cfg", [("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1)),
                                      ("Adam", dict(lr=0.01, weight_decay=0.1)),
                                      ("AdamW", dict(lr=0.01))], ids=str)
def test_continues_from_a_torch_state_dict(rng, name, cfg):
    """torch.optim runs 3 steps; chainrule loads its state_dict and runs 3 more: the same
    parameters as torch running all 6."""
    import torch
    params = make_params(rng, np.float64, [(4, 3), (5,)])
    grads = grads_for(rng, params, 6)
    tparams = [torch.tensor(p.array.copy(), requires_grad=True) for p in params]
    topt = getattr(torch.optim, name)(tparams, **cfg)
    for t, gs in enumerate(grads):
        for tp, g in zip(tparams, gs):
            tp.grad = None if g is None else torch.from_numpy(g.copy())
        topt.step()
        if t == 2:  # torch's state_dict holds live tensors: copy them
            mid_state = copy.deepcopy(topt.state_dict())
            mid_params = [tp.detach().numpy().copy() for tp in tparams]
    ours = [Param(m) for m in mid_params]
    opt = getattr(optim, name)(ours, lr=123.0)
    opt.load_state_dict(mid_state)
    assert opt.param_groups[0]["lr"] == cfg["lr"]
    for gs in grads[3:]:
        for p, g in zip(ours, gs):
            p.grad = g
        opt.step()
    for i, (p, tp) in enumerate(zip(ours, tparams)):
        assert_close(p.data, tp.detach().numpy(), name=f"param {i}", rtol=1e-13, atol=1e-14)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
def test_torch_state_dict_with_unsupported_options_is_refused():
    import torch
    tp = torch.zeros(3, requires_grad=True)
    p = Param(np.zeros(3))
    # maximize and amsgrad are supported now (tests/test_optim_torch.py); these are not
    with pytest.raises(ValueError, match="differentiable=True"):
        optim.SGD([p], lr=0.1).load_state_dict(
            torch.optim.SGD([tp], lr=0.1, differentiable=True).state_dict())
    with pytest.raises(ValueError, match="capturable=True"):
        optim.Adam([p]).load_state_dict(torch.optim.Adam([tp], capturable=True).state_dict())
    with pytest.raises(ValueError, match="use AdamW"):
        optim.Adam([p]).load_state_dict(torch.optim.AdamW([tp]).state_dict())


# ---- threads, determinism, resumability ---------------------------------------------------
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_same_result_for_any_thread_count(rng, name):
    kw = dict(lr=0.01, momentum=0.9) if name == "SGD" else dict(lr=0.01)
    data = rng.standard_normal(_kernels.OPTIM_PARALLEL_MIN + 1001).astype(np.float32)
    grads = [[rng.standard_normal(data.shape).astype(np.float32)] for _ in range(3)]
    results = []
    for threads in (1, 2, 3):
        cr.set_num_threads(threads)
        p = Param(data.copy())
        run(lambda ps: getattr(optim, name)(ps, **kw), [p], grads)
        results.append(p.data)
    assert np.array_equal(results[0], results[1]) and np.array_equal(results[0], results[2])


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                     ("Adam", dict(lr=0.01, weight_decay=0.1)),
                                     ("AdamW", dict(lr=0.01))])
def test_state_dict_round_trip_resumes_bitwise(rng, name, kw):
    Opt = getattr(optim, name)
    params = make_params(rng, np.float32, [(5, 3), (3,), (2, 2)])
    init = [p.array.copy() for p in params]
    grads = grads_for(rng, params, 6)
    straight = run(lambda ps: Opt(ps, **kw), params, grads)
    want = [p.array.copy() for p in params]

    resumed = [Param(d.copy()) for d in init]
    first = run(lambda ps: Opt(ps, **kw), resumed, grads[:3])
    sd = first.state_dict()
    snapshot = [p.array.copy() for p in resumed]
    for p in resumed:  # keep stepping: the saved state must be a copy, not the live state
        p.grad = np.ones_like(p.data)
    first.step()
    for p, s in zip(resumed, snapshot):  # rewind the parameters to the saved point
        p.data = s
    fresh = Opt(resumed, lr=123.0)  # hyper-parameters come back from the state dict
    fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["lr"] == kw["lr"]
    for gs in grads[3:]:
        for p, g in zip(resumed, gs):
            p.grad = g
        fresh.step()
    for i, (p, w) in enumerate(zip(resumed, want)):
        assert np.array_equal(p.data, w), f"param {i} differs after resume"
    assert straight.state_dict()["param_groups"] == fresh.state_dict()["param_groups"]


def test_state_dict_layout_and_dtype_cast(rng):
    p64 = Param(rng.standard_normal((2, 3)))
    opt = optim.SGD([p64], lr=0.1, momentum=0.9)
    p64.grad = np.ones((2, 3))
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sd["param_groups"][0]["params"] == [0]
    assert sd["state"][0]["momentum_buffer"].dtype == np.float64
    p32 = Param(p64.array.astype(np.float32))
    opt32 = optim.SGD([p32], lr=0.1, momentum=0.9)
    opt32.load_state_dict(sd)
    assert opt32.state_dict()["state"][0]["momentum_buffer"].dtype == np.float32


def test_load_state_dict_rejects_other_layouts(rng):
    a = optim.SGD([Param(np.zeros(3)), Param(np.zeros(2))], lr=0.1, momentum=0.9)
    b = optim.SGD([Param(np.zeros(3))], lr=0.1)
    with pytest.raises(ValueError, match="group 0 has 2 parameters"):
        b.load_state_dict(a.state_dict())
    for p in a.param_groups[0]["params"]:
        p.grad = np.ones_like(p.data)
    a.step()
    c = optim.SGD([Param(np.zeros(4)), Param(np.zeros(2))], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="shape"):
        c.load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        c.load_state_dict({"state": {}})


# ---- param groups, zero_grad, skipping ----------------------------------------------------
def test_param_groups_and_lr_changes():
    p, q = Param(np.zeros(2)), Param(np.zeros(2))
    opt = optim.SGD([{"params": [p]}, {"params": [q], "lr": 1.0}], lr=0.1)
    p.grad = q.grad = np.ones(2)
    opt.step()
    assert_close(p.data, [-0.1, -0.1], rtol=0, atol=0)
    assert_close(q.data, [-1.0, -1.0], rtol=0, atol=0)
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    assert_close(p.data, [-0.6, -0.6], rtol=1e-15, atol=0)


def test_zero_grad_and_none_grads_are_skipped():
    p, q = Param(np.ones(3, np.float32)), Param(np.ones(3, np.float32))
    opt = optim.Adam([p, q], lr=0.1)
    p.grad = np.ones(3, np.float32)
    opt.step()
    assert np.all(p.data < 1) and np.array_equal(q.data, np.ones(3, np.float32))
    assert 0 in opt.state_dict()["state"] and 1 not in opt.state_dict()["state"]
    assert list(opt.state) == [p] and opt.state[p]["step"] == 1.0
    assert opt.state[p]["exp_avg"].shape == (3,)
    opt.zero_grad()
    assert p.grad is None and q.grad is None
    p.grad = np.ones(3, np.float32)
    opt.zero_grad(set_to_none=False)
    assert np.array_equal(p.grad, np.zeros(3, np.float32)) and q.grad is None


def test_non_contiguous_param_and_grad_are_updated_in_place(rng):
    base = rng.standard_normal((4, 6))
    view = base.T  # a non-contiguous parameter: updated through a copy, written back
    p = Param(view)
    g = rng.standard_normal((6, 4))
    p.grad = np.asfortranarray(g)
    opt = optim.SGD([p], lr=0.5)
    expected = view - 0.5 * g
    opt.step()
    assert p.data is view
    assert_close(base.T, expected, rtol=1e-15, atol=1e-15)


# ---- bad arguments --------------------------------------------------------------------------
BAD_VALUES = [
    ("SGD", dict(lr=-0.1)),
    ("SGD", dict(lr=0.1, momentum=-0.5)),
    ("SGD", dict(lr=0.1, weight_decay=-1)),
    ("SGD", dict(lr=0.1, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adam", dict(lr=-1e-3)),
    ("Adam", dict(eps=-1e-8)),
    ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, -0.1))),
    ("Adam", dict(weight_decay=-0.1)),
    ("AdamW", dict(betas=(0.9, 1.5))),
    ("AdamW", dict(lr=-1.0)),
]


@pytest.mark.parametrize("name,kw", BAD_VALUES, ids=str)
def test_bad_hyper_parameters_raise_value_error(name, kw):
    with pytest.raises(ValueError):
        getattr(optim, name)([Param(np.zeros(2, np.float32))], **kw)
    if HAVE_TORCH:  # the oracle agrees that these are ValueErrors
        import torch
        with pytest.raises(ValueError):
            getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw)


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD([], lr=0.1),
    lambda ps: optim.SGD(ps + ps, lr=0.1),
    lambda ps: optim.SGD([{"params": ps}, {"params": ps}], lr=0.1),
    lambda ps: optim.SGD(ps, lr=float("nan")),
    lambda ps: optim.SGD([{"lr": 0.1}], lr=0.1),
])
def test_bad_parameter_lists_raise_value_error(make):
    with pytest.raises(ValueError):
        make([Param(np.zeros(2, np.float32))])


@pytest.mark.parametrize("make", [
    lambda: optim.SGD(Param(np.zeros(2)), lr=0.1),          # a single tensor, not a list
    lambda: optim.SGD([np.zeros(2)], lr=0.1),               # a bare array has no grad
    lambda: optim.SGD([Param(np.zeros(2, np.int64))], lr=0.1),
    lambda: optim.SGD([Param(np.zeros(2))], lr="0.1"),
    lambda: optim.SGD([Param(np.zeros(2))], lr=0.1, nesterov=1),
    lambda: optim.Adam([Param(np.zeros(2))], betas=0.9),
    lambda: optim.SGD([{"params": [Param(np.zeros(2))], "betas": (0.9, 0.9)}], lr=0.1),
])
def test_bad_types_raise_type_error(make):
    with pytest.raises(TypeError):
        make()


def test_bad_grads_raise_clear_errors():
    p = Param(np.zeros((2, 3), np.float32))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match=r"parameter 0 has shape \(2, 3\) but its grad has shape"):
        opt.step()
    p.grad = np.zeros((2, 3), np.float64)
    with pytest.raises(TypeError, match="float32 but its grad has dtype float64"):
        opt.step()
    p.grad = np.zeros((2, 3), np.int32)
    with pytest.raises(TypeError, match="int32"):
        opt.step()
    assert np.array_equal(p.data, np.zeros((2, 3), np.float32))


# ---- the kernels keep C in bounds whatever Python passes ------------------------------------
def test_kernels_reject_bad_buffers():
    f = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="'grad' has 3 elements"):
        _kernels.sgd_step(f, None, np.zeros(3, np.float32), 0.1, 0.0, 0.0, 0.0, False, False)
    with pytest.raises(ValueError, match="momentum_buf"):
        _kernels.sgd_step(f, None, np.zeros(4, np.float32), 0.1, 0.9, 0.0, 0.0, False, False)
    with pytest.raises(ValueError, match="'momentum_buf' has 5"):
        _kernels.sgd_step(f, np.zeros(5, np.float32), np.zeros(4, np.float32), 0.1, 0.9, 0.0,
                          0.0, False, False)
    with pytest.raises(TypeError, match="different float dtypes"):
        _kernels.sgd_step(f, None, np.zeros(4), 0.1, 0.0, 0.0, 0.0, False, False)
    with pytest.raises(TypeError, match="float32 or float64"):
        _kernels.sgd_step(np.zeros(4, np.int32), None, np.zeros(4, np.int32), 0.1, 0.0, 0.0, 0.0,
                          False, False)
    with pytest.raises(ValueError, match="C-contiguous"):
        _kernels.sgd_step(np.zeros(8, np.float32)[::2], None, f, 0.1, 0.0, 0.0, 0.0, False, False)
    ro = np.zeros(4, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        _kernels.sgd_step(ro, None, f, 0.1, 0.0, 0.0, 0.0, False, False)
    with pytest.raises(ValueError, match="share memory"):
        _kernels.sgd_step(f, None, f, 0.1, 0.0, 0.0, 0.0, False, False)
    big = np.zeros(8, np.float32)
    with pytest.raises(ValueError, match="share memory"):
        _kernels.adam_step(big[:4], big[3:7], np.zeros(4, np.float32), np.zeros(4, np.float32),
                           0.1, 0.9, 0.99, 1e-8, 0.0, False, 1)
    with pytest.raises(ValueError, match="element counts differ"):
        _kernels.adam_step(f, np.zeros(4, np.float32), np.zeros(2, np.float32),
                           np.zeros(4, np.float32), 0.1, 0.9, 0.99, 1e-8, 0.0, False, 1)
    with pytest.raises(ValueError, match="step must be >= 1"):
        _kernels.adam_step(f, np.zeros(4, np.float32), np.zeros(4, np.float32),
                           np.zeros(4, np.float32), 0.1, 0.9, 0.99, 1e-8, 0.0, False, 0)
    # empty buffers are a no-op, not undefined behaviour
    e = np.zeros(0, np.float64)
    _kernels.sgd_step(e, np.zeros(0), np.zeros(0), 0.1, 0.9, 0.0, 0.0, False, True)
    _kernels.adam_step(e, np.zeros(0), np.zeros(0), np.zeros(0), 0.1, 0.9, 0.99, 1e-8, 0.0,
                       True, 1)


# ---- the worked example: one SGD step through a real network --------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_worked_example_one_sgd_step(dtype):
    """x = (0, 2); Linear(2, 3) W1 [[-5,-5],[2,2],[2,-1]] b1 (-3,-2,-3); ReLU; Linear(3, 3)
    W2 [[3,-2,-4],[-4,-4,-2],[1,-2,3]] b2 (4,5,5); class 0, label smoothing 0.3.
    h = (0, 2, 0), logits (0, -3, 1), dL/db2 = softmax - q = (-0.534612, -0.086787, 0.621399);
    SGD lr 0.1: b2 <- b2 - 0.1 dL/db2 = (4.053461, 5.008679, 4.937860), W2 changes only
    in column 1 (the active hidden unit), b1 only in entry 1."""
    from chainrule import nn
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3)).to(dtype)
    model.load_state_dict({"0.weight": [[-5, -5], [2, 2], [2, -1]], "0.bias": [-3, -2, -3],
                           "2.weight": [[3, -2, -4], [-4, -4, -2], [1, -2, 3]],
                           "2.bias": [4, 5, 5]})
    before = {k: np.array(v) for k, v in model.state_dict().items()}  # copies: state_dict values share memory
    opt = optim.SGD(model.parameters(), lr=0.1)
    opt.zero_grad()
    loss = nn.CrossEntropyLoss(label_smoothing=0.3)(model(np.array([[0, 2]], dtype)),
                                                    np.array([0]))
    assert loss.item() == pytest.approx(1.526563, abs=1e-6)
    loss.backward()
    opt.step()
    after = {k: np.asarray(v) for k, v in model.state_dict().items()}
    assert_close(after["2.bias"], np.array([4.053461, 5.008679, 4.937860]), dtype=dtype,
                 rtol=0, atol=1e-6, name="second bias")
    dW2 = np.outer([-0.534612, -0.086787, 0.621399], [0, 2, 0])
    assert_close(after["2.weight"], before["2.weight"] - 0.1 * dW2, rtol=0, atol=1e-6)
    db1_1 = -2 * -0.534612 - 4 * -0.086787 - 2 * 0.621399
    assert_close(after["0.bias"], before["0.bias"] - 0.1 * np.array([0, db1_1, 0]), rtol=0,
                 atol=1e-6)
    assert_close(after["0.weight"], before["0.weight"]
                 - 0.1 * np.outer([0, db1_1, 0], [0, 2]), rtol=0, atol=1e-6)
    if HAVE_TORCH:  # the same step in PyTorch lands on the same parameters
        import torch
        tm = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 3))
        tm = tm.to(getattr(torch, np.dtype(dtype).name))
        tm.load_state_dict({k: torch.tensor(v) for k, v in before.items()})
        topt = torch.optim.SGD(tm.parameters(), lr=0.1)
        torch.nn.functional.cross_entropy(tm(torch.tensor([[0, 2]], dtype=tm[0].weight.dtype)),
                                          torch.tensor([0]), label_smoothing=0.3).backward()
        topt.step()
        for k, v in tm.state_dict().items():
            assert_close(after[k], v.numpy(), dtype=dtype, name=k)


def test_adadelta_step_overflowing_square_avg_matches_reference():
    """float32 grad 1e20: square_avg overflows to inf in storage; the kernel and the reference
    both go on from the stored inf (d = 0), as PyTorch does (found by the fuzz suite)."""
    from chainrule import ops, reference as ref
    outs = []
    for m in (ops, ref):
        p, g = np.array([1.0], np.float32), np.array([1e20], np.float32)
        s, a = np.array([2.0], np.float32), np.array([2.0], np.float32)
        m.adadelta_step(p, g, s, a, lr=0.1, rho=0.9, eps=1e-6)
        outs.append((p, s, a))
    for x, y in zip(*outs):
        np.testing.assert_allclose(x, y, rtol=1e-6)
    assert np.isinf(outs[0][1][0]) and outs[0][0][0] == 1.0


@pytest.mark.parametrize("kind", ["rmsprop", "rmsprop_momentum", "adagrad"])
def test_float32_overflowing_squares_match_reference(kind):
    """A float32 parameter of 1e30 with weight decay makes g = wd * p whose square overflows
    float32: the kernels (as PyTorch) store inf and go on from it (centered: inf - inf = NaN);
    the float64 references round their state to the buffer's dtype the same way. (Centered
    RMSprop's sq - ga*ga is left out: inf - inf is NaN or inf depending on FMA contraction.)"""
    from chainrule import ops, reference as ref
    for p0, wd in ((1e30, 2.0), (-3e29, 0.1), (2e19, 0.9)):
        outs = []
        for m in (ops, ref):
            p, g = np.array([p0, 1.0], np.float32), np.array([1e15, 3.0], np.float32)
            s = np.array([2.0, 2.0], np.float32)
            state = [p, s]
            with np.errstate(over="ignore", invalid="ignore"):
                if kind == "adagrad":
                    m.adagrad_step(p, g, s, step=1, lr=0.1, weight_decay=wd)
                else:
                    buf = np.array([0.1, 0.1], np.float32) if kind == "rmsprop_momentum" else None
                    m.rmsprop_step(p, g, s, None, buf, lr=0.1, alpha=0.99, eps=1e-8,
                                   weight_decay=wd, momentum=0.9 if buf is not None else 0.0)
                    state += [buf] if buf is not None else []
            outs.append(state)
        for a, e in zip(*outs):
            np.testing.assert_allclose(a, e, rtol=1e-5, equal_nan=True)
