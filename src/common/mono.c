/*
 * mono.c - the monotonic clock, the one place it is read in ms.
 */
#include <time.h>

#include "mono.h"

/* mono_ms - monotonic milliseconds */
int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* mono_us - monotonic microseconds, for latencies */
int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
