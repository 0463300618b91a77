/*
 * net.c - loopback sockets: a free port, a bound and connected socket,
 * one datagram exchanged.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "helpers.h"

/* free_port - a port free for both UDP and TCP on 127.0.0.1 just now */
uint16_t
free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int t, u;

	for (;;) {
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		t = socket(AF_INET, SOCK_STREAM, 0);
		u = socket(AF_INET, SOCK_DGRAM, 0);
		ck_assert(t >= 0 && u >= 0);
		ck_assert_int_eq(bind(t, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ck_assert_int_eq(getsockname(t, (struct sockaddr *)&sa, &len),
		    0);
		if (bind(u, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(t);
			close(u);
			return ntohs(sa.sin_port);
		}
		close(t);
		close(u);
	}
}

/*
 * dial - a socket of the given type bound to address src and connected
 * to 127.0.0.1:port (a UDP socket too); -1 when the connect fails.  to,
 * if not NULL, receives the server's address.
 */
int
dial(const char *src, uint16_t port, int type, struct sockaddr_in *to)
{
	struct sockaddr_in sa, me;
	int fd = socket(AF_INET, type, 0);

	ck_assert(fd >= 0);
	memset(&me, 0, sizeof(me));
	me.sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, src, &me.sin_addr), 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (to != NULL)
		*to = sa;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* udp_exchange - send one datagram from src, await one reply */
ssize_t
udp_exchange(const char *src, uint16_t port, const void *req, size_t len,
    uint8_t *reply, size_t cap, int timeout_ms)
{
	struct pollfd pfd;
	ssize_t got = -1;
	int fd = dial(src, port, SOCK_DGRAM, NULL);

	ck_assert(fd >= 0);
	if (send(fd, req, len, 0) == (ssize_t)len) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, timeout_ms) == 1)
			got = recv(fd, reply, cap, 0);
	}
	close(fd);
	return got;
}
