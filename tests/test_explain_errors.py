"""Bad problem and answers files: one line `chainrule explain: error: ...` naming the layer
index and the field, exit status 2, never a traceback."""
import copy
import json
import re
import subprocess
import sys

import pytest

from chainrule.__main__ import main as cli

BASE = {"input": [[2, -1]], "target": [[1]],
        "layers": [{"type": "linear", "weight": [[2, 1], [-3, -5], [3, 5]], "bias": None,
                    "activation": "relu"},
                   {"type": "residual", "layers": [
                       {"type": "linear", "weight": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
                        "bias": [0, 0, 0]}]},
                   {"type": "linear", "weight": [[2, 2, 1]], "bias": [-2],
                    "activation": "sigmoid"}],
        "loss": {"type": "bce"}, "optimizer": {"type": "sgd", "lr": 0.8}}
CONV = {"input": [[[[1, 2, 3], [0, 2, 2], [0, 3, 0]]]], "target": [[2]],
        "layers": [{"type": "conv2d", "weight": [[[[1, 0], [0, 1]]]], "bias": None},
                   {"type": "max_pool2d", "kernel_size": 2}, {"type": "flatten"}],
        "loss": {"type": "sse"}}
RNN = {"input": [[[1, 0]], [[0, 1]]], "target": [[[1]], [[0]]],
       "layers": [{"type": "rnn", "w_ih": [[1, 0], [0, 1]], "w_hh": [[0, 1], [1, 0]]},
                  {"type": "linear", "weight": [[1, 1]], "bias": None}],
       "loss": "mse"}


def _set(base, path, value):
    p = copy.deepcopy(base)
    node = p
    for k in path[:-1]:
        node = node[k]
    if value is _DEL:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return p


_DEL = object()
L = "layers"
CASES = [
    # (problem, message fragment)
    (_set(BASE, ["input"], _DEL), r"problem, field 'input': missing"),
    (_set(BASE, ["loss"], _DEL), r"problem, field 'loss': missing"),
    (_set(BASE, ["lr"], 0.1), r"problem, field 'lr': unknown field"),
    (_set(BASE, [L], []), r"problem, field 'layers': expected a non-empty list"),
    (_set(BASE, ["input"], [[2, "a"]]), r"problem, field 'input': not a rectangular"),
    (_set(BASE, ["input"], [[2, -1], [1]]), r"problem, field 'input': not a rectangular"),
    (_set(BASE, [L, 0], 7), r"layers.0: expected an object with a 'type'"),
    (_set(BASE, [L, 0, "type"], _DEL), r"layers.0, field 'type': missing"),
    (_set(BASE, [L, 0, "type"], "dense"), r"layers.0, field 'type': unknown layer type 'dense'"),
    (_set(BASE, [L, 0, "weight"], _DEL), r"layers.0 \(linear\), field 'weight': missing"),
    (_set(BASE, [L, 0, "kernel_size"], 2), r"layers.0 \(linear\), field 'kernel_size': not a "
                                           r"field of a linear layer"),
    (_set(BASE, [L, 0, "weight"], [2, 1]), r"layers.0 \(linear\), field 'weight': expected 2 "
                                           r"dimensions"),
    (_set(BASE, [L, 0, "weight"], [[2, 1, 0]]), r"layers.0 \(linear\), field 'weight': shape "
                                                r"\(1, 3\) needs inputs with 3 features"),
    (_set(BASE, [L, 2, "weight"], [[2, 2]]), r"layers.2 \(linear\), field 'weight': shape "
                                             r"\(1, 2\) needs inputs with 2 features, but its "
                                             r"input has shape \(1, 3\)"),
    (_set(BASE, [L, 2, "bias"], [1, 2]), r"layers.2 \(linear\), field 'bias': expected shape "
                                         r"\(1,\)"),
    (_set(BASE, [L, 0, "activation"], "gelu"), r"layers.0 \(linear\), field 'activation': "
                                               r"unknown activation 'gelu'"),
    (_set(BASE, [L, 0, "negative_slope"], "x"), r"layers.0 \(linear\), field "
                                                r"'negative_slope': expected a number"),
    (_set(_set(BASE, [L, 1, L, 0, "weight"], [[1, 0, 0]]), [L, 1, L, 0, "bias"], None),
     r"layers.1 \(residual\), field "
                                                      r"'layers': the block maps shape"),
    (_set(BASE, [L, 1, L, 0, "bias"], [0]), r"layers.1.layers.0 \(linear\), field 'bias'"),
    (_set(BASE, [L, 1, L], []), r"layers.1 \(residual\), field 'layers': expected a "
                                r"non-empty list"),
    (_set(BASE, [L, 1, L, 0, "type"], "conv3d"), r"layers.1.layers.0, field 'type'"),
    (_set(BASE, ["loss"], {"kind": "bce"}), r"loss, field 'type': missing"),
    (_set(BASE, ["loss", "type"], "hinge"), r"loss, field 'type': unknown loss 'hinge'"),
    (_set(BASE, ["loss", "reduction"], "none"), r"loss \(bce\), field 'reduction'"),
    (_set(BASE, ["loss", "label_smoothing"], 0.1), r"loss \(bce\), field 'label_smoothing': "
                                                   r"not a field of this loss"),
    (_set(BASE, ["target"], [[1, 0]]), r"problem, field 'target': expected the network "
                                       r"output's shape \(1, 1\), got \(1, 2\)"),
    (_set(_set(BASE, ["loss"], {"type": "cross_entropy", "label_smoothing": 2}),
          ["target"], [0]), r"loss, field 'label_smoothing': expected a number >= 0.0 and "
                            r"<= 1.0"),
    (_set(_set(BASE, ["loss"], "nll"), ["target"], [3]), r"class indices must be integers in "
                                                         r"\[0, 1\)"),
    (_set(_set(BASE, ["loss"], "nll"), ["target"], [[0.5]]), r"problem, field 'target': "
                                                             r"expected \(1,\) class indices"),
    (_set(BASE, ["l2"], -1), r"problem, field 'l2': expected a number >= 0.0"),
    (_set(BASE, ["optimizer"], {"type": "rmsprop"}), r"optimizer, field 'type': expected "
                                                     r"'sgd' or 'adam'"),
    (_set(BASE, ["optimizer", "lr"], _DEL), r"optimizer \(sgd\), field 'lr': missing"),
    (_set(BASE, ["optimizer", "lr"], -1), r"optimizer \(sgd\), field 'lr': expected a number "
                                          r">= 0.0"),
    (_set(BASE, ["optimizer", "betas"], [0.9]), r"optimizer \(sgd\), field 'betas': not a "
                                                r"field of sgd"),
    (_set(BASE, ["optimizer"], {"type": "adam", "betas": [0.9]}), r"optimizer \(adam\), "
                                                                  r"field 'betas'"),
    (_set(BASE, ["optimizer", "momentum_buffer"], {"layers.9.weight": [1]}),
     r"field 'momentum_buffer': unknown parameter 'layers.9.weight'"),
    (_set(_set(BASE, ["optimizer", "momentum_buffer"], {"layers.2.bias": [1, 2]}),
          ["optimizer", "momentum"], 0.9), r"field 'momentum_buffer.layers.2.bias': expected "
                                           r"shape \(1,\)"),
    (_set(BASE, ["optimizer", "momentum_buffer"], {"layers.2.bias": [1]}),
     r"field 'momentum_buffer': needs a momentum > 0"),
    (_set(CONV, ["input"], [[1, 2, 3]]), r"layers.0 \(conv2d\), field 'weight': conv2d needs "
                                         r"an \(N, C, H, W\) input"),
    (_set(CONV, [L, 0, "weight"], [[[[1]], [[1]]]]), r"layers.0 \(conv2d\), field 'weight': "
                                                     r"shape \(1, 2, 1, 1\) needs 2 input "
                                                     r"channels"),
    (_set(CONV, [L, 0, "weight"], [[[[1] * 5] * 5]]), r"layers.0 \(conv2d\), field 'weight': "
                                                      r"the window 5 is larger"),
    (_set(CONV, [L, 0, "stride"], 0), r"layers.0 \(conv2d\), field 'stride': expected an "
                                      r"integer >= 1"),
    (_set(CONV, [L, 0, "padding"], [1, 1, 1]), r"layers.0 \(conv2d\), field 'padding'"),
    (_set(CONV, [L, 1, "kernel_size"], _DEL), r"layers.1 \(max_pool2d\), field 'kernel_size': "
                                              r"missing"),
    (_set(CONV, [L, 1, "kernel_size"], 3), r"layers.1 \(max_pool2d\), field 'kernel_size': "
                                           r"the window 3 is larger"),
    (_set(CONV, [L, 1, "padding"], 2), r"layers.1 \(max_pool2d\), field 'padding': at most "
                                       r"half"),
    (_set(CONV, [L, 1, "activation"], "relu"), r"layers.1 \(max_pool2d\), field 'activation': "
                                               r"not a field"),
    (_set(CONV, [L, 2], {"type": "flatten", "start_dim": 0}), r"layers.2 \(flatten\), field "
                                                              r"'start_dim'"),
    (_set(RNN, ["input"], [[1, 0]]), r"layers.0 \(rnn\), field 'w_ih': rnn needs a \(T, N, I\) "
                                     r"input"),
    (_set(RNN, [L, 0, "w_ih"], [[1, 0, 0], [0, 1, 0]]), r"layers.0 \(rnn\), field 'w_ih': "
                                                        r"expected shape \(2, 2\)"),
    (_set(RNN, [L, 0, "w_hh"], [[0, 1]]), r"layers.0 \(rnn\), field 'w_ih': expected shape "
                                          r"\(1, 2\)"),
    (_set(RNN, [L, 0, "b_ih"], [0, 0]), r"layers.0 \(rnn\), field 'b_hh': give both"),
    (_set(RNN, [L, 0, "h0"], [[0, 0, 0]]), r"layers.0 \(rnn\), field 'h0': expected shape "
                                           r"\(1, 2\)"),
    (_set(RNN, [L, 0, "nonlinearity"], "softmax"), r"layers.0 \(rnn\), field 'nonlinearity'"),
    (_set(RNN, [L, 0, "weight"], [[1]]), r"layers.0 \(rnn\), field 'weight': not a field"),
    (_set(BASE, [L, 2, "activation"], "relu"), r"loss \(bce\), field 'type': needs outputs "
                                                r"in \[0, 1\], but layers.2 \(linear, "
                                                r"activation relu\) gives values in \[12, 12\]"),
    (_set(RNN, ["loss"], "cross_entropy"), r"loss \(cross_entropy\), field 'type': needs a "
                                           r"network output of shape \(N, C\)"),
]


def _run(capsys, tmp_path, problem, *extra):
    f = tmp_path / "p.json"
    f.write_text(problem if isinstance(problem, str) else json.dumps(problem))
    rc = cli(["explain", str(f), *extra])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.mark.parametrize("problem,fragment", CASES)
def test_bad_problem_is_one_clear_line(problem, fragment, capsys, tmp_path):
    rc, out, err = _run(capsys, tmp_path, problem)
    assert rc == 2 and out == ""
    assert err.startswith("chainrule explain: error: ") and err.count("\n") == 1, err
    assert re.search(fragment, err), err


def test_the_base_problems_are_fine(capsys, tmp_path):
    for p in (BASE, CONV, RNN):
        assert _run(capsys, tmp_path, p)[0] == 0


@pytest.mark.parametrize("text,fragment", [("{", "is not valid JSON"),
                                           ("[1, 2]", "problem: expected a JSON object")])
def test_not_a_problem_file(text, fragment, capsys, tmp_path):
    rc, out, err = _run(capsys, tmp_path, text)
    assert rc == 2 and fragment in err and err.count("\n") == 1


def test_duplicate_keys_are_an_error(capsys, tmp_path):
    a = tmp_path / "a.json"
    a.write_text('{"loss": 1, "layers.0.z[0,0]": 3, "layers.0.z[0,0]": 4}')
    rc, out, err = _run(capsys, tmp_path, BASE, "--check", str(a))
    assert rc == 2 and "key 'layers.0.z[0,0]' appears twice" in err and err.count("\n") == 1


def test_missing_file(capsys):
    assert cli(["explain", "/nonexistent/p.json"]) == 2
    assert "cannot read /nonexistent/p.json" in capsys.readouterr().err


@pytest.mark.parametrize("answers,fragment", [
    ({"layers.7.z": 1}, "answers, key 'layers.7.z': not a key of this trace"),
    ({"layers.0.grad.bias": 1}, "answers, key 'layers.0.grad.bias': not a key"),
    ({"layers.0.z[0,5]": 1}, r"index [0, 5] is out of range for 'layers.0.z' of shape (1, 3)"),
    ({"layers.0.z[0,1,2]": 1}, "is out of range"),
    ({"layers.0.z[a]": 1}, "the index must be integers"),
    ({"layers.0.z": [1, 2]}, "the given value has shape (2,), the trace's has shape (1, 3)"),
    ({"loss": "small"}, "answers, key 'loss': expected a number or nested list"),
    ([1, 2], "answers: expected a JSON object"),
])
def test_bad_answers_name_the_key(answers, fragment, capsys, tmp_path):
    a = tmp_path / "a.json"
    a.write_text(json.dumps(answers))
    rc, out, err = _run(capsys, tmp_path, BASE, "--check", str(a))
    assert rc == 2 and out == "" and fragment in err and err.count("\n") == 1, err


def test_bad_options(capsys, tmp_path):
    rc, out, err = _run(capsys, tmp_path, BASE, "--format", "html")
    assert rc == 2 and err.startswith("chainrule explain: error: argument --format")
    assert err.count("\n") == 1


def test_no_traceback_from_python_dash_m(tmp_path):
    f = tmp_path / "p.json"
    f.write_text(json.dumps(_set(BASE, [L, 2, "weight"], [[2, 2]])))
    r = subprocess.run([sys.executable, "-m", "chainrule", "explain", str(f)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.startswith("chainrule explain: error: layers.2 (linear), field 'weight'")
