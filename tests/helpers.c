/*
 * helpers.c - test support.  Every process started here is started with
 * PR_SET_PDEATHSIG, so it dies with the test even when the test crashes,
 * and is stopped by PID in daemon_stop.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "helpers.h"

static char made[64][64];	/* directories this test process made */
static size_t nmade;
static pid_t maker;		/* the process that made them */

/* rm_one - nftw callback: remove one file or directory */
static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	remove(p);
	return 0;
}

/* rm_made - at exit: remove the directories made by tmpdir */
static void
rm_made(void)
{
	if (getpid() != maker)
		return;	/* a forked test: the maker cleans up */
	while (nmade > 0)
		nftw(made[--nmade], rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* tmpdir - a new directory under /tmp, removed when the test exits */
char *
tmpdir(void)
{
	ck_assert_uint_lt(nmade, sizeof(made) / sizeof(made[0]));
	snprintf(made[nmade], sizeof(made[0]), "/tmp/dracd-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(made[nmade]));
	chmod(made[nmade], 0755);
	if (nmade == 0 || maker != getpid()) {
		nmade = 0;	/* a fork starts a list of its own */
		maker = getpid();
		atexit(rm_made);
	}
	return made[nmade++];
}

/* write_file - replace path with text */
void
write_file(const char *path, const char *text)
{
	char tmp[512];
	FILE *fp;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	ck_assert_ptr_nonnull(fp = fopen(tmp, "w"));
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
}

/* now_ms - monotonic milliseconds */
int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait_until - poll cond every 10 ms until true or ms pass; 1 if true */
int
wait_until(int (*cond)(void *), void *arg, int64_t ms)
{
	int64_t end = now_ms() + ms;
	struct timespec ts = {0, 10 * 1000000L};

	for (;;) {
		if (cond(arg))
			return 1;
		if (now_ms() > end)
			return 0;
		nanosleep(&ts, NULL);
	}
}

/* free_port - a port free for both UDP and TCP on 127.0.0.1 just now */
uint16_t
free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int t, u;

	for (;;) {
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		t = socket(AF_INET, SOCK_STREAM, 0);
		u = socket(AF_INET, SOCK_DGRAM, 0);
		ck_assert(t >= 0 && u >= 0);
		ck_assert_int_eq(bind(t, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ck_assert_int_eq(getsockname(t, (struct sockaddr *)&sa, &len),
		    0);
		if (bind(u, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(t);
			close(u);
			return ntohs(sa.sin_port);
		}
		close(t);
		close(u);
	}
}

/* daemon_init - a fresh directory, an allow file (NULL: none) and a port */
void
daemon_init(struct daemon *d, const char *allow_text)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "%s", tmpdir());
	snprintf(d->db, sizeof(d->db), "%s/dracd.db", d->dir);
	snprintf(d->allow, sizeof(d->allow), "%s/dracd.allow", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/log", d->dir);
	if (allow_text != NULL)
		write_file(d->allow, allow_text);
	d->port = free_port();
}

/* spawn - fork and exec dracd with its output in d->log */
static pid_t
spawn(struct daemon *d, const char *const *extra)
{
	const char *argv[48];
	char port[16];
	const char *bin = getenv("DRACD");
	size_t n = 0, i;
	pid_t pid;
	int fd;

	snprintf(port, sizeof(port), "%u", d->port);
	argv[n++] = bin != NULL ? bin : "build/dracd";
	argv[n++] = "-f";
	argv[n++] = "-c";
	argv[n++] = "/dev/null";
	argv[n++] = "-l";
	argv[n++] = "127.0.0.1";
	argv[n++] = "-p";
	argv[n++] = port;
	argv[n++] = "-a";
	argv[n++] = d->allow;
	for (i = 0; extra != NULL && extra[i] != NULL && n < 46; i++)
		argv[n++] = extra[i];
	argv[n++] = d->db;
	argv[n] = NULL;
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* ping - one NULL call over UDP answered? */
static int
ping(void *arg)
{
	struct daemon *d = arg;
	uint8_t req[64], rep[256];
	size_t n = rpc_header(req, 7, 900101, 1, 0);
	ssize_t got = udp_exchange("127.0.0.1", d->port, req, n, rep,
	    sizeof(rep), 100);

	return reply_status(rep, got, 7, NULL) == SUCCESS;
}

/* daemon_start - start dracd and wait until it answers; 0 on success */
int
daemon_start(struct daemon *d, const char *const *extra)
{
	/* under valgrind a start takes seconds, more on a busy machine */
	int64_t end = now_ms() + (getenv("DRACD_UNDER_VALGRIND") != NULL ?
	    4 : 1) * WAIT_MS;
	int st;

	d->pid = spawn(d, extra);
	while (now_ms() < end) {
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			return -1;
		}
		if (ping(d))
			return 0;
	}
	daemon_kill(d);
	return -1;
}

/* daemon_run - run dracd to its exit; its status, output in out */
int
daemon_run(struct daemon *d, const char *const *extra, int64_t ms,
    char *out, size_t outlen)
{
	int64_t end = now_ms() + ms;
	int st = -1;
	FILE *fp;
	size_t n;

	unlink(d->log);
	d->pid = spawn(d, extra);
	while (waitpid(d->pid, &st, WNOHANG) != d->pid) {
		if (now_ms() > end) {
			daemon_kill(d);
			return -1;
		}
		usleep(10000);
	}
	d->pid = 0;
	out[0] = '\0';
	if ((fp = fopen(d->log, "r")) != NULL) {
		n = fread(out, 1, outlen - 1, fp);
		out[n] = '\0';
		fclose(fp);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* daemon_stop - SIGTERM, wait for the exit; its status, -1 if killed */
int
daemon_stop(struct daemon *d)
{
	int64_t end = now_ms() + WAIT_MS;
	int st;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	while (now_ms() < end) {
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		}
		usleep(5000);
	}
	daemon_kill(d);
	return -1;
}

/* daemon_kill - SIGKILL and reap */
void
daemon_kill(struct daemon *d)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	d->pid = 0;
}

/* log_count - how many times needle appears in the daemon's output */
int
log_count(const struct daemon *d, const char *needle)
{
	char buf[65536], *p;
	int count = 0;
	size_t n;
	FILE *fp;

	if ((fp = fopen(d->log, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	for (p = buf; (p = strstr(p, needle)) != NULL; p++)
		count++;
	return count;
}

/* log_contains - does the daemon's output contain needle? */
int
log_contains(const struct daemon *d, const char *needle)
{
	return log_count(d, needle) > 0;
}

/* put32 - one big-endian XDR unit at p; its length, 4 */
size_t
put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
	return 4;
}

/*
 * rpc_header - an RPC call header with AUTH_NONE, built by hand so that
 * the wire format is checked independently of rpcgen; its length (40).
 */
size_t
rpc_header(uint8_t *buf, uint32_t xid, uint32_t prog, uint32_t vers,
    uint32_t proc)
{
	const uint32_t w[10] = {xid, 0, 2, prog, vers, proc, 0, 0, 0, 0};
	size_t i;

	for (i = 0; i < 10; i++)
		put32(buf + 4 * i, w[i]);
	return 40;
}

/*
 * dial - a socket of the given type bound to address src and connected
 * to 127.0.0.1:port (a UDP socket too); -1 when the connect fails.  to,
 * if not NULL, receives the server's address.
 */
int
dial(const char *src, uint16_t port, int type, struct sockaddr_in *to)
{
	struct sockaddr_in sa, me;
	int fd = socket(AF_INET, type, 0);

	ck_assert(fd >= 0);
	memset(&me, 0, sizeof(me));
	me.sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, src, &me.sin_addr), 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (to != NULL)
		*to = sa;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* udp_exchange - send one datagram from src, await one reply */
ssize_t
udp_exchange(const char *src, uint16_t port, const void *req, size_t len,
    uint8_t *reply, size_t cap, int timeout_ms)
{
	struct pollfd pfd;
	ssize_t got = -1;
	int fd = dial(src, port, SOCK_DGRAM, NULL);

	ck_assert(fd >= 0);
	if (send(fd, req, len, 0) == (ssize_t)len) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, timeout_ms) == 1)
			got = recv(fd, reply, cap, 0);
	}
	close(fd);
	return got;
}

/* get32 - one big-endian XDR unit */
static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

/*
 * reply_status - the accept_stat of an accepted reply to xid (and its
 * first result word when wanted); -1 for no, another, or a denied reply.
 */
int
reply_status(const uint8_t *r, ssize_t len, uint32_t xid, uint32_t *result)
{
	if (len < 24 || get32(r) != xid || get32(r + 4) != 1 ||
	    get32(r + 8) != 0)
		return -1;
	if (result != NULL)
		*result = len >= 28 ? get32(r + 24) : 0xffffffff;
	return (int)get32(r + 20);
}

/* client_v3 - an rpcgen client for version 3 from source address src */
CLIENT *
client_v3(const char *src, uint16_t port, int tcp)
{
	struct timeval tv = {2, 0};
	struct sockaddr_in sa;
	CLIENT *c;
	int fd = dial(src, port, tcp ? SOCK_STREAM : SOCK_DGRAM, &sa);

	ck_assert(fd >= 0);
	if (tcp)
		c = clnttcp_create(&sa, 900101, 3, &fd, 0, 0);
	else
		c = clntudp_create(&sa, 900101, 3, tv, &fd);
	ck_assert_ptr_nonnull(c);
	clnt_control(c, CLSET_FD_CLOSE, NULL);
	clnt_control(c, CLSET_TIMEOUT, (char *)&tv);
	return c;
}

/* the buffer map_lookup hands its Berkeley DB handle for messages */
struct map_why {
	char *buf;
	size_t len;
};

struct lossy {
	pthread_t thread;
	int fd;			/* where the client sends */
	uint16_t to;		/* dracd's port */
	int lose, lost, relayed;
	int replies;		/* DOUBLE_REQUEST: identical replies, or -1 */
	char spec[32];
};

/* lossy_double - send a request twice at once, relay the first reply,
 * and count the replies that come within a while */
static void
lossy_double(struct lossy *r, int up, const struct sockaddr_in *to,
    const uint8_t *req, size_t reqlen, const struct sockaddr_in *from,
    socklen_t fromlen)
{
	struct timeval tv = {0, 500 * 1000};
	uint8_t first[2048], buf[2048];
	ssize_t n, n1 = -1;

	if (sendto(up, req, reqlen, 0, (const struct sockaddr *)to,
	    sizeof(*to)) != (ssize_t)reqlen || sendto(up, req, reqlen, 0,
	    (const struct sockaddr *)to, sizeof(*to)) != (ssize_t)reqlen)
		return;
	while ((n = recv(up, buf, sizeof(buf), 0)) > 0) {
		if (n1 < 0) {
			memcpy(first, buf, (size_t)n);
			n1 = n;
			/* the client's call says whether this arrived */
			sendto(r->fd, buf, (size_t)n, 0,
			    (const struct sockaddr *)from, fromlen);
			/* a second reply, if any, comes at once */
			setsockopt(up, SOL_SOCKET, SO_RCVTIMEO, &tv,
			    sizeof(tv));
		} else if (n != n1 || memcmp(buf, first, (size_t)n) != 0) {
			r->replies = -1;
			return;
		}
		r->replies++;
	}
}

/* lossy_run - relay up to two requests and their replies, losing one */
static void *
lossy_run(void *arg)
{
	struct lossy *r = arg;
	struct timeval tv = {WAIT_MS / 1000, 0};
	struct sockaddr_in from, to;
	socklen_t fromlen;
	uint8_t buf[2048];
	ssize_t n;
	int up, k;

	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons(r->to);
	up = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	setsockopt(up, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (k = 0; k < 2 && !r->relayed; k++) {
		fromlen = sizeof(from);
		if ((n = recvfrom(r->fd, buf, sizeof(buf), 0,
		    (struct sockaddr *)&from, &fromlen)) <= 0)
			break;
		if (k == 0 && r->lose == LOSE_REQUEST) {
			r->lost = 1;
			continue;
		}
		if (r->lose == DOUBLE_REQUEST) {
			lossy_double(r, up, &to, buf, (size_t)n, &from,
			    fromlen);
			break;
		}
		if (sendto(up, buf, (size_t)n, 0, (struct sockaddr *)&to,
		    sizeof(to)) != n || (n = recv(up, buf, sizeof(buf),
		    0)) <= 0)
			break;
		if (k == 0) {
			r->lost = 1;
			continue;
		}
		r->relayed = sendto(r->fd, buf, (size_t)n, 0,
		    (struct sockaddr *)&from, fromlen) == n;
	}
	close(up);
	return NULL;
}

struct lossy *
lossy_start(uint16_t to, int lose)
{
	struct lossy *r = calloc(1, sizeof(*r));
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	ck_assert_ptr_nonnull(r);
	r->to = to;
	r->lose = lose;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(r->fd, (struct sockaddr *)&sa, &len);
	snprintf(r->spec, sizeof(r->spec), "127.0.0.1:%u", ntohs(sa.sin_port));
	ck_assert_int_eq(pthread_create(&r->thread, NULL, lossy_run, r), 0);
	return r;
}

const char *
lossy_spec(const struct lossy *r)
{
	return r->spec;
}

int
lossy_end(struct lossy *r)
{
	int ok;

	pthread_join(r->thread, NULL);
	ok = r->lose == DOUBLE_REQUEST ? r->replies : r->lost && r->relayed;
	close(r->fd);
	free(r);
	return ok;
}

/* map_errcall - keep Berkeley DB's own message for map_lookup's caller */
static void
map_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	const struct map_why *w = env->app_private;

	(void)pfx;
	if (w != NULL && w->buf != NULL)
		snprintf(w->buf, w->len, "%s", msg);
}

/*
 * map_lookup - look key up in a Berkeley DB file as an MTA would: 1 found,
 * 0 not, -1 on an error, said in why (Berkeley DB's message if it gave one)
 */
int
map_lookup(const char *path, const char *key, size_t keylen, char *val,
    size_t vallen, char *why, size_t whylen)
{
	struct map_why w = {why, whylen};
	const char *step = "db_create";
	DB *db;
	DBT k, v;
	int rc;

	if (why != NULL)
		*why = '\0';
	if ((rc = db_create(&db, NULL, 0)) != 0)
		goto out;
	db->get_env(db)->app_private = &w;
	db->set_errcall(db, map_errcall);
	step = "open";
	if ((rc = db->open(db, NULL, path, NULL, DB_UNKNOWN, DB_RDONLY,
	    0)) != 0) {
		db->close(db, 0);
		goto out;
	}
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)(uintptr_t)key;
	k.size = (u_int32_t)keylen;
	step = "get";
	rc = db->get(db, NULL, &k, &v, 0);
	if (rc == 0 && val != NULL) {
		size_t n = v.size < vallen - 1 ? v.size : vallen - 1;

		memcpy(val, v.data, n);
		val[n] = '\0';
	}
	db->close(db, 0);
out:
	if (rc != 0 && rc != DB_NOTFOUND && why != NULL) {
		size_t n = strlen(why);

		snprintf(why + n, whylen - n, "%s%s %s: %s", n ? "; " : "",
		    step, path, db_strerror(rc));
	}
	return rc == 0 ? 1 : rc == DB_NOTFOUND ? 0 : -1;
}

/* map_get - look key up in a Berkeley DB file as an MTA would; 1 found */
int
map_get(const char *path, const char *key, size_t keylen, char *val,
    size_t vallen)
{
	return map_lookup(path, key, keylen, val, vallen, NULL, 0);
}

/* map_count - the number of records in a map file (0 if unreadable) */
size_t
map_count(const char *path)
{
	DB *db;
	DBC *c;
	DBT k, v;
	size_t n = 0;

	if (db_create(&db, NULL, 0) != 0)
		return 0;
	if (db->open(db, NULL, path, NULL, DB_UNKNOWN, DB_RDONLY, 0) == 0 &&
	    db->cursor(db, NULL, &c, 0) == 0) {
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		while (c->get(c, &k, &v, DB_NEXT) == 0)
			n++;
		c->close(c);
	}
	db->close(db, 0);
	return n;
}

/*
 * run_prog - run argv with input on its stdin; its stdout and stderr
 * together in out; its exit status, or -1 if it did not exit in time.
 */
int
run_prog(const char *const *argv, const char *input, char *out,
    size_t outlen, int64_t ms)
{
	int in[2], o[2], st;
	int64_t end = now_ms() + ms;
	size_t got = 0;
	pid_t pid;
	ssize_t n;

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(o), 0);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(o[1], 1);
		dup2(o[1], 2);
		close(in[0]);
		close(in[1]);
		close(o[0]);
		close(o[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(o[1]);
	if (input != NULL && write(in[1], input, strlen(input)) < 0)
		ck_abort_msg("write to child: %s", strerror(errno));
	close(in[1]);
	fcntl(o[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd p = {o[0], POLLIN, 0};

		if (now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(o[0]);
			return -1;
		}
		poll(&p, 1, 50);
		n = read(o[0], out + got, outlen - 1 - got);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0 || got == outlen - 1)
			break;
	}
	out[got] = '\0';
	close(o[0]);
	while (waitpid(pid, &st, WNOHANG) != pid) {
		if (now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		usleep(2000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * slow_daemon - is dracd running under valgrind (make check-valgrind)?
 * Then the flood tests, whose deadlines assume native speed, say so and
 * step aside; everything else runs.
 */
int
slow_daemon(const char *test)
{
	if (getenv("DRACD_UNDER_VALGRIND") == NULL)
		return 0;
	fprintf(stderr, "%s: skipped under valgrind (timing)\n", test);
	return 1;
}

/*
 * on_death - run fn in a guard process once this test process is gone,
 * however it ends: Check leaves a failed test without running atexit
 * handlers, so servers that detach (and are nobody's child) are stopped
 * from here.  The guard leaves the process group, which Check kills on
 * a timeout, and waits for the end of a pipe only this process holds.
 */
void
on_death(void (*fn)(void))
{
	int p[2];
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		close(p[1]);
		setpgid(0, 0);
		signal(SIGTERM, SIG_DFL);
		while (read(p[0], &c, 1) > 0)
			;
		fn();
		_exit(0);
	}
	close(p[0]);	/* p[1] stays open until this process ends */
}
