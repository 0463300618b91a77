/*
 * mapfile.h - the map: the Berkeley DB file mail servers read.
 *
 * Exactly DRAC's format (DBFILE), replaced whole and atomically (write a
 * new file, fsync, rename), so a reader or a crash never meets a
 * half-written file; or (sync interval 0, map_update = edit) edited in
 * place under flock(LOCK_EX), as DRAC did.  dracd's own record of the
 * list, with user names, is store_env.h's.  No state; the caller
 * serialises writers of one path.
 */
#ifndef DRACD_MAPFILE_H
#define DRACD_MAPFILE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "addr.h"
#include "drac_prot.h"

#define MAPFILE_USERMAX DRAC_MAXUSER	/* rpc/drac.x: bytes of a user name */

struct map_format {
	int hash;		/* DB_HASH instead of DB_BTREE */
	int cidr;		/* keys end in /32 or /128 */
	int nul;		/* keys and values carry a trailing NUL */
};

struct map_rec {
	struct addr addr;
	int64_t expires;	/* epoch seconds */
};

/* Called for each record read; a negative return stops the read. */
typedef int (*map_visit_fn)(void *, const struct map_rec *);
/* Fills up to max records for a write; 0 when there are no more. */
typedef size_t (*map_fill_fn)(void *, struct map_rec *, size_t max);

int mapfile_write(const char *path, const struct map_format *, map_fill_fn,
    void *, char *err, size_t errlen);
int mapfile_read(const char *path, map_visit_fn, void *, char *err,
    size_t errlen);
int mapfile_detect(const char *path, struct map_format *, int *keys,
    char *err, size_t errlen);
int mapfile_revoke(const char *path, const char *spare, char *err,
    size_t errlen);
void mapfile_clean(const char *path);
int mapfile_sync_dir(const char *file);
int mapfile_writable(const char *path, char *err, size_t errlen);
int mapfile_key(const struct addr *, const struct map_format *,
    char *buf, size_t len);

/* Edits in place, under flock(LOCK_EX) (sync interval 0, map_update =
 * edit). */
struct map_edit;

int mapfile_edit_open(const char *path, const struct map_format *,
    struct map_edit **, char *err, size_t errlen);
int mapfile_edit(struct map_edit *, const struct map_rec *, size_t n,
    char *err, size_t errlen);
int mapfile_edit_touch(struct map_edit *, time_t when);
void mapfile_edit_close(struct map_edit *);

#endif
