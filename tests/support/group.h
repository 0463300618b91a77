/*
 * group.h - a dracd group for the tests: N real dracd on loopback, each
 * in its own directory with its own dracd.conf (group_local on a free
 * port, group_sites the others), started, stopped, killed, paused and
 * resumed by PID; their roles read from what each member says (its log,
 * or drac-cli group); adds and checks at one member over raw RPC; the
 * members' map files compared.  Each member is a struct daemon
 * (daemon.c), so log_contains and the like apply to it.
 *
 * Environment: GROUP_ROLES=log reads roles from the members' log lines
 * instead of their GROUP answers; GROUP_LOGDIR=DIR keeps the members'
 * whole logs there when a test fails.
 */
#ifndef TESTS_GROUP_H
#define TESTS_GROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "helpers.h"

#define GROUP_MAX	5

/* what a member says it is; GROUP_DOWN: not running, or paused */
enum group_role { GROUP_DOWN = -1, GROUP_NONE, GROUP_REPLICA,
    GROUP_MASTER };

struct member {
	struct daemon d;
	char conf[320];
	char gaddr[32];		/* its group_local, 127.0.0.1:PORT */
	off_t logpos;		/* where the running process's lines start */
	_Atomic int paused;	/* SIGSTOPped by the test */
};

struct group {
	size_t n;
	struct member m[GROUP_MAX];
};

void group_init(struct group *, size_t n, const char *allow_text,
    const char *more);
void group_spawn(struct group *, size_t i);
int group_up(struct group *, size_t i, int64_t ms);
void group_start(struct group *, const size_t *order);
void group_shuffle(size_t *order, size_t n);
void group_kill(struct group *, size_t i);
int group_term(struct group *, size_t i);
void group_pause(struct group *, size_t i);
void group_resume(struct group *, size_t i);
void group_teardown(struct group *);
size_t group_revive(struct group *);
pid_t group_hold(struct group *, size_t i, const char *comm);
int group_sanitized(const struct group *, size_t *which);

struct drac_group;
int group_ask(const struct group *, size_t i, struct drac_group *);
enum group_role group_role(struct group *, size_t i);
const char *group_view(const struct group *, char *buf, size_t len);
int group_masters(struct group *, int *which);
int group_settled(struct group *, int64_t ms);
int group_log_wait(struct group *, size_t i, const char *needle,
    int64_t ms);
const char *group_tail(const struct group *, size_t i, char *buf,
    size_t len);
const char *group_tails(const struct group *, char *buf, size_t len);

/* adds and checks at member i; an add's drac_stat, -1 if no answer */
int group_add(struct group *, size_t i, const char *src, const char *addr,
    unsigned int ttl);
size_t group_add_many(struct group *, size_t i, unsigned int base,
    unsigned int from, unsigned int to, unsigned int ttl, size_t *retried);
int group_check(struct group *, size_t i, const char *addr);
int group_allowed_at(struct group *, size_t i, const char *addr,
    int64_t ms);
int group_gone_at(struct group *, size_t i, const char *addr, int64_t ms);
void group_addr(char *buf, size_t len, unsigned int base, unsigned int k);

/* the map files */
int group_map_diff(const struct group *, size_t a, size_t b, char *why,
    size_t len);
int group_maps_same(struct group *, int64_t ms, char *why, size_t len);
int group_map_holds(const struct group *, size_t i, const char *addr);
int group_map_wait(struct group *, size_t i, const char *addr, int want,
    int64_t ms);

#endif
