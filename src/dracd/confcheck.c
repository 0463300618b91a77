/*
 * confcheck.c - what start-up would fail on, found without side effects.
 *
 * config_check runs for dracd -n and for every start, before anything is
 * opened, so the two can never disagree: an unknown user, a listen spec
 * that cannot be parsed, a missing directory, a port no client can find.
 * The allow file and the key file are read by main.c's load_policy, which
 * runs in both cases too.
 */
#include <sys/stat.h>

#include <errno.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "stream.h"
#include "svc.h"

/* dir_exists - is the directory that holds path there? */
static int
dir_exists(const char *what, const char *path, char *err, size_t errlen)
{
	char dir[CONFIG_PATHMAX];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	errno = 0;
	if (stat(dirname(dir), &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(err, errlen, "%s %s: directory %s: %s", what, path,
	    dirname(dir), errno == 0 ? "is not a directory" :
	    strerror(errno));
	return -1;
}

/*
 * rpc_clash - does the RPC service (listen, port) bind the address and
 * port of inet spec: the same port, on "*" or on the same address?
 */
static int
rpc_clash(const struct config *c, const char *spec)
{
	char host[256], buf[1024], *colon, *tok, *save = NULL;

	snprintf(host, sizeof(host), "%s", spec + 5);
	if (c->port == 0 || (colon = strrchr(host, ':')) == NULL ||
	    strtol(colon + 1, NULL, 10) != c->port)
		return 0;
	*colon = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	snprintf(buf, sizeof(buf), "%s", c->listen);
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save))
		if (strcmp(tok, "*") == 0 || strcmp(tok, host) == 0)
			return 1;
	return 0;
}

/* check_streams - the policy, socketmap and metrics listen specs */
static int
check_streams(const struct config *c, char *err, size_t errlen)
{
	const struct { const char *name, *spec; } l[] = {
		{"policy_listen", c->policy_listen},
		{"socketmap_listen", c->socketmap_listen},
		{"metrics_listen", c->metrics_listen},
	};
	char why[CONFIG_PATHMAX + 128];
	size_t i, j;
	int inet;

	for (i = 0; i < sizeof(l) / sizeof(l[0]); i++) {
		if (l[i].spec[0] == '\0')
			continue;
		if ((inet = stream_spec_check(l[i].spec, why,
		    sizeof(why))) < 0) {
			snprintf(err, errlen, "%s: %s", l[i].name, why);
			return -1;
		}
		if (i == 2 && !inet) {
			snprintf(err, errlen, "metrics_listen: %s: want "
			    "inet:HOST:PORT or inet:[ADDR]:PORT", l[i].spec);
			return -1;
		}
		if (!inet && dir_exists(l[i].name, l[i].spec + 5, err,
		    errlen) < 0)
			return -1;
		for (j = 0; j < i; j++)
			if (strcmp(l[i].spec, l[j].spec) == 0) {
				snprintf(err, errlen, "%s and %s: both on %s",
				    l[j].name, l[i].name, l[i].spec);
				return -1;
			}
		if (inet && rpc_clash(c, l[i].spec)) {
			snprintf(err, errlen, "%s: %s is the RPC service's "
			    "port on the same address (listen, port)",
			    l[i].name, l[i].spec);
			return -1;
		}
	}
	return 0;
}

/*
 * group_alone - -1 when a group setting is given a value other than its
 * default without group_local.  By value, not by origin, so that the
 * output of dracd -n -v reads back.
 */
static int
group_alone(const struct config *c, char *err, size_t errlen)
{
	struct config def;
	const char *what;

	config_defaults(&def);
	what = strcmp(c->group_sites, def.group_sites) != 0 ? "group_sites" :
	    c->group_priority != def.group_priority ? "group_priority" :
	    c->group_ack != def.group_ack ? "group_ack" : NULL;
	if (what == NULL)
		return 0;
	snprintf(err, errlen, "%s is set but group_local is not: set "
	    "group_local to this member's HOST:PORT (or remove %s for a "
	    "single host)", what, what);
	return -1;
}

/*
 * check_group - group_local parses; then group_sites lists 1 to
 * CONFIG_GROUPMAX members that parse, none twice, none group_local
 */
static int
check_group(const struct config *c, char *err, size_t errlen)
{
	char seen[CONFIG_GROUPMAX][CONFIG_SITEMAX], tok[CONFIG_PATHMAX];
	char why[CONFIG_ERRMAX - 64];
	const char *cur = c->group_sites;
	struct config_site self, m;
	size_t n = 0, i;

	if (c->group_local[0] == '\0')
		return group_alone(c, err, errlen);
	if (config_site(c->group_local, &self, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "group_local: %s", why);
		return -1;
	}
	while (config_sites_next(&cur, tok, sizeof(tok)) != NULL) {
		if (n == CONFIG_GROUPMAX) {
			snprintf(err, errlen, "group_sites: more than %d "
			    "members (a group has at most %d)",
			    CONFIG_GROUPMAX, CONFIG_GROUPMAX + 1);
			return -1;
		}
		if (config_site(tok, &m, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "group_sites: %s", why);
			return -1;
		}
		if (strcmp(m.canon, self.canon) == 0) {
			snprintf(err, errlen, "group_sites: %s is group_local "
			    "itself (list the other members)", tok);
			return -1;
		}
		for (i = 0; i < n; i++)
			if (strcmp(seen[i], m.canon) == 0) {
				snprintf(err, errlen, "group_sites: %s is "
				    "listed twice", tok);
				return -1;
			}
		snprintf(seen[n++], CONFIG_SITEMAX, "%s", m.canon);
	}
	if (n == 0) {
		snprintf(err, errlen, "group_sites: empty: with group_local "
		    "set, list the other members (HOST:PORT), at least one");
		return -1;
	}
	return 0;
}

/*
 * config_check - -1 with a message when start-up with c would fail (or
 * serve where no client finds it); 0 when it may go ahead
 */
int
config_check(const struct config *c, char *err, size_t errlen)
{
	errno = 0;
	if (c->user[0] != '\0' && getpwnam(c->user) == NULL) {
		snprintf(err, errlen, "user: unknown user \"%s\"", c->user);
		return -1;
	}
	if (svc_listen_check(c->listen, err, errlen) < 0 ||
	    check_streams(c, err, errlen) < 0 ||
	    check_group(c, err, errlen) < 0)
		return -1;
	if (!c->rpcbind && c->port == 0) {
		snprintf(err, errlen, "rpcbind = no needs a fixed port (port "
		    "or -p): a port the kernel picks cannot be found by any "
		    "client");
		return -1;
	}
	if (dir_exists("dbfile", c->dbfile, err, errlen) < 0)
		return -1;
	if (c->pidfile[0] != '\0' && dir_exists("pidfile", c->pidfile, err,
	    errlen) < 0)
		return -1;
	return 0;
}
