"""chainrule.train — the training loop, evaluation, checkpoints and the ``train`` CLI.

- :func:`fit` trains for a number of epochs with a tqdm progress bar (loss, accuracy,
  samples/s), optionally evaluating on a validation loader after each epoch and writing
  a checkpoint after each epoch; ``resume=True`` continues from that checkpoint.
- :func:`evaluate` returns mean loss and accuracy over a loader without building graphs.
- :func:`fit_sequence` trains a sequence model ``model(x, h0) -> (y, h_n)`` on long
  sequences with truncated backpropagation through time; :func:`evaluate_sequence` is its
  evaluation.
- :func:`save_checkpoint` / :func:`load_checkpoint`: one file, no pickle, written
  atomically, validated before any array is read (:class:`CheckpointError`); resuming is
  bitwise identical to training straight through.
- ``python -m chainrule train``: LeNet-5 (or an MLP / RNN) on the bundled 8x8 digits.

Layout: ``loop.py`` (the epoch scaffold shared by both loops, :func:`fit`, :func:`evaluate`),
``sequence.py`` (truncated BPTT), ``checkpoint.py`` and ``cli.py``.
"""
from __future__ import annotations

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .cli import add_cli_arguments, cli_main
from .loop import cosine_schedule, evaluate, fit
from .sequence import evaluate_sequence, fit_sequence

__all__ = ["fit", "evaluate", "fit_sequence", "evaluate_sequence", "cosine_schedule",
           "save_checkpoint", "load_checkpoint", "CheckpointError",
           "add_cli_arguments", "cli_main"]
