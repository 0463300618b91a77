#!/bin/bash
# group.sh - a dracd group of three on loopback (group_ack = quorum), as
# its clients see it.  Called by run.sh; alone: B=build
# tests/bench/group.sh (BENCH_QUICK=1: one short run of each).  Prints
# one line per scenario:
#   group_single_add_v1_udp_c4  adds/s of one dracd, no group, this run
#   group_add_v1_udp_c4         adds/s with 4 clients over the 3 members
#                               (loadgen client i speaks to member i % 3)
#   group_single_add_v1_udp_c16, group_add_v1_udp_c16
#                               the same with 16 clients: each add waits
#                               for the group, so more clients in flight
#                               share each commit
#   group_lag_1000              adds at 1,000/s over the members: time
#                               until every member answers allowed
#   group_failover_K            after the master's SIGKILL: time until an
#                               add is acknowledged again (the killed
#                               member restarted each time)
#   group_failover              all the kills' times
set -euo pipefail
B=${B:-build}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then RUNS=1; SECS=1; LAGN=1000; KILLS=2
else RUNS=${GROUP_RUNS:-3}; SECS=${GROUP_SECS:-4}; LAGN=3000; KILLS=5; fi
WORK=$(mktemp -d /tmp/dracd-group-bench.XXXXXX)
PIDS=()

# gone PID - wait (5 s) until a process is gone
gone() {
	for _ in $(seq 1 500); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.01; done
	return 1
}

cleanup() {
	for p in "${PIDS[@]}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do [ -n "$p" ] && gone "$p" || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# median NAME PORTS ARGS... - loadgen $RUNS times, the median line
median() {
	local name=$1 ports=$2; shift 2
	for _ in $(seq 1 "$RUNS"); do
		"$B/loadgen" -p "$ports" -d "$SECS" -s "$name" "$@"
	done | sort -t= -k3 -n | awk -v r="$RUNS" 'NR == int((r + 1) / 2)'
}

# up PORT - wait until a dracd answers there (10 s)
up() {
	for _ in $(seq 1 200); do
		"$B/drac-cli" -t 1 -s "127.0.0.1:$1" ping >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

echo "127.0.0.1 add check admin" > "$WORK/allow"

# one dracd, no group, with the same settings
SPORT=$(port)
mkdir "$WORK/single"
printf "%s\n" "add_rate = 0" "rpcbind = no" "map_update = edit" > "$WORK/single/dracd.conf"
"$B/dracd" -f -c "$WORK/single/dracd.conf" -a "$WORK/allow" -l 127.0.0.1 \
    -p "$SPORT" "$WORK/single/dracd.db" 2>>"$WORK/single/log" &
PIDS[3]=$!
up "$SPORT" || { echo "scenario=group_single_add error=no_start"; exit 0; }
median group_single_add_v1_udp_c4 "$SPORT" -m add -c 4
median group_single_add_v1_udp_c16 "$SPORT" -m add -c 16
kill "${PIDS[3]}"; wait "${PIDS[3]}" 2>/dev/null || true; PIDS[3]=""

# the group
for i in 0 1 2; do PORTS[$i]=$(port); REP[$i]=$(port); mkdir "$WORK/g$i"; done
for i in 0 1 2; do
	sites=""
	for j in 0 1 2; do [ $j != $i ] && sites="$sites 127.0.0.1:${REP[$j]}"; done
	printf "%s\n" "add_rate = 0" "rpcbind = no" "map_update = edit" "group_ack = quorum" \
	    "group_local = 127.0.0.1:${REP[$i]}" "group_sites =$sites" \
	    > "$WORK/g$i/dracd.conf"
done
ALL="${PORTS[0]},${PORTS[1]},${PORTS[2]}"

# member I - start member I (disowned: bash says nothing of its SIGKILL)
member() {
	"$B/dracd" -f -c "$WORK/g$1/dracd.conf" -a "$WORK/allow" -l 127.0.0.1 \
	    -p "${PORTS[$1]}" "$WORK/g$1/dracd.db" 2>>"$WORK/g$1/log" &
	PIDS[$1]=$!
	disown "${PIDS[$1]}"
}


# role I - member I's role as it says it (GROUP), "" without an answer
role() {
	"$B/drac-cli" -t 1 -s "127.0.0.1:${PORTS[$1]}" group 2>/dev/null |
	    sed -n '1s/.* role=\([a-z]*\).*/\1/p'
}

# master - wait (30 s) for one master and two replicas; the master's index
master() {
	local m r i
	for _ in $(seq 1 600); do
		m=""; r=0
		for i in 0 1 2; do
			case $(role $i) in master) m=$i;; replica) r=$((r + 1));; esac
		done
		if [ -n "$m" ] && [ $r = 2 ]; then echo "$m"; return 0; fi
		sleep 0.05
	done
	return 1
}

for i in 0 1 2; do member $i; done
if ! master >/dev/null; then
	echo "scenario=group_add error=no_master"
	exit 0
fi
median group_add_v1_udp_c4 "$ALL" -m add -c 4
"$B/grouplag" -p "$ALL" -r 1000 -n "$LAGN" -s group_lag_1000 -b 0x31000000
median group_add_v1_udp_c16 "$ALL" -m add -c 16

ALLMS=""
for k in $(seq 1 "$KILLS"); do
	if ! M=$(master); then
		echo "scenario=group_failover_$k failover_ms=never error=no_master_before"
		break
	fi
	surv=""
	for i in 0 1 2; do [ "$i" != "$M" ] && surv="$surv${surv:+,}${PORTS[$i]}"; done
	kill -9 "${PIDS[$M]}"
	line=$("$B/grouplag" -m failover -p "$surv" -t 15 -s "group_failover_$k" \
	    -b $(( 0x32000000 + k * 65536 )) || true)
	echo "$line"
	gone "${PIDS[$M]}" || true
	ALLMS="$ALLMS${ALLMS:+,}$(sed -n 's/.*failover_ms=\([^ ]*\).*/\1/p' <<< "$line")"
	member "$M"
done
echo "scenario=group_failover kills=$KILLS failover_ms=$ALLMS"
