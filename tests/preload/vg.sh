#!/bin/sh
# valgrind client requests: memcheck, told to keep slabmalloc's malloc
# (--soname-synonyms=somalloc=nouserintercepts), sees its blocks.
. "$top_srcdir/tests/preload/lib.sh"
prog="$top_builddir/tests/preload/vg_misuse"
if ! command -v valgrind >/dev/null 2>&1; then
	skip "memcheck sees slabmalloc's blocks" "valgrind not installed"
elif ! grep -q "define SM_VALGRIND 1" "$top_builddir/config.h"; then
	skip "memcheck sees slabmalloc's blocks" "built without valgrind/memcheck.h"
else
	LD_PRELOAD="$SM_LIB" timeout 300 valgrind --soname-synonyms=somalloc=nouserintercepts \
		"$prog" >"$tmp/out" 2>"$tmp/err"
	grep -q "1 bytes after a block of size 24 alloc'd" "$tmp/err"
	ok $? "memcheck: a read one byte past a 24-byte block"
	grep -q "3 bytes inside a block of size 24 free'd" "$tmp/err"
	ok $? "memcheck: a read after free"
	grep -q "depends on uninitialised value" "$tmp/err"
	ok $? "memcheck: an uninitialised read"
	grep -q "debug.c" "$tmp/err" || grep -q "libslabmalloc" "$tmp/err"
	ok $? "the blocks are slabmalloc's (allocated in libslabmalloc)"
	[ $? -eq 0 ] || sed 's/^/# /' "$tmp/err" | head -30
fi
done_testing
