/*
 * rpcenc.c - DRAC calls encoded by hand for loadgen and grouplag, so the
 * client costs little and measures the server.  Callers own the buffers:
 * a call header is 40 bytes, an address argument at most 8.
 */
#include <arpa/inet.h>
#include <string.h>

#include "rpcenc.h"

#define DRACPROG	900101

/* rpcenc_put32 - one big-endian XDR unit at p; 4 */
size_t
rpcenc_put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
	return 4;
}

/* rpcenc_get32 - one big-endian XDR unit */
uint32_t
rpcenc_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

/* rpcenc_call - the header of call xid to DRAC version vers, procedure
 * proc, null credentials and verifier, at p; its length (40) */
size_t
rpcenc_call(uint8_t *p, uint32_t xid, uint32_t vers, uint32_t proc)
{
	size_t n = 0;

	n += rpcenc_put32(p + n, xid);
	n += rpcenc_put32(p + n, 0);		/* CALL */
	n += rpcenc_put32(p + n, 2);		/* RPC version */
	n += rpcenc_put32(p + n, DRACPROG);
	n += rpcenc_put32(p + n, vers);
	n += rpcenc_put32(p + n, proc);
	n += rpcenc_put32(p + n, 0);		/* AUTH_NONE, empty */
	n += rpcenc_put32(p + n, 0);
	n += rpcenc_put32(p + n, 0);		/* its verifier */
	n += rpcenc_put32(p + n, 0);
	return n;
}

/* rpcenc_addr - the IPv4 address addr as version vers takes it (v1 ADD:
 * the address word; v3: family 1, then the four bytes) at p; its length */
size_t
rpcenc_addr(uint8_t *p, uint32_t vers, uint32_t addr)
{
	size_t n = 0;

	if (vers == 3)
		n += rpcenc_put32(p + n, 1);
	n += rpcenc_put32(p + n, addr);
	return n;
}
