/*
 * check_tcpadd.c - adds over TCP with sync_interval 0 (each waits for its
 * map write) against a big map: the live lookups, answered by the same
 * thread that reads TCP, keep their latency, and the adds of several
 * TCP clients share map writes.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drac_prot.h"
#include "helpers.h"
#include "suites.h"

#define PRELOAD		200000	/* entries: a map write takes ~100 ms */
#define ADDERS		8
#define LATENCY_MS	10	/* the p99 wanted of a policy request */

#define POLICY(ip) "request=smtpd_access_policy\nprotocol_state=RCPT\n" \
	"client_address=" ip "\nclient_name=unknown\n\n"

static struct daemon d;
static uint16_t pport;

static void
teardown(void)
{
	daemon_kill(&d);
}

/* preload - n entries 10.x.y.z in the map file, as DRAC leaves it */
static void
preload(const char *db, int n)
{
	char dump[320], out[512];
	const char *argv[] = {"/usr/bin/db5.3_load", "-T", "-t", "btree",
	    "-f", dump, db, NULL};
	long long exp = (long long)time(NULL) + 3600;
	FILE *fp;
	int i;

	snprintf(dump, sizeof(dump), "%.300s.dump", db);
	ck_assert_ptr_nonnull(fp = fopen(dump, "w"));
	for (i = 0; i < n; i++)
		fprintf(fp, "10.%d.%d.%d\n%lld\n", (i >> 16) & 255,
		    (i >> 8) & 255, i & 255, exp);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_msg(run_prog(argv, NULL, out, sizeof(out), 60000) == 0,
	    "db5.3_load: %s", out);
	unlink(dump);
}

/* snapshot_written - has dracd folded the DRAC map into its own state
 * (the environment's database; arg: the daemon)? */
static int
snapshot_written(void *arg)
{
	const struct daemon *dm = arg;
	char path[340];
	struct stat st;

	snprintf(path, sizeof(path), "%.300s.env/state.db", dm->db);
	return stat(path, &st) == 0 && st.st_size > 0;
}

/* start_big - dracd with sync_interval 0, TCP-only adds, a policy
 * listener and the settings in more, over a preloaded map */
static void
start_big(const char *more)
{
	static char conf[400];
	const char *const extra[] = {"-c", conf, NULL};
	char text[600];

	daemon_init(&d, "127.0.0.1\n");
	preload(d.db, PRELOAD);
	pport = free_port();
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	snprintf(text, sizeof(text), "sync_interval = 0\nadd_transport = tcp\n"
	    "add_rate = 0\npolicy_listen = inet:127.0.0.1:%u\n%s", pport, more);
	write_file(conf, text);
	/* the first start imports the DRAC map into the environment: a
	 * second or two natively, far longer under a sanitizer; a start
	 * cut short would import again from the beginning */
	ck_assert_msg(daemon_start_within(&d, extra, 120000) == 0,
	    "dracd did not start over %d entries", PRELOAD);
	/* the first start's snapshot writing is not what is measured */
	ck_assert(wait_until(snapshot_written, &d, 30000));
}

/* adder - one TCP client adding distinct addresses until told to stop */
struct adder {
	pthread_t t;
	int id;
	atomic_int *stop;
	long acked, failed;
};

static void *
adder_run(void *arg)
{
	struct adder *a = arg;
	struct timeval tv = {5, 0};
	char text[32];
	add3_args args;
	add3_res res;
	CLIENT *c = client_v3("127.0.0.1", d.port, 1);
	uint32_t k;

	clnt_control(c, CLSET_TIMEOUT, (char *)&tv);
	for (k = 0; !atomic_load(a->stop); k++) {
		snprintf(text, sizeof(text), "172.%d.%u.%u", 16 + a->id,
		    (k >> 8) & 255, k & 255);
		memset(&args, 0, sizeof(args));
		args.addr.af = DRAC_AF_INET;
		inet_pton(AF_INET, text, args.addr.drac_addr_u.v4);
		args.user = "";
		memset(&res, 0, sizeof(res));
		if (dracproc3_add_3(&args, &res, c) == RPC_SUCCESS &&
		    res.stat == DRAC_OK)
			a->acked++;
		else
			a->failed++;
	}
	clnt_destroy(c);
	return NULL;
}

/* policy_ms - one policy request on fd; its round trip in ms */
static double
policy_ms(int fd)
{
	static const char q[] = POLICY("10.0.1.1");
	struct pollfd p = {fd, POLLIN, 0};
	char out[256];
	size_t got = 0;
	int64_t t0 = now_ms();
	struct timespec a, b;
	ssize_t r;

	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(write(fd, q, sizeof(q) - 1), (ssize_t)sizeof(q) - 1);
	while (got < 2 || memcmp(out + got - 2, "\n\n", 2) != 0) {
		ck_assert_msg(poll(&p, 1, 5000) == 1, "no policy answer");
		r = read(fd, out + got, sizeof(out) - 1 - got);
		ck_assert_msg(r > 0, "policy connection closed");
		got += (size_t)r;
		ck_assert(got < sizeof(out) - 1);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	out[got] = '\0';
	ck_assert_msg(strcmp(out, "action=OK\n\n") == 0, "policy answer %s "
	    "after %lld ms", out, (long long)(now_ms() - t0));
	return (double)(b.tv_sec - a.tv_sec) * 1e3 +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

/* adds_per_s - n TCP clients adding for ms, and when lat is not NULL a
 * policy request every 2 ms meanwhile (round trips in lat); acknowledged
 * adds a second, the others counted in failed */
static double
adds_per_s(int n, int ms, double *lat, size_t *nlat, size_t maxlat,
    long *failed)
{
	struct adder a[ADDERS];
	atomic_int stop = 0;
	struct timespec gap = {0, 2 * 1000 * 1000};
	int64_t t0, end;
	long acked = 0;
	int i, fd = -1;

	if (lat != NULL)
		fd = dial("127.0.0.1", pport, SOCK_STREAM, NULL);
	for (i = 0; i < n; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].id = i;
		a[i].stop = &stop;
		ck_assert_int_eq(pthread_create(&a[i].t, NULL, adder_run,
		    &a[i]), 0);
	}
	t0 = now_ms();
	end = t0 + ms;
	while (now_ms() < end) {
		if (lat != NULL && *nlat < maxlat)
			lat[(*nlat)++] = policy_ms(fd);
		nanosleep(&gap, NULL);
	}
	atomic_store(&stop, 1);
	for (i = 0; i < n; i++) {
		pthread_join(a[i].t, NULL);
		acked += a[i].acked;
		*failed += a[i].failed;
	}
	if (fd >= 0)
		close(fd);
	return (double)acked * 1000.0 / (double)(now_ms() - t0);
}

/* call_rec - a v3 call with record mark, arguments by xa; its length */
static size_t
call_rec(uint8_t *buf, size_t cap, uint32_t xid, uint32_t proc,
    xdrproc_t xa, void *arg)
{
	size_t n = 4 + rpc_header(buf + 4, xid, 900101, 3, proc);
	XDR x;

	xdrmem_create(&x, (char *)buf + n, (u_int)(cap - n), XDR_ENCODE);
	ck_assert(xa(&x, arg));
	n += xdr_getpos(&x);
	xdr_destroy(&x);
	put32(buf, 0x80000000U | (uint32_t)(n - 4));
	return n;
}

/* v4 - a drac_addr for IPv4 text */
static drac_addr
v4(const char *text)
{
	drac_addr a;

	memset(&a, 0, sizeof(a));
	a.af = DRAC_AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, text, a.drac_addr_u.v4), 1);
	return a;
}

/* read_rec - one whole reply record from fd into buf; its length */
static size_t
read_rec(int fd, uint8_t *buf, size_t cap)
{
	struct pollfd p = {fd, POLLIN, 0};
	size_t got = 0, want = 4;
	ssize_t r;

	while (got < want) {
		ck_assert_msg(poll(&p, 1, 5000) == 1, "no reply");
		r = read(fd, buf + got, want - got);
		ck_assert_msg(r > 0, "connection closed");
		got += (size_t)r;
		if (got == 4) {
			uint32_t mark = ((uint32_t)buf[0] << 24) |
			    ((uint32_t)buf[1] << 16) | ((uint32_t)buf[2] << 8) |
			    buf[3];

			ck_assert(mark & 0x80000000U);
			want = 4 + (mark & 0x7fffffffU);
			ck_assert(want <= cap);
		}
	}
	memmove(buf, buf + 4, want - 4);
	return want - 4;
}

/* no_args - the empty argument of NULL */
static bool_t
no_args(XDR *x, void *p)
{
	(void)x, (void)p;
	return TRUE;
}

/* pipelined - ADD, CHECK of the same address and NULL in one write: the
 * replies come in the order of the calls, and the CHECK saw the add */
static void
pipelined(void)
{
	uint8_t req[512], rep[512];
	add3_args a;
	drac_addr ca = v4("198.51.100.5");
	size_t n;
	uint32_t xid, res;
	int fd = dial("127.0.0.1", d.port, SOCK_STREAM, NULL);

	memset(&a, 0, sizeof(a));
	a.addr = ca;
	a.user = "";
	n = call_rec(req, sizeof(req), 11, 1, (xdrproc_t)xdr_add3_args, &a);
	n += call_rec(req + n, sizeof(req) - n, 12, 2,
	    (xdrproc_t)xdr_drac_addr, &ca);
	n += call_rec(req + n, sizeof(req) - n, 13, 0, (xdrproc_t)no_args,
	    NULL);
	ck_assert_int_eq(write(fd, req, n), (ssize_t)n);
	for (xid = 11; xid <= 13; xid++) {
		n = read_rec(fd, rep, sizeof(rep));
		ck_assert_msg(reply_status(rep, (ssize_t)n, xid, &res) == 0,
		    "reply %u: not the accepted reply to call %u", xid - 10,
		    xid);
		if (xid < 13)
			ck_assert_msg(res == DRAC_OK, "call %u: status %u", xid,
			    res);
	}
	close(fd);
}

/* added - is the address (arg) allowed now?  Asked over UDP. */
static int
added(void *arg)
{
	CLIENT *c = client_v3("127.0.0.1", d.port, 0);
	drac_addr a = v4(arg);
	check3_res r;
	int ok;

	memset(&r, 0, sizeof(r));
	ok = dracproc3_check_3(&a, &r, c) == RPC_SUCCESS && r.stat == DRAC_OK;
	xdr_free((xdrproc_t)xdr_check3_res, (char *)&r);
	clnt_destroy(c);
	return ok;
}

/* closed_early - an add whose connection is closed before its reply:
 * still made, and dracd serves on */
static void
closed_early(void)
{
	uint8_t req[256];
	add3_args a;
	size_t n;
	int fd = dial("127.0.0.1", d.port, SOCK_STREAM, NULL);

	memset(&a, 0, sizeof(a));
	a.addr = v4("198.51.100.6");
	a.user = "";
	n = call_rec(req, sizeof(req), 21, 1, (xdrproc_t)xdr_add3_args, &a);
	ck_assert_int_eq(write(fd, req, n), (ssize_t)n);
	close(fd);
	ck_assert(wait_until(added, "198.51.100.6", WAIT_MS));
	pipelined();
}

/* adds_made - the adds dracd counted (they count before their write);
 * asked over TCP, as admin calls must be when adds are TCP-only */
static uint64_t
adds_made(void)
{
	CLIENT *c = client_v3("127.0.0.1", d.port, 1);
	stats3_res r;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(dracproc3_stats_3(NULL, &r, c), RPC_SUCCESS);
	ck_assert_int_eq(r.stat, DRAC_OK);
	clnt_destroy(c);
	return r.adds;
}

struct adds_seen {
	uint64_t want;
};

/* adds_reached - has dracd counted want adds yet? */
static int
adds_reached(void *arg)
{
	return adds_made() >= ((struct adds_seen *)arg)->want;
}

/* add_then_reset - an add over a new connection, which is reset once
 * dracd took the call in: its reply will have nowhere to go */
static void
add_then_reset(const char *text)
{
	struct linger lg = {1, 0};
	struct adds_seen seen = {adds_made() + 1};
	uint8_t req[256];
	add3_args a;
	size_t n;
	int fd = dial("127.0.0.1", d.port, SOCK_STREAM, NULL);

	memset(&a, 0, sizeof(a));
	a.addr = v4(text);
	a.user = "";
	n = call_rec(req, sizeof(req), 31, 1, (xdrproc_t)xdr_add3_args, &a);
	ck_assert_int_eq(write(fd, req, n), (ssize_t)n);
	ck_assert(wait_until(adds_reached, &seen, WAIT_MS));
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)), 0);
	close(fd);
}

/*
 * workers_full - with tcp_max_connections 2, two adds whose connections
 * were reset still hold the workers' two places: a third add waits
 * unread, and is served once they are done; the policy service answers
 * meanwhile.
 */
START_TEST(workers_full)
{
	uint8_t req[256], rep[256];
	add3_args a;
	double worst = 0, ms;
	uint32_t res;
	size_t n;
	int i, fd, pfd;

	if (slow_daemon("workers_full"))
		return;
	start_big("tcp_max_connections = 2\n");
	pfd = dial("127.0.0.1", pport, SOCK_STREAM, NULL);
	add_then_reset("198.51.100.31");
	add_then_reset("198.51.100.32");
	fd = dial("127.0.0.1", d.port, SOCK_STREAM, NULL);
	memset(&a, 0, sizeof(a));
	a.addr = v4("198.51.100.33");
	a.user = "";
	n = call_rec(req, sizeof(req), 33, 1, (xdrproc_t)xdr_add3_args, &a);
	ck_assert_int_eq(write(fd, req, n), (ssize_t)n);
	for (i = 0; i < 5; i++)
		if ((ms = policy_ms(pfd)) > worst)
			worst = ms;
	fprintf(stderr, "workers_full: policy requests while the adds wait: "
	    "%.2f ms at worst\n", worst);
	ck_assert_msg(worst < 50, "a policy request took %.2f ms while adds "
	    "waited", worst);
	n = read_rec(fd, rep, sizeof(rep));
	ck_assert_int_eq(reply_status(rep, (ssize_t)n, 33, &res), 0);
	ck_assert_uint_eq(res, DRAC_OK);
	ck_assert(added("198.51.100.31"));
	ck_assert(added("198.51.100.32"));
	close(fd);
	close(pfd);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

START_TEST(lookups_while_tcp_adds)
{
	static double lat[4000];
	size_t n = 0;
	long failed = 0;
	double one, many = 0, rate, p99 = 0;
	int w;

	if (slow_daemon("lookups_while_tcp_adds"))
		return;
	start_big("");
	/* no adds: what the machine allows */
	adds_per_s(0, 1000, lat, &n, sizeof(lat) / sizeof(lat[0]), &failed);
	qsort(lat, n, sizeof(lat[0]), cmp_double);
	fprintf(stderr, "lookups_while_tcp_adds: no adds: %zu policy requests, "
	    "median %.2f ms, p99 %.2f ms, max %.2f ms\n", n, lat[n / 2],
	    lat[n * 99 / 100], lat[n - 1]);
	/* one TCP client: about one add per map write */
	one = adds_per_s(1, 2000, NULL, NULL, 0, &failed);
	/*
	 * eight, and the policy service asked every 2 ms meanwhile.  A
	 * second window when the first misses: on a shared 2-core machine
	 * other work can push one window's p99 past 10 ms; a TCP thread that
	 * waits for map writes misses both by far (p99 0.2-4 s).
	 */
	for (w = 0; w < 2; w++) {
		n = 0;
		rate = adds_per_s(ADDERS, 3000, lat, &n,
		    sizeof(lat) / sizeof(lat[0]), &failed);
		many = rate > many ? rate : many;
		qsort(lat, n, sizeof(lat[0]), cmp_double);
		p99 = lat[n * 99 / 100];
		fprintf(stderr, "lookups_while_tcp_adds: %d entries; 1 TCP adder "
		    "%.1f adds/s, %d adders %.1f adds/s; %zu policy requests "
		    "meanwhile: median %.2f ms, p99 %.2f ms, max %.2f ms; %ld "
		    "adds failed\n", PRELOAD, one, ADDERS, rate, n, lat[n / 2],
		    p99, lat[n - 1], failed);
		if (p99 < LATENCY_MS && n >= 100)
			break;
	}
	ck_assert_msg(p99 < LATENCY_MS, "policy p99 %.2f ms while TCP adds "
	    "wait for the disk, want under %d", p99, LATENCY_MS);
	ck_assert_uint_ge(n, 100);
	/* grouped: eight clients' adds share map writes.  That shows only
	 * while one adder waits on the disk; once an add's write is cheaper
	 * than its CPU (in-place map edits, a sanitizer build) the rates
	 * say nothing about grouping */
	if (one < 200)
		ck_assert_msg(many > 2 * one, "%d TCP adders: %.1f adds/s, one: "
		    "%.1f/s: not grouped", ADDERS, many, one);
	ck_assert_msg(failed == 0, "%ld adds failed", failed);
	/* one call at a time per connection, in order; a reply for a
	 * connection gone is dropped */
	pipelined();
	closed_early();
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

Suite *
make_tcpadd_suite(void)
{
	Suite *s = suite_create("tcpadd");
	TCase *tc = tcase_create("latency");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, lookups_while_tcp_adds);
	tcase_add_test(tc, workers_full);
	suite_add_tcase(s, tc);
	return s;
}
