#!/bin/bash
# tests/integ/run-api.sh - integration test of rolodex-api against real servers.
#
# The automake TESTS entry for the REST API (exit 0 pass, 1 fail, 77 skip when a program it
# needs is not installed or not built).  Everything runs on 127.0.0.1 inside one temporary
# directory, removed on exit; a trap stops every server started here, also on failure, Ctrl-C
# or SIGTERM.
#
#   1. MariaDB (database rolodex, runtime user app, migration user mig), `rolodexctl migrate`,
#      the accounts alice (writer), rita (reader), adam (admin), dave (disabled), lockout
#      (writer, for the 429 test) and the API clients svc (reader) and gone (revoked).
#   2. The APIs the Python suite needs:
#        $T     lighttpd spawn mode, the API under test (ROLODEX_IT_BASE)
#        $T/fp  lighttpd spawn mode, ROLODEX_FAILPOINT=before_commit (ROLODEX_IT_FP_BASE)
#        $T/cr  rolodex-api --listen unix --workers 2 with ROLODEX_FAILPOINT=crash_before_commit
#               behind lighttpd socket mode (ROLODEX_IT_CRASH_BASE)
#        $T/ms  rolodex-api --listen unix:$T/ms/api.sock --workers 2 behind lighttpd socket
#               mode, for the master tests (ROLODEX_IT_MASTER_BASE); failed logins are slow
#               there (fail_delay_ms 1500), which gives the drain test a slow request
#   3. A smoke subset behind lighttpd socket mode ($T/ms), then the full suite
#      (tests/integ/test_api.py), then the smoke subset behind Apache mod_fcgid ($T/ap) and
#      Apache mod_proxy_fcgi with `rolodex-api --listen 127.0.0.1:PORT` ($T/px).
#   The output ends with the line "N passed, M failed" summed over every run.
#
# The Python suite stops and restarts MariaDB through a control FIFO served by this shell
# (commands mariadb_stop, mariadb_kill, mariadb_start), so every server stays a child of this
# shell and the trap can stop it.
#
# Environment:
#   top_srcdir, top_builddir  (exported by `make check`; defaults: this script's ../.., and for
#                              the build dir also the current directory)
#   VALGRIND=1      run every rolodex-api under valgrind (memcheck, definite leaks are errors);
#                   the run fails if any valgrind log reports an error
#   RLX_IT_KEEP=1   keep the temporary directory (logs) instead of removing it
#   RLX_IT_ONLY=a,b  run only the Python tests whose names contain a or b (debugging)
#   RLX_IT_TIMEOUT  seconds the full Python suite may take (default 600)

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
PY_SUITE=$top_srcdir/tests/integ/test_api.py

skip() {
	printf 'SKIP: %s\n' "$*"
	exit 77
}

[ -x "$API_BIN" ] || skip "$API_BIN not built"
[ -x "$CTL_BIN" ] || skip "$CTL_BIN not built"
for prog in mariadbd mariadb-install-db mariadb-admin mariadb lighttpd python3 curl; do
	command -v "$prog" >/dev/null 2>&1 || skip "$prog not installed"
done
HAVE_APACHE=1
if ! command -v apache2 >/dev/null 2>&1 ||
	[ ! -e /usr/lib/apache2/modules/mod_fcgid.so ] ||
	[ ! -e /usr/lib/apache2/modules/mod_proxy_fcgi.so ]; then
	HAVE_APACHE=0
fi
if [ "${VALGRIND:-0}" = 1 ] && ! command -v valgrind >/dev/null 2>&1; then
	skip "VALGRIND=1 but valgrind is not installed"
fi

# shellcheck source=services.sh
. "$here/services.sh"

T=$(mktemp -d /tmp/rlx-it.XXXXXX) || exit 1
chmod 0755 "$T"		# Apache's workers (www-data) traverse it
PYPID=
TOTAL_PASS=0
TOTAL_FAIL=0

# sweep: the last resort of cleanup.  A server that died first (Ctrl-C reaches the whole
# process group) is no longer tracked, and what it had spawned (lighttpd respawns a backend
# that exited) is orphaned; every such process names our unique $T on its command line.
sweep() {
	local pids p n
	for n in 1 2 3; do
		pids=
		for p in /proc/[0-9]*; do
			p=${p#/proc/}
			[ "$p" != $$ ] || continue
			tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "$T/" && pids="$pids $p"
		done
		[ -n "$pids" ] || return 0
		[ "$n" = 1 ] && printf 'run-api.sh: stopping leftover processes:%s\n' "$pids" >&2
		# shellcheck disable=SC2086
		kill -s "$([ "$n" = 3 ] && echo KILL || echo TERM)" $pids 2>/dev/null
		sleep 1
	done
}

cleanup() {
	local rc=$? d
	trap - EXIT INT TERM HUP
	if [ -n "$PYPID" ] && kill -0 "$PYPID" 2>/dev/null; then
		kill -TERM "$PYPID" 2>/dev/null
		sleep 0.2
		kill -KILL "$PYPID" 2>/dev/null
	fi
	# web servers (and what they spawned) before the APIs they talk to, MariaDB last
	for d in "$T/px" "$T/ap" "$T/ms" "$T/cr" "$T/fp" "$T"; do
		[ -d "$d/.svc" ] || continue
		SVC_STOP_TIMEOUT=15 svc_stop_all "$d" >/dev/null 2>&1 ||
			printf 'run-api.sh: could not stop everything in %s\n' "$d" >&2
	done
	sweep
	if [ "${RLX_IT_KEEP:-0}" = 1 ]; then
		printf 'run-api.sh: kept %s\n' "$T" >&2
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
	printf 'run-api.sh: %s\n' "$*" >&2
	exit 1
}

T0=$SECONDS
log() { printf '[%3ds] %s\n' $(( SECONDS - T0 )) "$*"; }

# ---------------------------------------------------------------------------------------------
# API wrappers: environment (failpoints) and valgrind

mkdir -p "$T/bin" "$T/vg"
chmod 1777 "$T/vg"	# mod_fcgid's API runs as www-data and writes its valgrind log here

# mkwrap NAME [VAR=VALUE...]: $T/bin/NAME execs rolodex-api (under valgrind if VALGRIND=1)
mkwrap() {
	local name=$1 kv w=$T/bin/$1
	shift
	{
		printf '#!/bin/sh\n'
		# sanitizer settings of a --enable-sanitizers build (tests/san-wrap.sh), whatever
		# the web server passes on
		for kv in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
			[ -n "${!kv:-}" ] && printf "export %s='%s'\n" "$kv" "${!kv}"
		done
		for kv in "$@"; do
			printf "export %s='%s'\n" "${kv%%=*}" "${kv#*=}"
		done
		if [ "${VALGRIND:-0}" = 1 ]; then
			printf "exec valgrind --leak-check=full --errors-for-leak-kinds=definite"
			printf " --show-leak-kinds=definite --error-exitcode=99 --trace-children=no"
			printf " --log-file='%s/vg/%s.%%p.log' '%s' \"\$@\"\n" "$T" "$name" "$API_BIN"
		else
			printf "exec '%s' \"\$@\"\n" "$API_BIN"
		fi
	} >"$w"
	chmod 0755 "$w"
}
mkwrap api
mkwrap api-fp ROLODEX_FAILPOINT=before_commit
mkwrap api-crash ROLODEX_FAILPOINT=crash_before_commit
mkwrap api-slowfail ROLODEX_AUTH_FAIL_DELAY_MS=1500

# ---------------------------------------------------------------------------------------------
# MariaDB, schema, accounts

log "starting MariaDB in $T"
DBPORT=$(svc_free_port "$T") || die "no free port"
svc_mariadb_init "$T" || die "svc_mariadb_init failed"
svc_mariadb_start "$T" "$DBPORT" || die "svc_mariadb_start failed"
svc_mariadb_bootstrap "$T" rolodex app apppass mig migpass || die "svc_mariadb_bootstrap failed"

CONF=$T/rolodex.conf
# our own HS256 secret (not the sandbox one): the suite mints tokens with odd claims with it
HS_SECRET=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
cat >"$CONF" <<EOF
# generated by tests/integ/run-api.sh
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
leeway = 1
fail_delay_ms = 0
fail_window = 900

[api]
openapi_file = $top_srcdir/docs/openapi.json
explorer_file = $top_srcdir/docs/api-explorer.html
retry_after = 7

[migrate]
sql_dir = $top_srcdir/sql
EOF
chmod 0644 "$CONF"

ctl() { "$CTL_BIN" -f "$CONF" "$@"; }

ctl migrate >"$T/migrate.log" 2>&1 || { cat "$T/migrate.log" >&2; die "rolodexctl migrate failed"; }

adduser() { # NAME ROLES PASSWORD
	printf '%s\n' "$3" | ctl user add "$1" --role "$2" >>"$T/ctl.log" 2>&1 ||
		{ cat "$T/ctl.log" >&2; die "rolodexctl user add $1 failed"; }
}
adduser alice writer 'alice-pass-1'
adduser rita reader 'rita-pass-1'
adduser adam admin 'adam-pass-1'
adduser dave writer 'dave-pass-1'
adduser lockout writer 'lockout-pass-1'
ctl user disable dave >>"$T/ctl.log" 2>&1 || die "rolodexctl user disable failed"

# newclient NAME ROLES -> sets CID and CSECRET
newclient() {
	local out
	out=$(ctl client create "$1" --role "$2" 2>>"$T/ctl.log") || die "rolodexctl client create $1 failed"
	CID=$(printf '%s\n' "$out" | sed -n 's/^client_id: *//p')
	CSECRET=$(printf '%s\n' "$out" | sed -n 's/^client_secret: *//p')
	if [ -z "$CID" ] || [ -z "$CSECRET" ]; then
		die "cannot parse 'rolodexctl client create' output: $out"
	fi
}
newclient svc reader
SVC_ID=$CID SVC_SECRET=$CSECRET
newclient gone reader
GONE_ID=$CID GONE_SECRET=$CSECRET
ctl client revoke "$GONE_ID" >>"$T/ctl.log" 2>&1 || die "rolodexctl client revoke failed"

# A token that expires in a second; the suite uses it at its end (no sleeping).
EXPIRED_TOKEN=$(ctl token --sub expiring --role reader --ttl 1) || die "rolodexctl token failed"
EXPIRED_AT=$(( $(date +%s) + 1 ))

cat >"$T/fixtures.json" <<EOF
{
  "users": {"alice": "alice-pass-1", "rita": "rita-pass-1", "adam": "adam-pass-1",
            "dave": "dave-pass-1", "lockout": "lockout-pass-1"},
  "client": {"id": "$SVC_ID", "secret": "$SVC_SECRET"},
  "revoked_client": {"id": "$GONE_ID", "secret": "$GONE_SECRET"},
  "expired_token": "$EXPIRED_TOKEN",
  "expired_token_exp": $EXPIRED_AT,
  "hs256_secret": "$HS_SECRET",
  "leeway": 1,
  "retry_after": 7
}
EOF

# ---------------------------------------------------------------------------------------------
# the APIs

# wait_http URL SECONDS: until URL answers 200
wait_http() {
	local end=$(( SECONDS + $2 ))
	until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1")" = 200 ]; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# start_master DIR NAME WRAPPER ADDR: standalone API with 2 workers, tracked in DIR
start_master() {
	svc_proc_start "$1" "$2" "$T/bin/$3" -f "$CONF" --listen "$4" --workers 2 ||
		die "cannot start $3 --listen $4"
	case $4 in
	unix:*)
		local end=$(( SECONDS + 30 ))
		until [ -S "${4#unix:}" ]; do
			svc_proc_pid "$1" "$2" >/dev/null || { cat "$1/proc-$2.log" >&2; die "$3 exited"; }
			[ "$SECONDS" -lt "$end" ] || die "$3 did not create ${4#unix:}"
			sleep 0.1
		done
		;;
	esac
}

log "starting the APIs (lighttpd spawn, failpoint APIs, standalone masters)"
P_MAIN=$(svc_free_port "$T") || die "no free port"
svc_lighttpd_start "$T" "$P_MAIN" spawn "$T/bin/api" "$CONF" || die "lighttpd (spawn) failed"

P_FP=$(svc_free_port "$T") || die "no free port"
svc_lighttpd_start "$T/fp" "$P_FP" spawn "$T/bin/api-fp" "$CONF" || die "lighttpd (spawn, failpoint) failed"

start_master "$T/cr" api api-crash "unix:$T/cr/api.sock"
P_CR=$(svc_free_port "$T") || die "no free port"
svc_lighttpd_start "$T/cr" "$P_CR" socket - - "unix:$T/cr/api.sock" || die "lighttpd (socket, crash) failed"

start_master "$T/ms" api api-slowfail "unix:$T/ms/api.sock"
P_MS=$(svc_free_port "$T") || die "no free port"
svc_lighttpd_start "$T/ms" "$P_MS" socket - - "unix:$T/ms/api.sock" || die "lighttpd (socket) failed"

for p in "$P_MAIN" "$P_FP" "$P_CR" "$P_MS"; do
	wait_http "http://127.0.0.1:$p/healthz" 60 || die "the API behind port $p does not answer /healthz"
done

export ROLODEX_IT_CONF=$CONF ROLODEX_IT_TMP=$T ROLODEX_IT_CTL=$CTL_BIN
if [ "$(id -u)" = 0 ]; then dbuser=root; else dbuser=$(id -un); fi
export ROLODEX_IT_MYSQL="mariadb --no-defaults --socket=$T/mysql.sock --user=$dbuser rolodex"
export ROLODEX_IT_FIXTURES=$T/fixtures.json
export ROLODEX_IT_FP_BASE=http://127.0.0.1:$P_FP
export ROLODEX_IT_CRASH_BASE=http://127.0.0.1:$P_CR
export ROLODEX_IT_MASTER_BASE=http://127.0.0.1:$P_MS
export ROLODEX_IT_MASTER_PIDFILE=$T/ms/.svc/proc-api
export ROLODEX_IT_MASTER_SOCKET=$T/ms/api.sock
export ROLODEX_IT_CONTROL=$T/control
export ROLODEX_IT_COUNTS=$T/counts
[ "${VALGRIND:-0}" = 1 ] && export ROLODEX_IT_SLOW=1

# tally: add the counts of the last Python run
tally() {
	local p=0 f=1
	[ -r "$ROLODEX_IT_COUNTS" ] && read -r p f <"$ROLODEX_IT_COUNTS"
	rm -f -- "$ROLODEX_IT_COUNTS"
	TOTAL_PASS=$(( TOTAL_PASS + p ))
	TOTAL_FAIL=$(( TOTAL_FAIL + f ))
}

# smoke NAME BASE
smoke() {
	log "smoke: $1"
	ROLODEX_IT_BASE=$2 python3 "$PY_SUITE" --smoke --label "$1"
	tally
}

# ---------------------------------------------------------------------------------------------
# the runs

smoke "lighttpd socket + rolodex-api --listen unix --workers 2" "http://127.0.0.1:$P_MS"

# The full suite, with this shell serving its requests to stop and start MariaDB.
log "full suite: lighttpd spawn"
mkfifo "$T/control.in" "$T/control.out" || die "mkfifo failed"
exec 3<>"$T/control.in" 4<>"$T/control.out"
ROLODEX_IT_BASE=http://127.0.0.1:$P_MAIN python3 "$PY_SUITE" ${RLX_IT_ONLY:+--only "$RLX_IT_ONLY"} &
PYPID=$!
deadline=$(( SECONDS + ${RLX_IT_TIMEOUT:-600} ))
while kill -0 "$PYPID" 2>/dev/null; do
	if [ "$SECONDS" -ge "$deadline" ]; then
		printf 'run-api.sh: the Python suite ran over %ss; killing it\n' "${RLX_IT_TIMEOUT:-600}" >&2
		kill -TERM "$PYPID" 2>/dev/null
		break
	fi
	# poll (read -t 0, then sleep) rather than a timed read, so that the INT/TERM traps
	# never fire inside the read builtin
	if ! read -r -t 0 -u 3; then
		sleep 0.2
		continue
	fi
	cmd=
	read -r -u 3 cmd || continue
	case $cmd in
	mariadb_stop) svc_mariadb_stop "$T" >>"$T/control.log" 2>&1 ;;
	mariadb_kill) svc_mariadb_kill "$T" >>"$T/control.log" 2>&1 ;;
	mariadb_start) svc_mariadb_start "$T" "$DBPORT" >>"$T/control.log" 2>&1 ;;
	*) false ;;
	esac
	printf '%s %d\n' "$cmd" $? >&4
done
wait "$PYPID" 2>/dev/null
PYPID=
exec 3>&- 4>&-
tally
# MariaDB must be up again for what follows, whatever the suite did.
if ! svc_mysql "$T" -e 'SELECT 1' >/dev/null 2>&1; then
	svc_mariadb_start "$T" "$DBPORT" || die "cannot restart MariaDB"
fi

if [ "$HAVE_APACHE" = 1 ]; then
	P_AP=$(svc_free_port "$T") || die "no free port"
	if svc_apache_start "$T/ap" "$P_AP" fcgid "$T/bin/api" "$CONF"; then
		smoke "Apache mod_fcgid" "http://127.0.0.1:$P_AP"
	else
		printf 'FAIL: Apache mod_fcgid did not start\n'
		TOTAL_FAIL=$(( TOTAL_FAIL + 1 ))
	fi
	svc_apache_stop "$T/ap"

	P_PXAPI=$(svc_free_port "$T") || die "no free port"
	P_PX=$(svc_free_port "$T") || die "no free port"
	start_master "$T/px" api api "127.0.0.1:$P_PXAPI"
	if svc_apache_start "$T/px" "$P_PX" proxy - - "127.0.0.1:$P_PXAPI" &&
		wait_http "http://127.0.0.1:$P_PX/healthz" 60; then
		smoke "Apache mod_proxy_fcgi + rolodex-api --listen 127.0.0.1:$P_PXAPI" "http://127.0.0.1:$P_PX"
	else
		printf 'FAIL: Apache mod_proxy_fcgi did not start\n'
		TOTAL_FAIL=$(( TOTAL_FAIL + 1 ))
	fi
	svc_apache_stop "$T/px"
	svc_proc_stop "$T/px" api
else
	printf 'SKIP: Apache smoke tests (apache2 with mod_fcgid and mod_proxy_fcgi not installed)\n'
fi

# ---------------------------------------------------------------------------------------------
# valgrind verdict: every API must have stopped (and written its summary) first

if [ "${VALGRIND:-0}" = 1 ]; then
	for d in "$T/px" "$T/ap" "$T/ms" "$T/cr" "$T/fp" "$T"; do
		[ -d "$d/.svc" ] || continue
		svc_lighttpd_stop "$d"
		svc_apache_stop "$d"
		for f in "$d"/.svc/proc-*; do
			[ -e "$f" ] || continue
			f=${f##*/}
			svc_proc_stop "$d" "${f#proc-}"
		done
	done
	nlogs=0 bad=0
	for f in "$T"/vg/*.log; do
		[ -e "$f" ] || continue
		nlogs=$(( nlogs + 1 ))
		# a SIGKILLed process (crash failpoint, killed worker) writes no summary
		if grep -Eq 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]' -- "$f"; then
			bad=$(( bad + 1 ))
			printf -- '--- valgrind: %s ---\n' "${f##*/}"
			head -n 60 -- "$f"
		fi
	done
	if [ "$bad" -gt 0 ]; then
		printf 'FAIL: valgrind reported errors in %d of %d process logs\n' "$bad" "$nlogs"
		TOTAL_FAIL=$(( TOTAL_FAIL + 1 ))
	else
		printf 'valgrind: %d process logs, no errors, no definite leaks\n' "$nlogs"
		TOTAL_PASS=$(( TOTAL_PASS + 1 ))
	fi
fi

log "done"
printf '%d passed, %d failed\n' "$TOTAL_PASS" "$TOTAL_FAIL"
[ "$TOTAL_FAIL" -eq 0 ] && [ "$TOTAL_PASS" -gt 0 ]
