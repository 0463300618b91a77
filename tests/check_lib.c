/*
 * check_lib.c - libdrac, both APIs, against real dracd processes: every
 * call, several servers, a dead server, permissions, and threads.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drac.h"
#include "helpers.h"
#include "suites.h"

static struct daemon d, d2;

static void
teardown(void)
{
	daemon_kill(&d);
	daemon_kill(&d2);
}

/* server - "127.0.0.1:PORT" of a daemon */
static const char *
server(const struct daemon *x)
{
	static char buf[2][32];
	static int i;

	i ^= 1;
	snprintf(buf[i], sizeof(buf[i]), "127.0.0.1:%u", x->port);
	return buf[i];
}

static drac_t *
open_h(const char *servers, int transport, unsigned int timeout_ms)
{
	struct drac_options o = {timeout_ms, 0, transport, NULL};
	drac_t *h;
	int rc = drac_open(&h, servers, &o);

	ck_assert_msg(rc == 0, "drac_open %s: %s", servers, drac_strerror(rc));
	return h;
}

START_TEST(every_call)
{
	struct drac_entry e;
	struct drac_stats st;
	struct sockaddr_in6 s6;
	drac_list_t *l;
	drac_t *h;
	char text[32];
	int i, n, tr;

	daemon_init(&d, "127.0.0.1\n");
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	for (tr = DRAC_UDP; tr <= DRAC_TCP; tr++) {
		h = open_h(server(&d), tr, 2000);
		ck_assert_int_eq(drac_ping(h), 0);
		ck_assert_int_eq(drac_add(h, "192.0.2.7", 600, "alice"), 0);
		ck_assert_int_eq(drac_check(h, "192.0.2.7", &e), 1);
		ck_assert_str_eq(e.addr, "192.0.2.7");
		ck_assert_str_eq(e.user, "alice");
		ck_assert_msg(llabs(e.expires - (time(NULL) + 600)) <= 2,
		    "expires %lld", (long long)e.expires);
		/* v4-mapped is the same address */
		ck_assert_int_eq(drac_check(h, "::ffff:192.0.2.7", NULL), 1);
		ck_assert_int_eq(drac_check(h, "192.0.2.8", &e), 0);
		memset(&s6, 0, sizeof(s6));
		s6.sin6_family = AF_INET6;
		inet_pton(AF_INET6, "::ffff:198.51.100.3", &s6.sin6_addr);
		ck_assert_int_eq(drac_add_sa(h, (struct sockaddr *)&s6, 0,
		    NULL), 0);
		ck_assert_int_eq(drac_check(h, "198.51.100.3", NULL), 1);
		ck_assert_int_eq(drac_add(h, "2001:db8::5", 0, "bob"), 0);
		ck_assert_int_eq(drac_check(h, "2001:db8:0::5", &e), 1);
		ck_assert_str_eq(e.user, "bob");
		ck_assert_int_eq(drac_add(h, "not-an-address", 0, NULL),
		    DRAC_E_INVAL);
		ck_assert_int_eq(drac_add(h, "192.0.2.1", 0,
		    "0123456789012345678901234567890123456789"
		    "012345678901234567890123456789"), DRAC_E_INVAL);
		ck_assert_int_eq(drac_del(h, "192.0.2.7"), 0);
		ck_assert_int_eq(drac_del(h, "192.0.2.7"), DRAC_E_NOTFOUND);
		for (i = 0; i < 130; i++) {
			snprintf(text, sizeof(text), "10.9.%d.%d", i / 200,
			    i % 200);
			ck_assert_int_eq(drac_add(h, text, 0, "u"), 0);
		}
		ck_assert_int_eq(drac_list_open(h, &l), 0);
		for (n = 0; drac_list_next(l, &e) == 1; n++)
			;
		drac_list_close(l);
		ck_assert_int_eq(n, 132);	/* 130 + two earlier */
		ck_assert_int_eq(drac_stats(h, &st), 0);
		ck_assert_uint_eq(st.entries, 132);
		ck_assert_uint_ge(st.adds, 133);
		ck_assert_int_eq(drac_flush(h), 0);
		ck_assert_int_eq(drac_stats(h, &st), 0);
		ck_assert_uint_eq(st.entries, 0);
		drac_close(h);
	}
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(strerror_names_every_code)
{
	int c;

	for (c = 0; c >= DRAC_E_KEY; c--)
		ck_assert_msg(strcmp(drac_strerror(c), "unknown error") != 0,
		    "code %d has no message", c);
	ck_assert_str_eq(drac_strerror(-999), "unknown error");
	ck_assert_str_eq(drac_strerror(5), "unknown error");
}
END_TEST

struct chk {
	drac_t *h;
	const char *addr;
	int want;
};

static int
check_is(void *arg)
{
	struct chk *k = arg;

	return drac_check(k->h, k->addr, NULL) == k->want;
}

START_TEST(ttl_expiry)
{
	struct chk k;
	drac_t *h;
	int64_t t0;

	daemon_init(&d, "127.0.0.1\n");
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	h = open_h(server(&d), DRAC_UDP, 2000);
	t0 = now_ms();
	ck_assert_int_eq(drac_add(h, "192.0.2.11", 3, NULL), 0);
	/*
	 * Granted for 3 s on whole-second clocks, so at least 2 s: only a
	 * check that late (a slow valgrind run) may find it gone already.
	 */
	if (drac_check(h, "192.0.2.11", NULL) != 1)
		ck_assert_int_ge(now_ms() - t0, 2000);
	k.h = h;
	k.addr = "192.0.2.11";
	k.want = 0;
	ck_assert(wait_until(check_is, &k, 6000));
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(several_servers)
{
	char both[80];
	drac_t *h, *h1, *h2;

	daemon_init(&d, "127.0.0.1\n");
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	daemon_init(&d2, "127.0.0.1\n");
	ck_assert_int_eq(daemon_start(&d2, NULL), 0);
	snprintf(both, sizeof(both), "%s,%s", server(&d), server(&d2));
	h = open_h(both, DRAC_UDP, 1000);
	h1 = open_h(server(&d), DRAC_UDP, 1000);
	h2 = open_h(server(&d2), DRAC_TCP, 1000);
	/* an add reaches every server */
	ck_assert_int_eq(drac_add(h, "192.0.2.21", 0, "eve"), 0);
	ck_assert_int_eq(drac_check(h1, "192.0.2.21", NULL), 1);
	ck_assert_int_eq(drac_check(h2, "192.0.2.21", NULL), 1);
	/* one server down: the add says so, the other still has it */
	daemon_kill(&d2);
	ck_assert_int_eq(drac_add(h, "192.0.2.22", 0, NULL), DRAC_E_DOWN);
	ck_assert_int_eq(drac_check(h1, "192.0.2.22", NULL), 1);
	/* a check takes the first answer */
	ck_assert_int_eq(drac_check(h, "192.0.2.22", NULL), 1);
	drac_close(h);
	drac_close(h1);
	drac_close(h2);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* silent - a bound socket that never answers; its port */
static uint16_t
silent(int tcp, int *fdp)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (tcp)
		ck_assert_int_eq(listen(fd, 8), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*fdp = fd;
	return ntohs(sa.sin_port);
}

/* datagrams - how many requests wait on fd, each the same bytes as the
 * first (a resend is the whole request again); the first's length */
static int
datagrams(int fd, size_t *len)
{
	uint8_t first[2048], buf[2048];
	ssize_t n;
	int count = 0;

	*len = 0;
	while ((n = recv(fd, count ? buf : first, sizeof(buf),
	    MSG_DONTWAIT)) >= 0) {
		if (count == 0)
			*len = (size_t)n;
		else
			ck_assert_msg((size_t)n == *len && memcmp(buf, first,
			    *len) == 0, "send %d (%zd bytes) is not the "
			    "request (%zu bytes) again", count + 1, n, *len);
		count++;
	}
	return count;
}

START_TEST(dead_server_bounded)
{
	char spec[32], *msg = NULL;
	int64_t t0, took;
	int fd, tr, rc;
	size_t len;
	drac_t *h;

	for (tr = DRAC_UDP; tr <= DRAC_TCP; tr++) {
		snprintf(spec, sizeof(spec), "127.0.0.1:%u", silent(tr, &fd));
		h = open_h(spec, tr, 300);
		t0 = now_ms();
		rc = drac_add(h, "192.0.2.1", 0, NULL);
		took = now_ms() - t0;
		ck_assert_int_eq(rc, DRAC_E_TIMEOUT);
		ck_assert_msg(took >= 290 && took <= 450, "add took %lld ms "
		    "with a 300 ms timeout", (long long)took);
		if (tr == DRAC_UDP) {
			/* the request and its 3 resends (the default) */
			ck_assert_int_eq(datagrams(fd, &len), 4);
			ck_assert_uint_gt(len, 40);
		}
		t0 = now_ms();
		ck_assert_int_eq(drac_check(h, "192.0.2.1", NULL),
		    DRAC_E_TIMEOUT);
		ck_assert_int_le(now_ms() - t0, 450);
		drac_close(h);
		close(fd);
	}
	/* DRAC's API: -2 for a failed call, within its 2 s timeout */
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", silent(0, &fd));
	t0 = now_ms();
	rc = dracauth(spec, inet_addr("192.0.2.1"), &msg);
	took = now_ms() - t0;
	ck_assert_int_eq(rc, -2);
	ck_assert_ptr_nonnull(msg);
	ck_assert_msg(took <= 2300, "dracauth took %lld ms", (long long)took);
	close(fd);
	/* nothing listening at all: refused at once */
	h = open_h(spec, DRAC_UDP, 2000);
	t0 = now_ms();
	ck_assert_int_eq(drac_ping(h), DRAC_E_DOWN);
	ck_assert_int_le(now_ms() - t0, 500);
	drac_close(h);
}
END_TEST

/* a lost UDP request: its resend, the same call, is answered in time */
START_TEST(udp_loss_resent)
{
	struct lossy *r;
	drac_t *h;

	daemon_init(&d, "127.0.0.1\n");
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	r = lossy_start(d.port, LOSE_REQUEST);
	h = open_h(lossy_spec(r), DRAC_UDP, 2000);
	ck_assert_int_eq(drac_add(h, "192.0.2.31", 0, NULL), 0);
	ck_assert(lossy_end(r));
	drac_close(h);
	h = open_h(server(&d), DRAC_UDP, 2000);
	ck_assert_int_eq(drac_check(h, "192.0.2.31", NULL), 1);
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(compat_api)
{
	unsigned char v6[16];
	char *msg = NULL;
	drac_t *h;

	daemon_init(&d, "127.0.0.1\n");
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	ck_assert_int_eq(dracauth((char *)server(&d), inet_addr("192.0.2.44"),
	    &msg), 0);
	ck_assert_str_eq(msg, "success");
	inet_pton(AF_INET6, "2001:db8::44", v6);
	ck_assert_int_eq(dracauth6((char *)server(&d), v6, &msg), 0);
	ck_assert_int_eq(dracconn((char *)server(&d), &msg), 0);
	ck_assert_int_eq(dracsend(inet_addr("192.0.2.45"), &msg), 0);
	ck_assert_int_eq(dracsend(inet_addr("192.0.2.46"), NULL), 0);
	ck_assert_int_eq(dracdisc(&msg), 0);
	ck_assert_int_eq(dracsend(inet_addr("192.0.2.47"), &msg), -1);
	/* a server spec that cannot be used (no DNS lookups in tests) */
	ck_assert_int_eq(dracauth("[::1", inet_addr("192.0.2.48"), &msg), -1);
	h = open_h(server(&d), DRAC_UDP, 2000);
	ck_assert_int_eq(drac_check(h, "192.0.2.44", NULL), 1);
	ck_assert_int_eq(drac_check(h, "2001:db8::44", NULL), 1);
	ck_assert_int_eq(drac_check(h, "192.0.2.45", NULL), 1);
	ck_assert_int_eq(drac_check(h, "192.0.2.46", NULL), 1);
	ck_assert_int_eq(drac_check(h, "192.0.2.47", NULL), 0);
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);
	/* a server whose rules refuse us: DRAC's status 1 */
	daemon_init(&d, "127.0.0.9 add check admin\n");
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	ck_assert_int_eq(dracauth((char *)server(&d), inet_addr("192.0.2.49"),
	    &msg), 1);
	ck_assert_str_eq(msg, "permission denied");
	h = open_h(server(&d), DRAC_UDP, 2000);
	ck_assert_int_eq(drac_add(h, "192.0.2.49", 0, NULL), DRAC_E_PERM);
	ck_assert_int_eq(drac_check(h, "192.0.2.49", NULL), DRAC_E_PERM);
	drac_close(h);
	/* over TCP a caller with no right is closed at accept, unread */
	h = open_h(server(&d), DRAC_TCP, 2000);
	ck_assert_int_lt(drac_add(h, "192.0.2.49", 0, NULL), 0);
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(old_patch_built_with_pkg_config)
{
	const char *prog = getenv("OLDPATCH");
	const char *argv[4];
	char out[1024];

	ck_assert_msg(prog != NULL, "OLDPATCH is not set (run via make "
	    "check)");
	daemon_init(&d, "127.0.0.1\n");
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	argv[0] = prog;
	argv[1] = server(&d);
	argv[2] = "192.0.2.77";
	argv[3] = NULL;
	ck_assert_int_eq(run_prog(argv, NULL, out, sizeof(out), 10000), 0);
	ck_assert_msg(strstr(out, "dracauth: 0 success") != NULL, "%s", out);
	ck_assert_int_eq(daemon_stop(&d), 0);
	ck_assert_int_eq(map_get(d.db, "192.0.2.77", 10, NULL, 0), 1);
}
END_TEST

struct worker {
	const char *server;
	int id, failures;
};

static void *
work(void *arg)
{
	struct worker *w = arg;
	char text[32];
	drac_t *h;
	int i;

	if (drac_open(&h, w->server, NULL) != 0) {
		w->failures++;
		return NULL;
	}
	for (i = 0; i < 200; i++) {
		snprintf(text, sizeof(text), "10.%d.%d.%d", w->id, i / 250,
		    i % 250);
		if (drac_add(h, text, 0, "t") != 0 ||
		    drac_check(h, text, NULL) != 1)
			w->failures++;
	}
	drac_close(h);
	return NULL;
}

START_TEST(threads_with_own_handles)
{
	struct worker w[4];
	pthread_t t[4];
	struct drac_stats st;
	char srv[32];
	drac_t *h;
	int i;

	daemon_init(&d, "127.0.0.1\n");
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	snprintf(srv, sizeof(srv), "%s", server(&d));
	for (i = 0; i < 4; i++) {
		w[i].server = srv;
		w[i].id = i + 1;
		w[i].failures = 0;
		ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].failures, 0);
	}
	h = open_h(server(&d), DRAC_TCP, 2000);
	ck_assert_int_eq(drac_stats(h, &st), 0);
	ck_assert_uint_eq(st.entries, 800);
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

Suite *
make_lib_suite(void)
{
	Suite *s = suite_create("libdrac");
	TCase *tc = tcase_create("api");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_call);
	tcase_add_test(tc, strerror_names_every_code);
	tcase_add_test(tc, ttl_expiry);
	tcase_add_test(tc, several_servers);
	tcase_add_test(tc, dead_server_bounded);
	tcase_add_test(tc, udp_loss_resent);
	tcase_add_test(tc, compat_api);
	tcase_add_test(tc, old_patch_built_with_pkg_config);
	tcase_add_test(tc, threads_with_own_handles);
	suite_add_tcase(s, tc);
	return s;
}
