/*
 * mta.c - running the commands that set up a real mail server, and
 * stopping one that detached, by the PID in its pidfile.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <check.h>

#include "helpers.h"
#include "mta.h"

/* shell - run cmd with /bin/sh, no terminal and stdin from /dev/null;
 * fail the test, with its output, unless it exits 0.  A command that
 * leaves a daemon behind must send that daemon's output elsewhere, or
 * the wait for the end of its output lasts the whole 30 s. */
void
shell(const char *cmd)
{
	char full[2048], out[4096];
	const char *argv[] = {"/bin/sh", "-c", full, NULL};
	int rc;

	ck_assert_msg(snprintf(full, sizeof(full), "exec 2>&1 </dev/null; %s",
	    cmd) < (int)sizeof(full), "command too long: %s", cmd);
	rc = run_prog(argv, NULL, out, sizeof(out), 30000);
	ck_assert_msg(rc == 0, "\"%s\" failed (%d): %s", cmd, rc, out);
}

/* pid_in - the PID in a pidfile (Postfix pads it with blanks), or 0 */
pid_t
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

/* stop_pid - SIGTERM, then SIGKILL if it lingers past WAIT_MS */
void
stop_pid(pid_t pid)
{
	int64_t end = now_ms() + WAIT_MS;

	if (pid <= 0 || kill(pid, SIGTERM) < 0)
		return;
	while (kill(pid, 0) == 0 && now_ms() < end)
		usleep(20000);
	kill(pid, SIGKILL);
}
