#!/bin/sh
# The shared library exports the malloc family and slabmalloc_* only.
. "$top_srcdir/tests/preload/lib.sh"
nm -D --defined-only "$SM_LIB" | awk '$2 ~ /^[TWDBVR]$/ { print $3 }' | sed 's/@.*//' | sort -u >"$tmp/syms"
bad=$(grep -v -E '^(malloc|free|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|malloc_usable_size|free_sized|free_aligned_sized|malloc_trim|mallinfo|mallinfo2|malloc_stats|mallopt|slabmalloc_.*)$' "$tmp/syms" | tr '\n' ' ')
[ -z "$bad" ]; ok $? "no symbol outside the export list (extra: $bad)"
for s in malloc free calloc realloc posix_memalign aligned_alloc memalign valloc pvalloc malloc_usable_size malloc_trim mallinfo2 slabmalloc_kmalloc slabmalloc_kmem_cache_create slabmalloc_alloc_pages slabmalloc_slabinfo slabmalloc_config; do
	grep -qx "$s" "$tmp/syms"; ok $? "exports $s"
done
for s in kmalloc kfree kmem_cache_create mempool_create alloc_pages vmalloc; do
	grep -qx "$s" "$tmp/syms"; [ $? -ne 0 ]; ok $? "does not export the kernel name $s"
done
done_testing
