/*
 * wire.c - the one conversion between struct addr and drac_addr.
 */
#include <string.h>

#include "wire.h"

/* wire_from_addr - an address into its v3 form */
void
wire_from_addr(const struct addr *a, drac_addr *w)
{
	memset(w, 0, sizeof(*w));
	if (a->family == AF_INET) {
		w->af = DRAC_AF_INET;
		memcpy(w->drac_addr_u.v4, a->bytes, 4);
	} else {
		w->af = DRAC_AF_INET6;
		memcpy(w->drac_addr_u.v6, a->bytes, 16);
	}
}

/* wire_to_addr - a v3 address; -1 for a family it does not know */
int
wire_to_addr(const drac_addr *w, struct addr *a)
{
	if (w->af == DRAC_AF_INET)
		return addr_from_bytes(a, AF_INET, w->drac_addr_u.v4, 4);
	if (w->af == DRAC_AF_INET6)
		return addr_from_bytes(a, AF_INET6, w->drac_addr_u.v6, 16);
	return -1;
}

/* wire_xdr_none - no argument or no result (xdr_void's prototype is
 * empty, so it cannot stand in an xdrproc_t table) */
bool_t
wire_xdr_none(XDR *x, void *p)
{
	(void)x, (void)p;
	return TRUE;
}
