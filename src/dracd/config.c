/*
 * config.c - the only parser of dracd.conf and of option values.
 *
 * Settings are declared in one table with their type, default and bounds,
 * in the manner of Postfix's CONFIG_INT_TABLE.  Values outside the bounds
 * and unknown keys are errors, never clamped or ignored.  No state.
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

enum ctype { C_STR, C_INT, C_DURATION, C_BOOL, C_ENUM };

struct setting {
	const char *name;
	enum ctype type;
	size_t off;
	size_t size;		/* C_STR: buffer size */
	const char *def;
	int64_t min, max;	/* C_INT, C_DURATION (ms) */
	const char *const *words;	/* C_ENUM: index = value */
	int reload;		/* SIGHUP puts a change in effect */
};

static const char *const map_types[] = {"btree", "hash", "auto", NULL};
static const char *const map_keys[] = {"plain", "cidr", "auto", NULL};
static const char *const map_nuls[] = {"no", "yes", "auto", NULL};
static const char *const map_updates[] = {"rewrite", "edit", NULL};
static const char *const add_transports[] = {"any", "tcp", NULL};
static const char *const admin_transports[] = {"auto", "any", "tcp", NULL};
static const char *const group_acks[] = {"quorum", "all", "one", "none",
    NULL};

#define OFF(f) offsetof(struct config, f)
#define STR(n, f, d) {n, C_STR, OFF(f), sizeof(((struct config *)0)->f), d, 0, 0, NULL, 0}
#define INT(n, f, d, lo, hi) {n, C_INT, OFF(f), 0, d, lo, hi, NULL, 0}
#define DUR(n, f, d, lo, hi) {n, C_DURATION, OFF(f), 0, d, lo, hi, NULL, 0}
#define BOOL(n, f, d) {n, C_BOOL, OFF(f), 0, d, 0, 1, NULL, 0}
#define ENUM(n, f, d, w) {n, C_ENUM, OFF(f), 0, d, 0, 0, w, 0}
/* the same, for settings a SIGHUP puts in effect (main.c load_policy) */
#define HUP_STR(n, f, d) {n, C_STR, OFF(f), sizeof(((struct config *)0)->f), d, 0, 0, NULL, 1}
#define HUP_DUR(n, f, d, lo, hi) {n, C_DURATION, OFF(f), 0, d, lo, hi, NULL, 1}
#define HUP_ENUM(n, f, d, w) {n, C_ENUM, OFF(f), 0, d, 0, 0, w, 1}
#define HUP_BOOL(n, f, d) {n, C_BOOL, OFF(f), 0, d, 0, 1, NULL, 1}

#define SEC 1000LL
#define DAY (86400 * SEC)

static const struct setting settings[] = {
	STR("dbfile", dbfile, "/var/lib/drac/dracd.db"),
	HUP_STR("allow_file", allow_file, "/etc/drac/dracd.allow"),
	STR("listen", listen, "*"),
	STR("user", user, ""),
	STR("pidfile", pidfile, ""),
	STR("policy_listen", policy_listen, ""),
	STR("socketmap_listen", socketmap_listen, ""),
	HUP_STR("policy_action", policy_action, "OK"),
	HUP_STR("add_key_file", add_key_file, ""),
	INT("port", port, "0", 0, 65535),
	HUP_DUR("expire", expire_ms, "30m", SEC, 365 * DAY),
	HUP_DUR("max_ttl", max_ttl_ms, "1d", SEC, 365 * DAY),
	DUR("sync_interval", sync_interval_ms, "1s", 0, 3600 * SEC),
	ENUM("map_type", map_type, "auto", map_types),
	ENUM("map_keys", map_keys, "auto", map_keys),
	ENUM("map_nul", map_nul, "auto", map_nuls),
	ENUM("map_update", map_update, "rewrite", map_updates),
	INT("max_entries", max_entries, "2000000", 1, 100000000),
	INT("journal_size", journal_size, "0", 0, 1LL << 40),
	INT("udp_threads", udp_threads, "0", 0, 64),
	INT("tcp_max_connections", tcp_max_connections, "256", 1, 65536),
	INT("tcp_max_per_source", tcp_max_per_source, "64", 1, 65536),
	DUR("tcp_request_timeout", tcp_request_timeout_ms, "10s", 100,
	    3600 * SEC),
	DUR("tcp_idle_timeout", tcp_idle_timeout_ms, "60s", SEC, DAY),
	BOOL("rpcbind", rpcbind, "yes"),
	DUR("rpcbind_check", rpcbind_check_ms, "30s", SEC, DAY),
	HUP_ENUM("add_transport", add_transport, "any", add_transports),
	HUP_ENUM("admin_transport", admin_transport, "auto", admin_transports),
	INT("add_rate", add_rate, "1000", 0, 1000000),
	STR("metrics_listen", metrics_listen, ""),
	HUP_BOOL("audit_grants", audit_grants, "yes"),
	HUP_STR("never_grant", never_grant, ""),
	/* a group: the store joins it at start, so only a restart changes it */
	STR("group_local", group_local, ""),
	STR("group_sites", group_sites, ""),
	INT("group_priority", group_priority, "100", 0, 1000000),
	ENUM("group_ack", group_ack, "quorum", group_acks),
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))
_Static_assert(NSETTINGS <= CONFIG_NMAX, "raise CONFIG_NMAX");

/* parse_int - a whole decimal number with nothing after it */
static int
parse_int(const char *s, int64_t *v, const char **end)
{
	char *e;
	long long n;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtoll(s, &e, 10);
	if (errno != 0)
		return -1;
	*v = n;
	*end = e;
	return 0;
}

/* parse_duration - "90", "90s", "500ms", "30m", "2h", "1d" to ms */
static int
parse_duration(const char *s, int64_t *ms)
{
	static const struct { const char *unit; int64_t ms; } units[] = {
		{"", SEC}, {"s", SEC}, {"ms", 1}, {"m", 60 * SEC},
		{"h", 3600 * SEC}, {"d", DAY},
	};
	const char *e;
	int64_t n;
	size_t i;

	if (parse_int(s, &n, &e) < 0)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(e, units[i].unit) == 0) {
			if (n > INT64_MAX / units[i].ms)
				return -1;
			*ms = n * units[i].ms;
			return 0;
		}
	return -1;
}

/* parse_word - index of s in a NULL-terminated list, or -1 */
static int
parse_word(const char *s, const char *const *words)
{
	int i;

	for (i = 0; words[i] != NULL; i++)
		if (strcmp(s, words[i]) == 0)
			return i;
	return -1;
}

static const char *const bool_words[] = {"no", "yes", NULL};
static const char *const bool_alt[] = {"false", "true", NULL};

/* bad_word - an unknown word for an enumerated setting, with the valid
 * ones */
static int
bad_word(const struct setting *s, const char *v, char *err, size_t errlen)
{
	const char *const *w = s->type == C_BOOL ? bool_words : s->words;
	size_t len;
	int i;

	snprintf(err, errlen, "%s: bad value \"%s\" (valid: ", s->name, v);
	for (i = 0; w[i] != NULL; i++) {
		len = strlen(err);
		snprintf(err + len, errlen - len, "%s%s", i > 0 ? ", " : "",
		    w[i]);
	}
	len = strlen(err);
	snprintf(err + len, errlen - len, ")");
	return -1;
}

/* set_value - parse one value into its field */
static int
set_value(struct config *c, const struct setting *s, const char *v,
    char *err, size_t errlen)
{
	int64_t *field = (int64_t *)((char *)c + s->off);
	const char *e;
	int64_t n = 0;
	int w;

	switch (s->type) {
	case C_STR:
		if (strlen(v) >= s->size) {
			snprintf(err, errlen, "%s: value longer than %zu bytes",
			    s->name, s->size - 1);
			return -1;
		}
		strcpy((char *)c + s->off, v);
		return 0;
	case C_INT:
		if (parse_int(v, &n, &e) < 0 || *e != '\0')
			goto bad;
		break;
	case C_DURATION:
		if (parse_duration(v, &n) < 0)
			goto bad;
		break;
	case C_BOOL:
		if ((w = parse_word(v, bool_words)) < 0 &&
		    (w = parse_word(v, bool_alt)) < 0)
			goto bad;
		*field = w;
		return 0;
	case C_ENUM:
		if ((w = parse_word(v, s->words)) < 0)
			goto bad;
		*field = w;
		return 0;
	}
	if (n < s->min || n > s->max) {
		snprintf(err, errlen, "%s: %s is out of range", s->name, v);
		return -1;
	}
	*field = n;
	return 0;
bad:
	if (s->type == C_ENUM || s->type == C_BOOL)
		return bad_word(s, v, err, errlen);
	snprintf(err, errlen, "%s: bad value \"%s\"", s->name, v);
	return -1;
}

/* config_set - set one key from text; -1 with a message on error */
int
config_set(struct config *c, const char *key, const char *value,
    char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++)
		if (strcmp(settings[i].name, key) == 0) {
			if (set_value(c, &settings[i], value, err, errlen) < 0)
				return -1;
			c->from[i] = c->setting_from;
			return 0;
		}
	snprintf(err, errlen, "unknown setting \"%s\"", key);
	return -1;
}

/* config_defaults - every setting at its default */
void
config_defaults(struct config *c)
{
	char err[CONFIG_ERRMAX];
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NSETTINGS; i++)
		if (set_value(c, &settings[i], settings[i].def, err,
		    sizeof(err)) < 0)
			abort();	/* a bad default is a build bug */
	c->setting_from = CONFIG_CMDLINE;
}

/* trim - strip leading and trailing white space in place */
static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* config_line - parse "key = value", a comment or a blank line */
static int
config_line(struct config *c, char *line, char *err, size_t errlen)
{
	char *eq, *key, *val;

	line = trim(line);
	if (*line == '\0' || *line == '#')
		return 0;
	if ((eq = strchr(line, '=')) == NULL) {
		snprintf(err, errlen, "expected \"key = value\"");
		return -1;
	}
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	return config_set(c, key, val, err, errlen);
}

/*
 * config_read - settings from an open stream; name is used in messages.
 */
int
config_read(struct config *c, FILE *fp, const char *name, char *err,
    size_t errlen)
{
	char line[2048], why[CONFIG_ERRMAX];
	unsigned int lineno = 0, was = c->setting_from;
	int rc = -1;

	c->setting_from = CONFIG_FILE;
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			snprintf(err, errlen, "%s:%u: line too long", name,
			    lineno);
			goto out;
		}
		if (config_line(c, line, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%u: %s", name, lineno, why);
			goto out;
		}
	}
	if (ferror(fp))
		snprintf(err, errlen, "%s: read error", name);
	else
		rc = 0;
out:
	c->setting_from = (unsigned char)was;
	return rc;
}

/*
 * config_load - read a dracd.conf over the current settings.  A missing
 * file is fine unless must_exist; errors name the file and line.
 */
int
config_load(struct config *c, const char *path, int must_exist,
    char *err, size_t errlen)
{
	FILE *fp;
	int rc;

	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = config_read(c, fp, path, err, errlen);
	fclose(fp);
	return rc;
}

/* config_from - where key's value came from (enum config_from), -1 for an
 * unknown key */
int
config_from(const struct config *c, const char *key)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++)
		if (strcmp(settings[i].name, key) == 0)
			return c->from[i];
	return -1;
}

/* format_duration - ms in the largest unit that keeps it whole */
static void
format_duration(int64_t ms, char *buf, size_t len)
{
	static const struct { const char *unit; int64_t ms; } units[] = {
		{"d", DAY}, {"h", 3600 * SEC}, {"m", 60 * SEC}, {"s", SEC},
	};
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (ms != 0 && ms % units[i].ms == 0) {
			snprintf(buf, len, "%lld%s",
			    (long long)(ms / units[i].ms), units[i].unit);
			return;
		}
	snprintf(buf, len, ms == 0 ? "0" : "%lldms", (long long)ms);
}

/* format_value - one setting's value as dracd.conf would write it */
static void
format_value(const struct config *c, const struct setting *s, char *buf,
    size_t len)
{
	const int64_t *field = (const int64_t *)((const char *)c + s->off);

	switch (s->type) {
	case C_STR:
		snprintf(buf, len, "%s", (const char *)c + s->off);
		break;
	case C_INT:
		snprintf(buf, len, "%lld", (long long)*field);
		break;
	case C_DURATION:
		format_duration(*field, buf, len);
		break;
	case C_BOOL:
		snprintf(buf, len, "%s", bool_words[*field != 0]);
		break;
	case C_ENUM:
		snprintf(buf, len, "%s", s->words[*field]);
		break;
	}
}

/*
 * config_dump - every setting in dracd.conf syntax, grouped by where its
 * value came from (the command line, file, the default), so the output
 * can be read back as a configuration file
 */
void
config_dump(const struct config *c, const char *file, FILE *fp)
{
	static const int order[] = {CONFIG_CMDLINE, CONFIG_FILE,
	    CONFIG_DEFAULT};
	char val[CONFIG_PATHMAX];
	size_t i, k, n;

	for (k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		for (i = n = 0; i < NSETTINGS; i++) {
			if (c->from[i] != order[k])
				continue;
			if (n++ == 0)
				fprintf(fp, "%s# %s%s\n", k > 0 ? "\n" : "",
				    order[k] == CONFIG_CMDLINE ?
				    "from the command line" : order[k] ==
				    CONFIG_FILE ? "from " : "defaults",
				    order[k] == CONFIG_FILE ? file : "");
			format_value(c, &settings[i], val, sizeof(val));
			fprintf(fp, "%s = %s\n", settings[i].name, val);
		}
	}
}

/*
 * config_diff - call fn for each setting whose value differs between a
 * and b, with both values as text and whether a SIGHUP puts it in effect
 */
void
config_diff(const struct config *a, const struct config *b,
    config_diff_fn fn, void *arg)
{
	char va[CONFIG_PATHMAX], vb[CONFIG_PATHMAX];
	size_t i;

	for (i = 0; i < NSETTINGS; i++) {
		format_value(a, &settings[i], va, sizeof(va));
		format_value(b, &settings[i], vb, sizeof(vb));
		if (strcmp(va, vb) != 0)
			fn(arg, settings[i].name, va, vb, settings[i].reload);
	}
}

/*
 * host_name_ok - a DNS name: dot-separated labels of letters, digits and
 * hyphens, 1 to 63 bytes each, no hyphen at either end; 253 bytes in all
 */
static int
host_name_ok(const char *h)
{
	size_t len = strlen(h), lab = 0;
	const char *p;

	if (len == 0 || len > 253)
		return 0;
	for (p = h;; p++) {
		if (*p == '.' || *p == '\0') {
			if (lab == 0 || lab > 63 || p[-1] == '-')
				return 0;
			if (*p == '\0')
				return 1;
			lab = 0;
		} else if ((!isalnum((unsigned char)*p) && *p != '-') ||
		    (lab++ == 0 && *p == '-'))
			return 0;
	}
}

/* site_port - a port number 1 to 65535 and nothing after it */
static int
site_port(const char *s, unsigned int *port)
{
	int64_t n;
	const char *e;

	if (strlen(s) > 5 || parse_int(s, &n, &e) < 0 || *e != '\0' ||
	    n < 1 || n > 65535)
		return -1;
	*port = (unsigned int)n;
	return 0;
}

/* site_host - the host part: an IPv4 address or a DNS name (v6 is the
 * caller's, in brackets); its canonical text into canon */
static int
site_host(const char *h, char *canon, size_t len)
{
	unsigned char bin[4];
	size_t i;

	if (inet_pton(AF_INET, h, bin) == 1)
		return inet_ntop(AF_INET, bin, canon, (socklen_t)len) ==
		    NULL ? -1 : 0;
	if (strspn(h, "0123456789.") == strlen(h) || !host_name_ok(h))
		return -1;
	for (i = 0; h[i] != '\0' && i + 1 < len; i++)
		canon[i] = (char)tolower((unsigned char)h[i]);
	canon[i] = '\0';
	return 0;
}

/* site_v6 - the inside of "[...]": an IPv6 address, canonical into canon */
static int
site_v6(const char *h, char *canon, size_t len)
{
	unsigned char bin[16];

	if (inet_pton(AF_INET6, h, bin) != 1 ||
	    inet_ntop(AF_INET6, bin, canon, (socklen_t)len) == NULL)
		return -1;
	return 0;
}

/*
 * config_site - parse one group member, "HOST:PORT" or "[IPV6]:PORT"
 * (HOST an IPv4 address or a DNS name); -1 with a message on error.
 * canon is the member written one way, for comparing two of them.
 */
int
config_site(const char *spec, struct config_site *s, char *err,
    size_t errlen)
{
	char canon[CONFIG_SITEMAX];
	const char *colon, *close;
	int v6 = spec[0] == '[';

	memset(s, 0, sizeof(*s));
	if (strlen(spec) >= sizeof(s->host)) {
		snprintf(err, errlen, "\"%.40s...\": longer than %zu bytes",
		    spec, sizeof(s->host) - 1);
		return -1;
	}
	if (v6) {
		if ((close = strchr(spec, ']')) == NULL || close[1] != ':')
			goto bad;
		memcpy(s->host, spec + 1, (size_t)(close - spec - 1));
		colon = close + 1;
	} else {
		if ((colon = strrchr(spec, ':')) == NULL)
			goto bad;
		if (strchr(spec, ':') != colon) {
			snprintf(err, errlen, "\"%s\": write an IPv6 address "
			    "in brackets, [ADDR]:PORT", spec);
			return -1;
		}
		memcpy(s->host, spec, (size_t)(colon - spec));
	}
	if ((v6 ? site_v6(s->host, canon, sizeof(canon)) :
	    site_host(s->host, canon, sizeof(canon))) < 0) {
		snprintf(err, errlen, "\"%s\": \"%s\" is not %s", spec,
		    s->host, v6 ? "an IPv6 address" :
		    "an IPv4 address or a host name");
		return -1;
	}
	if (site_port(colon + 1, &s->port) < 0) {
		snprintf(err, errlen, "\"%s\": bad port \"%s\" (want 1 to "
		    "65535)", spec, colon + 1);
		return -1;
	}
	snprintf(s->canon, sizeof(s->canon), v6 ? "[%s]:%u" : "%s:%u", canon,
	    s->port);
	return 0;
bad:
	snprintf(err, errlen, "\"%s\": want HOST:PORT or [IPV6]:PORT", spec);
	return -1;
}

/*
 * config_sites_next - the next member of a group_sites list (separated by
 * commas and/or white space) into buf, advancing *cursor; NULL at the end.
 * A member longer than buf is cut to fit (and then fails config_site).
 */
const char *
config_sites_next(const char **cursor, char *buf, size_t len)
{
	const char *p = *cursor;
	size_t n;

	p += strspn(p, ", \t");
	if (*p == '\0' || len == 0)
		return NULL;
	n = strcspn(p, ", \t");
	*cursor = p + n;
	if (n >= len)
		n = len - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}
