/*
 * fakeold.h - a DRAC 1.x server for client tests: a thread answering over
 * UDP on a free loopback port as DRAC 1.12's rpc.dracd does.  Version 1
 * ADD (one XDR unsigned int) and version 2 ADD (16 chars as 64 bytes) are
 * taken and remembered; version 3, or any version past 2, gets
 * PROG_MISMATCH (low 1, high 2).  It shares nothing with dracd's code.
 */
#ifndef TESTS_FAKEOLD_H
#define TESTS_FAKEOLD_H

#include <stdint.h>

struct fakeold;

struct fakeold_seen {
	unsigned long v1, v2, v3;	/* calls of each version */
	unsigned long garbage;		/* v1/v2 adds of the wrong length */
	char last[64];			/* the last address added, as text */
};

struct fakeold *fakeold_start(void);
const char *fakeold_spec(const struct fakeold *);	/* "127.0.0.1:PORT" */
void fakeold_seen(struct fakeold *, struct fakeold_seen *);
void fakeold_stop(struct fakeold *);			/* joins, frees */

#endif
