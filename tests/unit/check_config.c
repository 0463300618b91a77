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
	ck_assert_int_eq(c.map_update, MAP_UPDATE_REWRITE);
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
	{"map_update", "edit", 1, MAP_UPDATE_EDIT},
	{"map_update", "rewrite", 1, MAP_UPDATE_REWRITE},
	{"map_update", "inplace", 0, 0},
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
	else if (strcmp(set_cases[_i].key, "map_update") == 0)
		got = c.map_update;
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

/* the group settings: NULL leaves one at its default */
static const struct {
	const char *local, *sites, *priority, *ack;
	int ok;
	const char *msg;	/* in the error when not ok */
} group_cases[] = {
	{NULL, NULL, NULL, NULL, 1, NULL},
	{"127.0.0.1:7301", "127.0.0.1:7302, 127.0.0.1:7303", NULL, NULL, 1,
	    NULL},
	{"127.0.0.1:7301", "127.0.0.1:7302,127.0.0.1:7303 127.0.0.1:7304", "0",
	    "all", 1, NULL},
	{"[::1]:7301", "[::1]:7302\t[2001:db8::7]:7301", "1000000", "none", 1,
	    NULL},
	{"pop1.example.net:7301", "Relay-1.example.net:7301, 192.0.2.9:1",
	    NULL, "one", 1, NULL},
	{"127.0.0.1:7301", "127.0.0.2:7301,2.0.0.0:7301,2.0.0.1:7301,"
	    "2.0.0.2:7301,2.0.0.3:7301,2.0.0.4:7301,2.0.0.5:7301,2.0.0.6:7301,"
	    "2.0.0.7:7301,2.0.0.8:7301,2.0.0.9:7301,2.0.0.10:7301,"
	    "2.0.0.11:7301,2.0.0.12:7301,2.0.0.13:7301", NULL, NULL, 1, NULL},
	{"127.0.0.1:7301", "127.0.0.2:7301,2.0.0.0:7301,2.0.0.1:7301,"
	    "2.0.0.2:7301,2.0.0.3:7301,2.0.0.4:7301,2.0.0.5:7301,2.0.0.6:7301,"
	    "2.0.0.7:7301,2.0.0.8:7301,2.0.0.9:7301,2.0.0.10:7301,"
	    "2.0.0.11:7301,2.0.0.12:7301,2.0.0.13:7301,2.0.0.14:7301", NULL,
	    NULL, 0, "more than 15"},
	/* single host: the others need group_local */
	{NULL, "127.0.0.1:7302", NULL, NULL, 0, "group_local"},
	{NULL, NULL, "5", NULL, 0, "group_local"},
	{NULL, NULL, NULL, "all", 0, "group_local"},
	/* ... by value: the defaults written out (dracd -n -v) are fine */
	{NULL, "", "100", "quorum", 1, NULL},
	/* group_local set: group_sites must list someone else */
	{"127.0.0.1:7301", NULL, NULL, NULL, 0, "group_sites"},
	{"127.0.0.1:7301", " , ", NULL, NULL, 0, "group_sites"},
	{"127.0.0.1:7301", "127.0.0.1:7301", NULL, NULL, 0, "group_local"},
	{"127.0.0.1:7301", "127.0.0.1:07301", NULL, NULL, 0, "group_local"},
	{"[::1]:7301", "[0:0::1]:7301", NULL, NULL, 0, "group_local"},
	{"127.0.0.1:7301", "127.0.0.1:7302 127.0.0.1:7302", NULL, NULL, 0,
	    "twice"},
	{"a.example:7301", "A.EXAMPLE:7301", NULL, NULL, 0, "group_local"},
	/* what does not parse */
	{"127.0.0.1", "127.0.0.1:7302", NULL, NULL, 0, "group_local"},
	{"127.0.0.1:0", "127.0.0.1:7302", NULL, NULL, 0, "group_local"},
	{"127.0.0.1:65536", "127.0.0.1:7302", NULL, NULL, 0, "port"},
	{"127.0.0.1:73x", "127.0.0.1:7302", NULL, NULL, 0, "port"},
	{"127.0.0.1:", "127.0.0.1:7302", NULL, NULL, 0, "port"},
	{"::1:7301", "127.0.0.1:7302", NULL, NULL, 0, "brackets"},
	{"[::1:7301", "127.0.0.1:7302", NULL, NULL, 0, "group_local"},
	{"[127.0.0.1]:7301", "127.0.0.1:7302", NULL, NULL, 0, "IPv6"},
	{"256.0.0.1:7301", "127.0.0.1:7302", NULL, NULL, 0, "group_local"},
	{"1.2.3:7301", "127.0.0.1:7302", NULL, NULL, 0, "group_local"},
	{"-bad.example:7301", "127.0.0.1:7302", NULL, NULL, 0, "host name"},
	{"bad_name:7301", "127.0.0.1:7302", NULL, NULL, 0, "host name"},
	{":7301", "127.0.0.1:7302", NULL, NULL, 0, "group_local"},
	{"127.0.0.1:7301", "127.0.0.1:7302;127.0.0.1:7303", NULL, NULL, 0,
	    "group_sites"},
	{"127.0.0.1:7301", "127.0.0.1:7302, fe80::1:7303", NULL, NULL, 0,
	    "group_sites"},
};

/* group_set - one setting of a group case, or none for NULL */
static void
group_set(struct config *c, const char *key, const char *value)
{
	char err[CONFIG_ERRMAX];

	if (value != NULL)
		ck_assert_msg(config_set(c, key, value, err, sizeof(err)) == 0,
		    "%s = %s: %s", key, value, err);
}

START_TEST(group_table)
{
	char err[CONFIG_ERRMAX] = "", db[512];
	struct config c;
	int rc;

	config_defaults(&c);
	snprintf(db, sizeof(db), "%s/dracd.db", tmpdir());
	group_set(&c, "dbfile", db);
	group_set(&c, "group_local", group_cases[_i].local);
	group_set(&c, "group_sites", group_cases[_i].sites);
	group_set(&c, "group_priority", group_cases[_i].priority);
	group_set(&c, "group_ack", group_cases[_i].ack);
	rc = config_check(&c, err, sizeof(err));
	ck_assert_msg((rc == 0) == group_cases[_i].ok, "case %d (%s | %s): got "
	    "%d (%s), want ok=%d", _i, group_cases[_i].local,
	    group_cases[_i].sites, rc, err, group_cases[_i].ok);
	if (!group_cases[_i].ok)
		ck_assert_msg(strstr(err, group_cases[_i].msg) != NULL,
		    "case %d: message \"%s\" lacks \"%s\"", _i, err,
		    group_cases[_i].msg);
}
END_TEST

/* the values themselves: defaults, bounds, words, the dump */
START_TEST(group_values)
{
	char err[CONFIG_ERRMAX], buf[4096];
	struct config c;
	FILE *fp;
	size_t n;

	config_defaults(&c);
	ck_assert_str_eq(c.group_local, "");
	ck_assert_str_eq(c.group_sites, "");
	ck_assert_int_eq(c.group_priority, 100);
	ck_assert_int_eq(c.group_ack, GROUP_ACK_QUORUM);
	ck_assert_int_eq(config_set(&c, "group_priority", "1000001", err,
	    sizeof(err)), -1);
	ck_assert_int_eq(config_set(&c, "group_priority", "-1", err,
	    sizeof(err)), -1);
	ck_assert_int_eq(config_set(&c, "group_ack", "majority", err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "quorum, all, one, none") != NULL, "%s",
	    err);
	ck_assert_int_eq(config_set(&c, "group_ack", "none", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(c.group_ack, GROUP_ACK_NONE);
	ck_assert_int_eq(config_set(&c, "group_local", "127.0.0.1:7301", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(config_set(&c, "group_sites", "127.0.0.1:7302 "
	    "[::1]:7303", err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(fp = tmpfile());
	config_dump(&c, "x.conf", fp);
	rewind(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	ck_assert_msg(strstr(buf, "group_local = 127.0.0.1:7301\n") != NULL &&
	    strstr(buf, "group_sites = 127.0.0.1:7302 [::1]:7303\n") != NULL &&
	    strstr(buf, "group_priority = 100\n") != NULL &&
	    strstr(buf, "group_ack = none\n") != NULL, "%s", buf);
}
END_TEST

/* a reload reports a group setting as needing a restart */
static void
diff_seen(void *arg, const char *name, const char *oldval,
    const char *newval, int reloadable)
{
	int *seen = arg;

	(void)oldval;
	(void)newval;
	if (strncmp(name, "group_", 6) == 0) {
		ck_assert_msg(!reloadable, "%s reloadable", name);
		(*seen)++;
	}
}

START_TEST(group_restart_only)
{
	char err[CONFIG_ERRMAX];
	struct config a, b;
	int seen = 0;

	config_defaults(&a);
	config_defaults(&b);
	ck_assert_int_eq(config_set(&b, "group_local", "127.0.0.1:7301", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(config_set(&b, "group_sites", "127.0.0.1:7302", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(config_set(&b, "group_priority", "7", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(config_set(&b, "group_ack", "all", err,
	    sizeof(err)), 0);
	config_diff(&a, &b, diff_seen, &seen);
	ck_assert_int_eq(seen, 4);
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
	tc = tcase_create("group");
	tcase_add_loop_test(tc, group_table, 0,
	    sizeof(group_cases) / sizeof(group_cases[0]));
	tcase_add_test(tc, group_values);
	tcase_add_test(tc, group_restart_only);
	suite_add_tcase(s, tc);
	return s;
}
