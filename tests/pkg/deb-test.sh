#!/bin/bash
# shellcheck disable=SC2046,SC2086  # package lists are split on purpose
# deb-test.sh - the Debian packages from clone to a running, restartable
# service and back: build them from a copy of the tree (so build/ is left
# alone), lint them, install them with dpkg -i, check the packaged config
# with dracd -n, run dracd as the installed unit does (its ExecStartPre
# and ExecStart, its user, its capability bounding set, no systemd
# needed; the first run under strace, whose system calls must all be in
# the unit's SystemCallFilter=), add and check on the packaged port,
# reload, restart, check again, install again over an edited conffile,
# score the unit with systemd-analyze security, then purge and see that
# nothing is left.  Needs root; make check-deb runs it, .ci/run too.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
PKGS="dracd drac-logwatch drac-milter drac-cli libdrac-dev libdrac1 dovecot-drac"
UNIT=/lib/systemd/system/dracd.service
CONF=/etc/drac/dracd.conf
ADDR=192.0.2.7
MAX_EXPOSURE=3.0
WORK=""
PID=""		# dracd
JOB=""		# the shell's child: dracd, or strace running it

say() { printf 'deb-test: %s\n' "$*"; }
die() { printf 'deb-test: FAIL: %s\n' "$*" >&2; exit 1; }

# dpkg_run - dpkg with its arguments, waiting up to 5 min for a lock
# another apt or dpkg holds (a shared CI host installs things too)
dpkg_run() {
	local out deadline=$((SECONDS + 300))
	while :; do
		if out=$(dpkg "$@" 2>&1); then
			printf '%s\n' "$out" | grep -v '^(Reading database' || true
			return 0
		fi
		if ! printf '%s' "$out" | grep -q 'lock' ||
		    [ $SECONDS -ge $deadline ]; then
			printf '%s\n' "$out" >&2
			return 1
		fi
		sleep 1
	done
}

# installed - the packages of ours dpkg knows, in any state but gone
installed() {
	dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' $PKGS 2>/dev/null |
	    awk '$2 !~ /^.n/ {print $1}' || true
}

# stop_daemon - SIGTERM to the running dracd, then wait for it (10 s)
stop_daemon() {
	local deadline=$((SECONDS + 10))
	[ -n "$PID" ] || return 0
	kill -TERM "$PID" 2>/dev/null || true
	while kill -0 "$PID" 2>/dev/null; do
		if [ $SECONDS -ge $deadline ]; then
			kill -KILL "$PID" 2>/dev/null || true
			wait "$JOB" 2>/dev/null || true
			PID="" JOB=""
			die "dracd did not stop on SIGTERM within 10 s"
		fi
		sleep 0.1
	done
	wait "$JOB" 2>/dev/null || true
	PID="" JOB=""
}

cleanup() {
	local rc=$?
	stop_daemon || true
	if [ -n "$(installed)" ]; then
		dpkg_run --purge $(installed) >/dev/null || true
	fi
	[ -z "$WORK" ] || rm -rf "$WORK"
	exit $rc
}

[ "$(id -u)" = 0 ] || die "needs root (dpkg -i, the drac user)"
for t in dpkg-buildpackage dh lintian setpriv systemd-analyze ss strace; do
	command -v $t >/dev/null || die "needs $t (debhelper lintian \
dpkg-dev fakeroot util-linux systemd iproute2 strace)"
done
trap cleanup EXIT

# ---- a clean start: none of ours installed, from an earlier run or not
if [ -n "$(installed)" ]; then
	say "purging the installed $(installed | tr '\n' ' ')"
	dpkg_run --purge $(installed)
fi

# ---- build from a copy of the tree, into a temporary directory
WORK=$(mktemp -d /tmp/deb-test.XXXXXX)
mkdir "$WORK/src"
tar -C "$SRC" --exclude=./build --exclude=./.git --exclude=./run \
    --exclude=./debian/build -cf - . | tar -C "$WORK/src" -xf -
say "dpkg-buildpackage -us -uc -b in $WORK/src"
start=$SECONDS
if ! (cd "$WORK/src" && dpkg-buildpackage -us -uc -b) \
    >"$WORK/build.log" 2>&1; then
	tail -40 "$WORK/build.log" >&2
	die "dpkg-buildpackage failed"
fi
say "built in $((SECONDS - start)) s"
# every compile of our sources gets dpkg-buildflags' CPPFLAGS
grep -E -- ' -c -o [^ ]+ src/[^ ]+\.c$' "$WORK/build.log" >"$WORK/cc.log" ||
    die "no compiler lines in the build log"
if grep -v -- '-D_FORTIFY_SOURCE=' "$WORK/cc.log"; then
	die "dpkg-buildflags' CPPFLAGS (_FORTIFY_SOURCE) did not reach these"
fi
if grep -q -- '-Werror ' "$WORK/build.log"; then
	die "the package build uses -Werror"
fi

# ---- lintian: no errors; warnings and notes are shown
say "lintian"
lrc=0
lintian --fail-on error --display-info "$WORK"/drac_*.changes \
    >"$WORK/lintian.log" 2>&1 || lrc=$?
grep -v 'running with root privileges' "$WORK/lintian.log" || true
[ $lrc = 0 ] || die "lintian found errors"

# ---- install with dpkg -i
debs=()
for p in $PKGS; do
	debs+=("$WORK/${p}_"*.deb)
done
say "dpkg -i ${debs[*]##*/}"
dpkg_run -i "${debs[@]}"
for p in $PKGS; do
	dpkg-query -W -f='${db:Status-Abbrev}' "$p" | grep -q '^ii' ||
	    die "$p is not installed"
done
getent passwd drac >/dev/null || die "no user drac"
[ "$(stat -c %U:%a /var/lib/drac)" = "drac:755" ] ||
    die "/var/lib/drac is $(stat -c %U:%a /var/lib/drac), want drac:755"
for f in /etc/drac/dracd.conf /etc/drac/dracd.allow; do
	grep -qx "$f" /var/lib/dpkg/info/dracd.conffiles ||
	    die "$f is not a conffile"
done
[ -L /etc/systemd/system/multi-user.target.wants/dracd.service ] ||
    die "dracd.service is not enabled"
[ ! -e /etc/systemd/system/multi-user.target.wants/drac-logwatch.service ] ||
    die "drac-logwatch.service is enabled: it must wait for the admin"
pkg-config --exists drac || die "pkg-config does not find drac.pc"
[ -f /usr/lib/dovecot/modules/lib95_drac_plugin.so ] ||
    die "dovecot-drac did not put the plugin in Dovecot's module directory"
[ "$(pkg-config --variable=libdir drac)" = \
    "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)" ] ||
    die "drac.pc's libdir is $(pkg-config --variable=libdir drac)"

# ---- the unit: what systemd would run, and how
unit() { sed -n "s/^$1=//p" "$UNIT" | tail -1; }
[ "$(unit Type)" = simple ] || die "Type=$(unit Type), want simple"
[ "$(unit SyslogFacility)" = mail ] || die "SyslogFacility is not mail"
read -r -a pre <<<"$(unit ExecStartPre)"
read -r -a exec <<<"$(unit ExecStart)"
printf '%s\n' "${exec[@]}" | grep -qx -- -f || die "ExecStart without -f"
user=$(unit User)
caps=-all
for c in $(unit CapabilityBoundingSet); do
	c=${c#CAP_}
	caps="$caps,+${c,,}"
done
setpriv=(setpriv --bounding-set "$caps")
[ "$(unit NoNewPrivileges)" != yes ] || setpriv+=(--no-new-privs)
group=$(unit Group)
if [ -n "$user" ]; then
	setpriv+=(--reuid="$user" --regid="${group:-$user}" --init-groups)
fi
for d in $(unit StateDirectory); do	# as systemd would make it
	install -d -o "${user:-root}" -g "${group:-${user:-root}}" \
	    "/var/lib/$d"
done
mask=$(unit UMask)
umask "${mask:-0022}"

port=$(sed -n 's/^port[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$CONF")
[ -n "$port" ] && [ "$port" != 0 ] ||
    die "$CONF names no fixed port"
cli() { drac-cli -t 2 -s "127.0.0.1:$port" "$@"; }

say "dracd -n -c $CONF"
dracd -n -c "$CONF" || die "dracd -n rejects the packaged config"

# start_daemon - ExecStartPre, then ExecStart in the background, as the
# unit would (under strace -f when given "trace"); waits (10 s) until
# dracd answers on the packaged port
start_daemon() {
	local deadline=$((SECONDS + 10)) trace=()

	[ "${1:-}" != trace ] || trace=(strace -f -qq -o "$WORK/strace.log")

	if ss -Hlnu "sport = :$port" | grep -q . ||
	    ss -Hlnt "sport = :$port" | grep -q .; then
		die "port $port is taken by another program: $(ss -Hlntup \
"sport = :$port")"
	fi
	"${setpriv[@]}" -- "${pre[@]}" || die "ExecStartPre failed"
	"${trace[@]}" "${setpriv[@]}" -- "${exec[@]}" >>"$WORK/dracd.log" 2>&1 &
	JOB=$! PID=$!
	until cli ping >/dev/null 2>&1; do
		if ! kill -0 "$JOB" 2>/dev/null; then
			cat "$WORK/dracd.log" >&2
			PID="" JOB=""
			die "dracd exited at start"
		fi
		[ $SECONDS -lt $deadline ] ||
		    die "dracd does not answer on port $port"
		sleep 0.1
	done
	[ ${#trace[@]} = 0 ] || PID=$(pgrep -P "$JOB" -x dracd) ||
	    die "no dracd under strace"
	[ "$(ps -o user= -p "$PID")" = drac ] ||
	    die "dracd runs as $(ps -o user= -p "$PID"), want drac"
	bnd=$(sed -n 's/^CapBnd:[[:space:]]*//p' "/proc/$PID/status")
	[ $((0x$bnd >> 1 & 1)) = 0 ] ||
	    die "dracd holds CAP_DAC_OVERRIDE in its bounding set"
}

# syscalls_outside - the system calls dracd made (after its execve, in
# $WORK/strace.log) that the unit's SystemCallFilter= allow list lacks
syscalls_outside() {
	local filter
	filter=$(sed -n 's/^SystemCallFilter=\([^~]\)/\1/p' "$UNIT" | tr '\n' ' ')
	[ -n "$filter" ] || return 0
	systemd-analyze syscall-filter 2>/dev/null | awk -v want="$filter" '
	    /^@/ { g = $1; next }
	    NF && $1 !~ /^#/ { m[g] = m[g] " " $1 }
	    function add(x,   n, a, i) {
		if (x in seen) return; seen[x] = 1
		if (x !~ /^@/) { ok[x] = 1; return }
		n = split(m[x], a, " ")
		for (i = 1; i <= n; i++) add(a[i])
	    }
	    END { n = split(want, w, " "); for (i = 1; i <= n; i++) add(w[i])
		for (x in ok) print x }' | sort -u >"$WORK/allowed"
	awk '/execve\("\/usr\/sbin\/dracd"/ { on = 1; next }
	    on { sub(/^[0-9]+ +/, "")
		if (match($0, /^[a-z_0-9]+\(/))
		    print substr($0, 1, RLENGTH - 1)
		else if (match($0, /^<\.\.\. [a-z_0-9]+ resumed/))
		    print substr($0, 6, RLENGTH - 13) }' "$WORK/strace.log" |
	    sort -u >"$WORK/used"
	[ -s "$WORK/used" ] || die "strace saw no system calls of dracd"
	comm -23 "$WORK/used" "$WORK/allowed"
}

say "start: ${setpriv[*]} -- ${exec[*]} (under strace -f)"
start_daemon trace
cli add "$ADDR" || die "drac-cli add $ADDR failed"
cli check "$ADDR" || die "drac-cli check $ADDR: not granted"
cli --tcp check "$ADDR" || die "drac-cli --tcp check $ADDR: not granted"
cli list | grep -q "$ADDR" || die "drac-cli list does not show $ADDR"
[ "$(stat -c %U /var/lib/drac/dracd.db)" = drac ] ||
    die "the map is not drac's"
say "reload (ExecReload: SIGHUP)"
kill -HUP "$PID"
deadline=$((SECONDS + 10))
until grep -q 'reloaded /etc/drac/dracd.conf' "$WORK/dracd.log"; do
	kill -0 "$PID" 2>/dev/null || die "dracd died on SIGHUP"
	[ $SECONDS -lt $deadline ] || die "no reload within 10 s of SIGHUP: \
$(tail -3 "$WORK/dracd.log")"
	sleep 0.1
done
cli check "$ADDR" || die "after SIGHUP, $ADDR is no longer granted"
say "restart"
stop_daemon
outside=$(syscalls_outside)
[ -z "$outside" ] || die "dracd made system calls the unit's \
SystemCallFilter= refuses: $outside"
say "its $(wc -l <"$WORK/used") system calls are all in the unit's \
SystemCallFilter="
start_daemon
cli check "$ADDR" || die "after a restart, $ADDR is no longer granted"
cli add 192.0.2.8 || die "drac-cli add after a restart failed"
stop_daemon
say "restart: $ADDR kept"

# ---- installing again (as an upgrade does) keeps the admin's edits
# to the conffiles and the list
echo "198.51.100.0/24 check" >>/etc/drac/dracd.allow
say "dpkg -i dracd again"
dpkg_run -i "$WORK"/dracd_*.deb
grep -qx "198.51.100.0/24 check" /etc/drac/dracd.allow ||
    die "reinstalling dracd lost an edit to /etc/drac/dracd.allow"
start_daemon
cli check "$ADDR" || die "after reinstalling, $ADDR is no longer granted"
stop_daemon

# ---- the unit's hardening score
score=$(systemd-analyze security --offline=true "$UNIT" 2>&1 |
    sed -n 's/.*Overall exposure level for dracd.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || die "systemd-analyze security gave no score"
awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }' ||
    die "systemd-analyze security scores dracd.service $score (> $MAX_EXPOSURE)"
say "systemd-analyze security: dracd.service $score"

# ---- purge: nothing of ours is left
say "dpkg --purge $PKGS"
dpkg_run --purge $PKGS
for f in /etc/drac /var/lib/drac /usr/sbin/dracd /usr/bin/drac-cli \
    /usr/sbin/drac-logwatch "$UNIT" /lib/systemd/system/drac-logwatch.service \
    /usr/lib/dovecot/modules/lib95_drac_plugin.so /usr/sbin/drac-milter \
    /usr/lib/tmpfiles.d/dracd.conf /usr/include/drac.h \
    /etc/systemd/system/multi-user.target.wants/dracd.service \
    /usr/lib/"$(dpkg-architecture -qDEB_HOST_MULTIARCH)"/libdrac.so.1; do
	[ ! -e "$f" ] && [ ! -L "$f" ] || die "$f is left after the purge"
done
say "ok"
