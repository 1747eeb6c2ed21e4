/* SPDX-License-Identifier: MIT */
/*
 * kmalloc.h — the kmalloc layer's contract with malloc.c: size classes,
 * the kmalloc-N caches, and the inline fast paths.
 */
#ifndef SM_KMALLOC_H
#define SM_KMALLOC_H

#include "slab_internal.h"

#pragma GCC visibility push(hidden)   /* see internal.h */

#define KMALLOC_NR_CLASSES     41
#define KMALLOC_MAX_CACHE_SIZE 32768         /* largest slab class */
#define KMALLOC_MAX_PAGES_SIZE (SM_SECTION_SIZE) /* largest buddy block */
/* Larger kmalloc blocks are huge (vmalloc.c's arenas), __GFP_DMA's aside. */
#define KMALLOC_LARGE_MAX (SM_SECTION_SIZE / 2)
#define KMALLOC_LARGE_NPAGES_MAX 256         /* per-thread cache: <= 1 MiB */

/* Cache id of class 0: class i is kmalloc cache id KMALLOC_ID0 + i (the
 * first kmem caches with magazines that are created; id 0 is SM_TC_NONE). */
#define KMALLOC_ID0            1

extern const uint32_t kmalloc_class_size[KMALLOC_NR_CLASSES];
/* The slot key of the class of a size, which is all the fast path needs, in
 * two tables filled at init: sizes 0..KMALLOC_SMALL_MAX index the first
 * directly (no arithmetic on the fast path), larger ones index the second by
 * (size + 255) >> 8 (every class above 1 KiB is a multiple of 256). */
#define KMALLOC_SMALL_MAX      1024
extern sm_slot_key_t kmalloc_slot_small[KMALLOC_SMALL_MAX + 1];
extern sm_slot_key_t kmalloc_slot_medium[KMALLOC_MAX_CACHE_SIZE / 256 + 1];
extern sm_slot_key_t kmalloc_slot_key0;      /* the key of class 0 */
extern struct kmem_cache *kmalloc_caches[KMALLOC_NR_CLASSES];

/* The fast paths serve sizes below kmalloc_small_limit through the first
 * table and sizes below kmalloc_fast_limit through the second. They are
 * KMALLOC_SMALL_MAX + 1 and KMALLOC_MAX_CACHE_SIZE + 1, or both 0 before
 * init, while fault injection is on (so every call reaches the slow path,
 * where should_failslab is asked) and with dynamic TLS (sm_tls_dynamic: the
 * slots have no fixed offset from the thread pointer). One compare for a
 * small size. */
extern size_t kmalloc_small_limit, kmalloc_fast_limit;
void kmalloc_update_fast_limit(void);
/* Non-zero while the per-thread large-block lists are bypassed: fault
 * injection, or slub_debug of large blocks. */
extern int kmalloc_lcache_off;
/* slub_debug flags of large and huge blocks (debug.c, debug_block_flags). */
extern unsigned long kmalloc_large_debug, kmalloc_huge_debug;

/* The slot key of the class of a size in 0..KMALLOC_MAX_CACHE_SIZE; after
 * init only. */
SM_INLINE sm_slot_key_t kmalloc_slot_key(size_t size)
{
	return size <= KMALLOC_SMALL_MAX ? kmalloc_slot_small[size]
	                                 : kmalloc_slot_medium[(size + 255) >> 8];
}

/* Class index of a size in 0..KMALLOC_MAX_CACHE_SIZE (0 maps to 8 bytes);
 * after init only. */
SM_INLINE unsigned int kmalloc_class(size_t size)
{
	return (unsigned int)(kmalloc_slot_key(size) - kmalloc_slot_key0) /
	       (unsigned int)sizeof(struct cpu_cache);
}

void kmalloc_init(void);
void kmalloc_thread_exit(void);
/* Out-of-line paths, each complete (refill, large, huge, errors), for an
 * initialised allocator: the entry points above initialise it first.
 * kmalloc_slow sets errno to ENOMEM when it returns NULL. */
SM_NOINLINE void *kmalloc_slow(size_t size, gfp_t gfp);
/* The flags of the malloc family: may block, never prints on failure. */
#define MALLOC_GFP (GFP_KERNEL | __GFP_NOWARN)
/* The two steps of kmalloc_slow after the per-thread large blocks: a slab
 * size whose magazine is empty while the fast path is open (initialised, no
 * fault injection), and everything else. kmalloc_slower serves a call that
 * finds the layers not up (the initialising thread re-entering) from
 * bootmem. */
SM_NOINLINE void *kmalloc_refill(size_t size, gfp_t gfp);
SM_NOINLINE void *kmalloc_slower(size_t size, gfp_t gfp);

/* ---- per-thread cache of large blocks ----
 *
 * One LIFO list per page count, linked through the first word of each
 * cached block; the blocks stay PG_exact|PG_lcached in the buddy's eyes.
 * Only blocks of ZONE_NORMAL are cached, so that a block's descriptor is
 * found without a zone lookup. lc_room is what the lists may still take:
 * 0 until the thread is attached (it then has an exit hook that flushes
 * them: lcache_arm) and again once it exits, so that one compare covers
 * both the byte limit and the thread's state. Owned by kmalloc.c; the pop
 * is here, for the slow paths of malloc and kmalloc.
 *
 * The take and the put reach the lists as the fast paths reach their slots:
 * on x86-64 through lcache_key, the offset of sm_lcache from the thread
 * pointer (measured at init), which costs what an initial-exec access
 * would; the colder functions use sm_lcache itself. lcache_size_max, the
 * largest size the lists serve, is 0 until the key is known and stays 0
 * with dynamic TLS (sm_tls_dynamic: no common offset), where the lists are
 * never used; take and put are reached only below it.
 *
 * The links live in freed memory, where a write after free can reach
 * them, so they are safe-linked: a link is stored XORed with the address
 * of the block that holds it (shifted by a page) and a per-process secret
 * (lcache_link), and a decoded link is used only if it names a cached
 * block of the same page count (lcache_link_ok, from the out-of-band
 * descriptor); anything else stops the program with one line. A forged
 * link can thus never make malloc return an address of the attacker's
 * choosing. */
#define LCACHE_BYTES_MAX (4u << 20)
struct large_cache {
	void   *lc_bin[KMALLOC_LARGE_NPAGES_MAX + 1];
	size_t  lc_room;
	bool    lc_armed;
};
extern SM_TLS struct large_cache sm_lcache;
extern size_t lcache_size_max;
#if SM_TC_SEG_FS
typedef struct large_cache SM_TC_SEG large_cache_fast_t;
extern sm_slot_key_t lcache_key;
SM_INLINE large_cache_fast_t *lcache_fast(void)
{
	return (large_cache_fast_t *)(intptr_t)lcache_key;
}
#else
typedef struct large_cache large_cache_fast_t;
SM_INLINE large_cache_fast_t *lcache_fast(void)
{
	return &sm_lcache;
}
#endif
extern uintptr_t lcache_secret;

/* The stored form of link @next in block @blk, and back (an involution). */
SM_INLINE void *lcache_link(const void *blk, const void *next)
{
	return (void *)((uintptr_t)next ^ ((uintptr_t)blk >> SM_PAGE_SHIFT) ^ lcache_secret);
}

/* Is @next (decoded, not NULL) a cached block of @npages pages? */
SM_INLINE bool lcache_link_ok(const void *next, size_t npages)
{
	const struct zone *z = &sm_zones[ZONE_NORMAL];
	if (((uintptr_t)next & (SM_PAGE_SIZE - 1)) ||
	    (uintptr_t)next - z->zone_base >= z->zone_limit)
		return false;
	const struct page *pg = sm_page_window(next);
	return (pg->flags & PG_lcached) && pg->exact.npages == npages;
}

/* A link that fails lcache_link_ok: one line, then abort. */
SM_COLD SM_NORETURN void lcache_forged(const void *blk, const void *next, size_t npages);

/* Pop a block of @npages pages, if the thread has one; @npages pages are at
 * most lcache_size_max bytes. */
SM_INLINE void *lcache_take(size_t npages)
{
	large_cache_fast_t *lc = lcache_fast();
	void *b = lc->lc_bin[npages];
	if (b) {
		void *next = lcache_link(b, *(void **)b);
		if (next && unlikely(!lcache_link_ok(next, npages)))
			lcache_forged(b, next, npages);
		lc->lc_bin[npages] = next;
		lc->lc_room += npages << SM_PAGE_SHIFT;
	}
	return b;
}

/*
 * kmalloc_slow_body - the slow path of an allocation by size, inlined into
 * kmalloc_slow and into malloc's slow path (malloc.c), where the flags are
 * a constant. @init (a constant: NULL, or the entry point's initialisation)
 * runs before the slowest step, the only one an uninitialised allocator
 * reaches (its large-block lists are empty and its fast limit 0), so the
 * paths that hit cost no test of initialisation.
 */
SM_INLINE void *kmalloc_slow_body(size_t size, gfp_t gfp, void (*init)(void))
{
	/* Sizes the thread has a cached block for: pop it. (Before init and
	 * under fault injection the lists are empty or skipped; the blocks are
	 * ZONE_NORMAL's, so __GFP_DMA skips them too.) Blocks of up to 8 pages
	 * are only cached when an aligned allocation (kmalloc_aligned, above a
	 * page) made them: a slab size that misses its magazine may take one,
	 * a whole-page allocation like any large one, rather than leave it
	 * idle; otherwise it costs one lookup of an empty list. */
	if (size <= SM_READ_ONCE(lcache_size_max) &&
	    likely(!(gfp & (__GFP_ZERO | __GFP_DMA))) && likely(!kmalloc_lcache_off)) {
		void *b = lcache_take((size + SM_PAGE_SIZE - 1) >> SM_PAGE_SHIFT);
		if (b) {
			/* A cached block is in ZONE_NORMAL's grown part: the
			 * window's descriptor is its own. */
			sm_page_window(b)->flags ^= PG_lcached | PG_large;
			return b;
		}
	}
	if (size < SM_READ_ONCE(kmalloc_fast_limit))
		return kmalloc_refill(size, gfp);
	if (init && unlikely(!__atomic_load_n(&sm_initialized, __ATOMIC_ACQUIRE)))
		init();
	return kmalloc_slower(size, gfp);
}
SM_NOINLINE void *kmalloc_aligned(size_t align, size_t size, gfp_t gfp);
SM_NOINLINE void kfree_slow(const void *p, const char *caller);
/* kfree_slow for a pointer whose descriptor is @pg if @p is in ZONE_NORMAL
 * (the window's result: checked first). */
SM_NOINLINE void kfree_page(const void *p, const char *caller, struct page *pg);
SM_NOINLINE void *krealloc_slow(const void *p, size_t size, gfp_t gfp, const char *caller);
/* Usable size of an allocation of ours; 0 for NULL; aborts for a pointer
 * that is not an allocation start or is proven free (naming @caller, and
 * the misuse: a double free when @freeing, else a use of freed memory). */
size_t kmalloc_usable(const void *p, const char *caller, bool freeing);
/* Is @p, an object start of kmalloc cache @c proven against @pg (its own
 * descriptor), free? Out-of-band state only: it is the round on top of the
 * calling thread's loaded magazine of @c, or its bit in the slab's free
 * bitmap is set (slab_obj_is_free). Neither can hold for a live object. A
 * free object deeper in a magazine or in the depot is not seen here; it is
 * when it leaves the magazine for its slab (slab_free_bulk). */
bool kmalloc_freed(const struct kmem_cache *c, const struct page *pg, const void *p);
/* 1 if memory was given back to the OS. */
int kmalloc_trim(void);
/* slab_active_bytes counts every object out of its slab; of it,
 * mag_cached_bytes is free in magazines and depots and meta_bytes is the
 * allocator's own (the internal caches: kmem_cache, magazines), neither of
 * them the program's. cached_large_bytes is the calling thread's
 * per-thread large blocks. */
struct kmalloc_totals {
	size_t slab_bytes, slab_active_bytes, mag_cached_bytes, meta_bytes;
	size_t huge_bytes, cached_large_bytes;
};
void kmalloc_totals(struct kmalloc_totals *t);

/*
 * kmalloc_fast - the fast path of allocation for 0..KMALLOC_MAX_CACHE_SIZE
 * bytes: table lookup of the class's slot, pop from its loaded magazine.
 * The object is not touched. No lock, no atomic. NULL when the size is not
 * served here or the magazine is empty: the caller takes its slow path.
 */
SM_INLINE void *kmalloc_fast(size_t size)
{
	sm_slot_key_t key;
	if (likely(size < kmalloc_small_limit))
		key = kmalloc_slot_small[size];
	else if (likely(size < kmalloc_fast_limit))
		key = kmalloc_slot_medium[(size + 255) >> 8];
	else
		return NULL;
	cpu_cache_fast_t *cc = sm_slot_by_key(key);
	void **top = cc->cc_top;
	if (likely(top != cc->cc_lo)) {
		void *p = cc_round_below(top);
		cc_top_dec(cc);
		/* A round is never NULL: the callers' test of the result
		 * folds away. */
		if (p == NULL)
			__builtin_unreachable();
		return p;
	}
	return NULL;
}

/*
 * kfree_fast_try - the work of kfree_fast for @p and its window descriptor
 * @pg: find the slot named by @pg's slab_key (the always-full SM_TC_NONE
 * slot for any page that is not of a kmalloc slab); prove @p an object start
 * with the slot's constants against @pg's slab_base, which also rejects an
 * alias (a pointer that is not in the page); push onto the loaded magazine
 * unless @p is the round on top of it already (an immediate second free:
 * the word compared is the magazine's, next to the one the push writes).
 * The object itself is never read or written: a free from another thread
 * costs no miss on its cache line. A @min_size other than 0 also requires
 * the object's class to hold that many bytes (a constant 0 costs nothing).
 * Other double frees are proven when the object leaves the magazine for its
 * slab (slab_free_bulk: its bit in the slab's free bitmap is set already).
 * RETURNS: true when @p was freed; false, with nothing done, for anything
 * unusual (not a kmalloc slab object start, on top of the magazine, too
 * small, magazine full), which the caller takes to its slow path.
 */
SM_INLINE bool kfree_fast_try(const void *p, const struct page *pg, size_t min_size)
{
	cpu_cache_fast_t *cc = sm_slot_by_key(__atomic_load_n(&pg->slab_key, __ATOMIC_ACQUIRE));
	void **top = cc->cc_top;
	if (likely(top != cc->cc_hi)) {
		bool start = slab_index((uintptr_t)p - pg->slab_base,
		                        cc->cc_div_inv, cc->cc_div_shift) <= cc->cc_div_limit;
		/* Once proven, @pg is @p's own descriptor, of a kmalloc slab
		 * (whose caches are never destroyed). */
		if (min_size && start)
			start = pg->slab_cache->object_size >= min_size;
		/* With an empty magazine top[-1] is the magazine's header, a
		 * readable word that at worst sends @p to the slow path,
		 * which decides with top != cc_lo. */
		if (likely(start) && likely(top[-1] != p)) {
			*top = (void *)p;
			cc->cc_top = top + 1;        /* see cc_top_dec */
			return true;
		}
	}
	return false;
}

/*
 * kfree_fast - the fast path of free: pointer -> descriptor through the
 * window (page_alloc.h), then kfree_fast_try. Anything unusual goes to
 * kfree_page, which checks the zone, decides and reports.
 */
SM_INLINE void kfree_fast(const void *p, const char *caller)
{
	struct page *pg = sm_page_window(p);
	if (likely(kfree_fast_try(p, pg, 0)))
		return;
	SM_DEBUG_RA();
	kfree_page(p, caller, pg);
}

/* C++'s sized operator delete (api/cxx.cc), in malloc.c. */
void sm_free_sized(void *p, size_t size, const char *caller);

#pragma GCC visibility pop
#endif /* SM_KMALLOC_H */
