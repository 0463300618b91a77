/*
 * sock.c - the one maker of listening sockets, for the RPC listeners
 * (svc.c) and the stream services (stream.c).  No state.
 */
#include <sys/socket.h>

#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>

#include "sock.h"

/*
 * sock_listen - one bound socket, non-blocking and close-on-exec: TCP
 * listening (SO_REUSEADDR, so a restart finds its port), UDP reporting
 * each datagram's destination and interface; an IPv6 socket v6-only
 * unless v6only is 0.  -1 with errno.
 */
int
sock_listen(const struct sockaddr *sa, socklen_t salen, int tcp, int v6only)
{
	int fd, one = 1;

	fd = socket(sa->sa_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (tcp)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		    sizeof(v6only));
	/* each datagram's destination and interface: replies leave from
	 * the address the request went to, and rules see the interface */
	if ((!tcp && (sa->sa_family == AF_INET ?
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) :
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
	    sizeof(one))) < 0) ||
	    bind(fd, sa, salen) < 0 || (tcp && listen(fd, 128) < 0)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}
