/*
 * audit.h - values for the audit log's key=value lines.
 */
#ifndef DRACD_AUDIT_H
#define DRACD_AUDIT_H

#include <stddef.h>

/* room for a DRAC_MAXUSER-byte value with every byte escaped */
#define AUDIT_VALUEMAX (3 * 64 + 4)

void audit_value(const char *, char *, size_t);

#endif
