/*
 * check_daemon.c - a real dracd on a free loopback port: the DRAC v1/v2
 * wire format built byte by byte, v3 through rpcgen's client stubs,
 * expiry, persistence, -i, SIGHUP, access rights, and garbage.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <db.h>
#include <dirent.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drac.h"
#include "drac_prot.h"
#include "helpers.h"
#include "suites.h"

#define ALLOW_LO "127.0.0.1\n"

static struct daemon d;
static pid_t detached;	/* a dracd that daemonized: not our child */

static void
teardown(void)
{
	daemon_kill(&d);
}

static char pidpath[400];

/* kill_detached - from an on_death guard: the detached dracd, by its
 * pidfile when the test did not get as far as reading it */
static void
kill_detached(void)
{
	FILE *fp;
	int pid = 0;

	if (detached == 0 && (fp = fopen(pidpath, "r")) != NULL) {
		if (fscanf(fp, "%d", &pid) == 1)
			detached = pid;
		fclose(fp);
	}
	if (detached > 0)
		kill(detached, SIGKILL);
}

/* start - a daemon with the given allow file and extra options */
static void
start(const char *allow, const char *const *extra)
{
	daemon_init(&d, allow);
	ck_assert_msg(daemon_start(&d, extra) == 0, "dracd did not start");
}

/* v1_add - DRAC v1 ADD of text from src: the accept_stat, *res addstat */
static int
v1_add(const char *src, const char *text, uint32_t *res)
{
	uint8_t req[64], rep[128];
	struct in_addr ia;
	size_t n = rpc_header(req, 101, 900101, 1, 1);

	ck_assert_int_eq(inet_pton(AF_INET, text, &ia), 1);
	/* old clients send ntohl(inet_addr(ip)) as an XDR u_int */
	n += put32(req + n, ntohl(ia.s_addr));
	return reply_status(rep, udp_exchange(src, d.port, req, n, rep,
	    sizeof(rep), 2000), 101, res);
}

/* v2_add - DRAC v2 ADD: sixteen chars, each a 4-byte XDR int */
static int
v2_add(const char *src, const char *text, uint32_t *res)
{
	uint8_t req[128], rep[128], a[16];
	size_t n = rpc_header(req, 102, 900101, 2, 1), i;

	ck_assert_int_eq(inet_pton(AF_INET6, text, a), 1);
	for (i = 0; i < 16; i++)
		n += put32(req + n, (uint32_t)(int32_t)(signed char)a[i]);
	ck_assert_uint_eq(n, 40 + 64);
	return reply_status(rep, udp_exchange(src, d.port, req, n, rep,
	    sizeof(rep), 2000), 102, res);
}

struct mapkey {
	const char *key;
	int want;	/* 1 present, 0 absent */
};

static int
map_has(void *arg)
{
	struct mapkey *k = arg;

	return map_get(d.db, k->key, strlen(k->key), NULL, 0) == k->want;
}

/* wait_map - the key reaches (or leaves) the map file within a bound */
static void
wait_map(const char *key, int want, int64_t ms)
{
	struct mapkey k = {key, want};

	ck_assert_msg(wait_until(map_has, &k, ms), "key %s: want %s in the "
	    "map within %lld ms", key, want ? "present" : "absent",
	    (long long)ms);
}

/* to_wire - text to a v3 address */
static drac_addr
W(const char *text)
{
	drac_addr w;

	memset(&w, 0, sizeof(w));
	if (inet_pton(AF_INET, text, w.drac_addr_u.v4) == 1)
		w.af = DRAC_AF_INET;
	else {
		ck_assert_int_eq(inet_pton(AF_INET6, text, w.drac_addr_u.v6),
		    1);
		w.af = DRAC_AF_INET6;
	}
	return w;
}

/* add3 - v3 ADD; the status */
static drac_stat
add3(CLIENT *c, const char *text, unsigned int ttl, const char *user,
    int64_t *expires)
{
	add3_args a;
	add3_res r;

	a.addr = W(text);
	a.ttl = ttl;
	a.user = (char *)(user != NULL ? user : "");
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(dracproc3_add_3(&a, &r, c), RPC_SUCCESS);
	if (expires != NULL)
		*expires = r.expires;
	return r.stat;
}

/* check3 - v3 CHECK; the status, and the user when allowed */
static drac_stat
check3(CLIENT *c, const char *text, char *user, size_t len)
{
	drac_addr a = W(text);
	check3_res r;
	drac_stat st;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(dracproc3_check_3(&a, &r, c), RPC_SUCCESS);
	st = r.stat;
	if (user != NULL)
		snprintf(user, len, "%s", r.user != NULL ? r.user : "");
	xdr_free((xdrproc_t)xdr_check3_res, (char *)&r);
	return st;
}

START_TEST(null_every_version)
{
	uint8_t req[64], rep[128];
	uint32_t v;
	size_t n;
	CLIENT *c;
	struct timeval tv = {2, 0};

	start(ALLOW_LO, NULL);
	for (v = 1; v <= 3; v++) {
		n = rpc_header(req, 200 + v, 900101, v, 0);
		ck_assert_int_eq(reply_status(rep, udp_exchange("127.0.0.1",
		    d.port, req, n, rep, sizeof(rep), 2000), 200 + v, NULL),
		    SUCCESS);
	}
	/* version 4 and another program get the right RPC errors */
	n = rpc_header(req, 300, 900101, 4, 0);
	ck_assert_int_eq(reply_status(rep, udp_exchange("127.0.0.1", d.port,
	    req, n, rep, sizeof(rep), 2000), 300, NULL), PROG_MISMATCH);
	n = rpc_header(req, 301, 100000, 2, 0);
	ck_assert_int_eq(reply_status(rep, udp_exchange("127.0.0.1", d.port,
	    req, n, rep, sizeof(rep), 2000), 301, NULL), PROG_UNAVAIL);
	n = rpc_header(req, 302, 900101, 3, 99);
	ck_assert_int_eq(reply_status(rep, udp_exchange("127.0.0.1", d.port,
	    req, n, rep, sizeof(rep), 2000), 302, NULL), PROC_UNAVAIL);
	/* and over TCP */
	c = client_v3("127.0.0.1", d.port, 1);
	ck_assert_int_eq(clnt_call(c, 0, (xdrproc_t)(void (*)(void))xdr_void, NULL,
	    (xdrproc_t)(void (*)(void))xdr_void, NULL, tv), RPC_SUCCESS);
	clnt_destroy(c);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(v1_add_reaches_the_map)
{
	char val[64];
	uint32_t res;
	long exp;

	start(ALLOW_LO, NULL);
	ck_assert_int_eq(v1_add("127.0.0.1", "192.0.2.7", &res), SUCCESS);
	ck_assert_uint_eq(res, ADD_SUCCESS);
	/* default sync interval 1 s: visible to an outside reader by then */
	wait_map("192.0.2.7", 1, 1500);
	ck_assert_int_eq(map_get(d.db, "192.0.2.7", 9, val, sizeof(val)), 1);
	exp = atol(val);
	ck_assert_msg(labs(exp - (time(NULL) + 1800)) <= 2,
	    "expiry %ld, want about now + 1800", exp);
	ck_assert_uint_eq(strspn(val, "0123456789"), strlen(val));
	/* no NUL in key or value: the key with a NUL is not there */
	ck_assert_int_eq(map_get(d.db, "192.0.2.7", 10, NULL, 0), 0);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(v2_add_both_families)
{
	uint32_t res;

	start(ALLOW_LO, NULL);
	ck_assert_int_eq(v2_add("127.0.0.1", "2001:db8::7", &res), SUCCESS);
	ck_assert_uint_eq(res, ADD_SUCCESS);
	ck_assert_int_eq(v2_add("127.0.0.1", "::ffff:192.0.2.8", &res),
	    SUCCESS);
	ck_assert_uint_eq(res, ADD_SUCCESS);
	wait_map("2001:db8::7", 1, 1500);
	wait_map("192.0.2.8", 1, 1500);	/* v4-mapped is the IPv4 key */
	ck_assert_uint_eq(map_count(d.db), 2);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(malformed_adds_add_nothing)
{
	uint8_t req[256], rep[128];
	size_t n, i;
	uint32_t res;

	start(ALLOW_LO, NULL);
	/* v2 ADD as opaque[16] (16 bytes, not 64): refused */
	n = rpc_header(req, 400, 900101, 2, 1);
	for (i = 0; i < 16; i++)
		req[n++] = (uint8_t)(0x20 + i);
	ck_assert_int_eq(reply_status(rep, udp_exchange("127.0.0.1", d.port,
	    req, n, rep, sizeof(rep), 2000), 400, NULL), GARBAGE_ARGS);
	/* libtirpc's stale-buffer trap: a NULL call carrying 10.11.12.13,
	 * then a v1 ADD without argument bytes */
	n = rpc_header(req, 401, 900101, 1, 0);
	n += put32(req + n, 0x0a0b0c0d);
	udp_exchange("127.0.0.1", d.port, req, n, rep, sizeof(rep), 2000);
	n = rpc_header(req, 402, 900101, 1, 1);
	ck_assert_int_eq(reply_status(rep, udp_exchange("127.0.0.1", d.port,
	    req, n, rep, sizeof(rep), 2000), 402, NULL), GARBAGE_ARGS);
	/* trailing bytes after a v1 argument */
	n = rpc_header(req, 403, 900101, 1, 1);
	n += put32(req + n, 0x0a000001);
	n += put32(req + n, 0);
	ck_assert_int_eq(reply_status(rep, udp_exchange("127.0.0.1", d.port,
	    req, n, rep, sizeof(rep), 2000), 403, NULL), GARBAGE_ARGS);
	/* a v3 ADD with an unknown address family */
	n = rpc_header(req, 404, 900101, 3, 1);
	n += put32(req + n, 7);
	n += put32(req + n, 0x0a000002);
	n += put32(req + n, 0);
	n += put32(req + n, 0);
	ck_assert_int_eq(reply_status(rep, udp_exchange("127.0.0.1", d.port,
	    req, n, rep, sizeof(rep), 2000), 404, NULL), GARBAGE_ARGS);
	/* a user name longer than 64 bytes */
	n = rpc_header(req, 405, 900101, 3, 1);
	n += put32(req + n, DRAC_AF_INET);
	n += put32(req + n, 0x0a000003);
	n += put32(req + n, 0);
	n += put32(req + n, 68);
	memset(req + n, 'u', 68);
	n += 68;
	ck_assert_int_eq(reply_status(rep, udp_exchange("127.0.0.1", d.port,
	    req, n, rep, sizeof(rep), 2000), 405, NULL), GARBAGE_ARGS);
	/* one good add, then the map holds exactly that */
	ck_assert_int_eq(v1_add("127.0.0.1", "192.0.2.50", &res), SUCCESS);
	ck_assert_uint_eq(res, ADD_SUCCESS);
	ck_assert_int_eq(daemon_stop(&d), 0);
	ck_assert_uint_eq(map_count(d.db), 1);
	ck_assert_int_eq(map_get(d.db, "192.0.2.50", 10, NULL, 0), 1);
}
END_TEST

START_TEST(garbage_then_good_call)
{
	uint8_t req[1500], rep[128];
	unsigned int seed = 12345;
	uint32_t res;
	size_t i, j, n;

	if (slow_daemon("garbage_then_good_call"))
		return;
	start(ALLOW_LO, NULL);
	for (i = 0; i < 3000; i++) {
		n = (size_t)(rand_r(&seed) % sizeof(req));
		for (j = 0; j < n; j++)
			req[j] = (uint8_t)rand_r(&seed);
		if (i % 3 == 0 && n >= 40)	/* a real header, bad body */
			rpc_header(req, (uint32_t)i, 900101,
			    1 + (uint32_t)(i % 3), (uint32_t)(i % 7));
		udp_exchange("127.0.0.1", d.port, req, n, rep, sizeof(rep), 0);
	}
	ck_assert_int_eq(v1_add("127.0.0.1", "192.0.2.60", &res), SUCCESS);
	ck_assert_uint_eq(res, ADD_SUCCESS);
	ck_assert_int_eq(daemon_stop(&d), 0);
	/* none of the garbage became an entry: only the good add is there,
	 * plus whatever random bodies happened to be valid v1/v2 ADDs */
	ck_assert_int_eq(map_get(d.db, "192.0.2.60", 10, NULL, 0), 1);
}
END_TEST

START_TEST(v3_procedures)
{
	CLIENT *c;
	char user[80];
	int64_t exp, exp2;
	stats3_res st;
	list3_args la;
	list3_res lr;
	drac_stat ds;
	drac_addr a;
	int tcp;

	start(ALLOW_LO, NULL);
	for (tcp = 0; tcp <= 1; tcp++) {
		c = client_v3("127.0.0.1", d.port, tcp);
		ck_assert_int_eq(add3(c, "198.51.100.1", 0, "alice", &exp),
		    DRAC_OK);
		ck_assert_msg(llabs(exp - (time(NULL) + 1800)) <= 2,
		    "default TTL: expiry %lld", (long long)exp);
		ck_assert_int_eq(add3(c, "198.51.100.1", 60, NULL, &exp2),
		    DRAC_OK);
		ck_assert_int_eq(exp2, exp);	/* never shortened */
		ck_assert_int_eq(check3(c, "198.51.100.1", user,
		    sizeof(user)), DRAC_OK);
		ck_assert_str_eq(user, "alice");
		ck_assert_int_eq(check3(c, "::ffff:198.51.100.1", NULL, 0),
		    DRAC_OK);
		ck_assert_int_eq(check3(c, "198.51.100.2", NULL, 0),
		    DRAC_NOTFOUND);
		ck_assert_int_eq(add3(c, "2001:db8::99", 100000000, "b",
		    &exp), DRAC_OK);
		ck_assert_msg(exp <= time(NULL) + 86400 + 2,
		    "max_ttl not applied: %lld", (long long)exp);
		ck_assert_int_eq(add3(c, "2001:db8::98", 10, "ctl\001", NULL),
		    DRAC_BADARG);

		memset(&la, 0, sizeof(la));
		memset(&lr, 0, sizeof(lr));
		la.max = 10;
		ck_assert_int_eq(dracproc3_list_3(&la, &lr, c), RPC_SUCCESS);
		ck_assert_int_eq(lr.stat, DRAC_OK);
		ck_assert_uint_eq(lr.entries.entries_len, 2);
		ck_assert_uint_eq(lr.cursor, 0);
		xdr_free((xdrproc_t)xdr_list3_res, (char *)&lr);

		memset(&st, 0, sizeof(st));
		ck_assert_int_eq(dracproc3_stats_3(NULL, &st, c), RPC_SUCCESS);
		ck_assert_int_eq(st.stat, DRAC_OK);
		ck_assert_uint_eq(st.entries, 2);

		a = W("198.51.100.1");
		ck_assert_int_eq(dracproc3_del_3(&a, &ds, c), RPC_SUCCESS);
		ck_assert_int_eq(ds, DRAC_OK);
		ck_assert_int_eq(dracproc3_del_3(&a, &ds, c), RPC_SUCCESS);
		ck_assert_int_eq(ds, DRAC_NOTFOUND);
		ck_assert_int_eq(check3(c, "198.51.100.1", NULL, 0),
		    DRAC_NOTFOUND);
		ck_assert_int_eq(dracproc3_flush_3(NULL, &ds, c), RPC_SUCCESS);
		ck_assert_int_eq(ds, DRAC_OK);
		ck_assert_int_eq(check3(c, "2001:db8::99", NULL, 0),
		    DRAC_NOTFOUND);
		clnt_destroy(c);
	}
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(list_pages_over_udp)
{
	CLIENT *c;
	list3_args la;
	list3_res lr;
	char text[32];
	size_t total = 0, pages = 0;
	int i;

	start(ALLOW_LO, NULL);
	c = client_v3("127.0.0.1", d.port, 1);
	for (i = 0; i < 300; i++) {
		snprintf(text, sizeof(text), "10.1.%d.%d", i / 250, i % 250);
		ck_assert_int_eq(add3(c, text, 0, "someone", NULL), DRAC_OK);
	}
	clnt_destroy(c);
	c = client_v3("127.0.0.1", d.port, 0);
	memset(&la, 0, sizeof(la));
	la.max = 1000;	/* more than fits a datagram: the server caps it */
	do {
		memset(&lr, 0, sizeof(lr));
		ck_assert_int_eq(dracproc3_list_3(&la, &lr, c), RPC_SUCCESS);
		ck_assert_int_eq(lr.stat, DRAC_OK);
		total += lr.entries.entries_len;
		pages++;
		la.cursor = lr.cursor;
		xdr_free((xdrproc_t)xdr_list3_res, (char *)&lr);
	} while (la.cursor != 0 && pages < 1000);
	ck_assert_uint_eq(total, 300);
	ck_assert_uint_gt(pages, 1);
	clnt_destroy(c);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

struct chk {
	CLIENT *c;
	const char *addr;
	drac_stat want;
};

static int
check_is(void *arg)
{
	struct chk *k = arg;

	return check3(k->c, k->addr, NULL, 0) == k->want;
}

static int
add_ok(void *arg)
{
	struct chk *k = arg;

	return add3(k->c, k->addr, 0, NULL, NULL) == DRAC_OK;
}

static int
log_has(void *needle)
{
	return log_contains(&d, needle);
}

START_TEST(expiry_within_bound)
{
	struct chk k;
	CLIENT *c;
	int64_t t0;

	start(ALLOW_LO, NULL);
	c = client_v3("127.0.0.1", d.port, 1);
	t0 = now_ms();
	ck_assert_int_eq(add3(c, "192.0.2.77", 2, NULL, NULL), DRAC_OK);
	/* whole seconds: a 2 s grant lasts at least 1 s */
	if (check3(c, "192.0.2.77", NULL, 0) == DRAC_OK)
		wait_map("192.0.2.77", 1, 1500);
	else
		ck_assert_int_ge(now_ms() - t0, 1000);
	k.c = c;
	k.addr = "192.0.2.77";
	k.want = DRAC_NOTFOUND;
	/* a 2 s grant: gone from CHECK by 2 s (+1 s rounding to seconds) */
	ck_assert(wait_until(check_is, &k, 4000));
	ck_assert_msg(now_ms() - t0 >= 1000, "expired too early");
	/* and from the map file within about a second after that */
	wait_map("192.0.2.77", 0, 2500);
	clnt_destroy(c);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(persistence_and_truncate)
{
	const char *const trunc[] = {"-i", NULL};
	char user[80];
	CLIENT *c;

	start(ALLOW_LO, NULL);
	c = client_v3("127.0.0.1", d.port, 1);
	ck_assert_int_eq(add3(c, "192.0.2.90", 0, "carol", NULL), DRAC_OK);
	clnt_destroy(c);
	ck_assert_int_eq(daemon_stop(&d), 0);
	/* restart: the grant and its user are still there */
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	c = client_v3("127.0.0.1", d.port, 1);
	ck_assert_int_eq(check3(c, "192.0.2.90", user, sizeof(user)),
	    DRAC_OK);
	ck_assert_str_eq(user, "carol");
	clnt_destroy(c);
	ck_assert_int_eq(daemon_stop(&d), 0);
	/* -i: empty */
	ck_assert_int_eq(daemon_start(&d, trunc), 0);
	c = client_v3("127.0.0.1", d.port, 1);
	ck_assert_int_eq(check3(c, "192.0.2.90", NULL, 0), DRAC_NOTFOUND);
	clnt_destroy(c);
	ck_assert_uint_eq(map_count(d.db), 0);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(kill9_keeps_synced_adds)
{
	uint32_t res;
	char text[32];
	int i;

	start(ALLOW_LO, NULL);
	for (i = 0; i < 50; i++) {
		snprintf(text, sizeof(text), "192.0.2.%d", i + 1);
		ck_assert_int_eq(v1_add("127.0.0.1", text, &res), SUCCESS);
		ck_assert_uint_eq(res, ADD_SUCCESS);
	}
	/* more than one sync interval later, kill -9 */
	wait_map("192.0.2.50", 1, 1500);
	usleep(100000);
	daemon_kill(&d);
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	ck_assert_int_eq(daemon_stop(&d), 0);
	ck_assert_uint_eq(map_count(d.db), 50);
}
END_TEST

START_TEST(sync_before_ack)
{
	char conf[400];
	const char *const withconf[] = {"-c", conf, NULL};
	char user[80];
	int64_t exp;
	uint32_t res;
	CLIENT *c;

	daemon_init(&d, ALLOW_LO);
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	write_file(conf, "sync_interval = 0\n");
	ck_assert_int_eq(daemon_start(&d, withconf), 0);
	ck_assert_int_eq(v1_add("127.0.0.1", "192.0.2.33", &res), SUCCESS);
	ck_assert_uint_eq(res, ADD_SUCCESS);
	/* acknowledged means on disk already: no waiting */
	ck_assert_int_eq(map_get(d.db, "192.0.2.33", 10, NULL, 0), 1);
	/* and in the journal: a kill -9 right after the answer loses
	 * nothing, user name included */
	c = client_v3("127.0.0.1", d.port, 0);
	ck_assert_int_eq(add3(c, "192.0.2.34", 0, "carol", &exp), DRAC_OK);
	clnt_destroy(c);
	daemon_kill(&d);
	ck_assert_int_eq(daemon_start(&d, withconf), 0);
	c = client_v3("127.0.0.1", d.port, 0);
	ck_assert_int_eq(check3(c, "192.0.2.34", user, sizeof(user)),
	    DRAC_OK);
	ck_assert_str_eq(user, "carol");
	ck_assert_int_eq(check3(c, "192.0.2.33", NULL, 0), DRAC_OK);
	clnt_destroy(c);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(rights_and_reload)
{
	CLIENT *c2;
	drac_addr a;
	drac_stat ds;
	struct chk k;
	uint32_t res;

	start("127.0.0.1 add check admin\n127.0.0.2 check\n", NULL);
	/* 127.0.0.2 may check but not add, and is no admin */
	ck_assert_int_eq(v1_add("127.0.0.2", "192.0.2.1", &res), SUCCESS);
	ck_assert_uint_eq(res, ADD_PERM);
	ck_assert_int_eq(v1_add("127.0.0.3", "192.0.2.1", &res), SUCCESS);
	ck_assert_uint_eq(res, ADD_PERM);
	c2 = client_v3("127.0.0.2", d.port, 1);
	ck_assert_int_eq(add3(c2, "192.0.2.1", 0, NULL, NULL), DRAC_PERM);
	ck_assert_int_eq(check3(c2, "192.0.2.1", NULL, 0), DRAC_NOTFOUND);
	a = W("192.0.2.1");
	ck_assert_int_eq(dracproc3_del_3(&a, &ds, c2), RPC_SUCCESS);
	ck_assert_int_eq(ds, DRAC_PERM);
	ck_assert(log_contains(&d, "denied add"));
	ck_assert(log_contains(&d, "127.0.0.2"));

	/* reload: now 127.0.0.2 may add */
	write_file(d.allow, "127.0.0.1\n127.0.0.2 add check\n");
	kill(d.pid, SIGHUP);
	k.c = c2;
	k.addr = "192.0.2.1";
	k.want = DRAC_OK;
	ck_assert(wait_until(add_ok, &k, WAIT_MS));
	ck_assert(wait_until(log_has, "reloaded", WAIT_MS));
	ck_assert_int_eq(check3(c2, "192.0.2.1", NULL, 0), DRAC_OK);

	/* a broken file keeps the old rules and says where it broke */
	write_file(d.allow, "127.0.0.1\n127.0.0.2 add check\nbogus\n");
	kill(d.pid, SIGHUP);
	ck_assert(wait_until(log_has, "dracd.allow:3:", WAIT_MS));
	ck_assert_int_eq(add3(c2, "192.0.2.2", 0, NULL, NULL), DRAC_OK);
	clnt_destroy(c2);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(check_mode_and_bad_files)
{
	const char *const n[] = {"-n", NULL};
	char out[4096], conf[400];
	const char *const badconf[] = {"-n", "-c", conf, NULL};

	daemon_init(&d, "127.0.0.1\n192.0.2.0/24 add\n");
	ck_assert_int_eq(daemon_run(&d, n, WAIT_MS, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "configuration OK") != NULL, "%s", out);
	write_file(d.allow, "127.0.0.1\n192.0.2.0/24 add\n300.1.1.1\n");
	ck_assert_int_eq(daemon_run(&d, n, WAIT_MS, out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "dracd.allow:3:") != NULL, "%s", out);
	write_file(d.allow, "127.0.0.1\n");
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	write_file(conf, "expire = 30m\nexpires = 5\n");
	ck_assert_int_eq(daemon_run(&d, badconf, WAIT_MS, out, sizeof(out)),
	    1);
	ck_assert_msg(strstr(out, "dracd.conf:2:") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "expires") != NULL, "%s", out);
	/* an explicit -c that is missing is an error too */
	unlink(conf);
	ck_assert_int_eq(daemon_run(&d, badconf, WAIT_MS, out, sizeof(out)),
	    1);
	ck_assert_msg(strstr(out, conf) != NULL, "%s", out);
}
END_TEST

START_TEST(corrupt_store_refused)
{
	const char *const trunc[] = {"-i", NULL};
	char out[4096];
	struct stat before, after;

	daemon_init(&d, ALLOW_LO);
	write_file(d.db, "garbage, not a btree\n");
	ck_assert_int_eq(stat(d.db, &before), 0);
	ck_assert_int_eq(daemon_run(&d, NULL, WAIT_MS, out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, d.db) != NULL && strstr(out, "-i") != NULL,
	    "want the file and the way out named: %s", out);
	ck_assert_int_eq(stat(d.db, &after), 0);
	ck_assert_int_eq(before.st_size, after.st_size);	/* untouched */
	ck_assert_int_eq(daemon_start(&d, trunc), 0);
	ck_assert_int_eq(daemon_stop(&d), 0);
	ck_assert_uint_eq(map_count(d.db), 0);
}
END_TEST

START_TEST(drac_command_line)
{
	/* rpc.dracd [-i] [-e expire] [dbfile]: -e in minutes */
	const char *const drac[] = {"-i", "-e", "5", NULL};
	char val[64];
	uint32_t res;
	long exp;

	daemon_init(&d, ALLOW_LO);
	ck_assert_int_eq(daemon_start(&d, drac), 0);
	ck_assert_int_eq(v1_add("127.0.0.1", "192.0.2.5", &res), SUCCESS);
	wait_map("192.0.2.5", 1, 1500);
	map_get(d.db, "192.0.2.5", 9, val, sizeof(val));
	exp = atol(val);
	ck_assert_msg(labs(exp - (time(NULL) + 300)) <= 2, "expiry %ld", exp);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(ipv6_listener)
{
	const char *const both[] = {"-l", "127.0.0.1,::1", NULL};
	struct drac_entry e;
	char spec[40];
	drac_t *h;
	int tr;

	start("127.0.0.1\n::1\n", both);
	snprintf(spec, sizeof(spec), "[::1]:%u", d.port);
	for (tr = DRAC_UDP; tr <= DRAC_TCP; tr++) {
		struct drac_options o = {2000, 0, tr, NULL};

		ck_assert_int_eq(drac_open(&h, spec, &o), 0);
		ck_assert_int_eq(drac_ping(h), 0);
		ck_assert_int_eq(drac_add(h, "2001:db8::66", 0, "v6"), 0);
		ck_assert_int_eq(drac_check(h, "2001:db8::66", &e), 1);
		ck_assert_str_eq(e.user, "v6");
		drac_close(h);
	}
	ck_assert_int_eq(daemon_stop(&d), 0);
	ck_assert_int_eq(map_get(d.db, "2001:db8::66", 12, NULL, 0), 1);
}
END_TEST

static int
pidfile_there(void *arg)
{
	(void)arg;
	return access(pidpath, F_OK) == 0;
}

/* has_thread - does process pid have a thread of that name? */
static int
has_thread(pid_t pid, const char *name)
{
	char path[300], comm[32];
	struct dirent *de;
	int found = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return 0;
	while (!found && (de = readdir(dir)) != NULL) {
		FILE *fp;

		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/comm",
		    (int)pid, de->d_name);
		if (de->d_name[0] == '.' || (fp = fopen(path, "r")) == NULL)
			continue;
		found = fgets(comm, sizeof(comm), fp) != NULL &&
		    strcspn(comm, "\n") == strlen(name) &&
		    strncmp(comm, name, strlen(name)) == 0;
		fclose(fp);
	}
	closedir(dir);
	return found;
}

/* all_threads_named - has dracd (arg: its pid) named every thread yet? */
static int
all_threads_named(void *arg)
{
	static const char *const names[] = {"dracd-udp", "dracd-tcp",
	    "dracd-expire", "dracd-journal", "dracd-map", "dracd-snapshot"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!has_thread(*(pid_t *)arg, names[i]))
			return 0;
	return 1;
}

START_TEST(thread_names)
{
	start(ALLOW_LO, NULL);
	/* each thread names itself as it starts */
	ck_assert(wait_until(all_threads_named, &d.pid, 5000));
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(daemon_mode_and_pidfile)
{
	const char *const extra[] = {"-P", pidpath, NULL};
	uint8_t req[64], rep[64];
	char out[256];
	pid_t pid = 0;
	FILE *fp;
	size_t n;
	int rc;

	if (slow_daemon("daemon_mode_and_pidfile"))
		return;
	daemon_init(&d, ALLOW_LO);
	snprintf(pidpath, sizeof(pidpath), "%s/dracd.pid", d.dir);
	on_death(kill_detached);
	/* the same command line as the tests use, less -f */
	{
		const char *bin = getenv("DRACD");
		char port[16];
		const char *argv[] = {bin != NULL ? bin : "build/dracd", "-c",
		    "/dev/null", "-l", "127.0.0.1", "-p", port, "-a", d.allow,
		    extra[0], extra[1], d.db, NULL};

		snprintf(port, sizeof(port), "%u", d.port);
		rc = run_prog(argv, NULL, out, sizeof(out), WAIT_MS);
	}
	ck_assert_int_eq(rc, 0);	/* the parent returns at once */
	ck_assert(wait_until(pidfile_there, NULL, WAIT_MS));
	ck_assert_ptr_nonnull(fp = fopen(pidpath, "r"));
	ck_assert_int_eq(fscanf(fp, "%d", &pid), 1);
	fclose(fp);
	detached = pid;	/* not our child: stop it by its pidfile's PID */
	n = rpc_header(req, 5, 900101, 3, 0);
	ck_assert_int_eq(reply_status(rep, udp_exchange("127.0.0.1", d.port,
	    req, n, rep, sizeof(rep), 2000), 5, NULL), SUCCESS);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	{
		int64_t end = now_ms() + WAIT_MS;

		while (kill(pid, 0) == 0 && now_ms() < end)
			usleep(10000);
		ck_assert_int_ne(kill(pid, 0), 0);
	}
	detached = 0;
	ck_assert_int_eq(access(pidpath, F_OK), -1);	/* removed */
}
END_TEST

START_TEST(drops_privileges)
{
	const char *const extra[] = {"-u", "nobody", NULL};
	struct passwd *pw = getpwnam("nobody");
	char path[64], line[256];
	unsigned int uid = 0;
	uint32_t res;
	FILE *fp;

	if (geteuid() != 0 || pw == NULL) {
		fprintf(stderr, "-u test skipped: needs root and user nobody\n");
		return;
	}
	daemon_init(&d, ALLOW_LO);
	ck_assert_int_eq(chown(d.dir, pw->pw_uid, pw->pw_gid), 0);
	ck_assert_int_eq(daemon_start(&d, extra), 0);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)d.pid);
	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "Uid: %u", &uid) == 1)
			break;
	fclose(fp);
	ck_assert_uint_eq(uid, pw->pw_uid);
	/* and it can still write its files */
	ck_assert_int_eq(v1_add("127.0.0.1", "192.0.2.200", &res), SUCCESS);
	ck_assert_uint_eq(res, ADD_SUCCESS);
	wait_map("192.0.2.200", 1, 1500);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(db_dump_reads_the_map)
{
	const char *argv[] = {"/usr/bin/db5.3_dump", "-p", d.db, NULL};
	char out[4096];
	uint32_t res;

	start(ALLOW_LO, NULL);
	argv[2] = d.db;
	ck_assert_int_eq(v1_add("127.0.0.1", "192.0.2.123", &res), SUCCESS);
	wait_map("192.0.2.123", 1, 1500);
	ck_assert_int_eq(run_prog(argv, NULL, out, sizeof(out), 5000), 0);
	ck_assert_msg(strstr(out, "type=btree") != NULL &&
	    strstr(out, "\n 192.0.2.123\n 1") != NULL, "%s", out);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/*
 * reader - an outside reader of the map, as an MTA: exits 1 on an error,
 * saying which.  Until dracd has written the map once, it is not there;
 * from then on it must always be (each rewrite is renamed over it).
 */
static void
reader(const char *db)
{
	struct timespec ts = {0, 20 * 1000000L};
	char why[256];
	int there = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGTERM, SIG_DFL);	/* not Check's group-killing handler */
	for (;;) {
		/* asked before the lookup, or the first map could appear
		 * between a lookup that found none and the question */
		there = there || access(db, F_OK) == 0;
		if (map_lookup(db, "192.0.2.1", 9, NULL, 0, why,
		    sizeof(why)) < 0 && there) {
			fprintf(stderr, "outside reader: %s\n", why);
			_exit(1);
		}
		nanosleep(&ts, NULL);
	}
}

/* addr_text - an IPv4 address in host order as text */
static void
addr_text(uint32_t a, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
	    (a >> 8) & 255, a & 255);
}

/* verify - db5.3_verify passes on a file */
static void
verify(const char *path)
{
	const char *argv[] = {"/usr/bin/db5.3_verify", "-q", path, NULL};
	char out[1024];

	ck_assert_msg(run_prog(argv, NULL, out, sizeof(out), 30000) == 0,
	    "db5.3_verify %s: %s", path, out);
}

START_TEST(sigkill_under_load)
{
	const char *env = getenv("STRESS_KILLS");
	int kills = env != NULL ? atoi(env) : 4, k, st;
	char text[32];
	struct { uint32_t a; int64_t at; } *acked;
	size_t nacked = 0, cap = 1 << 20, i, j, checked = 0;
	uint32_t res, next = 0;
	unsigned int seed = 42;
	CLIENT *c;
	pid_t rd;
	DB *db;

	static char conf[400];
	const char *const short_grants[] = {"-c", conf, NULL};

	acked = calloc(cap, sizeof(*acked));
	/* grants of 60 s and about 5,000 adds a second: the list grows to
	 * 300,000 entries in make stress; */
	daemon_init(&d, ALLOW_LO);
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	/* and a small journal: snapshots every second or so, and kills
	 * during them */
	write_file(conf, "expire = 60s\nadd_rate = 0\njournal_size = 65536\n");
	ck_assert_int_eq(daemon_start(&d, short_grants), 0);
	if ((rd = fork()) == 0)
		reader(d.db);
	for (k = 0; k < kills; k++) {
		int64_t stop_at = now_ms() + 1300 + rand_r(&seed) % 1000, killed;

		while (now_ms() < stop_at && nacked < cap) {
			uint32_t a = 0x0a000000U + next++;
			struct timespec pace = {0, 200 * 1000};

			nanosleep(&pace, NULL);	/* a POP farm's pace, not a flood */
			addr_text(a, text, sizeof(text));
			if (v1_add("127.0.0.1", text, &res) == SUCCESS &&
			    res == ADD_SUCCESS) {
				acked[nacked].a = a;
				acked[nacked++].at = now_ms();
			}
		}
		daemon_kill(&d);
		killed = now_ms();
		ck_assert_msg(daemon_start(&d, short_grants) == 0, "no restart "
		    "after kill %d", k);
		/* the journal: every add acknowledged one sync interval (1 s)
		 * and one fdatasync before the kill is back; younger ones may
		 * be lost, and those that were are forgotten */
		c = client_v3("127.0.0.1", d.port, 0);
		for (i = 0, j = 0; i < nacked; i++) {
			int there;

			if (acked[i].at <= killed - 55000)
				continue;	/* its 60 s may be over */
			addr_text(acked[i].a, text, sizeof(text));
			there = check3(c, text, NULL, 0) == DRAC_OK;
			if (acked[i].at <= killed - 1500) {
				ck_assert_msg(there, "kill %d: %s, acknowledged "
				    "%lld ms before, is gone", k, text,
				    (long long)(killed - acked[i].at));
				checked++;
			}
			if (there)
				acked[j++] = acked[i];
		}
		nacked = j;
		clnt_destroy(c);
		daemon_kill(&d);	/* freeze the map while we look */
		verify(d.db);
		/* the map, rewritten once a sync interval, holds what was
		 * acknowledged 2 s before the kill */
		db = map_open(d.db);
		for (i = 0; i < nacked; i++) {
			addr_text(acked[i].a, text, sizeof(text));
			if (acked[i].at <= killed - 2000)
				ck_assert_msg(map_holds(db, text), "kill %d: %s, "
				    "acknowledged %lld ms before, is not in the "
				    "map", k, text,
				    (long long)(killed - acked[i].at));
		}
		db->close(db, 0);
		ck_assert_int_eq(daemon_start(&d, short_grants), 0);
	}
	kill(rd, SIGTERM);
	waitpid(rd, &st, 0);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM,
	    "the outside reader met an unreadable map (status %#x; its "
	    "reason is on stderr)", st);
	ck_assert_uint_gt(checked, 0);
	fprintf(stderr, "sigkill_under_load: %d kills, %zu adds acknowledged, "
	    "%zu checks of durable ones\n", kills, nacked, checked);
	free(acked);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* daemon_case - a test case of the daemon suite with its own subject */
static TCase *
daemon_case(Suite *s, const char *subject)
{
	TCase *tc = tcase_create(subject);

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tc;
}

/*
 * make_daemon_suite - dracd as a process, one case per subject: wire (the
 * procedures on the wire), persistence (journal, map, expiry), reload
 * (rights and files), process (command line, daemonizing, threads,
 * privileges), crash (SIGKILL under load; make stress runs it alone)
 */
Suite *
make_daemon_suite(void)
{
	Suite *s = suite_create("daemon");
	TCase *tc;

	tc = daemon_case(s, "wire");
	tcase_add_test(tc, null_every_version);
	tcase_add_test(tc, v1_add_reaches_the_map);
	tcase_add_test(tc, v2_add_both_families);
	tcase_add_test(tc, malformed_adds_add_nothing);
	tcase_add_test(tc, garbage_then_good_call);
	tcase_add_test(tc, v3_procedures);
	tcase_add_test(tc, list_pages_over_udp);
	tcase_add_test(tc, ipv6_listener);
	tc = daemon_case(s, "persistence");
	tcase_add_test(tc, expiry_within_bound);
	tcase_add_test(tc, persistence_and_truncate);
	tcase_add_test(tc, kill9_keeps_synced_adds);
	tcase_add_test(tc, sync_before_ack);
	tcase_add_test(tc, corrupt_store_refused);
	tcase_add_test(tc, db_dump_reads_the_map);
	tc = daemon_case(s, "reload");
	tcase_add_test(tc, rights_and_reload);
	tcase_add_test(tc, check_mode_and_bad_files);
	tc = daemon_case(s, "process");
	tcase_add_test(tc, drac_command_line);
	tcase_add_test(tc, daemon_mode_and_pidfile);
	tcase_add_test(tc, thread_names);
	tcase_add_test(tc, drops_privileges);
	tc = daemon_case(s, "crash");
	tcase_add_test(tc, sigkill_under_load);
	return s;
}
