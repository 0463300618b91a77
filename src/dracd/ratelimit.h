/*
 * ratelimit.h - a token bucket per network (address and prefix length).
 *
 * Safe from any thread (one mutex).  The table holds at most max networks;
 * when full, the one heard from least recently is forgotten.
 */
#ifndef DRACD_RATELIMIT_H
#define DRACD_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct ratelimit;

struct ratelimit *ratelimit_new(double rate, double burst, size_t max);
int ratelimit_take(struct ratelimit *, const struct addr *net,
    unsigned int bits, int64_t now_ms);
void ratelimit_free(struct ratelimit *);

#endif
