# _conv.pxi — bindings for csrc/conv.c (included by _kernels.pyx)
