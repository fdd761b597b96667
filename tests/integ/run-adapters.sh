#!/bin/bash
# tests/integ/run-adapters.sh - the adapters end to end, against real servers.
#
# The automake TESTS entry for rolodex-adapter-salesforce and rolodex-adapter-d365 (exit 0
# pass, 1 fail, 77 skip when a program it needs is missing).  Everything runs on 127.0.0.1 in
# one temporary directory, removed on exit; a trap stops every process started here, also on
# failure, Ctrl-C or SIGTERM.
#
#   MariaDB + `rolodexctl migrate`, Redis (AOF), the SaaS sandboxes (tests/sandbox), the API
#   (lighttpd spawn mode), the real relay (rolodex-relay), and two instances of each adapter:
#   sf-a, sf-b, dv-a, dv-b.  sf-a and dv-a start with the failpoint after_write:N, which
#   SIGKILLs them between an external write and its acknowledgement.  Then
#   tests/integ/test_adapters.py drives the API under faults (5xx, 429/limit bursts, tokens
#   expiring every 30 s, validation rejections), restarts sf-a (it must re-read its own
#   pending entries), leaves dv-a dead (dv-b must claim its entries), replays the dead
#   letters once the rejections are fixed, and at the end compares every party of the API
#   with both sandboxes field by field through the mapping.
#
# The Python driver asks this shell to start and kill processes through a FIFO (commands
# "start NAME [FAILPOINT]", "kill NAME", "term NAME", "alive NAME", "redis-kill",
# "redis-start"), so every process stays a child of this shell and the trap can stop it.
#
# Environment:
#   top_srcdir, top_builddir   (exported by `make check`)
#   ADAPTERS_FULL=1   the full fault matrix (`make check-faults`): three times the parties,
#                     longer fault windows, calls that hang past the client timeout, Redis
#                     killed and restarted from its AOF, the stream in 4 partitions;
#                     default: the bounded form for `make check`
#   RLX_IT_KEEP=1     keep the temporary directory (logs)
#   RLX_IT_TIMEOUT    seconds the Python driver may take (default 300; 900 with FULL)
#   The last line of output is "N passed, M failed".

set -u

here=$(cd "$(dirname "$0")" && pwd -P)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd -P)}
if [ -z "${top_builddir:-}" ]; then
	top_builddir=$(cd "$here/../.." && pwd -P)
	if [ ! -x "$top_builddir/src/rolodex-api" ] && [ -x "$PWD/src/rolodex-api" ]; then
		top_builddir=$PWD
	fi
fi
top_srcdir=$(cd "$top_srcdir" && pwd -P)
top_builddir=$(cd "$top_builddir" && pwd -P)

API_BIN=$top_builddir/src/rolodex-api
CTL_BIN=$top_builddir/src/rolodexctl
RELAY_BIN=$top_builddir/relay/rolodex-relay
SF_BIN=$top_builddir/adapters/rolodex-adapter-salesforce
DV_BIN=$top_builddir/adapters/rolodex-adapter-d365
PY_SUITE=$top_srcdir/tests/integ/test_adapters.py

skip() {
	printf 'SKIP: %s\n' "$*"
	exit 77
}

for b in "$API_BIN" "$CTL_BIN" "$RELAY_BIN" "$SF_BIN" "$DV_BIN"; do
	[ -x "$b" ] || skip "$b not built"
done
for prog in mariadbd mariadb-install-db mariadb redis-server redis-cli lighttpd python3 curl; do
	command -v "$prog" >/dev/null 2>&1 || [ -x "/usr/sbin/$prog" ] || skip "$prog not installed"
done

# shellcheck source=services.sh
. "$here/services.sh"
# shellcheck source=../sandbox/sandbox.sh
. "$top_srcdir/tests/sandbox/sandbox.sh"

FULL=${ADAPTERS_FULL:-0}
# The full matrix also runs the stream in partitions (rolodex:events:0..3).
PARTITIONS=1
[ "$FULL" = 1 ] && PARTITIONS=4
T=$(mktemp -d /tmp/rlx-ad.XXXXXX) || exit 1
PYPID=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [ -n "$PYPID" ] && kill -0 "$PYPID" 2>/dev/null; then
		kill -TERM "$PYPID" 2>/dev/null
		sleep 0.2
		kill -KILL "$PYPID" 2>/dev/null
	fi
	SVC_STOP_TIMEOUT=15 svc_stop_all "$T" >/dev/null 2>&1 ||
		printf 'run-adapters.sh: could not stop everything in %s\n' "$T" >&2
	if [ "${RLX_IT_KEEP:-0}" = 1 ]; then
		printf 'run-adapters.sh: kept %s\n' "$T" >&2
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
	printf 'run-adapters.sh: %s\n' "$*" >&2
	exit 1
}

T0=$SECONDS
log() { printf '[%3ds] %s\n' $(( SECONDS - T0 )) "$*"; }

# ---------------------------------------------------------------------------------------------
# servers

log "starting MariaDB, Redis and the sandboxes in $T"
DBPORT=$(svc_free_port "$T") || die "no free port"
svc_mariadb_init "$T" || die "svc_mariadb_init failed"
svc_mariadb_start "$T" "$DBPORT" || die "svc_mariadb_start failed"
svc_mariadb_bootstrap "$T" rolodex app apppass mig migpass || die "svc_mariadb_bootstrap failed"
RPORT=$(svc_free_port "$T") || die "no free port"
svc_redis_start "$T" "$RPORT" || die "svc_redis_start failed"
# sf-a signs in with the JWT bearer flow (its RS256 key: the sandbox verifies with the
# public half), sf-b with client credentials.
(umask 077 && openssl genrsa -out "$T/sf-jwt.key" 2048 2>/dev/null &&
	openssl rsa -in "$T/sf-jwt.key" -pubout -out "$T/sf-jwt.pub" 2>/dev/null) ||
	die "openssl genrsa failed"
# Tokens expire every 30 s from the start; the other faults are switched on by the driver.
SBX_SF_ARGS="--token-lifetime 30 --seed 7 --jwt-cert $T/sf-jwt.pub --jwt-username adapter@rolodex.test" \
	SBX_DV_ARGS="--token-lifetime 30 --seed 11" \
	sbx_start "$T" >"$T/sandbox-start.log" || { cat "$T/sandbox-start.log" >&2; die "sbx_start failed"; }

CONF=$T/rolodex.conf
HS_SECRET=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
{
	cat <<EOF
# generated by tests/integ/run-adapters.sh
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
hs256_secret = $HS_SECRET

[api]
openapi_file = $top_srcdir/docs/openapi.json
explorer_file = $top_srcdir/docs/api-explorer.html

[migrate]
sql_dir = $top_srcdir/sql

[redis]
port = $RPORT
timeout_ms = 2000
partitions = $PARTITIONS

[relay]
idle_ms = 100
batch = 200
EOF
	sbx_conf "$T" | sed -e '/^\[adapter\]/a\
batch = 50\
block_ms = 500\
max_deliveries = 3\
claim_idle_ms = 3000\
backoff_base_ms = 100\
backoff_max_ms = 2000\
http_timeout_ms = 5000' \
		-e '/^\[salesforce\]/a\
contact_fields = FirstName=first_name,LastName=last_name,Email=email,Phone=phone_primary,MobilePhone=phone_secondary,Birthdate=date_of_birth,Salutation=title,MailingStreet=address.street,MailingCity=address.city,MailingState=address.region,MailingPostalCode=address.postal_code,MailingCountry=address.country,Description=updated_at' \
		-e '/^\[d365\]/a\
contact_fields = firstname=first_name,lastname=last_name,emailaddress1=email,telephone1=phone_primary,telephone2=phone_secondary,birthdate=date_of_birth,address1_line1=address.line1,address1_line2=address.line2,address1_line3=address.line3,address1_city=address.city,address1_stateorprovince=address.region,address1_postalcode=address.postal_code,address1_country=address.country,description=updated_at'
} >"$CONF"
chmod 0644 "$CONF"
sed -e 's/^auth_flow = .*/auth_flow = jwt_bearer\
username = adapter@rolodex.test/' -e "/^\[salesforce\]/a\\
jwt_key_file = $T/sf-jwt.key" "$CONF" >"$T/rolodex-jwt.conf"

ctl() { "$CTL_BIN" -f "$CONF" "$@"; }
ctl migrate >"$T/migrate.log" 2>&1 || { cat "$T/migrate.log" >&2; die "rolodexctl migrate failed"; }
ctl config check >/dev/null || die "rolodexctl config check failed"
"$SF_BIN" -n -f "$CONF" >/dev/null || die "rolodex-adapter-salesforce -n failed"
"$SF_BIN" -n -f "$T/rolodex-jwt.conf" >/dev/null || die "rolodex-adapter-salesforce -n (JWT) failed"
"$DV_BIN" -n -f "$CONF" >/dev/null || die "rolodex-adapter-d365 -n failed"
TOKEN=$(ctl token --sub adapters-it --role admin --ttl 3600) || die "rolodexctl token failed"

log "starting the API, the relay and the adapters"
P_API=$(svc_free_port "$T") || die "no free port"
svc_lighttpd_start "$T" "$P_API" spawn "$API_BIN" "$CONF" || die "lighttpd failed"
end=$(( SECONDS + 60 ))
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$P_API/healthz")" = 200 ]; do
	[ "$SECONDS" -lt "$end" ] || die "the API does not answer /healthz"
	sleep 0.1
done
svc_proc_start "$T" relay "$RELAY_BIN" -f "$CONF" || die "cannot start the relay"

# start_adapter NAME [FAILPOINT]: sf-* are Salesforce, dv-* Dataverse; -c NAME is the consumer
# (sf-a uses the JWT bearer flow)
start_adapter() {
	local bin=$SF_BIN conf=$CONF
	case $1 in dv-*) bin=$DV_BIN ;; sf-a) conf=$T/rolodex-jwt.conf ;; esac
	if [ -n "${2:-}" ]; then
		svc_proc_start "$T" "$1" env ROLODEX_FAILPOINT="$2" "$bin" -f "$conf" -c "$1"
	else
		svc_proc_start "$T" "$1" "$bin" -f "$conf" -c "$1"
	fi
}
FP_SF=after_write:1 FP_DV=after_write:1
start_adapter sf-a "$FP_SF" || die "cannot start sf-a"
start_adapter sf-b || die "cannot start sf-b"
start_adapter dv-a "$FP_DV" || die "cannot start dv-a"
start_adapter dv-b || die "cannot start dv-b"

# ---------------------------------------------------------------------------------------------
# the driver, with this shell serving its process requests

export ADT_BASE=http://127.0.0.1:$P_API ADT_TOKEN=$TOKEN ADT_CONF=$CONF ADT_CTL=$CTL_BIN
export ADT_TMP=$T ADT_REDIS_PORT=$RPORT ADT_FULL=$FULL ADT_PARTITIONS=$PARTITIONS
export ADT_SF=$(sbx_url "$T" salesforce) ADT_DV=$(sbx_url "$T" dataverse)
export ADT_CONTROL=$T/control ADT_COUNTS=$T/counts
if [ "$(id -u)" = 0 ]; then dbuser=root; else dbuser=$(id -un); fi
export ADT_MYSQL="mariadb --no-defaults --socket=$T/mysql.sock --user=$dbuser rolodex"

log "driver: tests/integ/test_adapters.py"
mkfifo "$T/control.in" "$T/control.out" || die "mkfifo failed"
exec 3<>"$T/control.in" 4<>"$T/control.out"
limit=${RLX_IT_TIMEOUT:-300}
[ "$FULL" = 1 ] && limit=${RLX_IT_TIMEOUT:-900}
python3 "$PY_SUITE" &
PYPID=$!
deadline=$(( SECONDS + limit ))
while kill -0 "$PYPID" 2>/dev/null; do
	if [ "$SECONDS" -ge "$deadline" ]; then
		printf 'run-adapters.sh: the driver ran over %ss; stopping it\n' "$limit" >&2
		kill -TERM "$PYPID" 2>/dev/null
		break
	fi
	cmd=
	read -r -t 1 -u 3 cmd arg arg2 || continue
	case $cmd in
	start) start_adapter "$arg" "${arg2:-}" >>"$T/control.log" 2>&1 ;;
	kill) svc_proc_stop "$T" "$arg" KILL >>"$T/control.log" 2>&1 ;;
	term) svc_proc_stop "$T" "$arg" TERM >>"$T/control.log" 2>&1 ;;
	alive) svc_proc_pid "$T" "$arg" >/dev/null 2>&1 ;;
	redis-kill) svc_redis_kill "$T" >>"$T/control.log" 2>&1 ;;
	redis-start) svc_redis_start "$T" "$RPORT" >>"$T/control.log" 2>&1 ;;
	*) false ;;
	esac
	printf '%s %d\n' "$cmd" $? >&4
done
wait "$PYPID" 2>/dev/null
PYPID=
exec 3>&- 4>&-

pass=0 fail=1
[ -r "$ADT_COUNTS" ] && read -r pass fail <"$ADT_COUNTS"
if [ "$fail" != 0 ]; then
	for f in sf-a sf-b dv-a dv-b relay; do
		printf -- '--- last lines of %s ---\n' "$f"
		tail -n 15 "$T/proc-$f.log" 2>/dev/null
	done
fi
log "done"
printf '%d passed, %d failed\n' "$pass" "$fail"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
