/*
 * metrics.h - Prometheus text format on GET /metrics (libmicrohttpd).
 *
 * The listening socket is opened by main before privileges are dropped
 * (stream_listen); metrics_start serves it from a thread of libmicrohttpd,
 * to callers that hold the admin right over TCP only.
 */
#ifndef DRACD_METRICS_H
#define DRACD_METRICS_H

#include <stddef.h>

#include "policy.h"

struct metrics;

struct metrics *metrics_start(int fd, struct server *, char *err,
    size_t errlen);
void metrics_stop(struct metrics *);
size_t metrics_render(struct server *, char *buf, size_t cap);
size_t metrics_render_group(const struct store_group *, char *buf,
    size_t cap);

#endif
