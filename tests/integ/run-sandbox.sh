#!/bin/bash
# tests/integ/run-sandbox.sh - the automake TESTS entry for the SaaS sandboxes.
#
# Runs tests/sandbox/test_sandbox.py, which starts the Salesforce and
# Dataverse sandboxes on free loopback ports in a temporary directory, tests
# every endpoint, error body and fault mode, and stops what it started.  Then
# checks that tests/sandbox/sandbox.sh starts both sandboxes the way
# `./dev.sh up` and the adapter tests do, and that its generated
# configuration points at them.
#
# Exit 0 pass, 1 fail, 77 skip (python3, openssl or curl missing).  The last
# line is "N passed, M failed".  Bounded: the Python suite gets
# RLX_SBX_TIMEOUT seconds (default 120).
#
# Environment: top_srcdir (exported by `make check`; default: ../.. of this
# script), RLX_IT_KEEP=1 keeps the temporary directory.

set -u

here=$(cd "$(dirname "$0")" && pwd -P)
top_srcdir=$(cd "${top_srcdir:-$here/../..}" && pwd -P)

for prog in python3 openssl curl timeout; do
	command -v "$prog" >/dev/null 2>&1 || {
		printf 'SKIP: %s not installed\n' "$prog"
		exit 77
	}
done

# shellcheck source=services.sh
. "$top_srcdir/tests/integ/services.sh"
# shellcheck source=../sandbox/sandbox.sh
. "$top_srcdir/tests/sandbox/sandbox.sh"

T=$(mktemp -d /tmp/rlx-sbx.XXXXXX) || exit 1
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	SVC_STOP_TIMEOUT=10 svc_stop_all "$T" >/dev/null 2>&1 ||
		printf 'run-sandbox.sh: could not stop everything in %s\n' "$T" >&2
	if [ "${RLX_IT_KEEP:-0}" = 1 ]; then
		printf 'run-sandbox.sh: kept %s\n' "$T" >&2
	else
		rm -rf -- "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); printf 'ok   %s\n' "$*"; }
bad() { FAIL=$((FAIL + 1)); printf 'FAIL %s\n' "$*"; }

# 1. the Python suite
timeout -k 5 "${RLX_SBX_TIMEOUT:-120}" \
	python3 "$top_srcdir/tests/sandbox/test_sandbox.py" >"$T/suite.out" 2>&1
src=$?
cat "$T/suite.out"
last=$(tail -n 1 "$T/suite.out")
case $last in
*' passed, '*' failed')
	set -- $last
	PASS=$((PASS + $1))
	FAIL=$((FAIL + $3))
	;;
*)
	bad "test_sandbox.py ended without a summary (status $src)"
	;;
esac
[ "$src" -eq 0 ] || [ "$FAIL" -gt 0 ] || bad "test_sandbox.py exited $src"

# 2. sandbox.sh: start both, fetch a token each with the generated config
if sbx_start "$T" >"$T/start.out" 2>&1; then
	ok "sbx_start started both sandboxes"
else
	bad "sbx_start: $(cat "$T/start.out")"
fi
sbx_conf "$T" >"$T/adapters.conf"
sf_url=$(sed -n 's/^login_url = //p' "$T/adapters.conf")
sf_id=$(sed -n '/^\[salesforce\]/,/^\[/s/^client_id = //p' "$T/adapters.conf")
sf_secret=$(cat "$T/sandbox/sf-client-secret")
if curl -sf --max-time 10 -d grant_type=client_credentials \
	--data-urlencode "client_id=$sf_id" \
	--data-urlencode "client_secret=$sf_secret" \
	"$sf_url/services/oauth2/token" | grep -q '"access_token"'; then
	ok "Salesforce sandbox token with the generated [salesforce] config"
else
	bad "no Salesforce token from $sf_url"
fi
ctl=${top_builddir:-}/src/rolodexctl
if [ -x "$ctl" ]; then
	if "$ctl" -f "$T/adapters.conf" config check >"$T/check.out" 2>&1; then
		ok "rolodexctl config check accepts the sbx_conf output"
	else
		bad "rolodexctl config check: $(cat "$T/check.out")"
	fi
fi
tok_url=$(sed -n 's/^token_url = //p' "$T/adapters.conf")
dv_url=$(sed -n '/^\[d365\]/,/^\[/s/^url = //p' "$T/adapters.conf")
dv_id=$(sed -n '/^\[d365\]/,/^\[/s/^client_id = //p' "$T/adapters.conf")
dv_secret=$(cat "$T/sandbox/dv-client-secret")
if curl -sf --max-time 10 -d grant_type=client_credentials \
	--data-urlencode "client_id=$dv_id" \
	--data-urlencode "client_secret=$dv_secret" \
	--data-urlencode "scope=$dv_url/.default" "$tok_url" |
	grep -q '"ext_expires_in"'; then
	ok "Dataverse sandbox token with the generated [d365] config"
else
	bad "no Dataverse token from $tok_url"
fi
if sbx_stop "$T" && ! svc_proc_pid "$T" sbx-salesforce >/dev/null &&
	! svc_proc_pid "$T" sbx-dataverse >/dev/null; then
	ok "sbx_stop stopped both"
else
	bad "sbx_stop"
fi

printf '%d passed, %d failed\n' "$PASS" "$FAIL"
[ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]
