"""Shared fixtures of the pytest-benchmark suites."""
import pytest

import chainrule as cr


@pytest.fixture
def two_threads():
    """Run a benchmark on 2 chainrule threads (the issues' bars are stated at 2 threads)."""
    n = cr.get_num_threads()
    cr.set_num_threads(2)
    yield
    cr.set_num_threads(n)
