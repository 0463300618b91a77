/*
 * follow.h - read a log file as it grows, as tail -F does.
 *
 * A follower survives rotation by rename (it finishes the old file, then
 * opens the new one from its start), truncation and copytruncate (it
 * starts again at offset 0), and a file that does not exist yet (it is
 * read from its start once it appears).  Standard input ("-") is read
 * until end of file.  One follower belongs to one thread.
 */
#ifndef LOGWATCH_FOLLOW_H
#define LOGWATCH_FOLLOW_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>

#define FOLLOW_LINEMAX	8192	/* longer lines are skipped whole */

/* where reading starts */
struct follow_pos {
	dev_t dev;
	ino_t ino;
	off_t off;
};

struct follow {
	char path[PATH_MAX];
	int fd;			/* -1: not open (yet) */
	int is_stdin, eof;	/* eof: standard input has ended */
	struct follow_pos pos;	/* of the current file; off: lines used */
	off_t catchup;		/* lines ending before this were there at start */
	char buf[FOLLOW_LINEMAX];
	size_t len;		/* a partial line in buf */
	size_t pend;		/* bytes read since the last line's end */
	int skipping;		/* inside an over-long line */
};

/* called with each whole line (NUL-terminated, no newline) */
typedef void (*follow_line_fn)(void *arg, const char *line, int catchup);

enum follow_start { FOLLOW_END, FOLLOW_BEGIN };

int follow_open(struct follow *, const char *path, enum follow_start,
    const struct follow_pos *resume);
int follow_poll(struct follow *, follow_line_fn, void *arg);
void follow_close(struct follow *);

#endif
