/*
 * netns.h - for the tests that need root and build a world of their own
 * (netns.c): run or skip (fail under CI=true), a network namespace with
 * loopback up, a private /run.
 */
#ifndef TESTS_NETNS_H
#define TESTS_NETNS_H

int may_run_if(int ok, const char *ci_why, const char *skip_why);
void lo_up(void);
void private_net(int flags);
void private_run(void);

#endif
