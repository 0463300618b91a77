/*
 * state.c - the state file (see state.h).  Lines it does not know are
 * ignored, so an older drac-logwatch reads a newer file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state.h"

/* parse_file - "DEV INO OFFSET PATH" into the next slot; -1 if malformed */
static int
parse_file(struct state *st, const char *rest)
{
	struct state_file *f;
	uintmax_t dev, ino;
	intmax_t off;
	int n = 0;

	if (st->nfiles == STATE_FILES)
		return -1;
	f = &st->files[st->nfiles];
	if (sscanf(rest, "%ju %ju %jd %n", &dev, &ino, &off, &n) != 3 ||
	    n == 0 || off < 0 || strlen(rest + n) >= sizeof(f->path))
		return -1;
	f->pos.dev = (dev_t)dev;
	f->pos.ino = (ino_t)ino;
	f->pos.off = (off_t)off;
	strcpy(f->path, rest + n);
	st->nfiles++;
	return 0;
}

/* parse_line - one line of the file */
static void
parse_line(struct state *st, char *line)
{
	size_t len = strlen(line);

	if (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	if (strncmp(line, "pid ", 4) == 0)
		st->pid = (pid_t)atol(line + 4);
	else if (strncmp(line, "stats ", 6) == 0 &&
	    len - 6 < sizeof(st->stats))
		strcpy(st->stats, line + 6);
	else if (strncmp(line, "cursor ", 7) == 0 &&
	    len - 7 < sizeof(st->cursor))
		strcpy(st->cursor, line + 7);
	else if (strncmp(line, "file ", 5) == 0)
		(void)parse_file(st, line + 5);
}

/* state_load - read path; 0 (an empty state if it does not exist), -1 */
int
state_load(const char *path, struct state *st)
{
	char line[PATH_MAX + 128];
	FILE *fp;

	memset(st, 0, sizeof(*st));
	if ((fp = fopen(path, "re")) == NULL)
		return errno == ENOENT ? 0 : -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		parse_line(st, line);
	fclose(fp);
	return 0;
}

/* state_find - the saved position of file, NULL if none */
const struct follow_pos *
state_find(const struct state *st, const char *file)
{
	size_t i;

	for (i = 0; i < st->nfiles; i++)
		if (strcmp(st->files[i].path, file) == 0)
			return &st->files[i].pos;
	return NULL;
}

/* write_all - the state as text to fp */
static void
write_all(FILE *fp, const struct state *st)
{
	size_t i;

	fprintf(fp, "# drac-logwatch state: written by the program\n");
	fprintf(fp, "pid %ld\n", (long)st->pid);
	if (st->stats[0] != '\0')
		fprintf(fp, "stats %s\n", st->stats);
	for (i = 0; i < st->nfiles; i++)
		fprintf(fp, "file %ju %ju %jd %s\n",
		    (uintmax_t)st->files[i].pos.dev,
		    (uintmax_t)st->files[i].pos.ino,
		    (intmax_t)st->files[i].pos.off, st->files[i].path);
	if (st->cursor[0] != '\0')
		fprintf(fp, "cursor %s\n", st->cursor);
}

/* state_save - replace path atomically; 0, or -1 with errno */
int
state_save(const char *path, const struct state *st)
{
	char tmp[PATH_MAX];
	FILE *fp;
	int fd, bad;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) < 0)
		return -1;
	if ((fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		return -1;
	}
	write_all(fp, st);
	bad = fflush(fp) != 0 || fsync(fd) != 0;
	if (fclose(fp) != 0 || bad || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* state_stats_text - the counters as "key=value ..." */
void
state_stats_text(const struct sender_stats *s, char *buf, size_t len)
{
	snprintf(buf, len, "lines=%" PRIu64 " matched=%" PRIu64 " old=%"
	    PRIu64 " added=%" PRIu64 " folded=%" PRIu64 " dropped=%" PRIu64
	    " refused=%" PRIu64 " queued=%u", s->lines, s->matched, s->old,
	    s->added, s->folded, s->dropped, s->refused, s->queued);
}
