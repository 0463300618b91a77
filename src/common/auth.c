/*
 * auth.c - key files and authenticators for DRACPROC3_ADD_AUTH.
 *
 * A key file holds the secret (16 to 256 bytes; a trailing newline is not
 * part of it) and must be a regular file no one but its owner may read
 * or write.  The authenticator is HMAC-SHA256 of the request's XDR
 * encoding with the mac field zeroed, so both sides compute it the same
 * way from the same struct.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"

/* auth_key_load - the secret from path; -1 with a message in err (err
 * may be NULL when errlen is 0: no message) */
int
auth_key_load(const char *path, uint8_t key[AUTH_KEYMAX], size_t *len,
    char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: must be a regular file only its "
		    "owner may read (chmod 600)", path);
		close(fd);
		return -1;
	}
	n = read(fd, key, AUTH_KEYMAX);
	close(fd);
	while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r'))
		n--;
	if (n < AUTH_KEYMIN) {
		snprintf(err, errlen, "%s: a key needs at least %d bytes",
		    path, AUTH_KEYMIN);
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

/* auth_mac - the authenticator of a request; -1 if it cannot be made */
int
auth_mac(const uint8_t *key, size_t keylen, const add3_auth_args *a,
    uint8_t out[HMAC_LEN])
{
	add3_auth_args z = *a;
	char buf[512];
	XDR x;
	int ok;

	memset(z.mac, 0, sizeof(z.mac));
	xdrmem_create(&x, buf, sizeof(buf), XDR_ENCODE);
	ok = xdr_add3_auth_args(&x, &z) &&
	    hmac_sha256(key, keylen, buf, xdr_getpos(&x), out) == 0;
	xdr_destroy(&x);
	return ok ? 0 : -1;
}
