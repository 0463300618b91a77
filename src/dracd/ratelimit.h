/*
 * ratelimit.h - a token bucket per client address.
 *
 * Safe from any thread (one mutex).  The table holds at most max clients;
 * when full, the client heard from least recently is forgotten.
 */
#ifndef DRACD_RATELIMIT_H
#define DRACD_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct ratelimit;

struct ratelimit *ratelimit_new(double rate, double burst, size_t max);
int ratelimit_take(struct ratelimit *, const struct addr *, int64_t now_ms);
void ratelimit_free(struct ratelimit *);

#endif
