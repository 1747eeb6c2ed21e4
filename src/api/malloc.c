/* SPDX-License-Identifier: MIT */
/*
 * malloc.c — the C and POSIX malloc family, exported under the standard
 * names so that LD_PRELOAD or linking replaces the C library's.
 *
 * Every function is a thin shell over kmalloc.c: malloc and free inline the
 * kmalloc fast paths (size class lookup, magazine pop/push) and tail-call
 * the slow paths for everything else. These are entry points (the API floor
 * of internal.h): each one that may allocate makes sure the allocator is
 * initialised before it calls down; malloc tests it only on its slowest
 * path (kmalloc_slow_body). The calls carry GFP_KERNEL|__GFP_NOWARN
 * (may block, never prints on failure); errno is set as glibc documents.
 *
 * Edge cases, as glibc: malloc(0) returns a unique pointer; free(NULL) does
 * nothing; realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and returns
 * NULL; sizes that overflow or cannot be met return NULL with ENOMEM;
 * posix_memalign wants a power of two multiple of sizeof(void *) (EINVAL,
 * returned); aligned_alloc and memalign want a power of two (EINVAL in
 * errno); valloc aligns to a page, pvalloc also rounds the size to pages.
 * Bad pointers (double free, interior or foreign pointers, realloc or
 * malloc_usable_size of freed memory, where proven: kmalloc.c) stop the
 * program with one line naming the call, the misuse and the address.
 */
#include "kmalloc.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* kmalloc_slow for malloc's flags, initialising the allocator on the way
 * to its slowest step (the first malloc of the process reaches it). */
static SM_NOINLINE void *malloc_slow(size_t size)
{
	return kmalloc_slow_body(size, MALLOC_GFP, sm_init_slow);
}

SM_EXPORT void *malloc(size_t size)
{
	void *p = kmalloc_fast(size);
	if (likely(p != NULL))
		return p;
	SM_DEBUG_RA();
	return malloc_slow(size);                 /* sets errno on failure */
}

SM_EXPORT void free(void *p)
{
	kfree_fast(p, "free");
}

SM_EXPORT void *calloc(size_t n, size_t size)
{
	size_t bytes;
	if (unlikely(__builtin_mul_overflow(n, size, &bytes))) {
		errno = ENOMEM;
		return NULL;
	}
	/* A slab object from the magazine, zeroed whole as the slow path
	 * zeroes it (kmalloc_fast is closed before init, while debugging
	 * and under fault injection, which the slow path handles). */
	void *p = kmalloc_fast(bytes);
	if (likely(p != NULL)) {
		memset(p, 0, kmalloc_class_size[kmalloc_class(bytes)]);
		return p;
	}
	sm_ensure_init();
	SM_DEBUG_RA();
	p = kmalloc_slow(bytes, MALLOC_GFP | __GFP_ZERO);
	if (unlikely(!p))
		errno = ENOMEM;
	return p;
}

SM_EXPORT void *realloc(void *p, size_t size)
{
	if (!p)
		return malloc(size);
	SM_DEBUG_RA();
	if (size == 0) {
		kfree_slow(p, "realloc");
		return NULL;
	}
	sm_ensure_init();
	void *q = krealloc_slow(p, size, MALLOC_GFP, "realloc");
	if (unlikely(!q))
		errno = ENOMEM;
	return q;
}

SM_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	size_t bytes;
	if (unlikely(__builtin_mul_overflow(n, size, &bytes))) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, bytes);
}

static void *aligned_common(size_t align, size_t size)
{
	sm_ensure_init();
	SM_DEBUG_RA();
	void *p = kmalloc_aligned(align, size, MALLOC_GFP);
	if (unlikely(!p))
		errno = ENOMEM;
	return p;
}

SM_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	int saved = errno;
	void *p = aligned_common(align, size);
	if (!p) {
		errno = saved;
		return ENOMEM;
	}
	*out = p;
	return 0;
}

SM_EXPORT void *aligned_alloc(size_t align, size_t size)
{
	if (align == 0 || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	return aligned_common(align, size);
}

SM_EXPORT void *memalign(size_t align, size_t size)
{
	return aligned_alloc(align, size);
}

SM_EXPORT void *valloc(size_t size)
{
	return aligned_common(SM_PAGE_SIZE, size);
}

SM_EXPORT void *pvalloc(size_t size)
{
	size_t rounded = (size + SM_PAGE_SIZE - 1) & ~(SM_PAGE_SIZE - 1);
	if (rounded < size) {
		errno = ENOMEM;
		return NULL;
	}
	return aligned_common(SM_PAGE_SIZE, rounded ? rounded : SM_PAGE_SIZE);
}

SM_EXPORT size_t malloc_usable_size(void *p)
{
	return kmalloc_usable(p, "malloc_usable_size", false);
}

/* A sized free under slub_debug: the size must be the one asked for,
 * when the allocation's record knows it. */
static SM_NOINLINE void free_sized_debug(const void *p, size_t size, const char *caller)
{
	size_t asked = slab_debug_size_of(p);
	if (asked && asked != size)
		sm_fatal("%s(): size %zu does not match the allocation of %zu bytes (%p)",
		         caller, size, asked, p);
}

/* C++'s sized delete (cxx.cc): checked under slub_debug, else a free. */
void sm_free_sized(void *p, size_t size, const char *caller)
{
	if (unlikely(SM_READ_ONCE(slab_debug_active)) && p)
		free_sized_debug(p, size, caller);
	kfree_fast(p, caller);
}

/* C23: the size (and alignment) must be those of the allocation. A size
 * larger than the block is certainly wrong and is reported; under
 * slub_debug, any size but the one asked for. */
SM_EXPORT void free_sized(void *p, size_t size)
{
	if (unlikely(SM_READ_ONCE(slab_debug_active)) && p)
		free_sized_debug(p, size, "free_sized");
	if (p && size > kmalloc_usable(p, "free_sized", true))
		sm_fatal("free_sized(): size %zu does not match the allocation (%p)", size, p);
	kfree_fast(p, "free_sized");
}

SM_EXPORT void free_aligned_sized(void *p, size_t align, size_t size)
{
	if (p && ((uintptr_t)p & (align - 1)))
		sm_fatal("free_aligned_sized(): %p is not aligned to %zu", p, align);
	if (p && size > kmalloc_usable(p, "free_aligned_sized", true))
		sm_fatal("free_aligned_sized(): size %zu does not match the allocation (%p)",
		         size, p);
	kfree_fast(p, "free_aligned_sized");
}

/* ---- glibc extensions ---- */

SM_EXPORT int malloc_trim(size_t pad)
{
	(void)pad;
	sm_ensure_init();
	return kmalloc_trim();
}

static void mallinfo_fill(struct mallinfo2 *mi)
{
	struct kmalloc_totals t;
	sm_ensure_init();
	kmalloc_totals(&t);
	size_t free_pages = 0, heap = 0;
	for (int z = 0; z < SM_NR_ZONES; z++) {
		free_pages += SM_READ_ONCE(sm_zones[z].zone_free_pages);
		heap += zone_heap_bytes(&sm_zones[z]);
	}
	memset(mi, 0, sizeof *mi);
	mi->arena = heap;           /* bytes of heap mapped (offline sections not) */
	/* huge blocks: their mappings, and the free space of the arenas they
	 * are carved from (mapped, resident or not) */
	mi->hblkhd = t.huge_bytes + vmap_arena_free_bytes();
	/* Free small objects: in their slabs, or cached in magazines and
	 * depots (glibc counts its fastbins and tcache here too). */
	mi->fsmblks = t.slab_bytes - t.slab_active_bytes + t.mag_cached_bytes;
	/* Free pages: in the zones' free areas, and on the calling thread's
	 * page lists and large-block lists (other threads' are not counted:
	 * they are theirs, and counting them would cost every call). */
	size_t free_bytes = (free_pages << SM_PAGE_SHIFT) + buddy_pcp_bytes() +
	                    t.cached_large_bytes;
	/* In use: what the program holds. Small objects handed out (not the
	 * allocator's own metadata), and the pages that are neither free nor
	 * slabs. */
	mi->uordblks = t.slab_active_bytes - t.mag_cached_bytes - t.meta_bytes +
	               (heap - free_bytes - t.slab_bytes);
	mi->fordblks = free_bytes + mi->fsmblks;
}

SM_EXPORT struct mallinfo2 mallinfo2(void)
{
	struct mallinfo2 mi;
	mallinfo_fill(&mi);
	return mi;
}

SM_EXPORT struct mallinfo mallinfo(void)
{
	struct mallinfo2 m2;
	struct mallinfo mi;
	mallinfo_fill(&m2);
	mi.arena = (int)m2.arena;
	mi.ordblks = (int)m2.ordblks;
	mi.smblks = (int)m2.smblks;
	mi.hblks = (int)m2.hblks;
	mi.hblkhd = (int)m2.hblkhd;
	mi.usmblks = (int)m2.usmblks;
	mi.fsmblks = (int)m2.fsmblks;
	mi.uordblks = (int)m2.uordblks;
	mi.fordblks = (int)m2.fordblks;
	mi.keepcost = (int)m2.keepcost;
	return mi;
}

/* glibc's layout ("Arena 0:", system bytes, in use bytes, Total ...).
 * write() is a cancellation point: as glibc does, cancellation is disabled
 * while printing (a pending cancel is acted on at the caller's next
 * cancellation point) and the caller's state restored. */
SM_EXPORT void malloc_stats(void)
{
	struct mallinfo2 mi;
	int cancel_state;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	mallinfo_fill(&mi);
	sm_dprintf(2, "Arena 0:\nsystem bytes     = %10zu\nin use bytes     = %10zu\n",
	           mi.arena, mi.uordblks);
	sm_dprintf(2, "Total (incl. mmap):\nsystem bytes     = %10zu\nin use bytes     = %10zu\n",
	           mi.arena + mi.hblkhd, mi.uordblks + vmap_total_bytes());
	size_t max_maps, max_bytes;
	vmap_max_stats(&max_maps, &max_bytes);
	sm_dprintf(2, "max mmap regions = %10zu\nmax mmap bytes   = %10zu\n",
	           max_maps, max_bytes);
	pthread_setcancelstate(cancel_state, NULL);
}

/* Accepted for compatibility: the parameters of glibc's arenas do not apply
 * to slabmalloc (its tunables are in SLABMALLOC_OPTIONS). M_PURGE-like
 * requests (M_TRIM_THRESHOLD 0) give memory back at once. */
SM_EXPORT int mallopt(int param, int value)
{
	switch (param) {
	case M_TRIM_THRESHOLD:
		if (value == 0)
			malloc_trim(0);
		return 1;
	case M_MXFAST:
		/* glibc: 0 .. 80 * sizeof(size_t) / 4, else an error (0). */
		return value >= 0 && (size_t)value <= 80 * sizeof(size_t) / 4;
	default:
		/* glibc accepts (1) every other parameter and value, known or
		 * not: M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX, M_CHECK_ACTION,
		 * M_PERTURB, M_ARENA_TEST, M_ARENA_MAX and any number it does
		 * not use. */
		return 1;
	}
}
