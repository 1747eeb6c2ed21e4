# Shared helpers for the preload tier's TAP shell tests.
# The test environment exports top_srcdir, top_builddir and SM_LIB.
n=0
failed=0
ok() { # ok STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
skip() { # skip DESCRIPTION REASON
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}
diag() { echo "# $*"; }
done_testing() { echo "1..$n"; [ "$failed" -eq 0 ]; }
: "${SM_LIB:=$top_builddir/src/.libs/libslabmalloc.so}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sm-preload.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# run_both NAME CMD...: run with and without the allocator, compare output
run_both() {
	name=$1; shift
	if ! command -v "$1" >/dev/null 2>&1; then
		skip "$name" "$1 not installed"
		return
	fi
	"$@" >"$tmp/ref.out" 2>"$tmp/ref.err"; ref=$?
	LD_PRELOAD="$SM_LIB" "$@" >"$tmp/sm.out" 2>"$tmp/sm.err"; got=$?
	if [ "$ref" -eq "$got" ] && cmp -s "$tmp/ref.out" "$tmp/sm.out"; then
		ok 0 "$name: same output and status ($got) under LD_PRELOAD"
	else
		ok 1 "$name: same output and status under LD_PRELOAD (ref $ref, got $got)"
		diag "stderr: $(head -c 600 "$tmp/sm.err")"
		diag "diff: $(diff "$tmp/ref.out" "$tmp/sm.out" | head -5)"
	fi
}
