"""Convolution algorithm selection: the CHAINRULE_CONV_ALGO override (and
chainrule._runtime.set_conv_algo), ops.conv2d_plan reporting the path of the forward, dx
and dw, and every algorithm agreeing with the reference on a set of layer shapes."""
import os
import subprocess
import sys

import numpy as np
import pytest

from chainrule import _runtime, ops, reference as ref
from helpers import assert_conv_matches_reference

ALGOS = ["auto", "im2col", "implicit", "winograd"]
IMPLICIT = {"implicit", "implicit_dw", "implicit_conv"}

# (x shape, w shape, stride, padding, dilation, groups): stride-1 3x3 with few and with
# more than 128 output channels, 5x5, non-square kernel, pointwise, strided 1x1 and 3x3,
# dilation, "same", grouped, batch 1 and odd sizes, many input channels and few outputs (dx
# as a convolution), a strided layer with 72 outputs (dw by the packed GEMM)
SHAPES = [((2, 3, 9, 7), (5, 3, 3, 3), 1, 1, 1, 1),
          ((1, 8, 6, 5), (131, 8, 3, 3), 1, 1, 1, 1),
          ((2, 7, 11, 9), (6, 7, 5, 5), 1, 2, 1, 1),
          ((2, 3, 13, 8), (4, 3, 5, 2), 1, (2, 0), 1, 1),
          ((2, 6, 5, 7), (9, 6, 1, 1), 1, 0, 1, 1),
          ((3, 4, 9, 9), (5, 4, 1, 1), 2, 0, 1, 1),
          ((2, 5, 10, 11), (3, 5, 3, 3), 2, 1, 1, 1),
          ((1, 3, 12, 10), (4, 3, 3, 3), 1, 2, 2, 1),
          ((2, 4, 8, 7), (4, 4, 4, 2), 1, "same", 1, 1),
          ((2, 6, 7, 8), (4, 3, 3, 3), 1, 1, 1, 2),
          ((2, 136, 6, 5), (24, 136, 5, 5), 1, 2, 1, 1),
          ((2, 20, 9, 8), (72, 20, 3, 3), 2, 1, 1, 1)]


@pytest.fixture(params=ALGOS)
def algo(request):
    _runtime.set_conv_algo(request.param)
    assert _runtime.conv_algo() == request.param
    yield request.param
    _runtime.set_conv_algo(None)


def _data(rng, xs, ws, dtype):
    x = rng.standard_normal(xs).astype(dtype)
    w = (0.5 * rng.standard_normal(ws)).astype(dtype)
    return x, w, rng.standard_normal(ws[0]).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(SHAPES)))
def test_every_algorithm_matches_the_reference(algo, dtype, case, rng):
    xs, ws, s, p, d, g = SHAPES[case]
    x, w, b = _data(rng, xs, ws, dtype)
    assert_conv_matches_reference(rng, x, w, b, s, p, d, g)
    plan = ops.conv2d_plan(xs, ws, s, p, d, g, dtype)
    assert plan["algo"] == algo and plan["groups"] == g
    # grouped layers: grouped_im2col / grouped_implicit are the im2col / implicit paths run
    # over images x groups (csrc/conv_grouped.c)
    algs = {plan[k]["algorithm"].removeprefix("grouped_") for k in ("forward", "dx", "dw")}
    if algo == "im2col" or dtype == np.float64:
        assert algs <= {"im2col", "pointwise"}, plan
    winograd = dtype == np.float32 and ws[2:] == (3, 3) and s == 1 and d == 1
    assert (plan["forward"]["algorithm"] == "winograd") == (algo == "winograd" and winograd), plan


def test_forced_algorithms_take_their_paths():
    """implicit is taken wherever its kernels run (float32, AVX-512, stride 1, not 1x1), also
    beyond auto's size limits (> 128 output channels); im2col never takes it."""
    big_k = ((1, 8, 6, 5), (131, 8, 3, 3), 1, 1, 1)
    small = ((2, 3, 9, 7), (5, 3, 3, 3), 1, 1, 1)
    strided = ((2, 5, 10, 11), (3, 5, 3, 3), 2, 1, 1)
    try:
        _runtime.set_conv_algo("im2col")
        for sh in (big_k, small, strided):
            p = ops.conv2d_plan(*sh)
            assert {p[k]["algorithm"] for k in ("forward", "dx", "dw")} == {"im2col"}, p
            assert p["forward"]["blocking"]["blocks"] >= 1
        _runtime.set_conv_algo("implicit")
        for sh in (big_k, small):
            p = ops.conv2d_plan(*sh)
            assert p["forward"]["algorithm"] == ("implicit" if _runtime.isa() == "avx512"
                                                 else "im2col"), p
            assert p["forward"]["blocking"] is None or p["forward"]["algorithm"] == "im2col"
        assert ops.conv2d_plan(*strided)["forward"]["algorithm"] == "im2col"
        _runtime.set_conv_algo("auto")
        assert ops.conv2d_plan(*big_k)["forward"]["algorithm"] == "im2col"  # K > 128
        if _runtime.isa() == "avx512":  # dx as a convolution with C = 136 > 128 outputs
            p = ops.conv2d_plan((2, 136, 6, 5), (15, 136, 5, 5), 1, 2)
            assert (p["dx"]["algorithm"], p["dw"]["algorithm"]) == ("implicit_conv", "implicit_dw")
    finally:
        _runtime.set_conv_algo(None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(SHAPES)))
def test_the_plan_reports_what_runs(dtype, case, rng):
    """The default's results are bitwise those of the algorithm its plan names (forced), and
    the plan's workspace is what conv2d_workspace_bytes reports."""
    xs, ws, s, p, d, g = SHAPES[case]
    x, w, b = _data(rng, xs, ws, dtype)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, s, p, d, g).shape).astype(dtype)
    plan = ops.conv2d_plan(xs, ws, s, p, d, g, dtype)
    y = ops.conv2d_forward(x, w, b, s, p, d, g)
    dx, dw, _ = ops.conv2d_backward(dy, x, w, s, p, d, g)
    try:
        for key, out in (("forward", y), ("dx", dx), ("dw", dw)):
            _runtime.set_conv_algo("implicit" if plan[key]["algorithm"] in IMPLICIT else "im2col")
            forced = ops.conv2d_plan(xs, ws, s, p, d, g, dtype)
            if forced[key]["algorithm"] != plan[key]["algorithm"]:
                continue  # implicit forced also changes the other phase's choice
            y2 = ops.conv2d_forward(x, w, b, s, p, d, g)
            dx2, dw2, _ = ops.conv2d_backward(dy, x, w, s, p, d, g)
            np.testing.assert_array_equal(out, {"forward": y2, "dx": dx2, "dw": dw2}[key])
    finally:
        _runtime.set_conv_algo(None)
    if g == 1 and not isinstance(p, str):
        assert plan["forward"]["workspace_bytes"] == ops.conv2d_workspace_bytes(
            xs, ws, s, p, d, dtype)
        assert plan["dw"]["workspace_bytes"] == ops.conv2d_workspace_bytes(
            xs, ws, s, p, d, dtype, backward=True)


# stride-1 3x3 layers: odd sizes, padding 0-2, a P or Q of 1 and odd (half tiles), many channels
WINOGRAD = [((2, 3, 9, 7), (5, 3, 3, 3), 1), ((1, 8, 6, 5), (131, 8, 3, 3), 0),
            ((2, 64, 14, 14), (64, 64, 3, 3), 1), ((1, 4, 5, 5), (3, 4, 3, 3), 2),
            ((2, 256, 7, 7), (32, 256, 3, 3), 1), ((3, 2, 3, 8), (4, 2, 3, 3), 0)]


@pytest.mark.parametrize("xs,ws,pad", WINOGRAD)
def test_winograd_error_is_bounded(xs, ws, pad, rng):
    """Winograd F(2x2, 3x3) in float32 against the float64 definition: every output within
    8 eps32 of the sum of |terms| (conv(|x|, |w|) + |b|; measured: <= 1.4, as the direct
    sum), also with a small workspace limit that cuts images into blocks of tile rows, and
    the same bits on 1 and 2 threads."""
    import chainrule as cr
    x, w, b = _data(rng, xs, ws, np.float32)
    want = ref.conv2d_forward(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                              1, pad)
    terms = ref.conv2d_forward(np.abs(x).astype(np.float64), np.abs(w).astype(np.float64),
                               np.abs(b).astype(np.float64), 1, pad)
    limit = ops.get_workspace_limit()
    outs = []
    try:
        _runtime.set_conv_algo("winograd")
        for threads, lim in [(2, limit), (1, limit), (2, 4 * 16 * ws[0] * xs[1] + 1)]:
            cr.set_num_threads(threads)
            ops.set_workspace_limit(lim)
            plan = ops.conv2d_plan(xs, ws, 1, pad)["forward"]
            assert plan["algorithm"] == "winograd"
            outs.append(ops.conv2d_forward(x, w, b, 1, pad))
        assert plan["blocking"]["tile_rows_per_block"] == 1  # the small limit
    finally:
        _runtime.set_conv_algo(None)
        ops.set_workspace_limit(limit)
    for y in outs:
        err = np.abs(y - want) / (np.finfo(np.float32).eps * terms)
        assert err.max() <= 8, f"winograd error {err.max():.2f} eps32 x sum|terms|"
    np.testing.assert_array_equal(outs[1], outs[0])  # blocks depend on sizes and limit only


# Winograd by default (AVX-512): a forward with K > 128 and 56x56 outputs, and a dx whose
# flipped layer has C > 128 outputs (winograd_auto in conv_plan.c)
WINOGRAD_AUTO = [((1, 32, 56, 56), (136, 32, 3, 3), "forward"),
                 ((2, 136, 56, 57), (32, 136, 3, 3), "dx")]


@pytest.mark.parametrize("xs,ws,phase", WINOGRAD_AUTO)
def test_winograd_by_default_on_large_images(xs, ws, phase, rng):
    """The default plan takes Winograd for the forward or dx of large 3x3 layers (on AVX-512),
    with the forced algorithm's exact bits, an error within 128 eps32 (F(4x4)) of the sum of |terms|
    against float64 and the same bits on 1 and 2 threads; im2col / implicit forced never
    take it, and float64 never does."""
    import chainrule as cr
    if _runtime.isa() != "avx512":
        pytest.skip("Winograd is picked by default only on AVX-512 CPUs")
    x, w, b = _data(rng, xs, ws, np.float32)
    plan = ops.conv2d_plan(xs, ws, 1, 1)
    want_path = "winograd" if phase == "forward" else "winograd_conv"
    assert plan[phase]["algorithm"] == want_path, plan
    assert ops.conv2d_plan(xs, ws, 1, 1, dtype=np.float64)[phase]["algorithm"] != want_path
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, 1, 1).shape).astype(np.float32)
    x64, w64, b64, dy64 = (a.astype(np.float64) for a in (x, w, b, dy))

    def run():
        if phase == "forward":
            return ops.conv2d_forward(x, w, b, 1, 1)
        return ops.conv2d_backward(dy, x, w, 1, 1, need_dw=False, bias=False)[0]

    if phase == "forward":
        want = ref.conv2d_forward(x64, w64, b64, 1, 1)
        terms = ref.conv2d_forward(np.abs(x64), np.abs(w64), np.abs(b64), 1, 1)
    else:  # float64 by the im2col path (tested against the reference elsewhere)
        want = ops.conv2d_backward(dy64, x64, w64, 1, 1, need_dw=False, bias=False)[0]
        terms = ops.conv2d_backward(np.abs(dy64), x64, np.abs(w64), 1, 1, need_dw=False,
                                    bias=False)[0]
    outs = []
    try:
        for threads in (2, 1):
            cr.set_num_threads(threads)
            outs.append(run())
        _runtime.set_conv_algo("winograd")
        forced = run()
        for algo in ("im2col", "implicit"):
            _runtime.set_conv_algo(algo)
            assert ops.conv2d_plan(xs, ws, 1, 1)[phase]["algorithm"] != want_path
    finally:
        _runtime.set_conv_algo(None)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], forced)
    err = np.abs(outs[0] - want) / (np.finfo(np.float32).eps * terms)
    # >= 28x28 outputs (both cases here) run F(4x4, 3x3): its bound is 128 (see
    # tests/test_conv_winograd4.py); F(2x2)'s 8 is tested above
    tol = 128 if want.shape[2] * want.shape[3] >= 28 * 28 else 8
    assert err.max() <= tol, f"winograd error {err.max():.2f} eps32 x sum|terms|"


def test_deep_layers_put_whole_batches_in_one_block():
    """Layers with K*C*R*S >= 2^19 take all images of a small batch into one im2col block (the
    products thread inside it); smaller ones keep >= 8 blocks for the threads."""
    ops.set_workspace_limit(8 << 20)  # 8 x 49 columns fit; at the default 64 MiB: Winograd
    deep = ops.conv2d_plan((8, 512, 7, 7), (512, 512, 3, 3), 1, 1)  # (conftest restores it)
    assert deep["forward"]["algorithm"] == "im2col", deep
    assert deep["forward"]["blocking"]["images_per_block"] == 8, deep
    assert deep["forward"]["blocking"]["blocks"] == 1
    small = ops.conv2d_plan((8, 64, 7, 7), (64, 64, 3, 3), 1, 1, dtype=np.float64)
    assert small["forward"]["blocking"]["images_per_block"] == 1, small


def test_depthwise_plan():
    p = ops.conv2d_plan((2, 6, 9, 9), (6, 1, 3, 3), 1, 1, 1, 6)
    assert {p[k]["algorithm"] for k in ("forward", "dx", "dw")} == {"depthwise"}


def test_environment_variable_sets_the_algorithm():
    code = ("from chainrule import _runtime, ops\n"
            "p = ops.conv2d_plan((2, 3, 9, 7), (5, 3, 3, 3), 1, 1)\n"
            "print(_runtime.conv_algo(), p['forward']['algorithm'], p['dw']['algorithm'])\n")
    for value, want in [("im2col", "im2col im2col im2col"), ("bogus", "auto")]:
        env = dict(os.environ, CHAINRULE_CONV_ALGO=value)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        assert " ".join(out).startswith(want), out


def test_bad_arguments():
    with pytest.raises(ValueError, match="set_conv_algo: unknown algorithm 'winograd7'"):
        _runtime.set_conv_algo("winograd7")
    with pytest.raises(TypeError, match="set_conv_algo"):
        _runtime.set_conv_algo(3)
    with pytest.raises(TypeError, match="conv2d_plan: dtype must be float32 or float64"):
        ops.conv2d_plan((1, 3, 5, 5), (2, 3, 3, 3), dtype=np.int32)
    with pytest.raises(ValueError, match="conv2d_plan"):
        ops.conv2d_plan((1, 3, 5, 5), (2, 3, 3))
    with pytest.raises(ValueError, match="conv2d_plan"):
        ops.conv2d_plan((1, 3, 2, 2), (2, 3, 3, 3))
    with pytest.raises(ValueError):
        ops.conv2d_plan((1, 4, 5, 5), (2, 3, 3, 3), groups=3)


@pytest.mark.skipif(_runtime.isa_detected() != "avx512", reason="the plans below are AVX-512 ones")
def test_default_workspace_limit_and_its_plans():
    """64 MiB per thread by default: deep 3x3 layers get their Winograd weights in scratch,
    while the implicit path keeps its 8 MiB cap (VGG-16 conv1_1 stays on im2col)."""
    code = ("from chainrule import ops\n"
            "print(ops.get_workspace_limit() >> 20)\n"
            "for x, w in [((8, 256, 14, 14), (256, 256, 3, 3)), ((8, 3, 224, 224), (64, 3, 3, 3)),\n"
            "             ((8, 512, 28, 28), (512, 512, 3, 3))]:\n"
            "    print(ops.conv2d_plan(x, w, 1, 1)['forward']['algorithm'])\n")
    env = {k: v for k, v in os.environ.items() if k not in ("CHAINRULE_CONV_ALGO", "CHAINRULE_ISA")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["64", "winograd4_small", "im2col", "winograd"], out
