"""``python -m chainrule train``: LeNet-5 (or an MLP / RNN / LSTM / bidirectional GRU, the
recurrent ones reading the images row by row, or the CNNs resnet20 / vgg11 / mobilenet on
32x32 inputs) on the bundled 8x8 digits, MNIST or ``--data path.npz`` (see image_data.py);
argument parsing, data loading, the run folder (checkpoint, metrics.json, curves.png).

Expected failures print one line ``chainrule train: error: ...`` to stderr, no traceback:
exit status 2 when the command line is wrong (bad values, a missing --mnist folder, an
unwritable --out, nothing to --resume, changed hyper-parameters on --resume without
--force), 1 when a file or the run fails (damaged checkpoint or data, a diverging loss, an
I/O error), 130 on Ctrl-C (the checkpoint of the last finished epoch stays resumable).
Inputs and the output folder are checked before training starts.
"""
from __future__ import annotations

import glob
import json
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np

from .checkpoint import CheckpointError, open_checkpoint, save_checkpoint
from .loop import cosine_schedule, evaluate, fit

HELP = "train a model on the bundled 8x8 digits"
PREFIX = "chainrule train"

# per-model defaults for the bundled 8x8 digits (1438 training images); the learning rate
# depends on the optimizer. Tuned for >= 95% test accuracy over several seeds (cosine decay).
DEFAULTS: dict[str, dict[str, Any]] = {
    "lenet": dict(epochs=15, batch_size=32, optimizer="sgd"),
    "mlp": dict(epochs=20, batch_size=32, optimizer="adam"),
    "rnn": dict(epochs=20, batch_size=32, optimizer="adam"),
    "gcn": dict(epochs=200, batch_size=1, optimizer="adam"),  # full batch: one step per epoch
    "lstm": dict(epochs=20, batch_size=32, optimizer="adam"),  # rows as steps: seqmodels.py
    "gru": dict(epochs=20, batch_size=32, optimizer="adam"),   # bidirectional GRU
    # CNNs with batch norm on 32x32 inputs (the digits upsampled 4x, see image_data.py);
    # 3 epochs already reached 92.8-97.2% test accuracy on the digits (seed 0)
    "resnet20": dict(epochs=5, batch_size=64, optimizer="sgd"),
    "vgg11": dict(epochs=5, batch_size=64, optimizer="sgd"),
    "mobilenet": dict(epochs=5, batch_size=64, optimizer="sgd"),
}
DEFAULT_LR = {("lenet", "sgd"): 0.05, ("lenet", "adam"): 3e-3,
              ("mlp", "sgd"): 0.05, ("mlp", "adam"): 2e-3,
              ("rnn", "sgd"): 0.02, ("rnn", "adam"): 3e-3,
              ("gcn", "sgd"): 0.1, ("gcn", "adam"): 0.01,
              ("lstm", "sgd"): 0.05, ("lstm", "adam"): 5e-3,
              ("gru", "sgd"): 0.05, ("gru", "adam"): 5e-3}
for _m in ("resnet20", "vgg11", "mobilenet"):
    DEFAULT_LR[(_m, "sgd")], DEFAULT_LR[(_m, "adam")] = 0.05, 2e-3
CNN_MODELS = ("resnet20", "vgg11", "mobilenet")


def add_cli_arguments(parser) -> None:
    """Options of ``python -m chainrule train``."""
    parser.add_argument("--model", choices=sorted(DEFAULTS), default="lenet",
                        help="network to train (default: lenet)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (model default)")
    parser.add_argument("--batch-size", type=int, default=None, help="batch size (default 32)")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (model default)")
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default=None,
                        help="sgd (momentum 0.9) or adam (model default)")
    parser.add_argument("--threads", type=int, default=None,
                        help="kernel threads (default: 1 for the tiny 8x8 digits, where "
                             "thread start-up costs more than it saves; chainrule's default, "
                             "i.e. OMP_NUM_THREADS, for --mnist)")
    parser.add_argument("--seed", type=int, default=0, help="seed for init and shuffling")
    parser.add_argument("--out", default=None,
                        help="output folder (default ./runs/<timestamp>)")
    parser.add_argument("--mnist", default=None, metavar="DIR",
                        help="train on MNIST IDX files in DIR instead of the bundled digits")
    parser.add_argument("--data", default=None, metavar="NPZ",
                        help="train on images from an .npz: x (N, C, H, W) float or uint8, y "
                             "(N,) int labels, optionally x_test/y_test (else 20%% held out); "
                             "resnet20/vgg11/mobilenet get inputs below 32x32 upsampled or "
                             "padded to 32x32")
    parser.add_argument("--graph", default=None, metavar="NPZ",
                        help="with --model gcn: a graph .npz (x, edge_index, y, train_mask, "
                             "val_mask, test_mask) instead of the bundled karate club")
    parser.add_argument("--resume", action="store_true",
                        help="continue from checkpoint.npz in --out (default: the latest run "
                             "under ./runs); the hyper-parameters must be the same")
    parser.add_argument("--force", action="store_true",
                        help="with --resume: continue even if hyper-parameters changed")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--distributed", action="store_true",
                        help="data-parallel over MPI: launch as `mpiexec -n 2 python -m "
                             "chainrule train --distributed` (pip install 'chainrule[dist]'); "
                             "each rank trains on its slice of every batch with the node's "
                             "cores shared out, rank 0 prints and writes the run folder")


class CLIError(Exception):
    """An expected failure: one line on stderr and exit status ``code``."""

    def __init__(self, message, code=2):
        super().__init__(message)
        self.code = code


def _error(message) -> None:
    print(f"{PREFIX}: error: {message}", file=sys.stderr, flush=True)


def _settings(args) -> dict:
    """The hyper-parameters of this run (a resumed run must use the same)."""
    d = DEFAULTS[args.model]
    opt_name = args.optimizer or d["optimizer"]
    s = {"model": args.model,
         "epochs": args.epochs if args.epochs is not None else d["epochs"],
         "batch_size": args.batch_size if args.batch_size is not None else d["batch_size"],
         "optimizer": opt_name,
         "lr": args.lr if args.lr is not None else DEFAULT_LR[(args.model, opt_name)],
         "seed": args.seed,
         "data": os.path.abspath(args.mnist) if args.mnist else "digits"}
    if getattr(args, "data", None):
        if args.mnist:
            raise CLIError("--data and --mnist exclude each other")
        s["data"] = os.path.abspath(args.data)
    if args.model == "gcn":
        graph = getattr(args, "graph", None)
        s["data"] = os.path.abspath(graph) if graph else "karate"
    if s["epochs"] < 1 or s["batch_size"] < 1 or not s["lr"] > 0:
        raise CLIError("--epochs and --batch-size must be >= 1 and --lr > 0")
    if args.threads is not None and args.threads < 1:
        raise CLIError("--threads must be >= 1")
    return s


def _latest_run(root="runs"):
    found = glob.glob(os.path.join(root, "*", "checkpoint.npz"))
    if not found:
        raise CLIError(f"--resume without --out: no run with a checkpoint.npz under "
                       f"./{root}; pass --out DIR")
    return os.path.dirname(max(found, key=os.path.getmtime))


def _check_resume(ckpt, settings, force) -> int:
    """The epoch stored in ``ckpt``; refuses changed hyper-parameters unless ``force``."""
    if not os.path.isfile(ckpt):
        raise CLIError(f"--resume: no checkpoint at {ckpt}")
    with open_checkpoint(ckpt, fn="--resume") as r:
        epoch, extra = r.meta["epoch"], r.meta["extra"]
    saved = extra.get("settings") or {"model": extra.get("model")}
    changed = [k for k in settings if k in saved and saved[k] != settings[k]]
    if changed and not force:
        was = ", ".join(f"{k}={saved[k]}" for k in changed)
        now = ", ".join(f"{k}={settings[k]}" for k in changed)
        raise CLIError(f"--resume: {ckpt} was trained with {was}, this run asks {now} "
                       f"(pass --force to continue anyway)")
    return epoch


def _load_data(args):
    from .. import data
    if getattr(args, "data", None):
        from .image_data import load_npz
        if not os.path.isfile(args.data):
            raise CLIError(f"--data {args.data}: no such file")
        try:
            return load_npz(args.data) + (f"images from {args.data}",)
        except (OSError, ValueError, EOFError) as e:
            raise CLIError(f"cannot read --data: {e}", 1) from None
    if not args.mnist:
        x, y = data.load_digits()
        x_train, x_test, y_train, y_test = data.train_test_split(x, y, test_fraction=0.2,
                                                                 seed=0)
        return x_train, y_train, x_test, y_test, \
            "bundled 8x8 digits (UCI, Alpaydin & Kaynak 1998)"
    if not os.path.isdir(args.mnist):
        raise CLIError(f"--mnist {args.mnist}: no such folder")
    try:
        x_train, y_train = data.load_mnist(args.mnist, train=True)
        x_test, y_test = data.load_mnist(args.mnist, train=False)
    except FileNotFoundError as e:
        raise CLIError(f"--mnist {args.mnist}: {e}") from None
    except (OSError, ValueError, EOFError) as e:
        raise CLIError(f"--mnist {args.mnist}: cannot read the data ({e})", 1) from None
    return x_train, y_train, x_test, y_test, f"MNIST from {args.mnist}"


def _prepare_out(out) -> None:
    """Create ``out`` and prove it is writable, before any training."""
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise CLIError(f"--out {out}: cannot write there ({e.strerror or e})") from None


def _plot(history, path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    ep = [h["epoch"] for h in history]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    a1.plot(ep, [h["train_loss"] for h in history], label="train")
    if history and history[0].get("val_loss") is not None:
        a1.plot(ep, [h["val_loss"] for h in history], label="test")
    a1.set_xlabel("epoch")
    a1.set_ylabel("cross-entropy")
    a1.legend()
    a2.plot(ep, [100 * h["train_accuracy"] for h in history], label="train")
    if history and history[0].get("val_accuracy") is not None:
        a2.plot(ep, [100 * h["val_accuracy"] for h in history], label="test")
    a2.set_xlabel("epoch")
    a2.set_ylabel("accuracy (%)")
    a2.legend()
    from matplotlib.ticker import MaxNLocator
    for a in (a1, a2):
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def cli_main(args) -> int:
    """Run ``python -m chainrule train``; the last line printed is ``test accuracy: NN.N%``.
    Returns the exit status; expected failures print one line to stderr."""
    try:
        return _run(args)
    except CLIError as e:
        _error(e)
        return e.code
    except CheckpointError as e:
        _error(e)
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130


def _start_distributed(args):
    """init_process_group for --distributed; returns (rank, print for rank 0 only)."""
    from .. import distributed as dist
    if not dist.is_available():
        raise CLIError("--distributed needs mpi4py and an MPI library: pip install "
                       "'chainrule[dist]'")
    if not dist.is_initialized():
        dist.init_process_group("mpi", timeout=600)
    rank = dist.get_rank()
    return rank, (print if rank == 0 else (lambda *a, **k: None))


def _run(args) -> int:
    import chainrule as cr
    from .. import data, models, nn, optim

    rank, say = 0, print
    distributed = getattr(args, "distributed", False)
    if distributed:
        rank, say = _start_distributed(args)
    settings = _settings(args)
    epochs, batch_size, lr = settings["epochs"], settings["batch_size"], settings["lr"]
    opt_name = settings["optimizer"]
    if args.resume and not args.out:
        out = _latest_run()
    else:
        out = args.out or os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))
    if distributed:  # rank 0's clock names the run folder
        from ..distributed._comm import broadcast_object
        out = broadcast_object(out)
    ckpt = os.path.join(out, "checkpoint.npz")
    done = _check_resume(ckpt, settings, getattr(args, "force", False)) if args.resume else 0
    if args.threads is not None:
        cr.set_num_threads(args.threads)
    elif not (args.mnist or getattr(args, "data", None) or args.model in CNN_MODELS):
        cr.set_num_threads(1)
    elif distributed:  # the ranks on this node share its cores
        from ..distributed._comm import local_world_size
        cr.set_num_threads(max(1, cr.get_num_threads() // local_world_size()))

    if args.model == "gcn":
        from .graph import run_gcn
        return run_gcn(args, settings, out, ckpt, _prepare_out, CLIError)
    t_start = time.perf_counter()
    x_train, y_train, x_test, y_test, source = _load_data(args)
    _prepare_out(out)
    if args.model in CNN_MODELS:  # 32x32 inputs (the digits upsampled 4x, MNIST padded)
        from .image_data import to_cnn_size
        side = x_train.shape[2:]
        x_train, x_test = to_cnn_size(x_train), to_cnn_size(x_test)
        if x_train.shape[2:] != side:
            source += f", {side[0]}x{side[1]} brought to {x_train.shape[2]}x{x_train.shape[3]}"
    if args.model == "vgg11" and x_train.shape[2:] != (32, 32):
        raise CLIError(f"--model vgg11 needs 32x32 images (5 max pools), got "
                       f"{x_train.shape[2]}x{x_train.shape[3]}")
    num_classes = 10  # the digits and MNIST; --data: the largest label + 1
    if getattr(args, "data", None):
        num_classes = max(2, int(np.concatenate([y_train, y_test]).max()) + 1)
    # standardize with the training set's statistics (the test set never informs training)
    mean, std = float(x_train.mean()), float(x_train.std())
    x_train = ((x_train - mean) / std).astype(np.float32)
    x_test = ((x_test - mean) / std).astype(np.float32)
    cr.manual_seed(args.seed)
    build = models.build_sequence_model if args.model in ("lstm", "gru") else models.build
    try:
        model = build(args.model, x_train.shape[1:], num_classes)
    except ValueError as e:
        raise CLIError(f"--model {args.model}: {e}") from None
    opt: optim.Optimizer
    if opt_name == "sgd":
        wd = 5e-4 if args.model in CNN_MODELS else 0.0  # He et al.'s CIFAR setting
        opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=wd)
    else:
        opt = optim.Adam(model.parameters(), lr=lr)
    loader = data.DataLoader((x_train, y_train), batch_size=batch_size, shuffle=True,
                             seed=args.seed)
    test_loader = data.DataLoader((x_test, y_test), batch_size=256)
    n_params = sum(p.array.size for p in model.parameters())
    nt = cr.get_num_threads()
    say(f"training {args.model} ({n_params} parameters) on {source}: {len(x_train)} train / "
          f"{len(x_test)} test images, {epochs} epochs, batch {batch_size}, {opt_name} "
          f"lr {lr:g} (cosine decay), {nt} thread{'s' if nt != 1 else ''}, seed {args.seed}; "
          f"'val' below is the held-out test split",
          flush=True)
    extra = {"model": args.model, "input_shape": list(x_train.shape[1:]),
             "num_classes": num_classes,
             "input_mean": mean, "input_std": std, "settings": settings}
    if args.resume:
        say(f"resuming {ckpt}: {done} of {epochs} epochs done", flush=True)
    elif rank == 0:  # so that a Ctrl-C during the first epoch leaves a resumable checkpoint
        save_checkpoint(ckpt, model, opt, 0, loader, [], extra)
    try:
        history = fit(model, loader, nn.CrossEntropyLoss(), opt, epochs, test_loader,
                      checkpoint=ckpt, resume=args.resume, schedule=cosine_schedule(epochs),
                      progress=False if args.no_progress else None,
                      log=lambda s: print(s, flush=True), extra=extra,
                      distributed=distributed)
    except KeyboardInterrupt:
        with open_checkpoint(ckpt, fn="interrupted") as r:
            saved = r.meta["epoch"]
        raise CLIError(f"interrupted; {ckpt} holds epoch {saved} of {epochs}: continue with "
                       f"--resume --out {out}", 130) from None
    except FloatingPointError as e:
        raise CLIError(str(e), 1) from None
    except OSError as e:
        raise CLIError(f"while training: {e}", 1) from None
    test = evaluate(model, test_loader, nn.CrossEntropyLoss())
    seconds = time.perf_counter() - t_start
    metrics = {"model": args.model, "data": source, "epochs": epochs, "batch_size": batch_size,
               "optimizer": opt_name, "lr": lr, "lr_schedule": "cosine", "seed": args.seed,
               "input_mean": mean, "input_std": std,
               "threads": cr.get_num_threads(), "parameters": int(n_params),
               "test_loss": test["loss"], "test_accuracy": test["accuracy"],
               "seconds": seconds, "history": history}
    if rank != 0:  # rank 0 writes the results
        return 0
    if distributed:
        from .. import distributed as dist
        metrics["ranks"] = dist.get_world_size()
    try:
        with open(os.path.join(out, "metrics.json"), "w") as f:
            json.dump(metrics, f, indent=2)
        plotted = _plot(history, os.path.join(out, "curves.png"))
    except OSError as e:
        raise CLIError(f"cannot write the results: {e}", 1) from None
    if not plotted:
        print("curves.png skipped: matplotlib is not installed (pip install matplotlib)")
    print(f"wrote {ckpt}, {os.path.join(out, 'metrics.json')}"
          + (f", {os.path.join(out, 'curves.png')}" if plotted else "")
          + f" ({seconds:.1f} s)", flush=True)
    _warn_if_chance(test["accuracy"], y_test)
    print(f"test accuracy: {100 * test['accuracy']:.1f}%")
    return 0


def _warn_if_chance(accuracy, y_test) -> None:
    """One warning line when the accuracy is no better than always guessing the most
    frequent class (plus half of it): the run did not learn."""
    share = np.bincount(np.asarray(y_test)).max() / len(y_test)
    if accuracy < 1.5 * share:
        print(f"{PREFIX}: warning: test accuracy {100 * accuracy:.1f}% is at chance level "
              f"(the most frequent class is {100 * share:.1f}% of the test set): the model "
              f"did not learn; try a smaller --lr or a larger --batch-size",
              file=sys.stderr, flush=True)


add_arguments = add_cli_arguments


def main(args, parser=None) -> int:
    """Entry point of the ``train`` command (see :mod:`chainrule.__main__`)."""
    return cli_main(args)
