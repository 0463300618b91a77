/*
 * daemon.c - a real dracd on a free loopback port: start, stop, kill,
 * read its log; and whether it runs under valgrind.
 */
#include <sys/prctl.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "helpers.h"

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

/* daemon_start_within - start dracd and wait up to ms until it
 * answers; 0 on success (else it is killed) */
int
daemon_start_within(struct daemon *d, const char *const *extra, int64_t ms)
{
	int64_t end = now_ms() + ms;
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

/* daemon_start - start dracd and wait until it answers; 0 on success */
int
daemon_start(struct daemon *d, const char *const *extra)
{
	/* under valgrind a start takes seconds, more on a busy machine */
	return daemon_start_within(d, extra, (getenv("DRACD_UNDER_VALGRIND") !=
	    NULL ? 4 : 1) * WAIT_MS);
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
