/*
 * proc.h - the DRAC procedures and the server context they run in.
 *
 * A struct server is set up by main before any thread starts.  Its policy
 * (access rules and lifetimes) is swapped whole by proc_set_policy on
 * SIGHUP; procedures read it under a read lock, so a reload never shows
 * half-old, half-new rules.  Adds are rate-limited per allow rule: the
 * bucket is keyed by the content (network and prefix) of the rule that
 * gave the add right, so it survives a reload that keeps the rule.
 */
#ifndef DRACD_PROC_H
#define DRACD_PROC_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "acl.h"
#include "auth.h"
#include "ratelimit.h"
#include "log.h"
#include "store.h"
#include "svc.h"

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

/* why a request was refused, for the metrics (proc_counters) */
enum deny_reason { DENY_ACL, DENY_TRANSPORT, DENY_AUTH, DENY_RATE,
	DENY_NEVER, DENY_REASONS };

/* the counters of struct server, copied out by proc_counters */
struct proc_counters {
	uint64_t added[3][2];		/* grants by version 1..3, UDP/TCP */
	uint64_t denied[DENY_REASONS];
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

int proc_init(struct server *, struct store *, const struct policy *);
void proc_set_policy(struct server *, const struct policy *);
void proc_fini(struct server *);
void proc_counters(struct server *, struct proc_counters *);
int proc_admin_over_tcp(struct server *, const struct addr *);
const struct svc_proc *proc_lookup(uint32_t vers, uint32_t proc);
int proc_check(struct server *, const struct addr *peer, const char *what,
    const struct addr *client, struct store_info *, char *action,
    size_t actionlen);

#endif
