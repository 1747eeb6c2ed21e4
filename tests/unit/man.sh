#!/bin/sh
# The man pages (man/): every page lints clean (mandoc -T lint at warning
# level, or groff -ww -z where mandoc is missing), renders with man -l, the
# alias pages (.so) point at pages that exist and render through man, and
# slabmalloc(7) documents every key of src/top/options.c.
. "$top_srcdir/tests/preload/lib.sh"
mandir="$top_srcdir/man"
pages=$(cd "$mandir" && ls man1/*.1 man3/*.3 man7/*.7)
main="" aliases=""
for p in $pages; do
	if grep -q '^\.so ' "$mandir/$p"; then aliases="$aliases $p"; else main="$main $p"; fi
done
[ -n "$main" ] && [ -n "$aliases" ]; ok $? "pages found: $(echo $main | wc -w) pages, $(echo $aliases | wc -w) aliases"

# Lint. mandoc names every .so request "fragile" (it prefers links); for an
# alias page that line is its whole content and the only message allowed.
if command -v mandoc >/dev/null 2>&1; then
	for p in $main; do
		out=$(cd "$mandir" && timeout 30 mandoc -T lint -W warning "$p" 2>&1)
		[ -z "$out" ]; ok $? "mandoc -T lint: $p"
		[ -z "$out" ] || diag "$out"
	done
	bad=""
	for p in $aliases; do
		out=$(cd "$mandir" && timeout 30 mandoc -T lint -W warning "$p" 2>&1 | grep -v '\.so is fragile')
		[ -z "$out" ] || bad="$bad $p: $out"
	done
	[ -z "$bad" ]; ok $? "mandoc -T lint: the alias pages (beyond the .so notice)"
	[ -z "$bad" ] || diag "$bad"
elif command -v groff >/dev/null 2>&1; then
	for p in $main; do
		out=$(cd "$mandir" && timeout 30 groff -ww -z -man "$p" 2>&1)
		[ -z "$out" ]; ok $? "groff -ww -z: $p"
		[ -z "$out" ] || diag "$out"
	done
else
	skip "man page lint" "neither mandoc nor groff is installed"
fi

# Every alias names an existing page.
bad=""
for p in $aliases; do
	t=$(sed -n 's/^\.so //p' "$mandir/$p")
	[ -f "$mandir/$t" ] || bad="$bad $p->$t"
done
[ -z "$bad" ]; ok $? "every .so alias points at a page (bad:$bad)"

# Rendering with man, as installed: a copy of the tree, read by man -M.
if command -v man >/dev/null 2>&1; then
	for p in $main; do
		out=$(cd "$mandir" && MANWIDTH=80 timeout 30 man -P cat -l "$p" 2>&1)
		echo "$out" | grep -q '^NAME'; ok $? "man -l renders $p"
	done
	mkdir -p "$tmp/man"
	cp -R "$mandir/man1" "$mandir/man3" "$mandir/man7" "$tmp/man/"
	for a in kfree kmem_cache_alloc mempool_alloc free_pages vfree iounmap per_cpu_ptr free_bootmem; do
		out=$(MANPATH="$tmp/man" MANWIDTH=80 timeout 30 man -P cat -M "$tmp/man" 3 "$a" 2>&1)
		echo "$out" | grep -q "^NAME" && echo "$out" | grep -q "$a"
		ok $? "man $a renders its page through the alias"
	done
	out=$(MANWIDTH=80 timeout 30 man -P cat -M "$tmp/man" 7 slabmalloc 2>&1)
	echo "$out" | grep -q "SLABMALLOC_OPTIONS"; ok $? "man 7 slabmalloc renders"
else
	skip "man rendering" "man is not installed"
fi

# slabmalloc(7) documents every option key.
keys=$(sed -n 's/^[[:space:]]*{ "\([a-z_]*\)", .*/\1/p' "$top_srcdir/src/top/options.c")
[ -n "$keys" ]; ok $? "option keys found in options.c ($(echo $keys | tr '\n' ' '))"
missing=""
for k in $keys; do
	grep -q "^\.B[IR]* $k=" "$mandir/man7/slabmalloc.7" || missing="$missing $k"
done
[ -z "$missing" ]; ok $? "slabmalloc(7) documents every key (missing:$missing)"
done_testing
