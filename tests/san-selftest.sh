#!/bin/sh
# tests/san-selftest.sh - proves that tests/san-wrap.sh fails a test when
# any process of it reports a sanitizer error, even a process whose exit
# status nobody looks at (a web server's child) and one running as
# another user (Apache's www-data).  Only in --enable-sanitizers builds.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-.}
canary=$(cd "$top_builddir" && pwd)/tests/san_canary
wrap="$top_srcdir/tests/san-wrap.sh"
pass=0
fail=0
[ -x "$canary" ] || { echo "SKIP: $canary not built"; exit 77; }

# expect RC MODE [USER]: the wrapped shell ignores the canary's status.
expect() {
	want=$1 mode=$2 user=${3:-}
	if [ -n "$user" ]; then
		cmd="runuser -u $user -- $canary $mode"
	else
		cmd="$canary $mode"
	fi
	sh "$wrap" sh -c "$cmd >/dev/null 2>&1; exit 0" >/dev/null 2>&1
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		pass=$((pass + 1))
		echo "ok $mode${user:+ as $user}: exit $rc"
	else
		fail=$((fail + 1))
		echo "FAIL $mode${user:+ as $user}: exit $rc, wanted $want"
	fi
}

expect 0 none
for m in heap uaf leak ubsan; do
	expect 1 "$m"
done
# Apache runs the API as www-data; the report directory must take it.
if [ "$(id -u)" = 0 ] && id www-data >/dev/null 2>&1 &&
    command -v runuser >/dev/null 2>&1; then
	chmod o+rx "$(dirname "$canary")" 2>/dev/null
	expect 0 none www-data
	expect 1 heap www-data
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
