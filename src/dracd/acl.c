/*
 * acl.c - the allow file: parsing and matching.
 *
 * Formats (one rule a line, '#' starts a comment):
 *	255.255.255.0 192.0.2.0		DRAC's "netmask netaddr"
 *	192.0.2.0/24  2001:db8::/32	CIDR, either family
 *	198.51.100.7			one host
 * each optionally followed by rights: add, check, admin, none.  A rule
 * without rights grants add and check, as every DRAC rule did.  "never"
 * is about the addresses added, not the caller: no add grants an address
 * in such a network (proxies, webmail front ends, a CGNAT range).  A caller's
 * rights are the union over the rules that contain it.  Loopback holds
 * admin unless the file grants admin anywhere or says "none" for loopback.
 * Errors name the file and line; a bad file yields no acl at all.
 *
 * Rules that dracd makes itself trust a source address only where it
 * cannot be forged: the built-in loopback rules hold over TCP and for
 * datagrams that arrived on a loopback interface; the built-in rules for
 * the host's own addresses hold over TCP only.  Linux delivers a datagram
 * from outside that claims one of the host's IPv6 addresses (IPv4 too,
 * with accept_local), and reports the same arrival interface for it as
 * for the host's own traffic to that address, so nothing but a TCP
 * handshake tells the two apart.  Rules from the file hold on every path.
 */
#include <sys/stat.h>

#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

#define ACL_NONE	0x8	/* parsed "none": no rights, and says so */

struct builder {
	struct acl_rule *rules;
	size_t count, cap;
};

/* push - append a rule; -1 on memory exhaustion */
static int
push(struct builder *b, const struct addr *net, unsigned int bits,
    unsigned int rights, unsigned int via)
{
	struct acl_rule *n;

	if (b->count == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;

		if ((n = reallocarray(b->rules, cap, sizeof(*n))) == NULL)
			return -1;
		b->rules = n;
		b->cap = cap;
	}
	b->rules[b->count].net = *net;
	b->rules[b->count].bits = bits;
	b->rules[b->count].rights = rights;
	b->rules[b->count].via = via;
	b->count++;
	return 0;
}

/* parse_net - "a.b.c.d", "addr/bits"; sets bits to the full length if none */
static int
parse_net(char *tok, struct addr *net, unsigned int *bits)
{
	char *slash = strchr(tok, '/'), *end;
	unsigned long n;

	if (slash != NULL)
		*slash = '\0';
	if (addr_parse(net, tok) < 0)
		return -1;
	*bits = (unsigned int)addr_len(net) * 8;
	if (slash == NULL)
		return 0;
	if (slash[1] < '0' || slash[1] > '9')
		return -1;
	errno = 0;
	n = strtoul(slash + 1, &end, 10);
	if (errno != 0 || *end != '\0' || n > *bits)
		return -1;
	*bits = (unsigned int)n;
	return 0;
}

/* parse_right - one rights word */
static int
parse_right(const char *w, unsigned int *r)
{
	static const struct { const char *w; unsigned int r; } words[] = {
		{"add", ACL_ADD}, {"check", ACL_CHECK}, {"admin", ACL_ADMIN},
		{"none", ACL_NONE}, {"never", ACL_NEVER},
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(w, words[i].w) == 0) {
			*r |= words[i].r;
			return 0;
		}
	return -1;
}

/* parse_line - one line into b; -1 with a reason */
static int
parse_line(struct builder *b, char *line, const char **why)
{
	char *tok[16], *save = NULL, *p;
	unsigned int bits, mbits, rights = 0;
	struct addr net, mask;
	size_t n = 0, i = 1;

	if ((p = strchr(line, '#')) != NULL)
		*p = '\0';
	for (p = strtok_r(line, " \t\r\n", &save); p != NULL;
	    p = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == sizeof(tok) / sizeof(tok[0]))
			return *why = "too many words", -1;
		tok[n++] = p;
	}
	if (n == 0)
		return 0;
	if (n >= 2 && strchr(tok[0], '/') == NULL &&
	    addr_parse(&mask, tok[0]) == 0 && mask.family == AF_INET &&
	    addr_parse(&net, tok[1]) == 0) {
		/* DRAC's "netmask netaddr" */
		if (net.family != AF_INET || addr_mask_to_prefix(&mask,
		    &mbits) < 0)
			return *why = "bad netmask", -1;
		bits = mbits;
		i = 2;
	} else if (parse_net(tok[0], &net, &bits) < 0) {
		return *why = "bad address or network", -1;
	}
	for (; i < n; i++)
		if (parse_right(tok[i], &rights) < 0)
			return *why = "unknown right (add, check, admin, "
			    "none, never)", -1;
	if ((rights & ACL_NONE) && (rights & ~ACL_NONE))
		return *why = "\"none\" with other rights", -1;
	if (rights == 0)
		rights = ACL_ADD | ACL_CHECK;
	if (!addr_is_network(&net, bits))
		return *why = "bad network (address bits set past the prefix)",
		    -1;
	if (push(b, &net, bits, rights, ACL_VIA_ANY) < 0)
		return *why = "out of memory", -1;
	return 0;
}

/*
 * loopback_rules - 127.0.0.0/8 and ::1 with the given rights, over TCP
 * and on a loopback interface (a loopback source arriving elsewhere is
 * forged: with route_localnet and accept_local, Linux delivers such
 * IPv4 datagrams)
 */
static int
loopback_rules(struct builder *b, unsigned int rights)
{
	const unsigned int via = ACL_VIA_TCP | ACL_VIA_LO;
	struct addr v4, v6;

	addr_parse(&v4, "127.0.0.0");
	addr_parse(&v6, "::1");
	if (push(b, &v4, 8, rights, via) < 0 ||
	    push(b, &v6, 128, rights, via) < 0)
		return -1;
	return 0;
}

/* implicit_admin - the loopback admin rule, unless the file took it away */
static int
implicit_admin(struct builder *b)
{
	struct addr lo4, lo6;
	size_t i;

	addr_parse(&lo4, "127.0.0.1");
	addr_parse(&lo6, "::1");
	for (i = 0; i < b->count; i++) {
		const struct acl_rule *r = &b->rules[i];

		if (r->rights & ACL_ADMIN)
			return 0;
		if ((r->rights & ACL_NONE) && (addr_in_prefix(&lo4, &r->net,
		    r->bits) || addr_in_prefix(&lo6, &r->net, r->bits)))
			return 0;
	}
	return loopback_rules(b, ACL_ADMIN);
}

/* finish - wrap a builder into an acl */
static struct acl *
finish(struct builder *b, int from_file)
{
	struct acl *a;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		free(b->rules);
		return NULL;
	}
	a->rules = b->rules;
	a->count = b->count;
	a->from_file = from_file;
	return a;
}

/* acl_parse - rules from text; name is used in messages */
struct acl *
acl_parse(const char *text, const char *name, char *err, size_t errlen)
{
	struct builder b = {NULL, 0, 0};
	const char *p = text, *why;
	char line[1024];
	unsigned int lineno = 0;

	while (*p != '\0') {
		size_t len = strcspn(p, "\n");

		lineno++;
		if (len >= sizeof(line)) {
			snprintf(err, errlen, "%s:%u: line too long", name,
			    lineno);
			goto fail;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (p[len] == '\n');
		if (parse_line(&b, line, &why) < 0) {
			snprintf(err, errlen, "%s:%u: %s", name, lineno, why);
			goto fail;
		}
	}
	if (implicit_admin(&b) < 0) {
		snprintf(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	return finish(&b, 1);
fail:
	free(b.rules);
	return NULL;
}

/* read_all - a whole small file as a string the caller frees */
static char *
read_all(const char *path, char *err, size_t errlen)
{
	char *buf = NULL, *n;
	size_t len = 0, cap = 0, got;
	struct stat st;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	if (fstat(fileno(fp), &st) == 0 && (st.st_mode & S_IWOTH)) {
		/* anyone could grant themselves the right to add */
		snprintf(err, errlen, "%s: writable by others; refusing it "
		    "(chmod o-w)", path);
		fclose(fp);
		errno = EPERM;
		return NULL;
	}
	do {
		if (cap - len < 4096) {
			if (cap > (1 << 24) ||
			    (n = realloc(buf, cap + 65536)) == NULL) {
				snprintf(err, errlen, "%s: too large", path);
				free(buf);
				fclose(fp);
				errno = EFBIG;
				return NULL;
			}
			buf = n;
			cap += 65536;
		}
		got = fread(buf + len, 1, cap - len - 1, fp);
		len += got;
	} while (got > 0);
	if (ferror(fp) || memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: unreadable or binary", path);
		free(buf);
		fclose(fp);
		errno = EIO;
		return NULL;
	}
	fclose(fp);
	buf[len] = '\0';
	return buf;
}

/*
 * acl_load - the rules of an allow file; the built-in defaults when the
 * file does not exist and must_exist is 0.  NULL with a message otherwise.
 */
struct acl *
acl_load(const char *path, int must_exist, char *err, size_t errlen)
{
	struct acl *a;
	char *text;

	err[0] = '\0';
	if ((text = read_all(path, err, errlen)) == NULL) {
		if (errno == ENOENT && !must_exist)
			return acl_defaults();
		if (err[0] == '\0')
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	a = acl_parse(text, path, err, errlen);
	free(text);
	return a;
}

/*
 * acl_defaults - loopback (all rights) and, over TCP only, this host's
 * own addresses (add and check)
 */
struct acl *
acl_defaults(void)
{
	struct builder b = {NULL, 0, 0};
	struct ifaddrs *ifs = NULL, *i;
	struct addr a;

	if (loopback_rules(&b, ACL_ADD | ACL_CHECK | ACL_ADMIN) < 0)
		goto fail;
	if (getifaddrs(&ifs) == 0) {
		for (i = ifs; i != NULL; i = i->ifa_next) {
			if (i->ifa_addr == NULL || addr_from_sockaddr(&a,
			    i->ifa_addr, sizeof(struct sockaddr_storage)) < 0)
				continue;
			if (!addr_is_loopback(&a) && push(&b, &a,
			    (unsigned int)addr_len(&a) * 8,
			    ACL_ADD | ACL_CHECK, ACL_VIA_TCP) < 0)
				goto fail;
		}
		freeifaddrs(ifs);
	}
	return finish(&b, 0);
fail:
	if (ifs != NULL)
		freeifaddrs(ifs);
	free(b.rules);
	return NULL;
}

/*
 * acl_rights - the union of the rights of every rule containing a that
 * holds for a request that came by via (one ACL_VIA_* bit)
 */
unsigned int
acl_rights(const struct acl *acl, const struct addr *a, unsigned int via)
{
	unsigned int r = 0;
	size_t i;

	for (i = 0; i < acl->count; i++)
		if ((acl->rules[i].via & via) &&
		    addr_in_prefix(a, &acl->rules[i].net, acl->rules[i].bits))
			r |= acl->rules[i].rights;
	return r & ~(ACL_NONE | ACL_NEVER);
}

/*
 * acl_match - the most specific rule containing a that grants right:
 * 1 and a copy in *out, or 0 when none does.  One pass over the rules.
 */
int
acl_match(const struct acl *acl, const struct addr *a, unsigned int right,
    struct acl_rule *out)
{
	const struct acl_rule *best = NULL;
	size_t i;

	for (i = 0; i < acl->count; i++) {
		const struct acl_rule *r = &acl->rules[i];

		if ((r->rights & right) == 0 ||
		    !addr_in_prefix(a, &r->net, r->bits))
			continue;
		if (best == NULL || r->bits > best->bits)
			best = r;
	}
	if (best == NULL)
		return 0;
	*out = *best;
	return 1;
}

/*
 * acl_add_never - append a "never" rule to a for each network in list
 * (dracd.conf's never_grant: separated by commas or spaces); -1 with a
 * message naming the bad one, a unchanged
 */
int
acl_add_never(struct acl *a, const char *list, char *err, size_t errlen)
{
	struct builder b = {NULL, 0, 0};
	char *copy, *tok, *save = NULL;
	struct acl_rule *n;
	struct addr net;
	unsigned int bits;
	int rc = 0;

	if ((copy = strdup(list)) == NULL)
		return snprintf(err, errlen, "out of memory"), -1;
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, ", \t", &save)) {
		snprintf(err, errlen, "never_grant: bad network \"%s\"", tok);
		if (parse_net(tok, &net, &bits) < 0 ||
		    !addr_is_network(&net, bits))
			rc = -1;
		else if (push(&b, &net, bits, ACL_NEVER, ACL_VIA_ANY) < 0)
			rc = -1;
	}
	free(copy);
	if (rc == 0 && b.count > 0) {
		if ((n = reallocarray(a->rules, a->count + b.count,
		    sizeof(*n))) == NULL)
			rc = -1;
		else {
			memcpy(n + a->count, b.rules, b.count * sizeof(*n));
			a->rules = n;
			a->count += b.count;
		}
	}
	free(b.rules);
	if (rc == 0)
		err[0] = '\0';
	return rc;
}

/* acl_free - release an acl from acl_load, acl_parse or acl_defaults */
void
acl_free(struct acl *a)
{
	if (a == NULL)
		return;
	free(a->rules);
	free(a);
}
