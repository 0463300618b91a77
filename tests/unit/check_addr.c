/* check_addr.c - address parsing, normalisation and prefixes. */
#include <arpa/inet.h>
#include <string.h>

#include "addr.h"
#include "suites.h"

static const struct {
	const char *in;
	int ok;
	const char *out;	/* canonical text */
} parse_cases[] = {
	{"192.0.2.7", 1, "192.0.2.7"},
	{"0.0.0.0", 1, "0.0.0.0"},
	{"2001:db8::7", 1, "2001:db8::7"},
	{"2001:DB8:0:0:0:0:0:7", 1, "2001:db8::7"},
	{"::ffff:192.0.2.9", 1, "192.0.2.9"},
	{"::1", 1, "::1"},
	{"192.0.2", 0, NULL},
	{"192.0.2.256", 0, NULL},
	{" 192.0.2.7", 0, NULL},
	{"192.0.2.7 ", 0, NULL},
	{"192.0.2.7/32", 0, NULL},
	{"", 0, NULL},
	{"host.example", 0, NULL},
	{"2001:db8::7::1", 0, NULL},
};

START_TEST(parse_table)
{
	char buf[ADDR_TEXTMAX];
	struct addr a;
	int rc = addr_parse(&a, parse_cases[_i].in);

	ck_assert_msg((rc == 0) == parse_cases[_i].ok,
	    "parse \"%s\": got %d, want ok=%d", parse_cases[_i].in, rc,
	    parse_cases[_i].ok);
	if (rc == 0) {
		addr_format(&a, buf);
		ck_assert_msg(strcmp(buf, parse_cases[_i].out) == 0,
		    "format \"%s\": got \"%s\", want \"%s\"",
		    parse_cases[_i].in, buf, parse_cases[_i].out);
	}
}
END_TEST

START_TEST(mapped_equals_v4)
{
	struct addr a, b;
	uint8_t raw[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	    192, 0, 2, 1};

	ck_assert_int_eq(addr_from_bytes(&a, AF_INET6, raw, 16), 0);
	ck_assert_int_eq(addr_parse(&b, "192.0.2.1"), 0);
	ck_assert_int_eq(a.family, AF_INET);
	ck_assert(addr_equal(&a, &b));
	ck_assert_int_eq(addr_from_bytes(&a, AF_INET6, raw, 15), -1);
	ck_assert_int_eq(addr_from_bytes(&a, 99, raw, 4), -1);
}
END_TEST

START_TEST(prefixes)
{
	struct addr a, net, mask;
	unsigned int bits;

	addr_parse(&a, "192.0.2.77");
	addr_parse(&net, "192.0.2.64");
	ck_assert(addr_in_prefix(&a, &net, 26));
	ck_assert(!addr_in_prefix(&a, &net, 30));
	ck_assert(addr_in_prefix(&a, &net, 0));
	addr_parse(&net, "2001:db8::");
	ck_assert(!addr_in_prefix(&a, &net, 0));	/* family differs */
	addr_parse(&a, "2001:db8:1::5");
	ck_assert(addr_in_prefix(&a, &net, 32));
	ck_assert(!addr_in_prefix(&a, &net, 48));
	addr_parse(&mask, "255.255.255.0");
	ck_assert_int_eq(addr_mask_to_prefix(&mask, &bits), 0);
	ck_assert_uint_eq(bits, 24);
	addr_parse(&mask, "255.0.255.0");
	ck_assert_int_eq(addr_mask_to_prefix(&mask, &bits), -1);
	addr_parse(&a, "127.9.9.9");
	ck_assert(addr_is_loopback(&a));
	addr_parse(&a, "::2");
	ck_assert(!addr_is_loopback(&a));
}
END_TEST

/* the one host:port parser: every form libdrac and the listeners take */
static const struct {
	const char *in, *host;
	int port, rc;
} hostport_cases[] = {
	{"mail.example", "mail.example", 0, 0},
	{"192.0.2.1:2049", "192.0.2.1", 2049, 0},
	{"[2001:db8::1]:25", "2001:db8::1", 25, 0},
	{"[2001:db8::1]", "2001:db8::1", 0, 0},
	{"2001:db8::1", "2001:db8::1", 0, 0},
	{"host:0", NULL, 0, -1},
	{"host:65536", NULL, 0, -1},
	{"host:x", NULL, 0, -1},
	{"[::1]x", NULL, 0, -1},
	{"[::1", NULL, 0, -1},
	{"", NULL, 0, -1},
	{":25", NULL, 0, -1},
};

START_TEST(hostport_table)
{
	char host[64];
	uint16_t port = 7;
	int rc = addr_hostport(hostport_cases[_i].in, host, sizeof(host),
	    &port);

	ck_assert_msg(rc == hostport_cases[_i].rc, "%s: %d",
	    hostport_cases[_i].in, rc);
	if (rc == 0) {
		ck_assert_str_eq(host, hostport_cases[_i].host);
		ck_assert_int_eq(port, hostport_cases[_i].port);
	}
}
END_TEST

START_TEST(hostport_to_sockaddr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char host[8];
	uint16_t port;

	ck_assert_int_eq(addr_sockaddr("::1", 25, &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_int_eq(len, sizeof(struct sockaddr_in6));
	ck_assert_int_eq(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 25);
	ck_assert_int_eq(addr_sockaddr("127.0.0.1", 1, &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_int_eq(addr_sockaddr("localhost", 1, &ss, &len), -1);
	/* a host that does not fit is refused, not cut */
	ck_assert_int_eq(addr_hostport("longer.example:25", host,
	    sizeof(host), &port), -1);
}
END_TEST

Suite *
make_addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, parse_table, 0,
	    sizeof(parse_cases) / sizeof(parse_cases[0]));
	tcase_add_test(tc, mapped_equals_v4);
	tcase_add_test(tc, prefixes);
	suite_add_tcase(s, tc);
	tc = tcase_create("hostport");
	tcase_add_loop_test(tc, hostport_table, 0,
	    sizeof(hostport_cases) / sizeof(hostport_cases[0]));
	tcase_add_test(tc, hostport_to_sockaddr);
	suite_add_tcase(s, tc);
	return s;
}
