/*
 * check_priv.c - what the service user can do to root at start-up: links
 * planted where dracd writes its pidfile and its list, and a restart
 * under the capability set of the shipped systemd unit.
 *
 * Every test needs root and the user nobody, as the -u test of the daemon
 * suite does; without them each says so and steps aside.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "suites.h"

#define ALLOW_LO "127.0.0.1\n"
#define UNIT "contrib/systemd/dracd.service"
#define SECRET "root's own file\n"

static struct daemon d;
static struct passwd nobody;

/* need_root - root and the user nobody there? else say so; 0 to skip */
static int
need_root(const char *test)
{
	struct passwd *pw = getpwnam("nobody");

	if (geteuid() != 0 || pw == NULL) {
		fprintf(stderr, "%s: skipped: needs root and user nobody\n",
		    test);
		return 0;
	}
	nobody = *pw;
	return 1;
}

/* service_dir - d set up with its directory owned by nobody, as
 * /var/lib/drac is by the service user */
static void
service_dir(void)
{
	daemon_init(&d, ALLOW_LO);
	ck_assert_int_eq(chown(d.dir, nobody.pw_uid, nobody.pw_gid), 0);
}

/* root_file - a new root-owned 0600 file holding text, in a directory
 * only root may enter; its path in path */
static void
root_file(char *path, size_t len, const char *name, const char *text)
{
	const char *dir = tmpdir();

	ck_assert_int_eq(chmod(dir, 0700), 0);
	snprintf(path, len, "%s/%s", dir, name);
	write_file(path, text);
	ck_assert_int_eq(chmod(path, 0600), 0);
}

/* slurp - the first cap - 1 bytes of path in buf; how many, -1 if none */
static ssize_t
slurp(const char *path, char *buf, size_t cap)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW)) < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* assert_unchanged - path still holds exactly want, root's, mode 0600 */
static void
assert_unchanged(const char *path, const char *want, size_t wantlen)
{
	static char got[65536];
	struct stat st;

	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_msg(S_ISREG(st.st_mode) && st.st_uid == 0 &&
	    (st.st_mode & 07777) == 0600, "%s: mode %o uid %u, want root's "
	    "0600", path, (unsigned)st.st_mode, (unsigned)st.st_uid);
	ck_assert_int_eq(slurp(path, got, sizeof(got)), (ssize_t)wantlen);
	ck_assert_msg(memcmp(got, want, wantlen) == 0, "%s was written to",
	    path);
}

/* file_gone - for wait_until: path no longer there */
static int
file_gone(void *arg)
{
	struct stat st;

	return lstat(arg, &st) < 0 && errno == ENOENT;
}

/* pidfile_of - the pid path holds, -1 if none; it must be a plain file */
static long
pidfile_of(const char *path)
{
	char buf[64];
	struct stat st;

	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_msg(S_ISREG(st.st_mode), "%s is not a plain file", path);
	if (slurp(path, buf, sizeof(buf)) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

/* cli - drac-cli cmd addr against d; its exit status */
static int
cli(const char *cmd, const char *addr)
{
	const char *bin = getenv("DRAC_CLI");
	char srv[32], out[1024];
	const char *argv[] = {bin != NULL ? bin : "build/drac-cli", "-s", srv,
	    cmd, addr, NULL};
	int rc;

	snprintf(srv, sizeof(srv), "127.0.0.1:%u", d.port);
	rc = run_prog(argv, NULL, out, sizeof(out), WAIT_MS);
	if (rc != 0)
		fprintf(stderr, "drac-cli %s %s: %d: %s\n", cmd, addr, rc, out);
	return rc;
}

/* start_logged - daemon_start, with dracd's output shown if it fails */
static int
start_logged(const char *const *extra)
{
	char buf[4096];
	int rc = daemon_start(&d, extra);

	if (rc != 0 && slurp(d.log, buf, sizeof(buf)) > 0)
		fprintf(stderr, "dracd said: %s\n", buf);
	return rc;
}

/* ---- item 19: the pidfile ---- */

START_TEST(pidfile_links_not_followed)
{
	char piddir[300], pid[320], tmp[330], t1[330], t2[330];
	const char *const extra[] = {"-P", pid, "-u", "nobody", NULL};

	if (!need_root("pidfile_links_not_followed"))
		return;
	service_dir();
	root_file(t1, sizeof(t1), "shadow", SECRET);
	root_file(t2, sizeof(t2), "passwd", SECRET);
	snprintf(piddir, sizeof(piddir), "%s", tmpdir());
	snprintf(pid, sizeof(pid), "%s/dracd.pid", piddir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", pid);
	/* links where dracd writes: its temporary name and the pidfile */
	ck_assert_int_eq(symlink(t1, tmp), 0);
	ck_assert_int_eq(symlink(t2, pid), 0);
	ck_assert_int_eq(start_logged(extra), 0);
	assert_unchanged(t1, SECRET, strlen(SECRET));
	assert_unchanged(t2, SECRET, strlen(SECRET));
	ck_assert_int_eq(pidfile_of(pid), (long)d.pid);
	ck_assert(file_gone(tmp));
	ck_assert_int_eq(daemon_stop(&d), 0);
	assert_unchanged(t1, SECRET, strlen(SECRET));
	assert_unchanged(t2, SECRET, strlen(SECRET));
}
END_TEST

START_TEST(pidfile_removed_after_drop)
{
	char pid[320];
	const char *const extra[] = {"-P", pid, "-u", "nobody", NULL};
	struct stat st;

	if (!need_root("pidfile_removed_after_drop"))
		return;
	service_dir();
	/* where only root writes */
	snprintf(pid, sizeof(pid), "%s/dracd.pid", tmpdir());
	ck_assert_int_eq(start_logged(extra), 0);
	ck_assert_int_eq(pidfile_of(pid), (long)d.pid);
	ck_assert_int_eq(stat(pid, &st), 0);
	ck_assert_uint_eq(st.st_uid, 0);
	ck_assert_int_eq(daemon_stop(&d), 0);
	ck_assert_msg(wait_until(file_gone, pid, WAIT_MS), "%s is still "
	    "there %d ms after a clean exit", pid, WAIT_MS);
	ck_assert_int_eq(log_contains(&d, "pidfile"), 0);	/* no warning */
	/* and after a kill -9, the stale file goes too */
	ck_assert_int_eq(start_logged(extra), 0);
	ck_assert_int_eq(pidfile_of(pid), (long)d.pid);
	daemon_kill(&d);
	ck_assert_msg(wait_until(file_gone, pid, WAIT_MS), "%s is still "
	    "there %d ms after kill -9", pid, WAIT_MS);
}
END_TEST

START_TEST(pidfile_dir_of_the_user_warned)
{
	char pid[320];
	const char *const extra[] = {"-P", pid, "-u", "nobody", NULL};

	if (!need_root("pidfile_dir_of_the_user_warned"))
		return;
	service_dir();
	snprintf(pid, sizeof(pid), "%s/dracd.pid", d.dir);
	ck_assert_int_eq(start_logged(extra), 0);
	ck_assert_int_eq(log_contains(&d, "writable by others than root"),
	    1);
	ck_assert_int_eq(pidfile_of(pid), (long)d.pid);
	ck_assert_int_eq(daemon_stop(&d), 0);
	ck_assert(wait_until(file_gone, pid, WAIT_MS));
}
END_TEST

/* ---- item 20: the list's files ---- */

/*
 * unit_caps - the unit's CapabilityBoundingSet as setpriv's
 * --bounding-set argument, e.g. "-all,+setuid,+setgid"
 */
static void
unit_caps(char *out, size_t len)
{
	char line[512], *p, *w;
	size_t n;
	FILE *fp;

	fp = fopen(UNIT, "r");
	ck_assert_msg(fp != NULL, "%s: %s (run from the source tree)", UNIT,
	    strerror(errno));
	n = (size_t)snprintf(out, len, "-all");
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "CapabilityBoundingSet=", 22) != 0)
			continue;
		for (p = line + 22; (w = strtok(p, " \t\n")) != NULL;
		    p = NULL) {
			ck_assert_msg(strncmp(w, "CAP_", 4) == 0, "%s", w);
			n += (size_t)snprintf(out + n, len - n, ",+%s", w + 4);
			ck_assert_uint_lt(n, len);
		}
	}
	fclose(fp);
	for (p = out; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	ck_assert_msg(strchr(out, '+') != NULL, "%s: no "
	    "CapabilityBoundingSet", UNIT);
}

/*
 * under_unit_caps - from now on in this test, daemon_start runs dracd
 * through setpriv with the unit's bounding set: DRACD becomes a script
 * that execs setpriv, which execs dracd (the same process)
 */
static void
under_unit_caps(void)
{
	const char *bin = getenv("DRACD");
	char caps[256], script[300], text[1024];

	if (access("/usr/bin/setpriv", X_OK) < 0)
		ck_abort_msg("this test needs /usr/bin/setpriv (util-linux)");
	unit_caps(caps, sizeof(caps));
	ck_assert(strchr(bin != NULL ? bin : "", '\'') == NULL);
	snprintf(script, sizeof(script), "%s/dracd-caps", tmpdir());
	snprintf(text, sizeof(text), "#!/bin/sh\nexec /usr/bin/setpriv "
	    "--bounding-set %s -- '%s' \"$@\"\n", caps,
	    bin != NULL ? bin : "build/dracd");
	write_file(script, text);
	ck_assert_int_eq(chmod(script, 0755), 0);
	ck_assert_int_eq(setenv("DRACD", script, 1), 0);
}

/* has_cap - does the running dracd's bounding set hold capability bit? */
static int
has_cap(pid_t pid, int bit)
{
	char path[64], line[256];
	unsigned long long bnd = ~0ULL;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "CapBnd: %llx", &bnd) == 1)
			break;
	fclose(fp);
	return (bnd >> bit & 1) != 0;
}

START_TEST(restart_under_unit_caps)
{
	const char *const extra[] = {"-u", "nobody", NULL};
	char state[320];
	struct stat st;

	if (!need_root("restart_under_unit_caps"))
		return;
	service_dir();
	under_unit_caps();
	ck_assert_int_eq(start_logged(extra), 0);
	ck_assert_msg(!has_cap(d.pid, 1), "CAP_DAC_OVERRIDE still in the "
	    "bounding set: setpriv did not apply the unit's");
	ck_assert_int_eq(cli("add", "192.0.2.44"), 0);
	ck_assert_int_eq(daemon_stop(&d), 0);
	/* the files are the service user's, as it made them */
	snprintf(state, sizeof(state), "%s.env/state.db", d.db);
	ck_assert_int_eq(stat(state, &st), 0);
	ck_assert_uint_eq(st.st_uid, nobody.pw_uid);
	ck_assert_int_eq(stat(d.db, &st), 0);
	ck_assert_uint_eq(st.st_uid, nobody.pw_uid);
	/* the second start (where the unit failed) and the grant kept */
	ck_assert_int_eq(start_logged(extra), 0);
	ck_assert_int_eq(cli("check", "192.0.2.44"), 0);
	ck_assert_int_eq(cli("check", "192.0.2.45"), 1);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/*
 * hide_state - move the map files of the dracd that used d into dir
 * (root's, 0600), each replaced by a link the service user owns, and the
 * environment's directory too (hide_dir); how many files, with each
 * copy's path and contents in h
 */
#define MAXHIDE 8
struct hidden {
	char path[330];
	char text[65536];
	size_t len;
};

/* hide_dir - a directory (the environment, DBFILE.env) moves whole into
 * dir, where only root can reach it, and a link the service user owns
 * takes its place; 0 if from is not a directory */
static int
hide_dir(const char *from, const char *dir, const char *name)
{
	char to[600];
	struct stat st;

	if (lstat(from, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	snprintf(to, sizeof(to), "%s/%s", dir, name);
	ck_assert_int_eq(rename(from, to), 0);
	ck_assert_int_eq(symlink(to, from), 0);
	ck_assert_int_eq(lchown(from, nobody.pw_uid, nobody.pw_gid), 0);
	return 1;
}

static size_t
hide_state(const char *dir, struct hidden *h)
{
	char from[600];
	struct dirent *de;
	size_t n = 0;
	ssize_t len;
	DIR *dp;
	FILE *fp;

	ck_assert_ptr_nonnull(dp = opendir(d.dir));
	while ((de = readdir(dp)) != NULL && n < MAXHIDE) {
		if (strncmp(de->d_name, "dracd.db.", 9) != 0)
			continue;
		snprintf(from, sizeof(from), "%s/%s", d.dir, de->d_name);
		if (hide_dir(from, dir, de->d_name))
			continue;
		len = slurp(from, h[n].text, sizeof(h[n].text));
		ck_assert(len >= 0 && (size_t)len < sizeof(h[n].text) - 1);
		h[n].len = (size_t)len;
		snprintf(h[n].path, sizeof(h[n].path), "%s/%s", dir,
		    de->d_name);
		ck_assert_ptr_nonnull(fp = fopen(h[n].path, "w"));
		ck_assert_uint_eq(fwrite(h[n].text, 1, h[n].len, fp),
		    h[n].len);
		ck_assert_int_eq(fclose(fp), 0);
		ck_assert_int_eq(chmod(h[n].path, 0600), 0);
		ck_assert_int_eq(unlink(from), 0);
		ck_assert_int_eq(symlink(h[n].path, from), 0);
		ck_assert_int_eq(lchown(from, nobody.pw_uid, nobody.pw_gid),
		    0);
		n++;
	}
	closedir(dp);
	return n;
}

/* is_link - is dracd.db plus suffix, in d's directory, a symbolic link? */
static int
is_link(const char *suffix)
{
	char p[600];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", d.db, suffix);
	return lstat(p, &st) == 0 && S_ISLNK(st.st_mode);
}

START_TEST(state_link_not_followed)
{
	const char *const extra[] = {"-u", "nobody", NULL};
	static struct hidden h[MAXHIDE];
	const char *dir;
	size_t n, i;

	if (!need_root("state_link_not_followed"))
		return;
	/* a list holding a grant, in the service user's directory */
	service_dir();
	ck_assert_int_eq(start_logged(extra), 0);
	ck_assert_int_eq(cli("add", "192.0.2.66"), 0);
	ck_assert_int_eq(daemon_stop(&d), 0);
	/* its files become root's, where only root reads them, and the
	 * service user leaves links to them under their own names */
	dir = tmpdir();
	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_uint_ge(n = hide_state(dir, h), 1);
	ck_assert_msg(is_link(".env"), "the environment was not hidden");
	if (daemon_start(&d, extra) == 0) {
		/* read with root's rights: the grant came from root's files */
		ck_assert_msg(cli("check", "192.0.2.66") != 0, "dracd loaded "
		    "root's files in %s through links, as root", dir);
		ck_assert_int_eq(daemon_stop(&d), 0);
	}
	ck_assert_int_eq(log_contains(&d, "Permission denied"), 1);
	for (i = 0; i < n; i++)
		assert_unchanged(h[i].path, h[i].text, h[i].len);
}
END_TEST

/* ---- detaching: the list is opened after the fork ---- */

START_TEST(detached_start_reports_a_bad_list)
{
	const char *bin = getenv("DRACD");
	char port[16], state[320], out[1024];
	const char *argv[] = {bin != NULL ? bin : "build/dracd", "-c",
	    "/dev/null", "-l", "127.0.0.1", "-p", port, "-a", d.allow, d.db,
	    NULL};
	uint8_t req[64], rep[64];
	size_t n;

	daemon_init(&d, ALLOW_LO);
	snprintf(port, sizeof(port), "%u", d.port);
	snprintf(state, sizeof(state), "%s.state", d.db);
	write_file(state, "not a snapshot\n");
	/* the parent waits for the child, which cannot open the list */
	ck_assert_int_eq(run_prog(argv, NULL, out, sizeof(out), WAIT_MS), 1);
	n = rpc_header(req, 5, 900101, 3, 0);
	ck_assert_int_lt(udp_exchange("127.0.0.1", d.port, req, n, rep,
	    sizeof(rep), 200), 0);
}
END_TEST

Suite *
make_priv_suite(void)
{
	Suite *s = suite_create("priv");
	TCase *tc;

	tc = tcase_create("pidfile");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, pidfile_links_not_followed);
	tcase_add_test(tc, pidfile_removed_after_drop);
	tcase_add_test(tc, pidfile_dir_of_the_user_warned);
	suite_add_tcase(s, tc);
	tc = tcase_create("state");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, restart_under_unit_caps);
	tcase_add_test(tc, state_link_not_followed);
	suite_add_tcase(s, tc);
	tc = tcase_create("detach");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, detached_start_reports_a_bad_list);
	suite_add_tcase(s, tc);
	return s;
}
