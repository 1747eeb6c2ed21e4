/* SPDX-License-Identifier: MIT */
/*
 * slab_api.c — the exported kernel-style API of <slabmalloc/slab.h>:
 * kmalloc, kzalloc, kcalloc, krealloc, kfree, ksize, and the kmem_cache_*
 * family, plus slabinfo.
 *
 * API floor (internal.h): these are entry points, so each one makes sure the
 * allocator is initialised before it calls down (sm_ensure_init, one load
 * and a predictable branch, placed on the slow side where a fast path
 * exists). The fast paths are the layers' inlines: kmalloc_fast and
 * kfree_fast (kmalloc.h), mag_alloc_or and mag_free (slab_internal.h). The
 * work behind the slow paths is the kmalloc layer's (kmalloc.c), the
 * magazine layer's (mag_alloc_slow, and the cache life cycle:
 * cache_destroy, cache_shrink) and the slab layer's (slab_cache_create).
 */
#include "kmalloc.h"

#include <errno.h>
#include <string.h>

/* ---- kmalloc ---- */

/* kmalloc_slow behind an entry point: the allocator is initialised on the
 * way to its slowest step (kmalloc_slow_body). */
static SM_NOINLINE void *kmalloc_entry(size_t size, gfp_t gfp)
{
	SM_DEBUG_RA();
	return kmalloc_slow_body(size, gfp, sm_init_slow);
}

/**
 * slabmalloc_kmalloc - allocate @size bytes.
 * CONTEXT: any; GFP_ATOMIC never blocks and fails fast.
 * RETURNS: memory aligned to 16 bytes (8 for sizes up to 8), or NULL.
 */
SM_EXPORT void *slabmalloc_kmalloc(size_t size, gfp_t flags)
{
	if (likely(!(flags & (__GFP_ZERO | __GFP_DMA)))) {
		void *p = kmalloc_fast(size);
		if (likely(p != NULL))
			return p;
	}
	return kmalloc_entry(size, flags);
}

SM_EXPORT void *slabmalloc_kzalloc(size_t size, gfp_t flags)
{
	return kmalloc_entry(size, flags | __GFP_ZERO);
}

SM_EXPORT void *slabmalloc_kcalloc(size_t n, size_t size, gfp_t flags)
{
	size_t bytes;
	if (__builtin_mul_overflow(n, size, &bytes))
		return NULL;
	return kmalloc_entry(bytes, flags | __GFP_ZERO);
}

SM_EXPORT void *slabmalloc_krealloc(const void *p, size_t new_size, gfp_t flags)
{
	if (!p)
		return kmalloc_entry(new_size, flags);
	SM_DEBUG_RA();
	if (new_size == 0) {
		kfree_slow(p, "krealloc");
		return NULL;     /* the kernel returns ZERO_SIZE_PTR; NULL here */
	}
	sm_ensure_init();
	return krealloc_slow(p, new_size, flags, "krealloc");
}

SM_EXPORT void slabmalloc_kfree(const void *p)
{
	kfree_fast(p, "kfree");
}

SM_EXPORT size_t slabmalloc_ksize(const void *p)
{
	return kmalloc_usable(p, "ksize", false);
}

/* ---- kmem_cache ---- */

/**
 * slabmalloc_kmem_cache_create - create a cache of objects of one size
 * @name: shown in slabinfo and error messages (copied, truncated to 31 bytes)
 * @size: object size in bytes (1 .. what fits a 4 MiB slab)
 * @align: alignment, a power of two up to PAGE_SIZE, or 0 for the default
 * @flags: SLAB_* cache flags
 * @ctor: run on every object when its slab is created, or NULL
 * @dtor: run on every object when its slab is released, or NULL
 *
 * CONTEXT: may block; not from a constructor or destructor.
 * RETURNS: the cache, or NULL with errno EINVAL (bad argument) or ENOMEM.
 * With SLAB_PANIC a failure aborts with a message instead.
 */
SM_EXPORT kmem_cache_t *slabmalloc_kmem_cache_create(const char *name, size_t size,
                                                     size_t align, unsigned long flags,
                                                     kmem_cache_ctor_t ctor,
                                                     kmem_cache_ctor_t dtor)
{
	const char *why = NULL;
	flags &= SLAB_USER_FLAGS;
	if (!name)
		why = "NULL name";
	else if (size == 0)
		why = "size 0";
	else if (align & (align - 1))
		why = "alignment not a power of two";
	else if (align > SM_PAGE_SIZE)
		why = "alignment larger than a page";
	else if (!slab_size_ok(size, align, flags))
		why = "size too large for a slab";
	if (why) {
		if (flags & SLAB_PANIC)
			sm_fatal("slabmalloc: kmem_cache_create(%s, %zu, %zu): %s",
			         name ? name : "(null)", size, align, why);
		errno = EINVAL;
		return NULL;
	}
	sm_ensure_init();
	struct kmem_cache *c = slab_cache_create(name, size, align, flags, ctor, dtor);
	if (!c && (flags & SLAB_PANIC))
		sm_fatal("slabmalloc: kmem_cache_create(%s, %zu, %zu): out of memory",
		         name, size, align);
	return c;
}

/**
 * slabmalloc_kmem_cache_destroy - destroy a cache
 * @c: the cache, or NULL (nothing to do)
 *
 * Objects free in magazines and in the depot are not allocated: if every
 * object of the cache is one of them, they are flushed back, every slab is
 * released (destructors run) and the cache is freed (cache_destroy).
 *
 * CONTEXT: may block.
 * RETURNS: 0, or -EBUSY if objects are still allocated (then nothing has been
 * freed and the cache stays fully usable).
 */
SM_EXPORT int slabmalloc_kmem_cache_destroy(kmem_cache_t *c)
{
	if (!c)
		return 0;
	return cache_destroy(c);
}

/* The slow path of kmem_cache_alloc: the magazine layer's, retried as the
 * GFP flags say (__GFP_NOFAIL never returns NULL). */
SM_NOINLINE static void *kmem_cache_alloc_slow(struct kmem_cache *c, gfp_t gfp)
{
	SM_DEBUG_RA();
	if (unlikely(sm_fault_active) && !(gfp & __GFP_NOFAIL) &&
	    should_failslab(c->name, c->object_size, gfp))
		return NULL;
	unsigned int attempt = 0;
	for (;;) {
		void *p = mag_alloc_slow(c, gfp);
		if (likely(p != NULL))
			return p;
		if (!gfp_retry(gfp, &attempt, "kmem_cache_alloc", c->object_size))
			return NULL;
	}
}

/* __GFP_ZERO: out of line (injected failures are the slow path's). */
SM_NOINLINE static void *kmem_cache_alloc_special(struct kmem_cache *c, gfp_t gfp)
{
	void *p = mag_alloc_or(c, gfp, kmem_cache_alloc_slow);
	if (p && (gfp & __GFP_ZERO))
		memset(p, 0, c->object_size);
	return p;
}

/**
 * slabmalloc_kmem_cache_alloc - allocate an object
 * @c: the cache
 * @gfp: GFP flags (GFP_KERNEL, GFP_ATOMIC, __GFP_ZERO, __GFP_NOFAIL, ...)
 *
 * CONTEXT: any; GFP_ATOMIC never blocks.
 * RETURNS: an object in constructed state (zeroed with __GFP_ZERO), or NULL.
 */
SM_EXPORT void *slabmalloc_kmem_cache_alloc(kmem_cache_t *c, gfp_t gfp)
{
	if (unlikely(gfp & __GFP_ZERO))
		return kmem_cache_alloc_special(c, gfp);
	/* mag_alloc's fast path, with a slow path that retries per @gfp (and
	 * alone asks for injected failures: cc_key is SM_TC_NONE's then). */
	return mag_alloc_or(c, gfp, kmem_cache_alloc_slow);
}

/**
 * slabmalloc_kmem_cache_zalloc - allocate a zeroed object
 * CONTEXT: as kmem_cache_alloc.
 * RETURNS: the object, or NULL.
 */
SM_EXPORT void *slabmalloc_kmem_cache_zalloc(kmem_cache_t *c, gfp_t gfp)
{
	return kmem_cache_alloc_special(c, gfp | __GFP_ZERO);
}

/* kmem_cache_free of anything but an object of ZONE_NORMAL: objects of
 * SLAB_CACHE_DMA caches, NULL, and bad input. */
SM_NOINLINE static void kmem_cache_free_other(struct kmem_cache *c, const void *obj)
{
	struct page *pg = sm_virt_to_page(obj);
	if (obj && unlikely(SM_READ_ONCE(c->debug))) {
		slab_debug_free(c, (void *)obj, "kmem_cache_free", __builtin_return_address(0));
		return;
	}
	if (pg && slab_owns(c, pg, obj)) {
		mag_free(c, (void *)obj);
		return;
	}
	if (!obj)
		return;
	slab_bad_free(c, obj, "kmem_cache_free");
}

/**
 * slabmalloc_kmem_cache_free - give an object back to its cache
 * @c: the cache it was allocated from
 * @obj: the object, or NULL (nothing to do)
 *
 * A pointer that is not an object of @c (not in the heap, not a slab, another
 * cache's object, not an object start) stops the program with a one-line
 * "BUG <cache>: ..." message; a double free is caught at the latest when the
 * object returns to its slab.
 *
 * CONTEXT: any.
 */
SM_EXPORT void slabmalloc_kmem_cache_free(kmem_cache_t *c, const void *obj)
{
	/* The window's descriptor may be an alias: the object-start proof
	 * against it is what makes it @obj's (page_alloc.h). */
	const struct page *pg = sm_page_window(obj);
	if (slab_owns(c, pg, obj)) {
		mag_free(c, (void *)obj);
		return;
	}
	kmem_cache_free_other(c, obj);
}

/**
 * slabmalloc_kmem_cache_alloc_bulk - allocate @nr objects into @p
 * CONTEXT: as kmem_cache_alloc.
 * RETURNS: @nr, or 0 (all or nothing: on failure nothing stays allocated).
 */
SM_EXPORT int slabmalloc_kmem_cache_alloc_bulk(kmem_cache_t *c, gfp_t gfp, size_t nr, void **p)
{
	size_t i;
	if (nr > INT32_MAX)
		return 0;
	for (i = 0; i < nr; i++) {
		p[i] = slabmalloc_kmem_cache_alloc(c, gfp);
		if (!p[i]) {
			while (i--)
				mag_free(c, p[i]);
			return 0;
		}
	}
	return (int)nr;
}

/**
 * slabmalloc_kmem_cache_free_bulk - free @nr objects of @c
 * CONTEXT: any.
 */
SM_EXPORT void slabmalloc_kmem_cache_free_bulk(kmem_cache_t *c, size_t nr, void **p)
{
	for (size_t i = 0; i < nr; i++)
		slabmalloc_kmem_cache_free(c, p[i]);
}

/**
 * slabmalloc_kmem_cache_shrink - give idle memory of @c back to the page layer
 *
 * Reaps every magazine of the depot and releases every empty slab
 * (destructors run). The magazines loaded in threads are left alone.
 *
 * CONTEXT: may block.
 * RETURNS: 0 if the cache holds no slab any more, 1 otherwise.
 */
SM_EXPORT int slabmalloc_kmem_cache_shrink(kmem_cache_t *c)
{
	return cache_shrink(c);
}

/** slabmalloc_kmem_cache_size - RETURNS: the object size asked for at creation. */
SM_EXPORT unsigned int slabmalloc_kmem_cache_size(kmem_cache_t *c)
{
	return c->object_size;
}

/** slabmalloc_kmem_cache_name - RETURNS: the cache's name. */
SM_EXPORT const char *slabmalloc_kmem_cache_name(kmem_cache_t *c)
{
	return c->name;
}

/**
 * slabmalloc_slabinfo - write /proc/slabinfo (version 2.1) for every cache
 * CONTEXT: may block; takes the cache-list lock.
 */
SM_EXPORT void slabmalloc_slabinfo(FILE *out)
{
	sm_ensure_init();
	cache_print_slabinfo(out);
}
