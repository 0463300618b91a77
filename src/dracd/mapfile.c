/*
 * mapfile.c - write and read the map and state files (Berkeley DB 5.3).
 *
 * The map holds key = address text as inet_ntop writes it, value = expiry
 * as ASCII epoch seconds, no NUL unless configured: what DRAC wrote and
 * what Postfix, Sendmail and Exim read.  A file is written under a
 * temporary name, synced, given an mtime later than its predecessor's (an
 * MTA compares whole seconds), and renamed over the old one; the directory
 * is synced last.  Readers keep the old inode until they reopen, and
 * Postfix notices the unlinked file and restarts its daemons.
 */
#include <sys/stat.h>

#include <db.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mapfile.h"

#define WRITE_CACHE (32 * 1024 * 1024)

static __thread char bdb_msg[256];	/* Berkeley DB's last complaint */
static unsigned int tmp_serial;		/* under the writer's publish lock */

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

/* value_text - the stored value of a record; its length */
static int
value_text(const struct map_rec *r, const struct map_format *f,
    int is_state, char *buf, size_t len)
{
	int n;

	if (is_state)
		n = snprintf(buf, len, "%" PRId64 " %" PRId64 " %" PRIu32 " %s",
		    r->expires, r->first_seen, r->adds, r->user);
	else
		n = snprintf(buf, len, "%" PRId64, r->expires);
	if (n < 0 || (size_t)n + 1 > len)
		return -1;
	return n + (f->nul ? 1 : 0);
}

/* sync_path - fsync a file or directory by name */
static int
sync_path(const char *path, int dir)
{
	int fd, rc;

	if ((fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY |
	    O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* bump_mtime - make path's mtime later than prev's, in whole seconds */
static int
bump_mtime(const char *tmp, const char *prev)
{
	struct timespec ts[2];
	struct stat st;

	if (stat(prev, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	if (ts[0].tv_sec > st.st_mtim.tv_sec)
		return 0;
	ts[0].tv_sec = st.st_mtim.tv_sec + 1;
	ts[0].tv_nsec = 0;
	ts[1] = ts[0];
	return utimensat(AT_FDCWD, tmp, ts, 0);
}

/* put_all - store every record into an open database */
static int
put_all(DB *db, const struct map_format *f, const struct map_rec *recs,
    size_t n, int is_state)
{
	char kbuf[ADDR_TEXTMAX + 8], vbuf[128 + MAPFILE_USERMAX];
	DBT k, v;
	size_t i;
	int kl, vl, rc;

	for (i = 0; i < n; i++) {
		kl = mapfile_key(&recs[i].addr, f, kbuf, sizeof(kbuf));
		vl = value_text(&recs[i], f, is_state, vbuf, sizeof(vbuf));
		if (kl < 0 || vl < 0)
			return EINVAL;
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		k.data = kbuf;
		k.size = (u_int32_t)kl;
		v.data = vbuf;
		v.size = (u_int32_t)vl;
		if ((rc = db->put(db, NULL, &k, &v, 0)) != 0)
			return rc;
	}
	return 0;
}

/* write_db - a complete new database file at tmp */
static int
write_db(const char *tmp, const struct map_format *f,
    const struct map_rec *recs, size_t n, int is_state)
{
	DB *db;
	int rc, rc2;

	if ((rc = db_new(&db)) != 0)
		return rc;
	db->set_cachesize(db, 0, WRITE_CACHE, 1);
	rc = db->open(db, NULL, tmp, NULL, f->hash ? DB_HASH : DB_BTREE,
	    DB_CREATE | DB_EXCL, 0644);
	if (rc == 0)
		rc = put_all(db, f, recs, n, is_state);
	rc2 = db->close(db, 0);
	return rc != 0 ? rc : rc2;
}

/*
 * mapfile_write - replace path with a file holding recs.  The state file
 * ignores the format's cidr and nul choices: only dracd reads it.
 */
int
mapfile_write(const char *path, const struct map_format *fmt,
    const struct map_rec *recs, size_t n, int is_state, char *err,
    size_t errlen)
{
	struct map_format f = *fmt;
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *step;
	int rc;

	if (is_state)
		f.cidr = f.nul = 0, f.hash = 0;
	/* a name no earlier write used: Berkeley DB creates a file as
	 * __db.NAME first, and one left by a process killed meanwhile makes
	 * the next create of NAME wait for its creator forever */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%u", path, (long)getpid(),
	    ++tmp_serial) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if (unlink(tmp) < 0 && errno != ENOENT) {
		rc = errno, step = "unlink";
		goto fail;
	}
	if ((rc = write_db(tmp, &f, recs, n, is_state)) != 0) {
		step = "write";
		goto fail;
	}
	errno = 0;
	if (chmod(tmp, 0644) < 0 || sync_path(tmp, 0) < 0)
		step = "sync";
	else if (bump_mtime(tmp, path) < 0)
		step = "utimensat";
	else if (rename(tmp, path) < 0)
		step = "rename";
	else if (sync_path(dirname(dir), 1) < 0)
		step = "sync directory";
	else
		return 0;
	rc = errno;
fail:
	snprintf(err, errlen, "%s: %s: %s", tmp, step, db_error(rc));
	unlink(tmp);
	return -1;
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

/* parse_value - expiry, and for the state file first-seen, adds, user */
static int
parse_value(const DBT *v, int is_state, struct map_rec *r, char *user)
{
	char buf[128 + MAPFILE_USERMAX], *p;
	size_t len = v->size;
	int used = 0;

	if (len > 0 && ((const char *)v->data)[len - 1] == '\0')
		len--;
	if (len == 0 || len >= sizeof(buf) || memchr(v->data, '\0', len))
		return -1;
	memcpy(buf, v->data, len);
	buf[len] = '\0';
	r->first_seen = 0;
	r->adds = 0;
	user[0] = '\0';
	if (!is_state)
		return sscanf(buf, "%" SCNd64 "%n", &r->expires, &used) == 1 &&
		    (size_t)used == len && buf[0] != '-' ? 0 : -1;
	if (sscanf(buf, "%" SCNd64 " %" SCNd64 " %" SCNu32 "%n", &r->expires,
	    &r->first_seen, &r->adds, &used) != 3 || buf[used] != ' ')
		return -1;
	p = buf + used + 1;
	if (strlen(p) > MAPFILE_USERMAX)
		return -1;
	strcpy(user, p);
	return 0;
}

/*
 * mapfile_read - visit every record of a map or state file.  Returns 1
 * when read, 0 when the file does not exist, -1 on any error (a corrupt
 * file, a key or value not in our format) with a message.
 */
int
mapfile_read(const char *path, int is_state, map_visit_fn fn, void *arg,
    char *err, size_t errlen)
{
	char user[MAPFILE_USERMAX + 1];
	struct map_rec r;
	DB *db = NULL;
	DBC *c = NULL;
	DBT k, v;
	int rc;

	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if ((rc = db_new(&db)) != 0)
		goto fail;
	if ((rc = db->open(db, NULL, path, NULL, DB_UNKNOWN, DB_RDONLY, 0)) ||
	    (rc = db->cursor(db, NULL, &c, 0)))
		goto fail;
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	while ((rc = c->get(c, &k, &v, DB_NEXT)) == 0) {
		if (parse_key(&k, &r.addr) < 0 ||
		    parse_value(&v, is_state, &r, user) < 0) {
			snprintf(err, errlen, "%s: a record not in dracd's "
			    "format (key \"%.*s\")", path,
			    (int)(k.size > 60 ? 60 : k.size),
			    (const char *)k.data);
			rc = -1;
			goto out;
		}
		r.user = user;
		if (fn(arg, &r) < 0) {
			snprintf(err, errlen, "%s: out of memory or store "
			    "full while loading", path);
			rc = -1;
			goto out;
		}
	}
	if (rc == DB_NOTFOUND) {
		rc = 1;
		goto out;
	}
fail:
	snprintf(err, errlen, "%s: %s", path, db_error(rc));
	rc = -1;
out:
	if (c != NULL)
		c->close(c);
	if (db != NULL)
		db->close(db, 0);
	return rc;
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
