/*
 * auth.h - the shared secret of authenticated adds: the key file and the
 * authenticator.  Shared by dracd and libdrac; no state.
 */
#ifndef DRACD_AUTH_H
#define DRACD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "drac_prot.h"
#include "hmac.h"

#define AUTH_KEYMAX	256
#define AUTH_KEYMIN	16
#define AUTH_WINDOW	30	/* seconds a request's time may be off */

int auth_key_load(const char *path, uint8_t key[AUTH_KEYMAX], size_t *len,
    char *err, size_t errlen);
int auth_mac(const uint8_t *key, size_t keylen, const add3_auth_args *,
    uint8_t out[HMAC_LEN]);

#endif
