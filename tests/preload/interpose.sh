#!/bin/sh
# Interposition: the program's own kmalloc wins; C++ works; the launcher runs
# a program under the library and prints its statistics; options are parsed.
. "$top_srcdir/tests/preload/lib.sh"
out=$(LD_PRELOAD="$SM_LIB" "$top_builddir/tests/preload/own_kmalloc" 2>&1); st=$?
[ $st -eq 0 ] && [ "$out" = "own=3" ]; ok $? "a program's own kmalloc/kfree/mempool_create keep being called ($out)"
ref=$("$top_builddir/tests/preload/cxx_threads" 2>&1)
got=$(LD_PRELOAD="$SM_LIB" "$top_builddir/tests/preload/cxx_threads" 2>&1); st=$?
[ $st -eq 0 ] && [ "$got" = "$ref" ]; ok $? "C++ std::thread/new/delete program ($got)"
launcher="$top_builddir/tools/slabmalloc"
"$launcher" --lib="$SM_LIB" --stats python3 -c 'print(sum(len(str(i)) for i in range(100000)))' >"$tmp/l.out" 2>"$tmp/l.err"; st=$?
[ $st -eq 0 ] && [ "$(cat "$tmp/l.out")" = "488890" ]; ok $? "launcher runs python3 under the library"
grep -q '^slabinfo - version: 2.1' "$tmp/l.err"; ok $? "launcher --stats prints slabinfo"
grep -q '^kmalloc-64 ' "$tmp/l.err"; ok $? "slabinfo lists the kmalloc-64 cache"
grep -q '^Node 0, zone   Normal' "$tmp/l.err"; ok $? "launcher --stats prints buddyinfo"
"$launcher" --lib="$SM_LIB" --stats="$tmp/stats.txt" true; grep -q 'slabinfo - version: 2.1' "$tmp/stats.txt"; ok $? "--stats=FILE writes the report to FILE"
"$launcher" --bogus true 2>"$tmp/bogus.err"; st=$?
[ $st -eq 2 ] && grep -q "unknown option '--bogus'" "$tmp/bogus.err"; ok $? "launcher rejects an unknown option"
SLABMALLOC_OPTIONS="nosuchkey=1" LD_PRELOAD="$SM_LIB" /bin/true 2>"$tmp/w.err"; st=$?
[ $st -eq 0 ] && grep -q "unknown option 'nosuchkey' ignored" "$tmp/w.err"; ok $? "unknown option key: a warning, the program runs"
SLABMALLOC_OPTIONS="decay_ms=abc" LD_PRELOAD="$SM_LIB" /bin/true 2>"$tmp/e.err"
grep -q "bad value 'abc' for option 'decay_ms'" "$tmp/e.err"; ok $? "bad option value: a clear error"
done_testing
