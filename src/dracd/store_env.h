/*
 * store_env.h - the allowlist's durable state: a transactional Berkeley
 * DB environment (txn, log, lock, mpool) in the directory DBFILE.env,
 * holding one btree, state.db, of every grant's whole state keyed by
 * address.  Opened with DB_RECOVER, so a crash's torn log tail is rolled
 * back at the next start; log files a checkpoint made redundant are
 * removed by Berkeley DB itself (DB_LOG_AUTO_REMOVE).
 *
 * Records are struct jrec (journal.h's codec; the journal files are
 * gone, the record stays).  This module calls nothing above it: loading
 * hands each record to a sink, pruning asks a keep function.  Callers
 * serialise writers (one writer at a time); readers need no lock.
 */
#ifndef DRACD_STORE_ENV_H
#define DRACD_STORE_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"

struct senv;
struct store_group;

typedef int (*senv_sink)(void *, const struct jrec *);

/* a group's settings and the calls back up (from Berkeley DB's threads) */
enum senv_event { SENV_EV_MASTER = 1, SENV_EV_CLIENT, SENV_EV_STARTUPDONE,
    SENV_EV_NEWMASTER };

struct senv_rep {
	const char *local, *sites;	/* local NULL: a single host */
	int priority, ack;		/* ack: enum store_ack */
	int creator;			/* this start creates the group */
	void (*event)(void *, enum senv_event);
	/* a member's request: the reply's length in reply (at most cap) */
	size_t (*serve)(void *, const unsigned char *req, size_t len,
	    unsigned char *reply, size_t cap);
	void *arg;
};

/* one change of the feed a group's members follow */
typedef int (*senv_change_sink)(void *, uint64_t seq, int64_t ms,
    const struct jrec *);

int senv_open(const char *home, const struct senv_rep *, struct senv **,
    int *created, char *err, size_t errlen);
void senv_close(struct senv *);
int senv_remove(const char *home);
int senv_complete(struct senv *, char *err, size_t errlen);
int senv_load(struct senv *, senv_sink, void *, char *err, size_t errlen);
int senv_apply(struct senv *, const struct jrec *, size_t n, int flush,
    char *err, size_t errlen);

/* where a pruning walk stands: klen 0 at the start */
struct senv_pos {
	unsigned char key[17];
	uint32_t klen;
};

int senv_prune(struct senv *, struct senv_pos *, senv_sink keep, void *,
    char *err, size_t errlen);
int senv_checkpoint(struct senv *, char *err, size_t errlen);

/* store_rep.c: the group */
#define SENV_BUSY	(-3)	/* replication locks readers out a moment */
extern __thread int rep_perm_failed;
int senv_rep_check(const char *local, const char *sites, char *err,
    size_t errlen);
int senv_rep_first(const char *home, const char *local, const char *sites);
int senv_rep_create(struct senv *, char *err, size_t errlen);
int senv_rep_start(struct senv *, char *err, size_t errlen);
int senv_rep_open(struct senv *, int create, char *err, size_t errlen);
void senv_rep_close(struct senv *);
int senv_rep_master(struct senv *);
int senv_rep_ready(struct senv *);
int senv_flush(struct senv *, char *err, size_t errlen);
int senv_last_seq(struct senv *, uint64_t *seq, char *err, size_t errlen);
void senv_set_next_seq(struct senv *, uint64_t);
uint64_t senv_committed_seq(struct senv *);
int64_t senv_committed_ms(struct senv *);
int senv_changes(struct senv *, uint64_t from, size_t max,
    senv_change_sink, void *, char *err, size_t errlen);
int senv_prune_changes(struct senv *, uint64_t below, char *err,
    size_t errlen);
int senv_forward(struct senv *, const unsigned char *req, size_t len,
    unsigned char *reply, size_t cap, size_t *got, int timeout_ms,
    char *err, size_t errlen);
void senv_rep_status(struct senv *, struct store_group *);
void senv_rep_police(struct senv *);
void senv_rep_nodelay(struct senv *);

#endif
