"""chainrule's thread pool registered with threadpoolctl (when installed): threadpool_limits
limits chainrule's kernels together with NumPy's BLAS and other OpenMP libraries."""
import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import ops

threadpoolctl = pytest.importorskip("threadpoolctl")


def _ours(info):
    return [i for i in info if i["internal_api"] == "chainrule"]


@pytest.fixture
def two_threads():
    cr.set_num_threads(2)
    yield
    cr.set_num_threads(2)


def test_threadpool_info_lists_chainrule(two_threads):
    ours = _ours(threadpoolctl.threadpool_info())
    assert len(ours) == 1
    assert ours[0]["user_api"] == "openmp" and ours[0]["num_threads"] == 2
    assert ours[0]["version"] == cr.__version__
    assert "_kernels" in os.path.basename(ours[0]["filepath"])


@pytest.mark.parametrize("user_api", [None, "openmp"])
def test_threadpool_limits_limits_chainrule_and_restores(two_threads, user_api):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((130, 90)), rng.standard_normal((90, 70))
    want = ops.matmul(a, b)
    with threadpoolctl.threadpool_limits(limits=1, user_api=user_api):
        assert cr.get_num_threads() == 1
        assert ops.matmul(a, b).tobytes() == want.tobytes()
    assert cr.get_num_threads() == 2


def test_blas_only_limit_leaves_chainrule_alone(two_threads):
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        assert cr.get_num_threads() == 2


def test_threadpool_limits_raises_chainrule_too(two_threads):
    cr.set_num_threads(1)
    with threadpoolctl.threadpool_limits(limits=2):
        assert cr.get_num_threads() == 2
    assert cr.get_num_threads() == 1


def test_registration_can_be_turned_off():
    code = ("import chainrule, threadpoolctl; "
            "print(sum(i['internal_api'] == 'chainrule' for i in threadpoolctl.threadpool_info()))")
    env = {**os.environ, "CHAINRULE_THREADPOOLCTL": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    assert out.stdout.strip() == "0"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "1"
