/*
 * pattern.c - the log formats of POP and IMAP servers, and custom ones.
 *
 * Each built-in format is one or more POSIX extended expressions with the
 * numbers of the groups that hold the client's address and the user.  The
 * expressions match successful logins only, anywhere in a line, so a
 * syslog prefix, a server's own log prefix and a journal line alike
 * match.  The formats are those pop-before-smtp's configuration
 * catalogues (a fact about each server's log, not its code), widened to
 * IPv6.  A custom expression names its parts (?<addr>...) and
 * (?<user>...); they become plain groups before regcomp.
 *
 * The set is built once and read-only afterwards (regexec is reentrant).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pattern.h"

#define PAT_GROUPS	12	/* groups a match reports */
#define PAT_MAX		64	/* expressions in one set */
#define IP		"([0-9A-Fa-f:.]+)"

struct builtin {
	const char *format;
	const char *re;
	int addr, user;		/* group numbers; user 0: none */
};

static const struct builtin builtins[] = {
	/* 2.x: "pop3-login: [Info: ]Login: user=<u>, method=..., rip=A, ..." */
	{"dovecot", "(pop3|imap|submission|managesieve)-login: (Info: )?"
	    "Login: user=<([^>]*)>,.* rip=" IP, 4, 3},
	/* 1.x: "imap-login: Login: u [A]" */
	{"dovecot", "(pop3|imap)-login: (Info: )?Login: ([^ ]+) \\[" IP "\\]",
	    4, 3},
	/* "pop3d: LOGIN, user=u, ip=[::ffff:A]" (courierpop3login too) */
	{"courier", "(courier)?(pop3|imap)(login|d|d-ssl): LOGIN, "
	    "user=([^,]+), ip=\\[" IP "\\]", 5, 4},
	/* "qpopper[1]: (v4.1) POP login by user "u" at (host) A" */
	{"qpopper", "popper(\\[[0-9]+\\])?: \\([^)]*\\) POP login by user "
	    "\"([^\"]+)\" at \\([^)]*\\) " IP, 3, 2},
	/* Qpopper's own log: "[popper] (v4.1) POP login by user ..." */
	{"qpopper", "\\[popper\\] \\([^)]*\\) POP login by user "
	    "\"([^\"]+)\" at \\([^)]*\\) " IP, 2, 1},
	/* "popper[1]: Stats: u 0 0 1 2 host A", written as a session ends */
	{"qpopper", "popper\\[[0-9]+\\]: Stats: ([^ ]+) [0-9]+ [0-9]+ "
	    "[0-9]+ [0-9]+ ([^ ]+ )?" IP "$", 3, 1},
	/* "ipop3d[1]: Login user=u host=name [A]", [tag] before it too */
	{"uw", "(ipop3s?d|imaps?d)\\[[0-9]+\\]: (\\[[^]]*\\] ?)?"
	    "(Login|Authenticated|Auth|APOP) user=([^ ]+) host=([^ ]+ )?"
	    "\\[" IP "\\]", 6, 4},
	/* "imap[1]: login: name [A] u plaintext User logged in" */
	{"cyrus", "(pop3|imap)[ds]?\\[[0-9]+\\]: login: ([^ []+ )?"
	    "\\[" IP "\\] ([^ ]+)", 3, 4},
};

#define NBUILTINS (sizeof(builtins) / sizeof(builtins[0]))

struct pat {
	regex_t re;
	int addr, user;
	const char *format;
};

struct patterns {
	struct pat p[PAT_MAX];
	size_t n;
};

/* patterns_new - an empty set */
struct patterns *
patterns_new(void)
{
	return calloc(1, sizeof(struct patterns));
}

/* compile - add one expression; -1 with err set */
static int
compile(struct patterns *ps, const char *re, int addr, int user,
    const char *format, char *err, size_t errlen)
{
	struct pat *p;
	int rc;

	if (ps->n == PAT_MAX) {
		snprintf(err, errlen, "more than %d patterns", PAT_MAX);
		return -1;
	}
	p = &ps->p[ps->n];
	if ((rc = regcomp(&p->re, re, REG_EXTENDED)) != 0) {
		char why[128];

		regerror(rc, &p->re, why, sizeof(why));
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if ((size_t)addr > p->re.re_nsub || (size_t)user > p->re.re_nsub ||
	    addr >= PAT_GROUPS || user >= PAT_GROUPS) {
		regfree(&p->re);
		snprintf(err, errlen, "too many groups");
		return -1;
	}
	p->addr = addr;
	p->user = user;
	p->format = format;
	ps->n++;
	return 0;
}

/* patterns_add_format - every expression of a built-in format */
int
patterns_add_format(struct patterns *ps, const char *name, char *err,
    size_t errlen)
{
	size_t i;
	int found = 0;

	for (i = 0; i < NBUILTINS; i++) {
		if (strcmp(builtins[i].format, name) != 0)
			continue;
		found = 1;
		if (compile(ps, builtins[i].re, builtins[i].addr,
		    builtins[i].user, builtins[i].format, err, errlen) < 0)
			return -1;
	}
	if (!found)
		snprintf(err, errlen, "unknown format \"%s\" (known: %s)", name,
		    patterns_format_names());
	return found ? 0 : -1;
}

/* patterns_add_all - every built-in format */
int
patterns_add_all(struct patterns *ps)
{
	char err[160];
	size_t i;

	for (i = 0; i < NBUILTINS; i++)
		if (compile(ps, builtins[i].re, builtins[i].addr,
		    builtins[i].user, builtins[i].format, err, sizeof(err)) < 0)
			return -1;
	return 0;
}

/* patterns_format_names - "dovecot, courier, ..." (static text) */
const char *
patterns_format_names(void)
{
	return "dovecot, courier, qpopper, uw, cyrus";
}

/* skip_bracket - past a bracket expression starting at s ('['), or NULL */
static const char *
skip_bracket(const char *s)
{
	s++;
	if (*s == '^')
		s++;
	if (*s == ']')
		s++;
	for (; *s != '\0' && *s != ']'; s++)
		if (*s == '[' && (s[1] == ':' || s[1] == '.' || s[1] == '=')) {
			const char *end = strchr(s + 2, s[1]);

			if (end == NULL || end[1] != ']')
				return NULL;
			s = end + 1;
		}
	return *s == ']' ? s : NULL;
}

/*
 * name_groups - copy re to out without its "?<addr>" and "?<user>"
 * markers, noting their group numbers; -1 if re is malformed or a part
 * is missing or named twice.
 */
static int
name_groups(const char *re, char *out, size_t outlen, int *addr, int *user)
{
	size_t n = 0, len = strlen(re);
	int group = 0;

	*addr = *user = 0;
	if (len >= outlen)
		return -1;
	for (const char *s = re; *s != '\0'; s++) {
		const char *from = s;

		if (*s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '[' && (s = skip_bracket(s)) == NULL)
			return -1;
		else if (*s == '(') {
			group++;
			if (strncmp(s, "(?<addr>", 8) == 0 ||
			    strncmp(s, "(?<user>", 8) == 0) {
				int *which = s[3] == 'a' ? addr : user;

				if (*which != 0)
					return -1;
				*which = group;
				out[n++] = '(';
				s += 7;
				continue;
			}
		}
		memcpy(out + n, from, (size_t)(s - from) + 1);
		n += (size_t)(s - from) + 1;
	}
	out[n] = '\0';
	return *addr == 0 ? -1 : 0;
}

/* patterns_add_regex - a custom expression with (?<addr>) and (?<user>) */
int
patterns_add_regex(struct patterns *ps, const char *regex, char *err,
    size_t errlen)
{
	char plain[1024];
	int addr, user;

	if (name_groups(regex, plain, sizeof(plain), &addr, &user) < 0) {
		snprintf(err, errlen, "a custom pattern needs one (?<addr>...) "
		    "part, at most one (?<user>...) part, and at most %zu "
		    "bytes", sizeof(plain) - 1);
		return -1;
	}
	return compile(ps, plain, addr, user, "custom", err, errlen);
}

/* canonical - the address text as inet_ntop writes it, v4-mapped folded */
static int
canonical(const char *in, size_t len, char *out, size_t outlen)
{
	unsigned char b[16];
	char text[LOGIN_ADDRMAX];

	if (len == 0 || len >= sizeof(text))
		return -1;
	memcpy(text, in, len);
	text[len] = '\0';
	if (inet_pton(AF_INET, text, b) == 1)
		return inet_ntop(AF_INET, b, out, (socklen_t)outlen) ? 0 : -1;
	if (inet_pton(AF_INET6, text, b) != 1)
		return -1;
	if (memcmp(b, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
		return inet_ntop(AF_INET, b + 12, out, (socklen_t)outlen) ?
		    0 : -1;
	return inet_ntop(AF_INET6, b, out, (socklen_t)outlen) ? 0 : -1;
}

/* user_copy - a printable user name, or "" when it is not one */
static void
user_copy(const char *in, size_t len, char *out)
{
	size_t i;

	out[0] = '\0';
	if (len > LOGIN_USERMAX)
		return;
	for (i = 0; i < len; i++)
		if ((unsigned char)in[i] < 0x20 || in[i] == 0x7f)
			return;
	memcpy(out, in, len);
	out[len] = '\0';
}

/* patterns_match - 1 and the login when line is one, else 0 */
int
patterns_match(const struct patterns *ps, const char *line,
    struct login *out)
{
	regmatch_t m[PAT_GROUPS];
	size_t i;

	for (i = 0; i < ps->n; i++) {
		const struct pat *p = &ps->p[i];
		const regmatch_t *a;

		if (regexec(&p->re, line, PAT_GROUPS, m, 0) != 0)
			continue;
		a = &m[p->addr];
		if (a->rm_so < 0 || canonical(line + a->rm_so,
		    (size_t)(a->rm_eo - a->rm_so), out->addr,
		    sizeof(out->addr)) < 0)
			continue;
		out->user[0] = '\0';
		if (p->user > 0 && m[p->user].rm_so >= 0)
			user_copy(line + m[p->user].rm_so,
			    (size_t)(m[p->user].rm_eo - m[p->user].rm_so),
			    out->user);
		out->format = p->format;
		return 1;
	}
	return 0;
}

/* patterns_count - how many expressions the set holds */
size_t
patterns_count(const struct patterns *ps)
{
	return ps->n;
}

/* patterns_free - release a set */
void
patterns_free(struct patterns *ps)
{
	size_t i;

	if (ps == NULL)
		return;
	for (i = 0; i < ps->n; i++)
		regfree(&ps->p[i].re);
	free(ps);
}

/* zone - seconds east of UTC from "Z", "+hh:mm" or "-hhmm"; -1 if none */
static int
zone(const char *s, long *off)
{
	int sign, h, m;

	if (*s == 'Z') {
		*off = 0;
		return 0;
	}
	if (*s != '+' && *s != '-')
		return -1;
	sign = *s++ == '-' ? -1 : 1;
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	s += 2;
	if (*s == ':')
		s++;
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
		return -1;
	m = (s[0] - '0') * 10 + (s[1] - '0');
	*off = sign * (h * 3600L + m * 60L);
	return 0;
}

/* iso_time - "2026-11-30T11:48:09[.123][Z|+01:00]" at line's start */
static time_t
iso_time(const char *line)
{
	struct tm tm;
	const char *s;
	long off;

	memset(&tm, 0, sizeof(tm));
	if ((s = strptime(line, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++)
			;
	if (zone(s, &off) == 0)
		return timegm(&tm) - off;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

/*
 * line_time - when a line was logged, from its leading time stamp (ISO
 * 8601, or syslog's "Nov 30 11:48:09" taken in the year that puts it
 * at most a day ahead of now); -1 when it has none.
 */
time_t
line_time(const char *line, time_t now)
{
	struct tm tm, nowtm;
	time_t t;

	if (isdigit((unsigned char)line[0]))
		return iso_time(line);
	memset(&tm, 0, sizeof(tm));
	if (strptime(line, "%b %e %H:%M:%S", &tm) == NULL ||
	    localtime_r(&now, &nowtm) == NULL)
		return -1;
	tm.tm_year = nowtm.tm_year;
	tm.tm_isdst = -1;
	if ((t = mktime(&tm)) > now + 86400) {
		tm.tm_year--;
		tm.tm_isdst = -1;
		t = mktime(&tm);
	}
	return t;
}
