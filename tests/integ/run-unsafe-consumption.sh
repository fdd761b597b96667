#!/bin/bash
# tests/integ/run-unsafe-consumption.sh - OWASP API10 (unsafe consumption of APIs): the adapters'
# HTTP client (src/http_client.c) against hostile endpoints on loopback, through tests/integ/
# http-probe.  Checks: TLS verification is on (a self-signed certificate is refused), plain http
# is refused unless allow_http, a response over max_response is refused, a redirect to another
# host is returned, never followed (the other host sees no request), a slow answer times out.
# Exit 0 pass, 1 fail, 77 skip; the last line is "N passed, M failed".  About 3 s.
set -u
here=$(cd "$(dirname "$0")" && pwd -P)
top_builddir=${top_builddir:-$PWD}
PROBE=$top_builddir/tests/integ/http-probe
[ -x "$PROBE" ] || { echo "SKIP: $PROBE not built"; exit 77; }
for p in python3 openssl; do
	command -v "$p" >/dev/null 2>&1 || { echo "SKIP: $p not installed"; exit 77; }
done
T=$(mktemp -d /tmp/rlx-uc.XXXXXX) || exit 1
STUB=
cleanup() {
	local rc=$?
	[ -n "$STUB" ] && kill "$STUB" 2>/dev/null && wait "$STUB" 2>/dev/null
	rm -rf -- "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$T/key.pem" -out "$T/cert.pem" \
    >/dev/null 2>&1 || { echo "cannot make a certificate"; exit 1; }
python3 "$here/unsafe_stub.py" "$T/cert.pem" "$T/key.pem" "$T/ports" &
STUB=$!
for _ in $(seq 100); do [ -s "$T/ports" ] && break; sleep 0.05; done
[ -s "$T/ports" ] || { echo "the stub did not start"; exit 1; }
read -r HTTP HTTPS OTHER <"$T/ports"

pass=0
fail=0
# check NAME EXPECTED-EXIT OUTPUT-PATTERN PROBE-ARGS...
check() {
	local name=$1 want=$2 pat=$3 out rc
	shift 3
	out=$("$PROBE" "$@" 2>"$T/probe.err")
	rc=$?
	if [ "$rc" = "$want" ] && printf '%s\n' "$out" | grep -Eq -- "$pat"; then
		pass=$((pass + 1))
		echo "ok   $name: $out"
	else
		fail=$((fail + 1))
		echo "FAIL $name: exit $rc (want $want), output '$out' (want /$pat/)"
		sed 's/^/     /' "$T/probe.err"
	fi
}

check "plain http works with allow_http" 0 '^status 200 len 100 ' -a GET "http://127.0.0.1:$HTTP/small"
check "plain http refused without allow_http" 1 '^refused: ' GET "http://127.0.0.1:$HTTP/small"
check "self-signed certificate refused" 1 '^refused: .*(SSL|certificate)' \
    -a GET "https://127.0.0.1:$HTTPS/small"
check "body within max_response" 0 '^status 200 len 5000 ' -a -m 5000 GET \
    "http://127.0.0.1:$HTTP/big?n=5000"
check "body over max_response refused" 1 '^refused: ' -a -m 5000 GET \
    "http://127.0.0.1:$HTTP/big?n=5001"
check "2 MB body over a 1 MiB cap refused" 1 '^refused: ' -a GET \
    "http://127.0.0.1:$HTTP/big?n=2000000"
check "redirect to another host not followed" 0 "^status 302 len 0 location http://127.0.0.2:$OTHER/" \
    -a GET "http://127.0.0.1:$HTTP/redirect"
check "slow answer times out" 1 '^refused: .*(imeout|timed out)' -a -t 500 GET \
    "http://127.0.0.1:$HTTP/slow"
hits=$(curl -s --max-time 5 "http://127.0.0.1:$HTTP/hits")
if [ "$hits" = 0 ]; then
	pass=$((pass + 1))
	echo "ok   the other host received no request"
else
	fail=$((fail + 1))
	echo "FAIL the other host received '$hits' requests"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
