/*
 * drac.c - libdrac's handle-based API over dracd's version 3.
 *
 * A handle holds the resolved servers and the options; it is used by one
 * thread at a time (its cached rpcbind ports change during calls).  Every
 * call computes one deadline and hands it to rpcclnt, which never waits
 * past it.  Results are copied out into the caller's structures; nothing
 * returned points into the handle.
 */
#include <sys/random.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "drac.h"
#include "drac_prot.h"
#include "internal.h"
#include "auth.h"
#include "wire.h"
#define PAGE		500
#define LIST_MAXPAGES	(1U << 22)	/* pages of one walk, at most: dracd's
					 * largest table needs ~2.1 million */
#define OLD_RETRY_MS	300000	/* a DRAC 1.x server is asked for v3 again
				 * after this, in case it was upgraded */

struct drac {
	struct rpc_target t[MAXSERVERS];
	size_t n;
	struct drac_options o;
	uint8_t key[AUTH_KEYMAX];	/* adds are authenticated under it */
	size_t keylen;
	int64_t old_until[MAXSERVERS];	/* monotonic ms: until then, add to
					 * server i through DRAC 1.x's v1/v2 */
	unsigned int legacy;		/* servers the last add reached so */
};

struct drac_list {
	drac_t *h;
	list3_res page;
	size_t next;		/* index into page */
	uint64_t cursor;
	unsigned int pages;	/* fetched so far */
	int started, done;
	int failed;		/* the error that ended the walk, or 0 */
};

/* pick - a server's address from a lookup: its first IPv4, else its first */
static int
pick(struct addrinfo *res, struct rpc_target *t)
{
	struct addrinfo *ai, *p = NULL;

	for (ai = res; ai != NULL && p == NULL; ai = ai->ai_next)
		if (ai->ai_family == AF_INET)
			p = ai;
	if (p == NULL)
		p = res;
	if (p == NULL || p->ai_addrlen > sizeof(t->sa))
		return DRAC_E_RESOLVE;
	memcpy(&t->sa, p->ai_addr, p->ai_addrlen);
	t->salen = p->ai_addrlen;
	return 0;
}

/*
 * A name lookup run by a helper thread, so that the caller can give up at
 * its deadline (getaddrinfo has none).  Whoever finishes last, the caller
 * or the helper, frees it.  While the resolver hangs, helpers outlive
 * their callers: at most LOOKUP_MAXHELPERS exist at once in the process,
 * and a lookup past that fails at once as a timeout would.
 */
#define LOOKUP_MAXHELPERS 64

static unsigned int helpers;	/* live helper threads; atomic */

struct lookup {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, refs, rc;
	int started;		/* counted in helpers */
	struct addrinfo *res;
	char host[256];
};

/* lookup_unref - drop one reference; the last frees the lookup */
static void
lookup_unref(struct lookup *lk)
{
	int last;

	pthread_mutex_lock(&lk->mu);
	last = --lk->refs == 0;
	pthread_mutex_unlock(&lk->mu);
	if (!last)
		return;
	if (lk->started)
		__atomic_sub_fetch(&helpers, 1, __ATOMIC_SEQ_CST);
	if (lk->res != NULL)
		freeaddrinfo(lk->res);
	pthread_cond_destroy(&lk->cv);
	pthread_mutex_destroy(&lk->mu);
	free(lk);
}

/* lookup_thread - the helper: one getaddrinfo, then signal */
static void *
lookup_thread(void *arg)
{
	struct lookup *lk = arg;
	struct addrinfo hints, *res = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	rc = getaddrinfo(lk->host, NULL, &hints, &res);
	pthread_mutex_lock(&lk->mu);
	lk->rc = rc;
	lk->res = rc == 0 ? res : NULL;
	lk->done = 1;
	pthread_cond_signal(&lk->cv);
	pthread_mutex_unlock(&lk->mu);
	lookup_unref(lk);
	return NULL;
}

/* lookup_wait - the helper's answer into t by deadline (monotonic ms) */
static int
lookup_wait(struct lookup *lk, struct rpc_target *t, int64_t deadline)
{
	struct timespec ts;
	int64_t ms;
	int rc = DRAC_E_TIMEOUT;

	pthread_mutex_lock(&lk->mu);
	while (!lk->done && (ms = deadline - mono_ms()) > 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&lk->cv, &lk->mu, &ts);
	}
	if (lk->done)
		rc = lk->rc != 0 ? DRAC_E_RESOLVE : pick(lk->res, t);
	pthread_mutex_unlock(&lk->mu);
	return rc;
}

/* lookup_start - a helper thread on host; NULL if none could start */
static struct lookup *
lookup_start(const char *host)
{
	struct lookup *lk = calloc(1, sizeof(*lk));
	pthread_condattr_t ca;
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	int rc;

	if (lk == NULL)
		return NULL;
	if (__atomic_add_fetch(&helpers, 1, __ATOMIC_SEQ_CST) >
	    LOOKUP_MAXHELPERS) {
		__atomic_sub_fetch(&helpers, 1, __ATOMIC_SEQ_CST);
		free(lk);
		return NULL;
	}
	lk->started = 1;
	snprintf(lk->host, sizeof(lk->host), "%s", host);
	lk->refs = 2;
	pthread_mutex_init(&lk->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&lk->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* the helper takes none of the caller's signals */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&tid, &attr, lookup_thread, lk);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		lk->refs = 1;
		lookup_unref(lk);
		return NULL;
	}
	return lk;
}

/*
 * resolve - a server's address by deadline (monotonic ms): a numeric
 * address at once; a name through a helper thread, given up at the
 * deadline (DRAC_E_TIMEOUT) while the helper finishes on its own.
 */
static int
resolve(const char *host, struct rpc_target *t, int64_t deadline)
{
	struct addrinfo hints, *res;
	struct lookup *lk;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(host, NULL, &hints, &res) == 0) {
		rc = pick(res, t);
		freeaddrinfo(res);
		return rc;
	}
	if ((lk = lookup_start(host)) == NULL)
		return DRAC_E_TIMEOUT;	/* too many lookups hang already */
	rc = lookup_wait(lk, t, deadline);
	lookup_unref(lk);
	return rc;
}

/* add_server - one server spec into the handle, resolved by deadline */
static int
add_server(drac_t *h, const char *spec, int64_t deadline)
{
	char host[256];
	uint16_t port;
	int rc;

	if (h->n == MAXSERVERS || addr_hostport(spec, host, sizeof(host),
	    &port) < 0)
		return DRAC_E_INVAL;
	if ((rc = resolve(host, &h->t[h->n], deadline)) < 0)
		return rc;
	h->t[h->n].port[0] = h->t[h->n].port[1] = port;
	h->n++;
	return 0;
}

/*
 * drac_open_until - drac_open with every name lookup done by deadline
 * (monotonic ms; 0: the handle's timeout from now)
 */
int
drac_open_until(drac_t **hp, const char *servers,
    const struct drac_options *o, int64_t deadline)
{
	char buf[2048], *tok, *save = NULL;
	drac_t *h;
	int rc = 0;

	*hp = NULL;
	if (servers == NULL || snprintf(buf, sizeof(buf), "%s", servers) >=
	    (int)sizeof(buf))
		return DRAC_E_INVAL;
	if (o != NULL && o->transport != DRAC_UDP && o->transport != DRAC_TCP)
		return DRAC_E_INVAL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return DRAC_E_NOMEM;
	if (o != NULL)
		h->o = *o;
	if (h->o.timeout_ms == 0)
		h->o.timeout_ms = 2000;
	if (h->o.retries == 0)
		h->o.retries = 3;
	if (h->o.add_key_file != NULL) {
		if (auth_key_load(h->o.add_key_file, h->key, &h->keylen, NULL,
		    0) < 0) {
			free(h);
			return DRAC_E_KEY;
		}
		h->o.add_key_file = NULL;	/* the caller's string */
	}
	if (deadline == 0)
		deadline = mono_ms() + h->o.timeout_ms;
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, ", \t", &save))
		rc = add_server(h, tok, deadline);
	if (rc == 0 && h->n == 0)
		rc = DRAC_E_INVAL;
	if (rc < 0) {
		free(h);
		return rc;
	}
	*hp = h;
	return 0;
}

/* drac_open - a handle on one or more servers; 0 or a DRAC_E_* code */
EXPORT int
drac_open(drac_t **hp, const char *servers, const struct drac_options *o)
{
	return drac_open_until(hp, servers, o, 0);
}

/* drac_dup - a new copy of h the caller closes; NULL if h is NULL or
 * memory is short */
drac_t *
drac_dup(const drac_t *h)
{
	drac_t *c;

	if (h == NULL || (c = malloc(sizeof(*c))) == NULL)
		return NULL;
	*c = *h;
	return c;
}

/* drac_keep_ports - the rpcbind ports a copy of dst learned, into dst */
void
drac_keep_ports(drac_t *dst, const drac_t *copy)
{
	size_t i;

	for (i = 0; i < dst->n && i < copy->n; i++)
		if (dst->t[i].port[0] == 0 || dst->t[i].port[1] == 0)
			memcpy(dst->t[i].port, copy->t[i].port,
			    sizeof(dst->t[i].port));
}

/* drac_close - release a handle (NULL is fine) */
EXPORT void
drac_close(drac_t *h)
{
	free(h);
}

/* drac_call_until - one procedure on all servers (or the first that
 * answers) by deadline (monotonic ms) */
int
drac_call_until(drac_t *h, const struct rpc_req *rq, void *res, int *status,
    int first, int64_t deadline)
{
	return rpcc_call(h->t, h->n, h->o.transport, rq, res, status, deadline,
	    h->o.retries, first);
}

/* drac_call - drac_call_until within the handle's timeout from now */
int
drac_call(drac_t *h, const struct rpc_req *rq, void *res, int *status,
    int first)
{
	return drac_call_until(h, rq, res, status, first, mono_ms() +
	    h->o.timeout_ms);
}

/* drac_nservers - how many servers the handle calls */
size_t
drac_nservers(const drac_t *h)
{
	return h->n;
}

/* stat_code - a v3 status as a DRAC_E_* code (0 for DRAC_OK) */
static int
stat_code(drac_stat st)
{
	switch (st) {
	case DRAC_OK:
		return 0;
	case DRAC_PERM:
		return DRAC_E_PERM;
	case DRAC_BADARG:
		return DRAC_E_BADARG;
	case DRAC_NOTFOUND:
		return DRAC_E_NOTFOUND;
	case DRAC_SYSERR:
		return DRAC_E_SERVER;
	case DRAC_BUSY:
		return DRAC_E_BUSY;
	case DRAC_AUTH:
		return DRAC_E_AUTH;
	default:
		return DRAC_E_RPC;
	}
}

/* wire_text - a v3 address as text ("?" for a family we do not know) */
static void
wire_text(const drac_addr *w, char *text)
{
	struct addr a;

	if (wire_to_addr(w, &a) < 0)
		snprintf(text, DRAC_ADDRMAX, "?");
	else
		addr_format(&a, text);
}

/* sign - turn an add into an authenticated one; -1 on failure */
static int
sign(const drac_t *h, const add3_args *add, add3_auth_args *auth)
{
	memset(auth, 0, sizeof(*auth));
	auth->add = *add;
	auth->time = (u_quad_t)time(NULL);
	if (getrandom(auth->nonce, sizeof(auth->nonce), 0) !=
	    sizeof(auth->nonce))
		return -1;
	return auth_mac(h->key, h->keylen, auth, (uint8_t *)auth->mac);
}

/*
 * subset - a copy of h holding only the servers where pick[i] is want;
 * idx maps the copy's servers back to h's
 */
static void
subset(const drac_t *h, const int *pick, int want, drac_t *sub, size_t *idx)
{
	size_t i;

	*sub = *h;
	sub->n = 0;
	for (i = 0; i < h->n; i++)
		if (pick[i] == want) {
			sub->t[sub->n] = h->t[i];
			idx[sub->n++] = i;
		}
}

/* unsubset - the ports the copy learned, back into h */
static void
unsubset(drac_t *h, const drac_t *sub, const size_t *idx)
{
	size_t i;

	for (i = 0; i < sub->n; i++)
		h->t[idx[i]] = sub->t[i];
}

/* add_v3 - the v3 add (signed when the handle has a key) to the servers
 * where old[i] is 0; their results into rc[] */
static int
add_v3(drac_t *h, const struct addr *a, unsigned int ttl, const char *user,
    const int *old, int *rc, int64_t deadline)
{
	struct rpc_req rq = {DRACPROG, DRACVERS3, DRACPROC3_ADD,
	    (xdrproc_t)xdr_add3_args, (xdrproc_t)xdr_add3_res, NULL,
	    sizeof(add3_res)};
	add3_res res[MAXSERVERS];
	int status[MAXSERVERS];
	size_t idx[MAXSERVERS], i;
	add3_auth_args auth;
	add3_args args;
	drac_t sub;

	wire_from_addr(a, &args.addr);
	args.ttl = ttl;
	args.user = (char *)(uintptr_t)(user != NULL ? user : "");
	rq.arg = &args;
	if (h->keylen > 0) {
		/* one nonce for every server: each checks it once */
		if (sign(h, &args, &auth) < 0)
			return DRAC_E_SYS;
		rq.proc = DRACPROC3_ADD_AUTH;
		rq.xarg = (xdrproc_t)xdr_add3_auth_args;
		rq.arg = &auth;
	}
	subset(h, old, 0, &sub, idx);
	if (sub.n == 0)
		return 0;
	drac_call_until(&sub, &rq, res, status, 0, deadline);
	unsubset(h, &sub, idx);
	for (i = 0; i < sub.n; i++)
		rc[idx[i]] = status[i] != 0 ? status[i] :
		    stat_code(res[i].stat);
	return 0;
}

/* old_code - DRAC 1.x's addstat as a DRAC_E_* code (0 for success) */
static int
old_code(addstat st)
{
	switch (st) {
	case ADD_SUCCESS:
		return 0;
	case ADD_PERM:
		return DRAC_E_PERM;
	case ADD_SYSERR:
		return DRAC_E_SERVER;
	default:
		return DRAC_E_RPC;
	}
}

/*
 * add_old - DRAC 1.x's add (v1 for IPv4, v2 for IPv6: no lifetime, no
 * user) to the servers where old[i] is set; their results into rc[]
 */
static void
add_old(drac_t *h, const struct addr *a, const int *old, int *rc,
    int64_t deadline)
{
	struct rpc_req rq = {DRACPROG, DRACVERS, DRACPROC_ADD,
	    (xdrproc_t)xdr_dracadd, (xdrproc_t)xdr_addstat, NULL,
	    sizeof(addstat)};
	addstat res[MAXSERVERS];
	int status[MAXSERVERS];
	size_t idx[MAXSERVERS], i;
	dracadd v1;
	dracadd6 v2;
	drac_addr w;
	drac_t sub;

	wire_from_addr(a, &w);
	if (w.af == DRAC_AF_INET) {
		const uint8_t *b = (const uint8_t *)w.drac_addr_u.v4;

		/* its big-endian bytes are the address in network order */
		v1.ip_addr = (u_int)b[0] << 24 | (u_int)b[1] << 16 |
		    (u_int)b[2] << 8 | b[3];
		rq.arg = &v1;
	} else {
		memcpy(v2.ip_addr6, w.drac_addr_u.v6, sizeof(v2.ip_addr6));
		rq.vers = DRACVERS6;
		rq.proc = DRACPROC6_ADD;
		rq.xarg = (xdrproc_t)xdr_dracadd6;
		rq.arg = &v2;
	}
	subset(h, old, 1, &sub, idx);
	if (sub.n == 0)
		return;
	drac_call_until(&sub, &rq, res, status, 0, deadline);
	unsubset(h, &sub, idx);
	for (i = 0; i < sub.n; i++) {
		rc[idx[i]] = status[i] != 0 ? status[i] : old_code(res[i]);
		h->legacy += rc[idx[i]] == 0;
	}
}

/*
 * add_addr - the add of a parsed address to every server, within one
 * timeout.  A server that answers v3 with DRAC 1.x's PROG_MISMATCH gets
 * v1/v2 at once and for OLD_RETRY_MS after; an authenticated add never
 * falls back (v1/v2 carry no key): DRAC_E_OLDAUTH.
 */
static int
add_addr(drac_t *h, const struct addr *a, unsigned int ttl,
    const char *user)
{
	int64_t now = mono_ms(), deadline = now + h->o.timeout_ms;
	int old[MAXSERVERS], rc[MAXSERVERS], r = 0;
	size_t i;

	if (user != NULL && strlen(user) > DRAC_USERMAX)
		return DRAC_E_INVAL;
	h->legacy = 0;
	for (i = 0; i < h->n; i++) {
		old[i] = h->old_until[i] > now;
		rc[i] = DRAC_E_TIMEOUT;
	}
	if ((r = add_v3(h, a, ttl, user, old, rc, deadline)) < 0)
		return r;
	for (i = 0; i < h->n; i++)
		if (!old[i] && rc[i] == DRAC_E_OLD) {
			old[i] = 1;
			h->old_until[i] = mono_ms() + OLD_RETRY_MS;
		}
	for (i = 0; i < h->n && h->keylen > 0; i++)
		if (old[i])
			rc[i] = DRAC_E_OLDAUTH;
	if (h->keylen == 0)
		add_old(h, a, old, rc, deadline);
	for (i = 0; i < h->n && r == 0; i++)
		r = rc[i];
	return r;
}

/* drac_add_legacy - servers the last add reached through v1/v2 */
EXPORT unsigned int
drac_add_legacy(const drac_t *h)
{
	return h != NULL ? h->legacy : 0;
}

/* drac_add - grant addr on every server; the first failure, or 0 */
EXPORT int
drac_add(drac_t *h, const char *addr, unsigned int ttl, const char *user)
{
	struct addr a;

	if (h == NULL || addr == NULL || addr_parse(&a, addr) < 0)
		return DRAC_E_INVAL;
	return add_addr(h, &a, ttl, user);
}

/* drac_add_sa - drac_add for a socket address (a peer's, say) */
EXPORT int
drac_add_sa(drac_t *h, const struct sockaddr *sa, unsigned int ttl,
    const char *user)
{
	struct addr a;

	if (h == NULL || sa == NULL || addr_from_sockaddr(&a, sa,
	    sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6)) < 0)
		return DRAC_E_INVAL;
	return add_addr(h, &a, ttl, user);
}

/* first_error - the status of the first server, for a failed first-call */
static int
first_error(const drac_t *h, const int *status)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (status[i] != DRAC_E_TIMEOUT)
			return status[i];
	return DRAC_E_TIMEOUT;
}

/* drac_check - may addr relay?  1 yes, 0 no, or an error */
EXPORT int
drac_check(drac_t *h, const char *addr, struct drac_entry *out)
{
	struct rpc_req rq = {DRACPROG, DRACVERS3, DRACPROC3_CHECK,
	    (xdrproc_t)xdr_drac_addr, (xdrproc_t)xdr_check3_res, NULL,
	    sizeof(check3_res)};
	check3_res res[MAXSERVERS];
	int status[MAXSERVERS], i, rc;
	drac_addr w;
	struct addr a;

	if (h == NULL || addr == NULL || addr_parse(&a, addr) < 0)
		return DRAC_E_INVAL;
	wire_from_addr(&a, &w);
	rq.arg = &w;
	if ((i = drac_call(h, &rq, res, status, 1)) < 0)
		return first_error(h, status);
	rc = res[i].stat == DRAC_OK ? 1 : res[i].stat == DRAC_NOTFOUND ? 0 :
	    stat_code(res[i].stat);
	if (rc == 1 && out != NULL) {
		memset(out, 0, sizeof(*out));
		addr_format(&a, out->addr);
		out->expires = res[i].expires;
		snprintf(out->user, sizeof(out->user), "%s",
		    res[i].user != NULL ? res[i].user : "");
	}
	xdr_free((xdrproc_t)xdr_check3_res, (char *)&res[i]);
	return rc;
}

/* stat_call - a v3 procedure returning a drac_stat, on every server */
static int
stat_call(drac_t *h, uint32_t proc, xdrproc_t xarg, void *arg)
{
	struct rpc_req rq = {DRACPROG, DRACVERS3, proc, xarg,
	    (xdrproc_t)xdr_drac_stat, arg, sizeof(drac_stat)};
	drac_stat res[MAXSERVERS];
	int status[MAXSERVERS], rc = 0;
	size_t i;

	drac_call(h, &rq, res, status, 0);
	for (i = 0; i < h->n && rc == 0; i++)
		rc = status[i] != 0 ? status[i] : stat_code(res[i]);
	return rc;
}

/* drac_del - remove addr from every server (admin) */
EXPORT int
drac_del(drac_t *h, const char *addr)
{
	struct addr a;
	drac_addr w;

	if (h == NULL || addr == NULL || addr_parse(&a, addr) < 0)
		return DRAC_E_INVAL;
	wire_from_addr(&a, &w);
	return stat_call(h, DRACPROC3_DEL, (xdrproc_t)xdr_drac_addr, &w);
}

/* drac_flush - empty every server's table (admin) */
EXPORT int
drac_flush(drac_t *h)
{
	if (h == NULL)
		return DRAC_E_INVAL;
	return stat_call(h, DRACPROC3_FLUSH, (xdrproc_t)wire_xdr_none, NULL);
}

/* drac_ping - the NULL procedure of version 3 on every server */
EXPORT int
drac_ping(drac_t *h)
{
	struct rpc_req rq = {DRACPROG, DRACVERS3, 0, (xdrproc_t)wire_xdr_none,
	    (xdrproc_t)wire_xdr_none, NULL, 1};
	uint8_t res[MAXSERVERS];
	int status[MAXSERVERS], rc = 0;
	size_t i;

	if (h == NULL)
		return DRAC_E_INVAL;
	drac_call(h, &rq, res, status, 0);
	for (i = 0; i < h->n && rc == 0; i++)
		rc = status[i];
	return rc;
}

/* drac_stats - the first answering server's counters (admin) */
EXPORT int
drac_stats(drac_t *h, struct drac_stats *out)
{
	struct rpc_req rq = {DRACPROG, DRACVERS3, DRACPROC3_STATS,
	    (xdrproc_t)wire_xdr_none, (xdrproc_t)xdr_stats3_res, NULL,
	    sizeof(stats3_res)};
	stats3_res res[MAXSERVERS];
	int status[MAXSERVERS], i;

	if (h == NULL || out == NULL)
		return DRAC_E_INVAL;
	if ((i = drac_call(h, &rq, res, status, 1)) < 0)
		return first_error(h, status);
	if (res[i].stat != DRAC_OK)
		return stat_code(res[i].stat);
	out->entries = res[i].entries;
	out->adds = res[i].adds;
	out->checks = res[i].checks;
	out->hits = res[i].hits;
	out->denials = res[i].denials;
	out->expirations = res[i].expirations;
	out->deletions = res[i].deletions;
	out->uptime = res[i].uptime;
	return 0;
}

/* stats_v3 - struct drac_stats as name/value pairs (a server without
 * STATS2) */
static int
stats_v3(drac_t *h, struct drac_counter **out, size_t *n)
{
	struct drac_stats s;
	const struct { const char *k; uint64_t v; } f[] = {
		{"entries", 0}, {"adds", 0}, {"checks", 0}, {"hits", 0},
		{"denials", 0}, {"expirations", 0}, {"deletions", 0},
		{"uptime", 0},
	};
	uint64_t v[8];
	size_t i;
	int rc;

	if ((rc = drac_stats(h, &s)) < 0)
		return rc;
	v[0] = s.entries, v[1] = s.adds, v[2] = s.checks, v[3] = s.hits;
	v[4] = s.denials, v[5] = s.expirations, v[6] = s.deletions;
	v[7] = s.uptime;
	if ((*out = calloc(8, sizeof(**out))) == NULL)
		return DRAC_E_NOMEM;
	for (i = 0; i < 8; i++) {
		snprintf((*out)[i].name, sizeof((*out)[i].name), "%s", f[i].k);
		(*out)[i].value = v[i];
	}
	*n = 8;
	return 0;
}

/* stat_name_ok - a counter name as STATS2 promises: [a-z0-9_], 1-32 */
static int
stat_name_ok(const char *s)
{
	size_t len = s != NULL ? strlen(s) : 0;

	if (len == 0 || len > DRAC_MAXSTATNAME)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == len;
}

/* stats2_copy - a STATS2 reply as a new array; names not as promised are
 * skipped */
static int
stats2_copy(const stats2_res *r, struct drac_counter **out, size_t *n)
{
	u_int i;

	*n = 0;
	if ((*out = calloc(r->stats.stats_len + 1, sizeof(**out))) == NULL)
		return DRAC_E_NOMEM;
	for (i = 0; i < r->stats.stats_len; i++) {
		const stat2 *e = &r->stats.stats_val[i];

		if (!stat_name_ok(e->name))
			continue;
		snprintf((*out)[*n].name, sizeof((*out)[*n].name), "%s",
		    e->name);
		(*out)[(*n)++].value = e->value;
	}
	return 0;
}

/* drac_stats_list - every counter of the first answering server, in a
 * new array the caller frees with drac_stats_free (admin) */
EXPORT int
drac_stats_list(drac_t *h, struct drac_counter **out, size_t *n)
{
	struct rpc_req rq = {DRACPROG, DRACVERS3, DRACPROC3_STATS2,
	    (xdrproc_t)wire_xdr_none, (xdrproc_t)xdr_stats2_res, NULL,
	    sizeof(stats2_res)};
	stats2_res res[MAXSERVERS];
	int status[MAXSERVERS], i, rc;

	if (h == NULL || out == NULL || n == NULL)
		return DRAC_E_INVAL;
	*out = NULL;
	*n = 0;
	if ((i = drac_call(h, &rq, res, status, 1)) < 0) {
		rc = first_error(h, status);
		return rc == DRAC_E_PROTO ? stats_v3(h, out, n) : rc;
	}
	rc = res[i].stat != DRAC_OK ? stat_code(res[i].stat) :
	    stats2_copy(&res[i], out, n);
	xdr_free((xdrproc_t)xdr_stats2_res, (char *)&res[i]);
	return rc;
}

/* drac_stats_free - release drac_stats_list's array (NULL is fine) */
EXPORT void
drac_stats_free(struct drac_counter *s)
{
	free(s);
}

/* group_copy - a GROUP reply into the caller's struct */
static void
group_copy(const group3_res *r, struct drac_group *g)
{
	u_int i;

	memset(g, 0, sizeof(*g));
	g->enabled = r->enabled != 0;
	if (!g->enabled)
		return;
	g->role = r->role == DRAC_ROLE_MASTER ? DRAC_GROUP_MASTER :
	    r->role == DRAC_ROLE_REPLICA ? DRAC_GROUP_REPLICA :
	    DRAC_GROUP_NONE;
	snprintf(g->master, sizeof(g->master), "%s",
	    r->master != NULL ? r->master : "");
	g->log_file = r->log_file;
	g->log_offset = r->log_offset;
	g->seq = r->seq;
	g->seq_ms = r->seq_ms;
	g->forwarded = r->forwarded;
	g->forward_failures = r->forward_failures;
	g->elections = r->elections;
	for (i = 0; i < r->sites.sites_len && i < DRAC_GROUP_SITES; i++) {
		const group_site3 *w = &r->sites.sites_val[i];
		struct drac_group_site *s = &g->sites[g->nsites++];

		snprintf(s->addr, sizeof(s->addr), "%s",
		    w->addr != NULL ? w->addr : "");
		s->connected = w->connected != 0;
		s->master = w->master != 0;
		s->self = w->self != 0;
	}
}

/* drac_group - what the first answering server knows of its group
 * (admin, as drac_stats) */
EXPORT int
drac_group(drac_t *h, struct drac_group *out)
{
	struct rpc_req rq = {DRACPROG, DRACVERS3, DRACPROC3_GROUP,
	    (xdrproc_t)wire_xdr_none, (xdrproc_t)xdr_group3_res, NULL,
	    sizeof(group3_res)};
	group3_res res[MAXSERVERS];
	int status[MAXSERVERS], i, rc;

	if (h == NULL || out == NULL)
		return DRAC_E_INVAL;
	memset(out, 0, sizeof(*out));
	if ((i = drac_call(h, &rq, res, status, 1)) < 0)
		return first_error(h, status);
	rc = stat_code(res[i].stat);
	if (rc == 0)
		group_copy(&res[i], out);
	xdr_free((xdrproc_t)xdr_group3_res, (char *)&res[i]);
	return rc;
}

/* drac_list_open - start walking the first server's table (admin) */
EXPORT int
drac_list_open(drac_t *h, drac_list_t **lp)
{
	drac_list_t *l;

	if (h == NULL || lp == NULL)
		return DRAC_E_INVAL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return DRAC_E_NOMEM;
	l->h = h;
	*lp = l;
	return 0;
}

/*
 * fetch - the next page from the first server by deadline.  A reply
 * whose cursor does not move past the one sent (dracd's cursor is a
 * position that only grows), or a walk past LIST_MAXPAGES pages, is a
 * broken server: DRAC_E_RPC, and the walk ends.
 */
static int
fetch(drac_list_t *l, int64_t deadline)
{
	struct rpc_req rq = {DRACPROG, DRACVERS3, DRACPROC3_LIST,
	    (xdrproc_t)xdr_list3_args, (xdrproc_t)xdr_list3_res, NULL,
	    sizeof(list3_res)};
	int status[1];
	list3_args a;
	drac_t one = *l->h;
	int rc;

	xdr_free((xdrproc_t)xdr_list3_res, (char *)&l->page);
	memset(&l->page, 0, sizeof(l->page));
	if (l->pages >= LIST_MAXPAGES)
		return DRAC_E_RPC;
	a.cursor = l->cursor;
	a.max = PAGE;
	rq.arg = &a;
	one.n = 1;
	if (drac_call_until(&one, &rq, &l->page, status, 1, deadline) < 0)
		return status[0];
	l->h->t[0] = one.t[0];	/* keep a port rpcbind told us */
	l->pages++;
	if ((rc = stat_code(l->page.stat)) < 0)
		return rc;
	if (l->page.cursor != 0 && l->page.cursor <= l->cursor)
		return DRAC_E_RPC;
	l->next = 0;
	l->cursor = l->page.cursor;
	l->started = 1;
	l->done = l->cursor == 0;
	return 0;
}

/*
 * drac_list_next - 1 and the next entry, 0 at the end, or an error.  One
 * call, however many pages it fetches, ends within the handle's timeout;
 * after an error the walk stays failed.
 */
EXPORT int
drac_list_next(drac_list_t *l, struct drac_entry *e)
{
	int64_t deadline;
	entry3 *w;
	int rc;

	if (l == NULL || e == NULL)
		return DRAC_E_INVAL;
	if (l->failed < 0)
		return l->failed;
	deadline = mono_ms() + l->h->o.timeout_ms;
	while (!l->started || l->next >= l->page.entries.entries_len) {
		if (l->started && l->done)
			return 0;
		if (l->started && mono_ms() >= deadline)
			rc = DRAC_E_TIMEOUT;
		else
			rc = fetch(l, deadline);
		if (rc < 0)
			return l->failed = rc;
	}
	w = &l->page.entries.entries_val[l->next++];
	memset(e, 0, sizeof(*e));
	wire_text(&w->addr, e->addr);
	e->expires = w->expires;
	e->first_seen = w->first_seen;
	e->adds = w->adds;
	snprintf(e->user, sizeof(e->user), "%s", w->user != NULL ? w->user :
	    "");
	return 1;
}

/* drac_list_close - end a walk */
EXPORT void
drac_list_close(drac_list_t *l)
{
	if (l == NULL)
		return;
	xdr_free((xdrproc_t)xdr_list3_res, (char *)&l->page);
	free(l);
}

/* drac_strerror - a message for a DRAC_E_* code (static text) */
EXPORT const char *
drac_strerror(int code)
{
	static const char *const msg[] = {
		"success",
		"invalid argument",
		"out of memory",
		"server name does not resolve",
		"server not running (connection refused)",
		"no answer from the server (timeout)",
		"RPC failure",
		"server does not speak dracd protocol version 3",
		"permission denied by the server",
		"the server refused the argument",
		"server error (store full or cannot write)",
		"no such entry",
		"local system error",
		"server unreachable (no route)",
		"too many adds from this client (rate limit); try later",
		"the server refused the authenticator (wrong key or clock)",
		"the add key file is unusable (missing, short, or shared)",
		"the server is DRAC 1.x (protocol versions 1 and 2): it can "
		    "only add",
		"the server is DRAC 1.x (protocol versions 1 and 2): it cannot "
		    "take an authenticated add (no key in versions 1 and 2)",
		"rpcbind is not running on the server: give HOST:PORT",
	};

	if (code > 0 || -code >= (int)(sizeof(msg) / sizeof(msg[0])))
		return "unknown error";
	return msg[-code];
}
