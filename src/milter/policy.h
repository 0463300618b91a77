/*
 * policy.h - what drac-milter decides, kept apart from libmilter so the
 * tests link it: the mode, the local mailers, the client's address as
 * dracd knows it, the answer to a recipient, and the trace header.
 * Pure functions; settings are filled once at start and read-only after.
 */
#ifndef MILTER_POLICY_H
#define MILTER_POLICY_H

#include <stddef.h>
#include <sys/socket.h>

#include "drac.h"

#define DEF_MILTER_HEADER	"X-Drac-User"
#define DEF_MILTER_MAILERS	"local,prog,*file*,*include*,lmtp,cyrus," \
				"cyrusv2,procmail,virtual"
#define DEF_MILTER_TIMEOUT_MS	1000
#define DEF_MILTER_LOG_S	60
#define DEF_MILTER_SOCKET	"inet:10043@127.0.0.1"

#define POLICY_MAILERS		16	/* at most this many local mailers */
#define POLICY_MAILERLEN	32	/* each at most 31 characters */
#define POLICY_HEADERLEN	64	/* a header name, at most 63 */
#define POLICY_VALUELEN		160	/* the header's value */

enum policy_mode { POLICY_TRACE, POLICY_ENFORCE };

enum policy_verdict {
	POLICY_CONTINUE,	/* let the MTA decide */
	POLICY_REJECT,		/* 550: not allowed to relay */
	POLICY_TEMPFAIL		/* 451: cannot ask dracd now */
};

struct policy_mailers {
	char name[POLICY_MAILERS][POLICY_MAILERLEN];
	size_t n;
};

int policy_mode(const char *, enum policy_mode *);
int policy_mailers(struct policy_mailers *, const char *list);
int policy_is_local(const struct policy_mailers *, const char *mailer);
int policy_header_name(const char *);
int policy_client(const struct sockaddr *, char *buf, size_t len);
enum policy_verdict policy_rcpt(enum policy_mode, int local, int authed,
    int check);
int policy_trace(const struct drac_entry *, char *buf, size_t len);

#endif
