/*
 * log.c - logging in the manner of OpenSMTPD's log.c.
 *
 * log_init is called once before any thread starts; afterwards the module
 * only reads its settings.  In the foreground every line is written
 * under out_lock with one write, so lines from different threads never
 * interleave.  Audit lines of grants (log_audit), one per add, gather
 * for up to LOG_BATCH_MS and go out in one write, by the "dracd-log"
 * thread or by the next other line, which writes them first (the order
 * is kept): a write per add cost a quarter of the add rate.  A log_limit
 * is owned by its caller, who serialises access to it.
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

/* the foreground's output, and the audit lines waiting (out_lock's) */
#define LOG_LINE_MAX	1200
#define LOG_BATCH_MAX	(64 * 1024)
#define LOG_BATCH_MS	10
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t out_cv = PTHREAD_COND_INITIALIZER;
static char batch[LOG_BATCH_MAX];
static size_t batch_len;
static int flusher_started;	/* out_lock's; 0 again in a fork's child */

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

/* write_all - p to stderr, all of it unless stderr fails */
static void
write_all(const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(STDERR_FILENO, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return;		/* nowhere else to say it */
		}
		p += w;
		n -= (size_t)w;
	}
}

/* batch_out - the audit lines waiting, written; with out_lock held */
static void
batch_out(void)
{
	if (batch_len > 0) {
		write_all(batch, batch_len);
		batch_len = 0;
	}
}

/* flusher - the "dracd-log" thread: audit lines out LOG_BATCH_MS after
 * the first of them came */
static void *
flusher(void *arg)
{
	struct timespec ts;

	(void)arg;
	pthread_setname_np(pthread_self(), "dracd-log");
	pthread_mutex_lock(&out_lock);
	for (;;) {
		while (batch_len == 0)
			pthread_cond_wait(&out_cv, &out_lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += LOG_BATCH_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (batch_len > 0 && pthread_cond_timedwait(&out_cv,
		    &out_lock, &ts) != ETIMEDOUT)
			;
		batch_out();
	}
	return NULL;
}

/* log_flush - the audit lines waiting, out now (before _exit; at exit) */
void
log_flush(void)
{
	pthread_mutex_lock(&out_lock);
	batch_out();
	pthread_mutex_unlock(&out_lock);
}

/* a fork's child neither holds out_lock nor writes its parent's lines,
 * and has no flusher */
static void
fork_prepare(void)
{
	pthread_mutex_lock(&out_lock);
}

static void
fork_parent(void)
{
	pthread_mutex_unlock(&out_lock);
}

static void
fork_child(void)
{
	batch_len = 0;
	flusher_started = 0;
	pthread_mutex_unlock(&out_lock);
}

/* log_init - choose stderr or syslog; call before threads start */
void
log_init(int foreground, int debug)
{
	static int hooked;

	log_foreground = foreground;
	log_debugging = debug;
	log_journal = foreground && log_is_journal();
	if (!foreground)
		openlog("dracd", LOG_PID | LOG_NDELAY, LOG_MAIL);
	else if (!hooked) {
		hooked = 1;
		pthread_atfork(fork_prepare, fork_parent, fork_child);
		atexit(log_flush);
	}
}

/* log_debug_on - was -d given?  Callers skip building a debug line */
int
log_debug_on(void)
{
	return log_debugging;
}

/* fg_line - a foreground line as it is written; its length */
static size_t
fg_line(char *line, int pri, int err, const char *msg)
{
	char level[8] = "";
	int n;

	/* sd-daemon(3): journald reads <N> as the line's priority */
	if (log_journal)
		snprintf(level, sizeof(level), "<%d>", pri);
	if (err)
		n = snprintf(line, LOG_LINE_MAX, "%sdracd: %s: %s\n", level,
		    msg, strerror(err));
	else
		n = snprintf(line, LOG_LINE_MAX, "%sdracd: %s\n", level, msg);
	if (n < 0)
		return 0;
	if (n >= LOG_LINE_MAX) {	/* cut: still a line */
		line[LOG_LINE_MAX - 2] = '\n';
		n = LOG_LINE_MAX - 1;
	}
	return (size_t)n;
}

/* vlog - emit one line, with the errno text when err is non-zero; audit:
 * it may wait in the batch (foreground) */
static void __attribute__((format(printf, 4, 0)))
vlog_as(int pri, int err, int audit, const char *fmt, va_list ap)
{
	char msg[1024], line[LOG_LINE_MAX];
	pthread_t t;
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!log_foreground) {
		if (err)
			syslog(pri, "%s: %s", msg, strerror(err));
		else
			syslog(pri, "%s", msg);
		return;
	}
	n = fg_line(line, pri, err, msg);
	pthread_mutex_lock(&out_lock);
	if (audit && !flusher_started) {
		flusher_started = pthread_create(&t, NULL, flusher, NULL) == 0 ?
		    1 : -1;
		if (flusher_started > 0)
			pthread_detach(t);
	}
	if (!audit || flusher_started < 0 || batch_len + n > LOG_BATCH_MAX)
		batch_out();
	if (!audit || flusher_started < 0) {
		write_all(line, n);
	} else {
		memcpy(batch + batch_len, line, n);
		if (batch_len == 0)
			pthread_cond_signal(&out_cv);
		batch_len += n;
	}
	pthread_mutex_unlock(&out_lock);
}

static void __attribute__((format(printf, 3, 0)))
vlog(int pri, int err, const char *fmt, va_list ap)
{
	vlog_as(pri, err, 0, fmt, ap);
}

/* log_audit - an audit line of a grant: logged as log_info, and in the
 * foreground written with others that come within LOG_BATCH_MS */
void
log_audit(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_as(LOG_INFO, 0, 1, fmt, ap);
	va_end(ap);
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
