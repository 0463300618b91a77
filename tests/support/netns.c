/*
 * netns.c - namespaces for the tests that need root: whether to run at
 * all, a network namespace of their own with loopback up, and a /run of
 * their own.
 */
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "netns.h"

/* may_run_if - 1 when ok (root and what else the test needs); if not,
 * fail with ci_why under CI=true, else say skip_why and 0 */
int
may_run_if(int ok, const char *ci_why, const char *skip_why)
{
	const char *ci = getenv("CI");

	if (ok)
		return 1;
	ck_assert_msg(ci == NULL || strcmp(ci, "true") != 0, "CI=true but %s",
	    ci_why);
	fprintf(stderr, "%s\n", skip_why);
	return 0;
}

/* lo_up - bring the namespace's loopback interface up */
void
lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	ck_assert(fd >= 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ck_assert_int_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	ck_assert_int_eq(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
	close(fd);
}

/* private_net - unshare flags (CLONE_NEWNET and others) and bring the
 * new loopback up */
void
private_net(int flags)
{
	ck_assert_msg(unshare(flags) == 0, "unshare: %s", strerror(errno));
	lo_up();
}

/* private_run - in a mount namespace of our own (private_net with
 * CLONE_NEWNS): mounts not shared back, a fresh tmpfs on /run */
void
private_run(void)
{
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL),
	    0);
	ck_assert_int_eq(mount("tmpfs", "/run", "tmpfs", 0, "mode=755"), 0);
}
