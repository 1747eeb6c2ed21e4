#!/bin/sh
# The randomized stress program (mixed.t) with every slub_debug flag on and
# a leak report requested: byte-verified, validators run, and no report.
. "$top_srcdir/tests/preload/lib.sh"
prog="$top_builddir/tests/stress/mixed.t"
SLABMALLOC_OPTIONS=debug=FZPU,leak="$tmp/leaks" MIXED_STEPS=20000 \
	timeout 600 "$prog" >"$tmp/out" 2>"$tmp/err"
st=$?
ok $st "mixed.t passes with debug=FZPU (status $st)"
[ $st -eq 0 ] || sed 's/^/# /' "$tmp/out" "$tmp/err" | head -40
! grep -q "BUG" "$tmp/err"; ok $? "no slub_debug report on a valid run"
grep -q "leak report" "$tmp/leaks"; ok $? "the leak report was written at exit"
done_testing
