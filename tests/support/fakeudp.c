/*
 * fakeudp.c - the socket and the serving thread of the fake DRAC servers
 * (fakesrv.c, fakeold.c, fakegroup.c); lossy.c's relay takes the socket.
 *
 * One thread reads datagrams, hands each to the fake's answer function
 * and sends back what it wrote, until fakeudp_stop writes to its pipe.
 * The fake's own state is the answer function's to guard.  Fakes that
 * answer with the generated XDR routines start their reply with
 * fakeudp_accept and end it with fakeudp_encode.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "fakeudp.h"

#define ARGS_OFF	40	/* xid..proc (24) + two null auths (16) */

struct fakeudp {
	pthread_t thread;
	fakeudp_answer *answer;
	void *arg;
	int fd, stop[2];
	char spec[32];
};

/* udp_loopback - a UDP socket bound to a free port on 127.0.0.1; its
 * "127.0.0.1:port" spec in spec */
int
udp_loopback(char *spec, size_t len)
{
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
	snprintf(spec, len, "127.0.0.1:%u", ntohs(sa.sin_port));
	return fd;
}

/* fakeudp_run - the serving thread: receive, answer, send */
static void *
fakeudp_run(void *arg)
{
	struct fakeudp *u = arg;
	struct pollfd p[2] = {{u->fd, POLLIN, 0}, {u->stop[0], POLLIN, 0}};
	struct sockaddr_storage from;
	socklen_t fromlen;
	uint8_t in[2048], out[9000];
	ssize_t got;
	size_t n;

	while (poll(p, 2, -1) >= 0 && p[1].revents == 0) {
		fromlen = sizeof(from);
		got = recvfrom(u->fd, in, sizeof(in), MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fromlen);
		if (got > 0 && (n = u->answer(u->arg, in, (size_t)got, out,
		    sizeof(out))) > 0)
			sendto(u->fd, out, n, 0, (struct sockaddr *)&from,
			    fromlen);
	}
	return NULL;
}

/* fakeudp_start - a thread answering with fn(arg, ...) on a free
 * loopback UDP port */
struct fakeudp *
fakeudp_start(fakeudp_answer *fn, void *arg)
{
	struct fakeudp *u = calloc(1, sizeof(*u));

	ck_assert_ptr_nonnull(u);
	u->answer = fn;
	u->arg = arg;
	ck_assert_int_eq(pipe(u->stop), 0);
	u->fd = udp_loopback(u->spec, sizeof(u->spec));
	ck_assert_int_eq(pthread_create(&u->thread, NULL, fakeudp_run, u), 0);
	return u;
}

/* fakeudp_spec - the "127.0.0.1:port" spec libdrac takes */
const char *
fakeudp_spec(const struct fakeudp *u)
{
	return u->spec;
}

/* fakeudp_stop - stop the thread, close and free everything */
void
fakeudp_stop(struct fakeudp *u)
{
	if (u == NULL)
		return;
	if (write(u->stop[1], "x", 1) != 1)
		ck_abort_msg("fakeudp_stop: write failed");
	pthread_join(u->thread, NULL);
	close(u->fd);
	close(u->stop[0]);
	close(u->stop[1]);
	free(u);
}

/* nothing - no results (the NULL procedure) */
static bool_t
nothing(XDR *x, void *p)
{
	(void)x, (void)p;
	return TRUE;
}

/* fakeudp_accept - the procedure of the call in (read by offset: null
 * credentials, as libdrac sends) and, in m, its reply: accepted, SUCCESS,
 * no results; 0 ok, -1 too short for a call */
int
fakeudp_accept(const uint8_t *in, size_t len, struct rpc_msg *m,
    uint32_t *proc)
{
	uint32_t xid;

	if (len < ARGS_OFF)
		return -1;
	memcpy(&xid, in, 4);
	memcpy(proc, in + 20, 4);
	*proc = ntohl(*proc);
	memset(m, 0, sizeof(*m));
	m->rm_xid = ntohl(xid);
	m->rm_direction = REPLY;
	m->rm_reply.rp_stat = MSG_ACCEPTED;
	m->acpted_rply.ar_verf = _null_auth;
	m->acpted_rply.ar_stat = SUCCESS;
	m->acpted_rply.ar_results.where = NULL;
	m->acpted_rply.ar_results.proc = (xdrproc_t)nothing;
	return 0;
}

/* fakeudp_encode - the reply m encoded into out; its length, 0 if it
 * does not fit */
size_t
fakeudp_encode(struct rpc_msg *m, uint8_t *out, size_t cap)
{
	XDR x;
	size_t n;

	xdrmem_create(&x, (char *)out, (u_int)cap, XDR_ENCODE);
	n = xdr_replymsg(&x, m) ? xdr_getpos(&x) : 0;
	xdr_destroy(&x);
	return n;
}
