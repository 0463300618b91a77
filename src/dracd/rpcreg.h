/*
 * rpcreg.h - registration with rpcbind, so DRAC clients find the port.
 */
#ifndef DRACD_RPCREG_H
#define DRACD_RPCREG_H

#include <stddef.h>
#include <stdint.h>

#include "svc.h"

int rpcreg_set(unsigned long prog, unsigned long lo, unsigned long hi,
    const struct svc_sock *, size_t n);
int rpcreg_present(unsigned long prog, unsigned long vers, uint16_t port);
void rpcreg_unset(unsigned long prog, unsigned long lo, unsigned long hi);

#endif
