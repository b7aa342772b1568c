"""The CPU runtime's ISA switch (csrc/cpu.c): one level for every kernel family, switched
in-process with _kernels.set_isa, capped by the CPU and by CHAINRULE_ISA.

Every level this CPU runs must give the reference's results (float32 tolerance) for the
families with per-ISA code: gemm, conv, pool, rnn."""
import os
import subprocess
import sys

import numpy as np
import pytest

from chainrule import _kernels, ops, reference as ref

from helpers import assert_close

ORDER = ["generic", "avx2", "avx512"]
LEVELS = ORDER[:ORDER.index(_kernels.isa_detected()) + 1]  # what this CPU runs


@pytest.fixture(params=LEVELS)
def level(request):
    assert _kernels.set_isa(request.param) == request.param
    yield request.param
    _kernels.set_isa(None)


def _close(got, want, dtype, name):
    if isinstance(want, tuple):
        for i, (g, w) in enumerate(zip(got, want)):
            if w is not None:
                assert_close(g, w, dtype=dtype, name=f"{name}[{i}]")
    else:
        assert_close(got, want, dtype=dtype, name=name)


def test_every_family_follows_the_one_switch(level):
    assert _kernels.isa() == level
    assert _kernels.gemm_path() == level
    assert _kernels.rnn_path() == level


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_on_every_level_matches_reference(level, dtype, rng):
    for m, n, k in [(3, 5, 7), (61, 47, 53), (130, 97, 300)]:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((n, k)).astype(dtype)
        _close(ops.matmul(a, b, trans_b=True), ref.matmul(a, b, trans_b=True), dtype,
               f"matmul {m}x{n}x{k} [{level}]")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", [
    # x shape, w shape, stride, padding, dilation: LeNet-like, implicit (stride 1, K <= 128),
    # dx as a convolution (K > 32), pointwise, strided + dilated
    ((4, 1, 12, 12), (6, 1, 5, 5), 1, 2, 1),
    ((3, 16, 9, 9), (64, 16, 3, 3), 1, 1, 1),
    ((2, 8, 7, 7), (12, 8, 1, 1), 1, 0, 1),
    ((3, 5, 13, 10), (7, 5, 3, 2), 2, 1, 2),
])
def test_conv_on_every_level_matches_reference(level, dtype, case, rng):
    xs, ws, st, pd, dl = case
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    y = ops.conv2d_forward(x, w, b, st, pd, dl)
    _close(y, ref.conv2d_forward(x, w, b, st, pd, dl), dtype, f"conv2d_forward [{level}]")
    dy = rng.standard_normal(y.shape).astype(dtype)
    _close(ops.conv2d_backward(dy, x, w, st, pd, dl), ref.conv2d_backward(dy, x, w, st, pd, dl),
           dtype, f"conv2d_backward [{level}]")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (3, 2, 1), (3, 1, 0)])
def test_pool_on_every_level_matches_reference(level, dtype, kernel, stride, padding, rng):
    x = rng.standard_normal((2, 3, 11, 13)).astype(dtype)
    y, idx = ops.max_pool2d_forward(x, kernel, stride, padding)
    y_ref, idx_ref = ref.max_pool2d_forward(x, kernel, stride, padding)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)
    _close(ops.avg_pool2d_forward(x, kernel, stride, padding),
           ref.avg_pool2d_forward(x, kernel, stride, padding), dtype, f"avg_pool2d [{level}]")
    dy = rng.standard_normal(y.shape).astype(dtype)
    _close(ops.avg_pool2d_backward(dy, x.shape, kernel, stride, padding),
           ref.avg_pool2d_backward(dy, x.shape, kernel, stride, padding), dtype,
           f"avg_pool2d_backward [{level}]")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nl", ["tanh", "relu", "sigmoid"])
def test_rnn_on_every_level_matches_reference(level, dtype, nl, rng):
    T, N, I, H = 6, 11, 7, 37
    x = rng.standard_normal((T, N, I)).astype(dtype)
    h0 = rng.standard_normal((N, H)).astype(dtype)
    w_ih = (0.3 * rng.standard_normal((H, I))).astype(dtype)
    w_hh = (0.3 * rng.standard_normal((H, H))).astype(dtype)
    b_ih, b_hh = rng.standard_normal(H).astype(dtype), rng.standard_normal(H).astype(dtype)
    hs = ops.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, nl)
    _close(hs, ref.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, nl), dtype, f"rnn [{level}]")
    dhs = rng.standard_normal(hs.shape).astype(dtype)
    _close(ops.rnn_backward(dhs, x, h0, hs, w_ih, w_hh, nl),
           ref.rnn_backward(dhs, x, h0, hs, w_ih, w_hh, nl), dtype, f"rnn_backward [{level}]")


def test_set_isa_cannot_exceed_the_cpu_and_none_restores_the_default():
    best = _kernels.isa_detected()
    try:
        for name in ORDER:
            got = _kernels.set_isa(name)
            want = name if ORDER.index(name) <= ORDER.index(best) else best
            assert got == want == _kernels.isa()
        _kernels.set_isa("generic")
        assert _kernels.set_isa(None) == _kernels.isa() == best  # CHAINRULE_ISA unset here
        with pytest.raises(ValueError, match="set_isa: unknown ISA 'sse9'"):
            _kernels.set_isa("sse9")
        with pytest.raises(TypeError, match="set_isa"):
            _kernels.set_isa(2)
        assert _kernels.isa() == best  # a refused name changes nothing
    finally:
        _kernels.set_isa(None)


@pytest.mark.parametrize("env", ORDER + ["nonsense"])
def test_isa_reflects_the_environment_variable(env):
    code = "from chainrule import _kernels as k; print(k.isa(), k.isa_detected())"
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, CHAINRULE_ISA=env),
                         capture_output=True, text=True, check=True).stdout.split()
    best = _kernels.isa_detected()
    if env not in ORDER:  # unknown names are ignored
        want = best
    else:
        want = env if ORDER.index(env) <= ORDER.index(best) else best
    assert out == [want, best]
