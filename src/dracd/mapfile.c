/*
 * mapfile.c - write and read the map file (Berkeley DB 5.3).
 *
 * The map holds key = address text as inet_ntop writes it, value = expiry
 * as ASCII epoch seconds, no NUL unless configured: what DRAC wrote and
 * what Postfix, Sendmail and Exim read.  A file is written under a
 * temporary name, in key order, synced, given an mtime later than its
 * predecessor's (an MTA compares whole seconds), and renamed over the old
 * one; the directory is synced last.  Readers keep the old inode until they reopen, and
 * Postfix notices the unlinked file and restarts its daemons.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <db.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mapfile.h"

/* Berkeley DB's cache while writing: keys in order need little, and a
 * small list gets a small cache (it is set up anew for every write) */
#define WRITE_CACHE_MAX	(2 * 1024 * 1024)
#define WRITE_CACHE_MIN	(64 * 1024)
#define FILL_CHUNK	1024

static __thread char bdb_msg[256];	/* Berkeley DB's last complaint */
static unsigned int tmp_serial;	/* under the store's map lock */

/* bdb_errcall - keep Berkeley DB's message for our own error text */
static void
bdb_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env, (void)pfx;
	snprintf(bdb_msg, sizeof(bdb_msg), "%s", msg);
}

/* db_new - a handle whose messages come to us, not to stderr */
static int
db_new(DB **db)
{
	int rc;

	bdb_msg[0] = '\0';
	*db = NULL;
	if ((rc = db_create(db, NULL, 0)) == 0)
		(*db)->set_errcall(*db, bdb_errcall);
	return rc;
}

/* db_error - the text for a failure: Berkeley DB's own words if any */
static const char *
db_error(int rc)
{
	if (bdb_msg[0] != '\0')
		return bdb_msg;
	return rc > 0 ? strerror(rc) : db_strerror(rc);
}

/* mapfile_key - the map key of an address; its length, or -1 */
int
mapfile_key(const struct addr *a, const struct map_format *f, char *buf,
    size_t len)
{
	char text[ADDR_TEXTMAX];
	int n;

	addr_format(a, text);
	if (f->cidr)
		n = snprintf(buf, len, "%s/%zu", text, addr_len(a) * 8);
	else
		n = snprintf(buf, len, "%s", text);
	if (n < 0 || (size_t)n + 1 > len)
		return -1;
	return n + (f->nul ? 1 : 0);	/* snprintf left the NUL */
}

/* mapfile_sync_dir - fsync the directory holding file */
int
mapfile_sync_dir(const char *file)
{
	char dir[PATH_MAX];
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s", file);
	if ((fd = open(dirname(dir), O_DIRECTORY | O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/*
 * bump_mtime - make tmp's mtime later than prev's in whole seconds, so an
 * MTA comparing mtimes sees the change; but never more than a second
 * ahead of the clock, or many writes a second (sync interval 0) would
 * push it ever further into the future: those share one second.
 */
static int
bump_mtime(const char *tmp, const char *prev)
{
	struct timespec ts[2];
	struct stat st;
	time_t cap;

	if (stat(prev, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	if (ts[0].tv_sec > st.st_mtim.tv_sec)
		return 0;
	cap = ts[0].tv_sec + 1;
	ts[0].tv_sec = st.st_mtim.tv_sec < cap ? st.st_mtim.tv_sec + 1 : cap;
	ts[0].tv_nsec = 0;
	ts[1] = ts[0];
	return utimensat(AT_FDCWD, tmp, ts, 0);
}

/*
 * Key order.  Berkeley DB builds a B-tree fastest, in the fewest pages and
 * with the smallest cache when keys arrive in its order (bytewise), so
 * the records are sorted first.  An IPv4 key sorts as a 32-bit number
 * whose octets are replaced by their rank among the decimal strings
 * "0".."255" in string order: text order is decided octet by octet, and a
 * shorter octet that is a prefix of a longer one sorts first, since what
 * follows an octet ('.', '/', NUL or nothing) sorts before any digit.  IPv6
 * keys, rarer, are sorted as text.
 */
struct v6key {
	char key[ADDR_TEXTMAX + 8];
	uint32_t expires;
};

struct keyset {
	uint64_t *v4;		/* rank << 32 | expiry */
	struct v6key *v6;
	size_t n4, n6, cap4, cap6;
};

static uint8_t octet_rank[256], rank_octet[256];
static pthread_once_t rank_once = PTHREAD_ONCE_INIT;

/* cmp_octet_text - two octets as their decimal strings, for qsort */
static int
cmp_octet_text(const void *a, const void *b)
{
	char x[4], y[4];

	snprintf(x, sizeof(x), "%u", *(const uint8_t *)a);
	snprintf(y, sizeof(y), "%u", *(const uint8_t *)b);
	return strcmp(x, y);
}

/* rank_init - both directions of the octet ranking */
static void
rank_init(void)
{
	int i;

	for (i = 0; i < 256; i++)
		rank_octet[i] = (uint8_t)i;
	qsort(rank_octet, 256, 1, cmp_octet_text);
	for (i = 0; i < 256; i++)
		octet_rank[rank_octet[i]] = (uint8_t)i;
}

#define SORT_SMALL	32	/* runs shorter than this: insertion sort */

/* insertion_v4 - sort a short run by the upper 32 bits */
static void
insertion_v4(uint64_t *v, size_t n)
{
	size_t i, j;
	uint64_t x;

	for (i = 1; i < n; i++) {
		x = v[i];
		for (j = i; j > 0 && (v[j - 1] >> 32) > (x >> 32); j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/*
 * sort_v4 - sort by the upper 32 bits (the key), in place: a radix sort
 * from the most significant byte down, each pass moving every element
 * straight into its byte's bucket.  No second buffer: at 1,000,000
 * entries a copy was 8 MB more at the peak of a whole map rewrite.
 */
static void
sort_v4(uint64_t *v, size_t n, int shift)
{
	size_t count[256], next[256], end[256], i, b, d;
	uint64_t x, t;

	if (n < SORT_SMALL) {
		insertion_v4(v, n);
		return;
	}
	memset(count, 0, sizeof(count));
	for (i = 0; i < n; i++)
		count[(v[i] >> shift) & 0xff]++;
	for (b = 0, i = 0; b < 256; b++) {
		next[b] = i;
		i += count[b];
		end[b] = i;
	}
	for (b = 0; b < 256; b++)
		while (next[b] < end[b]) {
			x = v[next[b]];
			/* swap x into place until one of bucket b comes */
			while ((d = (x >> shift) & 0xff) != b) {
				t = v[next[d]];
				v[next[d]++] = x;
				x = t;
			}
			v[next[b]++] = x;
		}
	if (shift == 32)
		return;
	for (b = 0, i = 0; b < 256; i += count[b], b++)
		if (count[b] > 1)
			sort_v4(v + i, count[b], shift - 8);
}

/* cmp_v6 - for qsort */
static int
cmp_v6(const void *a, const void *b)
{
	return strcmp(((const struct v6key *)a)->key,
	    ((const struct v6key *)b)->key);
}

/* grow_array - room for one more element; -1 when out of memory */
static int
grow_array(void **p, size_t n, size_t *cap, size_t size)
{
	void *np;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap + *cap / 2 : 4096;
	if ((np = reallocarray(*p, ncap, size)) == NULL)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

/* keyset_add - one record, as a sort key */
static int
keyset_add(struct keyset *ks, const struct map_rec *r,
    const struct map_format *f)
{
	uint32_t exp = r->expires > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)r->expires;
	struct map_format text = *f;
	const uint8_t *b = r->addr.bytes;

	if (r->addr.family == AF_INET) {
		if (grow_array((void **)&ks->v4, ks->n4, &ks->cap4,
		    sizeof(*ks->v4)) < 0)
			return ENOMEM;
		ks->v4[ks->n4++] = (uint64_t)((uint32_t)octet_rank[b[0]] << 24 |
		    (uint32_t)octet_rank[b[1]] << 16 |
		    (uint32_t)octet_rank[b[2]] << 8 | octet_rank[b[3]]) << 32 |
		    exp;
		return 0;
	}
	if (grow_array((void **)&ks->v6, ks->n6, &ks->cap6,
	    sizeof(*ks->v6)) < 0)
		return ENOMEM;
	text.nul = 0;
	if (mapfile_key(&r->addr, &text, ks->v6[ks->n6].key,
	    sizeof(ks->v6[ks->n6].key)) < 0)
		return EINVAL;
	ks->v6[ks->n6++].expires = exp;
	return 0;
}

/* keyset_fill - every record fill gives, sorted */
static int
keyset_fill(struct keyset *ks, const struct map_format *f, map_fill_fn fill,
    void *arg)
{
	struct map_rec recs[FILL_CHUNK];
	size_t i, n;
	int rc;

	pthread_once(&rank_once, rank_init);
	while ((n = fill(arg, recs, FILL_CHUNK)) > 0)
		for (i = 0; i < n; i++)
			if ((rc = keyset_add(ks, &recs[i], f)) != 0)
				return rc;
	if (ks->n4 > 0)
		sort_v4(ks->v4, ks->n4, 56);
	if (ks->n6 > 0)
		qsort(ks->v6, ks->n6, sizeof(*ks->v6), cmp_v6);
	return 0;
}

/* v4_key - the map key of a sorted IPv4 entry, without any NUL */
static void
v4_key(uint64_t v, const struct map_format *f, char *buf, size_t len)
{
	struct map_format text = *f;
	struct addr a;
	int i;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	for (i = 0; i < 4; i++)
		a.bytes[i] = rank_octet[(v >> (56 - 8 * i)) & 0xff];
	text.nul = 0;
	(void)mapfile_key(&a, &text, buf, len);
}

/* put_one - one key and expiry into an open database */
static int
put_one(DB *db, const struct map_format *f, const char *key, uint32_t exp)
{
	char vbuf[32];
	DBT k, v;
	int vl;

	vl = snprintf(vbuf, sizeof(vbuf), "%" PRIu32, exp);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)(uintptr_t)key;
	k.size = (u_int32_t)(strlen(key) + (f->nul ? 1 : 0));
	v.data = vbuf;
	v.size = (u_int32_t)(vl + (f->nul ? 1 : 0));
	return db->put(db, NULL, &k, &v, 0);
}

/* put_all - store the sorted keys in order, merging the two families */
static int
put_all(DB *db, const struct map_format *f, const struct keyset *ks)
{
	char k4[ADDR_TEXTMAX + 8];
	size_t i4 = 0, i6 = 0;
	int rc = 0;

	if (ks->n4 > 0)
		v4_key(ks->v4[0], f, k4, sizeof(k4));
	while (rc == 0 && (i4 < ks->n4 || i6 < ks->n6)) {
		if (i6 == ks->n6 || (i4 < ks->n4 &&
		    strcmp(k4, ks->v6[i6].key) < 0)) {
			rc = put_one(db, f, k4, (uint32_t)ks->v4[i4]);
			if (++i4 < ks->n4)
				v4_key(ks->v4[i4], f, k4, sizeof(k4));
		} else {
			rc = put_one(db, f, ks->v6[i6].key,
			    ks->v6[i6].expires);
			i6++;
		}
	}
	return rc;
}

/* cache_size - Berkeley DB's cache for writing n records */
static u_int32_t
cache_size(size_t n)
{
	size_t want = n * 64;

	return (u_int32_t)(want < WRITE_CACHE_MIN ? WRITE_CACHE_MIN :
	    want > WRITE_CACHE_MAX ? WRITE_CACHE_MAX : want);
}

/* write_db - a complete new database file at tmp */
static int
write_db(const char *tmp, const struct map_format *f, map_fill_fn fill,
    void *arg)
{
	struct keyset ks;
	DB *db;
	int rc, rc2;

	memset(&ks, 0, sizeof(ks));
	if ((rc = keyset_fill(&ks, f, fill, arg)) != 0 ||
	    (rc = db_new(&db)) != 0)
		goto out;
	db->set_cachesize(db, 0, cache_size(ks.n4 + ks.n6), 1);
	rc = db->open(db, NULL, tmp, NULL, f->hash ? DB_HASH : DB_BTREE,
	    DB_CREATE | DB_EXCL, 0644);
	if (rc == 0)
		rc = put_all(db, f, &ks);
	rc2 = db->close(db, 0);
	if (rc == 0)
		rc = rc2;
out:
	free(ks.v4);
	free(ks.v6);
	return rc;
}

/* unlink_bdb_temp - remove the __db.NAME file Berkeley DB creates a new
 * database under, which a failed create leaves behind */
static void
unlink_bdb_temp(const char *tmp)
{
	char dir[PATH_MAX], base[PATH_MAX], bdb[PATH_MAX * 2];

	snprintf(dir, sizeof(dir), "%s", tmp);
	snprintf(base, sizeof(base), "%s", tmp);
	snprintf(bdb, sizeof(bdb), "%s/__db.%s", dirname(dir), basename(base));
	unlink(bdb);
}

/* mapfile_write - replace path with a file holding what fill gives */
int
mapfile_write(const char *path, const struct map_format *f,
    map_fill_fn fill, void *arg, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	const char *step;
	int rc;

	/* a name no earlier write used: Berkeley DB creates a file as
	 * __db.NAME first, and one left by a process killed meanwhile makes
	 * the next create of NAME wait for its creator forever */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%u", path, (long)getpid(),
	    ++tmp_serial) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if (unlink(tmp) < 0 && errno != ENOENT) {
		rc = errno, step = "unlink";
		goto fail;
	}
	if ((rc = write_db(tmp, f, fill, arg)) != 0) {
		step = "write";
		goto fail;
	}
	errno = 0;
	/* DB->close has written and fsync'ed the file; the directory's
	 * fsync below also commits the mode, mtime and name */
	if (chmod(tmp, 0644) < 0)
		step = "chmod";
	else if (bump_mtime(tmp, path) < 0)
		step = "utimensat";
	else if (rename(tmp, path) < 0)
		step = "rename";
	else if (mapfile_sync_dir(path) < 0)
		step = "sync directory";
	else
		return 0;
	rc = errno;
fail:
	snprintf(err, errlen, "%s: %s: %s", tmp, step, db_error(rc));
	unlink(tmp);
	unlink_bdb_temp(tmp);
	return -1;
}

/*
 * mapfile_revoke - make the map at path grant nothing, needing no new
 * space: rename the empty map spare (written in advance by the caller)
 * over it, with a later mtime so MTAs reopen it; with no spare, remove
 * the map (MTAs then defer relaying: a lookup error is a temporary
 * failure).  1 when emptied, 0 when removed, -1 with a message.
 */
int
mapfile_revoke(const char *path, const char *spare, char *err, size_t errlen)
{
	int rc = -1;

	if (access(spare, F_OK) == 0 && bump_mtime(spare, path) == 0 &&
	    rename(spare, path) == 0)
		rc = 1;
	else if (unlink(path) == 0 || errno == ENOENT)
		rc = 0;
	else
		snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
	if (rc >= 0)
		(void)mapfile_sync_dir(path);	/* best effort: disk full */
	return rc;
}

/* parse_key - an address from a map key in any of our formats */
static int
parse_key(const DBT *k, struct addr *a)
{
	char buf[ADDR_TEXTMAX + 8], *slash;
	size_t len = k->size;

	if (len > 0 && ((const char *)k->data)[len - 1] == '\0')
		len--;
	if (len == 0 || len >= sizeof(buf) || memchr(k->data, '\0', len))
		return -1;
	memcpy(buf, k->data, len);
	buf[len] = '\0';
	if ((slash = strchr(buf, '/')) != NULL) {
		if (strcmp(slash, "/32") != 0 && strcmp(slash, "/128") != 0)
			return -1;
		*slash = '\0';
	}
	if (addr_parse(a, buf) < 0)
		return -1;
	return slash == NULL || strcmp(slash + 1, a->family == AF_INET ?
	    "32" : "128") == 0 ? 0 : -1;
}

/* parse_value - the expiry: epoch seconds in ASCII */
static int
parse_value(const DBT *v, struct map_rec *r)
{
	char buf[32];
	size_t len = v->size;
	int used = 0;

	if (len > 0 && ((const char *)v->data)[len - 1] == '\0')
		len--;
	if (len == 0 || len >= sizeof(buf) || memchr(v->data, '\0', len))
		return -1;
	memcpy(buf, v->data, len);
	buf[len] = '\0';
	return sscanf(buf, "%" SCNd64 "%n", &r->expires, &used) == 1 &&
	    (size_t)used == len && buf[0] != '-' ? 0 : -1;
}

/* map_close - close a cursor and its map, either of them absent */
static void
map_close(DB *db, DBC *c)
{
	if (c != NULL)
		c->close(c);
	if (db != NULL)
		db->close(db, 0);
}

/*
 * map_open_read - an existing map, opened read-only, and a cursor on it:
 * 1, 0 when there is no file, -1 with a message (and nothing left open)
 * when it cannot be read
 */
static int
map_open_read(const char *path, DB **db, DBC **c, char *err, size_t errlen)
{
	int rc;

	*db = NULL;
	*c = NULL;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if ((rc = db_new(db)) == 0 &&
	    (rc = (*db)->open(*db, NULL, path, NULL, DB_UNKNOWN, DB_RDONLY,
	    0)) == 0 &&
	    (rc = (*db)->cursor(*db, NULL, c, 0)) == 0)
		return 1;
	snprintf(err, errlen, "%s: %s", path, db_error(rc));
	map_close(*db, *c);
	*db = NULL;
	*c = NULL;
	return -1;
}

/*
 * map_end - close what map_open_read opened after a walk that stopped
 * with rc: 1 when it came to an end (rc 0 or DB_NOTFOUND), else -1 with
 * a message
 */
static int
map_end(const char *path, DB *db, DBC *c, int rc, char *err, size_t errlen)
{
	if (rc != 0 && rc != DB_NOTFOUND)
		snprintf(err, errlen, "%s: %s", path, db_error(rc));
	map_close(db, c);
	return rc == 0 || rc == DB_NOTFOUND ? 1 : -1;
}

/*
 * mapfile_read - visit every record of a map.  Returns 1
 * when read, 0 when the file does not exist, -1 on any error (a corrupt
 * file, a key or value not in our format) with a message.
 */
int
mapfile_read(const char *path, map_visit_fn fn, void *arg, char *err,
    size_t errlen)
{
	struct map_rec r;
	DB *db;
	DBC *c;
	DBT k, v;
	int rc;

	if ((rc = map_open_read(path, &db, &c, err, errlen)) <= 0)
		return rc;
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	while ((rc = c->get(c, &k, &v, DB_NEXT)) == 0) {
		if (parse_key(&k, &r.addr) < 0 ||
		    parse_value(&v, &r) < 0) {
			snprintf(err, errlen, "%s: a record not in dracd's "
			    "format (key \"%.*s\")", path,
			    (int)(k.size > 60 ? 60 : k.size),
			    (const char *)k.data);
			break;
		}
		if (fn(arg, &r) < 0) {
			snprintf(err, errlen, "%s: out of memory while "
			    "loading", path);
			break;
		}
	}
	if (rc == 0) {		/* stopped at a record: err says why */
		map_close(db, c);
		return -1;
	}
	return map_end(path, db, c, rc, err, errlen);
}

/*
 * mapfile_detect - the format of an existing map: 1 and *f (type from
 * the file; keys and NUL from its first record, *keys 0 when it has
 * none), 0 when there is no file, -1 with a message when it cannot be
 * read
 */
int
mapfile_detect(const char *path, struct map_format *f, int *keys,
    char *err, size_t errlen)
{
	DB *db;
	DBC *c;
	DBTYPE type;
	DBT k, v;
	int rc;

	*keys = 0;
	if ((rc = map_open_read(path, &db, &c, err, errlen)) <= 0)
		return rc;
	if ((rc = db->get_type(db, &type)) == 0) {
		f->hash = type == DB_HASH;
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		rc = c->get(c, &k, &v, DB_NEXT);
	}
	if (rc == 0) {
		*keys = 1;
		f->nul = k.size > 0 && ((const char *)k.data)[k.size - 1] ==
		    '\0';
		f->cidr = memchr(k.data, '/', k.size) != NULL;
	}
	return map_end(path, db, c, rc, err, errlen);
}

/* mapfile_writable - can the files beside path be written?  -1 if not */
int
mapfile_writable(const char *path, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) <
	    0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	close(fd);
	unlink(tmp);
	return 0;
}

/*
 * mapfile_clean - remove the temporary files of writes that a crash cut
 * short: PATH.tmp.* beside path, and Berkeley DB's own __db.PATH.tmp.*
 * (the name it creates a new file under before renaming it).
 */
void
mapfile_clean(const char *path)
{
	char dir[PATH_MAX], base[PATH_MAX], bdb[PATH_MAX + 8];
	char full[PATH_MAX * 2];
	struct dirent *de;
	size_t blen, dlen;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(base, sizeof(base), "%s.tmp.", basename(dir));
	snprintf(bdb, sizeof(bdb), "__db.%s", base);
	snprintf(dir, sizeof(dir), "%s", path);
	blen = strlen(base);
	dlen = strlen(bdb);
	if ((d = opendir(dirname(dir))) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, base, blen) == 0 ||
		    strncmp(de->d_name, bdb, dlen) == 0) {
			snprintf(full, sizeof(full), "%s/%s", dir, de->d_name);
			unlink(full);
		}
	closedir(d);
}

/* ---- edits in place (sync interval 0, map_update = edit) ---- */

struct map_edit {
	DB *db;
	int fd;
	struct map_format f;
};

/*
 * mapfile_edit_open - the map at path, open for edits in place; -1 with a
 * message.  The caller owns the handle (mapfile_edit_close), and must
 * close it before anything replaces the file.
 */
int
mapfile_edit_open(const char *path, const struct map_format *f,
    struct map_edit **out, char *err, size_t errlen)
{
	struct map_edit *m;
	int rc;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	m->f = *f;
	if ((rc = db_new(&m->db)) == 0 && (rc = m->db->open(m->db, NULL, path,
	    NULL, f->hash ? DB_HASH : DB_BTREE, 0, 0)) == 0)
		rc = m->db->fd(m->db, &m->fd);
	if (rc != 0) {
		snprintf(err, errlen, "%s: open for edits: %s", path,
		    db_error(rc));
		mapfile_edit_close(m);
		return -1;
	}
	*out = m;
	return 0;
}

/* mapfile_edit_close - close a handle of mapfile_edit_open */
void
mapfile_edit_close(struct map_edit *m)
{
	if (m == NULL)
		return;
	if (m->db != NULL)
		m->db->close(m->db, 0);
	free(m);
}

/* edit_one - put or (expires 0) delete one record */
static int
edit_one(struct map_edit *m, const struct map_rec *r)
{
	char key[ADDR_TEXTMAX + 8];
	DBT k;
	int rc, len;

	if ((len = mapfile_key(&r->addr, &m->f, key, sizeof(key))) < 0)
		return EINVAL;
	if (r->expires > 0)
		return put_one(m->db, &m->f, key, (uint32_t)r->expires);
	memset(&k, 0, sizeof(k));
	k.data = key;
	k.size = (u_int32_t)len;
	rc = m->db->del(m->db, NULL, &k, 0);
	return rc == DB_NOTFOUND ? 0 : rc;
}

/*
 * mapfile_edit - apply n records (expires 0: delete) to the file and
 * sync it, holding flock(LOCK_EX) throughout: Postfix and Sendmail take
 * flock(LOCK_SH) around their lookups, so none reads a page half
 * written.  (Exim takes no lock: an Exim site keeps whole rewrites.)
 * -1 with a message; the file may then hold part of the records, and
 * the caller must replace it whole.
 */
int
mapfile_edit(struct map_edit *m, const struct map_rec *recs, size_t n,
    char *err, size_t errlen)
{
	const char *step = "flock";
	size_t i;
	int rc = 0;

	while (flock(m->fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			rc = errno;
			goto fail;
		}
	step = "put";
	for (i = 0; i < n && rc == 0; i++)
		rc = edit_one(m, &recs[i]);
	if (rc == 0) {
		step = "sync";
		rc = m->db->sync(m->db, 0);
	}
	(void)flock(m->fd, LOCK_UN);
	if (rc == 0)
		return 0;
fail:
	snprintf(err, errlen, "map edit: %s: %s", step, db_error(rc));
	return -1;
}

/*
 * mapfile_edit_touch - set the map's mtime to when (0: now): after edits
 * made in an earlier second, so that an MTA which opened the file during
 * that second (it compares whole seconds) sees a change
 */
int
mapfile_edit_touch(struct map_edit *m, time_t when)
{
	struct timespec ts[2];

	if (when == 0)
		return futimens(m->fd, NULL);
	ts[0].tv_sec = when;
	ts[0].tv_nsec = 0;
	ts[1] = ts[0];
	return futimens(m->fd, ts);
}
