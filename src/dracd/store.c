/*
 * store.c - the timed allowlist: memory table, expiry and publishing.
 *
 * Threading: one mutex (s->lock) guards everything in struct store except
 * the options, which are fixed at store_open.  Calls from RPC threads hold
 * it for a hash lookup or update only.  The expiry thread removes at most
 * EXPIRE_BATCH entries per hold; the publisher holds it only to copy a
 * snapshot, and writes the files without it.  Entries are owned by the
 * table; store_check and store_list copy out into the caller's buffers.
 *
 * Generations: every change bumps s->gen; the publisher records the gen
 * its snapshot had, so "published_gen >= g" means change g is on disk.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "log.h"
#include "mono.h"
#include "store.h"

#define EXPIRE_BATCH	1000
#define MIN_BUCKETS	1024

struct entry {
	struct entry *next;		/* hash chain; the free list's link */
	int64_t expires;
	char *user;			/* NULL when none */
	uint32_t first_seen;		/* epoch seconds (good until 2106) */
	uint32_t heap_idx;
	uint32_t adds;
	struct addr addr;
};

#define SLAB_ENTRIES	4096	/* entries allocated at once */

struct store {
	struct store_opts o;
	char path[1024];
	char state_path[1040];
	pthread_mutex_t lock;
	pthread_cond_t expiry_cv;	/* expiry thread: earlier deadline */
	pthread_cond_t publish_cv;	/* publisher: something changed */
	pthread_cond_t durable_cv;	/* adders waiting for a publish */
	struct entry **buckets;
	size_t nbuckets, count;
	struct entry **heap;
	size_t heap_len, heap_cap;
	uint64_t seed[2];
	uint64_t gen, published_gen, failed_gen;
	size_t durable_waiters;
	struct store_stats st;
	int running, stopping;
	pthread_t expiry_thr, publish_thr;
	pthread_mutex_t publish_lock;	/* one publish at a time */
	struct entry *free_entries;	/* unused slots of the slabs */
	void **slabs;
	size_t nslabs;
};

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
	return e;
}

/* entry_free - back to the slabs (whose memory is kept for reuse) */
static void
entry_free(struct store *s, struct entry *e)
{
	free(e->user);
	e->user = NULL;
	e->next = s->free_entries;
	s->free_entries = e;
}

/* now - the store's clock */
static time_t
now(const struct store *s)
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

/* ---- hash table ---- */

/* bucket - the chain head for a */
static struct entry **
bucket(struct store *s, const struct addr *a)
{
	return &s->buckets[hash(s, a) & (s->nbuckets - 1)];
}

/* lookup - the entry for a, or NULL */
static struct entry *
lookup(struct store *s, const struct addr *a)
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

/* insert - a new entry for a; NULL when full or out of memory */
static struct entry *
insert(struct store *s, const struct addr *a)
{
	struct entry *e, **b;

	if (s->count >= s->o.max_entries)
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

/* unlink_entry - remove e from table and heap and free it */
static void
unlink_entry(struct store *s, struct entry *e)
{
	struct entry **p;

	for (p = bucket(s, &e->addr); *p != e; p = &(*p)->next)
		;
	*p = e->next;
	heap_remove(s, e);
	s->count--;
	entry_free(s, e);
}

/* changed - note a change for the publisher */
static void
changed(struct store *s)
{
	s->gen++;
	pthread_cond_signal(&s->publish_cv);
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

/* wait_durable - with sync interval 0: wait until change g is on disk */
static int
wait_durable(struct store *s, uint64_t g)
{
	s->durable_waiters++;
	pthread_cond_signal(&s->publish_cv);
	while (s->published_gen < g && s->failed_gen < g && !s->stopping)
		pthread_cond_wait(&s->durable_cv, &s->lock);
	s->durable_waiters--;
	return s->published_gen >= g ? 0 : -1;
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
	int64_t t, exp;
	struct entry *e;
	int rc = 1;

	if (user != NULL && strlen(user) > MAPFILE_USERMAX)
		return -1;
	pthread_mutex_lock(&s->lock);
	t = now(s);
	exp = t + ttl;
	if ((e = lookup(s, a)) == NULL) {
		if ((e = insert(s, a)) == NULL) {
			rc = s->count >= s->o.max_entries ? STORE_FULL : -1;
			goto out;
		}
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
	if (s->o.sync_interval_ms == 0 && s->running &&
	    wait_durable(s, s->gen) < 0)
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
	snprintf(out->user, sizeof(out->user), "%s",
	    e->user != NULL ? e->user : "");
}

/* store_check - 1 and the entry when a is allowed now, 0 otherwise */
int
store_check(struct store *s, const struct addr *a, struct store_info *out)
{
	struct entry *e;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	s->st.checks++;
	if ((e = lookup(s, a)) != NULL && e->expires > now(s)) {
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

	pthread_mutex_lock(&s->lock);
	if ((e = lookup(s, a)) != NULL) {
		unlink_entry(s, e);
		s->st.deletions++;
		changed(s);
		rc = 1;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* store_flush - remove every entry */
void
store_flush(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->heap_len > 0) {
		unlink_entry(s, s->heap[s->heap_len - 1]);
		s->st.deletions++;
	}
	changed(s);
	pthread_mutex_unlock(&s->lock);
}

/* rev - bit reversal, for the resize-safe cursor */
static uint64_t
rev(uint64_t v)
{
	uint64_t r = 0;
	int i;

	for (i = 0; i < 64; i++, v >>= 1)
		r = (r << 1) | (v & 1);
	return r;
}

/*
 * store_list - up to about want entries from *cursor on, whole buckets at
 * a time; *cursor is 0 when the walk is complete.  The cursor advances in
 * reverse-binary bucket order, so an entry present for the whole walk is
 * returned at least once even if the table grows in between.  out must
 * have room for want + 16 entries.
 */
size_t
store_list(struct store *s, uint64_t *cursor, struct store_info *out,
    size_t want)
{
	uint64_t v = *cursor, mask;
	size_t n = 0, len;
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	mask = s->nbuckets - 1;
	do {
		struct entry *head = s->buckets[v & mask];

		for (len = 0, e = head; e != NULL; e = e->next)
			len++;
		if (n > 0 && n + len > want + 16)
			break;
		for (e = head; e != NULL && n < want + 16; e = e->next)
			copy_info(e, &out[n++]);
		v |= ~mask;
		v = rev(rev(v) + 1);
	} while (v != 0 && n < want);
	*cursor = v;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* store_get_stats - a consistent copy of the counters */
void
store_get_stats(struct store *s, struct store_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->st;
	out->entries = s->count;
	pthread_mutex_unlock(&s->lock);
}

/* expire_locked - remove up to batch entries whose time has come */
static size_t
expire_locked(struct store *s, size_t batch)
{
	time_t t = now(s);
	size_t n = 0;

	while (n < batch && s->heap_len > 0 && s->heap[0]->expires <= t) {
		unlink_entry(s, s->heap[0]);
		n++;
	}
	if (n > 0) {
		s->st.expirations += n;
		changed(s);
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

/* ---- publishing ---- */

struct snapshot {
	struct map_rec *recs;
	char *users;
	size_t n;
	uint64_t gen;
};

/* snapshot_take - copy the live entries; with s->lock held */
static int
snapshot_take(struct store *s, struct snapshot *snap)
{
	time_t t = now(s);
	size_t i, ulen = 0, off = 0;
	struct entry *e;

	for (i = 0; i < s->heap_len; i++)
		if (s->heap[i]->user != NULL)
			ulen += strlen(s->heap[i]->user) + 1;
	snap->recs = reallocarray(NULL, s->heap_len + 1, sizeof(*snap->recs));
	snap->users = malloc(ulen + 1);
	if (snap->recs == NULL || snap->users == NULL)
		return -1;
	snap->n = 0;
	snap->gen = s->gen;
	for (i = 0; i < s->heap_len; i++) {
		struct map_rec *r = &snap->recs[snap->n];

		if ((e = s->heap[i])->expires <= t)
			continue;	/* due: the expiry thread is on it */
		r->addr = e->addr;
		r->expires = e->expires;
		r->first_seen = e->first_seen;
		r->adds = e->adds;
		r->user = "";
		if (e->user != NULL) {
			r->user = strcpy(snap->users + off, e->user);
			off += strlen(e->user) + 1;
		}
		snap->n++;
	}
	return 0;
}

/*
 * store_publish - write the state file, then the map, from one snapshot.
 * The state file goes first: after a crash between the two, start-up
 * reads the newer state and rewrites the map.
 */
int
store_publish(struct store *s, char *err, size_t errlen)
{
	struct snapshot snap = {NULL, NULL, 0, 0};
	int rc;

	pthread_mutex_lock(&s->publish_lock);
	pthread_mutex_lock(&s->lock);
	rc = snapshot_take(s, &snap);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0)
		snprintf(err, errlen, "snapshot: out of memory");
	else if ((rc = mapfile_write(s->state_path, &s->o.format, snap.recs,
	    snap.n, 1, err, errlen)) == 0)
		rc = mapfile_write(s->path, &s->o.format, snap.recs, snap.n, 0,
		    err, errlen);
	pthread_mutex_lock(&s->lock);
	if (rc == 0 && snap.gen > s->published_gen)
		s->published_gen = snap.gen;
	if (rc != 0 && snap.gen > s->failed_gen)
		s->failed_gen = snap.gen;
	pthread_cond_broadcast(&s->durable_cv);
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&s->publish_lock);
	free(snap.recs);
	free(snap.users);
	return rc;
}

/* deadline - the monotonic or real time ms from now, for a timed wait */
static struct timespec
deadline(clockid_t clk, int64_t ms)
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

/* publish_failed - log a failed write, once a minute at most */
static void
publish_failed(const char *why, int *failing)
{
	static struct log_limit lim = {0, 60, 1, 0, 0};
	unsigned int dropped;

	*failing = 1;
	if (log_limit_pass(&lim, &dropped))
		log_warnx("cannot write the allowlist (%u more failures "
		    "since the last message): %s", dropped, why);
}

/* publisher - the thread that keeps the files in step with the table */
static void *
publisher(void *arg)
{
	struct store *s = arg;
	int64_t interval = s->o.sync_interval_ms, next = 0;
	char err[1400];
	int failing = 0;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		int64_t t = mono_ms();
		struct timespec ts;

		if (s->published_gen >= s->gen) {
			pthread_cond_wait(&s->publish_cv, &s->lock);
			continue;
		}
		if (t < next && (s->durable_waiters == 0 || failing)) {
			ts = deadline(CLOCK_MONOTONIC, next - t);
			pthread_cond_timedwait(&s->publish_cv, &s->lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&s->lock);
		/* the next write may start one interval after this one
		 * started, so a change waits at most one interval */
		next = t + interval;
		if (store_publish(s, err, sizeof(err)) < 0) {
			publish_failed(err, &failing);
			next = mono_ms() + (interval > 1000 ? interval : 1000);
		} else {
			if (failing)
				log_info("the allowlist is written again");
			failing = 0;
		}
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* expirer - the thread that removes entries as their time passes */
static void *
expirer(void *arg)
{
	struct store *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		struct timespec ts;

		if (expire_locked(s, EXPIRE_BATCH) == EXPIRE_BATCH) {
			/* let RPC threads in between batches */
			pthread_mutex_unlock(&s->lock);
			sched_yield();
			pthread_mutex_lock(&s->lock);
			continue;
		}
		/* wake at the next due second, or in a second at the latest */
		ts = deadline(CLOCK_REALTIME, 1000);
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

/* load_rec - one record from disk into the table, unless already past */
static int
load_rec(void *arg, const struct map_rec *r)
{
	struct store *s = arg;
	struct entry *e;

	if (r->expires <= now(s) || lookup(s, &r->addr) != NULL)
		return 0;
	if ((e = insert(s, &r->addr)) == NULL)
		return -1;
	e->expires = r->expires;
	e->first_seen = (uint32_t)(r->first_seen ? r->first_seen : now(s));
	e->adds = r->adds;
	heap_up(s, e->heap_idx);
	return set_user(e, r->user);
}

/* load - the state file, or for a DRAC map without one, the map */
static int
load(struct store *s, char *err, size_t errlen)
{
	int rc;

	if ((rc = mapfile_read(s->state_path, 1, load_rec, s, err,
	    errlen)) != 0)
		return rc;
	return mapfile_read(s->path, 0, load_rec, s, err, errlen);
}

/* store_free - release the table */
static void
store_free(struct store *s)
{
	while (s->heap_len > 0)
		unlink_entry(s, s->heap[s->heap_len - 1]);
	while (s->nslabs > 0)
		free(s->slabs[--s->nslabs]);
	free(s->slabs);
	free(s->heap);
	free(s->buckets);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->publish_lock);
	pthread_cond_destroy(&s->expiry_cv);
	pthread_cond_destroy(&s->publish_cv);
	pthread_cond_destroy(&s->durable_cv);
	free(s);
}

/* init_sync - mutexes and condition variables */
static void
init_sync(struct store *s)
{
	pthread_condattr_t mono;

	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->publish_lock, NULL);
	pthread_condattr_init(&mono);
	pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
	pthread_cond_init(&s->publish_cv, &mono);
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
	if (!o->truncate && load(s, err, errlen) < 0) {
		store_free(s);
		return NULL;
	}
	s->gen = 1;	/* the first publish rewrites both files */
	return s;
}

/* store_start - start the expiry and publishing threads */
int
store_start(struct store *s)
{
	if (pthread_create(&s->expiry_thr, NULL, expirer, s) != 0)
		return -1;
	if (pthread_create(&s->publish_thr, NULL, publisher, s) != 0) {
		pthread_mutex_lock(&s->lock);
		s->stopping = 1;
		pthread_cond_signal(&s->expiry_cv);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->expiry_thr, NULL);
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
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->expiry_cv);
	pthread_cond_broadcast(&s->publish_cv);
	pthread_cond_broadcast(&s->durable_cv);
	pthread_mutex_unlock(&s->lock);
	if (s->running) {
		pthread_join(s->expiry_thr, NULL);
		pthread_join(s->publish_thr, NULL);
		s->running = 0;
	}
	if (s->published_gen < s->gen && store_publish(s, err,
	    sizeof(err)) < 0)
		log_warnx("at exit: %s", err);
	store_free(s);
}
