#!/bin/sh
# tests/san-wrap.sh - the LOG_COMPILER of a --enable-sanitizers build.
#
#   san-wrap.sh TEST [ARGS...]
#
# Runs one test (a Check program, a fuzz replay, an integration script)
# with AddressSanitizer, LeakSanitizer and UBSan writing their reports to
# files in a private directory instead of stderr: a sanitizer report from
# a process the test does not watch itself (rolodex-api spawned by
# lighttpd or Apache, rolodexctl run by a script) still fails the test.
# The test's own exit status is kept; any report file turns a pass into a
# failure (exit 1) and is printed.  The directory is world-writable
# (sticky) because Apache runs the API as www-data, and is removed after.
set -u

d=$(mktemp -d /tmp/rlx-san.XXXXXX) || exit 99
chmod 0755 "$d"
mkdir "$d/r" && chmod 1777 "$d/r" || exit 99

# halt_on_error: the first report ends the process (UBSan is built with
# -fno-sanitize-recover too); exitcode 86 marks a sanitizer exit.
common="log_path=$d/r/san:halt_on_error=1:print_stacktrace=1"
# Inherited options come first, so ours (the last of a name wins) decide
# where reports go, also when one wrapped test runs another.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}$common:detect_leaks=1:exitcode=86:detect_stack_use_after_return=1:check_initialization_order=1"
UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}$common"
LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}log_path=$d/r/san:exitcode=86"
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

"$@"
rc=$?

reports=$(find "$d/r" -type f -size +0 2>/dev/null | sort)
if [ -n "$reports" ]; then
	n=$(printf '%s\n' "$reports" | wc -l)
	echo "san-wrap: $n sanitizer report(s) from $*:"
	for f in $reports; do
		echo "--- $f"
		head -n 80 "$f"
	done
	case $rc in 0|77) rc=1 ;; esac
fi
rm -rf "$d"
exit "$rc"
