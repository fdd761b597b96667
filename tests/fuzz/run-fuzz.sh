#!/bin/sh
# Runs the fuzz targets of tests/fuzz (see tests/fuzz/README.md).
#
# FUZZ_ENABLED=no (an ordinary build): each target replays its seed corpus
# tests/fuzz/corpus/<name>/ (which also keeps every input that once
# crashed) and must exit 0: a regression test that costs a second.
# FUZZ_ENABLED=yes (configure --enable-fuzz): each target is fuzzed for
# FUZZ_SECONDS (10 under make check) from its corpus; new inputs go to a
# temporary directory (kept in $top_builddir/fuzz-out/<name> when
# FUZZ_KEEP=1), crash inputs to $top_builddir/fuzz-out/crash-<name>-*.
# Exits 1 if any target crashed, leaked or failed, 77 if none was built.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-.}
FUZZ_ENABLED=${FUZZ_ENABLED:-no}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
FUZZ_TARGETS=${FUZZ_TARGETS:-"tests/fuzz/fuzz_party_body
    tests/fuzz/fuzz_merge_patch tests/fuzz/fuzz_jwt tests/fuzz/fuzz_query
    tests/fuzz/fuzz_conf tests/fuzz/fuzz_sf_response
    tests/fuzz/fuzz_d365_response"}
out="$top_builddir/fuzz-out"
pass=0
fail=0

run_one() {
	name=$(basename "$1")
	bin="$top_builddir/$1"
	seeds="$top_srcdir/tests/fuzz/corpus/$name"
	if [ ! -x "$bin" ]; then
		echo "SKIP $name: not built"
		return 77
	fi
	if [ "$FUZZ_ENABLED" != yes ]; then
		"$bin" "$seeds" </dev/null >"$out/$name.log" 2>&1
		return $?
	fi
	work="$out/$name"
	[ "${FUZZ_KEEP:-0}" = 1 ] || rm -rf "$work"
	mkdir -p "$work"
	# stdin from /dev/null and stdout to a file: the conf target may
	# name /dev/stdin as a secret file, which must never block.
	"$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
	    -rss_limit_mb=2048 -max_len=8192 -close_fd_mask=2 \
	    -print_final_stats=1 -artifact_prefix="$out/crash-$name-" \
	    "$work" "$seeds" </dev/null >"$out/$name.log" 2>&1
}

mkdir -p "$out"
built=0
for t in $FUZZ_TARGETS; do
	run_one "$t"
	rc=$?
	name=$(basename "$t")
	[ $rc -eq 77 ] && continue
	built=$((built + 1))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		echo "ok $name: $(grep -E '^(replayed|stat::number_of_executed_units)' \
		    "$out/$name.log" | tail -1)"
	else
		fail=$((fail + 1))
		echo "FAIL $name (exit $rc); log $out/$name.log:"
		tail -40 "$out/$name.log"
	fi
done
echo "$pass passed, $fail failed"
[ $built -eq 0 ] && exit 77
[ $fail -eq 0 ]
