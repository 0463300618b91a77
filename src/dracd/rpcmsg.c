/*
 * rpcmsg.c - the ONC RPC message codec: a call message decoded with
 * xdrmem over exactly the bytes that arrived (no more, no fewer), the
 * procedure found in the program's table and run, its reply encoded.
 *
 * Threading: no state of its own; runs in every server thread at once,
 * so procedures must be thread-safe.  A request's state lives in a
 * struct rpcmsg_req on the caller's stack.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "rpcmsg.h"

#define SVC_ARGMAX	256		/* largest decoded argument struct */
#define SVC_RESMAX	256		/* largest result struct */

/* one call being served: its header, its argument bytes, the reply */
struct rpcmsg_req {
	const struct rpc_prog *prog;
	struct rpc_msg call;
	XDR x;				/* over the call message */
	size_t len;			/* its bytes */
	struct svc_call c;		/* what the procedure sees */
	uint8_t *buf;			/* the reply goes here */
	size_t cap;
};

/* reply - encode a reply message; its length, 0 if it does not fit */
static size_t
reply(struct rpc_msg *m, uint8_t *buf, size_t cap)
{
	XDR x;
	size_t len;

	xdrmem_create(&x, (char *)buf, (u_int)cap, XDR_ENCODE);
	len = xdr_replymsg(&x, m) ? xdr_getpos(&x) : 0;
	xdr_destroy(&x);
	return len;
}

/* accepted - a MSG_ACCEPTED reply with status st and optional results */
static size_t
accepted(struct rpcmsg_req *rq, enum accept_stat st, xdrproc_t xres,
    void *res)
{
	struct rpc_msg m;

	memset(&m, 0, sizeof(m));
	m.rm_xid = rq->call.rm_xid;
	m.rm_direction = REPLY;
	m.rm_reply.rp_stat = MSG_ACCEPTED;
	m.acpted_rply.ar_verf = _null_auth;
	m.acpted_rply.ar_stat = st;
	if (st == SUCCESS) {
		m.acpted_rply.ar_results.where = res;
		m.acpted_rply.ar_results.proc = xres;
	} else if (st == PROG_MISMATCH) {
		m.acpted_rply.ar_vers.low = rq->prog->vers_lo;
		m.acpted_rply.ar_vers.high = rq->prog->vers_hi;
	}
	return reply(&m, rq->buf, rq->cap);
}

/* denied - an RPC_MISMATCH rejection for a caller not speaking RPC v2 */
static size_t
denied(const struct rpc_msg *call, uint8_t *buf, size_t cap)
{
	struct rpc_msg m;

	memset(&m, 0, sizeof(m));
	m.rm_xid = call->rm_xid;
	m.rm_direction = REPLY;
	m.rm_reply.rp_stat = MSG_DENIED;
	m.rjcted_rply.rj_stat = RPC_MISMATCH;
	m.rjcted_rply.rj_vers.low = 2;
	m.rjcted_rply.rj_vers.high = 2;
	return reply(&m, buf, cap);
}

/* run - decode the arguments, call the procedure, encode its result */
static size_t
run(struct rpcmsg_req *rq, const struct svc_proc *p)
{
	union { uint8_t b[SVC_ARGMAX]; uint64_t align; } arg;
	union { uint8_t b[SVC_RESMAX]; uint64_t align; } res;
	size_t n;
	int ok, rc;

	memset(&arg, 0, sizeof(arg));
	memset(&res, 0, sizeof(res));
	/* exactly the bytes that arrived: no more, no fewer */
	ok = p->xarg(&rq->x, arg.b) && xdr_getpos(&rq->x) == rq->len;
	if (!ok) {
		xdr_free(p->xarg, (char *)arg.b);
		return accepted(rq, GARBAGE_ARGS, NULL, NULL);
	}
	if ((rc = p->fn(&rq->c, arg.b, res.b)) < 0)
		n = accepted(rq, SYSTEM_ERR, NULL, NULL);
	else if (rc == SVC_NOREPLY)
		n = 0;
	else if ((n = accepted(rq, SUCCESS, p->xres, res.b)) == 0)
		n = accepted(rq, SYSTEM_ERR, NULL, NULL);
	xdr_free(p->xarg, (char *)arg.b);
	free(rq->c.scratch);
	return n;
}

/* answer - the reply to a decoded call header: a refusal, or the
 * procedure's */
static size_t
answer(struct rpcmsg_req *rq, const struct svc_call *from)
{
	const struct rpc_msg *call = &rq->call;
	const struct rpc_prog *o = rq->prog;
	const struct svc_proc *p;

	if (call->rm_call.cb_rpcvers != 2)
		return denied(call, rq->buf, rq->cap);
	if (call->rm_call.cb_prog != o->prog)
		return accepted(rq, PROG_UNAVAIL, NULL, NULL);
	if (call->rm_call.cb_vers < o->vers_lo ||
	    call->rm_call.cb_vers > o->vers_hi)
		return accepted(rq, PROG_MISMATCH, NULL, NULL);
	if ((p = o->lookup((uint32_t)call->rm_call.cb_vers,
	    (uint32_t)call->rm_call.cb_proc)) == NULL)
		return accepted(rq, PROC_UNAVAIL, NULL, NULL);
	memset(&rq->c, 0, sizeof(rq->c));
	rq->c.peer = from->peer;
	rq->c.tcp = from->tcp;
	rq->c.ifindex = from->ifindex;
	rq->c.loopback = from->loopback;
	rq->c.vers = (uint32_t)call->rm_call.cb_vers;
	rq->c.proc = (uint32_t)call->rm_call.cb_proc;
	rq->c.ctx = o->ctx;
	return run(rq, p);
}

/*
 * rpcmsg_dispatch - serve one RPC call message of len bytes that came as
 * from says (peer, transport, arrival); the length of the reply written
 * to buf, or 0 when the message earns no reply (not a call, too mangled
 * to read a header from, or a procedure said so).
 */
size_t
rpcmsg_dispatch(const struct rpc_prog *o, const uint8_t *req, size_t len,
    const struct svc_call *from, uint8_t *buf, size_t cap)
{
	char cred[MAX_AUTH_BYTES], verf[MAX_AUTH_BYTES];
	struct rpcmsg_req rq;
	size_t n = 0;

	memset(&rq, 0, sizeof(rq));
	rq.prog = o;
	rq.len = len;
	rq.buf = buf;
	rq.cap = cap;
	rq.call.rm_call.cb_cred.oa_base = cred;
	rq.call.rm_call.cb_verf.oa_base = verf;
	xdrmem_create(&rq.x, (char *)(uintptr_t)req, (u_int)len, XDR_DECODE);
	if (xdr_callmsg(&rq.x, &rq.call))
		n = answer(&rq, from);
	xdr_destroy(&rq.x);
	return n;
}

/*
 * svc_dispatch - serve one RPC call message from peer whose arrival
 * interface is not known (TCP, or a test); as rpcmsg_dispatch
 */
size_t
svc_dispatch(const struct rpc_prog *o, const uint8_t *req, size_t len,
    const struct addr *peer, int tcp, uint8_t *buf, size_t cap)
{
	struct svc_call from;

	memset(&from, 0, sizeof(from));
	from.peer = peer;
	from.tcp = tcp;
	return rpcmsg_dispatch(o, req, len, &from, buf, cap);
}

/* rpcmsg_proc - the procedure a call message asks for, read from its
 * header alone; NULL when it is not a call to ours (rpcmsg_dispatch
 * answers those) */
const struct svc_proc *
rpcmsg_proc(const struct rpc_prog *o, const uint8_t *rec, size_t len)
{
	uint32_t w[6];
	size_t i;

	if (len < sizeof(w))
		return NULL;
	memcpy(w, rec, sizeof(w));
	for (i = 0; i < 6; i++)
		w[i] = ntohl(w[i]);
	/* xid, CALL, RPC version 2, program, version, procedure */
	if (w[1] != CALL || w[2] != 2 || w[3] != o->prog || w[4] < o->vers_lo ||
	    w[4] > o->vers_hi)
		return NULL;
	return o->lookup(w[4], w[5]);
}
