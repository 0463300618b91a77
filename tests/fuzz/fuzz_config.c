/* fuzz_config.c - the dracd.conf parser. */
#include <stdint.h>
#include <stdio.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char err[CONFIG_ERRMAX];
	struct config c;
	FILE *fp;

	if (len == 0 || (fp = fmemopen((void *)(uintptr_t)data, len, "r")) ==
	    NULL)
		return 0;
	config_defaults(&c);
	(void)config_read(&c, fp, "fuzz", err, sizeof(err));
	fclose(fp);
	return 0;
}
