/*
 * check_mta.c - end to end with real mail servers: Dovecot POP3 calls
 * drac-cli from contrib/'s post-login script, and one Postfix instance
 * relays (or not) on three smtpd ports, one for each way of asking
 * dracd: the btree map file, the policy service and socketmap.
 *
 * Needs root and the packages postfix, dovecot-core, dovecot-pop3d; it
 * skips with one line otherwise, and fails instead under CI=true.  Every
 * server it starts is stopped by PID in the teardown.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drac.h"
#include "helpers.h"
#include "suites.h"

#define SLOW_MS	4000	/* the map path: 1 s sync + smtpd restart */
#define FAST_MS	1000	/* policy and socketmap: live */

static struct daemon d;
static char top[64], pfdir[128], dvconf[200], dvpid[200];
static uint16_t smtp[3], pop, pol, smap;
static const char *const path_name[3] = {"btree map", "policy", "socketmap"};

/* pid_in - the PID in a pidfile (Postfix pads it with blanks), or 0 */
static pid_t
pid_in(const char *path)
{
	FILE *fp = fopen(path, "r");
	int pid = 0;

	if (fp == NULL)
		return 0;
	if (fscanf(fp, " %d", &pid) != 1)
		pid = 0;
	fclose(fp);
	return pid;
}

/* stop_pid - SIGTERM, then SIGKILL if it lingers */
static void
stop_pid(pid_t pid)
{
	int64_t end = now_ms() + WAIT_MS;

	if (pid <= 0 || kill(pid, SIGTERM) < 0)
		return;
	while (kill(pid, 0) == 0 && now_ms() < end)
		usleep(20000);
	kill(pid, SIGKILL);
}

/*
 * stop_servers - Postfix and Dovecot by the PIDs in their pidfiles (they
 * detach, so they are not our children): at the end of the test, and
 * from an on_death guard if it fails first.  dracd dies with the test.
 */
static void
stop_servers(void)
{
	char p[400];

	snprintf(p, sizeof(p), "%s/queue/pid/master.pid", pfdir);
	stop_pid(pid_in(p));
	stop_pid(pid_in(dvpid));
}

/* paths_and_ports - where everything lives and listens */
static void
paths_and_ports(void)
{
	int i;

	snprintf(top, sizeof(top), "%s", tmpdir());
	snprintf(pfdir, sizeof(pfdir), "%s/postfix", top);
	snprintf(dvpid, sizeof(dvpid), "%s/dovecot/run/master.pid", top);
	for (i = 0; i < 3; i++)
		smtp[i] = free_port();
	pop = free_port();
	pol = free_port();
	smap = free_port();
}

/* may_run - root and the servers installed; else skip, or fail in CI */
static int
may_run(void)
{
	const char *ci = getenv("CI");

	if (geteuid() == 0 && access("/usr/sbin/postfix", X_OK) == 0 &&
	    access("/usr/sbin/dovecot", X_OK) == 0 &&
	    access("/usr/lib/dovecot/pop3", X_OK) == 0)
		return 1;
	ck_assert_msg(ci == NULL || strcmp(ci, "true") != 0, "CI=true but "
	    "cannot run Postfix and Dovecot (need root and the packages)");
	fprintf(stderr, "MTA tests skipped: as root, apt-get install postfix "
	    "dovecot-core dovecot-pop3d\n");
	return 0;
}

/* sh - run a shell command with no terminal or pipes kept; its status */
static int
sh(const char *cmd)
{
	char full[2048], out[4096];
	const char *argv[] = {"/bin/sh", "-c", full, NULL};
	int rc;

	snprintf(full, sizeof(full), "exec >/dev/null 2>&1 </dev/null; %s",
	    cmd);
	rc = run_prog(argv, NULL, out, sizeof(out), 30000);
	ck_assert_msg(rc == 0, "\"%s\" failed (%d)", cmd, rc);
	return rc;
}

/* start_dracd - with both live services and the map beside Postfix */
static void
start_dracd(void)
{
	static char conf[400];
	const char *const extra[] = {"-c", conf, NULL};
	char text[512];

	daemon_init(&d, "127.0.0.0/8 add check admin\n");
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	snprintf(text, sizeof(text), "policy_listen = inet:127.0.0.1:%u\n"
	    "socketmap_listen = inet:127.0.0.1:%u\nexpire = 8s\n", pol, smap);
	write_file(conf, text);
	chmod(d.dir, 0755);
	ck_assert_int_eq(daemon_start(&d, extra), 0);
}

/* master_cf - master.cf.dist with three smtpd ports instead of smtp */
static void
master_cf(void)
{
	char path[400], line[1024], *text = NULL;
	size_t len = 0;
	FILE *in, *out;

	ck_assert_ptr_nonnull(in = fopen("/usr/share/postfix/master.cf.dist",
	    "r"));
	ck_assert_ptr_nonnull(out = open_memstream(&text, &len));
	while (fgets(line, sizeof(line), in) != NULL) {
		if (strncmp(line, "smtp      inet", 14) != 0) {
			fputs(line, out);
			continue;
		}
		fprintf(out, "127.0.0.1:%u inet n - n - - smtpd\n", smtp[0]);
		fprintf(out, "127.0.0.1:%u inet n - n - - smtpd -o { "
		    "smtpd_relay_restrictions = permit_mynetworks, "
		    "check_policy_service inet:127.0.0.1:%u, "
		    "reject_unauth_destination }\n", smtp[1], pol);
		fprintf(out, "127.0.0.1:%u inet n - n - - smtpd -o { "
		    "smtpd_relay_restrictions = permit_mynetworks, "
		    "check_client_access socketmap:inet:127.0.0.1:%u:drac, "
		    "reject_unauth_destination }\n", smtp[2], smap);
	}
	fclose(in);
	fclose(out);
	snprintf(path, sizeof(path), "%s/master.cf", pfdir);
	write_file(path, text);
	free(text);
}

/* start_postfix - its own config and queue, delivering nothing */
static void
start_postfix(void)
{
	char path[400], text[2048], cmd[1024];
	struct passwd *pw = getpwnam("postfix");
	char map[400];

	ck_assert_ptr_nonnull(pw);
	snprintf(map, sizeof(map), "%s/dracd", d.dir);	/* btree: adds .db */
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/queue %s/data %s/log && "
	    "chown postfix %s/data", pfdir, pfdir, pfdir, pfdir);
	sh(cmd);
	snprintf(text, sizeof(text),
	    "compatibility_level = 3.6\n"
	    "queue_directory = %s/queue\n"
	    "data_directory = %s/data\n"
	    "maillog_file = %s/log/postfix.log\n"
	    "maillog_file_prefixes = %s/log\n"
	    "myhostname = relay.test\n"
	    "mydestination =\n"
	    "inet_interfaces = loopback-only\n"
	    "inet_protocols = ipv4\n"
	    "mynetworks = 127.0.0.1/32\n"
	    "smtpd_peername_lookup = no\n"		/* no DNS: loopback only */
	    "smtp_dns_support_level = disabled\n"
	    "default_transport = discard\n"
	    "relay_transport = discard\n"
	    "alias_maps =\nalias_database =\n"
	    "smtpd_relay_restrictions = permit_mynetworks, "
	    "check_client_access btree:%s, reject_unauth_destination\n",
	    pfdir, pfdir, pfdir, pfdir, map);
	snprintf(path, sizeof(path), "%s/main.cf", pfdir);
	write_file(path, text);
	master_cf();
	snprintf(cmd, sizeof(cmd), "postfix -c %s start", pfdir);
	sh(cmd);
}

/* start_dovecot - POP3 with one user, and contrib's post-login script
 * when hook is set (else only its log tells of logins) */
static void
start_dovecot(int hook)
{
	char dir[128], path[400], text[2600], line[512], *script = NULL;
	size_t len = 0;
	FILE *in, *out;
	const char *cli = getenv("DRAC_CLI");

	snprintf(dir, sizeof(dir), "%s/dovecot", top);
	snprintf(text, sizeof(text), "mkdir -p %s/run %s/state %s/home && "
	    "chmod 777 %s/home", dir, dir, dir, dir);
	sh(text);
	/* contrib/dovecot/drac-postlogin with this test's client and server */
	ck_assert_ptr_nonnull(in = fopen("contrib/dovecot/drac-postlogin",
	    "r"));
	ck_assert_ptr_nonnull(out = open_memstream(&script, &len));
	while (fgets(line, sizeof(line), in) != NULL)
		if (strncmp(line, "DRAC_CLI=", 9) == 0)
			fprintf(out, "DRAC_CLI=%s/drac-cli\n", dir);
		else if (strncmp(line, "DRAC_SERVER=", 12) == 0)
			fprintf(out, "DRAC_SERVER=127.0.0.1:%u\n", d.port);
		else
			fputs(line, out);
	fclose(in);
	fclose(out);
	snprintf(path, sizeof(path), "%s/postlogin", dir);
	write_file(path, script);
	/* the hook runs as Dovecot's service user, who may not reach into
	 * the build tree (a clone under a 0700 directory): give it a copy */
	snprintf(text, sizeof(text), "install -m 755 %s %s/drac-cli",
	    cli != NULL ? cli : "build/drac-cli", dir);
	sh(text);
	free(script);
	chmod(path, 0755);
	snprintf(path, sizeof(path), "%s/passwd", dir);
	write_file(path, "alice:{PLAIN}secret\n");
	snprintf(text, sizeof(text),
	    "base_dir = %s/run\nstate_dir = %s/state\n"
	    "log_path = %s/dovecot.log\nprotocols = pop3\n"
	    "listen = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\n"
	    "passdb {\n driver = passwd-file\n args = scheme=PLAIN %s/passwd\n}\n"
	    "userdb {\n driver = static\n"
	    " args = uid=nobody gid=nogroup home=%s/home/%%u\n}\n"
	    "mail_location = maildir:~/Maildir\n"
	    "default_internal_user = dovecot\ndefault_login_user = dovenull\n"
	    "service pop3-login {\n inet_listener pop3 {\n"
	    "  address = 127.0.0.1\n  port = %u\n }\n}\n",
	    dir, dir, dir, dir, dir, pop);
	if (hook)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		    "service pop3 {\n executable = pop3 pop3-postlogin\n}\n"
		    "service pop3-postlogin {\n"
		    " executable = script-login %s/postlogin\n"
		    " user = $default_internal_user\n"
		    /* a sanitizer-built drac-cli needs more than 256M */
		    " vsz_limit = 0\n"
		    " unix_listener pop3-postlogin {\n }\n}\n", dir);
	snprintf(dvconf, sizeof(dvconf), "%s/dovecot.conf", dir);
	write_file(dvconf, text);
	snprintf(text, sizeof(text), "dovecot -c %s", dvconf);
	sh(text);
}

/* connect_from - a TCP connection from src that gives up reading after
 * 5 s, or -1 */
static int
connect_from(const char *src, uint16_t port)
{
	struct timeval tv = {5, 0};
	int fd = dial(src, port, SOCK_STREAM, NULL);

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* reply - read one (possibly multi-line) reply; its first line in buf */
static int
reply(int fd, char *buf, size_t len)
{
	char line[512];
	size_t n;

	buf[0] = '\0';
	for (;;) {
		n = 0;
		while (n + 1 < sizeof(line) && read(fd, line + n, 1) == 1 &&
		    line[n++] != '\n')
			;
		line[n] = '\0';
		if (n == 0)
			return -1;
		if (buf[0] == '\0')
			snprintf(buf, len, "%s", line);
		if (n < 4 || line[3] != '-')
			return atoi(line);
	}
}

/* say - one command line and its reply code */
static int
say(int fd, const char *cmd, char *buf, size_t len)
{
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		return -1;
	return reply(fd, buf, len);
}

/* rcpt - the code Postfix gives a relay attempt from src on port */
static int
rcpt(const char *src, uint16_t port)
{
	char buf[512];
	int fd = connect_from(src, port), code = -1;

	if (fd < 0)
		return -1;
	if (reply(fd, buf, sizeof(buf)) == 220 &&
	    say(fd, "EHLO client.test\r\n", buf, sizeof(buf)) == 250 &&
	    say(fd, "MAIL FROM:<a@client.test>\r\n", buf, sizeof(buf)) == 250)
		code = say(fd, "RCPT TO:<x@example.net>\r\n", buf, sizeof(buf));
	say(fd, "QUIT\r\n", buf, sizeof(buf));
	close(fd);
	return code;
}

/* pop_login_as - a POP3 login from src with password pass; 1 when the
 * server let us in */
static int
pop_login_as(const char *src, const char *pass)
{
	char buf[512], cmd[128];
	int fd = connect_from(src, pop), ok = 0;

	if (fd < 0)
		return 0;
	snprintf(cmd, sizeof(cmd), "PASS %s\r\n", pass);
	if (reply(fd, buf, sizeof(buf)) >= 0 && buf[0] == '+' &&
	    say(fd, "USER alice\r\n", buf, sizeof(buf)) >= 0 && buf[0] == '+' &&
	    say(fd, cmd, buf, sizeof(buf)) >= 0)
		ok = strncmp(buf, "+OK", 3) == 0;
	say(fd, "QUIT\r\n", buf, sizeof(buf));
	close(fd);
	return ok;
}

/* pop_login - a POP3 login from src with the right password */
static int
pop_login(const char *src)
{
	return pop_login_as(src, "secret");
}

struct want {
	const char *src;
	int path, code;
};

static int
code_is(void *arg)
{
	struct want *w = arg;

	return rcpt(w->src, smtp[w->path]) == w->code;
}

static int
smtp_up(void *arg)
{
	(void)arg;
	return rcpt("127.0.0.3", smtp[0]) > 0 && rcpt("127.0.0.3", smtp[2]) > 0;
}

static int
pop_up(void *arg)
{
	int fd = connect_from("127.0.0.1", pop);

	(void)arg;
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* expect - every path gives src the code within its bound */
static void
expect(const char *src, int code, const char *when)
{
	struct want w;
	int p;

	for (p = 0; p < 3; p++) {
		int64_t t0 = now_ms();

		w.src = src;
		w.path = p;
		w.code = code;
		ck_assert_msg(wait_until(code_is, &w, p == 0 ? SLOW_MS :
		    FAST_MS), "%s: %s path: want %d for %s, got %d", when,
		    path_name[p], code, src, rcpt(src, smtp[p]));
		fprintf(stderr, "mta: %-9s %-32s %s -> %d after %lld ms\n",
		    path_name[p], when, src, code, (long long)(now_ms() - t0));
	}
}

START_TEST(pop_before_smtp_end_to_end)
{
	char spec[32];
	drac_t *h;

	if (!may_run())
		return;
	paths_and_ports();
	on_death(stop_servers);
	start_dracd();
	start_postfix();
	start_dovecot(1);
	ck_assert_msg(wait_until(smtp_up, NULL, 10000), "Postfix did not "
	    "come up");
	ck_assert_msg(wait_until(pop_up, NULL, 10000), "Dovecot did not "
	    "come up");

	/* 1. no login yet: relaying from 127.0.0.2 is refused */
	expect("127.0.0.2", 554, "before the POP login");
	/* 2. the POP login from 127.0.0.2 */
	ck_assert(pop_login("127.0.0.2"));
	/* 3. relaying is accepted, on every path */
	expect("127.0.0.2", 250, "after the POP login");
	/* 4. not for another address */
	expect("127.0.0.3", 554, "from an address that never logged in");
	/* 5a. drac-cli del ends it */
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	ck_assert_int_eq(drac_del(h, "127.0.0.2"), 0);
	expect("127.0.0.2", 554, "after drac-cli del");
	/* 5b. and so does the end of the (8 s) lifetime */
	ck_assert(pop_login("127.0.0.2"));
	expect("127.0.0.2", 250, "after a second POP login");
	ck_assert_int_eq(drac_check(h, "127.0.0.2", NULL), 1);
	{
		struct want w = {"127.0.0.2", 1, 554};

		ck_assert(wait_until(code_is, &w, 10000));
	}
	expect("127.0.0.2", 554, "after the grant expired");
	drac_close(h);
	stop_servers();
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* start_logwatch - drac-logwatch following Dovecot's own log */
static pid_t
start_logwatch(void)
{
	const char *bin = getenv("DRAC_LOGWATCH");
	char spec[32], log[200];
	pid_t pid;

	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	snprintf(log, sizeof(log), "%s/dovecot/dovecot.log", top);
	ck_assert((pid = fork()) >= 0);
	if (pid == 0) {
		execl(bin != NULL ? bin : "build/drac-logwatch",
		    "drac-logwatch", "-s", spec, "-p", "dovecot", log,
		    (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* a Dovecot with no hook at all: drac-logwatch reads its log and grants */
START_TEST(logwatch_end_to_end)
{
	pid_t lw;

	if (!may_run())
		return;
	paths_and_ports();
	on_death(stop_servers);
	start_dracd();
	start_postfix();
	start_dovecot(0);
	ck_assert_msg(wait_until(smtp_up, NULL, 10000), "Postfix did not "
	    "come up");
	ck_assert_msg(wait_until(pop_up, NULL, 10000), "Dovecot did not "
	    "come up");
	lw = start_logwatch();
	expect("127.0.0.4", 554, "logwatch: before the login");
	/* a failed login grants nothing; a good one grants on every path */
	ck_assert(!pop_login_as("127.0.0.5", "wrong"));
	ck_assert(pop_login("127.0.0.4"));
	expect("127.0.0.4", 250, "logwatch: after the POP login");
	expect("127.0.0.5", 554, "logwatch: after a failed login");
	kill(lw, SIGTERM);
	ck_assert_int_eq(waitpid(lw, NULL, 0), lw);
	stop_servers();
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

Suite *
make_mta_suite(void)
{
	Suite *s = suite_create("mta");
	TCase *tc = tcase_create("postfix+dovecot");
	TCase *tl = tcase_create("logwatch");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, pop_before_smtp_end_to_end);
	tcase_set_timeout(tl, 120);
	tcase_add_test(tl, logwatch_end_to_end);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tl);
	return s;
}
