/*
 * check_lookup.c - the policy and socketmap parsers, and both services
 * against a real dracd over TCP and a unix socket.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "drac.h"
#include "helpers.h"
#include "lookup.h"
#include "suites.h"

static const struct {
	const char *in;
	ssize_t want;		/* bytes, 0 incomplete, -1 malformed */
	const char *client;
} policy_cases[] = {
	{"request=smtpd_access_policy\nclient_address=192.0.2.7\n\n", 54,
	    "192.0.2.7"},
	{"client_address=2001:db8::1\nclient_name=x\n\nnext=1\n", 42,
	    "2001:db8::1"},
	{"\n", 1, ""},
	{"client_address=192.0.2.7\n", 0, ""},
	{"client_address=192.0.2.7", 0, ""},
	{"no equals sign\n\n", -1, ""},
	{"client_address=1.2.3.4\0x\n\n", -1, ""},
	{"client_address=" "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890\n\n", 88, ""},
};

START_TEST(policy_parser)
{
	char client[64];
	const char *in = policy_cases[_i].in;
	size_t len = strlen(in);
	ssize_t got;

	if (_i == 6)
		len = 26;	/* the case with an embedded NUL */
	got = policy_request(in, len, client, sizeof(client));
	ck_assert_msg(got == policy_cases[_i].want, "case %d: got %zd, want "
	    "%zd", _i, got, policy_cases[_i].want);
	if (got > 0)
		ck_assert_str_eq(client, policy_cases[_i].client);
}
END_TEST

static const struct {
	const char *in;
	ssize_t want;
	const char *data;
} netstring_cases[] = {
	{"14:drac 192.0.2.7,", 18, "drac 192.0.2.7"},
	{"0:,", 3, ""},
	{"14:drac 192.0.2.7,5:x", 18, "drac 192.0.2.7"},
	{"14:drac 192", 0, NULL},
	{"14", 0, NULL},
	{"14:drac 192.0.2.7;", -1, NULL},
	{"x:", -1, NULL},
	{":abc,", -1, NULL},
	{"014:drac 192.0.2.7,", -1, NULL},
	{"123456:x", -1, NULL},
	{"2000:drac", -1, NULL},	/* more than the 1024 allowed */
};

START_TEST(netstring_parser)
{
	const char *in = netstring_cases[_i].in, *data = NULL;
	size_t dlen = 0;
	ssize_t got = netstring_get(in, strlen(in), 1024, &data, &dlen);

	ck_assert_msg(got == netstring_cases[_i].want, "\"%s\": got %zd, want "
	    "%zd", in, got, netstring_cases[_i].want);
	if (got > 0) {
		ck_assert_uint_eq(dlen, strlen(netstring_cases[_i].data));
		ck_assert_int_eq(memcmp(data, netstring_cases[_i].data, dlen),
		    0);
	}
}
END_TEST

static struct daemon d;
static uint16_t pport, mport;
static char sockpath[100];

static void
teardown(void)
{
	daemon_kill(&d);
}

/* start_with_lookups - dracd with both services; allow as given */
static void
start_with_lookups(const char *allow, const char *action)
{
	static char conf[400];
	const char *const extra[] = {"-c", conf, NULL};
	char text[1200];

	daemon_init(&d, allow);
	pport = free_port();
	mport = free_port();
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	snprintf(sockpath, sizeof(sockpath), "%.80s/policy.sock", d.dir);
	snprintf(text, sizeof(text), "policy_listen = inet:127.0.0.1:%u\n"
	    "socketmap_listen = inet:127.0.0.1:%u\npolicy_action = %s\n",
	    pport, mport, action);
	write_file(conf, text);
	ck_assert_int_eq(daemon_start(&d, extra), 0);
}

/* conn_tcp - a TCP connection to port from src */
static int
conn_tcp(const char *src, uint16_t port)
{
	int fd = dial(src, port, SOCK_STREAM, NULL);

	ck_assert(fd >= 0);
	return fd;
}

/* ask - send q, read one answer ending in end (or until closed) */
static void
ask(int fd, const char *q, const char *end, char *out, size_t len)
{
	struct pollfd p = {fd, POLLIN, 0};
	size_t got = 0;
	ssize_t n;

	ck_assert_int_eq(write(fd, q, strlen(q)), (ssize_t)strlen(q));
	out[0] = '\0';
	while (got + 1 < len && (got < strlen(end) ||
	    strcmp(out + got - strlen(end), end) != 0)) {
		ck_assert_msg(poll(&p, 1, 3000) == 1, "no answer to \"%s\"", q);
		if ((n = read(fd, out + got, len - 1 - got)) <= 0)
			break;
		got += (size_t)n;
		out[got] = '\0';
	}
}

#define POLICY(ip) "request=smtpd_access_policy\nprotocol_state=RCPT\n" \
	"client_address=" ip "\nclient_name=unknown\n\n"

START_TEST(services_answer)
{
	char out[512], spec[32];
	drac_t *h;
	int fd;

	start_with_lookups("127.0.0.1\n", "PREPEND X-POP-User: %u (%a)");
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	ck_assert_int_eq(drac_add(h, "192.0.2.7", 0, "alice"), 0);
	ck_assert_int_eq(drac_add(h, "2001:db8::7", 0, NULL), 0);

	fd = conn_tcp("127.0.0.1", pport);
	/* several requests on one connection, as Postfix sends them */
	ask(fd, POLICY("192.0.2.7"), "\n\n", out, sizeof(out));
	ck_assert_str_eq(out, "action=PREPEND X-POP-User: alice (192.0.2.7)"
	    "\n\n");
	ask(fd, POLICY("192.0.2.8"), "\n\n", out, sizeof(out));
	ck_assert_str_eq(out, "action=DUNNO\n\n");
	ask(fd, POLICY("2001:db8::7"), "\n\n", out, sizeof(out));
	ck_assert_str_eq(out, "action=PREPEND X-POP-User:  (2001:db8::7)\n\n");
	ask(fd, "client_address=not-an-ip\n\n", "\n\n", out, sizeof(out));
	ck_assert_str_eq(out, "action=DUNNO\n\n");
	close(fd);

	fd = conn_tcp("127.0.0.1", mport);
	ask(fd, "14:drac 192.0.2.7,", ",", out, sizeof(out));
	ck_assert_str_eq(out, "40:OK PREPEND X-POP-User: alice (192.0.2.7),");
	ask(fd, "14:drac 192.0.2.9,", ",", out, sizeof(out));
	ck_assert_str_eq(out, "9:NOTFOUND ,");
	ask(fd, "15:other 192.0.2.7,", ",", out, sizeof(out));
	ck_assert_msg(strstr(out, ":PERM ") != NULL, "%s", out);
	close(fd);

	/* an expired or deleted grant is no longer OK */
	ck_assert_int_eq(drac_del(h, "192.0.2.7"), 0);
	fd = conn_tcp("127.0.0.1", mport);
	ask(fd, "14:drac 192.0.2.7,", ",", out, sizeof(out));
	ck_assert_str_eq(out, "9:NOTFOUND ,");
	close(fd);
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(caller_without_check_right)
{
	char out[512], spec[32];
	drac_t *h;
	int fd;

	start_with_lookups("127.0.0.1\n127.0.0.2 add\n", "OK");
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	ck_assert_int_eq(drac_add(h, "192.0.2.7", 0, NULL), 0);
	drac_close(h);
	/* 127.0.0.2 may add but not check: closed unanswered (the MTA
	 * tempfails, never relays), and a log line */
	fd = conn_tcp("127.0.0.2", pport);
	ask(fd, POLICY("192.0.2.7"), "\n\n", out, sizeof(out));
	ck_assert_str_eq(out, "");
	close(fd);
	fd = conn_tcp("127.0.0.2", mport);
	ask(fd, "14:drac 192.0.2.7,", ",", out, sizeof(out));
	ck_assert_str_eq(out, "");
	close(fd);
	ck_assert(log_contains(&d, "policy: refused a connection from "
	    "127.0.0.2: it holds no right here"));
	fd = conn_tcp("127.0.0.1", pport);
	ask(fd, POLICY("192.0.2.7"), "\n\n", out, sizeof(out));
	ck_assert_str_eq(out, "action=OK\n\n");
	close(fd);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(oversized_requests_close)
{
	char big[LOOKUP_POLICYMAX + 2048], out[64];
	struct pollfd p;
	int fd;

	start_with_lookups("127.0.0.1\n", "OK");
	memset(big, 'a', sizeof(big) - 2);
	big[0] = 'x';
	big[1] = '=';
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	fd = conn_tcp("127.0.0.1", pport);
	if (write(fd, big, strlen(big)) < 0)
		ck_abort_msg("write");
	p.fd = fd;
	p.events = POLLIN;
	ck_assert_int_eq(poll(&p, 1, 3000), 1);
	ck_assert_int_eq(read(fd, out, sizeof(out)), 0);	/* closed */
	close(fd);
	fd = conn_tcp("127.0.0.1", mport);
	ask(fd, "99999:drac", "", out, sizeof(out));
	ck_assert_int_eq(poll(&p, 1, 3000), 1);
	close(fd);
	/* and the service still answers others */
	fd = conn_tcp("127.0.0.1", pport);
	ask(fd, POLICY("192.0.2.1"), "\n\n", out, sizeof(out));
	ck_assert_str_eq(out, "action=DUNNO\n\n");
	close(fd);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(unix_socket)
{
	static char conf[400];
	const char *const extra[] = {"-c", conf, NULL};
	struct sockaddr_un sun;
	char text[600], out[128];
	int fd;

	daemon_init(&d, "127.0.0.1\n");
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	snprintf(sockpath, sizeof(sockpath), "%.80s/policy.sock", d.dir);
	snprintf(text, sizeof(text), "policy_listen = unix:%s\n", sockpath);
	write_file(conf, text);
	ck_assert_int_eq(daemon_start(&d, extra), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%.100s", sockpath);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
	ask(fd, POLICY("192.0.2.1"), "\n\n", out, sizeof(out));
	ck_assert_str_eq(out, "action=DUNNO\n\n");
	close(fd);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

Suite *
make_lookup_suite(void)
{
	Suite *s = suite_create("lookup");
	TCase *tc = tcase_create("parsers");
	TCase *tl = tcase_create("services");

	tcase_add_loop_test(tc, policy_parser, 0,
	    sizeof(policy_cases) / sizeof(policy_cases[0]));
	tcase_add_loop_test(tc, netstring_parser, 0,
	    sizeof(netstring_cases) / sizeof(netstring_cases[0]));
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tl, NULL, teardown);
	tcase_set_timeout(tl, 60);
	tcase_add_test(tl, services_answer);
	tcase_add_test(tl, caller_without_check_right);
	tcase_add_test(tl, oversized_requests_close);
	tcase_add_test(tl, unix_socket);
	suite_add_tcase(s, tl);
	return s;
}
