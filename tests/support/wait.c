/*
 * wait.c - the monotonic clock and waiting on a condition with a deadline.
 */
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "helpers.h"

/* now_ms - monotonic milliseconds */
int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait_until - poll cond every 10 ms until true or ms pass; 1 if true */
int
wait_until(int (*cond)(void *), void *arg, int64_t ms)
{
	int64_t end = now_ms() + ms;
	struct timespec ts = {0, 10 * 1000000L};

	for (;;) {
		if (cond(arg))
			return 1;
		if (now_ms() > end)
			return 0;
		nanosleep(&ts, NULL);
	}
}
