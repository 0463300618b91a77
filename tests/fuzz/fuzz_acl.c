/* fuzz_acl.c - the allow-file parser, and matching with what it built. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *text = malloc(len + 1), err[256];
	struct acl *a;
	struct addr who;

	if (text == NULL)
		return 0;
	memcpy(text, data, len);
	text[len] = '\0';
	if ((a = acl_parse(text, "fuzz", err, sizeof(err))) != NULL) {
		addr_parse(&who, "192.0.2.1");
		(void)acl_rights(a, &who, ACL_VIA_UDP);
		addr_parse(&who, "2001:db8::1");
		(void)acl_rights(a, &who, ACL_VIA_UDP);
		acl_free(a);
	}
	free(text);
	return 0;
}
