/*
 * check_opsconf.c - what an operator sees of the configuration: dracd -n
 * catches what start-up would fail on, -n -v prints the effective
 * settings, SIGHUP names each changed setting and whether it took effect,
 * and after -u the service user is warned of files a reload cannot read.
 */
#include <sys/stat.h>

#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "helpers.h"
#include "suites.h"

static char out[65536];

/* dracd_bin - the daemon under test */
static const char *
dracd_bin(void)
{
	const char *bin = getenv("DRACD");

	return bin != NULL ? bin : "build/dracd";
}

/* conf - a new dracd.conf in a new directory holding text; its path in
 * path (the map is in the same directory) */
static void
conf(char *path, size_t len, const char *text)
{
	const char *dir = tmpdir();
	char full[2048];

	snprintf(path, len, "%s/dracd.conf", dir);
	/* loopback only, should a start get as far as binding */
	snprintf(full, sizeof(full), "dbfile = %s/dracd.db\n"
	    "listen = 127.0.0.1\n%s", dir, text);
	write_file(path, full);
}

/* run_dracd - dracd with up to five args (-f added, NULL ends them),
 * output in out; its status */
static int
run_dracd(const char *a1, const char *a2, const char *a3, const char *a4,
    const char *a5)
{
	const char *argv[] = {dracd_bin(), "-f", a1, a2, a3, a4, a5, NULL};

	return run_prog(argv, NULL, out, sizeof(out), WAIT_MS);
}

static const struct {
	const char *text;	/* the dracd.conf body */
	const char *want;	/* in the message */
} bad[] = {
	{"listen = 127.0.0.1:8901\n", "\"127.0.0.1:8901\" is not an IPv4"},
	{"user = no-such-user-here\n", "unknown user \"no-such-user-here\""},
	{"allow_file = /nonexistent/dracd.allow\n", "/nonexistent/dracd.allow"},
	{"rpcbind = no\n", "rpcbind = no needs a fixed port"},
	{"policy_listen = inet:127.0.0.1\n", "policy_listen: inet:127.0.0.1"},
	{"socketmap_listen = 127.0.0.1:2\n", "socketmap_listen: 127.0.0.1:2"},
	{"metrics_listen = unix:/tmp/m\n", "metrics_listen: unix:/tmp/m"},
	{"policy_listen = unix:/nonexistent/p.sock\n", "directory /nonexistent"},
	{"add_key_file = /nonexistent/key\n", "/nonexistent/key"},
	{"map_type = dbm\n", "(valid: btree, hash, auto)"},
	{"admin_transport = udp\n", "(valid: auto, any, tcp)"},
	{"map_nul = maybe\n", "(valid: no, yes, auto)"},
	{"map_update = inplace\n", "(valid: rewrite, edit)"},
	{"policy_listen = inet:127.0.0.1:1\nsocketmap_listen = "
	    "inet:127.0.0.1:1\n", "both on inet:127.0.0.1:1"},
	{"port = 8901\nmetrics_listen = inet:127.0.0.1:8901\n",
	    "inet:127.0.0.1:8901 is the RPC service's port"},
};

/* each bad configuration: -n fails naming the problem, and so does a
 * start with it (the same check), before serving */
START_TEST(check_catches)
{
	char path[512];
	int rc;

	conf(path, sizeof(path), bad[_i].text);
	rc = run_dracd("-n", "-c", path, NULL, NULL);
	ck_assert_msg(rc != 0, "dracd -n accepted %s: %s", bad[_i].text, out);
	ck_assert_msg(strstr(out, bad[_i].want) != NULL, "-n on %s said: %s",
	    bad[_i].text, out);
	rc = run_dracd("-c", path, NULL, NULL, NULL);
	ck_assert_msg(rc != 0, "dracd started with %s", bad[_i].text);
	ck_assert_msg(strstr(out, bad[_i].want) != NULL, "start with %s "
	    "said: %s", bad[_i].text, out);
}
END_TEST

/* the dbfile's directory must exist; a key file must be private */
START_TEST(check_files)
{
	char path[512], key[600], text[1200];
	const char *dir;

	conf(path, sizeof(path), "");
	write_file(path, "dbfile = /nonexistent/dir/dracd.db\n");
	ck_assert_int_ne(run_dracd("-n", "-c", path, NULL, NULL), 0);
	ck_assert_msg(strstr(out, "directory /nonexistent/dir") != NULL,
	    "%s", out);
	dir = tmpdir();
	snprintf(key, sizeof(key), "%s/key", dir);
	write_file(key, "0123456789abcdef0123456789abcdef\n");
	ck_assert_int_eq(chmod(key, 0644), 0);
	snprintf(text, sizeof(text), "add_key_file = %s\n", key);
	conf(path, sizeof(path), text);
	ck_assert_int_ne(run_dracd("-n", "-c", path, NULL, NULL), 0);
	ck_assert_msg(strstr(out, key) != NULL, "%s", out);
}
END_TEST

/* a good configuration passes */
START_TEST(check_good)
{
	char path[512];

	conf(path, sizeof(path), "listen = 127.0.0.1, ::1\nrpcbind = no\n"
	    "port = 8901\npolicy_listen = inet:127.0.0.1:10031\n"
	    "socketmap_listen = unix:/tmp/sm.sock\n"
	    "metrics_listen = inet:[::1]:9100\nuser = nobody\n");
	ck_assert_msg(run_dracd("-n", "-c", path, NULL, NULL) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "configuration OK"));
}
END_TEST

/* line_after - does line follow header in text, before the next blank
 * line? */
static int
line_after(const char *text, const char *header, const char *line)
{
	const char *h = strstr(text, header), *end, *l;

	if (h == NULL)
		return 0;
	if ((end = strstr(h, "\n\n")) == NULL)
		end = h + strlen(h);
	l = strstr(h, line);
	return l != NULL && l < end;
}

/* -n -v prints every setting with its origin, and reads back as a
 * configuration that means the same */
START_TEST(dump)
{
	char path[512], header[600], again[512], first[65536], text[600];
	const char *p;

	snprintf(again, sizeof(again), "%s/dracd.allow", tmpdir());
	write_file(again, "127.0.0.1 add\n");
	snprintf(text, sizeof(text), "expire = 10m\nmap_type = hash\n"
	    "allow_file = %s\n", again);
	conf(path, sizeof(path), text);
	ck_assert_msg(run_dracd("-n", "-v", "-c", path, NULL) == 0, "%s", out);
	snprintf(header, sizeof(header), "# from %s\n", path);
	ck_assert_msg(line_after(out, header, "\nexpire = 10m\n"), "%s", out);
	ck_assert_msg(line_after(out, header, "\nmap_type = hash\n"), "%s",
	    out);
	ck_assert_msg(line_after(out, header, "\nallow_file = "), "%s", out);
	ck_assert_msg(line_after(out, "# defaults\n", "\nmax_ttl = 1d\n"),
	    "%s", out);
	ck_assert_msg(line_after(out, "# defaults\n", "\nsync_interval = 1s"),
	    "%s", out);
	ck_assert_msg(line_after(out, "# defaults\n", "\nmetrics_listen = "),
	    "%s", out);
	ck_assert_msg(line_after(out, "# defaults\n", "\nrpcbind = yes\n"),
	    "%s", out);
	/* read back: the same settings, now all from the file */
	snprintf(again, sizeof(again), "%s/again.conf", tmpdir());
	write_file(again, out);
	snprintf(first, sizeof(first), "%s", strstr(out, "dbfile = "));
	ck_assert_msg(run_dracd("-n", "-v", "-c", again, NULL) == 0, "%s", out);
	ck_assert_ptr_null(strstr(out, "# defaults"));
	for (p = strtok(first, "\n"); p != NULL; p = strtok(NULL, "\n"))
		if (p[0] != '#' && p[0] != '\0')
			ck_assert_msg(strstr(out, p) != NULL, "%s lost", p);
}
END_TEST

/* a command-line setting is shown as such */
START_TEST(dump_cmdline)
{
	char path[512];

	conf(path, sizeof(path), "port = 7\n");
	ck_assert_msg(run_dracd("-n", "-v", "-c", path, "-p8901") == 0, "%s",
	    out);
	ck_assert_msg(line_after(out, "# from the command line\n",
	    "\nport = 8901\n"), "%s", out);
	ck_assert_ptr_null(strstr(out, "port = 7\n"));
}
END_TEST

static const char *const odd[][2] = {
	{"expire", "90s"}, {"max_ttl", "1500ms"}, {"sync_interval", "0"},
	{"tcp_idle_timeout", "2h"}, {"rpcbind_check", "3m"},
	{"map_type", "hash"}, {"map_nul", "yes"}, {"port", "65535"},
	{"policy_action", "PREPEND X-Drac: %u"}, {"listen", "127.0.0.1 ::1"},
	{"admin_transport", "tcp"}, {"metrics_listen", "inet:[::1]:9"},
};

/* count_diff - for config_diff: count the settings that differ */
static void
count_diff(void *arg, const char *name, const char *a, const char *b,
    int reloadable)
{
	int *n = arg;

	(void)name;
	(void)a;
	(void)b;
	(void)reloadable;
	(*n)++;
}

/* the dump of any configuration reads back as the same configuration,
 * and config_diff sees every change */
START_TEST(dump_roundtrip)
{
	char err[CONFIG_ERRMAX], *text = NULL;
	struct config a, b, dflt;
	size_t len = 0, i;
	FILE *fp;
	int n = 0;

	config_defaults(&a);
	config_defaults(&dflt);
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		ck_assert_msg(config_set(&a, odd[i][0], odd[i][1], err,
		    sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(config_from(&a, "expire"), CONFIG_CMDLINE);
	ck_assert_int_eq(config_from(&a, "dbfile"), CONFIG_DEFAULT);
	fp = open_memstream(&text, &len);
	config_dump(&a, "x", fp);
	fclose(fp);
	config_defaults(&b);
	fp = fmemopen(text, len, "r");
	ck_assert_msg(config_read(&b, fp, "dump", err, sizeof(err)) == 0,
	    "%s\n%s", err, text);
	fclose(fp);
	ck_assert_int_eq(config_from(&b, "expire"), CONFIG_FILE);
	config_diff(&a, &b, count_diff, &n);
	ck_assert_msg(n == 0, "%d settings differ after a round trip:\n%s",
	    n, text);
	config_diff(&dflt, &b, count_diff, &n);
	ck_assert_int_eq(n, (int)(sizeof(odd) / sizeof(odd[0])));
	free(text);
}
END_TEST

struct logwait {
	struct daemon *d;
	const char *needle;
};

/* logged - for wait_until: the daemon's log holds needle */
static int
logged(void *arg)
{
	struct logwait *w = arg;

	return log_contains(w->d, w->needle);
}

/* wait_log - wait for needle in d's log */
static void
wait_log(struct daemon *d, const char *needle)
{
	struct logwait w = {d, needle};
	char buf[4096] = "";
	FILE *fp;

	if (wait_until(logged, &w, WAIT_MS))
		return;
	if ((fp = fopen(d->log, "r")) != NULL) {
		buf[fread(buf, 1, sizeof(buf) - 1, fp)] = '\0';
		fclose(fp);
	}
	ck_abort_msg("\"%s\" not logged; log:\n%s", needle, buf);
}

/* SIGHUP: one line per changed setting, in effect or needing a restart */
START_TEST(reload_diff)
{
	struct daemon d;
	char path[400];
	const char *extra[] = {"-c", path, NULL};

	daemon_init(&d, "127.0.0.1 add check admin\n");
	snprintf(path, sizeof(path), "%s/dracd.conf", d.dir);
	write_file(path, "expire = 30m\n");
	ck_assert_int_eq(daemon_start(&d, extra), 0);
	write_file(path, "expire = 10m\nsync_interval = 2s\n"
	    "policy_listen = inet:127.0.0.1:1\n");
	kill(d.pid, SIGHUP);
	wait_log(&d, "reloaded");
	wait_log(&d, "expire: 30m -> 10m, in effect");
	wait_log(&d, "sync_interval: 1s -> 2s, needs a restart");
	wait_log(&d, "policy_listen: \"\" -> inet:127.0.0.1:1, needs a "
	    "restart");
	ck_assert_int_eq(log_count(&d, "-> "), 3);
	/* nothing changed: nothing listed */
	kill(d.pid, SIGHUP);
	wait_log(&d, "no setting changed");
	ck_assert_int_eq(log_count(&d, "-> "), 3);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* need_nobody - root and user nobody; 0 (and say so) to skip */
static int
need_nobody(struct passwd *pw)
{
	struct passwd *p = getpwnam("nobody");

	if (geteuid() != 0 || p == NULL) {
		fprintf(stderr, "reload_priv: skipped: needs root and user "
		    "nobody\n");
		return 0;
	}
	*pw = *p;
	return 1;
}

/*
 * After -u, a config file only root can read draws a warning at start
 * (a reload would fail); with the documented mode (root, the service
 * user's group, 0640) there is no warning and a reload works.
 */
START_TEST(reload_priv)
{
	struct daemon d;
	struct passwd pw;
	char path[400];
	const char *extra[] = {"-c", path, "-u", "nobody", NULL};

	if (!need_nobody(&pw))
		return;
	daemon_init(&d, "127.0.0.1 add check admin\n");
	ck_assert_int_eq(chown(d.dir, pw.pw_uid, pw.pw_gid), 0);
	snprintf(path, sizeof(path), "%s/dracd.conf", d.dir);
	write_file(path, "expire = 30m\n");
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_int_eq(daemon_start(&d, extra), 0);
	wait_log(&d, "user nobody cannot read it");
	write_file(path, "expire = 10m\n");
	ck_assert_int_eq(chmod(path, 0600), 0);
	kill(d.pid, SIGHUP);
	wait_log(&d, "reload failed");
	ck_assert_int_eq(daemon_stop(&d), 0);

	unlink(d.log);
	write_file(path, "expire = 30m\n");
	ck_assert_int_eq(chown(path, 0, pw.pw_gid), 0);
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(chmod(d.allow, 0640), 0);
	ck_assert_int_eq(chown(d.allow, 0, pw.pw_gid), 0);
	ck_assert_int_eq(daemon_start(&d, extra), 0);
	write_file(path, "expire = 10m\n");
	kill(d.pid, SIGHUP);
	wait_log(&d, "expire: 30m -> 10m, in effect");
	ck_assert_int_eq(log_count(&d, "cannot read it"), 0);
	ck_assert_int_eq(log_count(&d, "reload failed"), 0);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

Suite *
make_opsconf_suite(void)
{
	Suite *s = suite_create("opsconf");
	TCase *tc;

	tc = tcase_create("check");
	tcase_add_loop_test(tc, check_catches, 0,
	    (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, check_files);
	tcase_add_test(tc, check_good);
	suite_add_tcase(s, tc);
	tc = tcase_create("dump");
	tcase_add_test(tc, dump);
	tcase_add_test(tc, dump_cmdline);
	tcase_add_test(tc, dump_roundtrip);
	suite_add_tcase(s, tc);
	tc = tcase_create("reload");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, reload_diff);
	tcase_add_test(tc, reload_priv);
	suite_add_tcase(s, tc);
	return s;
}
