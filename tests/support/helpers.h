/*
 * helpers.h - what the tests share, one file of tests/support each:
 * tmp.c (temporary directories), wait.c (deadline waits), net.c
 * (loopback sockets), daemon.c (a real dracd on a free loopback port),
 * rpc.c (raw RPC), lossy.c (a lossy UDP relay), map.c (a Berkeley DB
 * reader), prog.c (subprocesses); fakesrv.h is a fake server for libdrac;
 * mta.h is for the tests that run real mail servers, netns.h for those
 * that build namespaces of their own.
 */
#ifndef TESTS_HELPERS_H
#define TESTS_HELPERS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <rpc/rpc.h>

#define WAIT_MS 5000	/* the default deadline of a wait */

struct daemon {
	pid_t pid;
	uint16_t port;
	char dir[256];
	char db[300];
	char allow[300];
	char log[300];
};

/* tmp.c */
char *tmpdir(void);
void write_file(const char *path, const char *text);

/* wait.c */
int64_t now_ms(void);
int wait_until(int (*cond)(void *), void *arg, int64_t ms);

/* daemon.c */
void daemon_init(struct daemon *, const char *allow_text);
int daemon_start(struct daemon *, const char *const *extra);
int daemon_start_within(struct daemon *, const char *const *extra,
    int64_t ms);
int daemon_run(struct daemon *, const char *const *extra, int64_t ms,
    char *out, size_t outlen);
int daemon_stop(struct daemon *);
void daemon_kill(struct daemon *);
int log_count(const struct daemon *, const char *needle);
int log_contains(const struct daemon *, const char *needle);
int slow_daemon(const char *test);

/* net.c */
struct sockaddr_in;
uint16_t free_port(void);
int dial(const char *src, uint16_t port, int type, struct sockaddr_in *);
ssize_t udp_exchange(const char *src, uint16_t port, const void *req,
    size_t len, uint8_t *reply, size_t cap, int timeout_ms);

/* rpc.c */
size_t put32(uint8_t *, uint32_t);
size_t rpc_header(uint8_t *buf, uint32_t xid, uint32_t prog, uint32_t vers,
    uint32_t proc);
int reply_status(const uint8_t *reply, ssize_t len, uint32_t xid,
    uint32_t *result);

CLIENT *client_v3(const char *src, uint16_t port, int tcp);

/* prog.c */
void on_death(void (*)(void));
int run_prog(const char *const *argv, const char *input, char *out,
    size_t outlen, int64_t ms);

/* lossy.c: a UDP relay on loopback to dracd that loses one datagram: the first
 * request, or dracd's first reply; lossy_end: was it lost and a resend
 * relayed both ways?  (It joins the relay and frees it.)  Or that sends
 * the first request to dracd twice at once and relays the first reply;
 * lossy_end: how many replies came back, all the same, -1 if they
 * differ. */
enum { LOSE_REQUEST, LOSE_REPLY, DOUBLE_REQUEST };
struct lossy;
struct lossy *lossy_start(uint16_t to, int lose);
const char *lossy_spec(const struct lossy *);
int lossy_end(struct lossy *);

/* map.c */
struct __db;
int map_lookup(const char *path, const char *key, size_t keylen, char *val,
    size_t vallen, char *why, size_t whylen);
int map_get(const char *path, const char *key, size_t keylen, char *val,
    size_t vallen);
size_t map_count(const char *path);
struct __db *map_open(const char *path);
int map_holds(struct __db *, const char *key);

#endif
