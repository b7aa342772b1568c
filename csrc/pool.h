/* pool.h — declarations of the pool kernels (see pool.c). */
#ifndef CHAINRULE_POOL_H
#define CHAINRULE_POOL_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
