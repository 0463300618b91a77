/*
 * check_netns.c - dracd between network namespaces: which source
 * addresses it trusts on its built-in rules, and which address its UDP
 * replies leave from.
 *
 * Each test unshares a network namespace of its own (it is root, or it
 * skips; under CI=true it fails instead).  Where a second host is needed,
 * a child process unshares another one and the two are joined by a veth
 * pair; all addresses are ULA/TEST-NET ones that exist only inside.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drac.h"
#include "helpers.h"
#include "netns.h"
#include "suites.h"

#define SRV4	"10.99.0.1"	/* the server's own addresses on the veth */
#define SRV6	"fd00:99::1"
#define PEER4	"10.99.0.2"	/* the other namespace's */
#define PEER6	"fd00:99::2"
#define VA_MAC	"02:00:00:00:99:01"	/* the server's end of the veth */

#define FORGED_LOG	"denied add (RPC version 1 procedure 1 over UDP, " \
			"where this source can be forged) to "

static struct daemon d;
static pid_t peer_pid;

/* may_run - root; otherwise skip, or fail in CI */
static int
may_run(void)
{
	return may_run_if(geteuid() == 0, "not root: cannot make network "
	    "namespaces", "netns tests skipped: need root");
}

/* sh - run a shell command (ip, sysctl); its exit status */
static int
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int
sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* own_netns - a network namespace of our own, loopback up, no DAD */
static void
own_netns(void)
{
	private_net(CLONE_NEWNET);
	ck_assert_int_eq(sh("sysctl -qw net.ipv6.conf.all.accept_dad=0 "
	    "net.ipv6.conf.default.accept_dad=0"), 0);
}

/*
 * start_defaults - dracd (daemon_init done) on its built-in rules (no
 * allow file) listening on listen; 0 once it answers
 */
static int
start_defaults(const char *listen)
{
	static char conf[400];
	const char *bin = getenv("DRACD");
	char port[16], text[400];
	uint8_t req[64], rep[256];
	size_t n = rpc_header(req, 9, 900101, 1, 0);
	int64_t end = now_ms() + WAIT_MS;
	int fd;

	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	snprintf(text, sizeof(text), "allow_file =\n");
	write_file(conf, text);
	snprintf(port, sizeof(port), "%u", d.port);
	d.pid = fork();
	ck_assert(d.pid >= 0);
	if (d.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(d.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin != NULL ? bin : "build/dracd", "dracd", "-f", "-c",
		    conf, "-l", listen, "-p", port, d.db, (char *)NULL);
		_exit(127);
	}
	while (now_ms() < end)
		if (reply_status(rep, udp_exchange("127.0.0.1", d.port, req, n,
		    rep, sizeof(rep), 100), 9, NULL) == SUCCESS)
			return 0;
	return -1;
}

/* v1_add - a DRAC v1 ADD request of addr; its length */
static size_t
v1_add(uint8_t *req, const char *addr)
{
	struct in_addr ia;
	size_t n = rpc_header(req, 0x5eed, 900101, 1, 1);

	inet_pton(AF_INET, addr, &ia);
	return n + put32(req + n, ntohl(ia.s_addr));
}

/*
 * forge - from the peer namespace: a v1 ADD of addr from src (an address
 * of the server, not ours: IP_TRANSPARENT lets us send from it) to the
 * same address, port.  0 when sent.
 */
static int
forge(int family, const char *src, uint16_t port, const char *addr)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	uint8_t req[64];
	size_t n = v1_add(req, addr);
	int fd, one = 1, rc = -1;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, src, &s4->sin_addr);
		len = sizeof(*s4);
	} else {
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, src, &s6->sin6_addr);
		len = sizeof(*s6);
	}
	if ((fd = socket(family, SOCK_DGRAM, 0)) < 0)
		return -1;
	if ((family == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT,
	    &one, sizeof(one)) : setsockopt(fd, IPPROTO_IPV6,
	    IPV6_TRANSPARENT, &one, sizeof(one))) == 0 &&
	    bind(fd, (struct sockaddr *)&ss, len) == 0) {
		if (family == AF_INET)
			s4->sin_port = htons(port);
		else
			s6->sin6_port = htons(port);
		rc = sendto(fd, req, n, 0, (struct sockaddr *)&ss, len) ==
		    (ssize_t)n ? 0 : -1;
	}
	close(fd);
	return rc;
}

/*
 * forge_raw - from the peer namespace: a v1 ADD of addr from 127.0.0.1
 * to SRV4:port, IP header and all (no socket may send from loopback out
 * of another interface)
 */
static int
forge_raw(uint16_t port, const char *addr)
{
	uint8_t pkt[128];
	struct iphdr *ip = (struct iphdr *)pkt;
	struct udphdr *udp = (struct udphdr *)(pkt + sizeof(*ip));
	size_t n = v1_add(pkt + sizeof(*ip) + sizeof(*udp), addr);
	size_t len = sizeof(*ip) + sizeof(*udp) + n;
	struct sockaddr_in to;
	int fd, rc;

	memset(pkt, 0, sizeof(*ip) + sizeof(*udp));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons((uint16_t)len);
	inet_pton(AF_INET, "127.0.0.1", &ip->saddr);
	inet_pton(AF_INET, SRV4, &ip->daddr);
	udp->source = htons(999);
	udp->dest = htons(port);
	udp->len = htons((uint16_t)(sizeof(*udp) + n));
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr.s_addr = ip->daddr;
	if ((fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW)) < 0)
		return -1;
	rc = sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) ==
	    (ssize_t)len ? 0 : -1;
	close(fd);
	return rc;
}

/*
 * peer_main - the other host: wait for its veth end and configure it;
 * once told, send forged adds once a second until told to stop (a
 * datagram sent while neighbour discovery is under way may be lost)
 */
static void
peer_main(int ready, int go, uint16_t port)
{
	struct pollfd pfd = {go, POLLIN, 0};
	char c = 'r';
	int i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(CLONE_NEWNET) != 0 || write(ready, &c, 1) != 1 ||
	    read(go, &c, 1) != 1)
		_exit(2);
	if (sh("ip link set lo up && sysctl -qw "
	    "net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.vb.accept_dad=0 && "
	    "ip addr add " PEER4 "/24 dev vb && "
	    "ip addr add " PEER6 "/64 dev vb nodad && ip link set vb up && "
	    /* its ARP request would come from 127.0.0.1: no answer */
	    "ip neigh replace " SRV4 " lladdr " VA_MAC " dev vb") != 0)
		_exit(3);
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
		_exit(2);
	for (i = 0; i < 5; i++) {
		if (forge(AF_INET6, SRV6, port, "203.0.113.6") < 0 ||
		    forge(AF_INET, SRV4, port, "203.0.113.4") < 0 ||
		    forge_raw(port, "203.0.113.7") < 0)
			_exit(4);
		if (poll(&pfd, 1, 1000) > 0)
			_exit(0);
	}
	/* forged enough: keep the namespace (and so the veth pair with the
	 * server's own addresses) until told to stop */
	(void)read(go, &c, 1);
	_exit(0);
}

/*
 * start_peer - the other namespace, joined to ours by veth va/vb and
 * configured; it forges once a byte is written to the descriptor
 * returned, and stops at the next (or when it is closed)
 */
static int
start_peer(uint16_t port)
{
	int ready[2], go[2];
	char c;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	peer_pid = fork();
	ck_assert(peer_pid >= 0);
	if (peer_pid == 0) {
		close(ready[0]);
		close(go[1]);
		peer_main(ready[1], go[0], port);
	}
	close(ready[1]);
	close(go[0]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	/* own addresses on the veth; accept_local, route_localnet and no
	 * rp_filter so that Linux delivers the forged IPv4 datagrams too (it
	 * always delivers the IPv6 one) and the IPv4 cases prove something */
	ck_assert_int_eq(sh("ip link add va address " VA_MAC " type veth "
	    "peer name vb netns %d && ip addr add " SRV4 "/24 dev va && "
	    "ip addr add " SRV6 "/64 dev va nodad && ip link set va up && "
	    "sysctl -qw net.ipv4.conf.all.rp_filter=0 "
	    "net.ipv4.conf.va.rp_filter=0 net.ipv4.conf.all.accept_local=1 "
	    "net.ipv4.conf.va.accept_local=1 "
	    "net.ipv4.conf.all.route_localnet=1 "
	    "net.ipv4.conf.va.route_localnet=1", (int)peer_pid), 0);
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	ck_assert_msg(read(ready[0], &c, 1) == 1, "the peer namespace could "
	    "not be configured");
	close(ready[0]);
	return go[1];
}

static void
teardown(void)
{
	daemon_kill(&d);
	if (peer_pid > 0) {
		kill(peer_pid, SIGKILL);
		waitpid(peer_pid, NULL, 0);
		peer_pid = 0;
	}
}

static int
log_has(void *needle)
{
	return log_contains(&d, needle);
}

/* handle - a libdrac handle on host:port over UDP or TCP */
static drac_t *
handle(const char *host, int tcp)
{
	struct drac_options o = {2000, 0, tcp ? DRAC_TCP : DRAC_UDP, NULL};
	char spec[80];
	drac_t *h;

	snprintf(spec, sizeof(spec), strchr(host, ':') != NULL ? "[%s]:%u" :
	    "%s:%u", host, d.port);
	ck_assert_msg(drac_open(&h, spec, &o) == 0, "drac_open %s", spec);
	return h;
}

/*
 * forged_own_address - on the built-in rules, an add that claims one of
 * the server's own addresses, or loopback, from another host is refused
 * and logged (IPv6, and IPv4 where the kernel lets it in); honest adds
 * from loopback, and from the own addresses over TCP, still work.
 */
START_TEST(forged_own_address)
{
	static const char *const granted[] = {"198.51.100.1", "198.51.100.2",
	    "198.51.100.3", "198.51.100.5"};
	drac_t *lo, *h;
	size_t i;
	int stop;

	if (!may_run())
		return;
	own_netns();
	/* the addresses first: dracd learns its own at start-up */
	daemon_init(&d, NULL);
	stop = start_peer(d.port);
	ck_assert_int_eq(start_defaults("*"), 0);
	ck_assert_int_eq(write(stop, "f", 1), 1);
	ck_assert_msg(wait_until(log_has, FORGED_LOG SRV6, WAIT_MS),
	    "the forged IPv6 add was not refused and logged");
	ck_assert_msg(wait_until(log_has, FORGED_LOG SRV4, WAIT_MS),
	    "the forged IPv4 add was not refused and logged");
	ck_assert_msg(wait_until(log_has, FORGED_LOG "127.0.0.1", WAIT_MS),
	    "the forged loopback add was not refused and logged");

	lo = handle("127.0.0.1", 1);
	ck_assert_int_eq(drac_check(lo, "203.0.113.6", NULL), 0);
	ck_assert_int_eq(drac_check(lo, "203.0.113.4", NULL), 0);
	ck_assert_int_eq(drac_check(lo, "203.0.113.7", NULL), 0);
	/* honest: loopback over UDP, both families */
	ck_assert_int_eq(drac_add(lo, "198.51.100.1", 0, NULL), 0);
	drac_close(lo);
	h = handle("127.0.0.1", 0);
	ck_assert_int_eq(drac_add(h, "198.51.100.2", 0, NULL), 0);
	drac_close(h);
	h = handle("::1", 0);
	ck_assert_int_eq(drac_add(h, "198.51.100.3", 0, NULL), 0);
	drac_close(h);
	/* the host's own address: over TCP yes, over UDP no (forgeable) */
	h = handle(SRV6, 0);
	ck_assert_int_eq(drac_add(h, "198.51.100.4", 0, NULL), DRAC_E_PERM);
	drac_close(h);
	h = handle(SRV6, 1);
	ck_assert_int_eq(drac_add(h, "198.51.100.5", 0, NULL), 0);
	drac_close(h);

	lo = handle("::1", 1);
	for (i = 0; i < sizeof(granted) / sizeof(granted[0]); i++)
		ck_assert_msg(drac_check(lo, granted[i], NULL) == 1,
		    "%s not granted", granted[i]);
	ck_assert_int_eq(drac_check(lo, "198.51.100.4", NULL), 0);
	ck_assert_int_eq(drac_check(lo, "203.0.113.6", NULL), 0);
	ck_assert_int_eq(drac_check(lo, "203.0.113.4", NULL), 0);
	drac_close(lo);
	/* the peer (its namespace holds the veth pair, and so the server's
	 * own address) goes only now */
	ck_assert_int_eq(write(stop, "s", 1), 1);
	close(stop);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/*
 * connected_ping - a NULL call from src to dst:port over a connected UDP
 * socket (as libtirpc's and libdrac's are): 1 if answered, which the
 * kernel delivers only when the reply comes from dst
 */
static int
connected_ping(int family, const char *src, const char *dst, uint16_t port)
{
	struct sockaddr_storage a, b;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&a, *b4 =
	    (struct sockaddr_in *)&b;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a, *b6 =
	    (struct sockaddr_in6 *)&b;
	uint8_t req[64], rep[256];
	size_t n = rpc_header(req, 0x71, 900101, 3, 0);
	socklen_t len = family == AF_INET ? sizeof(*a4) : sizeof(*a6);
	struct pollfd pfd;
	ssize_t got = -1;
	int fd;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.ss_family = b.ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		inet_pton(AF_INET, src, &a4->sin_addr);
		inet_pton(AF_INET, dst, &b4->sin_addr);
		b4->sin_port = htons(port);
	} else {
		inet_pton(AF_INET6, src, &a6->sin6_addr);
		inet_pton(AF_INET6, dst, &b6->sin6_addr);
		b6->sin6_port = htons(port);
	}
	ck_assert((fd = socket(family, SOCK_DGRAM, 0)) >= 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, len), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&b, len), 0);
	ck_assert_int_eq(send(fd, req, n, 0), (ssize_t)n);
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 2000) == 1)
		got = recv(fd, rep, sizeof(rep), 0);
	close(fd);
	return reply_status(rep, got, 0x71, NULL) == SUCCESS;
}

static const char *const listens[] = {"*", "0.0.0.0 ::"};

/*
 * reply_source - UDP replies leave from the address the request was sent
 * to: 127.0.0.9 (drac-cli, as the review tried it) and a second IPv6
 * address, on a dual-stack socket (v4-mapped) and on one per family.
 */
START_TEST(reply_source)
{
	const char *cli = getenv("DRAC_CLI");
	char spec[64], out[512];
	const char *argv[] = {cli != NULL ? cli : "build/drac-cli", "-s", spec,
	    "-t", "2", "ping", NULL};

	if (!may_run())
		return;
	own_netns();
	ck_assert_int_eq(sh("ip addr add fd00:99::1/128 dev lo nodad && "
	    "ip addr add fd00:99::2/128 dev lo nodad"), 0);
	daemon_init(&d, NULL);
	ck_assert_int_eq(start_defaults(listens[_i]), 0);
	snprintf(spec, sizeof(spec), "127.0.0.9:%u", d.port);
	ck_assert_msg(run_prog(argv, NULL, out, sizeof(out), 5000) == 0,
	    "listen %s: drac-cli -s %s ping: %s", listens[_i], spec, out);
	ck_assert_msg(connected_ping(AF_INET, "127.0.0.1", "127.0.0.9",
	    d.port), "listen %s: no answer from 127.0.0.9", listens[_i]);
	ck_assert_msg(connected_ping(AF_INET6, "fd00:99::1", "fd00:99::2",
	    d.port), "listen %s: no answer from fd00:99::2", listens[_i]);
	ck_assert_msg(connected_ping(AF_INET6, "::1", "::1", d.port),
	    "listen %s: no answer from ::1", listens[_i]);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

Suite *
make_netns_suite(void)
{
	Suite *s = suite_create("netns");
	TCase *tc = tcase_create("ownaddr");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, forged_own_address);
	suite_add_tcase(s, tc);
	tc = tcase_create("replysrc");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, reply_source, 0,
	    sizeof(listens) / sizeof(listens[0]));
	suite_add_tcase(s, tc);
	return s;
}
