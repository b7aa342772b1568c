"""chainrule.serialization — a safe file format for dicts and lists of arrays and scalars.

A file is a zip archive of ``.npy`` members (so ``np.load(path, allow_pickle=False)`` reads
it too): one member per array plus ``meta``, a 0-d string array holding a JSON manifest::

    {"format": "<tag>", "version": <int>, "arrays": {"<name>": {"dtype": "<f4",
     "shape": [16, 64]}, ...}, ...the caller's JSON payload...}

Nothing is ever unpickled. The reader (:class:`ArchiveReader`) checks, before reading any
array, that the file is a zip, that the manifest is JSON with the expected format tag and a
known version, and that the ``arrays`` table matches the members exactly (names, numeric
dtypes, non-negative shapes, each member's size = its ``.npy`` header + the declared bytes);
it then reads at most the declared bytes per array, so a small file cannot inflate into
gigabytes (a zip bomb is rejected from its directory entry). Every kind of damage is one
:class:`SerializationError` (a ValueError) saying what is wrong.

The writer (:func:`write_archive`) is atomic: a temporary ``.ckpt-<pid>-*.tmp`` file in the
target folder, fsync, ``os.replace``. Temporary files left by a killed writer (whose
process is gone) are removed on the next write into that folder.

:func:`save` / :func:`load` store a nested structure (dict, list, tuple, NumPy arrays,
Tensors, numbers, strings, None) in this format; :mod:`chainrule.train.checkpoint` uses
:func:`write_archive` / :class:`ArchiveReader` directly.
"""
from __future__ import annotations

import glob
import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

__all__ = ["SerializationError", "write_archive", "ArchiveReader", "save", "load"]

META = "meta"
MAX_META_BYTES = 64 << 20          # the manifest (JSON, stored as UTF-32) is small
_ARRAY_KINDS = "biufc"             # bool, ints, floats, complex: never objects
_MAX_HEADER = 65536                # numpy writes 64..~200 byte .npy headers
TMP_PREFIX = ".ckpt-"


class SerializationError(ValueError):
    """A file that is not, or no longer, a valid chainrule archive."""


# ---- writing --------------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True   # exists but not ours, or cannot tell: keep its file
    return True


def _clean_stale_tmp(folder) -> None:
    """Remove ``.ckpt-*.tmp`` files whose writer is gone (killed while writing); files of
    older chainrule versions carry no pid and are removed too."""
    for tmp in glob.glob(os.path.join(glob.escape(folder), TMP_PREFIX + "*.tmp")):
        pid = os.path.basename(tmp)[len(TMP_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and (int(pid) == os.getpid() or _alive(int(pid))):
            continue
        try:
            os.unlink(tmp)
        except OSError:
            pass


def write_archive(path, meta: dict, arrays: dict) -> None:
    """Write ``arrays`` (name -> array) and the JSON ``meta`` (plus its ``arrays`` table)
    to ``path`` atomically: readers see the old file or the new one, never half of one."""
    table, members = {}, {}
    for name, a in arrays.items():
        a = np.asarray(a)
        if a.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"write_archive: array {name!r} has dtype {a.dtype}; only bool, "
                            f"integer, float and complex arrays can be stored")
        if name == META or not isinstance(name, str):
            raise ValueError(f"write_archive: array name {name!r} is reserved or not a str")
        table[name] = {"dtype": a.dtype.str, "shape": list(a.shape)}
        members[name] = a
    meta = dict(meta, arrays=table)
    members[META] = np.array(json.dumps(meta, allow_nan=True))
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    _clean_stale_tmp(folder)
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_zip(f, members)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)  # mkstemp makes the file 0600; give it the usual permissions
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_zip(f, members: dict) -> None:
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, a in members.items():
            with zf.open(name + ".npy", "w", force_zip64=a.nbytes > (1 << 30)) as m:
                np.lib.format.write_array(m, a, allow_pickle=False)


# ---- reading --------------------------------------------------------------------------------
def _shape(v):
    if isinstance(v, list) and all(type(d) is int and d >= 0 for d in v):
        return tuple(v)
    return None


def _dtype(v):
    try:
        dt = np.dtype(v) if isinstance(v, str) else None
    except TypeError:
        return None
    return dt if dt is not None and dt.kind in _ARRAY_KINDS and dt.fields is None else None


class ArchiveReader:
    """Open and validate an archive; ``.meta`` is the manifest, ``.arrays`` maps each name
    to ``(dtype, shape)``, ``.read(name)`` reads one array (at most its declared bytes).

    ``fmt`` is the expected format tag, ``version`` the newest version understood;
    ``kind`` names the file in messages; errors are ``error`` (a SerializationError
    subclass). ``legacy`` lists older versions whose manifest has no ``arrays`` table (it is then
    taken from the members' ``.npy`` headers, with the same size checks).
    """

    def __init__(self, path, *, fmt, version, fn="load", legacy=(), kind=None,
                 error=SerializationError):
        self.path, self.fn, self.error = os.fspath(path), fn, error
        self.kind = kind or f"{fmt} file"
        try:
            self._zip = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile as e:
            self._fail(f"is not a {self.kind} (not a zip archive, or truncated: {e})")
        try:
            self._open(fmt, version, legacy)
        except BaseException:
            self._zip.close()
            raise

    def _fail(self, what):
        raise self.error(f"{self.fn}: {self.path} {what}") from None

    def _open(self, fmt, version, legacy):
        self._members = {}
        for info in self._zip.infolist():
            if not info.filename.endswith(".npy") or info.filename[:-4] in self._members:
                self._fail(f"holds an unexpected member {info.filename!r}")
            self._members[info.filename[:-4]] = info
        if META not in self._members:
            self._fail(f"is not a {self.kind} (no '{META}')")
        dt, shape, _ = self._header(META)
        if dt.kind != "U" or shape != ():
            self._fail(f"has a damaged manifest (a {dt} array of shape {shape})")
        raw = self._read_member(META, dt, shape, MAX_META_BYTES)
        try:
            meta = json.loads(str(raw))
        except ValueError as e:
            self._fail(f"has a damaged manifest (not JSON: {e})")
        if not isinstance(meta, dict):
            self._fail("has a damaged manifest (not a JSON object)")
        if meta.get("format") != fmt:
            self._fail(f"is not a {self.kind} (format {meta.get('format')!r})")
        v = meta.get("version")
        if type(v) is not int or v < 1:
            self._fail(f"has a damaged manifest (version {v!r})")
        if v > version:
            self._fail(f"has version {v}, this chainrule reads up to {version}")
        self.meta, self.version = meta, v
        if v in legacy and "arrays" not in meta:
            self.arrays = {n: self._header(n)[:2] for n in self._members if n != META}
        else:
            self.arrays = self._table(meta.get("arrays"))
        for name, (dt, shape) in self.arrays.items():
            self._check_size(name, dt, shape)

    def _table(self, table) -> dict:
        if not isinstance(table, dict):
            self._fail("has a damaged manifest (no 'arrays' table)")
        out = {}
        for name, entry in table.items():
            dt = _dtype(entry.get("dtype")) if isinstance(entry, dict) else None
            shape = _shape(entry.get("shape")) if isinstance(entry, dict) else None
            if dt is None or shape is None:
                self._fail(f"has a damaged manifest (array {name!r}: {entry!r}; expected a "
                           f"numeric dtype and a list of sizes >= 0)")
            out[name] = (dt, shape)
        have = set(self._members) - {META}
        if set(out) != have:
            missing, extra = sorted(set(out) - have), sorted(have - set(out))
            self._fail(f"does not match its manifest (arrays missing from the file: "
                       f"{missing}; not in the manifest: {extra})")
        return out

    def _header(self, name):
        """(dtype, shape, header bytes) of one member, reading only its .npy header."""
        info = self._members[name]
        try:
            with self._zip.open(info) as f:
                major, _ = np.lib.format.read_magic(f)
                if major == 1:
                    shape, fortran, dt = np.lib.format.read_array_header_1_0(f)
                elif major in (2, 3):
                    shape, fortran, dt = np.lib.format.read_array_header_2_0(f)
                else:
                    raise ValueError(f"unknown .npy version {major}")
                hlen = f.tell()
        except (ValueError, EOFError, OSError, zipfile.BadZipFile, NotImplementedError,
                RuntimeError) as e:
            self._fail(f"has a damaged array {name!r} (bad .npy header: {e})")
        if fortran or hlen > _MAX_HEADER or (name != META and dt.kind not in _ARRAY_KINDS) \
                or dt.hasobject:
            self._fail(f"has a damaged array {name!r} (dtype {dt}, fortran order {fortran})")
        return dt, shape, hlen

    def _check_size(self, name, dt, shape):
        info = self._members[name]
        nbytes = int(np.prod(shape, dtype=object)) * dt.itemsize
        extra = info.file_size - nbytes
        if not 0 < extra <= _MAX_HEADER:
            self._fail(f"has a damaged array {name!r}: {info.file_size} bytes in the file, "
                       f"the manifest declares {dt} {list(shape)} ({nbytes} bytes)")

    def read(self, name) -> np.ndarray:
        dt, shape = self.arrays[name]
        return self._read_member(name, dt, shape, None)

    def _read_member(self, name, dt, shape, cap):
        hdt, hshape, hlen = self._header(name)
        if hdt != dt or hshape != tuple(shape):
            self._fail(f"has a damaged array {name!r}: its header says {hdt} {list(hshape)}, "
                       f"the manifest {dt} {list(shape)}")
        nbytes = int(np.prod(shape, dtype=object)) * dt.itemsize
        if self._members[name].file_size != hlen + nbytes or (cap and nbytes > cap):
            self._fail(f"has a damaged array {name!r}: {self._members[name].file_size} bytes "
                       f"in the file, expected {hlen + nbytes}")
        buf = bytearray(nbytes)
        try:
            with self._zip.open(self._members[name]) as f:
                f.read(hlen)
                view, got = memoryview(buf), 0
                while got < nbytes:
                    chunk = f.read(min(nbytes - got, 1 << 24))
                    if not chunk:
                        break
                    view[got:got + len(chunk)] = chunk
                    got += len(chunk)
                f.read(1)  # reach the end of the member so its CRC is checked
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError,
                RuntimeError) as e:
            self._fail(f"has a damaged array {name!r} ({e})")
        if got != nbytes:
            self._fail(f"has a damaged array {name!r} (truncated: {got} of {nbytes} bytes)")
        return np.frombuffer(buf, dtype=dt).reshape(shape)

    def close(self):
        self._zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- nested structures ------------------------------------------------------------------------
FORMAT, VERSION = "chainrule", 1


def _encode(obj, arrays):
    from .autograd import Tensor
    if isinstance(obj, (Tensor, np.ndarray, np.generic)):
        name = f"a{len(arrays)}"
        arrays[name] = np.asarray(obj.array if isinstance(obj, Tensor) else obj)
        kind = ("parameter" if _is_parameter(obj) else "tensor") if isinstance(obj, Tensor) \
            else ("scalar" if isinstance(obj, np.generic) else "array")
        return {"__" + kind + "__": name}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        for k in obj:
            if not (k is None or isinstance(k, (bool, int, float, str))):
                raise TypeError(f"save: dict keys must be str, int, float, bool or None, got "
                                f"{type(k).__name__}")
        return {"__dict__": [[k, _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, arrays) for v in obj]
        return items if isinstance(obj, list) else {"__tuple__": items}
    raise TypeError(f"save: cannot store a {type(obj).__name__} (only dict, list, tuple, "
                    f"arrays, Tensors, numbers, strings and None)")


def _is_parameter(obj):
    from .nn.modules import Parameter
    return isinstance(obj, Parameter)


def _tensor(a, parameter):
    """A Tensor (or nn.Parameter) holding ``a`` with its dtype kept (int64 stays int64)."""
    if parameter:
        from .nn.modules import Parameter
        if a.dtype.kind == "f":
            return Parameter(a)
    from .autograd.function import const
    return const(a)


def _decode(v, read, path):
    if isinstance(v, list):
        return [_decode(x, read, path) for x in v]
    if not isinstance(v, dict):
        return v
    if len(v) == 1:
        (tag, x), = v.items()
        if tag == "__dict__" and isinstance(x, list) and all(
                isinstance(kv, list) and len(kv) == 2 for kv in x):
            return {kv[0]: _decode(kv[1], read, path) for kv in x}
        if tag == "__tuple__" and isinstance(x, list):
            return tuple(_decode(i, read, path) for i in x)
        if tag in ("__array__", "__tensor__", "__parameter__", "__scalar__") and \
                isinstance(x, str):
            a = read(x)
            if tag in ("__tensor__", "__parameter__"):
                return _tensor(a, tag == "__parameter__")
            return a[()] if tag == "__scalar__" else a
    raise SerializationError(f"load: {path} has a damaged manifest (unexpected {v!r:.80})")


def save(obj: Any, path: Any) -> None:
    """Store ``obj`` (nested dict/list/tuple of arrays, Tensors, numbers, strings, None) in
    ``path`` atomically, without pickle."""
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, arrays)
    write_archive(path, {"format": FORMAT, "version": VERSION, "tree": tree}, arrays)


def load(path: Any) -> Any:
    """Read what :func:`save` wrote (validated before any array is read)."""
    with ArchiveReader(path, fmt=FORMAT, version=VERSION, fn="load") as r:
        names = set()

        def read(name):
            if name not in r.arrays or name in names:
                r._fail(f"has a damaged manifest (array reference {name!r})")
            names.add(name)
            return r.read(name)
        return _decode(r.meta.get("tree"), read, r.path)
