/*
 * map.c - a Berkeley DB reader of the map file, as an MTA reads it.
 */
#include <db.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "helpers.h"

/* the buffer map_lookup hands its Berkeley DB handle for messages */
struct map_why {
	char *buf;
	size_t len;
};

/* map_errcall - keep Berkeley DB's own message for map_lookup's caller */
static void
map_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	const struct map_why *w = env->app_private;

	(void)pfx;
	if (w != NULL && w->buf != NULL)
		snprintf(w->buf, w->len, "%s", msg);
}

/*
 * map_lookup - look key up in a Berkeley DB file as an MTA would: 1 found,
 * 0 not, -1 on an error, said in why (Berkeley DB's message if it gave one)
 */
int
map_lookup(const char *path, const char *key, size_t keylen, char *val,
    size_t vallen, char *why, size_t whylen)
{
	struct map_why w = {why, whylen};
	const char *step = "db_create";
	DB *db;
	DBT k, v;
	int rc;

	if (why != NULL)
		*why = '\0';
	if ((rc = db_create(&db, NULL, 0)) != 0)
		goto out;
	db->get_env(db)->app_private = &w;
	db->set_errcall(db, map_errcall);
	step = "open";
	if ((rc = db->open(db, NULL, path, NULL, DB_UNKNOWN, DB_RDONLY,
	    0)) != 0) {
		db->close(db, 0);
		goto out;
	}
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)(uintptr_t)key;
	k.size = (u_int32_t)keylen;
	step = "get";
	rc = db->get(db, NULL, &k, &v, 0);
	if (rc == 0 && val != NULL) {
		size_t n = v.size < vallen - 1 ? v.size : vallen - 1;

		memcpy(val, v.data, n);
		val[n] = '\0';
	}
	db->close(db, 0);
out:
	if (rc != 0 && rc != DB_NOTFOUND && why != NULL) {
		size_t n = strlen(why);

		snprintf(why + n, whylen - n, "%s%s %s: %s", n ? "; " : "",
		    step, path, db_strerror(rc));
	}
	return rc == 0 ? 1 : rc == DB_NOTFOUND ? 0 : -1;
}

/* map_get - look key up in a Berkeley DB file as an MTA would; 1 found */
int
map_get(const char *path, const char *key, size_t keylen, char *val,
    size_t vallen)
{
	return map_lookup(path, key, keylen, val, vallen, NULL, 0);
}

/* map_count - the number of records in a map file (0 if unreadable) */
size_t
map_count(const char *path)
{
	DB *db;
	DBC *c;
	DBT k, v;
	size_t n = 0;

	if (db_create(&db, NULL, 0) != 0)
		return 0;
	if (db->open(db, NULL, path, NULL, DB_UNKNOWN, DB_RDONLY, 0) == 0 &&
	    db->cursor(db, NULL, &c, 0) == 0) {
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		while (c->get(c, &k, &v, DB_NEXT) == 0)
			n++;
		c->close(c);
	}
	db->close(db, 0);
	return n;
}

/* map_open - a read handle on a map file, as an MTA opens it */
DB *
map_open(const char *path)
{
	DB *db;

	ck_assert_int_eq(db_create(&db, NULL, 0), 0);
	ck_assert_int_eq(db->open(db, NULL, path, NULL, DB_UNKNOWN, DB_RDONLY,
	    0), 0);
	return db;
}

/* map_holds - is key in the open map? */
int
map_holds(DB *db, const char *key)
{
	DBT k, v;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)(uintptr_t)key;
	k.size = (u_int32_t)strlen(key);
	return db->get(db, NULL, &k, &v, 0) == 0;
}
