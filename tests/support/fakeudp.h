/* fakeudp.h - the socket and serving thread of the fake DRAC servers
 * (fakeudp.c) */
#ifndef TESTS_FAKEUDP_H
#define TESTS_FAKEUDP_H

#include <stddef.h>
#include <stdint.h>

#include <rpc/rpc.h>

struct fakeudp;

/*
 * The answer to one datagram, written into out (cap bytes): its length,
 * 0 for no reply.  Runs on the serving thread; arg is fakeudp_start's.
 */
typedef size_t fakeudp_answer(void *arg, const uint8_t *in, size_t len,
    uint8_t *out, size_t cap);

int udp_loopback(char *spec, size_t len);
struct fakeudp *fakeudp_start(fakeudp_answer *fn, void *arg);
const char *fakeudp_spec(const struct fakeudp *u);
void fakeudp_stop(struct fakeudp *u);
int fakeudp_accept(const uint8_t *in, size_t len, struct rpc_msg *m,
    uint32_t *proc);
size_t fakeudp_encode(struct rpc_msg *m, uint8_t *out, size_t cap);

#endif
