/*
 * fakegroup.c - a fake group member (see fakegroup.h).
 *
 * One thread reads datagrams and answers them until fakegroup_stop writes
 * to its pipe.  Requests are read by offset (a call with null
 * credentials, as libdrac sends); replies are encoded with the generated
 * XDR routines.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "fakegroup.h"
#include "fakeudp.h"

#define ARGS_OFF	40	/* xid..proc (24) + two null auths (16) */

struct fakegroup {
	pthread_t thread;
	const group3_res *ans;
	int fd, stop[2];
	char spec[32];
};

/* nothing - no results (the NULL procedure) */
static bool_t
nothing(XDR *x, void *p)
{
	(void)x, (void)p;
	return TRUE;
}

/* reply - the reply to one call; its length, 0 for none */
static size_t
reply(struct fakegroup *f, const uint8_t *in, size_t len, uint8_t *out,
    size_t cap)
{
	stats2_res none;
	struct rpc_msg m;
	uint32_t xid, proc;
	XDR x;
	size_t n;

	if (len < ARGS_OFF)
		return 0;
	memcpy(&xid, in, 4);
	memcpy(&proc, in + 20, 4);
	proc = ntohl(proc);
	memset(&m, 0, sizeof(m));
	memset(&none, 0, sizeof(none));
	m.rm_xid = ntohl(xid);
	m.rm_direction = REPLY;
	m.rm_reply.rp_stat = MSG_ACCEPTED;
	m.acpted_rply.ar_verf = _null_auth;
	m.acpted_rply.ar_stat = SUCCESS;
	m.acpted_rply.ar_results.where = NULL;
	m.acpted_rply.ar_results.proc = (xdrproc_t)nothing;
	if (proc == DRACPROC3_GROUP) {
		m.acpted_rply.ar_results.where = (caddr_t)f->ans;
		m.acpted_rply.ar_results.proc = (xdrproc_t)xdr_group3_res;
	} else if (proc == DRACPROC3_STATS2) {
		m.acpted_rply.ar_results.where = (caddr_t)&none;
		m.acpted_rply.ar_results.proc = (xdrproc_t)xdr_stats2_res;
	} else if (proc != 0)
		m.acpted_rply.ar_stat = PROC_UNAVAIL;
	xdrmem_create(&x, (char *)out, (u_int)cap, XDR_ENCODE);
	n = xdr_replymsg(&x, &m) ? xdr_getpos(&x) : 0;
	xdr_destroy(&x);
	return n;
}

/* fakegroup_run - the server thread */
static void *
fakegroup_run(void *arg)
{
	struct fakegroup *f = arg;
	struct pollfd p[2] = {{f->fd, POLLIN, 0}, {f->stop[0], POLLIN, 0}};
	struct sockaddr_storage from;
	socklen_t fromlen;
	uint8_t in[2048], out[9000];
	ssize_t got;
	size_t n;

	while (poll(p, 2, -1) >= 0 && p[1].revents == 0) {
		fromlen = sizeof(from);
		got = recvfrom(f->fd, in, sizeof(in), MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fromlen);
		if (got > 0 && (n = reply(f, in, (size_t)got, out,
		    sizeof(out))) > 0)
			sendto(f->fd, out, n, 0, (struct sockaddr *)&from,
			    fromlen);
	}
	return NULL;
}

/* fakegroup_start - a fake member on a free loopback UDP port */
struct fakegroup *
fakegroup_start(const group3_res *ans)
{
	struct fakegroup *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	f->ans = ans;
	ck_assert_int_eq(pipe(f->stop), 0);
	f->fd = udp_loopback(f->spec, sizeof(f->spec));
	ck_assert_int_eq(pthread_create(&f->thread, NULL, fakegroup_run, f),
	    0);
	return f;
}

/* fakegroup_spec - the server spec libdrac takes */
const char *
fakegroup_spec(const struct fakegroup *f)
{
	return f->spec;
}

/* fakegroup_stop - stop the thread, close and free everything */
void
fakegroup_stop(struct fakegroup *f)
{
	if (f == NULL)
		return;
	if (write(f->stop[1], "x", 1) != 1)
		ck_abort_msg("fakegroup_stop: write failed");
	pthread_join(f->thread, NULL);
	close(f->fd);
	close(f->stop[0]);
	close(f->stop[1]);
	free(f);
}
