/*
 * addr.c - address parsing, normalisation and prefix matching.
 *
 * The only place that turns address text or socket addresses into a
 * struct addr.  Text is parsed with inet_pton, so "1.2.3" or " 1.2.3.4"
 * are refused rather than guessed at.  No state; safe from any thread.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* addr_from_bytes - build from raw network-order bytes, folding v4-mapped */
int
addr_from_bytes(struct addr *a, int family, const void *p, size_t len)
{
	memset(a, 0, sizeof(*a));
	if (family == AF_INET && len == 4) {
		a->family = AF_INET;
		memcpy(a->bytes, p, 4);
		return 0;
	}
	if (family != AF_INET6 || len != 16)
		return -1;
	if (memcmp(p, v4mapped, sizeof(v4mapped)) == 0) {
		a->family = AF_INET;
		memcpy(a->bytes, (const uint8_t *)p + 12, 4);
	} else {
		a->family = AF_INET6;
		memcpy(a->bytes, p, 16);
	}
	return 0;
}

/* addr_parse - parse IPv4 dotted quad or IPv6 text; -1 if it is neither */
int
addr_parse(struct addr *a, const char *s)
{
	uint8_t buf[16];

	if (inet_pton(AF_INET, s, buf) == 1)
		return addr_from_bytes(a, AF_INET, buf, 4);
	if (inet_pton(AF_INET6, s, buf) == 1)
		return addr_from_bytes(a, AF_INET6, buf, 16);
	return -1;
}

/* addr_from_sockaddr - take the address of a peer or local socket */
int
addr_from_sockaddr(struct addr *a, const struct sockaddr *sa, socklen_t len)
{
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		return addr_from_bytes(a, AF_INET,
		    &((const struct sockaddr_in *)sa)->sin_addr, 4);
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		return addr_from_bytes(a, AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	return -1;
}

/* addr_format - the text DRAC writes as a map key (inet_ntop form) */
void
addr_format(const struct addr *a, char buf[ADDR_TEXTMAX])
{
	if (inet_ntop(a->family, a->bytes, buf, ADDR_TEXTMAX) == NULL)
		strcpy(buf, "?");
}

/* addr_len - bytes that matter: 4 or 16 */
size_t
addr_len(const struct addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

/* addr_equal - same family and bytes */
int
addr_equal(const struct addr *a, const struct addr *b)
{
	return a->family == b->family &&
	    memcmp(a->bytes, b->bytes, addr_len(a)) == 0;
}

/* addr_in_prefix - is a inside net/bits (same family)? */
int
addr_in_prefix(const struct addr *a, const struct addr *net,
    unsigned int bits)
{
	unsigned int whole = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (a->family != net->family || bits > addr_len(a) * 8)
		return 0;
	if (memcmp(a->bytes, net->bytes, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a->bytes[whole] & mask) == (net->bytes[whole] & mask);
}

/* addr_mask_to_prefix - a contiguous netmask to its length; -1 otherwise */
int
addr_mask_to_prefix(const struct addr *mask, unsigned int *bits)
{
	size_t i, n = addr_len(mask);
	unsigned int count = 0;
	int seen_zero = 0;

	for (i = 0; i < n * 8; i++) {
		int bit = (mask->bytes[i / 8] >> (7 - i % 8)) & 1;

		if (bit && seen_zero)
			return -1;
		if (bit)
			count++;
		else
			seen_zero = 1;
	}
	*bits = count;
	return 0;
}

/* addr_is_loopback - 127.0.0.0/8 or ::1 */
int
addr_is_loopback(const struct addr *a)
{
	static const uint8_t one[16] = {[15] = 1};

	if (a->family == AF_INET)
		return a->bytes[0] == 127;
	return memcmp(a->bytes, one, 16) == 0;
}

/* addr_is_network - are all bits after the first bits zero? */
int
addr_is_network(const struct addr *a, unsigned int bits)
{
	size_t i;

	for (i = bits; i < addr_len(a) * 8; i++)
		if ((a->bytes[i / 8] >> (7 - i % 8)) & 1)
			return 0;
	return 1;
}

/*
 * addr_unusable - why a can never be a client's source address, or NULL:
 * the unspecified address and "this network" (0.0.0.0/8, ::), multicast
 * (224.0.0.0/4, ff00::/8), and 240.0.0.0/4 with the limited broadcast
 * 255.255.255.255.  IPv4-mapped forms were folded to IPv4 already.
 */
const char *
addr_unusable(const struct addr *a)
{
	static const uint8_t zero[16];

	if (a->family == AF_INET) {
		if (a->bytes[0] == 0)
			return "unspecified";
		if ((a->bytes[0] & 0xf0) == 0xe0)
			return "multicast";
		if ((a->bytes[0] & 0xf0) == 0xf0)
			return "broadcast";
		return NULL;
	}
	if (memcmp(a->bytes, zero, 16) == 0)
		return "unspecified";
	if (a->bytes[0] == 0xff)
		return "multicast";
	return NULL;
}

/*
 * addr_hostport - split "host", "host:port", "[v6]:port", "[v6]" or a
 * bare IPv6 address into host (without brackets) and port (0: none
 * given); -1 when malformed or host does not fit.  The one host:port
 * parser of the daemon's listeners and libdrac's servers.
 */
int
addr_hostport(const char *spec, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon, *end = spec + strlen(spec);
	char *e;
	unsigned long p;

	*port = 0;
	if (*spec == '[') {
		const char *rb = strchr(spec, ']');

		if (rb == NULL || (rb[1] != '\0' && rb[1] != ':'))
			return -1;
		colon = rb[1] == ':' ? rb + 1 : NULL;
		spec++;
		end = rb;
	} else if ((colon = strchr(spec, ':')) != NULL &&
	    strchr(colon + 1, ':') != NULL) {
		colon = NULL;	/* a bare IPv6 address: no port */
	} else if (colon != NULL) {
		end = colon;
	}
	if (end == spec || (size_t)(end - spec) >= hostlen)
		return -1;
	memcpy(host, spec, (size_t)(end - spec));
	host[end - spec] = '\0';
	if (colon == NULL)
		return 0;
	p = strtoul(colon + 1, &e, 10);
	if (colon[1] < '0' || colon[1] > '9' || *e != '\0' || p == 0 ||
	    p > 65535)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

/* addr_sockaddr - the socket address of a numeric host and port; -1 when
 * host is not an IPv4 or IPv6 address */
int
addr_sockaddr(const char *host, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	return -1;
}
