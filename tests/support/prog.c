/*
 * prog.c - subprocesses: a program run with input and a deadline, and a
 * guard process that cleans up after the test process however it ends.
 */
#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "helpers.h"

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
