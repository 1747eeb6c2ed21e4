#!/bin/sh
# The installed package as a user sees it: `make install` into a temporary
# DESTDIR, then the README's kernel-style example (section "Using it") is
# compiled and linked through pkg-config alone, shared and static, and run.
# The environment (Makefile.am) gives top_srcdir, top_builddir, and the
# build's make, compiler and link flags as SM_MAKE, SM_CC, SM_LDFLAGS.
. "$top_srcdir/tests/preload/lib.sh"

make_=${SM_MAKE:-make}
cc=${SM_CC:-cc}
dest=$tmp/dest

if ! command -v pkg-config >/dev/null 2>&1; then
	skip "installed package builds through pkg-config" "pkg-config not installed"
	done_testing
	exit
fi

# A make of its own: none of the jobserver or flags of the make running
# the tests.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$make_" -C "$top_builddir" install \
	DESTDIR="$dest" >"$tmp/install.log" 2>&1
st=$?
ok $st "make install DESTDIR=<tmp>"
[ $st -eq 0 ] || diag "$(tail -20 "$tmp/install.log")"

pcfile=$(find "$dest" -name slabmalloc.pc -path '*/pkgconfig/*' | head -1)
[ -n "$pcfile" ]
ok $? "slabmalloc.pc installed in a pkgconfig directory (${pcfile#$dest})"
PKG_CONFIG_PATH=$(dirname "${pcfile:-/nonexistent/x}")
PKG_CONFIG_LIBDIR=$PKG_CONFIG_PATH          # not the system's .pc files
export PKG_CONFIG_PATH PKG_CONFIG_LIBDIR
# The .pc names the configured paths; the files are under $dest.
libdir=$(pkg-config --variable=libdir slabmalloc)
incdir=$(pkg-config --variable=includedir slabmalloc)
pc() { pkg-config --define-variable=libdir="$dest$libdir" \
	--define-variable=includedir="$dest$incdir" "$@" slabmalloc; }

# <slabmalloc.h> directly in includedir, the kernel-style headers in
# includedir/slabmalloc/, every header the umbrella includes among them.
missing=
[ -f "$dest$incdir/slabmalloc.h" ] || missing="$missing slabmalloc.h"
for h in $(sed -n 's/^#include <\(slabmalloc\/[a-z_]*\.h\)>.*/\1/p' \
	"$top_srcdir/include/slabmalloc.h"); do
	[ -f "$dest$incdir/$h" ] || missing="$missing $h"
done
[ -z "$missing" ] && [ ! -e "$dest$incdir/include" ]
ok $? "headers installed as includedir/slabmalloc.h and includedir/slabmalloc/*.h"
[ -z "$missing" ] || diag "missing under $incdir:$missing"
[ -e "$dest$incdir/include" ] && diag "stray $incdir/include/"

# The introspection tools and the man pages.
bindir=$(find "$dest" -type f -name slabmalloc-ctl -path '*/bin/*' | head -1)
[ -n "$bindir" ] && [ -x "$(dirname "$bindir")/slabmalloc-top" ]
ok $? "slabmalloc-top and slabmalloc-ctl installed (${bindir#$dest})"
man1=$(find "$dest" -name slabmalloc-top.1 | head -1)
mandir=$(dirname "$(dirname "${man1:-/nonexistent/man1/x}")")
missing=
for p in man1/slabmalloc.1 man1/slabmalloc-top.1 man1/slabmalloc-ctl.1 \
         man7/slabmalloc.7 man3/kmalloc.3 man3/kfree.3 man3/kmem_cache_create.3 \
         man3/mempool_create.3 man3/alloc_pages.3 man3/vmalloc.3 \
         man3/ioremap.3 man3/alloc_percpu.3 man3/alloc_bootmem.3; do
	[ -f "$mandir/$p" ] || missing="$missing $p"
done
[ -n "$man1" ] && [ -z "$missing" ]
ok $? "man pages installed in sections 1, 3 and 7 (${mandir#$dest}; missing:$missing)"
if command -v man >/dev/null 2>&1 && [ -n "$man1" ]; then
	out=$(MANWIDTH=80 timeout 30 man -P cat -M "$mandir" 3 kfree 2>&1)
	echo "$out" | grep -q "^NAME" && echo "$out" | grep -q "kmalloc"
	ok $? "man kfree finds the installed kmalloc(3) through its alias"
else
	skip "man kfree on the installed pages" "man not installed"
fi

# The example, as the README shows it.
awk '/^Kernel-style code/ { want = 1 }
     want && /^```$/ && inside { exit }
     inside { print }
     want && /^```c$/ { inside = 1 }' "$top_srcdir/README.md" >"$tmp/conn.c"
grep -q 'kmem_cache_create("conn"' "$tmp/conn.c"
ok $? "README.md has the kernel-style example"

check_run() { # check_run NAME BINARY [ENV...]: runs, prints fd -1 and conn's slabinfo line
	name=$1 bin=$2; shift 2
	env "$@" "$bin" >"$tmp/$name.out" 2>"$tmp/$name.err"
	st=$?
	[ $st -eq 0 ] && grep -q '^fd -1$' "$tmp/$name.out" &&
		grep -q '^# name ' "$tmp/$name.out" && grep -q '^conn ' "$tmp/$name.out"
	ok $? "$name: the example runs (status $st), its object is constructed, slabinfo lists conn"
	[ $st -eq 0 ] || diag "stderr: $(head -c 600 "$tmp/$name.err")"
}

# Shared: cc conn.c $(pkg-config --cflags --libs slabmalloc)
$cc -o "$tmp/conn" "$tmp/conn.c" $(pc --cflags --libs) $SM_LDFLAGS >"$tmp/cc.log" 2>&1
st=$?
ok $st "shared: cc conn.c \$(pkg-config --cflags --libs slabmalloc) ($(pc --cflags --libs))"
[ $st -eq 0 ] || diag "$(head -c 1500 "$tmp/cc.log")"
LD_LIBRARY_PATH="$dest$libdir" ldd "$tmp/conn" 2>/dev/null |
	grep -q "libslabmalloc\.so.* => $dest$libdir/"
ok $? "shared: the program loads the installed libslabmalloc.so"
check_run shared "$tmp/conn" LD_LIBRARY_PATH="$dest$libdir"

# Static: cc -static conn.c $(pkg-config --static --cflags --libs slabmalloc).
# The library needs the thread library: Libs.private must say so.
static_libs=$(pc --static --libs)
case " $static_libs " in
*" -lpthread "* | *" -pthread "*) ok 0 "static: Libs.private brings the thread library ($static_libs)" ;;
*) ok 1 "static: Libs.private brings the thread library ($static_libs)" ;;
esac
$cc -static -o "$tmp/conn-static" "$tmp/conn.c" $(pc --static --cflags --libs) $SM_LDFLAGS \
	>"$tmp/cc-static.log" 2>&1
st=$?
ok $st "static: cc -static conn.c \$(pkg-config --static --cflags --libs slabmalloc)"
[ $st -eq 0 ] || diag "$(head -c 1500 "$tmp/cc-static.log")"
! readelf -d "$tmp/conn-static" 2>/dev/null | grep -q NEEDED
ok $? "static: the program needs no shared library"
check_run static "$tmp/conn-static"

done_testing
