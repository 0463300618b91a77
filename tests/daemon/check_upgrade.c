/*
 * check_upgrade.c - a map made by DRAC keeps its format when dracd takes
 * it over (hash, NUL-terminated keys, /32 keys), so the mail servers'
 * lookups keep working; a setting converts it, on purpose only.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <db.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "suites.h"

static struct daemon d;

static void
teardown(void)
{
	daemon_kill(&d);
}

/* drac_map - a map as DRAC wrote it: type, keys with or without /32 and
 * NUL, one record for 192.0.2.7 expiring far ahead */
static void
drac_map(const char *path, DBTYPE type, int cidr, int nul)
{
	const char *key = cidr ? "192.0.2.7/32" : "192.0.2.7";
	const char *val = "4000000000";
	DB *db;
	DBT k, v;

	ck_assert_int_eq(db_create(&db, NULL, 0), 0);
	ck_assert_int_eq(db->open(db, NULL, path, NULL, type, DB_CREATE,
	    0644), 0);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)(uintptr_t)key;
	k.size = (u_int32_t)(strlen(key) + (nul ? 1 : 0));
	v.data = (void *)(uintptr_t)val;
	v.size = (u_int32_t)(strlen(val) + (nul ? 1 : 0));
	ck_assert_int_eq(db->put(db, NULL, &k, &v, 0), 0);
	ck_assert_int_eq(db->close(db, 0), 0);
}

/* map_type - the Berkeley DB type of a map file */
static DBTYPE
map_type(const char *path)
{
	DBTYPE t = DB_UNKNOWN;
	DB *db;

	ck_assert_int_eq(db_create(&db, NULL, 0), 0);
	ck_assert_int_eq(db->open(db, NULL, path, NULL, DB_UNKNOWN, DB_RDONLY,
	    0), 0);
	ck_assert_int_eq(db->get_type(db, &t), 0);
	db->close(db, 0);
	return t;
}

/* v1_add - a DRAC v1 ADD of text from 127.0.0.1; the addstat */
static uint32_t
v1_add(const char *text)
{
	uint8_t req[64], rep[128];
	uint32_t res = 99;
	struct in_addr ia;
	size_t n = rpc_header(req, 401, 900101, 1, 1);

	ck_assert_int_eq(inet_pton(AF_INET, text, &ia), 1);
	n += put32(req + n, ntohl(ia.s_addr));
	ck_assert_int_eq(reply_status(rep, udp_exchange("127.0.0.1", d.port,
	    req, n, rep, sizeof(rep), 2000), 401, &res), SUCCESS);
	return res;
}

struct want_key {
	const char *key;
	size_t len;
};

/* has_key - wait_until's condition: the map holds the key */
static int
has_key(void *arg)
{
	const struct want_key *w = arg;

	return map_get(d.db, w->key, w->len, NULL, 0) == 1;
}

/* start - dracd over the map made already, with conf (NULL: none) */
static void
start(const char *conf)
{
	static char path[400];
	const char *extra[3] = {NULL};

	if (conf != NULL) {
		snprintf(path, sizeof(path), "%s/dracd.conf", d.dir);
		write_file(path, conf);
		extra[0] = "-c";
		extra[1] = path;
	}
	ck_assert_msg(daemon_start(&d, extra) == 0, "dracd did not start");
}

/* postmap_q - what Postfix's postmap -q finds for key in type:map */
static int
postmap_q(const char *type, const char *key, char *out, size_t len)
{
	char cf[400], map[400];
	const char *argv[] = {"/usr/sbin/postmap", "-c", d.dir, "-q", key, map, NULL};

	snprintf(cf, sizeof(cf), "%s/main.cf", d.dir);
	write_file(cf, "compatibility_level = 3.6\n");
	snprintf(map, sizeof(map), "%s:%.*s", type, (int)(strlen(d.db) - 3),
	    d.db);
	return run_prog(argv, NULL, out, len, 10000);
}

START_TEST(drac_hash_kept)
{
	static const struct want_key k8 = {"192.0.2.8/32", 13};
	char out[256];

	daemon_init(&d, "127.0.0.1\n");
	drac_map(d.db, DB_HASH, 1, 1);
	start(NULL);
	ck_assert_uint_eq(v1_add("192.0.2.8"), 0);
	ck_assert(wait_until(has_key, (void *)&k8, WAIT_MS));
	ck_assert_int_eq(map_type(d.db), DB_HASH);
	/* the old record is still there in its own form */
	ck_assert_int_eq(map_get(d.db, "192.0.2.7/32", 13, NULL, 0), 1);
	ck_assert_int_eq(map_get(d.db, "192.0.2.8", 9, NULL, 0), 0);
	ck_assert(log_contains(&d, "found a map with map_type = hash, "
	    "map_keys = cidr, map_nul = yes; kept"));
	/* Postfix's hash: lookup, as main.cf had it under DRAC */
	ck_assert_int_eq(postmap_q("hash", "192.0.2.8/32", out, sizeof(out)),
	    0);
	ck_assert_msg(strspn(out, "0123456789") >= 10, "postmap: %s", out);
	ck_assert_int_eq(daemon_stop(&d), 0);

	/* and again after a restart, now from dracd's own state */
	start(NULL);
	ck_assert_uint_eq(v1_add("192.0.2.9"), 0);
	ck_assert(wait_until(has_key, &(struct want_key){"192.0.2.9/32", 13},
	    WAIT_MS));
	ck_assert_int_eq(map_type(d.db), DB_HASH);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(drac_btree_plain_kept)
{
	static const struct want_key k8 = {"192.0.2.8", 9};

	daemon_init(&d, "127.0.0.1\n");
	drac_map(d.db, DB_BTREE, 0, 0);
	start(NULL);
	ck_assert_uint_eq(v1_add("192.0.2.8"), 0);
	ck_assert(wait_until(has_key, (void *)&k8, WAIT_MS));
	ck_assert_int_eq(map_type(d.db), DB_BTREE);
	ck_assert(log_contains(&d, "map_type = btree, map_keys = plain, "
	    "map_nul = no; kept"));
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(converted_on_purpose)
{
	static const struct want_key k8 = {"192.0.2.8", 9};

	daemon_init(&d, "127.0.0.1\n");
	drac_map(d.db, DB_HASH, 1, 1);
	start("map_type = btree\nmap_keys = plain\nmap_nul = no\n");
	ck_assert_uint_eq(v1_add("192.0.2.8"), 0);
	ck_assert(wait_until(has_key, (void *)&k8, WAIT_MS));
	ck_assert_int_eq(map_type(d.db), DB_BTREE);
	ck_assert_int_eq(map_get(d.db, "192.0.2.7", 9, NULL, 0), 1);
	ck_assert(log_contains(&d, "found a map with map_type = hash, "
	    "map_keys = cidr, map_nul = yes; converting it to map_type = "
	    "btree, map_keys = plain, map_nul = no"));
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(new_map_default)
{
	static const struct want_key k8 = {"192.0.2.8", 9};

	daemon_init(&d, "127.0.0.1\n");
	start(NULL);
	ck_assert_uint_eq(v1_add("192.0.2.8"), 0);
	ck_assert(wait_until(has_key, (void *)&k8, WAIT_MS));
	ck_assert_int_eq(map_type(d.db), DB_BTREE);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

Suite *
make_upgrade_suite(void)
{
	Suite *s = suite_create("upgrade");
	TCase *tc;

	tc = tcase_create("map_format");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, drac_hash_kept);
	tcase_add_test(tc, drac_btree_plain_kept);
	tcase_add_test(tc, converted_on_purpose);
	tcase_add_test(tc, new_map_default);
	suite_add_tcase(s, tc);
	return s;
}
