"""``python -m chainrule train`` end to end on a tiny budget."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from chainrule import data, models, train


def run_cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "chainrule", "train", *args],
                          capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\n"
                             f"stderr:\n{proc.stderr}")
    return proc


def test_train_cli_mlp_one_epoch(tmp_path):
    out = tmp_path / "run"
    proc = run_cli("--model", "mlp", "--epochs", "1", "--threads", "1", "--seed", "3",
                   "--out", str(out))
    lines = proc.stdout.strip().splitlines()
    m = re.fullmatch(r"test accuracy: (\d+\.\d)%", lines[-1])
    assert m, f"last line is {lines[-1]!r}"
    assert any(line.startswith("epoch 1/1") for line in lines)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "mlp" and metrics["epochs"] == 1 and metrics["seed"] == 3
    assert metrics["threads"] == 1 and len(metrics["history"]) == 1
    assert float(m.group(1)) == round(100 * metrics["test_accuracy"], 1)
    assert metrics["test_accuracy"] > 0.5  # one epoch of an MLP on the digits is far above chance
    # the checkpoint restores the trained model
    model = models.build("mlp", (1, 8, 8))
    info = train.load_checkpoint(out / "checkpoint.npz", model)
    assert info["epoch"] == 1 and info["extra"]["model"] == "mlp"
    # with the stored normalization the checkpoint reproduces the reported test accuracy
    x, y = data.load_digits()
    _, x_test, _, y_test = data.train_test_split(x, y, test_fraction=0.2, seed=0)
    x_test = (x_test - info["extra"]["input_mean"]) / info["extra"]["input_std"]
    ev = train.evaluate(model, data.DataLoader((x_test.astype(np.float32), y_test), 100))
    assert ev["accuracy"] == metrics["test_accuracy"]
    try:
        import matplotlib  # noqa: F401
        assert (out / "curves.png").stat().st_size > 1000
    except ImportError:
        assert not (out / "curves.png").exists()


def test_train_cli_resume_continues(tmp_path):
    out = tmp_path / "run"
    run_cli("--model", "mlp", "--epochs", "1", "--out", str(out), "--threads", "1")
    # more epochs change the cosine schedule: --resume refuses that unless --force
    proc = run_cli("--model", "mlp", "--epochs", "2", "--out", str(out), "--resume",
                   "--threads", "1", "--force")
    assert "epoch 2/2" in proc.stdout and "epoch 1/2" not in proc.stdout
    assert len(json.loads((out / "metrics.json").read_text())["history"]) == 2


def test_train_cli_on_mnist_format_files(tmp_path, rng):
    # a tiny fake MNIST (random pixels, 3 classes) written as IDX files
    for prefix, n in (("train", 48), ("t10k", 16)):
        data.save_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz",
                      rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        data.save_idx(tmp_path / f"{prefix}-labels-idx1-ubyte",
                      rng.integers(0, 3, n, dtype=np.uint8))
    proc = run_cli("--model", "lenet", "--epochs", "1", "--batch-size", "16", "--mnist",
                   str(tmp_path), "--out", str(tmp_path / "run"), "--threads", "1")
    assert "MNIST" in proc.stdout and "48 train / 16 test" in proc.stdout
    assert re.fullmatch(r"test accuracy: \d+\.\d%", proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["--epochs", "0"], ["--lr", "-1"], ["--model", "vgg"],
                                  ["--optimizer", "rmsprop"]])
def test_train_cli_rejects_bad_arguments(tmp_path, args):
    proc = run_cli(*args, "--out", str(tmp_path / "r"), check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr


def _has_rnn():
    from chainrule import nn
    try:
        nn.RNN(2, 2)
        return True
    except NotImplementedError:
        return False


@pytest.mark.skipif(not _has_rnn(), reason="nn.RNN not merged yet")
def test_train_cli_rnn_one_epoch(tmp_path):
    proc = run_cli("--model", "rnn", "--epochs", "1", "--out", str(tmp_path), "--threads", "1")
    acc = float(re.fullmatch(r"test accuracy: (\d+\.\d)%", proc.stdout.strip().splitlines()[-1])
                .group(1))
    assert acc > 30.0  # one epoch reading rows already beats chance (10%) by far
