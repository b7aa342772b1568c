"""cr.save / cr.load: round trips of state dicts, optimizer states and nested structures,
and one clear error for damaged or foreign files (nothing is ever unpickled)."""
import pickle
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import Tensor
from chainrule.serialization import SerializationError


def _eq(a, b):
    if isinstance(b, Tensor):
        assert type(a) is type(b)
        assert a.dtype == b.dtype and np.array_equal(np.asarray(a), np.asarray(b))
        assert a.requires_grad == b.requires_grad
    elif isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    elif isinstance(b, dict):
        assert type(a) is dict and list(a) == list(b)
        for k in b:
            _eq(a[k], b[k])
    elif isinstance(b, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _eq(x, y)
    else:
        assert type(a) is type(b) and a == b


def test_nested_round_trip(tmp_path):
    from chainrule.autograd.function import const
    obj = {"w": cr.tensor(np.arange(6.0).reshape(2, 3)), "i": const(np.arange(4)),
           "p": nn.Parameter(np.ones(3, np.float32)), 3: [1, 2.5, None, "s", True],
           "t": (np.float64(2.0), np.zeros((0, 2), np.float32), {"deep": [(1,)]})}
    cr.save(obj, tmp_path / "a.pt")
    back = cr.load(tmp_path / "a.pt")
    obj["t"] = (np.asarray(np.float64(2.0)), obj["t"][1], obj["t"][2])
    assert back["t"][0] == 2.0
    back["t"] = (np.asarray(back["t"][0]),) + back["t"][1:]
    _eq(back, obj)
    assert isinstance(back["p"], nn.Parameter) and back["i"].dtype == np.int64


def test_model_and_optimizer_state_round_trip(tmp_path):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    model(x).sum().backward()
    opt.step()
    cr.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 3},
            str(tmp_path / "ck.pt"))
    ck = cr.load(str(tmp_path / "ck.pt"), map_location="cpu", weights_only=True)
    model2 = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    model2.load_state_dict(ck["model"])
    opt2 = cr.optim.Adam(model2.parameters(), lr=1e-2)
    opt2.load_state_dict(ck["opt"])
    assert ck["epoch"] == 3
    for o, m in ((opt, model), (opt2, model2)):
        o.zero_grad()
        m(x).sum().backward()
        o.step()
    for p, q in zip(model.parameters(), model2.parameters()):
        assert np.array_equal(p.array, q.array)


def test_damaged_and_foreign_files_raise_one_clear_error(tmp_path):
    p = tmp_path / "m.pt"
    cr.save({"w": np.arange(100.0)}, p)
    raw = p.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(raw[:len(raw) // 2])
    (tmp_path / "flip.pt").write_bytes(raw[:200] + bytes([raw[200] ^ 0xFF]) + raw[201:])
    (tmp_path / "pickle.pt").write_bytes(pickle.dumps({"w": 1}))
    (tmp_path / "empty.pt").write_bytes(b"")
    with zipfile.ZipFile(tmp_path / "foreign.pt", "w") as z:
        z.writestr("data.pkl", b"\x80\x02}q\x00.")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    for name in ("trunc.pt", "flip.pt", "pickle.pt", "empty.pt", "foreign.pt", "plain.npz"):
        with pytest.raises(SerializationError, match="load: "):
            cr.load(tmp_path / name)


def test_torch_file_is_rejected_not_unpickled(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.zeros(3)}, tmp_path / "t.pt")
    with pytest.raises(SerializationError, match="load: .*t.pt"):
        cr.load(tmp_path / "t.pt")


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="save: cannot store a set"):
        cr.save({"a": {1, 2}}, tmp_path / "x.pt")
    with pytest.raises(TypeError, match="save: f must be a file path"):
        cr.save({}, object())
    with pytest.raises(ValueError, match="save: chainrule never pickles"):
        cr.save({}, tmp_path / "x.pt", pickle_module=pickle)
    cr.save({}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="load: map_location must be 'cpu'"):
        cr.load(tmp_path / "x.pt", map_location="cuda:0")
    assert cr.load(tmp_path / "x.pt", map_location=lambda s, loc: s) == {}
