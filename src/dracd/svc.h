/*
 * svc.h - dracd's ONC RPC transport: its own UDP and TCP loops.
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
#include "stream.h"

#define SVC_MAXSOCK 16

/* What a procedure sees of the call it serves. */
struct svc_call {
	const struct addr *peer;
	int tcp;			/* 1: arrived over TCP */
	int ifindex;			/* UDP: the interface it arrived on
					 * (IP_PKTINFO); 0 unknown or TCP */
	int loopback;			/* UDP: that is a loopback interface */
	uint32_t vers, proc;
	void *ctx;			/* the server (proc.c) */
	void *scratch;			/* freed after the reply is sent */
	char user[72];			/* result text that outlives the call */
};

/* A procedure: argument and result XDR routines and sizes, and the code. */
#define SVC_NOREPLY 1

struct svc_proc {
	xdrproc_t xarg, xres;
	size_t argsize, ressize;
	/* 0: reply res; -1: SYSTEM_ERR; SVC_NOREPLY: none at all (the
	 * answer goes with another copy of the same call) */
	int (*fn)(struct svc_call *, void *arg, void *res);
	int mayblock;		/* may wait for the disk: never in the
				 * TCP thread */
};

/* Finds the procedure for vers/proc; NULL when there is none. */
typedef const struct svc_proc *(*svc_lookup_fn)(uint32_t vers, uint32_t proc);

struct svc_opts {
	uint32_t prog, vers_lo, vers_hi;
	svc_lookup_fn lookup;
	void *ctx;
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
	int family;
	uint16_t port;
};

struct svc;

int svc_bind(const char *listen, uint16_t port, struct svc_sock *, size_t max,
    size_t *n, char *err, size_t errlen);
int svc_listen_check(const char *listen, char *err, size_t errlen);
struct svc *svc_start(const struct svc_opts *, const struct svc_sock *,
    size_t n, const struct stream_listener *extra, size_t nextra);
void svc_stop(struct svc *);
size_t svc_dispatch(const struct svc_opts *, const uint8_t *req, size_t len,
    const struct addr *peer, int tcp, uint8_t *reply, size_t cap);

#endif
