/* SPDX-License-Identifier: MIT */
/*
 * mempool_helpers.t — the kernel's helper pools on the real allocator:
 * mempool_create_slab_pool, _kmalloc_pool, _page_pool (and the LDD3 form,
 * mempool_create() with the helper functions), their reserves under fault
 * injection, __GFP_ZERO, and freeing an element into the wrong pool.
 */
#include "slab_internal.h"
#include "tap.h"

#include <errno.h>
#include <string.h>

static kmem_cache_t *cache_a, *cache_b;
static char err[256];

static void inject(int which, const char *spec)
{
	if (fault_parse(which, spec, strlen(spec), true, err, sizeof err) != 0)
		diag("fault_parse: %s", err);
}

/* ---- wrong pool (children of expect_death) ---- */

static void die_slab_other_cache(void *arg)
{
	(void)arg;
	mempool_t *pool = mempool_create_slab_pool(2, cache_a);
	mempool_free(kmem_cache_alloc(cache_b, GFP_KERNEL), pool);
}

static void die_slab_interior(void *arg)
{
	(void)arg;
	mempool_t *pool = mempool_create_slab_pool(2, cache_a);
	char *p = mempool_alloc(pool, GFP_KERNEL);
	mempool_free(p + 8, pool);
}

static void die_slab_foreign(void *arg)
{
	(void)arg;
	static char not_heap[64];
	mempool_t *pool = mempool_create_slab_pool(2, cache_a);
	mempool_free(not_heap, pool);
}

static void die_ldd3_other_cache(void *arg)
{
	(void)arg;
	mempool_t *pool = mempool_create(2, mempool_alloc_slab, mempool_free_slab, cache_a);
	mempool_free(kmem_cache_alloc(cache_b, GFP_KERNEL), pool);
}

static void die_kmalloc_small(void *arg)
{
	(void)arg;
	mempool_t *pool = mempool_create_kmalloc_pool(2, 1000);
	mempool_free(kmalloc(16, GFP_KERNEL), pool);
}

/* A double free while the reserve is full: the element is on top of the
 * magazine its first free pushed it onto. */
static void die_kmalloc_twice_full(void *arg)
{
	(void)arg;
	mempool_t *pool = mempool_create_kmalloc_pool(2, 100);
	void *e = mempool_alloc(pool, GFP_KERNEL);
	mempool_free(e, pool);
	mempool_free(e, pool);
}

/* A double free while the reserve is short: the element would enter the
 * reserve although it is free in a magazine already. */
static void die_kmalloc_twice_short(void *arg)
{
	(void)arg;
	mempool_t *pool = mempool_create_kmalloc_pool(2, 100);
	void *e = mempool_alloc(pool, GFP_KERNEL);
	mempool_free(e, pool);                  /* reserve full: to kfree */
	inject(FAULT_SLAB, "min_size=100");
	(void)mempool_alloc(pool, GFP_KERNEL);  /* the two reserved ones */
	(void)mempool_alloc(pool, GFP_KERNEL);
	inject(FAULT_SLAB, "off");
	mempool_free(e, pool);
}

static void die_page_order(void *arg)
{
	(void)arg;
	mempool_t *pool = mempool_create_page_pool(2, 2);
	mempool_free(alloc_pages(GFP_KERNEL, 0), pool);
}

static void die_page_not_page(void *arg)
{
	(void)arg;
	mempool_t *pool = mempool_create_page_pool(2, 0);
	mempool_free(kmalloc(64, GFP_KERNEL), pool);
}

static int all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i])
			return 0;
	return 1;
}

int main(void)
{
	alarm(120);
	cache_a = kmem_cache_create("mp-a", 72, 0, 0, NULL, NULL);
	cache_b = kmem_cache_create("mp-b", 72, 0, 0, NULL, NULL);
	ok(cache_a && cache_b, "two caches of 72-byte objects");

	/* --- slab pool --- */
	mempool_t *sp = mempool_create_slab_pool(4, cache_a);
	ok(sp && mempool_reserved(sp) == 4, "mempool_create_slab_pool(4): 4 reserved");
	void *o = mempool_alloc(sp, GFP_KERNEL);
	ok(o && mempool_reserved(sp) == 4, "allocation comes from the cache, reserve untouched");
	memset(o, 0xab, 72);
	mempool_free(o, sp);

	inject(FAULT_SLAB, "cache=mp-a");
	void *r[6];
	int got = 0;
	for (int i = 0; i < 4; i++)
		got += (r[i] = mempool_alloc(sp, GFP_KERNEL)) != NULL;
	ok(got == 4 && mempool_reserved(sp) == 0,
	   "with fail_slab=cache=mp-a, the 4 reserved objects are served");
	ok(mempool_alloc(sp, GFP_ATOMIC) == NULL, "then GFP_ATOMIC returns NULL");
	void *other = kmem_cache_alloc(cache_b, GFP_KERNEL);
	ok(other != NULL, "(the other cache still works)");
	kmem_cache_free(cache_b, other);
	for (int i = 0; i < 4; i++)
		mempool_free(r[i], sp);
	ok(mempool_reserved(sp) == 4, "frees refill the reserve");
	r[0] = mempool_alloc(sp, GFP_KERNEL | __GFP_ZERO);
	ok(r[0] && all_zero(r[0], 72), "__GFP_ZERO zeroes a reserved slab object");
	mempool_free(r[0], sp);
	inject(FAULT_SLAB, "off");
	r[0] = mempool_alloc(sp, GFP_KERNEL | __GFP_ZERO);
	ok(r[0] && all_zero(r[0], 72), "__GFP_ZERO zeroes a fresh slab object");
	mempool_free(r[0], sp);
	ok(mempool_resize(sp, 8) == 0 && mempool_reserved(sp) == 8, "resize a slab pool to 8");
	mempool_destroy(sp);
	ok(1, "mempool_destroy(slab pool)");

	mempool_t *ldd3 = mempool_create(3, mempool_alloc_slab, mempool_free_slab, cache_a);
	ok(ldd3 && mempool_reserved(ldd3) == 3, "LDD3 form: mempool_create(n, mempool_alloc_slab, "
	   "mempool_free_slab, cache)");
	mempool_destroy(ldd3);
	errno = 0;
	ok(mempool_create_slab_pool(2, NULL) == NULL && errno == EINVAL,
	   "a slab pool of a NULL cache: NULL, EINVAL");

	/* --- kmalloc pool --- */
	mempool_t *kp = mempool_create_kmalloc_pool(3, 1000);
	ok(kp && mempool_reserved(kp) == 3, "mempool_create_kmalloc_pool(3, 1000)");
	void *k = mempool_alloc(kp, GFP_KERNEL);
	ok(k && ksize(k) >= 1000, "elements hold 1000 bytes (ksize %zu)", k ? ksize(k) : 0);
	memset(k, 1, 1000);
	mempool_free(k, kp);
	inject(FAULT_SLAB, "min_size=1000");
	got = 0;
	for (int i = 0; i < 3; i++)
		got += (r[i] = mempool_alloc(kp, GFP_KERNEL | __GFP_ZERO)) != NULL &&
		       all_zero(r[i], 1000);
	ok(got == 3, "kmalloc failing (fail_slab=min_size=1000): 3 zeroed reserve elements");
	ok(mempool_alloc(kp, GFP_NOWAIT) == NULL, "then GFP_NOWAIT returns NULL");
	inject(FAULT_SLAB, "off");
	for (int i = 0; i < 3; i++)
		mempool_free(r[i], kp);
	void *big = kmalloc(2000, GFP_KERNEL);
	mempool_free(big, kp);
	ok(mempool_reserved(kp) == 3, "a larger kmalloc block is accepted (and freed)");
	mempool_destroy(kp);
	kp = mempool_create_kmalloc_pool(2, 100000);
	k = mempool_alloc(kp, GFP_KERNEL);
	ok(k && ksize(k) >= 100000, "a kmalloc pool of 100000-byte (page) elements");
	memset(k, 2, 100000);
	mempool_free(k, kp);
	ok(mempool_reserved(kp) == 2, "its element goes back to kfree");
	mempool_destroy(kp);
	errno = 0;
	ok(mempool_create_kmalloc_pool(2, 0) == NULL && errno == EINVAL,
	   "a kmalloc pool of size 0: NULL, EINVAL");

	/* --- page pool --- */
	mempool_t *pp = mempool_create_page_pool(2, 1);
	ok(pp && mempool_reserved(pp) == 2, "mempool_create_page_pool(2, order 1)");
	struct page *pg = mempool_alloc(pp, GFP_KERNEL);
	ok(pg && page_address(pg), "elements are struct page pointers");
	memset(page_address(pg), 7, 2 * PAGE_SIZE);
	mempool_free(pg, pp);
	inject(FAULT_PAGE_ALLOC, "interval=1");
	struct page *p1 = mempool_alloc(pp, GFP_KERNEL | __GFP_ZERO);
	struct page *p2 = mempool_alloc(pp, GFP_KERNEL);
	ok(p1 && p2 && mempool_reserved(pp) == 0,
	   "with fail_page_alloc on, the 2 reserved blocks are served");
	ok(p1 && all_zero(page_address(p1), 2 * PAGE_SIZE), "__GFP_ZERO zeroes a reserved block");
	ok(mempool_alloc(pp, GFP_ATOMIC) == NULL, "then GFP_ATOMIC returns NULL");
	inject(FAULT_PAGE_ALLOC, "off");
	mempool_free(p1, pp);
	mempool_free(p2, pp);
	ok(mempool_reserved(pp) == 2, "frees refill the page reserve");
	mempool_destroy(pp);
	errno = 0;
	ok(mempool_create_page_pool(2, MAX_ORDER) == NULL && errno == EINVAL &&
	   mempool_create_page_pool(2, -1) == NULL, "a page pool of a bad order: NULL, EINVAL");

	/* --- wrong pool --- */
	expect_death(die_slab_other_cache, NULL, "does not belong to this pool",
	             "slab pool: an object of another cache dies");
	expect_death(die_slab_interior, NULL, "does not belong to this pool",
	             "slab pool: a pointer inside an object dies");
	expect_death(die_slab_foreign, NULL, "does not belong to this pool",
	             "slab pool: a pointer outside the heap dies");
	expect_death(die_ldd3_other_cache, NULL, "mempool_free(): element 0x",
	             "LDD3-form slab pool: an object of another cache dies");
	expect_death(die_kmalloc_small, NULL, "does not belong to this pool",
	             "kmalloc pool: a smaller kmalloc block dies");
	expect_death(die_kmalloc_twice_full, NULL, "double free detected",
	             "kmalloc pool, reserve full: a double free dies");
	expect_death(die_kmalloc_twice_short, NULL, "double free detected",
	             "kmalloc pool, reserve short: a double free dies");
	expect_death(die_page_order, NULL, "does not belong to this pool",
	             "page pool: a block of another order dies");
	expect_death(die_page_not_page, NULL, "does not belong to this pool",
	             "page pool: something that is not a struct page dies");

	kmem_cache_destroy(cache_a);
	kmem_cache_destroy(cache_b);
	return done_testing();
}
