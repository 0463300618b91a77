/*
 * lossy.c - a UDP relay thread on loopback that loses or doubles one
 * datagram on its way to or from dracd.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "fakeudp.h"
#include "helpers.h"

struct lossy {
	pthread_t thread;
	int fd;			/* where the client sends */
	uint16_t to;		/* dracd's port */
	int lose, lost, relayed;
	int replies;		/* DOUBLE_REQUEST: identical replies, or -1 */
	char spec[32];
};

/* lossy_double - send a request twice at once, relay the first reply,
 * and count the replies that come within a while */
static void
lossy_double(struct lossy *r, int up, const struct sockaddr_in *to,
    const uint8_t *req, size_t reqlen, const struct sockaddr_in *from,
    socklen_t fromlen)
{
	struct timeval tv = {0, 500 * 1000};
	uint8_t first[2048], buf[2048];
	ssize_t n, n1 = -1;

	if (sendto(up, req, reqlen, 0, (const struct sockaddr *)to,
	    sizeof(*to)) != (ssize_t)reqlen || sendto(up, req, reqlen, 0,
	    (const struct sockaddr *)to, sizeof(*to)) != (ssize_t)reqlen)
		return;
	while ((n = recv(up, buf, sizeof(buf), 0)) > 0) {
		if (n1 < 0) {
			memcpy(first, buf, (size_t)n);
			n1 = n;
			/* the client's call says whether this arrived */
			sendto(r->fd, buf, (size_t)n, 0,
			    (const struct sockaddr *)from, fromlen);
			/* a second reply, if any, comes at once */
			setsockopt(up, SOL_SOCKET, SO_RCVTIMEO, &tv,
			    sizeof(tv));
		} else if (n != n1 || memcmp(buf, first, (size_t)n) != 0) {
			r->replies = -1;
			return;
		}
		r->replies++;
	}
}

/* lossy_run - relay up to two requests and their replies, losing one */
static void *
lossy_run(void *arg)
{
	struct lossy *r = arg;
	struct timeval tv = {WAIT_MS / 1000, 0};
	struct sockaddr_in from, to;
	socklen_t fromlen;
	uint8_t buf[2048];
	ssize_t n;
	int up, k;

	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons(r->to);
	up = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	setsockopt(up, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (k = 0; k < 2 && !r->relayed; k++) {
		fromlen = sizeof(from);
		if ((n = recvfrom(r->fd, buf, sizeof(buf), 0,
		    (struct sockaddr *)&from, &fromlen)) <= 0)
			break;
		if (k == 0 && r->lose == LOSE_REQUEST) {
			r->lost = 1;
			continue;
		}
		if (r->lose == DOUBLE_REQUEST) {
			lossy_double(r, up, &to, buf, (size_t)n, &from,
			    fromlen);
			break;
		}
		if (sendto(up, buf, (size_t)n, 0, (struct sockaddr *)&to,
		    sizeof(to)) != n || (n = recv(up, buf, sizeof(buf),
		    0)) <= 0)
			break;
		if (k == 0) {
			r->lost = 1;
			continue;
		}
		r->relayed = sendto(r->fd, buf, (size_t)n, 0,
		    (struct sockaddr *)&from, fromlen) == n;
	}
	close(up);
	return NULL;
}

struct lossy *
lossy_start(uint16_t to, int lose)
{
	struct lossy *r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	r->to = to;
	r->lose = lose;
	r->fd = udp_loopback(r->spec, sizeof(r->spec));
	ck_assert_int_eq(pthread_create(&r->thread, NULL, lossy_run, r), 0);
	return r;
}

const char *
lossy_spec(const struct lossy *r)
{
	return r->spec;
}

int
lossy_end(struct lossy *r)
{
	int ok;

	pthread_join(r->thread, NULL);
	ok = r->lose == DOUBLE_REQUEST ? r->replies : r->lost && r->relayed;
	close(r->fd);
	free(r);
	return ok;
}
