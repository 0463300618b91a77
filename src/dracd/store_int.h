/*
 * store_int.h - what store.c and store_disk.c share: the store itself.
 * Nothing else includes it.  Calls go one way: store.c (the lock, the
 * public API, expiry) calls store_disk.c (persistence: the environment,
 * the map, the writer threads), which calls table.c and store_env.c, never
 * store.c.
 */
#ifndef DRACD_STORE_INT_H
#define DRACD_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "journal.h"
#include "store_env.h"
#include "store.h"
#include "table.h"

struct jbuf {
	unsigned char *p;
	size_t len, cap;
};

/* the writer threads, as bits: which are failing (for one "written
 * again" line), and which wait with nothing to do (and need a signal) */
enum { W_SYNC = 1, W_MAP = 2, W_COMPACT = 4 };

struct store {
	struct store_opts o;
	char path[1024];
	char state_path[1040];		/* the old format's, for import */
	char env_path[1040];		/* the environment: PATH.env */
	char spare_path[1040];		/* the empty map, for fail_closed */
	pthread_mutex_t lock;
	atomic_int callers_waiting;	/* callers blocked on lock (store_lock) */
	pthread_cond_t expiry_cv;	/* expiry thread: earlier deadline */
	pthread_cond_t sync_cv;		/* sync thread: a record waits */
	pthread_cond_t map_cv;		/* map thread: a change */
	pthread_cond_t compact_cv;	/* compaction thread: journal grew */
	pthread_cond_t durable_cv;	/* adders waiting for a write */
	struct table t;			/* the list */
	uint64_t gen, map_gen, map_failed_gen;
	uint64_t revoke_gen;		/* the last change that revoked a grant */
	int64_t revoke_ms;		/* monotonic: the first not in the map */
	int map_revoked;		/* the map was emptied or removed */
	uint64_t jgen, durable_gen, durable_failed_gen;
	struct jbuf jbuf;		/* records not yet written */
	uint64_t jbytes;		/* record bytes since the checkpoint */
	uint64_t pbytes;		/* record bytes since the last prune */
	int need_compact;		/* records were lost: write them all */
	int loading;			/* store_open: max_entries not applied */
	int failing;			/* W_* bits */
	int idle;			/* W_* bits */
	size_t durable_waiters;
	size_t last_group;		/* waiters the last map write served */
	int gathering;			/* the map writer waits for them */
	struct store_stats st;
	uint64_t commits, commit_us;	/* atomics: journal_write's */
	int running, stopping;
	pthread_t expiry_thr, sync_thr, map_thr, compact_thr;
	pthread_mutex_t compact_lock;	/* one compaction at a time */
	pthread_mutex_t jio_lock;	/* writes to env, and jspare */
	pthread_mutex_t map_lock;	/* one map write at a time */
	struct jbuf jspare;		/* the buffer being written */
	struct senv *env;		/* the durable state */
	struct addr *dirty;		/* map edits waiting (interval 0) */
	size_t ndirty, dirty_cap;
	uint64_t whole_gen;		/* map_gen below it: rewrite whole */
	struct map_edit *medit;		/* the map, open for edits; map_lock */
	time_t touch_at;		/* when to move the map's mtime; 0 */
	/* a group (store_group.c); group 0 for a single host */
	int group;
	atomic_int role;		/* enum store_role */
	atomic_int group_stop;
	pthread_t group_thr, group_watch;
	int group_watching;		/* group_watch runs */
	pthread_mutex_t group_lock;	/* the follower's wake-ups, and: */
	pthread_cond_t group_cv;
	uint64_t applied_seq;		/* group_lock: the last change here */
	int64_t applied_ms;
	int group_kick;			/* group_lock: an event, a waiter */
	int suspect;			/* the group thread's: see group_main */
	int64_t suspect_ms;		/* since when */
	atomic_llong group_tick;	/* when its last round ended */
	atomic_int group_reopen;	/* the follower is to start afresh */
	int64_t busy_ms;		/* the group thread's: locked out since */
	atomic_ullong forwarded, forward_failures;
};

/* store_disk.c: the clock, waits and walks (store.c calls them; the
 * files below call nothing in store.c) */
time_t store_now(const struct store *);
struct timespec store_deadline(clockid_t, int64_t ms);
void store_wake(struct store *, int bit, pthread_cond_t *);
void store_step_aside(struct store *);
void store_copy_info(const struct entry *, struct store_info *);
size_t store_list_locked(struct store *, uint64_t *cursor,
    struct store_info *, size_t want);
size_t store_walk(struct store *, uint64_t *cursor, struct store_info *,
    size_t want);

/* store_disk.c */
void store_note(struct store *, enum jrec_type, const struct entry *);
int store_sync(struct store *, char *err, size_t errlen);
int store_map_write(struct store *, uint64_t g, char *err, size_t errlen);
int store_map_update(struct store *, uint64_t g, char *err, size_t errlen);
void store_fail_closed(struct store *, int now, const char *why);
int store_load(struct store *, char *err, size_t errlen);
void store_remove_state(struct store *);
void store_env_close(struct store *);
void store_map_dirty(struct store *, const struct addr *);
void store_map_whole(struct store *);
void store_map_close(struct store *);
void store_map_format(struct store *);
size_t store_writers_start(struct store *);
int store_reload(struct store *, char *err, size_t errlen);
void store_demoted(struct store *);

/* store.c, for the group */
int store_apply_change(struct store *, const struct jrec *);

/* store_group.c */
int store_group_open(struct store *, char *err, size_t errlen);
int store_group_start(struct store *);
void store_group_stop(struct store *);
int store_group_forward(struct store *, int op, const struct addr *,
    int64_t ttl, const char *user, int64_t *expires, int *fresh);
enum { FWD_ADD = 1, FWD_DEL, FWD_FLUSH, FWD_PING };
#define STORE_LOCAL	(-100)	/* store_group_forward: call it here */

#endif
