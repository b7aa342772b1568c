"""explain on the two worked examples in shared/worked-examples: every format, and --check
flags exactly the values the documents got wrong."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.__main__ import main as cli
from chainrule.explain import check_answers, load_problem

HERE = Path(__file__).parent / "explain_problems"
PROBLEMS = sorted(p.name[:-len(".answers.json")] for p in HERE.glob("*.answers.json"))


def _load(name):
    return load_problem(HERE / f"{name}.json")


def _answers(name):
    return json.loads((HERE / f"{name}.answers.json").read_text())


def _sig(z):
    return 1 / (1 + np.exp(-z))


# ---------------------------------------------------------------- the truth, in plain NumPy
def _numpy_mlp_bce():
    """Document 003, problem 1(a), computed without chainrule."""
    x = np.array([2.0, -1.0])
    W0 = np.array([[2.0, 1], [-3, -5], [3, 5]])
    W1, b1 = np.array([[0.0, -1, 2], [1, 1, -4]]), np.array([-3.0, 2])
    W2, b2 = np.array([[2.0, 2]]), np.array([-2.0])
    z0 = W0 @ x
    a0 = np.maximum(z0, 0)
    z1 = W1 @ a0 + b1
    a1 = np.maximum(z1, 0)
    z2 = W2 @ a1 + b2
    a2 = _sig(z2)
    y = 1.0
    da2 = -y / a2 + (1 - y) / (1 - a2)
    d2 = da2 * a2 * (1 - a2)
    da1 = W2.T @ d2
    d1 = da1 * (z1 > 0)
    da0 = W1.T @ d1
    d0 = da0 * (z0 > 0)
    g = {"layers.2.grad.weight": np.outer(d2, a1), "layers.2.grad.bias": d2,
         "layers.1.grad.weight": np.outer(d1, a0), "layers.1.grad.bias": d1,
         "layers.0.grad.weight": np.outer(d0, x)}
    truth = {"layers.0.z": z0, "layers.0.a": a0, "layers.1.z": z1, "layers.1.a": a1,
             "layers.2.z": z2, "layers.2.a": a2, "output": a2, "layers.2.dL_da": da2,
             "layers.2.delta": d2, "layers.1.dL_da": da1, "layers.1.delta": d1,
             "layers.0.dL_da": da0, "layers.0.delta": d0, **g,
             "layers.2.new.weight": W2 - 0.8 * g["layers.2.grad.weight"],
             "layers.2.new.bias": b2 - 0.8 * d2,
             "layers.1.new.weight": W1 - 0.8 * g["layers.1.grad.weight"],
             "layers.1.new.bias": b1 - 0.8 * d1,
             "layers.0.new.weight": W0 - 0.8 * g["layers.0.grad.weight"],
             "loss": -np.log(a2[0]), "dL_dinput": W0.T @ d0}
    return truth


def _numpy_conv_maxpool():
    """Document 003, problem 1(b): valid 3x3 cross-correlation, 2x2 max pool, (4 - 2)^2."""
    X = np.array([[1.0, 2, 3, 0], [0, 2, 2, 1], [0, 3, 0, 0], [0, 1, 2, 1]])
    W = np.array([[1.0, 0, -1], [0, 1, 0], [0, -1, 1]])
    Z = np.array([[np.sum(X[p:p + 3, q:q + 3] * W) for q in range(2)] for p in range(2)])
    p, q = np.unravel_index(np.argmax(Z), Z.shape)
    yhat = Z[p, q]
    dy = 2 * (yhat - 2)
    dW = dy * X[p:p + 3, q:q + 3]  # only the max's input patch reaches the weights
    return {"layers.0.z": Z, "layers.1.a": yhat, "output": yhat, "layers.2.dL_da": dy,
            "layers.0.grad.weight": dW.reshape(1, 1, 3, 3), "loss": (yhat - 2) ** 2}


def _numpy_relu2(lam):
    """Document 000: relu(W2 relu(W1 x + b1) + b2), 1/2 (yhat - 3)^2 + lam/2 |W|^2."""
    x, W1, b1 = np.array([2.0, 1]), np.array([[1.0, -1], [2, 0]]), np.array([0.0, 1])
    W2, b2 = np.array([[1.0, 1]]), np.array([0.0])
    z1 = W1 @ x + b1
    h = np.maximum(z1, 0)
    yhat = np.maximum(W2 @ h + b2, 0)
    d2 = (yhat - 3) * (W2 @ h + b2 > 0)
    d1 = (W2.T @ d2) * (z1 > 0)
    return {"layers.0.z": z1, "layers.0.a": h, "output": yhat, "layers.1.dL_da": yhat - 3,
            "layers.1.grad.weight": np.outer(d2, h) + lam * W2, "layers.1.grad.bias": d2,
            "layers.0.grad.weight": np.outer(d1, x) + lam * W1, "layers.0.grad.bias": d1}


def _numpy_linreg(logistic, velocity=None):
    """Document 003, problem 2(d)/(e): one linear unit, lr 0.1."""
    X, W, b = np.array([1.0, -2, 3, 2, 4]), np.array([0.0, 3, 1, 4, -1]), -1.0
    z = W @ X + b
    yhat = _sig(z) if logistic else z
    y = 1.0 if logistic else 2.0
    dz = (yhat - y) if logistic else 2 * (yhat - y)
    gW, gb = dz * X, dz
    loss = -np.log(yhat) if logistic else (y - yhat) ** 2
    if velocity is not None:  # v = 0.9 v + 0.1 g
        vW, vb = 0.9 * velocity[0] + 0.1 * gW, 0.9 * velocity[1] + 0.1 * gb
        return {"layers.0.new.weight": W - 0.1 * vW, "layers.0.new.bias": b - 0.1 * vb}
    return {"layers.0.z": z, "output": yhat, "loss": loss, "layers.0.grad.weight": gW,
            "layers.0.grad.bias": gb, "layers.0.new.weight": W - 0.1 * gW,
            "layers.0.new.bias": b - 0.1 * gb}


TRUTH = {"hw_mlp_bce": _numpy_mlp_bce, "hw_conv_maxpool": _numpy_conv_maxpool,
         "relu2_half_sse": lambda: _numpy_relu2(0.0),
         "relu2_half_sse_l2": lambda: _numpy_relu2(0.1),
         "hw_linreg_sse": lambda: _numpy_linreg(False),
         "hw_logreg_bce": lambda: _numpy_linreg(True),
         "hw_linreg_momentum": lambda: _numpy_linreg(False, (np.array([0.5, 0, -0.5, 0, 0]),
                                                            0.2))}

# What the documents got wrong, worked out by hand (see the module docstring of each truth):
#  - 003 1(a): dW^[1] row 2 is written [0, -1], but dz_2 = 0 makes it [0, 0]; W^[1] row 1 is
#    copied as [2, -1] instead of [2, 1], so its update is [3.6, -1.8] instead of [3.6, 0.2].
#  - 003 1(b): dL/dw is written as 4 * w (a multiple of the weights); it is 4 times the input
#    patch under the max, [[8, 12, 0], [8, 8, 4], [12, 0, 0]]: all nine entries are wrong.
#  - 000 and 003 2(d), 2(d)3, 2(e): every number is right.
WRONG = {
    "hw_mlp_bce": {"layers.0.grad.weight[1]", "layers.0.new.weight[0]"},
    "hw_conv_maxpool": {f"layers.0.grad.weight[0,0,{r},{s}]" for r in range(3)
                        for s in range(3)},
}
FIRST_WRONG = {"hw_mlp_bce": "layers.0.grad.weight[1]",
               "hw_conv_maxpool": "layers.0.grad.weight[0,0,0,0]"}


def _entry(values, key):
    m = re.match(r"^([^\[]+)(?:\[([\d,]+)\])?$", key)
    v = np.asarray(values[m.group(1)], dtype=float)
    if m.group(2) is None:
        return v
    idx = tuple(int(i) for i in m.group(2).split(","))
    # the NumPy truth may drop leading batch axes the trace keeps
    idx = idx[len(idx) - v.ndim:] if len(idx) > v.ndim else idx
    return v[idx]


@pytest.mark.parametrize("name", PROBLEMS)
def test_numpy_truth_confirms_the_wrong_set(name):
    """Independently of chainrule: a claimed value is wrong iff the NumPy truth disagrees."""
    truth, wrong = TRUTH[name](), set()
    for key, given in _answers(name).items():
        base = key.split("[")[0]
        if base not in truth:
            continue
        t = _entry(truth, key)
        if not np.allclose(np.ravel(given), np.ravel(t), rtol=1e-6, atol=1e-12):
            wrong.add(key)
    assert wrong == WRONG.get(name, set())


@pytest.mark.parametrize("name", PROBLEMS)
def test_trace_equals_numpy_truth(name):
    d = _load(name).to_dict()
    for key, t in TRUTH[name]().items():
        np.testing.assert_allclose(np.ravel(d[key]), np.ravel(t), rtol=1e-12, atol=1e-12,
                                   err_msg=key)


@pytest.mark.parametrize("name", PROBLEMS)
def test_check_flags_exactly_the_documents_mistakes(name, capsys):
    rc = cli(["explain", str(HERE / f"{name}.json"), "--check",
              str(HERE / f"{name}.answers.json"), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"results", "first_wrong"}
    wrong = {k for k, r in out["results"].items() if not r["ok"]}
    assert wrong == WRONG.get(name, set())
    assert set(out["results"]) == set(_answers(name))
    assert out["first_wrong"] == FIRST_WRONG.get(name)
    assert rc == (1 if wrong else 0)
    for k, r in out["results"].items():
        assert set(r) == {"ok", "given", "correct"} and r["given"] == _answers(name)[k]


def test_check_report_values():
    rep = check_answers(_load("hw_conv_maxpool"), _answers("hw_conv_maxpool"))
    r = rep["results"]["layers.0.grad.weight[0,0,0,1]"]
    assert r == {"ok": False, "given": 0, "correct": 12.0}
    rep = check_answers(_load("hw_mlp_bce"), {"layers.0.new.weight[0]": [3.6, -1.8]})
    assert rep["results"]["layers.0.new.weight[0]"]["correct"] == pytest.approx([3.6, 0.2])


def test_check_tolerances():
    tr = _load("hw_logreg_bce")
    assert check_answers(tr, {"loss": 0.6931472})["first_wrong"] is None  # 1e-6 relative
    assert check_answers(tr, {"loss": 0.6931})["first_wrong"] == "loss"
    assert check_answers(tr, {"loss": 0.6931}, atol=1e-3)["first_wrong"] is None
    assert check_answers(tr, {"layers.0.z": 1e-9})["first_wrong"] == "layers.0.z"
    assert check_answers(tr, {"layers.0.z": 1e-9}, atol=1e-8)["first_wrong"] is None


def test_first_wrong_follows_forward_backward_update_order():
    tr = _load("hw_mlp_bce")
    d = tr.to_dict()
    bad = {k: (np.asarray(v) + 1).tolist() for k, v in d.items()}
    keys = list(d)
    for start in range(len(keys)):
        sub = {k: bad[k] for k in keys[start:][::-1]}  # the file order must not matter
        assert check_answers(tr, sub)["first_wrong"] == keys[start]
    order = keys.index
    assert order("layers.2.a") < order("loss") < order("layers.2.dL_da") < \
        order("layers.2.grad.weight") < order("layers.1.dL_da") < order("layers.0.delta") \
        < order("dL_dinput") < order("layers.0.new.weight") < order("layers.2.new.bias")


def test_json_keys_are_exactly_the_issue_list():
    d = _load("hw_mlp_bce").to_dict()
    want = ["output", "loss", "dL_dinput"]
    for i in range(3):
        want += [f"layers.{i}.{k}" for k in ("z", "a", "dL_da", "delta", "grad.weight",
                                             "new.weight")]
    want += [f"layers.{i}.{k}" for i in (1, 2) for k in ("grad.bias", "new.bias")]
    assert sorted(d) == sorted(want)
    assert d["layers.1.new.bias"] == pytest.approx([-3, 2.8])
    assert isinstance(d["layers.0.z"], list) and json.loads(json.dumps(d)) == d


# ---------------------------------------------------------------- the four formats
def test_text_reproduces_document_003():
    txt = _load("hw_mlp_bce").to_text()
    # equations number layers from 1 like the document (and the issue's example line)
    for line in ["a[1] = relu(z[1]) = relu([ 3  -1  1 ]) = [ 3  0  1 ]",
                 "a[2] = relu(z[2]) = relu([ -1  1 ]) = [ 0  1 ]",
                 "a[3] = sigmoid(z[3]) = sigmoid(0) = 0.5",
                 "delta[3] = dL/da[3] * sigmoid'(z[3]) = (-2) * 0.25 = -0.5",
                 "dL/dW[3] = delta[3]^T @ a[2] = (-0.5) @ [ 0  1 ] = [ 0  -0.5 ]",
                 "delta[2] = dL/da[2] * relu'(z[2]) = [ -1  -1 ] * [ 0  1 ] = [ 0  -1 ]",
                 "delta[1] = dL/da[1] * relu'(z[1]) = [ -1  -1  4 ] * [ 1  0  1 ] = "
                 "[ -1  0  4 ]",
                 "W[3]' = W[3] - 0.8 * dL/dW[3] = [ 2  2 ] - 0.8 * [ 0  -0.5 ] = [ 2  2.4 ]",
                 "b[2]' = b[2] - 0.8 * dL/db[2] = [ -3  2 ] - 0.8 * [ 0  -1 ] = [ -3  2.8 ]"]:
        assert line in txt.splitlines(), line
    # the aligned 3x2 update of the first layer: the document's row 1 [3.6, -1.8] is wrong
    assert re.search(r"\[  3\.6  0\.2 \]\n.*\[   -3   -5 \]\n.*\[ -3\.4  8\.2 \]", txt)


def test_text_reproduces_the_conv_and_pool_steps():
    txt = _load("hw_conv_maxpool").to_text()
    lines = txt.splitlines()
    assert "z[1][0,0,0,0] = sum(x[0,:,0:3,0:3] * W[1][0]) = 1*1 + 3*(-1) + 2*1 + 3*(-1) = -3" \
        in lines
    assert "z[2][0,0,0,0] = max(a[1][0,0,0:2,0:2]) = max(-3, 4, 2, 0) = 4, at (0,1)" in lines
    assert any("its max sits at (0,1), which receives dL/da[2][0,0,0,0] = 4" in s
               for s in lines)
    assert "dL/dW[1][0,0,0,1] = sum(delta[1][:,0] * x[:,0,0:2,1:3]) = 0*2 + 4*3 + 0*2 + " \
        "0*2 = 12" in lines
    assert re.search(r"\[  8  12  0 \]\n.*\[  8   8  4 \]\n.*\[ 12   0  0 \]", txt)


def test_text_reproduces_document_000_and_momentum():
    txt = _load("relu2_half_sse_l2").to_text()
    assert "L = 1/2 sum((a[2] - y)^2) + 0.05 * sum(W^2) = 4.5 + 0.4 = 4.9" in txt
    assert re.search(r"\[ 6\.1  2\.9 \]\n.*\[ 6\.2    3 \]", txt)
    txt = _load("hw_linreg_momentum").to_text()
    assert "v(b[1]) = 0.9 * v_old + 0.1 * dL/db[1] = 0.9 * 0.2 + 0.1 * (-4) = -0.22" in txt
    assert "b[1]' = b[1] - 0.1 * v(b[1]) = (-1) - 0.1 * (-0.22) = -0.978" in txt


def test_markdown_has_sections_and_the_same_equations():
    tr = _load("hw_mlp_bce")
    md = tr.to_markdown()
    assert md.startswith("# Worked solution")
    for h in ("## Forward pass", "## Backward pass", "## Update (sgd, one step)",
              "### Layer 3 (layers.2): linear 2 -> 1, sigmoid"):
        assert h in md.splitlines()
    assert md.count("```text") == md.count("```") // 2
    assert "delta[3] = dL/da[3] * sigmoid'(z[3]) = (-2) * 0.25 = -0.5" in md


def _tex_syntax_ok(tex):
    body = re.sub(r"\\[{}]", "", tex)
    depth = 0
    for ch in body:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert tex.count(r"\begin{bmatrix}") == tex.count(r"\end{bmatrix}")
    assert len(re.findall(r"\\left(?![a-zA-Z])", tex)) == \
        len(re.findall(r"\\right(?![a-zA-Z])", tex))
    assert tex.count(r"\[") == tex.count(r"\]")


@pytest.mark.parametrize("name", PROBLEMS + ["rnn_mse", "residual_softmax_ce"])
def test_latex_compiles(name, tmp_path):
    tex = _load(name).to_latex()
    _tex_syntax_ok(tex)
    if name == "hw_mlp_bce":
        assert r"\begin{bmatrix} 3.6 & 0.2 \\ -3 & -5 \\ -3.4 & 8.2 \end{bmatrix}" in tex
        assert r"\delta^{[3]} = \frac{\partial L}{\partial a^{[3]}}" in tex
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed: syntax check only")
    (tmp_path / "t.tex").write_text(tex)
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]
    assert (tmp_path / "t.pdf").stat().st_size > 1000


@pytest.mark.parametrize("fmt", ["text", "md", "latex", "json"])
def test_cli_formats(fmt, capsys):
    assert cli(["explain", str(HERE / "hw_mlp_bce.json"), "--format", fmt]) == 0
    out = capsys.readouterr().out
    tr = _load("hw_mlp_bce")
    want = {"text": tr.to_text(), "md": tr.to_markdown(), "latex": tr.to_latex()}
    if fmt == "json":
        assert json.loads(out) == tr.to_dict()
    else:
        assert out == want[fmt]


def test_cli_text_check_report(capsys):
    rc = cli(["explain", str(HERE / "hw_mlp_bce.json"), "--check",
              str(HERE / "hw_mlp_bce.answers.json")])
    out = capsys.readouterr().out.splitlines()
    assert rc == 1
    assert "WRONG  layers.0.grad.weight[1] = [0, -1]   correct: [0, 0]" in out
    assert out[-1].endswith("is layers.0.grad.weight[1]") and out[-1].startswith("2 of 35")


def test_python_dash_m_entry_point():
    r = subprocess.run([sys.executable, "-m", "chainrule", "explain",
                        str(HERE / "hw_conv_maxpool.json"), "--check",
                        str(HERE / "hw_conv_maxpool.answers.json"), "--format", "json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr == ""
    assert json.loads(r.stdout)["first_wrong"] == "layers.0.grad.weight[0,0,0,0]"


def test_cr_explain_on_a_model_matches_the_problem_file():
    model = cr.nn.Sequential(cr.nn.Linear(2, 3, bias=False), cr.nn.ReLU(),
                             cr.nn.Linear(3, 2), cr.nn.ReLU(), cr.nn.Linear(2, 1),
                             cr.nn.Sigmoid())
    model.load_state_dict({"0.weight": [[2, 1], [-3, -5], [3, 5]],
                           "2.weight": [[0, -1, 2], [1, 1, -4]], "2.bias": [-3, 2],
                           "4.weight": [[2, 2]], "4.bias": [-2]})
    before = {k: np.array(v) for k, v in model.state_dict().items()}
    opt = cr.optim.SGD(model.parameters(), lr=0.8)
    tr = cr.explain(model, np.array([[2.0, -1.0]]), np.array([[1.0]]), cr.nn.BCELoss(), opt)
    assert tr.to_dict() == _load("hw_mlp_bce").to_dict()
    for k, v in model.state_dict().items():  # the model is never changed
        np.testing.assert_array_equal(np.asarray(v), before[k])
