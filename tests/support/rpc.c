/*
 * rpc.c - raw RPC calls built by hand (so the wire format is checked
 * apart from rpcgen), their replies read, and rpcgen clients.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "helpers.h"

/* put32 - one big-endian XDR unit at p; its length, 4 */
size_t
put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
	return 4;
}

/*
 * rpc_header - an RPC call header with AUTH_NONE, built by hand so that
 * the wire format is checked independently of rpcgen; its length (40).
 */
size_t
rpc_header(uint8_t *buf, uint32_t xid, uint32_t prog, uint32_t vers,
    uint32_t proc)
{
	const uint32_t w[10] = {xid, 0, 2, prog, vers, proc, 0, 0, 0, 0};
	size_t i;

	for (i = 0; i < 10; i++)
		put32(buf + 4 * i, w[i]);
	return 40;
}

/* get32 - one big-endian XDR unit */
static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

/*
 * reply_status - the accept_stat of an accepted reply to xid (and its
 * first result word when wanted); -1 for no, another, or a denied reply.
 */
int
reply_status(const uint8_t *r, ssize_t len, uint32_t xid, uint32_t *result)
{
	if (len < 24 || get32(r) != xid || get32(r + 4) != 1 ||
	    get32(r + 8) != 0)
		return -1;
	if (result != NULL)
		*result = len >= 28 ? get32(r + 24) : 0xffffffff;
	return (int)get32(r + 20);
}

/* client_v3 - an rpcgen client for version 3 from source address src */
CLIENT *
client_v3(const char *src, uint16_t port, int tcp)
{
	struct timeval tv = {2, 0};
	struct sockaddr_in sa;
	CLIENT *c;
	int fd = dial(src, port, tcp ? SOCK_STREAM : SOCK_DGRAM, &sa);

	ck_assert(fd >= 0);
	if (tcp)
		c = clnttcp_create(&sa, 900101, 3, &fd, 0, 0);
	else
		c = clntudp_create(&sa, 900101, 3, tv, &fd);
	ck_assert_ptr_nonnull(c);
	clnt_control(c, CLSET_FD_CLOSE, NULL);
	clnt_control(c, CLSET_TIMEOUT, (char *)&tv);
	return c;
}
