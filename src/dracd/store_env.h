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

typedef int (*senv_sink)(void *, const struct jrec *);

int senv_open(const char *home, struct senv **, int *created, char *err,
    size_t errlen);
void senv_close(struct senv *);
int senv_remove(const char *home);
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

#endif
