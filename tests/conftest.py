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
