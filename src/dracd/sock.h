/*
 * sock.h - the one maker of listening sockets (TCP and UDP).
 */
#ifndef DRACD_SOCK_H
#define DRACD_SOCK_H

#include <sys/socket.h>

int sock_listen(const struct sockaddr *, socklen_t, int tcp, int v6only);

#endif
