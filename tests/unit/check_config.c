/* check_config.c - dracd.conf parsing. */
#include <sys/stat.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "helpers.h"
#include "suites.h"

START_TEST(defaults)
{
	struct config c;

	config_defaults(&c);
	ck_assert_str_eq(c.dbfile, "/var/lib/drac/dracd.db");
	ck_assert_str_eq(c.allow_file, "/etc/drac/dracd.allow");
	ck_assert_int_eq(c.expire_ms, 30 * 60 * 1000);
	ck_assert_int_eq(c.sync_interval_ms, 1000);
	ck_assert_int_eq(c.map_type, MAP_TYPE_AUTO);
	ck_assert_int_eq(c.map_nul, MAP_NUL_AUTO);
	ck_assert_int_eq(c.rpcbind, 1);
}
END_TEST

static const struct {
	const char *key, *value;
	int ok;
	int64_t want;	/* for the numeric ones */
} set_cases[] = {
	{"expire", "90", 1, 90000},
	{"expire", "90s", 1, 90000},
	{"expire", "30m", 1, 1800000},
	{"expire", "2h", 1, 7200000},
	{"expire", "0", 0, 0},
	{"expire", "-5", 0, 0},
	{"expire", "5x", 0, 0},
	{"expire", "", 0, 0},
	{"sync_interval", "0", 1, 0},
	{"sync_interval", "250ms", 1, 250},
	{"port", "65535", 1, 65535},
	{"port", "65536", 0, 0},
	{"port", "12ab", 0, 0},
	{"port", "99999999999999999999999", 0, 0},
	{"map_nul", "yes", 1, 1},
	{"map_nul", "maybe", 0, 0},
	{"map_type", "hash", 1, MAP_HASH},
	{"map_type", "dbm", 0, 0},
	{"map_type", "auto", 1, MAP_TYPE_AUTO},
	{"map_nul", "no", 1, MAP_NUL_NO},
	{"map_nul", "auto", 1, MAP_NUL_AUTO},
	{"no_such_key", "1", 0, 0},
};

START_TEST(set_table)
{
	char err[CONFIG_ERRMAX] = "";
	struct config c;
	int64_t got = -1;
	int rc;

	config_defaults(&c);
	rc = config_set(&c, set_cases[_i].key, set_cases[_i].value, err,
	    sizeof(err));
	ck_assert_msg((rc == 0) == set_cases[_i].ok,
	    "%s = %s: got %d (%s), want ok=%d", set_cases[_i].key,
	    set_cases[_i].value, rc, err, set_cases[_i].ok);
	if (rc != 0) {
		ck_assert_msg(strstr(err, set_cases[_i].key) != NULL,
		    "message \"%s\" does not name the key", err);
		return;
	}
	if (strcmp(set_cases[_i].key, "expire") == 0)
		got = c.expire_ms;
	else if (strcmp(set_cases[_i].key, "sync_interval") == 0)
		got = c.sync_interval_ms;
	else if (strcmp(set_cases[_i].key, "port") == 0)
		got = c.port;
	else if (strcmp(set_cases[_i].key, "map_nul") == 0)
		got = c.map_nul;
	else if (strcmp(set_cases[_i].key, "map_type") == 0)
		got = c.map_type;
	ck_assert_msg(got == set_cases[_i].want, "%s = %s: got %lld, want "
	    "%lld", set_cases[_i].key, set_cases[_i].value, (long long)got,
	    (long long)set_cases[_i].want);
}
END_TEST

START_TEST(file)
{
	char path[512], err[CONFIG_ERRMAX];
	struct config c;

	snprintf(path, sizeof(path), "%s/dracd.conf", tmpdir());
	write_file(path, "# dracd\n\n  dbfile = /tmp/x.db  \nexpire=10m\n"
	    "listen = 127.0.0.1, ::1\n");
	config_defaults(&c);
	ck_assert_int_eq(config_load(&c, path, 1, err, sizeof(err)), 0);
	ck_assert_str_eq(c.dbfile, "/tmp/x.db");
	ck_assert_int_eq(c.expire_ms, 600000);
	ck_assert_str_eq(c.listen, "127.0.0.1, ::1");

	write_file(path, "expire = 10m\nbogus line\n");
	ck_assert_int_eq(config_load(&c, path, 1, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "dracd.conf:2:") != NULL, "got \"%s\"",
	    err);
	write_file(path, "expire = 10m\nexpire = 0\n");
	ck_assert_int_eq(config_load(&c, path, 1, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, ":2: expire") != NULL, "got \"%s\"", err);

	unlink(path);
	ck_assert_int_eq(config_load(&c, path, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(config_load(&c, path, 1, err, sizeof(err)), -1);
	if (getuid() != 0) {
		write_file(path, "expire = 1m\n");
		chmod(path, 0);
		ck_assert_int_eq(config_load(&c, path, 0, err, sizeof(err)),
		    -1);
	}
}
END_TEST

Suite *
make_config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, defaults);
	tcase_add_loop_test(tc, set_table, 0,
	    sizeof(set_cases) / sizeof(set_cases[0]));
	tcase_add_test(tc, file);
	suite_add_tcase(s, tc);
	return s;
}
