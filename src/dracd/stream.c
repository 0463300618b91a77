/*
 * stream.c - one poll loop for every stream listener and connection.
 *
 * Runs in a single thread (stream_run); a connection's buffers belong to
 * that thread alone.  Input is buffered up to the protocol's maxreq plus
 * one read; a request that does not fit closes the connection, so memory
 * per connection is bounded.  Replies wait in an output buffer capped at
 * OUTMAX; while it holds anything the connection is not read from.
 * A held connection (stream_hold) is neither read nor timed out until
 * released; a wake callback (opts->wakefd) runs in this thread between
 * poll and the connections' events, and may release or drop connections
 * but never closes one itself: a dropped one is closed after it.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mono.h"
#include "stream.h"

#define READMAX	8192
#define OUTMAX	(256 * 1024)

struct stream_conn {
	int fd;
	const struct stream_listener *l;
	struct addr peer;
	int64_t last;
	uint8_t *in;
	size_t inlen;
	uint8_t *out;
	size_t outlen, outoff, outcap;
	uint64_t id;			/* unique for the loop's life */
	int held;			/* a request is served elsewhere */
	int dead;			/* close after this round */
};

/* stream_peer - the address of the connection's peer */
const struct addr *
stream_peer(const struct stream_conn *c)
{
	return &c->peer;
}

/* stream_reply - queue bytes for the peer; -1 when over the cap */
int
stream_reply(struct stream_conn *c, const void *p, size_t len)
{
	uint8_t *n;

	if (c->outlen + len > OUTMAX)
		return -1;
	if (c->outlen + len > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 1024;

		while (cap < c->outlen + len)
			cap *= 2;
		if ((n = realloc(c->out, cap)) == NULL)
			return -1;
		c->out = n;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, p, len);
	c->outlen += len;
	return 0;
}

/* flush - write queued replies; -1 when the peer is gone */
static int
flush(struct stream_conn *c)
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

/* input - read, hand whole requests to the protocol; -1 to close */
static int
input(struct stream_conn *c)
{
	const struct stream_proto *p = c->l->proto;
	ssize_t got, used;
	size_t room = p->maxreq + READMAX - c->inlen;

	got = recv(c->fd, c->in + c->inlen, room < READMAX ? room : READMAX,
	    MSG_DONTWAIT);
	if (got == 0)
		return -1;
	if (got < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	c->inlen += (size_t)got;
	c->last = mono_ms();
	while (c->inlen > 0 && c->outlen < OUTMAX / 2 && !c->held) {
		if ((used = p->consume(c->l->ctx, c, c->in, c->inlen)) < 0)
			return -1;
		if (used == 0)
			break;
		memmove(c->in, c->in + used, c->inlen - (size_t)used);
		c->inlen -= (size_t)used;
	}
	if (c->inlen > p->maxreq)
		return -1;	/* a request larger than the protocol allows */
	return flush(c);
}

struct loop {
	const struct stream_opts *o;
	const struct stream_listener *ls;
	size_t nl;
	struct stream_conn *conns;
	size_t n;
	struct log_limit full_log;
	uint64_t next_id;
};

struct stream_loop {
	struct loop *lp;
};

/* conn_close - drop connection i; the last one moves into its place */
static void
conn_close(struct loop *lp, size_t i)
{
	struct stream_conn *c = &lp->conns[i];

	close(c->fd);
	free(c->in);
	free(c->out);
	lp->conns[i] = lp->conns[--lp->n];
}

/* accept_one - a new connection on listener l, unless at the cap */
static void
accept_one(struct loop *lp, const struct stream_listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct stream_conn *c;
	unsigned int dropped;
	int fd, one = 1;

	if ((fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		return;
	if (lp->n >= (size_t)lp->o->max_connections) {
		if (log_limit_pass(&lp->full_log, &dropped))
			log_warnx("connection limit (%d) reached: refusing "
			    "connections", lp->o->max_connections);
		close(fd);
		return;
	}
	c = &lp->conns[lp->n];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->l = l;
	c->id = ++lp->next_id;
	if (ss.ss_family == AF_UNIX)
		addr_parse(&c->peer, "127.0.0.1");	/* a local caller */
	else if (addr_from_sockaddr(&c->peer, (struct sockaddr *)&ss,
	    len) < 0) {
		close(fd);
		return;
	}
	if ((c->in = malloc(l->proto->maxreq + READMAX)) == NULL) {
		close(fd);
		return;
	}
	if (ss.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->last = mono_ms();
	lp->n++;
}

/* round - one poll over listeners and connections; -1 when stopping */
static int
round_(struct loop *lp, struct pollfd *pfd)
{
	size_t i, nl = lp->nl;
	int64_t t;

	for (i = 0; i < lp->n; i++) {
		pfd[nl + 1 + i].fd = lp->conns[i].fd;
		pfd[nl + 1 + i].events = lp->conns[i].outlen > 0 ? POLLOUT :
		    lp->conns[i].held ? 0 : POLLIN;
	}
	pfd[nl + 1 + lp->n].fd = lp->o->wake != NULL ? lp->o->wakefd : -1;
	pfd[nl + 1 + lp->n].events = POLLIN;
	if (poll(pfd, nl + 2 + lp->n, 1000) < 0 && errno != EINTR)
		fatal("poll");
	if (pfd[nl].revents)
		return -1;
	if (pfd[nl + 1 + lp->n].revents) {
		struct stream_loop h = {lp};

		lp->o->wake(lp->o->wakearg, &h);
	}
	t = mono_ms();
	for (i = lp->n; i-- > 0;) {
		short ev = pfd[nl + 1 + i].revents;
		struct stream_conn *c = &lp->conns[i];
		int rc = 0;

		if (c->dead || (ev & (POLLERR | POLLNVAL)))
			rc = -1;
		else if (ev & POLLOUT)
			rc = flush(c);
		else if (ev & (POLLIN | POLLHUP))
			rc = input(c);
		else if (!c->held && t - c->last > lp->o->idle_timeout_ms)
			rc = -1;
		if (rc < 0)
			conn_close(lp, i);
	}
	for (i = 0; i < nl; i++)
		if (pfd[i].revents & POLLIN)
			accept_one(lp, &lp->ls[i]);
	return 0;
}

/* stream_id - the connection's id, unique while the loop runs */
uint64_t
stream_id(const struct stream_conn *c)
{
	return c->id;
}

/* stream_hold - read and consume nothing more until stream_release */
void
stream_hold(struct stream_conn *c)
{
	c->held = 1;
}

/* stream_drop - close the connection once the wake callback returns */
void
stream_drop(struct stream_conn *c)
{
	c->dead = 1;
}

/*
 * stream_release - a held connection's request is answered: serve the
 * requests already buffered behind it, send what is queued.  From the
 * wake callback; on error the connection is dropped.
 */
void
stream_release(struct stream_conn *c)
{
	const struct stream_proto *p = c->l->proto;
	ssize_t used;

	c->held = 0;
	c->last = mono_ms();
	while (c->inlen > 0 && c->outlen < OUTMAX / 2 && !c->held) {
		if ((used = p->consume(c->l->ctx, c, c->in, c->inlen)) < 0) {
			c->dead = 1;
			return;
		}
		if (used == 0)
			break;
		memmove(c->in, c->in + used, c->inlen - (size_t)used);
		c->inlen -= (size_t)used;
	}
	if (c->inlen > p->maxreq || flush(c) < 0)
		c->dead = 1;
}

/* stream_find - the connection with id, NULL when it was closed */
struct stream_conn *
stream_find(struct stream_loop *h, uint64_t id)
{
	size_t i;

	for (i = 0; i < h->lp->n; i++)
		if (h->lp->conns[i].id == id)
			return &h->lp->conns[i];
	return NULL;
}

/* stream_run - serve until o->stopfd becomes readable */
int
stream_run(const struct stream_opts *o, const struct stream_listener *ls,
    size_t n)
{
	struct loop lp;
	struct pollfd *pfd;
	size_t i;

	memset(&lp, 0, sizeof(lp));
	lp.o = o;
	lp.ls = ls;
	lp.nl = n;
	lp.full_log.period = 60;
	lp.full_log.burst = 1;
	lp.conns = calloc((size_t)o->max_connections, sizeof(*lp.conns));
	pfd = calloc(n + 2 + (size_t)o->max_connections, sizeof(*pfd));
	if (lp.conns == NULL || pfd == NULL)
		fatalx("stream: out of memory");
	for (i = 0; i < n; i++) {
		pfd[i].fd = ls[i].fd;
		pfd[i].events = POLLIN;
	}
	pfd[n].fd = o->stopfd;
	pfd[n].events = POLLIN;
	while (round_(&lp, pfd) == 0)
		;
	while (lp.n > 0)
		conn_close(&lp, lp.n - 1);
	free(lp.conns);
	free(pfd);
	return 0;
}

/* listen_unix - a stream socket at path, replacing a stale one */
static int
listen_unix(const char *path, int *fd, char *err, size_t errlen)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) >=
	    (int)sizeof(sun.sun_path)) {
		snprintf(err, errlen, "unix:%s: path too long", path);
		return -1;
	}
	unlink(path);
	if ((*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0 || bind(*fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, 0666) < 0 || listen(*fd, 128) < 0) {
		snprintf(err, errlen, "unix:%s: %s", path, strerror(errno));
		if (*fd >= 0)
			close(*fd);
		return -1;
	}
	return 0;
}

/*
 * stream_listen - a listening socket for "inet:HOST:PORT" (IPv6 as
 * [addr]:port) or "unix:PATH".
 */
int
stream_listen(const char *spec, int *fd, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	char host[256], *colon, *end;
	unsigned long port;
	socklen_t len;
	int one = 1;

	if (strncmp(spec, "unix:", 5) == 0)
		return listen_unix(spec + 5, fd, err, errlen);
	if (strncmp(spec, "inet:", 5) != 0 || snprintf(host, sizeof(host),
	    "%s", spec + 5) >= (int)sizeof(host) ||
	    (colon = strrchr(host, ':')) == NULL)
		goto bad;
	*colon = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || port == 0 ||
	    port > 65535)
		goto bad;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		len = sizeof(*s4);
	} else if (host[0] == '[' && host[strlen(host) - 1] == ']' &&
	    (host[strlen(host) - 1] = '\0', inet_pton(AF_INET6, host + 1,
	    &s6->sin6_addr) == 1)) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		len = sizeof(*s6);
	} else
		goto bad;
	if ((*fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0)
		goto sys;
	setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(*fd, (struct sockaddr *)&ss, len) < 0 || listen(*fd, 128) < 0) {
		close(*fd);
		goto sys;
	}
	return 0;
sys:
	snprintf(err, errlen, "%s: %s", spec, strerror(errno));
	return -1;
bad:
	snprintf(err, errlen, "%s: want inet:HOST:PORT, inet:[ADDR]:PORT or "
	    "unix:PATH", spec);
	return -1;
}
