/*
 * internal.h - what compat.c uses of drac.c; hidden from the library's
 * users (only EXPORT functions are visible).
 */
#ifndef LIBDRAC_INTERNAL_H
#define LIBDRAC_INTERNAL_H

#include "drac.h"
#include "rpcclnt.h"

#define MAXSERVERS 16

int drac_call(drac_t *, const struct rpc_req *, void *res, int *status,
    int first);
size_t drac_nservers(const drac_t *);

#endif
