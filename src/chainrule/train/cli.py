"""``python -m chainrule train``: LeNet-5 (or an MLP / RNN) on the bundled 8x8 digits or
MNIST; argument parsing, data loading, the run folder (checkpoint, metrics.json, curves.png).
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from .loop import cosine_schedule, evaluate, fit

HELP = "train a model on the bundled 8x8 digits"


# ---- the CLI ----------------------------------------------------------------------------------
# per-model defaults for the bundled 8x8 digits (1438 training images); the learning rate
# depends on the optimizer. Tuned for >= 95% test accuracy over several seeds (cosine decay).
DEFAULTS = {
    "lenet": dict(epochs=15, batch_size=32, optimizer="sgd"),
    "mlp": dict(epochs=20, batch_size=32, optimizer="adam"),
    "rnn": dict(epochs=20, batch_size=32, optimizer="adam"),
}
DEFAULT_LR = {("lenet", "sgd"): 0.05, ("lenet", "adam"): 3e-3,
              ("mlp", "sgd"): 0.05, ("mlp", "adam"): 2e-3,
              ("rnn", "sgd"): 0.02, ("rnn", "adam"): 3e-3}


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
    parser.add_argument("--resume", action="store_true",
                        help="continue from DIR/checkpoint.npz in --out if it exists")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


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
    """Run ``python -m chainrule train``; the last line printed is ``test accuracy: NN.N%``."""
    import chainrule as cr
    from .. import data, models, nn, optim

    d = DEFAULTS[args.model]
    epochs = args.epochs if args.epochs is not None else d["epochs"]
    batch_size = args.batch_size if args.batch_size is not None else d["batch_size"]
    opt_name = args.optimizer or d["optimizer"]
    lr = args.lr if args.lr is not None else DEFAULT_LR[(args.model, opt_name)]
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise SystemExit("train: --epochs and --batch-size must be >= 1 and --lr > 0")
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit("train: --threads must be >= 1")
        cr.set_num_threads(args.threads)
    elif not args.mnist:
        cr.set_num_threads(1)
    out = args.out or os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)

    t_start = time.perf_counter()
    if args.mnist:
        x_train, y_train = data.load_mnist(args.mnist, train=True)
        x_test, y_test = data.load_mnist(args.mnist, train=False)
        source = f"MNIST from {args.mnist}"
    else:
        x, y = data.load_digits()
        x_train, x_test, y_train, y_test = data.train_test_split(x, y, test_fraction=0.2, seed=0)
        source = "bundled 8x8 digits (UCI, Alpaydin & Kaynak 1998)"
    # standardize with the training set's statistics (the test set never informs training)
    mean, std = float(x_train.mean()), float(x_train.std())
    x_train = ((x_train - mean) / std).astype(np.float32)
    x_test = ((x_test - mean) / std).astype(np.float32)
    cr.manual_seed(args.seed)
    model = models.build(args.model, x_train.shape[1:], 10)
    if opt_name == "sgd":
        opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    else:
        opt = optim.Adam(model.parameters(), lr=lr)
    loader = data.DataLoader((x_train, y_train), batch_size=batch_size, shuffle=True,
                             seed=args.seed)
    test_loader = data.DataLoader((x_test, y_test), batch_size=256)
    n_params = sum(p.data.size for p in model.parameters())
    nt = cr.get_num_threads()
    print(f"training {args.model} ({n_params} parameters) on {source}: {len(x_train)} train / "
          f"{len(x_test)} test images, {epochs} epochs, batch {batch_size}, {opt_name} "
          f"lr {lr:g} (cosine decay), {nt} thread{'s' if nt != 1 else ''}, seed {args.seed}; "
          f"'val' below is the held-out test split",
          flush=True)
    ckpt = os.path.join(out, "checkpoint.npz")
    history = fit(model, loader, nn.CrossEntropyLoss(), opt, epochs, test_loader,
                  checkpoint=ckpt, resume=args.resume, schedule=cosine_schedule(epochs),
                  progress=False if args.no_progress else None,
                  log=lambda s: print(s, flush=True),
                  extra={"model": args.model, "input_shape": list(x_train.shape[1:]),
                         "input_mean": mean, "input_std": std})
    test = evaluate(model, test_loader, nn.CrossEntropyLoss())
    seconds = time.perf_counter() - t_start
    metrics = {"model": args.model, "data": source, "epochs": epochs, "batch_size": batch_size,
               "optimizer": opt_name, "lr": lr, "lr_schedule": "cosine", "seed": args.seed,
               "input_mean": mean, "input_std": std,
               "threads": cr.get_num_threads(), "parameters": int(n_params),
               "test_loss": test["loss"], "test_accuracy": test["accuracy"],
               "seconds": seconds, "history": history}
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    plotted = _plot(history, os.path.join(out, "curves.png"))
    print(f"wrote {ckpt}, {os.path.join(out, 'metrics.json')}"
          + (f", {os.path.join(out, 'curves.png')}" if plotted else "")
          + f" ({seconds:.1f} s)")
    print(f"test accuracy: {100 * test['accuracy']:.1f}%")
    return 0


add_arguments = add_cli_arguments


def main(args, parser=None) -> int:
    """Entry point of the ``train`` command (see :mod:`chainrule.__main__`)."""
    return cli_main(args)
