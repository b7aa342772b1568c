"""Sequence models of chainrule.models (re-exported there): recurrent nets on nn.LSTM /
nn.GRU / nn.RNN.

- :class:`RecurrentRegressor` -- an RNN, GRU or LSTM plus a Linear head on every step,
  ``forward(x, h0) -> (y, h_n)`` (an LSTM's h_n is ``(h_n, c_n)``), the shape
  :func:`chainrule.train.fit_sequence` trains with truncated BPTT.
- :class:`SequenceClassifier` -- reads a sequence (or an image row by row) with an LSTM /
  GRU / RNN and classifies from the top layer's final state(s); :class:`BiGRUClassifier`
  is its bidirectional-GRU form.
- :class:`LanguageModel` -- embedding, a 2-layer LSTM and a decoder whose weight is the
  embedding's (tied, Press & Wolf 2017; Inan et al. 2017), word- or character-level.

Every model has the attribute names of a PyTorch twin (tests/test_seqmodels.py builds
them), so a PyTorch state dict loads directly.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import nn

__all__ = ["RecurrentRegressor", "SequenceClassifier", "BiGRUClassifier", "LanguageModel",
           "build_sequence_model"]

_CELLS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def _positive_int(cls, name, v):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{cls}: {name} must be a positive int, got {v!r}")
    return int(v)


def _cell(cls, cell):
    if not isinstance(cell, str) or cell.lower() not in _CELLS:
        raise ValueError(f"{cls}: cell must be one of {sorted(_CELLS)}, got {cell!r}")
    return _CELLS[cell.lower()]


class RecurrentRegressor(nn.Module):
    """``RecurrentRegressor(input_size, hidden_size=32, output_size=1, cell='lstm',
    num_layers=1)``: ``rnn`` = nn.LSTM / nn.GRU / nn.RNN(input_size, hidden_size,
    num_layers) (time-major) and ``head`` = Linear(hidden_size, output_size) on every step.

    ``forward(x, h0=None) -> (y, h_n)``: x (T, N, input_size); h0 the module's state (an
    LSTM's ``(h0, c0)``) or None for zeros; y (T, N, output_size).
    """

    def __init__(self, input_size, hidden_size=32, output_size=1, cell="lstm", num_layers=1):
        super().__init__()
        name = "RecurrentRegressor"
        self.input_size = _positive_int(name, "input_size", input_size)
        self.hidden_size = _positive_int(name, "hidden_size", hidden_size)
        self.output_size = _positive_int(name, "output_size", output_size)
        self.cell = _cell(name, cell)
        self.rnn = getattr(nn, self.cell)(self.input_size, self.hidden_size,
                                          _positive_int(name, "num_layers", num_layers))
        self.head = nn.Linear(self.hidden_size, self.output_size)

    def forward(self, x, h0=None):
        if len(tuple(x.shape)) != 3:
            raise ValueError(f"RecurrentRegressor: expected a time-major sequence (T, N, "
                             f"{self.input_size}), got shape {tuple(x.shape)}")
        hs, h_n = self.rnn(x, h0)
        return self.head(hs), h_n


class SequenceClassifier(nn.Module):
    """``SequenceClassifier(input_size=8, hidden_size=64, num_classes=10, cell='lstm',
    num_layers=1, bidirectional=False, dropout=0.0)``: ``rnn`` (batch_first) then ``fc`` =
    Linear(D * hidden_size, num_classes) on the top layer's final hidden state(s) (forward
    and, if bidirectional, reverse, concatenated).

    ``forward(x)``: x (N, T, input_size), images (N, 1, H, W) read row by row (H steps of
    W = input_size features), or a batch_first PackedSequence (variable lengths: each
    sequence's own last step) -> logits (N, num_classes).
    """

    def __init__(self, input_size=8, hidden_size=64, num_classes=10, cell="lstm",
                 num_layers=1, bidirectional=False, dropout=0.0):
        super().__init__()
        name = type(self).__name__
        self.input_size = _positive_int(name, "input_size", input_size)
        self.hidden_size = _positive_int(name, "hidden_size", hidden_size)
        num_classes = _positive_int(name, "num_classes", num_classes)
        self.cell = _cell(name, cell)
        self.directions = 2 if bidirectional else 1
        self.rnn = getattr(nn, self.cell)(
            self.input_size, self.hidden_size, _positive_int(name, "num_layers", num_layers),
            batch_first=True, dropout=dropout, bidirectional=bool(bidirectional))
        self.fc = nn.Linear(self.directions * self.hidden_size, num_classes)

    def forward(self, x):
        from .nn.utils.rnn import PackedSequence
        name = type(self).__name__
        if not isinstance(x, PackedSequence):
            shape = tuple(x.shape)
            if len(shape) == 4 and shape[1] == 1:
                x = x.reshape(shape[0], shape[2], shape[3])
            elif len(shape) != 3:
                raise ValueError(f"{name}: expected sequences (N, T, I), images (N, 1, H, W) "
                                 f"or a PackedSequence, got shape {shape}")
            if x.shape[-1] != self.input_size:
                raise ValueError(f"{name}: steps have {x.shape[-1]} features, the "
                                 f"{self.cell} expects input_size={self.input_size}")
        _, h_n = self.rnn(x)
        if self.cell == "LSTM":
            h_n = h_n[0]
        D, n = self.directions, h_n.shape[1]
        top = h_n[h_n.shape[0] - D:]                      # (D, N, H), the last layer
        return self.fc(top.transpose(0, 1).reshape(n, D * self.hidden_size))


class BiGRUClassifier(SequenceClassifier):
    """``BiGRUClassifier(input_size=8, hidden_size=64, num_classes=10, num_layers=1,
    dropout=0.0)``: a :class:`SequenceClassifier` on a bidirectional GRU; ``fc`` reads
    [h_n forward, h_n reverse] of the top layer (PyTorch twin: nn.GRU(..., batch_first=True,
    bidirectional=True) and nn.Linear(2 * hidden_size, num_classes))."""

    def __init__(self, input_size=8, hidden_size=64, num_classes=10, num_layers=1,
                 dropout=0.0):
        super().__init__(input_size, hidden_size, num_classes, "gru", num_layers, True,
                         dropout)


class LanguageModel(nn.Module):
    """``LanguageModel(vocab_size, embed_size=64, hidden_size=None, num_layers=2,
    dropout=0.0, tie_weights=True)``: ``encoder`` = Embedding(vocab_size, embed_size),
    ``rnn`` = nn.LSTM(embed_size, hidden_size, num_layers, dropout=dropout), ``decoder`` =
    Linear(embed_size, vocab_size) whose ``weight`` IS ``encoder.weight`` (one Parameter
    under both keys, as in PyTorch's word_language_model). hidden_size defaults to
    embed_size; a larger one is projected back with the LSTM's ``proj_size=embed_size``
    (so the tie still fits); without ``tie_weights`` the decoder is Linear(hidden_size,
    vocab_size). Dropout (training mode) also applies to the embeddings and the LSTM's
    output.

    ``forward(tokens, hidden=None) -> (logits, (h_n, c_n))``: tokens (T, N) integer ids
    (time-major), logits (T, N, vocab_size); pass ``hidden`` (detached) to continue a text.
    """

    def __init__(self, vocab_size, embed_size=64, hidden_size=None, num_layers=2,
                 dropout=0.0, tie_weights=True):
        super().__init__()
        name = "LanguageModel"
        self.vocab_size = _positive_int(name, "vocab_size", vocab_size)
        self.embed_size = _positive_int(name, "embed_size", embed_size)
        self.hidden_size = _positive_int(name, "hidden_size", hidden_size or embed_size)
        if hidden_size is not None and tie_weights and self.hidden_size < self.embed_size:
            raise ValueError(f"{name}: with tie_weights the hidden_size ({hidden_size}) must "
                             f"be at least embed_size ({embed_size})")
        proj = self.embed_size if tie_weights and self.hidden_size > self.embed_size else 0
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(self.vocab_size, self.embed_size)
        self.rnn = nn.LSTM(self.embed_size, self.hidden_size,
                           _positive_int(name, "num_layers", num_layers), dropout=dropout,
                           proj_size=proj)
        out = self.embed_size if tie_weights else self.hidden_size
        self.decoder = nn.Linear(out, self.vocab_size)
        if tie_weights:
            self.decoder.weight = self.encoder.weight
        self.tie_weights = bool(tie_weights)

    def forward(self, tokens, hidden=None):
        if len(tuple(tokens.shape)) != 2:
            raise ValueError(f"LanguageModel: expected token ids (T, N), got shape "
                             f"{tuple(tokens.shape)}")
        emb = self.drop(self.encoder(tokens))
        out, hidden = self.rnn(emb, hidden)
        return self.decoder(self.drop(out)), hidden


def build_sequence_model(name, input_shape=(1, 8, 8), num_classes=10):
    """The CLI's sequence models: 'lstm' (an LSTM classifier, hidden 64) or 'gru' (a
    bidirectional GRU classifier, hidden 64) reading (C=1, H, W) images row by row."""
    c, h, w = input_shape
    if c != 1:
        raise ValueError(f"build_sequence_model: the {name} model reads one-channel images, "
                         f"got {c} channels")
    if name == "lstm":
        return SequenceClassifier(w, 64, num_classes, "lstm")
    if name == "gru":
        return BiGRUClassifier(w, 64, num_classes)
    raise ValueError(f"build_sequence_model: unknown model {name!r}; choose 'lstm' or 'gru'")
