/*
 * fakeold.c - a DRAC 1.x server for client tests (see fakeold.h).
 *
 * fakeudp.c's thread reads datagrams and answers them with answer() until
 * fakeold_stop.  Requests are read by offset (null credentials, as libdrac sends) and
 * their argument must be exactly as long as DRAC's rpcgen code sends it:
 * 4 bytes for v1, 64 for v2 (each char a 4-byte XDR int).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <rpc/rpc.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "fakeudp.h"
#include "fakeold.h"

#define ARGS_OFF	40	/* xid..proc (24) + two null auths (16) */

struct fakeold {
	struct fakeudp *udp;
	pthread_mutex_t mu;
	struct fakeold_seen seen;
};

/* get32 - a big-endian int at p */
static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* put32 - a big-endian int at p; the next position */
static uint8_t *
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
	return p + 4;
}

/* take - an ADD's argument into seen; 0 ok, -1 the wrong length */
static int
take(struct fakeold *f, uint32_t vers, const uint8_t *arg, size_t len)
{
	uint8_t b[16];
	size_t i;

	if (len != (vers == 1 ? 4 : 64))
		return -1;
	if (vers == 1) {
		put32(b, get32(arg));
		inet_ntop(AF_INET, b, f->seen.last, sizeof(f->seen.last));
		return 0;
	}
	for (i = 0; i < 16; i++)
		b[i] = (uint8_t)get32(arg + 4 * i);
	inet_ntop(AF_INET6, b, f->seen.last, sizeof(f->seen.last));
	return 0;
}

/* answer - the reply to one call (at most 32 bytes); its length, 0 for
 * none */
static size_t
answer(void *arg, const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	struct fakeold *f = arg;
	uint32_t vers, proc;
	uint8_t *p = out;
	int garbage = 0;

	if (len < ARGS_OFF || cap < 32 || get32(in + 4) != CALL)
		return 0;
	vers = get32(in + 16);
	proc = get32(in + 20);
	pthread_mutex_lock(&f->mu);
	if (vers == 1)
		f->seen.v1++;
	else if (vers == 2)
		f->seen.v2++;
	else
		f->seen.v3++;
	if ((vers == 1 || vers == 2) && proc == 1 && take(f, vers,
	    in + ARGS_OFF, len - ARGS_OFF) < 0) {
		f->seen.garbage++;
		garbage = 1;
	}
	pthread_mutex_unlock(&f->mu);
	memcpy(p, in, 4);		/* xid */
	p = put32(p + 4, REPLY);
	p = put32(p, MSG_ACCEPTED);
	p = put32(p, AUTH_NONE);
	p = put32(p, 0);		/* empty verifier */
	if (vers < 1 || vers > 2) {
		p = put32(p, PROG_MISMATCH);
		p = put32(p, 1);
		return (size_t)(put32(p, 2) - out);
	}
	if (proc > 1)
		return (size_t)(put32(p, PROC_UNAVAIL) - out);
	if (garbage)
		return (size_t)(put32(p, GARBAGE_ARGS) - out);
	p = put32(p, SUCCESS);
	if (proc == 1)
		p = put32(p, 0);	/* ADD_SUCCESS */
	return (size_t)(p - out);
}

/* fakeold_start - a DRAC 1.x server thread on a free loopback UDP port */
struct fakeold *
fakeold_start(void)
{
	struct fakeold *f = calloc(1, sizeof(*f));
	ck_assert_ptr_nonnull(f);
	pthread_mutex_init(&f->mu, NULL);
	f->udp = fakeudp_start(answer, f);
	return f;
}

/* fakeold_spec - the server spec libdrac takes */
const char *
fakeold_spec(const struct fakeold *f)
{
	return fakeudp_spec(f->udp);
}

/* fakeold_seen - a copy of what the server was sent so far */
void
fakeold_seen(struct fakeold *f, struct fakeold_seen *out)
{
	pthread_mutex_lock(&f->mu);
	*out = f->seen;
	pthread_mutex_unlock(&f->mu);
}

/* fakeold_stop - stop the thread, close and free everything */
void
fakeold_stop(struct fakeold *f)
{
	if (f == NULL)
		return;
	fakeudp_stop(f->udp);
	pthread_mutex_destroy(&f->mu);
	free(f);
}
