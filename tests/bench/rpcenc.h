/* rpcenc.h - DRAC calls encoded by hand for the benchmarks (rpcenc.c) */
#ifndef TESTS_BENCH_RPCENC_H
#define TESTS_BENCH_RPCENC_H

#include <stddef.h>
#include <stdint.h>

size_t rpcenc_put32(uint8_t *p, uint32_t v);
uint32_t rpcenc_get32(const uint8_t *p);
size_t rpcenc_call(uint8_t *p, uint32_t xid, uint32_t vers, uint32_t proc);
size_t rpcenc_addr(uint8_t *p, uint32_t vers, uint32_t addr);

#endif
