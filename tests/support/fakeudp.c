/*
 * fakeudp.c - the socket the fake DRAC servers (fakesrv.c, fakeold.c)
 * answer on.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "fakeudp.h"

/* udp_loopback - a UDP socket bound to a free port on 127.0.0.1; its
 * "127.0.0.1:port" spec in spec */
int
udp_loopback(char *spec, size_t len)
{
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
	snprintf(spec, len, "127.0.0.1:%u", ntohs(sa.sin_port));
	return fd;
}
