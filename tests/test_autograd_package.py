"""The structure of chainrule.autograd: what it exports, its internal API (the only names
other modules take from it), the op modules attaching methods to Tensor, and no heap
tuning as a side effect of importing it."""
import ast
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.autograd as ag
from chainrule.autograd import function

SRC = pathlib.Path(ag.__file__).resolve().parents[1]  # src/chainrule


def test_exports_are_unchanged():
    assert ag.__all__ == ["Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled",
                          "detect_anomaly", "AnomalyError"]
    for name in ag.__all__:
        assert getattr(ag, name) is getattr(cr, name)
    assert ag.as_tensor is function.as_tensor
    assert cr.Tensor is ag.Tensor is function.Tensor


def test_internal_api_is_documented():
    for name in function.__all__:
        obj = getattr(function, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"function.{name} has no docstring"
    assert "chainrule's own layers" in function.__doc__


def _imports_from(path):
    """(module, name) for every ``from <module> import <name>`` in a source file, with the
    module resolved to a dotted chainrule path."""
    rel = path.relative_to(SRC.parent).with_suffix("")
    package = list(rel.parts[:-1])  # the package a relative import starts from
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                yield module, alias.name


def test_no_module_imports_private_names_of_autograd():
    """nn, gradcheck, train, ... take from autograd only public names (the internal API
    lives in autograd.function); inside the package, modules share only public names."""
    files = sorted(SRC.rglob("*.py"))
    assert any(f.parent.name == "autograd" for f in files)
    bad = []
    for path in files:
        for module, name in _imports_from(path):
            if module.startswith("chainrule.autograd") and name.startswith("_"):
                bad.append(f"{path.relative_to(SRC)}: from {module} import {name}")
    assert not bad, bad


def test_autograd_files_stay_small():
    for path in (SRC / "autograd").glob("*.py"):
        n = len(path.read_text().splitlines())
        assert n <= 500, f"{path.name} has {n} lines"


def test_ops_are_attached_to_tensor():
    for name in ("__add__", "__radd__", "__rtruediv__", "__pow__", "__matmul__", "reshape",
                 "view", "__getitem__", "sum", "mean", "exp", "relu", "tanh", "to", "detach"):
        method = getattr(ag.Tensor, name)
        assert method.__qualname__ == f"Tensor.{method.__name__}", name
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    assert isinstance(x + 1.0, ag.Tensor) and isinstance(x.T, ag.Tensor)


def test_attach_refuses_a_method_defined_twice():
    def relu(self):  # pragma: no cover - never attached
        return self
    with pytest.raises(RuntimeError, match="Tensor.relu is defined twice"):
        function.attach({"relu": relu})
    assert ag.Tensor.relu is not relu


def test_binary_op_builds_a_working_op():
    """A new elementwise op from its forward and local derivatives only (not attached)."""
    from chainrule.autograd.arith import binary_op
    hypot = binary_op("__hypot__", "hypot", "np.hypot(a, b)", "g * a / y", "g * b / y")
    x = cr.tensor(np.array([[3.0], [6.0]]), requires_grad=True)
    y = cr.tensor(np.array([4.0, 8.0]), requires_grad=True)
    out = hypot(x, y)
    assert np.allclose(out.data, np.hypot(x.data, y.data))
    out.backward(np.ones((2, 2)))
    r = np.hypot(x.data, y.data)
    assert np.allclose(x.grad, (x.data / r).sum(1, keepdims=True))  # summed back to (2, 1)
    assert np.allclose(y.grad, (y.data / r).sum(0))
    with pytest.raises(ValueError, match="hypot: operand shapes"):
        hypot(x, cr.tensor(np.ones((3, 1))))
    assert hypot(x, "a") is NotImplemented
    assert hypot.__qualname__ == "Tensor.__hypot__"
    with cr.detect_anomaly(), pytest.raises(cr.AnomalyError, match="forward of 'hypot'"):
        hypot(x, np.array([np.inf]))


def test_importing_autograd_does_not_tune_the_heap():
    """The glibc heap tuning runs from the package __init__, not as a side effect of
    importing autograd: re-executing autograd's modules never calls heap_keep_freed, while
    re-executing chainrule/__init__.py does (the spy works)."""
    code = ("import importlib, chainrule, chainrule._kernels as k\n"
            "import chainrule.autograd, chainrule.autograd.engine, chainrule.autograd.modes\n"
            "calls = []\n"
            "k.heap_keep_freed = lambda *a: calls.append(a) or True\n"
            "for m in (chainrule.autograd.modes, chainrule.autograd.engine, chainrule.autograd):\n"
            "    importlib.reload(m)\n"
            "print(len(calls))\n"
            "importlib.reload(chainrule)\n"
            "print(len(calls))\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MALLOC_") and k not in ("CHAINRULE_MALLOC_TUNING",
                                                         "GLIBC_TUNABLES")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["0", "1"]


def test_grad_mode_decorators_apply_their_own_mode():
    """@no_grad() disables and @enable_grad() enables graph building inside the function
    (enable_grad used to inherit no_grad's wrapper and disabled it)."""
    @cr.no_grad()
    def off():
        return cr.is_grad_enabled()

    @cr.enable_grad()
    def on():
        return cr.is_grad_enabled()

    assert off() is False and cr.is_grad_enabled()
    with cr.no_grad():
        assert on() is True
        assert not cr.is_grad_enabled()
