/*
 * check_stream.c - the connection-oriented server (stream.c) against a
 * real dracd: floods from callers with and without rights, per-service
 * and per-source caps, the request deadline, descriptor exhaustion,
 * pipelined requests after back-pressure, and the unix socket's mode.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "drac.h"
#include "helpers.h"
#include "stream.h"
#include "suites.h"

#define POLICY(ip) "request=smtpd_access_policy\nprotocol_state=RCPT\n" \
	"client_address=" ip "\nclient_name=unknown\n\n"
#define NFLOOD 256

/* policy p99 under a flood: 10 ms, more for a dracd built with TSan,
 * which slows every memory access several times over */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SLOWDOWN 3
#endif
#endif
#ifndef SLOWDOWN
#define SLOWDOWN 1
#endif
#define P99_MAX_US (10000 * SLOWDOWN)

static struct daemon d;
static uint16_t pport;
static pid_t flooder;

static void
teardown(void)
{
	if (flooder > 0) {
		kill(flooder, SIGKILL);
		waitpid(flooder, NULL, 0);
		flooder = 0;
	}
	daemon_kill(&d);
}

/* start - dracd with a policy service and the settings in conf */
static void
start(const char *allow, const char *conf_text)
{
	static char conf[400];
	const char *const extra[] = {"-c", conf, NULL};
	char text[1200];

	daemon_init(&d, allow);
	pport = free_port();
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	snprintf(text, sizeof(text), "policy_listen = inet:127.0.0.1:%u\n%s",
	    pport, conf_text);
	write_file(conf, text);
	ck_assert_int_eq(daemon_start(&d, extra), 0);
}

/* connect_from - a TCP connection from src to 127.0.0.1:port; -1 if not */
static int
connect_from(const char *src, uint16_t port)
{
	struct sockaddr_in me, to;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	/* the port is chosen at connect, per destination: a flood does not
	 * run out of ports */
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	memset(&me, 0, sizeof(me));
	me.sin_family = AF_INET;
	inet_pton(AF_INET, src, &me.sin_addr);
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons(port);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* closed - has the server closed fd? */
static int
closed(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN);
}

struct fds {
	int *fd;
	int n, want;		/* want: how many should be closed */
};

/* count_closed - how many of f->fd the server closed */
static int
count_closed(const struct fds *f)
{
	int i, c = 0;

	for (i = 0; i < f->n; i++)
		c += closed(f->fd[i]);
	return c;
}

static int
enough_closed(void *arg)
{
	struct fds *f = arg;

	return count_closed(f) >= f->want;
}

/* open_many - n connections from src to port, all of which connected */
static void
open_many(const char *src, uint16_t port, int *fd, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		fd[i] = connect_from(src, port);
		ck_assert_msg(fd[i] >= 0, "connect %d from %s: %s", i, src,
		    strerror(errno));
	}
}

static void
close_many(int *fd, int n)
{
	while (n-- > 0)
		close(fd[n]);
}

/* ask - one request on fd, its answer (ending in end) in out; µs taken */
static int64_t
ask(int fd, const char *q, const char *end, char *out, size_t len)
{
	struct timespec a, b;
	size_t got = 0, el = strlen(end);
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(send(fd, q, strlen(q), MSG_NOSIGNAL),
	    (ssize_t)strlen(q));
	out[0] = '\0';
	while (got + 1 < len && (got < el || strcmp(out + got - el, end))) {
		struct pollfd p = {fd, POLLIN, 0};

		if (poll(&p, 1, 3000) != 1 || (n = read(fd, out + got,
		    len - 1 - got)) <= 0)
			break;
		got += (size_t)n;
		out[got] = '\0';
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) /
	    1000;
}

/* policy_from - a fresh connection from src, one policy request answered;
 * µs from connect to answer, -1 when there was no answer */
static int64_t
policy_from(const char *src)
{
	struct timespec a, b;
	char out[128];
	int fd;

	clock_gettime(CLOCK_MONOTONIC, &a);
	if ((fd = connect_from(src, pport)) < 0)
		return -1;
	ask(fd, POLICY("192.0.2.1"), "\n\n", out, sizeof(out));
	close(fd);
	if (strcmp(out, "action=DUNNO\n\n") != 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) /
	    1000;
}

/* call_record - an RPC call record with args; its length */
static size_t
call_record(uint8_t *buf, uint32_t xid, uint32_t vers, uint32_t proc,
    const uint8_t *args, size_t alen)
{
	size_t n = 4 + rpc_header(buf + 4, xid, 900101, vers, proc);

	if (alen > 0)
		memcpy(buf + n, args, alen);
	n += alen;
	put32(buf, 0x80000000U | (uint32_t)(n - 4));
	return n;
}

/* read_records - read whole RPC records from fd until want have come or
 * ms pass; how many came, their xids in order in xids */
static int
read_records(int fd, int want, uint32_t *xids, int64_t ms)
{
	static uint8_t buf[1 << 20];
	size_t have = 0, rec;
	int64_t end = now_ms() + ms;
	int got = 0;
	uint32_t mark;
	ssize_t n;

	while (got < want && now_ms() < end) {
		struct pollfd p = {fd, POLLIN, 0};

		if (poll(&p, 1, 100) != 1)
			continue;
		if ((n = read(fd, buf + have, sizeof(buf) - have)) <= 0)
			break;
		have += (size_t)n;
		while (have >= 4) {
			memcpy(&mark, buf, 4);
			rec = ntohl(mark) & 0x7fffffffU;
			ck_assert(ntohl(mark) & 0x80000000U);
			if (have < 4 + rec)
				break;
			memcpy(&mark, buf + 4, 4);
			if (got < want)
				xids[got] = ntohl(mark);
			got++;
			memmove(buf, buf + 4 + rec, have - 4 - rec);
			have -= 4 + rec;
		}
	}
	return got;
}

/* tcp_null - a NULL call over a new TCP connection from src answered? */
static int
tcp_null(const char *src, int64_t ms)
{
	uint8_t req[64];
	uint32_t xid;
	size_t n = call_record(req, 99, 3, 0, NULL, 0);
	int fd = connect_from(src, d.port), got;

	if (fd < 0)
		return 0;
	if (send(fd, req, n, MSG_NOSIGNAL) != (ssize_t)n) {
		close(fd);
		return 0;
	}
	got = read_records(fd, 1, &xid, ms);
	close(fd);
	return got == 1 && xid == 99;
}

/* null_ok - a NULL call over TCP from 127.0.0.1 answered (for wait_until:
 * the server may need a round to see connections that closed) */
static int
null_ok(void *arg)
{
	(void)arg;
	return tcp_null("127.0.0.1", 200);
}

static int
clamp_logged(void *arg)
{
	(void)arg;
	return log_contains(&d, "tcp_max_connections 256 is more than the "
	    "file descriptor limit allows");
}

/* cli_ping - drac-cli --tcp ping; its exit status */
static int
cli_ping(void)
{
	const char *bin = getenv("DRAC_CLI");
	char srv[32], out[512];
	const char *argv[] = {bin != NULL ? bin : "build/drac-cli", "-s", srv,
	    "--tcp", "ping", NULL};

	snprintf(srv, sizeof(srv), "127.0.0.1:%u", d.port);
	return run_prog(argv, NULL, out, sizeof(out), 10000);
}

/* flood - a child that keeps opening connections to both services from
 * 127.0.0.9 (no rights) and 127.0.0.5 (over its cap), until killed */
static pid_t
flood(void)
{
	pid_t pid = fork();
	int fd[128], i, n;

	ck_assert(pid >= 0);
	if (pid > 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		for (i = n = 0; i < 32; i++) {
			if ((fd[n] = connect_from("127.0.0.9", d.port)) >= 0)
				n++;
			if ((fd[n] = connect_from("127.0.0.9", pport)) >= 0)
				n++;
			if ((fd[n] = connect_from("127.0.0.5", d.port)) >= 0)
				n++;
		}
		while (n > 0)
			close(fd[--n]);
		/* a pause between batches: on two shared cores a flooder that
		 * never yields measures the scheduler, not dracd */
		usleep(1000);
	}
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* p99 - the 99th percentile of n samples (sorted in place) */
static int64_t
p99(int64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp64);
	return v[n * 99 / 100];
}

/* latency_round - 1000 policy requests on one connection and 200 on
 * fresh ones, all answered; the larger of the two p99s, in µs */
static int64_t
latency_round(int64_t *lat, int64_t *fresh)
{
	char out[128];
	int64_t a, b;
	int i, fd = connect_from("127.0.0.1", pport);

	ck_assert(fd >= 0);
	for (i = 0; i < 1000; i++) {
		lat[i] = ask(fd, POLICY("192.0.2.1"), "\n\n", out,
		    sizeof(out));
		ck_assert_str_eq(out, "action=DUNNO\n\n");
	}
	close(fd);
	for (i = 0; i < 200; i++)
		ck_assert_msg((fresh[i] = policy_from("127.0.0.1")) >= 0,
		    "policy request %d under the flood went unanswered", i);
	a = p99(lat, 1000);
	b = p99(fresh, 200);
	fprintf(stderr, "stream flood: policy p99 %lld us (one connection), "
	    "%lld us (new connections)\n", (long long)a, (long long)b);
	return a > b ? a : b;
}

/* item 7: callers without rights are closed at accept, the allowed one
 * keeps at most tcp_max_per_source, and under a flood of both the
 * policy service keeps its latency and drac-cli --tcp ping works */
START_TEST(flood_from_callers)
{
	static int none[2 * NFLOOD], many[NFLOOD];
	static int64_t lat[1000], fresh[200];
	int64_t best = 0;
	struct fds f;
	int i, r;

	if (slow_daemon("flood_from_callers"))
		return;
	/* granting admin to 127.0.0.1 leaves the rest of 127/8 without it */
	start("127.0.0.1 add check admin\n127.0.0.5\n",
	    "tcp_max_per_source = 8\n");
	/* in batches that fit the listen backlog (a connection beyond it
	 * waits for a SYN-ACK resent seconds later) */
	for (i = 0; i < 2 * NFLOOD; i += 32) {
		open_many("127.0.0.9", i < NFLOOD ? d.port : pport, none + i,
		    32);
		f.fd = none;
		f.n = f.want = i + 32;
		ck_assert_msg(wait_until(enough_closed, &f, WAIT_MS),
		    "no rights: %d of %d connections closed, want all",
		    count_closed(&f), f.n);
	}
	ck_assert(log_contains(&d, "rpc: refused a connection from "
	    "127.0.0.9: it holds no right here"));
	ck_assert_int_eq(cli_ping(), 0);

	for (i = 0; i < NFLOOD; i += 32) {
		open_many("127.0.0.5", d.port, many + i, 32);
		f.fd = many;
		f.n = i + 32;
		f.want = i + 32 - 8;
		ck_assert_msg(wait_until(enough_closed, &f, WAIT_MS),
		    "over the cap: %d closed, want %d", count_closed(&f),
		    f.want);
	}
	ck_assert_int_eq(count_closed(&f), NFLOOD - 8);
	ck_assert(log_contains(&d, "(tcp_max_per_source)"));

	flooder = flood();
	/* every request is answered; the p99 must hold over one whole round
	 * of the three (other tenants of the machine cause stray stalls) */
	for (r = 0; r < 3 && (r == 0 || best >= P99_MAX_US); r++) {
		int64_t worst = latency_round(lat, fresh);

		if (r == 0 || worst < best)
			best = worst;
		ck_assert_int_eq(cli_ping(), 0);
	}
	ck_assert_msg(best < P99_MAX_US, "policy p99 %lld us under the flood",
	    (long long)best);
	kill(flooder, SIGKILL);
	waitpid(flooder, NULL, 0);
	flooder = 0;
	/* a clean stop with connections still open */
	ck_assert_int_eq(daemon_stop(&d), 0);
	close_many(none, 2 * NFLOOD);
	close_many(many, NFLOOD);
}
END_TEST

/* item 7: RPC callers filling their service do not starve the policy
 * service, nor the other way round */
START_TEST(services_have_own_caps)
{
	static const char *const src[] = {"127.0.0.5", "127.0.0.6",
	    "127.0.0.7", "127.0.0.8"};
	int rpc[32], pol[32], i;
	struct fds f;

	start("127.0.0.0/24\n", "tcp_max_connections = 32\n"
	    "tcp_max_per_source = 8\n");
	for (i = 0; i < 4; i++)
		open_many(src[i], d.port, rpc + 8 * i, 8);
	ck_assert_int_ge(policy_from("127.0.0.1"), 0);
	ck_assert(!tcp_null("127.0.0.1", 500));	/* RPC itself is full */
	for (i = 0; i < 4; i++)
		open_many(src[i], pport, pol + 8 * i, 8);
	close_many(rpc, 32);
	f.fd = pol;
	f.n = 32;
	f.want = 0;
	ck_assert(wait_until(null_ok, NULL, WAIT_MS));
	ck_assert_int_eq(count_closed(&f), 0);
	ck_assert_int_lt(policy_from("127.0.0.1"), 0);	/* policy is full */
	close_many(pol, 32);
}
END_TEST

static int
is_closed(void *arg)
{
	return closed(*(int *)arg);
}

/* item 7: a request must be whole within tcp_request_timeout of its
 * first byte, however it trickles in; idle between requests is longer */
START_TEST(request_deadline)
{
	char out[128];
	int64_t t0, took;
	int fd, i;

	start("127.0.0.1\n", "tcp_request_timeout = 1s\n"
	    "tcp_idle_timeout = 60s\n");
	fd = connect_from("127.0.0.1", pport);
	ck_assert(fd >= 0);
	ask(fd, POLICY("192.0.2.1"), "\n\n", out, sizeof(out));
	ck_assert_str_eq(out, "action=DUNNO\n\n");
	/* idle longer than the request timeout: still open */
	ck_assert(!wait_until(is_closed, &fd, 1500));
	ask(fd, POLICY("192.0.2.1"), "\n\n", out, sizeof(out));
	ck_assert_str_eq(out, "action=DUNNO\n\n");
	/* one byte every 100 ms: closed about 1 s after the first */
	t0 = now_ms();
	for (i = 0; i < 40 && !closed(fd); i++) {
		if (send(fd, "a", 1, MSG_NOSIGNAL) != 1)
			break;
		wait_until(is_closed, &fd, 100);
	}
	took = now_ms() - t0;
	fprintf(stderr, "stream request_deadline: dripper closed after %lld "
	    "ms\n", (long long)took);
	ck_assert_msg(closed(fd), "a dripper is still open after %lld ms",
	    (long long)took);
	ck_assert_int_ge(took, 900);
	ck_assert_int_lt(took, 2500);
	close(fd);
}
END_TEST

/* fd_limit_now - a descriptor limit that leaves process pid none to
 * spare: one past its highest socket, the last connection it accepted
 * (valgrind's own descriptors, at the top of the range, are no sockets) */
static rlim_t
fd_limit_now(pid_t pid)
{
	char path[64], link[64];
	ssize_t n;
	int fd, top = -1;

	for (fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, "socket:", 7) == 0)
			top = fd;
	}
	ck_assert_int_ge(top, 0);
	return (rlim_t)top + 1;
}

/* cpu_ticks - user plus system time of process pid, in clock ticks */
static long long
cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ck_assert((fp = fopen(path, "r")) != NULL);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	ck_assert((p = strrchr(buf, ')')) != NULL);
	/* after ") ": state, then fields 4..13, then utime and stime */
	ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
	    "%*u %*u %llu %llu", &ut, &st), 2);
	return (long long)(ut + st);
}

/* item 10: tcp_max_connections is clamped to the descriptor limit at
 * start-up; at the limit accept backs off instead of spinning, and once
 * connections close new clients are served */
START_TEST(fd_exhaustion)
{
	struct rlimit old, low = {96, 96}, lim;
	int held[15], late[10], i;
	long long c0, c1;
	int64_t t0, t1;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	low.rlim_max = old.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	start("127.0.0.1\n", "tcp_max_per_source = 1000\n");
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	ck_assert(wait_until(clamp_logged, NULL, WAIT_MS));
	open_many("127.0.0.1", d.port, held, 15);
	for (i = 0; i < 15; i++) {
		uint8_t req[64];
		uint32_t xid;
		size_t n = call_record(req, (uint32_t)i, 3, 0, NULL, 0);

		ck_assert_int_eq(send(held[i], req, n, MSG_NOSIGNAL),
		    (ssize_t)n);
		ck_assert_int_eq(read_records(held[i], 1, &xid, WAIT_MS), 1);
	}
	/* no descriptor left for dracd: the next accept fails */
	lim.rlim_cur = fd_limit_now(d.pid);
	lim.rlim_max = old.rlim_max;
	ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, &lim, NULL), 0);
	open_many("127.0.0.1", d.port, late, 10);
	t0 = now_ms();
	c0 = cpu_ticks(d.pid);
	usleep(1000000);	/* the measurement window */
	c1 = cpu_ticks(d.pid);
	t1 = now_ms();
	fprintf(stderr, "stream fd_exhaustion: %lld ticks of CPU (of %ld/s) "
	    "in %lld ms at the limit\n", c1 - c0, sysconf(_SC_CLK_TCK),
	    (long long)(t1 - t0));
	ck_assert_msg((c1 - c0) * 1000 < 100 * sysconf(_SC_CLK_TCK),
	    "dracd used %lld ticks in %lld ms", c1 - c0,
	    (long long)(t1 - t0));
	ck_assert(log_contains(&d, "accept: not taking connections"));
	close_many(held, 15);
	ck_assert_msg(wait_until(null_ok, NULL, WAIT_MS),
	    "no answer once connections closed");
	close_many(late, 10);
}
END_TEST

/* item 11: requests pipelined behind replies that filled the output are
 * served once it drains */
START_TEST(pipelined_after_backpressure)
{
	static uint8_t req[20 * 80];
	uint8_t args[12] = {0};
	uint32_t xids[20];
	char ip[32], spec[32];
	size_t n = 0;
	drac_t *h;
	int fd, i;

	start("127.0.0.1\n", "");
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	for (i = 0; i < 600; i++) {
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 200, i % 200 + 1);
		ck_assert_int_eq(drac_add(h, ip, 0,
		    "a-user-name-of-thirty-bytes-xx"), 0);
	}
	drac_close(h);
	/* 20 LISTs of 600 entries (cursor 0, max 0) in one write */
	for (i = 0; i < 20; i++)
		n += call_record(req + n, 1000 + (uint32_t)i, 3, 4, args,
		    sizeof(args));
	fd = connect_from("127.0.0.1", d.port);
	ck_assert(fd >= 0);
	ck_assert_int_eq(send(fd, req, n, MSG_NOSIGNAL), (ssize_t)n);
	i = read_records(fd, 20, xids, WAIT_MS);
	ck_assert_msg(i == 20, "got %d replies of 20", i);
	for (i = 0; i < 20; i++)
		ck_assert_uint_eq(xids[i], 1000 + (uint32_t)i);
	close(fd);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

struct swap {
	const char *path, *target;
	char tmp[300];
	int stop;		/* atomic */
};

/* swapper - put a symlink to the target at the path, over and over */
static void *
swapper(void *arg)
{
	struct swap *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		unlink(s->tmp);
		if (symlink(s->target, s->tmp) == 0)
			rename(s->tmp, s->path);
	}
	return NULL;
}

/* item 18: the socket is made 0666 without a chmod that would follow a
 * symlink swapped in after bind */
START_TEST(unix_socket_mode)
{
	char path[300], target[300], spec[310], err[512], conf[310];
	char text[400];
	const char *const extra[] = {"-c", conf, NULL};
	struct swap s;
	struct stat st;
	pthread_t t;
	int fd, i, made = 0;

	umask(077);
	daemon_init(&d, "127.0.0.1\n");
	snprintf(path, sizeof(path), "%.200s/map.sock", d.dir);
	snprintf(target, sizeof(target), "%.200s/secret", d.dir);
	snprintf(conf, sizeof(conf), "%.200s/dracd.conf", d.dir);
	write_file(target, "secret\n");
	ck_assert_int_eq(chmod(target, 0600), 0);
	/* dracd replaces a symlink planted at the path, never chmods its
	 * target, and the socket gets 0666 whatever the umask */
	ck_assert_int_eq(symlink(target, path), 0);
	snprintf(text, sizeof(text), "socketmap_listen = unix:%s\n", path);
	write_file(conf, text);
	ck_assert_int_eq(daemon_start(&d, extra), 0);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0666);
	ck_assert_int_eq(stat(target, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	daemon_kill(&d);

	/* a symlink swapped in between bind and the mode change */
	snprintf(spec, sizeof(spec), "unix:%s", path);
	s.path = path;
	s.target = target;
	snprintf(s.tmp, sizeof(s.tmp), "%.200s/link.tmp", d.dir);
	s.stop = 0;
	ck_assert_int_eq(pthread_create(&t, NULL, swapper, &s), 0);
	for (i = 0; i < 3000; i++) {
		if (stream_listen(spec, &fd, err, sizeof(err)) == 0) {
			made++;
			close(fd);
		}
		ck_assert_int_eq(stat(target, &st), 0);
		if ((st.st_mode & 07777) != 0600)
			break;
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	fprintf(stderr, "stream unix_socket_mode: %d of %d binds made, "
	    "target mode %o\n", made, i, st.st_mode & 07777);
	ck_assert_msg((st.st_mode & 07777) == 0600, "the target became %o "
	    "after %d binds", st.st_mode & 07777, i);
	ck_assert_int_gt(made, 0);
}
END_TEST

/* item 7: the new settings, their defaults and bounds */
START_TEST(settings)
{
	static const struct {
		const char *key, *value;
		int ok;
		int64_t want;
	} cases[] = {
		{"tcp_request_timeout", "99ms", 0, 0},
		{"tcp_request_timeout", "100ms", 1, 100},
		{"tcp_request_timeout", "1h", 1, 3600000},
		{"tcp_request_timeout", "61m", 0, 0},
		{"tcp_max_per_source", "0", 0, 0},
		{"tcp_max_per_source", "1", 1, 1},
		{"tcp_max_per_source", "65536", 1, 65536},
		{"tcp_max_per_source", "65537", 0, 0},
	};
	char err[CONFIG_ERRMAX];
	struct config c;
	size_t i;
	int rc;

	config_defaults(&c);
	ck_assert_int_eq(c.tcp_request_timeout_ms, 10000);
	ck_assert_int_eq(c.tcp_max_per_source, 64);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_defaults(&c);
		rc = config_set(&c, cases[i].key, cases[i].value, err,
		    sizeof(err));
		ck_assert_msg((rc == 0) == cases[i].ok, "%s = %s: got %d, "
		    "want ok=%d", cases[i].key, cases[i].value, rc,
		    cases[i].ok);
		if (rc == 0)
			ck_assert_int_eq(cases[i].key[4] == 'r' ?
			    c.tcp_request_timeout_ms : c.tcp_max_per_source,
			    cases[i].want);
	}
}
END_TEST

Suite *
make_stream_suite(void)
{
	Suite *s = suite_create("stream");
	struct { const char *name; const TTest *t; } cases[] = {
		{"flood", flood_from_callers},
		{"caps", services_have_own_caps},
		{"deadline", request_deadline},
		{"emfile", fd_exhaustion},
		{"pipeline", pipelined_after_backpressure},
		{"unix_mode", unix_socket_mode},
		{"settings", settings},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);

		tcase_add_checked_fixture(tc, NULL, teardown);
		tcase_set_timeout(tc, 90);
		tcase_add_test(tc, cases[i].t);
		suite_add_tcase(s, tc);
	}
	return s;
}
