/*
 * check_lib.c - libdrac, both APIs, against real dracd processes: every
 * call, several servers, a dead server, permissions, and threads.
 */
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drac.h"
#include "drac_prot.h"
#include "fakeold.h"
#include "fakesrv.h"
#include "helpers.h"
#include "suites.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_LSAN 1
#endif
#ifdef TEST_LSAN
#include <sanitizer/lsan_interface.h>
#endif

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

	for (c = 0; c >= DRAC_E_NORPCBIND; c--)
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


/* ---- a hostile or broken server (items 14, 15) ---- */

/* heap_in_use - bytes malloc has handed out and not had back (glibc) */
static size_t
heap_in_use(void)
{
	return mallinfo2().uordblks;
}

START_TEST(verifier_not_leaked)
{
	struct fakesrv *f = fake_start(FAKE_BIGVERF);
	drac_t *h = open_h(fake_spec(f), DRAC_UDP, 2000);
	size_t before, after;
	int i;

	for (i = 0; i < 10; i++)	/* warm up: first-use allocations */
		ck_assert_int_eq(drac_add(h, "192.0.2.1", 0, "u"), 0);
	before = heap_in_use();
	for (i = 0; i < 200; i++)
		ck_assert_int_eq(drac_add(h, "192.0.2.1", 0, "u"), 0);
	after = heap_in_use();
	/* a lost 400-byte verifier per call is 80,000 bytes */
	ck_assert_msg(after < before + 4000, "heap grew by %zu bytes over "
	    "200 adds, want < 4000", after - before);
	ck_assert_uint_ge(fake_calls(f), 210);
	drac_close(h);
	fake_stop(f);
#ifdef TEST_LSAN
	ck_assert_msg(__lsan_do_recoverable_leak_check() == 0,
	    "LeakSanitizer found leaks (see above)");
#endif
}
END_TEST

/* walk - drac_list_next until it stops; its last result, time in *ms */
static int
walk(const char *spec, unsigned int timeout_ms, int64_t *ms)
{
	struct drac_entry e;
	drac_list_t *l;
	int64_t t0 = now_ms();
	drac_t *h = open_h(spec, DRAC_UDP, timeout_ms);
	int rc;

	ck_assert_int_eq(drac_list_open(h, &l), 0);
	while ((rc = drac_list_next(l, &e)) == 1)
		;
	*ms = now_ms() - t0;
	/* a failed walk stays failed */
	ck_assert_int_eq(drac_list_next(l, &e), rc);
	drac_list_close(l);
	drac_close(h);
	return rc;
}

START_TEST(list_cursor_stuck)
{
	struct fakesrv *f = fake_start(FAKE_LIST_STUCK);
	int64_t ms;
	int rc = walk(fake_spec(f), 1000, &ms);

	ck_assert_msg(rc == DRAC_E_RPC, "got %d (%s), want DRAC_E_RPC", rc,
	    drac_strerror(rc));
	ck_assert_msg(ms < 500, "took %lld ms", (long long)ms);
	ck_assert_uint_eq(fake_calls(f), 2);	/* 0 -> 7, then 7 -> 7 */
	fake_stop(f);
}
END_TEST

START_TEST(list_cursor_creeps)
{
	struct fakesrv *f = fake_start(FAKE_LIST_CREEP);
	int64_t ms;
	int rc = walk(fake_spec(f), 1000, &ms);

	ck_assert_msg(rc == DRAC_E_TIMEOUT, "got %d (%s), want "
	    "DRAC_E_TIMEOUT", rc, drac_strerror(rc));
	ck_assert_msg(ms >= 900 && ms < 1500, "took %lld ms, want about "
	    "the 1000 ms timeout", (long long)ms);
	ck_assert_msg(fake_calls(f) > 10, "only %lu pages",
	    fake_calls(f));
	fake_stop(f);
}
END_TEST

/* ---- dracauth in threads, and its name lookup (item 16) ---- */

/* silent_udp - a loopback UDP socket that never answers; its port */
static uint16_t
silent_udp(int *fd, const char *ip, uint16_t port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	inet_pton(AF_INET, ip, &sa.sin_addr);
	*fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(*fd, 0);
	ck_assert_int_eq(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

struct authcall {
	char server[32];
	int send;		/* dracsend through dracconn's client */
	int rc;
	int64_t ms;
};

static void *
auth_thread(void *arg)
{
	struct authcall *a = arg;
	int64_t t0 = now_ms();

	a->rc = a->send ? dracsend(inet_addr("192.0.2.1"), NULL) :
	    dracauth(a->server, inet_addr("192.0.2.1"), NULL);
	a->ms = now_ms() - t0;
	return NULL;
}

/* parallel - 8 threads of dracauth (or dracsend); the wall time */
static int64_t
parallel(const char *server, int send)
{
	struct authcall a[8];
	pthread_t t[8];
	int64_t t0 = now_ms();
	int i;

	for (i = 0; i < 8; i++) {
		snprintf(a[i].server, sizeof(a[i].server), "%s", server);
		a[i].send = send;
		ck_assert_int_eq(pthread_create(&t[i], NULL, auth_thread,
		    &a[i]), 0);
	}
	for (i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 8; i++) {
		ck_assert_msg(a[i].rc == -2, "thread %d: got %d, want -2", i,
		    a[i].rc);
		/* each call's deadline is 2 s: serialised, the eighth would
		 * wait ~16 s and the fourth already ~8 s; 6 s leaves room for
		 * a loaded machine and still catches a queue */
		ck_assert_msg(a[i].ms < 6000, "thread %d took %lld ms", i,
		    (long long)a[i].ms);
	}
	return now_ms() - t0;
}

START_TEST(dracauth_threads_not_serialised)
{
	char server[32];
	int64_t ms;
	int fd, fd2;

	snprintf(server, sizeof(server), "127.0.0.1:%u",
	    silent_udp(&fd, "127.0.0.1", 0));
	ms = parallel(server, 0);
	ck_assert_msg(ms < 6000, "8 dracauth calls took %lld ms, want "
	    "about one 2000 ms timeout", (long long)ms);
	/* a name (from /etc/hosts) goes through the lookup helper */
	snprintf(server, sizeof(server), "localhost:%u",
	    silent_udp(&fd2, "127.0.0.1", 0));
	ms = parallel(server, 0);
	ck_assert_msg(ms < 6000, "8 dracauth calls to localhost took %lld "
	    "ms, want about one 2000 ms timeout", (long long)ms);
	ck_assert_int_eq(dracconn(server, NULL), 0);
	ms = parallel(server, 1);
	ck_assert_msg(ms < 6000, "8 dracsend calls took %lld ms, want "
	    "about one 2000 ms timeout", (long long)ms);
	ck_assert_int_eq(dracdisc(NULL), 0);
	close(fd);
	close(fd2);
}
END_TEST

/*
 * dns_black_hole - in this (forked) process: new network and mount
 * namespaces whose resolv.conf names 127.0.0.1, where a UDP socket on
 * port 53 takes queries and never answers, each waited for 30 s.
 */
static void
dns_black_hole(int *fd)
{
	struct ifreq ifr;
	char *dir = tmpdir(), conf[300];
	int s;

	ck_assert_msg(unshare(CLONE_NEWNET | CLONE_NEWNS) == 0, "unshare: %s",
	    strerror(errno));
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL),
	    0);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ck_assert_int_eq(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	ck_assert_int_eq(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);
	snprintf(conf, sizeof(conf), "%s/resolv.conf", dir);
	write_file(conf, "nameserver 127.0.0.1\n"
	    "options timeout:30 attempts:1\n");
	ck_assert_int_eq(mount(conf, "/etc/resolv.conf", NULL, MS_BIND,
	    NULL), 0);
	silent_udp(fd, "127.0.0.1", 53);
}

static void *
lookup_caller(void *arg)
{
	int *rc = arg;

	*rc = dracauth("dracd-test.example", inet_addr("192.0.2.1"), NULL);
	return NULL;
}

/* tasks - the threads of this process */
static int
tasks(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[128];
	int n = -1;

	while (fp != NULL && fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (fp != NULL)
		fclose(fp);
	return n;
}

/*
 * many_lookups - 100 callers at once while the resolver hangs: each
 * returns -1 within the deadline, and the helpers left behind stay
 * within libdrac's cap of 64.  0, or an exit status naming the failure.
 */
static int
many_lookups(void)
{
	pthread_t t[100];
	int rc[100], i, bad = 0;
	int64_t t0 = now_ms();

	for (i = 0; i < 100; i++)
		if (pthread_create(&t[i], NULL, lookup_caller, &rc[i]) != 0)
			return 3;
	for (i = 0; i < 100; i++) {
		pthread_join(t[i], NULL);
		bad += rc[i] != -1;
	}
	if (bad > 0)
		return 4;
	if (now_ms() - t0 >= 2500)
		return 5;
	/* this thread and at most 64 helpers (the first call's among
	 * them), plus a sanitizer's own threads; without the cap: 102 */
	return tasks() > 1 + 64 + 4 ? 6 : 0;
}

START_TEST(dracauth_lookup_bounded)
{
	int64_t t0, ms;
	pid_t pid;
	int st, fd;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dns_black_hole(&fd);
		t0 = now_ms();
		st = dracauth("dracd-test.example", inet_addr("192.0.2.1"),
		    NULL);
		ms = now_ms() - t0;
		_exit(st != -1 ? 1 : ms < 1900 || ms >= 2500 ? 2 :
		    many_lookups());
	}
	t0 = now_ms();
	while (waitpid(pid, &st, WNOHANG) == 0 && now_ms() - t0 < 8000)
		usleep(10000);
	if (now_ms() - t0 >= 8000) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		ck_abort_msg("dracauth still waited on DNS after 8 s");
	}
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: "
	    "status %d (1: wrong result, 2: past the deadline; 100 callers: "
	    "3 no thread, 4 wrong result, 5 past the deadline, 6 more than "
	    "64 helpers)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}
END_TEST

/* ---- LIST pages fit the reply (item 12) ---- */

/* list_all - walk dracd's LIST with max per page; each address once */
static void
list_all(uint16_t port, int tcp, unsigned int max, int *seen, size_t n)
{
	CLIENT *c = client_v3("127.0.0.1", port, tcp);
	struct timeval tv = {5, 0};
	list3_args a = {0, max};
	list3_res r;
	size_t i, total = 0, pages = 0;
	enum clnt_stat cs;

	memset(seen, 0, n * sizeof(*seen));
	do {
		memset(&r, 0, sizeof(r));
		cs = clnt_call(c, DRACPROC3_LIST, (xdrproc_t)xdr_list3_args,
		    (char *)&a, (xdrproc_t)xdr_list3_res, (char *)&r, tv);
		ck_assert_msg(cs == RPC_SUCCESS, "%s max %u page %zu: %s",
		    tcp ? "tcp" : "udp", max, pages, clnt_sperrno(cs));
		ck_assert_int_eq(r.stat, DRAC_OK);
		for (i = 0; i < r.entries.entries_len; i++) {
			const entry3 *e = &r.entries.entries_val[i];
			unsigned int k;

			ck_assert_int_eq(e->addr.af, DRAC_AF_INET6);
			k = (unsigned int)(uint8_t)e->addr.drac_addr_u.v6[14]
			    << 8 | (uint8_t)e->addr.drac_addr_u.v6[15];
			ck_assert_uint_lt(k, n);
			seen[k]++;
			total++;
		}
		a.cursor = r.cursor;
		xdr_free((xdrproc_t)xdr_list3_res, (char *)&r);
		pages++;
	} while (a.cursor != 0 && pages < 10000);
	clnt_destroy(c);
	ck_assert_uint_eq(total, n);
	for (i = 0; i < n; i++)
		ck_assert_msg(seen[i] == 1, "entry %zu seen %d times", i,
		    seen[i]);
}

START_TEST(list_pages_fit)
{
	static const unsigned int max[] = {0, 900, 0xffffffffU};
	char user[DRAC_USERMAX + 1], addr[64];
	int seen[1000];
	drac_t *h;
	size_t i, m;

	memset(user, 'u', DRAC_USERMAX);
	user[DRAC_USERMAX] = '\0';
	daemon_init(&d, "127.0.0.1\n");
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	h = open_h(server(&d), DRAC_TCP, 5000);
	for (i = 0; i < 1000; i++) {
		snprintf(addr, sizeof(addr), "2001:db8::%zx", i);
		ck_assert_int_eq(drac_add(h, addr, 0, user), 0);
	}
	drac_close(h);
	for (m = 0; m < sizeof(max) / sizeof(max[0]); m++) {
		list_all(d.port, 0, max[m], seen, 1000);
		list_all(d.port, 1, max[m], seen, 1000);
	}
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* ---- a DRAC 1.x server: fall back to its v1/v2 add (issue 12) ---- */

START_TEST(fallback_old_server_adds)
{
	struct fakeold *f = fakeold_start();
	struct fakeold_seen seen;
	struct drac_entry e;
	drac_list_t *l;
	drac_t *h;
	struct drac_stats st;

	ck_assert_int_eq(drac_open(&h, fakeold_spec(f), NULL), 0);
	/* v3 first: PROG_MISMATCH (1, 2); then v1 with the IPv4 address */
	ck_assert_int_eq(drac_add(h, "192.0.2.7", 0, NULL), 0);
	fakeold_seen(f, &seen);
	ck_assert_msg(seen.v3 == 1 && seen.v1 == 1 && seen.garbage == 0,
	    "v3 %lu v1 %lu garbage %lu, want 1 1 0", seen.v3, seen.v1,
	    seen.garbage);
	ck_assert_str_eq(seen.last, "192.0.2.7");
	/* remembered: v2 at once for IPv6, 64 bytes; ttl and user dropped
	 * and said so */
	ck_assert_int_eq(drac_add(h, "2001:db8::7", 600, "alice"), 0);
	ck_assert_uint_eq(drac_add_legacy(h), 1);
	fakeold_seen(f, &seen);
	ck_assert_msg(seen.v3 == 1 && seen.v2 == 1 && seen.garbage == 0,
	    "v3 %lu v2 %lu garbage %lu, want 1 1 0", seen.v3, seen.v2,
	    seen.garbage);
	ck_assert_str_eq(seen.last, "2001:db8::7");
	/* what DRAC 1.x cannot do is named as such */
	ck_assert_int_eq(drac_check(h, "192.0.2.7", &e), DRAC_E_OLD);
	ck_assert_int_eq(drac_del(h, "192.0.2.7"), DRAC_E_OLD);
	ck_assert_int_eq(drac_stats(h, &st), DRAC_E_OLD);
	ck_assert_int_eq(drac_list_open(h, &l), 0);
	ck_assert_int_eq(drac_list_next(l, &e), DRAC_E_OLD);
	drac_list_close(l);
	ck_assert_msg(strstr(drac_strerror(DRAC_E_OLD), "DRAC 1.x") != NULL,
	    "%s", drac_strerror(DRAC_E_OLD));
	drac_close(h);
	fakeold_stop(f);
}
END_TEST

START_TEST(fallback_never_for_keyed_adds)
{
	struct fakeold *f = fakeold_start();
	struct drac_options o = {2000, 0, DRAC_UDP, NULL};
	struct fakeold_seen seen;
	char dir[] = "/tmp/fallbackXXXXXX", key[64];
	drac_t *h;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(key, sizeof(key), "%s/add.key", dir);
	write_file(key, "0123456789abcdef0123456789abcdef\n");
	ck_assert_int_eq(chmod(key, 0600), 0);
	o.add_key_file = key;
	ck_assert_int_eq(drac_open(&h, fakeold_spec(f), &o), 0);
	ck_assert_int_eq(drac_add(h, "192.0.2.8", 0, NULL), DRAC_E_OLDAUTH);
	ck_assert_int_eq(drac_add(h, "192.0.2.8", 0, NULL), DRAC_E_OLDAUTH);
	fakeold_seen(f, &seen);
	ck_assert_msg(seen.v1 == 0 && seen.v2 == 0, "an authenticated add "
	    "went out unauthenticated: v1 %lu v2 %lu", seen.v1, seen.v2);
	drac_close(h);
	unlink(key);
	rmdir(dir);
	fakeold_stop(f);
}
END_TEST

START_TEST(fallback_mixed_servers)
{
	struct fakeold *f = fakeold_start();
	struct fakeold_seen seen;
	struct drac_entry e;
	char spec[80];
	drac_t *h, *one;

	daemon_init(&d, "127.0.0.1\n");
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	snprintf(spec, sizeof(spec), "%s,%s", fakeold_spec(f), server(&d));
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	ck_assert_int_eq(drac_add(h, "192.0.2.9", 600, "bob"), 0);
	ck_assert_int_eq(drac_add(h, "192.0.2.10", 600, "carol"), 0);
	fakeold_seen(f, &seen);
	ck_assert_msg(seen.v3 == 1 && seen.v1 == 2, "v3 %lu v1 %lu", seen.v3,
	    seen.v1);
	/* dracd had version 3 both times: the user is there */
	ck_assert_int_eq(drac_open(&one, server(&d), NULL), 0);
	ck_assert_int_eq(drac_check(one, "192.0.2.10", &e), 1);
	ck_assert_str_eq(e.user, "carol");
	drac_close(one);
	drac_close(h);
	fakeold_stop(f);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* ---- counters by name (issue 12) ---- */

/* stat_of - a named counter's value, or -1 */
static int64_t
stat_of(const struct drac_counter *s, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s[i].name, name) == 0)
			return (int64_t)s[i].value;
	return -1;
}

START_TEST(stats_list_names)
{
	static const char *const want[] = {"entries", "adds", "checks",
	    "hits", "denials", "expirations", "deletions", "uptime",
	    "adds_v3", "map_writes", "map_write_failures", "map_written",
	    "sync_interval_ms", "now"};
	struct drac_counter *s;
	struct drac_stats old;
	drac_t *h;
	size_t n, i;

	daemon_init(&d, "127.0.0.1\n");
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	ck_assert_int_eq(drac_open(&h, server(&d), NULL), 0);
	ck_assert_int_eq(drac_add(h, "192.0.2.7", 0, NULL), 0);
	ck_assert_int_eq(drac_add(h, "192.0.2.8", 0, NULL), 0);
	ck_assert_int_eq(drac_stats_list(h, &s, &n), 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(stat_of(s, n, want[i]) >= 0, "no counter %s",
		    want[i]);
	ck_assert_int_eq(stat_of(s, n, "entries"), 2);
	ck_assert_int_eq(stat_of(s, n, "adds_v3"), 2);
	ck_assert_int_eq(stat_of(s, n, "sync_interval_ms"), 1000);
	ck_assert_int_eq(stat_of(s, n, "map_write_failures"), 0);
	drac_stats_free(s);
	/* the old call still answers, from the old procedure */
	ck_assert_int_eq(drac_stats(h, &old), 0);
	ck_assert_uint_eq(old.entries, 2);
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/*
 * Adds to the members of a group: a client that names several needs one
 * to take an add (drac_add_any), where drac_add wants every one.  Two
 * single-host dracd stand in for members; the stopped one is listed
 * first, so that its error is the first one drac_add meets.
 */
START_TEST(add_any_one_member_down)
{
	struct sockaddr_in sa;
	struct drac_entry e;
	char both[80];
	drac_t *h, *h1;

	daemon_init(&d, "127.0.0.1\n");
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	daemon_init(&d2, "127.0.0.1\n");
	ck_assert_int_eq(daemon_start(&d2, NULL), 0);
	snprintf(both, sizeof(both), "%s,%s", server(&d2), server(&d));
	h = open_h(both, DRAC_UDP, 1000);
	h1 = open_h(server(&d), DRAC_UDP, 1000);
	/* both up: either add reaches both */
	ck_assert_int_eq(drac_add_any(h, "192.0.2.40", 0, NULL), 0);
	ck_assert_int_eq(drac_check(h1, "192.0.2.40", NULL), 1);
	ck_assert_int_eq(daemon_stop(&d2), 0);
	/* one down: drac_add fails, drac_add_any succeeds */
	ck_assert_int_eq(drac_add(h, "192.0.2.41", 0, NULL), DRAC_E_DOWN);
	ck_assert_int_eq(drac_add_any(h, "192.0.2.42", 0, "ann"), 0);
	ck_assert_int_eq(drac_check(h1, "192.0.2.42", &e), 1);
	ck_assert_str_eq(e.user, "ann");
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.43", &sa.sin_addr);
	ck_assert_int_eq(drac_add_any_sa(h, (struct sockaddr *)&sa, 0, NULL),
	    0);
	ck_assert_int_eq(drac_check(h1, "192.0.2.43", NULL), 1);
	/* both down: the first error */
	ck_assert_int_eq(daemon_stop(&d), 0);
	ck_assert_int_eq(drac_add_any(h, "192.0.2.44", 0, NULL), DRAC_E_DOWN);
	ck_assert_int_eq(drac_add_any_sa(h, (struct sockaddr *)&sa, 0, NULL),
	    DRAC_E_DOWN);
	/* a bad argument is still refused before any call */
	ck_assert_int_eq(drac_add_any(h, "192.0.2", 0, NULL), DRAC_E_INVAL);
	ck_assert_int_eq(drac_add_any(NULL, "192.0.2.45", 0, NULL),
	    DRAC_E_INVAL);
	drac_close(h);
	drac_close(h1);
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
	tc = tcase_create("hostile_server");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, verifier_not_leaked);
	tcase_add_test(tc, list_cursor_stuck);
	tcase_add_test(tc, list_cursor_creeps);
	suite_add_tcase(s, tc);
	tc = tcase_create("compat_threads");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, dracauth_threads_not_serialised);
	tcase_add_test(tc, dracauth_lookup_bounded);
	suite_add_tcase(s, tc);
	tc = tcase_create("list_pages");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, list_pages_fit);
	suite_add_tcase(s, tc);
	tc = tcase_create("fallback");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, fallback_old_server_adds);
	tcase_add_test(tc, fallback_never_for_keyed_adds);
	tcase_add_test(tc, fallback_mixed_servers);
	suite_add_tcase(s, tc);
	tc = tcase_create("stats_list");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, stats_list_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("add_any");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, add_any_one_member_down);
	suite_add_tcase(s, tc);
	return s;
}
