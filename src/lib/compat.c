/*
 * compat.c - DRAC 1.x's client API: dracauth, dracconn, dracsend,
 * dracdisc and their IPv6 twins, with DRAC's return values.
 *
 * DRAC kept one client in a static variable; so does this file, behind a
 * mutex, so that old single-threaded patches work unchanged and threaded
 * callers cannot corrupt it.  Calls speak versions 1 and 2 over UDP and
 * find the port through rpcbind unless the server names one.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>

#include "drac.h"
#include "drac_prot.h"
#include "internal.h"

#define COMPAT_TIMEOUT_MS 2000
#define COMPAT_RETRIES 3

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static drac_t *conn;		/* dracconn's client, under lock */

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

/* connect_locked - (re)open the library's client on server */
static int
connect_locked(char *server)
{
	struct drac_options o = {COMPAT_TIMEOUT_MS, COMPAT_RETRIES, DRAC_UDP,
	    NULL};

	drac_close(conn);
	conn = NULL;
	if (server == NULL || drac_open(&conn, server, &o) < 0)
		return -1;
	return 0;
}

/* send_locked - one v1 or v2 ADD to every server; DRAC's return value */
static int
send_locked(uint32_t vers, xdrproc_t xarg, void *arg)
{
	struct rpc_req rq = {DRACPROG, vers, 1, xarg, (xdrproc_t)xdr_addstat,
	    arg, sizeof(addstat)};
	addstat res[MAXSERVERS];
	int status[MAXSERVERS];
	size_t i;

	if (conn == NULL)
		return -1;
	drac_call(conn, &rq, res, status, 0);
	for (i = 0; i < drac_nservers(conn); i++) {
		if (status[i] != 0)
			return -2;
		if (res[i] != ADD_SUCCESS)
			return res[i] >= ADD_PERM && res[i] <= ADD_UNKNOWN ?
			    (int)res[i] : ADD_UNKNOWN;
	}
	return 0;
}

/* dracconn - open the library's client on server */
EXPORT int
dracconn(char *server, char **errmsg)
{
	int rc;

	pthread_mutex_lock(&lock);
	rc = connect_locked(server);
	pthread_mutex_unlock(&lock);
	return message(rc, errmsg);
}

/* dracsend - add an IPv4 address given in network byte order */
EXPORT int
dracsend(unsigned long userip, char **errmsg)
{
	dracadd arg;
	int rc;

	arg.ip_addr = ntohl((uint32_t)userip);
	pthread_mutex_lock(&lock);
	rc = send_locked(DRACVERS, (xdrproc_t)xdr_dracadd, &arg);
	pthread_mutex_unlock(&lock);
	return message(rc, errmsg);
}

/* dracdisc - close the library's client */
EXPORT int
dracdisc(char **errmsg)
{
	pthread_mutex_lock(&lock);
	drac_close(conn);
	conn = NULL;
	pthread_mutex_unlock(&lock);
	return message(0, errmsg);
}

/* dracauth - connect, add, disconnect */
EXPORT int
dracauth(char *server, unsigned long userip, char **errmsg)
{
	dracadd arg;
	int rc;

	arg.ip_addr = ntohl((uint32_t)userip);
	pthread_mutex_lock(&lock);
	if ((rc = connect_locked(server)) == 0)
		rc = send_locked(DRACVERS, (xdrproc_t)xdr_dracadd, &arg);
	drac_close(conn);
	conn = NULL;
	pthread_mutex_unlock(&lock);
	return message(rc, errmsg);
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
	int rc;

	memcpy(arg.ip_addr6, userip6, 16);
	pthread_mutex_lock(&lock);
	rc = send_locked(DRACVERS6, (xdrproc_t)xdr_dracadd6, &arg);
	pthread_mutex_unlock(&lock);
	return message(rc, errmsg);
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
	int rc;

	memcpy(arg.ip_addr6, userip6, 16);
	pthread_mutex_lock(&lock);
	if ((rc = connect_locked(server)) == 0)
		rc = send_locked(DRACVERS6, (xdrproc_t)xdr_dracadd6, &arg);
	drac_close(conn);
	conn = NULL;
	pthread_mutex_unlock(&lock);
	return message(rc, errmsg);
}
