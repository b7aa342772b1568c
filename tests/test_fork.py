"""Threads that fit the machine, fork safety and OpenMP coexistence (issue 13, item 3).

- the default thread count follows the CPUs this process may use (affinity mask, cgroup
  quota), not the host's core count; OMP_NUM_THREADS still wins;
- a child forked after OpenMP ran computes correctly (serially) and never deadlocks, with
  multiprocessing 'fork' and 'forkserver', after training steps (timeouts turn a hang into
  a failure);
- PyTorch's or NumPy's (OpenBLAS) thread pools loaded first do not disturb the kernels.
"""
import multiprocessing as mp
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import chainrule as cr
from chainrule import _cpus, _runtime, nn, ops, optim, reference as ref

TIMEOUT = 120  # seconds; far above the ~1 s the work takes, a deadlock fails instead of hanging


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env.update(extra)
    return env


def _run(code, env=None, timeout=TIMEOUT):
    """Run Python code (a string, or a list of strings dedented one by one) in a fresh process."""
    parts = [code] if isinstance(code, str) else code
    code = "".join(textwrap.dedent(p) for p in parts)
    out = subprocess.run([sys.executable, "-c", code], env=env or _env(),
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


# ---------------------------------------------------------------- default thread count
def _cgroup_tree(tmp_path, v2_files, proc_line):
    for rel, text in v2_files.items():
        p = tmp_path / "fs" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    proc = tmp_path / "cgroup"
    proc.write_text(proc_line)
    return str(tmp_path / "fs"), str(proc)


def test_cgroup_v2_quota_is_the_tightest_ancestor(tmp_path):
    root, proc = _cgroup_tree(tmp_path, {
        "cpu.max": "max 100000\n",
        "kube/cpu.max": "300000 100000\n",
        "kube/pod/cpu.max": "150000 100000\n",
        "kube/pod/ctr/cpu.max": "max 100000\n",
    }, "0::/kube/pod/ctr\n")
    assert _cpus.cgroup_cpu_limit(root, proc) == pytest.approx(1.5)


def test_cgroup_v2_unlimited_and_missing(tmp_path):
    root, proc = _cgroup_tree(tmp_path, {"cpu.max": "max 100000\n", "a/cpu.max": "max 50000\n"},
                              "0::/a\n")
    assert _cpus.cgroup_cpu_limit(root, proc) is None
    assert _cpus.cgroup_cpu_limit(str(tmp_path / "nowhere"), str(tmp_path / "nofile")) is None


def test_cgroup_v1_cfs_quota(tmp_path):
    root, proc = _cgroup_tree(tmp_path, {
        "cpu,cpuacct/docker/x/cpu.cfs_quota_us": "250000\n",
        "cpu,cpuacct/docker/x/cpu.cfs_period_us": "100000\n",
        "cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
    }, "12:memory:/docker/x\n4:cpu,cpuacct:/docker/x\n")
    assert _cpus.cgroup_cpu_limit(root, proc) == pytest.approx(2.5)


@pytest.mark.parametrize("quota, want", [(0.5, 1), (1.0, 1), (1.2, 2), (64.0, None), (None, None)])
def test_available_cpus_caps_affinity_by_quota(monkeypatch, quota, want):
    monkeypatch.setattr(_cpus, "cgroup_cpu_limit", lambda: quota)
    ncpu = len(os.sched_getaffinity(0))
    assert _cpus.available_cpus() == (min(want, ncpu) if want else ncpu)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 usable CPUs")
def test_default_threads_follow_affinity_not_host_cores():
    first = min(os.sched_getaffinity(0))
    out = _run(f"""
        import os
        os.sched_setaffinity(0, {{{first}}})
        import chainrule as cr
        print(cr.get_num_threads(), os.cpu_count())
    """)
    threads, host = map(int, out.split())
    assert threads == 1 and host >= 2
    out = _run("import os, chainrule as cr; print(cr.get_num_threads(), len(os.sched_getaffinity(0)))")
    threads, usable = map(int, out.split())
    assert threads == usable


def test_default_threads_follow_cgroup_quota_and_omp_env_wins(monkeypatch):
    monkeypatch.setattr(_cpus, "cgroup_cpu_limit", lambda: 1.0)  # a container with one CPU
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cr.set_num_threads(2)
    _runtime.apply_default_threads()
    assert cr.get_num_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    _runtime.apply_default_threads()
    assert cr.get_num_threads() == 1  # OMP_NUM_THREADS set: the count is left alone
    assert _run("import chainrule as cr; print(cr.get_num_threads())",
                env=_env(OMP_NUM_THREADS="3")).strip() == "3"


# ---------------------------------------------------------------- fork safety
def _train_steps(steps=3, seed=0):
    """A few SGD steps of a small conv net; returns the final parameters."""
    cr.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(4 * 4 * 4, 10))
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = cr.tensor(rng.standard_normal((16, 1, 8, 8)).astype(np.float32))
    y = rng.integers(0, 10, 16)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return [p.array.copy() for p in model.parameters()]


def _child_work(seed):
    """Runs in the child: kernels at the child's thread count, vs the reference."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((150, 170)), rng.standard_normal((170, 90))
    x, w = rng.standard_normal((3, 4, 13, 11)), rng.standard_normal((5, 4, 3, 3))
    ok = (np.allclose(ops.matmul(a, b), ref.matmul(a, b))
          and np.allclose(ops.conv2d_forward(x, w, None, padding=1),
                          ref.conv2d_forward(x, w, None, padding=1)))
    params = _train_steps(seed=seed)
    return ok, cr.get_num_threads(), _cpus.in_forked_child(), params


def _child_set_threads(n):
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cr.set_num_threads(n)
    return cr.get_num_threads(), [str(w.message) for w in caught]


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_pool_after_training(method):
    if method not in mp.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    cr.set_num_threads(2)
    expected = [_train_steps(seed=s) for s in (1, 2, 3)]  # OpenMP's pool now exists
    ctx = mp.get_context(method)
    pool = ctx.Pool(2)
    try:
        results = pool.map_async(_child_work, [1, 2, 3]).get(timeout=TIMEOUT)
        threads = pool.map_async(_child_set_threads, [2, 2]).get(timeout=TIMEOUT)
    except mp.TimeoutError:
        pytest.fail(f"multiprocessing '{method}' workers hung in a kernel (deadlock after fork)")
    finally:
        pool.terminate()
        pool.join()
    for (ok, nthreads, forked, params), want in zip(results, expected):
        assert ok
        for p, q in zip(params, want):
            np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-5)
        if method == "fork":
            assert forked and nthreads == 1
    if method == "fork":
        for n, msgs in threads:
            assert n == 1 and any("forked" in m for m in msgs), (n, msgs)
    else:  # a forkserver child did not inherit a used OpenMP pool: it may run threads
        assert all(n == 2 and not msgs for n, msgs in threads), threads
    assert cr.get_num_threads() == 2 and not _cpus.in_forked_child()  # the parent is unchanged


def test_raw_fork_child_never_deadlocks():
    """os.fork() straight after a 2-thread kernel; the child exits 0 only if it computed."""
    out = _run("""
        import os, numpy as np, chainrule as cr
        cr.set_num_threads(2)
        a = np.random.default_rng(0).standard_normal((300, 300))
        want = cr.ops.matmul(a, a)
        pid = os.fork()
        if pid == 0:
            ok = np.allclose(cr.ops.matmul(a, a), want) and cr.get_num_threads() == 1
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """, timeout=60)
    assert out.strip() == "0"


# ---------------------------------------------------------------- OpenMP runtimes coexist
_KERNELS = """
    import numpy as np, chainrule as cr
    from chainrule import ops, reference as ref
    cr.set_num_threads(2)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((130, 170)), rng.standard_normal((170, 90))
    x, w = rng.standard_normal((2, 3, 12, 12)), rng.standard_normal((4, 3, 3, 3))
    for _ in range(3):
        assert np.allclose(ops.matmul(a, b), ref.matmul(a, b))
        assert np.allclose(ops.conv2d_forward(x, w, None, padding=1),
                           ref.conv2d_forward(x, w, None, padding=1))
    print("ok", cr.show_config(print_out=False)["openmp"]["runtime"])
"""


def test_torch_imported_first():
    pytest.importorskip("torch")
    out = _run(["""
        import torch
        torch.set_num_threads(2)
        t = torch.randn(256, 256)
        t2 = t @ t
    """, _KERNELS, """
        assert torch.allclose(t @ t, t2)                  # and torch still works afterwards
    """])
    assert out.startswith("ok")


def test_numpy_openblas_threads_first():
    out = _run(["""
        import numpy as np
        m = np.random.default_rng(1).standard_normal((400, 400))
        m2 = m @ m                                        # starts OpenBLAS's threads
    """, _KERNELS, """
        assert np.allclose(m @ m, m2)
    """], env=_env(OPENBLAS_NUM_THREADS="2"))
    assert out.startswith("ok")
