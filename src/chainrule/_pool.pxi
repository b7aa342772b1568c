# _pool.pxi — bindings for csrc/pool.c (included by _kernels.pyx)
