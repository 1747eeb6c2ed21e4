/* kmalloc layer: the size-class table size by size, the kmalloc-N caches,
 * large and huge paths, the per-thread large cache, free tags. */
#include "tap.h"
#include "kmalloc.h"

#include <string.h>

/* ---- frees that find the thread's magazine full (kfree_page) ---- */

#define FILL_MAX 2048
static void *fill[FILL_MAX];

/* Take FILL_MAX objects of @size, then give them back until the loaded
 * magazine of the class is full. Returns how many are still out. */
static int fill_magazine(size_t size)
{
	for (int i = 0; i < FILL_MAX; i++)
		fill[i] = slabmalloc_kmalloc(size, GFP_KERNEL);
	cpu_cache_fast_t *cc = sm_slot_by_key(kmalloc_size_slot[(size + 7) >> 3]);
	int i = 0;
	while (i < FILL_MAX && cc->cc_top != cc->cc_hi)
		slabmalloc_kfree(fill[i++]);
	return cc->cc_top == cc->cc_hi ? FILL_MAX - i : -1;
}

static void full_double_free(void *arg)
{
	void *v = slabmalloc_kmalloc(64, GFP_KERNEL);
	slabmalloc_kfree(v);
	v = slabmalloc_kmalloc(64, GFP_KERNEL);
	for (int i = 0; i < FILL_MAX; i++)
		fill[i] = slabmalloc_kmalloc(64, GFP_KERNEL);
	slabmalloc_kfree(v);                 /* v is free, then the magazine fills */
	cpu_cache_fast_t *cc = sm_slot_by_key(kmalloc_size_slot[(64 + 7) >> 3]);
	for (int i = 0; i < FILL_MAX && cc->cc_top != cc->cc_hi; i++)
		slabmalloc_kfree(fill[i]);
	slabmalloc_kfree(v);
}

static void full_interior(void *arg)
{
	char *v = slabmalloc_kmalloc(64, GFP_KERNEL);
	if (fill_magazine(64) < 0)
		return;
	slabmalloc_kfree(v + 16);
}

int main(void)
{
	sm_ensure_init();

	/* The table: strictly increasing, multiples of 16 from 16 up, about
	 * four classes per power of two, waste under 25 %. */
	int inc = 1, mul16 = 1, waste = 1;
	for (unsigned i = 1; i < KMALLOC_NR_CLASSES; i++) {
		inc &= kmalloc_class_size[i] > kmalloc_class_size[i - 1];
		mul16 &= kmalloc_class_size[i] % 16 == 0;
		size_t lo = kmalloc_class_size[i - 1] + 1;
		size_t cs = kmalloc_class_size[i];
		waste &= cs <= 128 ? cs - lo < 16 : (cs - lo) * 5 < cs;
	}
	ok(inc && mul16, "classes increase and are multiples of 16 above 8");
	ok(waste, "waste under 16 bytes up to 128, under 20%% above");
	ok(kmalloc_class_size[KMALLOC_NR_CLASSES - 1] == KMALLOC_MAX_CACHE_SIZE,
	   "largest class is %u", KMALLOC_MAX_CACHE_SIZE);

	/* size -> class, every size */
	int exact = 1;
	for (size_t s = 0; s <= KMALLOC_MAX_CACHE_SIZE; s++) {
		unsigned c = kmalloc_class(s);
		if (kmalloc_class_size[c] < s || (c > 0 && kmalloc_class_size[c - 1] >= s)) {
			diag("size %zu -> class %u (%u)", s, c, kmalloc_class_size[c]);
			exact = 0;
			break;
		}
	}
	ok(exact, "size -> class is the smallest class that fits, for 0..32768");

	/* caches exist, are named like the kernel's, ids follow the classes */
	int names = 1;
	for (unsigned i = 0; i < KMALLOC_NR_CLASSES; i++) {
		char want[32];
		snprintf(want, sizeof want, "kmalloc-%u", kmalloc_class_size[i]);
		struct kmem_cache *c = kmalloc_caches[i];
		if (!c || strcmp(c->name, want) || c->id != KMALLOC_ID0 + i || c->object_size != kmalloc_class_size[i])
			names = 0;
	}
	ok(names, "kmalloc-N caches: names, ids and sizes");

	/* every size lands in its class cache; ksize is the class size */
	int land = 1;
	for (size_t s = 1; s <= KMALLOC_MAX_CACHE_SIZE; s += 7) {
		void *p = slabmalloc_kmalloc(s, GFP_KERNEL);
		struct page *pg = sm_virt_to_page(p);
		if (!pg || pg->slab_cache != kmalloc_caches[kmalloc_class(s)] ||
		    slabmalloc_ksize(p) != kmalloc_class_size[kmalloc_class(s)])
			land = 0;
		slabmalloc_kfree(p);
	}
	ok(land, "kmalloc(s) comes from kmalloc-<class(s)> and ksize is the class size");

	/* power-of-two classes are naturally aligned up to a page */
	int nat = 1;
	for (size_t s = 8; s <= KMALLOC_MAX_CACHE_SIZE; s <<= 1) {
		void *p[40];
		for (int i = 0; i < 40; i++) {
			p[i] = slabmalloc_kmalloc(s, GFP_KERNEL);
			size_t al = s < 4096 ? s : 4096;
			if ((uintptr_t)p[i] & (al - 1))
				nat = 0;
		}
		for (int i = 0; i < 40; i++)
			slabmalloc_kfree(p[i]);
	}
	ok(nat, "power-of-two kmalloc classes are naturally aligned (up to a page)");

	/* large: trimmed to pages, PG_large, waste under a page */
	int large = 1;
	for (size_t s = KMALLOC_MAX_CACHE_SIZE + 1; s <= (4u << 20); s = s * 5 / 3) {
		void *p = slabmalloc_kmalloc(s, GFP_KERNEL);
		struct page *pg = sm_virt_to_page(p);
		size_t us = slabmalloc_ksize(p);
		if (!pg || !(pg->flags & PG_large) || us < s || us - s >= SM_PAGE_SIZE ||
		    ((uintptr_t)p & (SM_PAGE_SIZE - 1)))
			large = 0;
		slabmalloc_kfree(p);
	}
	ok(large, "large sizes: whole pages, waste under one page");

	/* the per-thread large cache hands a freed block back */
	void *l1 = slabmalloc_kmalloc(100000, GFP_KERNEL);
	slabmalloc_kfree(l1);
	ok(sm_virt_to_page(l1)->flags & PG_lcached, "a freed 100 KB block is cached by the thread");
	void *l2 = slabmalloc_kmalloc(100000, GFP_KERNEL);
	ok(l2 == l1, "and reused by the next allocation of that size");
	slabmalloc_kfree(l2);

	/* huge: own mapping */
	void *h = slabmalloc_kmalloc(8u << 20, GFP_KERNEL);
	ok(h && sm_virt_to_page(h) == NULL && vmap_size(h) >= (8u << 20), "huge sizes get their own mapping");
	ok(slabmalloc_kmalloc(8u << 20, GFP_ATOMIC | __GFP_NOWARN) == NULL,
	   "GFP_ATOMIC never maps new memory (huge -> NULL)");
	slabmalloc_kfree(h);

	/* free tag: set on free, cleared on alloc */
	uintptr_t *t = slabmalloc_kmalloc(64, GFP_KERNEL);
	slabmalloc_kfree(t);
	ok(*t == KMALLOC_TAG(t), "a freed kmalloc object carries its free tag");
	uintptr_t *t2 = slabmalloc_kmalloc(64, GFP_KERNEL);
	ok(t2 == t && *t2 == 0, "allocation clears the tag");
	slabmalloc_kfree(t2);

	/* A free that finds the magazine full takes kfree_page: a good object
	 * is tagged and taken; a second free or an interior pointer stops. */
	int out = fill_magazine(64);
	uintptr_t *g = fill[FILL_MAX - 1];
	slabmalloc_kfree(g);
	ok(out > 0 && *g == KMALLOC_TAG(g) && slab_validate(kmalloc_caches[kmalloc_class(64)]),
	   "a free into a full magazine is tagged and taken (%d objects out)", out);
	for (int i = FILL_MAX - out; i < FILL_MAX - 1; i++)
		slabmalloc_kfree(fill[i]);
	expect_death(full_double_free, NULL, "kfree(): double free detected",
	             "a double free that finds the magazine full is stopped");
	expect_death(full_interior, NULL, "kfree(): invalid pointer",
	             "an interior pointer that finds the magazine full is stopped");

	/* krealloc keeps small blocks in place when they still fit */
	char *k = slabmalloc_kmalloc(100, GFP_KERNEL);
	ok(slabmalloc_krealloc(k, 110, GFP_KERNEL) == k, "krealloc within the class stays in place");
	slabmalloc_kfree(k);
	return done_testing();
}
