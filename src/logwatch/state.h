/*
 * state.h - where drac-logwatch stopped, kept across restarts.
 *
 * The state file is text, one item a line, replaced atomically (a new
 * file, fsync, rename) so a crash leaves the old or the new one whole:
 *	pid PID
 *	stats lines=N matched=N ...
 *	file DEV INO OFFSET PATH
 *	cursor JOURNAL-CURSOR
 */
#ifndef LOGWATCH_STATE_H
#define LOGWATCH_STATE_H

#include <sys/types.h>

#include "follow.h"
#include "sender.h"

#define STATE_FILES	64
#define STATE_CURSORMAX	512

struct state_file {
	char path[PATH_MAX];
	struct follow_pos pos;
};

struct state {
	pid_t pid;
	char stats[512];
	struct state_file files[STATE_FILES];
	size_t nfiles;
	char cursor[STATE_CURSORMAX];
};

int state_load(const char *path, struct state *);
const struct follow_pos *state_find(const struct state *, const char *file);
int state_save(const char *path, const struct state *);
void state_stats_text(const struct sender_stats *, char *, size_t);

#endif
