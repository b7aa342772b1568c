"""nn.utils.rnn (pad_sequence, pack_padded_sequence, pad_packed_sequence, PackedSequence)
and nn.RNN / LSTM / GRU on packed input: against PyTorch (forward and gradients), against
each sequence run alone, finite differences, 1 vs 2 threads, bad input."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.utils import rnn as R

from helpers import HAVE_TORCH, assert_close, assert_grad_close, numerical_grad

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
MODES = ["RNN", "LSTM", "GRU"]


def _grad(t):
    return np.asarray(getattr(t.grad, "array", t.grad))


def _model(mode, I, H, L=2, bidirectional=True, batch_first=False, seed=0):
    cr.manual_seed(seed)
    return getattr(nn, mode)(I, H, L, bidirectional=bidirectional, batch_first=batch_first,
                             dtype=np.float64)


def _run(m, mode, x, lengths, enforce_sorted, batch_first=False, hx=None):
    out, hn = m(R.pack_padded_sequence(x, lengths, batch_first, enforce_sorted), hx)
    hn, cn = hn if mode == "LSTM" else (hn, None)
    y, ylen = R.pad_packed_sequence(out, batch_first)
    return y, ylen, hn, cn


@needs_torch
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("enforce_sorted, lengths", [(True, [5, 3, 3, 1]),
                                                     (False, [3, 5, 1, 3, 2])])
@pytest.mark.parametrize("batch_first, bidirectional, with_h0", [(False, True, False),
                                                                (True, False, True)])
def test_packed_matches_torch(rng, mode, enforce_sorted, lengths, batch_first, bidirectional,
                              with_h0):
    import torch
    I, H, L, B, T = 3, 5, 2, len(lengths), max(lengths)
    m = _model(mode, I, H, L, bidirectional, batch_first)
    tm = getattr(torch.nn, mode)(I, H, L, bidirectional=bidirectional,
                                 batch_first=batch_first).double()
    with torch.no_grad():
        for n, p in m.named_parameters():
            getattr(tm, n).copy_(torch.tensor(p.array))
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I))
    D = 2 if bidirectional else 1
    hx = thx = None
    if with_h0:
        h0 = [rng.standard_normal((L * D, B, H)) for _ in range(2 if mode == "LSTM" else 1)]
        hx = tuple(cr.tensor(h, requires_grad=True) for h in h0)
        thx = tuple(torch.tensor(h, requires_grad=True) for h in h0)
        hx, thx = (hx, thx) if mode == "LSTM" else (hx[0], thx[0])
    xt, tx = cr.tensor(x.copy(), requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ylen, hn, cn = _run(m, mode, xt, np.array(lengths), enforce_sorted, batch_first, hx)
    tpk = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first,
                                                  enforce_sorted)
    tout, thn = tm(tpk, thx)
    thn, tcn = thn if mode == "LSTM" else (thn, None)
    ty, tlen = torch.nn.utils.rnn.pad_packed_sequence(tout, batch_first)
    np.testing.assert_array_equal(ylen, tlen.numpy())
    assert_close(y.array, ty.detach().numpy(), name="output")
    assert_close(hn.array, thn.detach().numpy(), name="h_n")
    gy, gh = rng.standard_normal(y.shape), rng.standard_normal(hn.shape)
    loss = (y * cr.tensor(gy)).sum() + (hn * cr.tensor(gh)).sum()
    tloss = (ty * torch.tensor(gy)).sum() + (thn * torch.tensor(gh)).sum()
    if cn is not None:
        assert_close(cn.array, tcn.detach().numpy(), name="c_n")
        loss = loss + cn.sum()
        tloss = tloss + tcn.sum()
    loss.backward()
    tloss.backward()
    assert_close(_grad(xt), tx.grad.numpy(), name="dx")
    for n, p in m.named_parameters():
        assert_close(_grad(p), getattr(tm, n).grad.numpy(), name=n)
    if with_h0:
        for a, b in zip(hx if mode == "LSTM" else (hx,), thx if mode == "LSTM" else (thx,)):
            assert_close(_grad(a), b.grad.numpy(), name="dh0")


@pytest.mark.parametrize("mode", MODES)
def test_each_sequence_as_if_alone(rng, mode):
    """Padding past a sequence's end never reaches its outputs, state or gradients."""
    m = _model(mode, 2, 4)
    lengths = [4, 2, 3]
    x = rng.standard_normal((4, 3, 2))
    x_garbage = x.copy()
    for b, n in enumerate(lengths):
        x_garbage[n:, b] = 1e3  # padding that would blow up any state it touched
    y, _, hn, _ = _run(m, mode, x_garbage, lengths, False)
    for b, n in enumerate(lengths):
        yb, hb = m(x[:n, b])  # unbatched, just this sequence
        hb = hb[0] if mode == "LSTM" else hb
        assert_close(y.array[:n, b], yb.array, name=f"output of sequence {b}")
        assert not y.array[n:, b].any()
        assert_close(hn.array[:, b], hb.array, name=f"h_n of sequence {b}")


def test_packed_finite_differences(rng):
    m = _model("LSTM", 2, 3, L=1)
    lengths = [2, 3]
    x = rng.standard_normal((3, 2, 2))
    g = rng.standard_normal((3, 2, 6))
    xt = cr.tensor(x.copy(), requires_grad=True)
    (_run(m, "LSTM", xt, lengths, False)[0] * cr.tensor(g)).sum().backward()
    num = numerical_grad(lambda v: _run(m, "LSTM", v, lengths, False)[0].array, x.copy(), g)
    assert_grad_close(_grad(xt), num)
    assert not _grad(xt)[2, 0].any()  # a padding step gets no gradient


def test_one_and_two_threads_bitwise(rng):
    m = _model("GRU", 7, 33)
    x = rng.standard_normal((9, 24, 7))
    lengths = rng.integers(1, 10, 24)
    res = []
    for nt in (1, 2):
        cr.set_num_threads(nt)
        xt = cr.tensor(x.copy(), requires_grad=True)
        y, _, hn, _ = _run(m, "GRU", xt, lengths, False)
        (y.sum() + hn.sum()).backward()
        res.append((y.array, hn.array, _grad(xt)))
        m.zero_grad()
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)


@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_sequence_and_round_trip_match_torch(rng, batch_first):
    import torch
    seqs = [rng.standard_normal((n, 3)) for n in (2, 5, 1)]
    ts = [cr.tensor(s.copy(), requires_grad=True) for s in seqs]
    p = R.pad_sequence(ts, batch_first, padding_value=-1.5)
    tp = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first, -1.5)
    np.testing.assert_array_equal(p.array, tp.numpy())
    pk = R.pack_sequence(ts, enforce_sorted=False)
    tpk = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(pk.data.array, tpk.data.numpy())
    np.testing.assert_array_equal(pk.sorted_indices, tpk.sorted_indices.numpy())
    np.testing.assert_array_equal(pk.unsorted_indices, tpk.unsorted_indices.numpy())
    y, lens = R.pad_packed_sequence(pk, batch_first, padding_value=7.0, total_length=6)
    ty, tlens = torch.nn.utils.rnn.pad_packed_sequence(tpk, batch_first, 7.0, 6)
    np.testing.assert_array_equal(y.array, ty.numpy())
    np.testing.assert_array_equal(lens, tlens.numpy())
    g = rng.standard_normal(y.shape)
    (y * cr.tensor(g)).sum().backward()
    for i, (t, s) in enumerate(zip(ts, seqs)):
        want = g[i, :len(s)] if batch_first else g[:len(s), i]
        np.testing.assert_array_equal(_grad(t), want)


@pytest.mark.parametrize("call, exc, words", [
    (lambda x: R.pack_padded_sequence(x, [1, 3]), ValueError, "decreasing"),
    (lambda x: R.pack_padded_sequence(x, [4, 3], enforce_sorted=False), ValueError, r"\[1, 3\]"),
    (lambda x: R.pack_padded_sequence(x, [3, 0]), ValueError, "length"),
    (lambda x: R.pack_padded_sequence(x, [3, 2, 1]), ValueError, "one entry per sequence"),
    (lambda x: R.pack_padded_sequence(x, [3.5, 1]), TypeError, "lengths"),
    (lambda x: R.pad_packed_sequence(x), TypeError, "PackedSequence"),
    (lambda x: R.pad_packed_sequence(R.pack_padded_sequence(x, [3, 2]), total_length=2),
     ValueError, "total_length"),
    (lambda x: R.pad_sequence([x[0], x[0, :, :1]]), ValueError, "sequence 1"),
    (lambda x: R.pad_sequence([]), ValueError, "empty"),
    (lambda x: nn.GRU(4, 2)(R.pack_padded_sequence(x, [3, 2])), ValueError, r"\(\*, 4\)"),
    (lambda x: nn.LSTM(2, 2, dtype=np.float64)(R.pack_padded_sequence(x, [3, 2]),
                                               np.zeros((1, 2, 2))), TypeError, "tuple"),
])
def test_bad_input(call, exc, words):
    x = cr.tensor(np.ones((3, 2, 2)))
    with pytest.raises(exc, match=words):
        call(x)
