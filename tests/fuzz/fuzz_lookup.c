/* fuzz_lookup.c - the policy request and socketmap netstring parsers. */
#include <stdint.h>
#include <stdlib.h>

#include "lookup.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char *in = (const char *)data, *q;
	char client[64];
	size_t qlen;
	ssize_t n;

	n = policy_request(in, len, client, sizeof(client));
	if (n > (ssize_t)len)
		abort();
	n = netstring_get(in, len, 1024, &q, &qlen);
	if (n > (ssize_t)len || (n > 0 && (q < in || q + qlen > in + len)))
		abort();
	return 0;
}
