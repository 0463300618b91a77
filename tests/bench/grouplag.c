/*
 * grouplag.c - what a dracd group's clients see (make bench, group
 * scenario).  Requests are encoded by hand (client.c), as in loadgen.
 *
 * lag: adds of distinct addresses at a steady rate, each at the next
 * member in turn (version 1 ADD over UDP); one poller per member asks it
 * (version 3 CHECK over UDP) about each add in order until it says
 * allowed.  The lag of an add is the time from its sending until the
 * last member said allowed.  Prints
 *   scenario=NAME adds=N rate=N p50_us=N p99_us=N max_us=N unseen=N
 *   errors=N
 * failover: adds at the members in turn (each waits 100 ms for its
 * answer, 1 ms between tries) until one is acknowledged; prints the time from the start
 * (the caller starts it right after killing the master):
 *   scenario=NAME failover_ms=N tries=N
 *
 * usage: grouplag -p port,port,... [-m lag|failover] [-r adds/s]
 *        [-n adds] [-s name] [-b base] [-t timeout_s]
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define MAXPORTS	8
#define ADDERS		4		/* adding threads a member */
#define MAXADDS		100000
#define SEEN_NS		(5LL * 1000000000)	/* an add given up after */

struct opts {
	uint16_t port[MAXPORTS];
	int nports;
	int failover;
	double rate;
	int n;
	const char *name;
	uint32_t base;
	double timeout;
};

struct lag {
	const struct opts *o;
	int64_t sent[MAXADDS];		/* 0 until sent */
	_Atomic int ready[MAXADDS];
	int64_t seen[MAXPORTS][MAXADDS];	/* 0: never */
	int64_t t0;			/* the first add's time */
	_Atomic int errors;
};

struct poller {
	pthread_t t;
	struct lag *l;
	int member;
};

/* call - one request: vers/proc with addr as the argument (v1 ADD: the
 * address word; v3 CHECK: family 1 and the four bytes); the first result
 * word, or -1 without an accepted answer within ms */
static int64_t
call(int fd, uint32_t xid, uint32_t vers, uint32_t proc, uint32_t addr,
    int ms)
{
	uint8_t req[64], rep[256];
	struct pollfd p = {fd, POLLIN, 0};
	int64_t end = client_now_ns() + (int64_t)ms * 1000000;
	size_t n;
	ssize_t got;
	int left;

	n = client_call(req, xid, vers, proc);
	n += client_addr(req + n, vers, addr);
	if (send(fd, req, n, 0) != (ssize_t)n)
		return -1;
	for (;;) {
		left = (int)((end - client_now_ns()) / 1000000);
		if (left <= 0 || poll(&p, 1, left) != 1)
			return -1;
		got = recv(fd, rep, sizeof(rep), 0);
		if (got >= 28 && client_get32(rep) == xid)
			break;	/* else a late answer to an earlier call */
	}
	if (client_get32(rep + 4) != 1 || client_get32(rep + 8) != 0 ||
	    client_get32(rep + 20) != 0)
		return -1;
	return client_get32(rep + 24);
}

/* poll_run - this member's answers about each add in turn */
static void *
poll_run(void *arg)
{
	struct poller *p = arg;
	struct lag *l = p->l;
	const struct opts *o = l->o;
	struct timespec gap = {0, 100 * 1000};
	int fd = client_connect(SOCK_DGRAM, o->port[p->member]);
	uint32_t xid = ((uint32_t)p->member + 1) << 24;
	int64_t give_up;
	int k;

	for (k = 0; k < o->n; k++) {
		while (!atomic_load(&l->ready[k]))
			nanosleep(&gap, NULL);
		give_up = l->sent[k] + SEEN_NS;
		while (client_now_ns() < give_up) {
			if (call(fd, ++xid, 3, 2, o->base + (uint32_t)k,
			    200) == 0) {
				l->seen[p->member][k] = client_now_ns();
				break;
			}
			nanosleep(&gap, NULL);
		}
	}
	close(fd);
	return NULL;
}

/* cmp64 - qsort: int64_t ascending */
static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* add_run - adds k = slot, slot + ADDERS * nports, ... at member slot %
 * nports, on the schedule of o->rate adds a second over all members
 * (ADDERS threads a member, so that an add's round trip does not hold
 * the next back) */
static void *
add_run(void *arg)
{
	struct poller *p = arg;
	struct lag *l = p->l;
	const struct opts *o = l->o;
	int fd = client_connect(SOCK_DGRAM, o->port[p->member % o->nports]), k;
	struct timespec at;
	int64_t due;

	for (k = p->member; k < o->n; k += ADDERS * o->nports) {
		due = l->t0 + (int64_t)((double)k * 1e9 / o->rate);
		at.tv_sec = due / 1000000000;
		at.tv_nsec = due % 1000000000;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
		l->sent[k] = client_now_ns();
		atomic_store(&l->ready[k], 1);
		if (call(fd, 0x7f000000U + (uint32_t)k, 1, 1, o->base +
		    (uint32_t)k, 2000) != 0)
			atomic_fetch_add(&l->errors, 1);
	}
	close(fd);
	return NULL;
}

/* lag - adds at o->rate, the members' answers timed */
static void
lag(const struct opts *o)
{
	struct lag *l = calloc(1, sizeof(*l));
	struct poller p[MAXPORTS], a[ADDERS * MAXPORTS];
	int i, k, unseen = 0, m = 0;
	int64_t *lags = calloc((size_t)o->n, sizeof(int64_t)), last, first;

	l->o = o;
	l->t0 = client_now_ns() + 10000000;
	for (i = 0; i < o->nports; i++) {
		p[i].l = l;
		p[i].member = i;
		pthread_create(&p[i].t, NULL, poll_run, &p[i]);
	}
	for (i = 0; i < ADDERS * o->nports; i++) {
		a[i].l = l;
		a[i].member = i;	/* its slot */
		pthread_create(&a[i].t, NULL, add_run, &a[i]);
	}
	for (i = 0; i < ADDERS * o->nports; i++)
		pthread_join(a[i].t, NULL);
	for (i = 0; i < o->nports; i++)
		pthread_join(p[i].t, NULL);
	for (k = 0, first = l->sent[0], last = 0; k < o->n; k++)
		if (l->sent[k] > last)
			last = l->sent[k];
	printf("scenario=%s adds=%d rate=%.0f", o->name, o->n, o->n > 1 &&
	    last > first ? (double)(o->n - 1) * 1e9 / (double)(last - first) :
	    o->rate);
	for (k = 0; k < o->n; k++) {
		for (i = 0, last = 0; i < o->nports; i++) {
			if (l->seen[i][k] == 0)
				break;
			if (l->seen[i][k] > last)
				last = l->seen[i][k];
		}
		if (i < o->nports)
			unseen++;
		else
			lags[m++] = last - l->sent[k];
	}
	qsort(lags, (size_t)m, sizeof(lags[0]), cmp64);
	printf(" p50_us=%lld p99_us=%lld max_us=%lld unseen=%d errors=%d\n",
	    m ? (long long)lags[m / 2] / 1000 : -1,
	    m ? (long long)lags[(size_t)m * 99 / 100] / 1000 : -1,
	    m ? (long long)lags[m - 1] / 1000 : -1, unseen,
	    atomic_load(&l->errors));
	free(lags);
	free(l);
}

/* failover - adds at the members in turn until one is acknowledged */
static int
failover(const struct opts *o)
{
	int64_t t0 = client_now_ns(), end = t0 + (int64_t)(o->timeout * 1e9);
	struct timespec gap = {0, 1000000};
	int fd[MAXPORTS], i, tries = 0;
	uint32_t k = 0;

	for (i = 0; i < o->nports; i++)
		fd[i] = client_connect(SOCK_DGRAM, o->port[i]);
	for (i = 0; client_now_ns() < end; i = (i + 1) % o->nports, k++) {
		tries++;
		if (call(fd[i], 0x6f000000U + k, 1, 1, o->base + k, 100) == 0) {
			printf("scenario=%s failover_ms=%.1f tries=%d\n",
			    o->name, (double)(client_now_ns() - t0) / 1e6,
			    tries);
			return 0;
		}
		nanosleep(&gap, NULL);	/* a refusal comes at once */
	}
	printf("scenario=%s failover_ms=never tries=%d\n", o->name, tries);
	return 1;
}

/* usage - say how, exit 2 */
static void
usage(void)
{
	fprintf(stderr, "usage: grouplag -p port,port,... [-m lag|failover] "
	    "[-r adds/s] [-n adds] [-s name] [-b base] [-t timeout_s]\n");
	exit(2);
}

/* main - options, then lag or failover */
int
main(int argc, char **argv)
{
	struct opts o = {{0}, 0, 0, 1000, 1000, "group", 0x30000000U, 10};
	int ch;

	while ((ch = getopt(argc, argv, "p:m:r:n:s:b:t:")) != -1) {
		switch (ch) {
		case 'p':
			o.nports += client_ports(optarg, o.port + o.nports,
			    MAXPORTS - o.nports);
			break;
		case 'm': o.failover = strcmp(optarg, "failover") == 0; break;
		case 'r': o.rate = atof(optarg); break;
		case 'n': o.n = atoi(optarg); break;
		case 's': o.name = optarg; break;
		case 'b': o.base = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 't': o.timeout = atof(optarg); break;
		default: usage();
		}
	}
	if (o.nports == 0 || o.rate <= 0 || o.n < 1 || o.n > MAXADDS)
		usage();
	if (o.failover)
		return failover(&o);
	lag(&o);
	return 0;
}
