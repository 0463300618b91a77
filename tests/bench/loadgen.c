/*
 * loadgen.c - a load generator for dracd (make bench).
 *
 * N client threads, each with its own socket, send one call and wait for
 * its reply, as fast as the server answers, for a fixed time.  Requests
 * are encoded by hand (client.c, as in the tests), so the client costs
 * little and measures the server.  Prints one machine-readable line:
 *   scenario=NAME calls_per_s=N p50_us=N p99_us=N p999_us=N max_us=N
 *   errors=N
 *
 * usage: loadgen -p port[,port...] [-T] [-c clients] [-d seconds] [-s name]
 *        [-n range] [-m null|add|check|mixed|policy|socketmap]
 * add: v1 ADD of distinct addresses; check: v3 CHECK of addresses
 * 10.0.0.0 + [0, range); mixed: one add in every 21 calls, the rest checks;
 * policy and socketmap: one lookup of such an address per call, over TCP
 * to those services' port.  With several ports (the members of a group),
 * client i speaks to port i modulo their number.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define NBUCKET	4096	/* log-linear latency histogram */

enum mode { M_NULL, M_ADD, M_CHECK, M_MIXED, M_POLICY, M_SOCKMAP };

#define MAXPORTS 8

struct opts {
	uint16_t port[MAXPORTS];
	int nports;
	int tcp, clients;
	double seconds;
	const char *name;
	uint32_t range;
	enum mode mode;
};

struct worker {
	const struct opts *o;
	int id;
	uint64_t calls, errors;
	uint64_t hist[NBUCKET];
	uint64_t max_us;
};

/* bucket - 64 linear steps per power of two of microseconds */
static int
bucket(uint64_t us)
{
	int e = 0;

	if (us < 64)
		return (int)us;
	while ((us >> e) >= 128)
		e++;
	return (e + 1) * 64 + (int)((us >> e) - 64);
}

static uint64_t
bucket_us(int b)
{
	int e;

	if (b < 64)
		return (uint64_t)b;
	e = b / 64 - 1;
	return ((uint64_t)(b % 64) + 64) << e;
}

/* random_addr - an address in 10.0.0.0 + [0, range) */
static uint32_t
random_addr(const struct opts *o)
{
	return 0x0a000000U + (uint32_t)(((uint64_t)rand() << 16 ^
	    (uint64_t)rand()) % o->range);
}

/* text_request - a policy request or a socketmap netstring */
static size_t
text_request(const struct opts *o, uint8_t *buf, size_t cap)
{
	struct in_addr ia;
	char ip[32], q[64];
	int n;

	ia.s_addr = htonl(random_addr(o));
	inet_ntop(AF_INET, &ia, ip, sizeof(ip));
	if (o->mode == M_POLICY)
		n = snprintf((char *)buf, cap, "request=smtpd_access_policy\n"
		    "protocol_state=RCPT\nclient_address=%s\n"
		    "client_name=unknown\n\n", ip);
	else {
		snprintf(q, sizeof(q), "drac %s", ip);
		n = snprintf((char *)buf, cap, "%zu:%s,", strlen(q), q);
	}
	return (size_t)n;
}

/* request - encode call number i of this worker; its length */
static size_t
request(struct worker *w, uint64_t i, uint8_t *buf, uint32_t xid)
{
	const struct opts *o = w->o;
	enum mode m = o->mode;
	uint32_t vers = 1, proc = 0;
	size_t n, off = o->tcp ? 4 : 0;

	if (m == M_POLICY || m == M_SOCKMAP)
		return text_request(o, buf, 256);
	if (m == M_MIXED)
		m = i % 21 == 0 ? M_ADD : M_CHECK;
	if (m == M_ADD)
		proc = 1;
	if (m == M_CHECK)
		vers = 3, proc = 2;
	n = off + client_call(buf + off, xid, vers, proc);
	if (m == M_ADD)		/* distinct: 64.0.0.0 + worker and count */
		n += client_addr(buf + n, vers, 0x40000000U +
		    (uint32_t)(i * 64) + (uint32_t)w->id);
	if (m == M_CHECK)
		n += client_addr(buf + n, vers, random_addr(o));
	if (o->tcp)
		client_put32(buf, 0x80000000U | (uint32_t)(n - 4));
	return n;
}

/* text_exchange - one lookup; 0 when a whole answer came back */
static int
text_exchange(int fd, const struct opts *o, const uint8_t *req, size_t len)
{
	char rep[512];
	struct pollfd p = {fd, POLLIN, 0};
	size_t got = 0;
	ssize_t n;

	if (send(fd, req, len, 0) != (ssize_t)len)
		return -1;
	for (;;) {
		if (poll(&p, 1, 1000) != 1)
			return -1;
		n = recv(fd, rep + got, sizeof(rep) - 1 - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		rep[got] = '\0';
		if (o->mode == M_POLICY ? strstr(rep, "\n\n") != NULL :
		    rep[got - 1] == ',')
			return 0;
	}
}

/* connect_to - a connected socket to the server (client id's) */
static int
connect_to(const struct opts *o, int id)
{
	int fd = client_connect(o->tcp ? SOCK_STREAM : SOCK_DGRAM,
	    o->port[id % o->nports]), one = 1;

	if (o->tcp)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* exchange - one call; 0 with an accepted SUCCESS reply, -1 otherwise */
static int
exchange(int fd, const struct opts *o, const uint8_t *req, size_t len,
    uint32_t xid)
{
	uint8_t rep[512];
	struct pollfd p = {fd, POLLIN, 0};
	ssize_t got = 0, n;
	uint32_t v;

	if (send(fd, req, len, 0) != (ssize_t)len)
		return -1;
	for (;;) {
		if (poll(&p, 1, 1000) != 1)
			return -1;	/* lost (UDP): count it and go on */
		n = recv(fd, rep + got, sizeof(rep) - (size_t)got, 0);
		if (n <= 0)
			return -1;
		got += n;
		if (!o->tcp || got >= 28)
			break;
	}
	memcpy(&v, rep + (o->tcp ? 4 : 0), 4);
	if (ntohl(v) != xid)
		return -1;
	memcpy(&v, rep + (o->tcp ? 4 : 0) + 20, 4);
	return ntohl(v) == 0 ? 0 : -1;
}

static void *
run(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = w->o;
	int fd = connect_to(o, w->id);
	int64_t end = client_now_ns() + (int64_t)(o->seconds * 1e9), t0, t1;
	uint8_t req[256];
	uint64_t i, us;
	uint32_t xid = (uint32_t)w->id << 24;

	for (i = 0; (t0 = client_now_ns()) < end; i++) {
		size_t len = request(w, i, req, ++xid);

		if ((o->mode >= M_POLICY ? text_exchange(fd, o, req, len) :
		    exchange(fd, o, req, len, xid)) < 0) {
			w->errors++;
			continue;
		}
		t1 = client_now_ns();
		us = (uint64_t)(t1 - t0) / 1000;
		w->hist[bucket(us) < NBUCKET ? bucket(us) : NBUCKET - 1]++;
		if (us > w->max_us)
			w->max_us = us;
		w->calls++;
	}
	close(fd);
	return NULL;
}

/* pct - the latency at fraction q of the merged histogram */
static uint64_t
pct(const uint64_t *h, uint64_t total, double q)
{
	uint64_t want = (uint64_t)(q * (double)total), seen = 0;
	int b;

	for (b = 0; b < NBUCKET; b++)
		if ((seen += h[b]) > want)
			return bucket_us(b);
	return bucket_us(NBUCKET - 1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen -p port[,port...] [-T] [-c clients] "
	    "[-d seconds] [-s name] [-n range] [-m null|add|check|mixed]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const char *const modes[] = {"null", "add", "check", "mixed",
	    "policy", "socketmap"};
	struct opts o = {{0}, 0, 0, 1, 3.0, "run", 1000000, M_NULL};
	uint64_t hist[NBUCKET] = {0}, calls = 0, errors = 0, max = 0;
	struct worker *w;
	pthread_t *t;
	int ch, i, b;
	int64_t t0;
	double secs;

	while ((ch = getopt(argc, argv, "p:Tc:d:s:n:m:")) != -1) {
		switch (ch) {
		case 'p':
			o.nports += client_ports(optarg, o.port + o.nports,
			    MAXPORTS - o.nports);
			break;
		case 'T': o.tcp = 1; break;
		case 'c': o.clients = atoi(optarg); break;
		case 'd': o.seconds = atof(optarg); break;
		case 's': o.name = optarg; break;
		case 'n': o.range = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'm':
			for (i = 0; i < 6 && strcmp(optarg, modes[i]) != 0; i++)
				;
			if (i == 6)
				usage();
			o.mode = (enum mode)i;
			if (o.mode >= M_POLICY)
				o.tcp = 1;
			break;
		default: usage();
		}
	}
	if (o.nports == 0 || o.port[0] == 0 || o.clients < 1 || o.clients > 256 || o.range == 0)
		usage();
	w = calloc((size_t)o.clients, sizeof(*w));
	t = calloc((size_t)o.clients, sizeof(*t));
	t0 = client_now_ns();
	for (i = 0; i < o.clients; i++) {
		w[i].o = &o;
		w[i].id = i;
		pthread_create(&t[i], NULL, run, &w[i]);
	}
	for (i = 0; i < o.clients; i++) {
		pthread_join(t[i], NULL);
		for (b = 0; b < NBUCKET; b++)
			hist[b] += w[i].hist[b];
		calls += w[i].calls;
		errors += w[i].errors;
		if (w[i].max_us > max)
			max = w[i].max_us;
	}
	secs = (double)(client_now_ns() - t0) / 1e9;
	printf("scenario=%s calls_per_s=%.0f p50_us=%llu p99_us=%llu "
	    "p999_us=%llu max_us=%llu errors=%llu\n", o.name,
	    (double)calls / secs, (unsigned long long)pct(hist, calls, 0.5),
	    (unsigned long long)pct(hist, calls, 0.99),
	    (unsigned long long)pct(hist, calls, 0.999),
	    (unsigned long long)max, (unsigned long long)errors);
	return 0;
}
