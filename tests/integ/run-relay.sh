#!/bin/bash
# tests/integ/run-relay.sh - rolodex-relay against real MariaDB, Redis and the API.
#
# The automake TESTS entry for the relay (exit 0 pass, 1 fail, 77 skip when a program it needs
# is missing).  Everything runs on 127.0.0.1 inside one temporary directory, removed on exit; a
# trap stops every server and relay started here, also on failure, Ctrl-C or SIGTERM.
#
# Every scenario starts from an empty outbox and an empty Redis, and ends with
# tests/integ/relay_check.py, an independent consumer that reads the whole stream and every
# outbox row: no committed row missing, nothing from a rolled-back transaction, per subject
# versions strictly increasing once repeated ids are dropped, fields as the contract says.
#
#   basics      through the API (lighttpd + rolodex-api): every kind of event, traceparent,
#               data = the resource; -n; feedback stored once, no version bump, no event,
#               conflicts and garbage dropped; outbox status; resync; SIGHUP; SIGTERM
#   partitions  [redis] partitions = 4: each entry in its owner's stream, relationship
#               deletions next to their creations
#   trim        maxlen (approximate) and minid (age, and never past a consumer group)
#   retention   retention 0 purges published rows, keeps unpublished ones
#   dedupe      failpoint: relay killed between EXEC and the mark, restarted: no duplicate
#   kills       SIGKILL at 3 random moments during 10,000 writes that commit out of id order,
#               with rollbacks and long transactions
#   redis-down  Redis stopped for 10 s while the API takes writes (all must succeed)
#   redis-loss  Redis restarted from a truncated AOF (acknowledged entries lost): the relay
#               notices and publishes them again
#   db-restart  MariaDB restarted during 10,000 writes
#   multi       two, then three relays during 10,000 writes; the leader SIGKILLed, then
#               SIGSTOPped past the lease (a standby kills its connection and takes over)
#
# RELAY_FULL=1 (make check-faults) runs the long form: 30,000 writes per load, 10 kills, a
# MariaDB crash (SIGKILL) besides the clean restart, Redis total loss (FLUSHALL).
# VALGRIND=1 runs the basics and dedupe scenarios with the relay under valgrind.
# RLX_IT_KEEP=1 keeps the temporary directory; RELAY_ONLY="kills multi" runs only those
# scenarios (debugging).  The last line is "N passed, M failed".

set -u

here=$(cd "$(dirname "$0")" && pwd -P)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd -P)}
if [ -z "${top_builddir:-}" ]; then
	top_builddir=$(cd "$here/../.." && pwd -P)
	if [ ! -x "$top_builddir/relay/rolodex-relay" ] && [ -x "$PWD/relay/rolodex-relay" ]; then
		top_builddir=$PWD
	fi
fi
top_srcdir=$(cd "$top_srcdir" && pwd -P)
top_builddir=$(cd "$top_builddir" && pwd -P)

RELAY_BIN=$top_builddir/relay/rolodex-relay
CTL_BIN=$top_builddir/src/rolodexctl
API_BIN=$top_builddir/src/rolodex-api
LOAD_BIN=$top_builddir/tests/integ/relay-load
FULL=${RELAY_FULL:-0}

skip() {
	printf 'SKIP: %s\n' "$*"
	exit 77
}
for b in "$RELAY_BIN" "$CTL_BIN" "$API_BIN" "$LOAD_BIN"; do
	[ -x "$b" ] || skip "$b not built"
done
for prog in mariadbd mariadb-install-db mariadb redis-server redis-cli lighttpd python3 curl; do
	command -v "$prog" >/dev/null 2>&1 || [ -x "/usr/sbin/$prog" ] || skip "$prog not installed"
done
if [ "${VALGRIND:-0}" = 1 ] && ! command -v valgrind >/dev/null 2>&1; then
	skip "VALGRIND=1 but valgrind is not installed"
fi

# shellcheck source=services.sh
. "$here/services.sh"

T=$(mktemp -d /tmp/rlx-relay.XXXXXX) || exit 1
PASS=0
FAIL=0
BGPIDS=

cleanup() {
	local rc=$? p
	trap - EXIT INT TERM HUP
	for p in $BGPIDS; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $BGPIDS; do
		wait "$p" 2>/dev/null
	done
	SVC_STOP_TIMEOUT=15 svc_stop_all "$T" >/dev/null 2>&1 ||
		printf 'run-relay.sh: could not stop everything in %s\n' "$T" >&2
	if [ "${RLX_IT_KEEP:-0}" = 1 ]; then
		printf 'run-relay.sh: kept %s\n' "$T" >&2
	else
		rm -rf -- "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

die() {
	printf 'run-relay.sh: %s\n' "$*" >&2
	printf '%d passed, %d failed\n' "$PASS" "$(( FAIL + 1 ))"
	exit 1
}

T0=$SECONDS
log() { printf '[%3ds] %s\n' $(( SECONDS - T0 )) "$*"; }
pass() { PASS=$(( PASS + 1 )); printf 'PASS: %s\n' "$*"; }
fail() { FAIL=$(( FAIL + 1 )); printf 'FAIL: %s\n' "$*"; }
# ok NAME CMD...: pass if CMD succeeds
ok() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

# wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds; 1 on timeout
wait_for() {
	local end=$(( SECONDS + $1 ))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}

# ---------------------------------------------------------------------------------------------
# servers

log "starting MariaDB and Redis in $T"
DBPORT=$(svc_free_port "$T") || die "no free port"
RPORT=$(svc_free_port "$T") || die "no free port"
svc_mariadb_init "$T" || die "svc_mariadb_init failed"
svc_mariadb_start "$T" "$DBPORT" || die "svc_mariadb_start failed"
svc_mariadb_bootstrap "$T" rolodex app apppass mig migpass || die "svc_mariadb_bootstrap failed"
svc_redis_start "$T" "$RPORT" || die "svc_redis_start failed"

CONF=$T/rolodex.conf
cat >"$CONF" <<EOF
# generated by tests/integ/run-relay.sh
[database]
host = 127.0.0.1
port = $DBPORT
name = rolodex
user = app
password = apppass
migrate_user = mig
migrate_password = migpass
connect_timeout = 2
rw_timeout = 10

[auth]
sandbox = yes

[api]
openapi_file = $top_srcdir/docs/openapi.json
explorer_file = $top_srcdir/docs/api-explorer.html

[events]
source = rolodex-it

[redis]
port = $RPORT
timeout_ms = 2000

[relay]
idle_ms = 50
lease = 3
trim = none

[migrate]
sql_dir = $top_srcdir/sql
EOF

ctl() { "$CTL_BIN" -f "$CONF" "$@"; }
ctl migrate >"$T/migrate.log" 2>&1 || { cat "$T/migrate.log" >&2; die "rolodexctl migrate failed"; }

if [ "$(id -u)" = 0 ]; then dbuser=root; else dbuser=$(id -un); fi
MYSQL_CMD="mariadb --no-defaults --socket=$T/mysql.sock --user=$dbuser rolodex"
sql() { $MYSQL_CMD -N -B -e "$1"; }
rcli() { timeout 10 redis-cli -h 127.0.0.1 -p "$RPORT" "$@"; }

TOKEN=$(ctl token --sub relay-test --role writer) || die "rolodexctl token failed"
APIPORT=$(svc_free_port "$T") || die "no free port"
svc_lighttpd_start "$T" "$APIPORT" spawn "$API_BIN" "$CONF" || die "lighttpd (spawn) failed"
BASE=http://127.0.0.1:$APIPORT
api_up() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/healthz")" = 200 ]; }
wait_for 30 api_up || die "the API does not answer /healthz"

# ---------------------------------------------------------------------------------------------
# relays and checks

mkdir -p "$T/vg"
# start_relay NAME [VAR=VALUE...]: a relay tracked as proc-NAME, log in $T/proc-NAME.log
start_relay() {
	local name=$1
	shift
	if [ "${VALGRIND:-0}" = 1 ]; then
		svc_proc_start "$T" "$name" env "$@" valgrind --leak-check=full \
			--errors-for-leak-kinds=definite --show-leak-kinds=definite \
			--log-file="$T/vg/$name.%p.log" "$RELAY_BIN" -f "$CONF" -v
	else
		svc_proc_start "$T" "$name" env "$@" "$RELAY_BIN" -f "$CONF" -v
	fi
}
relay_pid() { svc_proc_pid "$T" "$1"; }
stop_relay() { SVC_STOP_TIMEOUT=${2:-10} svc_proc_stop "$T" "$1" "${3:-TERM}"; }
stop_relays() {
	local f
	for f in "$T"/.svc/proc-relay*; do
		[ -e "$f" ] || continue
		f=${f##*/}
		kill -CONT "$(svc_proc_pid "$T" "${f#proc-}" 2>/dev/null)" 2>/dev/null
		stop_relay "${f#proc-}"
	done
}
# the relay name (host:pid) holding the lock, per relay_node; empty if none
leader() { sql "SELECT name FROM relay_node WHERE role = 'leader' AND conn_id = IS_USED_LOCK(CONCAT(DATABASE(), ':rolodex-relay'))"; }
has_leader() { [ -n "$(leader)" ]; }
unpublished() { sql "SELECT COUNT(*) FROM outbox_queue"; }
drained() { [ "$(unpublished)" = 0 ]; }
xlen() { rcli XLEN "${1:-rolodex:events}"; }

# reset: no relay, empty outbox and relay tables, empty Redis
reset_state() {
	stop_relays
	svc_mysql "$T" rolodex -e "DELETE FROM outbox_queue; DELETE FROM outbox; DELETE FROM relay_batch; DELETE FROM relay_stream; DELETE FROM relay_node" ||
		die "cannot reset the outbox"
	rcli FLUSHALL >/dev/null || die "cannot flush Redis"
}

# check LABEL [relay_check.py args]: the independent consumer; waits up to 90 s for the stream
check() {
	local label=$1 out
	shift
	out=$(timeout 150 python3 "$here/relay_check.py" --redis-port "$RPORT" --mysql "$MYSQL_CMD" \
		--source rolodex-it --wait 90 --label "$label" "$@" 2>&1)
	printf '%s\n' "$out" | tail -n 12 | sed 's/^/  | /'
	case $(printf '%s\n' "$out" | tail -n 1) in
	"$label: ok "*) pass "check $label: stream and outbox agree" ;;
	*) fail "check $label" ;;
	esac
}

# load ARGS...: relay-load in the foreground (bounded), its summary line in $T/load.out
load() {
	timeout 300 "$LOAD_BIN" -f "$CONF" "$@" >"$T/load.out" 2>"$T/load.err"
	local rc=$?
	log "load: $(tail -n 1 "$T/load.out") (exit $rc)"
	return $rc
}
# load_bg ARGS...: the same in the background; LOADPID
load_bg() {
	timeout 300 "$LOAD_BIN" -f "$CONF" "$@" >"$T/load.out" 2>"$T/load.err" &
	LOADPID=$!
	BGPIDS="$BGPIDS $LOADPID"
}
load_wait() {
	wait "$LOADPID"
	local rc=$?
	log "load: $(tail -n 1 "$T/load.out") (exit $rc)"
	[ "$rc" = 0 ] || fail "relay-load exited $rc: $(tail -n 3 "$T/load.err")"
}
# api_load ARGS...: writes through the API; exit status 0 iff every write got its 2xx
api_load() {
	timeout 300 python3 "$here/relay_api_load.py" --base "$BASE" --token "$TOKEN" "$@"
}
# sleep_ms MS
sleep_ms() { sleep "$(printf '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 )))"; }

if [ "$FULL" = 1 ]; then
	NWRITES=30000 NKILLS=10
else
	NWRITES=10000 NKILLS=3
fi

# ---------------------------------------------------------------------------------------------
# basics

scenario_basics() {
	local out p1 p2 v1 n0 n1 s0 ev gone rc t1

	log "basics"
	out=$("$RELAY_BIN" -n -f "$CONF" 2>&1)
	ok "rolodex-relay -n says configuration OK" [ "$out" = "configuration OK" ]
	printf '[relay]\nbogus = 1\n' >"$T/bad.conf"
	ok "rolodex-relay -n refuses an unknown key" \
		sh -c "! '$RELAY_BIN' -n -f '$T/bad.conf' 2>/dev/null"

	reset_state
	start_relay relay1
	wait_for 20 has_leader || fail "no relay became leader"
	api_load --writes 400 --rate 400 --threads 4 --every-kind >"$T/api.out" 2>&1
	rc=$?
	ok "API writes succeed ($(tail -n 1 "$T/api.out"))" [ "$rc" = 0 ]
	check basics --max-dups 0 --min-committed 300
	ok "all nine kinds of event were published" [ "$(sql "SELECT COUNT(DISTINCT event_type) FROM outbox")" = 9 ]
	ok "traceparent travelled" [ "$(sql "SELECT COUNT(*) FROM outbox WHERE traceparent IS NOT NULL")" -gt 0 ]

	# feedback: an identifier assigned by an adapter lands on the party, once, silently
	p1=$(sql "SELECT LOWER(HEX(party_id)) FROM party WHERE party_type = 'person' ORDER BY party_id LIMIT 1")
	p2=$(sql "SELECT LOWER(HEX(party_id)) FROM party WHERE party_type = 'person' ORDER BY party_id DESC LIMIT 1")
	[ -n "$p1" ] && [ -n "$p2" ] && [ "$p1" != "$p2" ] || die "no persons to test feedback with"
	uu() { printf '%s-%s-%s-%s-%s' "${1:0:8}" "${1:8:4}" "${1:12:4}" "${1:16:4}" "${1:20:12}"; }
	v1=$(sql "SELECT version FROM party WHERE party_id = UNHEX('$p1')")
	n0=$(sql "SELECT COUNT(*) FROM outbox")
	s0=$(xlen)
	feedback() { # PARTY DATA
		rcli XADD rolodex:feedback '*' id "$(python3 -c 'import uuid; print(uuid.uuid4())')" \
			type ExternalIdentifierAssigned source rolodex-adapter-salesforce specversion 1.0 \
			subject "$1" time "$(date -u +%Y-%m-%dT%H:%M:%SZ)" datacontenttype application/json \
			data "$2" >/dev/null
	}
	extid() { sql "SELECT CONCAT(identifier, IF(last_synced IS NULL, ' unsynced', ' synced')) FROM external_identifier WHERE party_id = UNHEX('$1') AND system_name = '$2'"; }
	fb_pending() { rcli XINFO GROUPS rolodex:feedback | awk 'f { print; exit } /^pending$/ { f = 1 }'; }
	feedback "$(uu "$p1")" '{"system_name":"salesforce","identifier":"003RELAY0001"}'
	stored() { [ "$(extid "$p1" salesforce)" = "003RELAY0001 synced" ]; }
	ok "feedback stored with last_synced" wait_for 10 stored
	t1=$(sql "SELECT last_synced FROM external_identifier WHERE party_id = UNHEX('$p1') AND system_name = 'salesforce'")
	sleep 0.1
	feedback "$(uu "$p1")" '{"system_name":"salesforce","identifier":"003RELAY0001"}'
	resynced() { [ "$(sql "SELECT last_synced > '$t1' FROM external_identifier WHERE party_id = UNHEX('$p1') AND system_name = 'salesforce'")" = 1 ]; }
	ok "the same feedback again refreshes last_synced" wait_for 10 resynced
	feedback "$(uu "$p2")" '{"system_name":"salesforce","identifier":"003RELAY0001"}'
	feedback "$(uu "$p2")" 'not json'
	feedback "01234567-89ab-7def-8123-456789abcdef" '{"system_name":"d365","identifier":"x"}'
	feedback "$(uu "$p2")" '{"system_name":"d365","identifier":"11111111-2222-3333-4444-555555555555"}'
	d365() { [ "$(extid "$p2" d365)" = "11111111-2222-3333-4444-555555555555 synced" ]; }
	ok "a later good feedback is stored" wait_for 10 d365
	ok "feedback: one row per (party, system), the conflict dropped" \
		[ "$(sql "SELECT COUNT(*) FROM external_identifier WHERE identifier = '003RELAY0001'")" = 1 ]
	ok "feedback: no party version bumped" [ "$(sql "SELECT version FROM party WHERE party_id = UNHEX('$p1')")" = "$v1" ]
	n1=$(sql "SELECT COUNT(*) FROM outbox")
	ok "feedback: no outbox row ($n0 -> $n1), no event" \
		[ "$n1.$(xlen)" = "$n0.$s0" ]
	ok "feedback: every entry acknowledged" [ "$(fb_pending)" = 0 ]
	ok "feedback: the bad entries were logged" \
		[ "$(grep -c 'dropped' "$T/proc-relay1.log")" -ge 3 ]

	out=$(ctl outbox status 2>&1)
	printf '%s\n' "$out" | sed 's/^/  | /'
	ok "outbox status: nothing unpublished, one leader owning the stream, the stream" \
		sh -c "printf '%s' '$out' | grep -q '^unpublished: 0$' &&
			printf '%s' '$out' | grep -q 'leader (owns every stream)' &&
			printf '%s' '$out' | grep -q 'rolodex:events: newest entry'"

	# resync: the current state of every party and relationship again
	n0=$(sql "SELECT COUNT(*) FROM party")
	n1=$(sql "SELECT COUNT(*) FROM relationship")
	s0=$(xlen)
	out=$(ctl resync 2>&1)
	ok "resync queued every party and relationship ($out)" \
		[ "$out" = "resync: $n0 parties and $n1 relationships queued for publication" ]
	resynced_all() { [ "$(xlen)" -ge $(( s0 + n0 + n1 )) ]; }
	ok "resync events reached the stream" wait_for 20 resynced_all
	check basics-after-resync --max-dups 0 --allow-equal

	# SIGHUP reopens the log file
	stop_relay relay1
	start_relay relay1 ROLODEX_LOG_FILE="$T/hup.log"
	wait_for 20 has_leader || fail "no leader after restart"
	mv "$T/hup.log" "$T/hup.log.1"
	kill -HUP "$(relay_pid relay1)"
	reopened() { grep -q 'log reopened' "$T/hup.log" 2>/dev/null; }
	ok "SIGHUP reopens the log file" wait_for 10 reopened

	# SIGTERM: prompt clean exit, lock and relay_node row released
	ev=$SECONDS
	stop_relay relay1 8
	gone=$(( SECONDS - ev ))
	ok "SIGTERM: stopped in ${gone}s, said so" \
		sh -c "[ $gone -le 5 ] && grep -q 'stopped' '$T/hup.log'"
	ok "SIGTERM: relay_node row removed" [ "$(sql "SELECT COUNT(*) FROM relay_node")" = 0 ]
}

# ---------------------------------------------------------------------------------------------
# partitions

scenario_partitions() {
	local rc

	log "partitions"
	reset_state
	start_relay relay1 ROLODEX_REDIS_PARTITIONS=4 ROLODEX_REDIS_STREAM=rolodex:part
	wait_for 20 has_leader || fail "no relay became leader"
	api_load --writes 300 --rate 300 >"$T/api.out" 2>&1
	rc=$?
	ok "API writes succeed ($(tail -n 1 "$T/api.out"))" [ "$rc" = 0 ]
	check partitions --partitions 4 --stream rolodex:part --max-dups 0
	ok "partitions: nothing written to the unpartitioned stream" [ "$(xlen)" = 0 ]
	ok "partitions: all four streams used" \
		[ "$(for k in 0 1 2 3; do [ "$(xlen rolodex:part:$k)" -gt 0 ] && echo y; done | wc -l)" = 4 ]
	stop_relay relay1
}

# ---------------------------------------------------------------------------------------------
# trimming and retention

scenario_trim() {
	local n i

	log "trim"
	reset_state
	load -B 3000 || fail "backlog"
	start_relay relay1
	wait_for 30 drained || fail "backlog not drained"
	stop_relay relay1
	start_relay relay1 ROLODEX_RELAY_TRIM=maxlen ROLODEX_RELAY_TRIM_MAXLEN=1000
	trimmed() { n=$(xlen); [ "$n" -le 1100 ]; }
	ok "trim maxlen 1000 (approximate)" wait_for 15 trimmed
	ok "trim maxlen keeps at least 1000 entries ($n)" [ "$n" -ge 1000 ]
	stop_relay relay1

	# minid: ancient entries go, but only once the consumer group has read them
	reset_state
	for i in $(seq 1 150); do printf 'XADD rolodex:trim 1-%d id old%d\n' "$i" "$i"; done |
		rcli >/dev/null
	rcli XGROUP CREATE rolodex:trim slow 0 >/dev/null
	load -B 50 || fail "backlog"
	start_relay relay1 ROLODEX_REDIS_STREAM=rolodex:trim ROLODEX_RELAY_TRIM=minid ROLODEX_RELAY_TRIM_MINID_AGE=60
	wait_for 30 drained || fail "backlog not drained"
	sleep 1
	ok "trim minid never passes a consumer group's position" [ "$(xlen rolodex:trim)" = 200 ]
	stop_relay relay1
	rcli XGROUP SETID rolodex:trim slow '$' >/dev/null
	start_relay relay1 ROLODEX_REDIS_STREAM=rolodex:trim ROLODEX_RELAY_TRIM=minid ROLODEX_RELAY_TRIM_MINID_AGE=60
	minid() { [ "$(xlen rolodex:trim)" = 50 ]; }
	ok "trim minid removes entries older than the age, keeps the new ones" wait_for 15 minid
	stop_relay relay1

	log "retention"
	reset_state
	load -B 2000 || fail "backlog"
	start_relay relay1 ROLODEX_RELAY_RETENTION=0
	wait_for 30 drained || fail "backlog not drained"
	stop_relay relay1
	load -B 100 || fail "backlog"
	start_relay relay1 ROLODEX_RELAY_RETENTION=0 ROLODEX_REDIS_PORT=1
	purged() { [ "$(sql "SELECT COUNT(*) FROM outbox")" = 100 ] && [ "$(sql "SELECT COUNT(*) FROM relay_batch")" = 0 ]; }
	ok "retention 0: published rows purged, the 100 unpublished kept (Redis unreachable)" \
		wait_for 15 purged
	ok "retention: the stream still has the 2000" [ "$(xlen)" = 2000 ]
	stop_relay relay1
}

# ---------------------------------------------------------------------------------------------
# a relay killed between EXEC and the mark

scenario_dedupe() {
	log "dedupe"
	reset_state
	load -B 2500 || fail "backlog"
	start_relay relay1 ROLODEX_FAILPOINT=relay_after_xadd:2
	died() { ! relay_pid relay1 >/dev/null; }
	ok "failpoint: the relay died after its second EXEC" wait_for 30 died
	ok "failpoint: entries reached the stream unmarked" \
		[ "$(xlen)" -gt $(( 2500 - $(unpublished) )) ]
	svc_proc_stop "$T" relay1 KILL
	start_relay relay1
	check dedupe --max-dups 0 --min-committed 2500
	ok "dedupe: the restarted relay found the unmarked entries" \
		grep -q '1000 rows already in the stream' "$T/proc-relay1.log"
	stop_relay relay1
}

# ---------------------------------------------------------------------------------------------
# SIGKILL at random moments during load

scenario_kills() {
	local i at

	log "kills: $NKILLS SIGKILLs during $NWRITES writes"
	reset_state
	start_relay relay1
	load_bg -n "$NWRITES" -r 1000 -c 4 -p 300 -x 3 -d 10 -L 1
	for i in $(seq 1 "$NKILLS"); do
		at=$(( RANDOM % (NWRITES / NKILLS - 200) + 100 ))
		sleep_ms "$at"
		svc_proc_stop "$T" relay1 KILL
		sleep_ms $(( RANDOM % 500 ))
		start_relay relay1
	done
	load_wait
	check kills --min-committed $(( NWRITES / 2 ))
	ok "kills: rolled-back transactions happened" sh -c "grep -q 'rolledback [1-9]' '$T/load.out'"
	stop_relay relay1
}

# ---------------------------------------------------------------------------------------------
# Redis down for 10 s while the API takes writes

scenario_redis_down() {
	local apipid rc u

	log "redis-down: 10 s outage during API writes"
	reset_state
	start_relay relay1
	wait_for 20 has_leader || fail "no relay became leader"
	api_load --writes 2500 --rate 100 --deadline 100 >"$T/api.out" 2>&1 &
	apipid=$!
	BGPIDS="$BGPIDS $apipid"
	sleep 5
	svc_redis_stop "$T" || fail "cannot stop Redis"
	sleep 5
	u=$(unpublished)
	sleep 5
	svc_redis_start "$T" "$RPORT" || die "cannot restart Redis"
	wait "$apipid"
	rc=$?
	log "api: $(tail -n 1 "$T/api.out")"
	ok "redis-down: every API write succeeded while Redis was down" [ "$rc" = 0 ]
	ok "redis-down: the outbox grew meanwhile ($u rows)" [ "$u" -gt 100 ]
	check redis-down --min-committed 2000
	ok "redis-down: the relay logged the outage" grep -q 'redis' "$T/proc-relay1.log"
	stop_relay relay1
}

# ---------------------------------------------------------------------------------------------
# Redis loses acknowledged entries

# aof_cut PERCENT: cut the last PERCENT of the AOF's incremental file (Redis stopped)
aof_cut() {
	local f size
	f=$(ls "$T"/redis/appendonlydir/*.incr.aof 2>/dev/null | tail -n 1)
	[ -n "$f" ] || return 1
	size=$(stat -c %s "$f")
	truncate -s $(( size * (100 - $1) / 100 )) "$f"
}

scenario_redis_loss() {
	local before after

	log "redis-loss: restart from a truncated AOF"
	reset_state
	# a fresh AOF: its incremental file then holds this scenario's writes only
	rcli BGREWRITEAOF >/dev/null
	rewritten() { rcli INFO persistence | grep -q '^aof_rewrite_in_progress:0'; }
	wait_for 20 rewritten || fail "AOF rewrite did not finish"
	start_relay relay1
	load_bg -n 4000 -r 1000 -c 4 -p 300 -d 5
	sleep 2
	# the relay frozen meanwhile, so that the loss can be measured
	kill -STOP "$(relay_pid relay1)"
	svc_redis_stop "$T" || fail "cannot stop Redis"
	before=$(( $(sql "SELECT COUNT(*) FROM outbox") - $(unpublished) ))
	aof_cut 40 || fail "no AOF to cut"
	svc_redis_start "$T" "$RPORT" || die "cannot restart Redis"
	after=$(xlen)
	kill -CONT "$(relay_pid relay1)"
	log "redis-loss: $before rows published before the stop, $after entries after the restart"
	ok "redis-loss: Redis really lost acknowledged entries" [ "$after" -lt "$before" ]
	load_wait
	check redis-loss --max-dups 0
	ok "redis-loss: the relay saw the loss" grep -q 'Redis lost data' "$T/proc-relay1.log"
	if [ "$FULL" = 1 ]; then
		rcli FLUSHALL >/dev/null
		svc_proc_stop "$T" relay1 KILL
		start_relay relay1
		check redis-flushall --max-dups 0
	fi
	stop_relay relay1
}

# ---------------------------------------------------------------------------------------------
# MariaDB restarted mid-load

scenario_db_restart() {
	log "db-restart: MariaDB restarted during $NWRITES writes"
	reset_state
	start_relay relay1
	load_bg -n "$NWRITES" -r 1000 -c 4 -p 300 -x 2 -d 5
	sleep 3
	svc_mariadb_stop "$T" || fail "cannot stop MariaDB"
	svc_mariadb_start "$T" "$DBPORT" || die "cannot restart MariaDB"
	if [ "$FULL" = 1 ]; then
		sleep 3
		svc_mariadb_kill "$T" || fail "cannot kill MariaDB"
		svc_mariadb_start "$T" "$DBPORT" || die "cannot restart MariaDB after SIGKILL"
	fi
	load_wait
	ok "db-restart: some writes failed during the restart" sh -c "grep -Eq 'failed [1-9]|ambiguous [1-9]' '$T/load.out'"
	check db-restart --min-committed $(( NWRITES / 2 ))
	ok "db-restart: the relay lost the lock with the server and took it again" \
		[ "$(grep -c 'leader, publishing' "$T/proc-relay1.log")" -ge 2 ]
	stop_relay relay1
}

# ---------------------------------------------------------------------------------------------
# two, then three relays

leader_proc() { # the NAME (relay1..3) of the leader, from its pid
	local name pid n
	name=$(leader)
	pid=${name##*:}
	for n in relay1 relay2 relay3; do
		[ "$(relay_pid "$n" 2>/dev/null)" = "$pid" ] && { echo "$n"; return 0; }
	done
	return 1
}

scenario_multi() {
	local l l2 n

	log "multi: two, then three relays during $NWRITES writes"
	reset_state
	start_relay relay1
	start_relay relay2
	wait_for 20 has_leader || fail "no relay became leader"
	load_bg -n "$NWRITES" -r 1000 -c 4 -p 300 -x 2 -d 10
	sleep 3
	l=$(leader_proc) || fail "cannot tell the leader"
	log "multi: SIGKILL the leader $l"
	svc_proc_stop "$T" "$l" KILL
	start_relay relay3
	newleader() { l2=$(leader_proc) && [ "$l2" != "$l" ]; }
	ok "multi: a standby took over after SIGKILL" wait_for 10 newleader
	start_relay "$l"
	sleep 1
	log "multi: SIGSTOP the leader $l2 past the lease"
	kill -STOP "$(relay_pid "$l2")"
	other() { n=$(leader_proc) && [ "$n" != "$l2" ]; }
	ok "multi: a standby took over from the stalled leader" wait_for 15 other
	kill -CONT "$(relay_pid "$l2")"
	ok "multi: the stalled leader's connection was killed" \
		sh -c "cat '$T'/proc-relay*.log | grep -q 'killing its database connection'"
	load_wait
	check multi --min-committed $(( NWRITES / 2 ))
	ok "multi: exactly one leader at the end" [ "$(sql "SELECT COUNT(*) FROM relay_node WHERE role = 'leader' AND conn_id = IS_USED_LOCK(CONCAT(DATABASE(), ':rolodex-relay'))")" = 1 ]
	stop_relays
}

# ---------------------------------------------------------------------------------------------

if [ -n "${RELAY_ONLY:-}" ]; then
	for s in $RELAY_ONLY; do "scenario_$s"; done
elif [ "${VALGRIND:-0}" = 1 ]; then
	scenario_basics
	scenario_dedupe
	stop_relays
	nlogs=0 bad=0
	for f in "$T"/vg/*.log; do
		[ -e "$f" ] || continue
		nlogs=$(( nlogs + 1 ))
		if grep -Eq 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]' -- "$f"; then
			bad=$(( bad + 1 ))
			head -n 60 -- "$f"
		fi
	done
	ok "valgrind: $nlogs relay logs without errors or definite leaks" [ "$bad" = 0 ]
else
	scenario_basics
	scenario_partitions
	scenario_trim
	scenario_dedupe
	scenario_kills
	scenario_redis_down
	scenario_redis_loss
	scenario_db_restart
	scenario_multi
fi

log "done"
printf '%d passed, %d failed\n' "$PASS" "$FAIL"
[ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]
