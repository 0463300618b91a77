/*
 * log.h - dracd's logging: stderr in the foreground, syslog (mail) otherwise.
 */
#ifndef DRACD_LOG_H
#define DRACD_LOG_H

#include <time.h>

#define PRINTF(f, a) __attribute__((format(printf, f, a)))

#define LOG_DEBUG_BURST 50	/* -d lines a second at most */

void log_init(int foreground, int debug);
int log_debug_on(void);
void log_warn(const char *, ...) PRINTF(1, 2);
void log_warnx(const char *, ...) PRINTF(1, 2);
void log_info(const char *, ...) PRINTF(1, 2);
void log_audit(const char *, ...) PRINTF(1, 2);
void log_flush(void);
void log_debug(const char *, ...) PRINTF(1, 2);
void fatal(const char *, ...) PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *, ...) PRINTF(1, 2) __attribute__((noreturn));

/* A limiter lets at most burst lines through per period seconds. */
struct log_limit {
	time_t start;
	unsigned int period, burst, used, dropped;
};

int log_limit_pass(struct log_limit *, unsigned int *dropped);

#endif
