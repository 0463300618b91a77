/*
 * store_disk.c - the allowlist's files: the environment and the map.
 *
 * Three threads write them (store.h): sync, map and compaction, each
 * waiting on its own condition variable under s->lock and writing without
 * it; the map writer and the compaction walk the table WALK_CHUNK entries
 * per hold.  Lock order: compact_lock, jio_lock, map_lock, lock.
 *
 * Generations: every change bumps s->gen (what the map shows), and every
 * change recorded for the environment bumps s->jgen (expiry needs no
 * record: compaction prunes what the table no longer holds).  The writers
 * note the generation they started from, so "map_gen >= g" means change g
 * is in the map and "durable_gen >= j" that record j is on disk.
 *
 * Durability: records are applied to the environment (store_env.h) in
 * transactions of ENV_BATCH records, committed without sync, and one log
 * flush makes the whole buffer durable.  Only one thread writes to the
 * environment at a time (jio_lock), so writers never deadlock.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mono.h"
#include "store_int.h"
#include "store_env.h"

#define WALK_CHUNK	1024		/* entries copied per lock hold */
#define JBUF_MAX	(16 * 1024 * 1024) /* unwritten records, at most */
#define ENV_BATCH	256		/* records per transaction */
#define CHECKPOINT_AUTO	(4 * 1024 * 1024)	/* record bytes */
#define PRUNE_AUTO	(16 * 1024 * 1024)
#define LIST_SCAN	(4 * SLAB_ENTRIES) /* slots looked at, at most */
#define GATHER_US	300		/* see gather */
#define CONFIRM_MS	3000		/* see confirm */
#define CONFIRM_STEP_MS	50

/* ---- the store's clock, waits and walks (store.c calls them) ---- */

/* store_now - the store's clock */
time_t
store_now(const struct store *s)
{
	return s->o.clock != NULL ? s->o.clock() : time(NULL);
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

/* store_step_aside - between two batches of background work, without
 * s->lock: let the callers waiting for it in first (for 2 ms at most) */
void
store_step_aside(struct store *s)
{
	int64_t until = mono_ms() + 2;

	while (atomic_load_explicit(&s->callers_waiting,
	    memory_order_relaxed) > 0 && mono_ms() < until)
		sched_yield();
}

/* store_copy_info - an entry into a caller's buffer */
void
store_copy_info(const struct entry *e, struct store_info *out)
{
	out->addr = e->addr;
	out->expires = e->expires;
	out->first_seen = e->first_seen;
	out->adds = e->adds;
	entry_user(e, out->user);
}

/*
 * store_list_locked - up to want entries from *cursor on, with s->lock
 * held; *cursor is 0 when the walk is complete.  The walk goes through
 * the slabs in memory order (a cursor is a slot number, and entries never
 * move), so an entry present for the whole walk is returned exactly once
 * however the table changes meanwhile.  At most LIST_SCAN slots are
 * looked at per call, so a sparse table may give fewer than want with the
 * walk not yet complete.
 */
size_t
store_list_locked(struct store *s, uint64_t *cursor, struct store_info *out,
    size_t want)
{
	uint64_t pos = *cursor, end, stop;
	size_t n = 0;
	struct entry *e;

	end = table_slots(&s->t);
	stop = pos < end && end - pos > LIST_SCAN ? pos + LIST_SCAN : end;
	for (; pos < stop && n < want; pos++)
		if ((e = table_slot(&s->t, pos))->used)
			store_copy_info(e, &out[n++]);
	*cursor = pos < end ? pos : 0;
	return n;
}

/* store_walk - a chunk of the list for a writer thread, which lets
 * callers waiting for the lock go first */
size_t
store_walk(struct store *s, uint64_t *cursor, struct store_info *out,
    size_t want)
{
	size_t n;

	store_step_aside(s);
	pthread_mutex_lock(&s->lock);
	n = store_list_locked(s, cursor, out, want);
	pthread_mutex_unlock(&s->lock);
	return n;
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
 * store_note - a record of a change for the sync thread: type, and for
 * JREC_SET and JREC_DEL the entry's new state.  When the buffer cannot
 * take it (the disk has stalled for long), the buffer is dropped and only
 * a compaction writing every entry can make the list durable again.
 */
void
store_note(struct store *s, enum jrec_type type, const struct entry *e)
{
	struct jrec r;

	memset(&r, 0, sizeof(r));
	r.type = type;
	if (e != NULL) {
		r.addr = e->addr;
		r.expires = e->expires;
		r.first_seen = e->first_seen;
		r.adds = e->adds;
		entry_user(e, r.user);
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
	store_wake(s, W_SYNC, &s->sync_cv);
}

/* ---- the environment ---- */

/* env_write - apply len bytes of records, then flush the log once; with
 * jio_lock held */
static int
env_write(struct store *s, const unsigned char *p, size_t len, char *err,
    size_t errlen)
{
	struct jrec recs[ENV_BATCH];
	size_t n = 0, off = 0, size;
	int64_t t0;
	int rc, unacked = 0;

	if (len == 0)
		return 0;
	t0 = mono_us();
	while (off < len) {
		if ((size = jrec_decode(p + off, len - off, &recs[n])) == 0) {
			snprintf(err, errlen, "%s: a record to write is "
			    "broken", s->env_path);
			return -1;
		}
		off += size;
		if (++n == ENV_BATCH || off == len) {
			/* a group's commit is safe once group_ack's members
			 * have it: the log reaches each disk within
			 * GROUP_FLUSH_MS (store_group.c) */
			if ((rc = senv_apply(s->env, recs, n, off == len &&
			    (!s->group || s->o.group_ack == STORE_ACK_NONE), err,
			    errlen)) < 0)
				return -1;
			unacked |= rc;
			n = 0;
		}
	}
	__atomic_add_fetch(&s->commits, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->commit_us, (uint64_t)(mono_us() - t0),
	    __ATOMIC_RELAXED);
	return unacked;
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

/* journal_outcome - the records up to j are on disk, or (ok == 0) may
 * not be: their waiters hear it, and only a compaction that writes every
 * entry (need_compact) can make up for them.
 * With s->lock held. */
static void
journal_outcome(struct store *s, uint64_t j, int ok)
{
	if (ok && j > s->durable_gen)
		s->durable_gen = j;
	if (!ok) {
		s->need_compact = 1;
		if (j > s->durable_failed_gen)
			s->durable_failed_gen = j;
	}
	pthread_cond_broadcast(&s->durable_cv);
}

/* prune_due - time to prune the environment of what the table no longer
 * holds?  Past 16 MB of records and twice the table's size: a prune walks
 * every key, so it comes rarely.  With s->lock held. */
static int
prune_due(const struct store *s)
{
	return s->pbytes > PRUNE_AUTO &&
	    s->pbytes > 2 * (uint64_t)s->t.count * JREC_FIXED;
}

/* compact_due - time to checkpoint (journal_size bytes of records, by
 * default 4 MB: about 20 MB of log, which keeps recovery at start-up
 * short and the log small), or to prune?  With s->lock held. */
static int
compact_due(const struct store *s)
{
	uint64_t limit = s->o.journal_size > 0 ? s->o.journal_size :
	    CHECKPOINT_AUTO;

	return s->need_compact || s->jbytes > limit || prune_due(s);
}

/* group_unacked - in a group, records up to j are committed here but
 * the group did not acknowledge them in time: their adders hear a
 * failure (the grant may yet reach the others; nothing is written
 * again).  With s->lock held. */
static void
group_unacked(struct store *s, uint64_t j, const char *err)
{
	static int64_t said;
	int64_t t = mono_ms();

	if (j > s->durable_failed_gen)
		s->durable_failed_gen = j;
	pthread_cond_broadcast(&s->durable_cv);
	if (t - said >= 10000) {
		said = t;
		log_warnx("group: %s: the adds waiting are answered as "
		    "failed", err);
	}
}

/* stopping - is the store closing? */
static int
stopping(struct store *s)
{
	int stop;

	pthread_mutex_lock(&s->lock);
	stop = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/*
 * confirm - a group's commit made here came without the acknowledgements
 * group_ack asks for (a member is still catching up with a new master,
 * say): commit the state's mark again, every CONFIRM_STEP_MS for up to
 * CONFIRM_MS, until one is acknowledged; members acknowledge a log
 * position, so that one covers every commit before it.  0 when one was,
 * 1 when none (the adders hear a failure).  With jio_lock held.
 */
static int
confirm(struct store *s, char *err, size_t errlen)
{
	struct jrec end = {.type = JREC_END};
	int64_t until = mono_ms() + CONFIRM_MS;
	int rc = 1;

	while (rc == 1 && mono_ms() < until && !stopping(s)) {
		struct timespec ts = {0, CONFIRM_STEP_MS * 1000000L};

		nanosleep(&ts, NULL);
		if ((rc = senv_apply(s->env, &end, 1, 1, err, errlen)) < 0)
			return -1;
	}
	return rc;
}

/* store_sync - commit and flush the records waiting; -1 with a message */
int
store_sync(struct store *s, char *err, size_t errlen)
{
	struct jbuf b;
	uint64_t j;
	int rc;

	pthread_mutex_lock(&s->jio_lock);
	b = take_buffer(s, &j);
	rc = env_write(s, b.p, b.len, err, errlen);
	if (rc == 1)
		rc = confirm(s, err, errlen);
	pthread_mutex_lock(&s->lock);
	if (rc == 1)	/* made here, not acknowledged by the group */
		group_unacked(s, j, err);
	else
		journal_outcome(s, j, rc == 0);
	if (rc >= 0) {
		s->jbytes += b.len;
		s->pbytes += b.len;
		rc = 0;
	}
	if (compact_due(s))
		pthread_cond_signal(&s->compact_cv);
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
		w->have = store_walk(w->s, &w->cursor, w->info, WALK_CHUNK);
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

/* walk_start - a walk from the first slot */
static int
walk_start(struct walk *w, struct store *s)
{
	memset(w, 0, sizeof(*w));
	w->s = s;
	w->now = store_now(s);
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
	int pass;

	pthread_mutex_lock(&s->lock);	/* the writers share lim */
	s->failing |= bit;
	pass = log_limit_pass(&lim, &dropped);
	pthread_mutex_unlock(&s->lock);
	if (pass)
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

/* retry_ms - how long a writer waits after a failure */
static int64_t
retry_ms(int64_t interval)
{
	return interval > 1000 ? interval : 1000;
}

/* no_records - a map_fill_fn for the empty map */
static size_t
no_records(void *arg, struct map_rec *recs, size_t max)
{
	(void)arg, (void)recs, (void)max;
	return 0;
}

/* write_spare - after a map write, the empty map fail_closed renames over
 * it, unless there is one; with map_lock held.  Written while there is
 * space, so that emptying the map needs none. */
static void
write_spare(struct store *s)
{
	char err[1400];

	if (access(s->spare_path, F_OK) == 0 || errno != ENOENT)
		return;
	if (mapfile_write(s->spare_path, &s->o.format, no_records, NULL, err,
	    sizeof(err)) < 0)
		log_warnx("cannot write the empty map kept for a full disk: %s",
		    err);
}

/*
 * fail_closed - the map cannot be rewritten: when it still holds a grant
 * dracd has taken away (deleted, flushed or expired), make it grant
 * nothing (mapfile_revoke) rather than keep relaying for a grant nobody
 * holds.  Not at an attempt right after the change (the error may pass),
 * but at the first failed one at least half a retry interval (the sync
 * interval, at least 1 s) after it: attempts come once per interval, so
 * within two sync intervals of the change.  At once (now) when no later
 * attempt will come.  With map_lock held.  The next successful write
 * puts every grant back.
 */
static void
fail_closed(struct store *s, int now, const char *why)
{
	int64_t age = 0;
	char err[1400];
	int due, rc;

	pthread_mutex_lock(&s->lock);
	due = !s->map_revoked && s->revoke_ms > 0 && s->map_gen < s->revoke_gen;
	if (due) {
		age = mono_ms() - s->revoke_ms;
		due = now || age >= retry_ms(s->o.sync_interval_ms) / 2;
	}
	pthread_mutex_unlock(&s->lock);
	if (!due)
		return;
	if ((rc = mapfile_revoke(s->path, s->spare_path, err,
	    sizeof(err))) < 0) {
		log_warnx("map %s still grants what was taken away, and "
		    "cannot be emptied: %s", s->path, err);
		return;
	}
	log_warnx("map %s: grants taken away %lld ms ago cannot be written "
	    "(%s): %s, so that mail servers stop relaying for them; until "
	    "it is written again, no address is granted through the map "
	    "(live lookups answer as before)", s->path, (long long)age, why,
	    rc == 1 ? "replaced it with an empty map" : "removed it (no "
	    "empty map was at hand): mail servers defer relaying");
	mapfile_edit_close(s->medit);	/* the empty map replaced it */
	s->medit = NULL;
	pthread_mutex_lock(&s->lock);
	s->map_revoked = 1;
	s->whole_gen = s->gen;
	pthread_mutex_unlock(&s->lock);
}

/* map_written - a map write holding change g succeeded; with map_lock
 * and s->lock held */
static void
map_written(struct store *s, uint64_t g)
{
	if (g > s->map_gen)
		s->map_gen = g;
	if (g >= s->revoke_gen)
		s->revoke_ms = 0;
	if (s->map_revoked)
		log_info("map %s is written again, with every grant", s->path);
	s->map_revoked = 0;
}

/* store_map_write - rewrite the map from the table, which holds change g */
int
store_map_write(struct store *s, uint64_t g, char *err, size_t errlen)
{
	struct walk w;
	int rc = -1;

	pthread_mutex_lock(&s->map_lock);
	mapfile_edit_close(s->medit);	/* its file is about to go */
	s->medit = NULL;
	if (walk_start(&w, s) < 0)
		snprintf(err, errlen, "map: out of memory");
	else
		rc = mapfile_write(s->path, &s->o.format, map_fill, &w, err,
		    errlen);
	free(w.info);
	pthread_mutex_lock(&s->lock);
	if (rc == 0) {
		s->st.map_writes++;
		s->st.map_written = (int64_t)time(NULL);
	} else
		s->st.map_failures++;
	if (rc == 0)
		map_written(s, g);
	if (rc != 0 && g > s->map_failed_gen)
		s->map_failed_gen = g;
	if (rc != 0)
		s->whole_gen = s->gen;
	pthread_cond_broadcast(&s->durable_cv);
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		write_spare(s);
	pthread_mutex_unlock(&s->map_lock);
	return rc;
}

/* ---- edits in place (sync interval 0, or map_update = edit) ---- */

#define DIRTY_MAX	65536	/* addresses; past it, a whole rewrite */

/* edits - is the map edited in place (else rewritten whole each time)? */
static int
edits(const struct store *s)
{
	return s->o.sync_interval_ms == 0 || s->o.map_edit;
}

/* store_map_dirty - with edits in place, a's grant changed: the next
 * map write edits its key in place.  With s->lock held. */
void
store_map_dirty(struct store *s, const struct addr *a)
{
	struct addr *p;
	size_t cap;

	/* kept even while a whole rewrite is due: one already walking
	 * the table may have passed a's entry */
	if (!edits(s))
		return;
	if (s->ndirty == s->dirty_cap) {
		cap = s->dirty_cap ? s->dirty_cap * 2 : 256;
		if (cap > DIRTY_MAX ||
		    (p = realloc(s->dirty, cap * sizeof(*p))) == NULL) {
			store_map_whole(s);
			return;
		}
		s->dirty = p;
		s->dirty_cap = cap;
	}
	s->dirty[s->ndirty++] = *a;
}

/* store_map_whole - the next map write replaces the whole file (a flush,
 * too many edits, a failure).  With s->lock held. */
void
store_map_whole(struct store *s)
{
	s->whole_gen = s->gen;
	s->ndirty = 0;
}

/* edit_recs - the map records of the addresses waiting, as the table has
 * them now (expires 0: delete); takes them from s.  With s->lock held. */
static struct map_rec *
edit_recs(struct store *s, size_t *n)
{
	struct map_rec *recs;
	struct entry *e;
	time_t now = store_now(s);
	size_t i;

	*n = s->ndirty;
	if ((recs = calloc(*n ? *n : 1, sizeof(*recs))) == NULL)
		return NULL;
	for (i = 0; i < *n; i++) {
		recs[i].addr = s->dirty[i];
		e = table_lookup(&s->t, &s->dirty[i]);
		recs[i].expires = e != NULL && e->expires > now ?
		    e->expires : 0;
	}
	s->ndirty = 0;
	return recs;
}

/* touch_due - is the map's mtime to move now?  With s->lock held. */
static int
touch_due(const struct store *s)
{
	return s->touch_at != 0 && time(NULL) >= s->touch_at;
}

/* edit_done - the edit holding change g succeeded or failed; with
 * map_lock held */
static void
edit_done(struct store *s, uint64_t g, int ok)
{
	pthread_mutex_lock(&s->lock);
	if (ok) {
		s->st.map_writes++;
		s->st.map_written = (int64_t)time(NULL);
		map_written(s, g);
		/* an MTA that opened the map this second must see a later
		 * mtime: the next second, unless an edit then moves it */
		s->touch_at = time(NULL) + 1;
	} else {
		s->st.map_failures++;
		if (g > s->map_failed_gen)
			s->map_failed_gen = g;
		store_map_whole(s);
	}
	pthread_cond_broadcast(&s->durable_cv);
	pthread_mutex_unlock(&s->lock);
}

/* map_edit - the changes waiting, in place; with map_lock held */
static int
map_edit(struct store *s, uint64_t g, char *err, size_t errlen)
{
	struct map_rec *recs;
	size_t n;
	int rc = -1, touch;

	if (s->medit == NULL && mapfile_edit_open(s->path, &s->o.format,
	    &s->medit, err, errlen) < 0) {
		edit_done(s, g, 0);
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	recs = edit_recs(s, &n);
	touch = n == 0 && touch_due(s);
	if (touch)
		s->touch_at = 0;
	pthread_mutex_unlock(&s->lock);
	if (recs == NULL)
		snprintf(err, errlen, "map edit: out of memory");
	else if (touch)		/* if it fails, the next edit moves it */
		rc = 0, (void)mapfile_edit_touch(s->medit, 0);
	else
		rc = mapfile_edit(s->medit, recs, n, err, errlen);
	free(recs);
	if (!touch)
		edit_done(s, g, rc == 0);
	if (rc < 0) {
		mapfile_edit_close(s->medit);
		s->medit = NULL;
	}
	return rc;
}

/* store_map_close - at exit: a touch still due is done now, to the
 * second it was due (less than a second ahead), and the map closed */
void
store_map_close(struct store *s)
{
	if (s->medit != NULL && s->touch_at != 0)
		(void)mapfile_edit_touch(s->medit, s->touch_at);
	s->touch_at = 0;
	mapfile_edit_close(s->medit);
	s->medit = NULL;
}

/*
 * store_map_update - bring the map to change g: with edits in place
 * (sync interval 0, map_update = edit) only the keys that changed,
 * unless a whole rewrite is due (at start, after a flush, too many
 * edits, or a failure); else rewrite it whole.
 */
int
store_map_update(struct store *s, uint64_t g, char *err, size_t errlen)
{
	int whole, rc;

	pthread_mutex_lock(&s->lock);
	whole = !edits(s) || s->whole_gen > s->map_gen;
	pthread_mutex_unlock(&s->lock);
	if (whole)
		return store_map_write(s, g, err, errlen);
	pthread_mutex_lock(&s->map_lock);
	rc = map_edit(s, g, err, errlen);
	pthread_mutex_unlock(&s->map_lock);
	return rc;
}

/* store_fail_closed - after a failed publish: fail_closed (now: at exit) */
void
store_fail_closed(struct store *s, int now, const char *why)
{
	pthread_mutex_lock(&s->map_lock);
	fail_closed(s, now, why);
	pthread_mutex_unlock(&s->map_lock);
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
	if (store_sync(s, err, errlen) < 0 ||
	    store_map_update(s, g, err, errlen) < 0) {
		store_fail_closed(s, 0, err);
		return -1;
	}
	return 0;
}

/* ---- compaction ---- */

/* in_table - a senv_sink for pruning: does the table still hold r? */
static int
in_table(void *arg, const struct jrec *r)
{
	struct store *s = arg;
	int found;

	pthread_mutex_lock(&s->lock);
	found = table_lookup(&s->t, &r->addr) != NULL;
	pthread_mutex_unlock(&s->lock);
	return found;
}

/* prune - delete from the environment what the table no longer holds
 * (expired, deleted, or a record lost), a chunk per jio_lock hold */
static int
prune(struct store *s, char *err, size_t errlen)
{
	struct senv_pos pos;
	int rc;

	memset(&pos, 0, sizeof(pos));
	do {
		pthread_mutex_lock(&s->jio_lock);
		rc = senv_prune(s->env, &pos, in_table, s, err, errlen);
		pthread_mutex_unlock(&s->jio_lock);
	} while (rc == 0);
	return rc < 0 ? -1 : 0;
}

/* info_rec - a record setting the state of i */
static void
info_rec(const struct store_info *i, struct jrec *r)
{
	memset(r, 0, sizeof(*r));
	r->type = JREC_SET;
	r->addr = i->addr;
	r->expires = i->expires;
	r->first_seen = (uint32_t)i->first_seen;
	r->adds = i->adds;
	memcpy(r->user, i->user, sizeof(r->user));
}

/* write_chunk - the next WALK_CHUNK entries of the table; with jio_lock
 * held from reading them to committing them, so that a later change's
 * record (applied under jio_lock too) always lands after */
static int
write_chunk(struct store *s, uint64_t *cursor, struct store_info *info,
    struct jrec *recs, char *err, size_t errlen)
{
	size_t n, i;
	int rc;

	pthread_mutex_lock(&s->jio_lock);
	n = store_walk(s, cursor, info, WALK_CHUNK);
	for (i = 0; i < n; i++)
		info_rec(&info[i], &recs[i]);
	rc = senv_apply(s->env, recs, n, 0, err, errlen);
	pthread_mutex_unlock(&s->jio_lock);
	return rc;
}

/* write_all - every entry of the table into the environment, then prune
 * what it does not hold and mark the state complete: after records were
 * lost, and when importing */
static int
write_all(struct store *s, char *err, size_t errlen)
{
	struct store_info *info = calloc(WALK_CHUNK, sizeof(*info));
	struct jrec *recs = calloc(WALK_CHUNK, sizeof(*recs));
	struct jrec end = {.type = JREC_END};
	uint64_t cursor = 0;
	int rc = -1;

	if (info == NULL || recs == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	do
		if (write_chunk(s, &cursor, info, recs, err, errlen) < 0)
			goto out;
	while (cursor != 0);
	if (prune(s, err, errlen) < 0)
		goto out;
	pthread_mutex_lock(&s->jio_lock);
	rc = senv_apply(s->env, &end, 1, 1, err, errlen);
	pthread_mutex_unlock(&s->jio_lock);
out:
	free(info);
	free(recs);
	return rc;
}

/* compact - checkpoint the environment (the log before the checkpoint
 * goes), after committing the records waiting; prune it first if asked;
 * after lost records, write every entry first */
static int
compact(struct store *s, int pruning, char *err, size_t errlen)
{
	uint64_t j;
	int resync, rc = 0;

	pthread_mutex_lock(&s->compact_lock);
	if (store_sync(s, err, errlen) < 0) {
		pthread_mutex_unlock(&s->compact_lock);
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	resync = s->need_compact;
	pruning = pruning || resync || prune_due(s);
	s->need_compact = 0;
	s->jbytes = 0;
	if (pruning)
		s->pbytes = 0;
	j = s->jgen;
	pthread_mutex_unlock(&s->lock);
	if (resync) {
		log_warnx("%s: changes were dropped (more than %d MB waiting, "
		    "or a failed write): writing every entry", s->env_path,
		    JBUF_MAX / (1024 * 1024));
		rc = write_all(s, err, errlen);
	}
	else if (pruning)
		rc = prune(s, err, errlen);
	if (rc == 0)
		rc = senv_checkpoint(s->env, err, errlen);
	pthread_mutex_lock(&s->lock);
	if (rc == 0 && resync)	/* including what could not be written */
		journal_outcome(s, j, 1);
	if (rc < 0)		/* try again later */
		s->need_compact |= resync;
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&s->compact_lock);
	return rc;
}

/* store_compact - prune the environment of what the table no longer
 * holds (expired, deleted), and checkpoint it */
int
store_compact(struct store *s, char *err, size_t errlen)
{
	return compact(s, 1, err, errlen);
}

/* compact_auto - the compaction thread's: a checkpoint, and a prune when
 * due */
static int
compact_auto(struct store *s, char *err, size_t errlen)
{
	if (s->group && atomic_load(&s->role) != STORE_ROLE_MASTER)
		return 0;	/* a replica writes nothing */
	return compact(s, 0, err, errlen);
}

/* ---- the threads ---- */

struct writer {
	int bit;
	int paced;		/* at most once per sync interval */
	int gathers;		/* serves adders waiting (interval 0) */
	pthread_cond_t *(*cv)(struct store *);
	int (*pending)(const struct store *);
	int (*write)(struct store *, char *, size_t);
	const char *thread;	/* its thread's name, as ps -L shows it */
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
	return s->map_gen < s->gen || touch_due(s);
}

static const struct writer writers[] = {
	{W_SYNC, 1, 0, sync_cv, sync_pending, store_sync, "dracd-journal"},
	{W_MAP, 1, 1, map_cv, map_pending, store_publish, "dracd-map"},
	{W_COMPACT, 0, 0, compact_cv, compact_due, compact_auto,
	    "dracd-snapshot"},
};

struct writer_arg {
	struct store *s;
	const struct writer *w;
};

/*
 * gather - with sync interval 0, before a map write: give the adders the
 * last write served up to GATHER_US to come back with their next add, so
 * that one write serves them all again rather than the first alone.
 * With s->lock held.
 */
static void
gather(struct store *s)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += GATHER_US * 1000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	s->gathering = 1;
	while (s->durable_waiters < s->last_group && !s->stopping &&
	    pthread_cond_timedwait(&s->map_cv, &s->lock, &ts) == 0)
		;
	s->gathering = 0;
	s->last_group = s->durable_waiters;
}

/* idle_wait - a writer with nothing to do waits for a signal; the map
 * writer, with a touch of the map's mtime due, until then at most */
static void
idle_wait(struct store *s, const struct writer *w)
{
	struct timespec ts;

	if (w->bit == W_MAP && s->touch_at != 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts = store_deadline(CLOCK_MONOTONIC, (int64_t)s->touch_at *
		    1000 - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
		pthread_cond_timedwait(w->cv(s), &s->lock, &ts);
	} else
		pthread_cond_wait(w->cv(s), &s->lock);
}

/*
 * writer_loop - one writer's thread: write when there is something to
 * write, at most once per sync interval (compactions: whenever due), and
 * at once while an adder waits (sync interval 0).  After a failure, once
 * a second at most.
 */
static void
writer_loop(struct store *s, const struct writer *w)
{
	int64_t interval = w->paced ? s->o.sync_interval_ms : 0, next = 0;
	char err[1400];
	int failing = 0;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		int64_t t = mono_ms();
		struct timespec ts;

		if (!w->pending(s)) {
			s->idle |= w->bit;
			idle_wait(s, w);
			s->idle &= ~w->bit;
			continue;
		}
		if (t < next && (s->durable_waiters == 0 || failing)) {
			ts = store_deadline(CLOCK_MONOTONIC, next - t);
			pthread_cond_timedwait(w->cv(s), &s->lock, &ts);
			continue;
		}
		if (w->gathers && interval == 0 && !failing)
			gather(s);
		pthread_mutex_unlock(&s->lock);
		/* the next write may start one interval after this one
		 * started, so a change waits at most one interval */
		next = t + interval;
		failing = w->write(s, err, sizeof(err)) < 0;
		if (failing) {
			note_failure(s, w->bit, err);
			next = mono_ms() + retry_ms(interval);
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

	pthread_setname_np(pthread_self(), a->w->thread);
	writer_loop(a->s, a->w);
	free(a);
	return NULL;
}

/* store_writers_start - the sync, map and compaction threads; how many
 * started (3 unless something failed) */
size_t
store_writers_start(struct store *s)
{
	pthread_t *thr[] = {&s->sync_thr, &s->map_thr, &s->compact_thr};
	struct writer_arg *a;
	size_t i;

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
	return i;
}

/* ---- loading ---- */

/* load_map_rec - one record of a DRAC map, unless already past */
static int
load_map_rec(void *arg, const struct map_rec *r)
{
	struct store *s = arg;
	struct entry *e;

	if (r->expires <= store_now(s) || table_lookup(&s->t, &r->addr) != NULL)
		return 0;
	if ((e = table_insert(&s->t, &r->addr)) == NULL)
		return -1;
	e->expires = r->expires;
	e->first_seen = (uint32_t)store_now(s);
	table_reheap(&s->t, e);
	return 0;
}

/* replay_set - an entry's whole state from a record */
static int
replay_set(struct store *s, const struct jrec *r)
{
	struct entry *e = table_lookup(&s->t, &r->addr);

	if (r->expires <= store_now(s)) {	/* past its time since */
		if (e != NULL)
			table_unlink(&s->t, e);
		return 0;
	}
	if (e == NULL && (e = table_insert(&s->t, &r->addr)) == NULL)
		return -1;
	e->expires = r->expires;
	e->first_seen = r->first_seen;
	e->adds = r->adds;
	table_reheap(&s->t, e);
	free(e->user);
	e->user = NULL;
	return r->user[0] == '\0' || (e->user = strdup(r->user)) != NULL ?
	    0 : -1;
}

/* load_env_rec - a senv_sink: one record of the environment */
static int
load_env_rec(void *arg, const struct jrec *r)
{
	return replay_set(arg, r);
}

/* what an import has met in one old file */
struct loading {
	struct store *s;
	int stretches;			/* bad stretches, records after */
	size_t dropped;			/* entries dropped at them */
};

/*
 * load_damage - a bad stretch in an old segment, with whole records
 * after it.  What it held is lost, and may have been a delete or a flush
 * of any entry loaded so far: so that no deleted grant ever comes back,
 * they are all dropped, as by a flush, before the records after it.
 */
static int
load_damage(void *arg, off_t at, off_t len)
{
	struct loading *l = arg;
	struct store *s = l->s;

	(void)at, (void)len;
	l->stretches++;
	l->dropped += s->t.count;
	table_clear(&s->t);
	return 0;
}

/* load_jrec - one record of the old snapshot or journal into the table */
static int
load_jrec(void *arg, const struct jrec *r)
{
	struct loading *l = arg;
	struct store *s = l->s;
	struct entry *e;

	switch (r->type) {
	case JREC_SET:
		return replay_set(s, r);
	case JREC_DEL:
		if ((e = table_lookup(&s->t, &r->addr)) != NULL)
			table_unlink(&s->t, e);
		return 0;
	case JREC_FLUSH:
		while (s->t.heap_len > 0)
			table_unlink(&s->t, s->t.heap[s->t.heap_len - 1]);
		return 0;
	default:
		return 0;
	}
}

/* import_segment - replay one old journal segment; damage is said loudly */
static int
import_segment(struct store *s, uint64_t seq, char *err, size_t errlen)
{
	struct loading l = {s, 0, 0};
	struct jvisit v = {load_jrec, load_damage, &l};
	char seg[1100];
	uint64_t hseq = 0;
	struct stat st;
	off_t good;

	if (journal_segment_path(s->path, seq, seg, sizeof(seg)) < 0 ||
	    journal_read(seg, 0, &hseq, &v, &good, err, errlen) < 0)
		return -1;
	if (stat(seg, &st) == 0 && st.st_size > good)
		log_warnx("%s: the last %lld bytes are not whole records (a "
		    "write cut short): ignored", seg,
		    (long long)(st.st_size - good));
	if (l.stretches > 0)
		log_warnx("%s: DAMAGED: %d stretches are not whole records; "
		    "so that no deleted grant comes back, the %zu grants "
		    "loaded before the damage were dropped", seg, l.stretches,
		    l.dropped);
	return 0;
}

/* drop_segments - remove the old journal segments below below */
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

/*
 * import_old - the previous format's state (PATH.state and its journal
 * segments), or for a DRAC map without it, the map; 1 if the old
 * format's files were there
 */
static int
import_old(struct store *s, char *err, size_t errlen)
{
	uint64_t first = 0, *seqs;
	size_t n, i;
	struct loading l = {s, 0, 0};
	struct jvisit v = {load_jrec, NULL, &l};
	off_t good;
	int rc, old;

	if ((rc = journal_read(s->state_path, 1, &first, &v, &good,
	    err, errlen)) < 0)
		return -1;
	if (journal_segments(s->path, &seqs, &n) < 0) {
		snprintf(err, errlen, "%s: cannot list its directory: %s",
		    s->path, strerror(errno));
		return -1;
	}
	old = rc > 0 || n > 0;
	if (rc == 0 && mapfile_read(s->path, load_map_rec, s, err,
	    errlen) < 0)
		rc = -1;
	else
		rc = 0;
	for (i = 0; i < n && rc == 0; i++)
		if (seqs[i] >= first)
			rc = import_segment(s, seqs[i], err, errlen);
	free(seqs);
	return rc < 0 ? -1 : old;
}

/*
 * store_load - open the environment (recovering it) and load the table
 * from it.  A new or incomplete one (a crash cut its import short) is
 * filled first: with -i empty, else from the previous format's files or a
 * DRAC map, which are removed once the environment holds them all.
 */
int
store_load(struct store *s, char *err, size_t errlen)
{
	int created, rc, old = 0;

	if (senv_open(s->env_path, NULL, &s->env, &created, err, errlen) < 0)
		return -1;
	if ((rc = senv_load(s->env, load_env_rec, s, err, errlen)) != 0)
		return rc < 0 ? -1 : 0;
	if (!s->o.truncate && (old = import_old(s, err, errlen)) < 0)
		return -1;
	if (write_all(s, err, errlen) < 0 ||
	    senv_checkpoint(s->env, err, errlen) < 0)
		return -1;
	if (old) {
		log_info("%s: imported %zu grants from %s and its journal "
		    "into %s; the old files are removed", s->path, s->t.count,
		    s->state_path, s->env_path);
		unlink(s->state_path);
		drop_segments(s, UINT64_MAX);
	} else if (!created)
		log_warnx("%s: an import was cut short: imported again",
		    s->env_path);
	return 0;
}

/* format_text - a map format for the log */
static void
format_text(const struct map_format *f, char *buf, size_t len)
{
	snprintf(buf, len, "map_type = %s, map_keys = %s, map_nul = %s",
	    f->hash ? "hash" : "btree", f->cidr ? "cidr" : "plain",
	    f->nul ? "yes" : "no");
}

/*
 * store_map_format - settle the map's format: each part a setting names
 * (o.format), the rest (o.format_auto) as the existing map has it, so a
 * DRAC map that Postfix reads as hash: or Exim as dbm keeps working; no
 * map, or an empty one for the key parts: btree, plain keys, no NUL.  A
 * map is converted only when a setting asks; either way the log says.
 */
void
store_map_format(struct store *s)
{
	struct map_format found = {0, 0, 0}, *f = &s->o.format;
	unsigned int au = s->o.format_auto;
	char err[512], was[96], now[96];
	int keys, rc;

	if ((rc = mapfile_detect(s->path, &found, &keys, err,
	    sizeof(err))) < 0)
		log_warnx("cannot tell the format of the map: %s", err);
	if (rc <= 0 || !keys)
		found.cidr = found.nul = 0;
	if (au & MAP_AUTO_TYPE)
		f->hash = rc > 0 ? found.hash : 0;
	if (au & MAP_AUTO_KEYS)
		f->cidr = found.cidr;
	if (au & MAP_AUTO_NUL)
		f->nul = found.nul;
	if (rc <= 0)
		return;
	format_text(&found, was, sizeof(was));
	format_text(f, now, sizeof(now));
	if (f->hash == found.hash && (!keys || (f->cidr == found.cidr &&
	    f->nul == found.nul)))
		log_info("%s: found a map with %s%s; kept", s->path, was,
		    keys ? "" : " (empty: keys as set)");
	else
		log_warnx("%s: found a map with %s; converting it to %s, as "
		    "dracd.conf asks: mail servers reading it must be told",
		    s->path, was, now);
}

/*
 * store_reload - a group's member: the table again, whole, from the
 * replicated state.db; the map is written whole next
 */
int
store_reload(struct store *s, char *err, size_t errlen)
{
	int rc;

	/* the state readable first, before the table goes: replication may
	 * lock this member out (a sync under way), and a failure then
	 * keeps the table it had */
	if (senv_complete(s->env, err, errlen) < 0)
		return -1;
	pthread_mutex_lock(&s->lock);
	table_clear(&s->t);
	s->loading = 1;
	rc = senv_load(s->env, load_env_rec, s, err, errlen);
	s->loading = 0;
	s->gen++;
	s->whole_gen = s->gen;
	s->revoke_gen = s->gen;
	if (s->revoke_ms == 0)
		s->revoke_ms = mono_ms();
	store_wake(s, W_MAP, &s->map_cv);
	pthread_cond_signal(&s->expiry_cv);
	pthread_mutex_unlock(&s->lock);
	return rc < 0 ? -1 : 0;
}

/*
 * store_demoted - a group's master is a replica now: records not yet
 * committed cannot be (a replica writes nothing); their adders hear a
 * failure, and nothing is to be compacted here
 */
void
store_demoted(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	s->jbuf.len = 0;
	s->durable_failed_gen = s->jgen;
	s->need_compact = 0;
	s->jbytes = s->pbytes = 0;
	pthread_cond_broadcast(&s->durable_cv);
	pthread_mutex_unlock(&s->lock);
	log_warnx("group: this member is no longer the master");
}

/* store_remove_state - -i: the environment and any old files go */
void
store_remove_state(struct store *s)
{
	unlink(s->state_path);
	drop_segments(s, UINT64_MAX);
	if (senv_remove(s->env_path) < 0)
		log_warn("%s: cannot remove the environment's files",
		    s->env_path);
}

/* store_env_close - checkpoint the environment (so the next start has
 * little to recover) and close it */
void
store_env_close(struct store *s)
{
	char err[1400];

	if (s->env == NULL)
		return;
	/* a group's master would wait in the checkpoint for members gone
	 * (Berkeley DB yields until they answer): recovery at the next
	 * start does the work instead */
	if (!s->group && senv_checkpoint(s->env, err, sizeof(err)) < 0)
		log_warnx("at exit: %s", err);
	senv_close(s->env);
	s->env = NULL;
}
