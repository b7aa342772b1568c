/* conv.h — declarations of the conv kernels (see conv.c). */
#ifndef CHAINRULE_CONV_H
#define CHAINRULE_CONV_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
