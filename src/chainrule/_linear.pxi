# _linear.pxi — bindings for csrc/linear.c (included by _kernels.pyx)
