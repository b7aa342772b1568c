/* rnn.h — declarations of the rnn kernels (see rnn.c). */
#ifndef CHAINRULE_RNN_H
#define CHAINRULE_RNN_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
