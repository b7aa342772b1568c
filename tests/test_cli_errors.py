"""``python -m chainrule train`` fails politely: one line ``chainrule train: error: ...`` on
stderr, no traceback, exit 2 (command line), 1 (a file or the run failed) or 130 (Ctrl-C);
inputs and --out are checked before training; --resume says what it resumes and refuses
changed hyper-parameters unless --force."""
import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

import chainrule

FAST = ["--model", "mlp", "--epochs", "1", "--threads", "1", "--no-progress"]


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "chainrule", "train", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def assert_fails(proc, code, match):
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("chainrule train: error: "), proc.stderr
    assert re.search(match, lines[0]), lines[0]
    assert "epoch 1/" not in proc.stdout  # refused before training
    return lines[0]


def test_version():
    proc = subprocess.run([sys.executable, "-m", "chainrule", "--version"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"chainrule {chainrule.__version__}"


def test_usage_errors_are_one_line(tmp_path):
    assert_fails(run("--model", "vgg", "--out", str(tmp_path / "r")), 2,
                 r"argument --model: invalid choice: 'vgg'")
    assert_fails(run("--epochs", "0", "--out", str(tmp_path / "r")), 2, "--epochs")
    assert not (tmp_path / "r").exists()


def test_missing_mnist_folder_or_files_before_creating_out(tmp_path):
    out = tmp_path / "run"
    assert_fails(run(*FAST, "--mnist", str(tmp_path / "nope"), "--out", str(out)), 2,
                 r"--mnist .*nope: no such folder")
    (tmp_path / "empty").mkdir()
    assert_fails(run(*FAST, "--mnist", str(tmp_path / "empty"), "--out", str(out)), 2,
                 r"no train-images-idx3-ubyte")
    assert not out.exists()
    (tmp_path / "bad").mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (tmp_path / "bad" / name).write_bytes(b"\x00\x00\x08\x03garbage")
    assert_fails(run(*FAST, "--mnist", str(tmp_path / "bad"), "--out", str(out)), 1,
                 r"cannot read the data")


def test_unwritable_out_is_refused_before_training(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    assert_fails(run(*FAST, "--out", str(tmp_path / "file" / "run")), 2,
                 r"--out .*file/run: cannot write there")


def test_resume_without_a_checkpoint_is_an_error(tmp_path):
    assert_fails(run(*FAST, "--resume", "--out", str(tmp_path / "r")), 2,
                 r"--resume: no checkpoint at .*r/checkpoint.npz")
    assert not (tmp_path / "r").exists()
    assert_fails(run(*FAST, "--resume", cwd=tmp_path), 2,
                 r"--resume without --out: no run with a checkpoint.npz under ./runs")


def test_resume_without_out_picks_the_latest_run(tmp_path):
    for name in ("b", "a"):  # "a" is written last, so it is the latest
        assert run(*FAST, "--out", f"runs/{name}", cwd=tmp_path).returncode == 0
    proc = run(*FAST, "--resume", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"resuming {os.path.join('runs', 'a', 'checkpoint.npz')}: 1 of 1 epochs done" \
        in proc.stdout


@pytest.mark.parametrize("change, shown", [
    (["--epochs", "2"], "epochs=1, this run asks epochs=2"),
    (["--lr", "0.01"], "lr=0.002, this run asks lr=0.01"),
    (["--optimizer", "sgd"], "optimizer=adam, lr=0.002, this run asks optimizer=sgd, lr=0.05"),
    (["--batch-size", "16"], "batch_size=32, this run asks batch_size=16"),
    (["--seed", "4"], "seed=0, this run asks seed=4"),
    (["--model", "lenet"], "model=mlp, optimizer=adam, lr=0.002, this run asks model=lenet, "
                           "optimizer=sgd, lr=0.05"),
])
def test_resume_refuses_changed_hyper_parameters(tmp_path, change, shown):
    out = str(tmp_path / "r")
    assert run(*FAST, "--out", out).returncode == 0
    args = FAST + change  # argparse: the last occurrence wins
    assert_fails(run(*args, "--resume", "--out", out), 2,
                 re.escape(shown) + r" \(pass --force to continue anyway\)")


def test_resume_with_force_and_damaged_checkpoints(tmp_path):
    out = tmp_path / "r"
    assert run(*FAST, "--out", str(out)).returncode == 0
    proc = run(*FAST, "--epochs", "2", "--resume", "--force", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "1 of 2 epochs done" in proc.stdout and "epoch 2/2" in proc.stdout
    assert "epoch 1/2" not in proc.stdout
    # --force with another model: the checkpoint does not fit it
    assert_fails(run(*FAST, "--model", "lenet", "--resume", "--force", "--out", str(out)), 1,
                 r"does not fit")
    ck = out / "checkpoint.npz"
    ck.write_bytes(ck.read_bytes()[:500])
    line = assert_fails(run(*FAST, "--resume", "--force", "--out", str(out)), 1,
                        r"--resume: .*checkpoint.npz is not a chainrule checkpoint")
    assert "allow_pickle" not in line
    np.savez(ck, a=np.zeros(3))
    assert_fails(run(*FAST, "--resume", "--out", str(out)), 1,
                 r"not a chainrule checkpoint \(no 'meta'\)")


def test_chance_accuracy_and_divergence_are_reported(tmp_path):
    proc = run(*FAST, "--optimizer", "sgd", "--lr", "5", "--out", str(tmp_path / "a"))
    assert proc.returncode == 0
    warn = [ln for ln in proc.stderr.splitlines() if "warning" in ln]
    assert len(warn) == 1 and re.fullmatch(r"chainrule train: warning: test accuracy \d+\.\d% "
                                           r"is at chance level .*", warn[0])
    assert proc.stdout.strip().splitlines()[-1].startswith("test accuracy: ")
    good = run(*FAST, "--out", str(tmp_path / "b"))
    assert "warning" not in good.stderr
    proc = run(*FAST, "--optimizer", "sgd", "--lr", "30", "--out", str(tmp_path / "c"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert re.fullmatch(r"chainrule train: error: fit: loss became nan at epoch 1 .*\n",
                        proc.stderr)


def test_missing_matplotlib_is_said(tmp_path):
    try:
        import matplotlib  # noqa: F401
        pytest.skip("matplotlib is installed")
    except ImportError:
        pass
    proc = run(*FAST, "--out", str(tmp_path))
    assert "curves.png skipped: matplotlib is not installed" in proc.stdout


def test_ctrl_c_writes_a_resumable_checkpoint(tmp_path):
    args = ["--model", "mlp", "--epochs", "40", "--batch-size", "256", "--threads", "1",
            "--no-progress", "--seed", "2"]
    straight = run(*args, "--out", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr
    out = tmp_path / "cut"
    # a shell that starts CI in the background ignores SIGINT, and children inherit that:
    # give the child the default disposition so Python installs its KeyboardInterrupt handler
    proc = subprocess.Popen([sys.executable, "-m", "chainrule", "train", *args, "--out",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in proc.stdout:
        if line.startswith("epoch  2/40"):
            proc.send_signal(signal.SIGINT)
            break
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (rest, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    m = re.fullmatch(r"chainrule train: error: interrupted; .*checkpoint.npz holds epoch "
                     r"(\d+) of 40: continue with --resume --out .*cut\n", err)
    assert m and 1 <= int(m.group(1)) < 40, err  # epoch 2 may still be being saved
    resumed = run(*args, "--resume", "--out", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert f"{m.group(1)} of 40 epochs done" in resumed.stdout
    want = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    got = json.loads((out / "metrics.json").read_text())
    assert got["test_accuracy"] == want["test_accuracy"]
    assert got["test_loss"] == want["test_loss"]  # bit for bit: the same final model
    assert [h["train_loss"] for h in got["history"]] == \
        [h["train_loss"] for h in want["history"]]
    with np.load(out / "checkpoint.npz") as a, \
            np.load(tmp_path / "straight" / "checkpoint.npz") as b:
        for k in a.files:
            if k != "meta":
                assert np.array_equal(a[k], b[k]), k


def test_subcommand_table_dispatches_bench():
    from chainrule.__main__ import COMMANDS
    assert set(COMMANDS) >= {"train", "bench"}
    proc = subprocess.run([sys.executable, "-m", "chainrule", "bench", "nosuch"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert re.fullmatch(r"chainrule bench: error: unknown bench families \['nosuch'\].*\n",
                        proc.stderr)
