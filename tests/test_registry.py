"""The kernel table (chainrule/ops/_registry.py) is complete, and every entry passes
check_op: fast vs reference in float32 and float64, finite differences in float64 for
each forward/backward pair, and PyTorch where an equivalent exists."""
import inspect

import numpy as np
import pytest

from chainrule import _kernels, ops, reference
from chainrule.ops._registry import REGISTRY, bench_cases
from check_op import check_grad, check_op, check_torch
from helpers import HAVE_TORCH

# Public _kernels callables that are not kernels, so have no registry entry: runtime
# configuration (threads, ISA / micro-kernel paths, GEMM blocking, heap tuning, the
# clock probe) and shape helpers the ops wrappers could use. Anything else the extension
# exports must be listed in the registry (with its ops wrapper, twin and tests).
NOT_KERNELS = {
    "set_num_threads", "get_num_threads",           # chainrule._runtime
    "threads_now", "contention_config", "contention_state",  # the contention probe (cpu.c)
    "isa", "isa_detected", "set_isa",               # chainrule._runtime (CPU runtime)
    "gemm_path", "gemm_set_path", "gemm_set_blocks",  # GEMM micro-kernel choice, tests
    "gemm_set_skinny",                              # GEMM skinny path on/off, tests
    "conv_algo", "conv_set_algo",                   # chainrule._runtime (CHAINRULE_CONV_ALGO)
    "rnn_path", "rnn_set_path",                     # RNN step-kernel choice, tests
    "cpu_clock_ghz",                                # clock probe for bench's % of peak
    "fma_peak_gflops",                              # measured FMA peak, bench's % of peak
    "heap_keep_freed",                              # glibc mallopt, _runtime.tune_heap
    "conv2d_dims", "pool2d_dims",                   # output-size helpers
    "philox4x32_10",                                # dropout's RNG block, known-answer test
}

KERNELS = [k for k in REGISTRY.values() if not k.config]
PAIRS = [k for k in KERNELS if k.grad is not None]
TORCHED = [k for k in KERNELS if k.torch is not None]


def test_every_binding_is_in_the_registry():
    listed = {b for k in REGISTRY.values() for b in k.bindings}
    public = {n for n in dir(_kernels) if not n.startswith("_") and callable(getattr(_kernels, n))}
    unlisted = public - listed - NOT_KERNELS
    assert not unlisted, f"_kernels bindings with no registry entry: {sorted(unlisted)}"
    stale = listed - public
    assert not stale, f"registry entries name bindings that do not exist: {sorted(stale)}"


def test_every_ops_function_is_in_the_registry_with_a_twin():
    assert set(ops.__all__) == set(REGISTRY), set(ops.__all__) ^ set(REGISTRY)
    for k in KERNELS:
        assert k.name in reference.__all__, f"reference.{k.name} is missing"
        fast = inspect.signature(getattr(ops, k.name))
        ref = inspect.signature(getattr(reference, k.name))
        assert fast == ref, f"{k.name}: ops{fast} != reference{ref}"
        assert k.cases is not None, f"{k.name}: no test cases"
    for k in PAIRS:
        assert k.grad.backward in REGISTRY, f"{k.name}: backward {k.grad.backward} not listed"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", [k.name for k in KERNELS])
def test_fast_matches_reference(name, dtype):
    assert check_op(REGISTRY[name], dtype) >= 3


@pytest.mark.parametrize("name", [k.name for k in PAIRS])
def test_backward_matches_finite_differences(name):
    check_grad(REGISTRY[name])


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", [k.name for k in TORCHED])
def test_matches_torch(name, dtype):
    check_torch(REGISTRY[name], dtype)


def test_check_op_can_fail(monkeypatch):
    """A wrong fast kernel is caught (the check is not vacuous)."""
    real = ops.relu_backward
    monkeypatch.setattr(ops, "relu_backward", lambda dy, y, *, out=None: real(dy, y) * 1.01)
    with pytest.raises(AssertionError):
        check_op(REGISTRY["relu_backward"], np.float64)
    wrong = ops.tanh_backward
    monkeypatch.setattr(ops, "tanh_backward", lambda dy, y, *, out=None: wrong(dy, y) * 0.9)
    with pytest.raises(AssertionError):
        check_grad(REGISTRY["tanh_forward"])


def test_bench_cases_are_there():
    assert bench_cases("matmul", "pytest")[0] == (32, 32, 32, "float32")
    for k in KERNELS:
        if k.grad is not None or k.inplace:  # each forward (and step) says what to time
            assert k.bench, f"{k.name}: no bench cases"
