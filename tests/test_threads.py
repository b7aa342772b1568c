"""Thread safety and determinism of the kernels.

The kernels release the GIL; several Python threads calling them at once must get the
same bits as sequential calls, with chainrule's OpenMP thread count at 1 and 2, and
changing the thread count from another thread while kernels run must be safe.
"""
import os
import threading

import numpy as np
import pytest

import chainrule as cr
from chainrule import ops


def _cases(rng, dtype):
    """(name, callable) pairs covering every kernel family, on mid-sized inputs."""
    r = lambda *s: rng.standard_normal(s).astype(dtype)
    a, b = r(67, 129), r(129, 45)
    x, w, bias, dy = r(33, 70), r(41, 70), r(41), r(33, 41)
    cx, cw, cb = r(3, 4, 13, 11), r(5, 4, 3, 2), r(5)
    cy = ops.conv2d_forward(cx, cw, cb, stride=(2, 1), padding=1)
    cdy = r(*cy.shape)
    px = r(2, 3, 9, 10)
    py, pidx = ops.max_pool2d_forward(px, 3, 2, 1)
    pdy = r(*py.shape)
    ax = r(2, 3, 9, 10)
    ay = ops.avg_pool2d_forward(ax, (3, 2), 2, 1)
    ady = r(*ay.shape)
    T, N, I, H = 6, 3, 5, 7
    rx, rh0, wih, whh, bih, bhh = r(T, N, I), r(N, H), r(H, I), r(H, H), r(H), r(H)
    hs = ops.rnn_forward(rx, rh0, wih, whh, bih, bhh, "tanh")
    dhs = r(T, N, H)
    return [
        ("matmul", lambda: ops.matmul(a, b)),
        ("matmul_tt", lambda: ops.matmul(b, a, trans_a=True, trans_b=True)),
        ("linear_forward", lambda: ops.linear_forward(x, w, bias)),
        ("linear_backward", lambda: ops.linear_backward(dy, x, w)),
        ("conv2d_forward", lambda: ops.conv2d_forward(cx, cw, cb, stride=(2, 1), padding=1)),
        ("conv2d_backward", lambda: ops.conv2d_backward(cdy, cx, cw, stride=(2, 1), padding=1)),
        ("max_pool2d_forward", lambda: ops.max_pool2d_forward(px, 3, 2, 1)),
        ("max_pool2d_backward", lambda: ops.max_pool2d_backward(pdy, pidx, px.shape)),
        ("avg_pool2d_forward", lambda: ops.avg_pool2d_forward(ax, (3, 2), 2, 1)),
        ("avg_pool2d_backward", lambda: ops.avg_pool2d_backward(ady, ax.shape, (3, 2), 2, 1)),
        ("rnn_forward", lambda: ops.rnn_forward(rx, rh0, wih, whh, bih, bhh, "tanh")),
        ("rnn_backward", lambda: ops.rnn_backward(dhs, rx, rh0, hs, wih, whh, "tanh")),
    ]


def _flat(out):
    if isinstance(out, tuple):
        return [o for o in out if o is not None]
    return [out]


def _bits_equal(a, b):
    return all(x.shape == y.shape and x.tobytes() == y.tobytes() for x, y in zip(_flat(a), _flat(b)))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_concurrent_python_threads_same_bits(threads, dtype):
    cr.set_num_threads(threads)
    cases = _cases(np.random.default_rng(5), dtype)
    expected = {name: fn() for name, fn in cases}
    errors = []

    def worker(k):
        try:
            for rep in range(3):
                for name, fn in cases[k % 3:] + cases[:k % 3]:  # different orders per thread
                    if not _bits_equal(fn(), expected[name]):
                        errors.append(f"{name} differs in thread {k}, repetition {rep}")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"thread {k}: {type(e).__name__}: {e}")

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_repeated_calls_bitwise_identical(dtype):
    for threads in (1, 2):
        cr.set_num_threads(threads)
        cases = _cases(np.random.default_rng(9), dtype)
        for name, fn in cases:
            first = fn()
            for _ in range(3):
                assert _bits_equal(fn(), first), f"{name} not deterministic at {threads} threads"


def test_set_num_threads_while_kernels_run():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((200, 150)), rng.standard_normal((150, 170))
    ref = a @ b
    stop = threading.Event()
    errors = []

    def flipper():
        n = 1
        while not stop.is_set():
            cr.set_num_threads(n)
            n = 3 - n

    def worker():
        try:
            for _ in range(30):
                np.testing.assert_allclose(ops.matmul(a, b), ref, rtol=1e-10, atol=1e-10)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    f = threading.Thread(target=flipper)
    ws = [threading.Thread(target=worker) for _ in range(2)]
    f.start()
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    stop.set()
    f.join()
    assert not errors, errors


# ---- contention probe (csrc/cpu.c): the thread count in use may drop to 1 under load ----
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_bits_on_one_and_two_threads(dtype):
    """The contention probe may run any kernel on fewer threads than configured, so every
    kernel must compute the same bits on 1 and 2 threads (fixed chunk boundaries)."""
    got = {}
    for threads in (1, 2):
        cr.set_num_threads(threads)
        got[threads] = {name: fn() for name, fn in _cases(np.random.default_rng(11), dtype)}
    for name in got[1]:
        assert _bits_equal(got[1][name], got[2][name]), f"{name}: 1 and 2 threads differ"


@pytest.fixture
def probe_defaults():
    from chainrule import _runtime
    was_on = _runtime.contention_probe()[2]
    yield _runtime
    _runtime.contention_probe(was_on, None)
    cr.set_num_threads(2)


def test_contention_probe_drops_to_one_thread_and_keeps_the_setting(probe_defaults):
    rt = probe_defaults
    cr.set_num_threads(2)
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((300, 200)), rng.standard_normal((200, 250))
    rt.contention_probe(True, 0)  # every worker start latency counts as contended
    assert rt.threads_in_use() == 1
    threads, latency, on = rt.contention_probe()
    assert threads == 1 and latency is not None and latency >= 0 and on
    assert cr.get_num_threads() == 2  # the setting is unchanged
    c1 = ops.matmul(a, b)
    rt.contention_probe(True, 1e9, 2.0)  # nothing counts as contended
    assert rt.threads_in_use() == 2
    assert ops.matmul(a, b).tobytes() == c1.tobytes()
    rt.contention_probe(False, 0)  # off: always the configured count
    assert rt.threads_in_use() == 2
    cr.set_num_threads(1)
    rt.contention_probe(True, 0)
    assert rt.threads_in_use() == 1 and rt.contention_probe()[1] is None  # no probe on 1


def test_contention_probe_halves_then_verifies(probe_defaults):
    """With 4 threads configured, a slow probe halves the count (4 -> 2); the next probe,
    once the back-off (50 ms) has passed, verifies 2 and halves again (-> 1)."""
    import time
    rt = probe_defaults
    cr.set_num_threads(4)
    rt.contention_probe(True, 0)
    assert rt.threads_in_use() == 2
    time.sleep(0.06)
    assert rt.threads_in_use() == 1
    rt.contention_probe(True, 1e9, 2.0)
    assert rt.threads_in_use() == 4


@pytest.mark.skipif(not os.path.exists("/proc/thread-self/schedstat"),
                    reason="no per-thread scheduler statistics (Linux schedstat)")
@pytest.mark.parametrize("bad_share", [None, 2.0])
def test_contention_probe_sees_workers_sharing_their_cores(probe_defaults, bad_share):
    """Busy processes on every CPU: the workers start at once (start latency never counts
    here) but wait for a core for much of their runnable time; the default wait share
    (0.35) drops the kernels to 1 thread, a share no thread can reach (2.0) never does."""
    import subprocess
    import sys
    import time
    rt = probe_defaults
    cpus = len(os.sched_getaffinity(0))
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cpus)]
    try:
        time.sleep(0.1)
        cr.set_num_threads(2)
        rt.contention_probe(True, 1e9, bad_share)
        a = np.random.default_rng(3).standard_normal((256, 256))
        seen, shares, t0 = set(), [], time.perf_counter()
        while time.perf_counter() - t0 < 0.4 and 1 not in seen:
            ops.matmul(a, a)                      # ~1 ms parallel kernels
            seen.add(rt.threads_in_use())
            shares.append(rt.contention_wait_share())
    finally:
        for p in busy:
            p.kill()
            p.wait()
    known = [x for x in shares if x is not None]
    assert known and max(known) >= 0.35, shares  # the workers did wait for a core
    assert (1 in seen) == (bad_share is None), (seen, shares)


@pytest.mark.parametrize("env, want", [("0", ["2", "None", "False"]), (None, ["1", "True"])])
def test_adaptive_threads_env_turns_the_probe_off(env, want):
    """On by default; CHAINRULE_ADAPTIVE_THREADS=0 turns it off (the suite runs with it off,
    see conftest.py)."""
    import os
    import subprocess
    import sys
    code = ("import chainrule as cr; from chainrule import _runtime as rt; cr.set_num_threads(2);"
            "rt.contention_probe(bad_latency_us=0); n = rt.threads_in_use(); "
            "_, lat, on = rt.contention_probe(); print(n, *([lat] if lat is None else []), on)")
    environ = {k: v for k, v in os.environ.items() if k != "CHAINRULE_ADAPTIVE_THREADS"}
    if env is not None:
        environ["CHAINRULE_ADAPTIVE_THREADS"] = env
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=environ)
    assert out.stdout.split() == want
