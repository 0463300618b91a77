/*
 * hmac.c - HMAC-SHA256 (RFC 2104) for the authenticator of v3 adds, from
 * OpenSSL's libcrypto; the RFC 4231 vectors in the tests prove the call.
 */
#include <limits.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hmac.h"

/* hmac_sha256 - the HMAC of msg under key into out; -1 if libcrypto fails */
int
hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
    uint8_t out[HMAC_LEN])
{
	unsigned int outlen = 0;

	if (keylen > INT_MAX ||
	    HMAC(EVP_sha256(), key, (int)keylen, msg, len, out,
	    &outlen) == NULL || outlen != HMAC_LEN)
		return -1;
	return 0;
}

/* hmac_equal - compare in constant time: 1 equal, 0 not */
int
hmac_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}
