/*
 * store_env.c - the allowlist's durable state in a transactional Berkeley
 * DB environment (store_env.h).
 *
 * One btree, state.db: key = family (4 or 6) and the address bytes;
 * value = expiry (8 bytes), first seen, adds (4 each, little-endian) and
 * the user.  One more key, a single 0 byte, marks the state complete: an
 * import cut short by a crash leaves no mark, and the next start imports
 * again rather than trusting half a list.
 *
 * Commits are DB_TXN_WRITE_NOSYNC followed by one log flush, so a batch
 * of records costs one fdatasync of the log (in a group the flush comes
 * every GROUP_FLUSH_MS, and replicas do not sync what they apply).  The
 * environment is private to the process (DB_PRIVATE: no region files for
 * a crash to leave behind) and recovered at every open.
 */
#include <sys/stat.h>

#include <db.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "store_env.h"
#include "store_env_int.h"

#define ENV_CACHE	(4 * 1024 * 1024)
#define ENV_LOG_MAX	(8 * 1024 * 1024)	/* bytes per log file */
#define ENV_LOCKS	5000		/* locks: pages a batch touches */
#define LOAD_BULK	(1024 * 1024)
#define PRUNE_CHUNK	1000		/* keys per pruning transaction */

__thread char env_msg[256];	/* Berkeley DB's last complaint */

static const unsigned char ready_key[1] = {0};

/* env_errcall - keep Berkeley DB's message for our own error text */
void
env_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env, (void)pfx;
	snprintf(env_msg, sizeof(env_msg), "%s", msg);
}

/* env_error - the text for a failure: Berkeley DB's own words if any */
void
env_error(const struct senv *e, const char *what, int rc, char *err,
    size_t errlen)
{
	snprintf(err, errlen, "%s: %s: %s%s%s", e->home, what,
	    rc > 0 ? strerror(rc) : db_strerror(rc),
	    env_msg[0] != '\0' ? ": " : "", env_msg);
	env_msg[0] = '\0';
}

/* rec_key - r's key into buf; its length */
static uint32_t
rec_key(const struct jrec *r, unsigned char buf[KEY_MAX])
{
	buf[0] = r->addr.family == AF_INET6 ? 6 : 4;
	memcpy(buf + 1, r->addr.bytes, buf[0] == 6 ? 16 : 4);
	return buf[0] == 6 ? 17 : 5;
}

/* rec_value - r's value into buf; its length */
static uint32_t
rec_value(const struct jrec *r, unsigned char buf[VAL_MAX])
{
	size_t ulen = strnlen(r->user, MAPFILE_USERMAX);

	le_put(buf, (uint64_t)r->expires, 8);
	le_put(buf + 8, r->first_seen, 4);
	le_put(buf + 12, r->adds, 4);
	memcpy(buf + 16, r->user, ulen);
	return (uint32_t)(16 + ulen);
}

/* rec_decode - a record from a key and value; -1 if not one (the mark) */
int
rec_decode(const DBT *k, const DBT *v, struct jrec *r)
{
	const unsigned char *kp = k->data, *vp = v->data;

	memset(r, 0, sizeof(*r));
	if (!((k->size == 5 && kp[0] == 4) || (k->size == 17 && kp[0] == 6)) ||
	    v->size < 16 || v->size > VAL_MAX)
		return -1;
	r->type = JREC_SET;
	r->addr.family = kp[0] == 6 ? AF_INET6 : AF_INET;
	memcpy(r->addr.bytes, kp + 1, k->size - 1);
	r->expires = (int64_t)le_get(vp, 8);
	r->first_seen = (uint32_t)le_get(vp + 8, 4);
	r->adds = (uint32_t)le_get(vp + 12, 4);
	memcpy(r->user, vp + 16, v->size - 16);
	return 0;
}

/* dbt_user - a DBT over a buffer of ours (DB_THREAD handles want one) */
void
dbt_user(DBT *d, void *buf, uint32_t cap)
{
	memset(d, 0, sizeof(*d));
	d->data = buf;
	d->ulen = cap;
	d->flags = DB_DBT_USERMEM;
}

/* dbt_in - a DBT over len bytes to write */
void
dbt_in(DBT *d, const void *p, uint32_t len)
{
	memset(d, 0, sizeof(*d));
	d->data = (void *)p;
	d->size = len;
}

/* env_setup - the environment handle with its settings */
static int
env_setup(struct senv *e)
{
	DB_ENV *env;
	int rc;

	if ((rc = db_env_create(&e->env, 0)) != 0)
		return rc;
	env = e->env;
	env->set_errcall(env, env_errcall);
	if ((rc = env->set_cachesize(env, 0, ENV_CACHE, 1)) != 0 ||
	    (rc = env->set_lg_max(env, ENV_LOG_MAX)) != 0 ||
	    (rc = env->set_flags(env, DB_TXN_WRITE_NOSYNC, 1)) != 0 ||
	    /* a replica applying its master's commit syncs its log first
	     * unless the environment says DB_TXN_NOSYNC: an fdatasync
	     * before each acknowledgement (a quorum-acknowledged add at the
	     * master took 0.99 ms at the median instead of 0.46).  The
	     * members flush their logs every GROUP_FLUSH_MS instead
	     * (store_group.c), and our own transactions still write the
	     * log at each commit (TXN_WRITE) */
	    (e->rep.local != NULL &&
	    (rc = env->set_flags(env, DB_TXN_NOSYNC, 1)) != 0) ||
	    (rc = env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1)) != 0 ||
	    (rc = env->set_lk_max_locks(env, ENV_LOCKS)) != 0 ||
	    (rc = env->set_lk_max_objects(env, ENV_LOCKS)) != 0 ||
	    (rc = env->set_lk_detect(env, DB_LOCK_DEFAULT)) != 0)
		return rc;
	if (e->rep.local != NULL && (rc = rep_setup(e)) != 0)
		return rc;
	return env->open(env, e->home, DB_CREATE | DB_INIT_TXN |
	    DB_INIT_LOG | DB_INIT_LOCK | DB_INIT_MPOOL | DB_RECOVER |
	    DB_THREAD | DB_PRIVATE |
	    (e->rep.local != NULL ? DB_INIT_REP : 0), 0600);
}

/*
 * senv_open - the environment in home (made if missing), recovered, and
 * its state.db; *created is 1 when state.db is new.  A failure to
 * recover is an error naming the tool that can look further: dracd does
 * not start over state it cannot read.
 */
int
senv_open(const char *home, const struct senv_rep *rep, struct senv **out,
    int *created, char *err, size_t errlen)
{
	struct senv *e;
	char file[1100];
	struct stat st;
	int rc;

	*out = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(e->home, sizeof(e->home), "%s", home);
	pthread_mutex_init(&e->chan_lock, NULL);
	if (rep != NULL)
		e->rep = *rep;
	snprintf(file, sizeof(file), "%s/state.db", home);
	if (mkdir(home, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", home, strerror(errno));
		free(e);
		return -1;
	}
	*created = stat(file, &st) < 0;
	env_msg[0] = '\0';
	if ((rc = env_setup(e)) != 0) {
		env_error(e, "cannot open or recover the environment (run "
		    "db5.3_recover -c -h on a copy to see more)", rc, err,
		    errlen);
		senv_close(e);
		return -1;
	}
	if (rep != NULL) {	/* the databases once the role is known */
		if (senv_rep_create(e, err, errlen) < 0) {
			senv_close(e);
			return -1;
		}
		*out = e;
		return 0;
	}
	if ((rc = db_create(&e->db, e->env, 0)) != 0 ||
	    (rc = e->db->open(e->db, NULL, "state.db", NULL, DB_BTREE,
	    DB_CREATE | DB_AUTO_COMMIT | DB_THREAD, 0600)) != 0) {
		env_error(e, "state.db", rc, err, errlen);
		senv_close(e);
		return -1;
	}
	*out = e;
	return 0;
}

/* senv_close - close the database and the environment */
void
senv_close(struct senv *e)
{
	if (e == NULL)
		return;
	senv_rep_close(e);
	if (e->env != NULL)
		e->env->close(e->env, 0);
	pthread_mutex_destroy(&e->chan_lock);
	free(e);
}

/* senv_remove - remove the environment's files in home (-i); -1 if some
 * could not be */
int
senv_remove(const char *home)
{
	char full[1400];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if ((d = opendir(home)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, "state.db") != 0 &&
		    strcmp(de->d_name, "changes.db") != 0 &&
		    strncmp(de->d_name, "log.", 4) != 0 &&
		    strncmp(de->d_name, "__db", 4) != 0)
			continue;
		snprintf(full, sizeof(full), "%s/%s", home, de->d_name);
		if (unlink(full) < 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

/* load_chunk - hand the records of one bulk buffer to sink */
static int
load_chunk(DBT *v, senv_sink sink, void *arg)
{
	struct jrec r;
	DBT k, d;
	void *p;

	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	DB_MULTIPLE_INIT(p, v);
	for (;;) {
		DB_MULTIPLE_KEY_NEXT(p, v, k.data, k.size, d.data, d.size);
		if (p == NULL)
			return 0;
		if (rec_decode(&k, &d, &r) == 0 && sink(arg, &r) < 0)
			return -1;
	}
}

/* senv_complete - 1 when state.db holds a complete state (its mark), 0
 * when not, -1 on error */
int
senv_complete(struct senv *e, char *err, size_t errlen)
{
	unsigned char vb[VAL_MAX];
	DBT k, v;
	int rc;

	dbt_in(&k, ready_key, sizeof(ready_key));
	dbt_user(&v, vb, sizeof(vb));
	if ((rc = e->db->get(e->db, NULL, &k, &v, 0)) == DB_NOTFOUND)
		return 0;
	if (rc != 0) {
		env_error(e, "state.db", rc, err, errlen);
		return -1;
	}
	return 1;
}

/*
 * senv_load - hand every record to sink, in key order, read in bulk
 * (LOAD_BULK bytes of records per call into Berkeley DB); 1 when the
 * state is complete (its mark present), 0 when not (nothing is handed
 * over: the caller imports), -1 on error or when sink fails.
 */
int
senv_load(struct senv *e, senv_sink sink, void *arg, char *err,
    size_t errlen)
{
	unsigned char kb[KEY_MAX], *bulk;
	DBT k, v;
	DBC *c;
	int rc;

	if ((rc = senv_complete(e, err, errlen)) <= 0)
		return rc;
	if ((rc = e->db->cursor(e->db, NULL, &c, 0)) != 0) {
		env_error(e, "state.db", rc, err, errlen);
		return -1;
	}
	if ((bulk = malloc(LOAD_BULK)) == NULL) {
		c->close(c);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	dbt_user(&k, kb, sizeof(kb));
	dbt_user(&v, bulk, LOAD_BULK);
	while ((rc = c->get(c, &k, &v, DB_NEXT | DB_MULTIPLE_KEY)) == 0)
		if (load_chunk(&v, sink, arg) < 0) {
			rc = ENOMEM;
			break;
		}
	c->close(c);
	free(bulk);
	if (rc != DB_NOTFOUND) {
		env_error(e, "state.db", rc, err, errlen);
		return -1;
	}
	return 1;
}

/* put_mark - mark the state complete, inside transaction t */
static int
put_mark(struct senv *e, DB_TXN *t)
{
	DBT k, v;

	dbt_in(&k, ready_key, sizeof(ready_key));
	dbt_in(&v, "", 0);
	return e->db->put(e->db, t, &k, &v, 0);
}

/* apply_one - one record inside transaction t */
static int
apply_one(struct senv *e, DB_TXN *t, const struct jrec *r)
{
	unsigned char kb[KEY_MAX], vb[VAL_MAX];
	u_int32_t count;
	DBT k, v;
	int rc;

	switch (r->type) {
	case JREC_SET:
		dbt_in(&k, kb, rec_key(r, kb));
		dbt_in(&v, vb, rec_value(r, vb));
		rc = e->db->put(e->db, t, &k, &v, 0);
		break;
	case JREC_DEL:
		dbt_in(&k, kb, rec_key(r, kb));
		rc = e->db->del(e->db, t, &k, 0);
		rc = rc == DB_NOTFOUND ? 0 : rc;
		break;
	case JREC_FLUSH:	/* the state stays complete: the mark again */
		if ((rc = e->db->truncate(e->db, t, &count, 0)) != 0)
			return rc;
		rc = put_mark(e, t);
		break;
	case JREC_END:
		return put_mark(e, t);
	default:
		return EINVAL;
	}
	/* a group's members follow the changes in order */
	if (rc == 0 && e->chg != NULL)
		rc = rep_put_change(e, t, r);
	return rc;
}

/* apply_txn - the records in one transaction, committed */
static int
apply_txn(struct senv *e, const struct jrec *recs, size_t n)
{
	DB_TXN *t;
	size_t i;
	int rc;

	uint64_t seq = e->next_seq;

	if ((rc = e->env->txn_begin(e->env, NULL, &t, TXN_WRITE)) != 0)
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = apply_one(e, t, &recs[i])) != 0) {
			t->abort(t);
			e->next_seq = seq;
			return rc;
		}
	rep_perm_failed = 0;
	if ((rc = t->commit(t, 0)) != 0) {
		e->next_seq = seq;
		return rc;
	}
	if (e->next_seq != seq)
		atomic_store(&e->last_seq, e->next_seq - 1);
	return rep_perm_failed ? DB_REP_UNAVAIL : 0;
}

/*
 * senv_apply - the n records as one transaction, on disk when it returns
 * 0 if flush (one log flush for all; without, with the next flush).
 * JREC_END marks the state complete.  In a group, 1 when the commit
 * is made here but the acknowledgements group_ack asks for did not come.
 */
int
senv_apply(struct senv *e, const struct jrec *recs, size_t n, int flush,
    char *err, size_t errlen)
{
	int rc, tries = 0;

	if (n == 0)
		return 0;
	do
		rc = apply_txn(e, recs, n);
	while (rc == DB_LOCK_DEADLOCK && ++tries < DEADLOCK_TRIES);
	if (rc == DB_REP_UNAVAIL) {	/* committed; the group did not ack */
		snprintf(err, errlen, "%s: the group did not acknowledge a "
		    "commit in time", e->home);
		return 1;
	}
	if (rc == 0 && flush)
		rc = e->env->log_flush(e->env, NULL);
	if (rc != 0) {
		env_error(e, "commit", rc, err, errlen);
		return -1;
	}
	return 0;
}

/* prune_chunk - from after key *kb (len *klen; 0: the start), delete up
 * to PRUNE_CHUNK records keep refuses, in one transaction; 1 when the
 * walk is over, 0 when not, else a Berkeley DB error */
static int
prune_chunk(struct senv *e, senv_sink keep, void *arg, unsigned char *kb,
    uint32_t *klen)
{
	unsigned char vb[VAL_MAX];
	struct jrec r;
	DB_TXN *t;
	DBT k, v;
	DBC *c;
	size_t seen = 0;
	int rc, rc2, flag = *klen > 0 ? DB_SET_RANGE : DB_FIRST;

	if ((rc = e->env->txn_begin(e->env, NULL, &t, TXN_WRITE)) != 0)
		return rc;
	if ((rc = e->db->cursor(e->db, t, &c, 0)) != 0) {
		t->abort(t);
		return rc;
	}
	dbt_user(&k, kb, KEY_MAX);
	k.size = *klen;
	dbt_user(&v, vb, sizeof(vb));
	while (seen < PRUNE_CHUNK &&
	    (rc = c->get(c, &k, &v, flag | DB_RMW)) == 0) {
		flag = DB_NEXT;
		seen++;
		*klen = k.size;
		if (rec_decode(&k, &v, &r) == 0 && !keep(arg, &r) &&
		    (rc = c->del(c, 0)) != 0)
			break;
	}
	rc2 = c->close(c);
	/* a transaction left open would hold off replication's recovery
	 * (it waits for every operation to end) for good */
	if ((rc != 0 && rc != DB_NOTFOUND) || rc2 != 0) {
		t->abort(t);
		return rc != 0 && rc != DB_NOTFOUND ? rc : rc2;
	}
	if ((rc2 = t->commit(t, 0)) != 0)
		return rc2;
	return rc == DB_NOTFOUND ? 1 : 0;
}

/*
 * senv_prune - one chunk of a walk deleting every record keep returns 0
 * for: PRUNE_CHUNK keys in one transaction, from pos on (the walk goes on
 * from the last key seen, which may be gone: DB_SET_RANGE finds the
 * next).  1 when the walk is over, 0 when not, -1 on error.
 */
int
senv_prune(struct senv *e, struct senv_pos *pos, senv_sink keep, void *arg,
    char *err, size_t errlen)
{
	int rc, tries = 0;

	while ((rc = prune_chunk(e, keep, arg, pos->key, &pos->klen)) ==
	    DB_LOCK_DEADLOCK && ++tries < DEADLOCK_TRIES)
		;
	if (rc != 0 && rc != 1) {
		env_error(e, "prune", rc, err, errlen);
		return -1;
	}
	return rc;
}

/* senv_checkpoint - write the cache back and checkpoint: the log files
 * before it go (DB_LOG_AUTO_REMOVE) */
int
senv_checkpoint(struct senv *e, char *err, size_t errlen)
{
	int rc;

	if ((rc = e->env->txn_checkpoint(e->env, 0, 0, DB_FORCE)) != 0) {
		env_error(e, "checkpoint", rc, err, errlen);
		return -1;
	}
	return 0;
}
