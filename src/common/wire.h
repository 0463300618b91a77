/*
 * wire.h - struct addr to and from version 3's drac_addr union; shared by
 * the daemon and libdrac.  No state.
 */
#ifndef DRACD_WIRE_H
#define DRACD_WIRE_H

#include "addr.h"
#include "drac_prot.h"

void wire_from_addr(const struct addr *, drac_addr *);
int wire_to_addr(const drac_addr *, struct addr *);

bool_t wire_xdr_none(XDR *, void *);

#endif
