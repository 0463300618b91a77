/*
 * sender.h - pass logins to dracd: fold repeats, queue while it is down.
 *
 * A sender owns its libdrac handle, a table of recently sent addresses
 * and a bounded queue.  One thread uses it.  Calls never block longer
 * than the handle's timeout.
 */
#ifndef LOGWATCH_SENDER_H
#define LOGWATCH_SENDER_H

#include <stdint.h>

#include "drac.h"
#include "pattern.h"

struct sender_opts {
	unsigned int ttl;		/* 0: the server's default */
	int64_t fold_ms;		/* repeats within this are one add */
	unsigned int queue_max;		/* logins held while dracd is down */
	int64_t max_age_ms;		/* older queued logins are dropped */
	int any;			/* one server taking an add is enough
					 * (the members of one dracd group) */
};

struct sender_stats {
	uint64_t lines, matched, old, added, folded, dropped, refused;
	unsigned int queued;
};

struct sender;

struct sender *sender_new(drac_t *, const struct sender_opts *);
void sender_submit(struct sender *, const struct login *, int64_t now_ms);
int sender_flush(struct sender *, int64_t now_ms);
int64_t sender_next_ms(const struct sender *, int64_t now_ms);
struct sender_stats *sender_stats(struct sender *);
void sender_free(struct sender *);

#endif
