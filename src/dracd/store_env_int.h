/*
 * store_env_int.h - what store_env.c (the environment, state.db) and
 * store_rep.c (its replication: repmgr, the change feed, channels) share.
 * Nothing else includes it.
 */
#ifndef DRACD_STORE_ENV_INT_H
#define DRACD_STORE_ENV_INT_H

#include <db.h>
#include <pthread.h>
#include <stdatomic.h>

#include "store_env.h"

#define KEY_MAX		17
#define VAL_MAX		(16 + MAPFILE_USERMAX)
#define DEADLOCK_TRIES	5
/* every transaction of ours: its commit written to the log file, not
 * synced (see env_setup) */
#define TXN_WRITE	DB_TXN_WRITE_NOSYNC
#define REP_SITES	16

struct rep_site {
	char host[256];
	unsigned int port;
};

struct senv {
	DB_ENV *env;
	DB *db;			/* state.db */
	DB *chg;		/* changes.db: seq -> commit ms, record (group) */
	char home[1024];
	/* a group; rep.local NULL for a single host */
	struct senv_rep rep;
	struct rep_site local, sites[REP_SITES];
	size_t nsites;
	int creator;		/* this start creates the group */
	DB_CHANNEL *to_master;
	pthread_mutex_t chan_lock;	/* making to_master */
	atomic_int is_master, startup_done, started;
	atomic_int master_eid;
	atomic_int site_added;	/* a site joined: police it */
	uint64_t next_seq;	/* the next change's number (master) */
	atomic_ullong last_seq;	/* the last committed here */
	atomic_llong last_ms;
	atomic_ullong elections;
};

extern __thread char env_msg[256];

void env_errcall(const DB_ENV *, const char *, const char *);
void env_error(const struct senv *, const char *what, int rc, char *err,
    size_t errlen);
void dbt_user(DBT *, void *buf, uint32_t cap);
void dbt_in(DBT *, const void *p, uint32_t len);
int rec_decode(const DBT *k, const DBT *v, struct jrec *);

/* store_rep.c */
int rep_setup(struct senv *);
int rep_put_change(struct senv *, DB_TXN *, const struct jrec *);

#endif
