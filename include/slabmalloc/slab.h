/* SPDX-License-Identifier: MIT */
/*
 * <slabmalloc/slab.h> — object caches (kmem_cache_*) and kmalloc.
 *
 * A kmem cache hands out objects of one size. Objects are cached in their
 * constructed state (Bonwick 1994): the constructor runs once per object when
 * its slab is created, the destructor when the slab is given back; neither
 * runs on kmem_cache_alloc()/kmem_cache_free(), and the allocator never
 * writes into an object of a cache that has a constructor. Each thread keeps
 * a loaded and a previous magazine of free objects per cache, so the common
 * alloc/free takes no lock (Bonwick & Adams 2001).
 *
 * kmalloc() serves any size: small ones from the kmalloc-N caches, larger
 * ones from whole pages, huge ones from their own mapping.
 */
#ifndef SLABMALLOC_SLAB_H
#define SLABMALLOC_SLAB_H

#include <stddef.h>
#include <slabmalloc/gfp.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kmem_cache kmem_cache_t;

/* Cache flags (kmem_cache_create). */
#define SLAB_DEBUG_FREE     0x00000100UL /* sanity checks on free (F) */
#define SLAB_RED_ZONE       0x00000400UL /* red zones around objects (Z) */
#define SLAB_POISON         0x00000800UL /* poison free objects (P) */
#define SLAB_HWCACHE_ALIGN  0x00002000UL /* objects start on a cache line */
#define SLAB_CACHE_DMA      0x00004000UL /* slabs below 4 GiB (ZONE_DMA) */
#define SLAB_STORE_USER     0x00010000UL /* track alloc/free callers (U) */
#define SLAB_NO_REAP        0x00040000UL /* never reap this cache's depot */
#define SLAB_PANIC          0x00080000UL /* abort if creation fails */

/* Flags passed to constructors and destructors. */
#define SLAB_CTOR_CONSTRUCTOR 0x001UL    /* always set for a constructor call */
#define SLAB_CTOR_ATOMIC      0x002UL    /* the allocation may not block */
#define SLAB_CTOR_VERIFY      0x004UL    /* reserved, never set */

typedef void (*kmem_cache_ctor_t)(void *obj, kmem_cache_t *cache, unsigned long flags);

kmem_cache_t *slabmalloc_kmem_cache_create(const char *name, size_t size, size_t align,
                                           unsigned long flags, kmem_cache_ctor_t ctor,
                                           kmem_cache_ctor_t dtor);
int slabmalloc_kmem_cache_destroy(kmem_cache_t *cache);
void *slabmalloc_kmem_cache_alloc(kmem_cache_t *cache, gfp_t flags);
void *slabmalloc_kmem_cache_zalloc(kmem_cache_t *cache, gfp_t flags);
void slabmalloc_kmem_cache_free(kmem_cache_t *cache, const void *obj);
int slabmalloc_kmem_cache_alloc_bulk(kmem_cache_t *cache, gfp_t flags, size_t nr, void **p);
void slabmalloc_kmem_cache_free_bulk(kmem_cache_t *cache, size_t nr, void **p);
int slabmalloc_kmem_cache_shrink(kmem_cache_t *cache);
unsigned int slabmalloc_kmem_cache_size(kmem_cache_t *cache);
const char *slabmalloc_kmem_cache_name(kmem_cache_t *cache);

void *slabmalloc_kmalloc(size_t size, gfp_t flags);
void *slabmalloc_kzalloc(size_t size, gfp_t flags);
void *slabmalloc_kcalloc(size_t n, size_t size, gfp_t flags);
void *slabmalloc_krealloc(const void *p, size_t new_size, gfp_t flags);
void slabmalloc_kfree(const void *p);
size_t slabmalloc_ksize(const void *p);

#ifndef SLABMALLOC_NO_KERNEL_NAMES
static inline kmem_cache_t *kmem_cache_create(const char *name, size_t size, size_t align,
                                              unsigned long flags, kmem_cache_ctor_t ctor,
                                              kmem_cache_ctor_t dtor)
{ return slabmalloc_kmem_cache_create(name, size, align, flags, ctor, dtor); }
static inline int kmem_cache_destroy(kmem_cache_t *c) { return slabmalloc_kmem_cache_destroy(c); }
static inline void *kmem_cache_alloc(kmem_cache_t *c, gfp_t f) { return slabmalloc_kmem_cache_alloc(c, f); }
static inline void *kmem_cache_zalloc(kmem_cache_t *c, gfp_t f) { return slabmalloc_kmem_cache_zalloc(c, f); }
static inline void kmem_cache_free(kmem_cache_t *c, const void *o) { slabmalloc_kmem_cache_free(c, o); }
static inline int kmem_cache_alloc_bulk(kmem_cache_t *c, gfp_t f, size_t n, void **p)
{ return slabmalloc_kmem_cache_alloc_bulk(c, f, n, p); }
static inline void kmem_cache_free_bulk(kmem_cache_t *c, size_t n, void **p)
{ slabmalloc_kmem_cache_free_bulk(c, n, p); }
static inline int kmem_cache_shrink(kmem_cache_t *c) { return slabmalloc_kmem_cache_shrink(c); }
static inline unsigned int kmem_cache_size(kmem_cache_t *c) { return slabmalloc_kmem_cache_size(c); }
static inline const char *kmem_cache_name(kmem_cache_t *c) { return slabmalloc_kmem_cache_name(c); }

static inline void *kmalloc(size_t size, gfp_t flags) { return slabmalloc_kmalloc(size, flags); }
static inline void *kzalloc(size_t size, gfp_t flags) { return slabmalloc_kzalloc(size, flags); }
static inline void *kcalloc(size_t n, size_t size, gfp_t flags) { return slabmalloc_kcalloc(n, size, flags); }
static inline void *kmalloc_array(size_t n, size_t size, gfp_t flags) { return slabmalloc_kcalloc(n, size, flags & ~__GFP_ZERO) ; }
static inline void *krealloc(const void *p, size_t n, gfp_t flags) { return slabmalloc_krealloc(p, n, flags); }
static inline void kfree(const void *p) { slabmalloc_kfree(p); }
static inline size_t ksize(const void *p) { return slabmalloc_ksize(p); }
#endif

#ifdef __cplusplus
}
#endif
#endif /* SLABMALLOC_SLAB_H */
