#!/usr/bin/env bash
# Rolodex developer commands, for a fresh Debian 12 machine.
#
#   ./dev.sh up      install packages, build, start under ./run: MariaDB,
#                    Redis, lighttpd + rolodex-api, rolodex-relay, the
#                    Salesforce and Dataverse sandboxes and both adapters;
#                    create a demo user and print curls to try it
#   ./dev.sh test    install packages, build, run every test (make check,
#                    make distcheck, the suite under sanitizers, a short
#                    fuzz run of every target)
#   ./dev.sh down    stop what "up" started
#   ./dev.sh deps | build
#
# Everything runs on 127.0.0.1; nothing outside this checkout is changed
# except the Debian packages installed.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build="$top/build"
run="$top/run"
port="${ROLODEX_PORT:-8080}"

packages=(
	build-essential autoconf automake libtool pkg-config
	check libfcgi-dev libmariadb-dev libhiredis-dev libjson-c-dev
	libjwt-dev libssl-dev libcurl4-openssl-dev
	mariadb-server mariadb-client redis-server lighttpd apache2
	libapache2-mod-fcgid python3 curl valgrind
	clang-14 libclang-rt-14-dev libfuzzer-14-dev
)

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

deps() {
	local missing=() p
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	as_root apt-get update -qq
	# Package scripts must not start system-wide servers: ours run here.
	as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 \
	    apt-get install -y -qq --no-install-recommends "${missing[@]}" \
	    >/dev/null
}

build() {
	cd "$top"
	[ -x configure ] && [ configure -nt configure.ac ] &&
	    [ Makefile.in -nt Makefile.am ] || autoreconf -fi >/dev/null
	mkdir -p "$build"
	cd "$build"
	[ -f Makefile ] || "$top/configure" -q --enable-werror
	make -j"$(nproc)" >/dev/null
}

write_conf() {
	cat > "$run/rolodex.conf" <<EOC
# Local development configuration written by ./dev.sh up.
[redis]
host = 127.0.0.1
port = $2

[database]
host = 127.0.0.1
port = $1
name = rolodex
user = rolodex_app
password_file = $run/db-app.secret
migrate_user = rolodex_migrate
migrate_password_file = $run/db-migrate.secret

[auth]
# sandbox: HS256 with a built-in development secret. Never in production.
sandbox = yes

[api]
openapi_file = $top/docs/openapi.json
explorer_file = $top/docs/api-explorer.html

[migrate]
sql_dir = $top/sql
EOC
}

secret() {
	[ -f "$1" ] || { umask 077; head -c 18 /dev/urandom | base64 > "$1"; }
}

up() {
	deps
	build
	# shellcheck source=tests/integ/services.sh
	. "$top/tests/integ/services.sh"
	mkdir -p "$run"
	chmod 755 "$run"
	svc_stop_all "$run" >/dev/null 2>&1 || true
	[ -d "$run/db" ] || svc_mariadb_init "$run"
	local dbport
	dbport=$(cat "$run/mariadb.port" 2>/dev/null || svc_free_port)
	svc_mariadb_start "$run" "$dbport"
	secret "$run/db-app.secret"
	secret "$run/db-migrate.secret"
	svc_mariadb_bootstrap "$run" rolodex rolodex_app \
	    "$(cat "$run/db-app.secret")" rolodex_migrate \
	    "$(cat "$run/db-migrate.secret")"
	local rport
	rport=$(cat "$run/redis.port" 2>/dev/null || svc_free_port "$run")
	svc_redis_start "$run" "$rport"
	# shellcheck source=tests/sandbox/sandbox.sh
	. "$top/tests/sandbox/sandbox.sh"
	sbx_start "$run"
	write_conf "$dbport" "$rport"
	sbx_conf "$run" >> "$run/rolodex.conf"
	local conf="$run/rolodex.conf"
	local ctl="$build/src/rolodexctl -f $conf"
	$ctl migrate
	if ! $ctl user list | grep -q '^demo '; then
		echo 'demo-password' | $ctl user add demo --role writer
	fi
	svc_lighttpd_start "$run" "$port" spawn "$build/src/rolodex-api" "$conf"
	svc_proc_start "$run" relay "$build/relay/rolodex-relay" -f "$conf"
	svc_proc_start "$run" adapter-salesforce \
	    "$build/adapters/rolodex-adapter-salesforce" -c dev -f "$conf"
	svc_proc_start "$run" adapter-d365 \
	    "$build/adapters/rolodex-adapter-d365" -c dev -f "$conf"
	cat <<EOM

Rolodex is running on http://127.0.0.1:$port  (API explorer: /docs)
Redis: 127.0.0.1:$rport; relay and adapters logs: $run/proc-*.log
Sandboxes: Salesforce $(sbx_url "$run" salesforce), Dataverse $(sbx_url "$run" dataverse)
State and logs are in $run; stop with ./dev.sh down.

  TOKEN=\$(curl -s -X POST http://127.0.0.1:$port/auth/login \\
      -H 'Content-Type: application/json' \\
      -d '{"username":"demo","password":"demo-password"}' |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

  curl -s -X POST http://127.0.0.1:$port/persons \\
      -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
      -d '{"first_name":"Ada","last_name":"Lovelace","email":"ada@example.com"}'

  # a moment later the person is in both external systems:
  curl -s $(sbx_url "$run" salesforce)/__sandbox/records/Contact
  curl -s $(sbx_url "$run" dataverse)/__sandbox/records/contacts

EOM
}

down() {
	# shellcheck source=tests/integ/services.sh
	. "$top/tests/integ/services.sh"
	[ -d "$run" ] && svc_stop_all "$run"
	echo "stopped"
}

# Every test: the suite on the normal build, make distcheck (the suite
# again from the release tarball), the suite under ASan/UBSan, and a
# short run of every fuzz target.
test_all() {
	deps
	build
	cd "$build"
	make check
	make distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror
	make check-sanitizers
	mkdir -p "$build/fuzz"
	cd "$build/fuzz"
	[ -f Makefile ] || "$top/configure" -q --enable-fuzz
	make -j"$(nproc)" >/dev/null
	make check-fuzz FUZZ_CHECK_SECONDS="${FUZZ_CHECK_SECONDS:-15}"
}

case "${1:-}" in
up) up ;;
down) down ;;
test) test_all ;;
deps) deps ;;
build) deps; build ;;
*) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
