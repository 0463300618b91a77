/*
 * svc.c - RPC message handling and the UDP and TCP server loops.
 *
 * Threading: svc_dispatch has no state of its own and runs in every
 * server thread at once; procedures must be thread-safe.  Each UDP thread
 * polls all UDP sockets and serves whatever datagram it reads.  One TCP
 * thread owns every TCP connection: records are bounded (SVC_RECMAX),
 * connections are capped and time out when idle, and a client that does
 * not read its replies is not read from until it does.
 */
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "svc.h"

#define SVC_UDPMAX	65536		/* largest datagram read */
#define SVC_REPLYMAX	65536		/* largest reply built */
#define SVC_RECMAX	16384		/* largest TCP record accepted */
#define SVC_ARGMAX	256		/* largest decoded argument struct */
#define SVC_RESMAX	256		/* largest result struct */
#define SVC_UDPBURST	64		/* datagrams per socket per wakeup */

/* ---- one request ---- */

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
accepted(const struct rpc_msg *call, enum accept_stat st, xdrproc_t xres,
    void *res, const struct svc_opts *o, uint8_t *buf, size_t cap)
{
	struct rpc_msg m;

	memset(&m, 0, sizeof(m));
	m.rm_xid = call->rm_xid;
	m.rm_direction = REPLY;
	m.rm_reply.rp_stat = MSG_ACCEPTED;
	m.acpted_rply.ar_verf = _null_auth;
	m.acpted_rply.ar_stat = st;
	if (st == SUCCESS) {
		m.acpted_rply.ar_results.where = res;
		m.acpted_rply.ar_results.proc = xres;
	} else if (st == PROG_MISMATCH) {
		m.acpted_rply.ar_vers.low = o->vers_lo;
		m.acpted_rply.ar_vers.high = o->vers_hi;
	}
	return reply(&m, buf, cap);
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
run(const struct svc_opts *o, const struct svc_proc *p, XDR *x, size_t len,
    struct rpc_msg *call, struct svc_call *c, uint8_t *buf, size_t cap)
{
	union { uint8_t b[SVC_ARGMAX]; uint64_t align; } arg;
	union { uint8_t b[SVC_RESMAX]; uint64_t align; } res;
	size_t n;
	int ok;

	memset(&arg, 0, sizeof(arg));
	memset(&res, 0, sizeof(res));
	/* exactly the bytes that arrived: no more, no fewer */
	ok = p->xarg(x, arg.b) && xdr_getpos(x) == len;
	if (!ok) {
		xdr_free(p->xarg, (char *)arg.b);
		return accepted(call, GARBAGE_ARGS, NULL, NULL, o, buf, cap);
	}
	if (p->fn(c, arg.b, res.b) < 0)
		n = accepted(call, SYSTEM_ERR, NULL, NULL, o, buf, cap);
	else if ((n = accepted(call, SUCCESS, p->xres, res.b, o, buf,
	    cap)) == 0)
		n = accepted(call, SYSTEM_ERR, NULL, NULL, o, buf, cap);
	xdr_free(p->xarg, (char *)arg.b);
	free(c->scratch);
	return n;
}

/*
 * svc_dispatch - serve one RPC call message of len bytes; the length of
 * the reply written to buf, or 0 when the message earns no reply (not a
 * call, or too mangled to read a header from).
 */
size_t
svc_dispatch(const struct svc_opts *o, const uint8_t *req, size_t len,
    const struct addr *peer, int tcp, uint8_t *buf, size_t cap)
{
	char cred[MAX_AUTH_BYTES], verf[MAX_AUTH_BYTES];
	const struct svc_proc *p;
	struct rpc_msg call;
	struct svc_call c;
	size_t n;
	XDR x;

	memset(&call, 0, sizeof(call));
	call.rm_call.cb_cred.oa_base = cred;
	call.rm_call.cb_verf.oa_base = verf;
	xdrmem_create(&x, (char *)(uintptr_t)req, (u_int)len, XDR_DECODE);
	if (!xdr_callmsg(&x, &call)) {
		xdr_destroy(&x);
		return 0;
	}
	if (call.rm_call.cb_rpcvers != 2)
		n = denied(&call, buf, cap);
	else if (call.rm_call.cb_prog != o->prog)
		n = accepted(&call, PROG_UNAVAIL, NULL, NULL, o, buf, cap);
	else if (call.rm_call.cb_vers < o->vers_lo ||
	    call.rm_call.cb_vers > o->vers_hi)
		n = accepted(&call, PROG_MISMATCH, NULL, NULL, o, buf, cap);
	else if ((p = o->lookup((uint32_t)call.rm_call.cb_vers,
	    (uint32_t)call.rm_call.cb_proc)) == NULL)
		n = accepted(&call, PROC_UNAVAIL, NULL, NULL, o, buf, cap);
	else {
		memset(&c, 0, sizeof(c));
		c.peer = peer;
		c.tcp = tcp;
		c.vers = (uint32_t)call.rm_call.cb_vers;
		c.proc = (uint32_t)call.rm_call.cb_proc;
		c.ctx = o->ctx;
		n = run(o, p, &x, len, &call, &c, buf, cap);
	}
	xdr_destroy(&x);
	return n;
}

/* ---- sockets ---- */

/* open_sock - one bound socket; -1 with errno */
static int
open_sock(const struct sockaddr *sa, socklen_t salen, int tcp, int v6only)
{
	int fd, one = 1;

	fd = socket(sa->sa_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (tcp)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		    sizeof(v6only));
	if (bind(fd, sa, salen) < 0 || (tcp && listen(fd, 128) < 0)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* bound_port - the port a socket ended up on */
static uint16_t
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* sockaddr_for - a sockaddr for text ("*" is the dual-stack wildcard) */
static int
sockaddr_for(const char *text, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *len, int *v6only)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	*v6only = 1;
	if (strcmp(text, "*") == 0) {
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		*v6only = 0;
	} else if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	} else if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
	} else {
		return -1;
	}
	s6->sin6_port = htons(port);
	*len = sizeof(*s6);
	return 0;
}

/* bind_pair - UDP and TCP on one address; the wildcard falls back to v4 */
static int
bind_pair(const char *text, uint16_t *port, struct svc_sock *out)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int t, v6only;

	if (sockaddr_for(text, *port, &ss, &len, &v6only) < 0) {
		errno = EINVAL;
		return -1;
	}
	for (t = 0; t < 2; t++) {
		out[t].fd = open_sock((struct sockaddr *)&ss, len, t, v6only);
		if (out[t].fd < 0 && t == 0 && strcmp(text, "*") == 0 &&
		    errno == EAFNOSUPPORT) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			memset(&ss, 0, sizeof(ss));
			s4->sin_family = AF_INET;
			s4->sin_port = htons(*port);
			len = sizeof(*s4);
			out[t].fd = open_sock((struct sockaddr *)&ss, len, t, 1);
		}
		if (out[t].fd < 0) {
			if (t == 1)
				close(out[0].fd);
			return -1;
		}
		out[t].tcp = t;
		out[t].family = ss.ss_family;
		out[t].port = bound_port(out[t].fd);
		if (*port == 0) {
			/* the same port for TCP as the kernel chose for UDP */
			*port = out[t].port;
			((struct sockaddr_in *)&ss)->sin_port = htons(*port);
		}
	}
	return 0;
}

/*
 * svc_bind - a UDP and a TCP socket for each address of listen ("*" or a
 * list separated by commas or blanks) on port (0: chosen by the kernel,
 * the same for all).  Fills out[0..*n).
 */
int
svc_bind(const char *listen_on, uint16_t port, struct svc_sock *out,
    size_t max, size_t *n, char *err, size_t errlen)
{
	char buf[1024], *tok, *save = NULL;

	*n = 0;
	if (snprintf(buf, sizeof(buf), "%s", listen_on) >= (int)sizeof(buf))
		goto toolong;
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (*n + 2 > max)
			goto toolong;
		if (bind_pair(tok, &port, out + *n) < 0) {
			snprintf(err, errlen, "listen %s port %u: %s", tok,
			    port, strerror(errno));
			while (*n > 0)
				close(out[--*n].fd);
			return -1;
		}
		*n += 2;
	}
	if (*n > 0)
		return 0;
	snprintf(err, errlen, "listen: no address given");
	return -1;
toolong:
	snprintf(err, errlen, "listen: too many addresses");
	while (*n > 0)
		close(out[--*n].fd);
	return -1;
}

/* ---- the server threads ---- */

struct conn {
	int fd;
	struct addr peer;
	int64_t last;			/* monotonic ms of last activity */
	uint8_t hdr[4];
	size_t hdrlen;			/* bytes of the fragment header read */
	size_t fraglen, fragread;	/* current fragment: size, got */
	int lastfrag;
	uint8_t *rec;			/* the record so far */
	size_t reclen;
	uint8_t *out;			/* replies not yet written */
	size_t outlen, outoff;
};

struct svc {
	struct svc_opts o;
	struct svc_sock socks[SVC_MAXSOCK];
	size_t nsocks;
	int stopfd;			/* eventfd: readable once stopping */
	pthread_t *udp;
	size_t nudp;
	pthread_t tcp;
	int tcp_started;
	struct conn *conns;		/* the TCP thread's alone */
	size_t nconns;
};

/* mono_now - monotonic milliseconds */
static int64_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* udp_serve - read and answer what is waiting on one UDP socket */
static void
udp_serve(struct svc *s, int fd, uint8_t *in, uint8_t *out)
{
	struct sockaddr_storage from;
	struct addr peer;
	socklen_t fromlen;
	ssize_t got;
	size_t n;
	int i;

	for (i = 0; i < SVC_UDPBURST; i++) {
		fromlen = sizeof(from);
		got = recvfrom(fd, in, SVC_UDPMAX, MSG_TRUNC,
		    (struct sockaddr *)&from, &fromlen);
		if (got < 0)
			return;		/* EAGAIN: another thread took it */
		if (got > SVC_UDPMAX || addr_from_sockaddr(&peer,
		    (struct sockaddr *)&from, fromlen) < 0)
			continue;
		n = svc_dispatch(&s->o, in, (size_t)got, &peer, 0, out,
		    SVC_REPLYMAX);
		if (n > 0)
			sendto(fd, out, n, MSG_DONTWAIT, (struct sockaddr *)&from,
			    fromlen);
	}
}

/* udp_thread - serve every UDP socket until stopped */
static void *
udp_thread(void *arg)
{
	struct svc *s = arg;
	struct pollfd pfd[SVC_MAXSOCK + 1];
	int fds[SVC_MAXSOCK];
	uint8_t *in = malloc(SVC_UDPMAX), *out = malloc(SVC_REPLYMAX);
	size_t i, n = 0;

	if (in == NULL || out == NULL)
		fatalx("udp thread: out of memory");
	for (i = 0; i < s->nsocks; i++)
		if (!s->socks[i].tcp) {
			fds[n] = s->socks[i].fd;
			pfd[n].fd = fds[n];
			pfd[n++].events = POLLIN;
		}
	pfd[n].fd = s->stopfd;
	pfd[n].events = POLLIN;
	for (;;) {
		if (poll(pfd, n + 1, -1) < 0 && errno != EINTR)
			fatal("poll");
		if (pfd[n].revents)
			break;
		for (i = 0; i < n; i++)
			if (pfd[i].revents)
				udp_serve(s, fds[i], in, out);
	}
	free(in);
	free(out);
	return NULL;
}

/* conn_close - drop connection i (the last one moves into its place) */
static void
conn_close(struct svc *s, size_t i)
{
	struct conn *c = &s->conns[i];

	close(c->fd);
	free(c->rec);
	free(c->out);
	s->conns[i] = s->conns[--s->nconns];
}

/* conn_flush - write pending replies; -1 when the peer is gone */
static int
conn_flush(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t w = send(c->fd, c->out + c->outoff,
		    c->outlen - c->outoff, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->outoff += (size_t)w;
	}
	c->outoff = c->outlen = 0;
	return 0;
}

/* conn_record - a whole record arrived: dispatch it, queue the reply */
static int
conn_record(struct svc *s, struct conn *c)
{
	uint8_t *p;
	uint32_t mark;
	size_t n;

	if (c->outlen + SVC_REPLYMAX + 4 > 4 * SVC_REPLYMAX)
		return -1;	/* the peer does not read its replies */
	if ((p = realloc(c->out, c->outlen + SVC_REPLYMAX + 4)) == NULL)
		return -1;
	c->out = p;
	n = svc_dispatch(&s->o, c->rec, c->reclen, &c->peer, 1,
	    c->out + c->outlen + 4, SVC_REPLYMAX);
	c->reclen = 0;
	if (n == 0)
		return 0;
	mark = htonl(0x80000000U | (uint32_t)n);
	memcpy(c->out + c->outlen, &mark, 4);
	c->outlen += n + 4;
	return 0;
}

/* conn_input - consume bytes read: fragment headers, bodies, records */
static int
conn_input(struct svc *s, struct conn *c, const uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t take;

		if (c->hdrlen < 4) {
			c->hdr[c->hdrlen++] = *p++;
			len--;
			if (c->hdrlen < 4)
				continue;
			c->lastfrag = (c->hdr[0] & 0x80) != 0;
			c->fraglen = ((size_t)(c->hdr[0] & 0x7f) << 24) |
			    ((size_t)c->hdr[1] << 16) | ((size_t)c->hdr[2] << 8) |
			    c->hdr[3];
			c->fragread = 0;
			if (c->reclen + c->fraglen > SVC_RECMAX)
				return -1;	/* absurd record mark */
		}
		take = c->fraglen - c->fragread;
		if (take > len)
			take = len;
		memcpy(c->rec + c->reclen, p, take);
		c->reclen += take;
		c->fragread += take;
		p += take;
		len -= take;
		if (c->fragread < c->fraglen)
			continue;
		c->hdrlen = 0;
		if (c->lastfrag && conn_record(s, c) < 0)
			return -1;
	}
	return 0;
}

/* conn_read - read what the peer sent; -1 when the connection is done */
static int
conn_read(struct svc *s, struct conn *c)
{
	uint8_t buf[8192];
	ssize_t got = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (got == 0)
		return -1;
	if (got < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	c->last = mono_now();
	if (conn_input(s, c, buf, (size_t)got) < 0)
		return -1;
	return conn_flush(c);
}

/* tcp_accept - take a new connection, or refuse it when at the cap */
static void
tcp_accept(struct svc *s, int lfd)
{
	static struct log_limit lim = {0, 60, 1, 0, 0};
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	unsigned int dropped;
	struct conn *c;
	int fd, one = 1;

	fd = accept4(lfd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (s->nconns >= (size_t)s->o.tcp_max_connections) {
		if (log_limit_pass(&lim, &dropped))
			log_warnx("TCP connection limit (%d) reached; "
			    "refusing connections", s->o.tcp_max_connections);
		close(fd);
		return;
	}
	c = &s->conns[s->nconns];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	if (addr_from_sockaddr(&c->peer, (struct sockaddr *)&ss, len) < 0 ||
	    (c->rec = malloc(SVC_RECMAX)) == NULL) {
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->last = mono_now();
	s->nconns++;
}

/* tcp_round - one poll over listeners and connections */
static int
tcp_round(struct svc *s, struct pollfd *pfd, size_t nl, const int *lfd)
{
	size_t i, n = nl + 1 + s->nconns;
	int64_t t;

	for (i = 0; i < s->nconns; i++) {
		pfd[nl + 1 + i].fd = s->conns[i].fd;
		pfd[nl + 1 + i].events = s->conns[i].outlen > 0 ? POLLOUT :
		    POLLIN;
	}
	if (poll(pfd, n, 1000) < 0 && errno != EINTR)
		fatal("poll");
	if (pfd[nl].revents)
		return -1;
	t = mono_now();
	/* walk backwards: conn_close moves the last connection down */
	for (i = s->nconns; i-- > 0;) {
		short ev = pfd[nl + 1 + i].revents;
		struct conn *c = &s->conns[i];
		int rc = 0;

		if (ev & (POLLERR | POLLNVAL))
			rc = -1;
		else if (ev & POLLOUT)
			rc = conn_flush(c);
		else if (ev & (POLLIN | POLLHUP))
			rc = conn_read(s, c);
		else if (t - c->last > s->o.tcp_idle_timeout_ms)
			rc = -1;
		if (rc < 0)
			conn_close(s, i);
	}
	for (i = 0; i < nl; i++)
		if (pfd[i].revents & POLLIN)
			tcp_accept(s, lfd[i]);
	return 0;
}

/* tcp_thread - serve every TCP listener and connection until stopped */
static void *
tcp_thread(void *arg)
{
	struct svc *s = arg;
	size_t i, nl = 0, max = (size_t)s->o.tcp_max_connections;
	struct pollfd *pfd = calloc(SVC_MAXSOCK + 1 + max, sizeof(*pfd));
	int lfd[SVC_MAXSOCK];

	if (pfd == NULL)
		fatalx("tcp thread: out of memory");
	for (i = 0; i < s->nsocks; i++)
		if (s->socks[i].tcp) {
			lfd[nl] = s->socks[i].fd;
			pfd[nl].fd = lfd[nl];
			pfd[nl++].events = POLLIN;
		}
	pfd[nl].fd = s->stopfd;
	pfd[nl].events = POLLIN;
	while (tcp_round(s, pfd, nl, lfd) == 0)
		;
	while (s->nconns > 0)
		conn_close(s, s->nconns - 1);
	free(pfd);
	return NULL;
}

/* svc_start - serve socks from new threads; the sockets stay the caller's */
struct svc *
svc_start(const struct svc_opts *o, const struct svc_sock *socks, size_t n)
{
	struct svc *s;
	size_t i;

	if (n > SVC_MAXSOCK || (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->o = *o;
	memcpy(s->socks, socks, n * sizeof(*socks));
	s->nsocks = n;
	s->stopfd = eventfd(0, EFD_CLOEXEC);
	s->conns = calloc((size_t)o->tcp_max_connections, sizeof(*s->conns));
	s->udp = calloc((size_t)o->udp_threads, sizeof(*s->udp));
	if (s->stopfd < 0 || s->conns == NULL || s->udp == NULL)
		goto fail;
	for (i = 0; i < (size_t)o->udp_threads; i++, s->nudp++)
		if (pthread_create(&s->udp[i], NULL, udp_thread, s) != 0)
			goto fail;
	if (pthread_create(&s->tcp, NULL, tcp_thread, s) != 0)
		goto fail;
	s->tcp_started = 1;
	return s;
fail:
	svc_stop(s);
	return NULL;
}

/* svc_stop - stop and join every server thread */
void
svc_stop(struct svc *s)
{
	uint64_t one = 1;
	size_t i;

	if (s == NULL)
		return;
	if (s->stopfd >= 0 && write(s->stopfd, &one, sizeof(one)) < 0)
		log_warn("svc_stop");
	for (i = 0; i < s->nudp; i++)
		pthread_join(s->udp[i], NULL);
	if (s->tcp_started)
		pthread_join(s->tcp, NULL);
	if (s->stopfd >= 0)
		close(s->stopfd);
	free(s->conns);
	free(s->udp);
	free(s);
}
