#!/bin/bash
# adapters/bench.sh - how fast the adapters replicate person creates (make bench-adapters).
#
# A benchmark, not a test: it prints figures and exits 0 unless something could not start.
# Everything runs on 127.0.0.1 in a temporary directory (removed on exit; a trap stops every
# process started here): MariaDB, Redis, both SaaS sandboxes with BENCH_LATENCY_MS (default
# 50) added to every call, the API (rolodex-api --listen --workers 4 behind lighttpd), the
# relay, and BENCH_INSTANCES (default 2) instances of each adapter.
#
#   1. capacity: with the adapters stopped, BENCH_N (default 20000) persons are created
#      through the API (ab, 16 connections) and published by the relay; then the adapters
#      start and the time until every Contact / contact exists in each sandbox gives the
#      creates per second replicated into each system.
#   2. latency: with everything running, ab creates persons for BENCH_SECONDS (default 20)
#      at the rate the API sustains; for each person the time from the API commit (the
#      event's time, the outbox row's created_at) to the external record (the time the
#      adapter posted the identifier the system assigned, right after the write returned)
#      gives p50 / p90 / p99 / max per system.
#
# Environment: top_srcdir, top_builddir (from make); BENCH_N, BENCH_SECONDS,
# BENCH_LATENCY_MS, BENCH_INSTANCES, BENCH_BATCH (adapter batch, default 200),
# RLX_BENCH_KEEP=1 keeps the directory.

set -u

here=$(cd "$(dirname "$0")" && pwd -P)
top_srcdir=${top_srcdir:-$(cd "$here/.." && pwd -P)}
top_builddir=${top_builddir:-$PWD}
API_BIN=$top_builddir/src/rolodex-api
CTL_BIN=$top_builddir/src/rolodexctl
RELAY_BIN=$top_builddir/relay/rolodex-relay
SF_BIN=$top_builddir/adapters/rolodex-adapter-salesforce
DV_BIN=$top_builddir/adapters/rolodex-adapter-d365
N=${BENCH_N:-20000}
SECS=${BENCH_SECONDS:-20}
LAT=${BENCH_LATENCY_MS:-50}
INST=${BENCH_INSTANCES:-2}
BATCH=${BENCH_BATCH:-200}

die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }
for b in "$API_BIN" "$CTL_BIN" "$RELAY_BIN" "$SF_BIN" "$DV_BIN"; do
	[ -x "$b" ] || die "$b not built (make first)"
done
command -v ab >/dev/null || die "ab not installed (apt-get install apache2-utils)"

. "$top_srcdir/tests/integ/services.sh"
. "$top_srcdir/tests/sandbox/sandbox.sh"

T=$(mktemp -d /tmp/rlx-bench.XXXXXX) || exit 1
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	SVC_STOP_TIMEOUT=15 svc_stop_all "$T" >/dev/null 2>&1
	if [ "${RLX_BENCH_KEEP:-0}" = 1 ]; then
		printf 'bench.sh: kept %s\n' "$T" >&2
	else
		rm -rf -- "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T0=$SECONDS
log() { printf '[%3ds] %s\n' $(( SECONDS - T0 )) "$*" >&2; }

log "servers in $T (sandbox latency ${LAT} ms, $INST instances of each adapter)"
DBPORT=$(svc_free_port "$T") && svc_mariadb_init "$T" >/dev/null &&
	svc_mariadb_start "$T" "$DBPORT" && svc_mariadb_bootstrap "$T" rolodex app apppass mig migpass ||
	die "MariaDB failed"
RPORT=$(svc_free_port "$T") && svc_redis_start "$T" "$RPORT" || die "Redis failed"
SBX_SF_ARGS="--latency-ms $LAT" SBX_DV_ARGS="--latency-ms $LAT" sbx_start "$T" >/dev/null ||
	die "sandboxes failed"

CONF=$T/rolodex.conf
{
	cat <<EOF
[database]
host = 127.0.0.1
port = $DBPORT
user = app
password = apppass
migrate_user = mig
migrate_password = migpass
[auth]
sandbox = yes
hs256_secret = $(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
[api]
openapi_file = $top_srcdir/docs/openapi.json
explorer_file = $top_srcdir/docs/api-explorer.html
[migrate]
sql_dir = $top_srcdir/sql
[redis]
port = $RPORT
[relay]
idle_ms = 10
batch = 1000
EOF
	sbx_conf "$T" | sed -e "/^\[adapter\]/a\\
batch = $BATCH\\
block_ms = 200"
} >"$CONF"
ctl() { "$CTL_BIN" -f "$CONF" "$@"; }
ctl migrate >/dev/null 2>&1 || die "migrate failed"
TOKEN=$(ctl token --sub bench --role writer --ttl 7200) || die "token failed"

svc_proc_start "$T" api "$API_BIN" -f "$CONF" --listen "unix:$T/api.sock" --workers 4 ||
	die "API failed"
end=$(( SECONDS + 30 ))
until [ -S "$T/api.sock" ]; do
	[ "$SECONDS" -lt "$end" ] || die "API socket missing"
	sleep 0.1
done
P_API=$(svc_free_port "$T")
svc_lighttpd_start "$T" "$P_API" socket - - "unix:$T/api.sock" >/dev/null || die "lighttpd failed"
URL=http://127.0.0.1:$P_API
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ]; do sleep 0.1; done
svc_proc_start "$T" relay "$RELAY_BIN" -f "$CONF" || die "relay failed"

printf '{"first_name":"Bench","last_name":"Mark","email":"bench@example.com",'\
'"phone_primary":"+441130000000","date_of_birth":"1980-02-03","addresses":[{'\
'"address_type":"work","address_line_1":"1 Main St","city":"Leeds","country":"GB",'\
'"is_primary":true}]}' >"$T/person.json"

start_adapters() {
	local i
	for i in $(seq 1 "$INST"); do
		svc_proc_start "$T" "sf-$i" "$SF_BIN" -f "$CONF" -c "sf-$i" || die "adapter failed"
		svc_proc_start "$T" "dv-$i" "$DV_BIN" -f "$CONF" -c "dv-$i" || die "adapter failed"
	done
}

# ab_run ARGS...: POST person.json; prints "requests/s failed"
ab_run() {
	ab -q -k -c 16 -p "$T/person.json" -T application/json \
		-H "Authorization: Bearer $TOKEN" "$@" "$URL/persons" >"$T/ab.out" 2>&1
	awk '/Requests per second/ {r=$4} /Failed requests/ {f=$3} /Non-2xx responses/ {n=$3}
		END {printf "%s %d\n", r, f + n}' "$T/ab.out"
}

# wait_stream COUNT: until the stream holds COUNT entries (bounded)
wait_stream() {
	local end=$(( SECONDS + 300 ))
	until [ "$(redis-cli -p "$RPORT" XLEN rolodex:events)" -ge "$1" ]; do
		[ "$SECONDS" -lt "$end" ] || die "the relay did not publish $1 events"
		sleep 0.2
	done
}

# ---------------------------------------------------------------------------------------------
log "capacity: $N creates through the API with the adapters stopped"
read -r rate fails < <(ab_run -n "$N")
[ "$fails" = 0 ] || die "ab: $fails failed creates"
wait_stream "$N"
log "API: $rate creates/s; relay published $N events; starting the adapters"

python3 - "$T" "$N" <<'PY' &
import json, sys, time, urllib.request
T, n = sys.argv[1], int(sys.argv[2])
def port(name):
    return open("%s/sandbox/%s.port" % (T, name)).read().strip()
urls = {"salesforce": ("http://127.0.0.1:%s/__sandbox/stats" % port("salesforce"), "Contact"),
        "d365": ("http://127.0.0.1:%s/__sandbox/stats" % port("dataverse"), "contacts")}
t0 = time.time()
first, done = {}, {}
while len(done) < 2 and time.time() - t0 < 600:
    for sys_, (u, obj) in urls.items():
        if sys_ in done:
            continue
        c = json.load(urllib.request.urlopen(u))["objects"].get(obj, 0)
        if c > 0 and sys_ not in first:
            first[sys_] = time.time()
        if c >= n:
            done[sys_] = time.time()
    time.sleep(0.05)
with open(T + "/capacity.json", "w") as f:
    json.dump({"t0": t0, "first": first, "done": done}, f)
PY
WATCH=$!
sleep 0.2
start_adapters
wait "$WATCH"

# ---------------------------------------------------------------------------------------------
log "latency: creates through the API for $SECS s with everything running"
before=$(redis-cli -p "$RPORT" XLEN rolodex:events)
read -r rate2 fails2 < <(ab_run -t "$SECS" -n 10000000)
after=$(redis-cli -p "$RPORT" XLEN rolodex:events)
made=$(( after - before ))
log "API: $rate2 creates/s ($made created, $fails2 failed); waiting for the identifiers"
end=$(( SECONDS + 300 ))
want=$(( (N + made) * 2 ))
until [ "$(redis-cli -p "$RPORT" XLEN rolodex:feedback)" -ge "$want" ]; do
	[ "$SECONDS" -lt "$end" ] || { log "not every identifier came back"; break; }
	sleep 0.5
done

python3 - "$T" "$RPORT" "$N" "$rate" "$rate2" "$made" "$LAT" "$INST" "$BATCH" <<'PY'
import datetime, json, subprocess, sys
T, rport, n, rate1, rate2, made, lat, inst, batch = sys.argv[1:10]
n, made = int(n), int(made)

def xrange(key):
    out = subprocess.run(["redis-cli", "-p", rport, "--json", "XRANGE", key, "-", "+"],
                         capture_output=True, text=True).stdout
    for eid, kv in json.loads(out or "[]"):
        yield eid, dict(zip(kv[0::2], kv[1::2]))

def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()

events = list(xrange("rolodex:events"))
commit = {f["subject"]: ts(f["time"]) for _, f in events[n:]}   # the latency phase
back = {}
for _, f in xrange("rolodex:feedback"):
    d = json.loads(f["data"])
    back[(f["subject"], d["system_name"])] = ts(f["time"])

cap = json.load(open(T + "/capacity.json"))
print()
print("adapters benchmark: sandbox latency %s ms per call, %s instances of each "
      "adapter, batch %s, 2 CPUs" % (lat, inst, batch))
print("capacity (%d creates queued, then the adapters started):" % n)
for s in ("salesforce", "d365"):
    if s in cap["done"]:
        secs = cap["done"][s] - cap["t0"]
        print("  %-10s %8.0f creates/s  (%d records in %.1f s)" % (s, n / secs, n, secs))
    else:
        print("  %-10s did not finish" % s)
print("API alone: %s creates/s in the capacity run, %s in the latency run" % (rate1, rate2))
print("latency, API commit -> external record (%d creates at %s/s):" % (made, rate2))
for s in ("salesforce", "d365"):
    lats = sorted(back[(p, s)] - t for p, t in commit.items() if (p, s) in back)
    if not lats:
        print("  %-10s no data" % s)
        continue
    q = lambda x: lats[min(len(lats) - 1, int(x * len(lats)))] * 1000
    print("  %-10s p50 %6.0f ms  p90 %6.0f ms  p99 %6.0f ms  max %6.0f ms  (%d of %d)"
          % (s, q(0.50), q(0.90), q(0.99), lats[-1] * 1000, len(lats), len(commit)))
PY
