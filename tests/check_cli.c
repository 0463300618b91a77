/* check_cli.c - drac-cli's commands, output and exit status (0/1/2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
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
	return s;
}
