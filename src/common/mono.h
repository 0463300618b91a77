/*
 * mono.h - the monotonic clock in milliseconds, for timeouts and rates.
 */
#ifndef DRACD_MONO_H
#define DRACD_MONO_H

#include <stdint.h>

int64_t mono_ms(void);
int64_t mono_us(void);

#endif
