/* SPDX-License-Identifier: MIT */
/*
 * <slabmalloc/mempool.h> — memory pools: a guaranteed reserve of elements.
 *
 * A pool keeps min_nr preallocated elements. mempool_alloc() first tries the
 * underlying allocator (without retrying or warning), then the reserve, then,
 * if the GFP flags allow blocking, waits until an element is freed back:
 * with GFP_KERNEL it never returns NULL; with GFP_ATOMIC it returns NULL once
 * the reserve is empty. mempool_free() refills the reserve first and wakes a
 * waiter. mempool_destroy() returns every reserved element through free_fn.
 *
 * The helpers: mempool_create_slab_pool(n, cache) (elements are objects of
 * the cache), mempool_create_kmalloc_pool(n, size) (kmalloc(size) blocks),
 * mempool_create_page_pool(n, order) (elements are struct page pointers of
 * 2^order pages). Passing mempool_alloc_slab/mempool_free_slab (etc.) to
 * mempool_create(), as LDD3 does, makes the same pools. For these pools
 * mempool_free() checks that the element belongs to the pool.
 *
 * Bad input stops the program with a one-line message: a NULL or destroyed
 * pool, a foreign element, an element freed twice into the reserve.
 * mempool_create() with min_nr < 1 or a NULL function returns NULL with
 * errno EINVAL. mempool_destroy(NULL) does nothing (as in the kernel).
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

mempool_t *slabmalloc_mempool_create_slab_pool(int min_nr, kmem_cache_t *cache);
mempool_t *slabmalloc_mempool_create_kmalloc_pool(int min_nr, size_t size);
mempool_t *slabmalloc_mempool_create_page_pool(int min_nr, int order);

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
{ return slabmalloc_mempool_create_slab_pool(min_nr, cache); }
static inline mempool_t *mempool_create_kmalloc_pool(int min_nr, size_t size)
{ return slabmalloc_mempool_create_kmalloc_pool(min_nr, size); }
static inline mempool_t *mempool_create_page_pool(int min_nr, int order)
{ return slabmalloc_mempool_create_page_pool(min_nr, order); }
#endif

#ifdef __cplusplus
}
#endif
#endif /* SLABMALLOC_MEMPOOL_H */
