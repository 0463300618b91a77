/*
 * log.c - logging in the manner of OpenSMTPD's log.c.
 *
 * log_init is called once before any thread starts; afterwards the module
 * only reads its settings, and each line is written with one call, so lines
 * from different threads never interleave.  A log_limit is owned by its
 * caller, who serialises access to it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static int log_foreground = 1;
static int log_debugging;
static int log_journal;		/* stderr is journald's stream: <N> levels */

/* -d lines: at most LOG_DEBUG_BURST a second; the rest are counted */
static pthread_mutex_t debug_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_limit debug_lim = {0, 1, LOG_DEBUG_BURST, 0, 0};

/*
 * log_is_journal - is stderr the stream named by JOURNAL_STREAM
 * ("DEVICE:INODE", set by systemd for a unit whose output goes to the
 * journal)?  A child that inherited the variable but not the stream has
 * another stderr, and writes plain text.
 */
static int
log_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;
	int used = 0;

	if (js == NULL || sscanf(js, "%ju:%ju%n", &dev, &ino, &used) != 2 ||
	    js[used] != '\0' || fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

/* log_init - choose stderr or syslog; call before threads start */
void
log_init(int foreground, int debug)
{
	log_foreground = foreground;
	log_debugging = debug;
	log_journal = foreground && log_is_journal();
	if (!foreground)
		openlog("dracd", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/* log_debug_on - was -d given?  Callers skip building a debug line */
int
log_debug_on(void)
{
	return log_debugging;
}

/* vlog - emit one line, with the errno text when err is non-zero */
static void __attribute__((format(printf, 3, 0)))
vlog(int pri, int err, const char *fmt, va_list ap)
{
	char msg[1024];

	char level[8] = "";

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_foreground) {
		/* sd-daemon(3): journald reads <N> as the line's priority */
		if (log_journal)
			snprintf(level, sizeof(level), "<%d>", pri);
		if (err)
			fprintf(stderr, "%sdracd: %s: %s\n", level, msg,
			    strerror(err));
		else
			fprintf(stderr, "%sdracd: %s\n", level, msg);
	} else if (err) {
		syslog(pri, "%s: %s", msg, strerror(err));
	} else {
		syslog(pri, "%s", msg);
	}
}

/* vlog_line - vlog with arguments */
static void __attribute__((format(printf, 2, 3)))
vlog_line(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(pri, 0, fmt, ap);
	va_end(ap);
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

/*
 * log_debug - only with -d, and at most LOG_DEBUG_BURST lines a second:
 * a flood of requests must not turn into a flood of disk writes.  The
 * lines held back are counted and reported with the next that passes.
 */
void
log_debug(const char *fmt, ...)
{
	unsigned int dropped;
	va_list ap;
	int pass;

	if (!log_debugging)
		return;
	pthread_mutex_lock(&debug_lock);
	pass = log_limit_pass(&debug_lim, &dropped);
	pthread_mutex_unlock(&debug_lock);
	if (!pass)
		return;
	if (dropped > 0)
		vlog_line(LOG_DEBUG, "%u debug lines not logged in the last "
		    "second", dropped);
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
