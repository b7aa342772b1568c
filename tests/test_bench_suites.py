"""``python -m chainrule bench``: the layer suites (conv --suite, gemm --suite skinny), the
contention family and the one-process-per-peer train bench -- structure and correctness
only, at tiny sizes (no timing claims: the test machine may be loaded)."""
import re
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import ops
from chainrule.bench import _util, contention, gemm, suites, train
from chainrule.bench.cli import add_arguments, main as cli_main

TINY = [("tiny 3x3", 2, 4, 6, (9, 7), (3, 3), 1, 1, 1),
        ("tiny 5x3 s2 g2", 1, 4, 6, (11, 8), (5, 3), 2, 0, 2),
        ("tiny dw", 1, 4, 4, (6, 6), (3, 3), 1, 1, 4)]


def _rows(text):
    """Data rows of the first markdown table in text, as lists of cells."""
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]


@pytest.mark.parametrize("suite", suites.SUITE_NAMES)
def test_suite_layers_are_valid_convolutions(suite):
    layers = suites.layers(suite)
    assert layers, suite
    for name, N, C, K, (H, W), (R, S), stride, pad, groups in layers:
        assert C % groups == 0 and K % groups == 0, name
        P, Q = suites.out_size(H, R, stride, pad), suites.out_size(W, S, stride, pad)
        assert P >= 1 and Q >= 1, name
        want = 3 * 2 * N * K * P * Q * (C // groups) * R * S
        assert suites.flops(N, C, K, (H, W), (R, S), stride, pad, groups) == want
    assert all(layer[1] == 1 for layer in suites.layers(suite, quick=True))


def test_all_suite_covers_the_issue_layer_families():
    names = " ".join(layer[0] for layer in suites.layers("all"))
    for family in ("ResNet-18", "ResNet-50", "VGG-16", "GoogLeNet 5x5", "speech 20x5",
                   "speech 10x5", "dw", "g32"):
        assert family in names
    kinds = {(layer[5], layer[6]) for layer in suites.layers("resnet")}
    assert {((3, 3), 1), ((3, 3), 2), ((1, 1), 1), ((1, 1), 2)} <= kinds


def test_conv_suite_table(monkeypatch):
    monkeypatch.setitem(suites.SUITES, "resnet", TINY)
    monkeypatch.setattr(_util, "IDLE", 0.0)
    text = suites.run_conv("resnet", threads=1, quick=True)
    rows = _rows(text)
    assert [r[0] for r in rows] == [t[0] for t in TINY]
    for r in rows:
        assert float(r[2]) > 0 and float(r[5]) > 0
        if r[3] != "-":
            # times are printed rounded to 1 us: the ratio of the printed times is close
            assert float(r[4]) == pytest.approx(float(r[3]) / float(r[2]), rel=0.15, abs=0.02)
    assert "Method:" in text and "suite resnet" in text


def test_conv_suite_times_the_right_layer():
    """time_layer runs the layer it names: same output shape as PyTorch's formula."""
    name, N, C, K, hw, rs, stride, pad, groups = TINY[1]
    x = np.zeros((N, C) + hw, np.float32)
    w = np.zeros((K, C // groups) + rs, np.float32)
    y = ops.conv2d_forward(x, w, None, stride, pad, 1, groups)
    assert y.shape == (N, K, suites.out_size(hw[0], rs[0], stride, pad),
                       suites.out_size(hw[1], rs[1], stride, pad))


def test_gemm_skinny_suite(monkeypatch):
    assert all(min(m, n) <= 32 or m == n == k == 2048 for m, n, k in gemm.SKINNY)
    assert (7680, 16, 2560) in gemm.SKINNY and (2048, 2048, 2048) in gemm.SKINNY
    monkeypatch.setattr(gemm, "SKINNY_QUICK", [(96, 4, 40), (3, 70, 33)])
    monkeypatch.setattr(_util, "IDLE", 0.0)
    text = gemm.run(threads=1, quick=True, suite="skinny")
    rows = _rows(text)
    assert [r[0] for r in rows] == ["96x4x40", "3x70x33"]  # no linear row in a suite
    assert "suite skinny" in text and "Method:" in text
    assert "% of clock peak" in text and "% of FMA peak" in text and "FMA peak = measured" in text
    with pytest.raises(ValueError, match="unknown suite"):
        gemm.run(threads=1, quick=True, suite="nosuch")


def _cli(argv):
    import argparse
    parser = argparse.ArgumentParser(prog="chainrule bench")
    add_arguments(parser)
    return cli_main(parser.parse_args(argv), parser)


@pytest.mark.parametrize("argv, msg", [
    (["conv", "--suite", "nosuch"], "unknown conv suite"),
    (["gemm", "--suite", "resnet"], "unknown gemm suite"),
    (["rnn", "--suite", "resnet"], "conv and gemm families only"),
    (["--suite", "nosuch"], "unknown conv suite"),
])
def test_cli_rejects_bad_suites(argv, msg, capsys):
    with pytest.raises(SystemExit) as e:
        _cli(argv)
    assert e.value.code == 2 and msg in capsys.readouterr().err


def test_contention_competitor_is_pinned_and_stopped():
    p = contention.start_competitor()
    if p is None:
        pytest.skip("one CPU: no competitor")
    try:
        assert p.poll() is None
        import os
        assert os.sched_getaffinity(p.pid) == {max(os.sched_getaffinity(0))}
    finally:
        contention.stop_competitor(p)
    assert p.poll() is not None


def test_contention_step_latencies_alternate_and_call_before():
    calls = []
    settings = {"a": (lambda: calls.append("a"), 1, True),
                "b": (lambda: calls.append("b"), 2, False)}
    seen = []
    t = contention.step_latencies(settings, steps=8, block=2, before=seen.append)
    assert len(t["a"]) == len(t["b"]) == 8 and all(x >= 0 for x in t["a"] + t["b"])
    assert calls[6:10] == ["a", "a", "b", "b"]  # 3 warm-up calls each, then blocks of 2
    assert seen[:4] == ["a", "a", "b", "b"]


def test_contention_short_spin_process_runs_the_mlp_in_its_own_process():
    got = contention.short_spin_process(1, 4, True)
    assert got is not None and len(got) == 3 and all(x > 0 for x in got)
    assert got[2] >= got[1]  # p90 >= p50


def test_contention_step_latencies_settle_before_each_block(monkeypatch):
    slept = []
    monkeypatch.setattr(contention.time, "sleep", slept.append)
    settings = {"a": (lambda: None, 1, True), "b": (lambda: None, 2, False)}
    contention.step_latencies(settings, steps=8, block=2, settle=0.25)
    assert slept == [0.25] * 8  # 4 rounds of 2 blocks
    slept.clear()
    contention.step_latencies(settings, steps=8, block=2)
    assert slept == []


def test_contention_table(monkeypatch):
    from chainrule import _runtime
    was = _runtime.contention_probe()[2]
    monkeypatch.setattr(train, "chainrule_step", lambda name: (lambda: None, None))
    monkeypatch.setattr(contention, "short_spin_process", lambda *a: (1.0, 1.1, 1.3))
    text = contention.run(threads=2, quick=True, steps=4)
    rows = _rows(text)
    assert len(rows) == 11 and rows[10][2:] == ["1.10", "1.30", "1.10 (met)"]
    assert [r[1] for r in rows[:3]] == ["1 thread", "2 threads", "2 threads, probe off"]
    assert re.fullmatch(r"\d+\.\d\d \((met|NOT met)\)", rows[4][4])
    assert [r[1] for r in rows[6:8]] == ["2 threads", "1 thread"] and rows[7][4] == "-"
    assert re.fullmatch(r"\d+\.\d\d \((met|NOT met)\)", rows[8][4])
    assert "Method:" in text and _runtime.contention_probe()[2] == was
    assert cr.get_num_threads() == 2


def test_train_peer_runs_alone(monkeypatch):
    monkeypatch.setattr(train, "CASES", {"2-2-1 sigmoid MSE b4": train.CASES["2-2-1 sigmoid MSE b4"]})
    res = train.time_peer("cr", 1, True)
    (t, t_opt), = res.values()
    assert t > 0 and t_opt > 0
    assert train.time_peer("np", 1, True)["2-2-1 sigmoid MSE b4"][1] is None


def test_train_peers_each_in_their_own_process():
    code = ("import json, sys, chainrule.bench.train as t;"
            "t.CASES = {'2-2-1 sigmoid MSE b4': t.CASES['2-2-1 sigmoid MSE b4']};"
            "t._peer_main(['cr', '1', '1'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    import json
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert list(res) == ["2-2-1 sigmoid MSE b4"] and res["2-2-1 sigmoid MSE b4"][0] > 0


def test_every_family_states_its_method(monkeypatch):
    """bench.run adds the shared method line under a family's table that has none."""
    import types
    from chainrule import bench
    fake = types.ModuleType("chainrule.bench.fake")
    fake.run = lambda threads, quick: "| a |\n|---|\n| 1 |"
    monkeypatch.setitem(sys.modules, "chainrule.bench.fake", fake)
    lines = []
    bench.run(["fake"], threads=1, quick=True, out=lines.append)
    assert lines[-1].endswith(_util.METHOD)
    slept = []
    monkeypatch.setattr(_util.time, "sleep", slept.append)
    _util.timeit(lambda: None, min_time=0.001, repeat=1)
    assert slept == [_util.IDLE]


def test_cli_suite_alone_picks_its_family(monkeypatch):
    ran = []
    monkeypatch.setattr("chainrule.bench.run", lambda fams, **kw: ran.append((fams, kw)))
    assert _cli(["--suite", "skinny", "--quick"]) == 0
    assert _cli(["--suite", "vgg"]) == 0
    assert [r[0] for r in ran] == [["gemm"], ["conv"]]
    assert ran[0][1] == {"threads": 2, "quick": True, "suite": "skinny"}


def test_train_peer_process_failure_is_reported():
    with pytest.raises(RuntimeError, match="nosuch peer's process failed(.|\n)*unknown peer"):
        train.time_peers_apart(["nosuch"], 1, True, 1)


def test_rnn_gated_rows(monkeypatch):
    """bench rnn's gated table: one row per LSTM / GRU shape and the classifier row; the
    closures compute what they claim (chainrule's dx equals PyTorch's)."""
    from chainrule.bench import _gated
    monkeypatch.setattr(_util, "IDLE", 0.0)
    monkeypatch.setattr(_gated, "QUICK_SIZES", [("lstm", 5, 2, 3), ("gru", 7, 1, 2)])
    monkeypatch.setattr(_gated, "CLASSIFIER", (3, 4, 2, 2, 5, 3))
    text = _gated.run(None, threads=1, quick=True)
    rows = _rows(text)
    assert [r[0] for r in rows[:2]] == ["LSTM H=5 N=2 T=3", "GRU H=7 N=1 T=2"]
    assert rows[2][0].startswith("biLSTM classifier 2 layers I=3 H=4 N=2 T=5")
    assert all(float(r[1]) > 0 and r[2] == "-" for r in rows)
    assert ("lstm", 512, 32, 25) in _gated.SIZES and ("gru", 512, 32, 100) in _gated.SIZES
    torch = pytest.importorskip("torch")
    for cell in ("lstm", "gru"):
        c = _gated.case(cell, 6, 3, 4)
        dx = _gated.fwd_bwd_fn(cell, c)()[0]
        np.testing.assert_allclose(dx, _gated.torch_fwd_bwd_fn(torch, cell, c)().numpy(),
                                   rtol=1e-4, atol=1e-5)
    assert float(_gated.classifier_step()()) > 0
    assert float(_gated.torch_classifier_step(torch)()) > 0


def test_gated_gflop_counts_six_products_of_two_flops_per_multiply_add():
    from chainrule.bench._gated import gated_gflop
    # LSTM H=512 N=32 T=25: each product has (T*N) x (4H) x H = 800 x 2048 x 512 multiply-adds
    assert gated_gflop("lstm", 512, 32, 25) == pytest.approx(6 * 2 * 800 * 2048 * 512 / 1e9)
    assert gated_gflop("gru", 512, 32, 100) == pytest.approx(6 * 2 * 3200 * 1536 * 512 / 1e9)
    assert gated_gflop("lstm", 512, 32, 25) == pytest.approx(10.066329600)
