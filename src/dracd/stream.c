/*
 * stream.c - one poll loop for every stream listener and connection.
 *
 * Runs in a single thread (stream_run); a connection's buffers belong to
 * that thread alone.  Input is buffered up to the protocol's maxreq plus
 * one read; a request that does not fit closes the connection, so memory
 * per connection is bounded.  Replies wait in an output buffer capped at
 * OUTMAX; while it holds anything the connection is not read from, and
 * once it drains the requests already buffered are served.
 *
 * Timers: a connection with work pending (part of a request read, or a
 * reply not yet sent) must finish it within request_timeout, counted from
 * the first byte or the last request served; one with nothing pending is
 * closed after idle_timeout.  A trickle of bytes resets neither.
 *
 * A held connection (stream_hold) is neither read nor timed out until
 * released; a wake callback (opts->wakefd) runs in this thread between
 * poll and the connections' events, and may release or drop connections
 * but never closes one itself: a dropped one is closed after it.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <dirent.h>
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
#include "sock.h"
#include "stream.h"

#define READMAX		8192
#define OUTMAX		(256 * 1024)
#define ACCEPTBURST	16	/* connections taken per listener per round */
#define BACKOFF_MS	100	/* listeners rest this long after EMFILE */
#define FD_RESERVE	32	/* descriptors kept for the rest of dracd */
#define POLL_MS		1000	/* longest sleep between timer checks */

struct stream_conn {
	int fd;
	const struct stream_listener *l;
	size_t svc;		/* index of its service */
	int local;		/* a unix socket: no per-source cap */
	struct addr peer;
	int64_t last;		/* when it last had nothing pending */
	int64_t deadline;	/* pending work must be done by then; 0: none */
	uint8_t *in;
	size_t inlen;
	uint8_t *out;
	size_t outlen, outoff, outcap;
	const struct stream_opts *o;	/* the loop's */
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

/*
 * consume - hand the whole requests buffered to the protocol while the
 * output has room; how many it took, -1 to close.  *starved: it stopped
 * because the next request is not all there.
 */
static int
consume(struct stream_conn *c, int *starved)
{
	const struct stream_proto *p = c->l->proto;
	size_t off = 0;
	ssize_t used;
	int n = 0;

	*starved = 0;
	while (off < c->inlen && c->outlen < OUTMAX / 2 && !c->held) {
		used = p->consume(c->l->ctx, c, c->in + off, c->inlen - off);
		if (used < 0)
			return -1;
		if (used == 0) {
			*starved = 1;
			break;
		}
		off += (size_t)used;
		n++;
	}
	if (off == c->inlen)
		*starved = 1;
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	return n;
}

/* timers - after progress (n requests served), restart the right timer */
static void
timers(struct stream_conn *c, const struct stream_opts *o, int n)
{
	int64_t now = mono_ms();

	if (c->inlen == 0 && c->outlen == 0) {
		if (c->deadline != 0 || n > 0)
			c->last = now;
		c->deadline = 0;
	} else if (c->deadline == 0 || n > 0)
		c->deadline = now + o->request_timeout_ms;
}

/*
 * serve - serve what is buffered and send the replies, again as long as
 * the output drains and requests are left; -1 to close
 */
static int
serve(struct stream_conn *c, const struct stream_opts *o)
{
	int n, starved, total = 0;

	do {
		if ((n = consume(c, &starved)) < 0)
			return -1;
		if (starved && c->inlen > c->l->proto->maxreq)
			return -1;	/* larger than the protocol allows */
		if (flush(c) < 0)
			return -1;
		total += n;
	} while (n > 0 && !starved && c->outlen == 0);
	timers(c, o, total);
	return 0;
}

/* input - read, then serve; -1 to close */
static int
input(struct stream_conn *c, const struct stream_opts *o)
{
	ssize_t got;
	size_t room = c->l->proto->maxreq + READMAX - c->inlen;

	got = recv(c->fd, c->in + c->inlen, room < READMAX ? room : READMAX,
	    MSG_DONTWAIT);
	if (got == 0)
		return -1;
	if (got < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	c->inlen += (size_t)got;
	return serve(c, o);
}

/* output - the peer can take more: send, and once drained serve again */
static int
output(struct stream_conn *c, const struct stream_opts *o)
{
	if (flush(c) < 0)
		return -1;
	if (c->outlen > 0)
		return 0;
	return serve(c, o);
}

struct loop {
	struct stream_opts o;		/* max_connections clamped */
	const struct stream_listener *ls;
	size_t nl;
	size_t *svc;			/* listener i's service */
	int *count;			/* connections per service */
	struct stream_conn *conns;
	size_t n;
	int64_t backoff;		/* listeners rest until then */
	struct log_limit full_log, deny_log, fd_log;
	uint64_t next_id;
};

struct stream_loop {
	struct loop *lp;
};

/* open connections of every loop, for the metrics */
static uint64_t open_conns;

/* stream_open_connections - the connections open now, in every service */
uint64_t
stream_open_connections(void)
{
	return __atomic_load_n(&open_conns, __ATOMIC_RELAXED);
}

/* conn_close - drop connection i; the last one moves into its place */
static void
conn_close(struct loop *lp, size_t i)
{
	struct stream_conn *c = &lp->conns[i];

	close(c->fd);
	free(c->in);
	free(c->out);
	lp->count[c->svc]--;
	__atomic_sub_fetch(&open_conns, 1, __ATOMIC_RELAXED);
	lp->conns[i] = lp->conns[--lp->n];
}

/* same_source - one source for the per-source cap (IPv6: one /64) */
static int
same_source(const struct addr *a, const struct addr *b)
{
	if (a->family != b->family)
		return 0;
	if (a->family == AF_INET6)
		return memcmp(a->bytes, b->bytes, 8) == 0;
	return addr_equal(a, b);
}

/* from_source - connections of service svc from peer */
static int
from_source(const struct loop *lp, size_t svc, const struct addr *peer)
{
	size_t i;
	int n = 0;

	for (i = 0; i < lp->n; i++)
		if (lp->conns[i].svc == svc && !lp->conns[i].local &&
		    same_source(&lp->conns[i].peer, peer))
			n++;
	return n;
}

/* refuse - log (rate-limited) why a connection was closed at accept */
static void
refuse(struct log_limit *ll, const struct stream_listener *l,
    const struct addr *peer, const char *why)
{
	char text[ADDR_TEXTMAX];
	unsigned int dropped;

	if (!log_limit_pass(ll, &dropped))
		return;
	addr_format(peer, text);
	if (dropped > 0)
		log_warnx("%u refused connections not logged", dropped);
	log_warnx("%s: refused a connection from %s: %s", l->proto->name,
	    text, why);
}

/* admit - may this new connection stay?  Logs when not. */
static int
admit(struct loop *lp, size_t li, const struct addr *peer, int local)
{
	const struct stream_listener *l = &lp->ls[li];
	size_t svc = lp->svc[li];

	if (l->proto->admit != NULL && !l->proto->admit(l->ctx, peer)) {
		refuse(&lp->deny_log, l, peer, "it holds no right here");
		return 0;
	}
	if (lp->count[svc] >= lp->o.max_connections) {
		refuse(&lp->full_log, l, peer, "connection limit reached "
		    "(tcp_max_connections)");
		return 0;
	}
	if (!local && from_source(lp, svc, peer) >= lp->o.max_per_source) {
		refuse(&lp->full_log, l, peer, "too many connections from "
		    "there (tcp_max_per_source)");
		return 0;
	}
	return 1;
}

/* accept_fail - after a failed accept for want of memory or descriptors */
static void
accept_fail(struct loop *lp)
{
	unsigned int dropped;

	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
	    errno == ENOMEM) {
		/* the listener stays readable: rest instead of spinning */
		lp->backoff = mono_ms() + BACKOFF_MS;
		if (log_limit_pass(&lp->fd_log, &dropped))
			log_warn("accept: not taking connections for %d ms",
			    BACKOFF_MS);
	}
}

/* accept_one - a new connection on listener li; 0 when none is left */
static int
accept_one(struct loop *lp, size_t li)
{
	const struct stream_listener *l = &lp->ls[li];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct stream_conn *c;
	struct addr peer;
	int fd, one = 1, local;

	if ((fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
		if (errno == EINTR || errno == ECONNABORTED)
			return 1;
		if (errno != EAGAIN)
			accept_fail(lp);
		return 0;
	}
	local = ss.ss_family == AF_UNIX;
	if (local)
		addr_parse(&peer, "127.0.0.1");	/* a local caller */
	else if (addr_from_sockaddr(&peer, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return 1;
	}
	if (!admit(lp, li, &peer, local)) {
		close(fd);
		return 1;
	}
	c = &lp->conns[lp->n];
	memset(c, 0, sizeof(*c));
	c->id = ++lp->next_id;
	c->o = &lp->o;
	if ((c->in = malloc(l->proto->maxreq + READMAX)) == NULL) {
		close(fd);
		return 0;
	}
	c->fd = fd;
	c->l = l;
	c->svc = lp->svc[li];
	c->local = local;
	c->peer = peer;
	if (!local)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->last = mono_ms();
	lp->count[c->svc]++;
	__atomic_add_fetch(&open_conns, 1, __ATOMIC_RELAXED);
	lp->n++;
	return 1;
}

/* expired - has connection c outstayed its timer at t? */
static int
expired(const struct loop *lp, const struct stream_conn *c, int64_t t)
{
	if (c->deadline != 0)
		return t >= c->deadline;
	return t - c->last >= lp->o.idle_timeout_ms;
}

/* next_wake - how long poll may sleep: until the first timer is due */
static int
next_wake(const struct loop *lp, int64_t t)
{
	int64_t w = POLL_MS, due;
	size_t i;

	if (lp->backoff > t && lp->backoff - t < w)
		w = lp->backoff - t;
	for (i = 0; i < lp->n; i++) {
		const struct stream_conn *c = &lp->conns[i];

		if (c->held)
			continue;	/* no timers while served elsewhere */
		due = c->deadline != 0 ? c->deadline :
		    c->last + lp->o.idle_timeout_ms;
		if (due - t < w)
			w = due - t;
	}
	return w < 0 ? 0 : (int)w;
}

/* poll_round - one poll over listeners and connections; -1 when stopping */
static int
poll_round(struct loop *lp, struct pollfd *pfd)
{
	size_t i, nl = lp->nl;
	int64_t t = mono_ms();
	int k;

	for (i = 0; i < nl; i++)
		pfd[i].fd = t < lp->backoff ? -1 : lp->ls[i].fd;
	for (i = 0; i < lp->n; i++) {
		pfd[nl + 1 + i].fd = lp->conns[i].fd;
		pfd[nl + 1 + i].events = lp->conns[i].outlen > 0 ? POLLOUT :
		    lp->conns[i].held ? 0 : POLLIN;
		pfd[nl + 1 + i].revents = 0;
	}
	pfd[nl + 1 + lp->n].fd = lp->o.wake != NULL ? lp->o.wakefd : -1;
	pfd[nl + 1 + lp->n].events = POLLIN;
	pfd[nl + 1 + lp->n].revents = 0;
	if (poll(pfd, nl + 2 + lp->n, next_wake(lp, t)) < 0 && errno != EINTR)
		fatal("poll");
	if (pfd[nl].revents)
		return -1;
	if (pfd[nl + 1 + lp->n].revents) {
		struct stream_loop h = {lp};

		lp->o.wake(lp->o.wakearg, &h);
	}
	t = mono_ms();
	for (i = lp->n; i-- > 0;) {
		short ev = pfd[nl + 1 + i].revents;
		struct stream_conn *c = &lp->conns[i];
		int rc = 0;

		if (c->dead || (ev & (POLLERR | POLLNVAL)))
			rc = -1;
		else if (ev & POLLOUT)
			rc = output(c, &lp->o);
		else if (ev & (POLLIN | POLLHUP))
			rc = input(c, &lp->o);
		/* whatever arrived: a trickle does not earn more time */
		if (rc == 0 && !c->held && expired(lp, c, t))
			rc = -1;
		if (rc < 0)
			conn_close(lp, i);
	}
	for (i = 0; i < nl; i++)
		for (k = 0; k < ACCEPTBURST && pfd[i].fd >= 0 &&
		    (pfd[i].revents & POLLIN) && accept_one(lp, i); k++)
			;
	return 0;
}

/* open_fds - descriptors open in this process now */
static int
open_fds(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return 64;	/* a guess on the safe side */
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/*
 * fd_clamp - the connections per service that fit the descriptor limit
 * (RLIMIT_NOFILE less what is open and FD_RESERVE for the rest of dracd),
 * at most want; logs when it had to lower it
 */
static int
fd_clamp(int want, size_t nsvc)
{
	struct rlimit rl;
	int64_t room, per;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return want;
	room = (int64_t)rl.rlim_cur - open_fds() - FD_RESERVE;
	per = room / (int64_t)nsvc;
	if (per >= want)
		return want;
	if (per < 1)
		per = 1;
	log_warnx("tcp_max_connections %d is more than the file descriptor "
	    "limit allows (%llu, %d of them reserved or open): at most %lld "
	    "per service", want, (unsigned long long)rl.rlim_cur,
	    (int)((int64_t)rl.rlim_cur - room), (long long)per);
	return (int)per;
}

/* services - number the services (one per proto); how many there are */
static size_t
services(struct loop *lp)
{
	size_t i, j, nsvc = 0;

	for (i = 0; i < lp->nl; i++) {
		for (j = 0; j < i; j++)
			if (lp->ls[j].proto == lp->ls[i].proto)
				break;
		lp->svc[i] = j < i ? lp->svc[j] : nsvc++;
	}
	return nsvc;
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
	c->held = 0;
	if (serve(c, c->o) < 0)
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
	size_t i, nsvc, cap;

	memset(&lp, 0, sizeof(lp));
	lp.o = *o;
	if (lp.o.max_per_source <= 0)		/* not set: no cap */
		lp.o.max_per_source = INT32_MAX;
	if (lp.o.request_timeout_ms <= 0)	/* not set: the idle one */
		lp.o.request_timeout_ms = lp.o.idle_timeout_ms;
	lp.ls = ls;
	lp.nl = n;
	lp.full_log.period = lp.deny_log.period = lp.fd_log.period = 60;
	lp.full_log.burst = lp.deny_log.burst = lp.fd_log.burst = 1;
	if ((lp.svc = calloc(n + 1, sizeof(*lp.svc))) == NULL ||
	    (lp.count = calloc(n + 1, sizeof(*lp.count))) == NULL)
		fatalx("stream: out of memory");
	nsvc = services(&lp);
	lp.o.max_connections = fd_clamp(o->max_connections, nsvc ? nsvc : 1);
	cap = nsvc * (size_t)lp.o.max_connections;
	lp.conns = calloc(cap + 1, sizeof(*lp.conns));
	pfd = calloc(n + 2 + cap, sizeof(*pfd));
	if (lp.conns == NULL || pfd == NULL)
		fatalx("stream: out of memory");
	for (i = 0; i < n; i++)
		pfd[i].events = POLLIN;
	pfd[n].fd = o->stopfd;
	pfd[n].events = POLLIN;
	while (poll_round(&lp, pfd) == 0)
		;
	while (lp.n > 0)
		conn_close(&lp, lp.n - 1);
	free(lp.conns);
	free(lp.svc);
	free(lp.count);
	free(pfd);
	return 0;
}

/*
 * listen_unix - a stream socket at path, mode 0666, replacing a stale one.
 * The mode is set on the socket before bind creates the node (Linux
 * creates it with the socket's mode less the umask), never by a chmod of
 * the path, which would follow a symlink planted there.  The umask is
 * per process: this runs at start-up, before any thread.
 */
static int
listen_unix(const char *path, int *fd, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	mode_t old;
	int rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) >=
	    (int)sizeof(sun.sun_path)) {
		snprintf(err, errlen, "unix:%s: path too long", path);
		return -1;
	}
	unlink(path);
	if ((*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0 || fchmod(*fd, 0666) < 0)
		rc = -1;
	else {
		old = umask(0);
		rc = bind(*fd, (struct sockaddr *)&sun, sizeof(sun));
		umask(old);
	}
	if (rc < 0 || listen(*fd, 128) < 0) {
		snprintf(err, errlen, "unix:%s: %s", path, strerror(errno));
		if (*fd >= 0)
			close(*fd);
		return -1;
	}
	return 0;
}

/*
 * stream_spec - the address of "inet:HOST:PORT" (IPv6 as [addr]:port);
 * *unix set and nothing else for "unix:PATH"
 */
static int
stream_spec(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
    int *unix_, char *err, size_t errlen)
{
	char host[256];
	uint16_t port;

	*unix_ = strncmp(spec, "unix:", 5) == 0;
	if (*unix_) {
		if (spec[5] == '\0' || strlen(spec + 5) >=
		    sizeof(((struct sockaddr_un *)0)->sun_path)) {
			snprintf(err, errlen, "%s: empty or too long a path",
			    spec);
			return -1;
		}
		return 0;
	}
	/* a port, and an IPv6 address in brackets */
	if (strncmp(spec, "inet:", 5) != 0 || addr_hostport(spec + 5, host,
	    sizeof(host), &port) < 0 || port == 0 ||
	    (strchr(host, ':') != NULL) != (spec[5] == '[') ||
	    addr_sockaddr(host, port, ss, len) < 0)
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "%s: want inet:HOST:PORT, inet:[ADDR]:PORT or "
	    "unix:PATH", spec);
	return -1;
}

/*
 * stream_spec_check - would stream_listen understand spec?  1 inet, 0
 * unix, -1 with a message: nothing is opened
 */
int
stream_spec_check(const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int unix_;

	if (stream_spec(spec, &ss, &len, &unix_, err, errlen) < 0)
		return -1;
	return !unix_;
}

/*
 * stream_listen - a listening socket for "inet:HOST:PORT" (IPv6 as
 * [addr]:port) or "unix:PATH".
 */
int
stream_listen(const char *spec, int *fd, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int unix_;

	if (stream_spec(spec, &ss, &len, &unix_, err, errlen) < 0)
		return -1;
	if (unix_)
		return listen_unix(spec + 5, fd, err, errlen);
	/* [::] takes IPv4 too: a stream service is dual-stack */
	if ((*fd = sock_listen((struct sockaddr *)&ss, len, 1, 0)) >= 0)
		return 0;
	snprintf(err, errlen, "%s: %s", spec, strerror(errno));
	return -1;
}
