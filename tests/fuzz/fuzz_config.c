/* fuzz_config.c - the dracd.conf parser, and the group members' parser
 * over what it read. */
#include <stdint.h>
#include <stdio.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char err[CONFIG_ERRMAX], tok[CONFIG_PATHMAX];
	struct config_site site;
	struct config c;
	const char *cur;
	FILE *fp;

	if (len == 0 || (fp = fmemopen((void *)(uintptr_t)data, len, "r")) ==
	    NULL)
		return 0;
	config_defaults(&c);
	(void)config_read(&c, fp, "fuzz", err, sizeof(err));
	fclose(fp);
	(void)config_site(c.group_local, &site, err, sizeof(err));
	cur = c.group_sites;
	while (config_sites_next(&cur, tok, sizeof(tok)) != NULL)
		(void)config_site(tok, &site, err, sizeof(err));
	return 0;
}
