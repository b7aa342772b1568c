/* linear.h — declarations of the linear kernels (see linear.c). */
#ifndef CHAINRULE_LINEAR_H
#define CHAINRULE_LINEAR_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
