"""Checkpoint files and chainrule.serialization: round trips, and one clear CheckpointError
(a ValueError) for each kind of damage, raised before any array is read."""
import io
import json
import os
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule import models, optim, serialization, train
from chainrule.train import CheckpointError


def make(seed=0):
    cr.manual_seed(seed)
    m = models.MLP(64, [16], 10)
    return m, optim.Adam(m.parameters(), lr=1e-3)


@pytest.fixture
def ckpt(tmp_path):
    m, opt = make()
    x = np.random.default_rng(0).standard_normal((8, 64)).astype(np.float32)
    opt.zero_grad()
    cr.nn.CrossEntropyLoss()(m(x), np.arange(8) % 10).backward()
    opt.step()
    path = tmp_path / "c.npz"
    train.save_checkpoint(path, m, opt, epoch=3, history=[{"epoch": 1}], extra={"k": 1})
    return path


def members(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def meta_of(path):
    with np.load(path, allow_pickle=False) as z:
        return json.loads(str(z["meta"]))


def rewrite(path, out, meta=None, drop=(), add=None, compress=zipfile.ZIP_STORED):
    """Copy the archive ``path`` to ``out`` with a new manifest / members dropped or added."""
    mem = members(path)
    if meta is not None:
        f = io.BytesIO()
        np.save(f, np.array(meta if isinstance(meta, str) else json.dumps(meta)))
        mem["meta.npy"] = f.getvalue()
    for d in drop:
        del mem[d]
    mem.update(add or {})
    with zipfile.ZipFile(out, "w", compress) as zf:
        for name, data in mem.items():
            zf.writestr(name, data)
    return out


def npy_bytes(a, allow_pickle=False):
    f = io.BytesIO()
    np.save(f, a, allow_pickle=allow_pickle)
    return f.getvalue()


def load_error(path, match):
    m, opt = make(1)
    with pytest.raises(CheckpointError, match=match) as info:
        train.load_checkpoint(path, m, opt)
    msg = str(info.value)
    assert "allow_pickle" not in msg and str(path) in msg and "\n" not in msg
    return msg


# ---- round trips --------------------------------------------------------------------------------
def test_checkpoint_manifest_lists_every_array(ckpt):
    meta = meta_of(ckpt)
    assert meta["version"] == 2 and meta["epoch"] == 3
    with np.load(ckpt, allow_pickle=False) as z:
        assert set(meta["arrays"]) == set(z.files) - {"meta"}
        for name, entry in meta["arrays"].items():
            assert z[name].dtype.str == entry["dtype"] and list(z[name].shape) == entry["shape"]


def test_version_1_checkpoints_still_load(tmp_path, ckpt):
    # the layout chainrule 0.1 wrote: np.savez, no 'arrays' table in the manifest
    meta = meta_of(ckpt)
    del meta["arrays"]
    meta["version"] = 1
    with np.load(ckpt, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
    old = tmp_path / "old.npz"
    np.savez(old, meta=np.array(json.dumps(meta)), **arrays)
    m, opt = make(7)
    info = train.load_checkpoint(old, m, opt)
    assert info["epoch"] == 3
    for k, v in m.state_dict().items():
        assert np.array_equal(v, arrays["model/" + k])


def test_serialization_round_trip(tmp_path):
    obj = {"w": np.arange(6, dtype=">i8").reshape(2, 3), 0: {"b": np.array([True, False])},
           "t": cr.tensor(np.ones((2, 2), np.float32)), "s": np.float64(2.5),
           "nested": [1, 2.5, "x", None, (np.zeros((0, 3), np.complex64), float("nan"))]}
    path = tmp_path / "o.crz"
    serialization.save(obj, path)
    got = serialization.load(path)
    assert set(got) == set(obj) and got["w"].dtype == np.dtype(">i8")
    assert np.array_equal(got["w"], obj["w"]) and np.array_equal(got[0]["b"], obj[0]["b"])
    assert isinstance(got["t"], cr.Tensor) and np.array_equal(got["t"].data, obj["t"].data)
    assert got["s"] == 2.5 and isinstance(got["s"], np.float64)
    n = got["nested"]
    assert n[:4] == [1, 2.5, "x", None] and isinstance(n[4], tuple) and np.isnan(n[4][1])
    assert n[4][0].shape == (0, 3) and n[4][0].dtype == np.complex64
    with np.load(path, allow_pickle=False) as z:  # still a plain .npz
        assert "meta" in z.files
    with pytest.raises(TypeError, match="only bool, integer"):
        serialization.save({"o": np.array([{}], dtype=object)}, tmp_path / "x")
    with pytest.raises(TypeError, match="cannot store a set"):
        serialization.save({"o": {1}}, tmp_path / "x")


def test_generic_file_is_not_a_checkpoint(tmp_path):
    p = tmp_path / "g.npz"
    serialization.save({"a": np.zeros(2)}, p)
    load_error(p, "not a chainrule checkpoint")


# ---- damage ------------------------------------------------------------------------------------
def test_not_a_zip_empty_and_truncated(tmp_path, ckpt):
    (tmp_path / "e.npz").write_bytes(b"")
    load_error(tmp_path / "e.npz", "not a zip archive")
    (tmp_path / "r.npz").write_bytes(os.urandom(3000))
    load_error(tmp_path / "r.npz", "not a zip archive")
    data = ckpt.read_bytes()
    (tmp_path / "t.npz").write_bytes(data[:len(data) // 2])
    load_error(tmp_path / "t.npz", "not a zip archive")


def test_flipped_byte_in_array_data(tmp_path, ckpt):
    data = bytearray(ckpt.read_bytes())
    with zipfile.ZipFile(ckpt) as zf:
        info = zf.getinfo("model/1.weight.npy")
    # stored member: the data follows the local header (30 bytes + name + extra field)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 200] ^= 0xFF
    (tmp_path / "f.npz").write_bytes(bytes(data))
    load_error(tmp_path / "f.npz", "damaged array 'model/1.weight'")


@pytest.mark.parametrize("change, match", [
    (lambda m: m.update(epoch=-5), r"epoch -5; expected an integer >= 0"),
    (lambda m: m.update(epoch="3"), r"epoch '3'"),
    (lambda m: m.pop("epoch"), r"epoch None"),
    (lambda m: m.update(format="something-else"), r"format 'something-else'"),
    (lambda m: m.update(version=99), r"has version 99, this chainrule reads up to 2"),
    (lambda m: m.update(version="2"), r"damaged manifest \(version '2'\)"),
    (lambda m: m.update(history={}), r"'history' must be a list"),
    (lambda m: m.update(rng=None), r"'rng' must hold"),
    (lambda m: m.update(optimizer={"type": "Adam"}), r"'optimizer' must hold"),
    (lambda m: m["optimizer"].update(scalars={"x": 1}), r"scalars must map parameter"),
    (lambda m: m["optimizer"].update(param_groups=[{}]), r"param_groups must be objects"),
    (lambda m: m["rng"].update({"global": {"state": 1}}), r"does not fit"),
    (lambda m: m.pop("arrays"), r"no 'arrays' table"),
    (lambda m: m["arrays"]["model/1.weight"].update(dtype="O"), r"expected a numeric dtype"),
    (lambda m: m["arrays"]["model/1.weight"].update(shape=[16, -64]), r"list of sizes >= 0"),
    (lambda m: m["arrays"]["model/1.weight"].update(shape=[64, 16]),
     r"does not fit: '1.weight' is \[64, 16\] in the checkpoint, \[16, 64\] in the model"),
    (lambda m: m["arrays"]["model/1.weight"].update(shape=[16, 6400]),
     r"'model/1.weight': 4224 bytes in the file, the manifest declares float32 \[16, 6400\]"),
    (lambda m: m["arrays"]["model/1.weight"].update(dtype="<i4"),
     r"'model/1.weight': its header says float32 \[16, 64\], the manifest int32"),
    (lambda m: m["arrays"].update({"model/ghost": {"dtype": "<f4", "shape": [2]}}),
     r"arrays missing from the file: \['model/ghost'\]"),
    (lambda m: m["arrays"].pop("model/1.bias"), r"not in the manifest: \['model/1.bias'\]"),
])
def test_damaged_manifest(tmp_path, ckpt, change, match):
    meta = meta_of(ckpt)
    change(meta)
    load_error(rewrite(ckpt, tmp_path / "d.npz", meta), match)


def test_manifest_not_json_or_not_an_object(tmp_path, ckpt):
    load_error(rewrite(ckpt, tmp_path / "a.npz", "{'epoch': 3"), "not JSON")
    load_error(rewrite(ckpt, tmp_path / "b.npz", "[1, 2]"), "not a JSON object")
    bad = rewrite(ckpt, tmp_path / "c.npz", drop=["meta.npy"],
                  add={"meta.npy": npy_bytes(np.zeros(3))})
    load_error(bad, "damaged manifest")
    load_error(rewrite(ckpt, tmp_path / "d.npz", drop=["meta.npy"]), "no 'meta'")


def test_foreign_members_and_pickled_arrays(tmp_path, ckpt):
    load_error(rewrite(ckpt, tmp_path / "a.npz", add={"evil.pkl": b"cos\nsystem\n"}),
               "unexpected member 'evil.pkl'")
    meta = meta_of(ckpt)
    meta["arrays"]["model/1.bias"]["dtype"] = "|O"
    pickled = npy_bytes(np.array([{"x": 1}], dtype=object), allow_pickle=True)
    load_error(rewrite(ckpt, tmp_path / "b.npz", meta, add={"model/1.bias.npy": pickled}),
               "expected a numeric dtype")
    meta = meta_of(ckpt)
    load_error(rewrite(ckpt, tmp_path / "c.npz", meta, add={"model/1.bias.npy": pickled}),
               "damaged array 'model/1.bias'")
    meta = meta_of(ckpt)
    meta["arrays"]["model/odd"] = meta["arrays"].pop("model/1.bias")
    bad = rewrite(ckpt, tmp_path / "d.npz", meta, drop=["model/1.bias.npy"],
                  add={"model/odd.npy": members(ckpt)["model/1.bias.npy"]})
    load_error(bad, r"model has keys \['1.bias'\] that the checkpoint lacks")


def test_checkpoint_that_does_not_fit_the_model(tmp_path, ckpt):
    with pytest.raises(CheckpointError, match=r"'1.weight' is \[16, 64\] in the checkpoint"):
        train.load_checkpoint(ckpt, models.MLP(64, [32], 10))
    with pytest.raises(CheckpointError, match="holds Adam state"):
        m, _ = make()
        train.load_checkpoint(ckpt, m, optim.SGD(m.parameters(), lr=0.1))


def write_bomb(good, out, meta=None):
    """Copy checkpoint ``good`` to ``out`` with model/1.weight replaced by a deflated member
    that inflates to 1 GiB (a valid .npy header + zeros; ~4.7 MB on disk)."""
    mem = members(good)
    if meta is not None:
        mem["meta.npy"] = npy_bytes(np.array(json.dumps(meta)))
    hf = io.BytesIO()
    np.lib.format.write_array_header_1_0(hf, {"descr": "<f4", "fortran_order": False,
                                              "shape": (1 << 28,)})
    header = hf.getvalue()
    zeros = bytes(1 << 24)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, data in mem.items():
            if name != "model/1.weight.npy":
                zf.writestr(name, data)
        with zf.open("model/1.weight.npy", "w", force_zip64=True) as f:
            f.write(header)
            for _ in range(64):
                f.write(zeros)
    return out


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    m, opt = make()
    path = tmp_path_factory.mktemp("bomb") / "good.npz"
    train.save_checkpoint(path, m, opt, epoch=1)
    return path


def rejects_without_allocating(path, match):
    m, opt = make()
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=match):
            train.load_checkpoint(path, m, opt)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"loading allocated {peak} bytes before rejecting"


def test_zip_bomb_is_rejected_before_inflating(tmp_path, good):
    bomb = write_bomb(good, tmp_path / "bomb.npz")
    assert bomb.stat().st_size < 8 << 20
    rejects_without_allocating(bomb, r"'model/1.weight': 10737419\d\d bytes in the file, the "
                                     r"manifest declares float32 \[16, 64\] \(4096 bytes\)")


def test_zip_bomb_declared_in_the_manifest_is_rejected_before_reading(tmp_path, good):
    meta = meta_of(good)
    meta["arrays"]["model/1.weight"]["shape"] = [1 << 28]   # honest about its 1 GiB
    bomb = write_bomb(good, tmp_path / "bomb.npz", meta)
    rejects_without_allocating(bomb, r"'1.weight' is \[268435456\] in the checkpoint, "
                                     r"\[16, 64\] in the model")


# ---- writing ----------------------------------------------------------------------------------
def test_stale_temporary_files_are_removed_on_the_next_write(tmp_path, ckpt):
    folder = ckpt.parent
    # a writer killed mid-write: its process is gone, its temporary file stays
    code = ("import os, tempfile, sys; "
            "tempfile.mkstemp(prefix=f'.ckpt-{os.getpid()}-', suffix='.tmp', dir=sys.argv[1]); "
            "os._exit(9)")
    subprocess.run([sys.executable, "-c", code, str(folder)], check=False)
    (folder / ".ckpt-abc123_x.tmp").write_bytes(b"left by chainrule 0.1")
    live = folder / f".ckpt-{os.getppid()}-busy.tmp"   # a writer that still runs: kept
    live.write_bytes(b"")
    assert len(list(folder.glob(".ckpt-*.tmp"))) == 3
    m, opt = make()
    train.save_checkpoint(ckpt, m, opt, epoch=4)
    assert sorted(p.name for p in folder.iterdir()) == sorted(["c.npz", live.name])
    assert train.load_checkpoint(ckpt, m, opt)["epoch"] == 4
