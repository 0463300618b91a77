/*
 * drac-cli - dracd's command-line client, for administrators and scripts
 * (Dovecot's post-login hook, Exim's ${run}, cron).
 *
 * Exit status: 0 success or allowed, 1 not allowed or not found, 2 any
 * error, with one line on standard error naming the cause.
 */
#include <err.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drac.h"

#ifndef DRACD_VERSION
#define DRACD_VERSION "unknown"
#endif

#define EX_NO	1
#define EX_ERR	2

struct cli {
	const char *servers;
	struct drac_options o;
	drac_t *h;
};

static void
usage(FILE *fp, int status)
{
	fprintf(fp,
	    "usage: drac-cli [-s host[:port][,...]] [-t seconds] [--tcp] "
	    "[-k keyfile] command\n"
	    "commands:\n"
	    "  add ADDR [--ttl SECONDS] [--user NAME]   grant ADDR\n"
	    "  add -                                    grant each \"ADDR "
	    "[USER]\" line of stdin\n"
	    "  check ADDR                               0 if allowed, 1 if "
	    "not\n"
	    "  del ADDR                                 remove (admin)\n"
	    "  list [--json]                            every entry (admin)\n"
	    "  stats [--json]                           counters (admin)\n"
	    "  flush                                    remove all (admin)\n"
	    "  ping                                     is the server there?\n"
	    "  group                                    each server's place in "
	    "its group:\n"
	    "                                           0 in a group, 1 not, "
	    "2 no answer\n"
	    "  health [--intervals N]                   one line; exit 0 OK,\n"
	    "                                           1 WARNING, 2 CRITICAL\n"
	    "The server defaults to $DRAC_SERVER, else localhost.\n");
	exit(status);
}

/* fail - report a library error for what and exit 2 */
static void __attribute__((noreturn))
fail(const char *what, int rc)
{
	errx(EX_ERR, "%s: %s", what, drac_strerror(rc));
}

/* iso - an epoch as UTC ISO 8601 */
static const char *
iso(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
	return buf;
}

/*
 * utf8_next - the length of the valid UTF-8 sequence at p (its code point
 * in *cp), or 0 for a byte that starts none: overlong forms, surrogates
 * and code points past U+10FFFF are invalid.
 */
static size_t
utf8_next(const unsigned char *p, uint32_t *cp)
{
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	size_t len, i;
	uint32_t c;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)	/* a NUL ends here too */
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* printable - a code point safe to print raw: no C0 or C1 control, DEL,
 * line or paragraph separator, or bidirectional control */
static int
printable(uint32_t c)
{
	return c >= 0x20 && c != 0x7f && !(c >= 0x80 && c <= 0x9f) &&
	    c != 0x2028 && c != 0x2029 && c != 0x200e && c != 0x200f &&
	    !(c >= 0x202a && c <= 0x202e) && !(c >= 0x2066 && c <= 0x2069);
}

/*
 * print_text - a server-supplied string for a terminal or a script:
 * printable UTF-8 as is, a backslash as \\, anything else byte by byte
 * as \xNN.
 */
static void
print_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c;
	size_t n, i;

	while (*p != '\0') {
		n = utf8_next(p, &c);
		if (n > 0 && c == '\\')
			fputs("\\\\", stdout);
		else if (n > 0 && printable(c))
			fwrite(p, 1, n, stdout);
		else
			for (i = 0; i < (n > 0 ? n : 1); i++)
				printf("\\x%02x", p[i]);
		p += n > 0 ? n : 1;
	}
}

/*
 * json_str - a server-supplied string as a JSON literal, always valid
 * JSON: printable UTF-8 as is, other code points as \uXXXX, and each byte
 * that is not UTF-8 as U+FFFD (the text output keeps the byte as \xNN).
 */
static void
json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c;
	size_t n;

	putchar('"');
	while (*p != '\0') {
		n = utf8_next(p, &c);
		if (n == 0)
			fputs("\\ufffd", stdout);
		else if (c == '"' || c == '\\')
			printf("\\%c", (int)c);
		else if (printable(c))
			fwrite(p, 1, n, stdout);
		else
			printf("\\u%04x", (unsigned int)c);
		p += n > 0 ? n : 1;
	}
	putchar('"');
}

/* parse_ttl - whole seconds, 1 to 2^32-1 */
static unsigned int
parse_ttl(const char *s)
{
	char *e;
	unsigned long long v = strtoull(s, &e, 10);

	if (*s < '0' || *s > '9' || *e != '\0' || v == 0 || v > 0xffffffffULL)
		errx(EX_ERR, "bad --ttl \"%s\": want whole seconds > 0", s);
	return (unsigned int)v;
}

/*
 * user_problem - what is wrong with a --user name for dracd, or NULL: the
 * server refuses control characters (a tab would also split the map's
 * and drac-cli list's columns) and names past DRAC_USERMAX bytes
 */
static const char *
user_problem(const char *u, char *buf, size_t len)
{
	const unsigned char *p;

	if (strlen(u) > DRAC_USERMAX) {
		snprintf(buf, len, "longer than %d bytes", DRAC_USERMAX);
		return buf;
	}
	for (p = (const unsigned char *)u; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f) {
			snprintf(buf, len, "%s at byte %zu", *p == '\t' ?
			    "a tab" : *p == '\n' ? "a newline" :
			    "a control character", (size_t)(p -
			    (const unsigned char *)u) + 1);
			return buf;
		}
	return NULL;
}

/* legacy_note - say when the add went through DRAC 1.x's version 1/2,
 * which carry neither --ttl nor --user */
static void
legacy_note(struct cli *c, const char *addr, unsigned int ttl,
    const char *user)
{
	unsigned int n = drac_add_legacy(c->h);

	if (n > 0 && (ttl > 0 || user != NULL))
		warnx("%s: granted by %u DRAC 1.x server%s without %s%s%s "
		    "(protocol versions 1 and 2 carry neither)", addr, n,
		    n > 1 ? "s" : "", ttl > 0 ? "--ttl" : "",
		    ttl > 0 && user != NULL ? " and " : "",
		    user != NULL ? "--user" : "");
}

/* add_stdin - one add per "ADDR [USER]" line; comments and blanks skip */
static int
add_stdin(struct cli *c, unsigned int ttl)
{
	char line[512], *addr, *user, *save = NULL, wbuf[64];
	const char *why;
	unsigned long n = 0;
	int rc, status = 0;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		n++;
		if (strchr(line, '\n') == NULL && !feof(stdin)) {
			warnx("line %lu: too long", n);
			status = EX_ERR;
			while (fgets(line, sizeof(line), stdin) != NULL &&
			    strchr(line, '\n') == NULL)
				;
			continue;
		}
		if ((addr = strtok_r(line, " \t\r\n", &save)) == NULL ||
		    *addr == '#')
			continue;
		user = strtok_r(NULL, "\r\n", &save);
		if (user != NULL && (why = user_problem(user, wbuf,
		    sizeof(wbuf))) != NULL) {
			warnx("line %lu: user name: %s", n, why);
			status = EX_ERR;
		} else if ((rc = drac_add(c->h, addr, ttl, user)) < 0) {
			warnx("line %lu: add %s: %s", n, addr,
			    drac_strerror(rc));
			status = EX_ERR;
		} else
			legacy_note(c, addr, ttl, user);
	}
	return status;
}

/* cmd_add - add ADDR [--ttl N] [--user NAME], or add - */
static int
cmd_add(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"ttl", required_argument, NULL, 't'},
		{"user", required_argument, NULL, 'u'},
		{NULL, 0, NULL, 0},
	};
	unsigned int ttl = 0;
	const char *user = NULL, *why;
	char wbuf[64];
	int ch, rc;

	optind = 0;	/* 0: glibc starts a fresh scan */
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1)
		switch (ch) {
		case 't': ttl = parse_ttl(optarg); break;
		case 'u': user = optarg; break;
		default: usage(stderr, EX_ERR);
		}
	if (argc - optind != 1)
		usage(stderr, EX_ERR);
	if (user != NULL && (why = user_problem(user, wbuf,
	    sizeof(wbuf))) != NULL)
		errx(EX_ERR, "bad --user: %s", why);
	if (strcmp(argv[optind], "-") == 0)
		return add_stdin(c, ttl);
	if ((rc = drac_add(c->h, argv[optind], ttl, user)) < 0)
		fail(argv[optind], rc);
	legacy_note(c, argv[optind], ttl, user);
	return 0;
}

/* one_addr - the single ADDR operand of check and del */
static const char *
one_addr(int argc, char **argv)
{
	if (argc != 2)
		usage(stderr, EX_ERR);
	return argv[1];
}

/* cmd_check - prints the grant; 0 allowed, 1 not */
static int
cmd_check(struct cli *c, int argc, char **argv)
{
	const char *a = one_addr(argc, argv);
	struct drac_entry e;
	char t[64];
	int rc;

	if ((rc = drac_check(c->h, a, &e)) < 0)
		fail(a, rc);
	if (rc == 0) {
		printf("%s not allowed\n", a);
		return EX_NO;
	}
	printf("%s allowed until %s (%lld)%s", e.addr,
	    iso(e.expires, t, sizeof(t)), (long long)e.expires,
	    e.user[0] ? " user " : "");
	print_text(e.user);
	putchar('\n');
	return 0;
}

/* cmd_del - 0 removed, 1 was not there */
static int
cmd_del(struct cli *c, int argc, char **argv)
{
	const char *a = one_addr(argc, argv);
	int rc = drac_del(c->h, a);

	if (rc == DRAC_E_NOTFOUND) {
		fprintf(stderr, "drac-cli: %s: not found\n", a);
		return EX_NO;
	}
	if (rc < 0)
		fail(a, rc);
	return 0;
}

/* want_json - the optional --json of list and stats */
static int
want_json(int argc, char **argv)
{
	if (argc == 1)
		return 0;
	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		return 1;
	usage(stderr, EX_ERR);
	return 0;
}

/* cmd_list - every entry: tab-separated lines or a JSON array */
static int
cmd_list(struct cli *c, int argc, char **argv)
{
	int json = want_json(argc, argv), rc, n = 0;
	struct drac_entry e;
	drac_list_t *l;
	char t[64];

	if ((rc = drac_list_open(c->h, &l)) < 0)
		fail("list", rc);
	if (json)
		printf("[");
	while ((rc = drac_list_next(l, &e)) == 1) {
		if (json) {
			printf("%s\n {\"addr\": \"%s\", \"expires\": %lld, "
			    "\"first_seen\": %lld, \"adds\": %u, \"user\": ",
			    n ? "," : "", e.addr, (long long)e.expires,
			    (long long)e.first_seen, e.adds);
			json_str(e.user);
			printf("}");
		} else {
			printf("%s\t%s\t%u\t", e.addr, iso(e.expires, t,
			    sizeof(t)), e.adds);
			print_text(e.user);
			putchar('\n');
		}
		n++;
	}
	drac_list_close(l);
	if (json)
		printf("%s]\n", n ? "\n" : "");
	if (rc < 0)
		fail("list", rc);
	return 0;
}

/* role_name - a member's role as drac-cli group prints it */
static const char *
role_name(int role)
{
	return role == DRAC_GROUP_MASTER ? "master" :
	    role == DRAC_GROUP_REPLICA ? "replica" : "joining";
}

/* stats_group - with stats, the group lines of a member (none on a
 * single host or a dracd that predates groups); more: JSON members came
 * before */
static void
stats_group(struct cli *c, int json, int more)
{
	struct drac_group g;

	if (drac_group(c->h, &g) < 0 || !g.enabled)
		return;
	if (json) {
		printf("%s\"group_role\": \"%s\", \"group_master\": ",
		    more ? ", " : "", role_name(g.role));
		json_str(g.master);
		printf(", \"group_seq\": %llu", (unsigned long long)g.seq);
		return;
	}
	printf("group_role %s\ngroup_master ", role_name(g.role));
	print_text(g.master[0] != '\0' ? g.master : "-");
	printf("\ngroup_seq %llu\n", (unsigned long long)g.seq);
}

/* cmd_stats - every counter as "name value" lines or a JSON object */
static int
cmd_stats(struct cli *c, int argc, char **argv)
{
	int json = want_json(argc, argv), rc;
	struct drac_counter *s;
	size_t i, n;

	if ((rc = drac_stats_list(c->h, &s, &n)) < 0)
		fail("stats", rc);
	for (i = 0; i < n; i++)
		if (json)
			printf("%s\"%s\": %llu", i ? ", " : "{", s[i].name,
			    (unsigned long long)s[i].value);
		else
			printf("%s %llu\n", s[i].name,
			    (unsigned long long)s[i].value);
	if (json && n == 0)
		printf("{");
	stats_group(c, json, n > 0);
	if (json)
		printf("}\n");
	drac_stats_free(s);
	return 0;
}

/* counter - a named counter of a drac_stats_list answer; 0 if absent */
static int
counter(const struct drac_counter *s, size_t n, const char *name,
    uint64_t *v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s[i].name, name) == 0) {
			*v = s[i].value;
			return 1;
		}
	*v = 0;
	return 0;
}

/*
 * health_judge - the Nagios state of a server's counters and its line.
 * The map is rewritten only when the table changed, so an old map is no
 * fault by itself; write failures are: CRITICAL while no write succeeded
 * within intervals sync intervals (the map is failing now), WARNING once
 * one has (it failed, then recovered).
 */
static int
health_judge(const struct drac_counter *s, size_t n, unsigned int intervals,
    char *line, size_t len)
{
	uint64_t fails, written, now, sync, entries, window, age;

	if (!counter(s, n, "map_write_failures", &fails) ||
	    !counter(s, n, "map_written", &written) ||
	    !counter(s, n, "now", &now)) {
		snprintf(line, len, "DRAC WARNING - the server answers but "
		    "does not report its map writes (older dracd)");
		return EX_NO;
	}
	counter(s, n, "sync_interval_ms", &sync);
	counter(s, n, "entries", &entries);
	/* with sync_interval 0, writes are immediate: allow a second */
	window = (uint64_t)intervals * (sync > 1000 ? sync / 1000 : 1);
	age = written > 0 && now >= written ? now - written : UINT64_MAX;
	if (fails > 0 && age > window) {
		snprintf(line, len, "DRAC CRITICAL - %llu map write failure%s, "
		    "no good write within %llu s | entries=%llu "
		    "map_write_failures=%llu", (unsigned long long)fails,
		    fails > 1 ? "s" : "", (unsigned long long)window,
		    (unsigned long long)entries, (unsigned long long)fails);
		return EX_ERR;
	}
	if (fails > 0) {
		snprintf(line, len, "DRAC WARNING - %llu map write failure%s "
		    "since start; last good write %llu s ago | entries=%llu "
		    "map_write_failures=%llu", (unsigned long long)fails,
		    fails > 1 ? "s" : "", (unsigned long long)age,
		    (unsigned long long)entries, (unsigned long long)fails);
		return EX_NO;
	}
	snprintf(line, len, "DRAC OK - %llu entr%s, no map write failures | "
	    "entries=%llu map_write_failures=0", (unsigned long long)entries,
	    entries == 1 ? "y" : "ies", (unsigned long long)entries);
	return 0;
}

/* cmd_health - one line on stdout; exit 0 OK, 1 WARNING, 2 CRITICAL
 * (a server that does not answer is CRITICAL) */
static int
cmd_health(struct cli *c, int argc, char **argv)
{
	unsigned int intervals = 3;
	struct drac_counter *s;
	char line[512];
	size_t n;
	int rc;

	if (argc == 3 && strcmp(argv[1], "--intervals") == 0) {
		char *e;
		unsigned long v = strtoul(argv[2], &e, 10);

		if (argv[2][0] < '0' || argv[2][0] > '9' || *e != '\0' ||
		    v < 1 || v > 1000)
			errx(EX_ERR, "bad --intervals \"%s\": want 1 to 1000",
			    argv[2]);
		intervals = (unsigned int)v;
	} else if (argc != 1)
		usage(stderr, EX_ERR);
	if ((rc = drac_stats_list(c->h, &s, &n)) < 0) {
		printf("DRAC CRITICAL - %s: %s\n", c->servers,
		    drac_strerror(rc));
		return EX_ERR;
	}
	rc = health_judge(s, n, intervals, line, sizeof(line));
	drac_stats_free(s);
	printf("%s\n", line);
	return rc;
}

#define GROUP_MAX	16	/* servers drac-cli group asks */

/* one server's answer to drac-cli group */
struct member {
	char server[300];	/* as given with -s */
	int rc;			/* 0 answered, or a DRAC_E_* code */
	struct drac_group g;
};

/* group_ask - what server knows of its group, on a handle of its own so
 * that each server answers for itself */
static void
group_ask(struct cli *c, struct member *m)
{
	drac_t *h;

	if ((m->rc = drac_open(&h, m->server, &c->o)) < 0)
		return;
	m->rc = drac_group(h, &m->g);
	drac_close(h);
}

/* group_master - the master's answer among those given, or NULL */
static const struct member *
group_master(const struct member *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (m[i].rc == 0 && m[i].g.enabled &&
		    m[i].g.role == DRAC_GROUP_MASTER)
			return &m[i];
	return NULL;
}

/*
 * group_lag - how far m is behind master's own answer: log bytes (same
 * log file only) and the master's commit times of the two last changes;
 * "?" for what cannot be told
 */
static void
group_lag(const struct member *m, const struct member *master, char *buf,
    size_t len)
{
	const struct drac_group *g = &m->g, *mg;
	char bytes[32] = "?", ms[32] = "?";

	if (master != NULL) {
		mg = &master->g;
		if (g->log_file == mg->log_file)
			snprintf(bytes, sizeof(bytes), "%llu",
			    (unsigned long long)(mg->log_offset > g->log_offset
			    ? mg->log_offset - g->log_offset : 0));
		if (g->seq >= mg->seq)
			snprintf(ms, sizeof(ms), "0");
		else if (g->seq_ms > 0 && mg->seq_ms >= g->seq_ms)
			snprintf(ms, sizeof(ms), "%lld",
			    (long long)(mg->seq_ms - g->seq_ms));
	}
	snprintf(buf, len, "lag_bytes=%s lag_ms=%s", bytes, ms);
}

/* group_self - the member's own group address, "-" if not listed */
static const char *
group_self(const struct drac_group *g)
{
	unsigned int i;

	for (i = 0; i < g->nsites; i++)
		if (g->sites[i].self)
			return g->sites[i].addr;
	return "-";
}

/* group_line - one member's line */
static void
group_line(const struct member *m, const struct member *master)
{
	const struct drac_group *g = &m->g;
	char lag[96];

	if (m->rc < 0) {
		printf("%s no answer: %s\n", m->server, drac_strerror(m->rc));
		return;
	}
	if (!g->enabled) {
		printf("%s not in a group (single host)\n", m->server);
		return;
	}
	group_lag(m, master, lag, sizeof(lag));
	printf("%s role=%s member=", m->server, role_name(g->role));
	print_text(group_self(g));
	printf(" master=");
	print_text(g->master[0] != '\0' ? g->master : "-");
	printf(" log=%u/%u seq=%llu %s\n", (unsigned)g->log_file,
	    (unsigned)g->log_offset, (unsigned long long)g->seq, lag);
}

/* group_sites - the site list of the first member in a group */
static void
group_sites(const struct member *m, size_t n)
{
	const struct drac_group *g;
	unsigned int i;
	size_t k;

	for (k = 0; k < n && (m[k].rc < 0 || !m[k].g.enabled); k++)
		;
	if (k == n)
		return;
	g = &m[k].g;
	for (i = 0; i < g->nsites; i++) {
		printf("site ");
		print_text(g->sites[i].addr);
		printf(" %s%s%s (seen by %s)\n", g->sites[i].connected ?
		    "connected" : "not-connected", g->sites[i].master ?
		    " master" : "", g->sites[i].self ? " self" : "",
		    m[k].server);
	}
}

/*
 * cmd_group - ask every server given (-s a,b,c) for its place in its
 * group: a line each, then the sites the first one in a group knows.
 * Exit 0 when one answered in a group, 1 when those that answered are
 * single hosts, 2 when none answered.
 */
static int
cmd_group(struct cli *c, int argc, char **argv)
{
	char buf[2048], *tok, *save = NULL;
	struct member *m;
	size_t n = 0, i, answered = 0, grouped = 0;

	(void)argv;
	if (argc != 1)
		usage(stderr, EX_ERR);
	if (snprintf(buf, sizeof(buf), "%s", c->servers) >= (int)sizeof(buf))
		errx(EX_ERR, "server list longer than %zu bytes",
		    sizeof(buf) - 1);
	if ((m = calloc(GROUP_MAX, sizeof(*m))) == NULL)
		err(EX_ERR, "calloc");
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (n == GROUP_MAX)
			errx(EX_ERR, "more than %d servers", GROUP_MAX);
		if (snprintf(m[n].server, sizeof(m[n].server), "%s", tok) >=
		    (int)sizeof(m[n].server))
			errx(EX_ERR, "%.40s...: server name too long", tok);
		group_ask(c, &m[n]);
		answered += m[n].rc == 0;
		grouped += m[n].rc == 0 && m[n].g.enabled;
		n++;
	}
	for (i = 0; i < n; i++)
		group_line(&m[i], group_master(m, n));
	group_sites(m, n);
	free(m);
	return answered == 0 ? EX_ERR : grouped == 0 ? EX_NO : 0;
}

/* cmd_flush - empty the table */
static int
cmd_flush(struct cli *c, int argc, char **argv)
{
	int rc;

	(void)argv;
	if (argc != 1)
		usage(stderr, EX_ERR);
	if ((rc = drac_flush(c->h)) < 0)
		fail("flush", rc);
	return 0;
}

/* cmd_ping - 0 when every server answers */
static int
cmd_ping(struct cli *c, int argc, char **argv)
{
	int rc;

	(void)argv;
	if (argc != 1)
		usage(stderr, EX_ERR);
	if ((rc = drac_ping(c->h)) < 0)
		fail(c->servers, rc);
	printf("%s is alive\n", c->servers);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct cli *, int, char **);
} commands[] = {
	{"add", cmd_add}, {"check", cmd_check}, {"del", cmd_del},
	{"list", cmd_list}, {"stats", cmd_stats}, {"flush", cmd_flush},
	{"ping", cmd_ping}, {"health", cmd_health}, {"group", cmd_group},
};

/* parse_timeout - seconds, decimals allowed, to milliseconds */
static unsigned int
parse_timeout(const char *s)
{
	char *e;
	double v = strtod(s, &e);

	if (*s < '0' || *s > '9' || *e != '\0' || v < 0.001 || v > 3600)
		errx(EX_ERR, "bad -t \"%s\": want seconds, 0.001 to 3600", s);
	return (unsigned int)(v * 1000 + 0.5);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"server", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{"tcp", no_argument, NULL, 'T'},
		{"key", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct cli c;
	size_t i;
	int ch, rc;

	memset(&c, 0, sizeof(c));
	c.servers = getenv("DRAC_SERVER");
	if (c.servers == NULL || *c.servers == '\0')
		c.servers = "localhost";
	while ((ch = getopt_long(argc, argv, "+s:t:k:hV", opts, NULL)) != -1)
		switch (ch) {
		case 's': c.servers = optarg; break;
		case 't': c.o.timeout_ms = parse_timeout(optarg); break;
		case 'T': c.o.transport = DRAC_TCP; break;
		case 'k': c.o.add_key_file = optarg; break;
		case 'h': usage(stdout, 0); break;
		case 'V': printf("drac-cli %s\n", DRACD_VERSION); return 0;
		default: usage(stderr, EX_ERR);
		}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage(stderr, EX_ERR);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0]))
		errx(EX_ERR, "unknown command \"%s\" (try --help)", argv[0]);
	if ((rc = drac_open(&c.h, c.servers, &c.o)) < 0)
		fail(c.o.add_key_file != NULL && rc == DRAC_E_KEY ?
		    c.o.add_key_file : c.servers, rc);
	rc = commands[i].fn(&c, argc, argv);
	drac_close(c.h);
	return rc;
}
