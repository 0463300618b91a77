/*
 * jsource.h - read the systemd journal as a log source.
 *
 * Each entry is handed out as a syslog-like line, "IDENT[PID]: MESSAGE",
 * so the same patterns match it; its cursor is kept for the state file.
 * One reader belongs to one thread.
 */
#ifndef LOGWATCH_JSOURCE_H
#define LOGWATCH_JSOURCE_H

#include <time.h>

struct jsource;

/* called with each entry as a line, whether it was there at start, and
 * when it was logged */
typedef void (*jsource_line_fn)(void *arg, const char *line, int catchup,
    time_t when);

int jsource_open(struct jsource **, const char *dir, const char *cursor,
    int from_start, char *err, size_t errlen);
int jsource_fd(struct jsource *);
int jsource_poll(struct jsource *, jsource_line_fn, void *arg);
const char *jsource_cursor(const struct jsource *);
void jsource_close(struct jsource *);

#endif
