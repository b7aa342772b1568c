"""Shared pytest configuration: seeded RNG fixture, the SIMD-level fixture, the restore of
threads, conv algorithm, SIMD level and workspace limit after every test."""
import os

import numpy as np
import pytest

# The contention probe (csrc/cpu.c) runs kernels on 1 thread while the machine is busy;
# tests that check thread-count-dependent structure (e.g. conv workspace bytes = threads x
# per-thread scratch) must not depend on the load, so the suite runs with it off (also in
# the subprocesses it starts); tests/test_threads.py turns it on where it is tested.
os.environ.setdefault("CHAINRULE_ADAPTIVE_THREADS", "0")

import chainrule as cr  # noqa: E402
from chainrule import _runtime  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# the SIMD levels this CPU can run, lowest first (kernels must agree across them)
ISA_LEVELS = ["generic", "avx2", "avx512"]
ISA_LEVELS = ISA_LEVELS[:ISA_LEVELS.index(_runtime.isa_detected()) + 1]


@pytest.fixture(params=ISA_LEVELS)
def level(request):
    """Run the test at each SIMD level in turn (chainrule._runtime.set_isa), then restore."""
    _runtime.set_isa(request.param)
    yield request.param
    _runtime.set_isa(None)


@pytest.fixture(autouse=True)
def _restore_settings():
    """Every test leaves the process as it found it: thread count, conv algorithm, SIMD
    level and conv workspace limit (each put back only if the test changed it)."""
    from chainrule import ops
    n, algo, isa, limit = (cr.get_num_threads(), _runtime.conv_algo(), _runtime.isa(),
                           ops.get_workspace_limit())
    yield
    cr.set_num_threads(n)
    if _runtime.conv_algo() != algo:
        _runtime.set_conv_algo(None)
    if _runtime.isa() != isa:
        _runtime.set_isa(None)
    if ops.get_workspace_limit() != limit:
        ops.set_workspace_limit(limit)


def pytest_terminal_summary(terminalreporter):
    """Report how many fuzz cases ran (issue: at least 2,000 per run)."""
    import sys
    mod = sys.modules.get("test_fuzz")
    if mod is not None and mod.CASES["n"]:
        terminalreporter.write_line(f"fuzz cases run: {mod.CASES['n']}")
