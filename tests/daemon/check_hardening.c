/*
 * check_hardening.c - what a hostile network can do: forged UDP sources.
 */
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drac.h"
#include "drac_prot.h"
#include "auth.h"
#include "helpers.h"
#include "netns.h"
#include "suites.h"

static struct daemon d;

/* udp_v1_add - a DRAC v1 ADD from src; accept_stat, and *res addstat */
static int
udp_v1_add(const char *src, const char *text, uint32_t *res)
{
	uint8_t req[64], rep[128];
	struct in_addr ia;
	size_t n = rpc_header(req, 77, 900101, 1, 1);

	inet_pton(AF_INET, text, &ia);
	n += put32(req + n, ntohl(ia.s_addr));
	return reply_status(rep, udp_exchange(src, d.port, req, n, rep,
	    sizeof(rep), 2000), 77, res);
}

static void
teardown(void)
{
	daemon_kill(&d);
}

/* may_forge - root, for a raw socket; skip or (CI) fail otherwise */
static int
may_forge(void)
{
	return may_run_if(geteuid() == 0, "not root: cannot forge packets",
	    "spoofing test skipped: needs root");
}

/* forge_v1_add - a DRAC v1 ADD of addr that claims to come from src */
static void
forge_v1_add(const char *src, uint16_t port, const char *addr)
{
	uint8_t pkt[128];
	struct iphdr *ip = (struct iphdr *)pkt;
	struct udphdr *udp = (struct udphdr *)(pkt + sizeof(*ip));
	uint8_t *body = pkt + sizeof(*ip) + sizeof(*udp);
	struct sockaddr_in to;
	struct in_addr a;
	size_t n = rpc_header(body, 0x5eed, 900101, 1, 1);
	uint32_t v;
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);

	ck_assert_msg(fd >= 0, "raw socket");
	inet_pton(AF_INET, addr, &a);
	v = a.s_addr;		/* the address bytes, as one XDR word */
	memcpy(body + n, &v, 4);
	n += 4;
	memset(ip, 0, sizeof(*ip) + sizeof(*udp));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons((uint16_t)(sizeof(*ip) + sizeof(*udp) + n));
	inet_pton(AF_INET, src, &ip->saddr);
	inet_pton(AF_INET, "127.0.0.1", &ip->daddr);
	udp->source = htons(999);
	udp->dest = htons(port);
	udp->len = htons((uint16_t)(sizeof(*udp) + n));
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr.s_addr = ip->daddr;
	ck_assert_int_eq(sendto(fd, pkt, sizeof(*ip) + sizeof(*udp) + n, 0,
	    (struct sockaddr *)&to, sizeof(to)),
	    (ssize_t)(sizeof(*ip) + sizeof(*udp) + n));
	close(fd);
}

struct chk {
	drac_t *h;
	const char *addr;
};

static int
allowed(void *arg)
{
	struct chk *k = arg;

	return drac_check(k->h, k->addr, NULL) == 1;
}

static int
log_has(void *needle)
{
	return log_contains(&d, needle);
}

START_TEST(forged_udp_add)
{
	static char conf[400];
	const char *const tcp_only[] = {"-c", conf, NULL};
	const char *allow = "127.0.0.5 add\n127.0.0.1 add check admin\n";
	struct drac_options udp = {2000, 0, DRAC_UDP, NULL}, tcp = {2000, 0,
	    DRAC_TCP, NULL};
	struct chk k;
	char spec[32];
	drac_t *hu, *ht;

	if (!may_forge())
		return;
	/* UDP adds accepted: one forged packet opens the relay */
	daemon_init(&d, allow);
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&ht, spec, &tcp), 0);
	forge_v1_add("127.0.0.5", d.port, "203.0.113.66");
	k.h = ht;
	k.addr = "203.0.113.66";
	ck_assert_msg(wait_until(allowed, &k, WAIT_MS), "the forged add did "
	    "not arrive: the test proves nothing");
	drac_close(ht);
	ck_assert_int_eq(daemon_stop(&d), 0);

	/* add_transport = tcp: the same packet is refused and logged */
	daemon_init(&d, allow);
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	write_file(conf, "add_transport = tcp\n");
	ck_assert_int_eq(daemon_start(&d, tcp_only), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&ht, spec, &tcp), 0);
	ck_assert_int_eq(drac_open(&hu, spec, &udp), 0);
	forge_v1_add("127.0.0.5", d.port, "203.0.113.66");
	ck_assert(wait_until(log_has, "denied add over UDP (add_transport = "
	    "tcp) to 127.0.0.5", WAIT_MS));
	ck_assert_int_eq(drac_check(ht, "203.0.113.66", NULL), 0);
	/* a real POP server adds over TCP; over UDP it is refused too */
	ck_assert_int_eq(drac_add(ht, "198.51.100.1", 0, NULL), 0);
	ck_assert_int_eq(drac_add(hu, "198.51.100.2", 0, NULL), DRAC_E_PERM);
	ck_assert_int_eq(drac_check(hu, "198.51.100.1", NULL), 1);
	ck_assert_int_eq(drac_check(hu, "198.51.100.2", NULL), 0);
	drac_close(ht);
	drac_close(hu);
	ck_assert_int_eq(daemon_stop(&d), 0);
	ck_assert_int_eq(map_get(d.db, "203.0.113.66", 12, NULL, 0), 0);
}
END_TEST

/* rss_kb - a process's resident memory */
static long
rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

/* closed_by_peer - does the server close fd (read gives 0) in time? */
static int
closed_by_peer(int fd, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	char buf[64];

	return poll(&p, 1, ms) == 1 && read(fd, buf, sizeof(buf)) <= 0;
}

static int
tcp_ping_ok(void *spec)
{
	struct drac_options o = {500, 0, DRAC_TCP, NULL};
	drac_t *h;
	int rc;

	if (drac_open(&h, spec, &o) != 0)
		return 0;
	rc = drac_ping(h);
	drac_close(h);
	return rc == 0;
}

START_TEST(garbage_on_the_wire)
{
	static char conf[400];
	const char *const limits[] = {"-c", conf, NULL};
	struct drac_options udp = {2000, 0, DRAC_UDP, NULL};
	uint8_t junk[1400];
	unsigned int seed = 7;
	int fds[40], fd, i, u;
	long before, after;
	char spec[32];
	drac_t *h;
	size_t j;

	if (slow_daemon("garbage_on_the_wire"))
		return;
	daemon_init(&d, "127.0.0.1\n");
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	write_file(conf, "tcp_max_connections = 20\ntcp_idle_timeout = 2s\n");
	ck_assert_int_eq(daemon_start(&d, limits), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, &udp), 0);
	before = rss_kb(d.pid);

	/* 200,000 malformed datagrams, answered or dropped, never stored */
	u = dial("127.0.0.1", d.port, SOCK_DGRAM, NULL);
	for (i = 0; i < 200000; i++) {
		size_t n = (size_t)(rand_r(&seed) % sizeof(junk));

		for (j = 0; j < n; j++)
			junk[j] = (uint8_t)rand_r(&seed);
		if (n == 44 || n == 104)
			n++;	/* never the exact size of a v1 or v2 ADD */
		if (n >= 40)	/* often a real header over a bad body */
			rpc_header(junk, (uint32_t)i, 900101, 1 + i % 3,
			    (uint32_t)(i % 8));
		(void)send(u, junk, n, MSG_DONTWAIT);
	}
	close(u);
	ck_assert_int_eq(drac_ping(h), 0);

	/* an absurd record mark closes that connection */
	fd = dial("127.0.0.1", d.port, SOCK_STREAM, NULL);
	ck_assert_int_eq(write(fd, "\x7f\xff\xff\xff", 4), 4);
	ck_assert(closed_by_peer(fd, WAIT_MS));
	close(fd);
	/* half-sent records and idle connections fill the 20 slots... */
	for (i = 0; i < 40; i++) {
		fds[i] = dial("127.0.0.1", d.port, SOCK_STREAM, NULL);
		ck_assert_int_ge(fds[i], 0);
		if (i % 2 == 0)
			ck_assert_int_eq(write(fds[i], "\x80\x00\x00\x64xyz", 7),
			    7);
	}
	/* ...UDP clients are served all the while... */
	ck_assert_int_eq(drac_ping(h), 0);
	ck_assert_int_eq(drac_add(h, "192.0.2.44", 0, NULL), 0);
	/* ...connections past the cap are refused... */
	ck_assert(closed_by_peer(fds[39], WAIT_MS));
	/* ...and the idle ones time out, so TCP clients get in again */
	ck_assert(wait_until(tcp_ping_ok, spec, WAIT_MS));
	for (i = 0; i < 40; i++)
		close(fds[i]);
	after = rss_kb(d.pid);
	ck_assert_msg(after - before < 16 * 1024, "RSS grew from %ld to %ld "
	    "kB", before, after);
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);
	/* the garbage added nothing: the map holds exactly the good add */
	ck_assert_uint_eq(map_count(d.db), 1);
	ck_assert_int_eq(map_get(d.db, "192.0.2.44", 10, NULL, 0), 1);
}
END_TEST

struct addwait {
	drac_t *h;
	const char *addr;
};

static int
add_succeeds(void *arg)
{
	struct addwait *w = arg;

	return drac_add(w->h, w->addr, 0, NULL) == 0;
}

START_TEST(disk_full)
{
	static char conf[400];
	const char *const sync0[] = {"-c", conf, NULL};
	char state[300], filler[340], block[4096];
	struct drac_options o = {3000, 0, DRAC_TCP, NULL};
	struct addwait w;
	char spec[32];
	drac_t *h;
	int fd, i;

	if (!may_forge())	/* root, for a mount of its own */
		return;
	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	daemon_init(&d, "127.0.0.1\n");
	snprintf(state, sizeof(state), "%.200s/state", d.dir);
	ck_assert_int_eq(mkdir(state, 0755), 0);
	ck_assert_int_eq(mount("tmpfs", state, "tmpfs", 0, "size=64k"), 0);
	snprintf(d.db, sizeof(d.db), "%.250s/dracd.db", state);
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	write_file(conf, "sync_interval = 0\n");	/* acknowledged = on disk */
	ck_assert_int_eq(daemon_start(&d, sync0), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, &o), 0);
	ck_assert_int_eq(drac_add(h, "192.0.2.1", 0, NULL), 0);

	/* fill the disk */
	snprintf(filler, sizeof(filler), "%s/filler", state);
	ck_assert((fd = open(filler, O_WRONLY | O_CREAT, 0600)) >= 0);
	memset(block, 'x', sizeof(block));
	while (write(fd, block, sizeof(block)) > 0)
		;
	close(fd);
	/* adds fail with the system-error status once a write needs a
	 * new block (an edit in place may still fit in the map's and the
	 * log's last ones); checks go on */
	for (i = 0; i < 4000; i++) {
		char a[32];

		snprintf(a, sizeof(a), "10.7.%d.%d", i / 256, i % 256);
		if (drac_add(h, a, 0, NULL) == DRAC_E_SERVER)
			break;
	}
	ck_assert_msg(i < 4000, "4000 adds succeeded on a full disk");
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(drac_add(h, "192.0.2.2", 0, NULL),
		    DRAC_E_SERVER);
	ck_assert_int_eq(drac_check(h, "192.0.2.1", NULL), 1);
	ck_assert_int_eq(drac_ping(h), 0);
	/* the cause is logged once, not once per failure */
	ck_assert_int_eq(log_count(&d, "cannot write the allowlist"), 1);
	ck_assert(log_contains(&d, "No space left on device"));

	/* space returns: dracd recovers by itself */
	ck_assert_int_eq(unlink(filler), 0);
	w.h = h;
	w.addr = "192.0.2.3";
	ck_assert(wait_until(add_succeeds, &w, WAIT_MS));
	/* said once every writer has recovered: the snapshot writer may
	 * retry a moment after the map's */
	ck_assert(wait_until(log_has, "the allowlist is written again",
	    WAIT_MS));
	ck_assert_int_eq(map_get(d.db, "192.0.2.1", 9, NULL, 0), 1);
	ck_assert_int_eq(map_get(d.db, "192.0.2.3", 9, NULL, 0), 1);
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);
	umount2(state, MNT_DETACH);
}
END_TEST

START_TEST(add_rate_limit)
{
	static char conf[400];
	const char *const limited[] = {"-c", conf, NULL};
	struct drac_options tcp = {2000, 0, DRAC_TCP, NULL};
	char spec[32], text[32];
	int i, ok = 0, busy = 0;
	struct drac_stats st;
	uint32_t res;
	int64_t t0;
	drac_t *h;
	CLIENT *other;
	add3_args a;
	add3_res r;

	daemon_init(&d, "127.0.0.1\n127.0.0.2 add\n");
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	write_file(conf, "add_rate = 1\n");	/* bursts of 2 */
	ck_assert_int_eq(daemon_start(&d, limited), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, &tcp), 0);
	t0 = now_ms();
	for (i = 0; i < 30; i++) {
		int rc;

		snprintf(text, sizeof(text), "198.51.100.%d", i);
		rc = drac_add(h, text, 0, NULL);
		ok += rc == 0;
		busy += rc == DRAC_E_BUSY;
	}
	/* the burst, plus what refilled while the loop ran (slow under
	 * valgrind): never more */
	ck_assert_msg(ok >= 2 && ok <= 2 + (now_ms() - t0) / 1000 + 1 &&
	    ok + busy == 30, "ok %d, busy %d in %lld ms", ok, busy,
	    (long long)(now_ms() - t0));
	ck_assert_int_eq(drac_stats(h, &st), 0);
	ck_assert_uint_eq(st.entries, (uint64_t)ok);	/* refused: not added */
	/* with the bucket just found empty, DRAC's clients hear "system
	 * error": try again later */
	for (i = 0; i < 10 && drac_add(h, "198.51.100.250", 0, NULL) == 0;
	    i++)
		;
	ck_assert_int_lt(i, 10);
	ck_assert_int_eq(udp_v1_add("127.0.0.1", "198.51.100.200", &res),
	    SUCCESS);
	ck_assert_uint_eq(res, 2);
	/* another client is not held back */
	other = client_v3("127.0.0.2", d.port, 1);
	memset(&a, 0, sizeof(a));
	a.addr.af = DRAC_AF_INET;
	inet_pton(AF_INET, "203.0.113.9", a.addr.drac_addr_u.v4);
	a.user = (char *)"";
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(dracproc3_add_3(&a, &r, other), RPC_SUCCESS);
	ck_assert_int_eq(r.stat, DRAC_OK);
	clnt_destroy(other);
	ck_assert(log_contains(&d, "denied add (rate limit)"));
	/* dozens of refusals, at most ten lines: a flood cannot fill the
	 * disk */
	ck_assert_int_le(log_count(&d, "denied add (rate limit)"), 10);
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(hmac_vectors)
{
	/* RFC 4231 test cases 1, 2, 6 and 7 (keys longer than a block) */
	static const char *const want[] = {
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
	    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
	};
	static const char m7[] = "This is a test using a larger than "
	    "block-size key and a larger than block-size data. The key needs "
	    "to be hashed before being used by the HMAC algorithm.";
	uint8_t k1[20], k6[131], out[32], zero[32];
	char hex[65];
	int t, i;

	memset(k1, 0x0b, sizeof(k1));
	memset(k6, 0xaa, sizeof(k6));
	memset(zero, 0, sizeof(zero));
	for (t = 0; t < 4; t++) {
		if (t == 0)
			ck_assert_int_eq(hmac_sha256(k1, 20, "Hi There", 8,
			    out), 0);
		else if (t == 1)
			ck_assert_int_eq(hmac_sha256("Jefe", 4, "what do ya "
			    "want for nothing?", 28, out), 0);
		else if (t == 2)
			ck_assert_int_eq(hmac_sha256(k6, 131, "Test Using "
			    "Larger Than Block-Size Key - Hash Key First", 54,
			    out), 0);
		else
			ck_assert_int_eq(hmac_sha256(k6, 131, m7,
			    sizeof(m7) - 1, out), 0);
		for (i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", out[i]);
		ck_assert_str_eq(hex, want[t]);
	}
	ck_assert(hmac_equal(out, out, 32));
	ck_assert(!hmac_equal(out, zero, 32));
}
END_TEST

/* raw_auth_add - an ADD_AUTH datagram for addr at time t with nonce n,
 * signed under key; the reply's drac_stat (or -1) */
static int
raw_auth_add(const uint8_t *key, size_t keylen, const char *addr,
    uint64_t t, uint8_t fill)
{
	uint8_t req[512], rep[256];
	add3_auth_args a;
	uint32_t st;
	size_t n = rpc_header(req, 4242, 900101, 3, 7);
	ssize_t got;
	XDR x;

	memset(&a, 0, sizeof(a));
	a.add.addr.af = DRAC_AF_INET;
	inet_pton(AF_INET, addr, a.add.addr.drac_addr_u.v4);
	a.add.user = (char *)"";
	a.time = t;
	memset(a.nonce, fill, sizeof(a.nonce));
	ck_assert_int_eq(auth_mac(key, keylen, &a, (uint8_t *)a.mac), 0);
	xdrmem_create(&x, (char *)req + n, (u_int)(sizeof(req) - n),
	    XDR_ENCODE);
	ck_assert(xdr_add3_auth_args(&x, &a));
	n += xdr_getpos(&x);
	xdr_destroy(&x);
	got = udp_exchange("127.0.0.1", d.port, req, n, rep, sizeof(rep), 2000);
	if (reply_status(rep, got, 4242, &st) != SUCCESS)
		return -1;
	return (int)st;
}

START_TEST(authenticated_adds)
{
	static char conf[400], keyfile[400], badkey[400];
	const char *const with_key[] = {"-c", conf, NULL};
	const char *const check[] = {"-n", "-c", conf, NULL};
	uint8_t key[32];
	char spec[32], out[2048];
	struct drac_options o = {2000, 0, DRAC_UDP, NULL};
	drac_t *plain, *keyed, *wrong, *lossy;
	uint64_t now = (uint64_t)time(NULL);
	struct drac_stats st0, st1;
	struct lossy *r;
	int i;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 37 + 11);
	daemon_init(&d, "127.0.0.1\n");
	snprintf(keyfile, sizeof(keyfile), "%.300s/add.key", d.dir);
	snprintf(badkey, sizeof(badkey), "%.300s/bad.key", d.dir);
	{
		FILE *fp = fopen(keyfile, "w");

		ck_assert_ptr_nonnull(fp);
		ck_assert_uint_eq(fwrite(key, 1, 32, fp), 32);
		fclose(fp);
	}
	ck_assert_int_eq(chmod(keyfile, 0600), 0);
	write_file(badkey, "another key of enough length\n");
	chmod(badkey, 0600);
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	/* a key file others may read is refused */
	chmod(keyfile, 0644);
	snprintf(out, sizeof(out), "add_key_file = %s\n", keyfile);
	write_file(conf, out);
	ck_assert_int_eq(daemon_run(&d, check, WAIT_MS, out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "chmod 600") != NULL, "%s", out);
	chmod(keyfile, 0600);
	ck_assert_int_eq(daemon_start(&d, with_key), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);

	/* without the key: refused; with it: granted; a wrong key: refused */
	ck_assert_int_eq(drac_open(&plain, spec, &o), 0);
	ck_assert_int_eq(drac_add(plain, "192.0.2.10", 0, NULL), DRAC_E_PERM);
	o.add_key_file = keyfile;
	ck_assert_int_eq(drac_open(&keyed, spec, &o), 0);
	ck_assert_int_eq(drac_add(keyed, "192.0.2.11", 0, "alice"), 0);
	o.add_key_file = badkey;
	ck_assert_int_eq(drac_open(&wrong, spec, &o), 0);
	ck_assert_int_eq(drac_add(wrong, "192.0.2.12", 0, NULL), DRAC_E_AUTH);
	ck_assert_int_eq(drac_check(plain, "192.0.2.11", NULL), 1);
	ck_assert_int_eq(drac_check(plain, "192.0.2.12", NULL), 0);

	/* the same signed request again (a resend after a lost reply, or a
	 * replay): the first answer again, and nothing granted again */
	ck_assert_int_eq(raw_auth_add(key, 32, "192.0.2.13", now, 1), DRAC_OK);
	ck_assert_int_eq(drac_stats(plain, &st0), 0);
	ck_assert_int_eq(raw_auth_add(key, 32, "192.0.2.13", now, 1), DRAC_OK);
	ck_assert_int_eq(drac_stats(plain, &st1), 0);
	ck_assert_uint_eq(st1.adds, st0.adds);
	ck_assert_int_eq(drac_check(plain, "192.0.2.13", NULL), 1);
	/* its nonce in another request is refused */
	ck_assert_int_eq(raw_auth_add(key, 32, "192.0.2.15", now, 1),
	    DRAC_AUTH);
	ck_assert_int_eq(drac_check(plain, "192.0.2.15", NULL), 0);
	ck_assert(log_contains(&d, "a used nonce in another request"));
	/* a stale request (or a far-off clock) is refused */
	ck_assert_int_eq(raw_auth_add(key, 32, "192.0.2.14", now - 120, 2),
	    DRAC_AUTH);
	ck_assert_int_eq(drac_check(plain, "192.0.2.14", NULL), 0);
	ck_assert(log_contains(&d, "wrong or stale authenticator"));
	/* libdrac over UDP whose first reply is lost: its resend gets the
	 * answer, and the grant is made once */
	r = lossy_start(d.port, LOSE_REPLY);
	o.add_key_file = keyfile;
	ck_assert_int_eq(drac_open(&lossy, lossy_spec(r), &o), 0);
	ck_assert_int_eq(drac_stats(plain, &st0), 0);
	ck_assert_int_eq(drac_add(lossy, "192.0.2.16", 0, NULL), 0);
	ck_assert(lossy_end(r));
	drac_close(lossy);
	ck_assert_int_eq(drac_check(plain, "192.0.2.16", NULL), 1);
	ck_assert_int_eq(drac_stats(plain, &st1), 0);
	ck_assert_uint_eq(st1.adds, st0.adds + 1);
	/* the same signed request twice at once: one grant; the second is
	 * answered as the first was, or (still being served) not at all */
	r = lossy_start(d.port, DOUBLE_REQUEST);
	ck_assert_int_eq(drac_open(&lossy, lossy_spec(r), &o), 0);
	ck_assert_int_eq(drac_add(lossy, "192.0.2.17", 0, NULL), 0);
	i = lossy_end(r);
	ck_assert_msg(i == 1 || i == 2, "%d replies", i);
	drac_close(lossy);
	ck_assert_int_eq(drac_stats(plain, &st0), 0);
	ck_assert_uint_eq(st0.adds, st1.adds + 1);
	drac_close(plain);
	drac_close(keyed);
	drac_close(wrong);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(store_full)
{
	static char conf[400];
	const char *const small[] = {"-c", conf, NULL};
	char spec[32], text[32];
	drac_t *h;
	int i;

	daemon_init(&d, "127.0.0.1\n");
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	write_file(conf, "max_entries = 5\n");
	ck_assert_int_eq(daemon_start(&d, small), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	for (i = 1; i <= 5; i++) {
		snprintf(text, sizeof(text), "192.0.2.%d", i);
		ck_assert_int_eq(drac_add(h, text, 0, NULL), 0);
	}
	/* full: a new address is refused, with the system-error status */
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(drac_add(h, "192.0.2.6", 0, NULL),
		    DRAC_E_SERVER);
	/* no live grant was evicted, and those can still be refreshed */
	for (i = 1; i <= 5; i++) {
		snprintf(text, sizeof(text), "192.0.2.%d", i);
		ck_assert_int_eq(drac_check(h, text, NULL), 1);
		ck_assert_int_eq(drac_add(h, text, 0, NULL), 0);
	}
	ck_assert_int_eq(drac_check(h, "192.0.2.6", NULL), 0);
	/* said once, not once per refusal */
	ck_assert_int_eq(log_count(&d, "the store is full"), 1);
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* ---- a full disk fails closed (the map stops granting what dracd no
 * longer grants) ---- */

/* tiny_disk - d's map on a 64 KB tmpfs in a mount namespace of this test's
 * own; its directory into state */
static void
tiny_disk(char *state, size_t len)
{
	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	snprintf(state, len, "%.200s/state", d.dir);
	ck_assert_int_eq(mkdir(state, 0755), 0);
	ck_assert_int_eq(mount("tmpfs", state, "tmpfs", 0, "size=64k"), 0);
	snprintf(d.db, sizeof(d.db), "%.250s/dracd.db", state);
}

/* fill_disk - write a file at path until the disk is full */
static void
fill_disk(const char *path)
{
	char block[4096];
	int fd;

	ck_assert((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	memset(block, 'x', sizeof(block));
	while (write(fd, block, sizeof(block)) > 0)
		;
	while (write(fd, block, 1) > 0)	/* the last bytes of a page too */
		;
	close(fd);
}

/* in_map - is key in the map, as an MTA reads it? */
static int
in_map(const char *key)
{
	return map_get(d.db, key, strlen(key), NULL, 0) == 1;
}

struct mapwant {
	const char *in[4], *out[4];	/* NULL-terminated */
};

/* map_is - the map holds every key of in and none of out */
static int
map_is(void *arg)
{
	const struct mapwant *w = arg;
	int i;

	for (i = 0; w->in[i] != NULL; i++)
		if (!in_map(w->in[i]))
			return 0;
	for (i = 0; w->out[i] != NULL; i++)
		if (in_map(w->out[i]))
			return 0;
	return 1;
}

/*
 * leftovers - temporary files of failed writes in dir made at least
 * min_age seconds ago (0: any); a write in progress has one for the
 * moment it lasts, a leak keeps it
 */
static int
leftovers(const char *dir, time_t min_age)
{
	char path[1024];
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	int n = 0;
	DIR *dp;

	ck_assert((dp = opendir(dir)) != NULL);
	while ((de = readdir(dp)) != NULL) {
		if (strncmp(de->d_name, "__db.", 5) != 0 &&
		    strstr(de->d_name, ".tmp") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (min_age > 0 && (lstat(path, &st) < 0 ||
		    st.st_ctime > now - min_age))
			continue;	/* gone, or a write under way */
		fprintf(stderr, "leftover: %s\n", de->d_name);
		n++;
	}
	closedir(dp);
	return n;
}

/* has_leftover - a temporary file of a failed write that outlived it
 * (older than 2 s: attempts come once a second and take milliseconds) */
static int
has_leftover(void *dir)
{
	return leftovers(dir, 2) > 0;
}

/* file_exists - for wait_until */
static int
file_exists(void *path)
{
	return access(path, F_OK) == 0;
}

#define REVOKE_BOUND_MS	2000	/* two sync intervals of 1 s */

START_TEST(disk_full_fails_closed)
{
	static char conf[400];
	const char *const cf[] = {"-c", conf, NULL};
	struct drac_options o = {3000, 0, DRAC_TCP, NULL};
	struct mapwant all = {{"192.0.2.1", "192.0.2.2", "192.0.2.3", NULL},
	    {NULL}};
	struct mapwant gone_b = {{NULL}, {"192.0.2.2", NULL}};
	struct mapwant back_a = {{"192.0.2.1", "192.0.2.3", NULL},
	    {"192.0.2.2", NULL}};
	struct mapwant gone_a = {{NULL}, {"192.0.2.1", NULL}};
	struct mapwant back_l = {{"192.0.2.3", NULL},
	    {"192.0.2.1", "192.0.2.2", NULL}};
	char state[300], filler[340], spare[340], spec[32];
	int64_t t0, t;
	drac_t *h;

	if (!may_forge())	/* root, for a mount of its own */
		return;
	daemon_init(&d, "127.0.0.1 add check admin\n");
	tiny_disk(state, sizeof(state));
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	write_file(conf, "sync_interval = 1s\n");
	ck_assert_int_eq(daemon_start(&d, cf), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, &o), 0);
	/* A: deleted later; B: expires in 3 s; L: stays */
	ck_assert_int_eq(drac_add(h, "192.0.2.1", 0, NULL), 0);
	ck_assert_int_eq(drac_add(h, "192.0.2.2", 3, NULL), 0);
	ck_assert_int_eq(drac_add(h, "192.0.2.3", 0, NULL), 0);
	ck_assert(wait_until(map_is, &all, WAIT_MS));
	snprintf(spare, sizeof(spare), "%s.empty", d.db);

	/* the disk fills; B expires, and the map cannot be rewritten */
	snprintf(filler, sizeof(filler), "%s/filler", state);
	fill_disk(filler);
	ck_assert(wait_until(log_has, "cannot write the allowlist", 6000));
	t0 = now_ms();
	ck_assert_msg(wait_until(map_is, &gone_b, REVOKE_BOUND_MS + 1000),
	    "the map still grants an expired address");
	t = now_ms() - t0;
	fprintf(stderr, "disk_full_fails_closed: expired grant out of the map "
	    "%lld ms after the first failed write\n", (long long)t);
	ck_assert(wait_until(log_has, "replaced it with an empty map", WAIT_MS));
	ck_assert_int_eq(drac_check(h, "192.0.2.2", NULL), 0);
	ck_assert_int_eq(drac_check(h, "192.0.2.1", NULL), 1);
	/* failed attempts, one a second, leave no temporary files: none
	 * appears over three more of them */
	ck_assert_msg(!wait_until(has_leftover, state, 3500), "a failed "
	    "write left a temporary file");

	/* space returns: the map is whole again (A and L, not B) */
	ck_assert_int_eq(unlink(filler), 0);
	ck_assert(wait_until(map_is, &back_a, WAIT_MS));
	ck_assert(wait_until(log_has, "is written again, with every grant",
	    WAIT_MS));
	ck_assert(wait_until(file_exists, spare, WAIT_MS));

	/* full again: an admin deletes A */
	fill_disk(filler);
	t0 = now_ms();
	ck_assert_int_eq(drac_del(h, "192.0.2.1"), 0);
	ck_assert_msg(wait_until(map_is, &gone_a, REVOKE_BOUND_MS + 1000),
	    "the map still grants a deleted address");
	fprintf(stderr, "disk_full_fails_closed: deleted grant out of the map "
	    "%lld ms after the delete\n", (long long)(now_ms() - t0));
	ck_assert_int_eq(leftovers(state, 2), 0);
	ck_assert_int_eq(unlink(filler), 0);
	ck_assert(wait_until(map_is, &back_l, WAIT_MS));
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);
	ck_assert(map_is(&back_l));
	umount2(state, MNT_DETACH);
}
END_TEST

/* ---- a lowered max_entries ---- */

START_TEST(max_entries_lowered)
{
	static char conf[400];
	const char *const cf[] = {"-c", conf, NULL};
	char spec[32], text[32];
	drac_t *h;
	int i;

	daemon_init(&d, "127.0.0.1 add check admin\n");
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	ck_assert_int_eq(daemon_start(&d, NULL), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	for (i = 1; i <= 5; i++) {
		snprintf(text, sizeof(text), "192.0.2.%d", i);
		ck_assert_int_eq(drac_add(h, text, 0, NULL), 0);
	}
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);

	/* restarted with max_entries 3 < 5 saved: it starts and keeps all */
	write_file(conf, "max_entries = 3\n");
	ck_assert_msg(daemon_start(&d, cf) == 0, "dracd did not start with "
	    "more saved grants than max_entries");
	ck_assert(log_contains(&d, "5 saved grants, more than max_entries "
	    "(3)"));
	ck_assert_int_eq(drac_open(&h, spec, NULL), 0);
	for (i = 1; i <= 5; i++) {
		snprintf(text, sizeof(text), "192.0.2.%d", i);
		ck_assert_int_eq(drac_check(h, text, NULL), 1);
	}
	ck_assert_int_eq(map_count(d.db), 5);
	/* a new address is refused as "full"; a refresh is not */
	ck_assert_int_eq(drac_add(h, "192.0.2.9", 0, NULL), DRAC_E_SERVER);
	ck_assert(wait_until(log_has, "the store is full", WAIT_MS));
	ck_assert_int_eq(drac_add(h, "192.0.2.1", 0, NULL), 0);
	/* below the limit, adds work again */
	ck_assert_int_eq(drac_del(h, "192.0.2.1"), 0);
	ck_assert_int_eq(drac_del(h, "192.0.2.2"), 0);
	ck_assert_int_eq(drac_add(h, "192.0.2.9", 0, NULL), DRAC_E_SERVER);
	ck_assert_int_eq(drac_del(h, "192.0.2.3"), 0);
	ck_assert_int_eq(drac_add(h, "192.0.2.9", 0, NULL), 0);
	ck_assert_int_eq(drac_check(h, "192.0.2.9", NULL), 1);
	drac_close(h);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* ---- kill -9 while the map is edited in place (sync interval 0) ---- */

/* map_ino - the inode of d's map, 0 if none */
static ino_t
map_ino(void)
{
	struct stat st;

	return stat(d.db, &st) == 0 ? st.st_ino : 0;
}

/* ino_changed - is d's map another file than *arg (a whole rewrite)? */
static int
ino_changed(void *arg)
{
	ino_t now = map_ino();

	return now != 0 && now != *(ino_t *)arg;
}

/* edit_adder - in a child: add 10.8.x.y from first on, writing the number
 * of each acknowledged one to fd, until killed */
static void
edit_adder(uint32_t first, int fd)
{
	struct drac_options o = {3000, 0, DRAC_TCP, NULL};
	char spec[32], a[32];
	drac_t *h;
	uint32_t i;

	snprintf(spec, sizeof(spec), "127.0.0.1:%u", d.port);
	if (drac_open(&h, spec, &o) != 0)
		_exit(1);
	for (i = first;; i++) {
		snprintf(a, sizeof(a), "10.8.%u.%u", (i >> 8) & 255, i & 255);
		if (drac_add(h, a, 0, NULL) == 0 &&
		    write(fd, &i, sizeof(i)) != sizeof(i))
			_exit(1);
	}
}

START_TEST(kill_during_map_edits)
{
	static char conf[400];
	const char *const sync0[] = {"-c", conf, NULL};
	const char *vargv[] = {"/usr/bin/db5.3_verify", "-q", d.db, NULL};
	uint32_t next = 0, got;
	unsigned int seed = 5;
	char a[32], out[1024];
	int k, fds[2], acked = 0;
	ino_t ino;
	pid_t pid;

	daemon_init(&d, "127.0.0.1\n");
	snprintf(conf, sizeof(conf), "%s/dracd.conf", d.dir);
	write_file(conf, "sync_interval = 0\nadd_rate = 0\n");
	ck_assert_int_eq(daemon_start(&d, sync0), 0);
	for (k = 0; k < 4; k++) {
		struct timespec pause = {0, (300 + rand_r(&seed) % 500) *
		    1000000L};

		ck_assert_int_eq(pipe(fds), 0);
		if ((pid = fork()) == 0) {
			close(fds[0]);
			edit_adder(next, fds[1]);
		}
		close(fds[1]);
		nanosleep(&pause, NULL);	/* a random moment, mid-edit */
		daemon_kill(&d);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		ino = map_ino();
		ck_assert_int_eq(daemon_start(&d, sync0), 0);
		/* the restart rewrites the map whole, whatever the kill
		 * left of an edit: it verifies, and holds every add that was
		 * acknowledged (each was in the map and on disk) */
		ck_assert(wait_until(ino_changed, &ino, WAIT_MS));
		ck_assert_msg(run_prog(vargv, NULL, out, sizeof(out), 30000) ==
		    0, "kill %d: db5.3_verify: %s", k, out);
		while (read(fds[0], &got, sizeof(got)) == sizeof(got)) {
			snprintf(a, sizeof(a), "10.8.%u.%u", (got >> 8) & 255,
			    got & 255);
			ck_assert_msg(map_get(d.db, a, strlen(a), NULL, 0) == 1,
			    "kill %d: %s acknowledged, not in the map", k, a);
			acked++;
			next = got + 1;
		}
		close(fds[0]);
	}
	ck_assert_int_gt(acked, 0);
	fprintf(stderr, "kill_during_map_edits: 4 kills, %d acknowledged "
	    "adds all in the rewritten map\n", acked);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

Suite *
make_hardening_suite(void)
{
	Suite *s = suite_create("hardening");
	TCase *tc = tcase_create("spoofing");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, forged_udp_add);
	tcase_add_test(tc, garbage_on_the_wire);
	tcase_add_test(tc, disk_full);
	tcase_add_test(tc, add_rate_limit);
	tcase_add_test(tc, hmac_vectors);
	tcase_add_test(tc, authenticated_adds);
	tcase_add_test(tc, store_full);
	suite_add_tcase(s, tc);
	tc = tcase_create("diskfull");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, disk_full_fails_closed);
	suite_add_tcase(s, tc);
	tc = tcase_create("inplace_kill");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, kill_during_map_edits);
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, max_entries_lowered);
	suite_add_tcase(s, tc);
	return s;
}
