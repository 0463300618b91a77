/*
 * log.c - logging in the manner of OpenSMTPD's log.c.
 *
 * log_init is called once before any thread starts; afterwards the module
 * only reads its settings, and each line is written with one call, so lines
 * from different threads never interleave.  A log_limit is owned by its
 * caller, who serialises access to it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static int log_foreground = 1;
static int log_debugging;

/* log_init - choose stderr or syslog; call before threads start */
void
log_init(int foreground, int debug)
{
	log_foreground = foreground;
	log_debugging = debug;
	if (!foreground)
		openlog("dracd", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/* vlog - emit one line, with the errno text when err is non-zero */
static void __attribute__((format(printf, 3, 0)))
vlog(int pri, int err, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_foreground) {
		if (err)
			fprintf(stderr, "dracd: %s: %s\n", msg, strerror(err));
		else
			fprintf(stderr, "dracd: %s\n", msg);
	} else if (err) {
		syslog(pri, "%s: %s", msg, strerror(err));
	} else {
		syslog(pri, "%s", msg);
	}
}

#define LOGFN(name, pri, useerr)			\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
	int saved = errno;				\
							\
	va_start(ap, fmt);				\
	vlog(pri, useerr ? saved : 0, fmt, ap);		\
	va_end(ap);					\
	errno = saved;					\
}

LOGFN(log_warn, LOG_WARNING, 1)
LOGFN(log_warnx, LOG_WARNING, 0)
LOGFN(log_info, LOG_INFO, 0)

/* log_debug - only with -d */
void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debugging)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

/* fatal - log with errno and exit; for a broken environment */
void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vlog(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

/* fatalx - log and exit */
void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

/* log_limit_pass - may one more line go out?  Reports lines held back. */
int
log_limit_pass(struct log_limit *l, unsigned int *dropped)
{
	time_t now = time(NULL);

	*dropped = 0;
	if (now - l->start >= (time_t)l->period) {
		*dropped = l->dropped;
		l->start = now;
		l->used = 0;
		l->dropped = 0;
	}
	if (l->used < l->burst) {
		l->used++;
		return 1;
	}
	l->dropped++;
	return 0;
}
