/* fuzz_addr.c - address text: parse, and a parsed address round-trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char text[128], back[ADDR_TEXTMAX];
	struct addr a, b;

	if (len >= sizeof(text))
		return 0;
	memcpy(text, data, len);
	text[len] = '\0';
	if (addr_parse(&a, text) < 0)
		return 0;
	addr_format(&a, back);
	if (addr_parse(&b, back) < 0 || !addr_equal(&a, &b))
		abort();	/* canonical text must parse to the same */
	return 0;
}
