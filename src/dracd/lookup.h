/*
 * lookup.h - live lookups for MTAs: the Postfix policy delegation
 * protocol and the socketmap protocol (Postfix, Sendmail), served by
 * stream.c with a struct server (policy.h) as context.
 */
#ifndef DRACD_LOOKUP_H
#define DRACD_LOOKUP_H

#include <stddef.h>
#include <sys/types.h>

#include "stream.h"

#define LOOKUP_POLICYMAX	8192	/* bytes of one policy request */
#define LOOKUP_SOCKMAPMAX	1024	/* bytes of one socketmap request */

extern const struct stream_proto lookup_policy_proto;
extern const struct stream_proto lookup_socketmap_proto;

/* The parsers, exposed for tests and fuzzing. */
ssize_t policy_request(const char *in, size_t len, char *client,
    size_t clientlen);
ssize_t netstring_get(const char *in, size_t len, size_t max,
    const char **data, size_t *datalen);

#endif
