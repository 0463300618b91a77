#!/bin/bash
# run.sh - dracd's benchmark (make bench).  Starts its own dracd on free
# loopback ports with a temporary store for every scenario, runs the load
# generator, and prints a table and one machine-readable line per scenario
# (the median of 3 runs by calls/s).  BENCH_QUICK=1: one short run each
# and 100,000 entries instead of 1,000,000, for a smoke check.
set -euo pipefail
B=${B:-build}
DRACD=$B/dracd
LOADGEN=$B/loadgen
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then RUNS=1; SECS=1; BIG=100000; else RUNS=3; SECS=4; BIG=1000000; fi
WORK=$(mktemp -d /tmp/dracd-bench.XXXXXX)
PID=""
RESULTS=()

cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
	python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
PY
}

# start CONF... - a fresh dracd on $PORT with the given config lines
start() {
	PORT=$(free_port)
	printf '%s\n' "add_rate = 0" "$@" > "$WORK/dracd.conf"
	echo "127.0.0.1 add check admin" > "$WORK/allow"
	T0=$(date +%s%N)
	$DRACD -f -c "$WORK/dracd.conf" -a "$WORK/allow" -l 127.0.0.1 -p "$PORT" \
	    "$WORK/dracd.db" 2>>"$WORK/log" &
	PID=$!
	for _ in $(seq 1 3000); do
		if $LOADGEN -p "$PORT" -c 1 -d 0.001 -s up 2>/dev/null | grep -q errors=0; then
			STARTUP_MS=$(( ($(date +%s%N) - T0) / 1000000 ))
			return 0
		fi
		sleep 0.005
	done
	echo "dracd did not start" >&2; cat "$WORK/log" >&2; exit 1
}

stop() {
	kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
}

fresh() { rm -rf "$WORK"/dracd.db*; }

# preload N EXPIRES - N entries 10.0.0.0 + i: a map as DRAC would leave
# it (built by db5.3_load), which a first dracd imports into its own
# environment before it serves; the scenario's dracd then starts from it
preload() {
	fresh
	awk -v n="$1" -v e="$2" 'BEGIN { for (i = 0; i < n; i++) {
		printf "%d.%d.%d.%d\n%d\n", 10, int(i / 65536) % 256,
		    int(i / 256) % 256, i % 256, e + (i % 3) } }' |
	    db5.3_load -T -t btree "$WORK/dracd.db"
	start
	[ -s "$WORK/dracd.db.env/state.db" ] || { echo "nothing imported" >&2; exit 1; }
	stop
}

# median NAME ARGS... - run loadgen $RUNS times, keep the median line
median() {
	local name=$1; shift
	for _ in $(seq 1 $RUNS); do
		$LOADGEN -p "$PORT" -d "$SECS" -s "$name" "$@"
	done | sort -t= -k3 -n | awk -v r=$RUNS 'NR == int((r + 1) / 2)'
}

record() { RESULTS+=("$1"); echo "$1"; }

field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<< "$1"; }

echo "dracd benchmark: $(nproc) cores, runs=$RUNS, ${SECS}s each, big=$BIG"

# 1. the floor: NULL calls
fresh; start
record "$(median floor_null_udp_c1 -c 1)"
record "$(median floor_null_udp_c4 -c 4)"
record "$(median floor_null_tcp_c1 -T -c 1)"
record "$(median floor_null_tcp_c4 -T -c 4)"
NULL1=$(field "${RESULTS[0]}" calls_per_s); NULL4=$(field "${RESULTS[1]}" calls_per_s)
NULLT4=$(field "${RESULTS[3]}" calls_per_s)
S0C1=""; NULLA4=""
stop

# 2. adds of distinct addresses, default durability and sync-before-ack
for sync in 1s 0; do
	for c in 1 4 $([ $sync = 0 ] && echo 16); do
		fresh; start "sync_interval = $sync"
		# the floor on this daemon just before (see the check ratio)
		if [ "$sync$c" = 1s4 ]; then
			record "$(median floor_null_udp_c4_add -c 4)"
			NULLA4=$(field "${RESULTS[-1]}" calls_per_s)
		fi
		record "$(median add_v1_udp_sync${sync}_c$c -m add -c $c)"
		[ "$sync$c" = 01 ] && S0C1=$(field "${RESULTS[-1]}" calls_per_s)
		stop
	done
done
fresh; start
record "$(median add_v1_tcp_sync1s_c4 -m add -T -c 4)"
stop

# 2b. what the audit log costs: v1 adds, 4 clients, one audit line per
# grant (audit_grants = yes, the default) against none, stderr to a file
# as under systemd or -f > file; the two alternate, so drift hits both
for round in 1 2; do
	for audit in yes no; do
		fresh; start "audit_grants = $audit"
		record "$(median add_v1_udp_audit_${audit}_r${round}_c4 -m add -c 4)"
		stop
	done
done

# 3. checks against a big store; 4. the mixed load; 7. live lookups
preload $BIG $(( $(date +%s) + 3600 ))
POL=$(free_port); SMAP=$(free_port)
start "policy_listen = inet:127.0.0.1:$POL" "socketmap_listen = inet:127.0.0.1:$SMAP"
BIGSTART=$STARTUP_MS
RSS=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
# the floor again, on this daemon and minutes later than the first: the
# machine is shared and its speed drifts, so the check ratio is also
# given against the floor measured just before
record "$(median floor_null_udp_c4_big -c 4)"
NULLB4=$(field "${RESULTS[-1]}" calls_per_s)
record "$(median check_v3_udp_c1 -m check -n $BIG -c 1)"
record "$(median check_v3_udp_c4 -m check -n $BIG -c 4)"
record "$(median mixed_1add_20checks_c4 -m mixed -n $BIG -c 4)"
SAVE=$PORT
PORT=$POL; record "$(median policy_c4 -m policy -n $BIG -c 4)"
PORT=$SMAP; record "$(median socketmap_c4 -m socketmap -n $BIG -c 4)"
PORT=$SAVE
# the peak over start-up, serving, map rewrites and snapshots
PEAK=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
stop
DBSIZE=$(stat -c %s "$WORK/dracd.db"); STATESIZE=$(du -sb "$WORK/dracd.db.env" | cut -f1)
record "scenario=startup_${BIG}_entries startup_ms=$BIGSTART rss_kb=$RSS rss_peak_kb=$PEAK map_bytes=$DBSIZE state_bytes=$STATESIZE"

# 4b. sync before ack at scale: adds with sync_interval = 0 into a big
# list, the map edited in place (16 clients; 1 for comparison)
preload $BIG $(( $(date +%s) + 3600 ))
start "sync_interval = 0"
record "$(median add_v1_udp_sync0_big_c1 -m add -c 1)"
record "$(median add_v1_udp_sync0_big_c16 -m add -c 16)"
stop

# 5. the expiry storm: $BIG entries expire within 3 s while 4 clients check
LEAD=8
EXP=$(( $(date +%s) + LEAD + 3 ))
preload $BIG $EXP
start
while [ "$(date +%s)" -lt $(( EXP - 1 )) ]; do sleep 0.1; done
$LOADGEN -p "$PORT" -c 4 -d 5 -m check -n $BIG -s expiry_storm_checks_c4 > "$WORK/storm" &
LG=$!
LAST=$(( EXP + 3 ))
CLEAN=""
# a dump of the full map costs a second of CPU, which the clients would
# feel: dump only once the map file is small (it is rewritten whole)
for _ in $(seq 1 600); do
	n=""
	if [ "$(stat -c %s "$WORK/dracd.db" 2>/dev/null || echo 65536)" -lt 65536 ]; then
		n=$(db5.3_dump -p "$WORK/dracd.db" 2>/dev/null | sed -n '/HEADER=END/,/DATA=END/p' | grep -c '^ ' || true)
	fi
	if [ "$(date +%s)" -ge "$LAST" ] && [ "$n" = 0 ]; then
		CLEAN=$(( $(date +%s%N) / 1000000 - LAST * 1000 )); break
	fi
	sleep 0.1
done
wait $LG
record "$(cat "$WORK/storm") map_clean_ms_after_last_expiry=${CLEAN:-never}"
stop

# 9. a group of three (tests/bench/group.sh)
while read -r line; do record "$line"; done < <(B=$B GROUP_SECS=$SECS GROUP_RUNS=$RUNS BENCH_QUICK=$QUICK tests/bench/group.sh)
GSINGLE=""; GSINGLE16=""
for r in "${RESULTS[@]}"; do case $r in
	scenario=group_single_add_v1_udp_c4\ *) GSINGLE=$(field "$r" calls_per_s);;
	scenario=group_single_add_v1_udp_c16*) GSINGLE16=$(field "$r" calls_per_s);;
esac; done

# 8. drac-milter: messages/s through a real Postfix without and with it
# (needs root and Postfix; tests/bench/milter.sh prints nothing otherwise)
while read -r line; do record "$line"; done < <(B=$B MILTER_SECS=$SECS tests/bench/milter.sh)

echo
printf '%-32s %12s %8s %8s %8s %9s\n' scenario calls/s p50_us p99_us p999_us max_us
for r in "${RESULTS[@]}"; do
	case $r in *calls_per_s*)
		printf '%-32s %12s %8s %8s %8s %9s\n' "$(field "$r" scenario || true)$(sed -n 's/scenario=\([^ ]*\).*/\1/p' <<< "$r")" \
		    "$(field "$r" calls_per_s)" "$(field "$r" p50_us)" "$(field "$r" p99_us)" \
		    "$(field "$r" p999_us)" "$(field "$r" max_us)";;
	esac
done
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
for r in "${RESULTS[@]}"; do
	case $r in
	scenario=add_v1_udp_sync1s_c4*) echo "add, 4 clients UDP: $(ratio "$(field "$r" calls_per_s)" "$NULL4") of the NULL rate, $(ratio "$(field "$r" calls_per_s)" "$NULLA4") of the NULL rate just before on the same daemon (target 80%)";;
	scenario=add_v1_udp_audit_yes_r*)
		n=$(sed -n 's/scenario=add_v1_udp_audit_yes_r\([0-9]\).*/\1/p' <<< "$r")
		for o in "${RESULTS[@]}"; do case $o in scenario=add_v1_udp_audit_no_r${n}_*)
			echo "audit lines, round $n: adds with audit_grants = yes at $(ratio "$(field "$r" calls_per_s)" "$(field "$o" calls_per_s)") of the rate with no (4 clients UDP, stderr to a file)";;
		esac; done;;
	scenario=add_v1_tcp_sync1s_c4*) echo "add, 4 clients TCP: $(ratio "$(field "$r" calls_per_s)" "$NULLT4") of the TCP NULL rate";;
	scenario=check_v3_udp_c4*) echo "check, 4 clients: $(ratio "$(field "$r" calls_per_s)" "$NULL4") of the NULL rate, $(ratio "$(field "$r" calls_per_s)" "$NULLB4") of the NULL rate just before on the same daemon (target 85%)";;
	scenario=check_v3_udp_c1*) echo "check, 1 client: $(ratio "$(field "$r" calls_per_s)" "$NULL1") of the NULL rate";;
	scenario=startup*) echo "start-up with $BIG entries: ${BIGSTART} ms (target 1000), RSS $((RSS / 1024)) MB serving, $((PEAK / 1024)) MB at its peak (target 100)";;
	scenario=add_v1_udp_sync0_big_c16*) echo "sync before ack with $BIG entries: $(field "$r" calls_per_s) adds/s with 16 clients (target 5000; the map edited in place)";;
	scenario=add_v1_udp_sync0_c16*) echo "sync before ack: $(field "$r" calls_per_s) adds/s with 16 clients vs $S0C1 with 1 (group commit)";;
	scenario=postfix_*) echo "$(field "$r" scenario || true)$(sed -n 's/scenario=\([^ ]*\).*/\1/p' <<< "$r"): $(field "$r" msgs_per_s) messages/s through Postfix";;
	scenario=group_add_v1_udp_c4\ *) echo "group of 3 (group_ack = quorum), 4 clients UDP over the members: $(field "$r" calls_per_s) adds/s, $(ratio "$(field "$r" calls_per_s)" "$GSINGLE") of a single host's $GSINGLE in this run (target 50%)";;
	scenario=group_add_v1_udp_c16*) echo "group of 3, 16 clients: $(field "$r" calls_per_s) adds/s, $(ratio "$(field "$r" calls_per_s)" "$GSINGLE16") of a single host's $GSINGLE16 with 16";;
	scenario=group_lag_1000*) echo "group lag at $(field "$r" rate) adds/s until every member answers allowed: p50 $(field "$r" p50_us) us, p99 $(field "$r" p99_us) us (target 5000), max $(field "$r" max_us) us, $(field "$r" unseen) never seen";;
	scenario=group_failover\ *) echo "group failover, an add acknowledged again after the master's SIGKILL: $(sed -n 's/.*failover_ms=\([^ ]*\).*/\1/p' <<< "$r" | tr , '\n' | sort -n | tr '\n' ' ')ms (sorted; target 5000)";;
	scenario=expiry_storm*) echo "expiry storm: p99 $(field "$r" p99_us) us (target 2000), max $(field "$r" max_us) us (target 50000), map clean $(field "$r" map_clean_ms_after_last_expiry) ms after the last expiry (target 5000)";;
	esac
done
