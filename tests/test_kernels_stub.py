"""src/chainrule/_kernels.pyi (the type stub mypy reads for the compiled extension) matches
the extension: the same public names, and each function's parameters (names, order, which
have defaults, keyword-only marks) as the compiled function reports them."""
import ast
import inspect
from pathlib import Path

import chainrule._kernels as K

STUB = Path(__file__).resolve().parents[1] / "src" / "chainrule" / "_kernels.pyi"


def _stub():
    tree = ast.parse(STUB.read_text())
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    consts = {n.target.id for n in tree.body if isinstance(n, ast.AnnAssign)}
    return funcs, consts


def _public(pred):
    return {n for n in dir(K) if not n.startswith("_") and pred(getattr(K, n))}


def test_stub_lists_exactly_the_extension_names():
    funcs, consts = _stub()
    assert set(funcs) == _public(callable)
    assert consts == _public(lambda v: not callable(v) and not inspect.ismodule(v))


def test_stub_parameters_match_the_compiled_signatures():
    funcs, _ = _stub()
    for name, node in funcs.items():
        a = node.args
        stub = [(p.arg, "POSITIONAL_OR_KEYWORD") for p in a.posonlyargs + a.args] + \
               [(p.arg, "KEYWORD_ONLY") for p in a.kwonlyargs]
        sig = inspect.signature(getattr(K, name))
        real = [(p.name, p.kind.name) for p in sig.parameters.values()]
        assert stub == real, name
        n_def = len(a.defaults) + sum(d is not None for d in a.kw_defaults)
        assert n_def == sum(p.default is not p.empty for p in sig.parameters.values()), name
