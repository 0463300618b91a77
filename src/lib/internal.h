/*
 * internal.h - what compat.c uses of drac.c; hidden from the library's
 * users (only EXPORT functions are visible).
 */
#ifndef LIBDRAC_INTERNAL_H
#define LIBDRAC_INTERNAL_H

#include "drac.h"
#include "drac_prot.h"
#include "rpcclnt.h"

#define MAXSERVERS RPCC_MAXTARGETS	/* servers in one handle */

/* the public limit is the protocol's (rpc/drac.x) */
_Static_assert(DRAC_USERMAX == DRAC_MAXUSER, "one user-name limit");

int drac_open_until(drac_t **, const char *servers,
    const struct drac_options *, int64_t deadline);
drac_t *drac_dup(const drac_t *);
void drac_keep_ports(drac_t *, const drac_t *copy);
int drac_call(drac_t *, const struct rpc_req *, void *res, int *status,
    int first);
int drac_call_until(drac_t *, const struct rpc_req *, void *res,
    int *status, int first, int64_t deadline);
size_t drac_nservers(const drac_t *);

#endif
