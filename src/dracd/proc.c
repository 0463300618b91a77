/*
 * proc.c - the procedures of program 900101, versions 1 to 3.
 *
 * Every procedure is reached through the table in proc_lookup; each checks
 * the caller's right first, then works only on its decoded argument and
 * the store.  Results point into the svc_call (user text) or into
 * call->scratch (LIST entries), which svc frees after the reply.
 *
 * The audit log: one info line per add granted (unless audit_grants =
 * no), refused or failed, per delete and per flush, in a fixed key=value
 * form ("audit: op=add caller=... addr=... user=... ttl=... result=...
 * vers=... via=..."), values that come from outside percent-escaped
 * (audit.c).  Refused adds share the denial lines' rate limit, so a
 * flood cannot fill the disk.  With -d each call also gets a debug line.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "drac_prot.h"
#include "mono.h"
#include "proc.h"
#include "wire.h"

/*
 * A LIST page is as many entries as surely fit the reply: the largest
 * entry3 on the wire (IPv6 address, user of DRAC_MAXUSER bytes) into the
 * reply buffer (svc.c's SVC_REPLYMAX) over TCP, or into a datagram any
 * libtirpc client reads (UDPMSGSIZE) over UDP, less the reply header
 * (xid, direction, status, null verifier, accept status), the result's
 * status, array length and cursor.
 */
#define LIST_ENTRY_MAX	(4 + 16 + 8 + 8 + 4 + 4 + DRAC_MAXUSER)
#define LIST_FIXED	(24 + 4 + 4 + 8)
#define LIST_TCP_BUDGET	65536	/* svc.c's SVC_REPLYMAX */
#define LIST_UDP_BUDGET	UDPMSGSIZE
#define LIST_TCP_MAX	((LIST_TCP_BUDGET - LIST_FIXED) / LIST_ENTRY_MAX)
#define LIST_UDP_MAX	((LIST_UDP_BUDGET - LIST_FIXED) / LIST_ENTRY_MAX)
_Static_assert(LIST_TCP_MAX <= DRAC_MAXPAGE, "a LIST page over TCP fits");

/* an add as asked: what the audit line of a refusal shows */
struct add_req {
	const struct addr *addr;
	uint32_t ttl;			/* 0: the default lifetime */
	const char *user;		/* NULL: none given (v1, v2) */
};

/*
 * policy_of - the rights of peer, come by via (ACL_VIA_*), and the scalar
 * settings, read consistently; p->acl and p->action are not copied (hot
 * path).
 */
static unsigned int
policy_of(struct server *sv, const struct addr *peer, unsigned int via,
    struct policy *p)
{
	unsigned int r;

	pthread_rwlock_rdlock(&sv->policy_lock);
	r = acl_rights(sv->policy.acl, peer, via);
	p->acl = NULL;
	p->expire_s = sv->policy.expire_s;
	p->max_ttl_s = sv->policy.max_ttl_s;
	p->add_tcp_only = sv->policy.add_tcp_only;
	p->admin_tcp_only = sv->policy.admin_tcp_only;
	p->keylen = sv->policy.keylen;	/* the key itself stays put */
	p->audit_grants = sv->policy.audit_grants;
	p->action[0] = '\0';
	pthread_rwlock_unlock(&sv->policy_lock);
	return r;
}

/* deny_reason - the metrics' reason for a denial, from deny's words */
static enum deny_reason
deny_reason(const char *right, const char *what)
{
	if (strcmp(what, "add_rate") == 0)
		return DENY_RATE;
	if (strcmp(what, "add_key_file") == 0)
		return DENY_AUTH;
	if (strstr(right, "over UDP") != NULL)
		return DENY_TRANSPORT;
	return DENY_ACL;
}

/* code_reason - the metrics' reason for an audit reason code */
static enum deny_reason
code_reason(const char *code)
{
	static const struct {
		const char *code;
		enum deny_reason why;
	} map[] = {
		{"rate", DENY_RATE}, {"auth", DENY_AUTH}, {"nonce", DENY_AUTH},
		{"transport", DENY_TRANSPORT}, {"never", DENY_NEVER},
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(code, map[i].code) == 0)
			return map[i].why;
	return DENY_ACL;	/* rights, user */
}

/* deny_pass - count a denial; may its line go out?  (rate limit) */
static int
deny_pass(struct server *sv, enum deny_reason why)
{
	unsigned int dropped;
	int pass;

	pthread_mutex_lock(&sv->counters_lock);
	sv->denials++;
	sv->denied[why]++;
	pass = log_limit_pass(&sv->deny_log, &dropped);
	pthread_mutex_unlock(&sv->counters_lock);
	if (pass && dropped > 0)
		log_warnx("%u denials not logged in the last period", dropped);
	return pass;
}

/* deny - count and log (rate-limited) a refused request */
static void
deny(struct server *sv, const struct addr *who, const char *right,
    const char *what)
{
	enum deny_reason why = deny_reason(right, what);
	char peer[ADDR_TEXTMAX];

	if (!deny_pass(sv, why))
		return;
	addr_format(who, peer);
	log_warnx("denied %s (%s) to %s", right, what, peer);
}

/* via_name - the transport of a call, for the log */
static const char *
via_name(const struct svc_call *c)
{
	return c->tcp ? "tcp" : "udp";
}

/*
 * audit_add - the audit line of an add: result "new" or "renewed" (ttl
 * the lifetime granted), "refused" or "failed" (a warning) with a reason
 * code and the human text in detail (NULL: none)
 */
static void
audit_add(const struct svc_call *c, const struct add_req *r,
    int64_t ttl, const char *result, const char *reason, const char *detail)
{
	char peer[ADDR_TEXTMAX], addr[ADDR_TEXTMAX];
	char user[AUDIT_VALUEMAX];

	/* a grant or a refusal is routine; a store that fails is not */
	void (*say)(const char *, ...) = strcmp(result, "failed") == 0 ?
	    log_warnx : log_info;

	addr_format(c->peer, peer);
	addr_format(r->addr, addr);
	audit_value(r->user, user, sizeof(user));
	say("audit: op=add caller=%s addr=%s user=%s ttl=%lld result=%s "
	    "vers=%u via=%s%s%s%s%s%s", peer, addr, user, (long long)ttl,
	    result, c->vers, via_name(c), reason != NULL ? " reason=" : "",
	    reason != NULL ? reason : "", detail != NULL ? " detail=\"" : "",
	    detail != NULL ? detail : "", detail != NULL ? "\"" : "");
}

/*
 * deny_add - count and audit (rate-limited) a refused add; reason is a
 * fixed code, right and what as deny's
 */
static void
deny_add(struct svc_call *c, const struct add_req *r, const char *reason,
    const char *right, const char *what)
{
	char peer[ADDR_TEXTMAX], detail[256];

	if (!deny_pass(c->ctx, code_reason(reason)))
		return;
	addr_format(c->peer, peer);
	snprintf(detail, sizeof(detail), "denied %s (%s) to %s", right, what,
	    peer);
	audit_add(c, r, r->ttl, "refused", reason, detail);
}

/* proc_name - a call's procedure, for the log */
static const char *
proc_name(const struct svc_call *c)
{
	static const char *const v3[] = {"null", "add", "check", "del",
	    "list", "stats", "flush", "add_auth", "stats2"};

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
	    proc_name(c), c->vers, peer, via_name(c), addr, stat_name(st));
}

/* rpc_what - an RPC call described for the log */
static void
rpc_what(const struct svc_call *c, char *buf, size_t len)
{
	snprintf(buf, len, "RPC version %u procedure %u", c->vers, c->proc);
}

/* call_via - how a call came, as the allow rules tell paths apart */
static unsigned int
call_via(const struct svc_call *c)
{
	if (c->tcp)
		return ACL_VIA_TCP;
	return c->loopback ? ACL_VIA_LO : ACL_VIA_UDP;
}

/* allowed - does the caller hold right?  Logs and counts when not;
 * an add (r not NULL) is refused in the audit form. */
static int
allowed(struct svc_call *c, unsigned int right, struct policy *p,
    const struct add_req *r)
{
	struct server *sv = c->ctx;
	static const char *const names[] = {"", "add", "check", "", "admin"};
	unsigned int via = call_via(c);
	char what[96];

	if (policy_of(sv, c->peer, via, p) & right)
		return 1;
	rpc_what(c, what, sizeof(what));
	if (via != ACL_VIA_TCP && (policy_of(sv, c->peer, ACL_VIA_TCP, p) &
	    right))
		snprintf(what + strlen(what), sizeof(what) - strlen(what),
		    " over UDP, where this source can be forged");
	if (r != NULL)
		deny_add(c, r, "rights", names[right], what);
	else
		deny(sv, c->peer, names[right], what);
	return 0;
}

/*
 * admin_allowed - does the caller hold the admin right, over a transport
 * admin_transport allows?  A UDP source is forged as easily as an add's.
 */
static int
admin_allowed(struct svc_call *c, struct policy *p)
{
	if (!allowed(c, ACL_ADMIN, p, NULL))
		return 0;
	if (p->admin_tcp_only && !c->tcp) {
		deny(c->ctx, c->peer, "admin over UDP",
		    "admin_transport = tcp");
		return 0;
	}
	return 1;
}

/*
 * add_bucket - the rate-limit bucket of an add from peer: the network of
 * the most specific allow rule that gives it the add right (every source
 * that rule admits shares it), else peer's own /32 or /64
 */
static void
add_bucket(struct server *sv, const struct addr *peer, struct addr *net,
    unsigned int *bits)
{
	struct acl_rule r;
	int found;

	pthread_rwlock_rdlock(&sv->policy_lock);
	found = acl_match(sv->policy.acl, peer, ACL_ADD, &r);
	pthread_rwlock_unlock(&sv->policy_lock);
	if (found) {
		*net = r.net;
		*bits = r.bits;
		return;
	}
	*net = *peer;
	*bits = peer->family == AF_INET6 ? 64 : 32;
	if (peer->family == AF_INET6)
		memset(net->bytes + 8, 0, 8);
}

/* user_ok - printable text without control characters */
static int
user_ok(const char *u)
{
	for (; *u != '\0'; u++)
		if ((unsigned char)*u < 0x20 || *u == 0x7f)
			return 0;
	return 1;
}

/*
 * add_grantable - may r's address be granted at all?  Never one that no
 * client can have as its source (addr_unusable), nor one in a network
 * the allow file marks "never" (a proxy, a webmail front end, CGNAT):
 * everyone behind it would relay.  DRAC_PERM, logged, when not.
 */
static drac_stat
add_grantable(struct svc_call *c, const struct add_req *r)
{
	struct server *sv = c->ctx;
	char net[ADDR_TEXTMAX], what[ADDR_TEXTMAX + 32];
	const char *why;
	struct acl_rule rule;
	int never;

	if ((why = addr_unusable(r->addr)) != NULL) {
		snprintf(what, sizeof(what), "%s address", why);
		deny_add(c, r, why, "add", what);
		return DRAC_PERM;
	}
	pthread_rwlock_rdlock(&sv->policy_lock);
	never = acl_match(sv->policy.acl, r->addr, ACL_NEVER, &rule);
	pthread_rwlock_unlock(&sv->policy_lock);
	if (!never)
		return DRAC_OK;
	addr_format(&rule.net, net);
	snprintf(what, sizeof(what), "never %s/%u", net, rule.bits);
	deny_add(c, r, "never", "add", what);
	return DRAC_PERM;
}

/*
 * add_may - may the caller add (rights, transport, authenticator, user
 * text, an address that may be granted)?  DRAC_OK and the policy in *p,
 * or the refusal; changes nothing.
 */
static drac_stat
add_may(struct svc_call *c, const struct add_req *r, int authed,
    struct policy *p)
{
	if (!allowed(c, ACL_ADD, p, r))
		return DRAC_PERM;
	if (p->add_tcp_only && !c->tcp) {
		deny_add(c, r, "transport", "add over UDP",
		    "add_transport = tcp");
		return DRAC_PERM;
	}
	if (p->keylen > 0 && !authed) {
		deny_add(c, r, "auth", "add without authenticator",
		    "add_key_file");
		return DRAC_PERM;
	}
	if (r->user != NULL && !user_ok(r->user)) {
		deny_add(c, r, "user", "add", "control characters in the user");
		return DRAC_BADARG;
	}
	return add_grantable(c, r);
}

/* add_grant - spend a rate token and grant; add_may said yes under p */
static drac_stat
add_grant(struct svc_call *c, const struct add_req *r, int64_t *expires,
    const struct policy *p)
{
	static struct log_limit lim = {0, 60, 1, 0, 0};
	struct server *sv = c->ctx;
	unsigned int dropped, bits;
	struct addr net;
	int64_t ttl;
	int rc, fresh, pass;

	if (sv->adds != NULL) {
		add_bucket(sv, c->peer, &net, &bits);
		if (!ratelimit_take(sv->adds, &net, bits, mono_ms())) {
			deny_add(c, r, "rate", "add (rate limit)", "add_rate");
			return DRAC_BUSY;
		}
	}
	ttl = r->ttl == 0 ? p->expire_s :
	    (r->ttl > p->max_ttl_s ? p->max_ttl_s : r->ttl);
	rc = store_grant(sv->store, r->addr, ttl, r->user, expires, &fresh);
	if (rc == 1) {
		if (c->vers >= 1 && c->vers <= 3)
			__atomic_add_fetch(&sv->added[c->vers - 1][c->tcp != 0],
			    1, __ATOMIC_RELAXED);
		if (p->audit_grants)
			audit_add(c, r, ttl, fresh ? "new" : "renewed", NULL,
			    NULL);
		return DRAC_OK;
	}
	pthread_mutex_lock(&sv->counters_lock);
	pass = log_limit_pass(&lim, &dropped);
	pthread_mutex_unlock(&sv->counters_lock);
	if (pass)
		audit_add(c, r, ttl, "failed", rc == STORE_FULL ? "full" :
		    "store", rc == STORE_FULL ? "add refused: the store is "
		    "full (max_entries)" : "add refused: out of memory or the "
		    "store cannot be written");
	return DRAC_SYSERR;
}

/* do_add - the add shared by every version but ADD_AUTH */
static drac_stat
do_add(struct svc_call *c, const struct addr *a, uint32_t ttl,
    const char *user, int64_t *expires)
{
	struct add_req r = {a, ttl, user};
	struct policy p;
	drac_stat st;

	if ((st = add_may(c, &r, 0, &p)) == DRAC_OK)
		st = add_grant(c, &r, expires, &p);
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

/* expand - the answer action with %u (user), %a (address) and %% */
static void
expand(const char *tmpl, const struct store_info *info, char *out,
    size_t len)
{
	char addr[ADDR_TEXTMAX];
	size_t n = 0;
	const char *add;

	addr_format(&info->addr, addr);
	for (; *tmpl != '\0' && n + 1 < len; tmpl++) {
		if (*tmpl != '%' || tmpl[1] == '\0') {
			out[n++] = *tmpl;
			continue;
		}
		tmpl++;
		add = *tmpl == 'u' ? info->user : *tmpl == 'a' ? addr :
		    *tmpl == '%' ? "%" : "";
		while (*add != '\0' && n + 1 < len)
			out[n++] = *add++;
	}
	out[n] = '\0';
}

/*
 * proc_check - may client relay?  1 and its grant (and, when action is
 * not NULL, the configured answer), 0 not, -1 when peer lacks the check
 * right (counted and logged).  what names the service, for the log.
 * peer is a connection's (TCP, or a unix socket as 127.0.0.1), so the
 * rules that hold over TCP apply.
 */
int
proc_check(struct server *sv, const struct addr *peer, const char *what,
    const struct addr *client, struct store_info *info, char *action,
    size_t actionlen)
{
	char pt[ADDR_TEXTMAX], ct[ADDR_TEXTMAX];
	struct policy p;
	int rc;

	if (!(policy_of(sv, peer, ACL_VIA_TCP, &p) & ACL_CHECK)) {
		deny(sv, peer, "check", what);
		return -1;
	}
	rc = store_check(sv->store, client, info) == 1;
	if (log_debug_on()) {
		addr_format(peer, pt);
		addr_format(client, ct);
		log_debug("check: service=\"%s\" caller=%s addr=%s result=%s",
		    what, pt, ct, rc ? "allowed" : "notfound");
	}
	if (!rc)
		return 0;
	if (action != NULL) {
		pthread_rwlock_rdlock(&sv->policy_lock);
		expand(sv->policy.action, info, action, actionlen);
		pthread_rwlock_unlock(&sv->policy_lock);
	}
	return 1;
}

/*
 * nonce_find - the slot holding nonce if it was seen within NONCE_KEEP,
 * else NULL with *take a free slot for it (NONCE_SLOTS if none: a flood,
 * and refusing beats forgetting).  Under nonce_lock.
 */
static struct nonce_seen *
nonce_find(struct server *sv, const uint8_t *nonce, int64_t now,
    size_t *take)
{
	uint32_t h;
	size_t i, slot;

	memcpy(&h, nonce, sizeof(h));
	*take = NONCE_SLOTS;
	for (i = 0; i < 16; i++) {
		struct nonce_seen *n;

		slot = (h + i) % NONCE_SLOTS;
		n = &sv->nonces[slot];
		if (n->time >= now - NONCE_KEEP &&
		    memcmp(n->nonce, nonce, DRAC_NONCE) == 0)
			return n;
		if (*take == NONCE_SLOTS && n->time < now - NONCE_KEEP)
			*take = slot;
	}
	return NULL;
}

/* auth_ok - a correct authenticator and a recent time */
static int
auth_ok(struct server *sv, const add3_auth_args *in, int64_t now)
{
	uint8_t mac[HMAC_LEN];
	int64_t t = (int64_t)in->time;
	int ok;

	pthread_rwlock_rdlock(&sv->policy_lock);
	ok = sv->policy.keylen > 0 && auth_mac(sv->policy.key,
	    sv->policy.keylen, in, mac) == 0;
	pthread_rwlock_unlock(&sv->policy_lock);
	return ok && hmac_equal(mac, (const uint8_t *)in->mac, HMAC_LEN) &&
	    t >= now - AUTH_WINDOW && t <= now + AUTH_WINDOW;
}

/*
 * nonce_claim - look nonce up for a request signed mac: 1 a new use (the
 * slot *slot is reserved for it), 0 a copy of the request seen before
 * (out holds the first answer; *noreply while it is still being served),
 * -1 refused (out says so).  The caller checked the rights before, so a
 * copy replayed from elsewhere cannot take the nonce from its owner.
 */
static int
nonce_claim(struct svc_call *c, const struct add_req *r,
    const add3_auth_args *in, int64_t now, add3_res *out,
    struct nonce_seen **slot, int *noreply)
{
	struct server *sv = c->ctx;
	const uint8_t *nonce = (const uint8_t *)in->nonce;
	struct nonce_seen *n;
	const char *why;
	size_t take;

	pthread_mutex_lock(&sv->nonce_lock);
	if ((n = nonce_find(sv, nonce, now, &take)) != NULL &&
	    memcmp(n->mac, in->mac, sizeof(n->mac)) == 0) {
		out->stat = n->stat;
		out->expires = n->expires;
		*noreply = !n->done;
		pthread_mutex_unlock(&sv->nonce_lock);
		return 0;
	}
	if (n == NULL && take != NONCE_SLOTS) {
		n = &sv->nonces[take];
		memcpy(n->nonce, nonce, DRAC_NONCE);
		memcpy(n->mac, in->mac, sizeof(n->mac));
		n->time = now;
		n->done = 0;
		pthread_mutex_unlock(&sv->nonce_lock);
		*slot = n;
		return 1;
	}
	pthread_mutex_unlock(&sv->nonce_lock);
	why = n != NULL ? "add (a used nonce in another request)" :
	    "add (too many authenticated adds at once)";
	deny_add(c, r, "nonce", why, "add_key_file");
	out->stat = DRAC_AUTH;
	out->expires = 0;
	return -1;
}

/*
 * nonce_settle - record the answer of the use that reserved n; a "try
 * again" answer (rate limit, store full or failing) frees the nonce so
 * the request itself can be tried again
 */
static void
nonce_settle(struct server *sv, struct nonce_seen *n, const uint8_t *nonce,
    int64_t now, const add3_res *out)
{
	/* the slot is the nonce's for NONCE_KEEP, far longer than an add
	 * takes, but look before writing */
	pthread_mutex_lock(&sv->nonce_lock);
	if (memcmp(n->nonce, nonce, DRAC_NONCE) == 0 && n->time == now) {
		n->stat = out->stat;
		n->expires = out->expires;
		n->done = 1;
		if (out->stat == DRAC_BUSY || out->stat == DRAC_SYSERR)
			n->time = 0;
	}
	pthread_mutex_unlock(&sv->nonce_lock);
}

/*
 * add_auth - the checks of an authenticated add before it is granted:
 * the authenticator, the caller's rights, then the nonce.  1 go on (*n
 * reserved), 0 answer out as it stands, -1 no answer (nonce_claim).
 */
static int
add_auth(struct svc_call *c, const struct add_req *r,
    const add3_auth_args *in, int64_t now, add3_res *out,
    struct nonce_seen **n, struct policy *p)
{
	int noreply = 0, rc;

	if (!auth_ok(c->ctx, in, now)) {
		deny_add(c, r, "auth", "add (wrong or stale authenticator)",
		    "add_key_file");
		out->stat = DRAC_AUTH;
		return 0;
	}
	if ((out->stat = add_may(c, r, 1, p)) != DRAC_OK)
		return 0;
	if ((rc = nonce_claim(c, r, in, now, out, n, &noreply)) <= 0)
		return noreply ? -1 : 0;
	return 1;
}

/*
 * p_add3auth - v3 ADD with a shared-secret authenticator.  The caller's
 * rights come first, then the nonce: a nonce is used once, and the same
 * signed request again (a UDP resend after a lost reply, or a replay) is
 * given the first answer and grants nothing; while the first is still
 * being served it gets no answer (that one answers).
 */
static int
p_add3auth(struct svc_call *c, void *arg, void *res)
{
	struct server *sv = c->ctx;
	add3_auth_args *in = arg;
	add3_res *out = res;
	int64_t now = sv->clock != NULL ? sv->clock() : time(NULL), exp = 0;
	struct nonce_seen *n = NULL;
	struct policy p;
	struct addr a;
	struct add_req r = {&a, in->add.ttl, in->add.user};
	int rc;

	out->expires = 0;
	if (wire_to_addr(&in->add.addr, &a) < 0) {
		out->stat = DRAC_BADARG;
		debug_call(c, NULL, out->stat);
		return 0;
	}
	if ((rc = add_auth(c, &r, in, now, out, &n, &p)) <= 0) {
		debug_call(c, &a, out->stat);
		return rc < 0 ? SVC_NOREPLY : 0;
	}
	out->stat = add_grant(c, &r, &exp, &p);
	out->expires = out->stat == DRAC_OK ? exp : 0;
	nonce_settle(sv, n, (const uint8_t *)in->nonce, now, out);
	debug_call(c, &a, out->stat);
	return 0;
}

/* p_check3 - is the address allowed to relay now? */
static int
p_check3(struct svc_call *c, void *arg, void *res)
{
	struct server *sv = c->ctx;
	check3_res *out = res;
	struct store_info info;
	char what[48];
	struct addr a;
	int rc;

	out->user = c->user;
	rpc_what(c, what, sizeof(what));
	if (wire_to_addr(arg, &a) < 0)
		out->stat = DRAC_BADARG;
	else if ((rc = proc_check(sv, c->peer, what, &a, &info, NULL, 0)) < 0)
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

	if (!admin_allowed(c, &p))
		*st = DRAC_PERM;
	else if (wire_to_addr(arg, &a) < 0)
		*st = DRAC_BADARG;
	else {
		*st = store_del(sv->store, &a) ? DRAC_OK : DRAC_NOTFOUND;
		addr_format(c->peer, peer);
		addr_format(&a, at);
		log_info("audit: op=del caller=%s addr=%s result=%s vers=%u "
		    "via=%s", peer, at, *st == DRAC_OK ? "deleted" :
		    "notfound", c->vers, via_name(c));
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

	if (!admin_allowed(c, &p)) {
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
	struct store_stats st;
	struct policy p;

	(void)arg;
	if (!admin_allowed(c, &p)) {
		out->stat = DRAC_PERM;
		return 0;
	}
	store_get_stats(sv->store, &st);
	out->stat = DRAC_OK;
	out->entries = st.entries;
	out->adds = st.adds;
	out->checks = st.checks;
	out->hits = st.hits;
	out->expirations = st.expirations;
	out->deletions = st.deletions;
	pthread_mutex_lock(&sv->counters_lock);
	out->denials = sv->denials;
	pthread_mutex_unlock(&sv->counters_lock);
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
	struct proc_counters pc;
	struct store_stats st;
	struct policy p;
	uint64_t denials;
	stat2 *e;
	size_t n = 0;

	(void)arg;
	if (!admin_allowed(c, &p)) {
		out->stat = DRAC_PERM;
		return 0;
	}
	store_get_stats(sv->store, &st);
	proc_counters(sv, &pc);
	pthread_mutex_lock(&sv->counters_lock);
	denials = sv->denials;
	pthread_mutex_unlock(&sv->counters_lock);
	if ((c->scratch = calloc(DRAC_MAXSTATS, sizeof(*e))) == NULL)
		return -1;
	e = c->scratch;
#define S2(k, v) (e[n].name = (char *)(uintptr_t)(k), e[n++].value = (v))
	S2("entries", st.entries);
	S2("adds", st.adds);
	S2("checks", st.checks);
	S2("hits", st.hits);
	S2("denials", denials);
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

/* p_flush3 - remove every entry (admin) */
static int
p_flush3(struct svc_call *c, void *arg, void *res)
{
	struct server *sv = c->ctx;
	char peer[ADDR_TEXTMAX];
	struct policy p;

	(void)arg;
	if (!admin_allowed(c, &p)) {
		debug_call(c, NULL, DRAC_PERM);
		*(drac_stat *)res = DRAC_PERM;
		return 0;
	}
	store_flush(sv->store);
	addr_format(c->peer, peer);
	log_info("audit: op=flush caller=%s result=flushed vers=%u via=%s",
	    peer, c->vers, via_name(c));
	*(drac_stat *)res = DRAC_OK;
	debug_call(c, NULL, DRAC_OK);
	return 0;
}

/* xdr_none - no argument or no result (xdr_void's prototype is empty) */
static bool_t
xdr_none(XDR *x, void *p)
{
	(void)x, (void)p;
	return TRUE;
}

#define P(xa, ta, xr, tr, fn) \
	{(xdrproc_t)xa, (xdrproc_t)xr, sizeof(ta), sizeof(tr), fn, 0}
/* an add: with sync_interval 0 it waits for the disk */
#define PW(xa, ta, xr, tr, fn) \
	{(xdrproc_t)xa, (xdrproc_t)xr, sizeof(ta), sizeof(tr), fn, 1}

static const struct svc_proc null_proc =
    P(xdr_none, char, xdr_none, char, p_null);
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
	P(xdr_none, char, xdr_stats3_res, stats3_res, p_stats3),
	P(xdr_none, char, xdr_drac_stat, drac_stat, p_flush3),
	PW(xdr_add3_auth_args, add3_auth_args, xdr_add3_res, add3_res,
	    p_add3auth),
	P(xdr_none, char, xdr_stats2_res, stats2_res, p_stats2),
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

/* proc_init - a server context over store with the first policy */
int
proc_init(struct server *sv, struct store *st, const struct policy *p)
{
	memset(sv, 0, sizeof(*sv));
	sv->store = st;
	sv->policy = *p;
	sv->started = time(NULL);
	sv->deny_log.period = 10;
	sv->deny_log.burst = 10;
	if (pthread_rwlock_init(&sv->policy_lock, NULL) != 0 ||
	    pthread_mutex_init(&sv->counters_lock, NULL) != 0 ||
	    pthread_mutex_init(&sv->nonce_lock, NULL) != 0 ||
	    (sv->nonces = calloc(NONCE_SLOTS, sizeof(*sv->nonces))) == NULL)
		return -1;
	return 0;
}

/* proc_set_policy - swap in new rules; the old acl is freed */
void
proc_set_policy(struct server *sv, const struct policy *p)
{
	struct acl *old;

	pthread_rwlock_wrlock(&sv->policy_lock);
	old = sv->policy.acl;
	sv->policy = *p;
	pthread_rwlock_unlock(&sv->policy_lock);
	acl_free(old);
}

/* proc_fini - release the context (not the store) */
void
proc_fini(struct server *sv)
{
	ratelimit_free(sv->adds);
	free(sv->nonces);
	pthread_mutex_destroy(&sv->nonce_lock);
	acl_free(sv->policy.acl);
	pthread_rwlock_destroy(&sv->policy_lock);
	pthread_mutex_destroy(&sv->counters_lock);
}

/* proc_counters - a copy of the counters, for the metrics */
void
proc_counters(struct server *sv, struct proc_counters *out)
{
	size_t v, t;

	for (v = 0; v < 3; v++)
		for (t = 0; t < 2; t++)
			out->added[v][t] = __atomic_load_n(&sv->added[v][t],
			    __ATOMIC_RELAXED);
	pthread_mutex_lock(&sv->counters_lock);
	memcpy(out->denied, sv->denied, sizeof(out->denied));
	pthread_mutex_unlock(&sv->counters_lock);
}

/* proc_admin_over_tcp - does peer hold the admin right on a connection? */
int
proc_admin_over_tcp(struct server *sv, const struct addr *peer)
{
	struct policy p;

	return (policy_of(sv, peer, ACL_VIA_TCP, &p) & ACL_ADMIN) != 0;
}
