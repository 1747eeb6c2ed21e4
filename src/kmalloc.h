/* SPDX-License-Identifier: MIT */
/*
 * kmalloc.h — the kmalloc layer's contract with malloc.c: size classes,
 * the kmalloc-N caches, and the inline fast paths.
 */
#ifndef SM_KMALLOC_H
#define SM_KMALLOC_H

#include "slab_internal.h"

#include <string.h>

#pragma GCC visibility push(hidden)   /* see internal.h */

#define KMALLOC_NR_CLASSES     41
#define KMALLOC_MAX_CACHE_SIZE 32768         /* largest slab class */
#define KMALLOC_MAX_PAGES_SIZE (SM_SECTION_SIZE) /* largest buddy block */
#define KMALLOC_LARGE_NPAGES_MAX 256         /* per-thread cache: <= 1 MiB */

/* Cache id of class 0: class i is kmalloc cache id KMALLOC_ID0 + i (the
 * first kmem caches with magazines that are created; id 0 is SM_TC_NONE). */
#define KMALLOC_ID0            1

extern const uint32_t kmalloc_class_size[KMALLOC_NR_CLASSES];
/* For each size 0..KMALLOC_MAX_CACHE_SIZE in 8-byte steps (index
 * (size + 7) >> 3): the slot key of its class, which is all the fast path
 * needs. Filled at init; until then kmalloc_fast_limit is 0. */
extern sm_slot_key_t kmalloc_size_slot[KMALLOC_MAX_CACHE_SIZE / 8 + 1];
extern sm_slot_key_t kmalloc_slot_key0;      /* the key of class 0 */
extern struct kmem_cache *kmalloc_caches[KMALLOC_NR_CLASSES];
/* Free objects of kmalloc caches carry a tag in their first word, a random
 * per-process secret, so that a second free of the same pointer is caught
 * at once (DESIGN.md §3). */
extern uintptr_t kmalloc_tag_secret;

#define KMALLOC_TAG(p) ((void)(p), kmalloc_tag_secret)

/* malloc's fast path serves sizes below this: KMALLOC_MAX_CACHE_SIZE + 1,
 * or 0 before init and while fault injection is on (so every call reaches
 * the slow path, where should_failslab is asked). One compare instead of
 * three. */
extern size_t kmalloc_fast_limit;
void kmalloc_update_fast_limit(void);

/* Class index of a size in 0..KMALLOC_MAX_CACHE_SIZE (0 maps to 8 bytes);
 * after init only. */
SM_INLINE unsigned int kmalloc_class(size_t size)
{
	return (unsigned int)(kmalloc_size_slot[(size + 7) >> 3] - kmalloc_slot_key0) /
	       (unsigned int)sizeof(struct cpu_cache);
}

void kmalloc_init(void);
void kmalloc_thread_exit(void);
/* Out-of-line paths, each complete (init, refill, large, huge, errors).
 * kmalloc_slow sets errno to ENOMEM when it returns NULL. */
SM_NOINLINE void *kmalloc_slow(size_t size, gfp_t gfp);
SM_NOINLINE void *kmalloc_aligned(size_t align, size_t size, gfp_t gfp);
SM_NOINLINE void kfree_slow(const void *p, const char *caller);
/* kfree_slow for a pointer whose descriptor @pg (in ZONE_NORMAL) is known. */
SM_NOINLINE void kfree_page(const void *p, struct page *pg, const char *caller);
SM_NOINLINE void *krealloc_slow(const void *p, size_t size, gfp_t gfp, const char *caller);
/* Usable size of an allocation of ours; 0 for NULL; aborts for a pointer
 * that is not an allocation start (naming @caller). */
size_t kmalloc_usable(const void *p, const char *caller);
/* 1 if memory was given back to the OS. */
int kmalloc_trim(void);
struct kmalloc_totals {
	size_t slab_bytes, slab_active_bytes, huge_bytes, cached_large_bytes;
};
void kmalloc_totals(struct kmalloc_totals *t);

/*
 * kmalloc_pop - the fast path of allocation for 0..KMALLOC_MAX_CACHE_SIZE
 * bytes: table lookup of the class's slot, pop from its loaded magazine,
 * clear the free tag. No lock, no atomic. NULL when the magazine is empty:
 * the caller takes its slow path. The caller checks the size against
 * kmalloc_fast_limit first.
 */
SM_INLINE void *kmalloc_pop(size_t size)
{
	cpu_cache_fast_t *cc = sm_slot_by_key(kmalloc_size_slot[(size + 7) >> 3]);
	void **top = cc->cc_top;
	if (likely(top != cc->cc_lo)) {
		cc->cc_top = --top;
		void *p = *top;
		memset(p, 0, sizeof(uintptr_t));     /* the free tag */
		return p;
	}
	return NULL;
}

/* The checks of a free of @p, an address in kmalloc slab page @pg of @c:
 * false unless @p starts an object and carries no free tag; if so, tags it. */
SM_INLINE bool kmalloc_free_tag(const struct kmem_cache *c, const struct page *pg,
                                const void *p)
{
	uintptr_t *w = (uintptr_t *)p;
	if (likely(slab_is_obj_start(c, pg, p)) && likely(*w != KMALLOC_TAG(p))) {
		*w = KMALLOC_TAG(p);
		return true;
	}
	return false;
}

/*
 * kfree_fast - the fast path of free: pointer -> struct page, whose slab_key
 * names the slot of its kmalloc class (the always-full SM_TC_NONE slot for
 * any other page); object-start and free-tag checks; push onto the loaded
 * magazine. Anything unusual (not a kmalloc slab object, tag present,
 * magazine full) goes to kfree_page (with the descriptor) or kfree_slow,
 * which decide and report.
 *
 * zone_limit is read without SM_READ_ONCE so that the compare takes it
 * from memory: it only grows, and a pointer we handed out is below it.
 */
SM_INLINE void kfree_fast(const void *p, const char *caller)
{
	const struct zone *z = &sm_zones[ZONE_NORMAL];
	uintptr_t off = (uintptr_t)p - z->zone_base;
	if (likely(off < z->zone_limit)) {
		struct page *pg = &z->zone_mem_map[off >> SM_PAGE_SHIFT];
		cpu_cache_fast_t *cc = sm_slot_by_key(__atomic_load_n(&pg->slab_key,
		                                                      __ATOMIC_ACQUIRE));
		void **top = cc->cc_top;
		if (likely(top != cc->cc_hi) && likely(kmalloc_free_tag(pg->slab_cache, pg, p))) {
			*top = (void *)p;
			cc->cc_top = top + 1;
			return;
		}
		kfree_page(p, pg, caller);
		return;
	}
	kfree_slow(p, caller);
}

#pragma GCC visibility pop
#endif /* SM_KMALLOC_H */
