#!/bin/bash
# milter.sh - messages per second through a real Postfix on loopback,
# without and with drac-milter (trace mode, the client granted, so every
# message costs one dracd check and gets the header).  Called by run.sh;
# alone: B=build tests/bench/milter.sh.  Prints one line per scenario;
# prints nothing and exits 0 where Postfix or root is missing.
set -euo pipefail
B=${B:-build}
SECS=${MILTER_SECS:-4}
CONNS=${MILTER_CONNS:-4}
[ "$(id -u)" = 0 ] && [ -x /usr/sbin/postfix ] && command -v python3 >/dev/null || exit 0
WORK=$(mktemp -d /tmp/drac-milter-bench.XXXXXX)
chmod 755 "$WORK"	# Postfix refuses a queue under a 0700 directory
PF=$WORK/postfix
DPID=""; MPID=""; UPID=""
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cleanup() {
	postfix -c "$PF" stop >/dev/null 2>&1 || true
	[ -n "$MPID" ] && kill "$MPID" 2>/dev/null || true
	[ -n "$UPID" ] && kill "$UPID" 2>/dev/null || true
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

DPORT=$(port); MPORT=$(port); SPORT=$(port)
echo "127.0.0.1 add check admin" > "$WORK/allow"
"$B/dracd" -f -c /dev/null -a "$WORK/allow" -l 127.0.0.1 -p "$DPORT" "$WORK/dracd.db" 2>"$WORK/dracd.log" &
DPID=$!
for _ in $(seq 1 200); do "$B/drac-cli" -s "127.0.0.1:$DPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
"$B/drac-cli" -s "127.0.0.1:$DPORT" add 127.0.0.1 --ttl 3600 --user bench
"$B/drac-milter" -f -s "127.0.0.1:$DPORT" -p "inet:$MPORT@127.0.0.1" 2>"$WORK/milter.log" &
MPID=$!
# the same on a unix socket, as Postfix's user so that smtpd may connect
"$B/drac-milter" -f -s "127.0.0.1:$DPORT" -p "unix:$WORK/milter.sock" -u postfix 2>"$WORK/milter-unix.log" &
UPID=$!

# postfix_with MILTERS - (re)start Postfix with smtpd_milters = MILTERS
postfix_with() {
	postfix -c "$PF" stop >/dev/null 2>&1 || true
	mkdir -p "$PF/queue" "$PF/data" "$PF/log"; chown postfix "$PF/data"
	cat > "$PF/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
maillog_file = $PF/log/postfix.log
maillog_file_prefixes = $PF/log
myhostname = relay.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
default_transport = discard
relay_transport = discard
alias_maps =
alias_database =
smtpd_milters = $1
milter_default_action = tempfail
CF
	sed "s/^smtp      inet.*/127.0.0.1:$SPORT inet n - n - - smtpd/" \
	    /usr/share/postfix/master.cf.dist > "$PF/master.cf"
	postfix -c "$PF" start >/dev/null 2>&1 || { echo "postfix start failed" >&2; exit 1; }
	for _ in $(seq 1 200); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $SPORT), 1).close()" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "Postfix did not start" >&2; exit 1
}

# send NAME - $CONNS connections sending messages for $SECS seconds
send() {
	python3 - "$1" "$SPORT" "$SECS" "$CONNS" <<'PY'
import smtplib, sys, threading, time
name, port, secs, conns = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
msg = "Subject: bench\r\n\r\nbody\r\n"
counts = [0] * conns
errors = [0] * conns
end = time.monotonic() + secs
def run(i):
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    s.ehlo("bench.test")
    while time.monotonic() < end:
        try:
            s.sendmail("a@bench.test", ["x@example.net"], msg)
            counts[i] += 1
        except smtplib.SMTPException:
            errors[i] += 1
    s.quit()
t0 = time.monotonic()
ts = [threading.Thread(target=run, args=(i,)) for i in range(conns)]
for t in ts: t.start()
for t in ts: t.join()
took = time.monotonic() - t0
print("scenario=%s msgs_per_s=%.0f messages=%d errors=%d conns=%d" % (name, sum(counts) / took, sum(counts), sum(errors), conns))
PY
}

postfix_with ""
send "postfix_no_milter_c$CONNS"
postfix_with "inet:127.0.0.1:$MPORT"
send "postfix_drac_milter_trace_inet_c$CONNS"
postfix_with "unix:$WORK/milter.sock"
send "postfix_drac_milter_trace_unix_c$CONNS"
