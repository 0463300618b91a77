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
	size_t max_entries;
	uint64_t journal_size;		/* bytes before a checkpoint; 0: auto */
	int truncate;			/* -i: start empty */
	time_t (*clock)(void);		/* NULL: time(2); tests inject */
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

#endif
