"""chainrule.train: fit / evaluate, checkpoints (atomic, exact resume), schedules."""
import json
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import data, models, nn, optim, serialization, train
from helpers import assert_close


def digits_subset(n=200, dtype=np.float32):
    x, y = data.load_digits(dtype)
    return x[:n], y[:n]


def make(kind="sgd", seed=0, model="mlp"):
    cr.manual_seed(seed)
    m = models.MLP(64, [32], 10) if model == "mlp" else models.LeNet5(1, 10, 8)
    if kind == "sgd":
        opt = optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    else:
        opt = optim.Adam(m.parameters(), lr=1e-2, weight_decay=1e-4)
    return m, opt


def params_of(model):
    return {k: np.array(v) for k, v in model.state_dict().items()}  # Tensors -> arrays


def test_fit_learns_and_reports_history():
    x, y = digits_subset(300)
    m, opt = make("adam")
    loader = data.DataLoader((x, y), batch_size=32, shuffle=True, seed=0)
    val = data.DataLoader((x, y), batch_size=100)
    lines = []
    hist = train.fit(m, loader, nn.CrossEntropyLoss(), opt, epochs=4, val_loader=val,
                     progress=False, log=lines.append)
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4] and len(lines) == 4
    assert lines[0].startswith("epoch 1/4") and "samples/s" in lines[0]
    assert hist[-1]["train_loss"] < 0.5 * hist[0]["train_loss"]
    for key in ("train_accuracy", "val_loss", "val_accuracy", "seconds", "samples_per_s"):
        assert key in hist[-1]
    ev = train.evaluate(m, val, nn.CrossEntropyLoss())
    assert ev["n"] == 300 and ev["accuracy"] == hist[-1]["val_accuracy"] > 0.8
    assert_close(ev["loss"], hist[-1]["val_loss"], rtol=1e-12, atol=0)


def test_evaluate_counts_correct_predictions_and_restores_mode():
    # a fixed linear classifier: class = argmax(x @ W.T) with W = identity on 3 features
    m = nn.Linear(3, 3, bias=False)
    m.weight.data[...] = np.eye(3, dtype=np.float32)
    x = np.array([[1, 0, 0], [0, 2, 0], [0, 0, 3], [5, 0, 0]], np.float32)
    y = np.array([0, 1, 0, 0])
    m.train()
    ev = train.evaluate(m, data.DataLoader((x, y), batch_size=3))
    assert ev == {"loss": None, "accuracy": 0.75, "n": 4}
    assert m.training
    m.eval()
    train.evaluate(m, data.DataLoader((x, y), batch_size=3))
    assert not m.training
    # one-hot targets count too
    ev = train.evaluate(m, data.DataLoader((x, np.eye(3, dtype=np.float32)[y]), batch_size=4))
    assert ev["accuracy"] == 0.75


def test_evaluate_builds_no_graph():
    x, y = digits_subset(20)
    m, _ = make()
    seen = []
    orig = m.forward

    def spy(inp):
        out = orig(inp)
        seen.append(out.requires_grad)
        return out
    m.forward = spy
    train.evaluate(m, data.DataLoader((x, y), batch_size=10), nn.CrossEntropyLoss())
    assert seen == [False, False]


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("loader_seed", [5, None])
def test_resume_from_checkpoint_is_bitwise_identical(tmp_path, kind, loader_seed):
    x, y = digits_subset(150)
    loss_fn = nn.CrossEntropyLoss()

    # two epochs straight
    m, opt = make(kind, seed=1)
    cr.manual_seed(11)
    loader = data.DataLoader((x, y), batch_size=16, shuffle=True, seed=loader_seed)
    train.fit(m, loader, loss_fn, opt, epochs=2, progress=False)
    want = params_of(m)

    # one epoch, checkpoint, then a fresh process state: new model, optimizer, loader, RNG
    m1, opt1 = make(kind, seed=1)
    cr.manual_seed(11)
    loader1 = data.DataLoader((x, y), batch_size=16, shuffle=True, seed=loader_seed)
    ckpt = tmp_path / "ck.npz"
    train.fit(m1, loader1, loss_fn, opt1, epochs=1, checkpoint=ckpt, progress=False)
    m2, opt2 = make(kind, seed=99)  # different initial weights: the checkpoint must win
    cr.manual_seed(12345)           # and a different global RNG state
    loader2 = data.DataLoader((x, y), batch_size=16, shuffle=True,
                              seed=None if loader_seed is None else 777)
    hist = train.fit(m2, loader2, loss_fn, opt2, epochs=2, checkpoint=ckpt, resume=True,
                     progress=False)
    assert [h["epoch"] for h in hist] == [1, 2]
    got = params_of(m2)
    for k in want:
        assert np.array_equal(got[k], want[k]), f"{k} differs after resume"
    # the checkpoint now records epoch 2 and the full history
    info = train.load_checkpoint(ckpt, m2, opt2, loader2)
    assert info["epoch"] == 2 and len(info["history"]) == 2


def test_checkpoint_round_trip_contents(tmp_path):
    x, y = digits_subset(64)
    m, opt = make("adam")
    loader = data.DataLoader((x, y), batch_size=16, shuffle=True, seed=3)
    train.fit(m, loader, nn.CrossEntropyLoss(), opt, epochs=1, progress=False)
    path = tmp_path / "sub" / "c.npz"
    train.save_checkpoint(path, m, opt, epoch=7, loader=loader, history=[{"a": 1}],
                          extra={"note": "x"})
    assert os.listdir(tmp_path / "sub") == ["c.npz"]  # no temporary file left behind
    with np.load(path, allow_pickle=False) as z:      # plain arrays + JSON, no pickle
        meta = json.loads(str(z["meta"]))
        assert meta["epoch"] == 7 and meta["optimizer"]["type"] == "Adam"
        assert "model/1.weight" in z.files and "optim/0/exp_avg" in z.files
    m2, opt2 = make("adam", seed=5)
    info = train.load_checkpoint(path, m2, opt2)
    assert info == {"epoch": 7, "history": [{"a": 1}], "extra": {"note": "x"}}
    for k, v in m.state_dict().items():
        assert np.array_equal(m2.state_dict()[k], v)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    for i in s1["state"]:
        for k, v in s1["state"][i].items():
            assert np.array_equal(s2["state"][i][k], v)


def test_checkpoint_overwrite_is_atomic(tmp_path, monkeypatch):
    m, opt = make()
    path = tmp_path / "c.npz"
    train.save_checkpoint(path, m, opt, epoch=1)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(serialization, "_write_zip", boom)
    with pytest.raises(OSError, match="disk full"):
        train.save_checkpoint(path, m, opt, epoch=2)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["c.npz"]


def test_load_checkpoint_errors(tmp_path):
    m, opt = make("sgd")
    path = tmp_path / "c.npz"
    train.save_checkpoint(path, m, None, epoch=1)
    with pytest.raises(ValueError, match="no optimizer state"):
        train.load_checkpoint(path, m, opt)
    train.save_checkpoint(path, m, opt, epoch=1)
    _, adam = make("adam")
    with pytest.raises(ValueError, match="holds SGD state"):
        train.load_checkpoint(path, m, adam)
    other = tmp_path / "o.npz"
    np.savez(other, a=np.zeros(2))
    with pytest.raises(ValueError, match="not a chainrule checkpoint"):
        train.load_checkpoint(other, m)
    with pytest.raises(ValueError):
        train.load_checkpoint(path, models.MLP(64, [16], 10))  # different layout


def test_schedule_sets_lr_per_epoch_from_initial_lr():
    x, y = digits_subset(32)
    m, opt = make("sgd")
    lrs = []
    sched = train.cosine_schedule(4)
    orig = opt.step

    def spy():
        lrs.append(opt.param_groups[0]["lr"])
        return orig()
    opt.step = spy
    train.fit(m, data.DataLoader((x, y), batch_size=32), nn.CrossEntropyLoss(), opt, epochs=4,
              schedule=sched, progress=False)
    assert_close(lrs, [0.1 * sched(e) for e in range(4)], rtol=1e-15, atol=0)
    assert lrs[0] == 0.1 and opt.param_groups[0]["initial_lr"] == 0.1
    assert_close(sched(2), 0.5, rtol=1e-15, atol=1e-16)


def test_fit_casts_inputs_to_the_model_dtype_and_shows_progress(capsys):
    x, y = digits_subset(40)
    m, opt = make("sgd")
    m.double()
    hist = train.fit(m, data.DataLoader((x, y), batch_size=20), nn.CrossEntropyLoss(), opt,
                     epochs=1, progress=True)
    assert all(p.data.dtype == np.float64 for p in m.parameters())
    assert np.isfinite(hist[0]["train_loss"])
    assert "epoch 1/1" in capsys.readouterr().err  # the tqdm bar went to stderr


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_fit_stops_on_a_diverging_loss():
    x, y = digits_subset(64)
    cr.manual_seed(0)
    m = models.MLP(64, [32], 10)
    m.double()
    opt = optim.SGD(m.parameters(), lr=1e200)
    with pytest.raises(FloatingPointError, match="loss became"):
        train.fit(m, data.DataLoader((x * 1e5, y), batch_size=32), nn.CrossEntropyLoss(), opt,
                  epochs=3, progress=False)
