/*
 * drac-plugin.c - the Dovecot 2.3 mail plugin "drac": grants the client's
 * address to dracd when an IMAP or POP3 user logs in, and renews the
 * grant every drac_renew while the session lives.
 *
 * Settings (plugin { } block): drac_server (libdrac's server list; unset:
 * the plugin does nothing), drac_renew (default 10m, 0: at login only),
 * drac_ttl (0: the server's default), drac_timeout (default 1s),
 * drac_key_file (HMAC adds), drac_group (yes: drac_server lists the
 * members of one dracd group, and one member taking an add is enough).
 *
 * Threading and blocking: Dovecot's mail processes are single-threaded
 * around one ioloop, and its library is not thread-safe.  The add at
 * login is made in the process, before Dovecot sends the login's reply,
 * so a client that sends mail at once is never refused; it waits at most
 * drac_timeout.  Renewals come from an ioloop timer and never block it:
 * each is handed to a forked helper that owns nothing of Dovecot's (its
 * signals reset, its descriptors closed), adds through the handle it
 * inherited and reports through its exit status, which Dovecot's
 * child-wait delivers back to the ioloop.  At most one helper per session
 * runs at a time.  Failures are logged once per DRAC_WARN_SECS.
 *
 * Ownership: the per-user state lives in the user's pool; the libdrac
 * handle is opened at login and closed at the user's deinit.
 */
#include "lib.h"
#include "ioloop.h"
#include "net.h"
#include "child-wait.h"
#include "module-context.h"
#include "settings-parser.h"
#include "mail-user.h"
#include "mail-storage-hooks.h"

#include <signal.h>
#include <unistd.h>

#include "drac.h"

#define DRAC_WARN_SECS		60	/* one failure line per minute */
#define DRAC_DEF_RENEW		"10m"
#define DRAC_DEF_TIMEOUT_MS	1000	/* libdrac's whole call */
#define DRAC_MAX_TIMEOUT_MS	10000

#define DRAC_USER_CONTEXT(obj) MODULE_CONTEXT(obj, drac_user_module)

struct drac_user {
	union mail_user_module_context module_ctx;
	struct mail_user *user;
	drac_t *handle;
	const char *addr;		/* the client's, canonical text */
	const char *name;		/* NULL when too long for dracd */
	unsigned int ttl;
	unsigned int timeout_ms;
	bool group;			/* drac_group = yes: drac_add_any */
	struct timeout *to_renew;
	struct child_wait *wait;
	pid_t helper;			/* 0 when none runs */
};

const char *drac_plugin_version = DOVECOT_ABI_VERSION;

void drac_plugin_init(struct module *module);
void drac_plugin_deinit(void);

static MODULE_CONTEXT_DEFINE_INIT(drac_user_module,
    &mail_user_module_register);

static bool drac_child_wait_on;
static time_t drac_last_warn;
static unsigned int drac_suppressed;

/* drac_warn - one line per DRAC_WARN_SECS about a failed add */
static void
drac_warn(struct drac_user *du, const char *what, int rc)
{
	if (drac_last_warn != 0 &&
	    ioloop_time - drac_last_warn < DRAC_WARN_SECS) {
		drac_suppressed++;
		return;
	}
	e_warning(du->user->event, "drac: %s of %s failed: %s "
	    "(%u more failures not logged)", what, du->addr,
	    drac_strerror(rc), drac_suppressed);
	drac_last_warn = ioloop_time;
	drac_suppressed = 0;
}

/* drac_user_add - the add: on every server, or on one of a group */
static int
drac_user_add(struct drac_user *du)
{
	if (du->group)
		return drac_add_any(du->handle, du->addr, du->ttl, du->name);
	return drac_add(du->handle, du->addr, du->ttl, du->name);
}

/* drac_helper_run - in the forked helper: one add, the result as status */
static void ATTR_NORETURN
drac_helper_run(struct drac_user *du)
{
	sigset_t all;
	int sig, rc;

	/* Dovecot's handlers write to the parent's signal pipe: drop them */
	for (sig = 1; sig < NSIG; sig++)
		(void)signal(sig, sig == SIGPIPE ? SIG_IGN : SIG_DFL);
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	/* no descriptor of the session may outlive it in here */
	(void)close_range(3, ~0U, 0);
	(void)alarm(du->timeout_ms / 1000 + 2);
	rc = drac_user_add(du);
	_exit(rc < 0 ? -rc : 0);
}

/* drac_helper_done - a helper's exit status, back in the ioloop */
static void
drac_helper_done(const struct child_wait_status *st, struct drac_user *du)
{
	int rc = -1000;

	du->helper = 0;
	if (WIFEXITED(st->status))
		rc = -WEXITSTATUS(st->status);
	if (rc == 0)
		e_debug(du->user->event, "drac: renewed %s", du->addr);
	else
		drac_warn(du, "renewal", rc);
}

/* drac_renew - the timer: hand one add to a helper unless one runs */
static void
drac_renew(struct drac_user *du)
{
	pid_t pid;

	if (du->helper != 0)
		return;		/* the last one is still within its timeout */
	if (!drac_child_wait_on) {
		child_wait_init();
		drac_child_wait_on = TRUE;
	}
	if (du->wait == NULL)
		du->wait = child_wait_new(drac_helper_done, du);
	if ((pid = fork()) < 0) {
		e_error(du->user->event, "drac: fork() failed: %m");
		return;
	}
	if (pid == 0)
		drac_helper_run(du);
	du->helper = pid;
	child_wait_add_pid(du->wait, pid);
}

/* drac_user_deinit - the session ends: no more renewals */
static void
drac_user_deinit(struct mail_user *user)
{
	struct drac_user *du = DRAC_USER_CONTEXT(user);

	i_assert(du != NULL);
	timeout_remove(&du->to_renew);
	/* a helper still running finishes alone; SIGCHLD reaps it */
	if (du->wait != NULL)
		child_wait_free(&du->wait);
	drac_close(du->handle);
	du->handle = NULL;
	du->module_ctx.super.deinit(user);
}

/* drac_setting_secs - a time setting in seconds; def when unset */
static int
drac_setting_secs(struct mail_user *user, const char *name,
    const char *def, unsigned int *secs)
{
	const char *s = mail_user_plugin_getenv(user, name), *error;

	if (s == NULL || *s == '\0')
		s = def;
	if (settings_get_time(s, secs, &error) < 0) {
		e_error(user->event, "drac: %s = %s: %s", name, s, error);
		return -1;
	}
	return 0;
}

/* drac_setting_bool - a yes/no setting; def when unset, -1 for others */
static int
drac_setting_bool(struct mail_user *user, const char *name, bool def,
    bool *val)
{
	const char *s = mail_user_plugin_getenv(user, name);

	if (s == NULL || *s == '\0')
		*val = def;
	else if (strcasecmp(s, "yes") == 0)
		*val = TRUE;
	else if (strcasecmp(s, "no") == 0)
		*val = FALSE;
	else {
		e_error(user->event, "drac: %s = %s: want yes or no", name, s);
		return -1;
	}
	return 0;
}

/* drac_settings - the handle and the timings; -1 when unusable */
static int
drac_settings(struct drac_user *du, unsigned int *renew)
{
	struct mail_user *user = du->user;
	struct drac_options o;
	const char *servers, *key, *s, *error;
	unsigned int ms = DRAC_DEF_TIMEOUT_MS;
	int rc;

	servers = mail_user_plugin_getenv(user, "drac_server");
	if (servers == NULL || *servers == '\0')
		return -1;
	if (drac_setting_secs(user, "drac_renew", DRAC_DEF_RENEW, renew) < 0 ||
	    drac_setting_secs(user, "drac_ttl", "0", &du->ttl) < 0 ||
	    drac_setting_bool(user, "drac_group", FALSE, &du->group) < 0)
		return -1;
	s = mail_user_plugin_getenv(user, "drac_timeout");
	if (s != NULL && *s != '\0' && (settings_get_time_msecs(s, &ms,
	    &error) < 0 || ms == 0 || ms > DRAC_MAX_TIMEOUT_MS)) {
		e_error(user->event, "drac: drac_timeout = %s: want 1ms..10s",
		    s);
		return -1;
	}
	key = mail_user_plugin_getenv(user, "drac_key_file");
	i_zero(&o);
	o.timeout_ms = du->timeout_ms = ms;
	o.add_key_file = key != NULL && *key != '\0' ? key : NULL;
	if ((rc = drac_open(&du->handle, servers, &o)) < 0) {
		e_error(user->event, "drac: drac_server = %s: %s", servers,
		    drac_strerror(rc));
		return -1;
	}
	return 0;
}

/* drac_wanted - a login with a client address, not a delivery or a
 * shared mailbox's owner */
static bool
drac_wanted(struct mail_user *user)
{
	const struct ip_addr *ip = user->conn.remote_ip;

	if (user->creator != NULL || ip == NULL || ip->family == 0 ||
	    user->service == NULL)
		return FALSE;
	return strcmp(user->service, "imap") == 0 ||
	    strcmp(user->service, "pop3") == 0;
}

/* drac_mail_user_created - the login: add now, then renew on a timer */
static void
drac_mail_user_created(struct mail_user *user)
{
	struct mail_user_vfuncs *v = user->vlast;
	struct drac_user *du;
	unsigned int renew;
	int rc;

	if (!drac_wanted(user))
		return;
	du = p_new(user->pool, struct drac_user, 1);
	du->user = user;
	du->addr = p_strdup(user->pool, net_ip2addr(user->conn.remote_ip));
	if (strlen(user->username) <= DRAC_USERMAX)
		du->name = user->username;
	if (drac_settings(du, &renew) < 0)
		return;
	du->module_ctx.super = *v;
	user->vlast = &du->module_ctx.super;
	v->deinit = drac_user_deinit;
	MODULE_CONTEXT_SET(user, drac_user_module, du);

	/* in the process: the grant is in before the client hears OK */
	if ((rc = drac_user_add(du)) < 0)
		drac_warn(du, "add at login", rc);
	else
		e_debug(user->event, "drac: added %s", du->addr);
	if (renew > 0)
		du->to_renew = timeout_add(renew * 1000, drac_renew, du);
}

static struct mail_storage_hooks drac_mail_storage_hooks = {
	.mail_user_created = drac_mail_user_created
};

/* drac_plugin_init - Dovecot loads the module */
void
drac_plugin_init(struct module *module)
{
	mail_storage_hooks_add(module, &drac_mail_storage_hooks);
}

/* drac_plugin_deinit - Dovecot unloads it */
void
drac_plugin_deinit(void)
{
	mail_storage_hooks_remove(&drac_mail_storage_hooks);
	if (drac_child_wait_on)
		child_wait_deinit();
	drac_child_wait_on = FALSE;
}
