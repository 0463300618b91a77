/*
 * follow.c - tail -F for one log file (see follow.h).
 *
 * The position kept (pos.off) is the offset just past the last whole
 * line handed out, so a saved position never splits a line.  Rotation is
 * noticed by stat(2) on the path once the open file has no more bytes:
 * another inode there means a new file, which is read from its start
 * after the old one is finished.  A file shorter than the position has
 * been truncated and is read again from offset 0.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "follow.h"

#define FOLLOW_CHUNK	65536

/* reset - forget the open file */
static void
reset(struct follow *f)
{
	if (f->fd >= 0 && !f->is_stdin)
		close(f->fd);
	f->fd = -1;
	f->len = 0;
	f->pend = 0;
	f->skipping = 0;
}

/* open_file - open path and place the position; 0, or -1 with errno */
static int
open_file(struct follow *f, enum follow_start start,
    const struct follow_pos *resume)
{
	struct stat st;
	int fd;

	if ((fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -1;
	}
	f->fd = fd;
	f->pos.dev = st.st_dev;
	f->pos.ino = st.st_ino;
	f->pos.off = 0;
	f->catchup = st.st_size;
	if (resume != NULL && resume->dev == st.st_dev &&
	    resume->ino == st.st_ino && resume->off <= st.st_size)
		f->pos.off = resume->off;
	else if (resume == NULL && start == FOLLOW_END)
		f->pos.off = st.st_size;
	if (lseek(fd, f->pos.off, SEEK_SET) < 0) {
		reset(f);
		return -1;
	}
	return 0;
}

/*
 * follow_open - start following path ("-": standard input).  A missing
 * file is not an error: it is read from its start once it appears.
 * resume, when not NULL, is where an earlier run stopped: used if it is
 * the same file, else the file is read from its start (it was rotated
 * meanwhile).  0, or -1 with errno.
 */
int
follow_open(struct follow *f, const char *path, enum follow_start start,
    const struct follow_pos *resume)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (strlen(path) >= sizeof(f->path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(f->path, path);
	if (strcmp(path, "-") == 0) {
		f->is_stdin = 1;
		f->fd = STDIN_FILENO;
		return 0;
	}
	if (open_file(f, start, resume) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

/* lines - hand out the whole lines in data; the count */
static int
lines(struct follow *f, const char *data, size_t n, follow_line_fn fn,
    void *arg)
{
	int count = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		f->pend++;
		if (data[i] != '\n') {
			if (f->skipping)
				continue;
			if (f->len == sizeof(f->buf) - 1) {
				f->skipping = 1;	/* over-long: drop */
				continue;
			}
			f->buf[f->len++] = data[i];
			continue;
		}
		f->pos.off += (off_t)f->pend;
		if (!f->skipping) {
			f->buf[f->len] = '\0';
			fn(arg, f->buf, !f->is_stdin && f->pos.off <= f->catchup);
			count++;
		}
		f->skipping = 0;
		f->len = 0;
		f->pend = 0;
	}
	return count;
}

/* drain - read the open file to its current end; lines handed out */
static int
drain(struct follow *f, follow_line_fn fn, void *arg)
{
	char chunk[FOLLOW_CHUNK];
	ssize_t n;
	int count = 0;

	while ((n = read(f->fd, chunk, sizeof(chunk))) > 0)
		count += lines(f, chunk, (size_t)n, fn, arg);
	if (n == 0 && f->is_stdin)
		f->eof = 1;
	return count;
}

/* moved - has the file at path been replaced or truncated? */
static void
moved(struct follow *f)
{
	struct stat st, fst;

	if (stat(f->path, &st) == 0 &&
	    (st.st_dev != f->pos.dev || st.st_ino != f->pos.ino)) {
		reset(f);	/* rotated: the new file from its start */
		if (open_file(f, FOLLOW_BEGIN, NULL) == 0)
			f->catchup = 0;
		return;
	}
	if (fstat(f->fd, &fst) == 0 && fst.st_size < f->pos.off +
	    (off_t)f->pend) {
		f->pos.off = 0;	/* truncated, or copied and truncated */
		f->len = 0;
		f->pend = 0;
		f->skipping = 0;
		f->catchup = 0;
		lseek(f->fd, 0, SEEK_SET);
	}
}

/*
 * follow_poll - hand out every whole line that has arrived, following a
 * rotation or truncation; the number of lines, or -1 on a read error.
 */
int
follow_poll(struct follow *f, follow_line_fn fn, void *arg)
{
	int count;

	if (f->fd < 0) {
		if (f->is_stdin || open_file(f, FOLLOW_BEGIN, NULL) < 0)
			return 0;
		f->catchup = 0;	/* appeared later: every line is new */
	}
	count = drain(f, fn, arg);
	if (f->is_stdin)
		return count;
	moved(f);
	if (f->fd >= 0)
		count += drain(f, fn, arg);
	return count;
}

/* follow_close - stop following */
void
follow_close(struct follow *f)
{
	reset(f);
}
