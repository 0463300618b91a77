/* client.h - the client side the benchmarks share (client.c) */
#ifndef TESTS_BENCH_CLIENT_H
#define TESTS_BENCH_CLIENT_H

#include <stddef.h>
#include <stdint.h>

int64_t client_now_ns(void);
int client_connect(int type, uint16_t port);
int client_ports(char *list, uint16_t *port, int max);
size_t client_put32(uint8_t *p, uint32_t v);
uint32_t client_get32(const uint8_t *p);
size_t client_call(uint8_t *p, uint32_t xid, uint32_t vers, uint32_t proc);
size_t client_addr(uint8_t *p, uint32_t vers, uint32_t addr);

#endif
