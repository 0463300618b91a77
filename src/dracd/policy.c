/*
 * policy.c - who may do what, and what the answer is.
 *
 * The rights of a caller (allow rules, transport rules, the key of
 * authenticated adds and its nonces, the per-rule add rate, the "never"
 * networks), the counting and rate-limited logging of denials, the audit
 * line of an add, and the answer of a check (%u/%a expansion).  The RPC
 * procedures (proc.c), the lookups (lookup.c) and the metrics (metrics.c)
 * ask here; none of them asks another.
 *
 * The policy in struct server is swapped whole by policy_set on SIGHUP;
 * readers take policy_lock for reading, so a reload never shows
 * half-old, half-new rules.  Counters are under counters_lock (grants are
 * atomics), nonces under nonce_lock.
 *
 * The audit log: one info line per add granted (unless audit_grants =
 * no), refused or failed, in a fixed key=value form ("audit: op=add
 * caller=... addr=... user=... ttl=... result=... vers=... via=..."),
 * values that come from outside percent-escaped (audit.c).  Refused adds
 * share the denial lines' rate limit, so a flood cannot fill the disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "defaults.h"
#include "mono.h"
#include "policy.h"

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

/*
 * audit_add - the audit line of an add: result "new" or "renewed" (ttl
 * the lifetime granted), "refused" or "failed" (a warning) with a reason
 * code and the human text in detail (NULL: none)
 */
static void
audit_add(const struct policy_req *q, const struct add_req *r,
    int64_t ttl, const char *result, const char *reason, const char *detail)
{
	char peer[ADDR_TEXTMAX], addr[ADDR_TEXTMAX];
	char user[AUDIT_VALUEMAX];

	/* a grant is routine and many (written in batches), a refusal
	 * routine but few (at once), a store that fails is not routine */
	void (*say)(const char *, ...) = strcmp(result, "failed") == 0 ?
	    log_warnx : strcmp(result, "refused") == 0 ? log_info :
	    log_audit;

	addr_format(q->peer, peer);
	addr_format(r->addr, addr);
	audit_value(r->user, user, sizeof(user));
	say("audit: op=add caller=%s addr=%s user=%s ttl=%lld result=%s "
	    "vers=%u via=%s%s%s%s%s%s", peer, addr, user, (long long)ttl,
	    result, q->vers, POLICY_VIA(q->tcp), reason != NULL ? " reason=" : "",
	    reason != NULL ? reason : "", detail != NULL ? " detail=\"" : "",
	    detail != NULL ? detail : "", detail != NULL ? "\"" : "");
}

/*
 * deny_add - count and audit (rate-limited) a refused add; reason is a
 * fixed code, right and what as deny's
 */
static void
deny_add(const struct policy_req *q, const struct add_req *r, const char *reason,
    const char *right, const char *what)
{
	char peer[ADDR_TEXTMAX], detail[256];

	if (!deny_pass(q->sv, code_reason(reason)))
		return;
	addr_format(q->peer, peer);
	snprintf(detail, sizeof(detail), "denied %s (%s) to %s", right, what,
	    peer);
	audit_add(q, r, r->ttl, "refused", reason, detail);
}

/* describe - the request as the log names it */
static void
describe(const struct policy_req *q, char *buf, size_t len)
{
	if (q->what != NULL)
		snprintf(buf, len, "%s", q->what);
	else
		snprintf(buf, len, "RPC version %u procedure %u", q->vers,
		    q->proc);
}

/* call_via - how a call came, as the allow rules tell paths apart */
static unsigned int
call_via(const struct policy_req *q)
{
	if (q->tcp)
		return ACL_VIA_TCP;
	return q->loopback ? ACL_VIA_LO : ACL_VIA_UDP;
}

/* allowed - does the caller hold right?  Logs and counts when not;
 * an add (r not NULL) is refused in the audit form. */
static int
allowed(const struct policy_req *q, unsigned int right, struct policy *p,
    const struct add_req *r)
{
	struct server *sv = q->sv;
	static const char *const names[] = {"", "add", "check", "", "admin"};
	unsigned int via = call_via(q);
	char what[96];

	if (policy_of(sv, q->peer, via, p) & right)
		return 1;
	describe(q, what, sizeof(what));
	if (via != ACL_VIA_TCP && (policy_of(sv, q->peer, ACL_VIA_TCP, p) &
	    right))
		snprintf(what + strlen(what), sizeof(what) - strlen(what),
		    " over UDP, where this source can be forged");
	if (r != NULL)
		deny_add(q, r, "rights", names[right], what);
	else
		deny(sv, q->peer, names[right], what);
	return 0;
}

/*
 * policy_admin - does the caller hold the admin right, over a transport
 * admin_transport allows?  A UDP source is forged as easily as an add's.
 */
int
policy_admin(const struct policy_req *q, struct policy *p)
{
	if (!allowed(q, ACL_ADMIN, p, NULL))
		return 0;
	if (p->admin_tcp_only && !q->tcp) {
		deny(q->sv, q->peer, "admin over UDP",
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
add_grantable(const struct policy_req *q, const struct add_req *r)
{
	struct server *sv = q->sv;
	char net[ADDR_TEXTMAX], what[ADDR_TEXTMAX + 32];
	const char *why;
	struct acl_rule rule;
	int never;

	if ((why = addr_unusable(r->addr)) != NULL) {
		snprintf(what, sizeof(what), "%s address", why);
		deny_add(q, r, why, "add", what);
		return DRAC_PERM;
	}
	pthread_rwlock_rdlock(&sv->policy_lock);
	never = acl_match(sv->policy.acl, r->addr, ACL_NEVER, &rule);
	pthread_rwlock_unlock(&sv->policy_lock);
	if (!never)
		return DRAC_OK;
	addr_format(&rule.net, net);
	snprintf(what, sizeof(what), "never %s/%u", net, rule.bits);
	deny_add(q, r, "never", "add", what);
	return DRAC_PERM;
}

/*
 * policy_add_may - may the caller add (rights, transport, authenticator, user
 * text, an address that may be granted)?  DRAC_OK and the policy in *p,
 * or the refusal; changes nothing.
 */
drac_stat
policy_add_may(const struct policy_req *q, const struct add_req *r, int authed,
    struct policy *p)
{
	if (!allowed(q, ACL_ADD, p, r))
		return DRAC_PERM;
	if (p->add_tcp_only && !q->tcp) {
		deny_add(q, r, "transport", "add over UDP",
		    "add_transport = tcp");
		return DRAC_PERM;
	}
	if (p->keylen > 0 && !authed) {
		deny_add(q, r, "auth", "add without authenticator",
		    "add_key_file");
		return DRAC_PERM;
	}
	if (r->user != NULL && !user_ok(r->user)) {
		deny_add(q, r, "user", "add", "control characters in the user");
		return DRAC_BADARG;
	}
	return add_grantable(q, r);
}

/* policy_add_grant - spend a rate token and grant; policy_add_may said yes under p */
drac_stat
policy_add_grant(const struct policy_req *q, const struct add_req *r, int64_t *expires,
    const struct policy *p)
{
	static struct log_limit lim = {0, DEF_FAIL_LOG_PERIOD, 1, 0, 0};
	struct server *sv = q->sv;
	unsigned int dropped, bits;
	struct addr net;
	int64_t ttl;
	int rc, fresh, pass;

	if (sv->adds != NULL) {
		add_bucket(sv, q->peer, &net, &bits);
		if (!ratelimit_take(sv->adds, &net, bits, mono_ms())) {
			deny_add(q, r, "rate", "add (rate limit)", "add_rate");
			return DRAC_BUSY;
		}
	}
	ttl = r->ttl == 0 ? p->expire_s :
	    (r->ttl > p->max_ttl_s ? p->max_ttl_s : r->ttl);
	rc = store_grant(sv->store, r->addr, ttl, r->user, expires, &fresh);
	if (rc == 1) {
		if (q->vers >= 1 && q->vers <= 3)
			__atomic_add_fetch(&sv->added[q->vers - 1][q->tcp != 0],
			    1, __ATOMIC_RELAXED);
		if (p->audit_grants)
			audit_add(q, r, ttl, fresh ? "new" : "renewed", NULL,
			    NULL);
		return DRAC_OK;
	}
	pthread_mutex_lock(&sv->counters_lock);
	pass = log_limit_pass(&lim, &dropped);
	pthread_mutex_unlock(&sv->counters_lock);
	if (pass)
		audit_add(q, r, ttl, "failed", rc == STORE_FULL ? "full" :
		    "store", rc == STORE_FULL ? "add refused: the store is "
		    "full (max_entries)" : "add refused: out of memory or the "
		    "store cannot be written");
	return DRAC_SYSERR;
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
 * policy_check - may client relay?  1 and its grant (and, when action is
 * not NULL, the configured answer), 0 not, -1 when peer lacks the check
 * right (counted and logged).  The rules that hold over TCP apply (a
 * lookup's peer is a connection's, or a unix socket's as 127.0.0.1).
 */
int
policy_check(const struct policy_req *q, const struct addr *client,
    struct store_info *info, char *action, size_t actionlen)
{
	char pt[ADDR_TEXTMAX], ct[ADDR_TEXTMAX], what[96];
	struct server *sv = q->sv;
	struct policy p;
	int rc;

	describe(q, what, sizeof(what));
	if (!(policy_of(sv, q->peer, ACL_VIA_TCP, &p) & ACL_CHECK)) {
		deny(sv, q->peer, "check", what);
		return -1;
	}
	rc = store_check(sv->store, client, info) == 1;
	if (log_debug_on()) {
		addr_format(q->peer, pt);
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
nonce_claim(const struct policy_req *q, const struct add_req *r,
    const add3_auth_args *in, int64_t now, add3_res *out,
    struct nonce_seen **slot, int *noreply)
{
	struct server *sv = q->sv;
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
	deny_add(q, r, "nonce", why, "add_key_file");
	out->stat = DRAC_AUTH;
	out->expires = 0;
	return -1;
}

/*
 * policy_nonce_settle - record the answer of the use that reserved n; a "try
 * again" answer (rate limit, store full or failing) frees the nonce so
 * the request itself can be tried again
 */
void
policy_nonce_settle(struct server *sv, struct nonce_seen *n, const uint8_t *nonce,
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
 * policy_add_auth - the checks of an authenticated add before it is granted:
 * the authenticator, the caller's rights, then the nonce.  1 go on (*n
 * reserved), 0 answer out as it stands, -1 no answer (nonce_claim).
 */
int
policy_add_auth(const struct policy_req *q, const struct add_req *r,
    const add3_auth_args *in, int64_t now, add3_res *out,
    struct nonce_seen **n, struct policy *p)
{
	int noreply = 0, rc;

	if (!auth_ok(q->sv, in, now)) {
		deny_add(q, r, "auth", "add (wrong or stale authenticator)",
		    "add_key_file");
		out->stat = DRAC_AUTH;
		return 0;
	}
	if ((out->stat = policy_add_may(q, r, 1, p)) != DRAC_OK)
		return 0;
	if ((rc = nonce_claim(q, r, in, now, out, n, &noreply)) <= 0)
		return noreply ? -1 : 0;
	return 1;
}

/* policy_init - a server context over store with the first policy */
int
policy_init(struct server *sv, struct store *st, const struct policy *p)
{
	memset(sv, 0, sizeof(*sv));
	sv->store = st;
	sv->policy = *p;
	sv->started = time(NULL);
	sv->deny_log.period = DEF_DENY_LOG_PERIOD;
	sv->deny_log.burst = DEF_DENY_LOG_BURST;
	if (pthread_rwlock_init(&sv->policy_lock, NULL) != 0 ||
	    pthread_mutex_init(&sv->counters_lock, NULL) != 0 ||
	    pthread_mutex_init(&sv->nonce_lock, NULL) != 0 ||
	    (sv->nonces = calloc(NONCE_SLOTS, sizeof(*sv->nonces))) == NULL)
		return -1;
	return 0;
}

/* policy_set - swap in new rules; the old acl is freed */
void
policy_set(struct server *sv, const struct policy *p)
{
	struct acl *old;

	pthread_rwlock_wrlock(&sv->policy_lock);
	old = sv->policy.acl;
	sv->policy = *p;
	pthread_rwlock_unlock(&sv->policy_lock);
	acl_free(old);
}

/* policy_fini - release the context (not the store) */
void
policy_fini(struct server *sv)
{
	ratelimit_free(sv->adds);
	free(sv->nonces);
	pthread_mutex_destroy(&sv->nonce_lock);
	acl_free(sv->policy.acl);
	pthread_rwlock_destroy(&sv->policy_lock);
	pthread_mutex_destroy(&sv->counters_lock);
}

/* policy_counters - a copy of the counters, for the metrics */
void
policy_counters(struct server *sv, struct policy_counters *out)
{
	size_t v, t;

	for (v = 0; v < 3; v++)
		for (t = 0; t < 2; t++)
			out->added[v][t] = __atomic_load_n(&sv->added[v][t],
			    __ATOMIC_RELAXED);
	pthread_mutex_lock(&sv->counters_lock);
	memcpy(out->denied, sv->denied, sizeof(out->denied));
	out->denials = sv->denials;
	pthread_mutex_unlock(&sv->counters_lock);
}

/* policy_admin_over_tcp - does peer hold the admin right on a connection? */
int
policy_admin_over_tcp(struct server *sv, const struct addr *peer)
{
	struct policy p;

	return (policy_of(sv, peer, ACL_VIA_TCP, &p) & ACL_ADMIN) != 0;
}

/* policy_rights - the rights peer holds now on a connection (a stream) */
unsigned int
policy_rights(struct server *sv, const struct addr *peer)
{
	unsigned int r;

	pthread_rwlock_rdlock(&sv->policy_lock);
	r = acl_rights(sv->policy.acl, peer, ACL_VIA_TCP);
	pthread_rwlock_unlock(&sv->policy_lock);
	return r;
}

/* policy_admit_any - may peer connect for RPC: does it hold any right? */
int
policy_admit_any(void *ctx, const struct addr *peer)
{
	return policy_rights(ctx, peer) != 0;
}

/* policy_now - the time of day in seconds (the server's clock) */
int64_t
policy_now(struct server *sv)
{
	return sv->clock != NULL ? sv->clock() : time(NULL);
}
