/*
 * rpcreg.c - tell rpcbind where dracd listens, and take it back at exit.
 *
 * A dual-stack socket is registered under both the IPv6 and the IPv4
 * netids, since DRAC's clients ask rpcbind for "udp".  Called from the
 * main thread only.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <rpc/rpc.h>
#include <rpc/pmap_clnt.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "rpcreg.h"

/* reg_one - register every version for one netid and address */
static int
reg_one(unsigned long prog, unsigned long lo, unsigned long hi,
    const char *netid, struct sockaddr *sa, socklen_t len)
{
	struct netconfig *nc = getnetconfigent(netid);
	struct netbuf nb;
	unsigned long v;
	int ok = 1;

	if (nc == NULL)
		return -1;
	nb.buf = sa;
	nb.len = nb.maxlen = len;
	for (v = lo; v <= hi && ok; v++)
		ok = rpcb_set(prog, v, nc, &nb);
	freenetconfigent(nc);
	return ok ? 0 : -1;
}

/* reg_sock - register one bound socket */
static int
reg_sock(unsigned long prog, unsigned long lo, unsigned long hi,
    const struct svc_sock *s)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	socklen_t len = sizeof(ss);
	int v6only = 1;

	if (getsockname(s->fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return reg_one(prog, lo, hi, s->tcp ? "tcp" : "udp",
		    (struct sockaddr *)&ss, len);
	if (reg_one(prog, lo, hi, s->tcp ? "tcp6" : "udp6",
	    (struct sockaddr *)&ss, len) < 0)
		return -1;
	len = sizeof(v6only);
	getsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len);
	if (v6only)
		return 0;
	/* the dual-stack wildcard also serves IPv4 */
	memset(s4, 0, sizeof(*s4));
	s4->sin_family = AF_INET;
	s4->sin_port = htons(s->port);
	return reg_one(prog, lo, hi, s->tcp ? "tcp" : "udp",
	    (struct sockaddr *)&ss, sizeof(*s4));
}

/* rpcbind_there - does the local rpcbind's socket exist? */
static int
rpcbind_there(void)
{
	return access("/run/rpcbind.sock", F_OK) == 0 ||
	    access("/var/run/rpcbind.sock", F_OK) == 0;
}

/*
 * rpcreg_present - does the local rpcbind still map prog/vers over UDP to
 * port?  A restarted rpcbind has forgotten every registration.
 */
int
rpcreg_present(unsigned long prog, unsigned long vers, uint16_t port)
{
	struct sockaddr_in sa;

	if (!rpcbind_there())
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return pmap_getport(&sa, prog, vers, IPPROTO_UDP) == port;
}

/*
 * rpcreg_set - register prog versions lo..hi for every socket, replacing
 * what an earlier run left.  0 when rpcbind took them all, -1 otherwise.
 */
int
rpcreg_set(unsigned long prog, unsigned long lo, unsigned long hi,
    const struct svc_sock *socks, size_t n)
{
	size_t i;

	if (!rpcbind_there())
		return -1;	/* no rpcbind: don't wait for its timeouts */
	rpcreg_unset(prog, lo, hi);
	for (i = 0; i < n; i++)
		if (reg_sock(prog, lo, hi, &socks[i]) < 0)
			return -1;
	return 0;
}

/* rpcreg_unset - remove every registration of prog versions lo..hi */
void
rpcreg_unset(unsigned long prog, unsigned long lo, unsigned long hi)
{
	unsigned long v;

	for (v = lo; v <= hi; v++)
		rpcb_unset(prog, v, NULL);
}
