/*
 * svc.h - dracd's ONC RPC transport: its own UDP and TCP loops around
 * the message codec (rpcmsg.h).
 *
 * dracd does not use libtirpc's server transports: they decode a UDP
 * request from their whole receive buffer (a short datagram is completed
 * with bytes of an earlier one) and serve one request at a time.  Here each
 * request is decoded with xdrmem over exactly the bytes that arrived, by
 * several UDP threads and one TCP thread, through the rpcgen XDR routines.
 * Over TCP, a call to a procedure that may wait (for the disk) is served
 * by a worker thread, so that the TCP thread, which also answers the live
 * lookups, never waits.
 */
#ifndef DRACD_SVC_H
#define DRACD_SVC_H

#include <stddef.h>
#include <stdint.h>

#include <rpc/rpc.h>

#include "addr.h"
#include "rpcmsg.h"
#include "stream.h"

#define SVC_MAXSOCK 16

struct svc_opts {
	struct rpc_prog rpc;		/* what is served */
	int udp_threads;
	/* may peer call anything at all over TCP?  (1 yes, 0 closed at
	 * accept); NULL: everyone may */
	int (*admit)(void *ctx, const struct addr *peer);
	int tcp_max_connections;	/* per service */
	int tcp_max_per_source;
	int64_t tcp_request_timeout_ms;
	int tcp_workers;		/* threads serving calls that may block */
	int64_t tcp_idle_timeout_ms;
};

struct svc_sock {
	int fd;
	int tcp;
	uint16_t port;
};

struct svc;

int svc_bind(const char *listen, uint16_t port, struct svc_sock *, size_t max,
    size_t *n, char *err, size_t errlen);
int svc_listen_check(const char *listen, char *err, size_t errlen);
struct svc *svc_start(const struct svc_opts *, const struct svc_sock *,
    size_t n, const struct stream_listener *extra, size_t nextra);
void svc_stop(struct svc *);

#endif
