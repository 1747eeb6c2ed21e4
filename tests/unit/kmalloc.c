/* kmalloc layer: the size-class table size by size, the kmalloc-N caches,
 * large and huge paths, the per-thread large cache, double frees proven
 * without touching the object. */
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
	cpu_cache_fast_t *cc = sm_slot_by_key(kmalloc_slot_key(size));
	int i = 0;
	while (i < FILL_MAX && cc->cc_top != cc->cc_hi)
		slabmalloc_kfree(fill[i++]);
	return cc->cc_top == cc->cc_hi ? FILL_MAX - i : -1;
}

/* The second free of the round that filled the magazine: on top of it. */
static void full_double_free(void *arg)
{
	(void)arg;
	if (fill_magazine(64) < 0)
		return;
	cpu_cache_fast_t *cc = sm_slot_by_key(kmalloc_slot_key(64));
	void *v = cc->cc_top[-1];            /* the object freed last */
	slabmalloc_kfree(v);
}

/* A second free of a round deep in the magazine while it is full: taken
 * (nothing in the magazine's top or the slab shows it free), and proven
 * when the rounds go back to the slab. */
static void full_deep_double_free(void *arg)
{
	(void)arg;
	void *v = slabmalloc_kmalloc(64, GFP_KERNEL);
	slabmalloc_kfree(v);
	v = slabmalloc_kmalloc(64, GFP_KERNEL);
	for (int i = 0; i < FILL_MAX; i++)
		fill[i] = slabmalloc_kmalloc(64, GFP_KERNEL);
	slabmalloc_kfree(v);                 /* v is free, then the magazine fills */
	cpu_cache_fast_t *cc = sm_slot_by_key(kmalloc_slot_key(64));
	for (int i = 0; i < FILL_MAX && cc->cc_top != cc->cc_hi; i++)
		slabmalloc_kfree(fill[i]);
	slabmalloc_kfree(v);
	mag_flush_own(kmalloc_caches[kmalloc_class(64)]);
}

static void full_interior(void *arg)
{
	char *v = slabmalloc_kmalloc(64, GFP_KERNEL);
	if (fill_magazine(64) < 0)
		return;
	slabmalloc_kfree(v + 16);
}

/* ---- the window (sm_page_window) ---- */

/* An address that shares @q's window descriptor but lies a window further
 * on: inside ZONE_NORMAL's reservation, past its grown part. */
static void *window_alias(const void *q)
{
	size_t w = (sm_window_mask >> SM_PAGE_DESC_SHIFT) + 1;
	return (char *)q + (w << SM_PAGE_SHIFT);
}

static void free_alias(void *arg)
{
	slabmalloc_kfree(window_alias(arg));
}

static int window_is_own(const void *p)
{
	return sm_page_window(p) == sm_virt_to_page(p);
}

static int window_in_map(const void *p)
{
	uintptr_t off = (uintptr_t)sm_page_window(p) - (uintptr_t)sm_window_map;
	return off % sizeof(struct page) == 0 && off <= sm_window_mask;
}

#define WIN_N 3000
static void *win[WIN_N];

static void test_window(void)
{
	const struct zone *z = &sm_zones[ZONE_NORMAL];
	/* 3000 blocks of 30 KB: about 90 MB, so the zone and the window grow
	 * well past their first section. */
	size_t before = z->zone_limit;
	int own = 1;
	for (int i = 0; i < WIN_N; i++) {
		win[i] = slabmalloc_kmalloc(i % 3 ? 30000 : (size_t)(i % 500) + 1, GFP_KERNEL);
		own &= win[i] && window_is_own(win[i]);
	}
	void *big = slabmalloc_kmalloc(700000, GFP_KERNEL);
	own &= window_is_own(big);
	ok(own && z->zone_limit > before + 4 * SM_SECTION_SIZE,
	   "the window gives every object its own descriptor while the zone grows "
	   "(%zu MB grown)", z->zone_limit >> 20);
	size_t w = (sm_window_mask >> SM_PAGE_DESC_SHIFT) + 1;
	ok(sm_window_map == z->zone_mem_map && (w & (w - 1)) == 0 &&
	   (w << SM_PAGE_SHIFT) >= z->zone_limit && z->zone_base % (w << SM_PAGE_SHIFT) == 0,
	   "the window is a power of two of pages covering the grown part (%zu pages)", w);
	ok(buddy_validate(), "buddy_validate checks the window after growth");

	int local = 0;
	static int data;
	ok(window_in_map(NULL) && window_in_map(&local) && window_in_map(&data) &&
	   window_in_map(window_alias(win[1])) && window_in_map((void *)~(uintptr_t)0),
	   "any other address (NULL, stack, data, past the zone, all ones) lands in the window");
	slabmalloc_kfree(NULL);
	ok(1, "kfree(NULL) through the window is a no-op");
	expect_death(free_alias, win[1], "kfree(): invalid pointer",
	             "a pointer that aliases a live object's descriptor is stopped");

	for (int i = 0; i < WIN_N; i++)
		slabmalloc_kfree(win[i]);
	slabmalloc_kfree(big);
	ok(buddy_validate(), "and the heap is consistent after freeing it all");
}

/* ---- the per-thread large cache's byte limit ---- */

static size_t cached_large(void)
{
	struct kmalloc_totals t;
	kmalloc_totals(&t);
	return t.cached_large_bytes;
}

static void test_lcache_limit(void)
{
	enum { N = 60 };
	void *b[N];
	size_t base = cached_large();
	for (int i = 0; i < N; i++)
		b[i] = slabmalloc_kmalloc(100000, GFP_KERNEL);
	size_t mid = cached_large();
	for (int i = 0; i < 3; i++)
		slabmalloc_kfree(b[i]);
	size_t three = cached_large();
	ok(three == mid + 3 * 25 * SM_PAGE_SIZE,
	   "freed large blocks are counted in the thread's cache (%zu -> %zu bytes)", mid, three);
	for (int i = 3; i < N; i++)
		slabmalloc_kfree(b[i]);
	size_t all = cached_large();
	ok(all <= (4u << 20) && all > (4u << 20) - 25 * SM_PAGE_SIZE,
	   "the cache stops at 4 MiB (%zu bytes held, %zu before)", all, base);
	void *again = slabmalloc_kmalloc(100000, GFP_KERNEL);
	ok(cached_large() == all - 25 * SM_PAGE_SIZE, "taking a block gives its room back");
	slabmalloc_kfree(again);
	ok(buddy_validate(), "buddy_validate after filling the large cache");
}

/* ---- __GFP_DMA: dma-kmalloc-N caches and DMA pages ---- */

static int below_4g(const void *p)
{
	return p && (uintptr_t)p + 1 <= ((uintptr_t)1 << 32);
}

static void test_dma(void)
{
	if (!sm_zones[ZONE_DMA].zone_span) {
		ok(slabmalloc_kmalloc(64, GFP_KERNEL | GFP_DMA | __GFP_NOWARN) == NULL,
		   "no DMA zone here: kmalloc(GFP_DMA) fails cleanly");
		return;
	}
	enum { N = 200 };
	void *p[N];
	int low = 1, named = 1;
	for (int i = 0; i < N; i++) {
		size_t s = (size_t)(i * 37 % 5000) + 1;
		p[i] = slabmalloc_kmalloc(s, GFP_KERNEL | GFP_DMA);
		if (!p[i]) {
			low = named = 0;
			continue;
		}
		struct page *pg = sm_virt_to_page(p[i]);
		low &= below_4g(p[i]) && slabmalloc_ksize(p[i]) >= s;
		named &= pg && pg->slab_cache && strncmp(pg->slab_cache->name, "dma-kmalloc-", 12) == 0;
		memset(p[i], 0xa5, s);
	}
	ok(low, "kmalloc(GFP_DMA) of slab sizes returns memory below 4 GiB");
	ok(named, "from the dma-kmalloc-N caches");
	for (int i = 0; i < N; i++)
		slabmalloc_kfree(p[i]);
	void *at = slabmalloc_kmalloc(100, GFP_ATOMIC | GFP_DMA);
	ok(below_4g(at), "GFP_ATOMIC|GFP_DMA is served once the class's cache exists");
	slabmalloc_kfree(at);
	unsigned char *z = slabmalloc_kzalloc(3000, GFP_KERNEL | GFP_DMA);
	int zero = below_4g(z);
	for (int i = 0; zero && i < 3000; i++)
		zero = z[i] == 0;
	ok(zero, "kzalloc(GFP_DMA) is zeroed and below 4 GiB");
	slabmalloc_kfree(z);
	void *l = slabmalloc_kmalloc(200000, GFP_KERNEL | GFP_DMA);
	ok(below_4g(l) && slabmalloc_ksize(l) >= 200000, "a large kmalloc(GFP_DMA) is below 4 GiB");
	slabmalloc_kfree(l);
	kmalloc_trim();                             /* room in the thread's cache */
	void *nl = slabmalloc_kmalloc(200000, GFP_KERNEL);
	slabmalloc_kfree(nl);                       /* cached by the thread */
	void *l2 = slabmalloc_kmalloc(200000, GFP_KERNEL | GFP_DMA);
	ok(below_4g(l2) && l2 != nl && (sm_virt_to_page(nl)->flags & PG_lcached),
	   "and so is the next one: the thread's cached Normal block is skipped");
	slabmalloc_kfree(l2);
	ok(slabmalloc_kmalloc((size_t)8 << 20, GFP_KERNEL | GFP_DMA | __GFP_NOWARN) == NULL,
	   "above the largest buddy block GFP_DMA cannot be met: NULL");
	void *a = slabmalloc_kmalloc(64, GFP_KERNEL | GFP_DMA);
	slabmalloc_kfree(a);
	ok(slabmalloc_kmalloc(64, GFP_KERNEL | GFP_DMA) == a, "a freed DMA object is reused by the next DMA request");
	slabmalloc_kfree(a);
	void *n = slabmalloc_kmalloc(64, GFP_KERNEL);
	ok(n != a && strncmp(sm_virt_to_page(n)->slab_cache->name, "kmalloc-", 8) == 0,
	   "and never handed to a GFP_KERNEL request");
	slabmalloc_kfree(n);
	ok(buddy_validate() && slab_validate(sm_virt_to_page(a)->slab_cache),
	   "validators after DMA kmalloc");
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
	for (size_t s = KMALLOC_MAX_CACHE_SIZE + 1; s <= KMALLOC_LARGE_MAX; s = s * 5 / 3) {
		void *p = slabmalloc_kmalloc(s, GFP_KERNEL);
		struct page *pg = sm_virt_to_page(p);
		size_t us = slabmalloc_ksize(p);
		if (!pg || !(pg->flags & PG_large) || us < s || us - s >= SM_PAGE_SIZE ||
		    ((uintptr_t)p & (SM_PAGE_SIZE - 1)))
			large = 0;
		slabmalloc_kfree(p);
	}
	ok(large, "large sizes: whole pages, waste under one page");

	/* above half a section: huge (the arenas), except for __GFP_DMA */
	int huge = 1, dma = 1;
	for (size_t s = KMALLOC_LARGE_MAX + 1; s <= KMALLOC_MAX_PAGES_SIZE; s += 300001) {
		void *p = slabmalloc_kmalloc(s, GFP_KERNEL);
		if (!p || vmap_size(p) < s || slabmalloc_ksize(p) < s)
			huge = 0;
		memset(p, 1, s);
		slabmalloc_kfree(p);
		void *d = slabmalloc_kmalloc(s, GFP_KERNEL | __GFP_DMA);
		struct page *pg = d ? sm_virt_to_page(d) : NULL;
		if (!pg || !(pg->flags & PG_large) || pg->zone != ZONE_DMA)
			dma = 0;
		slabmalloc_kfree(d);
	}
	ok(huge, "sizes above %zu KiB up to a section are huge blocks", KMALLOC_LARGE_MAX >> 10);
	ok(dma, "... but __GFP_DMA ones stay DMA-zone page blocks");

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

	/* Neither free nor allocation writes the object: its bytes, whatever
	 * they are, stay as the program left them. */
	uintptr_t *t = slabmalloc_kmalloc(64, GFP_KERNEL);
	for (int i = 0; i < 8; i++)
		t[i] = (uintptr_t)0x5a5a5a5a5a5a5a5aull + (uintptr_t)i;
	slabmalloc_kfree(t);
	int kept = 1;
	for (int i = 0; i < 8; i++)
		kept &= t[i] == (uintptr_t)0x5a5a5a5a5a5a5a5aull + (uintptr_t)i;
	ok(kept, "a free does not write the object");
	uintptr_t *t2 = slabmalloc_kmalloc(64, GFP_KERNEL);
	ok(t2 == t && t2[0] == (uintptr_t)0x5a5a5a5a5a5a5a5aull,
	   "nor does allocation (the object comes back as it was freed)");
	ok(slabmalloc_ksize(t2) == 64, "ksize of a live object whose first word is stale data");
	slabmalloc_kfree(t2);

	/* A free that finds the magazine full takes kfree_page: a good object
	 * is taken; a second free or an interior pointer stops. */
	int out = fill_magazine(64);
	uintptr_t *g = fill[FILL_MAX - 1];
	slabmalloc_kfree(g);
	ok(out > 0 && slab_validate(kmalloc_caches[kmalloc_class(64)]),
	   "a free into a full magazine is taken (%d objects out)", out);
	for (int i = FILL_MAX - out; i < FILL_MAX - 1; i++)
		slabmalloc_kfree(fill[i]);
	expect_death(full_double_free, NULL, "kfree(): double free detected",
	             "a double free that finds the magazine full is stopped");
	expect_death(full_deep_double_free, NULL, "free(): double free detected",
	             "a double free deep in a full magazine is stopped when it is flushed");
	expect_death(full_interior, NULL, "kfree(): invalid pointer",
	             "an interior pointer that finds the magazine full is stopped");

	test_window();
	test_lcache_limit();
	test_dma();

	/* krealloc keeps small blocks in place when they still fit */
	char *k = slabmalloc_kmalloc(100, GFP_KERNEL);
	ok(slabmalloc_krealloc(k, 110, GFP_KERNEL) == k, "krealloc within the class stays in place");
	slabmalloc_kfree(k);
	return done_testing();
}
