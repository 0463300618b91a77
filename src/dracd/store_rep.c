/*
 * store_rep.c - the environment replicated to a group of dracd by
 * Berkeley DB's Replication Manager (repmgr): its settings, its events,
 * the change feed the members follow, and requests passed to the master
 * over repmgr's message channels.  Nothing of ours replicates data:
 * state.db and changes.db are replicated databases.
 *
 * changes.db: key = the change's number, 8 bytes big-endian (so the
 * btree keeps them in order); value = the master's commit time in epoch
 * milliseconds (8 bytes, little-endian) and the record (journal.h's
 * codec).  The master numbers the changes in the transaction that makes
 * them; a replica reads the feed from the last number it applied.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "store_env_int.h"

#define REP_THREADS	4		/* repmgr's message threads */
#define CHG_VAL_MAX	(8 + JREC_MAX)
#define PRUNE_STEP	1000		/* changes per pruning transaction */

__thread int rep_perm_failed;		/* this thread's last commit */

/* parse_site - "HOST:PORT" or "[V6]:PORT" into site; -1 if not one */
static int
parse_site(const char *text, size_t len, struct rep_site *site)
{
	const char *colon, *host = text;
	size_t hlen;
	char *end, port[8];
	long p;

	if (len > 0 && text[0] == '[') {
		const char *close = memchr(text, ']', len);

		if (close == NULL || close + 1 >= text + len ||
		    close[1] != ':')
			return -1;
		host = text + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		if ((colon = memrchr(text, ':', len)) == NULL)
			return -1;
		hlen = (size_t)(colon - text);
	}
	if (hlen == 0 || hlen >= sizeof(site->host) ||
	    (size_t)(text + len - colon - 1) >= sizeof(port))
		return -1;
	memcpy(port, colon + 1, (size_t)(text + len - colon - 1));
	port[text + len - colon - 1] = '\0';
	p = strtol(port, &end, 10);
	if (port[0] == '\0' || *end != '\0' || p < 1 || p > 65535)
		return -1;
	memcpy(site->host, host, hlen);
	site->host[hlen] = '\0';
	site->port = (unsigned int)p;
	return 0;
}

/* parse_sites - a list separated by commas and spaces; its length, or -1
 * naming the bad one in err */
static int
parse_sites(const char *list, struct rep_site *out, size_t max, char *err,
    size_t errlen)
{
	const char *p = list;
	size_t n = 0, len;

	for (;;) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			return (int)n;
		len = strcspn(p, ", \t");
		if (n == max) {
			snprintf(err, errlen, "group_sites: more than %zu "
			    "members", max);
			return -1;
		}
		if (parse_site(p, len, &out[n]) < 0) {
			snprintf(err, errlen, "group_sites: \"%.*s\" is not "
			    "HOST:PORT", (int)len, p);
			return -1;
		}
		n++;
		p += len;
	}
}

/* site_eq - the same host and port */
static int
site_eq(const struct rep_site *a, const struct rep_site *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}

/*
 * senv_rep_check - are the group settings well formed: local one
 * HOST:PORT, sites 1 to REP_SITES - 1 others, none of them local?
 */
int
senv_rep_check(const char *local, const char *sites, char *err,
    size_t errlen)
{
	struct rep_site l, s[REP_SITES];
	int n, i;

	if (parse_site(local, strlen(local), &l) < 0) {
		snprintf(err, errlen, "group_local: \"%s\" is not HOST:PORT",
		    local);
		return -1;
	}
	if ((n = parse_sites(sites, s, REP_SITES - 1, err, errlen)) < 0)
		return -1;
	if (n == 0) {
		snprintf(err, errlen, "group_local is set: group_sites must "
		    "name at least one other member");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (site_eq(&l, &s[i])) {
			snprintf(err, errlen, "group_sites names this member "
			    "(%s) itself", local);
			return -1;
		}
	return 0;
}

/* ---- events ---- */

/* site_cmp - order of two sites' "HOST:PORT" texts */
static int
site_cmp(const struct rep_site *a, const struct rep_site *b)
{
	char ta[300], tb[300];

	snprintf(ta, sizeof(ta), "%.255s:%u", a->host, a->port);
	snprintf(tb, sizeof(tb), "%.255s:%u", b->host, b->port);
	return strcmp(ta, tb);
}

/* is_port - is the address on fd's one end a group port (ours or a
 * member's)? */
static int
is_group_port(const struct senv *e, const struct sockaddr_storage *ss)
{
	unsigned int port;
	size_t i;

	if (ss->ss_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
	else if (ss->ss_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	else
		return 0;
	if (port == e->local.port)
		return 1;
	for (i = 0; i < e->nsites; i++)
		if (port == e->sites[i].port)
			return 1;
	return 0;
}

/*
 * set_nodelay - TCP_NODELAY on repmgr's sockets: the TCP sockets of
 * this process with a group port at either end.  Berkeley DB 5.3 leaves
 * Nagle's algorithm on, and each acknowledged commit then waits ~40 ms
 * for the peer's delayed ACK (FACTS.md); the option is set on our own
 * process's descriptors, as the connections are made.
 */
static void
set_nodelay(const struct senv *e)
{
	struct sockaddr_storage me, peer;
	socklen_t len;
	struct dirent *de;
	int fd, type, proto, one = 1;
	DIR *d;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if ((fd = atoi(de->d_name)) <= 2 || fd == dirfd(d))
			continue;
		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
		    type != SOCK_STREAM)
			continue;
		len = sizeof(proto);
		if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0 ||
		    proto != IPPROTO_TCP)
			continue;
		len = sizeof(me);
		if (getsockname(fd, (struct sockaddr *)&me, &len) < 0)
			continue;
		len = sizeof(peer);
		if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0)
			continue;	/* a listener */
		if (is_group_port(e, &me) || is_group_port(e, &peer))
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
	}
	closedir(d);
}

/* senv_rep_nodelay - TCP_NODELAY on repmgr's sockets made since: the
 * message channels' connections come without an event of their own */
void
senv_rep_nodelay(struct senv *e)
{
	set_nodelay(e);
}

/* rep_event - Berkeley DB's replication events, from its threads (and,
 * for PERM_FAILED, the committing thread's own) */
static void
rep_event(DB_ENV *env, u_int32_t which, void *info)
{
	struct senv *e = env->app_private;

	switch (which) {
	case DB_EVENT_REP_MASTER:
		atomic_store(&e->is_master, 1);
		atomic_fetch_add(&e->elections, 1);
		e->rep.event(e->rep.arg, SENV_EV_MASTER);
		break;
	case DB_EVENT_REP_CLIENT:
		atomic_store(&e->is_master, 0);
		e->rep.event(e->rep.arg, SENV_EV_CLIENT);
		break;
	case DB_EVENT_REP_STARTUPDONE:
		atomic_store(&e->startup_done, 1);
		e->rep.event(e->rep.arg, SENV_EV_STARTUPDONE);
		break;
	case DB_EVENT_REP_NEWMASTER:
		atomic_store(&e->master_eid, *(int *)info);
		e->rep.event(e->rep.arg, SENV_EV_NEWMASTER);
		break;
	case DB_EVENT_REP_CONNECT_ESTD:
		set_nodelay(e);
		break;
	case DB_EVENT_REP_PERM_FAILED:
		rep_perm_failed = 1;
		break;
	case DB_EVENT_REP_SITE_ADDED:
		atomic_store(&e->site_added, 1);
		e->rep.event(e->rep.arg, SENV_EV_NEWMASTER);
		break;
	case DB_EVENT_REP_DUPMASTER:
		log_warnx("group: two masters met; Berkeley DB holds an "
		    "election");
		break;
	case DB_EVENT_REP_JOIN_FAILURE:
		log_warnx("group: this member cannot join the group (its log "
		    "is too far behind or ahead); it retries");
		break;
	case DB_EVENT_REP_MASTER_FAILURE:
		atomic_store(&e->master_eid, DB_EID_INVALID);
		e->rep.event(e->rep.arg, SENV_EV_NEWMASTER);
		break;
	default:
		break;
	}
}

/* listed - is host:port this member or one in group_sites? */
static int
listed(const struct senv *e, const char *host, unsigned int port)
{
	struct rep_site site;
	size_t i;

	snprintf(site.host, sizeof(site.host), "%s", host);
	site.port = port;
	if (site_eq(&site, &e->local))
		return 1;
	for (i = 0; i < e->nsites; i++)
		if (site_eq(&site, &e->sites[i]))
			return 1;
	return 0;
}

/* rep_dispatch - a member's request over a channel: served, answered */
static void
rep_dispatch(DB_ENV *env, DB_CHANNEL *ch, DBT *req, u_int32_t nreq,
    u_int32_t flags)
{
	struct senv *e = env->app_private;
	unsigned char reply[256];
	DBT r;
	size_t n = 0;

	if (nreq == 1 && e->rep.serve != NULL)
		n = e->rep.serve(e->rep.arg, req[0].data, req[0].size, reply,
		    sizeof(reply));
	if (!(flags & DB_REPMGR_NEED_RESPONSE))
		return;
	dbt_in(&r, reply, (uint32_t)n);
	ch->send_msg(ch, &r, 1, 0);
}

/* env_fresh - no log yet: the environment's first start */
static int
env_fresh(const char *home)
{
	struct dirent *de;
	DIR *d;
	int fresh = 1;

	if ((d = opendir(home)) == NULL)
		return 1;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "log.", 4) == 0)
			fresh = 0;
	closedir(d);
	return fresh;
}

/* ack_policy - group_ack as repmgr's */
static int
ack_policy(int ack)
{
	switch (ack) {
	case STORE_ACK_ALL:
		return DB_REPMGR_ACKS_ALL;
	case STORE_ACK_ONE:
		return DB_REPMGR_ACKS_ONE;
	case STORE_ACK_NONE:
		return DB_REPMGR_ACKS_NONE;
	default:
		return DB_REPMGR_ACKS_QUORUM;
	}
}

/* add_site - one site to the environment's configuration */
static int
add_site(DB_ENV *env, const struct rep_site *s, u_int32_t which)
{
	DB_SITE *site;
	int rc;

	if ((rc = env->repmgr_site(env, s->host, s->port, &site, 0)) != 0)
		return rc;
	if ((rc = site->set_config(site, which, 1)) != 0) {
		site->close(site);
		return rc;
	}
	return site->close(site);
}

/* timeouts - heartbeats every 200 ms, an election after 1.5 s without
 * one (a master that dies closes its connections, and the others elect
 * at once; 600 ms made elections of their own on a loaded machine) */
static int
timeouts(DB_ENV *env)
{
	static const struct { int which; u_int32_t us; } t[] = {
		{DB_REP_ACK_TIMEOUT, 1000000},
		{DB_REP_CONNECTION_RETRY, 500000},
		{DB_REP_ELECTION_RETRY, 500000},
		{DB_REP_ELECTION_TIMEOUT, 500000},
		{DB_REP_HEARTBEAT_SEND, 200000},
		{DB_REP_HEARTBEAT_MONITOR, 1500000},
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if ((rc = env->rep_set_timeout(env, t[i].which, t[i].us)) != 0)
			return rc;
	return 0;
}

/*
 * senv_rep_first - on the environment in home's first start, does this
 * member sort first among all of them (and so create the group when no
 * group answers)?
 */
int
senv_rep_first(const char *home, const char *local, const char *sites)
{
	struct rep_site l, s[REP_SITES];
	char err[300];
	int n, i;

	if (!env_fresh(home) || parse_site(local, strlen(local), &l) < 0 ||
	    (n = parse_sites(sites, s, REP_SITES - 1, err, sizeof(err))) < 0)
		return 0;
	for (i = 0; i < n; i++)
		if (site_cmp(&s[i], &l) < 0)
			return 0;
	return 1;
}

/*
 * rep_setup - the replication settings, before the environment opens;
 * rep.creator: this start creates the group (DB_GROUP_CREATOR), else
 * it joins through whichever member it reaches
 */
int
rep_setup(struct senv *e)
{
	DB_ENV *env = e->env;
	char err[300];
	int n, rc, creator = e->rep.creator;
	size_t i;

	if (parse_site(e->rep.local, strlen(e->rep.local), &e->local) < 0 ||
	    (n = parse_sites(e->rep.sites, e->sites, REP_SITES - 1, err,
	    sizeof(err))) <= 0)
		return EINVAL;
	e->nsites = (size_t)n;
	env->app_private = e;
	atomic_store(&e->master_eid, DB_EID_INVALID);
	if ((rc = env->set_event_notify(env, rep_event)) != 0 ||
	    (rc = env->rep_set_priority(env, (u_int32_t)e->rep.priority)) != 0 ||
	    (rc = env->repmgr_set_ack_policy(env,
	    ack_policy(e->rep.ack))) != 0 ||
	    (rc = timeouts(env)) != 0 ||
	    /* always: a member that joined early may count the group as
	     * two sites for a while (its membership database not yet
	     * holding a third), and a lone survivor of two must never
	     * elect itself (the partition test saw two masters) */
	    (rc = env->rep_set_config(env, DB_REPMGR_CONF_2SITE_STRICT,
	    1)) != 0 ||
	    /* while replication locks operations out (an election, a sync
	     * with a new master), say so at once: Berkeley DB would sleep
	     * 5 s before looking again, and the follower with it */
	    (rc = env->rep_set_config(env, DB_REP_CONF_NOWAIT, 1)) != 0 ||
	    /* log records to the members in one message per commit rather
	     * than one each (4 clients at the master: 1,930 adds/s instead
	     * of 1,510, a commit 0.5 ms instead of 0.8-1.1) */
	    (rc = env->rep_set_config(env, DB_REP_CONF_BULK, 1)) != 0 ||
	    (rc = env->repmgr_msg_dispatch(env, rep_dispatch, 0)) != 0 ||
	    (rc = add_site(env, &e->local, DB_LOCAL_SITE)) != 0 ||
	    (creator && (rc = add_site(env, &e->local,
	    DB_GROUP_CREATOR)) != 0))
		return rc;
	for (i = 0; i < e->nsites; i++)
		if ((rc = add_site(env, &e->sites[i],
		    DB_BOOTSTRAP_HELPER)) != 0)
			return rc;
	e->creator = creator;
	if (creator)
		log_info("group: a new environment, %s:%u sorts first, and no "
		    "group answered: this member creates the group",
		    e->local.host, e->local.port);
	return 0;
}

/*
 * senv_rep_start - start repmgr (elections on); 0 when started, 1 when
 * no member could take this one in yet (retry), -1 on error
 */
int
senv_rep_start(struct senv *e, char *err, size_t errlen)
{
	char name[16];
	int rc;

	if (atomic_load(&e->started))
		return 0;
	/* repmgr's threads take the name of the thread that starts them,
	 * and keep it: theirs, as ps -L and top -H show them */
	pthread_getname_np(pthread_self(), name, sizeof(name));
	pthread_setname_np(pthread_self(), "dracd-repmgr");
	rc = e->env->repmgr_start(e->env, REP_THREADS, DB_REP_ELECTION);
	pthread_setname_np(pthread_self(), name);
	if (rc == DB_REP_UNAVAIL) {
		env_msg[0] = '\0';
		return 1;
	}
	if (rc != 0) {
		env_error(e, "repmgr_start", rc, err, errlen);
		return -1;
	}
	atomic_store(&e->started, 1);
	return 0;
}

/* senv_rep_master - is this member the master? */
int
senv_rep_master(struct senv *e)
{
	return atomic_load(&e->is_master);
}

/* senv_rep_ready - has this member, a replica, caught up with its master
 * once since it started? */
int
senv_rep_ready(struct senv *e)
{
	return atomic_load(&e->startup_done);
}

/* close_dbs - the databases' handles */
static void
close_dbs(struct senv *e)
{
	if (e->chg != NULL)
		e->chg->close(e->chg, 0);
	if (e->db != NULL)
		e->db->close(e->db, 0);
	e->chg = e->db = NULL;
}

/* open_db - one database; create only on the master */
static int
open_db(struct senv *e, DB **db, const char *name, int create)
{
	int rc;

	if ((rc = db_create(db, e->env, 0)) != 0)
		return rc;
	if ((rc = (*db)->open(*db, NULL, name, NULL, DB_BTREE,
	    (create ? DB_CREATE : 0) | DB_AUTO_COMMIT | DB_THREAD, 0600)) != 0) {
		(*db)->close(*db, 0);
		*db = NULL;
	}
	return rc;
}

/* locked_out - does replication lock this member's calls out now?
 * With DB_REP_CONF_NOWAIT a transaction's start says so at once, where
 * a database call would wait 5 s first */
static int
locked_out(struct senv *e)
{
	DB_TXN *t;
	int rc;

	if ((rc = e->env->txn_begin(e->env, NULL, &t, TXN_WRITE)) == 0)
		t->abort(t);
	env_msg[0] = '\0';
	return rc == DB_REP_LOCKOUT;
}

/*
 * senv_rep_open - (re)open state.db and changes.db: made by the master,
 * opened as they are by a replica.  1 when a replica finds them not yet
 * made, 0 when open, SENV_BUSY while replication locks calls out, -1 on
 * error.
 */
int
senv_rep_open(struct senv *e, int create, char *err, size_t errlen)
{
	int rc, tries = 0;

	/* a deadlock here is with repmgr's own start (its membership
	 * database): again; while replication locks calls out, each call
	 * would wait 5 s and fail: not now */
	do {
		if (locked_out(e)) {
			snprintf(err, errlen, "%s: replication locks calls "
			    "out (a sync with the master under way)", e->home);
			return SENV_BUSY;
		}
		close_dbs(e);
		if ((rc = open_db(e, &e->db, "state.db", create)) == 0 &&
		    (rc = open_db(e, &e->chg, "changes.db", create)) == 0)
			return 0;
		if (rc == DB_LOCK_DEADLOCK)
			usleep(10000);
	} while (rc == DB_LOCK_DEADLOCK && ++tries < 50);
	close_dbs(e);
	if (!create && rc == ENOENT)
		return 1;
	env_error(e, "open", rc, err, errlen);
	return -1;
}

/* senv_rep_close - the databases and the channel (before the
 * environment: repmgr stops with it) */
void
senv_rep_close(struct senv *e)
{
	close_dbs(e);
	if (e->to_master != NULL)
		e->to_master->close(e->to_master, 0);
	e->to_master = NULL;
}

/*
 * senv_rep_create - the group's creator makes its databases before
 * replication starts: made later, as the first master, their creation
 * can meet the members' joins (repmgr's membership transactions) in a
 * deadlock that takes seconds to break
 */
int
senv_rep_create(struct senv *e, char *err, size_t errlen)
{
	if (!e->creator)
		return 0;
	if (senv_rep_open(e, 1, err, errlen) < 0)
		return -1;
	close_dbs(e);
	return 0;
}

/* ---- the change feed ---- */

/* put_be64, get_be64 - the changes' keys */
static void
put_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t
get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* now_ms - the wall clock in milliseconds */
static int64_t
now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* rep_put_change - r as the next change, inside transaction t */
int
rep_put_change(struct senv *e, DB_TXN *t, const struct jrec *r)
{
	unsigned char kb[8], vb[CHG_VAL_MAX];
	int64_t ms = now_ms();
	size_t len;
	DBT k, v;
	int rc;

	put_be64(kb, e->next_seq);
	le_put(vb, (uint64_t)ms, 8);
	len = 8 + jrec_encode(r, vb + 8);
	dbt_in(&k, kb, sizeof(kb));
	dbt_in(&v, vb, (uint32_t)len);
	if ((rc = e->chg->put(e->chg, t, &k, &v, 0)) == 0) {
		e->next_seq++;
		atomic_store(&e->last_ms, ms);
	}
	return rc;
}

/* senv_flush - this member's log to its disk */
int
senv_flush(struct senv *e, char *err, size_t errlen)
{
	int rc;

	if ((rc = e->env->log_flush(e->env, NULL)) != 0) {
		env_error(e, "log flush", rc, err, errlen);
		return -1;
	}
	return 0;
}

/* senv_last_seq - the number of the last change in the feed (0: none) */
int
senv_last_seq(struct senv *e, uint64_t *seq, char *err, size_t errlen)
{
	unsigned char kb[8], vb[CHG_VAL_MAX];
	DBT k, v;
	DBC *c;
	int rc;

	*seq = 0;
	if ((rc = e->chg->cursor(e->chg, NULL, &c, 0)) != 0) {
		env_error(e, "changes.db", rc, err, errlen);
		return -1;
	}
	dbt_user(&k, kb, sizeof(kb));
	dbt_user(&v, vb, sizeof(vb));
	rc = c->get(c, &k, &v, DB_LAST);
	c->close(c);
	if (rc == 0 && k.size == 8)
		*seq = get_be64(kb);
	else if (rc != 0 && rc != DB_NOTFOUND) {
		env_error(e, "changes.db", rc, err, errlen);
		return -1;
	}
	return 0;
}

/* senv_set_next_seq - the master numbers its changes from seq on */
void
senv_set_next_seq(struct senv *e, uint64_t seq)
{
	e->next_seq = seq;
	atomic_store(&e->last_seq, seq - 1);
}

/* senv_committed_ms - when the last change here was committed */
int64_t
senv_committed_ms(struct senv *e)
{
	return atomic_load(&e->last_ms);
}

/* senv_committed_seq - the last change committed here (master) */
uint64_t
senv_committed_seq(struct senv *e)
{
	return atomic_load(&e->last_seq);
}

/*
 * senv_changes - hand sink up to max changes, from number from on; the
 * number handed, -2 when from is no longer in the feed (pruned: the
 * caller loads the whole state again), SENV_BUSY while replication
 * locks readers out, -1 on error
 */
int
senv_changes(struct senv *e, uint64_t from, size_t max,
    senv_change_sink sink, void *arg, char *err, size_t errlen)
{
	unsigned char kb[8], vb[CHG_VAL_MAX];
	struct jrec r;
	int64_t ms;
	DBT k, v;
	DBC *c;
	int rc, n = 0, flag = DB_SET_RANGE;

	if ((rc = e->chg->cursor(e->chg, NULL, &c, 0)) != 0) {
		if (rc == DB_REP_LOCKOUT)
			return SENV_BUSY;
		env_error(e, "changes.db", rc, err, errlen);
		return -1;
	}
	put_be64(kb, from);
	dbt_user(&k, kb, sizeof(kb));
	k.size = sizeof(kb);
	dbt_user(&v, vb, sizeof(vb));
	while ((size_t)n < max && (rc = c->get(c, &k, &v, flag)) == 0) {
		uint64_t seq = get_be64(kb);

		flag = DB_NEXT;
		if (seq != from + (uint64_t)n) {
			n = -2;
			break;
		}
		ms = (int64_t)le_get(vb, 8);
		if (v.size < 8 || jrec_decode(vb + 8, v.size - 8, &r) == 0) {
			rc = EINVAL;
			break;
		}
		if (sink(arg, seq, ms, &r) < 0) {
			rc = ENOMEM;
			break;
		}
		n++;
	}
	c->close(c);
	if (n == 0 && rc == DB_REP_LOCKOUT)
		return SENV_BUSY;
	if (n >= 0 && rc != 0 && rc != DB_NOTFOUND && rc != DB_REP_LOCKOUT) {
		env_error(e, "changes.db", rc, err, errlen);
		return -1;
	}
	return n;
}

/* senv_prune_changes - drop the feed's changes numbered below below */
int
senv_prune_changes(struct senv *e, uint64_t below, char *err, size_t errlen)
{
	unsigned char kb[8], vb[CHG_VAL_MAX];
	DB_TXN *t;
	DBT k, v;
	DBC *c;
	int rc, n;

	do {
		if ((rc = e->env->txn_begin(e->env, NULL, &t, TXN_WRITE)) != 0)
			break;
		if ((rc = e->chg->cursor(e->chg, t, &c, 0)) != 0) {
			t->abort(t);
			break;
		}
		dbt_user(&k, kb, sizeof(kb));
		dbt_user(&v, vb, sizeof(vb));
		for (n = 0; n < PRUNE_STEP &&
		    (rc = c->get(c, &k, &v, DB_FIRST | DB_RMW)) == 0 &&
		    get_be64(kb) < below; n++)
			if ((rc = c->del(c, 0)) != 0)
				break;
		c->close(c);
		if (rc != 0 && rc != DB_NOTFOUND && rc != 0) {
			t->abort(t);
			break;
		}
		if ((rc = t->commit(t, 0)) != 0)
			break;
	} while (n == PRUNE_STEP);
	if (rc != 0 && rc != DB_NOTFOUND) {
		env_error(e, "changes.db: prune", rc, err, errlen);
		return -1;
	}
	return 0;
}

/* ---- requests to the master ---- */

/*
 * senv_forward - req to the master over repmgr's channel, its reply in
 * reply (*got bytes); -1 with a message when there is no master or it
 * did not answer within timeout_ms
 */
int
senv_forward(struct senv *e, const unsigned char *req, size_t len,
    unsigned char *reply, size_t cap, size_t *got, int timeout_ms,
    char *err, size_t errlen)
{
	DBT q, r;
	int rc;

	*got = 0;
	if (!atomic_load(&e->started)) {
		snprintf(err, errlen, "not yet in the group");
		return -1;
	}
	/* the channel follows the master as it changes; made once one is
	 * known (it cannot be before) */
	pthread_mutex_lock(&e->chan_lock);
	if (e->to_master == NULL && (rc = e->env->repmgr_channel(e->env,
	    DB_EID_MASTER, &e->to_master, 0)) != 0)
		e->to_master = NULL;
	pthread_mutex_unlock(&e->chan_lock);
	if (e->to_master == NULL) {
		snprintf(err, errlen, "no master known");
		return -1;
	}
	dbt_in(&q, req, (uint32_t)len);
	dbt_user(&r, reply, (uint32_t)cap);
	if ((rc = e->to_master->send_request(e->to_master, &q, 1, &r,
	    (db_timeout_t)timeout_ms * 1000, 0)) != 0) {
		env_error(e, "to the master", rc, err, errlen);
		return -1;
	}
	*got = r.size;
	return 0;
}

/*
 * senv_rep_police - on the master, after a site joined: remove from the
 * group every site dracd.conf does not list.  repmgr takes in any site
 * that asks (it has no authentication: group_local belongs on a network
 * only the members reach); this undoes what got through, loudly.
 */
void
senv_rep_police(struct senv *e)
{
	DB_REPMGR_SITE *list = NULL;
	DB_SITE *site;
	u_int count = 0, i;

	if (!atomic_exchange(&e->site_added, 0) || !atomic_load(&e->is_master) ||
	    e->env->repmgr_site_list(e->env, &count, &list) != 0)
		return;
	for (i = 0; i < count; i++) {
		if (listed(e, list[i].host, list[i].port))
			continue;
		log_warnx("group: %s:%u joined the group but is not in "
		    "group_sites: removed (firewall group_local's port)",
		    list[i].host, list[i].port);
		if (e->env->repmgr_site(e->env, list[i].host, list[i].port,
		    &site, 0) == 0 && site->remove(site) != 0)
			log_warnx("group: %s:%u could not be removed",
			    list[i].host, list[i].port);
	}
	free(list);
}

/* ---- status ---- */

/* site_text - "HOST:PORT" */
static void
site_text(char *buf, size_t len, const char *host, unsigned int port)
{
	if (strchr(host, ':') != NULL)
		snprintf(buf, len, "[%s]:%u", host, port);
	else
		snprintf(buf, len, "%s:%u", host, port);
}

/* senv_rep_status - the group as this member knows it */
void
senv_rep_status(struct senv *e, struct store_group *g)
{
	DB_REPMGR_SITE *list = NULL;
	DB_LOG_STAT *ls;
	u_int count = 0, i;
	int master = atomic_load(&e->master_eid);
	struct store_group_site *s;

	g->enabled = 1;
	g->elections = atomic_load(&e->elections);
	if (e->env->log_stat(e->env, &ls, 0) == 0) {
		g->log_file = ls->st_cur_file;
		g->log_offset = ls->st_cur_offset;
		free(ls);
	}
	s = &g->sites[g->nsites++];
	site_text(s->addr, sizeof(s->addr), e->local.host, e->local.port);
	s->self = s->connected = 1;
	s->master = atomic_load(&e->is_master);
	if (s->master)
		snprintf(g->master, sizeof(g->master), "%s", s->addr);
	if (!atomic_load(&e->started) ||
	    e->env->repmgr_site_list(e->env, &count, &list) != 0)
		return;
	for (i = 0; i < count && g->nsites < STORE_GROUP_SITES; i++) {
		s = &g->sites[g->nsites++];
		site_text(s->addr, sizeof(s->addr), list[i].host,
		    list[i].port);
		s->connected = list[i].status == DB_REPMGR_CONNECTED;
		s->master = list[i].eid == master &&
		    !atomic_load(&e->is_master);
		if (s->master)
			snprintf(g->master, sizeof(g->master), "%s", s->addr);
	}
	free(list);
}
