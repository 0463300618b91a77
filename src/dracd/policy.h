/*
 * policy.h - who may do what, and what the answer is: the server context
 * (the store, the swappable policy, the counters, the nonce cache) and
 * the decisions the RPC procedures, the lookups and the metrics ask for.
 *
 * A struct server is set up by main before any thread starts.  Adds are
 * rate-limited per allow rule: the bucket is keyed by the content
 * (network and prefix) of the rule that gave the add right, so it
 * survives a reload that keeps the rule.
 */
#ifndef DRACD_POLICY_H
#define DRACD_POLICY_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "acl.h"
#include "auth.h"
#include "drac_prot.h"
#include "log.h"
#include "ratelimit.h"
#include "store.h"

#define POLICY_ACTIONMAX 256

struct policy {
	struct acl *acl;
	int64_t expire_s;	/* the lifetime of a grant without a TTL */
	int64_t max_ttl_s;
	char action[POLICY_ACTIONMAX];	/* policy/socketmap answer, %u %a */
	int add_tcp_only;		/* refuse adds over UDP (spoofable) */
	int admin_tcp_only;		/* refuse admin calls over UDP */
	uint8_t key[AUTH_KEYMAX];	/* adds need ADD_AUTH under this key */
	size_t keylen;			/* 0: no key */
	int audit_grants;		/* an audit line per add granted */
};

#define NONCE_SLOTS 65536
/* seconds a nonce is remembered after its first use: a request stamped up
 * to AUTH_WINDOW ahead stays acceptable for 2 * AUTH_WINDOW, and the clock
 * may tick once more while it is checked */
#define NONCE_KEEP (2 * AUTH_WINDOW + 1)

/* an authenticated add's nonce, and its answer once given: a resend of
 * the same request (UDP) gets that answer again and changes nothing */
struct nonce_seen {
	uint8_t nonce[DRAC_NONCE];
	uint8_t mac[16];		/* of the request that used it */
	int64_t time;			/* 0: free */
	int done;			/* stat and expires are the answer */
	int32_t stat;
	int64_t expires;
};

/* why a request was refused, for the metrics (policy_counters) */
enum deny_reason { DENY_ACL, DENY_TRANSPORT, DENY_AUTH, DENY_RATE,
	DENY_NEVER, DENY_REASONS };

/* the counters of struct server, copied out by policy_counters */
struct policy_counters {
	uint64_t added[3][2];		/* grants by version 1..3, UDP/TCP */
	uint64_t denied[DENY_REASONS];
	uint64_t denials;		/* all of them */
};

struct server {
	struct store *store;
	struct policy policy;
	pthread_rwlock_t policy_lock;
	pthread_mutex_t counters_lock;	/* guards the two below */
	uint64_t denials;
	uint64_t denied[DENY_REASONS];	/* denials by reason */
	uint64_t added[3][2];		/* atomics: grants by version, tcp */
	struct log_limit deny_log;
	time_t started;
	struct ratelimit *adds;		/* NULL: no per-client limit */
	pthread_mutex_t nonce_lock;	/* guards nonces */
	struct nonce_seen *nonces;	/* authenticated adds' recent nonces */
	time_t (*clock)(void);		/* NULL: time(2); tests inject */
	int64_t sync_interval_ms;	/* the map's pace, for STATS2 */
};

/* a request as the policy sees it: who asks, how, and what for */
struct policy_req {
	struct server *sv;
	const struct addr *peer;
	uint32_t vers, proc;		/* an RPC call's, for the log */
	int tcp;			/* 1: over a connection */
	int loopback;			/* UDP: on a loopback interface */
	const char *what;		/* the service; NULL: the RPC call */
};

/* an add as asked: what the audit line of a refusal shows */
struct add_req {
	const struct addr *addr;
	uint32_t ttl;			/* 0: the default lifetime */
	const char *user;		/* NULL: none given (v1, v2) */
};

#define POLICY_VIA(tcp)	((tcp) ? "tcp" : "udp")

int policy_init(struct server *, struct store *, const struct policy *);
void policy_set(struct server *, const struct policy *);
void policy_fini(struct server *);
void policy_counters(struct server *, struct policy_counters *);
int64_t policy_now(struct server *);

unsigned int policy_rights(struct server *, const struct addr *peer);
int policy_admit_any(void *ctx, const struct addr *peer);
int policy_admin_over_tcp(struct server *, const struct addr *);
int policy_admin(const struct policy_req *, struct policy *);
int policy_check(const struct policy_req *, const struct addr *client,
    struct store_info *, char *action, size_t actionlen);

drac_stat policy_add_may(const struct policy_req *, const struct add_req *,
    int authed, struct policy *);
drac_stat policy_add_grant(const struct policy_req *, const struct add_req *,
    int64_t *expires, const struct policy *);
int policy_add_auth(const struct policy_req *, const struct add_req *,
    const add3_auth_args *, int64_t now, add3_res *,
    struct nonce_seen **, struct policy *);
void policy_nonce_settle(struct server *, struct nonce_seen *,
    const uint8_t *nonce, int64_t now, const add3_res *);

#endif
