/* SPDX-License-Identifier: MIT */
/*
 * <slabmalloc/mempool.h> — memory pools: a guaranteed reserve of elements.
 *
 * A pool keeps min_nr preallocated elements. mempool_alloc() first tries the
 * underlying allocator (without retrying or warning), then the reserve, then,
 * if the GFP flags allow blocking, waits until an element is freed back.
 * mempool_free() refills the reserve first and wakes a waiter.
 */
#ifndef SLABMALLOC_MEMPOOL_H
#define SLABMALLOC_MEMPOOL_H

#include <slabmalloc/gfp.h>
#include <slabmalloc/slab.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void *(mempool_alloc_t)(gfp_t gfp_mask, void *pool_data);
typedef void (mempool_free_t)(void *element, void *pool_data);
typedef struct mempool_s mempool_t;

mempool_t *slabmalloc_mempool_create(int min_nr, mempool_alloc_t *alloc_fn,
                                     mempool_free_t *free_fn, void *pool_data);
void slabmalloc_mempool_destroy(mempool_t *pool);
int slabmalloc_mempool_resize(mempool_t *pool, int new_min_nr);
void *slabmalloc_mempool_alloc(mempool_t *pool, gfp_t gfp_mask);
void slabmalloc_mempool_free(void *element, mempool_t *pool);

void *slabmalloc_mempool_alloc_slab(gfp_t gfp_mask, void *pool_data);
void slabmalloc_mempool_free_slab(void *element, void *pool_data);
void *slabmalloc_mempool_kmalloc(gfp_t gfp_mask, void *pool_data);
void slabmalloc_mempool_kfree(void *element, void *pool_data);
void *slabmalloc_mempool_alloc_pages(gfp_t gfp_mask, void *pool_data);
void slabmalloc_mempool_free_pages(void *element, void *pool_data);

#ifndef SLABMALLOC_NO_KERNEL_NAMES
static inline mempool_t *mempool_create(int min_nr, mempool_alloc_t *alloc_fn,
                                        mempool_free_t *free_fn, void *pool_data)
{ return slabmalloc_mempool_create(min_nr, alloc_fn, free_fn, pool_data); }
static inline void mempool_destroy(mempool_t *pool) { slabmalloc_mempool_destroy(pool); }
static inline int mempool_resize(mempool_t *pool, int new_min_nr)
{ return slabmalloc_mempool_resize(pool, new_min_nr); }
static inline void *mempool_alloc(mempool_t *pool, gfp_t gfp_mask)
{ return slabmalloc_mempool_alloc(pool, gfp_mask); }
static inline void mempool_free(void *element, mempool_t *pool)
{ slabmalloc_mempool_free(element, pool); }
#define mempool_alloc_slab  slabmalloc_mempool_alloc_slab
#define mempool_free_slab   slabmalloc_mempool_free_slab
#define mempool_kmalloc     slabmalloc_mempool_kmalloc
#define mempool_kfree       slabmalloc_mempool_kfree
#define mempool_alloc_pages slabmalloc_mempool_alloc_pages
#define mempool_free_pages  slabmalloc_mempool_free_pages
static inline mempool_t *mempool_create_slab_pool(int min_nr, kmem_cache_t *cache)
{ return slabmalloc_mempool_create(min_nr, slabmalloc_mempool_alloc_slab,
                                   slabmalloc_mempool_free_slab, cache); }
static inline mempool_t *mempool_create_kmalloc_pool(int min_nr, size_t size)
{ return slabmalloc_mempool_create(min_nr, slabmalloc_mempool_kmalloc,
                                   slabmalloc_mempool_kfree, (void *)size); }
static inline mempool_t *mempool_create_page_pool(int min_nr, int order)
{ return slabmalloc_mempool_create(min_nr, slabmalloc_mempool_alloc_pages,
                                   slabmalloc_mempool_free_pages, (void *)(long)order); }
#endif

#ifdef __cplusplus
}
#endif
#endif /* SLABMALLOC_MEMPOOL_H */
