/*
 * addr.h - one address type for both families.
 *
 * An IPv4 address is held as itself, never as ::ffff:a.b.c.d: every
 * constructor folds IPv4-mapped IPv6 into IPv4, so comparisons, hashing and
 * the map keys see one form.  Values are plain data, copied freely.
 */
#ifndef DRACD_ADDR_H
#define DRACD_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_TEXTMAX 46		/* INET6_ADDRSTRLEN */

struct addr {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t bytes[16];	/* network order; IPv4 uses the first 4 */
};

int addr_parse(struct addr *, const char *);
int addr_from_bytes(struct addr *, int, const void *, size_t);
int addr_from_sockaddr(struct addr *, const struct sockaddr *, socklen_t);
void addr_format(const struct addr *, char buf[ADDR_TEXTMAX]);
size_t addr_len(const struct addr *);
int addr_equal(const struct addr *, const struct addr *);
int addr_in_prefix(const struct addr *, const struct addr *, unsigned int);
int addr_is_network(const struct addr *, unsigned int);
int addr_mask_to_prefix(const struct addr *, unsigned int *);
int addr_is_loopback(const struct addr *);
const char *addr_unusable(const struct addr *);

int addr_hostport(const char *spec, char *host, size_t hostlen,
    uint16_t *port);
int addr_sockaddr(const char *host, uint16_t port, struct sockaddr_storage *,
    socklen_t *);

#endif
