/*
 * store.c - the timed allowlist in memory: table, expiry, public calls.
 *
 * Threading: one mutex (s->lock) guards everything in struct store except
 * the options, fixed at store_open, the environment's writes, which are
 * jio_lock's (store_int.h), and callers_waiting, an atomic.  Calls from
 * RPC threads hold s->lock for a hash lookup or update and the append of
 * one record to the record buffer, and take it through store_lock.  The
 * expiry thread removes at most EXPIRE_BATCH entries per hold, and it and
 * the writers' walks let waiting callers in first between holds.
 * Entries are owned by the table; store_check and store_list copy out
 * into the caller's buffers.  The files are store_disk.c's.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "log.h"
#include "mono.h"
#include "store_int.h"

#define EXPIRE_BATCH	1000

/* store_lookup - the entry for a, or NULL; with s->lock held */
static struct entry *
store_lookup(struct store *s, const struct addr *a)
{
	return table_lookup(&s->t, a);
}

/* store_insert - a new entry for a; NULL when full or out of memory.
 * While loading, the limit is not applied: what was saved is kept (a
 * lowered max_entries refuses new adds only, see store_open). */
static struct entry *
store_insert(struct store *s, const struct addr *a)
{
	if (s->t.count >= s->o.max_entries && !s->loading)
		return NULL;
	return table_insert(&s->t, a);
}

/* store_unlink - remove e from the table and free it */
static void
store_unlink(struct store *s, struct entry *e)
{
	table_unlink(&s->t, e);
}

/*
 * store_lock - take s->lock for a caller (an RPC or lookup thread).  A
 * caller that has to wait says so, and the background threads, which
 * take the lock again and again for batches, step aside for it: a mutex
 * is not fair, and an expiry thread relocking at once after each batch
 * kept checks waiting 65 ms during an expiry storm.
 */
static void
store_lock(struct store *s)
{
	if (pthread_mutex_trylock(&s->lock) == 0)
		return;
	atomic_fetch_add_explicit(&s->callers_waiting, 1, memory_order_relaxed);
	pthread_mutex_lock(&s->lock);
	atomic_fetch_sub_explicit(&s->callers_waiting, 1, memory_order_relaxed);
}

/* changed - note a change for the map writer */
static void
changed(struct store *s)
{
	s->gen++;
	store_wake(s, W_MAP, &s->map_cv);
}

/* store_revoked - the change just made takes a grant away: the map must
 * lose it within the bound (store_disk.c: fail_closed) */
static void
store_revoked(struct store *s)
{
	s->revoke_gen = s->gen;
	if (s->revoke_ms == 0)
		s->revoke_ms = mono_ms();
}

/* ---- public calls ---- */

/* set_user - replace e's user; an empty or NULL user keeps the old one */
static int
set_user(struct entry *e, const char *user)
{
	char *u;

	if (user == NULL || *user == '\0')
		return 0;
	if (e->user != NULL && strcmp(e->user, user) == 0)
		return 0;
	if ((u = strdup(user)) == NULL)
		return -1;
	free(e->user);
	e->user = u;
	return 0;
}

/* wait_durable - with sync interval 0: wait until record j is on disk
 * and change g in the map (the map writer syncs the journal first) */
static int
wait_durable(struct store *s, uint64_t j, uint64_t g)
{
	s->durable_waiters++;
	if (s->gathering)
		pthread_cond_signal(&s->map_cv);
	else
		store_wake(s, W_MAP, &s->map_cv);
	while ((s->durable_gen < j || s->map_gen < g) &&
	    s->durable_failed_gen < j && s->map_failed_gen < g && !s->stopping)
		pthread_cond_wait(&s->durable_cv, &s->lock);
	s->durable_waiters--;
	/* a failure first: a later write of other entries does not make
	 * this one durable */
	if (s->durable_failed_gen >= j || s->map_failed_gen >= g)
		return -1;
	return s->durable_gen >= j && s->map_gen >= g ? 0 : -1;
}

/* wait_commit - in a group: wait until record j is committed, with the
 * acknowledgements group_ack asks for (the sync thread writes at once
 * while someone waits) */
static int
wait_commit(struct store *s, uint64_t j)
{
	s->durable_waiters++;
	store_wake(s, W_SYNC, &s->sync_cv);
	pthread_cond_signal(&s->sync_cv);
	while (s->durable_gen < j && s->durable_failed_gen < j && !s->stopping)
		pthread_cond_wait(&s->durable_cv, &s->lock);
	s->durable_waiters--;
	return s->durable_gen >= j && s->durable_failed_gen < j ? 0 : -1;
}

/* settle - after a change: wait as the settings ask (sync interval 0:
 * disk and map; a group: the commit) */
static int
settle(struct store *s)
{
	if (!s->running)
		return 0;
	if (s->o.sync_interval_ms == 0)
		return wait_durable(s, s->jgen, s->gen);
	if (s->group)
		return wait_commit(s, s->jgen);
	return 0;
}

/* forwards - is this call for the master (a group's replica)? */
static int
forwards(struct store *s)
{
	return s->group && atomic_load(&s->role) != STORE_ROLE_MASTER;
}

/*
 * store_add - grant a for ttl seconds: expiry becomes the later of the
 * current one and now + ttl.  Returns 1, STORE_FULL when the table is at
 * max_entries, -1 on memory or (sync interval 0) disk failure.
 */
int
store_add(struct store *s, const struct addr *a, int64_t ttl,
    const char *user, int64_t *expires)
{
	int fresh;

	return store_grant(s, a, ttl, user, expires, &fresh);
}

/*
 * store_grant - store_add that also says whether a was new (*fresh 1) or
 * held a grant already (0), for the audit log
 */
int
store_grant(struct store *s, const struct addr *a, int64_t ttl,
    const char *user, int64_t *expires, int *fresh)
{
	int64_t t, exp;
	struct entry *e;
	int rc = 1;

	*fresh = 0;
	if (user != NULL && strlen(user) > MAPFILE_USERMAX)
		return -1;
	if (forwards(s) && (rc = store_group_forward(s, FWD_ADD, a, ttl,
	    user, expires, fresh)) != STORE_LOCAL)
		return rc;
	rc = 1;
	store_lock(s);
	t = store_now(s);
	exp = t + ttl;
	if ((e = store_lookup(s, a)) == NULL) {
		if ((e = store_insert(s, a)) == NULL) {
			rc = s->t.count >= s->o.max_entries ? STORE_FULL : -1;
			goto out;
		}
		*fresh = 1;
		e->first_seen = (uint32_t)t;
		e->expires = exp;
		table_heap_up(&s->t, e->heap_idx);
		if (e->heap_idx == 0)
			pthread_cond_signal(&s->expiry_cv);
	} else if (exp > e->expires) {
		e->expires = exp;
		table_heap_down(&s->t, e->heap_idx);
	}
	if (set_user(e, user) < 0)
		rc = -1;
	e->adds++;
	s->st.adds++;
	*expires = e->expires;
	changed(s);
	store_map_dirty(s, &e->addr);
	store_note(s, JREC_SET, e);
	if (settle(s) < 0)
		rc = -1;
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* store_check - 1 and the entry when a is allowed now, 0 otherwise */
int
store_check(struct store *s, const struct addr *a, struct store_info *out)
{
	struct entry *e;
	int rc = 0;

	store_lock(s);
	s->st.checks++;
	if ((e = store_lookup(s, a)) != NULL && e->expires > store_now(s)) {
		store_copy_info(e, out);
		s->st.hits++;
		rc = 1;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* store_del - remove a; 1 if it was there (live or not yet swept) */
int
store_del(struct store *s, const struct addr *a)
{
	struct entry *e;
	int rc = 0;

	if (forwards(s) && (rc = store_group_forward(s, FWD_DEL, a, 0, NULL,
	    NULL, NULL)) != STORE_LOCAL)
		return rc;
	rc = 0;
	store_lock(s);
	if ((e = store_lookup(s, a)) != NULL) {
		store_note(s, JREC_DEL, e);
		store_map_dirty(s, &e->addr);
		store_unlink(s, e);
		s->st.deletions++;
		changed(s);
		store_revoked(s);
		rc = 1;
		if (s->group && settle(s) < 0)
			rc = -1;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* store_flush - remove every entry */
void
store_flush(struct store *s)
{
	int rc;

	if (forwards(s) && (rc = store_group_forward(s, FWD_FLUSH, NULL, 0,
	    NULL, NULL, NULL)) != STORE_LOCAL) {
		if (rc < 0)
			log_warnx("group: a flush could not reach the master");
		return;
	}
	store_lock(s);
	while (s->t.heap_len > 0) {
		store_unlink(s, s->t.heap[s->t.heap_len - 1]);
		s->st.deletions++;
	}
	changed(s);
	store_revoked(s);
	store_map_whole(s);
	store_note(s, JREC_FLUSH, NULL);
	if (s->group && settle(s) < 0)
		log_warnx("group: a flush is not acknowledged by the group");
	pthread_mutex_unlock(&s->lock);
}

/*
 * store_apply_change - on a group's replica, a change the master made
 * (the feed, store_rep.c): the entry's whole new state, a delete or a
 * flush, into the table and the map, with no record of ours
 */
int
store_apply_change(struct store *s, const struct jrec *r)
{
	struct entry *e;
	int rc = 0;

	store_lock(s);
	switch (r->type) {
	case JREC_SET:
		if (r->expires <= store_now(s)) {
			if ((e = store_lookup(s, &r->addr)) != NULL) {
				store_map_dirty(s, &e->addr);
				store_unlink(s, e);
			}
			break;
		}
		if ((e = store_lookup(s, &r->addr)) == NULL &&
		    (e = table_insert(&s->t, &r->addr)) == NULL) {
			rc = -1;
			break;
		}
		e->expires = r->expires;
		e->first_seen = r->first_seen;
		e->adds = r->adds;
		table_reheap(&s->t, e);
		if (e->heap_idx == 0)
			pthread_cond_signal(&s->expiry_cv);
		rc = set_user(e, r->user);
		s->st.adds++;
		store_map_dirty(s, &e->addr);
		break;
	case JREC_DEL:
		if ((e = store_lookup(s, &r->addr)) != NULL) {
			store_map_dirty(s, &e->addr);
			store_unlink(s, e);
			s->st.deletions++;
			store_revoked(s);
		}
		break;
	case JREC_FLUSH:
		while (s->t.heap_len > 0) {
			store_unlink(s, s->t.heap[s->t.heap_len - 1]);
			s->st.deletions++;
		}
		store_revoked(s);
		store_map_whole(s);
		break;
	default:
		break;
	}
	changed(s);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* store_list - a chunk of the list for a caller (LIST): see
 * store_list_locked */
size_t
store_list(struct store *s, uint64_t *cursor, struct store_info *out,
    size_t want)
{
	size_t n;

	store_lock(s);
	n = store_list_locked(s, cursor, out, want);
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* store_get_stats - a consistent copy of the counters */
void
store_get_stats(struct store *s, struct store_stats *out)
{
	store_lock(s);
	*out = s->st;
	out->entries = s->t.count;
	out->commits = __atomic_load_n(&s->commits, __ATOMIC_RELAXED);
	out->commit_us = __atomic_load_n(&s->commit_us, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->lock);
}

/* expire_locked - remove up to batch entries whose time has come */
static size_t
expire_locked(struct store *s, size_t batch)
{
	time_t t = store_now(s);
	size_t n = 0;

	while (n < batch && s->t.heap_len > 0 && s->t.heap[0]->expires <= t) {
		store_map_dirty(s, &s->t.heap[0]->addr);
		store_unlink(s, s->t.heap[0]);
		n++;
	}
	if (n > 0) {
		s->st.expirations += n;
		changed(s);
		store_revoked(s);
	}
	return n;
}

/* store_expire - one bounded expiry pass; the number removed */
size_t
store_expire(struct store *s, size_t batch)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = expire_locked(s, batch);
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* expirer - the thread that removes entries as their time passes */
static void *
expirer(void *arg)
{
	struct store *s = arg;

	pthread_setname_np(pthread_self(), "dracd-expire");
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		struct timespec ts;

		if (expire_locked(s, EXPIRE_BATCH) == EXPIRE_BATCH) {
			/* let callers in between batches */
			pthread_mutex_unlock(&s->lock);
			store_step_aside(s);
			pthread_mutex_lock(&s->lock);
			continue;
		}
		/* wake at the next due second, or in a second at the latest */
		ts = store_deadline(CLOCK_REALTIME, 1000);
		if (s->t.heap_len > 0 && s->t.heap[0]->expires <= ts.tv_sec) {
			ts.tv_sec = s->t.heap[0]->expires;
			ts.tv_nsec = 0;
		}
		pthread_cond_timedwait(&s->expiry_cv, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- open and close ---- */

/* store_free - release the table */
static void
store_free(struct store *s)
{
	table_free(&s->t);
	store_env_close(s);
	if (s->group) {
		pthread_mutex_destroy(&s->group_lock);
		pthread_cond_destroy(&s->group_cv);
	}
	free(s->jbuf.p);
	free(s->jspare.p);
	free(s->dirty);
	store_map_close(s);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->compact_lock);
	pthread_mutex_destroy(&s->jio_lock);
	pthread_mutex_destroy(&s->map_lock);
	pthread_cond_destroy(&s->expiry_cv);
	pthread_cond_destroy(&s->sync_cv);
	pthread_cond_destroy(&s->map_cv);
	pthread_cond_destroy(&s->compact_cv);
	pthread_cond_destroy(&s->durable_cv);
	free(s);
}

/* init_sync - mutexes and condition variables */
static void
init_sync(struct store *s)
{
	pthread_condattr_t mono;

	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->compact_lock, NULL);
	pthread_mutex_init(&s->jio_lock, NULL);
	pthread_mutex_init(&s->map_lock, NULL);
	pthread_condattr_init(&mono);
	pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
	pthread_cond_init(&s->sync_cv, &mono);
	pthread_cond_init(&s->map_cv, &mono);
	pthread_cond_init(&s->compact_cv, &mono);
	pthread_condattr_destroy(&mono);
	pthread_cond_init(&s->expiry_cv, NULL);
	pthread_cond_init(&s->durable_cv, NULL);
}

/*
 * store_open - the table, loaded from disk unless o->truncate.  A file
 * that cannot be read is an error: dracd never starts over a store it
 * would silently lose.  Threads start with store_start.
 */
struct store *
store_open(const struct store_opts *o, char *err, size_t errlen)
{
	struct store *s;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->o = *o;
	if (snprintf(s->path, sizeof(s->path), "%s", o->path) >=
	    (int)sizeof(s->path)) {
		snprintf(err, errlen, "%s: path too long", o->path);
		free(s);
		return NULL;
	}
	snprintf(s->state_path, sizeof(s->state_path), "%s.state", o->path);
	snprintf(s->spare_path, sizeof(s->spare_path), "%s.empty", o->path);
	snprintf(s->env_path, sizeof(s->env_path), "%s.env", o->path);
	s->o.path = s->path;
	init_sync(s);
	if (table_init(&s->t) < 0) {
		snprintf(err, errlen, "out of memory");
		store_free(s);
		return NULL;
	}
	mapfile_clean(s->path);
	mapfile_clean(s->state_path);
	mapfile_clean(s->spare_path);
	store_map_format(s);
	if (o->truncate)
		store_remove_state(s);
	s->loading = 1;
	if (o->group_local != NULL && o->group_local[0] != '\0')
		rc = store_group_open(s, err, errlen);
	else
		rc = store_load(s, err, errlen);
	s->loading = 0;
	if (rc < 0) {
		store_free(s);
		return NULL;
	}
	if (s->t.count > s->o.max_entries)
		log_warnx("%s: %zu saved grants, more than max_entries (%zu): "
		    "all are kept, and adds of new addresses are refused until "
		    "fewer than %zu remain", s->path, s->t.count,
		    s->o.max_entries, s->o.max_entries);
	s->gen = 1;	/* the first map write drops what expired since */
	s->whole_gen = 1;	/* and is a whole one */
	store_revoked(s);
	return s;
}

/* stop_threads - tell every thread to stop and wait for those started */
static void
stop_threads(struct store *s, size_t started)
{
	pthread_t *thr[] = {&s->expiry_thr, &s->sync_thr, &s->map_thr,
	    &s->compact_thr};
	size_t i;

	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->expiry_cv);
	pthread_cond_broadcast(&s->sync_cv);
	pthread_cond_broadcast(&s->map_cv);
	pthread_cond_broadcast(&s->compact_cv);
	pthread_cond_broadcast(&s->durable_cv);
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < started; i++)
		pthread_join(*thr[i], NULL);
}

/* store_start - start the expiry and writer threads */
int
store_start(struct store *s)
{
	size_t started;

	if (pthread_create(&s->expiry_thr, NULL, expirer, s) != 0)
		return -1;
	if ((started = store_writers_start(s)) < 3) {
		stop_threads(s, 1 + started);
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	s->running = 1;
	pthread_mutex_unlock(&s->lock);
	if (s->group && store_group_start(s) < 0) {
		stop_threads(s, 4);
		s->running = 0;
		return -1;
	}
	return 0;
}

/* store_close - stop the threads, write what is left, free everything */
void
store_close(struct store *s)
{
	char err[1400];

	if (s == NULL)
		return;
	if (s->running && s->group)
		store_group_stop(s);
	if (s->running)
		stop_threads(s, 4);
	s->running = 0;
	if (store_sync(s, err, sizeof(err)) < 0 || (s->need_compact &&
	    store_compact(s, err, sizeof(err)) < 0))
		log_warnx("at exit: %s", err);
	if (s->map_gen < s->gen && store_map_write(s, s->gen, err,
	    sizeof(err)) < 0) {
		log_warnx("at exit: %s", err);
		/* no later attempt will take what was revoked out */
		store_fail_closed(s, 1, err);
	}
	store_map_close(s);
	store_free(s);
}
