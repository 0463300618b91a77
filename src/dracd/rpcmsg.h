/*
 * rpcmsg.h - the ONC RPC message codec: one call message in (bytes),
 * one reply message out (bytes), through a table of procedures.  No
 * sockets and no threads (svc.c has those); what the fuzzer drives.
 */
#ifndef DRACD_RPCMSG_H
#define DRACD_RPCMSG_H

#include <stddef.h>
#include <stdint.h>

#include <rpc/rpc.h>

#include "addr.h"
#include "drac_prot.h"

/* What a procedure sees of the call it serves. */
struct svc_call {
	const struct addr *peer;
	int tcp;			/* 1: arrived over TCP */
	int ifindex;			/* UDP: the interface it arrived on
					 * (IP_PKTINFO); 0 unknown or TCP */
	int loopback;			/* UDP: that is a loopback interface */
	uint32_t vers, proc;
	void *ctx;			/* the server (policy.h) */
	void *scratch;			/* freed after the reply is sent */
	char user[DRAC_MAXUSER + 1];	/* result text that outlives the call */
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

/* The program served: its number, versions and procedures. */
struct rpc_prog {
	uint32_t prog, vers_lo, vers_hi;
	svc_lookup_fn lookup;
	void *ctx;			/* svc_call.ctx */
};

#define RPCMSG_REPLYMAX	65536		/* largest reply built */

size_t rpcmsg_dispatch(const struct rpc_prog *, const uint8_t *req,
    size_t len, const struct svc_call *from, uint8_t *reply, size_t cap);
size_t svc_dispatch(const struct rpc_prog *, const uint8_t *req, size_t len,
    const struct addr *peer, int tcp, uint8_t *reply, size_t cap);
const struct svc_proc *rpcmsg_proc(const struct rpc_prog *,
    const uint8_t *req, size_t len);

#endif
