#!/bin/sh
# The layers of libslabmalloc only call down (DESIGN.md section 2).
#
# From the object files of the core library (the members of its archive),
# nm gives each file's defined and undefined symbols; a symbol one file uses
# and another defines is an edge between the two files. src/layers.txt gives every file a floor. The
# test fails on a file that has no floor (or a floor with no file), on any
# edge to a higher floor, and on any cycle, and prints the graph it saw.
. "$top_srcdir/tests/preload/lib.sh"
table="$top_srcdir/src/layers.txt"

# The objects: the members of the core library's convenience archive
# (always built by libtool, whatever --disable-static says), so that stale
# objects of files that no longer exist are not read.
ar="$top_builddir/src/.libs/libslabmalloc_core.a"
[ -f "$ar" ]; ok $? "the core library's archive is built ($ar)"

# floor of each file: "name floor"
grep -v '^#' "$table" | awk 'NF >= 3 { for (i = 3; i <= NF; i++) print $i, $1 }' >"$tmp/floors"
ar t "$ar" | sed 's/\.o$//' | sort >"$tmp/members"
same=$(uniq -d "$tmp/members" | tr '\n' ' ')
[ -z "$same" ]; ok $? "no two object files share a name (shared: $same)"
sort -u "$tmp/members" >"$tmp/files"
cut -d' ' -f1 "$tmp/floors" | sort >"$tmp/listed"
missing=$(comm -23 "$tmp/files" "$tmp/listed" | tr '\n' ' ')
[ -z "$missing" ]; ok $? "every object file has a floor in src/layers.txt (missing: $missing)"
stale=$(comm -13 "$tmp/files" "$tmp/listed" | tr '\n' ' ')
[ -z "$stale" ]; ok $? "every file of src/layers.txt is built (stale: $stale)"
dups=$(sort "$tmp/listed" | uniq -d | tr '\n' ' ')
[ -z "$dups" ]; ok $? "no file has two floors (twice: $dups)"

# symbols: "D file sym" and "U file sym" (nm -A names the member)
{
	nm -A --defined-only -g "$ar" | awk 'NF == 3 { n = split($1, a, ":"); f = a[n - 1];
		sub(/\.o$/, "", f); print "D", f, $3 }'
	nm -A -u "$ar" | awk '{ n = split($1, a, ":"); f = a[n - 1]; sub(/\.o$/, "", f);
		print "U", f, $NF }'
} >"$tmp/syms"

# edges "from to symbol", one per symbol used across files
awk '$1 == "D" { def[$3] = $2 } $1 == "U" { use[++n] = $2 " " $3 }
     END { for (i = 1; i <= n; i++) { split(use[i], a, " ");
           if ((a[2] in def) && def[a[2]] != a[1]) print a[1], def[a[2]], a[2] } }' \
	"$tmp/syms" | sort >"$tmp/edges"
[ -s "$tmp/edges" ]; ok $? "calls between files found ($(wc -l <"$tmp/edges") symbols)"

# the graph, one line per pair of files with their floors
awk 'NR == FNR { fl[$1] = $2; next }
     { k = $1 " " $2; if (!(k in seen)) { seen[k] = 1; order[++n] = k } cnt[k]++ }
     END { for (i = 1; i <= n; i++) { split(order[i], a, " ");
           printf "%s(%s) -> %s(%s) %d\n", a[1], fl[a[1]], a[2], fl[a[2]], cnt[order[i]] } }' \
	"$tmp/floors" "$tmp/edges" >"$tmp/graph"

awk 'NR == FNR { fl[$1] = $2; next }
     (($1 in fl) && ($2 in fl) && fl[$2] + 0 > fl[$1] + 0) { print $1 " -> " $2 " (" $3 ")" }' \
	"$tmp/floors" "$tmp/edges" >"$tmp/up"
if [ -s "$tmp/up" ]; then
	ok 1 "no call goes to a higher floor"
	sed 's/^/# up: /' "$tmp/up"
else
	ok 0 "no call goes to a higher floor"
fi

cut -d' ' -f1,2 "$tmp/edges" | sort -u >"$tmp/pairs"
if tsort "$tmp/pairs" >/dev/null 2>"$tmp/tsort.err"; then
	ok 0 "the calls between files form no cycle"
else
	ok 1 "the calls between files form no cycle"
	sed 's/^/# /' "$tmp/tsort.err"
fi

if [ "$failed" -ne 0 ]; then
	diag "the graph (file(floor) -> file(floor) symbols):"
	sed 's/^/#   /' "$tmp/graph"
fi
done_testing
