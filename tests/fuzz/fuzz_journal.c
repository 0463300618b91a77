/* fuzz_journal.c - the snapshot and journal reader, over damaged files.
 * The first byte chooses a snapshot or a segment; the rest is the file. */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* damage - a bad stretch must lie inside the file */
static int
damage(void *arg, off_t at, off_t len)
{
	size_t size = *(size_t *)arg;

	if (at < 16 || len <= 0 || (size_t)(at + len) > size)
		abort();
	return 0;
}

/* visit - every record handed out must be well formed */
static int
visit(void *arg, const struct jrec *r)
{
	(void)arg;
	if ((r->addr.family != AF_INET && r->addr.family != AF_INET6) ||
	    strlen(r->user) > MAPFILE_USERMAX || r->type < JREC_SET ||
	    r->type > JREC_FLUSH)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	size_t size = len > 0 ? len - 1 : 0;
	struct jvisit v = {visit, damage, &size};
	char path[64], err[512];
	uint64_t seq;
	off_t good;
	int fd;

	if (len == 0 || (fd = memfd_create("journal", 0)) < 0)
		return 0;
	if (write(fd, data + 1, len - 1) == (ssize_t)(len - 1)) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (journal_read(path, data[0] & 1, &seq, &v, &good,
		    err, sizeof(err)) == 1 && (good < 0 ||
		    (size_t)good > len - 1))
			abort();
	}
	close(fd);
	return 0;
}
