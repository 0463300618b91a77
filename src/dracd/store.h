/*
 * store.h - the timed allowlist.
 *
 * The live table is in memory (a hash by address plus a min-heap by
 * expiry) behind one mutex; every call below takes it, so any thread may
 * call any function.  Four threads of the store's own keep the disk in
 * step: the expiry thread removes entries as their time passes, in
 * bounded batches; the sync thread commits each change to the
 * transactional environment (store_env.h) at most once per sync
 * interval, one log flush per batch; the map thread rewrites the map mail
 * servers read, at most once per sync interval; the compaction thread
 * prunes and checkpoints the environment when its log grows.  With a sync
 * interval of 0 the environment and the map are written at once, and
 * store_add's caller waits for both: one write serves every add that
 * arrived meanwhile.
 */
#ifndef DRACD_STORE_H
#define DRACD_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "addr.h"
#include "mapfile.h"

struct store;

#define MAP_AUTO_TYPE	0x1
#define MAP_AUTO_KEYS	0x2
#define MAP_AUTO_NUL	0x4

struct store_opts {
	const char *path;		/* the map file; state is in PATH.env */
	struct map_format format;
	unsigned int format_auto;	/* MAP_AUTO_*: parts of format to take
					 * from the existing map */
	int64_t sync_interval_ms;
	int map_edit;			/* edit the map in place, also with a
					 * sync interval (0 always edits) */
	size_t max_entries;
	uint64_t journal_size;		/* bytes before a checkpoint; 0: auto */
	int truncate;			/* -i: start empty */
	time_t (*clock)(void);		/* NULL: time(2); tests inject */
	/* a group (replication): group_local "" is a single host */
	const char *group_local;	/* HOST:PORT this member listens on */
	const char *group_sites;	/* HOST:PORT, ... the others */
	int group_priority;		/* election priority; 0: never master */
	int group_ack;			/* enum store_ack */
};

enum store_ack { STORE_ACK_QUORUM, STORE_ACK_ALL, STORE_ACK_ONE,
    STORE_ACK_NONE };

/* a member's role in its group */
enum store_role { STORE_ROLE_NONE, STORE_ROLE_REPLICA, STORE_ROLE_MASTER };

#define STORE_GROUP_SITES	16
#define STORE_SITE_ADDR		280	/* "HOST:PORT" */

struct store_group_site {
	char addr[STORE_SITE_ADDR];
	int connected;			/* this member has a connection to it */
	int master;			/* it is the master, as this member knows */
	int self;			/* it is this member */
};

/* what a member knows of its group (store_group_status) */
struct store_group {
	int enabled;			/* 0: a single host; nothing else set */
	enum store_role role;
	char master[STORE_SITE_ADDR];	/* "" while none is known */
	uint32_t log_file, log_offset;	/* the end of this member's log */
	uint64_t seq;			/* the last change applied here */
	int64_t seq_ms;			/* when the master committed it,
					 * epoch milliseconds; 0: none */
	uint64_t forwarded, forward_failures;	/* calls passed to the master */
	uint64_t elections;		/* roles this member took, in all */
	size_t nsites;
	struct store_group_site sites[STORE_GROUP_SITES];
};

struct store_info {
	struct addr addr;
	int64_t expires;
	int64_t first_seen;
	uint32_t adds;
	char user[MAPFILE_USERMAX + 1];
};

struct store_stats {
	uint64_t entries, adds, checks, hits, expirations, deletions;
	uint64_t map_writes, map_failures;	/* rewrites of the map */
	int64_t map_written;		/* epoch seconds of the last good one */
	uint64_t commits, commit_us;	/* log flushes, their time in all */
};

#define STORE_FULL	(-2)

struct store *store_open(const struct store_opts *, char *err, size_t);
int store_start(struct store *);
void store_close(struct store *);

int store_add(struct store *, const struct addr *, int64_t ttl,
    const char *user, int64_t *expires);
int store_grant(struct store *, const struct addr *, int64_t ttl,
    const char *user, int64_t *expires, int *fresh);
int store_check(struct store *, const struct addr *, struct store_info *);
int store_del(struct store *, const struct addr *);
void store_flush(struct store *);
size_t store_list(struct store *, uint64_t *cursor, struct store_info *,
    size_t want);
void store_get_stats(struct store *, struct store_stats *);

size_t store_expire(struct store *, size_t batch);
int store_publish(struct store *, char *err, size_t errlen);
int store_compact(struct store *, char *err, size_t errlen);
void store_group_status(struct store *, struct store_group *);

#endif
