/*
 * main.c - dracd: options, start-up, signals and shutdown.
 *
 * The main thread sets everything up, then does nothing but wait for
 * signals (blocked in every other thread): SIGHUP reloads the config and
 * allow file, SIGTERM and SIGINT shut down cleanly.
 */
#include <sys/prctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "defaults.h"
#include "drac_prot.h"
#include "log.h"
#include "lookup.h"
#include "mapfile.h"
#include "metrics.h"
#include "proc.h"
#include "rpcreg.h"
#include "store.h"
#include "svc.h"

#ifndef DRACD_VERSION
#define DRACD_VERSION "unknown"
#endif
#define DEFAULT_CONFIG "/etc/drac/dracd.conf"
#define MAXOVERRIDE 32

struct options {
	const char *config;
	int config_given;
	int foreground, truncate, check_only, debug, verbose;
	const char *keys[MAXOVERRIDE], *values[MAXOVERRIDE];
	char expire_buf[32];
	size_t n;
};

/* the daemon's state, from start-up to shutdown (main's steps share it) */
struct dracd {
	struct options op;
	struct config c;
	struct policy p;		/* the first policy */
	struct server sv;
	struct store *st;
	struct svc *svc;
	struct svc_sock socks[SVC_MAXSOCK];
	size_t n;			/* of socks */
	struct stream_listener lookups[2];
	size_t nlookups;
	int mfd;			/* the metrics listener, -1 none */
	struct metrics *metrics;
	sigset_t set;			/* the signals waited for */
	int registered;			/* with rpcbind */
	int ready;			/* daemonize's pipe, -1 in -f */
	int kept;			/* a keeper removes the pidfile */
};

/* usage - the synopsis, and exit 2 */
static void
usage(void)
{
	fprintf(stderr, "usage: dracd [-dfinvV] [-a allowfile] [-c config] "
	    "[-e minutes] [-l listen]\n"
	    "             [-P pidfile] [-p port] [-u user] [dbfile]\n");
	exit(2);
}

/* override - remember a command-line setting; it wins over the file */
static void
override(struct options *op, const char *key, const char *value)
{
	if (op->n == MAXOVERRIDE)
		usage();
	op->keys[op->n] = key;
	op->values[op->n++] = value;
}

/* parse_args - the command line into op */
static void
parse_args(int argc, char **argv, struct options *op)
{
	int ch;

	memset(op, 0, sizeof(*op));
	op->config = DEFAULT_CONFIG;
	while ((ch = getopt(argc, argv, "a:c:de:fil:nP:p:u:vV")) != -1) {
		switch (ch) {
		case 'a': override(op, "allow_file", optarg); break;
		case 'c': op->config = optarg; op->config_given = 1; break;
		case 'd': op->debug = 1; break;
		case 'e':
			if (snprintf(op->expire_buf, sizeof(op->expire_buf),
			    "%sm", optarg) >= (int)sizeof(op->expire_buf))
				usage();
			override(op, "expire", op->expire_buf);
			break;
		case 'f': op->foreground = 1; break;
		case 'i': op->truncate = 1; break;
		case 'l': override(op, "listen", optarg); break;
		case 'n': op->check_only = 1; break;
		case 'P': override(op, "pidfile", optarg); break;
		case 'p': override(op, "port", optarg); break;
		case 'u': override(op, "user", optarg); break;
		case 'v': op->verbose = 1; break;
		case 'V': printf("dracd %s\n", DRACD_VERSION); exit(0);
		default: usage();
		}
	}
	if (argc - optind > 1)
		usage();
	if (argc - optind == 1)
		override(op, "dbfile", argv[optind]);
}

/* load_settings - defaults, the config file, then the command line */
static int
load_settings(const struct options *op, struct config *c, char *err,
    size_t errlen)
{
	char why[CONFIG_ERRMAX];
	size_t i;

	config_defaults(c);
	if (config_load(c, op->config, op->config_given, err, errlen) < 0)
		return -1;
	for (i = 0; i < op->n; i++)
		if (config_set(c, op->keys[i], op->values[i], why,
		    sizeof(why)) < 0) {
			snprintf(err, errlen, "command line: %s", why);
			return -1;
		}
	return 0;
}

/*
 * load_policy - the access rules and lifetimes of a configuration; an
 * allow_file set in the file or on the command line must exist, and an
 * empty one asks for the built-in rules
 */
static int
load_policy(const struct config *c, struct policy *p, char *err,
    size_t errlen)
{
	if (c->allow_file[0] == '\0')
		p->acl = acl_defaults();
	else
		p->acl = acl_load(c->allow_file, config_from(c, "allow_file") !=
		    CONFIG_DEFAULT, err, errlen);
	if (p->acl == NULL) {
		if (c->allow_file[0] == '\0')
			snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (acl_add_never(p->acl, c->never_grant, err, errlen) < 0) {
		acl_free(p->acl);
		return -1;
	}
	if (c->policy_action[0] == '\0' ||
	    strpbrk(c->policy_action, "\r\n") != NULL) {
		snprintf(err, errlen, "policy_action: must be one line of text");
		acl_free(p->acl);
		return -1;
	}
	snprintf(p->action, sizeof(p->action), "%s", c->policy_action);
	p->audit_grants = (int)c->audit_grants;
	p->add_tcp_only = c->add_transport == ADD_TCP;
	p->admin_tcp_only = c->admin_transport == ADMIN_TCP ||
	    (c->admin_transport == ADMIN_AUTO && p->add_tcp_only);
	p->keylen = 0;
	if (c->add_key_file[0] != '\0' && auth_key_load(c->add_key_file,
	    p->key, &p->keylen, err, errlen) < 0) {
		acl_free(p->acl);
		return -1;
	}
	p->expire_s = c->expire_ms / 1000;
	p->max_ttl_s = c->max_ttl_ms / 1000;
	if (p->expire_s > p->max_ttl_s)
		p->max_ttl_s = p->expire_s;
	return 0;
}

/* load_all - settings and rules, checked as start-up would check them */
static int
load_all(const struct options *op, struct config *c, struct policy *p,
    char *err, size_t errlen)
{
	if (load_settings(op, c, err, errlen) < 0 || config_check(c, err,
	    errlen) < 0)
		return -1;
	return load_policy(c, p, err, errlen);
}

/* log_change - one line for a setting a reload changed */
static void
log_change(void *arg, const char *name, const char *oldval,
    const char *newval, int reloadable)
{
	int *n = arg;

	(*n)++;
	log_info("%s: %s -> %s, %s", name, oldval[0] ? oldval : "\"\"",
	    newval[0] ? newval : "\"\"", reloadable ? "in effect" :
	    "needs a restart");
}

/*
 * reload - SIGHUP: new settings and rules, or the old ones and a reason;
 * last is the configuration loaded last, compared with the new one
 */
static void
reload(const struct options *op, struct server *sv, struct config *last)
{
	char err[CONFIG_ERRMAX + 64];
	struct config c;
	struct policy p;
	int changed = 0;

	if (load_all(op, &c, &p, err, sizeof(err)) < 0) {
		log_warnx("reload failed, keeping the old rules: %s", err);
		return;
	}
	policy_set(sv, &p);
	config_diff(last, &c, log_change, &changed);
	*last = c;
	log_info("reloaded %s and %s (%zu rules%s%s)", op->config,
	    c.allow_file, p.acl->count, p.acl->from_file ? "" :
	    ", built-in defaults", changed ? "" : ", no setting changed");
}

/*
 * readable_check - after dropping privileges: warn when the service user
 * cannot read a file a SIGHUP reads again (the reload would fail)
 */
static void
readable_check(const struct options *op, const struct config *c)
{
	const char *files[] = {op->config, c->allow_file, c->add_key_file};
	size_t i;

	if (c->user[0] == '\0')
		return;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (files[i][0] == '\0' || access(files[i], R_OK) == 0 ||
		    (errno == ENOENT && i < 2))
			continue;
		log_warnx("%s: user %s cannot read it (%s), so a reload "
		    "(SIGHUP) will fail; %s", files[i], c->user,
		    strerror(errno), i == 2 ? "make it owned by that user, "
		    "mode 0600" : "make it root-owned, group of that user, "
		    "mode 0640");
	}
}

/*
 * daemonize - detach from the terminal; before any thread starts.  The
 * parent waits for the child to report that it serves (daemon_ready), so
 * an error found after the fork (the list cannot be opened) still makes
 * the command fail; the result is the readiness pipe's write end.
 */
static int
daemonize(void)
{
	int fd, p[2];
	ssize_t got;
	char c = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		fatal("pipe");
	switch (fork()) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		close(p[1]);
		while ((got = read(p[0], &c, 1)) < 0 && errno == EINTR)
			;
		_exit(got == 1 && c == 'r' ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		fatal("setsid");
	if (chdir("/") < 0)
		fatal("chdir /");
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return p[1];
}

/* daemon_ready - tell the waiting parent of daemonize that we serve */
static void
daemon_ready(int fd)
{
	if (fd < 0)
		return;
	if (write(fd, "r", 1) != 1)
		log_warn("cannot tell the parent process we serve");
	close(fd);
}

/* pidfile_dir_check - warn when others than root may write the directory
 * of the pidfile: they could replace it and have root signal any process */
static void
pidfile_dir_check(const char *path)
{
	char dir[CONFIG_PATHMAX];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	if (stat(dirname(dir), &st) < 0)
		return;
	if (st.st_uid != 0 || ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (st.st_mode & S_ISVTX) == 0))
		log_warnx("pidfile %s: its directory is writable by others "
		    "than root; keep it where only root writes", path);
}

/*
 * write_pidfile - our pid, replacing any stale file all at once; the
 * temporary file is always new (O_EXCL) and never a link (O_NOFOLLOW),
 * and the rename replaces a link at path rather than follow it.
 * Its device and inode go to st.
 */
static void
write_pidfile(const char *path, struct stat *st)
{
	char tmp[CONFIG_PATHMAX + 8], buf[32];
	int fd, len;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		fatalx("pidfile %s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644);	/* left by a crash, or planted */
	if (fd < 0)
		fatal("pidfile %s", tmp);
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (fchmod(fd, 0644) < 0 || write(fd, buf, (size_t)len) != len ||
	    fstat(fd, st) < 0 || close(fd) != 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		fatal("pidfile %s", path);
	}
}

/*
 * pidfile_keeper - a process that keeps root only to remove the pidfile
 * once we are gone, however we end: it waits for the end of a pipe that
 * only we hold, then unlinks the pidfile if it is still the one we wrote.
 * It holds no socket and no other file, reads nothing but that pipe's
 * end, and ignores the signals that stop us (it ends right after us).
 */
static void
pidfile_keeper(const char *path, const struct stat *st)
{
	struct stat now;
	int p[2];
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		fatal("pipe");
	switch (fork()) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		close(p[0]);	/* p[1] stays open until we exit */
		return;
	}
	close(p[1]);
	if (p[0] > 3)
		close_range(3, (unsigned)p[0] - 1, 0);
	close_range((unsigned)p[0] + 1, ~0U, 0);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	prctl(PR_SET_NAME, "dracd-pidfile");
	while (read(p[0], &c, 1) < 0 && errno == EINTR)
		;
	if (lstat(path, &now) == 0 && now.st_dev == st->st_dev &&
	    now.st_ino == st->st_ino)
		unlink(path);
	_exit(0);
}

/*
 * start_pidfile - write the pidfile, as root; 1 when a keeper removes it
 * at the end (dracd drops privileges and could not), 0 when dracd does
 */
static int
start_pidfile(const struct config *c)
{
	struct stat st;

	if (c->pidfile[0] == '\0')
		return 0;
	pidfile_dir_check(c->pidfile);
	write_pidfile(c->pidfile, &st);
	if (c->user[0] == '\0')
		return 0;
	pidfile_keeper(c->pidfile, &st);
	return 1;
}

/* drop_privileges - become user for good (setgroups, gid, then uid) */
static void
drop_privileges(const char *user)
{
	struct passwd *pw;

	if (*user == '\0')
		return;
	if ((pw = getpwnam(user)) == NULL)
		fatalx("unknown user %s", user);
	if (setgroups(1, &pw->pw_gid) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		fatal("cannot drop privileges to %s", user);
	if (setuid(0) == 0 && pw->pw_uid != 0)
		fatalx("privileges were not dropped");
}

_Static_assert((int)GROUP_ACK_QUORUM == (int)STORE_ACK_QUORUM &&
    (int)GROUP_ACK_ALL == (int)STORE_ACK_ALL &&
    (int)GROUP_ACK_ONE == (int)STORE_ACK_ONE &&
    (int)GROUP_ACK_NONE == (int)STORE_ACK_NONE, "group_ack's words");

/* open_store - the allowlist with the configured format and limits */
static struct store *
open_store(const struct options *op, const struct config *c)
{
	char err[1400];
	struct store_opts so;
	struct store *st;

	memset(&so, 0, sizeof(so));
	so.path = c->dbfile;
	so.format.hash = c->map_type == MAP_HASH;
	so.format.cidr = c->map_keys == MAP_KEYS_CIDR;
	so.format.nul = c->map_nul == MAP_NUL_YES;
	so.format_auto = (c->map_type == MAP_TYPE_AUTO ? MAP_AUTO_TYPE : 0) |
	    (c->map_keys == MAP_KEYS_AUTO ? MAP_AUTO_KEYS : 0) |
	    (c->map_nul == MAP_NUL_AUTO ? MAP_AUTO_NUL : 0);
	so.sync_interval_ms = c->sync_interval_ms;
	so.map_edit = c->map_update == MAP_UPDATE_EDIT;
	so.max_entries = (size_t)c->max_entries;
	so.journal_size = (uint64_t)c->journal_size;
	so.truncate = op->truncate;
	so.group_local = c->group_local;	/* "": a single host */
	so.group_sites = c->group_sites;
	so.group_priority = (int)c->group_priority;
	so.group_ack = (int)c->group_ack;	/* enum group_ack = store_ack */
	if ((st = store_open(&so, err, sizeof(err))) == NULL)
		fatalx("cannot open the allowlist: %s; start with -i to begin "
		    "with an empty one (a damaged map can be salvaged with "
		    "\"db5.3_dump -r %s\")", err, c->dbfile);
	return st;
}

/* register_rpcbind - tell rpcbind our ports, or say once why not */
static int
register_rpcbind(const struct config *c, const struct svc_sock *socks,
    size_t n)
{
	if (!c->rpcbind)
		return 0;
	if (rpcreg_set(DRACPROG, DRACVERS, DRACVERS3, socks, n) == 0)
		return 1;
	log_warnx("rpcbind is not running or refused the registration: "
	    "serving on port %u only%s", socks[0].port,
	    c->port == 0 ? " (set a fixed port with -p for clients that "
	    "cannot use rpcbind)" : "");
	return 0;
}

/* open_lookups - the policy and socketmap listeners that are configured */
static size_t
open_lookups(const struct config *c, struct server *sv,
    struct stream_listener *ls)
{
	const struct { const char *spec; const struct stream_proto *p; } l[] = {
		{c->policy_listen, &lookup_policy_proto},
		{c->socketmap_listen, &lookup_socketmap_proto},
	};
	char err[CONFIG_PATHMAX + 128];
	size_t i, n = 0;

	for (i = 0; i < sizeof(l) / sizeof(l[0]); i++) {
		if (l[i].spec[0] == '\0')
			continue;
		if (stream_listen(l[i].spec, &ls[n].fd, err, sizeof(err)) < 0)
			fatalx("%s_listen %s", l[i].p->name, err);
		ls[n].proto = l[i].p;
		ls[n++].ctx = sv;
		log_info("%s service on %s", l[i].p->name, l[i].spec);
	}
	return n;
}

/* reregister - after rpcbind restarted, tell it our ports again */
static void
reregister(const struct config *c, const struct svc_sock *socks, size_t n,
    int *registered)
{
	if (!c->rpcbind || rpcreg_present(DRACPROG, DRACVERS, socks[0].port))
		return;
	if (rpcreg_set(DRACPROG, DRACVERS, DRACVERS3, socks, n) == 0) {
		log_info("registered with rpcbind again");
		*registered = 1;
	}
}

/*
 * wait_signals - serve until SIGTERM or SIGINT; between signals, check
 * every rpcbind_check that rpcbind still knows us
 */
static void
wait_signals(struct dracd *d)
{
	struct timespec ts = {d->c.rpcbind_check_ms / 1000,
	    (d->c.rpcbind_check_ms % 1000) * 1000000L};
	struct config last = d->c;
	int sig;

	for (;;) {
		if ((sig = sigtimedwait(&d->set, NULL, &ts)) < 0) {
			if (errno == EAGAIN)
				reregister(&d->c, d->socks, d->n,
				    &d->registered);
			continue;
		}
		if (sig == SIGHUP)
			reload(&d->op, &d->sv, &last);
		else
			break;
	}
	log_info("signal %d: shutting down", sig);
}

/* adds_wait - does an add hold its thread until something else is done:
 * the disk (sync_interval 0), the group's acknowledgement or the
 * master's answer (a group)? */
static int
adds_wait(const struct config *c)
{
	return c->sync_interval_ms == 0 || c->group_local[0] != '\0';
}

/* check_only - -n: say whether the configuration is good, and exit */
static int
check_only(struct dracd *d)
{
	if (d->op.verbose)
		config_dump(&d->c, d->op.config, stdout);
	printf("%sdracd: configuration OK (%zu access rules%s)\n",
	    d->op.verbose ? "# " : "", d->p.acl->count, d->p.acl->from_file ?
	    "" : ", built-in defaults");
	acl_free(d->p.acl);
	return 0;
}

/* open_listeners - every socket, as root: RPC, lookups, metrics */
static void
open_listeners(struct dracd *d)
{
	char err[CONFIG_ERRMAX + 64];

	if (svc_bind(d->c.listen, (uint16_t)d->c.port, d->socks, SVC_MAXSOCK,
	    &d->n, err, sizeof(err)) < 0)
		fatalx("%s", err);
	d->nlookups = open_lookups(&d->c, &d->sv, d->lookups);
	if (d->c.metrics_listen[0] != '\0' && stream_listen(
	    d->c.metrics_listen, &d->mfd, err, sizeof(err)) < 0)
		fatalx("metrics_listen %s", err);
}

/* detach - daemonize (unless -f), write the pidfile, block the signals
 * the main thread waits for (every thread inherits the mask) */
static void
detach(struct dracd *d)
{
	d->ready = d->op.foreground ? -1 : daemonize();
	d->kept = start_pidfile(&d->c);
	sigemptyset(&d->set);
	sigaddset(&d->set, SIGTERM);
	sigaddset(&d->set, SIGINT);
	sigaddset(&d->set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &d->set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* open_state - as the user: the allowlist, its map, the policy */
static void
open_state(struct dracd *d)
{
	char err[CONFIG_ERRMAX + 64];

	drop_privileges(d->c.user);
	readable_check(&d->op, &d->c);
	/* the list's files live in a directory the user owns: open them as
	 * the user, so no link planted there is followed with root's rights */
	d->st = open_store(&d->op, &d->c);
	/* -i must empty the map before serving; otherwise the files on disk
	 * already hold what was loaded, and the first rewrite (which drops
	 * what expired meanwhile) goes to the publishing thread */
	if ((d->op.truncate ? store_publish(d->st, err, sizeof(err)) :
	    mapfile_writable(d->c.dbfile, err, sizeof(err))) < 0)
		fatalx("cannot write the allowlist: %s", err);
	if (store_start(d->st) < 0 || policy_init(&d->sv, d->st, &d->p) < 0)
		fatalx("cannot start threads");
	d->sv.sync_interval_ms = d->c.sync_interval_ms;
	if (d->c.add_rate > 0 && (d->sv.adds = ratelimit_new(
	    (double)d->c.add_rate, DEF_ADD_BURST_S * (double)d->c.add_rate,
	    DEF_ADD_CLIENTS)) == NULL)
		fatalx("out of memory");
}

/* serve - start the RPC threads (and the lookups in them), the metrics */
static void
serve(struct dracd *d)
{
	const struct config *c = &d->c;
	char err[CONFIG_ERRMAX + 64];
	struct svc_opts so;

	memset(&so, 0, sizeof(so));
	so.rpc.prog = DRACPROG;
	so.rpc.vers_lo = DRACVERS;
	so.rpc.vers_hi = DRACVERS3;
	so.rpc.lookup = proc_lookup;
	so.rpc.ctx = &d->sv;
	so.udp_threads = c->udp_threads > 0 ? (int)c->udp_threads :
	    adds_wait(c) ? DEF_UDP_THREADS_SYNC : DEF_UDP_THREADS;
	so.admit = policy_admit_any;
	/* with sync_interval 0, TCP adds too wait for the disk (in a group,
	 * for the group's acknowledgement, or for the master's answer):
	 * in workers, as many as the UDP threads, never in the thread that
	 * answers the live lookups.  Otherwise they do not wait, and the
	 * hand-off would only cost (4 TCP clients: 21,000 adds/s instead
	 * of 39,000) */
	so.tcp_workers = adds_wait(c) ? so.udp_threads : 0;
	so.tcp_max_connections = (int)c->tcp_max_connections;
	so.tcp_max_per_source = (int)c->tcp_max_per_source;
	so.tcp_request_timeout_ms = c->tcp_request_timeout_ms;
	so.tcp_idle_timeout_ms = c->tcp_idle_timeout_ms;
	if ((d->svc = svc_start(&so, d->socks, d->n, d->lookups,
	    d->nlookups)) == NULL)
		fatalx("cannot start the server threads");
	if (d->mfd >= 0) {
		if ((d->metrics = metrics_start(d->mfd, &d->sv, err,
		    sizeof(err))) == NULL)
			fatalx("%s", err);
		log_info("metrics on %s", c->metrics_listen);
	}
}

/* shut_down - stop serving, close the store, release everything */
static void
shut_down(struct dracd *d)
{
	metrics_stop(d->metrics);
	svc_stop(d->svc);
	store_close(d->st);
	if (d->registered)
		rpcreg_unset(DRACPROG, DRACVERS, DRACVERS3);
	while (d->n > 0)
		close(d->socks[--d->n].fd);
	while (d->nlookups > 0)
		close(d->lookups[--d->nlookups].fd);
	policy_fini(&d->sv);
	if (d->c.pidfile[0] != '\0' && !d->kept)
		unlink(d->c.pidfile);
}

/* main - the steps: settings, sockets (as root), detach, state (as the
 * user), serve, wait for signals, shut down */
int
main(int argc, char **argv)
{
	static struct dracd d;
	char err[CONFIG_ERRMAX + 64];

	d.mfd = -1;
	/* a fixed threshold: glibc's own grows with each large block freed,
	 * and then keeps the next ones (a whole map rewrite's 8-12 MB at
	 * 1,000,000 entries) in the heap, resident after their free */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	parse_args(argc, argv, &d.op);
	log_init(d.op.foreground || d.op.check_only, d.op.debug);
	if (load_all(&d.op, &d.c, &d.p, err, sizeof(err)) < 0)
		fatalx("%s", err);
	if (d.op.check_only)
		return check_only(&d);
	open_listeners(&d);
	detach(&d);
	d.registered = register_rpcbind(&d.c, d.socks, d.n);
	open_state(&d);
	serve(&d);
	log_info("dracd %s serving program %d on port %u (%s), map %s",
	    DRACD_VERSION, DRACPROG, d.socks[0].port, d.registered ?
	    "registered with rpcbind" : "not registered", d.c.dbfile);
	daemon_ready(d.ready);
	wait_signals(&d);
	shut_down(&d);
	return 0;
}
