/*
 * fakegroup.h - a fake member of a dracd group for drac-cli group tests:
 * a thread answering GROUP (version 3 procedure 9) over UDP on a free
 * loopback port with the answer it was given, STATS2 with no counters,
 * and the NULL procedure.  It shares nothing with dracd's code.
 */
#ifndef TESTS_FAKEGROUP_H
#define TESTS_FAKEGROUP_H

#include "drac_prot.h"

struct fakegroup;

/* ans and the strings it points to must outlive the fake */
struct fakegroup *fakegroup_start(const group3_res *ans);
const char *fakegroup_spec(const struct fakegroup *);	/* 127.0.0.1:PORT */
void fakegroup_stop(struct fakegroup *);		/* joins and frees */

#endif
