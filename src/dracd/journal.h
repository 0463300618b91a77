/*
 * journal.h - dracd's own record of the list: a snapshot and a journal.
 *
 * The state lives in two kinds of file beside the map, both made of the
 * same checksummed binary records:
 *
 *   DBFILE.state        a snapshot, written whole and renamed into place;
 *                       its header names the first journal segment it
 *                       does not include
 *   DBFILE.journal.N    segments appended to since; each record is one
 *                       change with the entry's whole new state, so
 *                       replaying them in order over the snapshot gives
 *                       the list (expiry needs no record: an entry past
 *                       its time is skipped when read back)
 *
 * A write cut short leaves a torn last record, which a read reports and
 * the writer cuts off.  A bad record with whole records after it is
 * damage, not a cut: a read reports it and goes on.  No state; callers
 * serialise writers of one file.
 */
#ifndef DRACD_JOURNAL_H
#define DRACD_JOURNAL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "mapfile.h"

enum jrec_type { JREC_SET = 1, JREC_DEL, JREC_FLUSH, JREC_END };

#define JREC_FIXED	40
#define JREC_MAX	(JREC_FIXED + MAPFILE_USERMAX)
#define JHDR_SIZE	16

struct jrec {
	enum jrec_type type;
	struct addr addr;
	int64_t expires;	/* JREC_END: the number of records before it */
	uint32_t first_seen, adds;
	char user[MAPFILE_USERMAX + 1];
};

/* Called for each record read; a negative return stops the read. */
typedef int (*jrec_fn)(void *, const struct jrec *);

/* What a read hands out, in file order: each whole record, and (segments
 * only, when damage is set) each bad stretch, at offset at and len bytes
 * long, that has whole records after it.  A negative return stops. */
struct jvisit {
	jrec_fn rec;
	int (*damage)(void *, off_t at, off_t len);
	void *arg;
};

void le_put(unsigned char *, uint64_t, int n);
uint64_t le_get(const unsigned char *, int n);
size_t jrec_encode(const struct jrec *, unsigned char buf[JREC_MAX]);
size_t jrec_decode(const unsigned char *, size_t, struct jrec *);

int journal_segment_path(const char *path, uint64_t seq, char *buf,
    size_t len);
int journal_read(const char *file, int snapshot, uint64_t *seq,
    const struct jvisit *, off_t *good, char *err, size_t errlen);
int journal_segments(const char *path, uint64_t **seqs, size_t *n);
int journal_create(const char *file, int snapshot, uint64_t seq);
int journal_append(int fd, off_t at, const void *, size_t);

#endif
