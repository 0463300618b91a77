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
#define MIN_BUCKETS	1024
#define LIST_SCAN	(4 * SLAB_ENTRIES) /* slots looked at, at most */

/* entry_new - a zeroed entry from the slabs; NULL when out of memory */
static struct entry *
entry_new(struct store *s)
{
	struct entry *e, *slab;
	void **n;
	size_t i;

	if (s->free_entries == NULL) {
		if ((n = reallocarray(s->slabs, s->nslabs + 1, sizeof(*n))) ==
		    NULL)
			return NULL;
		s->slabs = n;
		if ((slab = calloc(SLAB_ENTRIES, sizeof(*slab))) == NULL)
			return NULL;
		s->slabs[s->nslabs++] = slab;
		for (i = SLAB_ENTRIES; i-- > 0;) {
			slab[i].next = s->free_entries;
			s->free_entries = &slab[i];
		}
	}
	e = s->free_entries;
	s->free_entries = e->next;
	memset(e, 0, sizeof(*e));
	e->used = 1;
	return e;
}

/* entry_free - back to the slabs (whose memory is kept for reuse) */
static void
entry_free(struct store *s, struct entry *e)
{
	free(e->user);
	e->user = NULL;
	e->used = 0;
	e->next = s->free_entries;
	s->free_entries = e;
}

/* store_now - the store's clock */
time_t
store_now(const struct store *s)
{
	return s->o.clock != NULL ? s->o.clock() : time(NULL);
}

/* hash - seeded mix of the address, so bucket order is not guessable */
static uint64_t
hash(const struct store *s, const struct addr *a)
{
	uint64_t w[2], h;

	memcpy(w, a->bytes, 16);
	h = (w[0] ^ s->seed[0]) * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 29;
	h += (w[1] ^ s->seed[1] ^ a->family) * 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	h *= 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

/* ---- min-heap by expiry ---- */

/* heap_set - place e at index i */
static void
heap_set(struct store *s, size_t i, struct entry *e)
{
	s->heap[i] = e;
	e->heap_idx = (uint32_t)i;
}

/* heap_up - restore order above i */
static void
heap_up(struct store *s, size_t i)
{
	struct entry *e = s->heap[i];

	while (i > 0 && s->heap[(i - 1) / 2]->expires > e->expires) {
		heap_set(s, i, s->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(s, i, e);
}

/* heap_down - restore order below i */
static void
heap_down(struct store *s, size_t i)
{
	struct entry *e = s->heap[i];
	size_t c;

	while ((c = 2 * i + 1) < s->heap_len) {
		if (c + 1 < s->heap_len &&
		    s->heap[c + 1]->expires < s->heap[c]->expires)
			c++;
		if (s->heap[c]->expires >= e->expires)
			break;
		heap_set(s, i, s->heap[c]);
		i = c;
	}
	heap_set(s, i, e);
}

/* heap_remove - take e out of the heap */
static void
heap_remove(struct store *s, struct entry *e)
{
	size_t i = e->heap_idx;
	struct entry *last = s->heap[--s->heap_len];

	if (last == e)
		return;
	heap_set(s, i, last);
	heap_up(s, i);
	heap_down(s, last->heap_idx);
}

/* store_reheap - restore heap order around e after its expiry changed */
void
store_reheap(struct store *s, struct entry *e)
{
	heap_up(s, e->heap_idx);
	heap_down(s, e->heap_idx);
}

/* ---- hash table ---- */

/* bucket - the chain head for a */
static struct entry **
bucket(struct store *s, const struct addr *a)
{
	return &s->buckets[hash(s, a) & (s->nbuckets - 1)];
}

/* store_lookup - the entry for a, or NULL */
struct entry *
store_lookup(struct store *s, const struct addr *a)
{
	struct entry *e;

	for (e = *bucket(s, a); e != NULL; e = e->next)
		if (addr_equal(&e->addr, a))
			return e;
	return NULL;
}

/* grow - double the bucket array; on failure keep the old one */
static void
grow(struct store *s)
{
	size_t n = s->nbuckets * 2, i;
	struct entry **nb, *e, *next;

	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < s->nbuckets; i++)
		for (e = s->buckets[i]; e != NULL; e = next) {
			size_t b = hash(s, &e->addr) & (n - 1);

			next = e->next;
			e->next = nb[b];
			nb[b] = e;
		}
	free(s->buckets);
	s->buckets = nb;
	s->nbuckets = n;
}

/* store_insert - a new entry for a; NULL when full or out of memory.
 * While loading, the limit is not applied: what was saved is kept (a
 * lowered max_entries refuses new adds only, see store_open). */
struct entry *
store_insert(struct store *s, const struct addr *a)
{
	struct entry *e, **b;

	if (s->count >= s->o.max_entries && !s->loading)
		return NULL;
	if (s->heap_len == s->heap_cap) {
		size_t cap = s->heap_cap * 2;
		struct entry **h = reallocarray(s->heap, cap, sizeof(*h));

		if (h == NULL)
			return NULL;
		s->heap = h;
		s->heap_cap = cap;
	}
	if ((e = entry_new(s)) == NULL)
		return NULL;
	if (s->count >= s->nbuckets)
		grow(s);
	e->addr = *a;
	b = bucket(s, a);
	e->next = *b;
	*b = e;
	s->count++;
	heap_set(s, s->heap_len++, e);
	return e;
}

/* store_unlink - remove e from table and heap and free it */
void
store_unlink(struct store *s, struct entry *e)
{
	struct entry **p;

	for (p = bucket(s, &e->addr); *p != e; p = &(*p)->next)
		;
	*p = e->next;
	heap_remove(s, e);
	s->count--;
	entry_free(s, e);
}

/* store_wake - signal a writer thread, if it waits with nothing to do (one
 * waiting for its interval to pass wakes by itself) */
void
store_wake(struct store *s, int bit, pthread_cond_t *cv)
{
	if (s->idle & bit) {
		s->idle &= ~bit;
		pthread_cond_signal(cv);
	}
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

/* store_step_aside - between two batches of background work, without
 * s->lock: let the callers waiting for it in first (for 2 ms at most) */
static void
store_step_aside(struct store *s)
{
	int64_t until = mono_ms() + 2;

	while (atomic_load_explicit(&s->callers_waiting,
	    memory_order_relaxed) > 0 && mono_ms() < until)
		sched_yield();
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
void
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
	store_lock(s);
	t = store_now(s);
	exp = t + ttl;
	if ((e = store_lookup(s, a)) == NULL) {
		if ((e = store_insert(s, a)) == NULL) {
			rc = s->count >= s->o.max_entries ? STORE_FULL : -1;
			goto out;
		}
		*fresh = 1;
		e->first_seen = (uint32_t)t;
		e->expires = exp;
		heap_up(s, e->heap_idx);
		if (e->heap_idx == 0)
			pthread_cond_signal(&s->expiry_cv);
	} else if (exp > e->expires) {
		e->expires = exp;
		heap_down(s, e->heap_idx);
	}
	if (set_user(e, user) < 0)
		rc = -1;
	e->adds++;
	s->st.adds++;
	*expires = e->expires;
	changed(s);
	store_map_dirty(s, &e->addr);
	store_note(s, JREC_SET, e);
	if (s->o.sync_interval_ms == 0 && s->running &&
	    wait_durable(s, s->jgen, s->gen) < 0)
		rc = -1;
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* copy_info - an entry into a caller's buffer */
static void
copy_info(const struct entry *e, struct store_info *out)
{
	out->addr = e->addr;
	out->expires = e->expires;
	out->first_seen = e->first_seen;
	out->adds = e->adds;
	entry_user(e, out->user);
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
		copy_info(e, out);
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

	store_lock(s);
	if ((e = store_lookup(s, a)) != NULL) {
		store_note(s, JREC_DEL, e);
		store_map_dirty(s, &e->addr);
		store_unlink(s, e);
		s->st.deletions++;
		changed(s);
		store_revoked(s);
		rc = 1;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* store_flush - remove every entry */
void
store_flush(struct store *s)
{
	store_lock(s);
	while (s->heap_len > 0) {
		store_unlink(s, s->heap[s->heap_len - 1]);
		s->st.deletions++;
	}
	changed(s);
	store_revoked(s);
	store_map_whole(s);
	store_note(s, JREC_FLUSH, NULL);
	pthread_mutex_unlock(&s->lock);
}

/* slot - entry number pos of the slabs */
static struct entry *
slot(struct store *s, uint64_t pos)
{
	return &((struct entry *)s->slabs[pos / SLAB_ENTRIES])[pos %
	    SLAB_ENTRIES];
}

/*
 * list_chunk - up to want entries from *cursor on; *cursor is 0 when the
 * walk is complete.  The walk goes through the slabs in memory order (a
 * cursor is a slot number, and entries never move), so an entry present
 * for the whole walk is returned exactly once however the table changes
 * meanwhile.  At most LIST_SCAN slots are looked at per call, so a sparse
 * table may give fewer than want with the walk not yet complete.  For a
 * caller, or (caller 0) for a writer, which lets callers go first.
 */
static size_t
list_chunk(struct store *s, int caller, uint64_t *cursor,
    struct store_info *out, size_t want)
{
	uint64_t pos = *cursor, end, stop;
	size_t n = 0;
	struct entry *e;

	if (caller) {
		store_lock(s);
	} else {
		store_step_aside(s);
		pthread_mutex_lock(&s->lock);
	}
	end = (uint64_t)s->nslabs * SLAB_ENTRIES;
	stop = pos < end && end - pos > LIST_SCAN ? pos + LIST_SCAN : end;
	for (; pos < stop && n < want; pos++)
		if ((e = slot(s, pos))->used)
			copy_info(e, &out[n++]);
	*cursor = pos < end ? pos : 0;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* store_list - a chunk of the list for a caller (LIST) */
size_t
store_list(struct store *s, uint64_t *cursor, struct store_info *out,
    size_t want)
{
	return list_chunk(s, 1, cursor, out, want);
}

/* store_walk - a chunk of the list for a writer thread */
size_t
store_walk(struct store *s, uint64_t *cursor, struct store_info *out,
    size_t want)
{
	return list_chunk(s, 0, cursor, out, want);
}

/* store_get_stats - a consistent copy of the counters */
void
store_get_stats(struct store *s, struct store_stats *out)
{
	store_lock(s);
	*out = s->st;
	out->entries = s->count;
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

	while (n < batch && s->heap_len > 0 && s->heap[0]->expires <= t) {
		store_map_dirty(s, &s->heap[0]->addr);
		store_unlink(s, s->heap[0]);
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

/* store_deadline - the monotonic or real time ms from now, for a timed wait */
struct timespec
store_deadline(clockid_t clk, int64_t ms)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
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
		if (s->heap_len > 0 && s->heap[0]->expires <= ts.tv_sec) {
			ts.tv_sec = s->heap[0]->expires;
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
	while (s->heap_len > 0)
		store_unlink(s, s->heap[s->heap_len - 1]);
	while (s->nslabs > 0)
		free(s->slabs[--s->nslabs]);
	store_env_close(s);
	free(s->jbuf.p);
	free(s->jspare.p);
	free(s->dirty);
	store_map_close(s);
	free(s->slabs);
	free(s->heap);
	free(s->buckets);
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
	s->nbuckets = MIN_BUCKETS;
	s->heap_cap = MIN_BUCKETS;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	s->heap = calloc(s->heap_cap, sizeof(*s->heap));
	if (getrandom(s->seed, sizeof(s->seed), 0) != sizeof(s->seed))
		s->seed[0] = (uint64_t)time(NULL) ^ (uint64_t)getpid();
	if (s->buckets == NULL || s->heap == NULL) {
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
	rc = store_load(s, err, errlen);
	s->loading = 0;
	if (rc < 0) {
		store_free(s);
		return NULL;
	}
	if (s->count > s->o.max_entries)
		log_warnx("%s: %zu saved grants, more than max_entries (%zu): "
		    "all are kept, and adds of new addresses are refused until "
		    "fewer than %zu remain", s->path, s->count,
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
	return 0;
}

/* store_close - stop the threads, write what is left, free everything */
void
store_close(struct store *s)
{
	char err[1400];

	if (s == NULL)
		return;
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
