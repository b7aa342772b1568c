"""check_op: the one correctness check every kernel in chainrule/ops/_registry.py gets.

    check_op(entry, dtype)  ops.<name> vs reference.<name> on the entry's cases
    check_grad(entry)       finite differences (float64) of a forward through its backward
    check_torch(entry)      ops vs PyTorch where the entry names an equivalent

Arguments are copied for each call (so in-place kernels and out= see fresh arrays); for
in-place kernels the updated arguments are what is compared.
"""
import copy

import numpy as np

from chainrule import ops, reference
from helpers import assert_close, assert_grad_close, numerical_grad, torch

__all__ = ["check_op", "check_grad", "check_torch"]

# rtol, atol for float32 results of long sums / recurrences (GEMM, conv, RNN over time)
LOOSE32 = {"matmul", "linear_forward", "linear_backward", "conv2d_forward",
           "conv2d_backward", "rnn_forward", "rnn_backward", "lstm_forward", "lstm_backward",
           "gru_forward", "gru_backward"}


def _call(fn, args, kwargs, inplace):
    args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    out = fn(*args, **kwargs)
    if inplace:
        assert out is None, f"{fn.__name__}: an in-place kernel returns None, got {type(out)}"
        return tuple(args[i] for i in inplace)
    return out


def _compare(got, want, dtype, name, what):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), f"{name}: {what} arity"
        for i, (g, w) in enumerate(zip(got, want)):
            _compare(g, w, dtype, name, f"{what}[{i}]")
        return
    if want is None or got is None:
        assert got is None and want is None, f"{name}: {what}: one side is None"
        return
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{name}: {what} dtype {got.dtype} != {want.dtype}"
    if got.dtype.kind != "f":
        np.testing.assert_array_equal(got, want, err_msg=f"{name}: {what}")
        return
    loose = np.dtype(dtype) == np.float32 and name in LOOSE32
    assert_close(got, want, dtype, rtol=1e-3 if loose else None, atol=1e-4 if loose else None,
                 name=f"{name}: {what}")


def check_op(entry, dtype, seed=0):
    """ops vs reference on every case of ``entry`` in ``dtype``; returns the case count."""
    fast, ref = getattr(ops, entry.name), getattr(reference, entry.name)
    cases = entry.cases(np.random.default_rng(seed), dtype)
    assert cases, f"{entry.name}: no test cases"
    for i, (args, kwargs) in enumerate(cases):
        got = _call(fast, args, kwargs, entry.inplace)
        want = _call(ref, args, kwargs, entry.inplace)
        _compare(got, want, dtype, entry.name, f"case {i}")
        if not entry.inplace:
            for out in _arrays(got):
                assert out.dtype.kind != "f" or out.dtype == np.dtype(dtype), \
                    f"{entry.name}: case {i} returned {out.dtype} for {np.dtype(dtype)} inputs"
    return len(cases)


def _arrays(x):
    if isinstance(x, tuple):
        return [a for v in x for a in _arrays(v)]
    return [x] if isinstance(x, np.ndarray) else []


def check_grad(entry, seed=0, max_size=400, tol=1e-6):
    """The entry's backward against central differences of its forward (float64), on
    every case whose differentiated inputs hold at most max_size values in total."""
    g = entry.grad
    fwd, bwd = getattr(ops, entry.name), getattr(ops, g.backward)
    rng = np.random.default_rng(seed)
    checked = 0
    for i, (args, kwargs) in enumerate(entry.cases(rng, np.float64)):
        if sum(np.size(args[j]) for j in g.wrt if args[j] is not None) > max_size:
            continue
        y = fwd(*args, **kwargs)
        dy = rng.standard_normal(np.shape(g.output(y)))
        bargs, bkw = g.call(args, kwargs, y, dy)
        grads = g.grads(bwd(*bargs, **bkw))
        for j, analytic in zip(g.wrt, grads):
            if args[j] is None:
                continue
            x = np.array(args[j], dtype=np.float64)

            def f(xj, j=j):
                a = list(args)
                a[j] = xj
                return g.output(fwd(*a, **kwargs))
            assert_grad_close(analytic, numerical_grad(f, x, dy), tol=tol,
                              name=f"{entry.name} -> {g.backward}: case {i}, argument {j}")
        checked += 1
    assert checked, f"{entry.name}: no case small enough for finite differences"
    return checked


def check_torch(entry, dtype, seed=0):
    """ops vs the entry's PyTorch equivalent (forward, and the backward through torch's
    autograd for a forward with a backward)."""
    fast = getattr(ops, entry.name)
    g = entry.grad
    rng = np.random.default_rng(seed)
    for i, (args, kwargs) in enumerate(entry.cases(rng, dtype)):
        targs = [torch.tensor(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a
                 for a in args]
        wrt = [j for j in (g.wrt if g else ()) if isinstance(args[j], np.ndarray)]
        for j in wrt:
            targs[j].requires_grad_(True)
        want = entry.torch(torch, *targs, **kwargs)
        got = fast(*args, **kwargs)
        tw = want if isinstance(want, tuple) else (want,)
        _compare(tuple(got) if isinstance(got, tuple) else (got,),
                 tuple(t.detach().numpy() for t in tw), dtype, entry.name, f"torch case {i}")
        if g is None:
            continue
        dy = rng.standard_normal(np.shape(g.output(got))).astype(dtype)
        out = g.output(want)
        out.backward(torch.tensor(dy))
        bargs, bkw = g.call(args, kwargs, got, dy)
        grads = g.grads(getattr(ops, g.backward)(*bargs, **bkw))
        for j, analytic in zip(g.wrt, grads):
            if j in wrt:
                _compare(analytic, targs[j].grad.numpy(), dtype, g.backward,
                         f"torch case {i}, argument {j}")
