/*
 * check_group.c - a dracd group: three real dracd replicating through
 * Berkeley DB's Replication Manager on loopback (tests/support/group.c),
 * each with its own environment, map and allow file.  What a client of
 * any member sees: one master, adds answered allowed everywhere and soon,
 * a master's death or stall survived without losing an acknowledged add
 * and without two masters, a member that was away catching up, the
 * rights of the member spoken to, grants expiring on every member.
 * Figures (election time, replication lag) go to stderr.
 */
#include <sys/wait.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drac_prot.h"
#include "group.h"
#include "helpers.h"
#include "suites.h"

#define ALLOW		"127.0.0.1 add check admin\n"
#define FORM_MS		10000	/* the first master, from the first start */
#define FAILOVER_MS	5000	/* a new master after the old one died */
#define REJOIN_MS	40000	/* one master again after a stopped one
				 * returns: a member Berkeley DB holds
				 * exits after 20 s and is started again
				 * (store_group.c, watch_main) */
#define SEEN_MS		2000	/* an acknowledged add allowed everywhere */
#define MAPS_MS		10000	/* the maps alike (sync interval 1 s) */
#define LAG_ADDS	300
#define LAG_P99_MS	50	/* asserted; the target is 5 */
#define LAG_SAN_MS	1000	/* under a sanitizer: see lag_bound_ms */
#define CATCHUP_ADDS	5000

static struct group g;
static char tails[3000];	/* Check carries a message of 4 KB at most */

/* teardown - every member killed, by PID; under a sanitizer (make
 * check-asan, check-tsan) no member may have reported anything */
static void
teardown(void)
{
	size_t which = 0;

	group_teardown(&g);
	ck_assert_msg(group_sanitized(&g, &which), "member %zu's log holds a "
	    "sanitizer's report (%s)", which, g.m[which].d.log);
}

/* logs - every member's log end, for a failure message */
static const char *
logs(void)
{
	return group_tails(&g, tails, sizeof(tails));
}

/* form - init and start n members in a shuffled order with more in each
 * dracd.conf; the master's index, asserted within FORM_MS */
static int
form(size_t n, const char *more)
{
	size_t order[GROUP_MAX];
	int64_t t0 = now_ms();
	int master;

	group_init(&g, n, ALLOW, more);
	group_shuffle(order, n);
	group_start(&g, order);
	master = group_settled(&g, FORM_MS - (now_ms() - t0));
	ck_assert_msg(master >= 0, "no single master %d ms after the first "
	    "start (order %zu %zu %zu):\n%s", FORM_MS, order[0], order[1],
	    order[2], logs());
	fprintf(stderr, "group: %zu members formed, member %d master, %lld ms "
	    "after the first start\n", n, master, (long long)(now_ms() - t0));
	return master;
}

/* allowed_everywhere - addr allowed at every running member within ms */
static void
allowed_everywhere(const char *addr, int64_t ms)
{
	size_t i;

	for (i = 0; i < g.n; i++)
		if (g.m[i].d.pid > 0)
			ck_assert_msg(group_allowed_at(&g, i, addr, ms),
			    "%s not allowed at member %zu within %lld ms "
			    "(answer %d):\n%s", addr, i, (long long)ms,
			    group_check(&g, i, addr), logs());
}

/* maps_alike - every member's map holds the same records, in time */
static void
maps_alike(void)
{
	char why[512];

	ck_assert_msg(group_maps_same(&g, MAPS_MS, why, sizeof(why)),
	    "maps differ after %d ms: %s", MAPS_MS, why);
}

/*
 * form: three members started in a shuffled order elect exactly one
 * master; an add at each member is answered allowed by that member at
 * once and by every member soon; the three maps end alike.
 */
START_TEST(form_one_master)
{
	char addr[32];
	int which = -1;
	size_t i;

	int64_t t0, t1;

	form(3, NULL);
	for (i = 0; i < g.n; i++) {
		group_addr(addr, sizeof(addr), 1, (unsigned int)i);
		t0 = now_ms();
		ck_assert_msg(group_add(&g, i, "127.0.0.1", addr, 0) == DRAC_OK,
		    "add of %s at member %zu refused:\n%s", addr, i, logs());
		t1 = now_ms();
		ck_assert_msg(group_check(&g, i, addr) == 1, "%s not allowed "
		    "at member %zu right after its add there:\n%s", addr, i,
		    logs());
		allowed_everywhere(addr, SEEN_MS);
		fprintf(stderr, "group: the first add at member %zu answered in "
		    "%lld ms, allowed everywhere after %lld ms\n", i,
		    (long long)(t1 - t0), (long long)(now_ms() - t0));
	}
	/* every member's map holds every add (each map is written on its
	 * own schedule: alike at one moment is not yet complete) */
	for (i = 0; i < g.n; i++) {
		size_t m;

		group_addr(addr, sizeof(addr), 1, (unsigned int)i);
		for (m = 0; m < g.n; m++)
			ck_assert_msg(group_map_wait(&g, m, addr, 1, MAPS_MS),
			    "%s not in member %zu's map", addr, m);
	}
	maps_alike();
	ck_assert_int_eq(group_masters(&g, &which), 1);
}
END_TEST

/* the lag test's shared state: adders fill sent[], pollers seen[][] */
struct lag {
	int64_t sent_us[LAG_ADDS];	/* 0: not yet sent */
	int64_t seen_us[GROUP_MAX][LAG_ADDS];	/* 0: not seen (yet) */
	_Atomic int sent[LAG_ADDS];
	int acked[LAG_ADDS];
	int64_t reply_us[LAG_ADDS];	/* the add's round trip */
	int64_t start_us;
};

struct lag_thread {
	pthread_t t;
	struct lag *lag;
	size_t member;
};

/* now_us - monotonic microseconds */
static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* sleep_until_us - sleep until the monotonic time t (µs) */
static void
sleep_until_us(int64_t t)
{
	struct timespec ts;

	ts.tv_sec = t / 1000000;
	ts.tv_nsec = (t % 1000000) * 1000;
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* lag_adder - adds k = member, member + 3, ... at the given member, on
 * a schedule of one add every 2 ms over all three (500/s) */
static void *
lag_adder(void *arg)
{
	struct lag_thread *t = arg;
	struct lag *l = t->lag;
	char addr[32];
	size_t k;

	for (k = t->member; k < LAG_ADDS; k += g.n) {
		sleep_until_us(l->start_us + (int64_t)k * 2000);
		group_addr(addr, sizeof(addr), 2, (unsigned int)k);
		l->sent_us[k] = now_us();
		atomic_store(&l->sent[k], 1);
		l->acked[k] = group_add(&g, t->member, "127.0.0.1", addr, 0) ==
		    DRAC_OK;
		l->reply_us[k] = now_us() - l->sent_us[k];
	}
	return NULL;
}

/* lag_poller - for each add in turn, once sent: when did this member
 * first answer allowed?  (Gives up on one after SEEN_MS.) */
static void *
lag_poller(void *arg)
{
	struct lag_thread *t = arg;
	struct lag *l = t->lag;
	struct timespec gap = {0, 200 * 1000L};
	char addr[32];
	int64_t end;
	size_t k;

	for (k = 0; k < LAG_ADDS; k++) {
		end = now_ms() + 5 * SEEN_MS;
		while (!atomic_load(&l->sent[k]) && now_ms() < end)
			nanosleep(&gap, NULL);
		group_addr(addr, sizeof(addr), 2, (unsigned int)k);
		end = now_ms() + SEEN_MS;
		while (now_ms() < end) {
			if (group_check(&g, t->member, addr) == 1) {
				l->seen_us[t->member][k] = now_us();
				break;
			}
			nanosleep(&gap, NULL);
		}
	}
	return NULL;
}

/* cmp_i64 - qsort: int64_t ascending */
static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* warm_up - an add at each member, allowed everywhere: the first adds
 * after a group formed are slow (the lag case measures the steady state;
 * the form case the first adds) */
static void
warm_up(void)
{
	char addr[32];
	size_t i;

	for (i = 0; i < g.n; i++) {
		group_addr(addr, sizeof(addr), 8, (unsigned int)i);
		ck_assert_int_eq(group_add(&g, i, "127.0.0.1", addr, 0),
		    DRAC_OK);
		allowed_everywhere(addr, SEEN_MS);
	}
}

/* lag_bound_ms - LAG_P99_MS; under a sanitizer (make check-asan,
 * check-tsan: CK_TIMEOUT_MULTIPLIER set), which slows every thread of
 * three members sharing two cores, LAG_SAN_MS: there the bound says
 * only that changes do not get stuck (TSan saw p99 152 ms once) */
static int64_t
lag_bound_ms(void)
{
	const char *m = getenv("CK_TIMEOUT_MULTIPLIER");

	return m != NULL && strtoll(m, NULL, 10) > 1 ? LAG_SAN_MS : LAG_P99_MS;
}

/*
 * lag: 300 adds spread over the members at 500/s; for each, the time
 * from its sending until every member answers allowed: p50 and p99
 * printed, p99 asserted under LAG_P99_MS.
 */
START_TEST(lag_p99)
{
	static struct lag l;
	struct lag_thread ad[GROUP_MAX], po[GROUP_MAX];
	int64_t lag[LAG_ADDS], last;
	size_t i, k, n = 0, unseen = 0, refused = 0, slow;

	form(3, NULL);
	warm_up();
	memset(&l, 0, sizeof(l));
	l.start_us = now_us() + 10000;
	for (i = 0; i < g.n; i++) {
		po[i].lag = ad[i].lag = &l;
		po[i].member = ad[i].member = i;
		ck_assert_int_eq(pthread_create(&po[i].t, NULL, lag_poller,
		    &po[i]), 0);
		ck_assert_int_eq(pthread_create(&ad[i].t, NULL, lag_adder,
		    &ad[i]), 0);
	}
	for (i = 0; i < g.n; i++) {
		pthread_join(ad[i].t, NULL);
		pthread_join(po[i].t, NULL);
	}
	for (k = 0; k < LAG_ADDS; k++) {
		if (!l.acked[k]) {
			refused++;
			continue;
		}
		for (i = 0, last = 0; i < g.n; i++) {
			if (l.seen_us[i][k] == 0)
				break;
			if (l.seen_us[i][k] > last)
				last = l.seen_us[i][k];
		}
		if (i < g.n) {
			unseen++;
			continue;
		}
		lag[n++] = last - l.sent_us[k];
	}
	ck_assert_msg(refused == 0, "%zu of %d adds not acknowledged:\n%s",
	    refused, LAG_ADDS, logs());
	ck_assert_msg(unseen == 0, "%zu acknowledged adds not allowed "
	    "everywhere within %d ms:\n%s", unseen, SEEN_MS, logs());
	qsort(lag, n, sizeof(lag[0]), cmp_i64);
	for (k = 0, slow = 0; k < n; k++)
		slow += lag[k] >= 20000;
	qsort(l.reply_us, LAG_ADDS, sizeof(l.reply_us[0]), cmp_i64);
	fprintf(stderr, "group lag: the adds' own round trips: p50 %.2f ms, "
	    "p99 %.2f ms\n", (double)l.reply_us[LAG_ADDS / 2] / 1e3,
	    (double)l.reply_us[LAG_ADDS * 99 / 100] / 1e3);
	fprintf(stderr, "group lag: %zu adds at 500/s over 3 members, until "
	    "every member answers allowed: p50 %.2f ms, p90 %.2f ms, p99 %.2f "
	    "ms, max %.2f ms, %zu at 20 ms or more (target p99 5 ms)\n", n,
	    (double)lag[n / 2] / 1e3, (double)lag[n * 9 / 10] / 1e3,
	    (double)lag[n * 99 / 100] / 1e3, (double)lag[n - 1] / 1e3, slow);
	ck_assert_msg(lag[n * 99 / 100] < lag_bound_ms() * 1000, "lag p99 "
	    "%.2f ms, want under %lld", (double)lag[n * 99 / 100] / 1e3,
	    (long long)lag_bound_ms());
}
END_TEST

/* an adder like a client with a server list: each add goes to the
 * members in turn until one acknowledges it */
#define FAIL_ADDS	4096

struct spread {
	pthread_t t;
	_Atomic int stop;
	_Atomic int include;		/* bit i: member i may be asked */
	_Atomic size_t tried;		/* adds tried */
	_Atomic size_t acked_n;		/* adds acknowledged */
	int acked[FAIL_ADDS];		/* by whom, +1; 0 none */
	int64_t acked_ms[FAIL_ADDS];
	unsigned int base;
};

/* spread_run - the spread adder thread */
static void *
spread_run(void *arg)
{
	struct spread *s = arg;
	struct timespec gap = {0, 2 * 1000000L};
	char addr[32];
	size_t k, j, i;

	for (k = 0; k < FAIL_ADDS && !atomic_load(&s->stop); k++) {
		group_addr(addr, sizeof(addr), s->base, (unsigned int)k);
		for (j = 0; j < g.n; j++) {
			i = (k + j) % g.n;
			if (!(atomic_load(&s->include) & (1 << i)))
				continue;
			if (group_add(&g, i, "127.0.0.1", addr, 0) == DRAC_OK) {
				s->acked[k] = (int)i + 1;
				s->acked_ms[k] = now_ms();
				atomic_fetch_add(&s->acked_n, 1);
				break;
			}
		}
		atomic_store(&s->tried, k + 1);
		nanosleep(&gap, NULL);
	}
	return NULL;
}

/* spread_start - the spread adder on addresses 10.base.x.y, asking
 * the members in include (a bit each) */
static void
spread_start(struct spread *s, unsigned int base, int include)
{
	memset(s, 0, sizeof(*s));
	s->base = base;
	atomic_store(&s->include, include);
	ck_assert_int_eq(pthread_create(&s->t, NULL, spread_run, s), 0);
}

/* spread_stop - stop the adder; how many adds it tried */
static size_t
spread_stop(struct spread *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->t, NULL);
	return atomic_load(&s->tried);
}

static size_t spread_goal;	/* acked_at_least's n */

/* acked_at_least - has the adder (arg) n acknowledged adds? */
static int
acked_at_least(void *arg)
{
	struct spread *s = arg;

	return atomic_load(&s->acked_n) >= spread_goal;
}

/* every_acked_allowed - each add the spread adder had acknowledged is
 * allowed at every running member */
static void
every_acked_allowed(const struct spread *s, size_t tried)
{
	char addr[32];
	size_t k, i;

	for (k = 0; k < tried; k++) {
		if (!s->acked[k])
			continue;
		group_addr(addr, sizeof(addr), s->base, (unsigned int)k);
		for (i = 0; i < g.n; i++)
			if (g.m[i].d.pid > 0)
				ck_assert_msg(group_allowed_at(&g, i, addr,
				    SEEN_MS), "%s, acknowledged by member %d "
				    "(add %zu of %zu), not allowed at member "
				    "%zu (answer %d):\n%s", addr, s->acked[k] -
				    1, k, tried, i, group_check(&g, i, addr),
				    logs());
	}
}

/*
 * failover: adds go on (to any member that answers) while the master is
 * SIGKILLed: a new master within FAILOVER_MS; every acknowledged add is
 * allowed at both survivors; the killed member, restarted, is a replica,
 * catches up, and its map ends like the others'.
 */
START_TEST(failover_kill_master)
{
	static struct spread s;
	int64_t t_kill, t_new, t_first = 0;
	int old, now;
	size_t k, tried, before;

	old = form(3, NULL);
	spread_start(&s, 3, 7);
	spread_goal = 50;
	ck_assert_msg(wait_until(acked_at_least, &s, 5000), "adds not "
	    "acknowledged before the kill:\n%s", logs());
	before = atomic_load(&s.acked_n);
	t_kill = now_ms();
	group_kill(&g, (size_t)old);
	now = group_settled(&g, FAILOVER_MS);
	t_new = now_ms();
	ck_assert_msg(now >= 0 && now != old, "no new master %d ms after "
	    "the master (member %d) was killed:\n%s", FAILOVER_MS, old,
	    logs());
	spread_goal = before + 50;
	ck_assert_msg(wait_until(acked_at_least, &s, 5000), "adds not "
	    "acknowledged after the failover:\n%s", logs());
	tried = spread_stop(&s);
	for (k = 0; k < tried; k++)
		if (s.acked[k] && s.acked_ms[k] >= t_kill && (t_first == 0 ||
		    s.acked_ms[k] < t_first))
			t_first = s.acked_ms[k];
	fprintf(stderr, "group failover: new master (member %d) %lld ms after "
	    "the SIGKILL, first add acknowledged after it at %lld ms; %zu of "
	    "%zu adds acknowledged\n", now, (long long)(t_new - t_kill),
	    (long long)(t_first - t_kill), atomic_load(&s.acked_n), tried);
	every_acked_allowed(&s, tried);

	group_spawn(&g, (size_t)old);
	ck_assert_msg(group_up(&g, (size_t)old, 10000) == 0, "the killed "
	    "member did not start again:\n%s", logs());
	ck_assert_msg(group_settled(&g, FORM_MS) == now, "the restarted "
	    "member is not a replica of member %d:\n%s", now, logs());
	every_acked_allowed(&s, tried);
	maps_alike();
}
END_TEST

/*
 * catchup: a replica stopped (SIGTERM) misses CATCHUP_ADDS adds made at
 * the others; restarted, it answers every one allowed and its map ends
 * like the others'.
 */
struct bulk {
	pthread_t t;
	size_t member;
	unsigned int from, to;
	size_t acked, retried;
};

/* bulk_run - one member's share of the catchup adds */
static void *
bulk_run(void *arg)
{
	struct bulk *b = arg;

	b->acked = group_add_many(&g, b->member, 4, b->from, b->to, 0,
	    &b->retried);
	return NULL;
}

START_TEST(catchup_after_stop)
{
	struct bulk b[2];
	char addr[32];
	int master, away;
	int64_t t0;
	size_t i, n = 0;
	unsigned int k;

	master = form(3, NULL);
	away = (master + 1) % 3;
	ck_assert_int_eq(group_term(&g, (size_t)away), 0);
	t0 = now_ms();
	for (i = 0; i < g.n; i++) {
		if ((int)i == away)
			continue;
		b[n].member = i;
		b[n].from = (unsigned int)(n * CATCHUP_ADDS / 2);
		b[n].to = (unsigned int)((n + 1) * CATCHUP_ADDS / 2);
		ck_assert_int_eq(pthread_create(&b[n].t, NULL, bulk_run, &b[n]),
		    0);
		n++;
	}
	for (i = 0; i < n; i++)
		pthread_join(b[i].t, NULL);
	ck_assert_msg(b[0].acked + b[1].acked == CATCHUP_ADDS, "%zu of %d adds "
	    "acknowledged with one member away:\n%s", b[0].acked + b[1].acked,
	    CATCHUP_ADDS, logs());
	fprintf(stderr, "group catchup: %d adds at 2 of 3 members in %lld ms "
	    "(%zu refused and tried again)\n", CATCHUP_ADDS,
	    (long long)(now_ms() - t0), b[0].retried + b[1].retried);
	t0 = now_ms();
	group_spawn(&g, (size_t)away);
	ck_assert_msg(group_up(&g, (size_t)away, 10000) == 0, "member %d did "
	    "not start again:\n%s", away, logs());
	for (k = 0; k < CATCHUP_ADDS; k++) {
		group_addr(addr, sizeof(addr), 4, k);
		ck_assert_msg(group_allowed_at(&g, (size_t)away, addr, 20000),
		    "%s not allowed at the member that was away:\n%s", addr,
		    logs());
	}
	fprintf(stderr, "group catchup: the restarted member answered all %d "
	    "allowed %lld ms after its start\n", CATCHUP_ADDS,
	    (long long)(now_ms() - t0));
	ck_assert_msg(group_settled(&g, FORM_MS) == master, "member %d is "
	    "not a replica of %d after its return:\n%s", away, master, logs());
	maps_alike();
	ck_assert_uint_eq(map_count(g.m[away].d.db), CATCHUP_ADDS);
}
END_TEST

/* poll_roles - one look at every member's role: a second master is
 * remembered in why (the first time) */
static void
poll_roles(int64_t t0, char *why, size_t len)
{
	enum group_role r[GROUP_MAX];
	size_t i, masters = 0;

	for (i = 0; i < g.n; i++)
		if ((r[i] = group_role(&g, i)) == GROUP_MASTER)
			masters++;
	if (masters > 1 && why[0] == '\0') {
		int n = snprintf(why, len, "%zu members master at once, %lld ms "
		    "after the SIGSTOP (roles %d %d %d):\n", masters,
		    (long long)(now_ms() - t0), r[0], r[1], r[2]);

		if (n > 0 && (size_t)n < len)
			group_view(&g, why + n, len - (size_t)n);
	}
}

/* other_master - a master among the members but old? */
static int
other_master(int old)
{
	size_t i;

	for (i = 0; i < g.n; i++)
		if ((int)i != old && group_role(&g, i) == GROUP_MASTER)
			return (int)i;
	return -1;
}

/*
 * partition: the master SIGSTOPped for 5 s while adds go on at the
 * others: they elect a master; after SIGCONT exactly one member says it
 * is master and the old one rejoins as a replica and converges; at no
 * poll (every 50 ms) do two members say master at once.
 */
START_TEST(partition_stop_master)
{
	static struct spread s;
	char why[1024] = "", after[1024] = "";
	struct timespec gap = {0, 50 * 1000000L};
	int64_t t0, t_new = 0, end;
	int old, now = -1;
	size_t tried, revived = 0;

	old = form(3, NULL);
	spread_start(&s, 5, 7 & ~(1 << old));
	t0 = now_ms();
	group_pause(&g, (size_t)old);
	for (end = t0 + 5000; now_ms() < end; nanosleep(&gap, NULL)) {
		poll_roles(t0, why, sizeof(why));
		if (now < 0 && (now = other_master(old)) >= 0)
			t_new = now_ms();
	}
	ck_assert_msg(now >= 0, "no master among the others while the master "
	    "(member %d) was stopped:\n%s", old, logs());
	fprintf(stderr, "group partition: member %d master %lld ms after the "
	    "old master's SIGSTOP\n", now, (long long)(t_new - t0));
	/* while the old master is stopped the others never have two */
	ck_assert_msg(why[0] == '\0', "%s\n%s", why, why[0] != '\0' ? logs() :
	    "");
	group_resume(&g, (size_t)old);
	atomic_store(&s.include, 7);
	for (end = now_ms() + REJOIN_MS; now_ms() < end;
	    nanosleep(&gap, NULL)) {
		revived += group_revive(&g);
		poll_roles(t0, after, sizeof(after));
		if (group_role(&g, (size_t)old) == GROUP_REPLICA &&
		    group_settled(&g, 0) >= 0)
			break;
	}
	/* a few more polls after it settled */
	for (end = now_ms() + 500; now_ms() < end; nanosleep(&gap, NULL))
		poll_roles(t0, after, sizeof(after));
	tried = spread_stop(&s);
	ck_assert_msg(group_settled(&g, 1000) >= 0 && group_role(&g,
	    (size_t)old) == GROUP_REPLICA, "no single master with the others "
	    "(the old master, member %d, among them) its replicas %d ms after "
	    "SIGCONT:\n%s", old, REJOIN_MS, logs());
	ck_assert_msg(atomic_load(&s.acked_n) > 0, "no add acknowledged");
	every_acked_allowed(&s, tried);
	maps_alike();
	/*
	 * Once it is back, Berkeley DB 5.3 (no master leases) can show two
	 * masters for a moment while an election settles them: said, not
	 * asserted; what must hold is asserted above (every acknowledged
	 * add everywhere, one master at the end, the maps alike)
	 */
	if (after[0] != '\0')
		fprintf(stderr, "group partition: after SIGCONT, %s", after);
	if (revived > 0)
		fprintf(stderr, "group partition: %zu member(s) exited as their "
		    "group thread waited on Berkeley DB, and were started "
		    "again\n", revived);
}
END_TEST

/*
 * watchdog: a replica's group thread held (stopped by ptrace, the rest
 * of the process running on, as when a call into Berkeley DB never
 * returns): the member says so and exits with status 1 after 20 s
 * (not before 15), still answering checks meanwhile; started again (as
 * Restart=on-failure would) it rejoins and has an add made meanwhile.
 */
START_TEST(watchdog_exits)
{
	const char *tsan = getenv("TSAN_OPTIONS");
	int master, replica, status = 0;
	char opts[1024];
	pid_t pid, tid;
	int64_t t0;

	/* the watchdog's exit leaves Berkeley DB's threads unjoined, on
	 * purpose: under ThreadSanitizer (make check-tsan) not a leak to
	 * report; this test runs in a process of its own */
	snprintf(opts, sizeof(opts), "%s%sreport_thread_leaks=0",
	    tsan != NULL ? tsan : "", tsan != NULL ? ":" : "");
	setenv("TSAN_OPTIONS", opts, 1);
	master = form(3, NULL);
	replica = (master + 1) % 3;
	ck_assert_int_eq(group_add(&g, (size_t)master, "127.0.0.1",
	    "10.8.0.1", 0), DRAC_OK);
	allowed_everywhere("10.8.0.1", SEEN_MS);
	pid = g.m[replica].d.pid;
	tid = group_hold(&g, (size_t)replica, "dracd-group");
	t0 = now_ms();
	ck_assert_msg(group_check(&g, (size_t)replica, "10.8.0.1") == 1,
	    "member %d stopped answering checks with its group thread held",
	    replica);
	/* the held thread, traced by this process, is reaped here once
	 * its process exits; then the process itself */
	while (now_ms() - t0 < 40000) {
		(void)waitpid(tid, NULL, __WALL | WNOHANG);
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "member %d did not exit with status 1 within 40 s (status %#x)",
	    replica, status);
	fprintf(stderr, "group watchdog: member %d exited %lld ms after its "
	    "group thread was held\n", replica, (long long)(now_ms() - t0));
	ck_assert_int_ge(now_ms() - t0, 15000);
	g.m[replica].d.pid = 0;
	ck_assert_msg(group_log_wait(&g, (size_t)replica, "the group thread "
	    "has waited on Berkeley DB", 0), "member %d exited without "
	    "saying why:\n%s", replica, logs());
	ck_assert_int_eq(group_add(&g, (size_t)master, "127.0.0.1",
	    "10.8.0.2", 0), DRAC_OK);
	group_spawn(&g, (size_t)replica);
	ck_assert_msg(group_settled(&g, FORM_MS) == master &&
	    group_role(&g, (size_t)replica) == GROUP_REPLICA, "member %d "
	    "did not rejoin as a replica:\n%s", replica, logs());
	ck_assert_msg(group_allowed_at(&g, (size_t)replica, "10.8.0.2",
	    SEEN_MS), "member %d rejoined without the add made while it was "
	    "gone", replica);
}
END_TEST

/*
 * rights: an add from 127.0.0.2 at a replica whose allow file grants it
 * only check is refused there, though the master's allow file grants it
 * add (and the master takes the same add): the rights are the member's
 * the client spoke to.
 */
START_TEST(rights_of_the_member)
{
	int master, replica;
	size_t i;

	group_init(&g, 3, ALLOW "127.0.0.2 add check\n", NULL);
	group_start(&g, NULL);
	master = group_settled(&g, FORM_MS);
	ck_assert_msg(master >= 0, "no master:\n%s", logs());
	replica = (master + 1) % 3;
	write_file(g.m[replica].d.allow, ALLOW "127.0.0.2 check\n");
	ck_assert_int_eq(kill(g.m[replica].d.pid, SIGHUP), 0);
	ck_assert_msg(group_up(&g, (size_t)replica, 1000) == 0 &&
	    group_log_wait(&g, (size_t)replica, "reloaded", WAIT_MS), "member %d "
	    "did not reload its allow file:\n%s", replica, logs());
	ck_assert_int_eq(group_add(&g, (size_t)replica, "127.0.0.2",
	    "10.6.0.1", 0), DRAC_PERM);
	ck_assert_int_eq(group_add(&g, (size_t)master, "127.0.0.2",
	    "10.6.0.2", 0), DRAC_OK);
	allowed_everywhere("10.6.0.2", SEEN_MS);
	for (i = 0; i < g.n; i++)
		ck_assert_msg(group_check(&g, i, "10.6.0.1") == 0, "the refused "
		    "add is allowed at member %zu", i);
}
END_TEST

/*
 * expiry: a grant of 2 s, made at a replica, is allowed everywhere, then
 * not allowed at every member once its time has passed, and leaves
 * every map.
 */
START_TEST(expiry_everywhere)
{
	const char *addr = "10.7.0.1";
	int master, replica;
	int64_t t0;
	size_t i;

	master = form(3, NULL);
	replica = (master + 2) % 3;
	t0 = now_ms();
	ck_assert_int_eq(group_add(&g, (size_t)replica, "127.0.0.1", addr, 2),
	    DRAC_OK);
	allowed_everywhere(addr, SEEN_MS);
	for (i = 0; i < g.n; i++)
		ck_assert_msg(group_map_wait(&g, i, addr, 1, MAPS_MS), "%s not "
		    "in member %zu's map", addr, i);
	for (i = 0; i < g.n; i++)
		ck_assert_msg(group_gone_at(&g, i, addr, 2000 + 3000 - (now_ms()
		    - t0)), "%s still allowed at member %zu %lld ms after its "
		    "2 s grant:\n%s", addr, i, (long long)(now_ms() - t0),
		    logs());
	ck_assert_msg(now_ms() - t0 >= 1000, "expired after %lld ms only",
	    (long long)(now_ms() - t0));
	for (i = 0; i < g.n; i++)
		ck_assert_msg(group_map_wait(&g, i, addr, 0, MAPS_MS), "%s still "
		    "in member %zu's map %lld ms after its 2 s grant", addr, i,
		    (long long)(now_ms() - t0));
}
END_TEST

/* make_group_suite - the group suite, a case a subject */
Suite *
make_group_suite(void)
{
	const struct {
		const char *name;
		const TTest *test;
	} cases[] = {
		{"form", form_one_master},
		{"lag", lag_p99},
		{"failover", failover_kill_master},
		{"catchup", catchup_after_stop},
		{"partition", partition_stop_master},
		{"watchdog", watchdog_exits},
		{"rights", rights_of_the_member},
		{"expiry", expiry_everywhere},
	};
	Suite *s = suite_create("group");
	TCase *tc;
	size_t i;

	/* three members under valgrind form a group in tens of seconds and
	 * miss every deadline here; the group code runs under ASan/UBSan
	 * and TSan instead (make check-asan, check-tsan), where a report
	 * in a member's log fails the case */
	if (slow_daemon("the group suite"))
		return s;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tc = tcase_create(cases[i].name);
		tcase_add_checked_fixture(tc, NULL, teardown);
		tcase_set_timeout(tc, 90);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}
