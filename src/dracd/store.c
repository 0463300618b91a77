/*
 * store.c - the timed allowlist: memory table, expiry and the files.
 *
 * Threading: one mutex (s->lock) guards everything in struct store except
 * the options, fixed at store_open, and the journal's file, which is
 * jio_lock's.  Calls from RPC threads hold s->lock for a hash lookup or
 * update and the append of one record to the journal buffer.  The expiry
 * thread removes at most EXPIRE_BATCH entries per hold; the map and
 * snapshot writers copy WALK_CHUNK entries per hold and write without it.
 * Lock order: compact_lock, jio_lock, map_lock, lock.  Entries are owned by
 * the table; store_check and store_list copy out into the caller's
 * buffers.
 *
 * Generations: every change bumps s->gen (what the map shows), and every
 * change the journal records bumps s->jgen (expiry needs no record).  The
 * writers note the generation they started from, so "map_gen >= g" means
 * change g is in the map and "durable_gen >= j" that record j is on disk.
 *
 * Durability: a record is on disk when the sync thread's write of the
 * buffer holding it has been fdatasync'ed.  A compaction starts a new
 * journal segment, then writes every entry, chunk by chunk, to a new
 * snapshot naming that segment: a change made during the walk is both in
 * the new segment and, perhaps, in the snapshot, and since a record holds
 * the entry's whole state, replaying it again is harmless.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "mono.h"
#include "store.h"

#define EXPIRE_BATCH	1000
#define MIN_BUCKETS	1024
#define WALK_CHUNK	1024		/* entries copied per lock hold */
#define LIST_SCAN	(4 * SLAB_ENTRIES)	/* slots looked at, at most */
#define JBUF_MAX	(16 * 1024 * 1024)	/* unwritten records, at most */
#define SNAP_BUF	(256 * 1024)

struct entry {
	struct entry *next;		/* hash chain; the free list's link */
	int64_t expires;
	char *user;			/* NULL when none */
	uint32_t first_seen;		/* epoch seconds (good until 2106) */
	uint32_t heap_idx;
	uint32_t adds;
	struct addr addr;
	uint8_t used;			/* in the table, not on the free list */
};

#define SLAB_ENTRIES	4096	/* entries allocated at once */

struct jbuf {
	unsigned char *p;
	size_t len, cap;
};

/* the writer threads, as bits: which are failing (for one "written
 * again" line), and which wait with nothing to do (and need a signal) */
enum { FAIL_JOURNAL = 1, FAIL_MAP = 2, FAIL_SNAPSHOT = 4 };

struct store {
	struct store_opts o;
	char path[1024];
	char state_path[1040];
	pthread_mutex_t lock;
	pthread_cond_t expiry_cv;	/* expiry thread: earlier deadline */
	pthread_cond_t sync_cv;		/* sync thread: a record waits */
	pthread_cond_t map_cv;		/* map thread: something changed */
	pthread_cond_t compact_cv;	/* compaction thread: journal grew */
	pthread_cond_t durable_cv;	/* adders waiting for a write */
	struct entry **buckets;
	size_t nbuckets, count;
	struct entry **heap;
	size_t heap_len, heap_cap;
	uint64_t seed[2];
	uint64_t gen, map_gen, map_failed_gen;
	uint64_t jgen, durable_gen, durable_failed_gen;
	struct jbuf jbuf;		/* records not yet written */
	uint64_t jbytes;		/* journal bytes since the snapshot */
	int need_compact;		/* records were lost, or no snapshot */
	int failing;			/* FAIL_* bits */
	int idle;			/* FAIL_* bits */
	size_t durable_waiters;
	struct store_stats st;
	int running, stopping;
	pthread_t expiry_thr, sync_thr, map_thr, compact_thr;
	pthread_mutex_t compact_lock;	/* one compaction at a time */
	pthread_mutex_t jio_lock;	/* the journal file, and jspare */
	pthread_mutex_t map_lock;	/* one map write at a time */
	struct jbuf jspare;		/* the buffer being written */
	int jfd;			/* current segment; -1: not open */
	uint64_t jseq;
	off_t jlen;			/* its length in whole records */
	unsigned int tmp_serial;	/* snapshot temporary names */
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

/* wake - signal a writer thread, if it waits with nothing to do (one
 * waiting for its interval to pass wakes by itself) */
static void
wake(struct store *s, int bit, pthread_cond_t *cv)
{
	if (s->idle & bit) {
		s->idle &= ~bit;
		pthread_cond_signal(cv);
	}
}

/* changed - note a change for the map writer */
static void
changed(struct store *s)
{
	s->gen++;
	wake(s, FAIL_MAP, &s->map_cv);
}

/* jbuf_reserve - room for one more record; -1 when at the cap */
static int
jbuf_reserve(struct jbuf *b)
{
	size_t cap;
	unsigned char *p;

	if (b->cap - b->len >= JREC_MAX)
		return 0;
	if (b->len + JREC_MAX > JBUF_MAX)
		return -1;
	cap = b->cap ? b->cap * 2 : 64 * 1024;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

/*
 * journal_note - a record of a change for the sync thread: type, and for
 * JREC_SET and JREC_DEL the entry's new state.  When the buffer cannot
 * take it (the disk has stalled for long), the buffer is dropped and only
 * a snapshot can make the list durable again.
 */
static void
journal_note(struct store *s, enum jrec_type type, const struct entry *e)
{
	struct jrec r;

	memset(&r, 0, sizeof(r));
	r.type = type;
	if (e != NULL) {
		r.addr = e->addr;
		r.expires = e->expires;
		r.first_seen = e->first_seen;
		r.adds = e->adds;
		if (e->user != NULL)
			snprintf(r.user, sizeof(r.user), "%s", e->user);
	}
	s->jgen++;
	if (jbuf_reserve(&s->jbuf) < 0) {
		s->jbuf.len = 0;
		s->need_compact = 1;
		s->durable_failed_gen = s->jgen;
		pthread_cond_broadcast(&s->durable_cv);
		pthread_cond_signal(&s->compact_cv);
		return;
	}
	s->jbuf.len += jrec_encode(&r, s->jbuf.p + s->jbuf.len);
	wake(s, FAIL_JOURNAL, &s->sync_cv);
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
 * and change g in the map */
static int
wait_durable(struct store *s, uint64_t j, uint64_t g)
{
	s->durable_waiters++;
	pthread_cond_signal(&s->sync_cv);
	pthread_cond_signal(&s->map_cv);
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
	journal_note(s, JREC_SET, e);
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
	/* set_user and the loader keep users within MAPFILE_USERMAX */
	if (e->user != NULL)
		memcpy(out->user, e->user, strlen(e->user) + 1);
	else
		out->user[0] = '\0';
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
		journal_note(s, JREC_DEL, e);
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
	journal_note(s, JREC_FLUSH, NULL);
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
 * store_list - up to want entries from *cursor on; *cursor is 0 when the
 * walk is complete.  The walk goes through the slabs in memory order (a
 * cursor is a slot number, and entries never move), so an entry present
 * for the whole walk is returned exactly once however the table changes
 * meanwhile.  At most LIST_SCAN slots are looked at per call, so a sparse
 * table may give fewer than want with the walk not yet complete.
 */
size_t
store_list(struct store *s, uint64_t *cursor, struct store_info *out,
    size_t want)
{
	uint64_t pos = *cursor, end, stop;
	size_t n = 0;
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	end = (uint64_t)s->nslabs * SLAB_ENTRIES;
	stop = pos < end && end - pos > LIST_SCAN ? pos + LIST_SCAN : end;
	for (; pos < stop && n < want; pos++)
		if ((e = slot(s, pos))->used)
			copy_info(e, &out[n++]);
	*cursor = pos < end ? pos : 0;
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

/* ---- the journal ---- */

/* journal_open - the current segment, open for appending at s->jlen;
 * with jio_lock held.  A torn record left by a crash is cut off. */
static int
journal_open(struct store *s, char *err, size_t errlen)
{
	char seg[1100];

	if (journal_segment_path(s->path, s->jseq, seg, sizeof(seg)) < 0) {
		snprintf(err, errlen, "%s: path too long", s->path);
		return -1;
	}
	if (s->jlen >= JHDR_SIZE) {
		if ((s->jfd = open(seg, O_WRONLY | O_CLOEXEC)) >= 0 &&
		    ftruncate(s->jfd, s->jlen) == 0)
			return 0;
	} else if ((s->jfd = journal_create(seg, 0, s->jseq)) >= 0 &&
	    mapfile_sync_dir(seg) == 0) {
		s->jlen = JHDR_SIZE;
		return 0;
	}
	snprintf(err, errlen, "%s: %s", seg, strerror(errno));
	if (s->jfd >= 0)
		close(s->jfd);
	s->jfd = -1;
	return -1;
}

/* journal_write - append len bytes and sync them; with jio_lock held.
 * On failure the segment is cut back to its last whole record. */
static int
journal_write(struct store *s, const void *p, size_t len, char *err,
    size_t errlen)
{
	if (len == 0)
		return 0;
	if (s->jfd < 0 && journal_open(s, err, errlen) < 0)
		return -1;
	if (journal_append(s->jfd, s->jlen, p, len) == 0 &&
	    fdatasync(s->jfd) == 0) {
		s->jlen += (off_t)len;
		return 0;
	}
	snprintf(err, errlen, "%s.journal.%" PRIu64 ": %s", s->path, s->jseq,
	    strerror(errno));
	if (ftruncate(s->jfd, s->jlen) < 0) {
		close(s->jfd);	/* reopening cuts it */
		s->jfd = -1;
	}
	return -1;
}

/* take_buffer - swap the records waiting for the empty spare; with
 * jio_lock held.  *j is the generation of the last one taken. */
static struct jbuf
take_buffer(struct store *s, uint64_t *j)
{
	struct jbuf b;

	pthread_mutex_lock(&s->lock);
	b = s->jbuf;
	s->jbuf = s->jspare;
	*j = s->jgen;
	pthread_mutex_unlock(&s->lock);
	return b;
}

/* give_back - an emptied buffer becomes the spare; with jio_lock held */
static void
give_back(struct store *s, struct jbuf b)
{
	b.len = 0;
	s->jspare = b;
}

/* compact_due - is the journal big enough for a new snapshot?  With
 * s->lock held.  Twice the snapshot's size keeps replay short. */
static int
compact_due(const struct store *s)
{
	return s->need_compact || (s->jbytes > s->o.journal_size &&
	    s->jbytes > 2 * (uint64_t)s->count * JREC_FIXED);
}

/* store_sync - write and sync the records waiting; -1 with a message */
static int
store_sync(struct store *s, char *err, size_t errlen)
{
	struct jbuf b;
	uint64_t j;
	int rc;

	pthread_mutex_lock(&s->jio_lock);
	b = take_buffer(s, &j);
	rc = journal_write(s, b.p, b.len, err, errlen);
	pthread_mutex_lock(&s->lock);
	if (rc == 0) {
		if (j > s->durable_gen)
			s->durable_gen = j;
		s->jbytes += b.len;
	} else {
		if (j > s->durable_failed_gen)
			s->durable_failed_gen = j;
		s->need_compact = 1;
	}
	if (compact_due(s))
		pthread_cond_signal(&s->compact_cv);
	pthread_cond_broadcast(&s->durable_cv);
	pthread_mutex_unlock(&s->lock);
	give_back(s, b);
	pthread_mutex_unlock(&s->jio_lock);
	return rc;
}

/* ---- walking the table for the writers ---- */

struct walk {
	struct store *s;
	uint64_t cursor;
	int done;
	time_t now;
	struct store_info *info;	/* WALK_CHUNK */
	size_t have, pos;		/* entries in info, and used */
};

/* walk_next - the next live entry, NULL when the walk is over; valid
 * until the next call */
static const struct store_info *
walk_next(struct walk *w)
{
	for (;;) {
		while (w->pos < w->have)
			if (w->info[w->pos++].expires > w->now)
				return &w->info[w->pos - 1];
		if (w->done)
			return NULL;
		w->have = store_list(w->s, &w->cursor, w->info, WALK_CHUNK);
		w->pos = 0;
		w->done = w->cursor == 0;
	}
}

/* map_fill - the next live entries as map records */
static size_t
map_fill(void *arg, struct map_rec *recs, size_t max)
{
	const struct store_info *i;
	size_t n;

	for (n = 0; n < max && (i = walk_next(arg)) != NULL; n++) {
		recs[n].addr = i->addr;
		recs[n].expires = i->expires;
	}
	return n;
}

/* walk_start - a walk from the first bucket */
static int
walk_start(struct walk *w, struct store *s)
{
	memset(w, 0, sizeof(*w));
	w->s = s;
	w->now = now(s);
	w->info = calloc(WALK_CHUNK, sizeof(*w->info));
	return w->info != NULL ? 0 : -1;
}

/* ---- the map ---- */

/* note_failure - a writer failed: log it, once a minute at most */
static void
note_failure(struct store *s, int bit, const char *why)
{
	static struct log_limit lim = {0, 60, 1, 0, 0};
	unsigned int dropped;

	pthread_mutex_lock(&s->lock);
	s->failing |= bit;
	pthread_mutex_unlock(&s->lock);
	if (log_limit_pass(&lim, &dropped))
		log_warnx("cannot write the allowlist (%u more failures "
		    "since the last message): %s", dropped, why);
}

/* note_success - a writer succeeded: say so when the last one recovers */
static void
note_success(struct store *s, int bit)
{
	int was;

	pthread_mutex_lock(&s->lock);
	was = s->failing;
	s->failing &= ~bit;
	pthread_mutex_unlock(&s->lock);
	if ((was & bit) && (was & ~bit) == 0)
		log_info("the allowlist is written again");
}

/* map_write - rewrite the map from the table, which holds change g */
static int
map_write(struct store *s, uint64_t g, char *err, size_t errlen)
{
	struct walk w;
	int rc = -1;

	pthread_mutex_lock(&s->map_lock);
	if (walk_start(&w, s) < 0)
		snprintf(err, errlen, "map: out of memory");
	else
		rc = mapfile_write(s->path, &s->o.format, map_fill, &w, err,
		    errlen);
	free(w.info);
	pthread_mutex_lock(&s->lock);
	if (rc == 0 && g > s->map_gen)
		s->map_gen = g;
	if (rc != 0 && g > s->map_failed_gen)
		s->map_failed_gen = g;
	pthread_cond_broadcast(&s->durable_cv);
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&s->map_lock);
	return rc;
}

/*
 * store_publish - sync the journal, then rewrite the map.  The map's
 * generation is taken first: a change made while the journal is synced
 * may be in the map, but is not counted as there until a later write
 * (which syncs its record first).
 */
int
store_publish(struct store *s, char *err, size_t errlen)
{
	uint64_t g;

	pthread_mutex_lock(&s->lock);
	g = s->gen;
	pthread_mutex_unlock(&s->lock);
	if (store_sync(s, err, errlen) < 0)
		return -1;
	return map_write(s, g, err, errlen);
}

/* ---- snapshots ---- */

/* snap_put - buffer one record, writing the buffer out when full */
static int
snap_put(int fd, off_t *at, unsigned char *buf, size_t *len,
    const struct jrec *r)
{
	if (*len + JREC_MAX > SNAP_BUF) {
		if (journal_append(fd, *at, buf, *len) < 0)
			return -1;
		*at += (off_t)*len;
		*len = 0;
	}
	*len += jrec_encode(r, buf + *len);
	return 0;
}

/* snap_records - every live entry, and the end mark, into fd */
static int
snap_records(struct store *s, int fd, unsigned char *buf)
{
	const struct store_info *i;
	struct walk w;
	struct jrec r;
	off_t at = JHDR_SIZE;
	size_t len = 0;
	int64_t count = 0;
	int rc = -1;

	if (walk_start(&w, s) < 0)
		return -1;
	memset(&r, 0, sizeof(r));
	r.type = JREC_SET;
	while ((i = walk_next(&w)) != NULL) {
		r.addr = i->addr;
		r.expires = i->expires;
		r.first_seen = (uint32_t)i->first_seen;
		r.adds = i->adds;
		memcpy(r.user, i->user, sizeof(r.user));
		if (snap_put(fd, &at, buf, &len, &r) < 0)
			goto out;
		count++;
	}
	memset(&r, 0, sizeof(r));
	r.type = JREC_END;
	r.expires = count;
	if (snap_put(fd, &at, buf, &len, &r) == 0 &&
	    journal_append(fd, at, buf, len) == 0)
		rc = 0;
out:
	free(w.info);
	return rc;
}

/* snapshot_write - a new snapshot naming segment seq, renamed into place */
static int
snapshot_write(struct store *s, uint64_t seq, char *err, size_t errlen)
{
	char tmp[1100];
	unsigned char *buf;
	int fd, rc = -1;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%u", s->state_path,
	    (long)getpid(), ++s->tmp_serial);
	if ((buf = malloc(SNAP_BUF)) == NULL) {
		errno = ENOMEM;
	} else if ((fd = journal_create(tmp, 1, seq)) >= 0) {
		if (snap_records(s, fd, buf) == 0 && fsync(fd) == 0 &&
		    rename(tmp, s->state_path) == 0 &&
		    mapfile_sync_dir(s->state_path) == 0)
			rc = 0;
		close(fd);
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
	}
	free(buf);
	return rc;
}

/* drop_segments - remove the segments a snapshot made redundant */
static void
drop_segments(struct store *s, uint64_t below)
{
	char seg[1100];
	uint64_t *seqs;
	size_t n, i;

	if (journal_segments(s->path, &seqs, &n) < 0)
		return;
	for (i = 0; i < n && seqs[i] < below; i++)
		if (journal_segment_path(s->path, seqs[i], seg,
		    sizeof(seg)) == 0)
			unlink(seg);
	free(seqs);
}

/* rotate - write what waits to the current segment and start the next;
 * the new segment's number.  *j: the last record before it. */
static uint64_t
rotate(struct store *s, uint64_t *j)
{
	char err[256];
	struct jbuf b;
	uint64_t seq;

	pthread_mutex_lock(&s->jio_lock);
	b = take_buffer(s, j);
	/* on failure the snapshot still holds these records, but whoever
	 * waits for them hears of the failure, as from the sync thread */
	if (journal_write(s, b.p, b.len, err, sizeof(err)) < 0) {
		pthread_mutex_lock(&s->lock);
		if (*j > s->durable_failed_gen)
			s->durable_failed_gen = *j;
		pthread_cond_broadcast(&s->durable_cv);
		pthread_mutex_unlock(&s->lock);
	}
	give_back(s, b);
	if (s->jfd >= 0)
		close(s->jfd);
	s->jfd = -1;
	s->jlen = 0;
	seq = ++s->jseq;
	pthread_mutex_lock(&s->lock);
	s->need_compact = 0;
	s->jbytes = 0;
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&s->jio_lock);
	return seq;
}

/*
 * store_compact - fold the journal into a new snapshot: start a new
 * segment, write every live entry to a new snapshot naming it, and
 * remove the older segments.
 */
int
store_compact(struct store *s, char *err, size_t errlen)
{
	uint64_t seq, j;
	int rc;

	pthread_mutex_lock(&s->compact_lock);
	seq = rotate(s, &j);
	rc = snapshot_write(s, seq, err, errlen);
	pthread_mutex_lock(&s->lock);
	if (rc == 0 && j > s->durable_gen)
		s->durable_gen = j;
	if (rc != 0) {
		s->need_compact = 1;
		if (j > s->durable_failed_gen)
			s->durable_failed_gen = j;
	}
	pthread_cond_broadcast(&s->durable_cv);
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		drop_segments(s, seq);
	pthread_mutex_unlock(&s->compact_lock);
	return rc;
}

/* ---- the threads ---- */

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

struct writer {
	const char *name;
	int bit;
	pthread_cond_t *(*cv)(struct store *);
	int (*pending)(const struct store *);
	int (*write)(struct store *, char *, size_t);
};

static pthread_cond_t *sync_cv(struct store *s) { return &s->sync_cv; }
static pthread_cond_t *map_cv(struct store *s) { return &s->map_cv; }
static pthread_cond_t *compact_cv(struct store *s) { return &s->compact_cv; }

/* what each writer waits for; with s->lock held.  With sync interval 0
 * the map writer also writes the journal, just before the map: one thread
 * for both makes bigger groups than two taking turns at the disk. */
static int
sync_pending(const struct store *s)
{
	return s->jbuf.len > 0 && s->o.sync_interval_ms > 0;
}

static int
map_pending(const struct store *s)
{
	return s->map_gen < s->gen;
}

static const struct writer writers[] = {
	{"sync", FAIL_JOURNAL, sync_cv, sync_pending, store_sync},
	{"map", FAIL_MAP, map_cv, map_pending, store_publish},
	{"compact", FAIL_SNAPSHOT, compact_cv, compact_due, store_compact},
};

struct writer_arg {
	struct store *s;
	const struct writer *w;
};

/*
 * writer_loop - one writer's thread: write when there is something to
 * write, at most once per sync interval (compactions: whenever due), and
 * at once while an adder waits (sync interval 0).  After a failure, once
 * a second at most.
 */
static void
writer_loop(struct store *s, const struct writer *w)
{
	int64_t interval = w->bit == FAIL_SNAPSHOT ? 0 :
	    s->o.sync_interval_ms, next = 0;
	char err[1400];
	int failing = 0;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		int64_t t = mono_ms();
		struct timespec ts;

		if (!w->pending(s)) {
			s->idle |= w->bit;
			pthread_cond_wait(w->cv(s), &s->lock);
			s->idle &= ~w->bit;
			continue;
		}
		if (t < next && (s->durable_waiters == 0 || failing)) {
			ts = deadline(CLOCK_MONOTONIC, next - t);
			pthread_cond_timedwait(w->cv(s), &s->lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&s->lock);
		/* the next write may start one interval after this one
		 * started, so a change waits at most one interval */
		next = t + interval;
		failing = w->write(s, err, sizeof(err)) < 0;
		if (failing) {
			note_failure(s, w->bit, err);
			next = mono_ms() + (interval > 1000 ? interval : 1000);
		} else {
			note_success(s, w->bit);
		}
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
}

/* writer_main - the start routine of a writer thread */
static void *
writer_main(void *arg)
{
	struct writer_arg *a = arg;

	writer_loop(a->s, a->w);
	free(a);
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

/* load_map_rec - one record of a DRAC map, unless already past */
static int
load_map_rec(void *arg, const struct map_rec *r)
{
	struct store *s = arg;
	struct entry *e;

	if (r->expires <= now(s) || lookup(s, &r->addr) != NULL)
		return 0;
	if ((e = insert(s, &r->addr)) == NULL)
		return -1;
	e->expires = r->expires;
	e->first_seen = (uint32_t)now(s);
	heap_up(s, e->heap_idx);
	return 0;
}

/* replay_set - an entry's whole state from a record */
static int
replay_set(struct store *s, const struct jrec *r)
{
	struct entry *e = lookup(s, &r->addr);

	if (r->expires <= now(s)) {	/* past its time since */
		if (e != NULL)
			unlink_entry(s, e);
		return 0;
	}
	if (e == NULL && (e = insert(s, &r->addr)) == NULL)
		return -1;
	e->expires = r->expires;
	e->first_seen = r->first_seen;
	e->adds = r->adds;
	heap_up(s, e->heap_idx);
	heap_down(s, e->heap_idx);
	free(e->user);
	e->user = NULL;
	return r->user[0] == '\0' || (e->user = strdup(r->user)) != NULL ?
	    0 : -1;
}

/* load_jrec - one record of the snapshot or journal into the table */
static int
load_jrec(void *arg, const struct jrec *r)
{
	struct store *s = arg;
	struct entry *e;

	switch (r->type) {
	case JREC_SET:
		return replay_set(s, r);
	case JREC_DEL:
		if ((e = lookup(s, &r->addr)) != NULL)
			unlink_entry(s, e);
		return 0;
	case JREC_FLUSH:
		while (s->heap_len > 0)
			unlink_entry(s, s->heap[s->heap_len - 1]);
		return 0;
	default:
		return 0;
	}
}

/* load_segment - replay one segment; torn ends are reported, not fatal */
static int
load_segment(struct store *s, uint64_t seq, char *err, size_t errlen)
{
	char seg[1100];
	uint64_t hseq = 0;
	struct stat st;
	off_t good;

	if (journal_segment_path(s->path, seq, seg, sizeof(seg)) < 0 ||
	    journal_read(seg, 0, &hseq, load_jrec, s, &good, err,
	    errlen) < 0)
		return -1;
	if (good >= JHDR_SIZE && hseq != seq) {
		snprintf(err, errlen, "%s: its header says segment %" PRIu64,
		    seg, hseq);
		return -1;
	}
	if (stat(seg, &st) == 0 && st.st_size > good)
		log_warnx("%s: the last %lld bytes are not whole records (a "
		    "write cut short): ignored", seg,
		    (long long)(st.st_size - good));
	s->jseq = seq;
	s->jlen = good;
	s->jbytes += (uint64_t)good;
	return 0;
}

/* load - the snapshot, or for a DRAC map without one, the map; then the
 * journal segments from the snapshot's on, in order */
static int
load(struct store *s, char *err, size_t errlen)
{
	uint64_t first = 0, *seqs;
	size_t n, i;
	off_t good;
	int rc;

	if ((rc = journal_read(s->state_path, 1, &first, load_jrec, s, &good,
	    err, errlen)) < 0)
		return -1;
	if (rc == 0) {
		if (mapfile_read(s->path, load_map_rec, s, err, errlen) < 0)
			return -1;
		s->need_compact = 1;
	}
	s->jseq = first > 0 ? first : 1;	/* when no segment follows */
	if (journal_segments(s->path, &seqs, &n) < 0) {
		snprintf(err, errlen, "%s: cannot list its directory: %s",
		    s->path, strerror(errno));
		return -1;
	}
	for (i = 0, rc = 0; i < n && rc == 0; i++)
		if (seqs[i] >= first)
			rc = load_segment(s, seqs[i], err, errlen);
	free(seqs);
	return rc;
}

/* remove_state - -i: the snapshot and every segment go */
static void
remove_state(struct store *s)
{
	unlink(s->state_path);
	drop_segments(s, UINT64_MAX);
	s->need_compact = 1;
}

/* store_free - release the table */
static void
store_free(struct store *s)
{
	while (s->heap_len > 0)
		unlink_entry(s, s->heap[s->heap_len - 1]);
	while (s->nslabs > 0)
		free(s->slabs[--s->nslabs]);
	if (s->jfd >= 0)
		close(s->jfd);
	free(s->jbuf.p);
	free(s->jspare.p);
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

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->o = *o;
	s->jfd = -1;
	s->jseq = 1;
	if (snprintf(s->path, sizeof(s->path), "%s", o->path) >=
	    (int)sizeof(s->path)) {
		snprintf(err, errlen, "%s: path too long", o->path);
		free(s);
		return NULL;
	}
	snprintf(s->state_path, sizeof(s->state_path), "%s.state", o->path);
	s->o.path = s->path;
	if (s->o.journal_size == 0)
		s->o.journal_size = 16 * 1024 * 1024;
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
	if (o->truncate)
		remove_state(s);
	else if (load(s, err, errlen) < 0) {
		store_free(s);
		return NULL;
	}
	s->gen = 1;	/* the first map write drops what expired meanwhile */
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
	pthread_t *thr[] = {&s->sync_thr, &s->map_thr, &s->compact_thr};
	struct writer_arg *a;
	size_t i;

	if (pthread_create(&s->expiry_thr, NULL, expirer, s) != 0)
		return -1;
	for (i = 0; i < 3; i++) {
		if ((a = malloc(sizeof(*a))) == NULL)
			break;
		a->s = s;
		a->w = &writers[i];
		if (pthread_create(thr[i], NULL, writer_main, a) != 0) {
			free(a);
			break;
		}
	}
	if (i < 3) {
		stop_threads(s, i + 1);
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
	    store_compact(s, err, sizeof(err)) < 0) || (s->map_gen < s->gen &&
	    map_write(s, s->gen, err, sizeof(err)) < 0))
		log_warnx("at exit: %s", err);
	store_free(s);
}
