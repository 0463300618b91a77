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
#include "netns.h"
#include "mta.h"
#include "suites.h"

#define SLOW_MS	4000	/* the map path: 1 s sync + smtpd restart */
#define FAST_MS	1000	/* policy and socketmap: live */

static struct daemon d;
static char top[64], pfdir[128], dvdir[128];
static uint16_t smtp[3], pop, pol, smap, imap;
static const char *const path_name[3] = {"btree map", "policy", "socketmap"};

/*
 * stop_servers - Postfix and Dovecot by the PIDs in their pidfiles (they
 * detach, so they are not our children): at the end of the test, and
 * from an on_death guard if it fails first.  dracd dies with the test.
 */
static void
stop_servers(void)
{
	postfix_stop(pfdir);
	dovecot_stop(dvdir);
}

/* paths_and_ports - where everything lives and listens */
static void
paths_and_ports(void)
{
	int i;

	snprintf(top, sizeof(top), "%s", tmpdir());
	snprintf(pfdir, sizeof(pfdir), "%s/postfix", top);
	snprintf(dvdir, sizeof(dvdir), "%s/dovecot", top);
	for (i = 0; i < 3; i++)
		smtp[i] = free_port();
	pop = free_port();
	imap = free_port();
	pol = free_port();
	smap = free_port();
}

/* may_run - root and the servers installed; else skip, or fail in CI */
static int
may_run(void)
{
	return may_run_if(geteuid() == 0 &&
	    access("/usr/sbin/postfix", X_OK) == 0 &&
	    access("/usr/sbin/dovecot", X_OK) == 0 &&
	    access("/usr/lib/dovecot/pop3", X_OK) == 0, "cannot run Postfix "
	    "and Dovecot (need root and the packages)", "MTA tests skipped: "
	    "as root, apt-get install postfix dovecot-core dovecot-pop3d");
}

static void start_dracd_with(const char *);

/* start_dracd - with both live services and the map beside Postfix */
static void
start_dracd(void)
{
	start_dracd_with("");
}

/* start_dracd_with - start_dracd with more settings */
static void
start_dracd_with(const char *more)
{
	static char conf[400];
	const char *const extra[] = {"-c", conf, NULL};
	char text[512];

	daemon_init(&d, "127.0.0.0/8 add check admin\n");
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	snprintf(text, sizeof(text), "policy_listen = inet:127.0.0.1:%u\n"
	    "socketmap_listen = inet:127.0.0.1:%u\nexpire = 8s\n%s", pol, smap,
	    more);
	write_file(conf, text);
	chmod(d.dir, 0755);
	ck_assert_int_eq(daemon_start(&d, extra), 0);
}

/* start_postfix - its own config and queue, delivering nothing, with
 * three smtpd ports, one for each way of asking dracd */
static void
start_postfix(void)
{
	char map[400], conf[600], smtpd[1024];

	ck_assert_ptr_nonnull(getpwnam("postfix"));
	snprintf(map, sizeof(map), "%s/dracd", d.dir);	/* btree: adds .db */
	snprintf(conf, sizeof(conf),
	    "default_transport = discard\n"
	    "relay_transport = discard\n"
	    "smtpd_relay_restrictions = permit_mynetworks, "
	    "check_client_access btree:%s, reject_unauth_destination\n", map);
	snprintf(smtpd, sizeof(smtpd),
	    "127.0.0.1:%u inet n - n - - smtpd\n"
	    "127.0.0.1:%u inet n - n - - smtpd -o { "
	    "smtpd_relay_restrictions = permit_mynetworks, "
	    "check_policy_service inet:127.0.0.1:%u, "
	    "reject_unauth_destination }\n"
	    "127.0.0.1:%u inet n - n - - smtpd -o { "
	    "smtpd_relay_restrictions = permit_mynetworks, "
	    "check_client_access socketmap:inet:127.0.0.1:%u:drac, "
	    "reject_unauth_destination }\n", smtp[0], smtp[1], pol, smtp[2],
	    smap);
	postfix_start(pfdir, conf, smtpd);
}

static void dovecot_plugin_conf(const char *, char *, size_t);

/* start_dovecot - POP3 with one user, and contrib's post-login script
 * with DV_SCRIPT, or IMAP too and the drac plugin with DV_PLUGIN (with
 * DV_LOG_ONLY, only its log tells of logins) */
static void
start_dovecot(int hook)
{
	char extra[1024] = "", cmd[300];

	if (hook == DV_PLUGIN) {
		snprintf(cmd, sizeof(cmd), "mkdir -p %s", dvdir);
		shell(cmd);
		dovecot_plugin_conf(dvdir, extra, sizeof(extra));
	}
	dovecot_start(dvdir, pop, d.port, hook, extra);
}

/* rcpt - the code Postfix gives a relay attempt from src on port */
static int
rcpt(const char *src, uint16_t port)
{
	return smtp_rcpt(src, port, NULL, 0);
}

/* pop_login_as - a POP3 login at Dovecot from src with password pass */
static int
pop_login_as(const char *src, const char *pass)
{
	return pop3_login(src, pop, pass);
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

/* start_all - dracd, Postfix and Dovecot with hook, stopped when the
 * test ends; returns once SMTP and Dovecot's port listen answer */
static void
start_all(int hook, uint16_t *listen)
{
	paths_and_ports();
	on_death(stop_servers);
	start_dracd();
	start_postfix();
	start_dovecot(hook);
	ck_assert_msg(wait_until(smtp_up, NULL, 10000), "Postfix did not "
	    "come up");
	ck_assert_msg(wait_until(port_listens, listen, 10000), "Dovecot did "
	    "not come up");
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
	start_all(DV_SCRIPT, &pop);

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
	start_all(DV_LOG_ONLY, &pop);
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

/*
 * The drac plugin (src/dovecot/drac-plugin.c) in a real Dovecot: IMAP
 * and POP3 logins grant with no script, an IMAP session renews its grant
 * while it idles, and a dead or hung dracd costs a login at most the
 * libdrac timeout.
 */
#define GRANT_S		6	/* drac_ttl */
#define RENEW_S		2	/* drac_renew */
#define IDLE_MS		15000	/* how long the session idles */
#define LOGIN_MAX_MS	1500	/* a login's bound with dracd gone */

/* the plugin's drac_server when set (else d's), and more settings */
static char plugin_servers[80];
static const char *plugin_more = "";

/* dovecot_plugin_conf - IMAP beside POP3, the plugin from the build tree
 * (copied beside the config: Dovecot's users may not read the tree) */
static void
dovecot_plugin_conf(const char *dir, char *text, size_t len)
{
	const char *so = getenv("DRAC_PLUGIN");
	char cmd[600], servers[80];

	snprintf(cmd, sizeof(cmd), "install -m 644 %s %s/lib95_drac_plugin.so",
	    so != NULL ? so : "build/lib95_drac_plugin.so", dir);
	shell(cmd);
	if (plugin_servers[0] != '\0')
		snprintf(servers, sizeof(servers), "%s", plugin_servers);
	else
		snprintf(servers, sizeof(servers), "127.0.0.1:%u", d.port);
	snprintf(text, len,
	    "protocols = imap pop3\n"
	    "login_trusted_networks = 127.0.0.6/32\n"
	    "mail_plugin_dir = %s\n"
	    "mail_plugins = $mail_plugins drac\n"
	    "plugin {\n drac_server = %s\n drac_renew = %ds\n"
	    " drac_ttl = %ds\n%s}\n"
	    "service imap-login {\n inet_listener imap {\n"
	    "  address = 127.0.0.1\n  port = %u\n }\n}\n",
	    dir, servers, RENEW_S, GRANT_S, plugin_more, imap);
}

/* imap_line - one line from the server into buf; -1 at EOF or timeout */
static int
imap_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len && read(fd, buf + n, 1) == 1)
		if (buf[n++] == '\n')
			break;
	buf[n] = '\0';
	return n > 0 && buf[n - 1] == '\n' ? 0 : -1;
}

/* imap_cmd - send "tag cmd"; 1 when the tagged reply is OK, 0 if not,
 * -1 when the server went away */
static int
imap_cmd(int fd, const char *tag, const char *cmd)
{
	char line[1024];
	size_t tl = strlen(tag);

	snprintf(line, sizeof(line), "%s %s\r\n", tag, cmd);
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		return -1;
	while (imap_line(fd, line, sizeof(line)) == 0)
		if (strncmp(line, tag, tl) == 0 && line[tl] == ' ')
			return strncmp(line + tl + 1, "OK", 2) == 0;
	return -1;
}

/* imap_login - connect from src, send pre (an ID, say) when not NULL,
 * and log in; the connection, or -1.  *ms: how long the LOGIN took */
static int
imap_login(const char *src, const char *pre, int64_t *ms)
{
	char line[512];
	int fd = smtp_connect(src, imap);
	int64_t t0;

	if (fd < 0)
		return -1;
	if (imap_line(fd, line, sizeof(line)) < 0 ||
	    strncmp(line, "* OK", 4) != 0 ||
	    (pre != NULL && imap_cmd(fd, "p", pre) != 1)) {
		close(fd);
		return -1;
	}
	t0 = now_ms();
	if (imap_cmd(fd, "a", "LOGIN alice secret") != 1) {
		close(fd);
		return -1;
	}
	if (ms != NULL)
		*ms = now_ms() - t0;
	return fd;
}

/* imap_logout - LOGOUT and close; 1 when the server said goodbye */
static int
imap_logout(int fd)
{
	int ok = imap_cmd(fd, "z", "LOGOUT") == 1;

	close(fd);
	return ok;
}

/* grant_expires - the grant's expiry for addr (epoch s), 0 when none */
static int64_t
grant_expires(const char *addr)
{
	char spec[32];
	struct drac_entry e;
	drac_t *h;
	int64_t exp = 0;

	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	if (drac_check(h, addr, &e) == 1)
		exp = e.expires;
	drac_close(h);
	return exp;
}

/* idle_and_watch - keep the session in IDLE for IDLE_MS, checking that
 * the live paths relay for 127.0.0.2 all along and counting renewals
 * (the grant's expiry moving on); the renewals seen */
static int
idle_and_watch(int fd)
{
	char line[512];
	int64_t end = now_ms() + IDLE_MS, last = now_ms(), exp, prev = 0;
	int renewals = 0, rounds = 0;

	ck_assert_int_eq(write(fd, "i IDLE\r\n", 8), 8);
	ck_assert_int_eq(imap_line(fd, line, sizeof(line)), 0);
	ck_assert_msg(line[0] == '+', "IDLE: got %s", line);
	while (now_ms() < end) {
		ck_assert_msg(rcpt("127.0.0.2", smtp[1]) == 250, "policy "
		    "path refused 127.0.0.2 %lld ms into IDLE",
		    (long long)(now_ms() + IDLE_MS - end));
		ck_assert_msg(rcpt("127.0.0.2", smtp[2]) == 250, "socketmap "
		    "path refused 127.0.0.2 %lld ms into IDLE",
		    (long long)(now_ms() + IDLE_MS - end));
		exp = grant_expires("127.0.0.2");
		ck_assert_msg(exp > 0, "no grant %lld ms into IDLE",
		    (long long)(now_ms() + IDLE_MS - end));
		if (prev != 0 && exp > prev) {
			fprintf(stderr, "mta: imap renewal: expiry +%lld s, "
			    "%lld ms after the last change\n",
			    (long long)(exp - prev),
			    (long long)(now_ms() - last));
			renewals++;
			last = now_ms();
		}
		prev = exp;
		rounds++;
		usleep(100000);	/* a poll interval, not a wait */
	}
	fprintf(stderr, "mta: imap IDLE %d ms: %d rounds of relay checks, "
	    "%d renewals\n", IDLE_MS, rounds, renewals);
	ck_assert_int_eq(write(fd, "DONE\r\n", 6), 6);
	while (imap_line(fd, line, sizeof(line)) == 0 &&
	    strncmp(line, "i ", 2) != 0)
		;
	ck_assert_msg(strncmp(line, "i OK", 4) == 0, "IDLE ended: %s", line);
	return renewals;
}

/* dovecot_log_count - how many lines of Dovecot's log hold needle */
static int
dovecot_log_count(const char *needle)
{
	char path[200], line[1024];
	FILE *fp;
	int found = 0;

	snprintf(path, sizeof(path), "%s/dovecot/dovecot.log", top);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		found += strstr(line, needle) != NULL;
	fclose(fp);
	return found;
}

/* noop_worst - NOOPs for ms on a session; the slowest answer's time */
static int64_t
noop_worst(int fd, int64_t ms)
{
	int64_t end = now_ms() + ms, t0, worst = 0;
	char tag[16];
	int n = 0;

	while (now_ms() < end) {
		snprintf(tag, sizeof(tag), "n%d", n++);
		t0 = now_ms();
		ck_assert_int_eq(imap_cmd(fd, tag, "NOOP"), 1);
		if (now_ms() - t0 > worst)
			worst = now_ms() - t0;
		usleep(50000);	/* a pace, not a wait */
	}
	return worst;
}

/* may_run_imap - may_run, and imapd and the plugin there too */
static int
may_run_imap(void)
{
	const char *so = getenv("DRAC_PLUGIN");
	const char *ci = getenv("CI");

	if (!may_run())
		return 0;
	if (access("/usr/lib/dovecot/imap", X_OK) == 0 &&
	    access(so != NULL ? so : "build/lib95_drac_plugin.so", R_OK) == 0)
		return 1;
	ck_assert_msg(ci == NULL || strcmp(ci, "true") != 0, "CI=true but "
	    "no imapd or no plugin (apt-get install dovecot-imapd dovecot-dev)");
	fprintf(stderr, "IMAP plugin test skipped: as root, apt-get install "
	    "dovecot-imapd dovecot-dev, then make\n");
	return 0;
}

/* relay_refused - the live policy path refuses 127.0.0.2 */
static int
relay_refused(void *arg)
{
	(void)arg;
	return rcpt("127.0.0.2", smtp[1]) == 554;
}

/* grant_outlives - after LOGOUT at t_out: wait for the live policy path
 * to refuse 127.0.0.2, checking that no renewal lands once a helper
 * started before LOGOUT must have finished; how long it took */
static int64_t
grant_outlives(int64_t t_out)
{
	int64_t end = t_out + (GRANT_S + 3) * 1000, exp, last = 0;

	while (!relay_refused(NULL)) {
		ck_assert_msg(now_ms() < end, "127.0.0.2 still relays %d s "
		    "after LOGOUT", GRANT_S + 3);
		exp = grant_expires("127.0.0.2");
		ck_assert_msg(now_ms() < t_out + 1500 || last == 0 ||
		    exp <= last, "the grant was renewed %lld ms after LOGOUT",
		    (long long)(now_ms() - t_out));
		if (now_ms() >= t_out + 1500 && exp > 0)
			last = exp;
		usleep(100000);	/* a poll interval, not a wait */
	}
	return now_ms() - t_out;
}

START_TEST(imap_plugin_end_to_end)
{
	int64_t ms, t_out, t_gone;
	int fd, renewals;

	if (!may_run_imap())
		return;
	start_all(DV_PLUGIN, &imap);
	expect("127.0.0.2", 554, "before the IMAP login");

	/* 1. the IMAP login grants before its OK: no wait for the paths */
	ck_assert((fd = imap_login("127.0.0.2", NULL, &ms)) >= 0);
	fprintf(stderr, "mta: imap login with dracd up: %lld ms\n",
	    (long long)ms);
	ck_assert_msg(rcpt("127.0.0.2", smtp[1]) == 250, "policy path: "
	    "no grant right after the IMAP login's OK");
	ck_assert_int_eq(imap_cmd(fd, "s", "SELECT INBOX"), 1);

	/* 2. IDLE far past the grant's lifetime: renewals keep it */
	renewals = idle_and_watch(fd);
	ck_assert_msg(renewals >= IDLE_MS / 1000 / RENEW_S - 2, "%d renewals "
	    "in %d ms with drac_renew = %ds", renewals, IDLE_MS, RENEW_S);
	expect("127.0.0.2", 250, "after 15 s of IMAP IDLE");

	/* 3. LOGOUT: the last grant runs its time, then relay is refused */
	ck_assert(imap_logout(fd));
	t_out = now_ms();
	t_gone = grant_outlives(t_out);
	fprintf(stderr, "mta: imap grant gone %lld ms after LOGOUT\n",
	    (long long)t_gone);
	ck_assert_msg(t_gone >= (GRANT_S - RENEW_S - 1) * 1000, "refused "
	    "%lld ms after LOGOUT: the last renewal's grant ended early",
	    (long long)t_gone);
	expect("127.0.0.2", 554, "after the last IMAP grant expired");
	stop_servers();
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* login_bounded - an IMAP login from src that must succeed within
 * LOGIN_MAX_MS; what it took */
static int64_t
login_bounded(const char *src, const char *when)
{
	int64_t ms = -1;
	int fd = imap_login(src, NULL, &ms);

	ck_assert_msg(fd >= 0, "%s: the IMAP login failed", when);
	ck_assert(imap_logout(fd));
	fprintf(stderr, "mta: imap login %s: %lld ms\n", when, (long long)ms);
	ck_assert_msg(ms <= LOGIN_MAX_MS, "%s: the login took %lld ms", when,
	    (long long)ms);
	return ms;
}

/* the plugin beyond one IMAP session: POP3 with no script, the address a
 * trusted proxy forwards (IPv6 here), and logins with dracd hung or gone */
START_TEST(plugin_pop_proxy_and_dracd_down)
{
	int64_t worst;
	int fd;

	if (!may_run_imap())
		return;
	start_all(DV_PLUGIN, &imap);
	ck_assert_msg(wait_until(port_listens, &pop, 10000), "Dovecot did "
	    "not come up");

	/* 1. a POP3 login through the plugin, no post-login script */
	expect("127.0.0.4", 554, "plugin: before the POP login");
	ck_assert(pop_login("127.0.0.4"));
	expect("127.0.0.4", 250, "plugin: after the POP login");

	/* 2. a proxy in login_trusted_networks forwards the client's
	 * address: that one is granted, not the proxy's */
	ck_assert((fd = imap_login("127.0.0.6", "ID (\"x-originating-ip\" "
	    "\"2001:db8::7\")", NULL)) >= 0);
	ck_assert(imap_logout(fd));
	ck_assert_msg(grant_expires("2001:db8::7") > 0, "no grant for the "
	    "address the proxy forwarded");
	ck_assert_msg(grant_expires("127.0.0.6") == 0, "the proxy's own "
	    "address was granted");

	/* 3. dracd hung (stopped, its socket silent): a session's renewals
	 * (each waiting out the 1 s timeout) never hold up its commands, and
	 * their failures make one log line; a new login waits 1 s at most */
	ck_assert((fd = imap_login("127.0.0.3", NULL, NULL)) >= 0);
	ck_assert_int_eq(kill(d.pid, SIGSTOP), 0);
	worst = noop_worst(fd, (RENEW_S * 2 + 1) * 1000);
	fprintf(stderr, "mta: imap NOOP with dracd hung, renewals failing: "
	    "slowest %lld ms\n", (long long)worst);
	ck_assert_msg(worst < 500, "a NOOP took %lld ms while renewals "
	    "waited on a hung dracd", (long long)worst);
	ck_assert(imap_logout(fd));
	ck_assert_int_eq(dovecot_log_count("drac: renewal of 127.0.0.3 "
	    "failed"), 1);
	login_bounded("127.0.0.2", "with dracd hung");
	ck_assert_int_eq(kill(d.pid, SIGCONT), 0);
	/* 4. dracd gone (its port refuses) */
	ck_assert_int_eq(daemon_stop(&d), 0);
	login_bounded("127.0.0.2", "with dracd stopped");
	ck_assert_msg(dovecot_log_count("drac: add at login of 127.0.0.2 "
	    "failed") > 0, "no line in Dovecot's log about the failed add");
	stop_servers();
}
END_TEST

/*
 * drac_group = yes: drac_server lists a group's members, the first of
 * them down; a login's add is taken by the other and is no failure.
 * Both down: the add at login fails and says so.
 */
START_TEST(plugin_group_one_member_down)
{
	static struct daemon other;

	if (!may_run_imap())
		return;
	paths_and_ports();
	on_death(stop_servers);
	start_dracd();
	daemon_init(&other, "127.0.0.0/8 add check admin\n");
	ck_assert_int_eq(daemon_start(&other, NULL), 0);
	ck_assert_int_eq(daemon_stop(&other), 0);
	snprintf(plugin_servers, sizeof(plugin_servers),
	    "127.0.0.1:%u,127.0.0.1:%u", other.port, d.port);
	plugin_more = " drac_group = yes\n";
	start_dovecot(DV_PLUGIN);
	ck_assert_msg(wait_until(port_listens, &pop, 10000), "Dovecot did not "
	    "come up");
	/* the add is in before the login's reply */
	ck_assert(pop_login("127.0.0.4"));
	ck_assert_msg(grant_expires("127.0.0.4") > 0, "no grant after the "
	    "POP login");
	ck_assert_int_eq(dovecot_log_count("drac: add at login of "
	    "127.0.0.4 failed"), 0);
	ck_assert_int_eq(daemon_stop(&d), 0);
	ck_assert(pop_login("127.0.0.5"));
	ck_assert_int_eq(dovecot_log_count("drac: add at login of "
	    "127.0.0.5 failed"), 1);
	stop_servers();
}
END_TEST

/* relay_within - src gets code on the btree path within ms; how long */
static int64_t
relay_within(const char *src, int code, int64_t ms)
{
	struct want w = {src, 0, code};
	int64_t t0 = now_ms();

	ck_assert_msg(wait_until(code_is, &w, ms), "btree map: want %d for "
	    "%s within %lld ms, got %d", code, src, (long long)ms,
	    rcpt(src, smtp[0]));
	return now_ms() - t0;
}

/* the map edited in place: sync interval 0 (an add acknowledged once it
 * is in the map), or map_update = edit (each second's changes) */
static const struct {
	const char *conf;
	int acked_in_map;	/* an acknowledged add is in the map */
	int64_t within_ms;	/* smtpd sees a change within this */
} in_place[] = {
	{"sync_interval = 0\n", 1, 2500},
	{"map_update = edit\n", 0, 3500},
};

START_TEST(map_edited_in_place_seen)
{
	char spec[32], src[32];
	struct stat st0, st;
	int64_t worst = 0, ms;
	drac_t *h;
	int i;

	if (!may_run())
		return;
	paths_and_ports();
	on_death(stop_servers);
	/* dracd edits the map in place under flock(LOCK_EX) */
	start_dracd_with(in_place[_i].conf);
	start_postfix();
	ck_assert_msg(wait_until(smtp_up, NULL, 10000), "Postfix did not "
	    "come up");
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	relay_within("127.0.0.2", 554, SLOW_MS);
	ck_assert_int_eq(drac_add(h, "127.0.0.2", 0, NULL), 0);
	if (!in_place[_i].acked_in_map)
		relay_within("127.0.0.2", 250, in_place[_i].within_ms);
	ck_assert_int_eq(stat(d.db, &st0), 0);
	/* one add after another, each tried at once: smtpd opened the map
	 * within the second of the next edit, which alone would not move
	 * the mtime past it (dracd moves it at the next second) */
	for (i = 2; i < 8; i++) {
		snprintf(src, sizeof(src), "127.0.0.%d", i);
		if (i > 2)
			ck_assert_int_eq(drac_add(h, src, 0, NULL), 0);
		ck_assert_msg(!in_place[_i].acked_in_map ||
		    map_get(d.db, src, strlen(src), NULL, 0) == 1,
		    "%s acknowledged but not in the map", src);
		ms = relay_within(src, 250, in_place[_i].within_ms);
		worst = ms > worst ? ms : worst;
	}
	/* edited in place: the same file throughout */
	ck_assert_int_eq(stat(d.db, &st), 0);
	ck_assert_msg(st.st_ino == st0.st_ino, "the map was replaced, not "
	    "edited in place");
	/* a delete is seen too (not waited for: within a write) */
	ck_assert_int_eq(drac_del(h, "127.0.0.5"), 0);
	ms = relay_within("127.0.0.5", 554, in_place[_i].within_ms);
	worst = ms > worst ? ms : worst;
	relay_within("127.0.0.4", 250, 2500);
	/* still the same file */
	ck_assert_int_eq(stat(d.db, &st), 0);
	ck_assert(st.st_ino == st0.st_ino);
	fprintf(stderr, "mta: map edited in place (%.*s): each change seen by "
	    "smtpd within %lld ms\n", (int)strcspn(in_place[_i].conf, "\n"),
	    in_place[_i].conf, (long long)worst);
	drac_close(h);
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
	TCase *ti = tcase_create("imap");
	TCase *tp = tcase_create("in_place");
	TCase *tg;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, pop_before_smtp_end_to_end);
	tcase_set_timeout(tl, 120);
	tcase_add_test(tl, logwatch_end_to_end);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tl);
	tcase_set_timeout(ti, 120);
	tcase_add_test(ti, imap_plugin_end_to_end);
	tcase_add_test(ti, plugin_pop_proxy_and_dracd_down);
	suite_add_tcase(s, ti);
	tg = tcase_create("plugin_group");
	tcase_set_timeout(tg, 120);
	tcase_add_test(tg, plugin_group_one_member_down);
	suite_add_tcase(s, tg);
	tcase_set_timeout(tp, 120);
	tcase_add_loop_test(tp, map_edited_in_place_seen, 0,
	    (int)(sizeof(in_place) / sizeof(in_place[0])));
	suite_add_tcase(s, tp);
	return s;
}
