/*
 * group.c - a dracd group for the tests (group.h): members started,
 * stopped, killed, paused and resumed by PID, their roles as they say
 * them, adds and checks at one member, their map files compared.  One
 * thread drives the members (PR_SET_PDEATHSIG is per thread); adds and
 * checks may come from any thread.
 */
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <db.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "drac.h"
#include "drac_prot.h"
#include "group.h"

#define ADD_TIMEOUT_MS	3000	/* an add forwarded to the master, acked */
#define CHECK_TIMEOUT_MS 500

static const char *const role_lines[] = {
	"group: no master",
	"group: this member is a replica of ",
	"group: this member is now the master",
};

static atomic_uint xids = 1;

/* conf_write - member i's dracd.conf: its group_local, the others as
 * group_sites, then the caller's lines.  The second member edits its map
 * in place (map_update = edit), the others rewrite theirs: the tests'
 * "maps alike" hold across both ways. */
static void
conf_write(struct group *g, size_t i, const char *more)
{
	char text[2048], sites[400];
	size_t j, len = 0;

	sites[0] = '\0';
	for (j = 0; j < g->n; j++)
		if (j != i)
			len += (size_t)snprintf(sites + len, sizeof(sites) - len,
			    "%s%s", len ? ", " : "", g->m[j].gaddr);
	snprintf(text, sizeof(text), "rpcbind = no\nadd_rate = 0\naudit_grants = no\n"
	    "%sgroup_local = %s\ngroup_sites = %s\n%s", i == 1 ?
	    "map_update = edit\n" : "", g->m[i].gaddr, sites,
	    more != NULL ? more : "");
	write_file(g->m[i].conf, text);
}

/* port_taken - is port one of the first upto members' already? */
static int
port_taken(const struct group *g, size_t upto, uint16_t port)
{
	char s[32];
	size_t j;

	snprintf(s, sizeof(s), "127.0.0.1:%u", port);
	for (j = 0; j < upto; j++)
		if (g->m[j].d.port == port || strcmp(g->m[j].gaddr, s) == 0)
			return 1;
	return 0;
}

/* group_init - n members, each with its directory, allow file, RPC port,
 * group port and dracd.conf (more: extra lines for every member) */
void
group_init(struct group *g, size_t n, const char *allow_text,
    const char *more)
{
	uint16_t p;
	size_t i;

	ck_assert_uint_le(n, GROUP_MAX);
	memset(g, 0, sizeof(*g));
	g->n = n;
	for (i = 0; i < n; i++) {
		daemon_init(&g->m[i].d, allow_text);
		while (port_taken(g, i, g->m[i].d.port))
			g->m[i].d.port = free_port();
		while (port_taken(g, i, p = free_port()) ||
		    p == g->m[i].d.port)
			;
		snprintf(g->m[i].gaddr, sizeof(g->m[i].gaddr),
		    "127.0.0.1:%u", p);
		snprintf(g->m[i].conf, sizeof(g->m[i].conf), "%s/dracd.conf",
		    g->m[i].d.dir);
	}
	for (i = 0; i < n; i++)
		conf_write(g, i, more);
}

/* group_spawn - start member i's dracd (no wait); its log goes on where
 * the last process's ended */
void
group_spawn(struct group *g, size_t i)
{
	struct member *m = &g->m[i];
	const char *bin = getenv("DRACD");
	const char *argv[16];
	char port[16];
	struct stat st;
	size_t n = 0;
	int fd;

	ck_assert_int_le(m->d.pid, 0);
	snprintf(port, sizeof(port), "%u", m->d.port);
	argv[n++] = bin != NULL ? bin : "build/dracd";
	argv[n++] = "-f";
	argv[n++] = "-c";
	argv[n++] = m->conf;
	argv[n++] = "-l";
	argv[n++] = "127.0.0.1";
	argv[n++] = "-p";
	argv[n++] = port;
	argv[n++] = "-a";
	argv[n++] = m->d.allow;
	argv[n++] = m->d.db;
	argv[n] = NULL;
	m->logpos = stat(m->d.log, &st) == 0 ? st.st_size : 0;
	m->paused = 0;
	m->d.pid = fork();
	ck_assert(m->d.pid >= 0);
	if (m->d.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(m->d.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
}

/* alive - is member i's process still there (reaped if not)? */
static int
alive(struct member *m)
{
	if (m->d.pid <= 0)
		return 0;
	if (waitpid(m->d.pid, NULL, WNOHANG) == m->d.pid) {
		m->d.pid = 0;
		return 0;
	}
	return 1;
}

/*
 * group_revive - as systemd's Restart=on-failure: every member whose
 * process exited because its group thread waited on Berkeley DB too
 * long (store_group.c, watch_main) is started again; any other exit
 * fails the test.  How many were started.
 */
size_t
group_revive(struct group *g)
{
	size_t i, n = 0;

	for (i = 0; i < g->n; i++) {
		struct member *m = &g->m[i];

		if (m->d.pid <= 0 || m->paused || alive(m))
			continue;
		ck_assert_msg(group_log_wait(g, i, "exiting, for the service "
		    "manager", 0), "member %zu exited:\n%s", i, group_tail(g,
		    i, (char[4096]){0}, 4096));
		group_spawn(g, i);
		n++;
	}
	return n;
}

/*
 * group_hold - stop one thread of member i's dracd, the first (lowest
 * id) whose name is comm, while the others run on (ptrace's interrupt
 * stops a single thread): a thread held inside a call that never
 * returns.  The thread's id.
 */
pid_t
group_hold(struct group *g, size_t i, const char *comm)
{
	char path[128], name[64];
	struct dirent *de;
	pid_t tid = 0, t;
	DIR *d;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)g->m[i].d.pid);
	ck_assert_ptr_nonnull(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		if ((t = (pid_t)atoi(de->d_name)) <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/comm",
		    (int)g->m[i].d.pid, (int)t);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(name, sizeof(name), f) != NULL) {
			name[strcspn(name, "\n")] = '\0';
			if (strcmp(name, comm) == 0 && (tid == 0 || t < tid))
				tid = t;
		}
		fclose(f);
	}
	closedir(d);
	ck_assert_msg(tid > 0, "member %zu has no thread %s", i, comm);
	ck_assert_int_eq(ptrace(PTRACE_SEIZE, tid, NULL, NULL), 0);
	ck_assert_int_eq(ptrace(PTRACE_INTERRUPT, tid, NULL, NULL), 0);
	return tid;
}

/* ping - one NULL call over UDP answered? */
static int
ping(const struct member *m)
{
	uint8_t req[64], rep[256];
	uint32_t xid = atomic_fetch_add(&xids, 1);
	size_t n = rpc_header(req, xid, 900101, 3, 0);
	ssize_t got = udp_exchange("127.0.0.1", m->d.port, req, n, rep,
	    sizeof(rep), 100);

	return reply_status(rep, got, xid, NULL) == SUCCESS;
}

/* group_up - wait up to ms until member i answers; 0, or -1 if it did
 * not (or exited) */
int
group_up(struct group *g, size_t i, int64_t ms)
{
	int64_t end = now_ms() + ms;

	while (now_ms() < end) {
		if (!alive(&g->m[i]))
			return -1;
		if (ping(&g->m[i]))
			return 0;
	}
	return -1;
}

/* group_start - spawn the members in the given order, then wait until
 * every one answers */
void
group_start(struct group *g, const size_t *order)
{
	char tails[8192];
	size_t i;

	for (i = 0; i < g->n; i++)
		group_spawn(g, order != NULL ? order[i] : i);
	for (i = 0; i < g->n; i++)
		ck_assert_msg(group_up(g, i, 10000) == 0, "member %zu did not "
		    "start:\n%s", i, group_tails(g, tails, sizeof(tails)));
}

/* group_shuffle - order 0..n-1 at random */
void
group_shuffle(size_t *order, size_t n)
{
	size_t i, j, t;

	srand((unsigned int)(time(NULL) ^ getpid()));
	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n; i > 1; i--) {
		j = (size_t)rand() % i;
		t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
}

/* group_kill - SIGKILL member i and reap it */
void
group_kill(struct group *g, size_t i)
{
	struct member *m = &g->m[i];

	if (m->d.pid > 0 && m->paused)
		kill(m->d.pid, SIGCONT);
	m->paused = 0;
	daemon_kill(&m->d);
}

/* group_term - SIGTERM member i and wait for its exit; its status */
int
group_term(struct group *g, size_t i)
{
	if (g->m[i].paused)
		group_resume(g, i);
	return daemon_stop(&g->m[i].d);
}

/* group_pause - SIGSTOP member i */
void
group_pause(struct group *g, size_t i)
{
	ck_assert_int_gt(g->m[i].d.pid, 0);
	ck_assert_int_eq(kill(g->m[i].d.pid, SIGSTOP), 0);
	g->m[i].paused = 1;
}

/* group_resume - SIGCONT member i */
void
group_resume(struct group *g, size_t i)
{
	ck_assert_int_gt(g->m[i].d.pid, 0);
	ck_assert_int_eq(kill(g->m[i].d.pid, SIGCONT), 0);
	g->m[i].paused = 0;
}

/* group_teardown - kill every member still running, by PID */
void
group_teardown(struct group *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		group_kill(g, i);
}

static void save_logs(const struct group *g);

/* group_sanitized - does no member's log hold a sanitizer's or
 * valgrind's report (make check-asan, check-tsan, check-valgrind)?  0 and
 * the member in *which if one does */
int
group_sanitized(const struct group *g, size_t *which)
{
	static const char *const marks[] = {"ERROR: AddressSanitizer",
	    "WARNING: ThreadSanitizer", "runtime error:",
	    "ERROR: LeakSanitizer", "Invalid read of", "Invalid write of",
	    "Conditional jump or move depends", "Syscall param",
	    "Invalid free", "definitely lost in"};
	size_t i, k;

	for (i = 0; i < g->n; i++)
		for (k = 0; k < sizeof(marks) / sizeof(marks[0]); k++)
			if (log_contains(&g->m[i].d, marks[k])) {
				*which = i;
				save_logs(g);	/* the report kept */
				return 0;
			}
	return 1;
}

/* log_since - member i's log from where its running process began, in a
 * new buffer the caller frees (NULL: none) */
static char *
log_since(const struct member *m, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t got;
	int fd;

	if ((fd = open(m->d.log, O_RDONLY)) < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size < m->logpos ||
	    (buf = malloc((size_t)(st.st_size - m->logpos) + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	got = pread(fd, buf, (size_t)(st.st_size - m->logpos), m->logpos);
	close(fd);
	*len = got > 0 ? (size_t)got : 0;
	buf[*len] = '\0';
	return buf;
}

/* memrmem_last - the last occurrence of needle in buf, or NULL */
static const char *
last_of(const char *buf, const char *needle)
{
	const char *p, *last = NULL;

	for (p = buf; (p = strstr(p, needle)) != NULL; p++)
		last = p;
	return last;
}

/* log_role - what member i's running process logged last about its
 * role */
static enum group_role
log_role(const struct member *m)
{
	enum group_role r = GROUP_NONE;
	const char *best = NULL, *p;
	size_t len, k;
	char *log;

	if ((log = log_since(m, &len)) == NULL)
		return GROUP_NONE;
	for (k = 0; k < sizeof(role_lines) / sizeof(role_lines[0]); k++)
		if ((p = last_of(log, role_lines[k])) != NULL &&
		    (best == NULL || p > best)) {
			best = p;
			r = (enum group_role)k;
		}
	free(log);
	return r;
}

/* group_ask - what member i says of its group (the GROUP call, admin);
 * 0, or a libdrac error */
int
group_ask(const struct group *g, size_t i, struct drac_group *out)
{
	struct drac_options o = {300, 1, DRAC_UDP, NULL};
	char server[64];
	drac_t *h;
	int rc;

	snprintf(server, sizeof(server), "127.0.0.1:%u", g->m[i].d.port);
	if ((rc = drac_open(&h, server, &o)) < 0)
		return rc;
	rc = drac_group(h, out);
	drac_close(h);
	return rc;
}

/*
 * group_role - member i's role as it says it now (the GROUP call), or,
 * with GROUP_ROLES=log in the environment, as it logged last since its
 * start; GROUP_DOWN while it is not running or paused, GROUP_NONE when it
 * does not answer
 */
enum group_role
group_role(struct group *g, size_t i)
{
	struct member *m = &g->m[i];
	const char *how = getenv("GROUP_ROLES");
	struct drac_group *dg;
	enum group_role r = GROUP_NONE;

	if (!alive(m) || m->paused)
		return GROUP_DOWN;
	if (how != NULL && strcmp(how, "log") == 0)
		return log_role(m);
	ck_assert_ptr_nonnull(dg = calloc(1, sizeof(*dg)));
	if (group_ask(g, i, dg) == 0 && dg->enabled)
		r = dg->role == DRAC_GROUP_MASTER ? GROUP_MASTER :
		    dg->role == DRAC_GROUP_REPLICA ? GROUP_REPLICA : GROUP_NONE;
	free(dg);
	return r;
}

/* group_view - every member's view of the group, a line each, into buf */
const char *
group_view(const struct group *g, char *buf, size_t len)
{
	static const char *const roles[] = {"none", "replica", "master"};
	struct drac_group *dg;
	size_t i, used = 0;
	unsigned int k;
	int rc;

	buf[0] = '\0';
	ck_assert_ptr_nonnull(dg = calloc(1, sizeof(*dg)));
	for (i = 0; i < g->n && used < len; i++) {
		memset(dg, 0, sizeof(*dg));
		if (g->m[i].d.pid <= 0 || g->m[i].paused)
			rc = DRAC_E_DOWN;
		else
			rc = group_ask(g, i, dg);
		if (rc < 0) {
			used += (size_t)snprintf(buf + used, len - used,
			    "member %zu: %s\n", i, g->m[i].paused ? "paused" :
			    g->m[i].d.pid <= 0 ? "down" : drac_strerror(rc));
			continue;
		}
		used += (size_t)snprintf(buf + used, len - used, "member %zu: "
		    "role=%s master=%s seq=%llu sites:", i,
		    roles[dg->role >= 0 && dg->role <= 2 ? dg->role : 0],
		    dg->master[0] ? dg->master : "-",
		    (unsigned long long)dg->seq);
		for (k = 0; k < dg->nsites && used < len; k++)
			used += (size_t)snprintf(buf + used, len - used,
			    " %s%s%s", dg->sites[k].addr, dg->sites[k].connected ?
			    "" : "(down)", dg->sites[k].master ? "(m)" : "");
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used, "\n");
	}
	free(dg);
	return buf;
}

/* group_masters - how many running members say they are the master;
 * which: the last such */
int
group_masters(struct group *g, int *which)
{
	int count = 0;
	size_t i;

	for (i = 0; i < g->n; i++)
		if (group_role(g, i) == GROUP_MASTER) {
			count++;
			if (which != NULL)
				*which = (int)i;
		}
	return count;
}

/* settled - exactly one master and every other running member its
 * replica? the master's index, else -1 */
static int
settled(struct group *g)
{
	int master = -1;
	size_t i;

	for (i = 0; i < g->n; i++)
		switch (group_role(g, i)) {
		case GROUP_MASTER:
			if (master >= 0)
				return -1;
			master = (int)i;
			break;
		case GROUP_REPLICA:
		case GROUP_DOWN:
			break;
		default:
			return -1;
		}
	return master;
}

/* group_settled - wait up to ms for one master and replicas only; the
 * master's index, or -1 */
int
group_settled(struct group *g, int64_t ms)
{
	int64_t end = now_ms() + ms;
	struct timespec ts = {0, 5 * 1000000L};
	int master;

	for (;;) {
		if ((master = settled(g)) >= 0)
			return master;
		if (now_ms() > end)
			return -1;
		nanosleep(&ts, NULL);
	}
}

/* group_log_wait - wait up to ms until member i's running process has
 * logged needle; 1 if it did */
int
group_log_wait(struct group *g, size_t i, const char *needle, int64_t ms)
{
	int64_t end = now_ms() + ms;
	struct timespec ts = {0, 5 * 1000000L};
	size_t len;
	char *log;
	int found;

	for (;;) {
		log = log_since(&g->m[i], &len);
		found = log != NULL && strstr(log, needle) != NULL;
		free(log);
		if (found)
			return 1;
		if (now_ms() > end)
			return 0;
		nanosleep(&ts, NULL);
	}
}

/* group_tail - the end of member i's whole log, for a failure message;
 * into buf */
const char *
group_tail(const struct group *g, size_t i, char *buf, size_t len)
{
	struct stat st;
	off_t from;
	ssize_t got;
	int fd;

	buf[0] = '\0';
	if ((fd = open(g->m[i].d.log, O_RDONLY)) < 0)
		return buf;
	if (fstat(fd, &st) == 0) {
		from = st.st_size > (off_t)len - 1 ? st.st_size -
		    ((off_t)len - 1) : 0;
		got = pread(fd, buf, len - 1, from);
		buf[got > 0 ? got : 0] = '\0';
	}
	close(fd);
	return buf;
}

/* save_logs - with GROUP_LOGDIR set, every member's whole log copied
 * there (member-I.log), for a failure looked at after the test */
static void
save_logs(const struct group *g)
{
	const char *dir = getenv("GROUP_LOGDIR");
	char path[512], buf[8192];
	FILE *in, *out;
	size_t i, n;

	if (dir == NULL)
		return;
	for (i = 0; i < g->n; i++) {
		snprintf(path, sizeof(path), "%s/member-%zu.log", dir, i);
		if ((in = fopen(g->m[i].d.log, "r")) == NULL)
			continue;
		if ((out = fopen(path, "w")) != NULL) {
			while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
				fwrite(buf, 1, n, out);
			fclose(out);
		}
		fclose(in);
	}
}

/* save_stacks - with GROUP_LOGDIR set, every running member's threads
 * as gdb shows them (stack-I.txt), when gdb is installed: where a member
 * that stopped answering waits */
static void
save_stacks(const struct group *g)
{
	const char *dir = getenv("GROUP_LOGDIR");
	size_t i, cap = 512 * 1024;
	char path[512], pid[32], *out;
	FILE *f;

	if (dir == NULL || access("/usr/bin/gdb", X_OK) != 0 ||
	    (out = malloc(cap)) == NULL)
		return;
	for (i = 0; i < g->n; i++) {
		if (g->m[i].d.pid <= 0)
			continue;
		snprintf(pid, sizeof(pid), "%d", (int)g->m[i].d.pid);
		out[0] = '\0';
		(void)run_prog((const char *const[]){"/usr/bin/gdb", "-p", pid,
		    "-batch", "-ex", "thread apply all bt", NULL}, NULL, out,
		    cap, 30000);
		snprintf(path, sizeof(path), "%s/stack-%zu.txt", dir, i);
		if ((f = fopen(path, "w")) != NULL) {
			fputs(out, f);
			fclose(f);
		}
	}
	free(out);
}

/* group_tails - the end of every member's log, labelled, into buf (a
 * share of it each); GROUP_LOGDIR: the whole logs saved there too */
const char *
group_tails(const struct group *g, char *buf, size_t len)
{
	char one[2048];
	size_t i, used, share;

	save_logs(g);
	save_stacks(g);
	group_view(g, buf, len / 3);
	used = strlen(buf);
	share = g->n > 0 ? (len - used) / g->n - 80 : 0;
	if (share > sizeof(one))
		share = sizeof(one);
	for (i = 0; i < g->n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used,
		    "--- member %zu (rpc %u, group %s) ---\n%s", i,
		    g->m[i].d.port, g->m[i].gaddr,
		    group_tail(g, i, one, share));
	return buf;
}

/* group_addr - the k-th test address of series base: 10.base.x.y */
void
group_addr(char *buf, size_t len, unsigned int base, unsigned int k)
{
	snprintf(buf, len, "10.%u.%u.%u", base & 255, (k >> 8) & 255,
	    k & 255);
}

/* tcp_client - a v3 TCP client from src to member i, or NULL if the
 * connection fails (a member down) */
static CLIENT *
tcp_client(const struct member *m, const char *src, int timeout_ms)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	struct sockaddr_in sa, me;
	CLIENT *c;
	int fd, one = 1;

	memset(&me, 0, sizeof(me));
	me.sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, src, &me.sin_addr), 1);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(m->d.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (c = clnttcp_create(&sa, 900101, 3, &fd, 0, 0)) == NULL) {
		close(fd);
		return NULL;
	}
	clnt_control(c, CLSET_FD_CLOSE, NULL);
	clnt_control(c, CLSET_TIMEOUT, (char *)&tv);
	return c;
}

/* group_add - a v3 ADD of addr (ttl seconds, 0 the default) from source
 * src at member i over TCP; its drac_stat, -1 if no answer came */
int
group_add(struct group *g, size_t i, const char *src, const char *addr,
    unsigned int ttl)
{
	CLIENT *c = tcp_client(&g->m[i], src, ADD_TIMEOUT_MS);
	add3_args args;
	add3_res res;
	int rc = -1;

	if (c == NULL)
		return -1;
	memset(&args, 0, sizeof(args));
	args.addr.af = DRAC_AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, addr, args.addr.drac_addr_u.v4),
	    1);
	args.ttl = ttl;
	args.user = "";
	memset(&res, 0, sizeof(res));
	if (dracproc3_add_3(&args, &res, c) == RPC_SUCCESS)
		rc = (int)res.stat;
	clnt_destroy(c);
	return rc;
}

/* group_add_many - adds of 10.base.x.y for k in [from, to) (ttl
 * seconds) from 127.0.0.1 at member i over one TCP connection, made
 * again after a failure; a refused add is tried again, twice at most,
 * as a client would (*retried counts them); how many were acknowledged */
size_t
group_add_many(struct group *g, size_t i, unsigned int base,
    unsigned int from, unsigned int to, unsigned int ttl, size_t *retried)
{
	CLIENT *c = NULL;
	add3_args args;
	add3_res res;
	char addr[32];
	size_t acked = 0;
	unsigned int k, tries = 0;

	*retried = 0;
	for (k = from; k < to; k++) {
		if (c == NULL && (c = tcp_client(&g->m[i], "127.0.0.1",
		    ADD_TIMEOUT_MS)) == NULL)
			continue;
		group_addr(addr, sizeof(addr), base, k);
		memset(&args, 0, sizeof(args));
		args.addr.af = DRAC_AF_INET;
		inet_pton(AF_INET, addr, args.addr.drac_addr_u.v4);
		args.ttl = ttl;
		args.user = "";
		memset(&res, 0, sizeof(res));
		if (dracproc3_add_3(&args, &res, c) != RPC_SUCCESS) {
			clnt_destroy(c);
			c = NULL;
		} else if (res.stat == DRAC_OK)
			acked++;
		else if (tries++ < 2) {
			(*retried)++;
			k--;	/* the same add again */
			continue;
		}
		tries = 0;
	}
	if (c != NULL)
		clnt_destroy(c);
	return acked;
}

/* group_check - a v3 CHECK of addr at member i over UDP, built by hand:
 * 1 allowed, 0 not, -1 no answer or another status */
int
group_check(struct group *g, size_t i, const char *addr)
{
	uint8_t req[64], rep[256], a[4];
	uint32_t xid = atomic_fetch_add(&xids, 1), stat;
	size_t n = rpc_header(req, xid, 900101, 3, 2);
	ssize_t got;

	ck_assert_int_eq(inet_pton(AF_INET, addr, a), 1);
	n += put32(req + n, DRAC_AF_INET);
	memcpy(req + n, a, 4);
	n += 4;
	got = udp_exchange("127.0.0.1", g->m[i].d.port, req, n, rep,
	    sizeof(rep), CHECK_TIMEOUT_MS);
	if (reply_status(rep, got, xid, &stat) != SUCCESS)
		return -1;
	return stat == DRAC_OK ? 1 : stat == DRAC_NOTFOUND ? 0 : -1;
}

/* until_check - poll member i about addr every 0.5 ms until the answer is
 * want or ms pass; 1 if it came */
static int
until_check(struct group *g, size_t i, const char *addr, int want,
    int64_t ms)
{
	int64_t end = now_ms() + ms;
	struct timespec ts = {0, 500 * 1000L};

	for (;;) {
		if (group_check(g, i, addr) == want)
			return 1;
		if (now_ms() > end)
			return 0;
		nanosleep(&ts, NULL);
	}
}

/* group_allowed_at - wait up to ms until member i says addr is allowed */
int
group_allowed_at(struct group *g, size_t i, const char *addr, int64_t ms)
{
	return until_check(g, i, addr, 1, ms);
}

/* group_gone_at - wait up to ms until member i says addr is not allowed */
int
group_gone_at(struct group *g, size_t i, const char *addr, int64_t ms)
{
	return until_check(g, i, addr, 0, ms);
}

/* a map read whole: "key=value" lines, sorted */
struct maplist {
	char **recs;
	size_t n, cap;
};

/* rec_cmp - qsort: by text */
static int
rec_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* map_list - every record of the map file at path; -1 if unreadable */
static int
map_list(const char *path, struct maplist *l)
{
	DB *db;
	DBC *c;
	DBT k, v;
	char *rec;
	int rc = -1;

	memset(l, 0, sizeof(*l));
	if (db_create(&db, NULL, 0) != 0)
		return -1;
	if (db->open(db, NULL, path, NULL, DB_UNKNOWN, DB_RDONLY, 0) == 0 &&
	    db->cursor(db, NULL, &c, 0) == 0) {
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		while (c->get(c, &k, &v, DB_NEXT) == 0) {
			if (l->n == l->cap) {
				l->cap = l->cap ? 2 * l->cap : 256;
				l->recs = realloc(l->recs, l->cap *
				    sizeof(*l->recs));
				ck_assert_ptr_nonnull(l->recs);
			}
			ck_assert(asprintf(&rec, "%.*s=%.*s", (int)k.size,
			    (char *)k.data, (int)v.size, (char *)v.data) > 0);
			l->recs[l->n++] = rec;
		}
		c->close(c);
		rc = 0;
	}
	db->close(db, 0);
	if (l->n > 1)
		qsort(l->recs, l->n, sizeof(*l->recs), rec_cmp);
	return rc;
}

/* map_list_free - free what map_list made */
static void
map_list_free(struct maplist *l)
{
	while (l->n > 0)
		free(l->recs[--l->n]);
	free(l->recs);
}

/* list_diff - the first difference of two sorted lists into why; 0 none */
static int
list_diff(const struct maplist *x, const struct maplist *y, size_t a,
    size_t b, char *why, size_t len)
{
	size_t i = 0, j = 0;
	int c;

	while (i < x->n || j < y->n) {
		c = i == x->n ? 1 : j == y->n ? -1 : strcmp(x->recs[i],
		    y->recs[j]);
		if (c != 0) {
			snprintf(why, len, "maps of members %zu (%zu records) "
			    "and %zu (%zu records) differ: %s %s only in %zu",
			    a, x->n, b, y->n, c < 0 ? x->recs[i] : y->recs[j],
			    c < 0 ? "in" : "is", c < 0 ? a : b);
			return 1;
		}
		i++, j++;
	}
	return 0;
}

/* group_map_diff - do the map files of members a and b hold the same
 * records?  0 yes, 1 no, -1 one unreadable; why says */
int
group_map_diff(const struct group *g, size_t a, size_t b, char *why,
    size_t len)
{
	struct maplist x, y;
	int rc;

	why[0] = '\0';
	if (map_list(g->m[a].d.db, &x) < 0 || map_list(g->m[b].d.db, &y) < 0) {
		snprintf(why, len, "map of member %zu or %zu unreadable", a, b);
		rc = -1;
	} else
		rc = list_diff(&x, &y, a, b, why, len);
	map_list_free(&x);
	map_list_free(&y);
	return rc;
}

/* group_maps_same - wait up to ms until every member's map holds the
 * same records as member 0's; 1 if so, else why says the last diff */
int
group_maps_same(struct group *g, int64_t ms, char *why, size_t len)
{
	int64_t end = now_ms() + ms;
	struct timespec ts = {0, 20 * 1000000L};
	size_t i;

	for (;;) {
		for (i = 1; i < g->n; i++)
			if (group_map_diff(g, 0, i, why, len) != 0)
				break;
		if (i == g->n)
			return 1;
		if (now_ms() > end)
			return 0;
		nanosleep(&ts, NULL);
	}
}

/* group_map_holds - does member i's map file hold addr (any form of the
 * key: plain or /32, with or without a NUL)? */
int
group_map_holds(const struct group *g, size_t i, const char *addr)
{
	char key[64];

	snprintf(key, sizeof(key), "%s/32", addr);
	return map_get(g->m[i].d.db, addr, strlen(addr), NULL, 0) == 1 ||
	    map_get(g->m[i].d.db, addr, strlen(addr) + 1, NULL, 0) == 1 ||
	    map_get(g->m[i].d.db, key, strlen(key), NULL, 0) == 1 ||
	    map_get(g->m[i].d.db, key, strlen(key) + 1, NULL, 0) == 1;
}

/* group_map_wait - wait up to ms until member i's map holds addr (want
 * 1) or does not (want 0); 1 if so */
int
group_map_wait(struct group *g, size_t i, const char *addr, int want,
    int64_t ms)
{
	int64_t end = now_ms() + ms;
	struct timespec ts = {0, 20 * 1000000L};

	for (;;) {
		if (group_map_holds(g, i, addr) == want)
			return 1;
		if (now_ms() > end)
			return 0;
		nanosleep(&ts, NULL);
	}
}
