"""chainrule's thread pool as a threadpoolctl controller (only when threadpoolctl is
installed; it is not a dependency).

``threadpoolctl.threadpool_limits(1)`` then limits chainrule's kernels as it limits
NumPy's BLAS and OpenMP libraries: chainrule keeps its own process-wide thread count
(``chainrule.set_num_threads``), which ``omp_set_num_threads`` -- what threadpoolctl's
OpenMP controller calls -- does not change. The controller reports user_api "openmp"
(chainrule's kernels are OpenMP code, so ``threadpool_limits(n, user_api="openmp")``
limits them too) and internal_api "chainrule". It is matched to the loaded extension
module by its file name and the C symbol ``cr_num_threads_setting``.
"""
from __future__ import annotations

import importlib.util
import os

_registered = False


def controller_class():
    """The threadpoolctl LibController subclass for chainrule (threadpoolctl imported)."""
    from threadpoolctl import LibController

    from . import _runtime

    class ChainruleController(LibController):
        user_api = "openmp"
        internal_api = "chainrule"
        filename_prefixes = ("_kernels.",)
        check_symbols = ("cr_num_threads_setting", "cr_set_num_threads")

        def get_num_threads(self):
            return _runtime.get_num_threads()

        def set_num_threads(self, num_threads):
            _runtime.set_num_threads(max(1, int(num_threads)))

        def get_version(self):
            from . import __version__
            return __version__

    return ChainruleController


def register() -> bool:
    """Register the controller with threadpoolctl if it is installed (once). True when
    registered. Skipped with CHAINRULE_THREADPOOLCTL=0."""
    global _registered
    if _registered:
        return True
    if os.environ.get("CHAINRULE_THREADPOOLCTL", "1") == "0":
        return False
    if importlib.util.find_spec("threadpoolctl") is None:
        return False
    import threadpoolctl
    if not hasattr(threadpoolctl, "register"):   # threadpoolctl < 3.5 has no custom API
        return False
    threadpoolctl.register(controller_class())
    _registered = True
    return True
