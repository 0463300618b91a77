/*
 * compat.c - DRAC 1.x's client API: dracauth, dracconn, dracsend,
 * dracdisc and their IPv6 twins, with DRAC's return values.
 *
 * DRAC kept one client in a static variable; so does this file for
 * dracconn/dracsend/dracdisc, behind a mutex held only to open, copy or
 * close it, never across a call: a sender works on its own copy, so
 * threads never wait for each other's calls.  dracauth opens a client of
 * its own per call and shares nothing.  Each call, name lookup included,
 * ends within COMPAT_TIMEOUT_MS.  Calls speak versions 1 and 2 over UDP
 * and find the port through rpcbind unless the server names one.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "drac.h"
#include "drac_prot.h"
#include "internal.h"

#define COMPAT_TIMEOUT_MS 2000
#define COMPAT_RETRIES 3

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static drac_t *conn;		/* dracconn's client, under lock */
static unsigned long gen;	/* bumped when conn changes, under lock */

/* message - DRAC's error text for a return value */
static int
message(int rc, char **errmsg)
{
	static char *const text[] = {
		"success",
		"permission denied",
		"system error",
		"unknown error",
	};

	if (errmsg == NULL)
		return rc;
	if (rc == -1)
		*errmsg = (char *)"cannot create client";
	else if (rc == -2)
		*errmsg = (char *)"call failed: no answer from the server";
	else if (rc >= 0 && rc <= 3)
		*errmsg = text[rc];
	else
		*errmsg = (char *)"unknown error";
	return rc;
}

/* open_client - a client on server, name lookup done by deadline */
static int
open_client(drac_t **hp, char *server, int64_t deadline)
{
	struct drac_options o = {COMPAT_TIMEOUT_MS, COMPAT_RETRIES, DRAC_UDP,
	    NULL};

	*hp = NULL;
	if (server == NULL || drac_open_until(hp, server, &o, deadline) < 0)
		return -1;
	return 0;
}

/* send_add - one v1 or v2 ADD to every server of h; DRAC's return value */
static int
send_add(drac_t *h, uint32_t vers, xdrproc_t xarg, void *arg,
    int64_t deadline)
{
	struct rpc_req rq = {DRACPROG, vers, 1, xarg, (xdrproc_t)xdr_addstat,
	    arg, sizeof(addstat)};
	addstat res[MAXSERVERS];
	int status[MAXSERVERS];
	size_t i;

	if (h == NULL)
		return -1;
	drac_call_until(h, &rq, res, status, 0, deadline);
	for (i = 0; i < drac_nservers(h); i++) {
		if (status[i] != 0)
			return -2;
		if (res[i] != ADD_SUCCESS)
			return res[i] >= ADD_PERM && res[i] <= ADD_UNKNOWN ?
			    (int)res[i] : ADD_UNKNOWN;
	}
	return 0;
}

/* send_shared - an ADD through dracconn's client, on a copy of it so that
 * the lock is not held during the call */
static int
send_shared(uint32_t vers, xdrproc_t xarg, void *arg)
{
	drac_t *copy;
	int rc;

	unsigned long g;

	pthread_mutex_lock(&lock);
	copy = drac_dup(conn);
	rc = conn == NULL ? -1 : copy == NULL ? -1 : 0;
	g = gen;
	pthread_mutex_unlock(&lock);
	if (rc == 0)
		rc = send_add(copy, vers, xarg, arg, mono_ms() +
		    COMPAT_TIMEOUT_MS);
	pthread_mutex_lock(&lock);
	if (copy != NULL && g == gen)	/* the same client: keep what
					 * rpcbind told the copy */
		drac_keep_ports(conn, copy);
	pthread_mutex_unlock(&lock);
	drac_close(copy);
	return rc;
}

/* auth_once - open, add, close: a client of this call's own */
static int
auth_once(char *server, uint32_t vers, xdrproc_t xarg, void *arg)
{
	int64_t deadline = mono_ms() + COMPAT_TIMEOUT_MS;
	drac_t *h;
	int rc;

	if ((rc = open_client(&h, server, deadline)) == 0)
		rc = send_add(h, vers, xarg, arg, deadline);
	drac_close(h);
	return rc;
}

/* dracconn - open the library's client on server */
EXPORT int
dracconn(char *server, char **errmsg)
{
	drac_t *h, *old;
	int rc;

	rc = open_client(&h, server, mono_ms() + COMPAT_TIMEOUT_MS);
	pthread_mutex_lock(&lock);
	old = conn;
	conn = h;
	gen++;
	pthread_mutex_unlock(&lock);
	drac_close(old);
	return message(rc, errmsg);
}

/* dracsend - add an IPv4 address given in network byte order */
EXPORT int
dracsend(unsigned long userip, char **errmsg)
{
	dracadd arg;

	arg.ip_addr = ntohl((uint32_t)userip);
	return message(send_shared(DRACVERS, (xdrproc_t)xdr_dracadd, &arg),
	    errmsg);
}

/* dracdisc - close the library's client */
EXPORT int
dracdisc(char **errmsg)
{
	drac_t *old;

	pthread_mutex_lock(&lock);
	old = conn;
	conn = NULL;
	gen++;
	pthread_mutex_unlock(&lock);
	drac_close(old);
	return message(0, errmsg);
}

/* dracauth - connect, add, disconnect, with a client of its own */
EXPORT int
dracauth(char *server, unsigned long userip, char **errmsg)
{
	dracadd arg;

	arg.ip_addr = ntohl((uint32_t)userip);
	return message(auth_once(server, DRACVERS, (xdrproc_t)xdr_dracadd,
	    &arg), errmsg);
}

/* dracconn6 - as dracconn; one client serves both families */
EXPORT int
dracconn6(char *server, char **errmsg)
{
	return dracconn(server, errmsg);
}

/* dracsend6 - add an IPv6 address (16 bytes, network order) */
EXPORT int
dracsend6(unsigned char userip6[16], char **errmsg)
{
	dracadd6 arg;

	memcpy(arg.ip_addr6, userip6, 16);
	return message(send_shared(DRACVERS6, (xdrproc_t)xdr_dracadd6, &arg),
	    errmsg);
}

/* dracdisc6 - as dracdisc */
EXPORT int
dracdisc6(char **errmsg)
{
	return dracdisc(errmsg);
}

/* dracauth6 - connect, add an IPv6 address, disconnect */
EXPORT int
dracauth6(char *server, unsigned char userip6[16], char **errmsg)
{
	dracadd6 arg;

	memcpy(arg.ip_addr6, userip6, 16);
	return message(auth_once(server, DRACVERS6, (xdrproc_t)xdr_dracadd6,
	    &arg), errmsg);
}
