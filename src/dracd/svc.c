/*
 * svc.c - the UDP and TCP server threads and their sockets, around the
 * message codec (rpcmsg.c).
 *
 * Threading: the codec has no state of its own and runs in every server
 * thread at once; procedures must be thread-safe.  Each UDP thread
 * waits on all UDP sockets (epoll, EPOLLEXCLUSIVE: a datagram wakes one
 * idle thread, not all 16 that wait while adds wait for the disk or the
 * group) and serves whatever datagram it reads, noting
 * the interface it arrived on, and replies from the address it was sent
 * to (IP_PKTINFO / IPV6_PKTINFO both ways).  One
 * thread runs stream.c over every TCP listener: RPC records (bounded by
 * SVC_RECMAX) and the extra listeners main hands in (policy, socketmap).
 *
 * That thread answers the live lookups, so it never waits for the disk:
 * a TCP call to a procedure marked mayblock (the adds, which with
 * sync_interval 0 wait for their write) goes to the tcp_workers threads
 * (work.c), and its connection is held (nothing more read from it) until
 * the reply comes back.  One call at a time per connection keeps replies
 * in the order of the requests, as libtirpc's own server does, and bounds
 * the calls out to one per connection; libdrac and libtirpc clients send
 * one call at a time anyway.  The workers' adds wait in store_add beside
 * the UDP threads' and share their map and journal writes.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sock.h"
#include "stream.h"
#include "svc.h"
#include "work.h"

#define SVC_UDPMAX	65536		/* largest datagram read */
#define SVC_REPLYMAX	RPCMSG_REPLYMAX	/* largest reply built */
#define SVC_RECMAX	16384		/* largest TCP record accepted */
#define SVC_UDPBURST	64		/* datagrams per socket per wakeup */
#define SVC_LOOPBACKS	8		/* loopback interfaces remembered */

/* ---- sockets ---- */

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
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	*v6only = 1;
	if (strcmp(text, "*") != 0)
		return addr_sockaddr(text, port, ss, len);
	memset(ss, 0, sizeof(*ss));
	s6->sin6_family = AF_INET6;
	s6->sin6_addr = in6addr_any;
	s6->sin6_port = htons(port);
	*len = sizeof(*s6);
	*v6only = 0;
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
		out[t].fd = sock_listen((struct sockaddr *)&ss, len, t, v6only);
		if (out[t].fd < 0 && t == 0 && strcmp(text, "*") == 0 &&
		    errno == EAFNOSUPPORT) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			memset(&ss, 0, sizeof(ss));
			s4->sin_family = AF_INET;
			s4->sin_port = htons(*port);
			len = sizeof(*s4);
			out[t].fd = sock_listen((struct sockaddr *)&ss, len, t, 1);
		}
		if (out[t].fd < 0) {
			if (t == 1)
				close(out[0].fd);
			return -1;
		}
		out[t].tcp = t;
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

/*
 * svc_listen_check - would svc_bind understand listen?  Nothing is
 * opened; -1 with a message naming the address it cannot parse.
 */
int
svc_listen_check(const char *listen_on, char *err, size_t errlen)
{
	char buf[1024], *tok, *save = NULL;
	struct sockaddr_storage ss;
	socklen_t len;
	size_t n = 0;
	int v6only;

	if (snprintf(buf, sizeof(buf), "%s", listen_on) >= (int)sizeof(buf))
		goto toolong;
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if ((n += 2) > SVC_MAXSOCK)
			goto toolong;
		if (sockaddr_for(tok, 0, &ss, &len, &v6only) < 0) {
			snprintf(err, errlen, "listen: \"%s\" is not an IPv4 "
			    "or IPv6 address or \"*\" (the port is set "
			    "with port or -p)", tok);
			return -1;
		}
	}
	if (n > 0)
		return 0;
	snprintf(err, errlen, "listen: no address given");
	return -1;
toolong:
	snprintf(err, errlen, "listen: too many addresses");
	return -1;
}

/* ---- the server threads ---- */

struct svc {
	struct svc_opts o;
	struct svc_sock socks[SVC_MAXSOCK];
	size_t nsocks;
	struct stream_listener *ls;	/* RPC over TCP, then the extras */
	size_t nls;
	int stopfd;			/* eventfd: readable once stopping */
	int lo[SVC_LOOPBACKS];		/* loopback interfaces' indexes */
	size_t nlo;
	pthread_t *udp;
	size_t nudp;
	pthread_t tcp;
	int tcp_started;
	uint8_t *rec, *out;		/* the stream thread's buffers */
	struct work *work;		/* the TCP calls that may block */
	int full;			/* work_put refused: no room until
					 * a call comes back */
	uint64_t *waiting;		/* ids of connections held for room */
	size_t wcap, whead, wlen;
};

/* a TCP call served by a worker: the record, then the reply */
struct rpc_job {
	struct work_job w;
	uint64_t conn;			/* stream_id */
	struct addr peer;
	uint8_t *reply;			/* record mark included */
	size_t replylen;		/* 0: none */
	int drop;			/* close the connection */
	size_t len;
	uint8_t req[];
};

/*
 * find_loopbacks - remember which interfaces are loopback ones (Linux has
 * one, "lo", made with the namespace and never removed, so once is enough)
 */
static void
find_loopbacks(struct svc *s)
{
	struct if_nameindex *ifs, *i;
	struct ifreq ifr;
	int fd;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    (ifs = if_nameindex()) == NULL) {
		log_warn("no list of interfaces: no datagram counts as "
		    "arriving on loopback");
		if (fd >= 0)
			close(fd);
		return;
	}
	for (i = ifs; i->if_index != 0 && s->nlo < SVC_LOOPBACKS; i++) {
		memset(&ifr, 0, sizeof(ifr));
		if (snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s",
		    i->if_name) >= (int)sizeof(ifr.ifr_name))
			continue;
		if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 &&
		    (ifr.ifr_flags & IFF_LOOPBACK))
			s->lo[s->nlo++] = (int)i->if_index;
	}
	if_freenameindex(ifs);
	close(fd);
}

/* is_loopback - is ifindex one of the loopback interfaces? */
static int
is_loopback(const struct svc *s, int ifindex)
{
	size_t i;

	for (i = 0; i < s->nlo; i++)
		if (s->lo[i] == ifindex)
			return 1;
	return 0;
}

/* a datagram's local end, as IP_PKTINFO / IPV6_PKTINFO told it */
struct dgram_to {
	int level;			/* 0: not told */
	int ifindex;
	union {
		struct in_pktinfo v4;
		struct in6_pktinfo v6;
	} pi;
};

/* pktinfo_get - the local end of a datagram from its control messages */
static void
pktinfo_get(struct msghdr *mh, struct dgram_to *to)
{
	struct cmsghdr *cm;

	to->level = 0;
	to->ifindex = 0;
	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(to->pi.v4))) {
			memcpy(&to->pi.v4, CMSG_DATA(cm), sizeof(to->pi.v4));
			to->ifindex = to->pi.v4.ipi_ifindex;
			to->level = IPPROTO_IP;
		} else if (cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(to->pi.v6))) {
			memcpy(&to->pi.v6, CMSG_DATA(cm), sizeof(to->pi.v6));
			to->ifindex = (int)to->pi.v6.ipi6_ifindex;
			to->level = IPPROTO_IPV6;
		}
	}
}

/* a control buffer for one pktinfo message of either family */
union dgram_ctl {
	char b[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
	    CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct cmsghdr align;
};

/*
 * pktinfo_put - the reply's source: the address the request was sent to
 * (IPv4: ipi_spec_dst, which is that address for unicast; a v4-mapped
 * IPV6_PKTINFO on a dual-stack socket works the same way).  The routing
 * table picks the interface, except for a link-local address, which
 * needs the one it arrived on.  0 when there is nothing to say.
 */
static size_t
pktinfo_put(const struct dgram_to *to, union dgram_ctl *ctl)
{
	struct cmsghdr *cm = &ctl->align;

	memset(ctl, 0, sizeof(*ctl));
	if (to->level == IPPROTO_IP) {
		struct in_pktinfo pi;

		memset(&pi, 0, sizeof(pi));
		pi.ipi_spec_dst = to->pi.v4.ipi_spec_dst;
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	if (to->level == IPPROTO_IPV6 &&
	    !IN6_IS_ADDR_MULTICAST(&to->pi.v6.ipi6_addr)) {
		struct in6_pktinfo pi;

		memset(&pi, 0, sizeof(pi));
		pi.ipi6_addr = to->pi.v6.ipi6_addr;
		if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
			pi.ipi6_ifindex = to->pi.v6.ipi6_ifindex;
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	return 0;
}

/* udp_reply - send a reply to from, from where the request went to */
static void
udp_reply(int fd, const uint8_t *out, size_t n, struct sockaddr_storage *from,
    socklen_t fromlen, const struct dgram_to *to)
{
	struct iovec iov = {(void *)(uintptr_t)out, n};
	union dgram_ctl ctl;
	struct msghdr mh;

	memset(&mh, 0, sizeof(mh));
	mh.msg_name = from;
	mh.msg_namelen = fromlen;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if ((mh.msg_controllen = pktinfo_put(to, &ctl)) > 0)
		mh.msg_control = &ctl;
	(void)sendmsg(fd, &mh, MSG_DONTWAIT);
}

/* udp_serve - read and answer what is waiting on one UDP socket */
static void
udp_serve(struct svc *s, int fd, uint8_t *in, uint8_t *out)
{
	struct sockaddr_storage from;
	struct iovec iov = {in, SVC_UDPMAX};
	struct svc_call c;
	struct dgram_to to;
	union dgram_ctl ctl;
	struct msghdr mh;
	struct addr peer;
	ssize_t got;
	size_t n;
	int i;

	for (i = 0; i < SVC_UDPBURST; i++) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = &ctl;
		mh.msg_controllen = sizeof(ctl);
		got = recvmsg(fd, &mh, MSG_TRUNC);
		if (got < 0)
			return;		/* EAGAIN: another thread took it */
		if (got > SVC_UDPMAX || addr_from_sockaddr(&peer,
		    (struct sockaddr *)&from, mh.msg_namelen) < 0)
			continue;
		pktinfo_get(&mh, &to);
		memset(&c, 0, sizeof(c));
		c.peer = &peer;
		c.ifindex = to.ifindex;
		c.loopback = to.ifindex != 0 && is_loopback(s, to.ifindex);
		n = rpcmsg_dispatch(&s->o.rpc, in, (size_t)got, &c, out,
		    SVC_REPLYMAX);
		if (n > 0)
			udp_reply(fd, out, n, &from, mh.msg_namelen, &to);
	}
}

/* udp_thread - serve every UDP socket until stopped */
static void *
udp_thread(void *arg)
{
	struct svc *s = arg;
	struct epoll_event ev, evs[SVC_MAXSOCK + 1];
	uint8_t *in = malloc(SVC_UDPMAX), *out = malloc(SVC_REPLYMAX);
	int ep = epoll_create1(EPOLL_CLOEXEC), n, i, stop = 0;
	size_t k;

	pthread_setname_np(pthread_self(), "dracd-udp");
	if (in == NULL || out == NULL)
		fatalx("udp thread: out of memory");
	if (ep < 0)
		fatal("udp thread: epoll_create1");
	for (k = 0; k < s->nsocks; k++)
		if (!s->socks[k].tcp) {
			ev.events = EPOLLIN | EPOLLEXCLUSIVE;
			ev.data.fd = s->socks[k].fd;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
				fatal("udp thread: epoll_ctl");
		}
	ev.events = EPOLLIN;		/* every thread sees the stop */
	ev.data.fd = s->stopfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, s->stopfd, &ev) < 0)
		fatal("udp thread: epoll_ctl");
	while (!stop) {
		if ((n = epoll_wait(ep, evs, SVC_MAXSOCK + 1, -1)) < 0) {
			if (errno != EINTR)
				fatal("epoll_wait");
			continue;
		}
		for (i = 0; i < n && !stop; i++) {
			if (evs[i].data.fd == s->stopfd)
				stop = 1;
			else
				udp_serve(s, evs[i].data.fd, in, out);
		}
	}
	close(ep);
	free(in);
	free(out);
	return NULL;
}

/* rpc_work - in a worker: serve one call, keep the reply for the TCP
 * thread */
static void
rpc_work(void *arg, struct work_job *w)
{
	struct svc *s = arg;
	struct rpc_job *j = (struct rpc_job *)w;
	uint8_t out[SVC_REPLYMAX + 4];
	uint32_t mark;
	size_t n;

	n = svc_dispatch(&s->o.rpc, j->req, j->len, &j->peer, 1, out + 4,
	    SVC_REPLYMAX);
	if (n == 0)
		return;
	mark = htonl(0x80000000U | (uint32_t)n);
	memcpy(out, &mark, 4);
	if ((j->reply = malloc(n + 4)) == NULL) {
		j->drop = 1;
		return;
	}
	memcpy(j->reply, out, n + 4);
	j->replylen = n + 4;
}

/* rpc_job_free - a job and its reply */
static void
rpc_job_free(struct work_job *w)
{
	struct rpc_job *j = (struct rpc_job *)w;

	free(j->reply);
	free(j);
}

/*
 * hand_off - the whole record in s->rec goes to a worker and c is held:
 * 1, or 0 when the workers have no room (nothing done), -1 on no memory
 */
static int
hand_off(struct svc *s, struct stream_conn *c, size_t reclen)
{
	struct rpc_job *j;

	if ((j = malloc(sizeof(*j) + reclen)) == NULL)
		return -1;
	memset(j, 0, sizeof(*j));
	j->conn = stream_id(c);
	j->peer = *stream_peer(c);
	j->len = reclen;
	memcpy(j->req, s->rec, reclen);
	if (work_put(s->work, &j->w) < 0) {
		free(j);
		s->full = 1;
		return 0;
	}
	stream_hold(c);
	return 1;
}

/* wait_room - hold c until a call comes back; -1 when too many wait */
static int
wait_room(struct svc *s, struct stream_conn *c)
{
	if (s->wlen == s->wcap)
		return -1;
	s->waiting[(s->whead + s->wlen++) % s->wcap] = stream_id(c);
	stream_hold(c);
	return 0;
}

/*
 * rpc_done - the wake callback, in the TCP thread: queue the workers'
 * replies and release their connections; then, room made, retry the
 * connections that found none.  A reply for a closed connection is
 * dropped.
 */
static void
rpc_done(void *arg, struct stream_loop *sl)
{
	struct svc *s = arg;
	struct stream_conn *c;
	struct work_job *w;
	struct rpc_job *j;

	while ((w = work_done(s->work)) != NULL) {
		j = (struct rpc_job *)w;
		s->full = 0;
		if ((c = stream_find(sl, j->conn)) == NULL)
			;
		else if (j->drop || (j->replylen > 0 && stream_reply(c,
		    j->reply, j->replylen) < 0))
			stream_drop(c);
		else
			stream_release(c);
		rpc_job_free(w);
	}
	while (!s->full && s->wlen > 0) {
		uint64_t id = s->waiting[s->whead];

		s->whead = (s->whead + 1) % s->wcap;
		s->wlen--;
		if ((c = stream_find(sl, id)) != NULL)
			stream_release(c);
	}
}

/*
 * rpc_consume - RPC over TCP: dispatch one whole record (all its
 * fragments), queue the reply with its record mark; 0 until it is whole.
 * A call that may block goes to a worker instead, or, when they have no
 * room, waits (unconsumed, its connection held) until one comes back.
 */
static ssize_t
rpc_consume(void *ctx, struct stream_conn *c, const uint8_t *in, size_t len)
{
	struct svc *s = ctx;
	const struct svc_proc *p;
	size_t off = 0, reclen = 0, frag, n;
	uint32_t mark;
	int last;

	do {
		if (len - off < 4)
			return 0;
		memcpy(&mark, in + off, 4);
		mark = ntohl(mark);
		last = (mark & 0x80000000U) != 0;
		frag = mark & 0x7fffffffU;
		if (frag > SVC_RECMAX - reclen)
			return -1;	/* an absurd record mark */
		if (len - off - 4 < frag)
			return 0;
		memcpy(s->rec + reclen, in + off + 4, frag);
		reclen += frag;
		off += 4 + frag;
	} while (!last);
	if (s->work != NULL && (p = rpcmsg_proc(&s->o.rpc, s->rec, reclen)) !=
	    NULL && p->mayblock) {
		switch (hand_off(s, c, reclen)) {
		case 1:
			return (ssize_t)off;
		case 0:
			return wait_room(s, c);
		default:
			return -1;
		}
	}
	n = svc_dispatch(&s->o.rpc, s->rec, reclen, stream_peer(c), 1, s->out + 4,
	    SVC_REPLYMAX);
	if (n == 0)
		return (ssize_t)off;
	mark = htonl(0x80000000U | (uint32_t)n);
	memcpy(s->out, &mark, 4);
	return stream_reply(c, s->out, n + 4) < 0 ? -1 : (ssize_t)off;
}

/* rpc_admit - a TCP caller with no right at all is closed at accept */
static int
rpc_admit(void *ctx, const struct addr *peer)
{
	struct svc *s = ctx;

	return s->o.admit == NULL || s->o.admit(s->o.rpc.ctx, peer);
}

static const struct stream_proto rpc_proto = {
	"rpc", SVC_RECMAX + 1024, rpc_consume, rpc_admit,
};

/* tcp_thread - every stream listener and connection, until stopped */
static void *
tcp_thread(void *arg)
{
	struct svc *s = arg;
	struct stream_opts so;

	pthread_setname_np(pthread_self(), "dracd-tcp");
	memset(&so, 0, sizeof(so));
	so.wakefd = s->work != NULL ? work_fd(s->work) : -1;
	so.wake = rpc_done;
	so.wakearg = s;
	so.max_connections = s->o.tcp_max_connections;
	so.max_per_source = s->o.tcp_max_per_source;
	so.request_timeout_ms = s->o.tcp_request_timeout_ms;
	so.idle_timeout_ms = s->o.tcp_idle_timeout_ms;
	so.stopfd = s->stopfd;
	stream_run(&so, s->ls, s->nls);
	return NULL;
}

/* add_listeners - the RPC TCP sockets, then the extra listeners */
static int
add_listeners(struct svc *s, const struct stream_listener *extra,
    size_t nextra)
{
	size_t i;

	if ((s->ls = calloc(s->nsocks + nextra, sizeof(*s->ls))) == NULL)
		return -1;
	for (i = 0; i < s->nsocks; i++)
		if (s->socks[i].tcp) {
			s->ls[s->nls].fd = s->socks[i].fd;
			s->ls[s->nls].proto = &rpc_proto;
			s->ls[s->nls++].ctx = s;
		}
	for (i = 0; i < nextra; i++)
		s->ls[s->nls++] = extra[i];
	return 0;
}

/*
 * svc_start - serve socks, and the extra stream listeners, from new
 * threads; the sockets stay the caller's.
 */
struct svc *
svc_start(const struct svc_opts *o, const struct svc_sock *socks, size_t n,
    const struct stream_listener *extra, size_t nextra)
{
	struct svc *s;
	size_t i;

	if (n > SVC_MAXSOCK || (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->o = *o;
	memcpy(s->socks, socks, n * sizeof(*socks));
	s->nsocks = n;
	s->stopfd = eventfd(0, EFD_CLOEXEC);
	find_loopbacks(s);
	s->udp = calloc((size_t)o->udp_threads, sizeof(*s->udp));
	s->rec = malloc(SVC_RECMAX);
	s->out = malloc(SVC_REPLYMAX + 4);
	if (s->stopfd < 0 || s->udp == NULL || s->rec == NULL ||
	    s->out == NULL || add_listeners(s, extra, nextra) < 0)
		goto fail;
	if (o->tcp_workers > 0) {
		/* one call out per connection; more only while closed
		 * connections' calls finish */
		s->wcap = 2 * (size_t)o->tcp_max_connections;
		if ((s->waiting = calloc(s->wcap, sizeof(*s->waiting))) ==
		    NULL || (s->work = work_start(o->tcp_workers,
		    (size_t)o->tcp_max_connections, rpc_work, s)) == NULL)
			goto fail;
	}
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
	work_stop(s->work, rpc_job_free);
	free(s->waiting);
	if (s->stopfd >= 0)
		close(s->stopfd);
	free(s->ls);
	free(s->rec);
	free(s->out);
	free(s->udp);
	free(s);
}
