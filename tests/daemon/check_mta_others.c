/*
 * check_mta_others.c - contrib/'s Sendmail and Exim recipes with the
 * real programs: the Debian binaries unpacked by `make mta-tools` under
 * build/mta (their packages conflict with postfix, so they are never
 * installed), each server on a loopback port with a configuration made
 * from the contrib file itself, and the same steps for every path:
 * relaying from 127.0.0.2 refused, a POP3 login from it at a real
 * Dovecot (contrib's post-login script) and relaying accepted, 127.0.0.3
 * still refused, refused again after drac-cli del and after the grant's
 * lifetime.  Then IPv6 clients, and IPv4 clients of an IPv6 socket.
 * And drac-milter behind Sendmail with the lines its man page gives for
 * each mode: the trace header in the queued message, the milter's
 * refusal in enforce mode, and what each mode's F= makes of a missing
 * milter.
 *
 * Each test lives in network, mount and UTS namespaces of its own: no
 * lookup leaves the machine (Sendmail asks DNS for its own name and for
 * the client's), the host name is a qualified one (else Sendmail sleeps
 * a minute), name lookups read only files, and the map and spools sit on
 * a private tmpfs at /run: root-owned 0755 directories all the way down,
 * which Sendmail insists on for a map file and Exim's user can search.
 *
 * Needs root, build/mta (or $MTA_DIR), the user Debian-exim and Dovecot;
 * it skips with one line otherwise, and fails instead under CI=true.
 * Every server is a child in a process group of its own, stopped by PID
 * at the end, or by an on_death guard if the test fails first.
 */
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
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

#define MAP_MS	4000	/* the map file: 1 s sync, then the next open */
#define LIVE_MS	1000	/* socketmap and drac-cli: every lookup asks */
#define EXPIRE	8	/* seconds a grant lasts (dracd.conf expire) */
#define STATE	"/run/drac"	/* dracd's map, on the private tmpfs */
#define SERVERS	"/run/servers"	/* the PIDs of the servers started */

/* one way of asking an MTA: a daemon on port, or exim -bh with conf */
struct path {
	const char *name;
	uint16_t port;
	char conf[128];
	int64_t bound;
};

static struct daemon d;
static uint16_t smap;
static char mta[PATH_MAX];

/* may_run - root, the unpacked MTAs and Exim's user; else skip or fail */
static int
may_run(void)
{
	const char *dir = getenv("MTA_DIR");
	char p1[PATH_MAX + 64], p2[PATH_MAX + 64];

	if (realpath(dir != NULL ? dir : "build/mta", mta) == NULL)
		mta[0] = '\0';
	snprintf(p1, sizeof(p1), "%s/usr/libexec/sendmail/sendmail", mta);
	snprintf(p2, sizeof(p2), "%s/usr/sbin/exim4", mta);
	return may_run_if(geteuid() == 0 && access(p1, X_OK) == 0 &&
	    access(p2, X_OK) == 0 && getpwnam("Debian-exim") != NULL &&
	    access("/usr/sbin/dovecot", X_OK) == 0 &&
	    access("/usr/lib/dovecot/pop3", X_OK) == 0,
	    "cannot run Sendmail, Exim and Dovecot (need root, make "
	    "mta-tools and dovecot-pop3d)", "Sendmail/Exim tests skipped: as "
	    "root, make mta-tools and apt-get install dovecot-core "
	    "dovecot-pop3d");
}

/* private_world - own network, mounts and host name; /run a tmpfs */
static void
private_world(void)
{
	static const char host[] = "relay.test";

	private_net(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWUTS);
	private_run();
	ck_assert_int_eq(sethostname(host, sizeof(host) - 1), 0);
	/* names from files only: a client without a PTR record is then a
	 * plain "not found", never a DNS timeout */
	write_file("/run/nsswitch.conf", "passwd: files\ngroup: files\n"
	    "hosts: files\n");
	ck_assert_int_eq(mount("/run/nsswitch.conf", "/etc/nsswitch.conf",
	    NULL, MS_BIND, NULL), 0);
	ck_assert_int_eq(mkdir(STATE, 0755), 0);
}

/* start_dracd - the map on the tmpfs, a socketmap service, short grants */
static void
start_dracd(void)
{
	static char conf[400];
	const char *const extra[] = {"-c", conf, NULL};
	char text[256];

	smap = free_port();
	daemon_init(&d, "127.0.0.0/8 add check admin\n");
	snprintf(d.db, sizeof(d.db), "%s/dracd.db", STATE);
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	snprintf(text, sizeof(text), "socketmap_listen = inet:127.0.0.1:%u\n"
	    "expire = %ds\n", smap, EXPIRE);
	write_file(conf, text);
	ck_assert_int_eq(daemon_start(&d, extra), 0);
}

/* server_start - run argv as a child in a process group of its own,
 * its PID noted in SERVERS for the guard */
static pid_t
server_start(const char *const *argv)
{
	pid_t pid = fork();
	FILE *fp;
	int fd;

	ck_assert(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	setpgid(pid, pid);
	ck_assert_ptr_nonnull(fp = fopen(SERVERS, "a"));
	fprintf(fp, "%d\n", (int)pid);
	ck_assert_int_eq(fclose(fp), 0);
	return pid;
}

/* server_stop - SIGTERM to the server's group, SIGKILL if it lingers */
static void
server_stop(pid_t pid)
{
	int64_t end = now_ms() + WAIT_MS;

	if (pid <= 0)
		return;
	kill(-pid, SIGTERM);
	while (waitpid(pid, NULL, WNOHANG) == 0 && now_ms() < end)
		usleep(20000);
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static char last[512];	/* the last reply line read */
static char said[512];	/* the last RCPT reply line, for messages */

/* reply - read one (possibly multi-line) SMTP reply into last; its
 * code or -1 */
static int
reply(int fd)
{
	return smtp_reply(fd, last, sizeof(last));
}

/* say - one command line and its reply code */
static int
say(int fd, const char *cmd)
{
	return smtp_say(fd, cmd, last, sizeof(last));
}

static const char dialogue[] = "EHLO client.test\r\n"
    "MAIL FROM:<a@client.test>\r\nRCPT TO:<x@example.net>\r\nQUIT\r\n";

/* bh_rcpt - the code `exim -bh src` gives the same dialogue: the reply
 * after MAIL's "250 OK" */
static int
bh_rcpt(const char *conf, const char *src)
{
	char exim[PATH_MAX + 32], out[8192], *p;
	const char *argv[] = {exim, "-C", conf, "-bh", src, NULL};

	snprintf(exim, sizeof(exim), "%s/usr/sbin/exim4", mta);
	if (run_prog(argv, dialogue, out, sizeof(out), 10000) != 0)
		return -1;
	said[0] = '\0';
	if ((p = strstr(out, "\n250 OK")) == NULL ||
	    (p = strchr(p + 1, '\n')) == NULL)
		return -1;
	snprintf(said, sizeof(said), "%.*s", (int)strcspn(p + 1, "\r\n"),
	    p + 1);
	return atoi(p + 1);
}

/* path_rcpt - the code one path gives src */
static int
path_rcpt(const struct path *p, const char *src)
{
	return p->port != 0 ? smtp_rcpt(src, p->port, said, sizeof(said)) :
	    bh_rcpt(p->conf, src);
}

struct want {
	const struct path *path;
	const char *src;
	int code;
};

static int
code_is(void *arg)
{
	struct want *w = arg;

	return path_rcpt(w->path, w->src) == w->code;
}

/* expect - every path gives src the code within its bound (or ms) */
static void
expect(const struct path *paths, size_t n, const char *src, int code,
    int64_t ms, const char *when)
{
	struct want w;
	size_t i;

	for (i = 0; i < n; i++) {
		int64_t t0 = now_ms();

		w.path = &paths[i];
		w.src = src;
		w.code = code;
		ck_assert_msg(wait_until(code_is, &w, ms > 0 ? ms :
		    paths[i].bound), "%s: %s: want %d for %s, got %d (%s)", when,
		    paths[i].name, code, src, path_rcpt(&paths[i], src),
		    said);
		fprintf(stderr, "mta-others: %-24s %-34s %s -> %d after %lld "
		    "ms\n", paths[i].name, when, src, code,
		    (long long)(now_ms() - t0));
	}
}

/* ---- the grant: a POP3 login at a real Dovecot ---- */

static uint16_t pop;	/* Dovecot's POP3 port */

/*
 * start_dovecot - POP3 with one user and contrib's post-login script
 * (its settings pointed at this test's dracd), as tests/daemon/check_mta.c
 * runs it; in /run/dovecot
 */
static void
start_dovecot(void)
{
	pop = free_port();
	dovecot_start("/run/dovecot", pop, d.port, DV_SCRIPT, "");
}

/* stop_dovecot - by the PID in its pidfile (it detaches) */
static void
stop_dovecot(void)
{
	dovecot_stop("/run/dovecot");
}

/*
 * stop_all - from the on_death guard, if the test ends without stopping
 * them: every server in SERVERS (its whole process group: the sessions
 * it forked too) and Dovecot
 */
static void
stop_all(void)
{
	FILE *fp = fopen(SERVERS, "r");
	int pid;

	while (fp != NULL && fscanf(fp, "%d", &pid) == 1)
		if (pid > 0) {
			kill(-pid, SIGTERM);
			usleep(200000);
			kill(-pid, SIGKILL);
		}
	if (fp != NULL)
		fclose(fp);
	stop_dovecot();
}

/* pop_login - a POP3 login from src; 1 when Dovecot let us in */
static int
pop_login(const char *src)
{
	return pop3_login(src, pop, "secret");
}

/* four_steps - refused, granted and accepted (not for another address),
 * refused after a delete, and after the grant's lifetime */
static void
four_steps(const struct path *paths, size_t n)
{
	char spec[32];
	drac_t *h;
	int64_t t0;

	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	/* 1. nobody logged in: relaying from 127.0.0.2 is refused */
	expect(paths, n, "127.0.0.2", 550, 0, "before the POP login");
	/* 2. the grant: a POP3 login from 127.0.0.2 */
	ck_assert(pop_login("127.0.0.2"));
	expect(paths, n, "127.0.0.2", 250, 0, "after the POP login");
	/* 3. not for another address */
	expect(paths, n, "127.0.0.3", 550, 0, "from an address never granted");
	/* 4a. drac-cli del ends it */
	ck_assert_int_eq(drac_del(h, "127.0.0.2"), 0);
	expect(paths, n, "127.0.0.2", 550, 0, "after drac-cli del");
	/* 4b. and so does the end of its lifetime */
	t0 = now_ms();
	ck_assert(pop_login("127.0.0.2"));
	expect(paths, n, "127.0.0.2", 250, 0, "after a second POP login");
	expect(paths, n, "127.0.0.2", 550, EXPIRE * 1000 + MAP_MS,
	    "after the grant expired");
	ck_assert_msg(now_ms() - t0 >= (EXPIRE - 1) * 1000, "refused after "
	    "%lld ms, before the grant's %d s were up",
	    (long long)(now_ms() - t0), EXPIRE);
	drac_close(h);
}

/*
 * dracd_gone - stop dracd with 127.0.0.2 granted: a map file keeps its
 * last contents (the grant still works), a live lookup finds nobody to
 * ask and must refuse or defer, never relay
 */
static void
dracd_gone(const struct path *paths, size_t n)
{
	size_t i;
	int code;

	ck_assert(pop_login("127.0.0.2"));
	expect(paths, n, "127.0.0.2", 250, 0, "before dracd stops");
	ck_assert_int_eq(daemon_stop(&d), 0);
	for (i = 0; i < n; i++) {
		code = path_rcpt(&paths[i], "127.0.0.2");
		fprintf(stderr, "mta-others: %-24s %-34s %s -> %d\n",
		    paths[i].name, "with dracd stopped", "127.0.0.2", code);
		if (paths[i].bound == MAP_MS)
			ck_assert_msg(code == 250, "%s: dracd stopped: want "
			    "250 from the map file, got %d (%s)", paths[i].name,
			    code, said);
		else
			ck_assert_msg(code >= 400 && code < 600, "%s: dracd "
			    "stopped: want a refusal, got %d (%s)",
			    paths[i].name, code, said);
	}
}

/* ---- Sendmail ---- */

static char sm_extra[512];	/* more .mc lines (drac-milter(8)'s), or "" */

/*
 * sendmail_mc - a small sendmail.mc for a daemon on port that queues
 * everything (nothing is ever delivered), followed by contrib's drac.mc
 * with the test's map, or with its socket map line in place of the map
 * file line
 */
static void
sendmail_mc(const char *dir, const char *daemon, int socket_map,
    const char *mc)
{
	char line[512], *text = NULL;
	size_t len = 0;
	FILE *in, *out;

	ck_assert_ptr_nonnull(out = open_memstream(&text, &len));
	fprintf(out, "divert(0)dnl\nVERSIONID(`dracd test')\n"
	    "OSTYPE(`linux')dnl\n"
	    "define(`confDOMAIN_NAME', `relay.test')dnl\n"
	    "define(`QUEUE_DIR', `%s/queue')dnl\n"
	    "define(`STATUS_FILE', `%s/statistics')dnl\n"
	    "define(`confPID_FILE', `%s/pid')dnl\n"
	    "define(`ALIAS_FILE', `')dnl\n"
	    "define(`confDELIVERY_MODE', `queueonly')dnl\n"
	    "define(`confDONT_PROBE_INTERFACES', `true')dnl\n"
	    "FEATURE(`no_default_msa')dnl\n"
	    "FEATURE(`accept_unresolvable_domains')dnl\n"
	    "DAEMON_OPTIONS(`%s')dnl\n%s"
	    "MAILER(`local')dnl\nMAILER(`smtp')dnl\n", dir, dir, dir, daemon,
	    sm_extra);
	ck_assert_ptr_nonnull(in = fopen("contrib/sendmail/drac.mc", "r"));
	while (fgets(line, sizeof(line), in) != NULL) {
		char *m = strstr(line, "/var/lib/drac/dracd");

		if (strncmp(line, "Kdrac btree ", 12) == 0 && !socket_map) {
			ck_assert_ptr_nonnull(m);
			fprintf(out, "%.*s%s/dracd%s", (int)(m - line), line,
			    STATE, m + strlen("/var/lib/drac/dracd"));
		} else if (strncmp(line, "Kdrac ", 6) == 0)
			;	/* the other map's line */
		else if (strncmp(line, "dnl Kdrac socket ", 17) == 0) {
			if (socket_map) {
				ck_assert_ptr_nonnull(m = strstr(line,
				    "inet:10042@"));
				fprintf(out, "%.*sinet:%u@%s", (int)(m - line
				    - 4), line + 4, smap, m + 11);
			}
		} else
			fputs(line, out);
	}
	fclose(in);
	fclose(out);
	write_file(mc, text);
	free(text);
}

/* sendmail_start - build the .cf with sendmail-cf's m4 files and run the
 * daemon in the foreground (-bD) */
static pid_t
sendmail_start(const char *name, const char *daemon, int socket_map)
{
	char dir[64], mc[128], cf[128], cmd[PATH_MAX * 3], bin[PATH_MAX + 32];
	const char *argv[] = {bin, "-C", cf, "-bD", NULL};

	snprintf(dir, sizeof(dir), "/run/%s", name);
	snprintf(mc, sizeof(mc), "%s/test.mc", dir);
	snprintf(cf, sizeof(cf), "%s/test.cf", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -m 755 %s && mkdir -m 700 %s/queue",
	    dir, dir);
	shell(cmd);
	sendmail_mc(dir, daemon, socket_map, mc);
	snprintf(cmd, sizeof(cmd), "m4 -D_CF_DIR_=%s/usr/share/sendmail/cf/ "
	    "%s/usr/share/sendmail/cf/m4/cf.m4 %s > %s", mta, mta, mc, cf);
	shell(cmd);
	snprintf(bin, sizeof(bin), "%s/usr/libexec/sendmail/sendmail", mta);
	return server_start(argv);
}

static int
greets(void *arg)
{
	const struct path *p = arg;
	int fd = smtp_connect("127.0.0.1", p->port), code;

	if (fd < 0)
		return 0;
	code = reply(fd);
	say(fd, "QUIT\r\n");
	close(fd);
	return code == 220;
}

/* sendmail_pair - Sendmails NAME-map (the btree map) and NAME-socket
 * (the socket map) on free ports into p[0] and p[1], with daemon options
 * "Port=port, " and opts; their PIDs in pid; returns once both greet */
static void
sendmail_pair(struct path p[2], pid_t pid[2], const char *opts,
    const char *name)
{
	char daemon[96], dir[32];
	int i;

	for (i = 0; i < 2; i++) {
		p[i].port = free_port();
		snprintf(daemon, sizeof(daemon), "Port=%u, %s", p[i].port,
		    opts);
		snprintf(dir, sizeof(dir), "%s-%s", name, i == 0 ? "map" :
		    "socket");
		pid[i] = sendmail_start(dir, daemon, i);
	}
	for (i = 0; i < 2; i++)
		ck_assert_msg(wait_until(greets, &p[i], 10000), "%s did not "
		    "come up", p[i].name);
}

/* the IPv6 tests' addresses on the namespace's loopback */
#define LO_FD00	"ip -6 addr add fd00::2/128 dev lo nodad && " \
		"ip -6 addr add fd00::3/128 dev lo nodad"

/* start_world - a private world (setup run in it first, when given),
 * stopped if the test dies, and dracd in it */
static void
start_world(const char *setup)
{
	private_world();
	on_death(stop_all);
	if (setup != NULL)
		shell(setup);
	start_dracd();
}

/* start_pop_world - start_world, and Dovecot listening for POP3 */
static void
start_pop_world(void)
{
	start_world(NULL);
	start_dovecot();
	ck_assert_msg(wait_until(port_listens, &pop, 10000), "Dovecot did not "
	    "come up");
}

/* stop_world - the MTAs in pid[0..n), then dracd, stopped */
static void
stop_world(const pid_t *pid, int n)
{
	int i;

	for (i = 0; i < n; i++)
		server_stop(pid[i]);
	ck_assert_int_eq(daemon_stop(&d), 0);
	unlink(SERVERS);	/* all stopped: nothing left for the guard */
}

/* pop_steps_then_stop - four_steps and dracd_gone on the npaths paths,
 * then the MTAs in pid[0..n) and Dovecot stopped */
static void
pop_steps_then_stop(const struct path *paths, size_t npaths,
    const pid_t *pid, int n)
{
	int i;

	four_steps(paths, npaths);
	dracd_gone(paths, npaths);
	for (i = 0; i < n; i++)
		server_stop(pid[i]);
	stop_dovecot();
	unlink(SERVERS);	/* all stopped: nothing left for the guard */
}

START_TEST(sendmail_map_and_socketmap)
{
	struct path paths[2] = {
		{"sendmail btree map", 0, "", MAP_MS},
		{"sendmail socket map", 0, "", LIVE_MS},
	};
	pid_t pid[2];

	if (!may_run())
		return;
	start_pop_world();
	sendmail_pair(paths, pid, "Addr=127.0.0.1, Name=MTA", "sm");
	pop_steps_then_stop(paths, 2, pid, 2);
}
END_TEST

/*
 * Sendmail names an IPv6 client "IPv6:2001:db8:0:0:0:0:0:7" in
 * ${client_addr} unless told to compress; dracd's keys are the bare,
 * compressed addresses.  Daemons on [::] with each map: a client from
 * fd00::2 (an address of the namespace's loopback), and one from
 * 127.0.0.2, which reaches the IPv6 socket IPv4-mapped.
 */
START_TEST(sendmail_ipv6_clients)
{
	static const char *const src[] = {"fd00::2", "127.0.0.2"};
	char opts[64];
	struct path p[2] = {
		{"sendmail btree map on [::]", 0, "", MAP_MS},
		{"sendmail socket map on [::]", 0, "", LIVE_MS},
	};
	drac_t *h;
	pid_t pid[2];
	int i;

	if (!may_run())
		return;
	start_world(LO_FD00);
	sendmail_pair(p, pid, "Addr=::, Family=inet6, Name=MTA6", "sm6");
	snprintf(opts, sizeof(opts), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, opts, NULL), 0);
	expect(p, 2, src[0], 550, 0, "before the grant");
	expect(p, 2, src[1], 550, 0, "before the grant");
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(drac_add(h, src[i], 0, "alice"), 0);
	expect(p, 2, src[0], 250, 0, "after the grant");
	expect(p, 2, src[1], 250, 0, "after the grant (IPv4-mapped)");
	expect(p, 2, "fd00::3", 550, 0, "from an address never granted");
	drac_close(h);
	stop_world(pid, 2);
}
END_TEST

/* ---- Sendmail with drac-milter ---- */

/*
 * man_milter_lines - drac-milter(8)'s Sendmail lines for mode (the lines
 * after its "dnl trace" or "dnl enforce" comment) into sm_extra, with the
 * milter's port in place of 10043
 */
static void
man_milter_lines(const char *mode, uint16_t port)
{
	char line[512], tag[32], num[8];
	size_t used = 0;
	int in = 0, filters = 0;
	FILE *fp;

	snprintf(tag, sizeof(tag), "dnl %s", mode);
	snprintf(num, sizeof(num), "%u", port);
	ck_assert_ptr_nonnull(fp = fopen("man/drac-milter.8", "r"));
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *m = strstr(line, "10043");
		int n;

		if (strncmp(line, "dnl ", 4) == 0 ||
		    strncmp(line, ".Ed", 3) == 0) {
			in = strncmp(line, tag, strlen(tag)) == 0;
			continue;
		}
		if (!in)
			continue;
		filters += strncmp(line, "INPUT_MAIL_FILTER(", 18) == 0;
		n = m == NULL ? snprintf(sm_extra + used, sizeof(sm_extra) - used,
		    "%s", line) : snprintf(sm_extra + used, sizeof(sm_extra) -
		    used, "%.*s%s%s", (int)(m - line), line, num, m + 5);
		ck_assert(n > 0 && (size_t)n < sizeof(sm_extra) - used);
		used += n;
	}
	fclose(fp);
	ck_assert_msg(filters == 1, "drac-milter(8) gives %d INPUT_MAIL_FILTER "
	    "lines for %s", filters, mode);
}

/* milter_start - drac-milter in mode on a loopback port, asking dracd */
static pid_t
milter_start(const char *mode, uint16_t port)
{
	const char *bin = getenv("DRAC_MILTER");
	char sock[40], spec[32];
	const char *argv[] = {bin != NULL ? bin : "build/drac-milter", "-f",
	    "-p", sock, "-s", spec, "-m", mode, NULL};
	pid_t pid;

	snprintf(sock, sizeof(sock), "inet:%u@127.0.0.1", port);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	pid = server_start(argv);
	ck_assert_msg(wait_until(port_listens, &port, WAIT_MS), "drac-milter "
	    "did not listen on %u", port);
	return pid;
}

static const char *step;	/* the step sm_relay ended at */

/* milter_stop - SIGTERM; it must exit by itself with status 0 (under
 * ASan, also without a leak) */
static void
milter_stop(pid_t pid)
{
	/* libmilter's listener looks for the stop flag between waits of
	 * up to 5 s: give it three of them (a TSan build is slower still) */
	int64_t end = now_ms() + 3 * WAIT_MS;
	pid_t got;
	int st = 0;

	kill(pid, SIGTERM);
	while ((got = waitpid(pid, &st, WNOHANG)) == 0 && now_ms() < end)
		usleep(20000);
	if (got == 0)
		server_stop(pid);
	ck_assert_msg(got == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "drac-milter did not exit cleanly: status 0x%x", st);
}

/*
 * sm_relay - a message from src to x@example.net carrying a forged trace
 * header: the first refusal's code (its step in step), or the 250 after
 * the message with Sendmail's queue ID in qid
 */
static int
sm_relay(const char *src, uint16_t port, char *qid, size_t qlen)
{
	int fd = smtp_connect(src, port), code = -1;
	const char *p;

	qid[0] = '\0';
	if (fd < 0)
		return -1;
	if ((code = reply(fd), step = "greeting", code == 220) &&
	    (code = say(fd, "EHLO client.test\r\n"), step = "EHLO",
	    code == 250) &&
	    (code = say(fd, "MAIL FROM:<a@client.test>\r\n"), step = "MAIL",
	    code == 250) &&
	    (code = say(fd, "RCPT TO:<x@example.net>\r\n"), step = "RCPT",
	    code == 250) &&
	    (code = say(fd, "DATA\r\n"), step = "DATA", code == 354) &&
	    (code = say(fd, "X-Drac-User: mallory; addr=192.0.2.66\r\n"
	    "Subject: milter test\r\n\r\nbody\r\n.\r\n"),
	    step = "the message", code == 250) &&
	    (p = strstr(last, " 2.0.0 ")) != NULL)
		snprintf(qid, qlen, "%.*s", (int)strcspn(p + 7, " \r\n"),
		    p + 7);
	snprintf(said, sizeof(said), "%.*s", (int)strcspn(last, "\r\n"),
	    last);
	say(fd, "QUIT\r\n");
	close(fd);
	return code;
}

/* queued_headers - the header lines (H...) of queue file qf<qid> */
static void
queued_headers(const char *name, const char *qid, char *out, size_t len)
{
	char path[128], line[512];
	size_t used = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/run/%s/queue/qf%s", name, qid);
	ck_assert_msg((fp = fopen(path, "r")) != NULL, "%s: %s", path,
	    strerror(errno));
	out[0] = '\0';
	while (fgets(line, sizeof(line), fp) != NULL)
		if (line[0] == 'H' && used + strlen(line) < len) {
			memcpy(out + used, line, strlen(line) + 1);
			used += strlen(line);
		}
	fclose(fp);
}

/* relayed_with - a granted relay from src: accepted, queued with the
 * milter's header naming alice, the forged one gone */
static void
relayed_with(const char *name, uint16_t port, const char *src)
{
	char qid[64], hdrs[4096], want[80];
	int code = sm_relay(src, port, qid, sizeof(qid));

	ck_assert_msg(code == 250 && qid[0] != '\0', "%s: relay from %s: %d "
	    "at %s (%s)", name, src, code, step, said);
	queued_headers(name, qid, hdrs, sizeof(hdrs));
	snprintf(want, sizeof(want), "X-Drac-User: alice; addr=%s; until=2",
	    src);
	ck_assert_msg(strstr(hdrs, want) != NULL, "%s: no \"%s\" in qf%s:\n%s",
	    name, want, qid, hdrs);
	ck_assert_msg(strstr(hdrs, "mallory") == NULL, "%s: forged header "
	    "kept in qf%s:\n%s", name, qid, hdrs);
	fprintf(stderr, "mta-others: %s: qf%s: %.*s\n", name, qid,
	    (int)strcspn(strstr(hdrs, want), "\n"), strstr(hdrs, want));
}

/* sm_milter_world - dracd, 127.0.0.2 granted to alice, drac-milter in
 * mode and a Sendmail (contrib's socket map, the man page's lines for
 * mode) on port; the milter's PID in *mpid, Sendmail's returned */
static pid_t
sm_milter_world(const char *mode, uint16_t port, pid_t *mpid)
{
	uint16_t mport = free_port();
	struct path p = {"sendmail", 0, "", LIVE_MS};
	char spec[32], opts[64];
	drac_t *h;
	pid_t pid;

	start_world(NULL);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	ck_assert_int_eq(drac_add(h, "127.0.0.2", 600, "alice"), 0);
	drac_close(h);
	*mpid = milter_start(mode, mport);
	man_milter_lines(mode, mport);
	p.port = port;
	snprintf(opts, sizeof(opts), "Port=%u, Addr=127.0.0.1, Name=MTA",
	    port);
	pid = sendmail_start("sm-milter", opts, 1);
	ck_assert_msg(wait_until(greets, &p, 10000), "Sendmail did not come "
	    "up");
	return pid;
}

/*
 * Trace mode, Sendmail as drac-milter(8) sets it up: contrib's recipe
 * decides relaying, the milter names the user on what it relays, and a
 * missing milter (no F=) stops nothing
 */
START_TEST(sendmail_milter_trace)
{
	uint16_t port = free_port();
	char qid[64], hdrs[4096];
	pid_t pid, mpid;
	int code;

	if (!may_run())
		return;
	pid = sm_milter_world("trace", port, &mpid);
	relayed_with("sm-milter", port, "127.0.0.2");
	code = sm_relay("127.0.0.3", port, qid, sizeof(qid));
	ck_assert_msg(code == 550 && strcmp(step, "RCPT") == 0, "ungranted "
	    "127.0.0.3: want 550 to RCPT, got %d at %s (%s)", code, step,
	    said);
	fprintf(stderr, "mta-others: sendmail+milter trace: 127.0.0.3 -> %s\n",
	    said);
	milter_stop(mpid);
	code = sm_relay("127.0.0.2", port, qid, sizeof(qid));
	ck_assert_msg(code == 250 && qid[0] != '\0', "milter stopped, no F=: "
	    "want 250, got %d at %s (%s)", code, step, said);
	queued_headers("sm-milter", qid, hdrs, sizeof(hdrs));
	ck_assert_msg(strstr(hdrs, "alice") == NULL, "no milter, yet alice "
	    "in qf%s:\n%s", qid, hdrs);
	fprintf(stderr, "mta-others: sendmail+milter trace, milter stopped: "
	    "127.0.0.2 -> %s (forged header %s)\n", said, strstr(hdrs,
	    "mallory") != NULL ? "kept" : "gone");
	stop_world(&pid, 1);
}
END_TEST

/*
 * Enforce mode: FEATURE(`promiscuous_relay') leaves relaying to the
 * milter, F=T makes a missing milter a temporary failure
 */
START_TEST(sendmail_milter_enforce)
{
	uint16_t port = free_port();
	char qid[64];
	pid_t pid, mpid;
	int code;

	if (!may_run())
		return;
	pid = sm_milter_world("enforce", port, &mpid);
	code = sm_relay("127.0.0.3", port, qid, sizeof(qid));
	ck_assert_msg(code == 550 && strcmp(step, "RCPT") == 0 &&
	    strstr(said, "POP or IMAP") != NULL, "ungranted 127.0.0.3: want "
	    "the milter's 550 to RCPT, got %d at %s (%s)", code, step, said);
	fprintf(stderr, "mta-others: sendmail+milter enforce: 127.0.0.3 -> "
	    "%s\n", said);
	relayed_with("sm-milter", port, "127.0.0.2");
	milter_stop(mpid);
	code = sm_relay("127.0.0.2", port, qid, sizeof(qid));
	ck_assert_msg(code >= 400 && code < 500, "milter stopped, F=T: want "
	    "4xx, got %d at %s (%s)", code, step, said);
	fprintf(stderr, "mta-others: sendmail+milter enforce, milter "
	    "stopped: 127.0.0.2 -> %s at %s\n", said, step);
	stop_world(&pid, 1);
}
END_TEST

/* ---- Exim ---- */

/* the snippet's conditions: its first, then each "# Or ..." block */
enum { EXIM_DBMNZ, EXIM_DRAC_CLI, EXIM_READSOCKET, EXIM_WAYS };

static const char *const exim_names[2 * EXIM_WAYS] = {
	"exim dbmnz -bh", "exim dbmnz daemon",
	"exim drac-cli -bh", "exim drac-cli daemon",
	"exim readsocket -bh", "exim readsocket daemon",
};

/* put_subst - write line to out with from replaced by to; 1 if it was */
static int
put_subst(FILE *out, const char *line, const char *from, const char *to)
{
	const char *m = strstr(line, from);

	if (m == NULL)
		return 0;
	fprintf(out, "%.*s%s%s", (int)(m - line), line, to, m + strlen(from));
	return 1;
}

/* snippet_line - one line of the snippet's condition number way, with
 * the test's map, drac-cli and socketmap port in place of contrib's */
static void
snippet_line(FILE *out, const char *line, const char *dir)
{
	char cli[128], map[64], sock[64];

	snprintf(map, sizeof(map), "%s/dracd.db", STATE);
	snprintf(cli, sizeof(cli), "%s/drac-cli -s 127.0.0.1:%u", dir,
	    d.port);
	snprintf(sock, sizeof(sock), "inet:127.0.0.1:%u", smap);
	if (!put_subst(out, line, "/var/lib/drac/dracd.db", map) &&
	    !put_subst(out, line, "/usr/local/bin/drac-cli", cli) &&
	    !put_subst(out, line, "inet:127.0.0.1:10042", sock))
		fputs(line, out);
}

/*
 * exim_conf - an Exim configuration for a daemon on port that queues
 * everything (it has no routers: nothing is ever delivered), with one of
 * the conditions of contrib's ACL snippet (the others are commented out
 * there) in acl_check_rcpt before the rule that denies relaying
 */
static void
exim_conf(const char *dir, const char *iface, uint16_t port, int way,
    const char *conf)
{
	char line[512], *text = NULL;
	size_t len = 0;
	FILE *in, *out;
	int block = 0;

	ck_assert_ptr_nonnull(out = open_memstream(&text, &len));
	fprintf(out, "primary_hostname = relay.test\n"
	    "exim_user = Debian-exim\nexim_group = Debian-exim\n"
	    "spool_directory = %s/spool\nlog_file_path = %s/%%slog\n"
	    "keep_environment =\ntls_advertise_hosts =\nhost_lookup =\n"
	    "rfc1413_hosts =\nlocal_interfaces = %s\n"
	    "daemon_smtp_ports = %u\nqueue_only = true\n"
	    "domainlist local_domains = relay.test\n"
	    "acl_smtp_rcpt = acl_check_rcpt\n"
	    "begin acl\nacl_check_rcpt:\n"
	    "  accept  domains = +local_domains\n", dir, dir, iface, port);
	ck_assert_ptr_nonnull(in = fopen("contrib/exim/acl_check_rcpt.snippet",
	    "r"));
	while (fgets(line, sizeof(line), in) != NULL) {
		if (strncmp(line, "# Or ", 5) == 0)
			block++;
		else if (block == way && way == 0 && line[0] != '#' &&
		    line[0] != '\n')
			snippet_line(out, line, dir);
		else if (block == way && way > 0 &&
		    strncmp(line, "#  ", 3) == 0)
			snippet_line(out, line + 1, dir);
	}
	fclose(in);
	ck_assert_int_eq(block, EXIM_WAYS - 1);
	fprintf(out, "  deny    message = relay not permitted\n"
	    "begin routers\nbegin transports\n");
	fclose(out);
	write_file(conf, text);
	free(text);
}

/* exim_start - its own spool and log, owned by its user; the daemon in
 * the foreground (-bdf) */
static pid_t
exim_start(struct path *p, const char *name, const char *iface, int way)
{
	char dir[64], pid[96], cmd[PATH_MAX * 2], bin[PATH_MAX + 32];
	const char *argv[] = {bin, "-C", p->conf, "-bdf", "-oP", pid, NULL};
	const char *cli = getenv("DRAC_CLI");

	snprintf(dir, sizeof(dir), "/run/%s", name);
	snprintf(pid, sizeof(pid), "%s/pid", dir);
	snprintf(p->conf, sizeof(p->conf), "%s/exim.conf", dir);
	/* ${run} runs drac-cli as Exim's user, who may not reach into the
	 * build tree: give it a copy */
	snprintf(cmd, sizeof(cmd), "mkdir -m 755 %s && mkdir -m 750 %s/spool "
	    "&& chown Debian-exim:Debian-exim %s %s/spool && "
	    "install -m 755 %s %s/drac-cli", dir, dir, dir, dir,
	    cli != NULL ? cli : "build/drac-cli", dir);
	shell(cmd);
	exim_conf(dir, iface, p->port, way, p->conf);
	snprintf(bin, sizeof(bin), "%s/usr/sbin/exim4", mta);
	return server_start(argv);
}

/* exim_servers - a daemon for each condition, and -bh with its
 * configuration: paths[2 * way] is -bh, paths[2 * way + 1] the daemon */
static void
exim_servers(struct path *paths, pid_t *pid, const char *iface)
{
	char name[32];
	int i;

	for (i = 0; i < 2 * EXIM_WAYS; i++) {
		paths[i].name = exim_names[i];
		paths[i].port = 0;
		paths[i].bound = i / 2 == EXIM_DBMNZ ? MAP_MS : LIVE_MS;
	}
	for (i = 0; i < EXIM_WAYS; i++) {
		paths[2 * i + 1].port = free_port();
		snprintf(name, sizeof(name), "exim-%d", i);
		pid[i] = exim_start(&paths[2 * i + 1], name, iface, i);
		memcpy(paths[2 * i].conf, paths[2 * i + 1].conf,
		    sizeof(paths[0].conf));
	}
	for (i = 0; i < EXIM_WAYS; i++)
		ck_assert_msg(wait_until(greets, &paths[2 * i + 1], 10000),
		    "%s did not come up", paths[2 * i + 1].name);
}

START_TEST(exim_each_condition)
{
	struct path paths[2 * EXIM_WAYS];
	pid_t pid[EXIM_WAYS];

	if (!may_run())
		return;
	start_pop_world();
	exim_servers(paths, pid, "127.0.0.1");
	pop_steps_then_stop(paths, 2 * EXIM_WAYS, pid, EXIM_WAYS);
}
END_TEST

/*
 * Exim names an IPv6 client in full (fd00:0000:...:0002) in
 * $sender_host_address under -bh; dracd's keys are compressed.  Daemons
 * on [::] and 0.0.0.0 (Exim's IPv6 socket takes IPv6 only) with each
 * condition, and -bh: a client from fd00::2 (an address of the
 * namespace's loopback), and one from 127.0.0.2.
 */
START_TEST(exim_ipv6_clients)
{
	static const char *const src[] = {"fd00::2", "127.0.0.2"};
	struct path paths[2 * EXIM_WAYS];
	pid_t pid[EXIM_WAYS];
	char spec[32];
	drac_t *h;
	int i;

	if (!may_run())
		return;
	start_world(LO_FD00);
	exim_servers(paths, pid, "<; ::0 ; 0.0.0.0");
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	expect(paths, 2 * EXIM_WAYS, src[0], 550, 0, "before the grant");
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(drac_add(h, src[i], 0, "alice"), 0);
	expect(paths, 2 * EXIM_WAYS, src[0], 250, 0, "after the grant");
	expect(paths, 2 * EXIM_WAYS, src[1], 250, 0, "after the grant (IPv4)");
	expect(paths, 2 * EXIM_WAYS, "fd00::3", 550, 0,
	    "from an address never granted");
	drac_close(h);
	stop_world(pid, EXIM_WAYS);
}
END_TEST

Suite *
make_mta_others_suite(void)
{
	Suite *s = suite_create("mta-others");
	TCase *tc = tcase_create("sendmail");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, sendmail_map_and_socketmap);
	tcase_add_test(tc, sendmail_ipv6_clients);
	suite_add_tcase(s, tc);
	tc = tcase_create("sendmail_milter");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sendmail_milter_trace);
	tcase_add_test(tc, sendmail_milter_enforce);
	suite_add_tcase(s, tc);
	tc = tcase_create("exim");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, exim_each_condition);
	tcase_add_test(tc, exim_ipv6_clients);
	suite_add_tcase(s, tc);
	return s;
}
