#!/bin/sh
# fork() beside threads holding stdio locks, and from a signal handler that
# interrupted malloc/free: each program (TAP, with its own watchdog) passes
# with the C library's malloc and under LD_PRELOAD.
. "$top_srcdir/tests/preload/lib.sh"
for prog in fork_stdio fork_signal; do
	bin="$top_builddir/tests/preload/$prog"
	"$bin" >"$tmp/ref.out" 2>&1; st=$?
	[ $st -eq 0 ] && ! grep -q '^not ok' "$tmp/ref.out"; ok $? "$prog passes with the C library's malloc"
	LD_PRELOAD="$SM_LIB" "$bin" >"$tmp/sm.out" 2>&1; st=$?
	[ $st -eq 0 ] && grep -q '^ok 1' "$tmp/sm.out" && ! grep -q '^not ok' "$tmp/sm.out"
	ok $? "$prog passes under LD_PRELOAD"
	[ $st -eq 0 ] || diag "$(head -c 600 "$tmp/sm.out")"
done
done_testing
