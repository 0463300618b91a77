/* check_acl.c - allow-file parsing and matching. */
#include <sys/stat.h>

#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "helpers.h"
#include "suites.h"

#define RW (ACL_ADD | ACL_CHECK)
#define ALL (ACL_ADD | ACL_CHECK | ACL_ADMIN)

static const struct {
	const char *file;
	const char *who;
	unsigned int want;
} match_cases[] = {
	/* DRAC's "netmask netaddr": add and check */
	{"255.255.255.0 192.0.2.0\n", "192.0.2.99", RW},
	{"255.255.255.0 192.0.2.0\n", "192.0.3.1", 0},
	{"255.255.255.255 198.51.100.7\n", "198.51.100.7", RW},
	/* CIDR, both families, rights named */
	{"192.0.2.0/24 add\n", "192.0.2.5", ACL_ADD},
	{"2001:db8::/32 check\n", "2001:db8:5::1", ACL_CHECK},
	{"2001:db8::/32 check\n", "2001:db9::1", 0},
	{"10.0.0.5 admin\n", "10.0.0.5", ACL_ADMIN},
	{"192.0.2.0/24 add\n192.0.2.7 check\n", "192.0.2.7", RW},
	{"# comment only\n\n   \n", "192.0.2.1", 0},
	{"192.0.2.1 # trailing comment\n", "192.0.2.1", RW},
	/* a v4-mapped caller matches its IPv4 rule */
	{"192.0.2.0/24\n", "::ffff:192.0.2.3", RW},
	/* loopback keeps admin unless the file takes it */
	{"192.0.2.0/24\n", "127.0.0.1", ACL_ADMIN},
	{"192.0.2.0/24\n", "::1", ACL_ADMIN},
	{"192.0.2.0/24\n127.0.0.0/8 none\n", "127.0.0.1", 0},
	{"10.0.0.5 admin\n", "127.0.0.1", 0},
	{"127.0.0.1\n", "127.0.0.1", ALL},
	{"127.0.0.1\n", "127.0.0.2", ACL_ADMIN},
};

START_TEST(match_table)
{
	char err[256];
	struct acl *a = acl_parse(match_cases[_i].file, "t", err, sizeof(err));
	struct addr who;
	unsigned int got;

	ck_assert_msg(a != NULL, "parse failed: %s", err);
	ck_assert_int_eq(addr_parse(&who, match_cases[_i].who), 0);
	got = acl_rights(a, &who, ACL_VIA_TCP);
	ck_assert_msg(got == match_cases[_i].want,
	    "file %s who %s: got rights %u, want %u", match_cases[_i].file,
	    match_cases[_i].who, got, match_cases[_i].want);
	acl_free(a);
}
END_TEST

static const struct {
	const char *file;
	const char *msg;	/* expected in the error */
} bad_cases[] = {
	{"192.0.2.0/24\nnot-an-address\n", "t:2: bad address"},
	{"192.0.2.0/33\n", "t:1: bad address"},
	{"192.0.2.1/24\n", "t:1: bad network"},
	{"255.0.255.0 192.0.0.0\n", "t:1: bad netmask"},
	{"192.0.2.0/24 relay\n", "t:1: unknown right"},
	{"192.0.2.0/24 none add\n", "t:1: \"none\" with other rights"},
	{"2001:db8::/129\n", "t:1: bad address"},
};

START_TEST(bad_table)
{
	char err[256] = "";
	struct acl *a = acl_parse(bad_cases[_i].file, "t", err, sizeof(err));

	ck_assert_msg(a == NULL, "file %s parsed", bad_cases[_i].file);
	ck_assert_msg(strstr(err, bad_cases[_i].msg) != NULL,
	    "file %s: got \"%s\", want \"%s\"", bad_cases[_i].file, err,
	    bad_cases[_i].msg);
}
END_TEST

START_TEST(defaults_and_files)
{
	char err[256], path[128];
	struct acl *a;
	struct addr lo, other;

	a = acl_load("/nonexistent/dracd.allow", 0, err, sizeof(err));
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(a->from_file, 0);
	addr_parse(&lo, "127.0.0.1");
	addr_parse(&other, "203.0.113.200");
	ck_assert_uint_eq(acl_rights(a, &lo, ACL_VIA_LO), ALL);
	ck_assert_uint_eq(acl_rights(a, &other, ACL_VIA_TCP), 0);
	acl_free(a);
	a = acl_load("/nonexistent/dracd.allow", 1, err, sizeof(err));
	ck_assert_ptr_null(a);
	ck_assert_msg(strstr(err, "/nonexistent/dracd.allow") != NULL,
	    "got \"%s\"", err);
	a = acl_load("/", 0, err, sizeof(err));	/* a directory */
	ck_assert_ptr_null(a);
	/* a file anyone may write is refused, whoever reads it */
	snprintf(path, sizeof(path), "%s/dracd.allow", tmpdir());
	write_file(path, "192.0.2.0/24\n");
	chmod(path, 0666);
	ck_assert_ptr_null(a = acl_load(path, 1, err, sizeof(err)));
	ck_assert_msg(strstr(err, "writable by others") != NULL, "%s", err);
	chmod(path, 0644);
	ck_assert_ptr_nonnull(a = acl_load(path, 1, err, sizeof(err)));
	acl_free(a);
}
END_TEST

/* own_address - a non-loopback address of this host; 0 if it has none */
static int
own_address(struct addr *out)
{
	struct ifaddrs *ifs, *i;
	int found = 0;

	if (getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i != NULL && !found; i = i->ifa_next)
		if (i->ifa_addr != NULL && addr_from_sockaddr(out,
		    i->ifa_addr, sizeof(struct sockaddr_storage)) == 0 &&
		    !addr_is_loopback(out))
			found = 1;
	freeifaddrs(ifs);
	return found;
}

/*
 * defaults_by_path - the built-in rules trust loopback over TCP and on
 * the loopback interface, and the host's own addresses over TCP only: a
 * datagram claiming either from outside may be forged.
 */
START_TEST(defaults_by_path)
{
	static const struct {
		const char *who;
		unsigned int via, want;
	} cases[] = {
		{"127.0.0.1", ACL_VIA_TCP, ALL},
		{"127.0.0.1", ACL_VIA_LO, ALL},
		{"127.0.0.1", ACL_VIA_UDP, 0},
		{"::1", ACL_VIA_LO, ALL},
		{"::1", ACL_VIA_UDP, 0},
		{"203.0.113.200", ACL_VIA_TCP, 0},
	};
	char err[256], text[ADDR_TEXTMAX];
	struct acl *a;
	struct addr who;
	size_t i;

	a = acl_load("/nonexistent/dracd.allow", 0, err, sizeof(err));
	ck_assert_ptr_nonnull(a);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		addr_parse(&who, cases[i].who);
		ck_assert_msg(acl_rights(a, &who, cases[i].via) ==
		    cases[i].want, "%s via %u: got %u, want %u", cases[i].who,
		    cases[i].via, acl_rights(a, &who, cases[i].via),
		    cases[i].want);
	}
	if (own_address(&who)) {
		addr_format(&who, text);
		ck_assert_msg(acl_rights(a, &who, ACL_VIA_TCP) ==
		    (ACL_ADD | ACL_CHECK), "%s over TCP: got %u", text,
		    acl_rights(a, &who, ACL_VIA_TCP));
		ck_assert_msg(acl_rights(a, &who, ACL_VIA_LO) == 0,
		    "%s on loopback: got %u", text,
		    acl_rights(a, &who, ACL_VIA_LO));
		ck_assert_msg(acl_rights(a, &who, ACL_VIA_UDP) == 0,
		    "%s over UDP: got %u", text,
		    acl_rights(a, &who, ACL_VIA_UDP));
	}
	acl_free(a);
	/* a file's rules hold on every path */
	a = acl_parse("192.0.2.0/24\n", "t", err, sizeof(err));
	ck_assert_ptr_nonnull(a);
	addr_parse(&who, "192.0.2.7");
	ck_assert_uint_eq(acl_rights(a, &who, ACL_VIA_UDP),
	    ACL_ADD | ACL_CHECK);
	acl_free(a);
}
END_TEST

Suite *
make_acl_suite(void)
{
	Suite *s = suite_create("acl");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, match_table, 0,
	    sizeof(match_cases) / sizeof(match_cases[0]));
	tcase_add_loop_test(tc, bad_table, 0,
	    sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, defaults_and_files);
	suite_add_tcase(s, tc);
	tc = tcase_create("via");
	tcase_add_test(tc, defaults_by_path);
	suite_add_tcase(s, tc);
	return s;
}
