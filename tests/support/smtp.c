/*
 * smtp.c - the client side of an SMTP or POP3 dialogue, from a chosen
 * source address (IPv4 or IPv6 loopback), for the tests that talk to
 * real mail servers.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "helpers.h"
#include "mta.h"

/* dial6 - a TCP connection from IPv6 address src to [::1]:port, or -1 */
static int
dial6(const char *src, uint16_t port)
{
	struct sockaddr_in6 me, to;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);

	ck_assert(fd >= 0);
	memset(&me, 0, sizeof(me));
	me.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, src, &me.sin6_addr), 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	memset(&to, 0, sizeof(to));
	to.sin6_family = AF_INET6;
	to.sin6_port = htons(port);
	to.sin6_addr = in6addr_loopback;
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* smtp_connect - a TCP connection from src (to the same family's
 * loopback address) that gives up reading after 5 s, or -1 */
int
smtp_connect(const char *src, uint16_t port)
{
	struct timeval tv = {5, 0};
	int fd = strchr(src, ':') != NULL ? dial6(src, port) :
	    dial(src, port, SOCK_STREAM, NULL);

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* smtp_reply - read one (possibly multi-line) reply, its last line in
 * buf; its code (0 for a POP3 "+OK"), or -1 at EOF or timeout */
int
smtp_reply(int fd, char *buf, size_t len)
{
	size_t n;

	for (;;) {
		n = 0;
		while (n + 1 < len && read(fd, buf + n, 1) == 1 &&
		    buf[n++] != '\n')
			;
		buf[n] = '\0';
		if (n == 0)
			return -1;
		if (n < 4 || buf[3] != '-')
			return atoi(buf);
	}
}

/* smtp_say - send one command line (or more text), read the reply */
int
smtp_say(int fd, const char *cmd, char *buf, size_t len)
{
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		return -1;
	return smtp_reply(fd, buf, len);
}

/* smtp_rcpt - the code a server on port gives a relay attempt from src
 * (-1 when the dialogue broke off before RCPT); the last reply line in
 * said when not NULL */
int
smtp_rcpt(const char *src, uint16_t port, char *said, size_t len)
{
	char buf[512];
	int fd = smtp_connect(src, port), code = -1;

	if (fd < 0)
		return -1;
	buf[0] = '\0';
	if (smtp_reply(fd, buf, sizeof(buf)) == 220 &&
	    smtp_say(fd, "EHLO client.test\r\n", buf, sizeof(buf)) == 250 &&
	    smtp_say(fd, "MAIL FROM:<a@client.test>\r\n", buf,
	    sizeof(buf)) == 250)
		code = smtp_say(fd, "RCPT TO:<x@example.net>\r\n", buf,
		    sizeof(buf));
	if (said != NULL)
		snprintf(said, len, "%s", buf);
	smtp_say(fd, "QUIT\r\n", buf, sizeof(buf));
	close(fd);
	return code;
}

/* pop3_login - a POP3 login as alice from src with password pass; 1
 * when the server on port let us in */
int
pop3_login(const char *src, uint16_t port, const char *pass)
{
	char buf[512], cmd[128];
	int fd = smtp_connect(src, port), ok = 0;

	if (fd < 0)
		return 0;
	snprintf(cmd, sizeof(cmd), "PASS %s\r\n", pass);
	if (smtp_reply(fd, buf, sizeof(buf)) >= 0 && buf[0] == '+' &&
	    smtp_say(fd, "USER alice\r\n", buf, sizeof(buf)) >= 0 &&
	    buf[0] == '+' && smtp_say(fd, cmd, buf, sizeof(buf)) >= 0)
		ok = strncmp(buf, "+OK", 3) == 0;
	smtp_say(fd, "QUIT\r\n", buf, sizeof(buf));
	close(fd);
	return ok;
}

/* port_listens - for wait_until: does something take connections on
 * 127.0.0.1 at the port arg points to (a uint16_t)? */
int
port_listens(void *arg)
{
	int fd = dial("127.0.0.1", *(uint16_t *)arg, SOCK_STREAM, NULL);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}
