/*
 * sender.c - logins to dracd (see sender.h).
 *
 * A login whose address was queued within fold_ms is counted and
 * dropped: a POP client that logs in every minute, or an IMAP client that
 * opens five connections, makes one add.  Queued logins go out oldest
 * first; a transient failure (dracd down, a timeout) keeps the login at
 * the head and waits, doubling the wait up to SENDER_BACKOFF_MAX; a full
 * queue drops its oldest login.  A refusal (rights, a bad address) is
 * final for that login.
 */
#include <err.h>
#include <stdlib.h>
#include <string.h>

#include "sender.h"

#define SENDER_RECENT		1024	/* addresses remembered for folding */
#define SENDER_BACKOFF_MIN	250	/* ms */
#define SENDER_BACKOFF_MAX	10000	/* ms */
#define SENDER_LOG_MS		60000	/* at most one refusal line per */

struct pending {
	struct login login;
	int64_t at;
};

struct recent {
	char addr[LOGIN_ADDRMAX];
	int64_t at;
};

struct sender {
	drac_t *h;
	struct sender_opts o;
	struct pending *q;
	unsigned int head, n;
	struct recent recent[SENDER_RECENT];
	unsigned int rnext;
	int64_t retry_at, backoff;
	int down;			/* said that dracd is unreachable */
	int64_t refusal_logged;
	struct sender_stats st;
};

/* sender_new - a sender over h (owned by the caller); NULL on ENOMEM */
struct sender *
sender_new(drac_t *h, const struct sender_opts *o)
{
	struct sender *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->q = calloc(o->queue_max, sizeof(*s->q))) == NULL) {
		free(s);
		return NULL;
	}
	s->h = h;
	s->o = *o;
	s->refusal_logged = -SENDER_LOG_MS;
	return s;
}

/* folded - was addr queued within the fold window?  Notes it if not. */
static int
folded(struct sender *s, const char *addr, int64_t now)
{
	unsigned int i;

	for (i = 0; i < SENDER_RECENT; i++)
		if (s->recent[i].at > now - s->o.fold_ms &&
		    s->recent[i].at != 0 &&
		    strcmp(s->recent[i].addr, addr) == 0)
			return 1;
	strcpy(s->recent[s->rnext].addr, addr);
	s->recent[s->rnext].at = now;
	s->rnext = (s->rnext + 1) % SENDER_RECENT;
	return 0;
}

/* sender_submit - queue a login unless it repeats a recent one */
void
sender_submit(struct sender *s, const struct login *l, int64_t now)
{
	struct pending *p;

	if (s->o.fold_ms > 0 && folded(s, l->addr, now)) {
		s->st.folded++;
		return;
	}
	if (s->n == s->o.queue_max) {	/* full: the oldest goes */
		s->head = (s->head + 1) % s->o.queue_max;
		s->n--;
		s->st.dropped++;
	}
	p = &s->q[(s->head + s->n) % s->o.queue_max];
	p->login = *l;
	p->at = now;
	s->n++;
}

/* transient - is rc worth a retry? */
static int
transient(int rc)
{
	switch (rc) {
	case DRAC_E_NOMEM: case DRAC_E_RESOLVE: case DRAC_E_DOWN:
	case DRAC_E_TIMEOUT: case DRAC_E_RPC: case DRAC_E_SERVER:
	case DRAC_E_SYS: case DRAC_E_UNREACH: case DRAC_E_BUSY:
		return 1;
	default:
		return 0;
	}
}

/* refused - count a final refusal; one line a minute at most */
static void
refused(struct sender *s, const struct pending *p, int rc, int64_t now)
{
	s->st.refused++;
	if (now - s->refusal_logged < SENDER_LOG_MS)
		return;
	s->refusal_logged = now;
	warnx("dracd refused %s (user %s): %s; further refusals within a "
	    "minute are counted, not logged", p->login.addr,
	    p->login.user[0] ? p->login.user : "-", drac_strerror(rc));
}

/* send_one - add the head login; 0 done with it, -1 retry later */
static int
send_one(struct sender *s, const struct pending *p, int64_t now)
{
	int rc;

	if (now - p->at > s->o.max_age_ms) {
		s->st.dropped++;	/* too old to grant now */
		return 0;
	}
	rc = (s->o.any ? drac_add_any : drac_add)(s->h, p->login.addr,
	    s->o.ttl, p->login.user[0] ? p->login.user : NULL);
	if (rc == 0) {
		s->st.added++;
		if (s->down)
			warnx("dracd answers again");
		s->down = 0;
		s->backoff = 0;
		return 0;
	}
	if (!transient(rc)) {
		refused(s, p, rc, now);
		return 0;
	}
	if (!s->down)
		warnx("dracd unreachable (%s): holding logins, at most %u",
		    drac_strerror(rc), s->o.queue_max);
	s->down = 1;
	s->backoff = s->backoff == 0 ? SENDER_BACKOFF_MIN :
	    s->backoff * 2 > SENDER_BACKOFF_MAX ? SENDER_BACKOFF_MAX :
	    s->backoff * 2;
	s->retry_at = now + s->backoff;
	return -1;
}

/*
 * sender_flush - send what is queued unless a retry is not yet due;
 * 0 when the queue is empty, else the number still queued.
 */
int
sender_flush(struct sender *s, int64_t now)
{
	if (s->n > 0 && now < s->retry_at)
		return (int)s->n;
	while (s->n > 0) {
		if (send_one(s, &s->q[s->head], now) < 0)
			break;
		s->head = (s->head + 1) % s->o.queue_max;
		s->n--;
	}
	return (int)s->n;
}

/* sender_next_ms - ms until a flush has work (-1: none queued) */
int64_t
sender_next_ms(const struct sender *s, int64_t now)
{
	if (s->n == 0)
		return -1;
	return s->retry_at > now ? s->retry_at - now : 0;
}

/* sender_stats - the counters, kept in the sender */
struct sender_stats *
sender_stats(struct sender *s)
{
	s->st.queued = s->n;
	return &s->st;
}

/* sender_free - release a sender (not its handle) */
void
sender_free(struct sender *s)
{
	if (s == NULL)
		return;
	free(s->q);
	free(s);
}
