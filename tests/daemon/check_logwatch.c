/*
 * check_logwatch.c - drac-logwatch: its login patterns, its tail -F
 * follower, and the program itself against a real dracd (grants, no
 * replay across restarts, rotation, dracd down, standard input, the
 * systemd journal).
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logwatch/follow.h"
#include "logwatch/pattern.h"
#include "drac.h"
#include "helpers.h"
#include "suites.h"

/* ---- patterns ---- */

struct pcase {
	const char *line;
	const char *addr;	/* NULL: must not match */
	const char *user;
};

static const struct pcase pcases[] = {
	/* Dovecot 2.3 with log_path, and through syslog (2.2 prefix) */
	{"Nov 30 11:58:01 pop3-login: Info: Login: user=<alice>, "
	    "method=PLAIN, rip=192.0.2.21, lip=192.0.2.1, mpid=4242, "
	    "session=<abc>", "192.0.2.21", "alice"},
	{"Nov 30 11:58:01 mx dovecot: imap-login: Login: "
	    "user=<bob@example.org>, method=PLAIN, rip=2001:db8::21, "
	    "lip=2001:db8::1, mpid=1, TLS, session=<x>", "2001:db8::21",
	    "bob@example.org"},
	{"dovecot[77]: pop3-login: Login: user=<carol>, method=PLAIN, "
	    "rip=::ffff:192.0.2.22, lip=::ffff:192.0.2.1, mpid=3",
	    "192.0.2.22", "carol"},
	{"Nov 30 11:58:01 mx dovecot: imap-login: Login: dave "
	    "[192.0.2.24]", "192.0.2.24", "dave"},
	{"Nov 30 11:58:01 mx dovecot: pop3-login: Aborted login (auth "
	    "failed, 1 attempts in 2 secs): user=<alice>, method=PLAIN, "
	    "rip=192.0.2.99, lip=192.0.2.1, session=<y>", NULL, NULL},
	{"Nov 30 11:58:01 imap-login: Info: Disconnected (auth failed, 1 "
	    "attempts in 4 secs): user=<alice>, method=PLAIN, "
	    "rip=192.0.2.98, lip=192.0.2.1, session=<z>", NULL, NULL},
	{"Nov 30 11:58:01 imap-login: Info: Disconnected (no auth attempts "
	    "in 0 secs): user=<>, rip=192.0.2.97, lip=192.0.2.1", NULL, NULL},
	{"Nov 30 11:58:01 pop3-login: Info: Login: user=<x>, method=PLAIN, "
	    "rip=999.1.1.1, lip=192.0.2.1", NULL, NULL},
	/* Courier */
	{"Nov 30 11:58:01 mx pop3d: LOGIN, user=erin, "
	    "ip=[::ffff:192.0.2.31], port=[4242]", "192.0.2.31", "erin"},
	{"Nov 30 11:58:01 mx imapd-ssl: LOGIN, user=frank, "
	    "ip=[2001:db8::31], protocol=IMAP", "2001:db8::31", "frank"},
	{"Nov 30 11:58:01 mx courierpop3login: LOGIN, user=fay, "
	    "ip=[192.0.2.32]", "192.0.2.32", "fay"},
	{"Nov 30 11:58:01 mx pop3d: LOGIN FAILED, user=erin, "
	    "ip=[::ffff:192.0.2.39]", NULL, NULL},
	/* Qpopper: syslog, its own log, and Stats at the session's end */
	{"Nov 30 11:58:01 mx qpopper[123]: (v4.1.0) POP login by user "
	    "\"gina\" at (client.example.org) 192.0.2.41", "192.0.2.41",
	    "gina"},
	{"Nov 30 11:58:01 [popper] (v4.0.5) POP login by user \"hal\" at "
	    "(client) 192.0.2.42", "192.0.2.42", "hal"},
	{"Nov 30 11:58:01 mx popper[123]: Stats: ivy 2 1234 0 0 "
	    "client.example.org 192.0.2.43", "192.0.2.43", "ivy"},
	{"Nov 30 11:58:01 mx qpopper[123]: [AUTH] Password supplied for "
	    "\"gina\" is incorrect.", NULL, NULL},
	/* UW ipop3d / imapd */
	{"Nov 30 11:58:01 mx ipop3d[123]: Login user=jack "
	    "host=client.example.org [192.0.2.51] nmsgs=0/0", "192.0.2.51",
	    "jack"},
	{"Nov 30 11:58:01 mx imapd[12]: Authenticated user=kim "
	    "host=[2001:db8::51]", "2001:db8::51", "kim"},
	{"Nov 30 11:58:01 mx imapd[12]: [ID 123 mail.info] Login user=lee "
	    "host=c [192.0.2.52]", "192.0.2.52", "lee"},
	{"Nov 30 11:58:01 mx ipop3d[123]: Login failed user=jack auth=jack "
	    "host=client [192.0.2.59]", NULL, NULL},
	{"Nov 30 11:58:01 mx imapd[12]: AUTHENTICATE PLAIN failure "
	    "host=[192.0.2.58]", NULL, NULL},
	/* Cyrus */
	{"Nov 30 11:58:01 mx imap[1234]: login: client.example.org "
	    "[192.0.2.61] mona plaintext User logged in SESSIONID=<x>",
	    "192.0.2.61", "mona"},
	{"Nov 30 11:58:01 mx pop3s[1]: login: [2001:db8::61] ned PLAIN "
	    "User logged in", "2001:db8::61", "ned"},
	{"Nov 30 11:58:01 mx imap[1]: badlogin: client [192.0.2.69] "
	    "plaintext oscar SASL(-13): authentication failure", NULL, NULL},
	/* a user name that is not one is left out, the grant is not */
	{"pop3-login: Login: user=<a\tb>, method=PLAIN, rip=192.0.2.71",
	    "192.0.2.71", ""},
	{"Nov 30 11:58:01 mx postfix/smtpd[1]: connect from "
	    "unknown[192.0.2.80]", NULL, NULL},
};

START_TEST(builtin_formats)
{
	struct patterns *ps = patterns_new();
	size_t i;

	ck_assert_ptr_nonnull(ps);
	ck_assert_int_eq(patterns_add_all(ps), 0);
	for (i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *c = &pcases[i];
		struct login l;
		int got = patterns_match(ps, c->line, &l);

		ck_assert_msg(got == (c->addr != NULL), "case %zu: got match "
		    "%d, want %d: %s", i, got, c->addr != NULL, c->line);
		if (!got)
			continue;
		ck_assert_msg(strcmp(l.addr, c->addr) == 0 &&
		    strcmp(l.user, c->user) == 0, "case %zu: got %s/%s, want "
		    "%s/%s", i, l.addr, l.user, c->addr, c->user);
	}
	patterns_free(ps);
}
END_TEST

START_TEST(chosen_and_custom_formats)
{
	struct patterns *ps = patterns_new();
	char err[256];
	struct login l;

	ck_assert_int_eq(patterns_add_format(ps, "courier", err,
	    sizeof(err)), 0);
	ck_assert(!patterns_match(ps, pcases[0].line, &l));
	ck_assert(patterns_match(ps, pcases[8].line, &l));
	ck_assert_int_eq(patterns_add_format(ps, "sendmail", err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "dovecot") != NULL, "%s", err);
	/* named parts, in either order, with brackets and escapes before */
	ck_assert_int_eq(patterns_add_regex(ps, "myd\\[[0-9]+\\]: ok "
	    "(?<user>[a-z]+) \\(x\\) from (?<addr>[0-9a-f:.]+)$", err,
	    sizeof(err)), 0);
	ck_assert(patterns_match(ps, "Nov 30 mx myd[7]: ok pat (x) from "
	    "192.0.2.90", &l));
	ck_assert_str_eq(l.addr, "192.0.2.90");
	ck_assert_str_eq(l.user, "pat");
	ck_assert_str_eq(l.format, "custom");
	ck_assert_int_eq(patterns_add_regex(ps, "no address (?<user>.*)",
	    err, sizeof(err)), -1);
	ck_assert_int_eq(patterns_add_regex(ps, "(?<addr>x) (?<addr>y)",
	    err, sizeof(err)), -1);
	ck_assert_int_eq(patterns_add_regex(ps, "(?<addr>[0-9.]+", err,
	    sizeof(err)), -1);
	patterns_free(ps);
}
END_TEST

START_TEST(line_times)
{
	time_t now = time(NULL), t;
	struct tm tm;
	char line[64];

	ck_assert_int_eq(line_time("2026-11-30T11:58:01.123+01:00 mx x",
	    now), 1796039881 - 3600);
	ck_assert_int_eq(line_time("2026-11-30T11:58:01Z mx x", now),
	    1796039881);
	ck_assert_int_eq(line_time("pop3-login: Login", now), -1);
	localtime_r(&now, &tm);
	strftime(line, sizeof(line), "%b %e %H:%M:%S mx dovecot:", &tm);
	t = line_time(line, now);
	ck_assert_msg(t == now, "got %lld, want %lld (%s)", (long long)t,
	    (long long)now, line);
}
END_TEST

/* ---- the follower ---- */

struct got {
	char lines[8][128];
	int catchup[8];
	int n;
};

static void
collect(void *arg, const char *line, int catchup)
{
	struct got *g = arg;

	ck_assert_int_lt(g->n, 8);
	snprintf(g->lines[g->n], sizeof(g->lines[0]), "%s", line);
	g->catchup[g->n++] = catchup;
}

static void
append(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int
poll_into(struct follow *f, struct got *g)
{
	memset(g, 0, sizeof(*g));
	return follow_poll(f, collect, g);
}

START_TEST(follow_rotation_truncation)
{
	char path[300], old[310];
	struct follow f;
	struct got g;

	snprintf(path, sizeof(path), "%s/mail.log", tmpdir());
	snprintf(old, sizeof(old), "%s.1", path);
	append(path, "before 1\nbefore 2\n");
	ck_assert_int_eq(follow_open(&f, path, FOLLOW_END, NULL), 0);
	ck_assert_int_eq(poll_into(&f, &g), 0);
	append(path, "one\ntw");
	ck_assert_int_eq(poll_into(&f, &g), 1);
	ck_assert_str_eq(g.lines[0], "one");
	ck_assert_int_eq(g.catchup[0], 0);
	append(path, "o\n");
	ck_assert_int_eq(poll_into(&f, &g), 1);
	ck_assert_str_eq(g.lines[0], "two");
	/* rotation: the old file's last line, then the new file's */
	ck_assert_int_eq(rename(path, old), 0);
	append(old, "late in old\n");
	append(path, "first in new\n");
	ck_assert_int_eq(poll_into(&f, &g), 2);
	ck_assert_str_eq(g.lines[0], "late in old");
	ck_assert_str_eq(g.lines[1], "first in new");
	/* copytruncate: the file is cut to nothing and written again */
	ck_assert_int_eq(truncate(path, 0), 0);
	append(path, "after cut\n");
	ck_assert_int_eq(poll_into(&f, &g), 1);
	ck_assert_str_eq(g.lines[0], "after cut");
	/* deleted, then it appears again */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(poll_into(&f, &g), 0);
	append(path, "reborn\n");
	ck_assert_int_eq(poll_into(&f, &g), 1);
	ck_assert_str_eq(g.lines[0], "reborn");
	follow_close(&f);
}
END_TEST

START_TEST(follow_later_resume_long)
{
	char path[300], big[FOLLOW_LINEMAX + 100];
	struct follow f;
	struct follow_pos pos;
	struct got g;

	snprintf(path, sizeof(path), "%s/later.log", tmpdir());
	ck_assert_int_eq(follow_open(&f, path, FOLLOW_END, NULL), 0);
	ck_assert_int_eq(poll_into(&f, &g), 0);
	append(path, "appeared\n");
	ck_assert_int_eq(poll_into(&f, &g), 1);
	ck_assert_str_eq(g.lines[0], "appeared");
	/* an over-long line is skipped whole; the next one still counts */
	memset(big, 'x', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	append(path, big);
	append(path, "after big\n");
	ck_assert_int_eq(poll_into(&f, &g), 1);
	ck_assert_str_eq(g.lines[0], "after big");
	pos = f.pos;
	follow_close(&f);
	/* resuming: lines written meanwhile are catch-up, later ones not */
	append(path, "while away\n");
	ck_assert_int_eq(follow_open(&f, path, FOLLOW_END, &pos), 0);
	append(path, "new\n");
	ck_assert_int_eq(poll_into(&f, &g), 2);
	ck_assert_str_eq(g.lines[0], "while away");
	ck_assert_int_eq(g.catchup[0], 1);
	ck_assert_str_eq(g.lines[1], "new");
	ck_assert_int_eq(g.catchup[1], 0);
	follow_close(&f);
}
END_TEST

/* ---- the program against a real dracd ---- */

static struct daemon d;
static char srv[32];
static pid_t lw;

static void
lw_teardown(void)
{
	if (lw > 0) {
		kill(lw, SIGKILL);
		waitpid(lw, NULL, 0);
		lw = 0;
	}
	daemon_kill(&d);
}

/* watcher - start drac-logwatch with args; its pid */
static pid_t
watcher(const char *const *args, const char *errlog)
{
	const char *bin = getenv("DRAC_LOGWATCH");
	const char *argv[24];
	size_t n = 0;
	pid_t pid;

	argv[n++] = bin != NULL ? bin : "build/drac-logwatch";
	argv[n++] = "-s";
	argv[n++] = srv;
	while (*args != NULL && n < 23)
		argv[n++] = *args++;
	argv[n] = NULL;
	ck_assert((pid = fork()) >= 0);
	if (pid == 0) {
		int fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static drac_t *
handle(void)
{
	struct drac_options o = {.timeout_ms = 1000};
	drac_t *h;

	ck_assert_int_eq(drac_open(&h, srv, &o), 0);
	return h;
}

struct probe {
	const char *addr;
	int want;
};

static int
allowed_is(void *arg)
{
	struct probe *p = arg;
	drac_t *h = handle();
	int rc = drac_check(h, p->addr, NULL);

	drac_close(h);
	return rc == p->want;
}

/* stats_has - has the watcher's state file counters matching needle? */
struct sneedle {
	const char *state, *needle;
};

static int
stats_has(void *arg)
{
	struct sneedle *s = arg;
	char buf[4096];
	FILE *fp = fopen(s->state, "r");
	size_t n;

	if (fp == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strstr(buf, s->needle) != NULL;
}

static int
stop_watcher(pid_t pid)
{
	int st;

	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	lw = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
up(void)
{
	daemon_init(&d, "127.0.0.0/8 add check admin\n");
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	snprintf(srv, sizeof(srv), "127.0.0.1:%u", d.port);
}

#define LOGIN(ip, user) "Nov 30 11:58:01 mx dovecot: pop3-login: Login: " \
	"user=<" user ">, method=PLAIN, rip=" ip ", lip=127.0.0.1, mpid=1\n"

START_TEST(grants_logins_only)
{
	char log[300], st[300], err[300];
	struct probe yes = {"127.0.0.2", 1}, no = {"127.0.0.3", 1};
	struct sneedle s;
	struct drac_entry e;
	drac_t *h;

	up();
	snprintf(log, sizeof(log), "%s/mail.log", d.dir);
	snprintf(st, sizeof(st), "%s/lw.state", d.dir);
	snprintf(err, sizeof(err), "%s/lw.err", d.dir);
	append(log, LOGIN("127.0.0.9", "old"));	/* there before: ignored */
	lw = watcher((const char *[]){"--state", st, log, NULL}, err);
	s.state = st;
	s.needle = "pid ";
	ck_assert(wait_until(stats_has, &s, WAIT_MS));
	append(log, LOGIN("127.0.0.2", "alice"));
	append(log, "Nov 30 11:58:02 mx dovecot: pop3-login: Aborted login "
	    "(auth failed, 1 attempts in 2 secs): user=<bob>, method=PLAIN, "
	    "rip=127.0.0.3, lip=127.0.0.1\n");
	ck_assert(wait_until(allowed_is, &yes, WAIT_MS));
	h = handle();
	ck_assert_int_eq(drac_check(h, "127.0.0.2", &e), 1);
	ck_assert_str_eq(e.user, "alice");
	drac_close(h);
	/* the watcher has read both lines: the failed one granted nothing */
	ck_assert_int_eq(kill(lw, SIGUSR1), 0);
	s.needle = "lines=2 matched=1";
	ck_assert(wait_until(stats_has, &s, WAIT_MS));
	ck_assert(!allowed_is(&no));
	no.addr = "127.0.0.9";
	ck_assert(!allowed_is(&no));
	ck_assert_int_eq(stop_watcher(lw), 0);
}
END_TEST

#define OLD_LOGIN(ip, user) "2001-01-01T00:00:01Z mx dovecot: pop3-login: " \
	"Login: user=<" user ">, method=PLAIN, rip=" ip ", lip=127.0.0.1\n"

/* recent_login - a login line stamped now, as syslog stamps it */
static void
recent_login(char *buf, size_t len, const char *ip, const char *user)
{
	char stamp[64];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	snprintf(buf, len, "%s mx dovecot: pop3-login: Login: user=<%s>, "
	    "method=PLAIN, rip=%s, lip=127.0.0.1\n", stamp, user, ip);
}

START_TEST(restart_without_replay)
{
	char log[300], old[310], st[300], err[300], recent[256];
	struct probe p = {"127.0.0.2", 1};
	struct sneedle s;
	drac_t *h;

	up();
	snprintf(log, sizeof(log), "%s/mail.log", d.dir);
	snprintf(old, sizeof(old), "%s.1", log);
	snprintf(st, sizeof(st), "%s/lw.state", d.dir);
	snprintf(err, sizeof(err), "%s/lw.err", d.dir);
	append(log, "");
	lw = watcher((const char *[]){"--state", st, log, NULL}, err);
	s.state = st;
	s.needle = "pid ";
	ck_assert(wait_until(stats_has, &s, WAIT_MS));
	append(log, LOGIN("127.0.0.2", "alice"));
	ck_assert(wait_until(allowed_is, &p, WAIT_MS));
	ck_assert_int_eq(stop_watcher(lw), 0);
	h = handle();
	ck_assert_int_eq(drac_del(h, "127.0.0.2"), 0);
	drac_close(h);
	/* while it is down: an old login, and one a moment ago */
	append(log, OLD_LOGIN("127.0.0.4", "olga"));
	recent_login(recent, sizeof(recent), "127.0.0.5", "rita");
	append(log, recent);
	/* restarted with the default look-back of 0: nothing replays */
	lw = watcher((const char *[]){"--state", st, log, NULL}, err);
	s.needle = "lines=2 matched=2 old=2";
	ck_assert(wait_until(stats_has, &s, WAIT_MS) ||
	    (kill(lw, SIGUSR1) == 0 && wait_until(stats_has, &s, WAIT_MS)));
	p.want = 0;
	ck_assert(allowed_is(&p));
	p.addr = "127.0.0.5";
	ck_assert(allowed_is(&p));
	ck_assert_int_eq(stop_watcher(lw), 0);
	/* rotated while down, restarted with a look-back: the new file is
	 * read from its start, its recent login granted, its old one not */
	ck_assert_int_eq(rename(log, old), 0);
	append(log, OLD_LOGIN("127.0.0.4", "olga"));
	recent_login(recent, sizeof(recent), "127.0.0.6", "sam");
	append(log, recent);
	lw = watcher((const char *[]){"--state", st, "--lookback", "600",
	    log, NULL}, err);
	p.addr = "127.0.0.6";
	p.want = 1;
	ck_assert(wait_until(allowed_is, &p, WAIT_MS));
	p.addr = "127.0.0.4";
	p.want = 0;
	ck_assert(allowed_is(&p));
	ck_assert_int_eq(stop_watcher(lw), 0);
}
END_TEST

START_TEST(dracd_down_then_back)
{
	char log[300], st[300], err[300];
	struct probe p = {"127.0.0.7", 1};
	struct sneedle s = {NULL, NULL};

	up();
	snprintf(log, sizeof(log), "%s/mail.log", d.dir);
	snprintf(st, sizeof(st), "%s/lw.state", d.dir);
	snprintf(err, sizeof(err), "%s/lw.err", d.dir);
	append(log, "");
	ck_assert_int_eq(daemon_stop(&d), 0);
	lw = watcher((const char *[]){"--state", st, log, NULL}, err);
	s.state = st;
	s.needle = "pid ";
	ck_assert(wait_until(stats_has, &s, WAIT_MS));
	append(log, LOGIN("127.0.0.7", "tom"));
	append(log, LOGIN("127.0.0.7", "tom"));	/* folded into one */
	ck_assert_int_eq(kill(lw, SIGUSR1), 0);
	s.needle = "queued=1";
	ck_assert(wait_until(stats_has, &s, WAIT_MS) ||
	    (kill(lw, SIGUSR1) == 0 && wait_until(stats_has, &s, WAIT_MS)));
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	ck_assert(wait_until(allowed_is, &p, 15000));
	ck_assert_int_eq(kill(lw, SIGUSR1), 0);
	s.needle = "added=1 folded=1 dropped=0 refused=0 queued=0";
	ck_assert(wait_until(stats_has, &s, WAIT_MS));
	ck_assert_int_eq(stop_watcher(lw), 0);
}
END_TEST

START_TEST(standard_input)
{
	const char *bin = getenv("DRAC_LOGWATCH");
	char out[1024];
	struct probe p = {"2001:db8::77", 1};

	up();
	const char *argv[] = {bin ? bin : "build/drac-logwatch", "-s", srv,
	    "-p", "courier", "-", NULL};
	ck_assert_int_eq(run_prog(argv, "Nov 30 11:58:01 mx imapd: LOGIN, "
	    "user=uma, ip=[2001:db8::77], protocol=IMAP\n" LOGIN("127.0.0.8",
	    "vic"), out, sizeof(out), 10000), 0);
	ck_assert(allowed_is(&p));
	p.addr = "127.0.0.8";	/* a Dovecot line, not asked for */
	p.want = 0;
	ck_assert(allowed_is(&p));
	/* a format that does not exist is an error that lists them */
	const char *bad[] = {argv[0], "-p", "exchange", "-", NULL};
	ck_assert_int_eq(run_prog(bad, "", out, sizeof(out), 10000), 2);
	ck_assert_msg(strstr(out, "cyrus") != NULL, "%s", out);
}
END_TEST

/* --any: the servers are a group's members, the first one down */
static struct daemon d_any;

static void
any_teardown(void)
{
	lw_teardown();
	daemon_kill(&d_any);
}

START_TEST(any_member_takes_it)
{
	const char *bin = getenv("DRAC_LOGWATCH");
	struct probe p = {"127.0.0.9", 1};
	char out[1024], both[64];

	up();
	daemon_init(&d_any, "127.0.0.0/8 add check admin\n");
	ck_assert_int_eq(daemon_start(&d_any, NULL), 0);
	ck_assert_int_eq(daemon_stop(&d_any), 0);
	snprintf(both, sizeof(both), "127.0.0.1:%u,%s", d_any.port, srv);
	const char *argv[] = {bin ? bin : "build/drac-logwatch", "-s", both,
	    "-t", "1", "--any", "-p", "dovecot", "-", NULL};
	ck_assert_int_eq(run_prog(argv, LOGIN("127.0.0.9", "wes"), out,
	    sizeof(out), 10000), 0);
	ck_assert_msg(strstr(out, "unreachable") == NULL, "%s", out);
	ck_assert(allowed_is(&p));
	/* without --any the stopped member holds the login in the queue */
	argv[5] = "-p";
	argv[6] = "dovecot";
	argv[7] = "-";
	argv[8] = NULL;
	ck_assert_int_eq(run_prog(argv, LOGIN("127.0.0.10", "xan"), out,
	    sizeof(out), 15000), 1);
	ck_assert_msg(strstr(out, "dracd unreachable") != NULL, "%s", out);
}
END_TEST

/* journal_export - one entry in journal export format */
static void
journal_export(FILE *fp, uint64_t us, const char *ident, const char *msg)
{
	static int seq;

	fprintf(fp, "__CURSOR=s=0;i=%d\n__REALTIME_TIMESTAMP=%llu\n"
	    "__MONOTONIC_TIMESTAMP=%llu\n_BOOT_ID=0123456789abcdef"
	    "0123456789abcdef\nSYSLOG_IDENTIFIER=%s\n_PID=4242\n"
	    "MESSAGE=%s\n\n", ++seq, (unsigned long long)us,
	    (unsigned long long)us, ident, msg);
}

START_TEST(systemd_journal)
{
	char dir[300], jfile[320], export[320], st[300], err[300], cmd[1024];
	struct probe p = {"127.0.0.10", 1};
	uint64_t us = (uint64_t)time(NULL) * 1000000;
	FILE *fp;

	up();
	snprintf(dir, sizeof(dir), "%s/journal", d.dir);
	snprintf(jfile, sizeof(jfile), "%s/remote.journal", dir);
	snprintf(export, sizeof(export), "%s/export", d.dir);
	snprintf(st, sizeof(st), "%s/lw.state", d.dir);
	snprintf(err, sizeof(err), "%s/lw.err", d.dir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_ptr_nonnull(fp = fopen(export, "w"));
	journal_export(fp, us, "dovecot", "imap-login: Login: user=<wes>, "
	    "method=PLAIN, rip=127.0.0.10, lip=127.0.0.1, mpid=9");
	journal_export(fp, us + 1, "dovecot", "imap-login: Disconnected "
	    "(auth failed, 1 attempts in 2 secs): user=<x>, method=PLAIN, "
	    "rip=127.0.0.11, lip=127.0.0.1");
	fclose(fp);
	/* the journal file, made by systemd's own writer */
	snprintf(cmd, sizeof(cmd), "/lib/systemd/systemd-journal-remote "
	    "--output=%s %s 2>%s/remote.err", jfile, export, d.dir);
	ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
	lw = watcher((const char *[]){"--journal", "--journal-dir", dir,
	    "--from-start", "--state", st, NULL}, err);
	ck_assert(wait_until(allowed_is, &p, WAIT_MS));
	p.addr = "127.0.0.11";
	p.want = 0;
	ck_assert(allowed_is(&p));
	ck_assert_int_eq(stop_watcher(lw), 0);
	/* restarted from its cursor: the entry is not added again */
	drac_t *h = handle();
	ck_assert_int_eq(drac_del(h, "127.0.0.10"), 0);
	drac_close(h);
	struct sneedle s = {st, "cursor "};
	ck_assert(stats_has(&s));
	lw = watcher((const char *[]){"--journal", "--journal-dir", dir,
	    "--state", st, NULL}, err);
	ck_assert_int_eq(kill(lw, 0), 0);
	s.needle = "lines=0";
	ck_assert(wait_until(stats_has, &s, WAIT_MS) ||
	    (kill(lw, SIGUSR1) == 0 && wait_until(stats_has, &s, WAIT_MS)));
	p.addr = "127.0.0.10";
	ck_assert(allowed_is(&p));
	ck_assert_int_eq(stop_watcher(lw), 0);
}
END_TEST

Suite *
make_logwatch_suite(void)
{
	Suite *s = suite_create("logwatch");
	TCase *tp = tcase_create("patterns");
	TCase *tf = tcase_create("follow");
	TCase *tw = tcase_create("watcher");
	TCase *tj = tcase_create("journal");
	TCase *ta = tcase_create("watcher_any");

	tcase_add_test(tp, builtin_formats);
	tcase_add_test(tp, chosen_and_custom_formats);
	tcase_add_test(tp, line_times);
	tcase_add_test(tf, follow_rotation_truncation);
	tcase_add_test(tf, follow_later_resume_long);
	tcase_add_checked_fixture(tw, NULL, lw_teardown);
	tcase_set_timeout(tw, 60);
	tcase_add_test(tw, grants_logins_only);
	tcase_add_test(tw, restart_without_replay);
	tcase_add_test(tw, dracd_down_then_back);
	tcase_add_test(tw, standard_input);
	tcase_add_checked_fixture(tj, NULL, lw_teardown);
	tcase_set_timeout(tj, 60);
	tcase_add_test(tj, systemd_journal);
	suite_add_tcase(s, tp);
	suite_add_tcase(s, tf);
	suite_add_tcase(s, tw);
	suite_add_tcase(s, tj);
	tcase_add_checked_fixture(ta, NULL, any_teardown);
	tcase_set_timeout(ta, 60);
	tcase_add_test(ta, any_member_takes_it);
	suite_add_tcase(s, ta);
	return s;
}
