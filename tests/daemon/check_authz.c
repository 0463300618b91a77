/*
 * check_authz.c - who may do what, and how often: admin calls under
 * admin_transport, the add rate limit per allow rule, and the nonces of
 * signed adds (in-process, on a fake clock, through svc_dispatch).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drac.h"
#include "drac_prot.h"
#include "acl.h"
#include "auth.h"
#include "helpers.h"
#include "proc.h"
#include "suites.h"
#include "svc.h"

static struct daemon d;

static void
teardown(void)
{
	daemon_kill(&d);
}

/* forge_udp - an RPC message body of len bytes to 127.0.0.1:port that
 * claims to come from src (a raw socket: root only) */
static void
forge_udp(const char *src, uint16_t port, const uint8_t *body, size_t len)
{
	uint8_t pkt[256];
	struct iphdr *ip = (struct iphdr *)pkt;
	struct udphdr *udp = (struct udphdr *)(pkt + sizeof(*ip));
	size_t hl = sizeof(*ip) + sizeof(*udp);
	struct sockaddr_in to;
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);

	ck_assert_msg(fd >= 0, "raw socket");
	ck_assert_uint_le(len, sizeof(pkt) - hl);
	memset(pkt, 0, hl);
	memcpy(pkt + hl, body, len);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons((uint16_t)(hl + len));
	inet_pton(AF_INET, src, &ip->saddr);
	inet_pton(AF_INET, "127.0.0.1", &ip->daddr);
	udp->source = htons(999);
	udp->dest = htons(port);
	udp->len = htons((uint16_t)(sizeof(*udp) + len));
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr.s_addr = ip->daddr;
	ck_assert_int_eq(sendto(fd, pkt, hl + len, 0, (struct sockaddr *)&to,
	    sizeof(to)), (ssize_t)(hl + len));
	close(fd);
}

/* forge_flush - a v3 FLUSH that claims to come from src */
static void
forge_flush(const char *src, uint16_t port)
{
	uint8_t body[64];

	forge_udp(src, port, body, rpc_header(body, 0xf1a5, 900101, 3, 6));
}

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

static int
log_has(void *needle)
{
	return log_contains(&d, needle);
}

/* start_with - dracd on allow with conf_text as its dracd.conf; a TCP
 * and a UDP handle to it */
static void
start_with(const char *allow, const char *conf_text, drac_t **tcp,
    drac_t **udp)
{
	static char conf[400];
	const char *const args[] = {"-c", conf, NULL};
	struct drac_options ot = {2000, 0, DRAC_TCP, NULL}, ou = {2000, 0,
	    DRAC_UDP, NULL};
	char spec[32];

	daemon_init(&d, allow);
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	write_file(conf, conf_text);
	ck_assert_int_eq(daemon_start(&d, args), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(tcp, spec, &ot), 0);
	if (udp != NULL)
		ck_assert_int_eq(drac_open(udp, spec, &ou), 0);
}

START_TEST(forged_udp_flush)
{
	const char *allow = "127.0.0.1 add check admin\n127.0.0.5 admin\n";
	struct drac_stats st;
	drac_t *ht, *hu;
	struct chk k;

	if (geteuid() != 0) {
		fprintf(stderr, "forged_udp_flush skipped: needs root\n");
		return;
	}
	/* admin_transport = any: the forged FLUSH arrives and empties the
	 * list (else this test proves nothing) */
	start_with(allow, "add_transport = tcp\nadmin_transport = any\n",
	    &ht, NULL);
	ck_assert_int_eq(drac_add(ht, "198.51.100.7", 0, NULL), 0);
	forge_flush("127.0.0.5", d.port);
	k.h = ht;
	k.addr = "198.51.100.7";
	k.want = 0;
	ck_assert_msg(wait_until(check_is, &k, WAIT_MS), "the forged FLUSH "
	    "did not arrive: the test proves nothing");
	drac_close(ht);
	ck_assert_int_eq(daemon_stop(&d), 0);

	/* add_transport = tcp alone: admin calls are TCP-only too */
	start_with(allow, "add_transport = tcp\n", &ht, &hu);
	ck_assert_int_eq(drac_add(ht, "198.51.100.7", 0, NULL), 0);
	forge_flush("127.0.0.5", d.port);
	ck_assert(wait_until(log_has, "denied admin over UDP "
	    "(admin_transport = tcp) to 127.0.0.5", WAIT_MS));
	ck_assert_int_eq(drac_check(ht, "198.51.100.7", NULL), 1);
	/* an honest admin over UDP is refused as well; over TCP it works */
	ck_assert_int_eq(drac_stats(hu, &st), DRAC_E_PERM);
	ck_assert_int_eq(drac_flush(hu), DRAC_E_PERM);
	ck_assert_int_eq(drac_del(hu, "198.51.100.7"), DRAC_E_PERM);
	ck_assert_int_eq(drac_check(hu, "198.51.100.7", NULL), 1);
	ck_assert_int_eq(drac_stats(ht, &st), 0);
	ck_assert_uint_eq(st.entries, 1);
	ck_assert_int_eq(drac_flush(ht), 0);
	ck_assert_int_eq(drac_check(ht, "198.51.100.7", NULL), 0);
	drac_close(ht);
	drac_close(hu);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* v1_add_from - a DRAC v1 ADD of 198.18.x.y (the i-th) sent from src;
 * 1 granted, 0 refused, -1 no answer */
static int
v1_add_from(const char *src, int i)
{
	uint8_t req[64], rep[128];
	size_t n = rpc_header(req, 0x1000u + (uint32_t)i, 900101, 1, 1);
	uint32_t res;

	n += put32(req + n, (198u << 24) | (18u << 16) | (uint32_t)i);
	if (reply_status(rep, udp_exchange(src, d.port, req, n, rep,
	    sizeof(rep), 2000), 0x1000u + (uint32_t)i, &res) != SUCCESS)
		return -1;
	return res == 0;
}

/* add_burst - 200 adds from rotating sources (or one), all admitted by
 * one allow rule, with add_rate = 5 (bursts of 10); how many granted */
static int
add_burst(int rotate, int64_t *ms)
{
	char src[32];
	int64_t t0;
	int i, ok = 0, r;
	drac_t *h;

	start_with("127.0.0.0/8 add check admin\n", "add_rate = 5\n", &h,
	    NULL);
	t0 = now_ms();
	for (i = 0; i < 200; i++) {
		if (rotate)
			snprintf(src, sizeof(src), "127.0.%d.%d", 1 + i / 100,
			    2 + i % 100);
		else
			snprintf(src, sizeof(src), "127.0.0.3");
		ck_assert_int_ge(r = v1_add_from(src, i), 0);
		ok += r;
	}
	*ms = now_ms() - t0;
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);
	return ok;
}

START_TEST(rate_per_rule)
{
	int64_t ms;
	int ok, rotate;

	for (rotate = 1; rotate >= 0; rotate--) {
		ok = add_burst(rotate, &ms);
		fprintf(stderr, "rate_per_rule: %s: %d of 200 adds granted in "
		    "%lld ms\n", rotate ? "200 sources" : "one source", ok,
		    (long long)ms);
		/* the burst, plus what refilled meanwhile: never more */
		ck_assert_msg(ok >= 10 && ok <= 10 + 5 * (ms / 1000 + 1),
		    "%s: %d of 200 granted in %lld ms", rotate ?
		    "rotating sources" : "one source", ok, (long long)ms);
	}
}
END_TEST

START_TEST(acl_match_rule)
{
	static const struct { const char *who, *net; unsigned int bits; }
	    t[] = {
		{"10.1.2.3", "10.1.2.0", 24},	/* the most specific */
		{"10.1.3.4", "10.0.0.0", 8},	/* the /16 grants no add */
		{"2001:db8:0:2::9", "2001:db8::", 48},
		{"192.0.2.1", NULL, 0},
		{"127.0.0.1", NULL, 0},		/* implicit admin only */
	};
	const char *text = "10.0.0.0/8 add\n10.1.0.0/16 check\n"
	    "10.1.2.0/24 add check\n10.1.2.0/24 none\n2001:db8::/48 add\n";
	struct acl_rule r;
	struct addr who, net;
	char err[256];
	struct acl *a = acl_parse(text, "test", err, sizeof(err));
	size_t i;

	ck_assert_msg(a != NULL, "%s", err);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_int_eq(addr_parse(&who, t[i].who), 0);
		if (t[i].net == NULL) {
			ck_assert_msg(acl_match(a, &who, ACL_ADD, &r) == 0,
			    "%s: got a rule, want none", t[i].who);
			continue;
		}
		ck_assert_msg(acl_match(a, &who, ACL_ADD, &r) == 1,
		    "%s: got no rule", t[i].who);
		ck_assert_int_eq(addr_parse(&net, t[i].net), 0);
		ck_assert_msg(addr_equal(&r.net, &net) && r.bits == t[i].bits,
		    "%s: got /%u, want %s/%u", t[i].who, r.bits, t[i].net,
		    t[i].bits);
	}
	acl_free(a);
}
END_TEST

/* In-process: one server over a store in a temporary directory, its
 * procedures driven through svc_dispatch, on a fake clock. */

#define T0 1800000000

static time_t fake_now;
static struct server sv;
static struct svc_opts so;
static struct store *st;
static uint8_t key[32];

static time_t
fake_clock(void)
{
	return fake_now;
}

static void
proc_setup(void)
{
	struct store_opts o;
	struct policy p;
	char err[1400], path[512];
	size_t i;

	fake_now = T0;
	snprintf(path, sizeof(path), "%s/dracd.db", tmpdir());
	memset(&o, 0, sizeof(o));
	o.path = path;
	o.sync_interval_ms = 1000;
	o.max_entries = 1000;
	o.truncate = 1;
	o.clock = fake_clock;
	st = store_open(&o, err, sizeof(err));
	ck_assert_msg(st != NULL, "store_open: %s", err);
	memset(&p, 0, sizeof(p));
	p.acl = acl_parse("127.0.0.1 add check admin\n", "test", err,
	    sizeof(err));
	ck_assert_ptr_nonnull(p.acl);
	p.expire_s = 1800;
	p.max_ttl_s = 86400;
	snprintf(p.action, sizeof(p.action), "OK");
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 53 + 7);
	memcpy(p.key, key, sizeof(key));
	p.keylen = sizeof(key);
	ck_assert_int_eq(policy_init(&sv, st, &p), 0);
	sv.clock = fake_clock;
	memset(&so, 0, sizeof(so));
	so.rpc.prog = DRACPROG;
	so.rpc.vers_lo = DRACVERS;
	so.rpc.vers_hi = DRACVERS3;
	so.rpc.lookup = proc_lookup;
	so.rpc.ctx = &sv;
}

static void
proc_teardown(void)
{
	policy_fini(&sv);
	store_close(st);
}

/* signed_add - an ADD_AUTH message for addr stamped t with a nonce of
 * fill bytes, in req; its length */
static size_t
signed_add(uint8_t *req, size_t cap, const char *addr, int64_t t,
    uint8_t fill)
{
	add3_auth_args a;
	size_t n = rpc_header(req, 4242, 900101, 3, 7);
	XDR x;

	memset(&a, 0, sizeof(a));
	a.add.addr.af = DRAC_AF_INET;
	inet_pton(AF_INET, addr, a.add.addr.drac_addr_u.v4);
	a.add.user = (char *)"";
	a.time = (uint64_t)t;
	memset(a.nonce, fill, sizeof(a.nonce));
	ck_assert_int_eq(auth_mac(key, sizeof(key), &a, (uint8_t *)a.mac), 0);
	xdrmem_create(&x, (char *)req + n, (u_int)(cap - n), XDR_ENCODE);
	ck_assert(xdr_add3_auth_args(&x, &a));
	n += xdr_getpos(&x);
	xdr_destroy(&x);
	return n;
}

/* serve - req from peer (tcp or not); the drac_stat answered, or -1 */
static int
serve(const uint8_t *req, size_t len, const char *peer, int tcp)
{
	uint8_t rep[512];
	struct addr from;
	uint32_t stat;
	size_t n;

	ck_assert_int_eq(addr_parse(&from, peer), 0);
	n = svc_dispatch(&so.rpc, req, len, &from, tcp, rep, sizeof(rep));
	if (reply_status(rep, (ssize_t)n, 4242, &stat) != SUCCESS)
		return -1;
	return (int)stat;
}

/* granted - does the store hold addr now? */
static int
granted(const char *text)
{
	struct store_info info;
	struct addr a;

	ck_assert_int_eq(addr_parse(&a, text), 0);
	return store_check(st, &a, &info) == 1;
}

/* ungrant - remove addr, which must be there */
static void
ungrant(const char *text)
{
	struct addr a;

	ck_assert_int_eq(addr_parse(&a, text), 0);
	ck_assert_int_eq(store_del(st, &a), 1);
}

static int
busy_over(void *req)
{
	const uint8_t *r = req;
	size_t len;

	memcpy(&len, r, sizeof(len));
	return serve(r + sizeof(len), len, "127.0.0.1", 1) == DRAC_OK;
}

START_TEST(auth_replay_first)
{
	uint8_t req[512], held[sizeof(size_t) + 512];
	size_t n;

	/* a sniffed request replayed first from an address without the add
	 * right is refused, and the real one still grants */
	n = signed_add(req, sizeof(req), "192.0.2.21", T0, 1);
	ck_assert_int_eq(serve(req, n, "192.0.2.99", 0), DRAC_PERM);
	ck_assert(!granted("192.0.2.21"));
	ck_assert_int_eq(serve(req, n, "127.0.0.1", 0), DRAC_OK);
	ck_assert(granted("192.0.2.21"));

	/* add_transport = tcp: the copy over UDP first, then the real one */
	sv.policy.add_tcp_only = 1;
	n = signed_add(req, sizeof(req), "192.0.2.22", T0, 2);
	ck_assert_int_eq(serve(req, n, "127.0.0.1", 0), DRAC_PERM);
	ck_assert_int_eq(serve(req, n, "127.0.0.1", 1), DRAC_OK);
	ck_assert(granted("192.0.2.22"));

	/* a rate-limit refusal does not use the nonce up: the same request
	 * is granted once the bucket refills (2 a second, bursts of 1) */
	sv.adds = ratelimit_new(2.0, 1.0, 16);
	ck_assert_ptr_nonnull(sv.adds);
	n = signed_add(req, sizeof(req), "192.0.2.23", T0, 3);
	ck_assert_int_eq(serve(req, n, "127.0.0.1", 1), DRAC_OK);
	n = signed_add(req, sizeof(req), "192.0.2.24", T0, 4);
	ck_assert_int_eq(serve(req, n, "127.0.0.1", 1), DRAC_BUSY);
	ck_assert(!granted("192.0.2.24"));
	memcpy(held, &n, sizeof(n));
	memcpy(held + sizeof(n), req, n);
	ck_assert(wait_until(busy_over, held, WAIT_MS));
	ck_assert(granted("192.0.2.24"));
}
END_TEST

START_TEST(auth_nonce_window)
{
	uint8_t req[512];
	size_t n;

	/* stamped the furthest ahead accepted: granted once */
	n = signed_add(req, sizeof(req), "192.0.2.31", T0 + AUTH_WINDOW, 1);
	ck_assert_int_eq(serve(req, n, "127.0.0.1", 1), DRAC_OK);
	ck_assert(granted("192.0.2.31"));
	ungrant("192.0.2.31");
	/* replayed while its stamp is in the window: the first answer, and
	 * no grant, up to the window's last second */
	for (fake_now = T0 + 1; fake_now <= T0 + 2 * AUTH_WINDOW;
	    fake_now += AUTH_WINDOW - 1) {
		ck_assert_int_eq(serve(req, n, "127.0.0.1", 1), DRAC_OK);
		ck_assert_msg(!granted("192.0.2.31"), "replay at T0+%lld "
		    "granted", (long long)(fake_now - T0));
	}
	fake_now = T0 + 2 * AUTH_WINDOW;
	ck_assert_int_eq(serve(req, n, "127.0.0.1", 1), DRAC_OK);
	ck_assert_msg(!granted("192.0.2.31"), "replay at T0+2W granted");
	/* past it: stale */
	fake_now = T0 + 2 * AUTH_WINDOW + 1;
	ck_assert_int_eq(serve(req, n, "127.0.0.1", 1), DRAC_AUTH);
	ck_assert(!granted("192.0.2.31"));

	/* one second further ahead than the window: refused */
	fake_now = T0 + 100;
	n = signed_add(req, sizeof(req), "192.0.2.32", fake_now + AUTH_WINDOW
	    + 1, 2);
	ck_assert_int_eq(serve(req, n, "127.0.0.1", 1), DRAC_AUTH);
	ck_assert(!granted("192.0.2.32"));
	/* the oldest accepted stamp: granted, its replay not */
	n = signed_add(req, sizeof(req), "192.0.2.33", fake_now - AUTH_WINDOW,
	    3);
	ck_assert_int_eq(serve(req, n, "127.0.0.1", 1), DRAC_OK);
	ungrant("192.0.2.33");
	ck_assert_int_eq(serve(req, n, "127.0.0.1", 1), DRAC_OK);
	ck_assert(!granted("192.0.2.33"));
	fake_now++;
	ck_assert_int_eq(serve(req, n, "127.0.0.1", 1), DRAC_AUTH);
}
END_TEST

Suite *
make_authz_suite(void)
{
	Suite *s = suite_create("authz");
	TCase *tc = tcase_create("admin_transport");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, forged_udp_flush);
	suite_add_tcase(s, tc);
	tc = tcase_create("add_rate");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, rate_per_rule);
	tcase_add_test(tc, acl_match_rule);
	suite_add_tcase(s, tc);
	tc = tcase_create("auth_nonce");
	tcase_add_checked_fixture(tc, proc_setup, proc_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, auth_replay_first);
	tcase_add_test(tc, auth_nonce_window);
	suite_add_tcase(s, tc);
	return s;
}
