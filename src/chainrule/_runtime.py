"""The CPU runtime: thread count, glibc heap tuning, instruction-set query.

With ``chainrule.ops`` this is the only module that imports the C extension
(``chainrule._kernels``); everything above (autograd, nn, optim, train, bench) goes
through these two. ``chainrule.set_num_threads`` / ``get_num_threads`` are re-exported
from here; ``tune_heap()`` is called once by the package ``__init__``.
"""
import os

from . import _cpus, _kernels

__all__ = ["set_num_threads", "get_num_threads", "tune_heap", "isa", "isa_detected", "set_isa",
           "conv_algo", "set_conv_algo", "cpu_clock_ghz", "fma_peak_gflops", "install", "apply_default_threads",
           "extension_file", "threads_in_use", "contention_probe",
           "contention_wait_share"]


def set_num_threads(n: int) -> None:
    """Set the number of OpenMP threads every chainrule kernel uses (n >= 1)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: n must be an int, got {n!r}")
    if n > 2**31 - 1:
        raise ValueError(f"set_num_threads: n must be <= {2**31 - 1} (a C int), got {n}")
    _kernels.set_num_threads(_cpus.fork_safe_threads(n))


def get_num_threads() -> int:
    """The number of threads chainrule's kernels use."""
    return _kernels.get_num_threads()


def threads_in_use() -> int:
    """The threads a parallel kernel starting now runs on: get_num_threads(), or 1 while
    the contention probe (csrc/cpu.c) finds the worker threads kept off the cores by other
    processes or another library's spinning threads. Results are the same bits either way."""
    return _kernels.threads_now()


def contention_probe(enabled=None, bad_latency_us=None, bad_wait_share=None):
    """Configure the contention probe: ``enabled`` True/False (default on; the environment
    variable CHAINRULE_ADAPTIVE_THREADS=0 turns it off at start); what counts as contended:
    ``bad_latency_us``, a worker starting that late (default 250), or ``bad_wait_share``, a
    thread of the team that spent that share of its runnable time since the last probe
    waiting for a core (default 0.35; read from /proc/self/task/*/schedstat on Linux). None
    leaves a setting alone / restores its default; a call with any argument re-arms the
    probe. Returns (threads in use, the last probe's worker start latency in us or None,
    on?)."""
    if enabled is not None or bad_latency_us is not None or bad_wait_share is not None:
        _kernels.contention_config(enabled, bad_latency_us, bad_wait_share)
    return _kernels.contention_state()[:3]


def contention_wait_share():
    """The largest share of runnable time a thread of chainrule's team spent waiting for a
    core, as read by the last contention probe at the thread count in use (None if that
    probe had no reading: just started, or the workers idle)."""
    return _kernels.contention_state()[3]


def tune_heap(environ=os.environ) -> bool:
    """Ask glibc to keep memory freed between training steps mapped (see csrc/heap.c):
    otherwise every step page-faults its activations back in (measured: ~35% of a
    LeNet-5 batch-64 step). Keeps up to 128 MiB of freed heap; blocks up to 32 MiB come
    from the heap. Skipped if CHAINRULE_MALLOC_TUNING=0 or the user tuned malloc through
    the environment. True when applied."""
    if environ.get("CHAINRULE_MALLOC_TUNING", "1") == "0":
        return False
    if ("MALLOC_TRIM_THRESHOLD_" in environ or "MALLOC_MMAP_THRESHOLD_" in environ
            or "glibc.malloc" in environ.get("GLIBC_TUNABLES", "")):
        return False
    return _kernels.heap_keep_freed(128 << 20, 32 << 20)


def isa() -> str:
    """The vector instruction set the kernels use: "avx512", "avx2" or "generic"
    (capped by the CHAINRULE_ISA environment variable or :func:`set_isa`)."""
    return _kernels.isa()


def isa_detected() -> str:
    """The best instruction set this CPU runs, before any CHAINRULE_ISA cap."""
    return _kernels.isa_detected()


def set_isa(name=None) -> None:
    """Force the kernels onto one instruction set ("avx512", "avx2", "generic"; None =
    the best this CPU runs), for tests and benchmarks. ValueError if unknown or not
    supported by this CPU."""
    if name is not None and not isinstance(name, str):
        raise TypeError(f"set_isa: name must be a str or None, got {name!r}")
    _kernels.set_isa(name)


def conv_algo() -> str:
    """The convolution algorithm setting: "auto" (a path per shape), "im2col", "implicit",
    "winograd" or "pointwise"
    (read from CHAINRULE_CONV_ALGO by the C runtime, or set by :func:`set_conv_algo`).
    ``chainrule.ops.conv2d_plan`` says what a given layer runs."""
    return _kernels.conv_algo()


def set_conv_algo(name=None) -> None:
    """Force the convolution algorithm ("auto", "im2col", "implicit", "winograd", "pointwise"
    (every 1x1 layer without padding as one product over the batch); None = the default:
    CHAINRULE_CONV_ALGO, else "auto"), for tests and benchmarks. ValueError if unknown."""
    if name is not None and not isinstance(name, str):
        raise TypeError(f"set_conv_algo: name must be a str or None, got {name!r}")
    _kernels.conv_set_algo(name)


def cpu_clock_ghz() -> float:
    """The core clock in GHz, measured with a chain of dependent adds (0.0 if unavailable)."""
    return _kernels.cpu_clock_ghz()


def fma_peak_gflops(dtype: str = "float32", threads: int = 1) -> float:
    """The measured vector FMA peak in GFLOP/s of `threads` threads running at once, on the
    active ISA level's widest FMA (0.0 on the generic level): what a loop of independent
    FMAs reaches at the clock the cores really hold with that ISA. For benchmark reports."""
    if dtype not in ("float32", "float64"):
        raise ValueError(f"fma_peak_gflops: dtype must be 'float32' or 'float64', got {dtype!r}")
    if threads < 1:
        raise ValueError(f"fma_peak_gflops: threads must be >= 1, got {threads}")
    return float(_kernels.fma_peak_gflops(dtype == "float64", threads))


def extension_file() -> str:
    """Path of the compiled extension (show_config finds its OpenMP runtime from it)."""
    return _kernels.__file__


def apply_default_threads() -> None:
    """Without OMP_NUM_THREADS, use as many threads as this process has usable CPUs
    (affinity mask capped by the cgroup quota), not the host's core count."""
    if not os.environ.get("OMP_NUM_THREADS", "").strip():
        _kernels.set_num_threads(_cpus.available_cpus())


def _after_fork_in_child() -> None:
    _cpus.mark_forked_child()
    _kernels.set_num_threads(1)  # libgomp's pool does not survive fork: run serially


def install() -> None:
    """Run once by the package __init__: default threads, fork handler, heap tuning,
    threadpoolctl registration (when installed)."""
    apply_default_threads()
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
    tune_heap()
    from . import _threadpool
    try:
        _threadpool.register()
    except Exception:  # noqa: BLE001 - an incompatible threadpoolctl must not break import
        pass
