/*
 * acl.h - who may add, check and administer.
 *
 * A struct acl is built whole by acl_load and never changed afterwards,
 * so any number of threads may query it; SIGHUP swaps in a new one.
 */
#ifndef DRACD_ACL_H
#define DRACD_ACL_H

#include <stddef.h>

#include "addr.h"

#define ACL_ADD		0x1	/* POP/IMAP servers */
#define ACL_CHECK	0x2	/* SMTP servers */
#define ACL_ADMIN	0x4	/* del, list, stats, flush */
#define ACL_NEVER	0x10	/* not a caller's right: no add may grant an
				 * address in the rule's network (found with
				 * acl_match, never in acl_rights) */

/*
 * How a request reached dracd.  A datagram's source address is whatever
 * its sender wrote; a TCP connection's was proven by the handshake.
 */
#define ACL_VIA_TCP	0x1	/* over a TCP connection */
#define ACL_VIA_LO	0x2	/* a datagram that arrived on a loopback
				 * interface */
#define ACL_VIA_UDP	0x4	/* a datagram that arrived on any other */
#define ACL_VIA_ANY	(ACL_VIA_TCP | ACL_VIA_LO | ACL_VIA_UDP)

struct acl_rule {
	struct addr net;
	unsigned int bits;
	unsigned int rights;
	unsigned int via;	/* ACL_VIA_*: the paths the rule holds for */
};

struct acl {
	struct acl_rule *rules;
	size_t count;
	int from_file;		/* 0: the built-in defaults */
};

struct acl *acl_load(const char *path, int must_exist, char *err,
    size_t errlen);
struct acl *acl_parse(const char *text, const char *name, char *err,
    size_t errlen);
struct acl *acl_defaults(void);
unsigned int acl_rights(const struct acl *, const struct addr *,
    unsigned int via);
int acl_match(const struct acl *, const struct addr *, unsigned int right,
    struct acl_rule *);
int acl_add_never(struct acl *, const char *list, char *err,
    size_t errlen);
void acl_free(struct acl *);

#endif
