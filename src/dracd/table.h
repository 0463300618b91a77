/*
 * table.h - the allowlist in memory: entries by address (a hash) and by
 * expiry (a min-heap).  No locks, no I/O; the caller serialises calls.
 */
#ifndef DRACD_TABLE_H
#define DRACD_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"

struct entry {
	struct entry *next;		/* hash chain; the free list's link */
	int64_t expires;
	char *user;			/* NULL when none */
	uint32_t first_seen;		/* epoch seconds (good until 2106) */
	uint32_t heap_idx;
	uint32_t adds;
	struct addr addr;
	uint8_t used;			/* in the table, not free */
};

#define SLAB_ENTRIES	4096	/* entries allocated at once */

struct table {
	struct entry **buckets;
	size_t nbuckets, count;
	struct entry **heap;		/* heap[0] expires first */
	size_t heap_len, heap_cap;
	uint64_t seed[2];
	struct entry *free_entries;	/* unused slots of the slabs */
	void **slabs;
	size_t nslabs;
};

/* entry_user - e's user, or "", into a buffer of MAPFILE_USERMAX + 1
 * (writers of e->user keep users within that) */
static inline void
entry_user(const struct entry *e, char *out)
{
	if (e->user != NULL)
		memcpy(out, e->user, strlen(e->user) + 1);
	else
		out[0] = '\0';
}

int table_init(struct table *);
void table_free(struct table *);
void table_clear(struct table *);
struct entry *table_lookup(struct table *, const struct addr *);
struct entry *table_insert(struct table *, const struct addr *);
void table_unlink(struct table *, struct entry *);
void table_reheap(struct table *, struct entry *);
void table_heap_up(struct table *, size_t);
void table_heap_down(struct table *, size_t);
struct entry *table_slot(struct table *, uint64_t pos);
uint64_t table_slots(const struct table *);

#endif
