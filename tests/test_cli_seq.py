"""``python -m chainrule train --model lstm|gru``: the digits read row by row (8 steps of 8
features) by an LSTM / a bidirectional GRU, end to end on a tiny budget; the checkpoint
restores the model and reproduces the reported accuracy."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from chainrule import data, models, train


@pytest.mark.parametrize("model, cls", [("lstm", "SequenceClassifier"),
                                        ("gru", "BiGRUClassifier")])
def test_train_cli_recurrent_two_epochs(tmp_path, model, cls):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "chainrule", "train", "--model", model,
                           "--epochs", "2", "--threads", "1", "--no-progress", "--out",
                           str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith(f"training {model} (")
    acc = float(re.fullmatch(r"test accuracy: (\d+\.\d)%", lines[-1]).group(1))
    assert acc > 50.0  # two epochs reading rows: far above chance (10%)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == model and len(metrics["history"]) == 2
    net = models.build_sequence_model(model, (1, 8, 8))
    assert type(net).__name__ == cls
    info = train.load_checkpoint(out / "checkpoint.npz", net)
    assert info["epoch"] == 2
    x, y = data.load_digits()
    _, x_test, _, y_test = data.train_test_split(x, y, test_fraction=0.2, seed=0)
    x_test = (x_test - info["extra"]["input_mean"]) / info["extra"]["input_std"]
    ev = train.evaluate(net, data.DataLoader((x_test.astype(np.float32), y_test), 100))
    assert ev["accuracy"] == metrics["test_accuracy"]
