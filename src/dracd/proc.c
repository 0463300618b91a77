/*
 * proc.c - the procedures of program 900101, versions 1 to 3.
 *
 * Every procedure is reached through the table in proc_lookup; each checks
 * the caller's right first, then works only on its decoded argument and
 * the store.  Results point into the svc_call (user text) or into
 * call->scratch (LIST entries), which svc frees after the reply.
 *
 * Who may call what, and the audit line of an add, are policy.c's; here
 * the audit lines of a delete and a flush ("audit: op=del ...").  With -d
 * each call also gets a debug line.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drac_prot.h"
#include "proc.h"
#include "wire.h"

/*
 * A LIST page is as many entries as surely fit the reply: the largest
 * entry3 on the wire (IPv6 address, user of DRAC_MAXUSER bytes) into the
 * reply buffer (RPCMSG_REPLYMAX) over TCP, or into a datagram any
 * libtirpc client reads (UDPMSGSIZE) over UDP, less the reply header
 * (xid, direction, status, null verifier, accept status), the result's
 * status, array length and cursor.
 */
#define LIST_ENTRY_MAX	(4 + 16 + 8 + 8 + 4 + 4 + DRAC_MAXUSER)
#define LIST_FIXED	(24 + 4 + 4 + 8)
#define LIST_TCP_BUDGET	RPCMSG_REPLYMAX
#define LIST_UDP_BUDGET	UDPMSGSIZE
#define LIST_TCP_MAX	((LIST_TCP_BUDGET - LIST_FIXED) / LIST_ENTRY_MAX)
#define LIST_UDP_MAX	((LIST_UDP_BUDGET - LIST_FIXED) / LIST_ENTRY_MAX)
_Static_assert(LIST_TCP_MAX <= DRAC_MAXPAGE, "a LIST page over TCP fits");
/* a GROUP reply: every address at its longest, in one datagram */
_Static_assert(STORE_SITE_ADDR - 1 <= DRAC_MAXSITE &&
    STORE_GROUP_SITES <= DRAC_MAXSITES, "the store's group fits the wire");
_Static_assert(24 + 4 * 3 + 4 + DRAC_MAXSITE + 1 + 4 * 2 + 8 * 5 + 4 +
    DRAC_MAXSITES * (4 + DRAC_MAXSITE + 1 + 4 * 3) <= UDPMSGSIZE,
    "a GROUP reply fits a datagram");









/* proc_name - a call's procedure, for the log */
static const char *
proc_name(const struct svc_call *c)
{
	static const char *const v3[] = {"null", "add", "check", "del",
	    "list", "stats", "flush", "add_auth", "stats2", "group"};

	if (c->proc == 0)
		return "null";
	if (c->vers < 3)
		return "add";
	return c->proc < sizeof(v3) / sizeof(v3[0]) ? v3[c->proc] : "?";
}

/* stat_name - a drac_stat, for the log */
static const char *
stat_name(int st)
{
	static const char *const names[] = {"ok", "perm", "badarg",
	    "notfound", "syserr", "auth", "busy"};

	return st >= 0 && (size_t)st < sizeof(names) / sizeof(names[0]) ?
	    names[st] : "?";
}

/*
 * debug_call - with -d, one line per call (log_debug limits the rate):
 * procedure, version, caller, transport, the address (NULL: none) and
 * the result
 */
static void
debug_call(const struct svc_call *c, const struct addr *a, int st)
{
	char peer[ADDR_TEXTMAX], addr[ADDR_TEXTMAX] = "-";

	if (!log_debug_on())
		return;
	addr_format(c->peer, peer);
	if (a != NULL)
		addr_format(a, addr);
	log_debug("rpc: proc=%s vers=%u caller=%s via=%s addr=%s result=%s",
	    proc_name(c), c->vers, peer, POLICY_VIA(c->tcp), addr, stat_name(st));
}










/* req_of - the policy's view of call c */
static void
req_of(const struct svc_call *c, struct policy_req *q)
{
	q->sv = c->ctx;
	q->peer = c->peer;
	q->vers = c->vers;
	q->proc = c->proc;
	q->tcp = c->tcp;
	q->loopback = c->loopback;
	q->what = NULL;
}

/* admin_ok - does the caller hold the admin right, as the policy says? */
static int
admin_ok(const struct svc_call *c, struct policy *p)
{
	struct policy_req q;

	req_of(c, &q);
	return policy_admin(&q, p);
}

/* do_add - the add shared by every version but ADD_AUTH */
static drac_stat
do_add(struct svc_call *c, const struct addr *a, uint32_t ttl,
    const char *user, int64_t *expires)
{
	struct add_req r = {a, ttl, user};
	struct policy_req q;
	struct policy p;
	drac_stat st;

	req_of(c, &q);
	if ((st = policy_add_may(&q, &r, 0, &p)) == DRAC_OK)
		st = policy_add_grant(&q, &r, expires, &p);
	debug_call(c, a, st);
	return st;
}

/* add_status - a v3 status as DRAC's addstat */
static addstat
add_status(drac_stat st)
{
	switch (st) {
	case DRAC_OK:
		return ADD_SUCCESS;
	case DRAC_PERM:
		return ADD_PERM;
	case DRAC_SYSERR:
	case DRAC_BUSY:		/* DRAC's "try again" */
		return ADD_SYSERR;
	default:
		return ADD_UNKNOWN;
	}
}

/* p_null - procedure 0 of every version */
static int
p_null(struct svc_call *c, void *arg, void *res)
{
	(void)arg, (void)res;
	debug_call(c, NULL, DRAC_OK);
	return 0;
}

/* p_add1 - DRAC v1 ADD: the u_int's big-endian bytes are the address */
static int
p_add1(struct svc_call *c, void *arg, void *res)
{
	uint32_t be = htonl(((dracadd *)arg)->ip_addr);
	struct addr a;
	int64_t exp;

	addr_from_bytes(&a, AF_INET, &be, 4);
	*(addstat *)res = add_status(do_add(c, &a, 0, NULL, &exp));
	return 0;
}

/* p_add2 - DRAC v2 ADD: sixteen chars, v4-mapped folded to IPv4 */
static int
p_add2(struct svc_call *c, void *arg, void *res)
{
	struct addr a;
	int64_t exp;

	addr_from_bytes(&a, AF_INET6, ((dracadd6 *)arg)->ip_addr6, 16);
	*(addstat *)res = add_status(do_add(c, &a, 0, NULL, &exp));
	return 0;
}

/* p_add3 - v3 ADD with TTL and user */
static int
p_add3(struct svc_call *c, void *arg, void *res)
{
	add3_args *in = arg;
	add3_res *out = res;
	struct addr a;
	int64_t exp = 0;

	if (wire_to_addr(&in->addr, &a) < 0) {
		out->stat = DRAC_BADARG;
		debug_call(c, NULL, out->stat);
	} else
		out->stat = do_add(c, &a, in->ttl, in->user, &exp);
	out->expires = out->stat == DRAC_OK ? exp : 0;
	return 0;
}








/* add3auth_addr - the address of an authenticated add; -1 answered */
static int
add3auth_addr(struct svc_call *c, const add3_auth_args *in, struct addr *a,
    add3_res *out)
{
	out->expires = 0;
	if (wire_to_addr(&in->add.addr, a) == 0)
		return 0;
	out->stat = DRAC_BADARG;
	debug_call(c, NULL, out->stat);
	return -1;
}

/*
 * p_add3auth - v3 ADD with a shared-secret authenticator: the address,
 * then the policy's checks (authenticator, rights, nonce), then the
 * grant, whose answer the nonce keeps.  The same signed request again (a
 * UDP resend after a lost reply, or a replay) is given the first answer
 * and grants nothing; while the first is still being served it gets no
 * answer (that one answers).
 */
static int
p_add3auth(struct svc_call *c, void *arg, void *res)
{
	add3_auth_args *in = arg;
	add3_res *out = res;
	struct nonce_seen *n = NULL;
	struct policy_req q;
	struct policy p;
	struct addr a;
	struct add_req r = {&a, in->add.ttl, in->add.user};
	int64_t now, exp = 0;
	int rc;

	if (add3auth_addr(c, in, &a, out) < 0)
		return 0;
	req_of(c, &q);
	now = policy_now(q.sv);
	if ((rc = policy_add_auth(&q, &r, in, now, out, &n, &p)) <= 0) {
		debug_call(c, &a, out->stat);
		return rc < 0 ? SVC_NOREPLY : 0;
	}
	out->stat = policy_add_grant(&q, &r, &exp, &p);
	out->expires = out->stat == DRAC_OK ? exp : 0;
	policy_nonce_settle(q.sv, n, (const uint8_t *)in->nonce, now, out);
	debug_call(c, &a, out->stat);
	return 0;
}

/* p_check3 - is the address allowed to relay now? */
static int
p_check3(struct svc_call *c, void *arg, void *res)
{
	check3_res *out = res;
	struct store_info info;
	struct policy_req q;
	struct addr a;
	int rc;

	out->user = c->user;
	req_of(c, &q);
	if (wire_to_addr(arg, &a) < 0)
		out->stat = DRAC_BADARG;
	else if ((rc = policy_check(&q, &a, &info, NULL, 0)) < 0)
		out->stat = DRAC_PERM;
	else if (rc == 1) {
		out->stat = DRAC_OK;
		out->expires = info.expires;
		memcpy(c->user, info.user, sizeof(info.user));
	} else
		out->stat = DRAC_NOTFOUND;
	debug_call(c, NULL, out->stat);
	return 0;
}

/* p_del3 - remove an address (admin) */
static int
p_del3(struct svc_call *c, void *arg, void *res)
{
	struct server *sv = c->ctx;
	char peer[ADDR_TEXTMAX], at[ADDR_TEXTMAX];
	drac_stat *st = res;
	struct policy p;
	struct addr a;

	if (!admin_ok(c, &p))
		*st = DRAC_PERM;
	else if (wire_to_addr(arg, &a) < 0)
		*st = DRAC_BADARG;
	else {
		*st = store_del(sv->store, &a) ? DRAC_OK : DRAC_NOTFOUND;
		addr_format(c->peer, peer);
		addr_format(&a, at);
		log_info("audit: op=del caller=%s addr=%s result=%s vers=%u "
		    "via=%s", peer, at, *st == DRAC_OK ? "deleted" :
		    "notfound", c->vers, POLICY_VIA(c->tcp));
	}
	debug_call(c, NULL, *st);
	return 0;
}

/* list_fill - turn store entries into wire entries in one allocation */
static int
list_fill(struct svc_call *c, list3_res *out, struct store_info *info,
    size_t n)
{
	entry3 *e;
	char *users;
	size_t i;

	if ((c->scratch = malloc(n * (sizeof(*e) + MAPFILE_USERMAX + 1) +
	    1)) == NULL)
		return -1;
	e = c->scratch;
	users = (char *)(e + n);
	for (i = 0; i < n; i++) {
		wire_from_addr(&info[i].addr, &e[i].addr);
		e[i].expires = info[i].expires;
		e[i].first_seen = info[i].first_seen;
		e[i].adds = info[i].adds;
		e[i].user = strcpy(users + i * (MAPFILE_USERMAX + 1),
		    info[i].user);
	}
	out->entries.entries_val = e;
	out->entries.entries_len = (u_int)n;
	return 0;
}

/* p_list3 - one page of the table (admin) */
static int
p_list3(struct svc_call *c, void *arg, void *res)
{
	struct server *sv = c->ctx;
	list3_args *in = arg;
	list3_res *out = res;
	struct store_info *info;
	size_t want = in->max, n;
	uint64_t cursor = in->cursor;
	struct policy p;
	int rc;

	if (!admin_ok(c, &p)) {
		out->stat = DRAC_PERM;
		return 0;
	}
	if (want == 0 || want > (c->tcp ? LIST_TCP_MAX : LIST_UDP_MAX))
		want = c->tcp ? LIST_TCP_MAX : LIST_UDP_MAX;
	if ((info = calloc(want, sizeof(*info))) == NULL)
		return -1;
	n = store_list(sv->store, &cursor, info, want);
	rc = list_fill(c, out, info, n);
	free(info);
	out->stat = DRAC_OK;
	out->cursor = cursor;
	return rc;
}

/* p_stats3 - the counters (admin) */
static int
p_stats3(struct svc_call *c, void *arg, void *res)
{
	struct server *sv = c->ctx;
	stats3_res *out = res;
	struct policy_counters pc;
	struct store_stats ss;
	struct policy p;

	(void)arg;
	if (!admin_ok(c, &p)) {
		out->stat = DRAC_PERM;
		return 0;
	}
	store_get_stats(sv->store, &ss);
	out->stat = DRAC_OK;
	out->entries = ss.entries;
	out->adds = ss.adds;
	out->checks = ss.checks;
	out->hits = ss.hits;
	out->expirations = ss.expirations;
	out->deletions = ss.deletions;
	policy_counters(sv, &pc);
	out->denials = pc.denials;
	out->uptime = (uint64_t)(time(NULL) - sv->started);
	debug_call(c, NULL, DRAC_OK);
	return 0;
}

/*
 * p_stats2 - every counter as name/value pairs (admin).  map_written and
 * now are epoch seconds on the server's clock, so that a client compares
 * them without trusting its own; sync_interval_ms is the pace of map
 * writes (drac-cli health).
 */
static int
p_stats2(struct svc_call *c, void *arg, void *res)
{
	struct server *sv = c->ctx;
	stats2_res *out = res;
	struct policy_counters pc;
	struct store_stats st;
	struct policy p;
	stat2 *e;
	size_t n = 0;

	(void)arg;
	if (!admin_ok(c, &p)) {
		out->stat = DRAC_PERM;
		return 0;
	}
	store_get_stats(sv->store, &st);
	policy_counters(sv, &pc);
	if ((c->scratch = calloc(DRAC_MAXSTATS, sizeof(*e))) == NULL)
		return -1;
	e = c->scratch;
#define S2(k, v) (e[n].name = (char *)(uintptr_t)(k), e[n++].value = (v))
	S2("entries", st.entries);
	S2("adds", st.adds);
	S2("checks", st.checks);
	S2("hits", st.hits);
	S2("denials", pc.denials);
	S2("expirations", st.expirations);
	S2("deletions", st.deletions);
	S2("uptime", (uint64_t)(time(NULL) - sv->started));
	S2("adds_v1", pc.added[0][0] + pc.added[0][1]);
	S2("adds_v2", pc.added[1][0] + pc.added[1][1]);
	S2("adds_v3", pc.added[2][0] + pc.added[2][1]);
	S2("adds_rate_limited", pc.denied[DENY_RATE]);
	S2("map_writes", st.map_writes);
	S2("map_write_failures", st.map_failures);
	S2("map_written", (uint64_t)st.map_written);
	S2("journal_commits", st.commits);
	S2("sync_interval_ms", (uint64_t)sv->sync_interval_ms);
	S2("now", (uint64_t)time(NULL));
#undef S2
	out->stat = DRAC_OK;
	out->stats.stats_val = e;
	out->stats.stats_len = (u_int)n;
	debug_call(c, NULL, DRAC_OK);
	return 0;
}

/* what GROUP's reply points into: the store's answer and the wire sites */
struct group_scratch {
	struct store_group g;
	group_site3 sites[STORE_GROUP_SITES];
};

/* group_fill - the store's view of its group as the wire's, pointing
 * into gs */
static void
group_fill(struct group_scratch *gs, group3_res *out)
{
	const struct store_group *g = &gs->g;
	size_t i, n = g->nsites < STORE_GROUP_SITES ? g->nsites :
	    STORE_GROUP_SITES;

	out->enabled = g->enabled != 0;
	out->role = g->role == STORE_ROLE_MASTER ? DRAC_ROLE_MASTER :
	    g->role == STORE_ROLE_REPLICA ? DRAC_ROLE_REPLICA : DRAC_ROLE_NONE;
	out->master = gs->g.master;
	out->log_file = g->log_file;
	out->log_offset = g->log_offset;
	out->seq = g->seq;
	out->seq_ms = g->seq_ms;
	out->forwarded = g->forwarded;
	out->forward_failures = g->forward_failures;
	out->elections = g->elections;
	for (i = 0; i < n; i++) {
		gs->sites[i].addr = gs->g.sites[i].addr;
		gs->sites[i].connected = g->sites[i].connected != 0;
		gs->sites[i].master = g->sites[i].master != 0;
		gs->sites[i].self = g->sites[i].self != 0;
	}
	out->sites.sites_val = gs->sites;
	out->sites.sites_len = (u_int)n;
}

/*
 * p_group3 - what this member knows of its group (admin, as STATS).  A
 * single host answers enabled FALSE and nothing else.
 */
static int
p_group3(struct svc_call *c, void *arg, void *res)
{
	struct server *sv = c->ctx;
	group3_res *out = res;
	struct group_scratch *gs;
	struct policy p;
	size_t i;

	(void)arg;
	out->master = (char *)(uintptr_t)"";
	if (!admin_ok(c, &p)) {
		out->stat = DRAC_PERM;
		debug_call(c, NULL, DRAC_PERM);
		return 0;
	}
	if ((c->scratch = calloc(1, sizeof(*gs))) == NULL)
		return -1;
	gs = c->scratch;
	store_group_status(sv->store, &gs->g);
	/* the wire's strings are bounded: never send past them */
	gs->g.master[sizeof(gs->g.master) - 1] = '\0';
	for (i = 0; i < STORE_GROUP_SITES; i++)
		gs->g.sites[i].addr[sizeof(gs->g.sites[i].addr) - 1] = '\0';
	out->stat = DRAC_OK;
	if (gs->g.enabled)
		group_fill(gs, out);
	debug_call(c, NULL, DRAC_OK);
	return 0;
}

/* p_flush3 - remove every entry (admin) */
static int
p_flush3(struct svc_call *c, void *arg, void *res)
{
	struct server *sv = c->ctx;
	char peer[ADDR_TEXTMAX];
	struct policy p;

	(void)arg;
	if (!admin_ok(c, &p)) {
		debug_call(c, NULL, DRAC_PERM);
		*(drac_stat *)res = DRAC_PERM;
		return 0;
	}
	store_flush(sv->store);
	addr_format(c->peer, peer);
	log_info("audit: op=flush caller=%s result=flushed vers=%u via=%s",
	    peer, c->vers, POLICY_VIA(c->tcp));
	*(drac_stat *)res = DRAC_OK;
	debug_call(c, NULL, DRAC_OK);
	return 0;
}

#define P(xa, ta, xr, tr, fn) \
	{(xdrproc_t)xa, (xdrproc_t)xr, sizeof(ta), sizeof(tr), fn, 0}
/* an add: with sync_interval 0 it waits for the disk */
#define PW(xa, ta, xr, tr, fn) \
	{(xdrproc_t)xa, (xdrproc_t)xr, sizeof(ta), sizeof(tr), fn, 1}

static const struct svc_proc null_proc =
    P(wire_xdr_none, char, wire_xdr_none, char, p_null);
static const struct svc_proc v1[] = {
	PW(xdr_dracadd, dracadd, xdr_addstat, addstat, p_add1),
};
static const struct svc_proc v2[] = {
	PW(xdr_dracadd6, dracadd6, xdr_addstat, addstat, p_add2),
};
static const struct svc_proc v3[] = {
	PW(xdr_add3_args, add3_args, xdr_add3_res, add3_res, p_add3),
	P(xdr_drac_addr, drac_addr, xdr_check3_res, check3_res, p_check3),
	P(xdr_drac_addr, drac_addr, xdr_drac_stat, drac_stat, p_del3),
	P(xdr_list3_args, list3_args, xdr_list3_res, list3_res, p_list3),
	P(wire_xdr_none, char, xdr_stats3_res, stats3_res, p_stats3),
	P(wire_xdr_none, char, xdr_drac_stat, drac_stat, p_flush3),
	PW(xdr_add3_auth_args, add3_auth_args, xdr_add3_res, add3_res,
	    p_add3auth),
	P(wire_xdr_none, char, xdr_stats2_res, stats2_res, p_stats2),
	P(wire_xdr_none, char, xdr_group3_res, group3_res, p_group3),
};

/* proc_lookup - the procedure for vers/proc, or NULL */
const struct svc_proc *
proc_lookup(uint32_t vers, uint32_t proc)
{
	static const struct { const struct svc_proc *p; size_t n; } t[] = {
		{v1, 1}, {v2, 1}, {v3, sizeof(v3) / sizeof(v3[0])},
	};

	if (vers < 1 || vers > 3)
		return NULL;
	if (proc == 0)
		return &null_proc;
	if (proc > t[vers - 1].n)
		return NULL;
	return &t[vers - 1].p[proc - 1];
}





