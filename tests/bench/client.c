/*
 * client.c - what loadgen and grouplag share as clients: the clock, a
 * socket connected to a dracd on loopback, and DRAC calls encoded by hand
 * so the client costs little and measures the server.  Callers own the
 * buffers: a call header is 40 bytes, an address argument at most 8.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"

#define DRACPROG	900101

/* client_now_ns - monotonic nanoseconds */
int64_t
client_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* client_connect - a socket of type (SOCK_DGRAM, SOCK_STREAM) connected
 * to 127.0.0.1:port; exits when it cannot be had */
int
client_connect(int type, uint16_t port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, type, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		exit(2);
	}
	return fd;
}

/* client_ports - the ports of the comma-separated list (cut up in
 * place) into port[0..max); how many */
int
client_ports(char *list, uint16_t *port, int max)
{
	char *tok, *save;
	int n = 0;

	for (tok = strtok_r(list, ",", &save); tok != NULL && n < max;
	    tok = strtok_r(NULL, ",", &save))
		port[n++] = (uint16_t)atoi(tok);
	return n;
}

/* client_put32 - one big-endian XDR unit at p; 4 */
size_t
client_put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
	return 4;
}

/* client_get32 - one big-endian XDR unit */
uint32_t
client_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

/* client_call - the header of call xid to DRAC version vers, procedure
 * proc, null credentials and verifier, at p; its length (40) */
size_t
client_call(uint8_t *p, uint32_t xid, uint32_t vers, uint32_t proc)
{
	size_t n = 0;

	n += client_put32(p + n, xid);
	n += client_put32(p + n, 0);		/* CALL */
	n += client_put32(p + n, 2);		/* RPC version */
	n += client_put32(p + n, DRACPROG);
	n += client_put32(p + n, vers);
	n += client_put32(p + n, proc);
	n += client_put32(p + n, 0);		/* AUTH_NONE, empty */
	n += client_put32(p + n, 0);
	n += client_put32(p + n, 0);		/* its verifier */
	n += client_put32(p + n, 0);
	return n;
}

/* client_addr - the IPv4 address addr as version vers takes it (v1 ADD:
 * the address word; v3: family 1, then the four bytes) at p; its length */
size_t
client_addr(uint8_t *p, uint32_t vers, uint32_t addr)
{
	size_t n = 0;

	if (vers == 3)
		n += client_put32(p + n, 1);
	n += client_put32(p + n, addr);
	return n;
}
