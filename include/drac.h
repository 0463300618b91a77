/*
 * drac.h - libdrac, the client side of dracd (POP-before-SMTP relay
 * authorization).
 *
 * Two APIs:
 *
 * 1. DRAC's, unchanged, so patches written for DRAC 1.x (qpopper, Cyrus,
 *    UW-IMAP, ...) build with -ldrac: dracauth() and friends.  dracconn
 *    keeps one connection in the library; no call waits for another's.
 *
 * 2. A handle-based API.  A drac_t may be used by one thread at a time;
 *    different handles may be used by different threads at once.  No call
 *    blocks longer than the handle's timeout, whatever the servers do.
 *    Functions return 0 (or a documented positive value) on success and a
 *    negative DRAC_E_* code on failure; drac_strerror() names it.  The
 *    library never prints, logs or exits.
 */
#ifndef DRAC_H
#define DRAC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- DRAC 1.x compatibility ---- */

/*
 * userip is an IPv4 address in network byte order (what inet_addr()
 * returns); server is "host" (port from rpcbind) or "host:port".
 * Returns 0 on success, -1 when no client could be created, -2 when the
 * call failed (timeout, server down), or the server's positive status:
 * 1 permission denied, 2 system error, 3 unknown.  *errmsg, when errmsg
 * is not NULL, receives a message the caller must not free.
 */
int dracauth(char *server, unsigned long userip, char **errmsg);
int dracconn(char *server, char **errmsg);
int dracsend(unsigned long userip, char **errmsg);
int dracdisc(char **errmsg);

int dracauth6(char *server, unsigned char userip6[16], char **errmsg);
int dracconn6(char *server, char **errmsg);
int dracsend6(unsigned char userip6[16], char **errmsg);
int dracdisc6(char **errmsg);

/* ---- the handle-based API ---- */

#define DRAC_E_INVAL	(-1)	/* a bad argument: address, user, server */
#define DRAC_E_NOMEM	(-2)	/* out of memory */
#define DRAC_E_RESOLVE	(-3)	/* a server name did not resolve */
#define DRAC_E_DOWN	(-4)	/* the server refused: not running there */
#define DRAC_E_TIMEOUT	(-5)	/* no answer within the timeout */
#define DRAC_E_RPC	(-6)	/* a malformed or rejected RPC exchange */
#define DRAC_E_PROTO	(-7)	/* the server lacks dracd's version 3 */
#define DRAC_E_PERM	(-8)	/* the server's access rules refused us */
#define DRAC_E_BADARG	(-9)	/* the server refused the argument */
#define DRAC_E_SERVER	(-10)	/* the server failed (store full, disk) */
#define DRAC_E_NOTFOUND	(-11)	/* no such entry (del) */
#define DRAC_E_SYS	(-12)	/* a local system call failed */
#define DRAC_E_UNREACH	(-13)	/* no route to the server */
#define DRAC_E_BUSY	(-14)	/* the server's add rate limit: retry */
#define DRAC_E_AUTH	(-15)	/* the server refused our authenticator */
#define DRAC_E_KEY	(-16)	/* the key file is unusable */
#define DRAC_E_OLD	(-17)	/* a DRAC 1.x server: it can only add */
#define DRAC_E_OLDAUTH	(-18)	/* a DRAC 1.x server cannot take an
				 * authenticated add */
#define DRAC_E_NORPCBIND (-19)	/* no port given, and no rpcbind there */

#define DRAC_UDP	0
#define DRAC_TCP	1

#define DRAC_USERMAX	64
#define DRAC_ADDRMAX	46

struct drac_options {
	unsigned int timeout_ms;	/* whole call; 0: 2000 */
	unsigned int retries;		/* UDP resends within it; 0: 3 */
	int transport;			/* DRAC_UDP or DRAC_TCP */
	const char *add_key_file;	/* NULL, or the server's add key */
};

struct drac_entry {
	char addr[DRAC_ADDRMAX];	/* canonical text */
	int64_t expires;		/* epoch seconds */
	int64_t first_seen;
	unsigned int adds;
	char user[DRAC_USERMAX + 1];	/* "" when none */
};

struct drac_stats {
	uint64_t entries, adds, checks, hits, denials, expirations,
	    deletions, uptime;
};

/* one counter of drac_stats_list; names are [a-z0-9_] */
struct drac_counter {
	char name[33];
	uint64_t value;
};

/* what a member of a dracd group knows of it (drac_group) */
#define DRAC_SITEMAX	280	/* "HOST:PORT" or "[IPV6]:PORT", NUL */
#define DRAC_GROUP_SITES 16
#define DRAC_GROUP_NONE	0	/* no master known: joining, electing */
#define DRAC_GROUP_REPLICA 1
#define DRAC_GROUP_MASTER 2

struct drac_group_site {
	char addr[DRAC_SITEMAX];
	int connected;		/* the member asked is connected to it */
	int master;		/* it is the master, as far as known */
	int self;		/* it is the member asked */
};

struct drac_group {
	int enabled;		/* 0: a single host; nothing else is set */
	int role;		/* DRAC_GROUP_NONE, _REPLICA, _MASTER */
	char master[DRAC_SITEMAX];	/* "" while none is known */
	uint32_t log_file, log_offset;	/* the end of its log */
	uint64_t seq;		/* the last change applied there */
	int64_t seq_ms;		/* the master's commit time of it, epoch
				 * milliseconds; 0: none */
	uint64_t forwarded, forward_failures;	/* calls passed on to
						 * the master */
	uint64_t elections;
	unsigned int nsites;
	struct drac_group_site sites[DRAC_GROUP_SITES];
};

typedef struct drac drac_t;
typedef struct drac_list drac_list_t;

/* servers: "host[:port][,host[:port]...]"; IPv6 as [addr]:port */
int drac_open(drac_t **, const char *servers, const struct drac_options *);
void drac_close(drac_t *);

/* Grant addr (text) for ttl seconds (0: the server's default) to every
 * server; user may be NULL.  0 when every server took it. */
int drac_add(drac_t *, const char *addr, unsigned int ttl, const char *user);
int drac_add_sa(drac_t *, const struct sockaddr *, unsigned int ttl,
    const char *user);

/* 1 allowed (out filled when not NULL), 0 not; first server to answer */
int drac_check(drac_t *, const char *addr, struct drac_entry *out);

int drac_del(drac_t *, const char *addr);
int drac_flush(drac_t *);
int drac_stats(drac_t *, struct drac_stats *);

/* Every counter of the first answering server, as a new array of *n
 * name/value pairs the caller frees with drac_stats_free.  A server
 * without STATS2 gives the eight of struct drac_stats. */
int drac_stats_list(drac_t *, struct drac_counter **out, size_t *n);
void drac_stats_free(struct drac_counter *);

/* What the first answering server knows of its group (admin, as
 * stats); DRAC_E_PROTO from a dracd that predates groups. */
int drac_group(drac_t *, struct drac_group *);

/* After drac_add: how many servers took it through DRAC 1.x's version 1
 * or 2, which carry no lifetime and no user (the server's own lifetime
 * applies, and no user is recorded). */
unsigned int drac_add_legacy(const drac_t *);
int drac_ping(drac_t *);

/* Walk the first server's table page by page: next returns 1 with an
 * entry, 0 at the end, or an error. */
int drac_list_open(drac_t *, drac_list_t **);
int drac_list_next(drac_list_t *, struct drac_entry *);
void drac_list_close(drac_list_t *);

const char *drac_strerror(int);

#ifdef __cplusplus
}
#endif

#endif
