/* SPDX-License-Identifier: MIT */
/*
 * mempool.c — memory pools: a guaranteed reserve of preallocated elements
 * on top of any allocator (the kernel's mm/mempool.c, LDD3 chapter 8).
 *
 * Purpose. Code that must make progress under memory pressure (the kernel's
 * block I/O path; here, say, a server that must always be able to answer
 * "out of memory") creates a pool with a reserve of min_nr elements. An
 * allocation first asks the underlying allocator, and only when that fails
 * takes from the reserve; when the reserve is empty too, a caller that may
 * block waits for another thread to give an element back. Elements freed
 * while the reserve is short refill it.
 *
 * Data structures. struct mempool_s holds the reserve as a stack of element
 * pointers (pool_elements, capacity pool_cap >= pool_min_nr, pool_curr_nr
 * used), the element allocator (pool_alloc/pool_free/pool_data), and a
 * condition variable on which blocked allocators wait (pool_waiters of them).
 * pool_kind records whether the pool was made by one of the helpers
 * (slab/kmalloc/page pools), which lets mempool_free() check that an element
 * belongs to the pool and lets __GFP_ZERO know the element size. Every pool
 * is on mempool_list so the fork handlers can find its lock.
 *
 * Invariants (under pool_lock): 0 <= pool_curr_nr <= pool_cap; pool_min_nr
 * >= 1; pool_curr_nr may exceed pool_min_nr only while mempool_resize()
 * grows the pool; pool_waiters > 0 only while pool_curr_nr was 0 when those
 * waiters went to sleep; pool_magic == MEMPOOL_MAGIC while the pool lives.
 *
 * Locks. pool_lock is a leaf: it is never held while calling the element
 * allocator (pool_alloc/pool_free) or any other allocator function, so
 * those may take any lock they like. mempool_list_lock is taken alone,
 * except by the fork handlers, which take it and then every pool_lock.
 *
 * Fast path (mempool_alloc): pool_alloc() with __GFP_NORETRY|__GFP_NOWARN and,
 * on the first attempt, without __GFP_WAIT/__GFP_IO: the pool prefers its
 * reserve to blocking or mapping memory, as the kernel's does. No pool lock
 * is taken when the allocator succeeds. mempool_free() reads pool_curr_nr
 * without the lock (relaxed) and takes the lock only when the reserve looks
 * short: a free that races with an allocation may hand the element to the
 * allocator instead of the reserve, which is harmless because the reserve
 * is refilled by later frees (the kernel's argument, mm/mempool.c).
 * The kmalloc and slab helper pools go one step further: their first
 * attempt is the cache's own fast path inlined (a pop from the thread's
 * loaded magazine), and a free while the reserve is full pushes the element
 * straight onto the magazine, after the same checks check_element() and the
 * cache's free would make (class size or cache, object start, not the
 * round on top of the magazine).
 * So a pool of kmalloc or slab objects costs about what the cache does.
 *
 * Slow path: reserve (under the lock), then one more pool_alloc() with the
 * caller's full flags, then, if the flags allow blocking (__GFP_WAIT, or
 * __GFP_NOFAIL), sleep on pool_wait until a free refills the reserve (at most
 * 5 s per sleep, then try pool_alloc() again, like the kernel's
 * io_schedule_timeout(5*HZ)). Without __GFP_WAIT (GFP_ATOMIC, GFP_NOWAIT) the
 * pool lock is only try-locked (a few attempts), and the call returns NULL
 * once the reserve is empty.
 *
 * Fork: mempool_prefork() takes mempool_list_lock and every pool_lock (no
 * thread holds a pool_lock across a call out, so this cannot wait for long);
 * the parent releases them; the child re-initialises them and forgets the
 * waiters (those threads do not exist in the child).
 *
 * Floor 12 (src/layers.txt): built on the entry points (kmalloc,
 * kmem_cache_*, alloc_pages) like any caller; its fork handlers reach the
 * top through sm_fork_register.
 */
#include "kmalloc.h"
#include "slab_internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define MEMPOOL_MAGIC        0x6d706f6fu          /* "mpoo" */
#define MEMPOOL_WAIT_NS      5000000000ull        /* kernel: 5*HZ */
#define MEMPOOL_TRYLOCK_SPIN 64

enum mempool_kind {
	MEMPOOL_CUSTOM = 0,              /* mempool_create() with user functions */
	MEMPOOL_SLAB,                    /* pool_data is a kmem_cache_t * */
	MEMPOOL_KMALLOC,                 /* pool_data is the size */
	MEMPOOL_PAGES,                   /* pool_data is the order; struct page * */
};

struct mempool_s {
	pthread_mutex_t   pool_lock;     /* leaf; protects the fields below */
	pthread_cond_t    pool_wait;     /* signalled when the reserve grows */
	int               pool_min_nr;   /* reserve target (read unlocked) */
	int               pool_curr_nr;  /* elements in the reserve (read unlocked) */
	int               pool_cap;      /* capacity of pool_elements */
	unsigned int      pool_waiters;  /* threads asleep in mempool_alloc() */
	void            **pool_elements; /* the reserve, a stack */
	mempool_alloc_t  *pool_alloc;    /* element allocator */
	mempool_free_t   *pool_free;     /* element release */
	void             *pool_data;     /* their private argument */
	enum mempool_kind pool_kind;     /* helper that made the pool, if any */
	uint32_t          pool_magic;    /* MEMPOOL_MAGIC while alive */
	int               pool_zero_warned;  /* __GFP_ZERO warning given */
	struct mempool_s *pool_next, *pool_prev;  /* mempool_list */
};

static pthread_mutex_t mempool_list_lock = PTHREAD_MUTEX_INITIALIZER;

/* Fork handlers (below), registered with the top's at the first pool. */
static void mempool_prefork(void);
static void mempool_postfork_parent(void);
static void mempool_postfork_child(void);
static const struct sm_fork_ops mempool_fork_ops = {
	mempool_prefork, mempool_postfork_parent, mempool_postfork_child,
};
static struct mempool_s *mempool_list;

/* ---- small helpers ---- */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

static inline void pool_check(const struct mempool_s *pool, const char *fn)
{
	if (unlikely(!pool))
		sm_fatal("%s(): NULL pool", fn);
	if (unlikely(pool->pool_magic != MEMPOOL_MAGIC))
		sm_fatal("%s(): %p is not a mempool (destroyed?)", fn, (const void *)pool);
}

/* Lock the pool: blocking when @may_block, otherwise a few try-locks (the
 * holder keeps the lock for a handful of instructions). RETURNS: locked. */
static bool pool_lock(struct mempool_s *pool, bool may_block)
{
	if (may_block) {
		sm_mutex_lock(&pool->pool_lock);
		return true;
	}
	for (int i = 0; i < MEMPOOL_TRYLOCK_SPIN; i++) {
		if (sm_mutex_trylock(&pool->pool_lock) == 0)
			return true;
		cpu_relax();
	}
	return false;
}

static inline void pool_unlock(struct mempool_s *pool)
{
	sm_mutex_unlock(&pool->pool_lock);
}

static inline void add_element(struct mempool_s *pool, void *element)
{
	sm_assert(pool->pool_curr_nr < pool->pool_cap);
	pool->pool_elements[pool->pool_curr_nr] = element;
	SM_WRITE_ONCE(pool->pool_curr_nr, pool->pool_curr_nr + 1);
}

static inline void *remove_element(struct mempool_s *pool)
{
	sm_assert(pool->pool_curr_nr > 0);
	int n = pool->pool_curr_nr - 1;
	SM_WRITE_ONCE(pool->pool_curr_nr, n);
	return pool->pool_elements[n];
}

/* Size of an element of a helper pool; 0 if the pool cannot know it. */
static size_t element_size(const struct mempool_s *pool)
{
	switch (pool->pool_kind) {
	case MEMPOOL_SLAB:
		return slabmalloc_kmem_cache_size(pool->pool_data);
	case MEMPOOL_KMALLOC:
		return (size_t)pool->pool_data;
	case MEMPOOL_PAGES:
		return PAGE_SIZE << (unsigned int)(long)pool->pool_data;
	default:
		return 0;
	}
}

static void *finish_alloc(struct mempool_s *pool, void *element, bool zero)
{
	if (zero) {
		size_t size = element_size(pool);
		if (size)
			memset(pool->pool_kind == MEMPOOL_PAGES ?
			       slabmalloc_page_address(element) : element, 0, size);
	}
	return element;
}

/* A blocked allocator that was woken but did not use the reserve passes
 * the wake-up on, so a refilled reserve never sits beside a sleeper. */
static void pass_wakeup(struct mempool_s *pool)
{
	sm_mutex_lock(&pool->pool_lock);
	if (pool->pool_curr_nr > 0 && pool->pool_waiters > 0)
		pthread_cond_signal(&pool->pool_wait);
	pool_unlock(pool);
}

/* Does @element belong to @pool? Checked for the helper pools, whose
 * elements we can recognise; a foreign element stops the program. */
static void check_element(const struct mempool_s *pool, void *element)
{
	switch (pool->pool_kind) {
	case MEMPOOL_SLAB: {
		const struct kmem_cache *c = pool->pool_data;
		const struct page *pg = sm_virt_to_page(element);
		if (pg && slab_owns(c, pg, element))
			return;
		break;
	}
	case MEMPOOL_KMALLOC: {
		size_t size = (size_t)pool->pool_data;
		const struct page *pg = sm_virt_to_page(element);
		const struct kmem_cache *c = pg ? pg->slab_cache : NULL;
		/* A slab object, checked without ksize()'s full
		 * classification: the element may be about to enter the
		 * reserve, out of the magazines' and slabs' sight, so one
		 * proven free already (kfree's checks) is reported here. */
		if (c) {
			if (!(c->flags & SLAB_KMALLOC) || c->object_size < size ||
			    !slab_is_obj_start(c, pg, element))
				break;
			if (unlikely(kmalloc_freed(c, pg, element)))
				sm_fatal("mempool_free(): double free detected (%p)", element);
			return;
		}
		if ((pg || vmap_size(element)) &&
		    kmalloc_usable(element, "mempool_free", true) >= size)
			return;
		break;
	}
	case MEMPOOL_PAGES: {
		const struct page *pg = element;
		unsigned int order = (unsigned int)(long)pool->pool_data;
		for (int z = 0; z < SM_NR_ZONES; z++) {
			const struct zone *zone = &sm_zones[z];
			size_t npages = SM_READ_ONCE(zone->zone_limit) >> SM_PAGE_SHIFT;
			if (!zone->zone_mem_map || pg < zone->zone_mem_map ||
			    pg >= zone->zone_mem_map + npages)
				continue;
			if (((uintptr_t)pg - (uintptr_t)zone->zone_mem_map) % sizeof(*pg))
				break;
			/* An allocated alloc_pages() block of the pool's order
			 * (not a slab, a kmalloc large or an exact range). */
			uint32_t kind = pg->flags & (PG_head | PG_buddy | PG_pcp | PG_slab |
			                             PG_large | PG_exact | PG_lcached | PG_purge);
			if (kind == PG_head && pg->order == order)
				return;
			break;
		}
		break;
	}
	default:
		return;
	}
	sm_fatal("mempool_free(): element %p does not belong to this pool", element);
}

/* ---- creation and destruction ---- */

static enum mempool_kind kind_of(mempool_alloc_t *alloc_fn, mempool_free_t *free_fn)
{
	if (alloc_fn == slabmalloc_mempool_alloc_slab && free_fn == slabmalloc_mempool_free_slab)
		return MEMPOOL_SLAB;
	if (alloc_fn == slabmalloc_mempool_kmalloc && free_fn == slabmalloc_mempool_kfree)
		return MEMPOOL_KMALLOC;
	if (alloc_fn == slabmalloc_mempool_alloc_pages && free_fn == slabmalloc_mempool_free_pages)
		return MEMPOOL_PAGES;
	return MEMPOOL_CUSTOM;
}

static bool pool_data_valid(enum mempool_kind kind, void *pool_data)
{
	switch (kind) {
	case MEMPOOL_SLAB:
		return pool_data != NULL;
	case MEMPOOL_KMALLOC:
		return (size_t)pool_data != 0;
	case MEMPOOL_PAGES:
		return (long)pool_data >= 0 && (long)pool_data < MAX_ORDER;
	default:
		return true;
	}
}

/* Give back every reserved element and the pool's own memory. */
static void pool_free_all(struct mempool_s *pool)
{
	while (pool->pool_curr_nr > 0)
		pool->pool_free(remove_element(pool), pool->pool_data);
	pool->pool_magic = 0;
	pthread_cond_destroy(&pool->pool_wait);
	pthread_mutex_destroy(&pool->pool_lock);
	slabmalloc_kfree(pool->pool_elements);
	slabmalloc_kfree(pool);
}

static mempool_t *pool_create(int min_nr, mempool_alloc_t *alloc_fn,
                              mempool_free_t *free_fn, void *pool_data,
                              enum mempool_kind kind)
{
	if (min_nr < 1 || !alloc_fn || !free_fn || !pool_data_valid(kind, pool_data)) {
		errno = EINVAL;
		return NULL;
	}
	struct mempool_s *pool = slabmalloc_kmalloc(sizeof(*pool), GFP_KERNEL | __GFP_ZERO);
	if (!pool) {
		errno = ENOMEM;
		return NULL;
	}
	pool->pool_elements = slabmalloc_kmalloc((size_t)min_nr * sizeof(void *), GFP_KERNEL);
	if (!pool->pool_elements) {
		slabmalloc_kfree(pool);
		errno = ENOMEM;
		return NULL;
	}
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->pool_wait, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&pool->pool_lock, NULL);
	pool->pool_min_nr = min_nr;
	pool->pool_cap = min_nr;
	pool->pool_alloc = alloc_fn;
	pool->pool_free = free_fn;
	pool->pool_data = pool_data;
	pool->pool_kind = kind;
	pool->pool_magic = MEMPOOL_MAGIC;

	/* The guaranteed elements, allocated as the kernel does with
	 * GFP_KERNEL; the pool is not visible yet, so no lock is needed. */
	while (pool->pool_curr_nr < min_nr) {
		void *element = alloc_fn(GFP_KERNEL, pool_data);
		if (!element) {
			pool_free_all(pool);
			errno = ENOMEM;
			return NULL;
		}
		add_element(pool, element);
	}

	sm_fork_register(&mempool_fork_ops);
	sm_mutex_lock(&mempool_list_lock);
	pool->pool_next = mempool_list;
	if (mempool_list)
		mempool_list->pool_prev = pool;
	mempool_list = pool;
	sm_mutex_unlock(&mempool_list_lock);
	return pool;
}

/**
 * slabmalloc_mempool_create - create a pool with a reserve of @min_nr elements
 * @min_nr:    elements guaranteed to be available (>= 1)
 * @alloc_fn:  allocates one element; gets the GFP flags and @pool_data
 * @free_fn:   frees one element
 * @pool_data: passed to @alloc_fn and @free_fn
 *
 * The reserve is filled at once with @alloc_fn(GFP_KERNEL, @pool_data).
 * Passing the helper functions (mempool_alloc_slab/mempool_free_slab and
 * so on) gives the same pool as mempool_create_slab_pool() and friends.
 * CONTEXT: may block.
 * RETURNS: the pool, or NULL with errno EINVAL (@min_nr < 1, a NULL
 * function, a NULL cache / zero size / bad order for the helpers) or ENOMEM
 * (nothing is left allocated).
 */
SM_EXPORT mempool_t *slabmalloc_mempool_create(int min_nr, mempool_alloc_t *alloc_fn,
                                               mempool_free_t *free_fn, void *pool_data)
{
	return pool_create(min_nr, alloc_fn, free_fn, pool_data, kind_of(alloc_fn, free_fn));
}

/**
 * slabmalloc_mempool_create_slab_pool - a pool of objects of @cache
 * CONTEXT: may block. RETURNS: the pool, or NULL (errno EINVAL or ENOMEM).
 */
SM_EXPORT mempool_t *slabmalloc_mempool_create_slab_pool(int min_nr, kmem_cache_t *cache)
{
	return pool_create(min_nr, slabmalloc_mempool_alloc_slab,
	                   slabmalloc_mempool_free_slab, cache, MEMPOOL_SLAB);
}

/**
 * slabmalloc_mempool_create_kmalloc_pool - a pool of kmalloc(@size) blocks
 * CONTEXT: may block. RETURNS: the pool, or NULL (errno EINVAL or ENOMEM).
 */
SM_EXPORT mempool_t *slabmalloc_mempool_create_kmalloc_pool(int min_nr, size_t size)
{
	return pool_create(min_nr, slabmalloc_mempool_kmalloc, slabmalloc_mempool_kfree,
	                   (void *)size, MEMPOOL_KMALLOC);
}

/**
 * slabmalloc_mempool_create_page_pool - a pool of 2^@order-page blocks
 * (elements are struct page pointers, as alloc_pages() returns)
 * CONTEXT: may block. RETURNS: the pool, or NULL (errno EINVAL or ENOMEM).
 */
SM_EXPORT mempool_t *slabmalloc_mempool_create_page_pool(int min_nr, int order)
{
	return pool_create(min_nr, slabmalloc_mempool_alloc_pages,
	                   slabmalloc_mempool_free_pages, (void *)(long)order, MEMPOOL_PAGES);
}

/**
 * slabmalloc_mempool_destroy - free the reserve and the pool
 * @pool: a pool, or NULL (nothing happens, as in the kernel since 4.3)
 *
 * Every reserved element goes back through free_fn. Elements still out
 * (allocated and not yet freed to the pool) are the caller's: as in the
 * kernel they are not tracked, so they must be freed with the underlying
 * allocator, not with mempool_free() on the dead pool. Destroying a pool
 * on which threads are waiting stops the program with a message.
 * CONTEXT: may block (free_fn may).
 */
SM_EXPORT void slabmalloc_mempool_destroy(mempool_t *pool)
{
	if (!pool)
		return;
	pool_check(pool, "mempool_destroy");
	sm_mutex_lock(&pool->pool_lock);
	if (pool->pool_waiters)
		sm_fatal("mempool_destroy(): %u thread(s) still waiting in mempool_alloc() "
		         "on pool %p", pool->pool_waiters, (void *)pool);
	pool->pool_magic = 0;            /* later calls on it are caught */
	pool_unlock(pool);

	sm_mutex_lock(&mempool_list_lock);
	if (pool->pool_prev)
		pool->pool_prev->pool_next = pool->pool_next;
	else
		mempool_list = pool->pool_next;
	if (pool->pool_next)
		pool->pool_next->pool_prev = pool->pool_prev;
	sm_mutex_unlock(&mempool_list_lock);

	pool_free_all(pool);
}

/* ---- resize ---- */

/* Give back reserved elements above @target, calling free_fn unlocked.
 * Called and returns with the pool locked. */
static void pool_trim_locked(struct mempool_s *pool, int target)
{
	while (pool->pool_curr_nr > target) {
		void *element = remove_element(pool);
		pool_unlock(pool);
		pool->pool_free(element, pool->pool_data);
		sm_mutex_lock(&pool->pool_lock);
	}
}

/**
 * slabmalloc_mempool_resize - change the number of guaranteed elements
 * @pool:       the pool
 * @new_min_nr: the new reserve size (>= 1)
 *
 * Shrinking frees the surplus reserved elements at once. Growing allocates
 * the new elements with alloc_fn(GFP_KERNEL): unlike the kernel, which may
 * return 0 with the reserve only partly filled, a failure here undoes the
 * growth and returns -ENOMEM, so on success the reserve really holds
 * @new_min_nr elements (minus those that other threads took meanwhile).
 * CONTEXT: may block; mempool_alloc()/mempool_free() may run concurrently,
 * mempool_destroy() must not.
 * RETURNS: 0, -EINVAL (@new_min_nr < 1) or -ENOMEM.
 */
SM_EXPORT int slabmalloc_mempool_resize(mempool_t *pool, int new_min_nr)
{
	pool_check(pool, "mempool_resize");
	if (new_min_nr < 1)
		return -EINVAL;

	sm_mutex_lock(&pool->pool_lock);
	if (new_min_nr <= pool->pool_min_nr) {
		SM_WRITE_ONCE(pool->pool_min_nr, new_min_nr);
		pool_trim_locked(pool, new_min_nr);
		pool_unlock(pool);
		return 0;
	}
	int cap = pool->pool_cap;
	pool_unlock(pool);

	if (new_min_nr > cap) {
		void **fresh = slabmalloc_kmalloc((size_t)new_min_nr * sizeof(void *), GFP_KERNEL);
		if (!fresh)
			return -ENOMEM;
		sm_mutex_lock(&pool->pool_lock);
		void **old = fresh;
		if (new_min_nr > pool->pool_cap) {
			memcpy(fresh, pool->pool_elements,
			       (size_t)pool->pool_curr_nr * sizeof(void *));
			old = pool->pool_elements;
			pool->pool_elements = fresh;
			pool->pool_cap = new_min_nr;
		}
		pool_unlock(pool);
		slabmalloc_kfree(old);
	}

	/* Fill up to @new_min_nr; pool_min_nr is raised only once we have
	 * them, so a failure leaves the pool as it was. */
	sm_mutex_lock(&pool->pool_lock);
	while (pool->pool_curr_nr < new_min_nr && pool->pool_min_nr < new_min_nr) {
		pool_unlock(pool);
		void *element = pool->pool_alloc(GFP_KERNEL, pool->pool_data);
		sm_mutex_lock(&pool->pool_lock);
		if (!element) {
			pool_trim_locked(pool, pool->pool_min_nr);
			pool_unlock(pool);
			return -ENOMEM;
		}
		if (pool->pool_curr_nr < pool->pool_cap) {
			add_element(pool, element);
			if (pool->pool_waiters)
				pthread_cond_signal(&pool->pool_wait);
		} else {
			pool_unlock(pool);
			pool->pool_free(element, pool->pool_data);
			sm_mutex_lock(&pool->pool_lock);
		}
	}
	if (pool->pool_min_nr < new_min_nr)
		SM_WRITE_ONCE(pool->pool_min_nr, new_min_nr);
	pool_unlock(pool);
	return 0;
}

/* ---- allocation and free ---- */

/* mempool_alloc() after pool_check, whole: alloc_fn, the reserve, alloc_fn
 * with the full flags, waiting. */
static SM_NOINLINE void *mempool_alloc_slow(struct mempool_s *pool, gfp_t gfp_mask)
{
	bool zero = (gfp_mask & __GFP_ZERO) != 0;
	bool may_block = (gfp_mask & (__GFP_WAIT | __GFP_NOFAIL)) != 0;
	bool woken = false;

	if (zero && pool->pool_kind == MEMPOOL_CUSTOM &&
	    !__atomic_exchange_n(&pool->pool_zero_warned, 1, __ATOMIC_RELAXED))
		sm_warn("mempool_alloc(): __GFP_ZERO ignored: the element size of a "
		        "pool made by mempool_create() is unknown");
	/* The pool is the retry policy: the allocator must fail fast and
	 * quietly; NOFAIL is implemented here by waiting, not below. */
	gfp_t gfp = (gfp_mask & ~(__GFP_ZERO | __GFP_NOFAIL | __GFP_REPEAT)) |
	            __GFP_NORETRY | __GFP_NOWARN;
	if (gfp_mask & __GFP_NOFAIL)
		gfp |= __GFP_WAIT;
	gfp_t gfp_temp = gfp & ~(__GFP_WAIT | __GFP_IO);

	for (;;) {
		void *element = pool->pool_alloc(gfp_temp, pool->pool_data);
		if (likely(element != NULL)) {
			if (unlikely(woken))
				pass_wakeup(pool);
			return finish_alloc(pool, element, zero);
		}

		if (!pool_lock(pool, may_block))
			return NULL;     /* GFP_ATOMIC and the lock is busy */
		if (likely(pool->pool_curr_nr > 0)) {
			element = remove_element(pool);
			if (unlikely(woken) && pool->pool_curr_nr > 0 && pool->pool_waiters)
				pthread_cond_signal(&pool->pool_wait);
			pool_unlock(pool);
			return finish_alloc(pool, element, zero);
		}
		/* Reserve empty: first retry the allocator with the full flags. */
		if (gfp_temp != gfp) {
			pool_unlock(pool);
			gfp_temp = gfp;
			continue;
		}
		if (!may_block) {
			pool_unlock(pool);
			return NULL;
		}
		/* Wait for a free (or the timeout), then start over. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + MEMPOOL_WAIT_NS;
		ts.tv_sec += (time_t)(ns / 1000000000ull);
		ts.tv_nsec = (long)(ns % 1000000000ull);
		pool->pool_waiters++;
		pthread_cond_timedwait(&pool->pool_wait, &pool->pool_lock, &ts);
		pool->pool_waiters--;
		pool_unlock(pool);
		woken = true;
	}
}

/* mag_alloc_or's slow path for a fast path that only pops. */
static inline void *pop_only(struct kmem_cache *c, gfp_t gfp)
{
	(void)c, (void)gfp;
	return NULL;
}

/**
 * slabmalloc_mempool_alloc - allocate an element
 * @pool:     the pool
 * @gfp_mask: GFP flags
 *
 * Tries alloc_fn (with __GFP_NORETRY|__GFP_NOWARN, and without __GFP_WAIT
 * and __GFP_IO the first time; for the kmalloc and slab helper pools that
 * first try is a pop from the thread's magazine, inline), then the
 * reserve, then alloc_fn with the caller's flags; then, if @gfp_mask
 * allows blocking (__GFP_WAIT or __GFP_NOFAIL), waits for mempool_free() to
 * refill the reserve and tries again, so with GFP_KERNEL it never returns
 * NULL. __GFP_ZERO is honoured for the helper pools (whose element size is
 * known) and ignored, with one warning, for pools of user functions.
 * CONTEXT: GFP_ATOMIC never blocks (the pool lock is only try-locked).
 * RETURNS: an element, or NULL (only without __GFP_WAIT/__GFP_NOFAIL).
 */
SM_EXPORT void *slabmalloc_mempool_alloc(mempool_t *pool, gfp_t gfp_mask)
{
	pool_check(pool, "mempool_alloc");
	/* Fast path: the helper pools pop straight from their cache's loaded
	 * magazine (kmalloc's and kmem_cache_alloc's own fast paths, which
	 * never block and let injected faults through to the slow path);
	 * everything else, and an empty magazine, takes the slow path. */
	if (likely(!(gfp_mask & (__GFP_ZERO | __GFP_NOFAIL | __GFP_DMA)))) {
		void *element = NULL;
		if (pool->pool_kind == MEMPOOL_KMALLOC)
			element = kmalloc_fast((size_t)pool->pool_data);
		else if (pool->pool_kind == MEMPOOL_SLAB)
			element = mag_alloc_or(pool->pool_data, gfp_mask, pop_only);
		if (likely(element != NULL))
			return element;
	}
	return mempool_alloc_slow(pool, gfp_mask);
}

/* mempool_free() after pool_check: everything but the fast path. */
static SM_NOINLINE void mempool_free_slow(void *element, struct mempool_s *pool)
{
	if (unlikely(element == NULL))
		return;
	check_element(pool, element);

	if (unlikely(SM_READ_ONCE(pool->pool_curr_nr) < SM_READ_ONCE(pool->pool_min_nr))) {
		sm_mutex_lock(&pool->pool_lock);
		if (likely(pool->pool_curr_nr < pool->pool_min_nr)) {
			for (int i = 0; i < pool->pool_curr_nr; i++)
				if (unlikely(pool->pool_elements[i] == element))
					sm_fatal("mempool_free(): element %p freed twice "
					         "(it is already in the pool's reserve)", element);
			add_element(pool, element);
			if (pool->pool_waiters)
				pthread_cond_signal(&pool->pool_wait);
			pool_unlock(pool);
			return;
		}
		pool_unlock(pool);
	}
	pool->pool_free(element, pool->pool_data);
}

/**
 * slabmalloc_mempool_free - give an element back to the pool
 * @element: an element from mempool_alloc() on @pool, or NULL (no-op)
 * @pool:    the pool
 *
 * Refills the reserve when it is below min_nr (and wakes one waiting
 * allocator), otherwise frees the element with free_fn (for the kmalloc
 * and slab helper pools, inline: a push onto the thread's magazine after
 * the same checks). For the helper pools an element that does not come from the pool's cache, size or order
 * stops the program, as does an element already in the reserve.
 * CONTEXT: blocks only on the pool lock (held briefly) and in free_fn.
 */
SM_EXPORT void slabmalloc_mempool_free(void *element, mempool_t *pool)
{
	pool_check(pool, "mempool_free");
	/* Fast path, while the reserve is full (nearly always): an element of
	 * a kmalloc or slab pool goes straight onto its cache's magazine,
	 * with the checks of check_element and of the cache's own free (the
	 * same fast paths: kfree_fast_try, kmem_cache_free's). Anything else,
	 * NULL included, takes the slow path. */
	if (likely(SM_READ_ONCE(pool->pool_curr_nr) >= SM_READ_ONCE(pool->pool_min_nr))) {
		if (pool->pool_kind == MEMPOOL_KMALLOC) {
			if (likely(kfree_fast_try(element, sm_page_window(element),
			                          (size_t)pool->pool_data)))
				return;
		} else if (pool->pool_kind == MEMPOOL_SLAB) {
			struct kmem_cache *c = pool->pool_data;
			const struct page *pg = sm_page_window(element);
			if (slab_owns(c, pg, element)) {
				mag_free(c, element);
				return;
			}
		}
	}
	mempool_free_slow(element, pool);
}

/* ---- the helpers' element functions ---- */

/** slabmalloc_mempool_alloc_slab - alloc_fn for a pool of @pool_data's objects */
SM_EXPORT void *slabmalloc_mempool_alloc_slab(gfp_t gfp_mask, void *pool_data)
{
	return slabmalloc_kmem_cache_alloc(pool_data, gfp_mask);
}

/** slabmalloc_mempool_free_slab - free_fn for a pool of @pool_data's objects */
SM_EXPORT void slabmalloc_mempool_free_slab(void *element, void *pool_data)
{
	slabmalloc_kmem_cache_free(pool_data, element);
}

/** slabmalloc_mempool_kmalloc - alloc_fn: kmalloc((size_t)@pool_data) */
SM_EXPORT void *slabmalloc_mempool_kmalloc(gfp_t gfp_mask, void *pool_data)
{
	return slabmalloc_kmalloc((size_t)pool_data, gfp_mask);
}

/** slabmalloc_mempool_kfree - free_fn: kfree(@element) */
SM_EXPORT void slabmalloc_mempool_kfree(void *element, void *pool_data)
{
	(void)pool_data;
	slabmalloc_kfree(element);
}

/** slabmalloc_mempool_alloc_pages - alloc_fn: alloc_pages(order (long)@pool_data) */
SM_EXPORT void *slabmalloc_mempool_alloc_pages(gfp_t gfp_mask, void *pool_data)
{
	return slabmalloc_alloc_pages(gfp_mask, (unsigned int)(long)pool_data);
}

/** slabmalloc_mempool_free_pages - free_fn: __free_pages(@element, order) */
SM_EXPORT void slabmalloc_mempool_free_pages(void *element, void *pool_data)
{
	slabmalloc___free_pages(element, (unsigned int)(long)pool_data);
}

/* ---- fork ---- */

static void mempool_prefork(void)
{
	sm_mutex_lock(&mempool_list_lock);
	for (struct mempool_s *p = mempool_list; p; p = p->pool_next)
		sm_mutex_lock(&p->pool_lock);
}

static void mempool_postfork_parent(void)
{
	for (struct mempool_s *p = mempool_list; p; p = p->pool_next)
		sm_mutex_unlock(&p->pool_lock);
	sm_mutex_unlock(&mempool_list_lock);
}

static void mempool_postfork_child(void)
{
	for (struct mempool_s *p = mempool_list; p; p = p->pool_next) {
		pthread_condattr_t attr;
		pthread_mutex_init(&p->pool_lock, NULL);
		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&p->pool_wait, &attr);
		pthread_condattr_destroy(&attr);
		p->pool_waiters = 0;
	}
	pthread_mutex_init(&mempool_list_lock, NULL);
}

/* ---- introspection ---- */

int mempool_reserved(const mempool_t *pool)
{
	return SM_READ_ONCE(pool->pool_curr_nr);
}

unsigned int mempool_waiting(const mempool_t *pool)
{
	struct mempool_s *p = (struct mempool_s *)pool;
	sm_mutex_lock(&p->pool_lock);
	unsigned int n = p->pool_waiters;
	sm_mutex_unlock(&p->pool_lock);
	return n;
}
