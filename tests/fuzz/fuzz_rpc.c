/*
 * fuzz_rpc.c - whole RPC messages through svc_dispatch and every
 * procedure, over a real in-memory store: call header, v1/v2/v3 argument
 * decoding, and the procedures themselves.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "drac_prot.h"
#include "proc.h"
#include "svc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct server sv;
static struct svc_opts so;
static struct addr peer;
static struct store *st;

/* fini - at exit, the store closed: Berkeley DB frees its environment
 * (LeakSanitizer counted it lost otherwise) */
static void
fini(void)
{
	store_close(st);
}

/* init - one server for the whole run; the store never touches disk */
static void
init(void)
{
	static char path[64];
	struct store_opts o;
	struct policy p;
	char err[1400];

	snprintf(path, sizeof(path), "/tmp/dracd-fuzz-%d.db", (int)getpid());
	memset(&o, 0, sizeof(o));
	o.path = path;
	o.sync_interval_ms = 1000;
	o.max_entries = 10000;
	o.truncate = 1;
	if ((st = store_open(&o, err, sizeof(err))) == NULL)
		abort();
	atexit(fini);
	memset(&p, 0, sizeof(p));
	p.acl = acl_parse("127.0.0.1 add check admin\n", "fuzz", err,
	    sizeof(err));
	p.expire_s = 1800;
	p.max_ttl_s = 86400;
	snprintf(p.action, sizeof(p.action), "OK");
	if (p.acl == NULL || policy_init(&sv, st, &p) < 0)
		abort();
	so.rpc.prog = DRACPROG;
	so.rpc.vers_lo = DRACVERS;
	so.rpc.vers_hi = DRACVERS3;
	so.rpc.lookup = proc_lookup;
	so.rpc.ctx = &sv;
	addr_parse(&peer, "127.0.0.1");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static uint8_t reply[65536];
	static int ready;

	if (!ready) {
		init();
		ready = 1;
	}
	(void)svc_dispatch(&so.rpc, data, len, &peer, len & 1, reply,
	    sizeof(reply));
	return 0;
}
