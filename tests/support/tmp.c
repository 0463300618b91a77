/*
 * tmp.c - temporary directories removed when the test process exits, and
 * whole files written at once.
 */
#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "helpers.h"

static char made[64][64];	/* directories this test process made */
static size_t nmade;
static pid_t maker;		/* the process that made them */

/* rm_one - nftw callback: remove one file or directory */
static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	remove(p);
	return 0;
}

/* rm_made - at exit: remove the directories made by tmpdir */
static void
rm_made(void)
{
	if (getpid() != maker)
		return;	/* a forked test: the maker cleans up */
	while (nmade > 0)
		nftw(made[--nmade], rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* tmpdir - a new directory under /tmp, removed when the test exits */
char *
tmpdir(void)
{
	ck_assert_uint_lt(nmade, sizeof(made) / sizeof(made[0]));
	snprintf(made[nmade], sizeof(made[0]), "/tmp/dracd-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(made[nmade]));
	chmod(made[nmade], 0755);
	if (nmade == 0 || maker != getpid()) {
		nmade = 0;	/* a fork starts a list of its own */
		maker = getpid();
		atexit(rm_made);
	}
	return made[nmade++];
}

/* write_file - replace path with text */
void
write_file(const char *path, const char *text)
{
	char tmp[512];
	FILE *fp;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	ck_assert_ptr_nonnull(fp = fopen(tmp, "w"));
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
}
