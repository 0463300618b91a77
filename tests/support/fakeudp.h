/* fakeudp.h - the socket of the fake DRAC servers (fakeudp.c) */
#ifndef TESTS_FAKEUDP_H
#define TESTS_FAKEUDP_H

#include <stddef.h>

int udp_loopback(char *spec, size_t len);

#endif
