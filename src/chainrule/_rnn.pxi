# _rnn.pxi — bindings for csrc/rnn.c (included by _kernels.pyx)
