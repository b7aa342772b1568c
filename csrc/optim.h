/* optim.h — declarations of the optim kernels (see optim.c). */
#ifndef CHAINRULE_OPTIM_H
#define CHAINRULE_OPTIM_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
