/*
 * pattern.h - which log lines are logins, and whose.
 *
 * A pattern set is built once from format names and custom expressions
 * and is read-only afterwards.  Matching needs no state of its own beyond
 * the set, so any number of callers may match at once.
 */
#ifndef LOGWATCH_PATTERN_H
#define LOGWATCH_PATTERN_H

#include <stddef.h>
#include <time.h>

#include "drac.h"

#define LOGIN_ADDRMAX	64	/* address text as logged, before checking */
#define LOGIN_USERMAX	DRAC_USERMAX	/* what libdrac sends */

struct login {
	char addr[LOGIN_ADDRMAX];	/* canonical text (inet_ntop) */
	char user[LOGIN_USERMAX + 1];	/* "" when the line names none */
	const char *format;		/* the format that matched */
};

struct patterns;

struct patterns *patterns_new(void);
int patterns_add_format(struct patterns *, const char *name, char *err,
    size_t errlen);
int patterns_add_all(struct patterns *);
int patterns_add_regex(struct patterns *, const char *regex, char *err,
    size_t errlen);
int patterns_match(const struct patterns *, const char *line,
    struct login *);
size_t patterns_count(const struct patterns *);
void patterns_free(struct patterns *);
const char *patterns_format_names(void);

time_t line_time(const char *line, time_t now);

#endif
