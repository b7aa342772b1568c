"""Shared pytest configuration: seeded RNG fixture, thread-count restore."""
import numpy as np
import pytest

import chainrule as cr


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _restore_threads():
    n = cr.get_num_threads()
    yield
    cr.set_num_threads(n)


def pytest_terminal_summary(terminalreporter):
    """Report how many fuzz cases ran (issue: at least 2,000 per run)."""
    import sys
    mod = sys.modules.get("test_fuzz")
    if mod is not None and mod.CASES["n"]:
        terminalreporter.write_line(f"fuzz cases run: {mod.CASES['n']}")
