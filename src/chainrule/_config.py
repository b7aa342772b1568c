"""``chainrule.show_config()``: what this installation is and how it was built."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Any, Dict, List, Optional

from . import _cpus, _runtime

class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def _openmp_runtime() -> Optional[str]:
    """Path of the OpenMP runtime chainrule's extension resolves omp_get_max_threads to."""
    try:
        ext = ctypes.CDLL(_runtime.extension_file(), mode=os.RTLD_NOLOAD | os.RTLD_LOCAL)
        fn = ctypes.cast(ext.omp_get_max_threads, ctypes.c_void_p)
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        info = _DlInfo()
        if libc.dladdr(fn, ctypes.byref(info)) and info.dli_fname:
            return os.path.realpath(info.dli_fname.decode())
    except (OSError, AttributeError, ValueError):
        pass
    return None


def _loaded_openmp_runtimes() -> List[str]:
    """Every OpenMP runtime mapped into this process (libgomp, LLVM libomp, Intel libiomp)."""
    found = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split(None, 5)[-1].strip() if line.count(" ") >= 5 else ""
                name = os.path.basename(path)
                if name.startswith(("libgomp", "libomp", "libiomp")) and path not in found:
                    found.append(path)
    except OSError:
        pass
    return found


def _build_info() -> Dict[str, str]:
    try:
        from . import _build_info as b  # type: ignore[attr-defined, unused-ignore]  # by the build
    except ImportError:
        return {}
    return {k: v for k, v in vars(b).items() if not k.startswith("_") and isinstance(v, str)}


def show_config(print_out: bool = True) -> Dict[str, Any]:
    """Print and return this installation's configuration.

    Keys: version, isa (the instruction set the kernels use, and the best this CPU runs), threads (count, OMP_NUM_THREADS, CPUs
    available to this process, forked child), openmp (runtime in use, spec version, other
    runtimes loaded in this process) and build (compiler, flags, build type, target).
    """
    from . import __version__
    build = _build_info()
    runtime = _openmp_runtime()
    cfg: Dict[str, Any] = {
        "version": __version__,
        "isa": {"active": _runtime.isa(), "detected": _runtime.isa_detected()},
        "threads": {"num_threads": _runtime.get_num_threads(),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
                    "available_cpus": _cpus.available_cpus(),
                    "forked_child": _cpus.in_forked_child()},
        "openmp": {"runtime": runtime,
                   "spec": build.get("openmp_spec") or None,
                   "other_runtimes": [p for p in _loaded_openmp_runtimes()
                                      if os.path.realpath(p) != runtime]},
        "build": {k: build.get(k) for k in ("compiler", "c_flags", "build_type",
                                            "openmp_flags", "target", "native", "sanitize")},
    }
    if print_out:
        for section, value in cfg.items():
            if isinstance(value, dict):
                print(f"{section}:")
                for k, v in value.items():
                    print(f"  {k}: {v}")
            else:
                print(f"{section}: {value}")
    return cfg
