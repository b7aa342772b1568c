"""chainrule.models' sequence models (seqmodels.py): the tied-weight LSTM language model,
the (bidirectional GRU / LSTM) sequence classifiers. Against PyTorch twins with the same
attribute names (a torch state dict loads directly): outputs, states and every gradient;
the weight tie itself; packed input; shapes and errors."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import models, nn
from chainrule.nn.utils import rnn as R

from helpers import HAVE_TORCH, assert_close

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")


def _torch_lm(V, E, H, L, tie):
    import torch

    class TorchLM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            proj = E if tie and H > E else 0
            self.encoder = torch.nn.Embedding(V, E)
            self.rnn = torch.nn.LSTM(E, H, L, proj_size=proj)
            self.decoder = torch.nn.Linear(E if tie else H, V)
            if tie:
                self.decoder.weight = self.encoder.weight

        def forward(self, tokens, hidden=None):
            out, hidden = self.rnn(self.encoder(tokens), hidden)
            return self.decoder(out), hidden

    return TorchLM().double()


def test_language_model_ties_the_decoder_to_the_embedding():
    cr.manual_seed(0)
    m = models.LanguageModel(30, 8)
    assert m.decoder.weight is m.encoder.weight
    names = [n for n, _ in m.named_parameters()]
    assert "decoder.weight" not in names and names.count("encoder.weight") == 1
    sd = m.state_dict()
    assert "decoder.weight" in sd and np.array_equal(sd["decoder.weight"], sd["encoder.weight"])
    m.double()
    assert m.decoder.weight is m.encoder.weight and m.decoder.weight.dtype == np.float64
    tokens = np.array([[1, 2], [3, 4], [5, 6]])
    logits, _ = m(tokens)
    logits.sum().backward()
    g = m.encoder.weight.grad.array
    assert np.abs(g[7:]).max() > 0  # rows never looked up still get the decoder's gradient
    untied = models.LanguageModel(30, 8, 12, tie_weights=False)
    assert untied.decoder.weight is not untied.encoder.weight
    assert untied.decoder.weight.shape == (30, 12) and untied.rnn.proj_size == 0
    proj = models.LanguageModel(30, 8, 12)
    assert proj.rnn.proj_size == 8 and proj.rnn.weight_hr_l1.shape == (8, 12)


@needs_torch
@pytest.mark.parametrize("H, tie", [(None, True), (14, True), (14, False)])
def test_language_model_matches_torch_twin(rng, H, tie):
    import torch
    V, E, L, T, N = 23, 6, 2, 7, 3
    cr.manual_seed(1)
    m = models.LanguageModel(V, E, H, L, tie_weights=tie).double()
    tm = _torch_lm(V, E, H or E, L, tie)
    m.load_state_dict(tm.state_dict())
    assert list(m.state_dict()) == list(tm.state_dict())
    tokens = rng.integers(0, V, (T, N))
    Hc = H or E
    h0 = (rng.standard_normal((L, N, E if tie else Hc)), rng.standard_normal((L, N, Hc)))
    hx = tuple(cr.tensor(a, requires_grad=True) for a in h0)
    thx = tuple(torch.tensor(a, requires_grad=True) for a in h0)
    y, (hn, cn) = m(tokens, hx)
    ty, (thn, tcn) = tm(torch.from_numpy(tokens), thx)
    assert_close(y.array, ty.detach().numpy(), name="logits")
    assert_close(hn.array, thn.detach().numpy(), name="h_n")
    assert_close(cn.array, tcn.detach().numpy(), name="c_n")
    target = rng.integers(0, V, (T * N,))
    loss = nn.CrossEntropyLoss()(y.reshape(T * N, V), target) + (cn * cn).sum()
    tloss = torch.nn.functional.cross_entropy(ty.reshape(T * N, V), torch.from_numpy(target)) \
        + (tcn * tcn).sum()
    loss.backward()
    tloss.backward()
    assert_close(loss.item(), tloss.item(), name="loss")
    for n, p in m.named_parameters():
        assert_close(p.grad.array, dict(tm.named_parameters())[n].grad.numpy(), name=n)
    for a, b, n in zip(hx, thx, ("h0", "c0")):
        assert_close(a.grad.array, b.grad.numpy(), name=n)


def _torch_classifier(cell, I, H, C, L, bidirectional):
    import torch

    class TorchClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            D = 2 if bidirectional else 1
            self.rnn = getattr(torch.nn, cell)(I, H, L, batch_first=True,
                                               bidirectional=bidirectional)
            self.fc = torch.nn.Linear(D * H, C)
            self.D, self.H = D, H

        def forward(self, x):
            _, h = self.rnn(x)
            h = h[0] if cell == "LSTM" else h
            top = h[h.shape[0] - self.D:]
            return self.fc(top.transpose(0, 1).reshape(h.shape[1], self.D * self.H))

    return TorchClassifier().double()


@needs_torch
@pytest.mark.parametrize("kind", ["bigru", "lstm", "bigru2"])
def test_classifiers_match_torch_twins(rng, kind):
    import torch
    I, H, C, N, T = 5, 6, 4, 3, 7
    L = 2 if kind == "bigru2" else 1
    if kind.startswith("bigru"):
        m = models.BiGRUClassifier(I, H, C, num_layers=L)
        tm = _torch_classifier("GRU", I, H, C, L, True)
    else:
        m = models.SequenceClassifier(I, H, C, cell="lstm")
        tm = _torch_classifier("LSTM", I, H, C, 1, False)
    m.double().load_state_dict(tm.state_dict())
    x = rng.standard_normal((N, T, I))
    xt, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(xt), tm(tx)
    assert_close(y.array, ty.detach().numpy(), name="logits")
    gy = rng.standard_normal((N, C))
    (y * gy).sum().backward()
    (ty * torch.from_numpy(gy)).sum().backward()
    assert_close(xt.grad.array, tx.grad.numpy(), name="dx")
    for n, p in m.named_parameters():
        assert_close(p.grad.array, dict(tm.named_parameters())[n].grad.numpy(), name=n)


@needs_torch
def test_bigru_classifier_on_packed_input_matches_torch(rng):
    import torch
    I, H, C = 3, 4, 2
    m = models.BiGRUClassifier(I, H, C).double()
    tm = _torch_classifier("GRU", I, H, C, 1, True)
    m.load_state_dict(tm.state_dict())
    x, lengths = rng.standard_normal((4, 6, I)), [6, 2, 5, 1]
    y = m(R.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    ty = tm(torch.nn.utils.rnn.pack_padded_sequence(torch.from_numpy(x), torch.tensor(lengths),
                                                    batch_first=True, enforce_sorted=False))
    assert_close(y.array, ty.detach().numpy(), name="logits")
    alone = m(x[1:2, :2])  # the padding past a sequence's length does not matter
    assert_close(y.array[1:2], alone.array, name="sequence 1 alone")


def test_classifier_reads_images_row_by_row_and_errors():
    cr.manual_seed(0)
    m = models.BiGRUClassifier()
    img = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(m(img).array, m(img[:, 0]).array)
    assert m(img).shape == (2, 10)
    with pytest.raises(ValueError, match="steps have 7 features"):
        m(np.zeros((2, 8, 7), np.float32))
    with pytest.raises(ValueError, match="expected sequences"):
        m(np.zeros((8, 8), np.float32))
    with pytest.raises(ValueError, match="cell must be one of"):
        models.SequenceClassifier(cell="cnn")
    with pytest.raises(ValueError, match="tie_weights the hidden_size"):
        models.LanguageModel(10, 8, 4)
    with pytest.raises(ValueError, match=r"expected token ids \(T, N\)"):
        models.LanguageModel(10, 4)(np.zeros(3, np.int64))
    assert isinstance(models.build_sequence_model("lstm"), models.SequenceClassifier)
    assert isinstance(models.build_sequence_model("gru"), models.BiGRUClassifier)
    with pytest.raises(ValueError, match="unknown model"):
        models.build_sequence_model("tcn")


def test_language_model_learns_a_periodic_text_with_carried_state():
    """Next-token prediction on 0 1 2 3 4 0 1 2 ...: the tied model trains (loss from
    ~log 5 to near 0) with the state carried (detached) across chunks."""
    from chainrule import optim
    cr.manual_seed(0)
    m = models.LanguageModel(5, 8, num_layers=2)
    opt = optim.Adam(m.parameters(), lr=0.03)
    text = np.tile(np.arange(5), 40).reshape(-1, 2, order="F")  # (100, 2): two streams
    losses = []
    for epoch in range(6):
        hidden = None
        for s in range(0, 99, 11):
            x, y = text[s:s + 11], text[s + 1:s + 12]
            x = x[:len(y)]
            opt.zero_grad()
            logits, hidden = m(x, hidden)
            loss = nn.CrossEntropyLoss()(logits.reshape(-1, 5), y.reshape(-1))
            loss.backward()
            opt.step()
            hidden = tuple(h.detach() for h in hidden)
            losses.append(loss.item())
    assert losses[0] > 1.2 and np.mean(losses[-5:]) < 0.1, losses[::9]
