/*
 * check_metrics.c - metrics_listen: Prometheus text on GET /metrics that
 * promtool accepts, counters that move with adds, checks and denials,
 * and the admin right needed to read them (loopback only by default).
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drac.h"
#include "helpers.h"
#include "suites.h"

#define ALLOW "127.0.0.1 add check admin\n127.0.0.2 add check\n"

static struct daemon d;
static uint16_t mport;
static char body[65536];

/* http_from - one HTTP/1.0 request from src to dst:mport; the status,
 * 0 when the server closed without answering, -1 no connection.  The
 * body goes to body. */
static int
http_from(const char *src, const char *dst, const char *req)
{
	struct sockaddr_in me, to;
	char buf[sizeof(body)];
	int64_t end = now_ms() + WAIT_MS;
	size_t got = 0;
	ssize_t n;
	char *p;
	int fd, status = 0;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert(fd >= 0);
	memset(&me, 0, sizeof(me));
	me.sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, src, &me.sin_addr), 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons(mport);
	ck_assert_int_eq(inet_pton(AF_INET, dst, &to.sin_addr), 1);
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		close(fd);
		return -1;
	}
	if (write(fd, req, strlen(req)) < 0)
		got = 0;	/* closed already: seen as no answer */
	for (;;) {
		struct pollfd pfd = {fd, POLLIN, 0};

		ck_assert_msg(now_ms() < end, "no end of the HTTP answer");
		poll(&pfd, 1, 100);
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0 || (n < 0 && errno != EAGAIN &&
		    errno != EINTR) || got == sizeof(buf) - 1)
			break;
	}
	close(fd);
	buf[got] = '\0';
	body[0] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return 0;
	if ((p = strstr(buf, "\r\n\r\n")) != NULL)
		snprintf(body, sizeof(body), "%s", p + 4);
	return status;
}

/* scrape - GET /metrics from 127.0.0.1; its status */
static int
scrape(void)
{
	return http_from("127.0.0.1", "127.0.0.1",
	    "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
}

/* sample - the value of the line that starts with name + " " in body */
static double
sample(const char *name)
{
	char key[256];
	const char *p;

	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(body, key);
	ck_assert_msg(p != NULL, "no sample %s in:\n%s", name, body);
	return strtod(p + strlen(key), NULL);
}

/* promtool_ok - promtool check metrics accepts body */
static void
promtool_ok(void)
{
	const char *argv[] = {"/usr/bin/promtool", "check", "metrics", NULL};
	char out[4096];
	int rc;

	if (access(argv[0], X_OK) != 0) {
		ck_assert_msg(getenv("CI") == NULL, "CI=true but no promtool "
		    "(apt-get install prometheus)");
		fprintf(stderr, "promtool missing: format not checked\n");
		return;
	}
	rc = run_prog(argv, body, out, sizeof(out), 10000);
	ck_assert_msg(rc == 0 && out[0] == '\0', "promtool: %d %s\nbody:\n%s",
	    rc, out, body);
}

/* start - dracd on ALLOW with metrics on host */
static void
start(const char *host)
{
	static char conf[400];
	char text[200];
	const char *extra[] = {"-c", conf, NULL};

	daemon_init(&d, ALLOW);
	mport = free_port();
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	snprintf(text, sizeof(text), "metrics_listen = inet:%s:%u\n", host,
	    mport);
	write_file(conf, text);
	ck_assert_msg(daemon_start(&d, extra) == 0, "dracd did not start");
}

static void
teardown(void)
{
	daemon_stop(&d);
}

/* v1_add - a DRAC v1 ADD of text from src over UDP; *res its status */
static int
v1_add(const char *src, const char *text, uint32_t *res)
{
	uint8_t req[64], rep[128];
	struct in_addr ia;
	size_t n = rpc_header(req, 101, 900101, 1, 1);

	ck_assert_int_eq(inet_pton(AF_INET, text, &ia), 1);
	n += put32(req + n, ntohl(ia.s_addr));
	return reply_status(rep, udp_exchange(src, d.port, req, n, rep,
	    sizeof(rep), 2000), 101, res);
}

/* written - for wait_until: the map and the journal written since */
static int
written(void *arg)
{
	double *before = arg;

	return scrape() == 200 &&
	    sample("dracd_map_writes_total") > before[0] &&
	    sample("dracd_journal_commit_seconds_count") > before[1];
}

/* conns_are - for wait_until: dracd_open_connections is (long)arg */
static int
conns_are(void *arg)
{
	return scrape() == 200 &&
	    sample("dracd_open_connections") == (double)(long)arg;
}

/* the body passes promtool, and each counter moves with its event */
START_TEST(scrape_counts)
{
	struct drac_options o = {0, 0, DRAC_TCP, NULL};
	struct drac_entry e;
	char server[64];
	double before[2];
	uint32_t res = 99;
	drac_t *h;
	int fd;

	start("127.0.0.1");
	ck_assert_int_eq(scrape(), 200);
	promtool_ok();
	ck_assert(sample("dracd_adds_total{version=\"1\",transport=\"udp\"}")
	    == 0);
	ck_assert(sample("dracd_entries") == 0);
	before[0] = sample("dracd_map_writes_total");
	before[1] = sample("dracd_journal_commit_seconds_count");

	ck_assert_int_eq(v1_add("127.0.0.1", "192.0.2.1", &res), 0);
	ck_assert_uint_eq(res, 0);
	snprintf(server, sizeof(server), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, server, &o), 0);
	ck_assert_int_eq(drac_add(h, "192.0.2.2", 0, "u"), 0);
	ck_assert_int_eq(drac_check(h, "192.0.2.2", &e), 1);
	ck_assert_int_eq(drac_check(h, "192.0.2.9", &e), 0);
	ck_assert_int_eq(drac_del(h, "192.0.2.1"), 0);
	ck_assert_int_eq(drac_add(h, "192.0.2.3", 0, NULL), 0);
	/* 127.0.0.3 holds no right: one denial */
	v1_add("127.0.0.3", "192.0.2.4", &res);

	ck_assert_msg(wait_until(written, before, WAIT_MS),
	    "map or journal not counted as written:\n%s", body);
	promtool_ok();
	ck_assert(sample("dracd_adds_total{version=\"1\",transport=\"udp\"}")
	    == 1);
	ck_assert(sample("dracd_adds_total{version=\"3\",transport=\"tcp\"}")
	    == 2);
	ck_assert(sample("dracd_adds_total{version=\"3\",transport=\"udp\"}")
	    == 0);
	ck_assert(sample("dracd_checks_total") == 2);
	ck_assert(sample("dracd_check_hits_total") == 1);
	ck_assert(sample("dracd_deletions_total") == 1);
	ck_assert(sample("dracd_entries") == 2);
	ck_assert(sample("dracd_denials_total{reason=\"acl\"}") == 1);
	ck_assert(sample("dracd_denials_total{reason=\"rate\"}") == 0);
	ck_assert(sample("dracd_map_write_failures_total") == 0);
	ck_assert(sample("dracd_map_last_write_timestamp_seconds") > 0);
	ck_assert(sample("dracd_journal_commit_seconds_sum") > 0);
	drac_close(h);
	/* a TCP connection held open is counted, and no more once closed */
	ck_assert_msg(wait_until(conns_are, (void *)0, WAIT_MS), "%s", body);
	fd = dial("127.0.0.1", d.port, SOCK_STREAM, NULL);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(wait_until(conns_are, (void *)1, WAIT_MS), "%s", body);
	close(fd);
	ck_assert_msg(wait_until(conns_are, (void *)0, WAIT_MS), "%s", body);
	ck_assert_int_eq(daemon_stop(&d), 0);	/* a clean exit */
}
END_TEST

/* adds past add_rate are counted as rate-limited */
START_TEST(scrape_rate)
{
	uint32_t res = 0;
	int i, busy = 0;

	daemon_init(&d, ALLOW);
	{
		static char conf[400];
		char text[200];
		const char *extra[] = {"-c", conf, NULL};

		mport = free_port();
		snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
		snprintf(text, sizeof(text), "metrics_listen = "
		    "inet:127.0.0.1:%u\nadd_rate = 1\n", mport);
		write_file(conf, text);
		ck_assert(daemon_start(&d, extra) == 0);
	}
	for (i = 0; i < 10; i++)
		if (v1_add("127.0.0.1", "192.0.2.5", &res) == 0 && res != 0)
			busy++;
	ck_assert_int_gt(busy, 0);
	ck_assert_int_eq(scrape(), 200);
	ck_assert(sample("dracd_adds_rate_limited_total") == busy);
	ck_assert(sample("dracd_denials_total{reason=\"rate\"}") == busy);
}
END_TEST

/* a caller without the admin right is closed; only GET /metrics */
START_TEST(access_rules)
{
	start("127.0.0.1");
	ck_assert_int_eq(http_from("127.0.0.2", "127.0.0.1",
	    "GET /metrics HTTP/1.0\r\n\r\n"), 0);
	ck_assert_ptr_null(strstr(body, "dracd_"));
	ck_assert_int_eq(http_from("127.0.0.1", "127.0.0.1",
	    "GET /other HTTP/1.0\r\n\r\n"), 404);
	ck_assert_int_eq(http_from("127.0.0.1", "127.0.0.1",
	    "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n"), 405);
	ck_assert_int_eq(scrape(), 200);
	ck_assert_int_eq(daemon_stop(&d), 0);	/* a clean exit */
}
END_TEST

/* sh - run a shell command; its exit status */
static int
sh(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* up - for wait_until: the metrics answer on loopback */
static int
up(void *arg)
{
	(void)arg;
	return scrape() == 200;
}

/*
 * With the built-in rules (allow_file empty), on a wildcard address, the
 * metrics answer loopback and refuse this host's other addresses: in a
 * network namespace of the test's own with a veth pair.
 */
START_TEST(loopback_default)
{
	static char conf[400];
	const char *bin = getenv("DRACD");
	char text[200], port[16];
	int fd;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
		ck_assert_msg(getenv("CI") == NULL, "CI=true but no netns");
		fprintf(stderr, "loopback_default: skipped: needs root\n");
		return;
	}
	ck_assert_int_eq(sh("ip link set lo up && ip link add m0 type veth peer "
	    "name m1 && ip addr add 192.0.2.1/24 dev m0 && ip link set m0 up "
	    "&& ip link set m1 up"), 0);
	daemon_init(&d, NULL);
	mport = free_port();
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	snprintf(text, sizeof(text), "allow_file =\nmetrics_listen = "
	    "inet:0.0.0.0:%u\n", mport);
	write_file(conf, text);
	snprintf(port, sizeof(port), "%u", d.port);
	d.pid = fork();
	ck_assert(d.pid >= 0);
	if (d.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(d.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin != NULL ? bin : "build/dracd", "dracd", "-f", "-c",
		    conf, "-l", "127.0.0.1", "-p", port, d.db, (char *)NULL);
		_exit(127);
	}
	ck_assert_msg(wait_until(up, NULL, WAIT_MS), "no metrics on loopback");
	ck_assert_int_eq(http_from("192.0.2.1", "192.0.2.1",
	    "GET /metrics HTTP/1.0\r\n\r\n"), 0);
	ck_assert_int_eq(http_from("127.0.0.5", "127.0.0.1",
	    "GET /metrics HTTP/1.0\r\n\r\n"), 200);
}
END_TEST

Suite *
make_metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc;

	tc = tcase_create("scrape");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, scrape_counts);
	tcase_add_test(tc, scrape_rate);
	suite_add_tcase(s, tc);
	tc = tcase_create("access");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, access_rules);
	tcase_add_test(tc, loopback_default);
	suite_add_tcase(s, tc);
	return s;
}
