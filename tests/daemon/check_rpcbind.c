/*
 * check_rpcbind.c - dracd with a real rpcbind.
 *
 * Each test runs in network and mount namespaces of its own (it is root,
 * or it skips; under CI=true it fails instead): only a loopback interface
 * exists there and /run is a private tmpfs, so the rpcbind it starts can
 * listen on its usual wildcard addresses without leaving loopback, and
 * cannot meet the machine's own rpcbind.
 */
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <rpc/pmap_clnt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drac_prot.h"
#include "helpers.h"
#include "netns.h"
#include "suites.h"

#define RPCBIND "/usr/sbin/rpcbind"

static struct daemon d;
static pid_t rpcbind_pid;

/* sock_there - has rpcbind made its socket yet? */
static int
sock_there(void *arg)
{
	(void)arg;
	return access("/run/rpcbind.sock", F_OK) == 0;
}

/* may_run - root and rpcbind present; otherwise skip, or fail in CI */
static int
may_run(void)
{
	return may_run_if(geteuid() == 0 && access(RPCBIND, X_OK) == 0,
	    "cannot run rpcbind (need root and the rpcbind package)",
	    "rpcbind tests skipped: run as root with \"apt-get install "
	    "rpcbind\" to include them");
}

static void start_rpcbind(void);

/* private_world - new network and mount namespaces, rpcbind started */
static void
private_world(void)
{
	private_net(CLONE_NEWNET | CLONE_NEWNS);
	private_run();
	mkdir("/run/rpcbind", 0755);
	start_rpcbind();
}

/* start_rpcbind - a fresh rpcbind, knowing no registrations */
static void
start_rpcbind(void)
{
	unlink("/run/rpcbind.sock");
	rpcbind_pid = fork();
	ck_assert(rpcbind_pid >= 0);
	if (rpcbind_pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 0);
		dup2(fd, 1);
		execl(RPCBIND, "rpcbind", "-f", (char *)NULL);
		_exit(127);
	}
	ck_assert_msg(wait_until(sock_there, NULL, WAIT_MS),
	    "rpcbind did not start");
}

/* stop_rpcbind - by PID */
static void
stop_rpcbind(void)
{
	if (rpcbind_pid > 0) {
		kill(rpcbind_pid, SIGTERM);
		waitpid(rpcbind_pid, NULL, 0);
		rpcbind_pid = 0;
	}
}

static void
teardown(void)
{
	daemon_kill(&d);
	stop_rpcbind();
}

/* port_of - what rpcbind says for version v over proto (0: none) */
static unsigned short
port_of(unsigned long v, int proto)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return pmap_getport(&sa, 900101, v, (u_int)proto);
}

struct reg {
	int want;	/* 1 registered, 0 gone */
};

static int
registered_is(void *arg)
{
	struct reg *r = arg;

	return (port_of(1, IPPROTO_UDP) != 0) == r->want;
}

START_TEST(registers_and_unregisters)
{
	struct timeval tv = {2, 0};
	struct reg r = {0};
	unsigned int ip;
	addstat res;
	unsigned long v;
	CLIENT *c;
	FILE *p;
	char line[256];
	int lines = 0;

	if (!may_run())
		return;
	private_world();
	daemon_init(&d, "127.0.0.1\n");
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	for (v = 1; v <= 3; v++) {
		ck_assert_uint_eq(port_of(v, IPPROTO_UDP), d.port);
		ck_assert_uint_eq(port_of(v, IPPROTO_TCP), d.port);
	}
	/* rpcinfo -p lists versions 1-3 on both transports */
	ck_assert_ptr_nonnull(p = popen("rpcinfo -p 127.0.0.1", "r"));
	while (fgets(line, sizeof(line), p) != NULL)
		if (strstr(line, "900101") != NULL)
			lines++;
	pclose(p);
	ck_assert_int_ge(lines, 6);
	/* a DRAC client: clnt_create by program number over UDP, v1 ADD */
	c = clnt_create("127.0.0.1", 900101, 1, "udp");
	ck_assert_ptr_nonnull(c);
	ip = 0xc0000209;	/* ntohl(inet_addr("192.0.2.9")) */
	ck_assert_int_eq(clnt_call(c, 1, (xdrproc_t)xdr_u_int, (char *)&ip,
	    (xdrproc_t)xdr_addstat, (char *)&res, tv), RPC_SUCCESS);
	ck_assert_int_eq(res, ADD_SUCCESS);
	clnt_destroy(c);
	ck_assert_int_eq(daemon_stop(&d), 0);
	ck_assert(wait_until(registered_is, &r, WAIT_MS));
	ck_assert_int_eq(map_get(d.db, "192.0.2.9", 9, NULL, 0), 1);
}
END_TEST

static int
log_has(void *needle)
{
	return log_contains(&d, needle);
}

START_TEST(without_fixed_port)
{
	struct timeval tv = {2, 0};
	unsigned int ip = 0xc000020a;
	addstat res;
	CLIENT *c;
	pid_t pid;

	if (!may_run())
		return;
	private_world();
	daemon_init(&d, "127.0.0.1\n");
	/* no -p: the kernel picks a port and rpcbind tells clients */
	pid = fork();
	if (pid == 0) {
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "exec %s -f -c /dev/null -l "
		    "127.0.0.1 -a %s %s >>%s 2>&1", getenv("DRACD") ?
		    getenv("DRACD") : "build/dracd", d.allow, d.db, d.log);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	d.pid = pid;
	ck_assert(wait_until(log_has, "registered with rpcbind", WAIT_MS));
	c = clnt_create("127.0.0.1", 900101, 1, "udp");
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(clnt_call(c, 1, (xdrproc_t)xdr_u_int, (char *)&ip,
	    (xdrproc_t)xdr_addstat, (char *)&res, tv), RPC_SUCCESS);
	ck_assert_int_eq(res, ADD_SUCCESS);
	clnt_destroy(c);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(rpcbind_absent)
{
	uint8_t req[64], rep[64];
	size_t n;

	if (!may_run())
		return;
	private_world();
	stop_rpcbind();
	unlink("/run/rpcbind.sock");
	daemon_init(&d, "127.0.0.1\n");
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	ck_assert(log_contains(&d, "rpcbind is not running"));
	n = rpc_header(req, 9, 900101, 3, 0);
	ck_assert_int_eq(reply_status(rep, udp_exchange("127.0.0.1", d.port,
	    req, n, rep, sizeof(rep), 2000), 9, NULL), SUCCESS);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* all_versions_back - every version on both transports is registered */
static int
all_versions_back(void *arg)
{
	unsigned long v;

	(void)arg;
	for (v = 1; v <= 3; v++)
		if (port_of(v, IPPROTO_UDP) != d.port ||
		    port_of(v, IPPROTO_TCP) != d.port)
			return 0;
	return 1;
}

START_TEST(rpcbind_restarts)
{
	static char conf[400];
	const char *const check_often[] = {"-c", conf, NULL};

	if (!may_run())
		return;
	private_world();
	daemon_init(&d, "127.0.0.1\n");
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	write_file(conf, "rpcbind_check = 1s\n");
	ck_assert_int_eq(daemon_start(&d, check_often), 0);
	ck_assert_uint_eq(port_of(1, IPPROTO_UDP), d.port);
	/* rpcbind restarts and forgets everyone */
	stop_rpcbind();
	start_rpcbind();
	ck_assert_msg(wait_until(all_versions_back, NULL, WAIT_MS), "dracd "
	    "did not register again");
	ck_assert(wait_until(log_has, "registered with rpcbind again",
	    WAIT_MS));
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

Suite *
make_rpcbind_suite(void)
{
	Suite *s = suite_create("rpcbind");
	TCase *tc = tcase_create("rpcbind");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, registers_and_unregisters);
	tcase_add_test(tc, without_fixed_port);
	tcase_add_test(tc, rpcbind_absent);
	tcase_add_test(tc, rpcbind_restarts);
	suite_add_tcase(s, tc);
	return s;
}
