/*
 * fakegroup.c - a fake group member (see fakegroup.h).
 *
 * fakeudp.c's thread reads datagrams and answers them with reply() until
 * fakegroup_stop.  Requests are read by offset (a call with null
 * credentials, as libdrac sends); replies are encoded with the generated
 * XDR routines.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "fakegroup.h"
#include "fakeudp.h"

struct fakegroup {
	struct fakeudp *udp;
	const group3_res *ans;
};

/* reply - the reply to one call; its length, 0 for none */
static size_t
reply(void *arg, const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	struct fakegroup *f = arg;
	stats2_res none;
	struct rpc_msg m;
	uint32_t proc;

	if (fakeudp_accept(in, len, &m, &proc) < 0)
		return 0;
	memset(&none, 0, sizeof(none));
	if (proc == DRACPROC3_GROUP) {
		m.acpted_rply.ar_results.where = (caddr_t)f->ans;
		m.acpted_rply.ar_results.proc = (xdrproc_t)xdr_group3_res;
	} else if (proc == DRACPROC3_STATS2) {
		m.acpted_rply.ar_results.where = (caddr_t)&none;
		m.acpted_rply.ar_results.proc = (xdrproc_t)xdr_stats2_res;
	} else if (proc != 0)
		m.acpted_rply.ar_stat = PROC_UNAVAIL;
	return fakeudp_encode(&m, out, cap);
}

/* fakegroup_start - a fake member on a free loopback UDP port */
struct fakegroup *
fakegroup_start(const group3_res *ans)
{
	struct fakegroup *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	f->ans = ans;
	f->udp = fakeudp_start(reply, f);
	return f;
}

/* fakegroup_spec - the server spec libdrac takes */
const char *
fakegroup_spec(const struct fakegroup *f)
{
	return fakeudp_spec(f->udp);
}

/* fakegroup_stop - stop the thread, close and free everything */
void
fakegroup_stop(struct fakegroup *f)
{
	if (f == NULL)
		return;
	fakeudp_stop(f->udp);
	free(f);
}
