/*
 * journal.c - the snapshot and journal files: records, reading, writing.
 *
 * A file is a 16-byte header (8 bytes of magic, the segment number as a
 * little-endian 64-bit integer) and records:
 *
 *   0  crc32c of bytes 4..end     16  expires (signed 64-bit)
 *   4  type                       24  address, 16 bytes (IPv4: first 4)
 *   5  family (4 or 6)            40  user, not NUL-terminated
 *   6  user length (0..64)
 *   7  zero
 *   8  first seen (32-bit)
 *  12  adds (32-bit)
 *
 * all little-endian.  A snapshot ends with a JREC_END record holding the
 * count of the records before it, and nothing after; anything else is a
 * damaged snapshot.  A segment may end in a torn record, which a read
 * reports through the good length; a bad stretch followed by whole
 * records is not a torn write but damage, which a read reports to its
 * caller before going on with the records after it.
 */
#include <sys/stat.h>

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

#include "journal.h"

#define READ_CHUNK	(1024 * 1024)

static const char magic_snapshot[8] = "DRACDS1\n";
static const char magic_segment[8] = "DRACDJ1\n";

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* crc_init - the table for CRC-32C (Castagnoli, reflected) */
static void
crc_init(void)
{
	uint32_t c;
	int i, k;

	for (i = 0; i < 256; i++) {
		for (c = (uint32_t)i, k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78U : c >> 1;
		crc_table[i] = c;
	}
}

/* crc32c - the checksum of len bytes */
static uint32_t
crc32c(const unsigned char *p, size_t len)
{
	uint32_t c = 0xffffffffU;

	pthread_once(&crc_once, crc_init);
	while (len-- > 0)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffU;
}

/* le_put - n bytes of v, little-endian (the records' and the group's
 * wire fields) */
void
le_put(unsigned char *p, uint64_t v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* le_get - n little-endian bytes */
uint64_t
le_get(const unsigned char *p, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = (v << 8) | p[n];
	return v;
}

/* jrec_encode - r as bytes in buf; their number */
size_t
jrec_encode(const struct jrec *r, unsigned char buf[JREC_MAX])
{
	size_t ulen = strnlen(r->user, MAPFILE_USERMAX);

	buf[4] = (unsigned char)r->type;
	buf[5] = r->addr.family == AF_INET6 ? 6 : 4;
	buf[6] = (unsigned char)ulen;
	buf[7] = 0;
	le_put(buf + 8, r->first_seen, 4);
	le_put(buf + 12, r->adds, 4);
	le_put(buf + 16, (uint64_t)r->expires, 8);
	memcpy(buf + 24, r->addr.bytes, 16);
	memcpy(buf + JREC_FIXED, r->user, ulen);
	le_put(buf, crc32c(buf + 4, JREC_FIXED - 4 + ulen), 4);
	return JREC_FIXED + ulen;
}

/* jrec_decode - one record from len bytes; its size, 0 if not whole */
size_t
jrec_decode(const unsigned char *p, size_t len, struct jrec *r)
{
	size_t size;

	if (len < JREC_FIXED || p[6] > MAPFILE_USERMAX || p[7] != 0 ||
	    (p[5] != 4 && p[5] != 6) || p[4] < JREC_SET || p[4] > JREC_END)
		return 0;
	size = JREC_FIXED + p[6];
	if (len < size || le_get(p, 4) != crc32c(p + 4, size - 4))
		return 0;
	r->type = p[4];
	r->addr.family = p[5] == 6 ? AF_INET6 : AF_INET;
	r->first_seen = (uint32_t)le_get(p + 8, 4);
	r->adds = (uint32_t)le_get(p + 12, 4);
	r->expires = (int64_t)le_get(p + 16, 8);
	memcpy(r->addr.bytes, p + 24, 16);
	memcpy(r->user, p + JREC_FIXED, p[6]);
	r->user[p[6]] = '\0';
	return size;
}

/* journal_segment_path - the name of segment seq; -1 if too long */
int
journal_segment_path(const char *path, uint64_t seq, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s.journal.%" PRIu64, path, seq);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

struct reader {
	int fd;
	unsigned char *buf;
	size_t have, at;	/* bytes in buf, and read from them */
	off_t consumed;		/* file offset of buf[at] */
	off_t good;		/* the end of the last whole record */
	int eof;
};

/* fill - keep at least JREC_MAX bytes ahead of r->at when the file has
 * them; -1 on a read error */
static int
fill(struct reader *r)
{
	ssize_t n;

	if (r->eof || r->have - r->at >= JREC_MAX)
		return 0;
	memmove(r->buf, r->buf + r->at, r->have - r->at);
	r->have -= r->at;
	r->at = 0;
	while (r->have < READ_CHUNK) {
		if ((n = read(r->fd, r->buf + r->have, READ_CHUNK - r->have)) <
		    0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			r->eof = 1;
			break;
		}
		r->have += (size_t)n;
	}
	return 0;
}

/*
 * resync - after a bad record at r->consumed, the next offset where a
 * whole record starts: 1 and r there, or 0 when none follows (a torn
 * tail: r is left at the end), -1 when a read failed.  Every offset is
 * tried, since a record's length is in the bad bytes; a stretch of
 * noise passing the structure checks and the CRC-32C by chance is a
 * 1 in 2^32 event per offset.
 */
static int
resync(struct reader *r)
{
	struct jrec rec;

	for (;;) {
		r->at++;
		r->consumed++;
		if (fill(r) < 0)
			return -1;
		if (r->have - r->at < JREC_FIXED)
			return 0;
		if (jrec_decode(r->buf + r->at, r->have - r->at, &rec) > 0)
			return 1;
	}
}

/* read_records - visit records until the data ends or one is not whole
 * (with a damage visitor: until no whole record follows a bad one); the
 * count visited, -1 when a read failed, -2 when a visitor refused */
static int64_t
read_records(struct reader *r, const struct jvisit *v, struct jrec *end)
{
	struct jrec rec;
	int64_t count = 0;
	size_t size;
	off_t bad;
	int rc;

	end->type = 0;
	for (;;) {
		if (fill(r) < 0)
			return -1;
		if ((size = jrec_decode(r->buf + r->at, r->have - r->at,
		    &rec)) == 0) {
			if (v->damage == NULL || r->have == r->at)
				return count;
			bad = r->consumed;
			if ((rc = resync(r)) <= 0)
				return rc < 0 ? -1 : count;
			if (v->damage(v->arg, bad, r->consumed - bad) < 0)
				return -2;
			continue;
		}
		r->at += size;
		r->consumed += (off_t)size;
		r->good = r->consumed;
		if (rec.type == JREC_END) {
			*end = rec;
			return count;
		}
		if (v->rec(v->arg, &rec) < 0)
			return -2;
		count++;
	}
}

/* check_header - the magic and segment number at the start of r */
static int
check_header(struct reader *r, int snapshot, uint64_t *seq)
{
	if (fill(r) < 0 || r->have < JHDR_SIZE || memcmp(r->buf, snapshot ?
	    magic_snapshot : magic_segment, 8) != 0)
		return -1;
	*seq = le_get(r->buf + 8, 8);
	r->at = JHDR_SIZE;
	r->consumed = JHDR_SIZE;
	r->good = JHDR_SIZE;
	return 0;
}

/*
 * journal_read - visit every record of a snapshot or segment.  Returns 1
 * when read, 0 when the file does not exist, -1 with a message otherwise.
 * A segment may end early: *good is the end of its last whole record (or
 * 0 when even the header is not whole).  A bad stretch in a segment with
 * whole records after it is handed to v->damage, and reading goes on
 * after it; without v->damage, reading stops there.  A snapshot must be
 * whole.
 */
int
journal_read(const char *file, int snapshot, uint64_t *seq,
    const struct jvisit *v, off_t *good, char *err, size_t errlen)
{
	struct reader r = {-1, NULL, 0, 0, 0, 0, 0};
	struct jvisit strict = *v;
	struct jrec end;
	struct stat st;
	int64_t n = 0;
	int rc = -1;

	*good = 0;
	if ((r.fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	if ((r.buf = malloc(READ_CHUNK)) == NULL || fstat(r.fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		goto out;
	}
	if (check_header(&r, snapshot, seq) < 0) {
		rc = snapshot || st.st_size >= JHDR_SIZE ? -1 : 1;
		if (rc < 0)
			snprintf(err, errlen, "%s: not a dracd %s file", file,
			    snapshot ? "state" : "journal");
		goto out;
	}
	if (snapshot)
		strict.damage = NULL;
	if ((n = read_records(&r, &strict, &end)) < 0) {
		snprintf(err, errlen, "%s: %s", file, n == -1 ?
		    strerror(errno) :
		    "out of memory while loading");
		goto out;
	}
	*good = r.good;
	rc = 1;
	if (snapshot && (end.type != JREC_END || end.expires != n ||
	    r.good != st.st_size)) {
		snprintf(err, errlen, "%s: damaged: %" PRId64 " whole records, "
		    "then %s", file, n, end.type != JREC_END ? "no end mark" :
		    "a wrong count or bytes after the end");
		rc = -1;
	}
out:
	free(r.buf);
	close(r.fd);
	return rc;
}

/* cmp_u64 - for qsort */
static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* segment_seq - the number in NAME.journal.N, or 0 if name is not one */
static uint64_t
segment_seq(const char *name, const char *prefix, size_t plen)
{
	char *end;
	uint64_t v;

	if (strncmp(name, prefix, plen) != 0 || name[plen] < '1' ||
	    name[plen] > '9')
		return 0;
	errno = 0;
	v = strtoull(name + plen, &end, 10);
	return *end == '\0' && errno == 0 ? v : 0;
}

/*
 * journal_segments - the numbers of the segments beside path, ascending,
 * in a new array the caller frees.  -1 when the directory is unreadable.
 */
int
journal_segments(const char *path, uint64_t **seqs, size_t *n)
{
	char dir[PATH_MAX], prefix[PATH_MAX];
	struct dirent *de;
	size_t cap = 0, plen;
	uint64_t v, *s = NULL, *t;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(prefix, sizeof(prefix), "%s.journal.", basename(dir));
	plen = strlen(prefix);
	snprintf(dir, sizeof(dir), "%s", path);
	*n = 0;
	if ((d = opendir(dirname(dir))) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if ((v = segment_seq(de->d_name, prefix, plen)) == 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((t = reallocarray(s, cap, sizeof(*s))) == NULL) {
				free(s);
				closedir(d);
				return -1;
			}
			s = t;
		}
		s[(*n)++] = v;
	}
	closedir(d);
	if (*n > 0)
		qsort(s, *n, sizeof(*s), cmp_u64);
	*seqs = s;
	return 0;
}

/* journal_create - a new file holding just its header, open for writing;
 * the descriptor, or -1 with errno */
int
journal_create(const char *file, int snapshot, uint64_t seq)
{
	unsigned char hdr[JHDR_SIZE];
	int fd, e;

	memcpy(hdr, snapshot ? magic_snapshot : magic_segment, 8);
	le_put(hdr + 8, seq, 8);
	if ((fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0)
		return -1;
	if (journal_append(fd, 0, hdr, sizeof(hdr)) < 0) {
		e = errno;
		close(fd);
		unlink(file);
		errno = e;
		return -1;
	}
	return fd;
}

/* journal_append - all len bytes at offset at; -1 with errno */
int
journal_append(int fd, off_t at, const void *p, size_t len)
{
	const unsigned char *b = p;
	ssize_t n;

	while (len > 0) {
		if ((n = pwrite(fd, b, len, at)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		b += n;
		at += n;
		len -= (size_t)n;
	}
	return 0;
}
