/*
 * fakesrv.h - a hostile or broken DRAC server for client tests: a thread
 * answering version 3 calls over UDP on a free loopback port, the way its
 * mode says.  It shares nothing with dracd's code.
 */
#ifndef TESTS_FAKESRV_H
#define TESTS_FAKESRV_H

#include <stdint.h>

enum fake_mode {
	FAKE_BIGVERF,		/* every reply carries a 400-byte verifier */
	FAKE_LIST_STUCK,	/* LIST: no entries, always cursor 7 */
	FAKE_LIST_CREEP		/* LIST: no entries, cursor one past the
				 * one sent, for ever */
};

struct fakesrv;

struct fakesrv *fake_start(enum fake_mode);
const char *fake_spec(const struct fakesrv *);	/* "127.0.0.1:PORT" */
unsigned long fake_calls(struct fakesrv *);	/* calls answered */
void fake_stop(struct fakesrv *);		/* joins and frees */

#endif
