/*
 * store_group.c - the store as a member of a group (dracd.conf's
 * group_local): its role, the follower that keeps a replica's table
 * current from the change feed, and calls passed to the master.
 *
 * One thread, "dracd-group", joins the group (retrying while no member
 * takes this one in), takes the role Berkeley DB's elections give it,
 * and, on a replica, applies each change of the feed (store_rep.c) to
 * the table as replication brings it.  The master serves the calls
 * replicas pass it (serve) with the store's own calls: they find it the
 * master and run here.
 *
 * Threading: role is atomic; applied_seq, applied_ms and group_kick are
 * group_lock's, which waits on group_cv share; the databases' handles
 * are (re)opened by this thread alone, with jio_lock held so that no
 * writer is inside the environment meanwhile.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mono.h"
#include "store_int.h"

#define FOLLOW_BATCH	1000		/* changes applied per read */
#define POLL_MIN_MS	1		/* the follower's wait while busy */
#define POLL_MAX_MS	20		/* and at most, idle */
#define FORWARD_MS	2000		/* the master's answer, at most */
#define APPLIED_MS	1000		/* the change reaching us, at most */
#define CHANGES_KEEP	1000000		/* changes kept for members behind */
#define PRUNE_EVERY_MS	10000
#define JOIN_FIRST_MS	3000		/* see join_first */
#define TICK_MS		100		/* the master's own round */
#define GROUP_FLUSH_MS	100		/* see flush_log */
#define FROZEN_MS	1000		/* a round this late: we were stopped */
#define SUSPECT_HOLD_MS	3000		/* and then no calls for this long */
#define BUSY_MS		2000		/* a follower locked out this long
					 * opens the databases again */
#define RETRY_MS	50		/* between tries while no master */
#define STALL_MS	20000		/* see watch_main */
#define WATCH_MS	1000
#define NOT_MASTER	(-101)		/* a reply's result: ask again */
#define REQ_LEN		28
#define REPLY_LEN	22

/* kick - wake the group thread (an event, a waiter) */
static void
kick(struct store *s)
{
	pthread_mutex_lock(&s->group_lock);
	s->group_kick = 1;
	pthread_cond_broadcast(&s->group_cv);
	pthread_mutex_unlock(&s->group_lock);
}

/* on_event - Berkeley DB's replication events: the thread sorts them;
 * a master that Berkeley DB has made a client stops being one at once,
 * not at the thread's next round (two members saying master a moment
 * after an election) */
static void
on_event(void *arg, enum senv_event ev)
{
	struct store *s = arg;
	int master = STORE_ROLE_MASTER;

	if (ev == SENV_EV_CLIENT)
		atomic_compare_exchange_strong(&s->role, &master,
		    STORE_ROLE_NONE);
	kick(s);
}

/* ---- the wire between members: fixed little-endian fields ---- */

/* encode_req - a call for the master: version, op, family, user length,
 * ttl, address, user */
static size_t
encode_req(unsigned char *b, int op, const struct addr *a, int64_t ttl,
    const char *user)
{
	size_t ulen = user != NULL ? strnlen(user, MAPFILE_USERMAX) : 0;

	memset(b, 0, REQ_LEN);
	b[0] = 1;
	b[1] = (unsigned char)op;
	if (a != NULL) {
		b[2] = a->family == AF_INET6 ? 6 : 4;
		memcpy(b + 12, a->bytes, b[2] == 6 ? 16 : 4);
	}
	b[3] = (unsigned char)ulen;
	le_put(b + 4, (uint64_t)ttl, 8);
	memcpy(b + REQ_LEN, user, ulen);
	return REQ_LEN + ulen;
}

/* encode_reply - the master's answer: version, fresh, result, expiry,
 * the change's number */
static size_t
encode_reply(unsigned char *b, int rc, int fresh, int64_t expires,
    uint64_t seq)
{
	b[0] = 1;
	b[1] = (unsigned char)fresh;
	le_put(b + 2, (uint32_t)rc, 4);
	le_put(b + 6, (uint64_t)expires, 8);
	le_put(b + 14, seq, 8);
	return REPLY_LEN;
}

/*
 * serve - on the master, a call a replica passed on: run as the store's
 * own (the rights were the replica's to check), answered with the number
 * of the change that made it, so the replica can wait for it
 */
static size_t
serve(void *arg, const unsigned char *q, size_t len, unsigned char *reply,
    size_t cap)
{
	struct store *s = arg;
	char user[MAPFILE_USERMAX + 1];
	struct addr a;
	int64_t expires = 0;
	int rc = -1, fresh = 0;

	if (cap < REPLY_LEN)
		return 0;
	if (len == REQ_LEN && q[0] == 1 && q[1] == FWD_PING)
		return encode_reply(reply, 0, 0, 0, 0);
	if (len < REQ_LEN || q[0] != 1 || len != REQ_LEN + (size_t)q[3] ||
	    q[3] > MAPFILE_USERMAX || (q[1] != FWD_FLUSH && q[2] != 4 &&
	    q[2] != 6))
		return encode_reply(reply, -1, 0, 0, 0);
	if (atomic_load(&s->role) != STORE_ROLE_MASTER)	/* not yet, or
							 * no longer */
		return encode_reply(reply, NOT_MASTER, 0, 0, 0);
	memset(&a, 0, sizeof(a));
	a.family = q[2] == 6 ? AF_INET6 : AF_INET;
	memcpy(a.bytes, q + 12, q[2] == 6 ? 16 : 4);
	memcpy(user, q + REQ_LEN, q[3]);
	user[q[3]] = '\0';
	switch (q[1]) {
	case FWD_ADD:
		rc = store_grant(s, &a, (int64_t)le_get(q + 4, 8), user,
		    &expires, &fresh);
		break;
	case FWD_DEL:
		rc = store_del(s, &a);
		break;
	case FWD_FLUSH:
		store_flush(s);
		rc = 0;
		break;
	}
	return encode_reply(reply, rc, fresh, expires,
	    senv_committed_seq(s->env));
}

/* wait_applied - until this member has applied change seq, or ms pass */
static int
wait_applied(struct store *s, uint64_t seq, int64_t ms)
{
	struct timespec ts = store_deadline(CLOCK_MONOTONIC, ms);
	int ok;

	pthread_mutex_lock(&s->group_lock);
	s->group_kick = 1;
	pthread_cond_broadcast(&s->group_cv);
	while (s->applied_seq < seq && atomic_load(&s->role) ==
	    STORE_ROLE_REPLICA && pthread_cond_timedwait(&s->group_cv,
	    &s->group_lock, &ts) != ETIMEDOUT)
		;
	ok = s->applied_seq >= seq;
	pthread_mutex_unlock(&s->group_lock);
	return ok;
}

/* forward_once - one try: the master's result, NOT_MASTER when there is
 * none now, it is not ready or it did not answer; -1 on a bad reply */
static int
forward_once(struct store *s, const unsigned char *q, size_t qlen,
    unsigned char *r, size_t cap, int64_t ms)
{
	char err[512];
	size_t got;

	if (ms <= 0)
		return -1;
	/* no master known, or the one asked is gone: the next try goes to
	 * whichever member is elected (an add made twice is one grant) */
	if (senv_forward(s->env, q, qlen, r, cap, &got, (int)ms, err,
	    sizeof(err)) < 0)
		return NOT_MASTER;
	if (got != REPLY_LEN || r[0] != 1)
		return -1;
	return (int32_t)le_get(r + 2, 4);
}

/* wait_kick - up to ms, or until the group thread is kicked */
static void
wait_kick(struct store *s, int64_t ms)
{
	struct timespec ts = store_deadline(CLOCK_MONOTONIC, ms);

	pthread_mutex_lock(&s->group_lock);
	pthread_cond_timedwait(&s->group_cv, &s->group_lock, &ts);
	pthread_mutex_unlock(&s->group_lock);
}

/*
 * store_group_forward - a call made at a replica, passed to the master:
 * its result, once the change has reached this member's table too (a
 * check here right after then agrees); -1 when there is no master or it
 * does not answer in time; STORE_LOCAL when this member has become the
 * master meanwhile (the caller makes the call itself)
 */
int
store_group_forward(struct store *s, int op, const struct addr *a,
    int64_t ttl, const char *user, int64_t *expires, int *fresh)
{
	unsigned char q[REQ_LEN + MAPFILE_USERMAX], r[64];
	int64_t deadline = mono_ms() + FORWARD_MS;
	size_t qlen = encode_req(q, op, a, ttl, user);
	int rc;

	atomic_fetch_add(&s->forwarded, 1);
	/* during an election there is no master for a moment: again */
	for (;;) {
		if (atomic_load(&s->role) == STORE_ROLE_MASTER)
			return STORE_LOCAL;	/* elected meanwhile */
		rc = forward_once(s, q, qlen, r, sizeof(r),
		    deadline - mono_ms());
		if (rc != NOT_MASTER || mono_ms() + RETRY_MS >= deadline)
			break;
		wait_kick(s, RETRY_MS);
	}
	if (rc == NOT_MASTER || rc == -1) {
		atomic_fetch_add(&s->forward_failures, 1);
		return -1;
	}
	if (expires != NULL)
		*expires = (int64_t)le_get(r + 6, 8);
	if (fresh != NULL)
		*fresh = r[1];
	/* the follower stuck (a stale handle after replication's own
	 * recovery, say) opens the databases again; a member that is not
	 * a replica now (reopening, electing) is not waited for */
	if (rc >= 0 && !wait_applied(s, le_get(r + 14, 8), APPLIED_MS) &&
	    atomic_load(&s->role) == STORE_ROLE_REPLICA &&
	    !atomic_exchange(&s->group_reopen, 1)) {
		kick(s);
		log_warnx("group: a change the master made is not here after "
		    "%d ms: reading the state again", APPLIED_MS);
	}
	return rc;
}

/* ---- the follower ---- */

/* apply_one - a change of the feed into the table */
static int
apply_one(void *arg, uint64_t seq, int64_t ms, const struct jrec *r)
{
	struct store *s = arg;

	if (store_apply_change(s, r) < 0)
		return -1;
	pthread_mutex_lock(&s->group_lock);
	s->applied_seq = seq;
	s->applied_ms = ms;
	pthread_mutex_unlock(&s->group_lock);
	return 0;
}

/* set_applied - the feed's position after a whole load */
static void
set_applied(struct store *s, uint64_t seq)
{
	pthread_mutex_lock(&s->group_lock);
	s->applied_seq = seq;
	pthread_cond_broadcast(&s->group_cv);
	pthread_mutex_unlock(&s->group_lock);
}

/*
 * reload - the whole state again from state.db, and the feed's position
 * before it: changes after that position are applied again, in order,
 * which leaves the same state (each change is an entry's whole state)
 */
static int
reload(struct store *s, char *err, size_t errlen)
{
	uint64_t seq;

	if (senv_last_seq(s->env, &seq, err, errlen) < 0 ||
	    store_reload(s, err, errlen) < 0)
		return -1;
	set_applied(s, seq);
	return 0;
}

/* follow - apply what the feed holds past the last change applied; the
 * number applied, -1 on error (the databases are opened again) */
static int
follow(struct store *s, char *err, size_t errlen)
{
	uint64_t from;
	int n;

	pthread_mutex_lock(&s->group_lock);
	from = s->applied_seq + 1;
	pthread_mutex_unlock(&s->group_lock);
	n = senv_changes(s->env, from, FOLLOW_BATCH, apply_one, s, err,
	    errlen);
	if (n == SENV_BUSY) {	/* an election, a sync: soon again */
		if (s->busy_ms == 0)
			s->busy_ms = mono_ms();
		else if (mono_ms() - s->busy_ms > BUSY_MS) {
			s->busy_ms = 0;
			snprintf(err, errlen, "locked out for %d ms",
			    BUSY_MS);
			return -1;	/* reopened by the caller */
		}
		return 0;
	}
	s->busy_ms = 0;
	if (n == -2) {
		log_info("group: changes since %llu are gone from the feed: "
		    "loading the whole state", (unsigned long long)from);
		return reload(s, err, errlen) < 0 ? -1 : 1;
	}
	if (n > 0) {
		pthread_mutex_lock(&s->group_lock);
		pthread_cond_broadcast(&s->group_cv);
		pthread_mutex_unlock(&s->group_lock);
	}
	return n;
}

/* master_addr - the master's address as this member knows it */
static void
master_addr(struct store *s, char *buf, size_t len)
{
	struct store_group *g = calloc(1, sizeof(*g));

	snprintf(buf, len, "an unknown master");
	if (g == NULL)
		return;
	senv_rep_status(s->env, g);
	if (g->master[0] != '\0')
		snprintf(buf, len, "%s", g->master);
	free(g);
}

/* grants - the table's entries, read under the store's lock (the
 * master's calls and the expiry thread change it meanwhile) */
static size_t
grants(struct store *s)
{
	struct store_stats st;

	store_get_stats(s, &st);
	return (size_t)st.entries;
}

/* become_master - this member won an election: the state loaded whole,
 * the feed's numbering taken up, the writers' calls made here from now on.
 * Only once a commit of its own is acknowledged as group_ack asks: an
 * election under load, or a member stopped a while, can leave two
 * members that Berkeley DB calls master until they meet, and only one
 * has the others behind it. */
static int
become_master(struct store *s, char *err, size_t errlen)
{
	struct jrec end;
	uint64_t seq;
	int rc = -1;

	/* the databases opened again and the state loaded whole: handles a
	 * replica held can be stale after replication's own recovery (a
	 * master numbering its changes from a stale feed would reuse their
	 * numbers), and a whole load at 1,000,000 entries takes 0.5 s */
	pthread_mutex_lock(&s->jio_lock);
	if (senv_rep_open(s->env, 1, err, errlen) < 0)
		goto out;
	rc = reload(s, err, errlen);
	/* the state is complete (store_env.h's mark): a member loading it
	 * whole later takes it as it is */
	memset(&end, 0, sizeof(end));
	end.type = JREC_END;
	if (rc < 0 || senv_last_seq(s->env, &seq, err, errlen) < 0 ||
	    (rc = senv_apply(s->env, &end, 1, 1, err, errlen)) != 0) {
		rc = -1;
		goto out;
	}
	senv_set_next_seq(s->env, seq + 1);
	set_applied(s, seq);
	atomic_store(&s->role, STORE_ROLE_MASTER);
	/* made a client meanwhile (on_event found no master to demote) */
	if (!senv_rep_master(s->env)) {
		atomic_store(&s->role, STORE_ROLE_NONE);
		snprintf(err, errlen, "an election made it a replica meanwhile");
		rc = -1;
		goto out;
	}
	log_info("group: this member is now the master (%zu grants, change "
	    "%llu)", grants(s), (unsigned long long)seq);
	rc = 0;
out:
	pthread_mutex_unlock(&s->jio_lock);
	return rc;
}

/* warm_channel - a first call to the master, which makes the channel's
 * connection now, and TCP_NODELAY on it: the first add at a replica
 * took 44-56 ms without (Nagle and a delayed ACK) */
static void
warm_channel(struct store *s)
{
	unsigned char q[REQ_LEN], r[64];
	char err[512];
	size_t got;

	memset(q, 0, sizeof(q));
	q[0] = 1;
	q[1] = FWD_PING;
	(void)senv_forward(s->env, q, sizeof(q), r, sizeof(r), &got, 500, err,
	    sizeof(err));
	senv_rep_nodelay(s->env);
}

/* become_replica - another member is the master: the state as
 * replication has it, loaded whole, then followed.  1 while the
 * databases are not there yet. */
static int
become_replica(struct store *s, char *err, size_t errlen)
{
	char m[STORE_SITE_ADDR];
	int rc;

	if (atomic_exchange(&s->role, STORE_ROLE_NONE) == STORE_ROLE_MASTER)
		store_demoted(s);
	pthread_mutex_lock(&s->jio_lock);
	if ((rc = senv_rep_open(s->env, 0, err, errlen)) == 0 &&
	    (rc = reload(s, err, errlen)) == 0)
		atomic_store(&s->role, STORE_ROLE_REPLICA);
	pthread_mutex_unlock(&s->jio_lock);
	if (rc == 0) {
		warm_channel(s);
		master_addr(s, m, sizeof(m));
		log_info("group: this member is a replica of %s (%zu grants, "
		    "change %llu)", m, grants(s),
		    (unsigned long long)s->applied_seq);
	}
	return rc;
}

/* prune_feed - the master drops changes no member should need (one
 * further behind loads the whole state) */
static void
prune_feed(struct store *s)
{
	uint64_t last = senv_committed_seq(s->env);
	char err[512];

	if (last <= CHANGES_KEEP)
		return;
	pthread_mutex_lock(&s->jio_lock);
	if (senv_prune_changes(s->env, last - CHANGES_KEEP, err,
	    sizeof(err)) < 0)
		log_warnx("group: %s", err);
	pthread_mutex_unlock(&s->jio_lock);
}

/* say - a failure, once per 10 s at most */
static void
say(int64_t *last, const char *what, const char *err)
{
	int64_t t = mono_ms();

	if (t - *last < 10000)
		return;
	*last = t;
	log_warnx("group: %s: %s", what, err);
}

/* step - one round of the group thread; how long it may wait now */
static int64_t
step(struct store *s, int64_t *said, int *idle)
{
	enum store_role role = atomic_load(&s->role);
	char err[1400];
	int rc;

	if ((rc = senv_rep_start(s->env, err, sizeof(err))) != 0) {
		if (rc < 0)
			say(said, "cannot start replication", err);
		return 1000;	/* no member took us in yet: again */
	}
	if (senv_rep_master(s->env)) {
		/* stopped a while: the others may have a master of their own
		 * by now, which Berkeley DB finds out when the two meet (an
		 * election settles it); until then this one takes no calls */
		if (s->suspect && mono_ms() - s->suspect_ms < SUSPECT_HOLD_MS)
			return 100;
		if (role != STORE_ROLE_MASTER &&
		    become_master(s, err, sizeof(err)) < 0) {
			if (!s->suspect)
				say(said, "cannot take the master's role", err);
			return 100;
		}
		s->suspect = 0;
		senv_rep_police(s->env);
		return TICK_MS;
	}
	s->suspect = 0;
	if (!senv_rep_ready(s->env))
		return 100;
	if (role != STORE_ROLE_REPLICA) {
		/* replication locking calls out a moment (a sync under
		 * way) is not a failure: again soon, as follow does */
		if ((rc = become_replica(s, err, sizeof(err))) < 0 &&
		    rc != SENV_BUSY)
			say(said, "cannot load the group's state", err);
		return rc == 0 ? 0 : 100;
	}
	if (atomic_exchange(&s->group_reopen, 0)) {
		atomic_store(&s->role, STORE_ROLE_NONE);	/* reopen */
		return 0;
	}
	if ((rc = follow(s, err, sizeof(err))) < 0) {
		say(said, "cannot follow the master", err);
		atomic_store(&s->role, STORE_ROLE_NONE);	/* reopen */
		return 100;
	}
	if (rc > 0) {
		*idle = 0;
		return 0;
	}
	/* nothing new: wait a little longer each time, up to POLL_MAX_MS */
	if (*idle < POLL_MAX_MS)
		(*idle)++;
	return *idle < POLL_MIN_MS ? POLL_MIN_MS : *idle;
}

/* flush_log - the log to this member's disk: a group's commits are not
 * flushed one by one (group_ack's members having a commit is what makes
 * it safe; a flush each would cost a disk write per add), and a member's
 * disk lags its log by GROUP_FLUSH_MS at most */
static void
flush_log(struct store *s, int64_t *said)
{
	char err[1400];

	if (s->o.group_ack == STORE_ACK_NONE ||
	    atomic_load(&s->role) == STORE_ROLE_NONE)
		return;
	if (senv_flush(s->env, err, sizeof(err)) < 0)
		say(said, "cannot flush the log", err);
}

/*
 * check_frozen - a master whose group thread was away gap ms, more than
 * FROZEN_MS, was stopped (or starved): the others may have elected
 * another meanwhile.  It stops taking calls (role none): for
 * SUSPECT_HOLD_MS, then until a commit of its own is acknowledged
 * (step, become_master).
 */
static void
check_frozen(struct store *s, int64_t gap)
{
	if (gap <= FROZEN_MS ||
	    atomic_load(&s->role) != STORE_ROLE_MASTER)
		return;
	atomic_store(&s->role, STORE_ROLE_NONE);
	s->suspect = 1;
	s->suspect_ms = mono_ms();
	log_warnx("group: this member was stopped for %lld ms: it takes no "
	    "calls for %d s, then again once the group acknowledges it as "
	    "the master", (long long)gap, SUSPECT_HOLD_MS / 1000);
}

/* group_main - the group thread */
static void *
group_main(void *arg)
{
	struct store *s = arg;
	int64_t said = -100000, wait, pruned = mono_ms();
	int idle = 0;

	int64_t last = mono_ms(), flushed = last;

	pthread_setname_np(pthread_self(), "dracd-group");
	atomic_store(&s->group_tick, last);

	while (!atomic_load(&s->group_stop)) {
		struct timespec ts;

		int64_t t0 = mono_ms();

		/* a round that comes this late, or takes this long, means
		 * the process was stopped (or starved) */
		enum store_role was;

		check_frozen(s, t0 - last);
		was = atomic_load(&s->role);
		wait = step(s, &said, &idle);
		last = mono_ms();
		/* a master's own round is short: a long one was stopped
		 * (taking the role may wait for the group: not counted) */
		if (was == STORE_ROLE_MASTER)
			check_frozen(s, last - t0);
		atomic_store(&s->group_tick, last);
		if (last - flushed >= GROUP_FLUSH_MS) {
			/* and the channels' connections, which repmgr makes
			 * without an event, get TCP_NODELAY too (a first add
			 * at a replica took 44-56 ms without) */
			senv_rep_nodelay(s->env);
			flush_log(s, &said);
			flushed = last;
			if (wait > GROUP_FLUSH_MS)
				wait = GROUP_FLUSH_MS;
		}
		if (atomic_load(&s->role) == STORE_ROLE_MASTER &&
		    mono_ms() - pruned >= PRUNE_EVERY_MS) {
			prune_feed(s);
			pruned = mono_ms();
		}
		if (wait == 0)
			continue;
		ts = store_deadline(CLOCK_MONOTONIC, wait);
		pthread_mutex_lock(&s->group_lock);
		while (!s->group_kick && !atomic_load(&s->group_stop) &&
		    pthread_cond_timedwait(&s->group_cv, &s->group_lock,
		    &ts) != ETIMEDOUT)
			;
		if (s->group_kick)
			idle = 0;
		s->group_kick = 0;
		pthread_mutex_unlock(&s->group_lock);
	}
	return NULL;
}

/*
 * watch_main - the group thread's watchdog.  Berkeley DB 5.3 can keep a
 * member's call into it waiting for good after two elections in a row
 * (a master demoted while committing: the partition test saw its group
 * thread in one database open for minutes, under AddressSanitizer's
 * slowness).  A member whose group thread has not finished a round in
 * STALL_MS says so and exits, for its service manager to start it again
 * (Restart=on-failure): it rejoins the group as any restarted member
 * does.  Time the process spent stopped (SIGSTOP) does not count.
 */
static void *
watch_main(void *arg)
{
	struct store *s = arg;
	int64_t last = mono_ms(), stalled = 0, now, seen;
	struct timespec ts;

	pthread_setname_np(pthread_self(), "dracd-watch");
	seen = atomic_load(&s->group_tick);
	while (!atomic_load(&s->group_stop)) {
		ts = store_deadline(CLOCK_MONOTONIC, WATCH_MS);
		pthread_mutex_lock(&s->group_lock);
		if (!atomic_load(&s->group_stop))
			pthread_cond_timedwait(&s->group_cv, &s->group_lock,
			    &ts);
		pthread_mutex_unlock(&s->group_lock);
		now = mono_ms();
		stalled += now - last > 2 * WATCH_MS ? WATCH_MS : now - last;
		last = now;
		if (atomic_load(&s->group_tick) != seen) {
			seen = atomic_load(&s->group_tick);
			stalled = 0;
		} else if (stalled >= STALL_MS && !atomic_load(&s->group_stop)) {
			log_warnx("group: the group thread has waited on Berkeley "
			    "DB for %d s: exiting, for the service manager to "
			    "start dracd again (it rejoins the group)",
			    STALL_MS / 1000);
			log_flush();
			_exit(EXIT_FAILURE);
		}
	}
	return NULL;
}

/* ---- open, start, stop, status ---- */

/*
 * join_first - the member that sorts first, on a new environment: it
 * creates the group only when none answers.  It tries to join for up to
 * JOIN_FIRST_MS (its environment was lost, and the others are a group
 * already: creating one would make a second group with a second
 * master); when none takes it in, the fresh environment is removed and
 * this start creates the group.  1 with s->env open (joined, or -1 on
 * error), 0 to create.
 */
static int
join_first(struct store *s, struct senv_rep *rep, char *err, size_t errlen)
{
	int64_t until = mono_ms() + JOIN_FIRST_MS;
	int created, rc;

	if (senv_open(s->env_path, rep, &s->env, &created, err, errlen) < 0)
		return -1;
	while ((rc = senv_rep_start(s->env, err, errlen)) == 1 &&
	    mono_ms() < until) {
		struct timespec ts = {0, 200 * 1000000L};

		nanosleep(&ts, NULL);
	}
	if (rc == 0) {
		log_info("group: a new environment joined the group");
		return 1;
	}
	senv_close(s->env);
	s->env = NULL;
	if (rc < 0)
		return -1;
	if (senv_remove(s->env_path) < 0) {
		snprintf(err, errlen, "%s: cannot remove a new environment's "
		    "files", s->env_path);
		return -1;
	}
	rep->creator = 1;
	return 0;
}

/* store_group_open - the environment, replicated; its databases come
 * with the role (the group thread) */
int
store_group_open(struct store *s, char *err, size_t errlen)
{
	struct senv_rep rep;
	pthread_condattr_t mono;
	int created;

	pthread_mutex_init(&s->group_lock, NULL);
	pthread_condattr_init(&mono);
	pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
	pthread_cond_init(&s->group_cv, &mono);
	pthread_condattr_destroy(&mono);
	s->group = 1;
	if (senv_rep_check(s->o.group_local, s->o.group_sites != NULL ?
	    s->o.group_sites : "", err, errlen) < 0)
		return -1;
	memset(&rep, 0, sizeof(rep));
	rep.local = s->o.group_local;
	rep.sites = s->o.group_sites;
	rep.priority = s->o.group_priority;
	rep.ack = s->o.group_ack;
	rep.event = on_event;
	rep.serve = serve;
	rep.arg = s;
	if (senv_rep_first(s->env_path, rep.local, rep.sites) &&
	    join_first(s, &rep, err, errlen) != 0)
		return s->env != NULL ? 0 : -1;
	return senv_open(s->env_path, &rep, &s->env, &created, err, errlen);
}

/* store_group_start - the group thread */
int
store_group_start(struct store *s)
{
	if (pthread_create(&s->group_thr, NULL, group_main, s) != 0)
		return -1;
	if (pthread_create(&s->group_watch, NULL, watch_main, s) == 0)
		s->group_watching = 1;
	else
		log_warnx("group: cannot start the group thread's watchdog");
	return 0;
}

/* store_group_stop - the group thread stops (before the environment
 * closes) */
void
store_group_stop(struct store *s)
{
	atomic_store(&s->group_stop, 1);
	kick(s);
	pthread_join(s->group_thr, NULL);
	if (s->group_watching)
		pthread_join(s->group_watch, NULL);
}

/* store_group_status - what this member knows of its group */
void
store_group_status(struct store *s, struct store_group *g)
{
	memset(g, 0, sizeof(*g));
	if (!s->group)
		return;
	senv_rep_status(s->env, g);
	g->role = atomic_load(&s->role);
	/* a master stopped a while has not yet looked whether it still is
	 * (group_main): until it has, it does not say so */
	if (g->role == STORE_ROLE_MASTER &&
	    mono_ms() - atomic_load(&s->group_tick) > FROZEN_MS)
		g->role = STORE_ROLE_NONE;
	pthread_mutex_lock(&s->group_lock);
	g->seq = s->applied_seq;
	g->seq_ms = s->applied_ms;
	pthread_mutex_unlock(&s->group_lock);
	if (g->role == STORE_ROLE_MASTER) {
		g->seq = senv_committed_seq(s->env);
		g->seq_ms = senv_committed_ms(s->env);
	}
	g->forwarded = atomic_load(&s->forwarded);
	g->forward_failures = atomic_load(&s->forward_failures);
}
