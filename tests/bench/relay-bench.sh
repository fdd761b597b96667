#!/bin/bash
# tests/bench/relay-bench.sh - figures for rolodex-relay (make bench-relay).
#
# Prints, it does not judge: this is a benchmark, not a test.  On 127.0.0.1 in a temporary
# directory (removed on exit; every server stopped by a trap) it starts MariaDB and Redis
# (tests/integ/services.sh: AOF everysec, noeviction), applies the migrations and measures
#
#   1. commit-to-stream latency at BENCH_RATE writes/s (default 1000) for BENCH_WRITES writes
#      (default 30000): writes in the API's shape (lock the party, bump its version, outbox row,
#      commit; tests/integ/relay-load) while one relay runs with the default [relay] settings.
#      Latency of an event = the millisecond of its stream id (when Redis appended it) minus
#      its "time" (outbox.created_at, taken at INSERT, before the COMMIT): so it includes the
#      rest of the writer's transaction and errs on the high side.  p50, p99, max.
#   2. CPU of the relay while idle: /proc/PID/stat over BENCH_IDLE_S seconds (default 10).
#   3. drain rate: BENCH_BACKLOG rows (default 200000, ~0.6 KB of data each) written while no
#      relay runs, then one relay started; events/s from its start to the last entry, and over
#      the span of stream ids; CPU seconds of relay, MariaDB and Redis meanwhile.
#
# MariaDB runs with the test configuration of services.sh (64 MB buffer pool, fsync at every
# commit), Redis with AOF everysec.  Environment: top_srcdir, top_builddir (make sets them),
# BENCH_* above, RLX_IT_KEEP=1 to keep the directory.  The machine's load average is printed
# before and after: other work on the machine shows in the tail latencies.

set -u

here=$(cd "$(dirname "$0")" && pwd -P)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd -P)}
top_builddir=${top_builddir:-$PWD}
RELAY_BIN=$top_builddir/relay/rolodex-relay
CTL_BIN=$top_builddir/src/rolodexctl
LOAD_BIN=$top_builddir/tests/integ/relay-load
WRITES=${BENCH_WRITES:-30000}
RATE=${BENCH_RATE:-1000}
BACKLOG=${BENCH_BACKLOG:-200000}
IDLE_S=${BENCH_IDLE_S:-10}

for b in "$RELAY_BIN" "$CTL_BIN" "$LOAD_BIN"; do
	[ -x "$b" ] || { echo "relay-bench: $b not built (make check builds relay-load)" >&2; exit 1; }
done

# shellcheck source=../integ/services.sh
. "$top_srcdir/tests/integ/services.sh"

T=$(mktemp -d /tmp/rlx-bench.XXXXXX) || exit 1
RELAYPID=
cleanup() {
	trap - EXIT INT TERM
	[ -n "$RELAYPID" ] && kill -TERM "$RELAYPID" 2>/dev/null && wait "$RELAYPID" 2>/dev/null
	SVC_STOP_TIMEOUT=15 svc_stop_all "$T" >/dev/null 2>&1
	if [ "${RLX_IT_KEEP:-0}" = 1 ]; then echo "kept $T" >&2; else rm -rf -- "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
die() { echo "relay-bench: $*" >&2; exit 1; }

DBPORT=$(svc_free_port "$T") && RPORT=$(svc_free_port "$T") || die "no free port"
svc_mariadb_init "$T" >/dev/null || die "svc_mariadb_init failed"
svc_mariadb_start "$T" "$DBPORT" || die "svc_mariadb_start failed"
svc_mariadb_bootstrap "$T" rolodex app apppass mig migpass || die "bootstrap failed"
svc_redis_start "$T" "$RPORT" || die "svc_redis_start failed"

CONF=$T/rolodex.conf
cat >"$CONF" <<EOF
[database]
host = 127.0.0.1
port = $DBPORT
name = rolodex
user = app
password = apppass
migrate_user = mig
migrate_password = migpass
[redis]
port = $RPORT
[relay]
trim = none
[migrate]
sql_dir = $top_srcdir/sql
EOF
"$CTL_BIN" -f "$CONF" migrate >/dev/null || die "migrate failed"
if [ "$(id -u)" = 0 ]; then dbuser=root; else dbuser=$(id -un); fi
MYSQL_CMD="mariadb --no-defaults --socket=$T/mysql.sock --user=$dbuser rolodex"
rcli() { timeout 10 redis-cli -h 127.0.0.1 -p "$RPORT" "$@"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
start_relay() {
	"$RELAY_BIN" -f "$CONF" >>"$T/relay.log" 2>&1 &
	RELAYPID=$!
}
stop_relay() {
	kill -TERM "$RELAYPID" && wait "$RELAYPID"
	RELAYPID=
}

echo "relay benchmark: $(nproc) CPUs, $(mariadbd --version | awk '{print $3}'),"\
	"redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), AOF everysec;"\
	"load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. latency at RATE writes/s
start_relay
sleep 1
"$LOAD_BIN" -f "$CONF" -n "$WRITES" -r "$RATE" -c 4 -p 1000 >"$T/load.out" || die "relay-load failed"
c0=$(ticks "$RELAYPID")
sleep 3
python3 "$top_srcdir/tests/integ/relay_check.py" --redis-port "$RPORT" --mysql "$MYSQL_CMD" \
	--wait 60 --latency --label latency >"$T/check.out" || { cat "$T/check.out"; die "check failed"; }
python3 - "$T/check.out" "$RATE" <<'PY'
import ast, re, sys
line = open(sys.argv[1]).read().strip().splitlines()[-1]
lat = ast.literal_eval(re.search(r"latency=(\{.*\})", line).group(1))
print("commit-to-stream at %s writes/s: %d events, p50 %.1f ms, p99 %.1f ms, max %.1f ms"
      % (sys.argv[2], lat["n"], lat["p50_ms"], lat["p99_ms"], lat["max_ms"]))
PY
echo "  (writes: $(tail -n 1 "$T/load.out"))"

# 2. idle CPU
sleep 2
c0=$(ticks "$RELAYPID")
sleep "$IDLE_S"
c1=$(ticks "$RELAYPID")
awk -v t=$(( c1 - c0 )) -v hz="$hz" -v s="$IDLE_S" 'BEGIN {
	printf "idle CPU of the relay (idle_ms 1000): %d ticks of 1/%d s in %d s = %s%.2f %% of one CPU\n",
	    t, hz, s, t == 0 ? "< " : "", 100 * (t == 0 ? 1 : t) / hz / s }'
stop_relay

# 3. drain a backlog (from a clean slate: no earlier batch to re-check)
svc_mysql "$T" rolodex -e "DELETE FROM outbox_queue; DELETE FROM outbox; DELETE FROM relay_batch;
	DELETE FROM relay_stream; DELETE FROM relay_node" || die "cannot reset"
rcli FLUSHALL >/dev/null
"$LOAD_BIN" -f "$CONF" -B "$BACKLOG" -s 300 >"$T/backlog.out" || die "backlog failed"
sleep 5		# let InnoDB settle (purge, flushing) before timing
dbpid=$(svc_running "$T" mariadb) rdpid=$(svc_running "$T" redis)
d0=$(ticks "$dbpid") r0=$(ticks "$rdpid")
t0=$(date +%s%N)
start_relay
while [ "$(rcli XLEN rolodex:events)" -lt "$BACKLOG" ]; do sleep 0.05; done
t1=$(date +%s%N)
first=$(rcli XRANGE rolodex:events - + COUNT 1 | head -n 1)
last=$(rcli XREVRANGE rolodex:events + - COUNT 1 | head -n 1)
rc=$(ticks "$RELAYPID") d1=$(ticks "$dbpid") r1=$(ticks "$rdpid")
awk -v n="$BACKLOG" -v ns=$(( t1 - t0 )) -v span=$(( ${last%-*} - ${first%-*} )) \
	-v rc="$rc" -v dc=$(( d1 - d0 )) -v qc=$(( r1 - r0 )) -v hz="$hz" 'BEGIN {
	printf "drain of %d rows: %.2f s from start = %.0f events/s; stream span %.2f s = %.0f events/s\n",
	    n, ns / 1e9, n / (ns / 1e9), span / 1e3, n / (span / 1e3)
	printf "  CPU meanwhile: relay %.2f s, MariaDB %.2f s, Redis %.2f s\n",
	    rc / hz, dc / hz, qc / hz }'
stop_relay
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
