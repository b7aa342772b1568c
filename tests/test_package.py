"""Package-level checks: the extension imports, thread control, CLI entry point."""
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr


def test_extension_is_compiled():
    assert cr._kernels.__file__.endswith((".so", ".pyd"))
    assert cr._kernels.gemm_path() in ("avx512", "avx2", "generic")


@pytest.mark.parametrize("n", [1, 2, 3])
def test_set_get_num_threads(n):
    cr.set_num_threads(n)
    assert cr.get_num_threads() == n


@pytest.mark.parametrize("bad", [0, -1])
def test_set_num_threads_rejects_nonpositive(bad):
    with pytest.raises(ValueError, match="n must be >= 1"):
        cr.set_num_threads(bad)


def test_set_num_threads_rejects_non_int():
    with pytest.raises(TypeError):
        cr.set_num_threads(2.0)


def test_omp_num_threads_env_is_default():
    code = "import chainrule as cr; print(cr.get_num_threads())"
    env = {"OMP_NUM_THREADS": "3", "PATH": ""}
    import os
    env = dict(os.environ, OMP_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "3"


def test_cli_help():
    out = subprocess.run([sys.executable, "-m", "chainrule", "--help"], capture_output=True,
                         text=True, check=True)
    assert "bench" in out.stdout and "train" in out.stdout


# ops functions that configure the kernels rather than compute something
_CONFIG_ONLY = {"set_workspace_limit", "get_workspace_limit", "conv2d_workspace_bytes",
                "conv2d_plan"}


def test_every_fast_kernel_has_a_reference_twin_with_the_same_signature():
    import inspect

    from chainrule import ops, reference
    from chainrule.ops._registry import REGISTRY
    kernels = set(ops.__all__) - _CONFIG_ONLY
    assert kernels == set(reference.__all__), kernels ^ set(reference.__all__)
    assert _CONFIG_ONLY == {k.name for k in REGISTRY.values() if k.config}
    # the kernels that had no ops wrapper and no twin before the registry are covered too
    assert {"relu_forward", "relu_backward", "sigmoid_backward", "tanh_backward",
            "softmax_cross_entropy_forward", "softmax_cross_entropy_backward", "sgd_step",
            "adam_step", "im2col", "col2im"} <= kernels
    for name in sorted(kernels):
        fast, ref = inspect.signature(getattr(ops, name)), inspect.signature(getattr(reference, name))
        api = [p for p in fast.parameters.values() if p.kind is not p.KEYWORD_ONLY]
        assert api == [p for p in ref.parameters.values() if p.kind is not p.KEYWORD_ONLY], name
        assert fast == ref, f"{name}: keyword-only arguments differ: {fast} vs {ref}"


def test_every_kernel_is_fuzzed():
    import pathlib

    from chainrule import ops
    src = (pathlib.Path(__file__).parent / "test_fuzz.py").read_text()
    missing = [n for n in set(ops.__all__) - _CONFIG_ONLY if f'"{n}"' not in src]
    assert not missing, f"ops functions without a fuzz test: {missing}"


def test_runtime_isa_query_and_switch():
    from chainrule import _runtime
    best = _runtime.isa()
    assert best in ("avx512", "avx2", "generic")
    try:
        _runtime.set_isa("generic")
        assert _runtime.isa() == "generic"
        a = np.arange(12.0).reshape(3, 4)
        assert np.array_equal(cr.ops.matmul(a, a.T), a @ a.T)
    finally:
        _runtime.set_isa(None)
    assert _runtime.isa() == best
    with pytest.raises((TypeError, ValueError), match="set_isa"):
        _runtime.set_isa(3)


def test_only_ops_and_runtime_import_the_bindings():
    import pathlib
    import re
    root = pathlib.Path(cr.__file__).parent
    pat = re.compile(r"^\s*(from\s+\S*\s+import\s+.*\b_kernels\b|import\s+\S*_kernels)", re.M)
    offenders = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                       if pat.search(p.read_text()) and p.parts[len(root.parts)] != "ops"
                       and p.name != "_runtime.py")
    assert not offenders, offenders
