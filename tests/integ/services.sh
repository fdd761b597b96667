# shellcheck shell=bash
#
# tests/integ/services.sh - start and stop REAL servers (MariaDB, lighttpd, Apache httpd, Redis)
# on 127.0.0.1 inside a private directory, for the integration tests and for the developer's
# "start everything locally" command.
#
#   . tests/integ/services.sh
#   T=$(mktemp -d); trap 'svc_stop_all "$T"' EXIT
#   p=$(svc_free_port "$T"); svc_mariadb_init "$T" && svc_mariadb_start "$T" "$p"
#
# Rules:
# - Everything lives under the directory DIR given by the caller: data, configs, sockets, pid
#   files, logs. No systemd, nothing written outside DIR, ports picked at run time.
# - Every start function waits (bounded: SVC_START_TIMEOUT seconds, default 30) until the server
#   answers, or fails (non-zero status) with a message and the tail of the server's log on stderr.
#   Stop functions are bounded too (SVC_STOP_TIMEOUT, default 60; then SIGKILL).
# - Servers are children of the shell that sourced this file (started with `&` and `disown`ed):
#   that shell reaps them (no zombies even when PID 1 does not reap), a bare `wait` does not wait
#   for them, and SIGKILL does not print job messages. So call the start functions directly, not
#   inside $(...) or a subshell that exits. They share the caller's process group: a `timeout`
#   around the whole test run also reaches them (SIGTERM).
# - Safe under `set -u`, `set -e` and `pipefail`; the file changes no shell option.
# - DIR must be an absolute or relative path without whitespace, short enough for unix sockets
#   (DIR/mysql.sock must fit in 107 bytes).
# - Apache started as root serves as www-data, and so do the API processes mod_fcgid starts:
#   svc_apache_start makes DIR o+x, checks (as www-data) that API_BIN, CONF_FILE and the wrapper
#   are usable, and makes an existing proxy unix socket a+rw (libfcgi creates it with the umask;
#   re-created sockets need the same). Secret files named in CONF_FILE must be readable too.
# - lighttpd runs as the caller (root here, no server.username), and so do the API processes it
#   spawns; they inherit the caller's environment. mod_fcgid does not pass the environment on:
#   see SVC_APP_ENV.
#
# Layout of DIR:
#   my.cnf db/ mysql.sock mariadb.pid mariadb.err mariadb.port mariadb-install.log mariadb-tmp/
#   lighttpd.conf lighttpd.pid lighttpd.err lighttpd.out lighttpd/{htdocs,tmp,api.sock-0,-1}
#   httpd.conf apache-site.conf apache-wrapper.sh apache.pid apache.err apache.out
#       apache/{run,fcgid,htdocs,access.log}
#   redis/ (AOF) redis.pid redis.log redis.port
#   proc-NAME.log (svc_proc_start)   .svc/ (pid + start-time records used for stopping)
#
# Functions (all return 0 on success, non-zero with a message on stderr on failure):
#   svc_free_port [DIR]
#   svc_mariadb_init DIR
#   svc_mariadb_start DIR [PORT]          (PORT defaults to the one used last time in DIR)
#   svc_mariadb_stop DIR | svc_mariadb_kill DIR
#   svc_mariadb_port DIR
#   svc_mariadb_bootstrap DIR DBNAME APPUSER APPPASS MIGUSER MIGPASS
#   svc_mysql DIR [mariadb client args...]
#   svc_lighttpd_start DIR PORT spawn|socket API_BIN CONF_FILE [unix:PATH|HOST:PORT]
#   svc_lighttpd_stop DIR
#   svc_apache_start DIR PORT fcgid|proxy API_BIN CONF_FILE [unix:PATH|HOST:PORT]
#   svc_apache_stop DIR
#   svc_redis_start DIR [PORT] | svc_redis_stop DIR | svc_redis_kill DIR
#   svc_proc_start DIR NAME CMD [ARGS...] | svc_proc_pid DIR NAME | svc_proc_stop DIR NAME [SIGNAL]
#   svc_running DIR mariadb|lighttpd|apache|redis|proc-NAME   (prints the PID if running)
#   svc_stop_all DIR
#
# Environment knobs:
#   SVC_START_TIMEOUT (30)  SVC_STOP_TIMEOUT (60)  SVC_LOG_TAIL (40 lines)
#   SVC_APP_ENV  names/prefixes (glob) of variables baked into the Apache fcgid wrapper, because
#                mod_fcgid starts the API with a clean environment. Default:
#                "ROLODEX_* FAILPOINT* ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS FAKETIME* LD_PRELOAD TZ"
#   SVC_APACHE_USER / SVC_APACHE_GROUP (www-data) - worker user when started as root.

_SVC_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
_SVC_TOP=$(cd "$_SVC_HERE/../.." && pwd -P)

# --------------------------------------------------------------------------------------------
# helpers

_svc_err() { printf 'services.sh: %s\n' "$*" >&2; return 1; }

# _svc_dir DIR -> prints the absolute path of DIR (created if needed), checks the constraints
_svc_dir() {
	local d=${1:-}
	[ -n "$d" ] || { _svc_err "missing DIR argument"; return 1; }
	case $d in *[[:space:]]*) _svc_err "DIR must not contain whitespace: '$d'"; return 1 ;; esac
	mkdir -p -- "$d" || { _svc_err "cannot create $d"; return 1; }
	d=$(cd -- "$d" && pwd -P) || return 1
	if [ $(( ${#d} + 16 )) -gt 107 ]; then
		_svc_err "DIR path too long for unix sockets (${#d} bytes): $d"
		return 1
	fi
	mkdir -p -- "$d/.svc" || return 1
	printf '%s\n' "$d"
}

# _svc_bin NAME -> path of NAME, also looking in the sbin directories (not in a user's PATH)
_svc_bin() {
	local d
	if command -v "$1" 2>/dev/null; then return 0; fi
	for d in /usr/sbin /sbin /usr/local/sbin; do
		if [ -x "$d/$1" ]; then printf '%s\n' "$d/$1"; return 0; fi
	done
	_svc_err "$1 not found${2:+ ($2)}"
}

_svc_uint() { case ${1:-} in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

_svc_port_ok() {
	if _svc_uint "${1:-}" && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; then
		return 0
	fi
	_svc_err "bad port '${1:-}'"
}

# _svc_starttime PID -> field 22 of /proc/PID/stat (clock ticks since boot)
_svc_starttime() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	local -a fields
	st=${st##*) }
	read -ra fields <<<"$st"
	printf '%s\n' "${fields[19]}"
}

# _svc_alive PID: running and not a zombie
_svc_alive() {
	local st
	_svc_uint "${1:-}" || return 1
	kill -0 "$1" 2>/dev/null || return 1
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	case $st in Z* | X*) return 1 ;; esac
	return 0
}

# _svc_track_set DIR NAME PID: remember PID (+ start time, to survive PID reuse)
_svc_track_set() {
	printf '%s %s\n' "$3" "$(_svc_starttime "$3" || echo 0)" >"$1/.svc/$2"
}

# _svc_track_get DIR NAME -> prints the PID if that very process is still alive
_svc_track_get() {
	local f="$1/.svc/$2" pid st now
	[ -r "$f" ] || return 1
	read -r pid st <"$f" || return 1
	_svc_alive "$pid" || return 1
	now=$(_svc_starttime "$pid") || return 1
	[ "$st" = 0 ] || [ "$now" = "$st" ] || return 1
	printf '%s\n' "$pid"
}

_svc_track_clear() { rm -f -- "$1/.svc/$2"; }

_svc_tail() {
	local f
	for f in "$@"; do
		[ -s "$f" ] || continue
		printf -- '--- last lines of %s ---\n' "$f" >&2
		tail -n "${SVC_LOG_TAIL:-40}" -- "$f" >&2
	done
	return 0
}

# _svc_spawn LOG CMD...: start CMD in the background, stdin /dev/null, stdout+stderr appended to
# LOG; sets _SVC_PID. disown: not waited for by a bare `wait`, but still reaped by this shell.
_svc_spawn() {
	local log=$1
	shift
	"$@" </dev/null >>"$log" 2>&1 &
	_SVC_PID=$!
	disown "$_SVC_PID" 2>/dev/null || true
}

# _svc_wait_gone PID SECONDS -> 0 once PID is gone, 1 on timeout
_svc_wait_gone() {
	local pid=$1 i=0 n=$(( $2 * 10 ))
	while _svc_alive "$pid"; do
		[ "$i" -lt "$n" ] || return 1
		sleep 0.1
		i=$(( i + 1 ))
	done
	return 0
}

# _svc_descendants PID -> PIDs of all descendants of PID (children first), one per line
_svc_descendants() {
	ps -e -o pid= -o ppid= 2>/dev/null | awk -v root="$1" '
		{ parent[$1] = $2; pids[NR] = $1 }
		END {
			want[root] = 1
			do {
				changed = 0
				for (i = 1; i <= NR; i++) {
					p = pids[i]
					if (!(p in want) && (parent[p] in want)) { want[p] = 1; changed = 1; print p }
				}
			} while (changed)
		}'
}

# _svc_stop DIR NAME LABEL [SIGNAL]: signal the tracked process, wait for it (and for the
# processes it had started, e.g. API workers of lighttpd/mod_fcgid), SIGKILL after the timeout
_svc_stop() {
	local dir=$1 name=$2 label=$3 sig=${4:-TERM} pid kids k left=''
	if ! pid=$(_svc_track_get "$dir" "$name"); then
		_svc_track_clear "$dir" "$name"
		return 0
	fi
	kids=$(_svc_descendants "$pid")
	kill "-$sig" "$pid" 2>/dev/null || true
	if [ "$sig" = KILL ]; then
		_svc_wait_gone "$pid" 5 || { _svc_err "$label (pid $pid) survived SIGKILL"; return 1; }
	elif ! _svc_wait_gone "$pid" "${SVC_STOP_TIMEOUT:-60}"; then
		printf 'services.sh: %s (pid %s) did not stop within %ss after SIG%s; sending SIGKILL\n' \
			"$label" "$pid" "${SVC_STOP_TIMEOUT:-60}" "$sig" >&2
		kill -KILL "$pid" 2>/dev/null || true
		_svc_wait_gone "$pid" 5 || { _svc_err "$label (pid $pid) survived SIGKILL"; return 1; }
	fi
	_svc_track_clear "$dir" "$name"
	# children the server started (they normally get SIGTERM from it); a SIGKILLed server
	# cannot do that, so leftovers get the same signal
	for k in $kids; do
		_svc_alive "$k" || continue
		if [ "$sig" = KILL ]; then
			kill -KILL "$k" 2>/dev/null || true
		elif ! _svc_wait_gone "$k" "${SVC_STOP_TIMEOUT:-60}"; then
			left="$left $k"
			kill -KILL "$k" 2>/dev/null || true
		fi
	done
	for k in $kids; do _svc_wait_gone "$k" 5 || true; done
	[ -z "$left" ] || printf 'services.sh: %s: child processes%s had to be SIGKILLed\n' "$label" "$left" >&2
	return 0
}

# _svc_wait_up LABEL PID PROBE-CMD... : poll PROBE (which must bound its own run time) until it
# succeeds; fail early if PID died, fail after SVC_START_TIMEOUT seconds of wall-clock time
_svc_wait_up() {
	local label=$1 pid=$2 end
	shift 2
	end=$(( SECONDS + ${SVC_START_TIMEOUT:-30} + 1 ))
	while :; do
		if ! _svc_alive "$pid"; then
			_svc_err "$label exited during start-up"
			return 1
		fi
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		if [ "$SECONDS" -ge "$end" ]; then
			_svc_err "$label did not answer within ${SVC_START_TIMEOUT:-30}s"
			return 1
		fi
		sleep 0.1
	done
}

# _svc_http_answers PORT: any HTTP status line (even 404/500/503) counts as "up"
_svc_http_answers() {
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --connect-timeout 2 --max-time 5 \
		"http://127.0.0.1:$1/") || true
	[ -n "$code" ] && [ "$code" != 000 ]
}

# _svc_sed_val VALUE -> VALUE escaped for the replacement side of s|...|...|
_svc_sed_val() {
	printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'
}

# _svc_render TEMPLATE OUT KEY=VALUE...: replace @KEY@ by VALUE; fails on unreplaced @WORD@
_svc_render() {
	local tpl=$1 out=$2 kv key val script=
	shift 2
	[ -r "$tpl" ] || { _svc_err "template not found: $tpl"; return 1; }
	for kv in "$@"; do
		key=${kv%%=*}
		val=${kv#*=}
		case $val in *"
"*) _svc_err "newline in value for @$key@"; return 1 ;; esac
		script="${script}s|@${key}@|$(_svc_sed_val "$val")|g
"
	done
	sed -e "$script" -- "$tpl" >"$out.tmp" || { rm -f -- "$out.tmp"; return 1; }
	if grep -v '^[[:space:]]*#' -- "$out.tmp" | grep -q '@[A-Z_][A-Z_]*@'; then
		_svc_err "unreplaced placeholder in $out: $(grep -v '^[[:space:]]*#' -- "$out.tmp" |
			grep -o '@[A-Z_][A-Z_]*@' | sort -u | tr '\n' ' ')"
		rm -f -- "$out.tmp"
		return 1
	fi
	mv -f -- "$out.tmp" "$out"
}

# _svc_abs_exe PATH / _svc_abs_file PATH -> absolute path, checked, no whitespace
_svc_abs_path() {
	local p=$1 what=$2 d
	case $p in *[[:space:]]*) _svc_err "$what path must not contain whitespace: '$p'"; return 1 ;; esac
	case $p in /*) ;; *) d=$(cd -- "$(dirname -- "$p")" && pwd -P) || return 1; p=$d/${p##*/} ;; esac
	printf '%s\n' "$p"
}

# _svc_parse_addr ADDR -> sets _SVC_ADDR_KIND (unix|tcp), _SVC_ADDR_PATH, _SVC_ADDR_HOST, _SVC_ADDR_PORT
_svc_parse_addr() {
	local a=${1:-}
	_SVC_ADDR_KIND='' _SVC_ADDR_PATH='' _SVC_ADDR_HOST='' _SVC_ADDR_PORT=
	case $a in
	unix:/*) _SVC_ADDR_KIND=unix _SVC_ADDR_PATH=${a#unix:} ;;
	/*) _SVC_ADDR_KIND=unix _SVC_ADDR_PATH=$a ;;
	*:*)
		_SVC_ADDR_KIND=tcp _SVC_ADDR_HOST=${a%:*} _SVC_ADDR_PORT=${a##*:}
		_svc_port_ok "$_SVC_ADDR_PORT" || return 1
		[ -n "$_SVC_ADDR_HOST" ] || _SVC_ADDR_HOST=127.0.0.1
		;;
	*) _svc_err "FastCGI address must be unix:/abs/path or HOST:PORT, got '$a'"; return 1 ;;
	esac
	case $a in *[[:space:]\"\'\|]*) _svc_err "bad characters in FastCGI address '$a'"; return 1 ;; esac
	return 0
}

# --------------------------------------------------------------------------------------------
# ports

# svc_free_port [DIR]: a TCP port free on 127.0.0.1, chosen below the kernel's ephemeral range
# (so outgoing connections do not grab it while a server is down for a restart). With DIR, ports
# already handed out for DIR are never returned again.
svc_free_port() {
	local used=/dev/null dir p
	if [ -n "${1:-}" ]; then
		dir=$(_svc_dir "$1") || return 1
		used=$dir/.svc/ports
		touch -- "$used"
	fi
	if command -v python3 >/dev/null 2>&1; then
		p=$(python3 - "$used" <<'PY'
import random, socket, sys
used = set()
try:
    used = {int(x) for x in open(sys.argv[1]).read().split()}
except (OSError, ValueError):
    pass
try:
    lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    lo = 32768
lo = max(lo, 12000)
for _ in range(500):
    p = random.randrange(10000, lo)
    if p in used:
        continue
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    sys.exit(0)
sys.exit(1)
PY
		) || { _svc_err "svc_free_port: no free port found"; return 1; }
	else
		local i
		p=
		for i in $(seq 1 500); do
			i=$(( 10000 + (RANDOM * 32768 + RANDOM) % 22000 ))
			grep -qx "$i" "$used" 2>/dev/null && continue
			if [ -z "$(ss -Htan "( sport = :$i )" 2>/dev/null)" ]; then
				p=$i
				break
			fi
		done
		[ -n "$p" ] || { _svc_err "svc_free_port: no free port found"; return 1; }
	fi
	[ "$used" = /dev/null ] || printf '%s\n' "$p" >>"$used"
	printf '%s\n' "$p"
}

# --------------------------------------------------------------------------------------------
# MariaDB

_svc_mysql_user() {
	if [ "$(id -u)" = 0 ]; then echo root; else id -un; fi
}

# svc_mariadb_init DIR: create the data directory DIR/db (skipped if it already holds a
# database) and write DIR/my.cnf. root@localhost authenticates over the socket (unix_socket).
svc_mariadb_init() {
	local dir userline=
	dir=$(_svc_dir "${1:-}") || return 1
	_svc_bin mariadb-install-db "apt-get install mariadb-server" >/dev/null || return 1
	[ "$(id -u)" = 0 ] && userline="user = root"
	mkdir -p -- "$dir/db" "$dir/mariadb-tmp" || return 1
	cat >"$dir/my.cnf" <<EOF
# generated by tests/integ/services.sh - private MariaDB on 127.0.0.1 (port on the command line)
[client]
socket = $dir/mysql.sock

[mariadbd]
datadir = $dir/db
socket = $dir/mysql.sock
pid-file = $dir/mariadb.pid
log-error = $dir/mariadb.err
tmpdir = $dir/mariadb-tmp
$userline
bind-address = 127.0.0.1
skip-networking = 0
skip-name-resolve
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
default-time-zone = +00:00
innodb_buffer_pool_size = 64M
innodb_log_file_size = 48M
innodb_flush_log_at_trx_commit = 1
innodb_buffer_pool_dump_at_shutdown = 0
innodb_buffer_pool_load_at_startup = 0
max_connections = 300
EOF
	if [ -d "$dir/db/mysql" ]; then
		return 0
	fi
	if ! mariadb-install-db --defaults-file="$dir/my.cnf" \
		--auth-root-authentication-method=socket --skip-test-db \
		>"$dir/mariadb-install.log" 2>&1; then
		_svc_err "mariadb-install-db failed in $dir/db"
		_svc_tail "$dir/mariadb-install.log" "$dir/mariadb.err"
		return 1
	fi
}

_svc_mariadb_ping() {
	timeout 5 mariadb-admin --no-defaults --socket="$1/mysql.sock" --user="$(_svc_mysql_user)" \
		--connect-timeout=2 ping
}

# svc_mariadb_start DIR [PORT]
svc_mariadb_start() {
	local dir port pid exe
	dir=$(_svc_dir "${1:-}") || return 1
	port=${2:-}
	if [ -z "$port" ] && [ -r "$dir/mariadb.port" ]; then
		read -r port <"$dir/mariadb.port"
	fi
	_svc_port_ok "$port" || return 1
	if [ ! -r "$dir/my.cnf" ] || [ ! -d "$dir/db/mysql" ]; then
		_svc_err "no MariaDB data directory in $dir (run svc_mariadb_init first)"
		return 1
	fi
	if pid=$(_svc_track_get "$dir" mariadb); then
		_svc_err "MariaDB already running in $dir (pid $pid)"
		return 1
	fi
	exe=$(_svc_bin mariadbd "apt-get install mariadb-server") || return 1
	printf '%s\n' "$port" >"$dir/mariadb.port"
	printf '=== %s start on port %s ===\n' "$(date '+%F %T')" "$port" >>"$dir/mariadb.err"
	_svc_spawn "$dir/mariadb.out" "$exe" --defaults-file="$dir/my.cnf" --port="$port"
	pid=$_SVC_PID
	_svc_track_set "$dir" mariadb "$pid"
	if ! _svc_wait_up "MariaDB (port $port, $dir)" "$pid" _svc_mariadb_ping "$dir"; then
		_svc_tail "$dir/mariadb.out" "$dir/mariadb.err"
		_svc_stop "$dir" mariadb MariaDB KILL >/dev/null 2>&1 || true
		return 1
	fi
}

# svc_mariadb_stop DIR: clean shutdown (SIGTERM = mariadb-admin shutdown), waits for the process
svc_mariadb_stop() {
	local dir
	dir=$(_svc_dir "${1:-}") || return 1
	_svc_stop "$dir" mariadb MariaDB TERM
}

# svc_mariadb_kill DIR: SIGKILL (crash); svc_mariadb_start DIR runs InnoDB crash recovery
svc_mariadb_kill() {
	local dir
	dir=$(_svc_dir "${1:-}") || return 1
	_svc_stop "$dir" mariadb MariaDB KILL
}

svc_mariadb_port() {
	local dir
	dir=$(_svc_dir "${1:-}") || return 1
	cat -- "$dir/mariadb.port"
}

# svc_mysql DIR [args...]: the mariadb client as root over DIR's socket
svc_mysql() {
	local dir
	dir=$(_svc_dir "${1:-}") || return 1
	shift
	mariadb --no-defaults --socket="$dir/mysql.sock" --user="$(_svc_mysql_user)" "$@"
}

_svc_sql_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\'/\\\'}
	printf "'%s'" "$s"
}

# svc_mariadb_bootstrap DIR DBNAME APPUSER APPPASS MIGUSER MIGPASS (idempotent; passwords are
# (re)set on every call)
svc_mariadb_bootstrap() {
	local dir db=${2:-} au=${3:-} ap=${4:-} mu=${5:-} mp=${6:-} u h sql
	dir=$(_svc_dir "${1:-}") || return 1
	[ $# -eq 6 ] || { _svc_err "usage: svc_mariadb_bootstrap DIR DBNAME APPUSER APPPASS MIGUSER MIGPASS"; return 1; }
	case $db in '' | *[!A-Za-z0-9_]*) _svc_err "bad database name '$db'"; return 1 ;; esac
	for u in "$au" "$mu"; do
		case $u in '' | *[!A-Za-z0-9_.-]*) _svc_err "bad user name '$u'"; return 1 ;; esac
	done
	sql="CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
"
	for h in 127.0.0.1 localhost; do
		sql="${sql}CREATE USER IF NOT EXISTS '$au'@'$h' IDENTIFIED BY $(_svc_sql_str "$ap");
ALTER USER '$au'@'$h' IDENTIFIED BY $(_svc_sql_str "$ap");
GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE ON \`$db\`.* TO '$au'@'$h';
CREATE USER IF NOT EXISTS '$mu'@'$h' IDENTIFIED BY $(_svc_sql_str "$mp");
ALTER USER '$mu'@'$h' IDENTIFIED BY $(_svc_sql_str "$mp");
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$mu'@'$h';
"
	done
	if ! printf '%s' "$sql" | svc_mysql "$dir" --batch; then
		_svc_err "bootstrap of database $db failed"
		return 1
	fi
}

# --------------------------------------------------------------------------------------------
# lighttpd

# svc_lighttpd_start DIR PORT MODE API_BIN CONF_FILE [ADDR]
#   MODE spawn : lighttpd spawns "API_BIN -f CONF_FILE" (2 processes, FastCGI socket on fd 0)
#   MODE socket: lighttpd connects to a running API at ADDR (unix:/path or HOST:PORT);
#                API_BIN and CONF_FILE are ignored (pass "-")
svc_lighttpd_start() {
	local dir port=${2:-} mode=${3:-} bin=${4:-} conf=${5:-} addr=${6:-} pid tpl target exe
	dir=$(_svc_dir "${1:-}") || return 1
	_svc_port_ok "$port" || return 1
	exe=$(_svc_bin lighttpd "apt-get install lighttpd") || return 1
	if pid=$(_svc_track_get "$dir" lighttpd); then
		_svc_err "lighttpd already running in $dir (pid $pid)"
		return 1
	fi
	mkdir -p -- "$dir/lighttpd/htdocs" "$dir/lighttpd/tmp" || return 1
	case $mode in
	spawn)
		bin=$(_svc_abs_path "$bin" API_BIN) || return 1
		conf=$(_svc_abs_path "$conf" CONF_FILE) || return 1
		[ -x "$bin" ] || { _svc_err "API_BIN not executable: $bin"; return 1; }
		tpl=$_SVC_HERE/lighttpd-spawn.conf.in
		_svc_render "$tpl" "$dir/lighttpd.conf" PORT="$port" STATE="$dir" \
			API_BIN="$bin" CONF="$conf" || return 1
		;;
	socket)
		_svc_parse_addr "$addr" || return 1
		if [ "$_SVC_ADDR_KIND" = unix ]; then
			target="\"socket\" => \"$_SVC_ADDR_PATH\""
		else
			target="\"host\" => \"$_SVC_ADDR_HOST\", \"port\" => $_SVC_ADDR_PORT"
		fi
		tpl=$_SVC_HERE/lighttpd-socket.conf.in
		_svc_render "$tpl" "$dir/lighttpd.conf" PORT="$port" STATE="$dir" \
			FCGI_TARGET="$target" || return 1
		;;
	*) _svc_err "svc_lighttpd_start: MODE must be spawn or socket, got '$mode'"; return 1 ;;
	esac
	printf '=== %s lighttpd %s on port %s ===\n' "$(date '+%F %T')" "$mode" "$port" >>"$dir/lighttpd.out"
	if ! "$exe" -tt -f "$dir/lighttpd.conf" >>"$dir/lighttpd.out" 2>&1; then
		_svc_err "lighttpd rejects $dir/lighttpd.conf"
		_svc_tail "$dir/lighttpd.out"
		return 1
	fi
	printf '%s\n' "$port" >"$dir/lighttpd.port"
	_svc_spawn "$dir/lighttpd.out" "$exe" -D -f "$dir/lighttpd.conf"
	pid=$_SVC_PID
	_svc_track_set "$dir" lighttpd "$pid"
	if ! _svc_wait_up "lighttpd (port $port, $mode)" "$pid" _svc_http_answers "$port"; then
		_svc_tail "$dir/lighttpd.out" "$dir/lighttpd.err"
		_svc_stop "$dir" lighttpd lighttpd KILL >/dev/null 2>&1 || true
		return 1
	fi
}

# svc_lighttpd_stop DIR (lighttpd sends SIGTERM to the API processes it spawned)
svc_lighttpd_stop() {
	local dir
	dir=$(_svc_dir "${1:-}") || return 1
	_svc_stop "$dir" lighttpd lighttpd TERM
}

# --------------------------------------------------------------------------------------------
# Apache httpd

# _svc_as_user USER CMD...: run CMD as USER (we are root)
_svc_as_user() {
	local u=$1
	shift
	if command -v runuser >/dev/null 2>&1; then
		runuser -u "$u" -- "$@"
	else
		setpriv --reuid="$u" --regid="$u" --init-groups -- "$@"
	fi
}

# _svc_apache_wrapper DIR API_BIN: DIR/apache-wrapper.sh execs API_BIN "$@" with the variables
# named by SVC_APP_ENV baked in (mod_fcgid gives the API a clean environment)
_svc_apache_wrapper() {
	local dir=$1 bin=$2 w=$1/apache-wrapper.sh name pat val q=\'
	local -a pats
	read -ra pats <<<"${SVC_APP_ENV-ROLODEX_* FAILPOINT* ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS FAKETIME* LD_PRELOAD TZ}"
	{
		printf '#!/bin/sh\n# generated by tests/integ/services.sh: mod_fcgid runs this instead of rolodex-api\n'
		while IFS= read -r name; do
			for pat in ${pats[@]+"${pats[@]}"}; do
				# shellcheck disable=SC2254
				case $name in
				$pat)
					val=${!name}
					printf "export %s='%s'\n" "$name" "${val//$q/$q\\$q$q}"
					break
					;;
				esac
			done
		done < <(compgen -e)
		printf "exec '%s' \"\$@\"\n" "$bin"
	} >"$w.tmp" && chmod 0755 "$w.tmp" && mv -f -- "$w.tmp" "$w"
}

# svc_apache_start DIR PORT MODE API_BIN CONF_FILE [ADDR]
#   MODE fcgid: mod_fcgid spawns DIR/apache-wrapper.sh -f CONF_FILE (which execs API_BIN)
#   MODE proxy: mod_proxy_fcgi forwards to a running API at ADDR (unix:/path or HOST:PORT);
#               API_BIN and CONF_FILE are ignored (pass "-")
svc_apache_start() {
	local dir port=${2:-} mode=${3:-} bin=${4:-} conf=${5:-} addr=${6:-} pid url mods m
	local user=${SVC_APACHE_USER:-www-data} group=${SVC_APACHE_GROUP:-www-data} userconf=
	local ad=/usr/lib/apache2/modules exe
	dir=$(_svc_dir "${1:-}") || return 1
	_svc_port_ok "$port" || return 1
	exe=$(_svc_bin apache2 "apt-get install apache2") || return 1
	if pid=$(_svc_track_get "$dir" apache); then
		_svc_err "Apache already running in $dir (pid $pid)"
		return 1
	fi
	mkdir -p -- "$dir/apache/run" "$dir/apache/htdocs" "$dir/apache/fcgid" || return 1
	mods="mpm_event authz_core mime log_config unixd setenvif env alias"
	case $mode in
	fcgid)
		mods="$mods fcgid"
		bin=$(_svc_abs_path "$bin" API_BIN) || return 1
		conf=$(_svc_abs_path "$conf" CONF_FILE) || return 1
		[ -x "$bin" ] || { _svc_err "API_BIN not executable: $bin"; return 1; }
		[ -r "$conf" ] || { _svc_err "CONF_FILE not readable: $conf"; return 1; }
		_svc_apache_wrapper "$dir" "$bin" || return 1
		_svc_render "$_SVC_TOP/apache-conf/rolodex-fcgid.conf" "$dir/apache-site.conf" \
			PORT="$port" API_BIN="$dir/apache-wrapper.sh" CONF="$conf" || return 1
		;;
	proxy)
		mods="$mods proxy proxy_fcgi"
		_svc_parse_addr "$addr" || return 1
		if [ "$_SVC_ADDR_KIND" = unix ]; then
			url="unix:$_SVC_ADDR_PATH|fcgi://localhost/"
		else
			url="fcgi://$_SVC_ADDR_HOST:$_SVC_ADDR_PORT/"
		fi
		_svc_render "$_SVC_TOP/apache-conf/rolodex-proxy-fcgi.conf" "$dir/apache-site.conf" \
			PORT="$port" FCGI_URL="$url" || return 1
		;;
	*) _svc_err "svc_apache_start: MODE must be fcgid or proxy, got '$mode'"; return 1 ;;
	esac

	# Apache refuses to serve as root: workers (and mod_fcgid's API processes) run as $user.
	if [ "$(id -u)" = 0 ]; then
		userconf="User $user
Group $group"
		chmod o+x -- "$dir" || return 1
		chown -- "$user:$group" "$dir/apache/fcgid" || return 1
		chmod 0700 -- "$dir/apache/fcgid" || return 1
		if [ "$mode" = fcgid ]; then
			_svc_as_user "$user" test -x "$dir/apache-wrapper.sh" ||
				{ _svc_err "$user cannot execute $dir/apache-wrapper.sh (a parent of $dir not traversable? chmod o+x it)"; return 1; }
			_svc_as_user "$user" test -x "$bin" ||
				{ _svc_err "$user cannot execute $bin (make it and its parent directories o+rx)"; return 1; }
			_svc_as_user "$user" test -r "$conf" ||
				{ _svc_err "$user cannot read $conf (make it o+r or group $group, parents o+x)"; return 1; }
		elif [ "$_SVC_ADDR_KIND" = unix ]; then
			if [ -S "$_SVC_ADDR_PATH" ]; then
				chmod a+rw -- "$_SVC_ADDR_PATH" 2>/dev/null || true
				_svc_as_user "$user" test -w "$_SVC_ADDR_PATH" ||
					{ _svc_err "$user cannot connect to $_SVC_ADDR_PATH (socket mode or parent directories)"; return 1; }
			else
				printf 'services.sh: warning: %s does not exist yet; it must be connectable by %s\n' \
					"$_SVC_ADDR_PATH" "$user" >&2
			fi
		fi
	fi

	{
		printf '# generated by tests/integ/services.sh - private Apache httpd on 127.0.0.1:%s (%s)\n' "$port" "$mode"
		printf 'ServerRoot "%s/apache"\n' "$dir"
		for m in $mods; do
			if [ "$m" = log_config ] || [ "$m" = unixd ]; then
				printf '<IfModule !%s_module>\n    LoadModule %s_module %s/mod_%s.so\n</IfModule>\n' "$m" "$m" "$ad" "$m"
			else
				printf 'LoadModule %s_module %s/mod_%s.so\n' "$m" "$ad" "$m"
			fi
		done
		cat <<EOF
$userconf
ServerName 127.0.0.1
Listen 127.0.0.1:$port
DefaultRuntimeDir "$dir/apache/run"
PidFile "$dir/apache.pid"
ErrorLog "$dir/apache.err"
LogLevel warn
LogFormat "%h %l %u %t \"%r\" %>s %b %D" timed
CustomLog "$dir/apache/access.log" timed
TypesConfig /etc/mime.types
DocumentRoot "$dir/apache/htdocs"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
Timeout 60
KeepAlive On
StartServers 1
ServerLimit 4
ThreadsPerChild 16
MaxRequestWorkers 64
MinSpareThreads 4
MaxSpareThreads 32
EOF
		if [ "$mode" = fcgid ]; then
			cat <<EOF
FcgidIPCDir "$dir/apache/fcgid"
FcgidProcessTableFile "$dir/apache/fcgid/shm"
FcgidMaxProcesses 2
FcgidIdleScanInterval 10
EOF
		fi
		printf 'Include "%s/apache-site.conf"\n' "$dir"
	} >"$dir/httpd.conf" || return 1

	printf '=== %s apache %s on port %s ===\n' "$(date '+%F %T')" "$mode" "$port" >>"$dir/apache.out"
	if ! "$exe" -t -f "$dir/httpd.conf" >>"$dir/apache.out" 2>&1; then
		_svc_err "apache2 rejects $dir/httpd.conf"
		_svc_tail "$dir/apache.out"
		return 1
	fi
	printf '%s\n' "$port" >"$dir/apache.port"
	# -DFOREGROUND instead of "-k start": same server, but it stays our child (pid known, reaped)
	_svc_spawn "$dir/apache.out" "$exe" -f "$dir/httpd.conf" -DFOREGROUND
	pid=$_SVC_PID
	_svc_track_set "$dir" apache "$pid"
	if ! _svc_wait_up "Apache httpd (port $port, $mode)" "$pid" _svc_http_answers "$port"; then
		_svc_tail "$dir/apache.out" "$dir/apache.err"
		_svc_stop "$dir" apache Apache KILL >/dev/null 2>&1 || true
		return 1
	fi
}

# svc_apache_stop DIR (also ends the API processes mod_fcgid started)
svc_apache_stop() {
	local dir
	dir=$(_svc_dir "${1:-}") || return 1
	_svc_stop "$dir" apache Apache TERM
}

# --------------------------------------------------------------------------------------------
# Redis

_svc_redis_ping() {
	[ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
}

# svc_redis_start DIR [PORT]: AOF everysec in DIR/redis, noeviction, no RDB snapshots,
# DEBUG allowed from loopback (DEBUG SLEEP is a fault tool)
svc_redis_start() {
	local dir port=${2:-} pid exe
	dir=$(_svc_dir "${1:-}") || return 1
	if [ -z "$port" ] && [ -r "$dir/redis.port" ]; then
		read -r port <"$dir/redis.port"
	fi
	_svc_port_ok "$port" || return 1
	exe=$(_svc_bin redis-server "apt-get install redis-server") || return 1
	if pid=$(_svc_track_get "$dir" redis); then
		_svc_err "Redis already running in $dir (pid $pid)"
		return 1
	fi
	mkdir -p -- "$dir/redis" || return 1
	printf '%s\n' "$port" >"$dir/redis.port"
	_svc_spawn "$dir/redis.log" "$exe" --port "$port" --bind 127.0.0.1 \
		--dir "$dir/redis" --appendonly yes --appendfsync everysec \
		--maxmemory-policy noeviction --daemonize no --save '' \
		--pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
		--enable-debug-command local
	pid=$_SVC_PID
	_svc_track_set "$dir" redis "$pid"
	if ! _svc_wait_up "Redis (port $port, $dir)" "$pid" _svc_redis_ping "$port"; then
		_svc_tail "$dir/redis.log"
		_svc_stop "$dir" redis Redis KILL >/dev/null 2>&1 || true
		return 1
	fi
}

svc_redis_stop() {
	local dir
	dir=$(_svc_dir "${1:-}") || return 1
	_svc_stop "$dir" redis Redis TERM
}

svc_redis_kill() {
	local dir
	dir=$(_svc_dir "${1:-}") || return 1
	_svc_stop "$dir" redis Redis KILL
}

# --------------------------------------------------------------------------------------------
# any other long-running process (standalone API, relay, adapters, stubs)

# svc_proc_start DIR NAME CMD [ARGS...]: background CMD, output to DIR/proc-NAME.log; prints nothing.
# The caller checks readiness itself. PID: svc_proc_pid DIR NAME.
svc_proc_start() {
	local dir name=${2:-} pid
	dir=$(_svc_dir "${1:-}") || return 1
	case $name in '' | *[!A-Za-z0-9_.-]*) _svc_err "bad process name '$name'"; return 1 ;; esac
	[ $# -ge 3 ] || { _svc_err "usage: svc_proc_start DIR NAME CMD [ARGS...]"; return 1; }
	shift 2
	if pid=$(_svc_track_get "$dir" "proc-$name"); then
		_svc_err "$name already running in $dir (pid $pid)"
		return 1
	fi
	_svc_spawn "$dir/proc-$name.log" "$@"
	_svc_track_set "$dir" "proc-$name" "$_SVC_PID"
}

# svc_running DIR WHAT -> prints the PID and returns 0 if WHAT (mariadb, lighttpd, apache, redis,
# proc-NAME) started from DIR is running, else returns 1 silently
svc_running() {
	local dir
	dir=$(_svc_dir "${1:-}") || return 1
	_svc_track_get "$dir" "${2:-}"
}

svc_proc_pid() {
	local dir
	dir=$(_svc_dir "${1:-}") || return 1
	_svc_track_get "$dir" "proc-${2:-}"
}

# svc_proc_stop DIR NAME [SIGNAL]: default TERM (then KILL after SVC_STOP_TIMEOUT)
svc_proc_stop() {
	local dir
	dir=$(_svc_dir "${1:-}") || return 1
	_svc_stop "$dir" "proc-${2:-}" "${2:-}" "${3:-TERM}"
}

# --------------------------------------------------------------------------------------------

# svc_stop_all DIR: web servers first, then tracked processes, Redis, MariaDB
svc_stop_all() {
	local dir rc=0 f
	dir=$(_svc_dir "${1:-}") || return 1
	svc_apache_stop "$dir" || rc=1
	svc_lighttpd_stop "$dir" || rc=1
	for f in "$dir"/.svc/proc-*; do
		[ -e "$f" ] || continue
		f=${f##*/}
		svc_proc_stop "$dir" "${f#proc-}" || rc=1
	done
	svc_redis_stop "$dir" || rc=1
	svc_mariadb_stop "$dir" || rc=1
	return "$rc"
}
