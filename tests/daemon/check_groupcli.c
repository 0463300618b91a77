/*
 * check_groupcli.c - what surrounds a dracd group: GROUP over RPC and its
 * rights (those of STATS), drac-cli group against a single host and
 * against fake members (lines, lag, sites, exit status), drac-cli stats'
 * group lines, and the group's metrics through promtool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drac_prot.h"
#include "fakegroup.h"
#include "helpers.h"
#include "metrics.h"
#include "suites.h"

static struct daemon d;
static char out[16384];

static void
teardown(void)
{
	daemon_kill(&d);
}

/* cli - drac-cli -t 1 -s servers cmd [arg]; its status, output in out */
static int
cli(const char *servers, const char *cmd, const char *arg)
{
	const char *bin = getenv("DRAC_CLI");
	const char *argv[] = {bin != NULL ? bin : "build/drac-cli", "-t", "1",
	    "-s", servers, cmd, arg, NULL};

	return run_prog(argv, NULL, out, sizeof(out), 10000);
}

/* start - dracd on allow, with conf as its dracd.conf (NULL: none) */
static void
start(const char *allow, const char *conf)
{
	static char path[400];
	const char *extra[] = {"-c", path, NULL};

	daemon_init(&d, allow);
	snprintf(path, sizeof(path), "%s/dracd.conf", d.dir);
	write_file(path, conf != NULL ? conf : "");
	ck_assert_msg(daemon_start(&d, extra) == 0, "dracd did not start");
}

/* dead - a loopback server spec where nobody answers */
static const char *
dead(void)
{
	static char spec[32];

	snprintf(spec, sizeof(spec), "127.0.0.1:%u", free_port());
	return spec;
}

START_TEST(group_single_host)
{
	char srv[32], two[80];

	start("127.0.0.1 add check admin\n", NULL);
	snprintf(srv, sizeof(srv), "127.0.0.1:%u", d.port);
	/* a single host: one line, exit 1 (as "not found") */
	ck_assert_int_eq(cli(srv, "group", NULL), 1);
	ck_assert_msg(strstr(out, "not in a group") != NULL &&
	    strncmp(out, srv, strlen(srv)) == 0, "%s", out);
	ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1, "%s", out);
	/* stats: no group lines */
	ck_assert_int_eq(cli(srv, "stats", NULL), 0);
	ck_assert_msg(strstr(out, "entries ") != NULL &&
	    strstr(out, "group_") == NULL, "%s", out);
	/* a member that does not answer: its line; the status is the
	 * answering one's */
	snprintf(two, sizeof(two), "%s,%s", srv, dead());
	ck_assert_int_eq(cli(two, "group", NULL), 1);
	ck_assert_msg(strstr(out, "not in a group") != NULL &&
	    strstr(out, " no answer: ") != NULL, "%s", out);
	/* none answers: 2 */
	ck_assert_int_eq(cli(dead(), "group", NULL), 2);
	ck_assert_msg(strstr(out, " no answer: ") != NULL, "%s", out);
	ck_assert_int_eq(cli(srv, "group", "extra"), 2);
}
END_TEST

/* dracd_conf - dracd -f ARG -c (a dracd.conf of text); its status */
static int
dracd_conf(const char *arg, const char *text)
{
	const char *bin = getenv("DRACD");
	char path[512], body[1024];
	const char *argv[] = {bin != NULL ? bin : "build/dracd", "-f", "-c",
	    path, arg, NULL};

	snprintf(path, sizeof(path), "%s/group.conf", tmpdir());
	snprintf(body, sizeof(body), "dbfile = %s/dracd.db\nport = %u\n%s",
	    tmpdir(), free_port(), text);
	write_file(path, body);
	return run_prog(argv, NULL, out, sizeof(out), WAIT_MS);
}

START_TEST(group_conf)
{
	/* -n -v: the four settings, from the file */
	ck_assert_msg(dracd_conf("-nv", "group_local = 127.0.0.1:7301\n"
	    "group_sites = 127.0.0.1:7302 [::1]:7303\ngroup_priority = 0\n"
	    "group_ack = one\n") == 0, "%s", out);
	ck_assert_msg(strstr(out, "\ngroup_local = 127.0.0.1:7301\n") != NULL &&
	    strstr(out, "\ngroup_sites = 127.0.0.1:7302 [::1]:7303\n") !=
	    NULL && strstr(out, "\ngroup_priority = 0\n") != NULL &&
	    strstr(out, "\ngroup_ack = one\n") != NULL, "%s", out);
	/* a single host's dump shows the defaults */
	ck_assert_msg(dracd_conf("-nv", "") == 0, "%s", out);
	ck_assert_msg(strstr(out, "\ngroup_local = \n") != NULL &&
	    strstr(out, "\ngroup_ack = quorum\n") != NULL, "%s", out);
	/* refused by -n, and by a start, naming what is wrong */
	ck_assert_int_ne(dracd_conf("-n", "group_ack = all\n"), 0);
	ck_assert_msg(strstr(out, "group_local") != NULL, "%s", out);
	ck_assert_int_ne(dracd_conf("-d", "group_local = 127.0.0.1:7301\n"),
	    0);
	ck_assert_msg(strstr(out, "group_sites") != NULL, "%s", out);
	ck_assert_int_ne(dracd_conf("-n", "group_local = 127.0.0.1:7301\n"
	    "group_sites = ::1:7302\n"), 0);
	ck_assert_msg(strstr(out, "brackets") != NULL, "%s", out);
}
END_TEST

/* group_call - GROUP from src over tcp or UDP; the status */
static drac_stat
group_call(const char *src, int tcp, bool_t *enabled)
{
	CLIENT *c = client_v3(src, d.port, tcp);
	group3_res r;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(dracproc3_group_3(NULL, &r, c), RPC_SUCCESS);
	*enabled = r.enabled;
	xdr_free((xdrproc_t)xdr_group3_res, (char *)&r);
	clnt_destroy(c);
	return r.stat;
}

/* stats_call - STATS from src over tcp or UDP; the status */
static drac_stat
stats_call(const char *src, int tcp)
{
	CLIENT *c = client_v3(src, d.port, tcp);
	stats3_res r;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(dracproc3_stats_3(NULL, &r, c), RPC_SUCCESS);
	clnt_destroy(c);
	return r.stat;
}

START_TEST(group_rights)
{
	bool_t on = TRUE;

	start("127.0.0.1 add check admin\n127.0.0.2 add check\n", NULL);
	/* no admin right: refused, as STATS is */
	ck_assert_int_eq(stats_call("127.0.0.2", 0), DRAC_PERM);
	ck_assert_int_eq(group_call("127.0.0.2", 0, &on), DRAC_PERM);
	ck_assert_int_eq(group_call("127.0.0.2", 1, &on), DRAC_PERM);
	/* the admin: a single host says so and nothing else */
	ck_assert_int_eq(group_call("127.0.0.1", 0, &on), DRAC_OK);
	ck_assert_int_eq(on, FALSE);
	ck_assert_int_eq(group_call("127.0.0.1", 1, &on), DRAC_OK);
	/* each refusal logged, as STATS' */
	ck_assert_int_eq(log_count(&d, "denied admin"), 3);
}
END_TEST

START_TEST(group_admin_transport)
{
	bool_t on = TRUE;

	start("127.0.0.1 add check admin\n", "admin_transport = tcp\n");
	ck_assert_int_eq(stats_call("127.0.0.1", 0), DRAC_PERM);
	ck_assert_int_eq(group_call("127.0.0.1", 0, &on), DRAC_PERM);
	ck_assert_int_eq(stats_call("127.0.0.1", 1), DRAC_OK);
	ck_assert_int_eq(group_call("127.0.0.1", 1, &on), DRAC_OK);
	ck_assert_int_eq(on, FALSE);
}
END_TEST

/* three members' answers: a master, a replica behind it on the same log
 * file, a replica caught up on another file; sites as the master sees
 * them */
static group_site3 sites[] = {
	{(char *)"127.0.0.1:7301", TRUE, TRUE, TRUE},
	{(char *)"127.0.0.1:7302", TRUE, FALSE, FALSE},
	{(char *)"[::1]:7303", FALSE, FALSE, FALSE},
};
static group_site3 self2[] = {
	{(char *)"127.0.0.1:7302", TRUE, FALSE, TRUE},
};
static group3_res ans_master = {DRAC_OK, TRUE, DRAC_ROLE_MASTER,
	(char *)"127.0.0.1:7301", 3, 5000, 100, 1700000000500LL, 0, 0, 1,
	{3, sites}};
static group3_res ans_behind = {DRAC_OK, TRUE, DRAC_ROLE_REPLICA,
	(char *)"127.0.0.1:7301", 3, 4200, 97, 1700000000200LL, 12, 1, 2,
	{1, self2}};
static group3_res ans_other = {DRAC_OK, TRUE, DRAC_ROLE_REPLICA,
	(char *)"127.0.0.1:7301", 2, 9000, 100, 1700000000500LL, 0, 0, 1,
	{0, NULL}};
static group3_res ans_joining = {DRAC_OK, TRUE, DRAC_ROLE_NONE,
	(char *)"", 1, 100, 0, 0, 0, 0, 0, {0, NULL}};

/* line_of - the output line that starts with spec, or fail */
static const char *
line_of(const char *spec, char *buf, size_t len)
{
	const char *p = out;
	size_t n = strlen(spec);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, spec, n) == 0 && p[n] == ' ') {
			snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
			return buf;
		}
		p = strchr(p, '\n');
		p = p != NULL ? p + 1 : NULL;
	}
	ck_abort_msg("no line for %s in:\n%s", spec, out);
	return NULL;
}

START_TEST(group_members)
{
	struct fakegroup *m = fakegroup_start(&ans_master);
	struct fakegroup *b = fakegroup_start(&ans_behind);
	struct fakegroup *o = fakegroup_start(&ans_other);
	struct fakegroup *j = fakegroup_start(&ans_joining);
	char all[256], want[256], line[512];
	const char *gone = dead();

	/* the replica first: lag comes from the master's answer anyway */
	snprintf(all, sizeof(all), "%s,%s %s,%s,%s", fakegroup_spec(b),
	    fakegroup_spec(m), fakegroup_spec(o), fakegroup_spec(j), gone);
	ck_assert_int_eq(cli(all, "group", NULL), 0);
	snprintf(want, sizeof(want), "%s role=master member=127.0.0.1:7301 "
	    "master=127.0.0.1:7301 log=3/5000 seq=100 lag_bytes=0 lag_ms=0",
	    fakegroup_spec(m));
	ck_assert_str_eq(line_of(fakegroup_spec(m), line, sizeof(line)), want);
	snprintf(want, sizeof(want), "%s role=replica member=127.0.0.1:7302 "
	    "master=127.0.0.1:7301 log=3/4200 seq=97 lag_bytes=800 "
	    "lag_ms=300", fakegroup_spec(b));
	ck_assert_str_eq(line_of(fakegroup_spec(b), line, sizeof(line)), want);
	snprintf(want, sizeof(want), "%s role=replica member=- "
	    "master=127.0.0.1:7301 log=2/9000 seq=100 lag_bytes=? lag_ms=0",
	    fakegroup_spec(o));
	ck_assert_str_eq(line_of(fakegroup_spec(o), line, sizeof(line)), want);
	snprintf(want, sizeof(want), "%s role=joining member=- master=- "
	    "log=1/100 seq=0 lag_bytes=? lag_ms=?", fakegroup_spec(j));
	ck_assert_str_eq(line_of(fakegroup_spec(j), line, sizeof(line)), want);
	ck_assert_msg(strstr(line_of(gone, line, sizeof(line)),
	    " no answer: ") != NULL, "%s", out);
	/* the sites of the first answer (the replica's) */
	snprintf(want, sizeof(want), "site 127.0.0.1:7302 connected self "
	    "(seen by %s)\n", fakegroup_spec(b));
	ck_assert_msg(strstr(out, want) != NULL, "want %s in:\n%s", want, out);
	ck_assert_msg(strstr(out, "site 127.0.0.1:7301") == NULL, "%s", out);

	/* the master first: its three sites */
	snprintf(all, sizeof(all), "%s,%s", fakegroup_spec(m),
	    fakegroup_spec(b));
	ck_assert_int_eq(cli(all, "group", NULL), 0);
	ck_assert_msg(strstr(out, "site 127.0.0.1:7301 connected master "
	    "self (") != NULL && strstr(out, "site 127.0.0.1:7302 connected "
	    "(") != NULL && strstr(out, "site [::1]:7303 not-connected (") !=
	    NULL, "%s", out);

	/* without the master's answer, no lag can be told */
	ck_assert_int_eq(cli(fakegroup_spec(b), "group", NULL), 0);
	ck_assert_msg(strstr(out, "lag_bytes=? lag_ms=?") != NULL, "%s", out);

	/* stats: the member's role, master and last change */
	ck_assert_int_eq(cli(fakegroup_spec(b), "stats", NULL), 0);
	ck_assert_msg(strstr(out, "group_role replica\n"
	    "group_master 127.0.0.1:7301\ngroup_seq 97\n") != NULL, "%s", out);
	ck_assert_int_eq(cli(fakegroup_spec(j), "stats", "--json"), 0);
	ck_assert_msg(strstr(out, "{\"group_role\": \"joining\", "
	    "\"group_master\": \"\", \"group_seq\": 0}") != NULL, "%s", out);
	fakegroup_stop(m);
	fakegroup_stop(b);
	fakegroup_stop(o);
	fakegroup_stop(j);
}
END_TEST

/* promtool_clean - promtool check metrics accepts text */
static void
promtool_clean(const char *text)
{
	const char *argv[] = {"/usr/bin/promtool", "check", "metrics", NULL};
	char res[4096];
	int rc;

	if (access(argv[0], X_OK) != 0) {
		ck_assert_msg(getenv("CI") == NULL, "CI=true but no promtool");
		fprintf(stderr, "promtool missing: format not checked\n");
		return;
	}
	rc = run_prog(argv, text, res, sizeof(res), 10000);
	ck_assert_msg(rc == 0 && res[0] == '\0', "promtool: %d %s\n%s", rc,
	    res, text);
}

START_TEST(group_metrics)
{
	struct store_group g;
	size_t n;

	memset(&g, 0, sizeof(g));
	ck_assert_uint_eq(metrics_render_group(&g, out, sizeof(out)), 0);
	g.enabled = 1;
	g.role = STORE_ROLE_REPLICA;
	g.seq = 97;
	g.seq_ms = 1700000000250LL;
	g.forwarded = 12;
	g.forward_failures = 1;
	g.elections = 2;
	g.nsites = 2;
	snprintf(g.sites[0].addr, sizeof(g.sites[0].addr), "127.0.0.1:7301");
	g.sites[0].connected = 1;
	snprintf(g.sites[1].addr, sizeof(g.sites[1].addr), "[::1]:7303");
	n = metrics_render_group(&g, out, sizeof(out));
	ck_assert_uint_gt(n, 0);
	out[n] = '\0';
	ck_assert_msg(strstr(out, "\ndracd_group_role 1\n") != NULL &&
	    strstr(out, "\ndracd_group_seq 97\n") != NULL &&
	    strstr(out, "\ndracd_group_seq_timestamp_seconds 1700000000.250\n")
	    != NULL && strstr(out, "\ndracd_group_forwarded_total 12\n") !=
	    NULL && strstr(out, "\ndracd_group_forward_failures_total 1\n") !=
	    NULL && strstr(out, "\ndracd_group_elections_total 2\n") != NULL &&
	    strstr(out, "\ndracd_group_site_connected{site=\"127.0.0.1:7301\"} "
	    "1\n") != NULL && strstr(out, "\ndracd_group_site_connected{site="
	    "\"[::1]:7303\"} 0\n") != NULL, "%s", out);
	promtool_clean(out);
	g.role = STORE_ROLE_MASTER;
	n = metrics_render_group(&g, out, sizeof(out));
	out[n] = '\0';
	ck_assert_msg(strstr(out, "\ndracd_group_role 2\n") != NULL, "%s", out);
}
END_TEST

Suite *
make_groupcli_suite(void)
{
	Suite *s = suite_create("groupcli");
	TCase *tc = tcase_create("group_single_host");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, group_single_host);
	suite_add_tcase(s, tc);
	tc = tcase_create("group_conf");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, group_conf);
	suite_add_tcase(s, tc);
	tc = tcase_create("group_rights");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, group_rights);
	tcase_add_test(tc, group_admin_transport);
	suite_add_tcase(s, tc);
	tc = tcase_create("group_members");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, group_members);
	suite_add_tcase(s, tc);
	tc = tcase_create("group_metrics");
	tcase_add_test(tc, group_metrics);
	suite_add_tcase(s, tc);
	return s;
}
