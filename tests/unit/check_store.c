/*
 * check_store.c - the allowlist table and its files, on a fake clock.
 * The store's threads are not started here; the tests drive expiry and
 * publishing themselves.
 */
#include <sys/stat.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "journal.h"
#include "mapfile.h"
#include "store.h"
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
	snprintf(state, sizeof(state), "%s.state", path);
	ck_assert_int_eq(access(state, F_OK), -1);
	s = open_at(0, NULL, 0);
	ck_assert_int_eq(store_check(s, &r.addr, &info), 1);
	ck_assert_int_eq(info.expires, fake_now + 600);
	store_close(s);
	/* closing wrote dracd's own snapshot, which the next start reads */
	ck_assert_int_eq(access(state, F_OK), 0);
	unlink(path);
	s = open_at(0, NULL, 0);
	ck_assert_int_eq(store_check(s, &r.addr, &info), 1);
	store_close(s);
}
END_TEST

/* segment - the name of journal segment n beside path */
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

START_TEST(journal_replay)
{
	struct store *s = open_at(1, NULL, 0);
	struct store_info info;
	struct addr a = A("192.0.2.1"), b = A("192.0.2.2"), c = A("10.9.9.9");
	char state[600];
	struct stat st;
	int64_t exp;

	store_close(s);		/* -i: an empty snapshot, no segment */
	ck_assert_int_eq(file_size(segment(1)), -1);
	s = open_at(0, NULL, 0);
	store_add(s, &a, 100, "alice", &exp);
	store_add(s, &a, 200, NULL, &exp);	/* keeps alice, adds = 2 */
	store_add(s, &b, 100, "bob", &exp);
	store_add(s, &c, 100, NULL, &exp);
	ck_assert_int_eq(store_del(s, &b), 1);
	store_close(s);		/* the journal only: no new snapshot */
	ck_assert_int_gt(file_size(segment(2)), 16);
	/* user names are nobody else's business; the map is everyone's */
	ck_assert_int_eq(stat(segment(2), &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	snprintf(state, sizeof(state), "%s.state", path);
	ck_assert_int_eq(stat(state, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

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

START_TEST(torn_journal_end)
{
	struct store *s = open_at(1, NULL, 0);
	struct store_info info;
	struct addr a = A("192.0.2.1"), b = A("192.0.2.2");
	off_t whole;
	int64_t exp;
	FILE *f;

	store_close(s);
	s = open_at(0, NULL, 0);
	store_add(s, &a, 100, NULL, &exp);
	store_close(s);
	/* a kill in the middle of an append leaves part of a record */
	whole = file_size(segment(2));
	ck_assert((f = fopen(segment(2), "a")) != NULL);
	fputs("\x17half a record", f);
	fclose(f);
	s = open_at(0, NULL, 0);
	ck_assert_int_eq(store_check(s, &a, &info), 1);
	/* the next append goes where the torn record began */
	store_add(s, &b, 100, NULL, &exp);
	store_close(s);
	ck_assert_int_eq(file_size(segment(2)), whole + 40);
	s = open_at(0, NULL, 0);
	ck_assert_int_eq(store_check(s, &a, &info), 1);
	ck_assert_int_eq(store_check(s, &b, &info), 1);
	store_close(s);
}
END_TEST

START_TEST(compaction)
{
	struct store *s = open_at(1, NULL, 0);
	struct store_info info;
	struct addr a, extra = A("10.1.0.0");
	char err[1400], stale[600];
	unsigned char rec[JREC_MAX];
	struct jrec r;
	int64_t exp;
	size_t i;
	int fd;

	for (i = 0; i < 3000; i++) {
		a = seq(i);
		ck_assert_int_eq(store_add(s, &a, 100, "u", &exp), 1);
	}
	ck_assert_msg(store_compact(s, err, sizeof(err)) == 0, "%s", err);
	/* the snapshot names segment 2; segment 1 is gone */
	ck_assert_int_eq(file_size(segment(1)), -1);
	ck_assert_int_eq(file_size(path), -1);	/* no map write asked */
	store_add(s, &extra, 100, NULL, &exp);
	store_close(s);
	/* a segment older than the snapshot, as a crash between writing the
	 * snapshot and removing it would leave, is not replayed */
	snprintf(stale, sizeof(stale), "%s", segment(1));
	ck_assert((fd = journal_create(stale, 0, 1)) >= 0);
	memset(&r, 0, sizeof(r));
	r.type = JREC_FLUSH;
	ck_assert_int_eq(journal_append(fd, 16, rec, jrec_encode(&r, rec)), 0);
	close(fd);
	s = open_at(0, NULL, 0);
	for (i = 0; i < 3000; i++) {
		a = seq(i);
		ck_assert_int_eq(store_check(s, &a, &info), 1);
	}
	ck_assert_int_eq(store_check(s, &extra, &info), 1);
	ck_assert_str_eq(info.user, "");
	store_close(s);
}
END_TEST

START_TEST(damaged_snapshot_refused)
{
	struct store *s = open_at(1, NULL, 0);
	struct store_opts o;
	char state[600], err[1400];
	struct addr a = A("192.0.2.1");
	int64_t exp;
	FILE *f;

	store_add(s, &a, 100, NULL, &exp);
	store_close(s);
	snprintf(state, sizeof(state), "%s.state", path);
	ck_assert_int_eq(truncate(state, file_size(state) - 3), 0);
	memset(&o, 0, sizeof(o));
	o.path = path;
	o.max_entries = 10;
	o.clock = fake_clock;
	ck_assert_ptr_null(store_open(&o, err, sizeof(err)));
	ck_assert_msg(strstr(err, state) != NULL && strstr(err, "damaged"),
	    "got \"%s\"", err);
	ck_assert((f = fopen(state, "w")) != NULL);
	fputs("an old or foreign file", f);
	fclose(f);
	ck_assert_ptr_null(store_open(&o, err, sizeof(err)));
	ck_assert_msg(strstr(err, "not a dracd state file"), "got \"%s\"",
	    err);
}
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
	 * sorts them into Berkeley DB's key order before inserting */
	for (i = 0; i < 3000; i++) {
		uint32_t r = (uint32_t)rand_r(&seed) * 2654435761U;

		a[i].family = i % 10 == 0 ? AF_INET6 : AF_INET;
		memcpy(a[i].bytes, &r, 4);
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
	char state[600];
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
	snprintf(state, sizeof(state), "%s.state", path);
	unlink(state);
	for (i = 1; i < 10; i++)
		unlink(segment(i));
	s = open_at(0, NULL, 2);
	store_get_stats(s, &st);
	ck_assert_uint_eq(st.entries, 3);
	ck_assert_int_eq(store_check(s, &extra, &info), 1);
	store_close(s);
}
END_TEST

/* four_records - segment 2 holds SET A, SET B, DEL A, SET C (40 bytes
 * each, after the 16-byte header) */
static void
four_records(void)
{
	struct store *s = open_at(1, NULL, 0);
	struct addr a = A("192.0.2.1"), b = A("192.0.2.2"), c = A("192.0.2.3");
	int64_t exp;

	store_close(s);
	s = open_at(0, NULL, 0);
	store_add(s, &a, 100, NULL, &exp);
	store_add(s, &b, 100, NULL, &exp);
	ck_assert_int_eq(store_del(s, &a), 1);
	store_add(s, &c, 100, NULL, &exp);
	store_close(s);
	ck_assert_int_eq(file_size(segment(2)), 16 + 4 * 40);
}

START_TEST(torn_last_record)
{
	struct store *s;
	struct store_info info;
	struct addr a = A("192.0.2.1"), b = A("192.0.2.2"), c = A("192.0.2.3");
	struct addr d = A("192.0.2.4");
	char copy[800];
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
	/* the next append goes where the torn record began */
	store_add(s, &d, 100, NULL, &exp);
	store_close(s);
	ck_assert_int_eq(file_size(segment(2)), 16 + 4 * 40);
	snprintf(copy, sizeof(copy), "%s.damaged", segment(2));
	ck_assert_int_eq(access(copy, F_OK), -1);
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
	char want[200], copy[800];
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
		/* what follows the damage is replayed */
		ck_assert_msg(store_check(s, &c, &info) == 1, "pass %d, record "
		    "%d damaged: 192.0.2.3, added after it, is lost", pass,
		    bad);
		/* loaded before the damage: dropped (it may have been
		 * deleted there) */
		ck_assert_int_eq(store_check(s, &b, &info), 0);
		store_close(s);	/* writes a new snapshot */
	}
	/* said loudly: the file, the offset, the records after it */
	snprintf(want, sizeof(want), "dracd.db.journal.2: DAMAGED, not a "
	    "write cut short: 40 bytes at offset %d are not whole records, "
	    "and %d whole records follow them", 16 + (bad - 1) * 40, 4 - bad);
	ck_assert_msg(logged(want), "no \"%s\" in the log", want);
	ck_assert(!logged("a write cut short): ignored"));
	/* a copy is kept; the segment itself went with the new snapshot */
	snprintf(copy, sizeof(copy), "%s.damaged", segment(2));
	ck_assert_int_eq(file_size(copy), 16 + 4 * 40);
	ck_assert_int_eq(file_size(segment(2)), -1);
}
END_TEST

struct churn {
	struct store *s;
	int rounds, failed;
	char err[1400];
};

/* compactor - snapshots, one after another, while the test churns */
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

START_TEST(snapshot_within_max_entries)
{
	const size_t max = 3000;
	struct store *s = open_at(1, NULL, max);
	struct churn c = {s, 30, 0, ""};
	struct jvisit v = {count_rec, NULL, NULL};
	char state[600], err[1400];
	unsigned int seed = 11;
	struct addr a;
	pthread_t thr;
	uint64_t hseq;
	size_t n = 0, i;
	int64_t exp;
	off_t good;

	for (i = 0; i < max; i++) {
		a = seq(i);
		ck_assert_int_eq(store_add(s, &a, 100, NULL, &exp), 1);
	}
	/* a full list churned (a delete, then an add of a new address)
	 * while snapshots walk it: none may hold more than max entries */
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
	ck_assert_msg(c.failed == 0, "%d snapshots failed: %s", c.failed,
	    c.err);
	snprintf(state, sizeof(state), "%s.state", path);
	v.arg = &n;
	ck_assert_int_eq(journal_read(state, 1, &hseq, &v, &good, err,
	    sizeof(err)), 1);
	ck_assert_uint_le(n, max);
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
	tcase_add_test(tc, journal_replay);
	tcase_add_test(tc, torn_journal_end);
	tcase_add_test(tc, compaction);
	tcase_add_test(tc, damaged_snapshot_refused);
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
	tcase_add_test(tc, snapshot_within_max_entries);
	suite_add_tcase(s, tc);
	tc = tcase_create("journal_damage");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, torn_last_record);
	tcase_add_loop_test(tc, damaged_mid_segment, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
