/*
 * check_milter.c - drac-milter: its policy module in-process, then the
 * real program against a real dracd, driven by miltertest (OpenDKIM's
 * MTA simulator) in each mode, with dracd up and down, for IPv4, IPv6
 * and IPv4-mapped clients; and last a real Postfix that puts the trace
 * header into a relayed message.
 *
 * miltertest runs one Lua script, written here into the test directory,
 * once per transaction: -D sock= ip= mailer= [auth=] [hdr=].  It
 * prints rcpt=, eom=, "deleted" when a forged header was removed, and
 * header= the value of the one it added (or none).
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <sys/un.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drac.h"
#include "helpers.h"
#include "mta.h"
#include "milter/policy.h"
#include "suites.h"

#define MILTERTEST	"/usr/bin/miltertest"

static const char script[] =
"local names = {}\n"
"names[SMFIR_CONTINUE] = 'continue'\n"
"names[SMFIR_REPLYCODE] = 'reject'\n"
"names[SMFIR_REJECT] = 'reject'\n"
"names[SMFIR_TEMPFAIL] = 'tempfail'\n"
"local function reply(conn)\n"
"  local r = mt.getreply(conn)\n"
"  return names[r] or tostring(r)\n"
"end\n"
"if hdr == nil then hdr = 'X-Drac-User' end\n"
"local conn = mt.connect(sock, 50, 0.1)\n"
"if conn == nil then error('cannot connect to the milter') end\n"
"local e = mt.conninfo(conn, 'client.test', ip)\n"
"if e ~= nil then error('conninfo: ' .. e) end\n"
"if auth ~= nil then mt.macro(conn, SMFIC_MAIL, '{auth_authen}', auth) end\n"
"e = mt.mailfrom(conn, 'a@client.test')\n"
"if e ~= nil then error('mailfrom: ' .. e) end\n"
"if mailer ~= 'none' then\n"
"  mt.macro(conn, SMFIC_RCPT, '{rcpt_mailer}', mailer)\n"
"end\n"
"e = mt.rcptto(conn, 'x@example.net')\n"
"if e ~= nil then error('rcptto: ' .. e) end\n"
"mt.echo('rcpt=' .. reply(conn))\n"
"if mt.getreply(conn) ~= SMFIR_CONTINUE then\n"
"  mt.disconnect(conn)\n"
"  return\n"
"end\n"
"mt.header(conn, 'Subject', 'test')\n"
"if forged ~= nil then\n"
"  mt.header(conn, string.lower(hdr), 'mallory; addr=192.0.2.66')\n"
"end\n"
"e = mt.eom(conn)\n"
"if e ~= nil then error('eom: ' .. e) end\n"
"mt.echo('eom=' .. reply(conn))\n"
"if mt.eom_check(conn, MT_HDRDELETE, hdr) then\n"
"  mt.echo('deleted')\n"
"end\n"
"if mt.eom_check(conn, MT_HDRINSERT, hdr) then\n"
"  mt.echo('header=' .. mt.getheader(conn, hdr, 0))\n"
"else\n"
"  mt.echo('header=none')\n"
"end\n"
"mt.disconnect(conn)\n";

struct milter {
	pid_t pid;
	uint16_t port;			/* 0: on the unix socket path */
	char dir[256], log[300], lua[300];
	char path[300];			/* set before start: a unix socket */
	char sock[320];			/* libmilter's spec */
	const char *hdr;		/* the header name, NULL: default */
	int default_timeout;		/* else -t 5: a dracd under valgrind */
};

static struct daemon d;

/* ---- the policy module ---- */

START_TEST(client_address)
{
	static const struct {
		int family;
		const char *in, *want;
	} t[] = {
		{AF_INET, "192.0.2.1", "192.0.2.1"},
		{AF_INET6, "2001:db8::7", "2001:db8::7"},
		{AF_INET6, "::ffff:192.0.2.1", "192.0.2.1"},
		{AF_INET6, "::192.0.2.1", "::192.0.2.1"},	/* not mapped */
		{AF_INET6, "::1", "::1"},
	};
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	char got[DRAC_ADDRMAX];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&ss, 0, sizeof(ss));
		ss.ss_family = t[i].family;
		ck_assert_int_eq(inet_pton(t[i].family, t[i].in,
		    t[i].family == AF_INET ? (void *)&s4->sin_addr :
		    (void *)&s6->sin6_addr), 1);
		ck_assert_int_eq(policy_client((struct sockaddr *)&ss, got,
		    sizeof(got)), 0);
		ck_assert_msg(strcmp(got, t[i].want) == 0, "%s: got %s, want "
		    "%s", t[i].in, got, t[i].want);
	}
	ss.ss_family = AF_UNIX;
	ck_assert_int_eq(policy_client((struct sockaddr *)&ss, got,
	    sizeof(got)), -1);
	ck_assert_int_eq(policy_client(NULL, got, sizeof(got)), -1);
}
END_TEST

START_TEST(rcpt_verdict)
{
	static const struct {
		enum policy_mode mode;
		int local, authed, check;
		enum policy_verdict want;
	} t[] = {
		{POLICY_TRACE, 0, 0, 0, POLICY_CONTINUE},
		{POLICY_TRACE, 0, 0, DRAC_E_TIMEOUT, POLICY_CONTINUE},
		{POLICY_ENFORCE, 0, 0, 1, POLICY_CONTINUE},
		{POLICY_ENFORCE, 0, 0, 0, POLICY_REJECT},
		{POLICY_ENFORCE, 0, 0, DRAC_E_TIMEOUT, POLICY_TEMPFAIL},
		{POLICY_ENFORCE, 0, 0, DRAC_E_PERM, POLICY_TEMPFAIL},
		{POLICY_ENFORCE, 1, 0, 0, POLICY_CONTINUE},
		{POLICY_ENFORCE, 0, 1, 0, POLICY_CONTINUE},
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(policy_rcpt(t[i].mode, t[i].local, t[i].authed,
		    t[i].check) == t[i].want, "row %zu: got %d, want %d", i,
		    policy_rcpt(t[i].mode, t[i].local, t[i].authed,
		    t[i].check), t[i].want);
}
END_TEST

START_TEST(mailers_and_names)
{
	struct policy_mailers m;
	enum policy_mode mode;
	char many[400] = "m0";
	int i;

	ck_assert_int_eq(policy_mailers(&m, DEF_MILTER_MAILERS), 0);
	ck_assert(policy_is_local(&m, "local"));
	ck_assert(policy_is_local(&m, "LMTP"));
	ck_assert(policy_is_local(&m, "*file*"));
	ck_assert(!policy_is_local(&m, "smtp"));
	ck_assert(!policy_is_local(&m, "esmtp"));
	ck_assert(!policy_is_local(&m, "relay"));	/* Sendmail's smart host */
	ck_assert(!policy_is_local(&m, ""));
	ck_assert(!policy_is_local(&m, NULL));
	ck_assert_int_eq(policy_mailers(&m, "local,relay"), 0);
	ck_assert(policy_is_local(&m, "relay"));
	ck_assert(!policy_is_local(&m, "virtual"));
	ck_assert_int_eq(policy_mailers(&m, ""), -1);
	ck_assert_int_eq(policy_mailers(&m, "local,"), -1);
	ck_assert_int_eq(policy_mailers(&m, "lo cal"), -1);
	ck_assert_int_eq(policy_mailers(&m,
	    "a23456789012345678901234567890123"), -1);
	for (i = 1; i <= POLICY_MAILERS; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
		    ",m%d", i);
	ck_assert_int_eq(policy_mailers(&m, many), -1);	/* one too many */
	ck_assert_int_eq(policy_mode("trace", &mode), 0);
	ck_assert_int_eq(mode, POLICY_TRACE);
	ck_assert_int_eq(policy_mode("enforce", &mode), 0);
	ck_assert_int_eq(mode, POLICY_ENFORCE);
	ck_assert_int_eq(policy_mode("Enforce", &mode), -1);
	ck_assert_int_eq(policy_header_name("X-Drac-User"), 0);
	ck_assert_int_eq(policy_header_name("X-Drac:User"), -1);
	ck_assert_int_eq(policy_header_name("X Drac"), -1);
	ck_assert_int_eq(policy_header_name(""), -1);
}
END_TEST

START_TEST(trace_value)
{
	struct drac_entry e;
	char v[POLICY_VALUELEN];

	memset(&e, 0, sizeof(e));
	snprintf(e.addr, sizeof(e.addr), "192.0.2.1");
	e.expires = 1800000000;
	snprintf(e.user, sizeof(e.user), "alice");
	ck_assert_int_eq(policy_trace(&e, v, sizeof(v)), 0);
	ck_assert_str_eq(v, "alice; addr=192.0.2.1; until=2027-01-15T08:00:00Z");
	/* what the POP server passed on is not ours to trust in a header */
	snprintf(e.user, sizeof(e.user), "a b;c\r\n\x80");
	ck_assert_int_eq(policy_trace(&e, v, sizeof(v)), 0);
	ck_assert_str_eq(v, "a?b?c???; addr=192.0.2.1; until=2027-01-15T08:00:00Z");
	e.user[0] = '\0';
	ck_assert_int_eq(policy_trace(&e, v, sizeof(v)), 0);
	ck_assert_str_eq(v, "unknown; addr=192.0.2.1; until=2027-01-15T08:00:00Z");
	ck_assert_int_eq(policy_trace(&e, v, 20), -1);
}
END_TEST

/* ---- the program, through miltertest ---- */

/* may_run - miltertest installed; else skip, or fail in CI */
static int
may_run(void)
{
	const char *ci = getenv("CI");

	if (access(MILTERTEST, X_OK) == 0)
		return 1;
	ck_assert_msg(ci == NULL || strcmp(ci, "true") != 0, "CI=true but "
	    "no %s (apt-get install miltertest)", MILTERTEST);
	fprintf(stderr, "milter tests skipped: apt-get install miltertest\n");
	return 0;
}

static int
milter_up(void *arg)
{
	struct milter *m = arg;
	struct sockaddr_un sun;
	int fd, ok;

	if (m->port != 0) {
		if ((fd = dial("127.0.0.1", m->port, SOCK_STREAM, NULL)) < 0)
			return 0;
		close(fd);
		return 1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(m->path), sizeof(sun.sun_path));
	memcpy(sun.sun_path, m->path, strlen(m->path) + 1);
	ck_assert((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return ok;
}

/* milter_start - drac-milter on a free loopback port, asking servers,
 * with up to four more arguments; its output in m->log */
static void
milter_start(struct milter *m, const char *servers, const char *mode,
    const char *const *extra)
{
	const char *bin = getenv("DRAC_MILTER");
	const char *argv[24];
	const char *sock = m->sock;
	size_t n = 0;
	int fd;

	m->port = m->path[0] != '\0' ? 0 : free_port();
	snprintf(m->dir, sizeof(m->dir), "%s", tmpdir());
	snprintf(m->log, sizeof(m->log), "%s/milter.log", m->dir);
	snprintf(m->lua, sizeof(m->lua), "%s/drac.lua", m->dir);
	write_file(m->lua, script);
	if (m->port != 0)
		snprintf(m->sock, sizeof(m->sock), "inet:%u@127.0.0.1",
		    m->port);
	else
		snprintf(m->sock, sizeof(m->sock), "unix:%s", m->path);
	argv[n++] = bin != NULL ? bin : "build/drac-milter";
	argv[n++] = "-f";
	argv[n++] = "-p";
	argv[n++] = sock;
	argv[n++] = "-s";
	argv[n++] = servers;
	argv[n++] = "-m";
	argv[n++] = mode;
	if (!m->default_timeout) {
		argv[n++] = "-t";
		argv[n++] = "5";
	}
	while (extra != NULL && *extra != NULL && n < 22)
		argv[n++] = *extra++;
	argv[n] = NULL;
	ck_assert((m->pid = fork()) >= 0);
	if (m->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(m->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	ck_assert_msg(wait_until(milter_up, m, WAIT_MS), "drac-milter did "
	    "not listen on %u", m->port);
}

/* milter_stop - SIGTERM; it must exit by itself, with status 0 */
static void
milter_stop(struct milter *m)
{
	int st;

	kill(m->pid, SIGTERM);
	ck_assert_int_eq(waitpid(m->pid, &st, 0), m->pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "drac-milter "
	    "ended with status 0x%x", st);
}

/* mt - one transaction from ip (mailer: the recipient's {rcpt_mailer},
 * auth: {auth_authen} or NULL); miltertest's output in out */
static void
mt(const struct milter *m, const char *ip, const char *mailer,
    const char *auth, char *out, size_t len)
{
	char sock[340], dip[80], dm[80], da[80], dh[80];
	const char *argv[16] = {MILTERTEST, "-s", m->lua, "-D", sock, "-D",
	    dip, "-D", dm, "-D", "forged=1"};
	size_t n = 11;
	int rc;

	snprintf(sock, sizeof(sock), "sock=%s", m->sock);
	if (m->hdr != NULL) {
		snprintf(dh, sizeof(dh), "hdr=%s", m->hdr);
		argv[n++] = "-D";
		argv[n++] = dh;
	}
	snprintf(dip, sizeof(dip), "ip=%s", ip);
	snprintf(dm, sizeof(dm), "mailer=%s", mailer);
	if (auth != NULL) {
		snprintf(da, sizeof(da), "auth=%s", auth);
		argv[n++] = "-D";
		argv[n++] = da;
	}
	argv[n] = NULL;
	rc = run_prog(argv, NULL, out, len, 20000);
	ck_assert_msg(rc == 0, "miltertest from %s: status %d: %s", ip, rc,
	    out);
}

struct row {
	const char *ip, *mailer, *auth;
	const char *want;	/* each line must be in the output */
};

/* run_rows - every row through the milter */
static void
run_rows(const struct milter *m, const struct row *t, size_t n)
{
	char out[4096], want[256], *line, *save = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		mt(m, t[i].ip, t[i].mailer, t[i].auth, out, sizeof(out));
		snprintf(want, sizeof(want), "%s", t[i].want);
		for (line = strtok_r(want, "|", &save); line != NULL;
		    line = strtok_r(NULL, "|", &save))
			ck_assert_msg(strstr(out, line) != NULL, "%s mailer %s"
			    "%s%s: want \"%s\", got:\n%s", t[i].ip,
			    t[i].mailer, t[i].auth ? " auth " : "",
			    t[i].auth ? t[i].auth : "", line, out);
	}
}

/* start_granted - dracd with alice on 192.0.2.1 and bob on 2001:db8::7 */
static void
start_granted(char *spec, size_t len)
{
	drac_t *h;

	daemon_init(&d, "127.0.0.0/8 add check admin\n");
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	snprintf(spec, len, "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	ck_assert_int_eq(drac_add(h, "192.0.2.1", 600, "alice"), 0);
	ck_assert_int_eq(drac_add(h, "2001:db8::7", 600, "bob"), 0);
	drac_close(h);
}

#define ALICE	"header=alice; addr=192.0.2.1; until=2"
#define BOB	"header=bob; addr=2001:db8::7; until=2"

START_TEST(trace_mode)
{
	static const struct row t[] = {
		{"192.0.2.1", "smtp", NULL, "rcpt=continue|deleted|" ALICE},
		{"192.0.2.9", "smtp", NULL,
		    "rcpt=continue|eom=continue|deleted|header=none"},
		{"2001:db8::7", "smtp", NULL, "rcpt=continue|deleted|" BOB},
		{"2001:db8::8", "smtp", NULL, "rcpt=continue|header=none"},
		{"::ffff:192.0.2.1", "smtp", NULL, "deleted|" ALICE},
		{"::ffff:192.0.2.9", "smtp", NULL, "deleted|header=none"},
	};
	struct milter m = {0};
	char spec[32];

	if (!may_run())
		return;
	start_granted(spec, sizeof(spec));
	milter_start(&m, spec, "trace", NULL);
	run_rows(&m, t, sizeof(t) / sizeof(t[0]));
	milter_stop(&m);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(enforce_mode)
{
	static const struct row t[] = {
		{"192.0.2.1", "smtp", NULL, "rcpt=continue|deleted|" ALICE},
		{"192.0.2.9", "smtp", NULL, "rcpt=reject"},
		{"192.0.2.9", "none", NULL, "rcpt=reject"},
		{"192.0.2.9", "local", NULL,
		    "rcpt=continue|deleted|header=none"},
		{"192.0.2.9", "virtual", NULL, "rcpt=continue"},
		{"192.0.2.9", "smtp", "carol", "rcpt=continue|header=none"},
		{"2001:db8::7", "esmtp", NULL, "rcpt=continue|" BOB},
		{"2001:db8::8", "esmtp", NULL, "rcpt=reject"},
		{"::ffff:192.0.2.1", "smtp", NULL, "rcpt=continue|" ALICE},
		{"::ffff:192.0.2.9", "smtp", NULL, "rcpt=reject"},
	};
	static const struct row custom[] = {
		{"192.0.2.9", "virtual", NULL, "rcpt=reject"},
		{"192.0.2.9", "mymailer", NULL, "rcpt=continue"},
	};
	const char *const extra[] = {"--local-mailers", "local,mymailer",
	    NULL};
	struct milter m = {0};
	char spec[32];

	if (!may_run())
		return;
	start_granted(spec, sizeof(spec));
	milter_start(&m, spec, "enforce", NULL);
	run_rows(&m, t, sizeof(t) / sizeof(t[0]));
	milter_stop(&m);
	ck_assert_int_eq(log_count(&d, "reject"), 0);
	milter_start(&m, spec, "enforce", extra);
	run_rows(&m, custom, sizeof(custom) / sizeof(custom[0]));
	milter_stop(&m);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* count_in - lines of path holding needle */
static int
count_in(const char *path, const char *needle)
{
	char line[1024];
	FILE *fp = fopen(path, "r");
	int n = 0;

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(fp);
	return n;
}

static int
never(void *arg)
{
	(void)arg;
	return 0;
}

/* a dracd that never answers: a bound UDP socket nobody reads */
START_TEST(dracd_down)
{
	static const struct row trace[] = {
		{"192.0.2.1", "smtp", NULL,
		    "rcpt=continue|eom=continue|deleted|header=none"},
		{"2001:db8::7", "smtp", NULL, "eom=continue|header=none"},
		{"::ffff:192.0.2.1", "smtp", NULL, "eom=continue|header=none"},
	};
	static const struct row enforce[] = {
		{"192.0.2.1", "smtp", NULL, "rcpt=tempfail"},
		{"2001:db8::7", "smtp", NULL, "rcpt=tempfail"},
		{"192.0.2.1", "local", NULL, "rcpt=continue|header=none"},
	};
	static const struct row later[] = {
		{"192.0.2.2", "smtp", NULL, "rcpt=tempfail"},
	};
	const char *const fast[] = {"-t", "0.3", "--log-interval", "2",
	    NULL};
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct milter m = {0};
	char spec[32];
	int64_t t0, took;
	int hole;

	if (!may_run())
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert((hole = socket(AF_INET, SOCK_DGRAM, 0)) >= 0);
	ck_assert_int_eq(bind(hole, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(hole, (struct sockaddr *)&sa, &sl), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", ntohs(sa.sin_port));

	/* trace: every message goes on, each within the default 1 s */
	m.default_timeout = 1;
	milter_start(&m, spec, "trace", NULL);
	t0 = now_ms();
	run_rows(&m, trace, sizeof(trace) / sizeof(trace[0]));
	took = now_ms() - t0;
	ck_assert_msg(took >= 3 * 900 && took < 3 * 2000, "3 messages took "
	    "%lld ms, want about 3 s (1 s timeout each)", (long long)took);
	milter_stop(&m);
	ck_assert_msg(count_in(m.log, "cannot ask dracd") == 1, "want one "
	    "log line for three failures, got %d",
	    count_in(m.log, "cannot ask dracd"));

	/* enforce: relaying waits, local delivery goes on */
	milter_start(&m, spec, "enforce", fast);
	t0 = now_ms();
	run_rows(&m, enforce, sizeof(enforce) / sizeof(enforce[0]));
	ck_assert_int_eq(count_in(m.log, "cannot ask dracd"), 1);
	ck_assert_int_eq(count_in(m.log, "relaying tempfailed"), 1);
	/* a log interval later, the next failure is logged again, with
	 * the count of those that were not */
	ck_assert(!wait_until(never, NULL, 2100 - (now_ms() - t0)));
	run_rows(&m, later, 1);
	milter_stop(&m);
	ck_assert_int_eq(count_in(m.log, "cannot ask dracd"), 2);
	/* unlogged: the second tempfail, and the local message's eom,
	 * which still asks for the trace header */
	ck_assert_msg(count_in(m.log, "(2 failures unlogged") == 1,
	    "want the count of unlogged failures logged");
	close(hole);
}
END_TEST

/* uid_of - the real UID in /proc/PID/status, or -1 */
static long
uid_of(pid_t pid)
{
	char path[64], line[256];
	long uid = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "Uid: %ld", &uid) == 1)
			break;
	fclose(fp);
	return uid;
}

/* a unix socket handed to -u's user, another header name, TCP to dracd */
static const char *owned_path;	/* for sock_owned */

/* sock_owned - for wait_until: owned_path is arg's (a passwd), 0660 */
static int
sock_owned(void *arg)
{
	const struct passwd *pw = arg;
	struct stat st;

	return stat(owned_path, &st) == 0 && st.st_uid == pw->pw_uid &&
	    (st.st_mode & 0777) == 0660;
}

START_TEST(options)
{
	static const struct row t[] = {
		{"192.0.2.1", "smtp", NULL, "rcpt=continue|deleted|"
		    "header=alice; addr=192.0.2.1; until=2"},
		{"192.0.2.9", "smtp", NULL, "deleted|header=none"},
	};
	const char *const extra[] = {"-u", "nobody", "--header",
	    "X-Relay-Login", "--tcp", NULL};
	struct passwd *pw = getpwnam("nobody");
	struct milter m = {0};
	struct stat st;
	char spec[32];

	if (!may_run())
		return;
	if (geteuid() != 0 || pw == NULL) {
		fprintf(stderr, "milter options skipped: need root\n");
		return;
	}
	start_granted(spec, sizeof(spec));
	snprintf(m.path, sizeof(m.path), "%s/milter.sock", d.dir);
	m.hdr = "X-Relay-Login";
	milter_start(&m, spec, "trace", extra);
	/* the socket listens a moment before drac-milter hands it over */
	owned_path = m.path;
	(void)wait_until(sock_owned, pw, WAIT_MS);
	ck_assert_int_eq(stat(m.path, &st), 0);
	ck_assert_msg(st.st_uid == pw->pw_uid && (st.st_mode & 0777) == 0660,
	    "socket uid %ld mode %o, want %ld 0660", (long)st.st_uid,
	    (unsigned)(st.st_mode & 0777), (long)pw->pw_uid);
	ck_assert_int_eq(uid_of(m.pid), (long)pw->pw_uid);
	run_rows(&m, t, sizeof(t) / sizeof(t[0]));
	milter_stop(&m);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* bad settings stop it before it listens, with status 2 */
START_TEST(bad_arguments)
{
	static const char *const bad[][3] = {
		{"-m", "strict", NULL},
		{"--header", "X-Drac:User", NULL},
		{"--local-mailers", "local,,smtp", NULL},
		{"-t", "0", NULL},
		{"--log-interval", "0", NULL},
		{"-p", "bogus:1", NULL},
		{"-u", "no-such-user-here", NULL},
	};
	const char *bin = getenv("DRAC_MILTER");
	char out[1024], sock[64];
	size_t i;
	int rc;

	snprintf(sock, sizeof(sock), "inet:%u@127.0.0.1", free_port());
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = {bin != NULL ? bin : "build/drac-milter",
		    "-f", "-p", sock, bad[i][0], bad[i][1], NULL};

		rc = run_prog(argv, NULL, out, sizeof(out), 5000);
		ck_assert_msg(rc == 2, "%s %s: status %d, want 2: %s",
		    bad[i][0], bad[i][1], rc, out);
	}
}
END_TEST

static int
never_up(void *arg)
{
	return !milter_up(arg);
}

static pid_t bg_pid;

/* bg_kill - the detached milter, from an on_death guard or the test */
static void
bg_kill(void)
{
	if (bg_pid > 0)
		kill(bg_pid, SIGKILL);
}

/* pid_with - the process whose command line holds needle, or 0 */
static pid_t
pid_with(const char *needle)
{
	char path[300], cmd[1024];
	struct dirent *de;
	pid_t found = 0;
	size_t n, i;
	DIR *dir;
	FILE *fp;

	ck_assert_ptr_nonnull(dir = opendir("/proc"));
	while (found == 0 && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		n = fread(cmd, 1, sizeof(cmd) - 1, fp);
		fclose(fp);
		for (i = 0; i < n; i++)	/* NULs between the arguments */
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		cmd[n] = '\0';
		if (strstr(cmd, "drac-milter") != NULL &&
		    strstr(cmd, needle) != NULL)
			found = (pid_t)atoi(de->d_name);
	}
	closedir(dir);
	return found;
}

/* without -f it detaches: the command returns, the daemon serves */
START_TEST(background)
{
	static const struct row t[] = {
		{"192.0.2.1", "smtp", NULL, "rcpt=continue|deleted|" ALICE},
	};
	const char *bin = getenv("DRAC_MILTER");
	struct milter m = {0};
	char spec[32], out[1024], stat[512];
	long sid = 0;
	FILE *fp;
	int rc;

	if (!may_run())
		return;
	start_granted(spec, sizeof(spec));
	m.port = free_port();
	snprintf(m.dir, sizeof(m.dir), "%s", tmpdir());
	snprintf(m.lua, sizeof(m.lua), "%s/drac.lua", m.dir);
	write_file(m.lua, script);
	snprintf(m.sock, sizeof(m.sock), "inet:%u@127.0.0.1", m.port);
	{
		const char *argv[] = {bin != NULL ? bin : "build/drac-milter",
		    "-p", m.sock, "-s", spec, NULL};

		rc = run_prog(argv, NULL, out, sizeof(out), 5000);
	}
	ck_assert_msg(rc == 0, "drac-milter without -f: status %d: %s", rc,
	    out);
	ck_assert(wait_until(milter_up, &m, WAIT_MS));
	ck_assert_msg((bg_pid = pid_with(m.sock)) > 0, "no process for %s",
	    m.sock);
	on_death(bg_kill);
	snprintf(out, sizeof(out), "/proc/%d/stat", (int)bg_pid);
	ck_assert_ptr_nonnull(fp = fopen(out, "r"));
	ck_assert_ptr_nonnull(fgets(stat, sizeof(stat), fp));
	fclose(fp);
	/* pid (comm) state ppid pgrp session: it leads its own session */
	ck_assert(sscanf(strrchr(stat, ')') + 2, "%*c %*d %*d %ld", &sid) ==
	    1);
	ck_assert_int_eq(sid, bg_pid);
	run_rows(&m, t, 1);
	kill(bg_pid, SIGTERM);
	ck_assert_msg(wait_until(never_up, &m, WAIT_MS), "still listening "
	    "after SIGTERM");
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* ---- a real Postfix, with the milter in trace mode ---- */

static char pfdir[128];

/* may_run_postfix - root and Postfix; else skip, or fail under CI */
static int
may_run_postfix(void)
{
	if (geteuid() == 0 && access("/usr/sbin/postfix", X_OK) == 0)
		return 1;
	ck_assert_msg(getenv("CI") == NULL, "CI but no Postfix");
	fprintf(stderr, "milter+postfix skipped: need root and postfix\n");
	return 0;
}

/* pf_stop - Postfix's master by its pidfile (it detaches) */
static void
pf_stop(void)
{
	postfix_stop(pfdir);
}

/* pf_start - Postfix on smtp_port with the milter and the relay and
 * milter settings in conf; relayed mail stays in the queue
 * (defer_transports) */
static void
pf_start(uint16_t smtp_port, const char *conf)
{
	char text[2048], smtpd[128];

	snprintf(pfdir, sizeof(pfdir), "%s/postfix", tmpdir());
	ck_assert_int_lt(snprintf(text, sizeof(text),
	    "default_transport = smtp\nrelay_transport = smtp\n"
	    "defer_transports = smtp\n"		/* nothing leaves */
	    "%s", conf), sizeof(text));
	snprintf(smtpd, sizeof(smtpd), "127.0.0.1:%u inet n - n - - smtpd\n",
	    smtp_port);
	postfix_start(pfdir, text, smtpd);
}

/* relay - a message from src to x@example.net with a forged trace
 * header; Postfix's queue ID in qid, or "" when it was not taken */
static void
relay(const char *src, uint16_t port, char *qid, size_t qlen)
{
	struct timeval tv = {10, 0};
	char buf[512], *p;
	int fd = dial(src, port, SOCK_STREAM, NULL);

	qid[0] = '\0';
	ck_assert_msg(fd >= 0, "cannot connect to Postfix from %s", src);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (smtp_reply(fd, buf, sizeof(buf)) == 220 &&
	    smtp_say(fd, "EHLO client.test\r\n", buf, sizeof(buf)) == 250 &&
	    smtp_say(fd, "MAIL FROM:<a@client.test>\r\n", buf,
	    sizeof(buf)) == 250 &&
	    smtp_say(fd, "RCPT TO:<x@example.net>\r\n", buf,
	    sizeof(buf)) == 250 &&
	    smtp_say(fd, "DATA\r\n", buf, sizeof(buf)) == 354 &&
	    smtp_say(fd, "X-Drac-User: mallory; addr=192.0.2.66\r\n"
	    "Subject: milter test\r\n\r\nbody\r\n.\r\n", buf,
	    sizeof(buf)) == 250 && (p = strstr(buf, "queued as ")) != NULL)
		snprintf(qid, qlen, "%.*s", (int)strcspn(p + 10, " \r\n"),
		    p + 10);
	ck_assert_msg(qid[0] != '\0', "from %s: Postfix said \"%s\"", src,
	    buf);
	smtp_say(fd, "QUIT\r\n", buf, sizeof(buf));
	close(fd);
}

struct queued {
	const char *qid;
	char out[8192];
};

/* headers_of - postcat of the queued message's headers, once readable */
static int
headers_of(void *arg)
{
	struct queued *q = arg;
	const char *argv[] = {"/usr/sbin/postcat", "-c", pfdir, "-h", "-q",
	    q->qid, NULL};

	return run_prog(argv, NULL, q->out, sizeof(q->out), 10000) == 0 &&
	    strstr(q->out, "Subject: milter test") != NULL;
}

START_TEST(postfix_trace_header)
{
	static char conf[400];
	const char *const extra[] = {"-c", conf, NULL};
	uint16_t smtp_port = free_port(), pol = free_port();
	struct queued q;
	char spec[32], text[512], qid[64];
	struct milter m = {0};
	drac_t *h;

	if (!may_run() || !may_run_postfix())
		return;
	on_death(pf_stop);
	daemon_init(&d, "127.0.0.0/8 add check admin\n");
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	snprintf(text, sizeof(text), "policy_listen = inet:127.0.0.1:%u\n",
	    pol);
	write_file(conf, text);
	ck_assert_int_eq(daemon_start(&d, extra), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	ck_assert_int_eq(drac_add(h, "127.0.0.2", 600, "alice"), 0);
	drac_close(h);
	milter_start(&m, spec, "trace", NULL);
	snprintf(text, sizeof(text), "smtpd_relay_restrictions = "
	    "permit_mynetworks, check_policy_service inet:127.0.0.1:%u, "
	    "reject_unauth_destination\nsmtpd_milters = inet:127.0.0.1:%u\n"
	    "milter_default_action = accept\n", pol, m.port);
	pf_start(smtp_port, text);
	ck_assert_msg(wait_until(port_listens, &smtp_port, 10000), "Postfix "
	    "did not come up");

	/* a granted client: Postfix relays, the milter names alice and
	 * the forged header is gone */
	relay("127.0.0.2", smtp_port, qid, sizeof(qid));
	q.qid = qid;
	ck_assert_msg(wait_until(headers_of, &q, WAIT_MS), "postcat %s: %s",
	    qid, q.out);
	ck_assert_msg(strstr(q.out, "X-Drac-User: alice; addr=127.0.0.2; "
	    "until=2") != NULL, "no trace header in:\n%s", q.out);
	ck_assert_msg(strstr(q.out, "mallory") == NULL, "forged header kept:"
	    "\n%s", q.out);
	fprintf(stderr, "milter+postfix: %.*s\n", (int)strcspn(strstr(q.out,
	    "X-Drac-User"), "\n"), strstr(q.out, "X-Drac-User"));
	/* mynetworks relays without a grant: no header, forged one gone */
	relay("127.0.0.1", smtp_port, qid, sizeof(qid));
	q.qid = qid;
	ck_assert_msg(wait_until(headers_of, &q, WAIT_MS), "postcat %s: %s",
	    qid, q.out);
	ck_assert_msg(strstr(q.out, "X-Drac-User") == NULL, "want no "
	    "X-Drac-User from an ungranted client:\n%s", q.out);
	/* trace must never stop mail: without the milter, Postfix goes on
	 * (milter_default_action = accept) */
	milter_stop(&m);
	relay("127.0.0.2", smtp_port, qid, sizeof(qid));
	pf_stop();
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* rcpt_code - Postfix's answer to a relay recipient from src, or to
 * MAIL FROM if that was refused */
static int
rcpt_code(const char *src, uint16_t port)
{
	struct timeval tv = {10, 0};
	char buf[512];
	int fd = dial(src, port, SOCK_STREAM, NULL), code = -1;

	ck_assert_msg(fd >= 0, "cannot connect to Postfix from %s", src);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (smtp_reply(fd, buf, sizeof(buf)) == 220 &&
	    smtp_say(fd, "EHLO client.test\r\n", buf, sizeof(buf)) == 250 &&
	    (code = smtp_say(fd, "MAIL FROM:<a@client.test>\r\n", buf,
	    sizeof(buf))) == 250)
		code = smtp_say(fd, "RCPT TO:<x@example.net>\r\n", buf,
		    sizeof(buf));
	smtp_say(fd, "QUIT\r\n", buf, sizeof(buf));
	close(fd);
	return code;
}

/* enforce mode with the Postfix settings drac-milter(8) gives: relaying
 * left to the milter, mynetworks past it through smtpd_milter_maps */
START_TEST(postfix_enforce)
{
	uint16_t smtp_port = free_port();
	struct queued q;
	char spec[32], text[600], bypass[300], qid[64];
	struct milter m = {0};
	drac_t *h;

	if (!may_run() || !may_run_postfix())
		return;
	on_death(pf_stop);
	start_granted(spec, sizeof(spec));
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	ck_assert_int_eq(drac_add(h, "127.0.0.2", 600, "alice"), 0);
	drac_close(h);
	milter_start(&m, spec, "enforce", NULL);
	snprintf(bypass, sizeof(bypass), "%s/bypass", m.dir);
	write_file(bypass, "127.0.0.1/32 DISABLE\n");
	snprintf(text, sizeof(text), "smtpd_relay_restrictions = "
	    "check_client_access static:OK, reject_unauth_destination\n"
	    "smtpd_milters = inet:127.0.0.1:%u\n"
	    "milter_default_action = tempfail\n"
	    "smtpd_milter_maps = cidr:%s\n", m.port, bypass);
	pf_start(smtp_port, text);
	ck_assert_msg(wait_until(port_listens, &smtp_port, 10000), "Postfix "
	    "did not come up");

	ck_assert_int_eq(rcpt_code("127.0.0.3", smtp_port), 550);
	relay("127.0.0.2", smtp_port, qid, sizeof(qid));
	q.qid = qid;
	ck_assert_msg(wait_until(headers_of, &q, WAIT_MS), "postcat %s: %s",
	    qid, q.out);
	ck_assert_msg(strstr(q.out, "X-Drac-User: alice; addr=127.0.0.2; "
	    "until=2") != NULL, "no trace header in:\n%s", q.out);
	/* the bypassed network relays with no milter at all: the forged
	 * header stays, which is why the map lists trusted hosts only */
	relay("127.0.0.1", smtp_port, qid, sizeof(qid));
	/* no milter: Postfix tempfails, as milter_default_action says */
	milter_stop(&m);
	ck_assert_int_eq(rcpt_code("127.0.0.2", smtp_port), 451);
	pf_stop();
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

Suite *
make_milter_suite(void)
{
	Suite *s = suite_create("milter");
	TCase *tp = tcase_create("policy");
	TCase *tt = tcase_create("trace");
	TCase *te = tcase_create("enforce");
	TCase *td = tcase_create("down");
	TCase *tf = tcase_create("postfix");
	TCase *to = tcase_create("options");

	tcase_add_test(tp, client_address);
	tcase_add_test(tp, rcpt_verdict);
	tcase_add_test(tp, mailers_and_names);
	tcase_add_test(tp, trace_value);
	tcase_set_timeout(tt, 60);
	tcase_add_test(tt, trace_mode);
	tcase_set_timeout(te, 60);
	tcase_add_test(te, enforce_mode);
	tcase_set_timeout(td, 60);
	tcase_add_test(td, dracd_down);
	suite_add_tcase(s, tp);
	suite_add_tcase(s, tt);
	suite_add_tcase(s, te);
	suite_add_tcase(s, td);
	tcase_set_timeout(to, 60);
	tcase_add_test(to, options);
	tcase_add_test(to, bad_arguments);
	tcase_add_test(to, background);
	suite_add_tcase(s, to);
	tcase_set_timeout(tf, 120);
	tcase_add_test(tf, postfix_trace_header);
	tcase_add_test(tf, postfix_enforce);
	suite_add_tcase(s, tf);
	return s;
}
