"""The 2-layer GCN on the bundled karate club and ``python -m chainrule train --model gcn``."""
import json
import re
import subprocess
import sys

import numpy as np

import chainrule as cr
from chainrule import graph, models, nn, optim, train


def run_cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "chainrule", "train", "--model", "gcn",
                           "--no-progress", *args], capture_output=True, text=True,
                          timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_karate_club_is_zacharys_graph():
    g = graph.load_graph()
    und = {tuple(sorted(e)) for e in g["edge_index"].T.tolist()}
    assert len(und) == 78 and g["edge_index"].shape == (2, 156)
    deg = graph.degree(g["edge_index"][1], 34)
    assert deg[0] == 16 and deg[33] == 17 and deg[32] == 12 and deg.sum() == 156
    assert np.bincount(g["y"]).tolist() == [17, 17] and g["y"][0] == 0 and g["y"][33] == 1
    masks = g["train_mask"].astype(int) + g["val_mask"] + g["test_mask"]
    assert (masks == 1).all() and g["train_mask"].sum() == 4


def test_gcn_learns_the_karate_factions_from_four_labels():
    g = graph.load_graph()
    cr.manual_seed(0)
    model = models.GCN(34, 16, 2)
    opt = optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    x, tr = cr.tensor(g["x"]), np.flatnonzero(g["train_mask"])
    for _ in range(100):
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(model(x, g["edge_index"])[tr], g["y"][tr])
        loss.backward()
        opt.step()
    pred = model(x, g["edge_index"]).array.argmax(1)
    unlabelled = ~g["train_mask"]
    assert (pred[unlabelled] == g["y"][unlabelled]).mean() >= 0.85


def test_train_cli_gcn_karate_and_resume(tmp_path):
    out = tmp_path / "run"
    proc = run_cli("--epochs", "60", "--out", str(out))
    lines = proc.stdout.strip().splitlines()
    m = re.fullmatch(r"test accuracy: (\d+\.\d)%", lines[-1])
    assert m and float(m.group(1)) >= 85.0, proc.stdout
    assert any(line.startswith("epoch 60/60") for line in lines)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "gcn" and len(metrics["history"]) == 60
    model = models.GCN(34, 16, 2)
    assert train.load_checkpoint(out / "checkpoint.npz", model)["epoch"] == 60
    proc = run_cli("--epochs", "70", "--out", str(out), "--resume", "--force")
    assert "epoch 70/70" in proc.stdout
    assert len(json.loads((out / "metrics.json").read_text())["history"]) == 70


def test_train_cli_gcn_on_a_user_graph(tmp_path):
    rng = np.random.default_rng(0)
    n = 40  # two dense communities joined by one edge; no x: one-hot node ids
    y = np.repeat([0, 1], n // 2)
    pairs = [(i, j) for i in range(n) for j in range(i) if y[i] == y[j] and rng.random() < 0.3]
    ei = np.array(pairs + [(0, n - 1)]).T
    ei = np.concatenate([ei, ei[::-1]], 1)
    mask = np.zeros(n, bool)
    tr, va, te = mask.copy(), mask.copy(), mask.copy()
    tr[[0, n - 1]] = True
    va[1:6] = True
    te[6:n - 1] = True
    path = tmp_path / "g.npz"
    np.savez(path, edge_index=ei, y=y, train_mask=tr, val_mask=va, test_mask=te)
    proc = run_cli("--graph", str(path), "--epochs", "100", "--out", str(tmp_path / "r"))
    assert float(proc.stdout.strip().splitlines()[-1].split()[-1][:-1]) >= 80.0
    np.savez(path, edge_index=np.array([[0, 1], [1, 50]]), y=y, train_mask=tr, val_mask=va,
             test_mask=te)
    proc = run_cli("--graph", str(path), "--out", str(tmp_path / "r2"), check=False)
    assert proc.returncode == 1 and "outside [0, 40)" in proc.stderr
    proc = run_cli("--graph", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "r3"),
                   check=False)
    assert proc.returncode == 2 and "--graph" in proc.stderr
