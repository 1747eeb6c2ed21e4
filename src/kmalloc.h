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
#define KMALLOC_LARGE_NPAGES_MAX 256         /* per-thread cache: <= 1 MiB */
/* Internal cache flag: a kmalloc-N cache (its free objects carry a tag). */
#define SLAB_KMALLOC           0x80000000UL

extern const uint32_t kmalloc_class_size[KMALLOC_NR_CLASSES];
extern uint8_t kmalloc_size_class[KMALLOC_MAX_CACHE_SIZE / 8 + 1];
extern struct kmem_cache *kmalloc_caches[KMALLOC_NR_CLASSES];
/* Free objects of kmalloc caches carry a tag in their first word, so that a
 * second free of the same pointer is caught at once (DESIGN.md §3). */
extern uintptr_t kmalloc_tag_secret;

#define KMALLOC_TAG(p) ((uintptr_t)(p) ^ kmalloc_tag_secret)

/* malloc's fast path serves sizes below this: KMALLOC_MAX_CACHE_SIZE + 1,
 * or 0 while fault injection is on (so every call reaches the slow path,
 * where should_failslab is asked). One compare instead of two. */
extern size_t kmalloc_fast_limit;
void kmalloc_update_fast_limit(void);

/* Class index of a size in 0..KMALLOC_MAX_CACHE_SIZE (0 maps to 8 bytes). */
SM_INLINE unsigned int kmalloc_class(size_t size)
{
	return kmalloc_size_class[(size + 7) >> 3];
}

void kmalloc_init(void);
void kmalloc_thread_exit(void);
/* Out-of-line paths, each complete (init, refill, large, huge, errors). */
SM_NOINLINE void *kmalloc_slow(size_t size, gfp_t gfp);
SM_NOINLINE void *kmalloc_aligned(size_t align, size_t size, gfp_t gfp);
SM_NOINLINE void kfree_slow(const void *p, const char *caller);
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
 * bytes: table lookup, pop from the loaded magazine of the class (kmalloc
 * cache ids equal their class index), clear the free tag. No lock, no
 * atomic. NULL when the magazine is empty: the caller takes its slow path.
 */
SM_INLINE void *kmalloc_pop(size_t size)
{
	struct cpu_cache *cc = &sm_tc.tc_cc[kmalloc_class(size)];
	uint32_t r = cc->cc_rounds;
	if (likely(r != 0)) {
		void *p = cc->cc_loaded->mag_round[r - 1];
		cc->cc_rounds = r - 1;
		*(uintptr_t *)p = 0;
		return p;
	}
	return NULL;
}

/*
 * kfree_fast - the fast path of free: pointer -> struct page -> kmalloc
 * cache, object-start and free-tag checks, push onto the loaded magazine.
 * Anything unusual (not a kmalloc slab object, tag present, magazine full)
 * goes to kfree_slow, which decides and reports.
 */
SM_INLINE void kfree_fast(const void *p, const char *caller)
{
	const struct zone *z = &sm_zones[ZONE_NORMAL];
	uintptr_t off = (uintptr_t)p - z->zone_base;
	if (likely(off < SM_READ_ONCE(z->zone_limit))) {
		const struct page *pg = &z->zone_mem_map[off >> SM_PAGE_SHIFT];
		const struct kmem_cache *c = pg->slab_cache;
		if (likely(c != NULL) && likely(c->id < KMALLOC_NR_CLASSES) &&
		    likely(slab_is_obj_start(c, pg, p))) {
			uintptr_t *w = (uintptr_t *)p;
			uintptr_t tag = KMALLOC_TAG(p);
			struct cpu_cache *cc = &sm_tc.tc_cc[c->id];
			uint32_t r = cc->cc_rounds;
			if (likely(*w != tag) && likely(r < cc->cc_magsize)) {
				*w = tag;
				cc->cc_loaded->mag_round[r] = (void *)p;
				cc->cc_rounds = r + 1;
				return;
			}
		}
	}
	kfree_slow(p, caller);
}

#pragma GCC visibility pop
#endif /* SM_KMALLOC_H */
