/*
 * metrics.c - the counters in Prometheus text format (version 0.0.4).
 *
 * HTTP is libmicrohttpd's: one internal thread polls the listening socket
 * and its connections, at most METRICS_CONNS at a time, each closed after
 * METRICS_TIMEOUT seconds of silence.  A caller without the admin right
 * (over TCP, as for del, list and flush) is closed at accept, before a
 * byte is read.  Only GET /metrics is served: other paths get 404, other
 * methods 405.  A scrape reads the counters under their own locks and
 * atomics; nothing on the request paths waits for it.
 */
#include <sys/socket.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "addr.h"
#include "metrics.h"
#include "mono.h"
#include "policy.h"
#include "store.h"
#include "stream.h"

#define METRICS_CONNS 8
#define METRICS_TIMEOUT 10	/* seconds */
#define METRICS_MAX 16384	/* the body's bound (a group's sites too) */
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics {
	struct MHD_Daemon *mhd;
	struct server *sv;
};

struct out {
	char *buf;
	size_t cap, len;
};

/* put - append formatted text; output past cap is dropped (and shows) */
static void __attribute__((format(printf, 2, 3)))
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len >= o->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < o->cap - o->len ? (size_t)n :
		    o->cap - o->len;
}

/* head - the HELP and TYPE lines of one metric */
static void
head(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* one - a metric with a single unlabelled sample */
static void
one(struct out *o, const char *name, const char *type, const char *help,
    uint64_t v)
{
	head(o, name, type, help);
	put(o, "%s %llu\n", name, (unsigned long long)v);
}

/* render_proc - what proc.c counts: grants by version and transport,
 * denials by reason */
static void
render_proc(struct out *o, struct server *sv)
{
	static const char *const reasons[DENY_REASONS] = {"acl", "transport",
	    "auth", "rate", "never"};
	struct policy_counters pc;
	size_t v, t;

	policy_counters(sv, &pc);
	head(o, "dracd_adds_total", "counter",
	    "Addresses granted, by protocol version and transport.");
	for (v = 0; v < 3; v++)
		for (t = 0; t < 2; t++)
			put(o, "dracd_adds_total{version=\"%zu\",transport="
			    "\"%s\"} %llu\n", v + 1, t ? "tcp" : "udp",
			    (unsigned long long)pc.added[v][t]);
	head(o, "dracd_denials_total", "counter",
	    "Requests refused, by reason (acl: no right in the allow file; "
	    "transport: not over TCP; auth: add key; rate: add_rate).");
	for (v = 0; v < DENY_REASONS; v++)
		put(o, "dracd_denials_total{reason=\"%s\"} %llu\n", reasons[v],
		    (unsigned long long)pc.denied[v]);
	one(o, "dracd_adds_rate_limited_total", "counter",
	    "Adds refused by the per-client add_rate.", pc.denied[DENY_RATE]);
}

/* render_store - what the store counts: the table, the map, the journal */
static void
render_store(struct out *o, struct server *sv)
{
	struct store_stats st;

	store_get_stats(sv->store, &st);
	one(o, "dracd_checks_total", "counter",
	    "Checks of an address (RPC, policy and socketmap).", st.checks);
	one(o, "dracd_check_hits_total", "counter",
	    "Checks that found the address granted.", st.hits);
	one(o, "dracd_expirations_total", "counter",
	    "Grants removed because their time was up.", st.expirations);
	one(o, "dracd_deletions_total", "counter",
	    "Grants removed by del or flush.", st.deletions);
	one(o, "dracd_entries", "gauge", "Addresses granted now.", st.entries);
	one(o, "dracd_map_writes_total", "counter",
	    "Rewrites of the map mail servers read.", st.map_writes);
	one(o, "dracd_map_write_failures_total", "counter",
	    "Rewrites of the map that failed.", st.map_failures);
	one(o, "dracd_map_last_write_timestamp_seconds", "gauge",
	    "When the map was last written whole (0: not since start).",
	    (uint64_t)st.map_written);
	head(o, "dracd_journal_commit_seconds", "summary",
	    "Time to commit and flush records to the environment.");
	put(o, "dracd_journal_commit_seconds_sum %.6f\n"
	    "dracd_journal_commit_seconds_count %llu\n",
	    (double)st.commit_us / 1e6, (unsigned long long)st.commits);
}

/* put_label - a label value with Prometheus's escapes (\\, \", \n) */
static void
put_label(struct out *o, const char *v)
{
	for (; *v != '\0'; v++)
		if (*v == '\\' || *v == '"')
			put(o, "\\%c", *v);
		else if (*v == '\n')
			put(o, "\\n");
		else
			put(o, "%c", *v);
}

/* render_group - a member's view of its group; nothing on a single host */
static void
render_group(struct out *o, const struct store_group *g)
{
	size_t i;

	if (!g->enabled)
		return;
	one(o, "dracd_group_role", "gauge", "This member's role in its group "
	    "(0 none: joining or electing, 1 replica, 2 master).",
	    g->role == STORE_ROLE_MASTER ? 2 : g->role == STORE_ROLE_REPLICA ?
	    1 : 0);
	one(o, "dracd_group_seq", "gauge",
	    "The number of the last change applied at this member.", g->seq);
	head(o, "dracd_group_seq_timestamp_seconds", "gauge",
	    "When the master committed the last change applied here "
	    "(0: none).");
	put(o, "dracd_group_seq_timestamp_seconds %.3f\n",
	    (double)g->seq_ms / 1e3);
	one(o, "dracd_group_forwarded_total", "counter",
	    "Adds, dels and flushes passed on to the master.", g->forwarded);
	one(o, "dracd_group_forward_failures_total", "counter",
	    "Calls passed on to the master that failed.",
	    g->forward_failures);
	one(o, "dracd_group_elections_total", "counter",
	    "Roles this member took since start.", g->elections);
	if (g->nsites == 0)
		return;
	head(o, "dracd_group_site_connected", "gauge", "Whether this member "
	    "has a connection to each member of its group (1) or not (0).");
	for (i = 0; i < g->nsites && i < STORE_GROUP_SITES; i++) {
		put(o, "dracd_group_site_connected{site=\"");
		put_label(o, g->sites[i].addr);
		put(o, "\"} %d\n", g->sites[i].connected ? 1 : 0);
	}
}

/* metrics_render_group - render_group alone into buf, for the tests */
size_t
metrics_render_group(const struct store_group *g, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0};

	render_group(&o, g);
	return o.len;
}

/* metrics_render - the whole body into buf; its length */
size_t
metrics_render(struct server *sv, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0};
	struct store_group g;

	render_proc(&o, sv);
	render_store(&o, sv);
	memset(&g, 0, sizeof(g));
	store_group_status(sv->store, &g);
	render_group(&o, &g);
	one(&o, "dracd_open_connections", "gauge",
	    "TCP and local connections open (RPC, policy, socketmap).",
	    stream_open_connections());
	one(&o, "dracd_start_time_seconds", "gauge",
	    "When dracd started, in seconds since the epoch.",
	    (uint64_t)sv->started);
	return o.len;
}

/* reply - queue a response with body and status */
static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned int status, void *body,
    size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	if ((r = MHD_create_response_from_buffer(len, body, mode)) == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* answer - GET /metrics, or 404 or 405 */
static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **state)
{
	struct metrics *m = cls;
	char *body;
	size_t len;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)state;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "only GET\n", 9, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, "only /metrics\n", 14,
		    MHD_RESPMEM_PERSISTENT);
	if ((body = malloc(METRICS_MAX)) == NULL)
		return MHD_NO;
	len = metrics_render(m->sv, body, METRICS_MAX);
	return reply(conn, MHD_HTTP_OK, body, len, MHD_RESPMEM_MUST_FREE);
}

/* admit - the accept policy: callers with the admin right only */
static enum MHD_Result
admit(void *cls, const struct sockaddr *sa, socklen_t len)
{
	struct metrics *m = cls;
	struct addr peer;

	if (addr_from_sockaddr(&peer, sa, len) < 0)
		return MHD_NO;
	return policy_admin_over_tcp(m->sv, &peer) ? MHD_YES : MHD_NO;
}

/*
 * metrics_start - serve fd (listening) from libmicrohttpd's own thread;
 * NULL with a message on failure.  fd is closed by metrics_stop.
 */
struct metrics *
metrics_start(int fd, struct server *sv, char *err, size_t errlen)
{
	struct metrics *m;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	m->sv = sv;
	m->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_POLL, 0, admit, m, answer, m,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_CONNS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_TIMEOUT,
	    MHD_OPTION_END);
	if (m->mhd == NULL) {
		snprintf(err, errlen, "metrics: libmicrohttpd cannot serve");
		free(m);
		return NULL;
	}
	return m;
}

/* metrics_stop - stop serving and close the socket */
void
metrics_stop(struct metrics *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->mhd);
	free(m);
}
