"""``python -m chainrule train`` with the CNN models and ``--data path.npz`` (tiny budget)."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from chainrule import data, models, train
from chainrule.train.image_data import load_npz, to_cnn_size


def run_cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "chainrule", "train", *args],
                          capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\n"
                             f"stderr:\n{proc.stderr}")
    return proc


def _npz(path, rng, n=24, nt=8, side=32, test=True, classes=3):
    arrays = {"x": rng.integers(0, 256, (n, 3, side, side), dtype=np.uint8),
              "y": rng.integers(0, classes, n)}
    if test:
        arrays["x_test"] = rng.integers(0, 256, (nt, 3, side, side), dtype=np.uint8)
        arrays["y_test"] = rng.integers(0, classes, nt)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("model", ["resnet20", "vgg11", "mobilenet"])
def test_cnn_one_tiny_epoch_on_npz_data(model, tmp_path, rng):
    path = _npz(tmp_path / "d.npz", rng)
    out = tmp_path / "run"
    proc = run_cli("--model", model, "--data", str(path), "--epochs", "1", "--batch-size",
                   "8", "--threads", "1", "--out", str(out), "--no-progress")
    assert "24 train / 8 test" in proc.stdout and f"images from {path}" in proc.stdout
    assert re.fullmatch(r"test accuracy: \d+\.\d%", proc.stdout.strip().splitlines()[-1])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == model and len(metrics["history"]) == 1
    # the checkpoint restores the 3-class model
    m = models.build(model, (3, 32, 32), 3)
    info = train.load_checkpoint(out / "checkpoint.npz", m)
    assert info["epoch"] == 1 and info["extra"]["num_classes"] == 3


def test_npz_without_a_test_split_holds_out_20_percent(tmp_path, rng):
    path = _npz(tmp_path / "d.npz", rng, n=30, test=False, side=8)
    x, y, xt, yt = load_npz(path)
    assert x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert len(x) + len(xt) == 30 and 4 <= len(xt) <= 8 and x.shape[1:] == (3, 8, 8)
    proc = run_cli("--model", "resnet20", "--data", str(path), "--epochs", "1",
                   "--batch-size", "16", "--threads", "1", "--out", str(tmp_path / "r"),
                   "--no-progress")
    assert f"{len(x)} train / {len(xt)} test" in proc.stdout


def test_digits_become_32x32_and_mnist_is_padded():
    x, _ = data.load_digits()
    up = to_cnn_size(x[:5])
    assert up.shape == (5, 1, 32, 32)
    assert np.array_equal(up[:, :, ::4, ::4], x[:5]) and np.array_equal(up[:, :, 3::4, 1::4],
                                                                      x[:5])
    m = np.arange(2 * 28 * 28, dtype=np.float32).reshape(2, 1, 28, 28)
    p = to_cnn_size(m)
    assert p.shape == (2, 1, 32, 32) and np.array_equal(p[:, :, 2:30, 2:30], m)
    assert p[:, :, :2].sum() == 0 and p[:, :, :, 30:].sum() == 0
    big = np.zeros((1, 3, 40, 40), np.float32)
    assert to_cnn_size(big) is big


@pytest.mark.parametrize("make, message", [
    (lambda p, r: np.savez(p, x=np.zeros((4, 1, 8, 8))), "needs arrays 'x' and 'y'"),
    (lambda p, r: np.savez(p, x=np.zeros((4, 8, 8)), y=np.zeros(4, int)), r"images \(N, C, H, W\)"),
    (lambda p, r: np.savez(p, x=np.zeros((4, 1, 8, 8)), y=np.zeros(3, int)), "4 integer labels"),
    (lambda p, r: np.savez(p, x=np.zeros((4, 1, 8, 8)), y=-np.ones(4, int)), "negative labels"),
    (lambda p, r: np.savez(p, x=np.zeros((4, 1, 8, 8)), y=np.zeros(4, int),
                           x_test=np.zeros((2, 1, 8, 8))), "both 'x_test' and 'y_test'"),
])
def test_bad_npz_files_fail_with_one_line(make, message, tmp_path):
    path = tmp_path / "bad.npz"
    make(path, None)
    proc = run_cli("--model", "lenet", "--data", str(path), "--out", str(tmp_path / "r"),
                   check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert re.search(message, proc.stderr), proc.stderr


def test_bad_combinations_are_usage_errors(tmp_path, rng):
    path = _npz(tmp_path / "d.npz", rng, side=16)
    big = _npz(tmp_path / "big.npz", rng, n=4, nt=2, side=40)  # vgg11 needs exactly 32x32
    for args in (["--data", str(tmp_path / "missing.npz")],
                 ["--data", str(path), "--mnist", str(tmp_path)],
                 ["--data", str(big), "--model", "vgg11"]):
        proc = run_cli(*args, "--out", str(tmp_path / "r"), check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.startswith("chainrule train: error: ")
