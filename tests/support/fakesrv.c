/*
 * fakesrv.c - a fake DRAC server for client tests (see fakesrv.h).
 *
 * fakeudp.c's thread reads datagrams and answers them with answer() until
 * fake_stop.  Requests are read by offset (a call with null credentials,
 * as libdrac sends); replies are encoded with the generated XDR routines.
 */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "drac_prot.h"
#include "fakeudp.h"
#include "fakesrv.h"

#define ARGS_OFF	40	/* xid..proc (24) + two null auths (16) */

struct fakesrv {
	struct fakeudp *udp;
	pthread_mutex_t mu;
	enum fake_mode mode;
	unsigned long calls;
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

/* answer - the reply to one call, counted; its length, 0 for none */
static size_t
answer(void *arg, const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	struct fakesrv *f = arg;
	static char verf[MAX_AUTH_BYTES];
	struct rpc_msg m;
	add3_res add;
	list3_res list;
	uint32_t proc;
	size_t n;

	if (fakeudp_accept(in, len, &m, &proc) < 0)
		return 0;
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
	}
	n = fakeudp_encode(&m, out, cap);
	if (n > 0) {
		pthread_mutex_lock(&f->mu);	/* counted before the
						 * client can see it */
		f->calls++;
		pthread_mutex_unlock(&f->mu);
	}
	return n;
}

/* fake_start - a fake server thread on a free loopback UDP port */
struct fakesrv *
fake_start(enum fake_mode mode)
{
	struct fakesrv *f = calloc(1, sizeof(*f));
	ck_assert_ptr_nonnull(f);
	f->mode = mode;
	pthread_mutex_init(&f->mu, NULL);
	f->udp = fakeudp_start(answer, f);
	return f;
}

/* fake_spec - the server spec libdrac takes */
const char *
fake_spec(const struct fakesrv *f)
{
	return fakeudp_spec(f->udp);
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
	fakeudp_stop(f->udp);
	pthread_mutex_destroy(&f->mu);
	free(f);
}
