# shellcheck shell=bash
#
# tests/sandbox/sandbox.sh - start and stop the SaaS sandboxes from a shell,
# and write the adapters' configuration that points at them.  For
# `./dev.sh up` and for integration tests; source it after services.sh:
#
#   . tests/integ/services.sh
#   . tests/sandbox/sandbox.sh
#   sbx_start "$DIR"                 # both sandboxes, no faults
#   sbx_conf "$DIR" >>rolodex.conf   # [adapter] [salesforce] [d365]
#   ...
#   sbx_stop "$DIR"                  # or svc_stop_all "$DIR"
#
# Functions (0 on success, non-zero with a message on stderr on failure):
#   sbx_start DIR     start salesforce.py and dataverse.py as the tracked
#                     processes sbx-salesforce and sbx-dataverse of DIR
#                     (svc_proc_start: logs in DIR/proc-NAME.log), wait
#                     (bounded, SVC_START_TIMEOUT seconds) until both answer
#   sbx_stop DIR      stop both (SIGTERM; they save their records)
#   sbx_conf DIR      print the configuration sections for the adapters
#   sbx_url DIR salesforce|dataverse   print the base URL
#
# State under DIR/sandbox/: the ports (reused by the next sbx_start, so the
# configuration written once stays valid), the client secrets (random,
# mode 0600, made once), the records (salesforce.json, dataverse.json,
# saved at shutdown and loaded at start).
#
# Environment: SBX_SF_ARGS, SBX_DV_ARGS - extra arguments, e.g.
# "--latency-ms 50" or "--fail-rate 0.2" (split on white space).

_SBX_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

_sbx_err() { printf 'sandbox.sh: %s\n' "$*" >&2; return 1; }

# _sbx_secret FILE: a random secret in FILE unless it exists
_sbx_secret() {
	[ -s "$1" ] && return 0
	(umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$1")
}

# _sbx_port DIR NAME: the saved port of NAME, or a free one (saved)
_sbx_port() {
	local f=$1/sandbox/$2.port p
	if [ -s "$f" ]; then
		cat "$f"
		return 0
	fi
	p=$(svc_free_port "$1") || return 1
	printf '%s\n' "$p" >"$f"
	printf '%s\n' "$p"
}

sbx_url() {
	local p
	p=$(cat "$1/sandbox/$2.port" 2>/dev/null) ||
		{ _sbx_err "no $2 sandbox in $1"; return 1; }
	printf 'http://127.0.0.1:%s\n' "$p"
}

# _sbx_wait URL NAME DIR: until URL/__sandbox/health answers (bounded)
_sbx_wait() {
	local end=$((SECONDS + ${SVC_START_TIMEOUT:-30}))
	until curl -sf --max-time 2 -o /dev/null "$1/__sandbox/health"; do
		if ! svc_proc_pid "$3" "$2" >/dev/null; then
			tail -n 20 "$3/proc-$2.log" >&2
			_sbx_err "$2 exited"
			return 1
		fi
		[ "$SECONDS" -lt "$end" ] || { _sbx_err "$2 did not answer"; return 1; }
		sleep 0.1
	done
}

sbx_start() {
	local dir=${1:-} sf dv py
	[ -n "$dir" ] || { _sbx_err "usage: sbx_start DIR"; return 1; }
	mkdir -p "$dir/sandbox" || return 1
	dir=$(cd "$dir" && pwd -P) || return 1
	py=$(command -v python3) || { _sbx_err "python3 not installed"; return 1; }
	_sbx_secret "$dir/sandbox/sf-client-secret" || return 1
	_sbx_secret "$dir/sandbox/dv-client-secret" || return 1
	sf=$(_sbx_port "$dir" salesforce) || return 1
	dv=$(_sbx_port "$dir" dataverse) || return 1
	# shellcheck disable=SC2086 # SBX_*_ARGS are word lists on purpose
	svc_proc_start "$dir" sbx-salesforce "$py" "$_SBX_HERE/salesforce.py" \
	    --port "$sf" --client-id rolodex-dev \
	    --client-secret "$(cat "$dir/sandbox/sf-client-secret")" \
	    --state "$dir/sandbox/salesforce.json" ${SBX_SF_ARGS:-} || return 1
	# shellcheck disable=SC2086
	svc_proc_start "$dir" sbx-dataverse "$py" "$_SBX_HERE/dataverse.py" \
	    --port "$dv" --client-id 5f1d6a4e-7b1c-4e0a-9d3e-2c6b8a7f0d11 \
	    --client-secret "$(cat "$dir/sandbox/dv-client-secret")" \
	    --state "$dir/sandbox/dataverse.json" ${SBX_DV_ARGS:-} || return 1
	_sbx_wait "http://127.0.0.1:$sf" sbx-salesforce "$dir" || return 1
	_sbx_wait "http://127.0.0.1:$dv" sbx-dataverse "$dir" || return 1
	printf 'Salesforce sandbox: http://127.0.0.1:%s  (records: /__sandbox/records/Contact)\n' "$sf"
	printf 'Dataverse sandbox:  http://127.0.0.1:%s  (records: /__sandbox/records/contacts)\n' "$dv"
}

sbx_stop() {
	local dir=${1:-} rc=0
	[ -n "$dir" ] || { _sbx_err "usage: sbx_stop DIR"; return 1; }
	if svc_proc_pid "$dir" sbx-salesforce >/dev/null; then
		svc_proc_stop "$dir" sbx-salesforce || rc=1
	fi
	if svc_proc_pid "$dir" sbx-dataverse >/dev/null; then
		svc_proc_stop "$dir" sbx-dataverse || rc=1
	fi
	return "$rc"
}

sbx_conf() {
	local dir=${1:-} sf dv
	[ -n "$dir" ] || { _sbx_err "usage: sbx_conf DIR"; return 1; }
	dir=$(cd "$dir" && pwd -P) || return 1
	sf=$(sbx_url "$dir" salesforce) || return 1
	dv=$(sbx_url "$dir" dataverse) || return 1
	cat <<EOF
# The SaaS sandboxes (tests/sandbox), written by sbx_conf.
[adapter]
allow_http = yes

[salesforce]
auth_flow = client_credentials
login_url = $sf
api_version = v60.0
client_id = rolodex-dev
client_secret_file = $dir/sandbox/sf-client-secret
external_id_field = Rolodex_Id__c

[d365]
token_url = $dv/rolodex-dev/oauth2/v2.0/token
url = $dv
client_id = 5f1d6a4e-7b1c-4e0a-9d3e-2c6b8a7f0d11
client_secret_file = $dir/sandbox/dv-client-secret
api_version = v9.2
alternate_key = new_rolodexid
EOF
}
