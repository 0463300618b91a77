/*
 * oldpatch.c - what a DRAC 1.x patch to a POP server does, compiled the
 * old way against an installed libdrac:
 *	cc oldpatch.c $(pkg-config --cflags --libs drac)
 * Usage: oldpatch SERVER IPV4
 */
#include <arpa/inet.h>
#include <stdio.h>

#include <drac.h>

int
main(int argc, char **argv)
{
	char *err = NULL;
	int rc;

	if (argc != 3)
		return 64;
	/* as in qpopper's patch: after a successful login */
	rc = dracauth(argv[1], inet_addr(argv[2]), &err);
	printf("dracauth: %d %s\n", rc, err ? err : "");
	return rc == 0 ? 0 : 1;
}
