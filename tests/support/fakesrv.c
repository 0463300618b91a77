/*
 * fakesrv.c - a fake DRAC server for client tests (see fakesrv.h).
 *
 * One thread reads datagrams and answers them until fake_stop writes to
 * its pipe.  Requests are read by offset (a call with null credentials,
 * as libdrac sends); replies are encoded with the generated XDR routines.
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

#include "drac_prot.h"
#include "fakeudp.h"
#include "fakesrv.h"

#define ARGS_OFF	40	/* xid..proc (24) + two null auths (16) */

struct fakesrv {
	pthread_t thread;
	pthread_mutex_t mu;
	enum fake_mode mode;
	int fd, stop[2];
	unsigned long calls;
	char spec[32];
};

/* get64 - a big-endian hyper at p */
static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* xdr_nothing - no results (the NULL procedure) */
static bool_t
xdr_nothing(XDR *x, void *p)
{
	(void)x, (void)p;
	return TRUE;
}

/* answer - the reply to one call; its length, 0 for none */
static size_t
answer(struct fakesrv *f, const uint8_t *in, size_t len, uint8_t *out,
    size_t cap)
{
	static char verf[MAX_AUTH_BYTES];
	struct rpc_msg m;
	add3_res add;
	list3_res list;
	uint32_t xid, proc;
	XDR x;
	size_t n;

	if (len < ARGS_OFF)
		return 0;
	memcpy(&xid, in, 4);
	memcpy(&proc, in + 20, 4);
	proc = ntohl(proc);
	memset(&m, 0, sizeof(m));
	m.rm_xid = ntohl(xid);
	m.rm_direction = REPLY;
	m.rm_reply.rp_stat = MSG_ACCEPTED;
	m.acpted_rply.ar_verf = _null_auth;
	m.acpted_rply.ar_stat = SUCCESS;
	memset(&add, 0, sizeof(add));
	memset(&list, 0, sizeof(list));
	if (f->mode == FAKE_BIGVERF) {
		m.acpted_rply.ar_verf.oa_base = verf;
		m.acpted_rply.ar_verf.oa_length = sizeof(verf);
	}
	if (proc == DRACPROC3_ADD) {
		add.expires = 1;
		m.acpted_rply.ar_results.where = (caddr_t)&add;
		m.acpted_rply.ar_results.proc = (xdrproc_t)xdr_add3_res;
	} else if (proc == DRACPROC3_LIST && len >= ARGS_OFF + 12) {
		list.cursor = f->mode == FAKE_LIST_STUCK ? 7 :
		    get64(in + ARGS_OFF) + 1;
		m.acpted_rply.ar_results.where = (caddr_t)&list;
		m.acpted_rply.ar_results.proc = (xdrproc_t)xdr_list3_res;
	} else {
		m.acpted_rply.ar_results.where = NULL;
		m.acpted_rply.ar_results.proc = (xdrproc_t)xdr_nothing;
	}
	xdrmem_create(&x, (char *)out, (u_int)cap, XDR_ENCODE);
	n = xdr_replymsg(&x, &m) ? xdr_getpos(&x) : 0;
	xdr_destroy(&x);
	return n;
}

/* fake_run - the server thread */
static void *
fake_run(void *arg)
{
	struct fakesrv *f = arg;
	struct pollfd p[2] = {{f->fd, POLLIN, 0}, {f->stop[0], POLLIN, 0}};
	struct sockaddr_storage from;
	socklen_t fromlen;
	uint8_t in[2048], out[2048];
	ssize_t got;
	size_t n;

	while (poll(p, 2, -1) >= 0 && p[1].revents == 0) {
		fromlen = sizeof(from);
		got = recvfrom(f->fd, in, sizeof(in), MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fromlen);
		if (got <= 0 || (n = answer(f, in, (size_t)got, out,
		    sizeof(out))) == 0)
			continue;
		pthread_mutex_lock(&f->mu);	/* counted before the
						 * client can see it */
		f->calls++;
		pthread_mutex_unlock(&f->mu);
		sendto(f->fd, out, n, 0, (struct sockaddr *)&from, fromlen);
	}
	return NULL;
}

/* fake_start - a fake server thread on a free loopback UDP port */
struct fakesrv *
fake_start(enum fake_mode mode)
{
	struct fakesrv *f = calloc(1, sizeof(*f));
	ck_assert_ptr_nonnull(f);
	f->mode = mode;
	pthread_mutex_init(&f->mu, NULL);
	ck_assert_int_eq(pipe(f->stop), 0);
	f->fd = udp_loopback(f->spec, sizeof(f->spec));
	ck_assert_int_eq(pthread_create(&f->thread, NULL, fake_run, f), 0);
	return f;
}

/* fake_spec - the server spec libdrac takes */
const char *
fake_spec(const struct fakesrv *f)
{
	return f->spec;
}

/* fake_calls - how many calls were answered so far */
unsigned long
fake_calls(struct fakesrv *f)
{
	unsigned long n;

	pthread_mutex_lock(&f->mu);
	n = f->calls;
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* fake_stop - stop the thread, close and free everything */
void
fake_stop(struct fakesrv *f)
{
	if (f == NULL)
		return;
	if (write(f->stop[1], "x", 1) != 1)
		ck_abort_msg("fake_stop: write failed");
	pthread_join(f->thread, NULL);
	close(f->fd);
	close(f->stop[0]);
	close(f->stop[1]);
	pthread_mutex_destroy(&f->mu);
	free(f);
}
