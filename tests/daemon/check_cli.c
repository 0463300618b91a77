/* check_cli.c - drac-cli's commands, output and exit status (0/1/2). */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drac.h"
#include "fakeold.h"
#include "fakesrv.h"
#include "helpers.h"
#include "netns.h"
#include "suites.h"

static struct daemon d;
static char srv[32];

static void
teardown(void)
{
	daemon_kill(&d);
}

/* cli - run drac-cli with up to six arguments after -s; its status */
static int
cli(const char *input, char *out, size_t len, const char *a1,
    const char *a2, const char *a3, const char *a4, const char *a5,
    const char *a6)
{
	const char *bin = getenv("DRAC_CLI");
	const char *argv[10] = {bin != NULL ? bin : "build/drac-cli", "-s",
	    srv, a1, a2, a3, a4, a5, a6, NULL};

	return run_prog(argv, input, out, len, 10000);
}

#define CLI(in, ...) cli(in, out, sizeof(out), __VA_ARGS__)

static void
up(const char *allow)
{
	daemon_init(&d, allow);
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	snprintf(srv, sizeof(srv), "127.0.0.1:%u", d.port);
}

START_TEST(commands_and_exit_codes)
{
	char out[8192];

	up("127.0.0.1\n");
	ck_assert_int_eq(CLI(NULL, "ping", NULL, NULL, NULL, NULL, NULL), 0);
	ck_assert_int_eq(CLI(NULL, "add", "192.0.2.7", "--ttl", "600",
	    "--user", "alice"), 0);
	ck_assert_int_eq(CLI(NULL, "check", "192.0.2.7", NULL, NULL, NULL,
	    NULL), 0);
	ck_assert_msg(strstr(out, "192.0.2.7 allowed until") != NULL &&
	    strstr(out, "user alice") != NULL, "%s", out);
	ck_assert_int_eq(CLI(NULL, "check", "192.0.2.8", NULL, NULL, NULL,
	    NULL), 1);
	ck_assert_msg(strstr(out, "not allowed") != NULL, "%s", out);
	ck_assert_int_eq(CLI(NULL, "check", "192.0.2", NULL, NULL, NULL,
	    NULL), 2);
	ck_assert_msg(strstr(out, "invalid argument") != NULL, "%s", out);
	/* from standard input, as a log pipe would */
	ck_assert_int_eq(CLI("10.0.0.1 bob\n# comment\n\n2001:db8::1\n",
	    "add", "-", NULL, NULL, NULL, NULL), 0);
	ck_assert_int_eq(CLI("10.0.0.2\nnonsense\n", "add", "-", NULL, NULL,
	    NULL, NULL), 2);
	ck_assert_msg(strstr(out, "line 2") != NULL, "%s", out);
	ck_assert_int_eq(CLI(NULL, "list", NULL, NULL, NULL, NULL, NULL), 0);
	ck_assert_msg(strstr(out, "10.0.0.1\t") != NULL &&
	    strstr(out, "2001:db8::1\t") != NULL, "%s", out);
	ck_assert_int_eq(CLI(NULL, "list", "--json", NULL, NULL, NULL, NULL),
	    0);
	ck_assert_msg(out[0] == '[' && strstr(out, "\"addr\": \"10.0.0.1\"") &&
	    strstr(out, "\"user\": \"bob\""), "%s", out);
	ck_assert_int_eq(CLI(NULL, "stats", "--json", NULL, NULL, NULL,
	    NULL), 0);
	ck_assert_msg(strstr(out, "\"entries\": 4") != NULL, "%s", out);
	ck_assert_int_eq(CLI(NULL, "del", "10.0.0.1", NULL, NULL, NULL,
	    NULL), 0);
	ck_assert_int_eq(CLI(NULL, "del", "10.0.0.1", NULL, NULL, NULL,
	    NULL), 1);
	ck_assert_int_eq(CLI(NULL, "flush", NULL, NULL, NULL, NULL, NULL), 0);
	ck_assert_int_eq(CLI(NULL, "check", "192.0.2.7", NULL, NULL, NULL,
	    NULL), 1);
	ck_assert_int_eq(CLI(NULL, "frobnicate", NULL, NULL, NULL, NULL,
	    NULL), 2);
	ck_assert_int_eq(CLI(NULL, "add", NULL, NULL, NULL, NULL, NULL), 2);
	ck_assert_int_eq(CLI(NULL, "--tcp", "check", "192.0.2.7", NULL, NULL,
	    NULL), 1);
	ck_assert_int_eq(CLI(NULL, "check", "192.0.2.7", "--tcp", NULL, NULL,
	    NULL), 2);	/* options go before the command */
	ck_assert_int_eq(daemon_stop(&d), 0);
	/* the server is gone: 2 and the cause */
	ck_assert_int_eq(CLI(NULL, "check", "192.0.2.7", NULL, NULL, NULL,
	    NULL), 2);
	ck_assert_msg(strstr(out, "not running") != NULL, "%s", out);
}
END_TEST

START_TEST(permission_is_an_error)
{
	char out[4096];

	up("127.0.0.1 check\n127.0.0.9 admin\n");
	ck_assert_int_eq(CLI(NULL, "add", "192.0.2.7", NULL, NULL, NULL,
	    NULL), 2);
	ck_assert_msg(strstr(out, "permission denied") != NULL, "%s", out);
	ck_assert_int_eq(CLI(NULL, "list", NULL, NULL, NULL, NULL, NULL), 2);
	ck_assert_int_eq(CLI(NULL, "check", "192.0.2.7", NULL, NULL, NULL,
	    NULL), 1);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(help_and_version)
{
	const char *bin = getenv("DRAC_CLI");
	const char *argv[3] = {bin != NULL ? bin : "build/drac-cli", "--help",
	    NULL};
	char out[4096];

	ck_assert_int_eq(run_prog(argv, NULL, out, sizeof(out), 5000), 0);
	ck_assert_msg(strstr(out, "usage: drac-cli") != NULL, "%s", out);
	argv[1] = "--version";
	ck_assert_int_eq(run_prog(argv, NULL, out, sizeof(out), 5000), 0);
	ck_assert_msg(strncmp(out, "drac-cli ", 9) == 0, "%s", out);
}
END_TEST


/* ---- a server that never ends its listing (item 15) ---- */

START_TEST(list_ends_within_timeout)
{
	static const enum fake_mode modes[] = {FAKE_LIST_STUCK,
	    FAKE_LIST_CREEP};
	char out[8192];
	struct fakesrv *f;
	int64_t t0, ms;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		f = fake_start(modes[i]);
		snprintf(srv, sizeof(srv), "%s", fake_spec(f));
		t0 = now_ms();
		rc = CLI(NULL, "-t", "1", "list", NULL, NULL, NULL);
		ms = now_ms() - t0;
		fake_stop(f);
		/* -s comes first in cli(); -t after it is still an option */
		ck_assert_msg(rc == 2, "mode %zu: exit %d, want 2: %s", i, rc,
		    out);
		ck_assert_msg(ms < 2000, "mode %zu: took %lld ms", i,
		    (long long)ms);
		ck_assert_msg(strstr(out, "list:") != NULL, "%s", out);
	}
}
END_TEST

/* ---- user names that are not printable UTF-8 (item 17) ---- */

static const struct {
	const char *user;	/* as added */
	const char *text;	/* as list prints it */
	const char *py;		/* as JSON decodes it, a Python literal */
} users[] = {
	{"bad\x80\x9fname", "bad\\x80\\x9fname", "'bad\\ufffd\\ufffdname'"},
	{"j\xc3\xb6rg", "j\xc3\xb6rg", "'j\\u00f6rg'"},
	{"back\\slash", "back\\\\slash", "'back\\\\slash'"},
	{"\xc2\x85nel", "\\xc2\\x85nel", "'\\x85nel'"},
	{"\xe2\x80\xae" "evil", "\\xe2\\x80\\xae" "evil", "'\\u202eevil'"},
	{"cut\xe2\x80", "cut\\xe2\\x80", "'cut\\ufffd\\ufffd'"},
};

START_TEST(list_escapes_users)
{
	char out[8192], prog[2048], addr[32], want[128];
	const char *argv[4] = {"/usr/bin/python3", "-c", prog, NULL};
	size_t i, off;
	drac_t *h;

	up("127.0.0.1\n");
	ck_assert_int_eq(drac_open(&h, srv, NULL), 0);
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		snprintf(addr, sizeof(addr), "192.0.2.%zu", i + 1);
		ck_assert_int_eq(drac_add(h, addr, 0, users[i].user), 0);
	}
	drac_close(h);
	ck_assert_int_eq(CLI(NULL, "list", NULL, NULL, NULL, NULL, NULL), 0);
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		snprintf(want, sizeof(want), "\t%s\n", users[i].text);
		ck_assert_msg(strstr(out, want) != NULL, "want \"%s\" in:\n%s",
		    users[i].text, out);
	}
	ck_assert_int_eq(CLI(NULL, "check", "192.0.2.1", NULL, NULL, NULL,
	    NULL), 0);
	ck_assert_msg(strstr(out, "user bad\\x80\\x9fname\n") != NULL, "%s",
	    out);
	ck_assert_int_eq(CLI(NULL, "list", "--json", NULL, NULL, NULL, NULL),
	    0);
	off = (size_t)snprintf(prog, sizeof(prog), "import json, sys\n"
	    "got = {e['addr']: e['user'] for e in json.load(sys.stdin)}\n"
	    "want = {");
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		off += (size_t)snprintf(prog + off, sizeof(prog) - off,
		    "'192.0.2.%zu': %s, ", i + 1, users[i].py);
	snprintf(prog + off, sizeof(prog) - off, "}\n"
	    "sys.exit(0 if got == want else 'got %%r' %% got)\n");
	ck_assert_msg(run_prog(argv, out, out, sizeof(out), 10000) == 0,
	    "python3: %s", out);
}
END_TEST

/* ---- health: one line, Nagios exit status (issue 12) ---- */

/* health_is - does "health" exit with *(int *)arg? */
static int
health_is(void *arg)
{
	char out[1024];

	return CLI(NULL, "health", NULL, NULL, NULL, NULL, NULL) ==
	    *(int *)arg;
}

START_TEST(health_states)
{
	char out[2048], path[400];
	int want = 2;

	up("127.0.0.1\n");
	ck_assert_int_eq(CLI(NULL, "add", "192.0.2.7", NULL, NULL, NULL,
	    NULL), 0);
	ck_assert_int_eq(CLI(NULL, "health", NULL, NULL, NULL, NULL, NULL), 0);
	ck_assert_msg(strncmp(out, "DRAC OK - 1 entry", 17) == 0 &&
	    strchr(out, '\n') == strrchr(out, '\n'), "%s", out);
	/* the map cannot be replaced (a directory stands at its path):
	 * failures, and no good write within 3 sync intervals: CRITICAL */
	ck_assert_int_eq(unlink(d.db), 0);
	ck_assert_int_eq(mkdir(d.db, 0755), 0);
	snprintf(path, sizeof(path), "%s/keep", d.db);
	write_file(path, "x");
	ck_assert_int_eq(CLI(NULL, "add", "192.0.2.8", NULL, NULL, NULL,
	    NULL), 0);
	ck_assert_msg(wait_until(health_is, &want, 15000), "never CRITICAL");
	ck_assert_int_eq(CLI(NULL, "health", "--intervals", "3", NULL, NULL,
	    NULL), 2);
	ck_assert_msg(strncmp(out, "DRAC CRITICAL - ", 16) == 0 &&
	    strstr(out, "map write failure") != NULL, "%s", out);
	/* the map can be written again: failures in the past, WARNING */
	unlink(path);
	ck_assert_int_eq(rmdir(d.db), 0);
	ck_assert_int_eq(CLI(NULL, "add", "192.0.2.9", NULL, NULL, NULL,
	    NULL), 0);
	want = 1;
	ck_assert_msg(wait_until(health_is, &want, 15000), "never WARNING");
	ck_assert_int_eq(CLI(NULL, "health", NULL, NULL, NULL, NULL, NULL), 1);
	ck_assert_msg(strncmp(out, "DRAC WARNING - ", 15) == 0, "%s", out);
	ck_assert_int_eq(CLI(NULL, "health", "--intervals", "0", NULL, NULL,
	    NULL), 2);
	ck_assert_int_eq(daemon_stop(&d), 0);
	/* no server: CRITICAL, on standard output */
	ck_assert_int_eq(CLI(NULL, "health", NULL, NULL, NULL, NULL, NULL), 2);
	ck_assert_msg(strncmp(out, "DRAC CRITICAL - ", 16) == 0, "%s", out);
}
END_TEST

START_TEST(stats_json_every_counter)
{
	char out[4096];

	up("127.0.0.1\n");
	ck_assert_int_eq(CLI(NULL, "stats", "--json", NULL, NULL, NULL,
	    NULL), 0);
	ck_assert_msg(out[0] == '{' && strstr(out, "\"map_writes\": ") &&
	    strstr(out, "\"map_write_failures\": 0") &&
	    strstr(out, "\"sync_interval_ms\": 1000"), "%s", out);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* ---- messages that name the problem (issue 12) ---- */

START_TEST(user_with_control_characters)
{
	char out[2048];

	up("127.0.0.1\n");
	ck_assert_int_eq(CLI(NULL, "add", "192.0.2.7", "--user", "al\tice",
	    NULL, NULL), 2);
	ck_assert_msg(strstr(out, "--user") != NULL &&
	    strstr(out, "a tab at byte 3") != NULL, "%s", out);
	ck_assert_int_eq(CLI(NULL, "add", "192.0.2.7", "--user", "al\x1bice",
	    NULL, NULL), 2);
	ck_assert_msg(strstr(out, "a control character at byte 3") != NULL,
	    "%s", out);
	ck_assert_int_eq(CLI("192.0.2.8 bo\x01b\n", "add", "-", NULL, NULL,
	    NULL, NULL), 2);
	ck_assert_msg(strstr(out, "line 1: user name: a control character")
	    != NULL, "%s", out);
	ck_assert_int_eq(CLI(NULL, "check", "192.0.2.7", NULL, NULL, NULL,
	    NULL), 1);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(no_rpcbind_says_so)
{
	char out[2048];

	/* a network namespace of our own: nothing listens on port 111 */
	private_net(CLONE_NEWNET);
	snprintf(srv, sizeof(srv), "127.0.0.1");
	ck_assert_int_eq(CLI(NULL, "check", "192.0.2.7", NULL, NULL, NULL,
	    NULL), 2);
	ck_assert_msg(strstr(out, "rpcbind is not running") != NULL &&
	    strstr(out, "HOST:PORT") != NULL, "%s", out);
	/* with a port, rpcbind is not asked: the server is not running */
	snprintf(srv, sizeof(srv), "127.0.0.1:%u", free_port());
	ck_assert_int_eq(CLI(NULL, "check", "192.0.2.7", NULL, NULL, NULL,
	    NULL), 2);
	ck_assert_msg(strstr(out, "server not running") != NULL, "%s", out);
}
END_TEST

START_TEST(old_server_messages)
{
	struct fakeold *f = fakeold_start();
	char out[2048];

	snprintf(srv, sizeof(srv), "%s", fakeold_spec(f));
	ck_assert_int_eq(CLI(NULL, "add", "192.0.2.7", "--ttl", "600",
	    "--user", "alice"), 0);
	ck_assert_msg(strstr(out, "granted by 1 DRAC 1.x server without "
	    "--ttl and --user") != NULL, "%s", out);
	ck_assert_int_eq(CLI(NULL, "add", "192.0.2.7", NULL, NULL, NULL,
	    NULL), 0);
	ck_assert_msg(out[0] == '\0', "a plain add said: %s", out);
	ck_assert_int_eq(CLI(NULL, "check", "192.0.2.7", NULL, NULL, NULL,
	    NULL), 2);
	ck_assert_msg(strstr(out, "DRAC 1.x") != NULL &&
	    strstr(out, "can only add") != NULL, "%s", out);
	ck_assert_int_eq(CLI(NULL, "list", NULL, NULL, NULL, NULL, NULL), 2);
	ck_assert_msg(strstr(out, "DRAC 1.x") != NULL, "%s", out);
	fakeold_stop(f);
}
END_TEST

/* add --any: a second daemon, and drac-cli on both (the stopped first) */
static struct daemon d_any;

static void
teardown_any(void)
{
	daemon_kill(&d);
	daemon_kill(&d_any);
}

/* cli_both - drac-cli -s "d_any,d" with up to four arguments */
static int
cli_both(const char *input, char *out, size_t len, const char *a1,
    const char *a2, const char *a3, const char *a4)
{
	const char *bin = getenv("DRAC_CLI");
	char both[64];
	const char *argv[8] = {bin != NULL ? bin : "build/drac-cli", "-s",
	    both, a1, a2, a3, a4, NULL};

	snprintf(both, sizeof(both), "127.0.0.1:%u,127.0.0.1:%u", d_any.port,
	    d.port);
	return run_prog(argv, input, out, len, 10000);
}

START_TEST(add_any_one_member_down)
{
	char out[4096];

	up("127.0.0.1\n");
	daemon_init(&d_any, "127.0.0.1\n");
	ck_assert_int_eq(daemon_start(&d_any, NULL), 0);
	ck_assert_int_eq(daemon_stop(&d_any), 0);
	/* one down: add fails (2), add --any succeeds (0) */
	ck_assert_int_eq(cli_both(NULL, out, sizeof(out), "add", "192.0.2.50",
	    NULL, NULL), 2);
	ck_assert_msg(strstr(out, "not running") != NULL, "%s", out);
	ck_assert_int_eq(cli_both(NULL, out, sizeof(out), "add", "--any",
	    "192.0.2.51", NULL), 0);
	ck_assert_int_eq(cli_both(NULL, out, sizeof(out), "add", "192.0.2.52",
	    "--user", "bob"), 2);
	ck_assert_int_eq(cli_both(NULL, out, sizeof(out), "add", "192.0.2.52",
	    "--any", "--user=bob"), 0);
	ck_assert_int_eq(CLI(NULL, "check", "192.0.2.51", NULL, NULL, NULL,
	    NULL), 0);
	ck_assert_int_eq(CLI(NULL, "check", "192.0.2.52", NULL, NULL, NULL,
	    NULL), 0);
	ck_assert_msg(strstr(out, "user bob") != NULL, "%s", out);
	/* standard input, likewise */
	ck_assert_int_eq(cli_both("192.0.2.53 carl\n", out, sizeof(out),
	    "add", "-", NULL, NULL), 2);
	ck_assert_int_eq(cli_both("192.0.2.54 carl\n2001:db8::54\n", out,
	    sizeof(out), "add", "--any", "-", NULL), 0);
	ck_assert_int_eq(CLI(NULL, "check", "192.0.2.54", NULL, NULL, NULL,
	    NULL), 0);
	ck_assert_int_eq(CLI(NULL, "check", "2001:db8::54", NULL, NULL, NULL,
	    NULL), 0);
	/* both down: an error either way */
	ck_assert_int_eq(daemon_stop(&d), 0);
	ck_assert_int_eq(cli_both(NULL, out, sizeof(out), "add", "--any",
	    "192.0.2.55", NULL), 2);
	ck_assert_msg(strstr(out, "not running") != NULL, "%s", out);
	ck_assert_int_eq(cli_both("192.0.2.56\n", out, sizeof(out), "add",
	    "--any", "-", NULL), 2);
	ck_assert_msg(strstr(out, "line 1") != NULL, "%s", out);
}
END_TEST

Suite *
make_cli_suite(void)
{
	Suite *s = suite_create("drac-cli");
	TCase *tc = tcase_create("cli");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, commands_and_exit_codes);
	tcase_add_test(tc, permission_is_an_error);
	tcase_add_test(tc, help_and_version);
	suite_add_tcase(s, tc);
	tc = tcase_create("hostile_list");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, list_ends_within_timeout);
	suite_add_tcase(s, tc);
	tc = tcase_create("user_escape");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, list_escapes_users);
	suite_add_tcase(s, tc);
	tc = tcase_create("health");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, health_states);
	tcase_add_test(tc, stats_json_every_counter);
	suite_add_tcase(s, tc);
	tc = tcase_create("cli_messages");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, user_with_control_characters);
	tcase_add_test(tc, no_rpcbind_says_so);
	tcase_add_test(tc, old_server_messages);
	suite_add_tcase(s, tc);
	tc = tcase_create("add_any");
	tcase_add_checked_fixture(tc, NULL, teardown_any);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, add_any_one_member_down);
	suite_add_tcase(s, tc);
	return s;
}
