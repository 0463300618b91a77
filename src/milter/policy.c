/*
 * policy.c - drac-milter's decisions, without libmilter: which mode,
 * which mailers deliver locally, how the MTA's client address becomes
 * the key dracd stores, what a recipient gets, and the trace header's
 * value.  Every outside string (the mailer list, the header name, the
 * user dracd stored) is bounded and checked here and nowhere else.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "policy.h"

/* policy_mode - "trace" or "enforce"; 0, or -1 for anything else */
int
policy_mode(const char *s, enum policy_mode *m)
{
	if (strcmp(s, "trace") == 0)
		*m = POLICY_TRACE;
	else if (strcmp(s, "enforce") == 0)
		*m = POLICY_ENFORCE;
	else
		return -1;
	return 0;
}

/* policy_mailers - a comma-separated list of mailer names; -1 when
 * empty, too long, a name too long or with blanks or control bytes */
int
policy_mailers(struct policy_mailers *m, const char *list)
{
	const char *p = list, *end;
	size_t len, i;

	memset(m, 0, sizeof(*m));
	for (;;) {
		end = strchr(p, ',');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (len == 0 || len >= POLICY_MAILERLEN ||
		    m->n == POLICY_MAILERS)
			return -1;
		for (i = 0; i < len; i++)
			if (p[i] <= ' ' || p[i] >= 0x7f)
				return -1;
		memcpy(m->name[m->n++], p, len);
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

/* policy_is_local - 1 when mailer is one of the list (case folded as
 * Sendmail and Postfix name them), 0 otherwise or when unknown */
int
policy_is_local(const struct policy_mailers *m, const char *mailer)
{
	size_t i;

	if (mailer == NULL || *mailer == '\0')
		return 0;
	for (i = 0; i < m->n; i++)
		if (strcasecmp(m->name[i], mailer) == 0)
			return 1;
	return 0;
}

/* policy_header_name - 0 for a valid RFC 5322 field name that fits */
int
policy_header_name(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len >= POLICY_HEADERLEN)
		return -1;
	for (i = 0; i < len; i++)
		if (s[i] < 33 || s[i] > 126 || s[i] == ':')
			return -1;
	return 0;
}

/* policy_client - the address text dracd keys on, an IPv4-mapped IPv6
 * address as the IPv4 address it is; 0, or -1 for no IP address */
int
policy_client(const struct sockaddr *sa, char *buf, size_t len)
{
	const struct sockaddr_in6 *s6;
	const struct sockaddr_in *s4;

	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		s4 = (const struct sockaddr_in *)(const void *)sa;
		return inet_ntop(AF_INET, &s4->sin_addr, buf, len) ? 0 : -1;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	s6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf,
		    len) ? 0 : -1;
	return inet_ntop(AF_INET6, &s6->sin6_addr, buf, len) ? 0 : -1;
}

/*
 * policy_rcpt - the answer to one recipient.  check is drac_check's
 * result for the client (1 allowed, 0 not, negative: dracd not
 * reachable).  Trace mode never refuses.  Enforce mode lets local
 * mailers and SMTP-authenticated clients through, and refuses the rest
 * unless dracd allows the client; a client it cannot ask about waits.
 */
enum policy_verdict
policy_rcpt(enum policy_mode mode, int local, int authed, int check)
{
	if (mode == POLICY_TRACE || local || authed || check == 1)
		return POLICY_CONTINUE;
	return check < 0 ? POLICY_TEMPFAIL : POLICY_REJECT;
}

/* policy_trace - the header value for a grant: "USER; addr=A;
 * until=ISO" ("unknown" when dracd stored no user; bytes outside
 * printable ASCII, and ";", become "?"); 0, or -1 if it does not fit */
int
policy_trace(const struct drac_entry *e, char *buf, size_t len)
{
	char user[DRAC_USERMAX + 1], until[32];
	time_t t = (time_t)e->expires;
	struct tm tm;
	size_t i;
	int n;

	snprintf(user, sizeof(user), "%s", e->user[0] ? e->user : "unknown");
	for (i = 0; user[i] != '\0'; i++)
		if (user[i] < 33 || user[i] > 126 || user[i] == ';')
			user[i] = '?';
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(until, sizeof(until), "%lld", (long long)e->expires);
	n = snprintf(buf, len, "%s; addr=%s; until=%s", user, e->addr, until);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}
