"""The hand-kept type stubs match what runs: src/chainrule/_kernels.pyi (what mypy reads for
the compiled extension) and src/chainrule/autograd/_methods.pyi (the Tensor methods the op
modules attach at import) list the same names as the extension / Tensor, with the same
parameters (names, order, kinds, which have defaults)."""
import ast
import inspect
import types
from pathlib import Path

import chainrule._kernels as K
from chainrule import Tensor

SRC = Path(__file__).resolve().parents[1] / "src" / "chainrule"
STUB = SRC / "_kernels.pyi"
METHODS = SRC / "autograd" / "_methods.pyi"


def _stub():
    tree = ast.parse(STUB.read_text())
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    ann = {n.target.id: ast.unparse(n.annotation) for n in tree.body if isinstance(n, ast.AnnAssign)}
    fused = {k for k, v in ann.items() if v == "_Fused"}  # indexed fused functions
    return funcs, fused, set(ann) - fused


def _public(pred):
    return {n for n in dir(K) if not n.startswith("_") and pred(getattr(K, n))}


def test_stub_lists_exactly_the_extension_names():
    funcs, fused, consts = _stub()
    assert set(funcs) | fused == _public(callable)
    assert consts == _public(lambda v: not callable(v) and not inspect.ismodule(v))


def _same_parameters(node, func, name):
    a = node.args
    stub = [(p.arg, "POSITIONAL_OR_KEYWORD") for p in a.posonlyargs + a.args]
    if a.vararg:
        stub.append((a.vararg.arg, "VAR_POSITIONAL"))
    stub += [(p.arg, "KEYWORD_ONLY") for p in a.kwonlyargs]
    if a.kwarg:
        stub.append((a.kwarg.arg, "VAR_KEYWORD"))
    sig = inspect.signature(func)
    real = [(p.name, p.kind.name) for p in sig.parameters.values()]
    assert stub == real, name
    n_def = len(a.defaults) + sum(d is not None for d in a.kw_defaults)
    assert n_def == sum(p.default is not p.empty for p in sig.parameters.values()), name


def test_stub_parameters_match_the_compiled_signatures():
    funcs, _, _ = _stub()
    for name, node in funcs.items():
        _same_parameters(node, getattr(K, name), name)


def _attached():
    """name -> function for every Tensor method defined outside tensor.py (function.attach)."""
    out = {}
    for cls in Tensor.__mro__:
        for name, v in vars(cls).items():
            if not isinstance(v, (types.FunctionType, property)):
                continue
            f = v.fget if isinstance(v, property) else v
            if f.__module__.startswith("chainrule.autograd.") and \
                    not f.__module__.endswith(".tensor") and f.__qualname__.startswith("Tensor."):
                out[name] = v
    return out


def test_tensor_methods_stub_matches_the_attached_methods():
    tree = ast.parse(METHODS.read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    stub = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
    real = _attached()
    assert set(stub) == set(real) - {"__hash__"}
    for name, node in stub.items():
        v = real[name]
        is_prop = any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list)
        assert is_prop == isinstance(v, property), name
        _same_parameters(node, v.fget if is_prop else v, name)
