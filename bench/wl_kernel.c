/* SPDX-License-Identifier: MIT */
/*
 * bench/wl_kernel.c — workloads on slabmalloc's kernel-style API
 * (kmem_cache with a constructor, mempool, page orders), with the
 * malloc-family baseline each one runs under any other allocator.
 *
 * Theory
 * ------
 * The benchmark binary does not link libslabmalloc, so the same binary runs
 * under glibc, jemalloc, mimalloc, tcmalloc and slabmalloc (LD_PRELOAD).
 * The slabmalloc_* symbols are looked up with dlsym(RTLD_DEFAULT, ...) once
 * (pthread_once), in three groups -- kmem_cache, mempool, pages -- so a
 * library that is still growing can offer one group and not another.
 *
 * Each workload then takes one of three paths, and returns which:
 *   1  slabmalloc is loaded and exports the group: the kernel API is used;
 *   0  slabmalloc is not loaded: the baseline, the same job written the way
 *      a program without that API would write it;
 *  -1  slabmalloc is loaded but the group is missing: nothing is run and
 *      the caller reports an error, rather than quietly timing the baseline
 *      under slabmalloc's name.
 *
 * The baselines are deliberately the obvious code, not a strawman:
 *   kmem_cache + ctor -> malloc, then the same initialisation on every
 *                        allocation (a constructed-object cache is exactly
 *                        what saves that work), destroy before free;
 *   mempool           -> the kernel's mempool algorithm on malloc: try
 *                        malloc first, fall back to a locked reserve, refill
 *                        the reserve first on free;
 *   pages             -> posix_memalign(4096 << order, 4096 << order), the
 *                        buddy allocator's natural alignment.
 *
 * Caches and pools are created on first use and live until exit: creation
 * is not what is measured.
 */
#include "config.h"

#define SLABMALLOC_NO_KERNEL_NAMES 1
#include <slabmalloc/gfp.h>
#include <slabmalloc/mempool.h>
#include <slabmalloc/mm.h>
#include <slabmalloc/slab.h>

#include "workloads.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The exported API, resolved at run time. */
static struct {
	int sm_loaded;                  /* any slabmalloc_* symbol found */
	int sm_have_kmem;               /* the kmem_cache group is complete */
	int sm_have_mempool;            /* the mempool group is complete */
	int sm_have_pages;              /* the page group is complete */
	__typeof__(&slabmalloc_kmem_cache_create) sm_kmem_cache_create;
	__typeof__(&slabmalloc_kmem_cache_alloc) sm_kmem_cache_alloc;
	__typeof__(&slabmalloc_kmem_cache_free) sm_kmem_cache_free;
	__typeof__(&slabmalloc_mempool_create) sm_mempool_create;
	__typeof__(&slabmalloc_mempool_alloc) sm_mempool_alloc;
	__typeof__(&slabmalloc_mempool_free) sm_mempool_free;
	__typeof__(&slabmalloc_mempool_kmalloc) sm_mempool_kmalloc;
	__typeof__(&slabmalloc_mempool_kfree) sm_mempool_kfree;
	__typeof__(&slabmalloc___get_free_pages) sm_get_free_pages;
	__typeof__(&slabmalloc_free_pages) sm_free_pages;
} sm;

static pthread_once_t sm_once = PTHREAD_ONCE_INIT;

static void die(const char *what)
{
	fprintf(stderr, "bench: %s\n", what);
	abort();
}

/* dlsym returns void *; converting it to a function pointer is what POSIX
 * requires to work. */
#define SM_RESOLVE(field, symbol) \
	(*(void **)&sm.field = dlsym(RTLD_DEFAULT, symbol), sm.field != NULL)

static void sm_resolve(void)
{
	sm.sm_have_kmem = SM_RESOLVE(sm_kmem_cache_create, "slabmalloc_kmem_cache_create") &
			  SM_RESOLVE(sm_kmem_cache_alloc, "slabmalloc_kmem_cache_alloc") &
			  SM_RESOLVE(sm_kmem_cache_free, "slabmalloc_kmem_cache_free");
	sm.sm_have_mempool = SM_RESOLVE(sm_mempool_create, "slabmalloc_mempool_create") &
			     SM_RESOLVE(sm_mempool_alloc, "slabmalloc_mempool_alloc") &
			     SM_RESOLVE(sm_mempool_free, "slabmalloc_mempool_free") &
			     SM_RESOLVE(sm_mempool_kmalloc, "slabmalloc_mempool_kmalloc") &
			     SM_RESOLVE(sm_mempool_kfree, "slabmalloc_mempool_kfree");
	sm.sm_have_pages = SM_RESOLVE(sm_get_free_pages, "slabmalloc___get_free_pages") &
			   SM_RESOLVE(sm_free_pages, "slabmalloc_free_pages");
	/* Any one of the exported entry points means the library is loaded. */
	sm.sm_loaded = sm.sm_kmem_cache_create || sm.sm_kmem_cache_alloc ||
		       sm.sm_mempool_create || sm.sm_get_free_pages ||
		       dlsym(RTLD_DEFAULT, "slabmalloc_kmalloc") != NULL;
}

static void sm_init(void)
{
	pthread_once(&sm_once, sm_resolve);
}

int wl_have_slabmalloc(void)
{
	sm_init();
	return sm.sm_loaded;
}

const char *wl_allocator_name(void)
{
	/* Each allocator exports an API of its own besides malloc. */
	if (wl_have_slabmalloc())
		return "slabmalloc";
	if (dlsym(RTLD_DEFAULT, "mallctl"))
		return "jemalloc";
	if (dlsym(RTLD_DEFAULT, "mi_malloc"))
		return "mimalloc";
	if (dlsym(RTLD_DEFAULT, "tc_malloc"))
		return "tcmalloc";
	return "glibc";
}

/* ---- kmem_cache with a constructor ---- */

/* An object with state that is expensive to build and cheap to reuse: a
 * lock, a list head, a reference count, a buffer that starts zeroed. */
struct wl_obj {
	pthread_mutex_t o_lock;         /* protects o_refcnt */
	struct wl_obj *o_next;          /* list head: empty points to itself */
	struct wl_obj *o_prev;
	unsigned long o_refcnt;         /* 0 when free (constructed state) */
	unsigned char o_buf[];          /* zeroed in the constructed state */
};

#define OBJ_BATCH 32

static size_t obj_size;                 /* size of struct wl_obj + buffer */

static void obj_construct(struct wl_obj *o, size_t size)
{
	pthread_mutex_init(&o->o_lock, NULL);
	o->o_next = o->o_prev = o;
	o->o_refcnt = 0;
	memset(o->o_buf, 0, size - sizeof(*o));
}

static void obj_ctor(void *p, kmem_cache_t *cache, unsigned long flags)
{
	obj_construct(p, obj_size);
}

/* Use an object and leave it in its constructed state again, as a cache
 * with a constructor requires of every object freed to it. */
static void obj_use(struct wl_obj *o)
{
	pthread_mutex_lock(&o->o_lock);
	if (o->o_refcnt != 0 || o->o_buf[0] != 0 || o->o_next != o)
		die("object not in its constructed state");
	o->o_refcnt++;
	o->o_buf[0] = 1;
	o->o_buf[0] = 0;
	o->o_refcnt--;
	pthread_mutex_unlock(&o->o_lock);
}

/* One cache per object size, created on first use. */
#define NR_CACHES 8
static struct {
	size_t kc_size;
	kmem_cache_t *kc_cache;
} kmem_caches[NR_CACHES];

static kmem_cache_t *kmem_cache_for(size_t size, int with_ctor)
{
	for (int i = 0; i < NR_CACHES; i++) {
		size_t key = size | (with_ctor ? (size_t)1 << 62 : 0);

		if (kmem_caches[i].kc_size == key)
			return kmem_caches[i].kc_cache;
		if (kmem_caches[i].kc_size == 0) {
			kmem_cache_t *c;

			if (with_ctor)
				obj_size = size;
			c = sm.sm_kmem_cache_create(with_ctor ? "bench_obj_ctor" : "bench_obj",
						    size, 0, 0, with_ctor ? obj_ctor : NULL, NULL);
			if (!c)
				die("slabmalloc_kmem_cache_create failed");
			kmem_caches[i].kc_size = key;
			kmem_caches[i].kc_cache = c;
			return c;
		}
	}
	die("too many kmem caches");
	return NULL;
}

int wl_kmem_cache_ctor(size_t iters, size_t size)
{
	struct wl_obj *objs[OBJ_BATCH];

	if (size < 128)
		die("wl_kmem_cache_ctor: size < 128");
	sm_init();
	if (sm.sm_loaded && !sm.sm_have_kmem)
		return -1;
	if (sm.sm_have_kmem) {
		kmem_cache_t *c = kmem_cache_for(size, 1);

		if (obj_size != size)   /* one constructed size per process */
			die("wl_kmem_cache_ctor: object size changed");
		for (size_t done = 0; done < iters; done += OBJ_BATCH) {
			for (int i = 0; i < OBJ_BATCH; i++) {
				objs[i] = sm.sm_kmem_cache_alloc(c, GFP_KERNEL);
				if (!objs[i])
					die("slabmalloc_kmem_cache_alloc failed");
				obj_use(objs[i]);
			}
			wl_escape(objs);
			for (int i = 0; i < OBJ_BATCH; i++)
				sm.sm_kmem_cache_free(c, objs[i]);
		}
		return 1;
	}
	for (size_t done = 0; done < iters; done += OBJ_BATCH) {
		for (int i = 0; i < OBJ_BATCH; i++) {
			objs[i] = malloc(size);
			if (!objs[i])
				die("malloc failed in wl_kmem_cache_ctor");
			obj_construct(objs[i], size);
			obj_use(objs[i]);
		}
		wl_escape(objs);
		for (int i = 0; i < OBJ_BATCH; i++) {
			pthread_mutex_destroy(&objs[i]->o_lock);
			free(objs[i]);
		}
	}
	return 0;
}

int wl_kmem_cache_pair(size_t iters, size_t size)
{
	kmem_cache_t *c;

	sm_init();
	if (!sm.sm_have_kmem)
		return 0;
	c = kmem_cache_for(size, 0);
	for (size_t i = 0; i < iters; i++) {
		char *p = sm.sm_kmem_cache_alloc(c, GFP_KERNEL);

		if (!p)
			die("slabmalloc_kmem_cache_alloc failed");
		p[0] = 1;
		wl_escape(p);
		sm.sm_kmem_cache_free(c, p);
	}
	return 1;
}

/* ---- mempool ---- */

#define POOL_MIN_NR 16
#define POOL_BATCH  8

/* The baseline pool: the kernel's mempool algorithm on malloc/free. */
struct base_pool {
	pthread_mutex_t bp_lock;        /* protects bp_curr_nr, bp_elements */
	int bp_min_nr;                  /* reserve size */
	int bp_curr_nr;                 /* elements in the reserve */
	size_t bp_size;                 /* element size */
	void *bp_elements[POOL_MIN_NR]; /* the reserve */
};

static struct base_pool *base_pool_create(size_t size)
{
	struct base_pool *bp = malloc(sizeof(*bp));

	if (!bp)
		die("malloc failed in base_pool_create");
	pthread_mutex_init(&bp->bp_lock, NULL);
	bp->bp_min_nr = POOL_MIN_NR;
	bp->bp_size = size;
	for (bp->bp_curr_nr = 0; bp->bp_curr_nr < POOL_MIN_NR; bp->bp_curr_nr++) {
		bp->bp_elements[bp->bp_curr_nr] = malloc(size);
		if (!bp->bp_elements[bp->bp_curr_nr])
			die("malloc failed in base_pool_create");
	}
	return bp;
}

static void *base_pool_alloc(struct base_pool *bp)
{
	void *p = malloc(bp->bp_size);

	if (__builtin_expect(p != NULL, 1))
		return p;
	pthread_mutex_lock(&bp->bp_lock);
	if (bp->bp_curr_nr > 0)
		p = bp->bp_elements[--bp->bp_curr_nr];
	pthread_mutex_unlock(&bp->bp_lock);
	return p;
}

static void base_pool_free(struct base_pool *bp, void *p)
{
	/* Unlocked peek first, as the kernel does: the reserve is rarely short. */
	if (__builtin_expect(__atomic_load_n(&bp->bp_curr_nr, __ATOMIC_RELAXED) < bp->bp_min_nr, 0)) {
		pthread_mutex_lock(&bp->bp_lock);
		if (bp->bp_curr_nr < bp->bp_min_nr) {
			bp->bp_elements[bp->bp_curr_nr++] = p;
			pthread_mutex_unlock(&bp->bp_lock);
			return;
		}
		pthread_mutex_unlock(&bp->bp_lock);
	}
	free(p);
}

int wl_mempool(size_t iters, size_t size)
{
	static mempool_t *pool;
	static size_t pool_size;
	static struct base_pool *bpool;
	void *elems[POOL_BATCH];

	sm_init();
	if (sm.sm_loaded && !sm.sm_have_mempool)
		return -1;
	if (sm.sm_have_mempool) {
		if (!pool) {
			pool = sm.sm_mempool_create(POOL_MIN_NR, sm.sm_mempool_kmalloc,
						    sm.sm_mempool_kfree, (void *)size);
			if (!pool)
				die("slabmalloc_mempool_create failed");
			pool_size = size;
		}
		if (size != pool_size)
			die("wl_mempool: element size changed");
		for (size_t done = 0; done < iters; done += POOL_BATCH) {
			for (int i = 0; i < POOL_BATCH; i++) {
				elems[i] = sm.sm_mempool_alloc(pool, GFP_KERNEL);
				if (!elems[i])
					die("slabmalloc_mempool_alloc failed");
				((char *)elems[i])[0] = 1;
			}
			wl_escape(elems);
			for (int i = 0; i < POOL_BATCH; i++)
				sm.sm_mempool_free(elems[i], pool);
		}
		return 1;
	}
	if (!bpool)
		bpool = base_pool_create(size);
	if (size != bpool->bp_size)
		die("wl_mempool: element size changed");
	for (size_t done = 0; done < iters; done += POOL_BATCH) {
		for (int i = 0; i < POOL_BATCH; i++) {
			elems[i] = base_pool_alloc(bpool);
			if (!elems[i])
				die("baseline mempool_alloc failed");
			((char *)elems[i])[0] = 1;
		}
		wl_escape(elems);
		for (int i = 0; i < POOL_BATCH; i++)
			base_pool_free(bpool, elems[i]);
	}
	return 0;
}

/* ---- page orders ---- */

#define PAGES_BATCH 8

int wl_pages(size_t iters, unsigned int order)
{
	size_t bytes = (size_t)4096 << order;
	void *blocks[PAGES_BATCH];

	sm_init();
	if (sm.sm_loaded && !sm.sm_have_pages)
		return -1;
	for (size_t done = 0; done < iters; done += PAGES_BATCH) {
		for (int i = 0; i < PAGES_BATCH; i++) {
			if (sm.sm_have_pages) {
				blocks[i] = (void *)sm.sm_get_free_pages(GFP_KERNEL, order);
				if (!blocks[i])
					die("slabmalloc___get_free_pages failed");
			} else if (posix_memalign(&blocks[i], bytes, bytes) != 0) {
				die("posix_memalign failed in wl_pages");
			}
			((char *)blocks[i])[0] = 1;
			((char *)blocks[i])[bytes - 1] = 2;
		}
		wl_escape(blocks);
		for (int i = 0; i < PAGES_BATCH; i++) {
			if (sm.sm_have_pages)
				sm.sm_free_pages((unsigned long)blocks[i], order);
			else
				free(blocks[i]);
		}
	}
	return sm.sm_have_pages;
}
