/*
 * rpcclnt.h - libdrac's RPC client transport.
 *
 * One call goes to several servers at once over UDP or TCP, with a single
 * deadline for all of it (port lookup through rpcbind included), so a dead
 * or silent server can never hold the caller longer than its timeout.
 * No state outside the arguments; reentrant.
 */
#ifndef LIBDRAC_RPCCLNT_H
#define LIBDRAC_RPCCLNT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <rpc/rpc.h>

#include "mono.h"		/* deadlines are mono_ms() values */

#define EXPORT __attribute__((visibility("default")))

#define RPCC_MAXTARGETS	16	/* servers one call goes to, at most */

struct rpc_target {
	struct sockaddr_storage sa;	/* the server's address */
	socklen_t salen;
	uint16_t port[2];		/* by transport; 0: ask rpcbind */
};

struct rpc_req {
	uint32_t prog, vers, proc;
	xdrproc_t xarg, xres;
	void *arg;
	size_t ressize;			/* bytes of one result */
};

int rpcc_call(struct rpc_target *, size_t n, int tcp, const struct rpc_req *,
    void *res, int *status, int64_t deadline, unsigned int retries,
    int first);

#endif
