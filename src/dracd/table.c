/*
 * table.c - the allowlist in memory: a hash by address and a min-heap by
 * expiry, over entries allocated in slabs (table.h).
 *
 * No locks and no I/O: the caller serialises every call.  Entries are
 * owned by the table and freed by table_unlink; a pointer to one is valid
 * until then.  An entry's slot never moves, so a walk by slot number
 * (table_slot) meets each entry present throughout exactly once.
 */
#include <sys/random.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "table.h"

#define MIN_BUCKETS	1024

/* entry_new - a zeroed entry from the slabs; NULL when out of memory */
static struct entry *
entry_new(struct table *t)
{
	struct entry *e, *slab;
	void **n;
	size_t i;

	if (t->free_entries == NULL) {
		if ((n = reallocarray(t->slabs, t->nslabs + 1, sizeof(*n))) ==
		    NULL)
			return NULL;
		t->slabs = n;
		if ((slab = calloc(SLAB_ENTRIES, sizeof(*slab))) == NULL)
			return NULL;
		t->slabs[t->nslabs++] = slab;
		for (i = SLAB_ENTRIES; i-- > 0;) {
			slab[i].next = t->free_entries;
			t->free_entries = &slab[i];
		}
	}
	e = t->free_entries;
	t->free_entries = e->next;
	memset(e, 0, sizeof(*e));
	e->used = 1;
	return e;
}

/* entry_free - back to the slabs (whose memory is kept for reuse) */
static void
entry_free(struct table *t, struct entry *e)
{
	free(e->user);
	e->user = NULL;
	e->used = 0;
	e->next = t->free_entries;
	t->free_entries = e;
}

/* hash - seeded mix of the address, so bucket order is not guessable */
static uint64_t
hash(const struct table *t, const struct addr *a)
{
	uint64_t w[2], h;

	memcpy(w, a->bytes, 16);
	h = (w[0] ^ t->seed[0]) * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 29;
	h += (w[1] ^ t->seed[1] ^ a->family) * 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	h *= 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

/* ---- min-heap by expiry ---- */

/* heap_set - place e at index i */
static void
heap_set(struct table *t, size_t i, struct entry *e)
{
	t->heap[i] = e;
	e->heap_idx = (uint32_t)i;
}

/* heap_up - restore order above i */
void
table_heap_up(struct table *t, size_t i)
{
	struct entry *e = t->heap[i];

	while (i > 0 && t->heap[(i - 1) / 2]->expires > e->expires) {
		heap_set(t, i, t->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(t, i, e);
}

/* heap_down - restore order below i */
void
table_heap_down(struct table *t, size_t i)
{
	struct entry *e = t->heap[i];
	size_t c;

	while ((c = 2 * i + 1) < t->heap_len) {
		if (c + 1 < t->heap_len &&
		    t->heap[c + 1]->expires < t->heap[c]->expires)
			c++;
		if (t->heap[c]->expires >= e->expires)
			break;
		heap_set(t, i, t->heap[c]);
		i = c;
	}
	heap_set(t, i, e);
}

/* heap_remove - take e out of the heap */
static void
heap_remove(struct table *t, struct entry *e)
{
	size_t i = e->heap_idx;
	struct entry *last = t->heap[--t->heap_len];

	if (last == e)
		return;
	heap_set(t, i, last);
	table_heap_up(t, i);
	table_heap_down(t, last->heap_idx);
}

/* table_reheap - restore heap order around e after its expiry changed */
void
table_reheap(struct table *t, struct entry *e)
{
	table_heap_up(t, e->heap_idx);
	table_heap_down(t, e->heap_idx);
}

/* ---- hash table ---- */

/* bucket - the chain head for a */
static struct entry **
bucket(struct table *t, const struct addr *a)
{
	return &t->buckets[hash(t, a) & (t->nbuckets - 1)];
}

/* table_lookup - the entry for a, or NULL */
struct entry *
table_lookup(struct table *t, const struct addr *a)
{
	struct entry *e;

	for (e = *bucket(t, a); e != NULL; e = e->next)
		if (addr_equal(&e->addr, a))
			return e;
	return NULL;
}

/* grow - double the bucket array; on failure keep the old one */
static void
grow(struct table *t)
{
	size_t n = t->nbuckets * 2, i;
	struct entry **nb, *e, *next;

	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < t->nbuckets; i++)
		for (e = t->buckets[i]; e != NULL; e = next) {
			size_t b = hash(t, &e->addr) & (n - 1);

			next = e->next;
			e->next = nb[b];
			nb[b] = e;
		}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
}

/* table_insert - a new entry for a (which must not be there); NULL when
 * out of memory.  Limits are the caller's. */
struct entry *
table_insert(struct table *t, const struct addr *a)
{
	struct entry *e, **b;

	if (t->heap_len == t->heap_cap) {
		size_t cap = t->heap_cap * 2;
		struct entry **h = reallocarray(t->heap, cap, sizeof(*h));

		if (h == NULL)
			return NULL;
		t->heap = h;
		t->heap_cap = cap;
	}
	if ((e = entry_new(t)) == NULL)
		return NULL;
	if (t->count >= t->nbuckets)
		grow(t);
	e->addr = *a;
	b = bucket(t, a);
	e->next = *b;
	*b = e;
	t->count++;
	heap_set(t, t->heap_len++, e);
	return e;
}

/* table_unlink - remove e from table and heap and free it */
void
table_unlink(struct table *t, struct entry *e)
{
	struct entry **p;

	for (p = bucket(t, &e->addr); *p != e; p = &(*p)->next)
		;
	*p = e->next;
	heap_remove(t, e);
	t->count--;
	entry_free(t, e);
}

/* table_init - an empty table; -1 when out of memory */
int
table_init(struct table *t)
{
	memset(t, 0, sizeof(*t));
	t->nbuckets = MIN_BUCKETS;
	t->heap_cap = MIN_BUCKETS;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	t->heap = calloc(t->heap_cap, sizeof(*t->heap));
	if (getrandom(t->seed, sizeof(t->seed), 0) != sizeof(t->seed))
		t->seed[0] = (uint64_t)time(NULL) ^ (uint64_t)getpid();
	return t->buckets != NULL && t->heap != NULL ? 0 : -1;
}

/* table_clear - remove every entry */
void
table_clear(struct table *t)
{
	while (t->heap_len > 0)
		table_unlink(t, t->heap[t->heap_len - 1]);
}

/* table_free - release everything */
void
table_free(struct table *t)
{
	table_clear(t);
	while (t->nslabs > 0)
		free(t->slabs[--t->nslabs]);
	free(t->slabs);
	free(t->heap);
	free(t->buckets);
}

/* table_slot - entry slot pos (see table_slots), used or not */
struct entry *
table_slot(struct table *t, uint64_t pos)
{
	return &((struct entry *)t->slabs[pos / SLAB_ENTRIES])[pos %
	    SLAB_ENTRIES];
}

/* table_slots - how many slots there are */
uint64_t
table_slots(const struct table *t)
{
	return (uint64_t)t->nslabs * SLAB_ENTRIES;
}
