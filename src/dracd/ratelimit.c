/*
 * ratelimit.c - token buckets for adds, one per network.
 *
 * A bucket belongs to a network (address and prefix length): proc.c passes
 * the allow rule that gave the add right, so every source a rule admits
 * shares one budget, and rotating addresses within it gains nothing.  A
 * linear table: the rules that grant add are a handful, so a scan is
 * cheaper than a hash.  The table is capped, and a new network replaces
 * the one idle longest.
 */
#include <pthread.h>
#include <stdlib.h>

#include "ratelimit.h"

struct bucket {
	struct addr net;
	unsigned int bits;
	double tokens;
	int64_t last_ms;
};

struct ratelimit {
	pthread_mutex_t lock;
	double rate, burst;	/* tokens per second, bucket size */
	struct bucket *b;
	size_t n, max;
};

/* ratelimit_new - rate adds a second, bursts of burst, max clients */
struct ratelimit *
ratelimit_new(double rate, double burst, size_t max)
{
	struct ratelimit *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->b = calloc(max, sizeof(*r->b))) == NULL) {
		free(r);
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	r->rate = rate;
	r->burst = burst;
	r->max = max;
	return r;
}

/* find - net/bits' bucket, new (full) if need be, evicting the idlest */
static struct bucket *
find(struct ratelimit *r, const struct addr *net, unsigned int bits,
    int64_t now_ms)
{
	size_t i, idlest = 0;

	for (i = 0; i < r->n; i++) {
		if (r->b[i].bits == bits && addr_equal(&r->b[i].net, net))
			return &r->b[i];
		if (r->b[i].last_ms < r->b[idlest].last_ms)
			idlest = i;
	}
	i = r->n < r->max ? r->n++ : idlest;
	r->b[i].net = *net;
	r->b[i].bits = bits;
	r->b[i].tokens = r->burst;
	r->b[i].last_ms = now_ms;
	return &r->b[i];
}

/*
 * ratelimit_take - 1 if a source in the network net/bits may add now (a
 * token is spent), 0 if not
 */
int
ratelimit_take(struct ratelimit *r, const struct addr *net,
    unsigned int bits, int64_t now_ms)
{
	struct bucket *b;
	int ok;

	pthread_mutex_lock(&r->lock);
	b = find(r, net, bits, now_ms);
	b->tokens += (double)(now_ms - b->last_ms) * r->rate / 1000.0;
	if (b->tokens > r->burst)
		b->tokens = r->burst;
	b->last_ms = now_ms;
	if ((ok = b->tokens >= 1.0))
		b->tokens -= 1.0;
	pthread_mutex_unlock(&r->lock);
	return ok;
}

/* ratelimit_free - release it (NULL is fine) */
void
ratelimit_free(struct ratelimit *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->b);
	free(r);
}
