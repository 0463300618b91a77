/*
 * check_store.c - the allowlist table and its files (the map, the
 * transactional environment, the previous format's import), on a fake
 * clock.
 * The store's threads are not started here; the tests drive expiry and
 * publishing themselves.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <fcntl.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "journal.h"
#include "mapfile.h"
#include "store.h"
#include "store_env.h"
#include "suites.h"

static time_t fake_now = 1700000000;

static time_t
fake_clock(void)
{
	return fake_now;
}

static char path[512];

/* open_at - a store on path with the fake clock */
static struct store *
open_at(int truncate, const struct map_format *f, size_t max)
{
	struct store_opts o;
	char err[1400];
	struct store *s;

	memset(&o, 0, sizeof(o));
	o.path = path;
	if (f != NULL)
		o.format = *f;
	o.sync_interval_ms = 1000;
	o.max_entries = max ? max : 1000000;
	o.truncate = truncate;
	o.clock = fake_clock;
	s = store_open(&o, err, sizeof(err));
	ck_assert_msg(s != NULL, "store_open: %s", err);
	return s;
}

static void
setup(void)
{
	fake_now = 1700000000;
	snprintf(path, sizeof(path), "%s/dracd.db", tmpdir());
}

static struct addr
A(const char *text)
{
	struct addr a;

	ck_assert_int_eq(addr_parse(&a, text), 0);
	return a;
}

/* seq - the i-th of a run of test addresses, 10.0.x.y */
static struct addr
seq(size_t i)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.bytes[0] = 10;
	a.bytes[2] = (uint8_t)(i >> 8);
	a.bytes[3] = (uint8_t)i;
	return a;
}

static void
publish(struct store *s)
{
	char err[1400];

	ck_assert_msg(store_publish(s, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(add_check_refresh)
{
	struct store *s = open_at(1, NULL, 0);
	struct store_info info;
	struct addr a = A("192.0.2.7");
	int64_t exp;

	ck_assert_int_eq(store_check(s, &a, &info), 0);
	ck_assert_int_eq(store_add(s, &a, 1800, "alice", &exp), 1);
	ck_assert_int_eq(exp, fake_now + 1800);
	ck_assert_int_eq(store_check(s, &a, &info), 1);
	ck_assert_str_eq(info.user, "alice");
	/* a shorter TTL never cuts a longer grant */
	fake_now += 10;
	ck_assert_int_eq(store_add(s, &a, 60, NULL, &exp), 1);
	ck_assert_int_eq(exp, 1700000000 + 1800);
	ck_assert_int_eq(store_check(s, &a, &info), 1);
	ck_assert_str_eq(info.user, "alice");	/* no user keeps the old */
	ck_assert_uint_eq(info.adds, 2);
	/* a longer one extends it */
	ck_assert_int_eq(store_add(s, &a, 3600, "bob", &exp), 1);
	ck_assert_int_eq(exp, fake_now + 3600);
	store_check(s, &a, &info);
	ck_assert_str_eq(info.user, "bob");
	ck_assert_int_eq(info.first_seen, 1700000000);
	store_close(s);
}
END_TEST

START_TEST(expiry)
{
	struct store *s = open_at(1, NULL, 0);
	struct store_info info;
	struct addr a = A("192.0.2.1"), b = A("2001:db8::1");
	struct store_stats st;
	int64_t exp;

	store_add(s, &a, 100, NULL, &exp);
	store_add(s, &b, 200, NULL, &exp);
	fake_now += 100;
	/* due but not swept yet: check must already say no */
	ck_assert_int_eq(store_check(s, &a, &info), 0);
	ck_assert_int_eq(store_check(s, &b, &info), 1);
	ck_assert_uint_eq(store_expire(s, 1000), 1);
	ck_assert_uint_eq(store_expire(s, 1000), 0);
	store_get_stats(s, &st);
	ck_assert_uint_eq(st.entries, 1);
	ck_assert_uint_eq(st.expirations, 1);
	fake_now += 100;
	ck_assert_uint_eq(store_expire(s, 1000), 1);
	store_close(s);
}
END_TEST

START_TEST(expiry_batches)
{
	struct store *s = open_at(1, NULL, 0);
	struct store_stats st;
	struct addr a;
	int64_t exp;
	size_t i;

	for (i = 0; i < 2500; i++) {
		a = seq(i);
		ck_assert_int_eq(store_add(s, &a, 50 + (int64_t)(i % 7), NULL,
		    &exp), 1);
	}
	fake_now += 1000;
	/* bounded batches: never more than asked for at once */
	ck_assert_uint_eq(store_expire(s, 1000), 1000);
	ck_assert_uint_eq(store_expire(s, 1000), 1000);
	ck_assert_uint_eq(store_expire(s, 1000), 500);
	store_get_stats(s, &st);
	ck_assert_uint_eq(st.entries, 0);
	store_close(s);
}
END_TEST

START_TEST(delete_flush_full)
{
	struct store *s = open_at(1, NULL, 2);
	struct store_info info;
	struct addr a = A("192.0.2.1"), b = A("192.0.2.2"), c = A("::2");
	int64_t exp;

	ck_assert_int_eq(store_add(s, &a, 100, NULL, &exp), 1);
	ck_assert_int_eq(store_add(s, &b, 100, NULL, &exp), 1);
	ck_assert_int_eq(store_add(s, &c, 100, NULL, &exp), STORE_FULL);
	ck_assert_int_eq(store_add(s, &a, 200, NULL, &exp), 1); /* refresh */
	ck_assert_int_eq(store_del(s, &a), 1);
	ck_assert_int_eq(store_del(s, &a), 0);
	ck_assert_int_eq(store_check(s, &a, &info), 0);
	ck_assert_int_eq(store_add(s, &c, 100, NULL, &exp), 1);
	store_flush(s);
	ck_assert_int_eq(store_check(s, &b, &info), 0);
	ck_assert_int_eq(store_check(s, &c, &info), 0);
	store_close(s);
}
END_TEST

START_TEST(list_complete_across_growth)
{
	struct store *s = open_at(1, NULL, 0);
	struct store_info *page = calloc(64 + 16, sizeof(*page));
	unsigned char *seen = calloc(5000, 1);
	uint64_t cursor = 0;
	struct addr a;
	int64_t exp;
	size_t i, n, total = 0;

	for (i = 0; i < 3000; i++) {
		a = seq(i);
		store_add(s, &a, 100, NULL, &exp);
	}
	do {
		n = store_list(s, &cursor, page, 64);
		ck_assert_uint_le(n, 64 + 16);
		for (i = 0; i < n; i++) {
			size_t id = (size_t)page[i].addr.bytes[2] << 8 |
			    page[i].addr.bytes[3];

			seen[id]++;
		}
		total += n;
		/* grow the table mid-walk: old entries must still come */
		if (total > 1000 && total < 1100)
			for (i = 3000; i < 5000; i++) {
				a = seq(i);
				store_add(s, &a, 100, NULL, &exp);
			}
	} while (cursor != 0);
	for (i = 0; i < 3000; i++)
		ck_assert_msg(seen[i] >= 1, "entry %zu never listed", i);
	free(page);
	free(seen);
	store_close(s);
}
END_TEST

START_TEST(persistence)
{
	struct store *s = open_at(1, NULL, 0);
	struct store_info info;
	struct addr a = A("192.0.2.7"), b = A("2001:db8::7"), c = A("10.0.0.1");
	char val[64];
	int64_t exp;

	store_add(s, &a, 1800, "alice smith", &exp);
	store_add(s, &b, 60, NULL, &exp);
	store_add(s, &c, 5, NULL, &exp);
	publish(s);
	store_close(s);
	/* the map is DRAC's format: address text, no NUL; epoch digits */
	ck_assert_int_eq(map_get(path, "192.0.2.7", 9, val, sizeof(val)), 1);
	ck_assert_str_eq(val, "1700001800");
	ck_assert_int_eq(map_get(path, "2001:db8::7", 11, val, sizeof(val)),
	    1);
	ck_assert_uint_eq(map_count(path), 3);

	fake_now += 10;	/* c is past its time: not loaded */
	s = open_at(0, NULL, 0);
	ck_assert_int_eq(store_check(s, &a, &info), 1);
	ck_assert_str_eq(info.user, "alice smith");
	ck_assert_int_eq(info.expires, 1700001800);
	ck_assert_int_eq(store_check(s, &b, &info), 1);
	ck_assert_int_eq(store_check(s, &c, &info), 0);
	store_close(s);	/* writes what changed: c is gone */
	ck_assert_uint_eq(map_count(path), 2);

	s = open_at(1, NULL, 0);	/* -i */
	ck_assert_int_eq(store_check(s, &a, &info), 0);
	store_close(s);
	ck_assert_uint_eq(map_count(path), 0);
}
END_TEST

/* one_rec - a map_fill_fn giving the record at arg once */
static size_t
one_rec(void *arg, struct map_rec *recs, size_t max)
{
	struct map_rec *r = arg;

	if (max == 0 || r->expires == 0)
		return 0;
	recs[0] = *r;
	r->expires = 0;
	return 1;
}

START_TEST(drac_map_without_state)
{
	char state[600], err[256];
	struct map_rec r, w;
	struct map_format f = {0, 0, 0};
	struct store_info info;
	struct store *s;

	/* a map as DRAC left it, with no state file beside it */
	memset(&r, 0, sizeof(r));
	r.addr = A("198.51.100.9");
	r.expires = fake_now + 600;
	w = r;
	ck_assert_int_eq(mapfile_write(path, &f, one_rec, &w, err,
	    sizeof(err)), 0);
	snprintf(state, sizeof(state), "%s.env/state.db", path);
	ck_assert_int_eq(access(state, F_OK), -1);
	s = open_at(0, NULL, 0);
	ck_assert_int_eq(store_check(s, &r.addr, &info), 1);
	ck_assert_int_eq(info.expires, fake_now + 600);
	store_close(s);
	/* the import went into the environment, which the next start reads */
	ck_assert_int_eq(access(state, F_OK), 0);
	unlink(path);
	s = open_at(0, NULL, 0);
	ck_assert_int_eq(store_check(s, &r.addr, &info), 1);
	store_close(s);
}
END_TEST

/* segment - the name of the previous format's journal segment n */
static const char *
segment(uint64_t n)
{
	static char seg[700];

	ck_assert_int_eq(journal_segment_path(path, n, seg, sizeof(seg)), 0);
	return seg;
}

/* file_size - the size of a file, -1 if none */
static off_t
file_size(const char *f)
{
	struct stat st;

	return stat(f, &st) == 0 ? st.st_size : -1;
}

/* env_file - a file in the environment's directory */
static const char *
env_file(const char *name)
{
	static char f[800];

	snprintf(f, sizeof(f), "%s.env%s%s", path, *name ? "/" : "", name);
	return f;
}

/* log_files - how many log.* files the environment holds */
static int
log_files(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	ck_assert((d = opendir(env_file(""))) != NULL);
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, "log.", 4) == 0;
	closedir(d);
	return n;
}

START_TEST(env_replay)
{
	struct store *s = open_at(1, NULL, 0);
	struct store_info info;
	struct addr a = A("192.0.2.1"), b = A("192.0.2.2"), c = A("10.9.9.9");
	struct stat st;
	int64_t exp;

	store_close(s);		/* -i: an empty, complete environment */
	s = open_at(0, NULL, 0);
	store_add(s, &a, 100, "alice", &exp);
	store_add(s, &a, 200, NULL, &exp);	/* keeps alice, adds = 2 */
	store_add(s, &b, 100, "bob", &exp);
	store_add(s, &c, 100, NULL, &exp);
	ck_assert_int_eq(store_del(s, &b), 1);
	store_close(s);
	/* user names are nobody else's business; the map is everyone's */
	ck_assert_int_eq(stat(env_file("state.db"), &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(stat(env_file(""), &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	/* no file of the previous format is written */
	ck_assert_int_eq(file_size(segment(1)), -1);
	ck_assert_int_eq(file_size(segment(2)), -1);

	fake_now += 150;	/* c past its time; a refreshed to 200 */
	s = open_at(0, NULL, 0);
	ck_assert_int_eq(store_check(s, &a, &info), 1);
	ck_assert_str_eq(info.user, "alice");
	ck_assert_uint_eq(info.adds, 2);
	ck_assert_int_eq(info.expires, 1700000200);
	ck_assert_int_eq(info.first_seen, 1700000000);
	ck_assert_int_eq(store_check(s, &b, &info), 0);
	ck_assert_int_eq(store_check(s, &c, &info), 0);
	store_flush(s);
	store_close(s);
	s = open_at(0, NULL, 0);
	ck_assert_int_eq(store_check(s, &a, &info), 0);
	store_close(s);
}
END_TEST

/* last_log - the name of the newest log file */
static const char *
last_log(void)
{
	static char best[900];
	struct dirent *de;
	char name[300] = "";
	DIR *d;

	ck_assert((d = opendir(env_file(""))) != NULL);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "log.", 4) == 0 &&
		    strcmp(de->d_name, name) > 0)
			snprintf(name, sizeof(name), "%s", de->d_name);
	closedir(d);
	ck_assert(name[0] != '\0');
	snprintf(best, sizeof(best), "%s", env_file(name));
	return best;
}

/* log_end - where the log's written part ends: log files are
 * preallocated, so the end is the last non-zero byte (a record's) */
static off_t
log_end(const char *file)
{
	unsigned char buf[4096];
	off_t at = 0, end = 0;
	ssize_t n, i;
	int fd;

	ck_assert((fd = open(file, O_RDONLY)) >= 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] != 0)
				end = at + i + 1;
		at += n;
	}
	close(fd);
	return end;
}

/* crash_after - in a child: open, run the changes, and die without
 * closing (as a kill would leave the environment) */
static void
crash_after(void (*changes)(struct store *))
{
	pid_t pid;
	int status;

	if ((pid = fork()) == 0) {
		struct store *s = open_at(0, NULL, 0);
		char err[1400];

		changes(s);
		if (store_publish(s, err, sizeof(err)) < 0)
			_exit(2);
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the child failed: status %d", status);
}

/* add_del_add - add A and B, publish; delete A, publish; add C,
 * published by crash_after: the last transaction is the one a torn tail
 * cuts */
static void
add_del_add(struct store *s)
{
	struct addr a = A("192.0.2.1"), b = A("192.0.2.2"), c = A("192.0.2.3");
	char err[1400];
	int64_t exp;

	store_add(s, &a, 100, NULL, &exp);
	store_add(s, &b, 100, NULL, &exp);
	ck_assert_int_eq(store_publish(s, err, sizeof(err)), 0);
	ck_assert_int_eq(store_del(s, &a), 1);
	ck_assert_int_eq(store_publish(s, err, sizeof(err)), 0);
	store_add(s, &c, 100, NULL, &exp);
}

START_TEST(torn_log_tail)
{
	struct store *s = open_at(1, NULL, 0);
	struct store_info info;
	struct addr a = A("192.0.2.1"), b = A("192.0.2.2"), c = A("192.0.2.3");
	const char *log;
	off_t end;

	store_close(s);
	crash_after(add_del_add);
	/* a kill in the middle of the last log write: its tail cut off */
	log = last_log();
	end = log_end(log);
	ck_assert_int_gt(end, 64);
	ck_assert_int_eq(truncate(log, end - 20), 0);
	s = open_at(0, NULL, 0);
	/* recovered: what came before the torn transaction is kept... */
	ck_assert_int_eq(store_check(s, &b, &info), 1);
	/* ...the deleted grant never comes back... */
	ck_assert_int_eq(store_check(s, &a, &info), 0);
	/* ...and the cut transaction is rolled back, not half applied */
	ck_assert_int_eq(store_check(s, &c, &info), 0);
	store_close(s);
}
END_TEST

START_TEST(kill_keeps_synced)
{
	struct store *s = open_at(1, NULL, 0);
	struct store_info info;
	struct addr a = A("192.0.2.1"), b = A("192.0.2.2"), c = A("192.0.2.3");

	store_close(s);
	crash_after(add_del_add);
	s = open_at(0, NULL, 0);
	ck_assert_int_eq(store_check(s, &b, &info), 1);
	ck_assert_int_eq(store_check(s, &c, &info), 1);
	ck_assert_int_eq(store_check(s, &a, &info), 0);
	store_close(s);
}
END_TEST

START_TEST(compaction)
{
	struct store *s = open_at(1, NULL, 0);
	struct store_info info;
	struct addr a, extra = A("10.1.0.0");
	char err[1400];
	int64_t exp;
	size_t i;
	int round;

	/* enough records to fill several log files (8 MB each) */
	for (round = 0; round < 12; round++) {
		for (i = 0; i < 30000; i++) {
			a = seq(i);
			ck_assert_int_eq(store_add(s, &a, 100 + round, "u",
			    &exp), 1);
		}
		ck_assert_msg(store_publish(s, err, sizeof(err)) == 0, "%s",
		    err);
	}
	ck_assert_int_gt(log_files(), 1);
	ck_assert_msg(store_compact(s, err, sizeof(err)) == 0, "%s", err);
	/* the checkpoint made the older log files redundant: removed */
	ck_assert_int_le(log_files(), 2);
	store_add(s, &extra, 100, NULL, &exp);
	store_close(s);
	s = open_at(0, NULL, 0);
	for (i = 0; i < 30000; i++) {
		a = seq(i);
		ck_assert_int_eq(store_check(s, &a, &info), 1);
		ck_assert_int_eq(info.expires, fake_now + 111);
	}
	ck_assert_int_eq(store_check(s, &extra, &info), 1);
	ck_assert_str_eq(info.user, "");
	store_close(s);
}
END_TEST

START_TEST(damaged_env_refused)
{
	struct store *s = open_at(1, NULL, 0);
	struct store_opts o;
	char err[1400];
	struct addr a = A("192.0.2.1");
	int64_t exp;
	int fds[2], status;
	pid_t pid;
	FILE *f;

	store_add(s, &a, 100, NULL, &exp);
	store_close(s);
	ck_assert((f = fopen(env_file("state.db"), "w")) != NULL);
	fputs("an old or foreign file", f);
	fclose(f);
	memset(&o, 0, sizeof(o));
	o.path = path;
	o.max_entries = 10;
	o.clock = fake_clock;
	/* never started over state it cannot read: it says where.  In a
	 * child that leaves by _exit: libdb 5.3 itself leaks 296 bytes when
	 * DB_RECOVER fails (seen with a 20-line program), which LeakSanitizer
	 * would report at exit */
	ck_assert_int_eq(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		int failed = store_open(&o, err, sizeof(err)) == NULL;

		if (write(fds[1], err, strlen(err) + 1) < 0)
			_exit(2);
		_exit(failed ? 0 : 1);
	}
	close(fds[1]);
	memset(err, 0, sizeof(err));
	ck_assert_int_gt(read(fds[0], err, sizeof(err) - 1), 0);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "store_open did not refuse a damaged environment");
	ck_assert_msg(strstr(err, env_file("")) != NULL &&
	    strstr(err, "db5.3_recover") != NULL, "got \"%s\"", err);
}
END_TEST

END_TEST

static const struct map_format every_format[] = {
	{0, 0, 0}, {0, 1, 1}, {1, 0, 0}, {1, 1, 1},
};

START_TEST(map_holds_every_key)
{
	const struct map_format *f = &every_format[_i];
	struct store *s = open_at(1, f, 0);
	struct store_stats st;
	struct addr *a = calloc(3000, sizeof(*a));
	char key[80], val[32], want[32];
	unsigned int seed = 7;
	int64_t exp;
	size_t i;
	int kl;

	/* IPv4 of every octet length, and IPv6, in one map: the writer
	 * sorts them into Berkeley DB's key order before inserting (in
	 * place, a byte at a time: 1,000 of one /16 take every level) */
	for (i = 0; i < 3000; i++) {
		uint32_t r = (uint32_t)rand_r(&seed) * 2654435761U;

		a[i].family = i % 10 == 0 ? AF_INET6 : AF_INET;
		memcpy(a[i].bytes, &r, 4);
		if (i % 3 == 1) {	/* and a third in one /16: deep runs */
			a[i].bytes[0] = 10;
			a[i].bytes[1] = 0;
			a[i].bytes[2] = (uint8_t)(i >> 8);
			a[i].bytes[3] = (uint8_t)i;
		}
		if (a[i].family == AF_INET6) {
			a[i].bytes[0] = 0x20;
			a[i].bytes[1] = 0x01;
			a[i].bytes[15] = (uint8_t)i;
		}
		store_add(s, &a[i], 100 + (int64_t)(i % 50), NULL, &exp);
	}
	publish(s);
	store_get_stats(s, &st);
	ck_assert_uint_eq(map_count(path), st.entries);
	for (i = 0; i < 3000; i++) {
		struct store_info info;

		ck_assert_int_eq(store_check(s, &a[i], &info), 1);
		kl = mapfile_key(&a[i], f, key, sizeof(key));
		ck_assert_int_gt(kl, 0);
		ck_assert_msg(map_get(path, key, (size_t)kl, val, sizeof(val)) ==
		    1, "format %d: %s is not in the map", _i, key);
		snprintf(want, sizeof(want), "%lld", (long long)info.expires);
		ck_assert_str_eq(val, want);
	}
	store_close(s);
	free(a);
}
END_TEST

START_TEST(formats)
{
	struct map_format f = {1, 1, 1};	/* hash, cidr, NUL */
	struct store *s = open_at(1, &f, 0);
	struct store_info info;
	struct addr a = A("192.0.2.7"), b = A("2001:db8::7");
	char val[64];
	int64_t exp;

	store_add(s, &a, 1800, NULL, &exp);
	store_add(s, &b, 1800, NULL, &exp);
	publish(s);
	store_close(s);
	ck_assert_int_eq(map_get(path, "192.0.2.7/32", 13, val, sizeof(val)),
	    1);
	ck_assert_int_eq(memcmp(val, "1700001800", 11), 0);
	ck_assert_int_eq(map_get(path, "2001:db8::7/128", 16, val,
	    sizeof(val)), 1);
	ck_assert_int_eq(map_get(path, "192.0.2.7", 9, val, sizeof(val)), 0);
	/* reopening reads the other format back */
	s = open_at(0, NULL, 0);
	ck_assert_int_eq(store_check(s, &a, &info), 1);
	store_close(s);
}
END_TEST

START_TEST(mtime_moves_every_write)
{
	struct store *s = open_at(1, NULL, 0);
	struct addr a = A("192.0.2.7");
	struct stat st;
	time_t prev = 0;
	int64_t exp;
	int i;

	/* writes in well under a second: the second gets a later mtime than
	 * the first, and none runs more than a second ahead of the clock
	 * (many writes a second share it) */
	for (i = 0; i < 5; i++) {
		store_add(s, &a, 100 + i, NULL, &exp);
		publish(s);
		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert_msg(i == 0 || st.st_mtime >= prev, "write %d: mtime "
		    "%ld, previous %ld", i, (long)st.st_mtime, (long)prev);
		ck_assert_msg(i != 1 || st.st_mtime > prev, "write 1: mtime "
		    "%ld, previous %ld", (long)st.st_mtime, (long)prev);
		ck_assert_int_le(st.st_mtime, time(NULL) + 1);
		prev = st.st_mtime;
		ck_assert_int_eq(st.st_mode & 0777, 0644);
	}
	store_close(s);
}
END_TEST

START_TEST(corrupt_file_refused)
{
	struct store_opts o;
	char err[1400];
	struct store *s;

	write_file(path, "this is not a Berkeley DB file, not at all\n");
	memset(&o, 0, sizeof(o));
	o.path = path;
	o.max_entries = 10;
	o.sync_interval_ms = 1000;
	ck_assert_ptr_null(s = store_open(&o, err, sizeof(err)));
	ck_assert_msg(strstr(err, path) != NULL, "got \"%s\"", err);
	/* the file was not touched */
	ck_assert_int_eq(map_count(path), 0);
	o.truncate = 1;
	ck_assert_ptr_nonnull(s = store_open(&o, err, sizeof(err)));
	store_close(s);
}
END_TEST

START_TEST(crash_leftovers_removed)
{
	char tmp[600], bdb[600], other[600], dir[512];
	struct store *s;

	/* what a kill during a write leaves, and a bystander */
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	snprintf(tmp, sizeof(tmp), "%s.state.tmp.123.4", path);
	snprintf(bdb, sizeof(bdb), "%s/__db.dracd.db.tmp.123.5", dir);
	snprintf(other, sizeof(other), "%s/unrelated", dir);
	write_file(tmp, "x");
	write_file(bdb, "x");
	write_file(other, "x");
	s = open_at(1, NULL, 0);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	ck_assert_int_eq(access(bdb, F_OK), -1);
	ck_assert_int_eq(access(other, F_OK), 0);
	store_close(s);
}
END_TEST

/* ---- lowered max_entries, damaged journals ---- */

static char errlog[600];

/* capture_stderr - this test's log lines (stderr) go to errlog */
static void
capture_stderr(void)
{
	snprintf(errlog, sizeof(errlog), "%s/stderr.log", tmpdir());
	ck_assert(freopen(errlog, "w", stderr) != NULL);
	setvbuf(stderr, NULL, _IONBF, 0);
}

/* logged - does the captured log hold needle? */
static int
logged(const char *needle)
{
	char buf[16384];
	size_t n;
	FILE *f;

	ck_assert((f = fopen(errlog, "r")) != NULL);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

START_TEST(lowered_max_entries)
{
	struct store *s = open_at(1, NULL, 0);
	struct store_info info;
	struct store_stats st;
	struct addr a, extra = A("192.0.2.99");
	int64_t exp;
	size_t i;

	capture_stderr();
	for (i = 0; i < 5; i++) {
		a = seq(i);
		ck_assert_int_eq(store_add(s, &a, 100 + (int64_t)i, NULL, &exp),
		    1);
	}
	store_close(s);
	/* restart with max_entries 3 < 5 saved: it starts, keeps them all */
	s = open_at(0, NULL, 3);
	ck_assert_msg(logged("5 saved grants, more than max_entries (3)"),
	    "no warning about the lowered limit");
	for (i = 0; i < 5; i++) {
		a = seq(i);
		ck_assert_msg(store_check(s, &a, &info) == 1, "saved grant %zu "
		    "lost", i);
	}
	/* refreshing a saved grant works; a new address is refused */
	a = seq(0);
	ck_assert_int_eq(store_add(s, &a, 500, NULL, &exp), 1);
	ck_assert_int_eq(store_add(s, &extra, 100, NULL, &exp), STORE_FULL);
	/* down to the limit: still full; below it, adds work again */
	a = seq(1);
	ck_assert_int_eq(store_del(s, &a), 1);
	fake_now += 102;	/* seq(2), added for 102 s, expires */
	ck_assert_uint_eq(store_expire(s, 1000), 1);
	ck_assert_int_eq(store_add(s, &extra, 100, NULL, &exp), STORE_FULL);
	a = seq(3);
	ck_assert_int_eq(store_del(s, &a), 1);
	ck_assert_int_eq(store_add(s, &extra, 100, NULL, &exp), 1);
	ck_assert_int_eq(store_add(s, &a, 100, NULL, &exp), STORE_FULL);
	store_get_stats(s, &st);
	ck_assert_uint_eq(st.entries, 3);
	store_close(s);
	/* a DRAC map with no state file beside it: loaded whole too */
	ck_assert_uint_eq(map_count(path), 3);
	ck_assert_int_eq(senv_remove(env_file("")), 0);
	ck_assert_int_eq(access(env_file("state.db"), F_OK), -1);
	s = open_at(0, NULL, 2);
	store_get_stats(s, &st);
	ck_assert_uint_eq(st.entries, 3);
	ck_assert_int_eq(store_check(s, &extra, &info), 1);
	store_close(s);
}
END_TEST

/* four_records - the previous format's state, as a dracd before the
 * environment left it: no snapshot, and segment 2 holding SET A, SET B,
 * DEL A, SET C (40 bytes each, after the 16-byte header) */
static void
four_records(void)
{
	const char *name[] = {"192.0.2.1", "192.0.2.2", "192.0.2.1",
	    "192.0.2.3"};
	unsigned char rec[JREC_MAX];
	struct jrec r;
	off_t at = 16;
	size_t len;
	int fd, i;

	ck_assert((fd = journal_create(segment(2), 0, 2)) >= 0);
	for (i = 0; i < 4; i++) {
		memset(&r, 0, sizeof(r));
		r.type = i == 2 ? JREC_DEL : JREC_SET;
		r.addr = A(name[i]);
		r.expires = fake_now + 100;
		r.first_seen = (uint32_t)fake_now;
		r.adds = 1;
		len = jrec_encode(&r, rec);
		ck_assert_int_eq(journal_append(fd, at, rec, len), 0);
		at += (off_t)len;
	}
	close(fd);
	ck_assert_int_eq(file_size(segment(2)), 16 + 4 * 40);
}

START_TEST(old_state_imported)
{
	struct store *s;
	struct store_info info;
	struct addr a = A("192.0.2.1"), b = A("192.0.2.2"), c = A("192.0.2.3");
	int pass;

	capture_stderr();
	four_records();
	for (pass = 0; pass < 2; pass++) {
		s = open_at(0, NULL, 0);
		ck_assert_int_eq(store_check(s, &b, &info), 1);
		ck_assert_int_eq(info.expires, fake_now + 100);
		ck_assert_int_eq(store_check(s, &c, &info), 1);
		ck_assert_int_eq(store_check(s, &a, &info), 0);
		store_close(s);
		/* imported once; the old files go, the environment stays */
		ck_assert_int_eq(file_size(segment(2)), -1);
		ck_assert_int_gt(file_size(env_file("state.db")), 0);
	}
	ck_assert(logged("imported 2 grants from"));
}
END_TEST

START_TEST(torn_last_record)
{
	struct store *s;
	struct store_info info;
	struct addr a = A("192.0.2.1"), b = A("192.0.2.2"), c = A("192.0.2.3");
	struct addr d = A("192.0.2.4");
	int64_t exp;

	capture_stderr();
	four_records();
	/* a kill in the middle of the last append: record 4 cut short */
	ck_assert_int_eq(truncate(segment(2), 16 + 3 * 40 + 25), 0);
	s = open_at(0, NULL, 0);
	ck_assert(logged("the last 25 bytes are not whole records (a write "
	    "cut short)"));
	ck_assert(!logged("DAMAGED"));
	/* the records before it are kept: B, and A deleted */
	ck_assert_int_eq(store_check(s, &b, &info), 1);
	ck_assert_int_eq(store_check(s, &a, &info), 0);
	ck_assert_int_eq(store_check(s, &c, &info), 0);
	store_add(s, &d, 100, NULL, &exp);
	store_close(s);
	s = open_at(0, NULL, 0);
	ck_assert_int_eq(store_check(s, &b, &info), 1);
	ck_assert_int_eq(store_check(s, &d, &info), 1);
	ck_assert_int_eq(store_check(s, &a, &info), 0);
	store_close(s);
}
END_TEST

/* flip - invert one byte of a file */
static void
flip(const char *file, off_t at)
{
	unsigned char byte;
	FILE *f;

	ck_assert((f = fopen(file, "r+")) != NULL);
	ck_assert_int_eq(fseeko(f, at, SEEK_SET), 0);
	ck_assert_int_eq(fread(&byte, 1, 1, f), 1);
	byte ^= 0x40;
	ck_assert_int_eq(fseeko(f, at, SEEK_SET), 0);
	ck_assert_int_eq(fwrite(&byte, 1, 1, f), 1);
	fclose(f);
}

START_TEST(damaged_mid_segment)
{
	int bad = 2 + _i;	/* record 2 (SET B) or 3 (the DEL of A) of 4 */
	struct store *s;
	struct store_info info;
	struct addr a = A("192.0.2.1"), b = A("192.0.2.2"), c = A("192.0.2.3");
	char want[200];
	int pass;

	capture_stderr();
	four_records();
	flip(segment(2), 16 + (bad - 1) * 40 + 20);	/* in its expiry */
	for (pass = 0; pass < 2; pass++) {
		s = open_at(0, NULL, 0);
		/* the deleted grant never comes back */
		ck_assert_msg(store_check(s, &a, &info) == 0, "pass %d, record "
		    "%d damaged: the deleted grant 192.0.2.1 came back", pass,
		    bad);
		/* what follows the damage is imported */
		ck_assert_msg(store_check(s, &c, &info) == 1, "pass %d, record "
		    "%d damaged: 192.0.2.3, added after it, is lost", pass,
		    bad);
		/* loaded before the damage: dropped (it may have been
		 * deleted there) */
		ck_assert_int_eq(store_check(s, &b, &info), 0);
		store_close(s);
	}
	/* said loudly, once: the second start reads the environment */
	snprintf(want, sizeof(want), "dracd.db.journal.2: DAMAGED: 1 "
	    "stretches are not whole records");
	ck_assert_msg(logged(want), "no \"%s\" in the log", want);
	ck_assert(!logged("a write cut short)"));
	ck_assert_int_eq(file_size(segment(2)), -1);
}
END_TEST

struct churn {
	struct store *s;
	int rounds, failed;
	char err[1400];
};

/* compactor - compactions, one after another, while the test churns */
static void *
compactor(void *arg)
{
	struct churn *c = arg;
	int i;

	for (i = 0; i < c->rounds; i++)
		if (store_compact(c->s, c->err, sizeof(c->err)) < 0)
			c->failed++;
	return NULL;
}

/* count_rec - a jrec_fn counting records */
static int
count_rec(void *arg, const struct jrec *r)
{
	(void)r;
	(*(size_t *)arg)++;
	return 0;
}

START_TEST(compaction_under_churn)
{
	const size_t max = 3000;
	struct store *s = open_at(1, NULL, max);
	struct churn c = {s, 30, 0, ""};
	struct store_stats st;
	struct senv *e;
	char err[1400];
	unsigned int seed = 11;
	struct addr a;
	pthread_t thr;
	size_t n = 0, i;
	int64_t exp;
	int created;

	for (i = 0; i < max; i++) {
		a = seq(i);
		ck_assert_int_eq(store_add(s, &a, 100, NULL, &exp), 1);
	}
	/* a full list churned (a delete, then an add of a new address)
	 * while compactions prune the environment: afterwards it holds
	 * exactly the table */
	ck_assert_int_eq(pthread_create(&thr, NULL, compactor, &c), 0);
	for (i = 0; i < 200000; i++) {
		a = seq((size_t)rand_r(&seed) % 60000);
		if (store_del(s, &a) == 0) {
			ck_assert_int_ne(store_add(s, &a, 100, NULL, &exp), -1);
			continue;
		}
		a = seq((size_t)rand_r(&seed) % 60000);
		ck_assert_int_ne(store_add(s, &a, 100, NULL, &exp), -1);
	}
	pthread_join(thr, NULL);
	ck_assert_msg(c.failed == 0, "%d compactions failed: %s", c.failed,
	    c.err);
	store_get_stats(s, &st);
	store_close(s);
	ck_assert_int_eq(senv_open(env_file(""), NULL, &e, &created, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(senv_load(e, count_rec, &n, err, sizeof(err)), 1);
	senv_close(e);
	ck_assert_uint_eq(n, st.entries);
	ck_assert_uint_le(n, max);
}
END_TEST

/* ---- sync interval 0: the map edited in place ---- */

/* open_edits - a store in format f whose map is edited in place (sync
 * interval ms, 0: store_add returns once the add is in the map), threads
 * started; truncate: start empty */
static struct store *
open_edits(const struct map_format *f, int64_t ms, int truncate)
{
	struct store_opts o;
	char err[1400];
	struct store *s;

	memset(&o, 0, sizeof(o));
	o.path = path;
	o.format = *f;
	o.sync_interval_ms = ms;
	o.map_edit = 1;
	o.max_entries = 100000;
	o.truncate = truncate;
	o.clock = fake_clock;
	s = store_open(&o, err, sizeof(err));
	ck_assert_msg(s != NULL, "store_open: %s", err);
	ck_assert_int_eq(store_start(s), 0);
	return s;
}

/* in_map - is a in the map, in format f, with expiry exp (0: absent)? */
static int
in_map(const struct addr *a, const struct map_format *f, int64_t exp)
{
	char key[80], val[32], want[32];
	int kl = mapfile_key(a, f, key, sizeof(key));

	ck_assert_int_gt(kl, 0);
	if (map_get(path, key, (size_t)kl, val, sizeof(val)) != 1)
		return exp == 0;
	snprintf(want, sizeof(want), "%lld", (long long)exp);
	return exp != 0 && strcmp(val, want) == 0;
}

/* inode - the map's inode number */
static ino_t
inode(void)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_ino;
}

START_TEST(edited_in_every_format)
{
	const struct map_format *f = &every_format[_i];
	struct store *s = open_edits(f, 0, 1);
	struct addr a[40], extra = A("2001:db8::9");
	int64_t exp[40], e2;
	ino_t ino;
	size_t i;

	ck_assert_int_eq(store_add(s, &extra, 50, NULL, &e2), 1);
	ino = inode();
	for (i = 0; i < 40; i++) {
		a[i] = i % 4 == 0 ? A("2001:db8::1") : seq(i);
		if (i % 4 == 0)
			a[i].bytes[15] = (uint8_t)i;
		ck_assert_int_eq(store_add(s, &a[i], 100 + (int64_t)i, NULL,
		    &exp[i]), 1);
		/* acknowledged: already in the map, in its format */
		ck_assert_msg(in_map(&a[i], f, exp[i]), "format %d: add %zu "
		    "acknowledged, not in the map", _i, i);
	}
	/* a refresh and a delete, carried by the next acknowledged add */
	ck_assert_int_eq(store_add(s, &a[1], 500, NULL, &exp[1]), 1);
	ck_assert_int_eq(store_del(s, &a[2]), 1);
	ck_assert_int_eq(store_add(s, &a[3], 100, NULL, &exp[3]), 1);
	ck_assert(in_map(&a[1], f, fake_now + 500));
	ck_assert(in_map(&a[2], f, 0));
	/* all of it in place: the file was never replaced */
	ck_assert_msg(inode() == ino, "format %d: the map was rewritten, not "
	    "edited", _i);
	ck_assert_uint_eq(map_count(path), 40);
	/* a flush is a whole rewrite: a new file holding the add after it */
	store_flush(s);
	ck_assert_int_eq(store_add(s, &a[5], 100, NULL, &exp[5]), 1);
	ck_assert(inode() != ino);
	ck_assert_uint_eq(map_count(path), 1);
	ck_assert(in_map(&a[5], f, exp[5]));
	store_close(s);
}
END_TEST

/* map_is - a map_update = edit store's map has caught up: a holds its
 * expiry (0: absent) */
struct map_want {
	const struct addr *a;
	const struct map_format *f;
	int64_t exp;
};

static int
map_is(void *arg)
{
	const struct map_want *w = arg;

	return in_map(w->a, w->f, w->exp);
}

/* wait_map - until a is in the map with exp (0: absent), 5 s at most */
static void
wait_map(const struct addr *a, const struct map_format *f, int64_t exp)
{
	struct map_want w = {a, f, exp};

	ck_assert_msg(wait_until(map_is, &w, 5000), "the map does not hold "
	    "expiry %lld (0: absent) within 5 s", (long long)exp);
}

START_TEST(edited_with_interval)
{
	const struct map_format f = {0, 0, 0};
	struct addr a = A("192.0.2.1"), b = A("192.0.2.2"), c = A("2001:db8::3");
	struct store_info info;
	struct store *s;
	int64_t ea, eb, ec;
	ino_t ino;

	/* map_update = edit with a sync interval: the changes of each
	 * interval edited into the file, which is never replaced */
	s = open_edits(&f, 100, 1);
	ck_assert_int_eq(store_add(s, &a, 100, NULL, &ea), 1);
	wait_map(&a, &f, ea);
	ino = inode();
	ck_assert_int_eq(store_add(s, &b, 200, NULL, &eb), 1);
	ck_assert_int_eq(store_add(s, &c, 300, NULL, &ec), 1);
	wait_map(&b, &f, eb);
	wait_map(&c, &f, ec);
	/* a refresh and a delete */
	ck_assert_int_eq(store_add(s, &a, 500, NULL, &ea), 1);
	ck_assert_int_eq(store_del(s, &b), 1);
	wait_map(&a, &f, fake_now + 500);
	wait_map(&b, &f, 0);
	ck_assert_msg(inode() == ino, "the map was rewritten, not edited");
	ck_assert_uint_eq(map_count(path), 2);
	/* a flush is a whole rewrite */
	store_flush(s);
	ck_assert_int_eq(store_add(s, &b, 100, NULL, &eb), 1);
	wait_map(&b, &f, eb);
	wait_map(&a, &f, 0);
	ck_assert(inode() != ino);
	ck_assert_uint_eq(map_count(path), 1);
	store_close(s);
	/* what the map holds at close is what a reopen serves */
	s = open_edits(&f, 100, 0);
	ck_assert_int_eq(store_check(s, &b, &info), 1);
	ck_assert_int_eq(store_check(s, &a, &info), 0);
	store_close(s);
}
END_TEST

/* mtime_after - has the map's mtime passed *arg (whole seconds)? */
static int
mtime_after(void *arg)
{
	struct stat st;

	return stat(path, &st) == 0 && st.st_mtime > *(time_t *)arg;
}

START_TEST(mtime_moves_after_edits)
{
	const struct map_format f = {0, 0, 0};
	struct store *s = open_edits(&f, 0, 1);
	struct addr a = A("192.0.2.1"), b = A("192.0.2.2");
	struct stat st;
	int64_t exp;

	ck_assert_int_eq(store_add(s, &a, 100, NULL, &exp), 1);
	ck_assert_int_eq(store_add(s, &b, 100, NULL, &exp), 1);
	ck_assert_int_eq(stat(path, &st), 0);
	/* an MTA that opened the map in the second of the last edit
	 * compares whole seconds: with no edit after it, dracd moves the
	 * mtime past that second by itself */
	ck_assert_msg(wait_until(mtime_after, &st.st_mtime, 2500), "the map's "
	    "mtime stayed at the second of the last edit");
	store_close(s);
}
END_TEST

Suite *
make_store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, add_check_refresh);
	tcase_add_test(tc, expiry);
	tcase_add_test(tc, expiry_batches);
	tcase_add_test(tc, delete_flush_full);
	tcase_add_test(tc, list_complete_across_growth);
	tcase_add_test(tc, persistence);
	tcase_add_test(tc, drac_map_without_state);
	tcase_add_test(tc, env_replay);
	tcase_add_test(tc, compaction);
	tcase_add_test(tc, damaged_env_refused);
	tcase_add_test(tc, formats);
	tcase_add_loop_test(tc, map_holds_every_key, 0, 4);
	tcase_add_test(tc, mtime_moves_every_write);
	tcase_add_test(tc, corrupt_file_refused);
	tcase_add_test(tc, crash_leftovers_removed);
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, lowered_max_entries);
	tcase_add_test(tc, compaction_under_churn);
	suite_add_tcase(s, tc);
	tc = tcase_create("in_place");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, edited_in_every_format, 0, 4);
	tcase_add_test(tc, mtime_moves_after_edits);
	tcase_add_test(tc, edited_with_interval);
	suite_add_tcase(s, tc);
	tc = tcase_create("env_recovery");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, kill_keeps_synced);
	tcase_add_test(tc, torn_log_tail);
	suite_add_tcase(s, tc);
	tc = tcase_create("import");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, old_state_imported);
	tcase_add_test(tc, torn_last_record);
	tcase_add_loop_test(tc, damaged_mid_segment, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
