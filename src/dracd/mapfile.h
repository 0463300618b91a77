/*
 * mapfile.h - the Berkeley DB files on disk.
 *
 * Two files: the map (DBFILE), exactly DRAC's format, read by MTAs; and the
 * state file (DBFILE.state), dracd's own, which adds first-seen time, add
 * count and user.  Both are replaced whole and atomically (write a new file,
 * fsync, rename), so a reader or a crash never meets a half-written file.
 * No state; the caller serialises writers of one path.
 */
#ifndef DRACD_MAPFILE_H
#define DRACD_MAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define MAPFILE_USERMAX 64

struct map_format {
	int hash;		/* DB_HASH instead of DB_BTREE */
	int cidr;		/* keys end in /32 or /128 */
	int nul;		/* keys and values carry a trailing NUL */
};

struct map_rec {
	struct addr addr;
	int64_t expires;	/* epoch seconds */
	int64_t first_seen;
	uint32_t adds;
	const char *user;	/* "" when none */
};

/* Called for each record read; a negative return stops the read. */
typedef int (*map_visit_fn)(void *, const struct map_rec *);

int mapfile_write(const char *path, const struct map_format *,
    const struct map_rec *, size_t, int is_state, char *err, size_t errlen);
int mapfile_read(const char *path, int is_state, map_visit_fn, void *,
    char *err, size_t errlen);
void mapfile_clean(const char *path);
int mapfile_writable(const char *path, char *err, size_t errlen);
int mapfile_key(const struct addr *, const struct map_format *,
    char *buf, size_t len);

#endif
