/*
 * check_audit.c - what dracd tells its operator: the audit lines of adds,
 * deletes and flushes, -d's debug lines and their rate limit, journald
 * levels, and the addresses no add may grant.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "audit.h"
#include "drac.h"
#include "helpers.h"
#include "suites.h"

static struct daemon d;

static void
teardown(void)
{
	daemon_kill(&d);
}

/* log_has - wait_until's condition: needle in the daemon's output */
static int
log_has(void *needle)
{
	return log_contains(&d, needle);
}

/* start - dracd with allow rules, conf text (NULL: none) and options */
static void
start(const char *allow, const char *conf, const char *opt)
{
	static char path[400];
	const char *extra[4] = {NULL};
	size_t n = 0;

	daemon_init(&d, allow);
	if (conf != NULL) {
		snprintf(path, sizeof(path), "%s/dracd.conf", d.dir);
		write_file(path, conf);
		extra[n++] = "-c";
		extra[n++] = path;
	}
	if (opt != NULL)
		extra[n++] = opt;
	ck_assert_msg(daemon_start(&d, extra) == 0, "dracd did not start");
}

/* v1_add - DRAC v1 ADD of text from src: accept_stat, *res the addstat */
static int
v1_add(const char *src, const char *text, uint32_t *res)
{
	uint8_t req[64], rep[128];
	struct in_addr ia;
	size_t n = rpc_header(req, 301, 900101, 1, 1);

	ck_assert_int_eq(inet_pton(AF_INET, text, &ia), 1);
	n += put32(req + n, ntohl(ia.s_addr));
	return reply_status(rep, udp_exchange(src, d.port, req, n, rep,
	    sizeof(rep), 2000), 301, res);
}

/* v2_add - DRAC v2 ADD: sixteen chars, each a 4-byte XDR int */
static int
v2_add(const char *src, const char *text, uint32_t *res)
{
	uint8_t req[128], rep[128], a[16];
	size_t n = rpc_header(req, 302, 900101, 2, 1), i;

	ck_assert_int_eq(inet_pton(AF_INET6, text, a), 1);
	for (i = 0; i < 16; i++)
		n += put32(req + n, (uint32_t)(int32_t)(signed char)a[i]);
	return reply_status(rep, udp_exchange(src, d.port, req, n, rep,
	    sizeof(rep), 2000), 302, res);
}

/* lib - a libdrac handle on the daemon */
static drac_t *
lib(void)
{
	char spec[32];
	drac_t *h;

	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	return h;
}

/* socketmap - ask dracd's socketmap service about ip; the answer */
static void
socketmap(uint16_t port, const char *ip, char *out, size_t len)
{
	char q[128];
	struct pollfd p;
	size_t got = 0;
	ssize_t n;
	int fd = dial("127.0.0.1", port, SOCK_STREAM, NULL);

	ck_assert(fd >= 0);
	snprintf(q, sizeof(q), "%zu:drac %s,", strlen(ip) + 5, ip);
	ck_assert_int_eq(write(fd, q, strlen(q)), (ssize_t)strlen(q));
	p.fd = fd;
	p.events = POLLIN;
	out[0] = '\0';
	while (got == 0 || out[got - 1] != ',') {
		ck_assert_msg(poll(&p, 1, 3000) == 1, "no socketmap answer");
		if ((n = read(fd, out + got, len - 1 - got)) <= 0)
			break;
		got += (size_t)n;
		out[got] = '\0';
	}
	close(fd);
}

#define ADD_LINE "audit: op=add caller=127.0.0.1 addr=192.0.2.7 user=alice " \
	"ttl=1800 result="

START_TEST(audit_lines)
{
	drac_t *h;
	uint32_t res;

	start("127.0.0.1\n", NULL, NULL);
	h = lib();
	ck_assert_int_eq(drac_add(h, "192.0.2.7", 1800, "alice"), 0);
	ck_assert(wait_until(log_has, ADD_LINE "new vers=3 via=", WAIT_MS));
	ck_assert_int_eq(drac_add(h, "192.0.2.7", 1800, "alice"), 0);
	ck_assert(wait_until(log_has, ADD_LINE "renewed vers=3 via=",
	    WAIT_MS));

	/* a user chosen to forge fields is escaped into one value */
	ck_assert_int_eq(drac_add(h, "192.0.2.9", 60,
	    "eve result=new addr=10.0.0.1 \"%"), 0);
	ck_assert(wait_until(log_has, "addr=192.0.2.9 user=eve%20result%3D"
	    "new%20addr%3D10.0.0.1%20%22%25 ttl=60 result=new", WAIT_MS));
	ck_assert(!log_contains(&d, " addr=10.0.0.1"));

	/* DRAC v1 over UDP: no user, the default lifetime */
	ck_assert_int_eq(v1_add("127.0.0.1", "192.0.2.10", &res), SUCCESS);
	ck_assert_uint_eq(res, 0);
	ck_assert(wait_until(log_has, "audit: op=add caller=127.0.0.1 "
	    "addr=192.0.2.10 user=- ttl=1800 result=new vers=1 via=udp",
	    WAIT_MS));

	/* refused: 127.0.0.2 has no add right */
	ck_assert_int_eq(v1_add("127.0.0.2", "192.0.2.11", &res), SUCCESS);
	ck_assert_uint_eq(res, 1);
	ck_assert(wait_until(log_has, "audit: op=add caller=127.0.0.2 "
	    "addr=192.0.2.11 user=- ttl=0 result=refused vers=1 via=udp "
	    "reason=rights detail=\"denied add (", WAIT_MS));

	ck_assert_int_eq(drac_del(h, "192.0.2.7"), 0);
	ck_assert(wait_until(log_has, "audit: op=del caller=127.0.0.1 "
	    "addr=192.0.2.7 result=deleted vers=3 via=", WAIT_MS));
	ck_assert_int_eq(drac_flush(h), 0);
	ck_assert(wait_until(log_has, "audit: op=flush caller=127.0.0.1 "
	    "result=flushed vers=3 via=", WAIT_MS));
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(audit_grants_off)
{
	uint32_t res;

	start("127.0.0.1\n", "audit_grants = no\n", NULL);
	ck_assert_int_eq(v1_add("127.0.0.1", "192.0.2.10", &res), SUCCESS);
	ck_assert_uint_eq(res, 0);
	/* a refusal is still logged, and after it nothing of the grant */
	ck_assert_int_eq(v1_add("127.0.0.2", "192.0.2.11", &res), SUCCESS);
	ck_assert(wait_until(log_has, "result=refused", WAIT_MS));
	ck_assert(!log_contains(&d, "addr=192.0.2.10"));
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

static int lines(const char *needle);

/* first_at - where needle first is in the daemon's output, -1: not */
static long
first_at(const char *needle)
{
	FILE *f = fopen(d.log, "r");
	static char buf[1 << 20];
	size_t n;
	char *p;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strstr(buf, needle);
	return p != NULL ? (long)(p - buf) : -1;
}

/*
 * audit_batched: the grants' lines are written together (log_audit), but
 * every one of them is there, before the line of a delete made after
 * them (the order holds), and those still waiting at a stop are written
 * then.
 */
START_TEST(audit_batched)
{
	char ip[32];
	uint32_t res;
	int i;
	drac_t *h;

	start("127.0.0.1\n", NULL, NULL);
	for (i = 0; i < 300; i++) {
		snprintf(ip, sizeof(ip), "198.51.%d.%d", i / 200, i % 200 + 1);
		ck_assert_int_eq(v1_add("127.0.0.1", ip, &res), SUCCESS);
		ck_assert_uint_eq(res, 0);
	}
	h = lib();
	ck_assert_int_eq(drac_del(h, "198.51.1.100"), 0);
	drac_close(h);
	ck_assert(wait_until(log_has, "op=del caller=127.0.0.1 "
	    "addr=198.51.1.100", WAIT_MS));
	ck_assert_int_eq(lines("audit: op=add caller=127.0.0.1 addr=198.51."),
	    300);
	ck_assert_int_lt(first_at("addr=198.51.1.100 user=- ttl=1800 "
	    "result=new"), first_at("op=del caller=127.0.0.1"));
	/* the last ones may still wait when the stop comes */
	for (i = 0; i < 100; i++) {
		snprintf(ip, sizeof(ip), "198.51.9.%d", i + 1);
		ck_assert_int_eq(v1_add("127.0.0.1", ip, &res), SUCCESS);
	}
	ck_assert_int_eq(daemon_stop(&d), 0);
	ck_assert_int_eq(lines("audit: op=add caller=127.0.0.1 "
	    "addr=198.51.9."), 100);
	ck_assert_int_lt(first_at("addr=198.51.9.100 "),
	    first_at("shutting down"));
}
END_TEST

/* lines - how many lines of the daemon's output hold needle */
static int
lines(const char *needle)
{
	return log_count(&d, needle);
}

/* debug_dropped - after a pause, a call reports the lines held back */
static int
debug_dropped(void *arg)
{
	uint32_t res;

	(void)arg;
	v1_add("127.0.0.1", "192.0.2.200", &res);
	return log_contains(&d, "debug lines not logged in the last second");
}

START_TEST(debug)
{
	char conf[200], out[128];
	uint16_t mport = free_port();
	int64_t t0, secs;
	uint32_t res;
	int i, n;

	snprintf(conf, sizeof(conf), "socketmap_listen = inet:127.0.0.1:%u\n",
	    mport);
	start("127.0.0.1\n", conf, "-d");
	ck_assert_int_eq(v1_add("127.0.0.1", "192.0.2.1", &res), SUCCESS);
	ck_assert(wait_until(log_has, "rpc: proc=add vers=1 caller=127.0.0.1 "
	    "via=udp addr=192.0.2.1 result=ok", WAIT_MS));
	socketmap(mport, "192.0.2.1", out, sizeof(out));
	ck_assert_msg(strncmp(out, "2:OK,", 5) == 0 || strstr(out, ":OK") !=
	    NULL, "socketmap: %s", out);
	ck_assert(wait_until(log_has, "check: service=", WAIT_MS));
	ck_assert(log_contains(&d, "addr=192.0.2.1 result=allowed"));

	/* a flood: at most LOG_DEBUG_BURST (50) lines a second */
	t0 = now_ms();
	for (i = 0; i < 400; i++)
		ck_assert_int_eq(v1_add("127.0.0.1", "192.0.2.2", &res),
		    SUCCESS);
	secs = (now_ms() - t0) / 1000 + 2;
	n = lines("rpc: proc=");
	ck_assert_msg(n <= 50 * secs && n < 400, "%d debug lines in under "
	    "%lld s", n, (long long)secs);
	ck_assert(wait_until(debug_dropped, NULL, WAIT_MS));
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* journal_start - dracd whose stderr is the log file, JOURNAL_STREAM
 * naming that file (match) or another inode */
static void
journal_start(int match)
{
	const char *const dflag[] = {"-d", NULL};
	char js[64];
	struct stat st;

	daemon_init(&d, "127.0.0.1\n");
	write_file(d.log, "");
	ck_assert_int_eq(stat(d.log, &st), 0);
	snprintf(js, sizeof(js), "%ju:%ju", (uintmax_t)st.st_dev,
	    (uintmax_t)st.st_ino + (match ? 0 : 1));
	setenv("JOURNAL_STREAM", js, 1);
	ck_assert_msg(daemon_start(&d, dflag) == 0, "dracd did not start");
	unsetenv("JOURNAL_STREAM");
}

START_TEST(journald)
{
	uint32_t res;

	journal_start(1);
	ck_assert_int_eq(v1_add("127.0.0.1", "192.0.2.7", &res), SUCCESS);
	ck_assert_int_eq(v1_add("127.0.0.2", "192.0.2.8", &res), SUCCESS);
	/* LOG_INFO is 6, LOG_DEBUG 7 */
	ck_assert(wait_until(log_has, "<6>dracd: audit: op=add caller="
	    "127.0.0.2", WAIT_MS));
	ck_assert(log_contains(&d, "<7>dracd: rpc: proc=add vers=1 caller="
	    "127.0.0.1"));
	ck_assert(wait_until(log_has, "<6>dracd: audit: op=add caller="
	    "127.0.0.1 addr=192.0.2.7", WAIT_MS));
	ck_assert_int_eq(daemon_stop(&d), 0);

	/* stderr is not the journal's stream: plain lines */
	journal_start(0);
	ck_assert_int_eq(v1_add("127.0.0.1", "192.0.2.7", &res), SUCCESS);
	ck_assert(wait_until(log_has, "dracd: audit: op=add", WAIT_MS));
	ck_assert(!log_contains(&d, "<6>"));
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* never_v1 / never_v2 - the addstat of a v1 / v2 add from 127.0.0.1 */
static uint32_t
never_v1(const char *ip)
{
	uint32_t res = 99;

	ck_assert_int_eq(v1_add("127.0.0.1", ip, &res), SUCCESS);
	return res;
}

static uint32_t
never_v2(const char *ip)
{
	uint32_t res = 99;

	ck_assert_int_eq(v2_add("127.0.0.1", ip, &res), SUCCESS);
	return res;
}

START_TEST(never)
{
	static const char *const v1_refused[] = {"0.0.0.0", "0.1.2.3",
	    "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1",
	    "192.0.2.7", "100.64.0.1", "100.127.255.255", "203.0.113.5"};
	static const char *const v2_refused[] = {"::", "ff02::1",
	    "::ffff:0.0.0.0", "::ffff:255.255.255.255", "::ffff:192.0.2.8",
	    "2001:db8:bad::1"};
	static const char *const v3_refused[] = {"0.0.0.0", "::",
	    "224.0.0.1", "192.0.2.9", "100.64.1.1", "2001:db8:bad::2"};
	char conf[200], out[128];
	uint16_t mport = free_port();
	struct drac_stats st;
	drac_t *h;
	size_t i;

	snprintf(conf, sizeof(conf), "socketmap_listen = inet:127.0.0.1:%u\n"
	    "never_grant = 203.0.113.0/24, 2001:db8:bad:1::/64\n", mport);
	start("127.0.0.1\n192.0.2.0/24 never\n100.64.0.0/10 never\n"
	    "2001:db8:bad::/48 never\n", conf, NULL);
	h = lib();
	for (i = 0; i < sizeof(v1_refused) / sizeof(v1_refused[0]); i++)
		ck_assert_msg(never_v1(v1_refused[i]) == 1, "v1 add %s: got "
		    "%u, want 1 (denied)", v1_refused[i],
		    never_v1(v1_refused[i]));
	for (i = 0; i < sizeof(v2_refused) / sizeof(v2_refused[0]); i++)
		ck_assert_msg(never_v2(v2_refused[i]) == 1, "v2 add %s: got "
		    "%u, want 1 (denied)", v2_refused[i],
		    never_v2(v2_refused[i]));
	for (i = 0; i < sizeof(v3_refused) / sizeof(v3_refused[0]); i++)
		ck_assert_int_eq(drac_add(h, v3_refused[i], 60, "bob"),
		    DRAC_E_PERM);
	/* beside them, an ordinary address is granted */
	ck_assert_uint_eq(never_v1("198.51.100.7"), 0);
	ck_assert_uint_eq(never_v2("2001:db8:600d::1"), 0);
	ck_assert_int_eq(drac_add(h, "192.0.3.1", 60, NULL), 0);

	/* nothing of them reached the table; the policy service is never
	 * asked to allow them */
	socketmap(mport, "192.0.2.7", out, sizeof(out));
	ck_assert_str_eq(out, "9:NOTFOUND ,");
	socketmap(mport, "0.0.0.0", out, sizeof(out));
	ck_assert_msg(strstr(out, "OK") == NULL, "socketmap 0.0.0.0: %s", out);
	socketmap(mport, "198.51.100.7", out, sizeof(out));
	ck_assert_msg(strstr(out, ":OK") != NULL, "socketmap: %s", out);
	ck_assert(wait_until(log_has, "addr=192.0.2.7 user=- ttl=0 "
	    "result=refused vers=1 via=udp reason=never detail=\"denied add "
	    "(never 192.0.2.0/24)", WAIT_MS));
	ck_assert(log_contains(&d, "addr=0.0.0.0 user=- ttl=0 result=refused "
	    "vers=1 via=udp reason=unspecified"));
	ck_assert(log_contains(&d, "addr=224.0.0.1 user=- ttl=0 "
	    "result=refused vers=1 via=udp reason=multicast"));
	ck_assert(log_contains(&d, "addr=255.255.255.255 user=- ttl=0 "
	    "result=refused vers=1 via=udp reason=broadcast"));
	/* each refusal is counted, past the log's rate limit too */
	ck_assert_int_eq(drac_stats(h, &st), 0);
	ck_assert_msg(st.denials == 22, "denials: got %llu, want 22",
	    (unsigned long long)st.denials);
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

static const struct {
	const char *in, *want;
} value_cases[] = {
	{NULL, "-"},
	{"", "-"},
	{"-", "%2D"},
	{"alice", "alice"},
	{"alice@example.org", "alice@example.org"},
	{"a b=c", "a%20b%3Dc"},
	{"q\"%\\", "q%22%25%5C"},
	{"\x7f\xc3\xa9", "%7F%C3%A9"},
	{"x result=new", "x%20result%3Dnew"},
};

START_TEST(audit_value_escapes)
{
	char out[AUDIT_VALUEMAX];

	audit_value(value_cases[_i].in, out, sizeof(out));
	ck_assert_msg(strcmp(out, value_cases[_i].want) == 0, "case %d: got "
	    "\"%s\", want \"%s\"", _i, out, value_cases[_i].want);
}
END_TEST

START_TEST(audit_value_bounded)
{
	char in[65], out[AUDIT_VALUEMAX], small[16];

	memset(in, '=', 64);
	in[64] = '\0';
	audit_value(in, out, sizeof(out));
	ck_assert_uint_eq(strlen(out), 3 * 64);		/* all of it fits */
	audit_value(in, small, sizeof(small));
	ck_assert_str_eq(small, "%3D%3D%3D%3D...");
}
END_TEST

static const struct {
	const char *addr;
	const char *want;	/* NULL: may be granted */
} unusable_cases[] = {
	{"0.0.0.0", "unspecified"}, {"0.255.0.1", "unspecified"},
	{"::", "unspecified"}, {"::ffff:0.0.0.0", "unspecified"},
	{"224.0.0.1", "multicast"}, {"239.1.2.3", "multicast"},
	{"ff02::1", "multicast"}, {"::ffff:224.0.0.251", "multicast"},
	{"255.255.255.255", "broadcast"}, {"240.0.0.1", "broadcast"},
	{"1.0.0.1", NULL}, {"192.0.2.7", NULL}, {"223.255.255.255", NULL},
	{"127.0.0.1", NULL}, {"::1", NULL}, {"2001:db8::7", NULL},
	{"fe80::1", NULL},
};

START_TEST(unusable_table)
{
	const char *got;
	struct addr a;

	ck_assert_int_eq(addr_parse(&a, unusable_cases[_i].addr), 0);
	got = addr_unusable(&a);
	ck_assert_msg((got == NULL && unusable_cases[_i].want == NULL) ||
	    (got != NULL && unusable_cases[_i].want != NULL &&
	    strcmp(got, unusable_cases[_i].want) == 0), "%s: got %s, want %s",
	    unusable_cases[_i].addr, got ? got : "(null)",
	    unusable_cases[_i].want ? unusable_cases[_i].want : "(null)");
}
END_TEST

START_TEST(never_rule)
{
	char err[256] = "";
	struct acl_rule r;
	struct acl *a;
	struct addr in, out;

	a = acl_parse("192.0.2.0/24 never\n192.0.2.0/25\n", "t", err,
	    sizeof(err));
	ck_assert_msg(a != NULL, "%s", err);
	addr_parse(&in, "192.0.2.7");
	addr_parse(&out, "198.51.100.7");
	/* never is about the address added, and gives a caller nothing */
	ck_assert_uint_eq(acl_rights(a, &in, ACL_VIA_TCP), ACL_ADD | ACL_CHECK);
	ck_assert_int_eq(acl_match(a, &in, ACL_NEVER, &r), 1);
	ck_assert_uint_eq(r.bits, 24);
	ck_assert_int_eq(acl_match(a, &out, ACL_NEVER, &r), 0);
	acl_free(a);
	/* dracd.conf's never_grant adds to the file's rules */
	a = acl_parse("192.0.2.0/24\n", "t", err, sizeof(err));
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(acl_add_never(a, "203.0.113.0/24, 2001:db8::/32",
	    err, sizeof(err)), 0);
	addr_parse(&out, "2001:db8::7");
	ck_assert_int_eq(acl_match(a, &out, ACL_NEVER, &r), 1);
	ck_assert_int_eq(acl_match(a, &in, ACL_NEVER, &r), 0);
	ck_assert_int_eq(acl_add_never(a, "203.0.113.1/24", err, sizeof(err)),
	    -1);
	ck_assert_msg(strstr(err, "never_grant") != NULL, "%s", err);
	ck_assert_int_eq(acl_add_never(a, "", err, sizeof(err)), 0);
	acl_free(a);
	a = acl_parse("192.0.2.0/24 none never\n", "t", err, sizeof(err));
	ck_assert_ptr_null(a);
	ck_assert_msg(strstr(err, "t:1:") != NULL, "%s", err);
}
END_TEST

Suite *
make_audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc;

	tc = tcase_create("audit_value");
	tcase_add_loop_test(tc, audit_value_escapes, 0,
	    sizeof(value_cases) / sizeof(value_cases[0]));
	tcase_add_test(tc, audit_value_bounded);
	suite_add_tcase(s, tc);

	tc = tcase_create("audit_lines");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, audit_lines);
	tcase_add_test(tc, audit_grants_off);
	tcase_add_test(tc, audit_batched);
	suite_add_tcase(s, tc);

	tc = tcase_create("debug");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, debug);
	suite_add_tcase(s, tc);

	tc = tcase_create("journald");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, journald);
	suite_add_tcase(s, tc);

	tc = tcase_create("never_rules");
	tcase_add_loop_test(tc, unusable_table, 0,
	    sizeof(unusable_cases) / sizeof(unusable_cases[0]));
	tcase_add_test(tc, never_rule);
	suite_add_tcase(s, tc);

	tc = tcase_create("never");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, never);
	suite_add_tcase(s, tc);
	return s;
}
