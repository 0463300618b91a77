/*
 * rpcclnt.c - send one RPC call to many servers and collect the replies.
 *
 * Each target gets its own non-blocking socket (a connected UDP socket
 * reports a closed port at once through ICMP), and one poll loop drives
 * them all until every call is answered, the deadline passes, or, when
 * first is set, one answer has come.  UDP requests are resent at even
 * intervals within the deadline.  Replies are decoded with xdrmem over
 * exactly the bytes received, and only when their xid is ours.
 */
#include <sys/random.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <rpc/rpc.h>
#include <rpc/pmap_prot.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drac.h"
#include "rpcclnt.h"

#define MSGMAX		65536	/* largest request or reply */

enum state { S_SEND, S_CONNECTING, S_READING, S_DONE };

struct call {
	int fd;
	enum state st;
	uint32_t xid;
	uint8_t *req;		/* the encoded call, with a record mark */
	size_t reqlen, sent;
	uint8_t *in;		/* TCP: the reply record so far */
	size_t inlen, need;	/* need: bytes still owed of this fragment */
	int lastfrag, hdr;	/* hdr: reading a record mark */
	uint8_t mark[4];
	size_t marklen;
};

/* sys_error - a failed socket call's errno as a DRAC_E_* code */
static int
sys_error(int e)
{
	switch (e) {
	case ECONNREFUSED:
	case ECONNRESET:
		return DRAC_E_DOWN;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EADDRNOTAVAIL:
		return DRAC_E_UNREACH;
	default:
		return DRAC_E_SYS;
	}
}

/* encode - the call message and arguments; its length, 0 on failure */
static size_t
encode(const struct rpc_req *rq, uint32_t xid, uint8_t *buf, size_t cap)
{
	struct rpc_msg m;
	XDR x;
	size_t len;

	memset(&m, 0, sizeof(m));
	m.rm_xid = xid;
	m.rm_direction = CALL;
	m.rm_call.cb_rpcvers = 2;
	m.rm_call.cb_prog = rq->prog;
	m.rm_call.cb_vers = rq->vers;
	m.rm_call.cb_proc = rq->proc;
	m.rm_call.cb_cred = _null_auth;
	m.rm_call.cb_verf = _null_auth;
	xdrmem_create(&x, (char *)buf, (u_int)cap, XDR_ENCODE);
	len = xdr_callmsg(&x, &m) && rq->xarg(&x, rq->arg) ? xdr_getpos(&x) :
	    0;
	xdr_destroy(&x);
	return len;
}

/*
 * decode - a reply into res: 0, DRAC_E_OLD for a DRAC 1.x server (its
 * highest version below 3 and below the one asked), DRAC_E_PROTO for a
 * server without the program version or procedure, DRAC_E_RPC otherwise; 1 when the reply
 * is not for this xid (ignore it).
 */
static int
decode(const struct rpc_req *rq, uint32_t xid, const uint8_t *buf,
    size_t len, void *res)
{
	char verf[MAX_AUTH_BYTES];	/* the verifier lands here, not in
					 * memory xdr would allocate */
	struct rpc_msg m;
	uint32_t got;
	XDR x;
	int ok;

	if (len < 4)
		return 1;
	memcpy(&got, buf, 4);
	if (ntohl(got) != xid)
		return 1;
	memset(&m, 0, sizeof(m));
	m.acpted_rply.ar_verf = _null_auth;
	m.acpted_rply.ar_verf.oa_base = verf;
	m.acpted_rply.ar_results.where = res;
	m.acpted_rply.ar_results.proc = rq->xres;
	xdrmem_create(&x, (char *)(uintptr_t)buf, (u_int)len, XDR_DECODE);
	ok = xdr_replymsg(&x, &m);
	xdr_destroy(&x);
	if (ok && m.rm_reply.rp_stat == MSG_ACCEPTED &&
	    m.acpted_rply.ar_stat == SUCCESS)
		return 0;
	if (ok)
		xdr_free(rq->xres, res);
	/* DRAC 1.x: the program, without the version asked for */
	if (ok && m.rm_reply.rp_stat == MSG_ACCEPTED &&
	    m.acpted_rply.ar_stat == PROG_MISMATCH &&
	    m.acpted_rply.ar_vers.high < rq->vers &&
	    m.acpted_rply.ar_vers.high < 3)
		return DRAC_E_OLD;
	if (ok && m.rm_reply.rp_stat == MSG_ACCEPTED &&
	    (m.acpted_rply.ar_stat == PROG_MISMATCH ||
	    m.acpted_rply.ar_stat == PROC_UNAVAIL ||
	    m.acpted_rply.ar_stat == PROG_UNAVAIL))
		return DRAC_E_PROTO;
	return DRAC_E_RPC;
}

/* start - open, connect and prepare one call; a status if it failed */
static int
start(struct call *c, struct rpc_target *t, int tcp, uint16_t port,
    const struct rpc_req *rq)
{
	struct sockaddr_storage sa = t->sa;
	size_t off = tcp ? 4 : 0, len;
	uint32_t mark;

	((struct sockaddr_in *)&sa)->sin_port = htons(port);	/* v6: same */
	if (getrandom(&c->xid, sizeof(c->xid), 0) != sizeof(c->xid))
		c->xid = (uint32_t)mono_ms() ^ (uint32_t)getpid();
	if ((c->req = malloc(MSGMAX)) == NULL)
		return DRAC_E_NOMEM;
	if ((len = encode(rq, c->xid, c->req + off, MSGMAX - off)) == 0)
		return DRAC_E_INVAL;
	if (tcp) {
		mark = htonl(0x80000000U | (uint32_t)len);
		memcpy(c->req, &mark, 4);
	}
	c->reqlen = len + off;
	c->hdr = 1;
	c->fd = socket(sa.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return DRAC_E_SYS;
	if (connect(c->fd, (struct sockaddr *)&sa, t->salen) < 0 &&
	    errno != EINPROGRESS)
		return sys_error(errno);
	c->st = tcp ? S_CONNECTING : S_SEND;
	return 0;
}

/* tcp_feed - bytes of a TCP reply; 1 when the record is complete */
static int
tcp_feed(struct call *c, const uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t take;

		if (c->hdr) {
			c->mark[c->marklen++] = *p++;
			len--;
			if (c->marklen < 4)
				continue;
			c->lastfrag = (c->mark[0] & 0x80) != 0;
			c->need = ((size_t)(c->mark[0] & 0x7f) << 24) |
			    ((size_t)c->mark[1] << 16) |
			    ((size_t)c->mark[2] << 8) | c->mark[3];
			if (c->need > MSGMAX - c->inlen)
				return -1;
			c->hdr = 0;
			c->marklen = 0;
		}
		take = len < c->need ? len : c->need;
		memcpy(c->in + c->inlen, p, take);
		c->inlen += take;
		c->need -= take;
		p += take;
		len -= take;
		if (c->need == 0) {
			if (c->lastfrag)
				return 1;
			c->hdr = 1;
		}
	}
	return c->need == 0 && !c->hdr && c->lastfrag ? 1 : 0;
}

/* step - advance one call after poll; a final status, or 1 to go on */
static int
step(struct call *c, short ev, int tcp, const struct rpc_req *rq, void *res,
    uint8_t *buf)
{
	ssize_t n;
	int err = 0, rc;
	socklen_t len = sizeof(err);

	if (c->st == S_CONNECTING) {
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0)
			return sys_error(err);
		c->st = S_SEND;
	}
	if (c->st == S_SEND && (ev & POLLOUT || !tcp)) {
		n = send(c->fd, c->req + c->sent, c->reqlen - c->sent,
		    MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			return sys_error(errno);
		if (n > 0 && (c->sent += (size_t)n) == c->reqlen)
			c->st = S_READING;
		return 1;
	}
	if (c->st != S_READING || !(ev & (POLLIN | POLLERR | POLLHUP)))
		return 1;
	n = recv(c->fd, buf, MSGMAX, 0);
	if (n < 0)
		return errno == EAGAIN ? 1 : sys_error(errno);
	if (!tcp) {
		rc = decode(rq, c->xid, buf, (size_t)n, res);
		return rc == 1 ? 1 : rc;	/* a stale reply: wait on */
	}
	if (n == 0)
		return DRAC_E_RPC;	/* closed before a whole reply */
	if (c->in == NULL && (c->in = malloc(MSGMAX)) == NULL)
		return DRAC_E_NOMEM;
	if ((rc = tcp_feed(c, buf, (size_t)n)) <= 0)
		return rc < 0 ? DRAC_E_RPC : 1;
	rc = decode(rq, c->xid, c->in, c->inlen, res);
	return rc == 1 ? DRAC_E_RPC : rc;
}

/* resend - a UDP retransmission, the whole request again, to every call
 * still waiting */
static void
resend(struct call *calls, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (calls[i].st == S_READING) {
			calls[i].st = S_SEND;
			calls[i].sent = 0;
		}
}

/* drive - the poll loop over every started call */
static void
drive(struct call *calls, size_t n, int tcp, const struct rpc_req *rq,
    uint8_t *res, int *status, int64_t deadline, unsigned int retries,
    int first, uint8_t *buf)
{
	struct pollfd pfd[RPCC_MAXTARGETS];
	int64_t now, start = mono_ms(), span = deadline - start, next;
	unsigned int resent = 0;
	size_t i, open;

	/* resend k of retries goes at start + k * span / (retries + 1) */
	next = retries > 0 ? start + span / (retries + 1) : deadline;
	for (;;) {
		for (i = 0, open = 0; i < n; i++) {
			pfd[i].fd = calls[i].st == S_DONE ? -1 : calls[i].fd;
			pfd[i].events = calls[i].st == S_READING ? POLLIN :
			    POLLOUT;
			open += calls[i].st != S_DONE;
		}
		now = mono_ms();
		if (open == 0 || now >= deadline)
			return;
		if (!tcp && resent < retries && now >= next) {
			resend(calls, n);
			resent++;
			next = resent < retries ? start + span * (resent + 1) /
			    (retries + 1) : deadline;
		}
		if (poll(pfd, n, (int)((tcp ? deadline : (next < deadline ?
		    next : deadline)) - now)) < 0 && errno != EINTR)
			return;
		for (i = 0; i < n; i++) {
			int rc;

			if (calls[i].st == S_DONE || (!pfd[i].revents &&
			    calls[i].st != S_SEND))
				continue;
			rc = step(&calls[i], pfd[i].revents, tcp, rq,
			    res + i * rq->ressize, buf);
			if (rc == 1)
				continue;
			calls[i].st = S_DONE;
			status[i] = rc;
			if (rc == 0 && first)
				return;
		}
	}
}

/*
 * rpcc_phase - one call to every target on the given ports; status[i] is
 * 0 with res[i] decoded, or a DRAC_E_* code.
 */
static void
rpcc_phase(struct rpc_target *t, size_t n, int tcp, const uint16_t *ports,
    const struct rpc_req *rq, uint8_t *res, int *status, int64_t deadline,
    unsigned int retries, int first)
{
	struct call calls[RPCC_MAXTARGETS];
	uint8_t *buf = malloc(MSGMAX);
	size_t i;

	memset(calls, 0, sizeof(calls));
	for (i = 0; i < n; i++) {
		calls[i].fd = -1;
		status[i] = DRAC_E_TIMEOUT;
		if (ports[i] == 0 || buf == NULL) {
			calls[i].st = S_DONE;
			status[i] = buf == NULL ? DRAC_E_NOMEM : status[i];
			continue;
		}
		if ((status[i] = start(&calls[i], &t[i], tcp, ports[i], rq)) != 0)
			calls[i].st = S_DONE;
		else
			status[i] = DRAC_E_TIMEOUT;
	}
	if (buf != NULL)
		drive(calls, n, tcp, rq, res, status, deadline, retries, first,
		    buf);
	for (i = 0; i < n; i++) {
		if (calls[i].fd >= 0)
			close(calls[i].fd);
		free(calls[i].req);
		free(calls[i].in);
	}
	free(buf);
}

/* lookup_ports - ask each target's rpcbind (portmapper v2) for a port */
static void
lookup_ports(struct rpc_target *t, size_t n, int tcp,
    const struct rpc_req *rq, int *status, int64_t deadline,
    unsigned int retries)
{
	struct pmap map = {rq->prog, rq->vers,
	    tcp ? IPPROTO_TCP : IPPROTO_UDP, 0};
	struct rpc_req pm = {PMAPPROG, PMAPVERS, PMAPPROC_GETPORT,
	    (xdrproc_t)xdr_pmap, (xdrproc_t)xdr_u_long, &map,
	    sizeof(u_long)};
	u_long ports[RPCC_MAXTARGETS];
	uint16_t to[RPCC_MAXTARGETS] = {0};
	int st[RPCC_MAXTARGETS];
	size_t i;

	for (i = 0; i < n; i++)
		to[i] = t[i].port[tcp] == 0 ? PMAPPORT : 0;
	memset(ports, 0, sizeof(ports));
	rpcc_phase(t, n, 0, to, &pm, (uint8_t *)ports, st, deadline, retries,
	    0);
	for (i = 0; i < n; i++) {
		if (to[i] == 0)
			continue;
		if (st[i] == 0 && ports[i] > 0 && ports[i] < 65536)
			t[i].port[tcp] = (uint16_t)ports[i];
		else if (st[i] == DRAC_E_DOWN)
			status[i] = DRAC_E_NORPCBIND;	/* refused on 111 */
		else
			status[i] = st[i] == 0 ? DRAC_E_DOWN : st[i];
	}
}

/*
 * rpcc_call - call rq on every target (first: until one answers) before
 * deadline (monotonic ms).  Results land in res[i * rq->ressize] where
 * status[i] is 0; the caller xdr_frees those.  Returns the index of the
 * first target that answered, or -1.
 */
int
rpcc_call(struct rpc_target *t, size_t n, int tcp, const struct rpc_req *rq,
    void *res, int *status, int64_t deadline, unsigned int retries,
    int first)
{
	uint16_t ports[RPCC_MAXTARGETS] = {0};
	int pre[RPCC_MAXTARGETS] = {0};
	size_t i;

	if (n > RPCC_MAXTARGETS)
		n = RPCC_MAXTARGETS;
	lookup_ports(t, n, tcp, rq, pre, deadline, retries);
	for (i = 0; i < n; i++)
		ports[i] = pre[i] == 0 ? t[i].port[tcp] : 0;
	memset(res, 0, n * rq->ressize);
	rpcc_phase(t, n, tcp, ports, rq, res, status, deadline, retries,
	    first);
	for (i = 0; i < n; i++)
		if (pre[i] != 0)
			status[i] = pre[i];	/* rpcbind's failure */
	for (i = 0; i < n; i++)
		if (status[i] == 0)
			return (int)i;
	return -1;
}
