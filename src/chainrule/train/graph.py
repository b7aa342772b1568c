"""``python -m chainrule train --model gcn``: semi-supervised node classification, full
batch, on the bundled karate club or a ``--graph path.npz`` (see chainrule.graph.load_graph);
the same run folder, progress lines, per-epoch checkpoint and --resume as the image models."""
from __future__ import annotations

import json
import os
import time

import numpy as np

from .loop import cosine_schedule, run_epochs


def _accuracy(out, y, idx):
    return float((out[idx].argmax(1) == y[idx]).mean()) if len(idx) else None


def run_gcn(args, settings, out, ckpt, prepare_out, error_cls) -> int:
    import chainrule as cr
    from .. import graph, models, nn, optim
    from .checkpoint import save_checkpoint

    t_start = time.perf_counter()
    try:
        g = graph.load_graph(args.graph)
    except FileNotFoundError as e:
        raise error_cls(f"--graph {args.graph}: {e}") from None
    except (OSError, ValueError, TypeError, EOFError) as e:
        raise error_cls(f"--graph {args.graph}: cannot read the graph ({e})", 1) from None
    prepare_out(out)
    x, ei, y = cr.tensor(g["x"]), g["edge_index"], g["y"]
    tr, va, te = (np.flatnonzero(g[k]) for k in ("train_mask", "val_mask", "test_mask"))
    if not len(tr):
        raise error_cls("the graph has no training nodes (train_mask is all False)")
    cr.manual_seed(args.seed)
    model = models.GCN(x.shape[1], 16, int(y.max()) + 1)
    lr, epochs = settings["lr"], settings["epochs"]
    opt = (optim.SGD(model.parameters(), lr=lr, momentum=0.9) if settings["optimizer"] == "sgd"
           else optim.Adam(model.parameters(), lr=lr, weight_decay=5e-4))
    loss_fn = nn.CrossEntropyLoss()
    source = "karate club (Zachary 1977)" if args.graph is None else args.graph
    n_params = sum(p.array.size for p in model.parameters())
    print(f"training gcn ({n_params} parameters) on {source}: {y.shape[0]} nodes, "
          f"{ei.shape[1]} edges, {len(tr)} train / {len(va)} val / {len(te)} test nodes, "
          f"{epochs} epochs (full batch), {settings['optimizer']} lr {lr:g} (cosine decay), "
          f"seed {args.seed}", flush=True)
    extra = {"model": "gcn", "settings": settings}
    if not args.resume:
        save_checkpoint(ckpt, model, opt, 0, None, [], extra)

    def train_epoch(epoch, desc, show, t0):
        opt.zero_grad()
        logits = model(x, ei)
        loss = loss_fn(logits[tr], y[tr])
        loss.backward()
        opt.step()
        lv = float(loss.item())
        if not np.isfinite(lv):
            raise FloatingPointError(f"gcn: loss became {lv} at epoch {epoch + 1}")
        return {"train_loss": lv, "train_accuracy": _accuracy(logits.array, y, tr),
                "seconds": time.perf_counter() - t0}

    def evaluate(idx):
        with cr.no_grad():
            logits = model(x, ei)
        return (float(loss_fn(logits[idx], y[idx]).item()) if len(idx) else None,
                _accuracy(logits.array, y, idx))

    def validate():
        loss, acc = evaluate(va)
        return {"val_loss": loss, "val_accuracy": acc}

    every = max(1, epochs // 10)

    def line(rec, total):
        e = rec["epoch"]
        s = f"epoch {e:>{len(str(total))}}/{total} loss {rec['train_loss']:.4f} " \
            f"acc {100 * rec['train_accuracy']:5.1f}%"
        if rec.get("val_accuracy") is not None:
            s += f" val loss {rec['val_loss']:.4f} val acc {100 * rec['val_accuracy']:5.1f}%"
        return s if (e % every == 0 or e == total) else None

    history = run_epochs(model, opt, epochs, train_epoch,
                         validate=validate if len(va) else None, line=line, checkpoint=ckpt,
                         resume=args.resume, schedule=cosine_schedule(epochs),
                         log=lambda s: s is not None and print(s, flush=True), extra=extra)
    test_loss, test_acc = evaluate(te)
    seconds = time.perf_counter() - t_start
    metrics = {"model": "gcn", "data": source, "epochs": epochs, "lr": lr,
               "optimizer": settings["optimizer"], "seed": args.seed,
               "parameters": int(n_params), "test_loss": test_loss, "test_accuracy": test_acc,
               "seconds": seconds, "history": history}
    try:
        with open(os.path.join(out, "metrics.json"), "w") as f:
            json.dump(metrics, f, indent=2)
    except OSError as e:
        raise error_cls(f"cannot write the results: {e}", 1) from None
    print(f"wrote {ckpt}, {os.path.join(out, 'metrics.json')} ({seconds:.1f} s)", flush=True)
    print(f"test accuracy: {100 * (test_acc or 0):.1f}%")
    return 0
