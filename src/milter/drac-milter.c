/*
 * drac-milter - dracd for MTAs that speak the milter protocol (Sendmail,
 * Postfix).  A milter runs after the MTA's own relay check, so it cannot
 * grant relaying; it does two other things:
 *
 *   trace (default)  for a client dracd allows, add a header naming the
 *                    POP/IMAP user of the grant; never refuse anything.
 *   enforce          for an MTA that leaves relay control to the milter:
 *                    refuse recipients for non-local mailers from clients
 *                    dracd does not allow, tempfail when it cannot ask.
 *
 * Either way a header of our name that the client sent is removed, so
 * nobody can forge a grant.  One process, libmilter's threads: each
 * callback borrows a libdrac handle from a pool (a drac_t serves one
 * thread at a time) and per-connection state lives in the context's
 * private pointer.  Settings are set once in main and read-only after.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <libmilter/mfapi.h>

#include "drac.h"
#include "policy.h"

#ifndef DRACD_VERSION
#define DRACD_VERSION "unknown"
#endif

#define POOL_MAX	64	/* idle libdrac handles kept */
#define EX_ERR		2

struct settings {
	const char *servers, *sock, *user;
	char header[POLICY_HEADERLEN];
	enum policy_mode mode;
	struct policy_mailers local;
	struct drac_options dopt;
	time_t log_interval;
	int foreground;
};

/* idle handles, and the once-per-interval log of dracd failures */
struct pool {
	pthread_mutex_t mu;
	drac_t *idle[POOL_MAX];
	size_t n;
	time_t logged;
	unsigned long quiet;	/* failures not logged since */
};

/* one SMTP connection; the check is asked once per message */
struct conn {
	char addr[DRAC_ADDRMAX];
	int have_addr;
	int checked, check;	/* drac_check's result, when checked */
	struct drac_entry e;
	unsigned int forged;	/* our header, sent by the client */
};

static struct settings set;
static struct pool pool = {PTHREAD_MUTEX_INITIALIZER, {NULL}, 0, 0, 0};

/* down - log a dracd failure, at most once per log interval */
static void
down(const char *addr, int rc)
{
	time_t now = time(NULL);
	unsigned long quiet = 0;
	int say = 0;

	pthread_mutex_lock(&pool.mu);
	if (pool.logged == 0 || now - pool.logged >= set.log_interval) {
		say = 1;
		quiet = pool.quiet;
		pool.quiet = 0;
		pool.logged = now;
	} else
		pool.quiet++;
	pthread_mutex_unlock(&pool.mu);
	if (say)
		syslog(LOG_WARNING, "cannot ask dracd %s about %s: %s; %s "
		    "(%lu failures unlogged before this; at most one line "
		    "per %lld s)", set.servers, addr, drac_strerror(rc),
		    set.mode == POLICY_TRACE ? "no trace header" :
		    "relaying tempfailed", quiet, (long long)set.log_interval);
}

/* check - ask dracd about addr with a pooled handle */
static int
check(const char *addr, struct drac_entry *e)
{
	drac_t *h = NULL;
	int rc;

	pthread_mutex_lock(&pool.mu);
	if (pool.n > 0)
		h = pool.idle[--pool.n];
	pthread_mutex_unlock(&pool.mu);
	if (h == NULL && (rc = drac_open(&h, set.servers, &set.dopt)) < 0)
		return rc;
	rc = drac_check(h, addr, e);
	pthread_mutex_lock(&pool.mu);
	if (pool.n < POOL_MAX) {
		pool.idle[pool.n++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&pool.mu);
	drac_close(h);
	return rc;
}

/* conn_check - the client's standing for this message, asked once */
static int
conn_check(struct conn *c)
{
	if (!c->checked) {
		c->check = check(c->addr, &c->e);
		c->checked = 1;
		if (c->check < 0)
			down(c->addr, c->check);
	}
	return c->check;
}

/* on_connect - remember the client's address, IPv4-mapped unmapped */
static sfsistat
on_connect(SMFICTX *ctx, char *host, struct sockaddr *sa)
{
	struct conn *c = calloc(1, sizeof(*c));

	(void)host;
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	/* no address: a local submission (sendmail -bs), not a relay */
	c->have_addr = policy_client(sa, c->addr, sizeof(c->addr)) == 0;
	smfi_setpriv(ctx, c);
	return SMFIS_CONTINUE;
}

/* on_mail - a new message: ask dracd afresh */
static sfsistat
on_mail(SMFICTX *ctx, char **argv)
{
	struct conn *c = smfi_getpriv(ctx);

	(void)argv;
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	c->checked = 0;
	c->forged = 0;
	return SMFIS_CONTINUE;
}

/* on_rcpt - in enforce mode, refuse a relay dracd does not allow */
static sfsistat
on_rcpt(SMFICTX *ctx, char **argv)
{
	struct conn *c = smfi_getpriv(ctx);
	const char *mailer, *auth;
	int local, authed;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	if (set.mode == POLICY_TRACE || !c->have_addr)
		return SMFIS_CONTINUE;
	mailer = smfi_getsymval(ctx, "{rcpt_mailer}");
	auth = smfi_getsymval(ctx, "{auth_authen}");
	local = policy_is_local(&set.local, mailer);
	authed = auth != NULL && *auth != '\0';
	switch (policy_rcpt(set.mode, local, authed,
	    local || authed ? 0 : conn_check(c))) {
	case POLICY_REJECT:
		smfi_setreply(ctx, "550", "5.7.1", "Relaying denied: log in "
		    "to POP or IMAP first");
		syslog(LOG_INFO, "reject: client %s rcpt %s mailer %s: not "
		    "allowed by dracd", c->addr, argv[0], mailer ? mailer :
		    "(none)");
		return SMFIS_REJECT;
	case POLICY_TEMPFAIL:	/* the MTA's own 4xx text */
		return SMFIS_TEMPFAIL;
	default:
		return SMFIS_CONTINUE;
	}
}

/* on_header - count the client's copies of our header */
static sfsistat
on_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn *c = smfi_getpriv(ctx);

	(void)value;
	if (c != NULL && strcasecmp(name, set.header) == 0 &&
	    c->forged < 1000)
		c->forged++;
	return SMFIS_CONTINUE;
}

/* on_eom - drop forged copies, then add ours for an allowed client */
static sfsistat
on_eom(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);
	char value[POLICY_VALUELEN];

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	for (; c->forged > 0; c->forged--)	/* last first: indexes hold */
		if (smfi_chgheader(ctx, set.header, (int)c->forged, NULL) !=
		    MI_SUCCESS)
			syslog(LOG_WARNING, "client %s: cannot remove its %s "
			    "header", c->addr, set.header);
	if (c->have_addr && conn_check(c) == 1 &&
	    policy_trace(&c->e, value, sizeof(value)) == 0 &&
	    smfi_insheader(ctx, 0, set.header, value) != MI_SUCCESS) {
		syslog(LOG_WARNING, "client %s: cannot add the %s header",
		    c->addr, set.header);
		return SMFIS_TEMPFAIL;
	}
	c->checked = 0;
	return SMFIS_CONTINUE;
}

/* on_abort - the message ended without eom */
static sfsistat
on_abort(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL) {
		c->checked = 0;
		c->forged = 0;
	}
	return SMFIS_CONTINUE;
}

/* on_close - free the connection's state */
static sfsistat
on_close(SMFICTX *ctx)
{
	free(smfi_getpriv(ctx));
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

/* on_negotiate - header rights; skip the steps nothing here reads */
static sfsistat
on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	const unsigned long acts = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
	const unsigned long skip = SMFIP_NOHELO | SMFIP_NOBODY |
	    SMFIP_NOEOH | SMFIP_NOUNKNOWN | SMFIP_NODATA;

	(void)ctx;
	(void)f2;
	(void)f3;
	if ((f0 & acts) != acts) {
		syslog(LOG_ERR, "the MTA does not let a milter change headers");
		return SMFIS_REJECT;
	}
	*pf0 = acts;
	*pf1 = f1 & skip;
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

static struct smfiDesc filter = {
	.xxfi_name = "drac-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS,
	.xxfi_connect = on_connect,
	.xxfi_envfrom = on_mail,
	.xxfi_envrcpt = on_rcpt,
	.xxfi_header = on_header,
	.xxfi_eom = on_eom,
	.xxfi_abort = on_abort,
	.xxfi_close = on_close,
	.xxfi_negotiate = on_negotiate,
};

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: drac-milter [-f] [-s host[:port][,...]] [-t seconds] "
	    "[--tcp]\n"
	    "         [-p inet:port@host | inet6:port@host | unix:path] "
	    "[-m trace|enforce]\n"
	    "         [--header name] [--local-mailers list] "
	    "[--log-interval seconds] [-u user]\n");
	exit(status);
}

/* seconds - a number of seconds, decimals allowed, lo to hi */
static double
seconds(const char *opt, const char *s, double lo, double hi)
{
	char *e;
	double v = strtod(s, &e);

	if (*s < '0' || *s > '9' || *e != '\0' || v < lo || v > hi)
		errx(EX_ERR, "bad %s \"%s\": want seconds, %g to %g", opt, s,
		    lo, hi);
	return v;
}

/* option - one command-line option into the settings */
static void
option(int ch, const char *arg)
{
	switch (ch) {
	case 's': set.servers = arg; break;
	case 't': set.dopt.timeout_ms = (unsigned int)(seconds("-t", arg,
	    0.001, 3600) * 1000 + 0.5); break;
	case 'T': set.dopt.transport = DRAC_TCP; break;
	case 'p': set.sock = arg; break;
	case 'f': set.foreground = 1; break;
	case 'u': set.user = arg; break;
	case 'L': set.log_interval = (time_t)seconds("--log-interval", arg,
	    1, 86400); break;
	case 'm':
		if (policy_mode(arg, &set.mode) < 0)
			errx(EX_ERR, "bad -m \"%s\": trace or enforce", arg);
		break;
	case 'H':
		if (policy_header_name(arg) < 0)
			errx(EX_ERR, "bad --header \"%s\"", arg);
		snprintf(set.header, sizeof(set.header), "%s", arg);
		break;
	case 'M':
		if (policy_mailers(&set.local, arg) < 0)
			errx(EX_ERR, "bad --local-mailers \"%s\": at most %d "
			    "names of up to %d characters, comma-separated",
			    arg, POLICY_MAILERS, POLICY_MAILERLEN - 1);
		break;
	case 'h': usage(0);
	case 'V': printf("drac-milter %s\n", DRACD_VERSION); exit(0);
	default: usage(EX_ERR);
	}
}

/* parse_args - the defaults, then the command line */
static void
parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{"server", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{"tcp", no_argument, NULL, 'T'},
		{"socket", required_argument, NULL, 'p'},
		{"mode", required_argument, NULL, 'm'},
		{"header", required_argument, NULL, 'H'},
		{"local-mailers", required_argument, NULL, 'M'},
		{"log-interval", required_argument, NULL, 'L'},
		{"user", required_argument, NULL, 'u'},
		{"foreground", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	set.servers = getenv("DRAC_SERVER");
	if (set.servers == NULL || *set.servers == '\0')
		set.servers = "localhost";
	set.sock = DEF_MILTER_SOCKET;
	set.dopt.timeout_ms = DEF_MILTER_TIMEOUT_MS;
	set.log_interval = DEF_MILTER_LOG_S;
	snprintf(set.header, sizeof(set.header), "%s", DEF_MILTER_HEADER);
	if (policy_mailers(&set.local, DEF_MILTER_MAILERS) < 0)
		errx(EX_ERR, "built-in mailer list too long");
	while ((ch = getopt_long(argc, argv, "s:t:p:m:u:fhV", opts,
	    NULL)) != -1)
		option(ch, optarg);
	if (optind != argc)
		usage(EX_ERR);
}

/* drop_privileges - to user, for good; the socket is open already */
static void
drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL)
		errx(EX_ERR, "no user \"%s\"", user);
	if (setgroups(1, &pw->pw_gid) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		err(EX_ERR, "cannot become %s", user);
}

/*
 * no_delay - TCP_NODELAY on libmilter's listening TCP socket, which the
 * accepted ones inherit.  libmilter writes each reply of end-of-message
 * (remove a header, insert one, continue) separately; with Nagle the
 * second waits for the MTA's delayed ACK, 40 ms a message.  libmilter
 * does not hand out the descriptor, so find it: the one listening
 * stream socket of an IP family this process has at this point.
 */
static void
no_delay(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, on, one = 1;

	for (fd = 3; fd < 64; fd++) {
		len = sizeof(on);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 ||
		    !on)
			continue;
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
		    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one)) < 0)
			syslog(LOG_WARNING, "TCP_NODELAY: %m");
	}
}

/* open_socket - the milter socket, a unix one handed to the user */
static void
open_socket(void)
{
	struct passwd *pw;
	const char *path = NULL;

	if (smfi_setconn((char *)set.sock) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS)
		errx(EX_ERR, "cannot listen on %s", set.sock);
	no_delay();
	if (strncmp(set.sock, "unix:", 5) == 0)
		path = set.sock + 5;
	else if (strncmp(set.sock, "local:", 6) == 0)
		path = set.sock + 6;
	if (path != NULL && set.user != NULL &&
	    (pw = getpwnam(set.user)) != NULL &&
	    chown(path, pw->pw_uid, pw->pw_gid) < 0)
		err(EX_ERR, "chown %s", path);
}

int
main(int argc, char **argv)
{
	parse_args(argc, argv);
	openlog("drac-milter", LOG_PID | (set.foreground ? LOG_PERROR : 0),
	    LOG_MAIL);
	if (smfi_register(filter) != MI_SUCCESS)
		errx(EX_ERR, "smfi_register failed");
	umask(0117);	/* a unix socket 0660: the MTA's group, no one else */
	open_socket();
	if (set.user != NULL)
		drop_privileges(set.user);
	else if (geteuid() == 0)
		warnx("running as root: consider -u");
	if (!set.foreground && daemon(0, 0) < 0)
		err(EX_ERR, "daemon");
	syslog(LOG_INFO, "started: %s mode, socket %s, dracd %s, header %s",
	    set.mode == POLICY_TRACE ? "trace" : "enforce", set.sock,
	    set.servers, set.header);
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
