#!/bin/sh
# The shared library exports the malloc family and slabmalloc_* only.
. "$top_srcdir/tests/preload/lib.sh"
nm -D --defined-only "$SM_LIB" | awk '$2 ~ /^[TWDBVR]$/ { print $3 }' | sed 's/@.*//' | sort -u >"$tmp/syms"
bad=$(grep -v -E '^(malloc|free|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|malloc_usable_size|free_sized|free_aligned_sized|malloc_trim|mallinfo|mallinfo2|malloc_stats|mallopt|slabmalloc_.*|_Zn[wa]m.*|_Zd[la]Pv.*)$' "$tmp/syms" | tr '\n' ' ')
[ -z "$bad" ]; ok $? "no symbol outside the export list (extra: $bad)"
for s in malloc free calloc realloc posix_memalign aligned_alloc memalign valloc pvalloc malloc_usable_size malloc_trim mallinfo2 slabmalloc_kmalloc slabmalloc_kmem_cache_create slabmalloc_alloc_pages slabmalloc_slabinfo slabmalloc_config; do
	grep -qx "$s" "$tmp/syms"; ok $? "exports $s"
done
# C++: operator new/new[] and delete/delete[] in every standard form.
for s in _Znwm _Znam _ZnwmRKSt9nothrow_t _ZnamRKSt9nothrow_t _ZnwmSt11align_val_t \
	_ZnamSt11align_val_t _ZnwmSt11align_val_tRKSt9nothrow_t _ZnamSt11align_val_tRKSt9nothrow_t \
	_ZdlPv _ZdaPv _ZdlPvRKSt9nothrow_t _ZdaPvRKSt9nothrow_t _ZdlPvm _ZdaPvm \
	_ZdlPvSt11align_val_t _ZdaPvSt11align_val_t _ZdlPvSt11align_val_tRKSt9nothrow_t \
	_ZdaPvSt11align_val_tRKSt9nothrow_t _ZdlPvmSt11align_val_t _ZdaPvmSt11align_val_t; do
	grep -qx "$s" "$tmp/syms"; ok $? "exports $s"
done
for s in kmalloc kfree kmem_cache_create mempool_create alloc_pages vmalloc; do
	grep -qx "$s" "$tmp/syms"; [ $? -ne 0 ]; ok $? "does not export the kernel name $s"
done
done_testing
