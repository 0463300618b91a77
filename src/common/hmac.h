/*
 * hmac.h - HMAC-SHA256 (RFC 2104) for the shared-secret authenticator
 * of v3 adds, computed by libcrypto.  Shared by dracd and libdrac; no
 * state.
 */
#ifndef DRACD_HMAC_H
#define DRACD_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define HMAC_LEN 32

int hmac_sha256(const void *key, size_t keylen, const void *msg,
    size_t len, uint8_t out[HMAC_LEN]);
int hmac_equal(const uint8_t *, const uint8_t *, size_t);

#endif
