/*
 * lookup.c - the policy and socketmap services.
 *
 * Policy delegation: a request is "name=value" lines ending with an empty
 * line; only client_address matters here.  The answer is
 * "action=<policy_action>" for an allowed client and "action=DUNNO"
 * otherwise.  Socketmap: a netstring "drac <address>", answered with the
 * netstring "OK <policy_action>" or "NOTFOUND ".  A caller without the
 * check right is closed at accept (stream asks admit_check) and logged;
 * the MTA then tempfails, it never relays.  Should the rules change
 * under an open connection, the caller gets the negative answer.
 * Requests are bounded (LOOKUP_*MAX) and parsed here only.  No state;
 * runs in the stream thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "policy.h"

#define MAPNAME "drac"

/*
 * policy_request - find a whole request in in: its length through the
 * empty line, 0 if it is not all there, -1 if malformed.  client gets the
 * value of client_address ("" when absent).
 */
ssize_t
policy_request(const char *in, size_t len, char *client, size_t clientlen)
{
	const char *p = in, *end = in + len, *nl;

	client[0] = '\0';
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return 0;
		if (nl == p)
			return nl + 1 - in;	/* the empty line */
		if (memchr(p, '=', (size_t)(nl - p)) == NULL ||
		    memchr(p, '\0', (size_t)(nl - p)) != NULL)
			return -1;
		if ((size_t)(nl - p) > 15 && memcmp(p, "client_address=", 15)
		    == 0) {
			size_t vlen = (size_t)(nl - p) - 15;

			if (vlen >= clientlen)
				vlen = 0;	/* too long: no address */
			memcpy(client, p + 15, vlen);
			client[vlen] = '\0';
		}
		p = nl + 1;
	}
	return 0;
}

/* policy_consume - one policy request, one answer */
static ssize_t
policy_consume(void *ctx, struct stream_conn *c, const uint8_t *in,
    size_t len)
{
	char client[64], action[POLICY_ACTIONMAX], reply[POLICY_ACTIONMAX + 16];
	struct store_info info;
	struct addr a;
	ssize_t used;
	int n;

	if ((used = policy_request((const char *)in, len, client,
	    sizeof(client))) <= 0)
		return used;
	if (addr_parse(&a, client) < 0 || policy_check(&(struct policy_req){
	    .sv = ctx, .peer = stream_peer(c), .tcp = 1,
	    .what = "policy service"}, &a, &info, action, sizeof(action)) != 1)
		snprintf(action, sizeof(action), "DUNNO");
	n = snprintf(reply, sizeof(reply), "action=%s\n\n", action);
	return stream_reply(c, reply, (size_t)n) < 0 ? -1 : used;
}

/* admit_check - may peer connect for lookups: the check right */
static int
admit_check(void *ctx, const struct addr *peer)
{
	return (policy_rights(ctx, peer) & ACL_CHECK) != 0;
}

const struct stream_proto lookup_policy_proto = {
	"policy", LOOKUP_POLICYMAX, policy_consume, admit_check,
};

/*
 * netstring_get - one netstring "<len>:<data>," at in: its whole length,
 * 0 if it is not all there, -1 if malformed or longer than max.
 */
ssize_t
netstring_get(const char *in, size_t len, size_t max, const char **data,
    size_t *datalen)
{
	size_t i, n = 0;

	for (i = 0; i < len && in[i] >= '0' && in[i] <= '9'; i++) {
		if (i == 5 || (i > 0 && n == 0))
			return -1;	/* too long, or a leading zero */
		n = n * 10 + (size_t)(in[i] - '0');
	}
	if (i == len)
		return 0;
	if (i == 0 || in[i] != ':' || n > max)
		return -1;
	if (len - i - 1 < n + 1)
		return 0;
	if (in[i + 1 + n] != ',')
		return -1;
	*data = in + i + 1;
	*datalen = n;
	return (ssize_t)(i + 2 + n);
}

/* sockmap_answer - the answer text for one "name key" query */
static void
sockmap_answer(struct server *sv, const struct addr *peer, const char *q,
    size_t qlen, char *out, size_t outlen)
{
	char key[64], action[POLICY_ACTIONMAX];
	struct store_info info;
	struct addr a;
	size_t klen;

	if (qlen < sizeof(MAPNAME) || memcmp(q, MAPNAME " ",
	    sizeof(MAPNAME)) != 0) {
		snprintf(out, outlen, "PERM unknown map (this is \"%s\")",
		    MAPNAME);
		return;
	}
	klen = qlen - sizeof(MAPNAME);
	if (klen >= sizeof(key))
		klen = 0;
	memcpy(key, q + sizeof(MAPNAME), klen);
	key[klen] = '\0';
	if (addr_parse(&a, key) == 0 && policy_check(&(struct policy_req){
	    .sv = sv, .peer = peer, .tcp = 1, .what = "socketmap service"},
	    &a, &info, action, sizeof(action)) == 1)
		snprintf(out, outlen, "OK %s", action);
	else
		snprintf(out, outlen, "NOTFOUND ");
}

/* sockmap_consume - one netstring query, one netstring answer */
static ssize_t
sockmap_consume(void *ctx, struct stream_conn *c, const uint8_t *in,
    size_t len)
{
	char ans[POLICY_ACTIONMAX + 64], reply[POLICY_ACTIONMAX + 80];
	const char *q;
	size_t qlen;
	ssize_t used;
	int n;

	if ((used = netstring_get((const char *)in, len, LOOKUP_SOCKMAPMAX - 8,
	    &q, &qlen)) <= 0)
		return used;
	sockmap_answer(ctx, stream_peer(c), q, qlen, ans, sizeof(ans));
	n = snprintf(reply, sizeof(reply), "%zu:%s,", strlen(ans), ans);
	return stream_reply(c, reply, (size_t)n) < 0 ? -1 : used;
}

const struct stream_proto lookup_socketmap_proto = {
	"socketmap", LOOKUP_SOCKMAPMAX, sockmap_consume, admit_check,
};
