/* SPDX-License-Identifier: MIT */
/*
 * slab_cache.c — unit tests of the slab layer through the kmem_cache API:
 * layout, object-index arithmetic, constructors and destructors, constructed
 * state, alignment, colouring, DMA, bulk calls, bad arguments, shrink and
 * reap, slabinfo, and a randomized run checked by slab_validate.
 */
#include "slab_internal.h"
#include "tap.h"
#include "no_bg_purge.h"

#include <errno.h>
#include <stdint.h>

static struct kmem_cache *C(kmem_cache_t *c) { return c; }

static size_t free_pages_total(void)
{
	return sm_zones[ZONE_NORMAL].zone_free_pages + sm_zones[ZONE_DMA].zone_free_pages;
}

/* ---- object index: slab_is_obj_start against % for every byte ---- */

static int check_index_exhaustive(size_t size, size_t align, unsigned long flags)
{
	kmem_cache_t *c = kmem_cache_create("idx", size, align, flags, NULL, NULL);
	if (!c)
		return 0;
	void *o = kmem_cache_alloc(c, GFP_KERNEL);
	struct page *pg = sm_virt_to_page(o);
	size_t bytes = SM_PAGE_SIZE << C(c)->order;
	uintptr_t start = SM_ALIGN_DOWN(pg->slab_base, bytes);
	int good = 1;
	for (uintptr_t p = start; p < start + bytes && good; p++) {
		struct page *q = sm_virt_to_page((void *)p);
		long off = (long)(p - pg->slab_base);
		bool want = off >= 0 && off % (long)C(c)->size == 0 &&
		            (unsigned long)off / C(c)->size < C(c)->objects;
		if (slab_is_obj_start(C(c), q, (void *)p) != want) {
			diag("size %zu: offset %ld: got %d want %d", size, off, !want, want);
			good = 0;
		}
		if (want && slab_obj_index(C(c), q, (void *)p) != (uint64_t)off / C(c)->size)
			good = 0;
	}
	kmem_cache_free(c, o);
	good &= kmem_cache_destroy(c) == 0;
	return good;
}

static void test_index(void)
{
	int good = 1;
	for (size_t s = 1; s <= 1100 && good; s++)
		good = check_index_exhaustive(s, 0, 0);
	ok(good, "slab_is_obj_start == (off %% size == 0 && in slab) for every byte, sizes 1..1100");
	good = 1;
	size_t odd[] = { 1500, 2000, 2049, 3000, 4095, 4096, 5000, 12345, 32768 };
	for (size_t i = 0; i < SM_ARRAY_SIZE(odd) && good; i++)
		good = check_index_exhaustive(odd[i], 0, 0);
	ok(good, "object index exhaustive for larger sizes up to 32 KiB");
	good = check_index_exhaustive(100, 256, 0) && check_index_exhaustive(72, 0, SLAB_HWCACHE_ALIGN);
	ok(good, "object index exhaustive with large alignment");
}

/* ---- layout ---- */

static void test_layout(void)
{
	int waste_ok = 1, fit_ok = 1, order_ok = 1;
	for (size_t s = 8; s <= 4096; s += 8) {
		kmem_cache_t *c = kmem_cache_create("lay", s, 0, 0, NULL, NULL);
		struct kmem_cache *k = C(c);
		size_t bytes = SM_PAGE_SIZE << k->order;
		size_t used = (size_t)k->objects * k->size;
		if ((bytes - used) * 8 > bytes) {
			diag("size %zu: order %u objects %u waste %zu", s, k->order, k->objects,
			     bytes - used);
			waste_ok = 0;
		}
		/* Up to 64 objects keep the bitmap in the page descriptor. */
		size_t bm = k->objects <= 64 ? 0 : ((k->objects + 63) / 64) * 8;
		if (used + bm > bytes || k->bitmap_off != bytes - bm || k->colour_range < 1 ||
		    k->bitmap_off < used + (k->colour_range - 1) * k->colour_step)
			fit_ok = 0;
		if (k->order > 3)
			order_ok = 0;
		kmem_cache_destroy(c);
	}
	ok(waste_ok, "waste (bitmap included) <= 1/8 of the slab for sizes 8..4096");
	ok(fit_ok, "objects, colours and bitmap fit the slab");
	ok(order_ok, "objects up to 4 KiB use orders 0..3");

	size_t big[] = { 32768, 65536, 100000, 262144 };
	int big_ok = 1;
	for (size_t i = 0; i < SM_ARRAY_SIZE(big); i++) {
		kmem_cache_t *c = kmem_cache_create("big", big[i], 0, 0, NULL, NULL);
		if (!c) {
			big_ok = 0;
			continue;
		}
		void *p[20];
		for (int j = 0; j < 20; j++) {
			p[j] = kmem_cache_alloc(c, GFP_KERNEL);
			if (!p[j])
				big_ok = 0;
			else
				memset(p[j], j, big[i]);
		}
		for (int j = 0; j < 20; j++)
			if (p[j]) {
				if (((unsigned char *)p[j])[big[i] - 1] != j)
					big_ok = 0;
				kmem_cache_free(c, p[j]);
			}
		big_ok &= slab_validate(C(c));
		big_ok &= kmem_cache_destroy(c) == 0;
	}
	ok(big_ok, "caches of 32 KiB .. 256 KiB objects work (larger orders)");
	errno = 0;
	ok(kmem_cache_create("huge", (size_t)5 << 20, 0, 0, NULL, NULL) == NULL && errno == EINVAL,
	   "an object larger than an order MAX_ORDER-1 slab is refused with EINVAL");
}

/* ---- alignment ---- */

static void test_align(void)
{
	int good8 = 1, good16 = 1, good64 = 1, goodbig = 1;
	for (size_t s = 1; s <= 300; s++) {
		kmem_cache_t *a = kmem_cache_create("al", s, 0, 0, NULL, NULL);
		kmem_cache_t *h = kmem_cache_create("alh", s, 0, SLAB_HWCACHE_ALIGN, NULL, NULL);
		void *pa[40], *ph[40];
		for (int i = 0; i < 40; i++) {
			pa[i] = kmem_cache_alloc(a, GFP_KERNEL);
			ph[i] = kmem_cache_alloc(h, GFP_KERNEL);
			uintptr_t x = (uintptr_t)pa[i];
			if (x % 8)
				good8 = 0;
			if (s >= 16 && x % 16)
				good16 = 0;
			if ((uintptr_t)ph[i] % 64)
				good64 = 0;
		}
		for (int i = 0; i < 40; i++) {
			kmem_cache_free(a, pa[i]);
			kmem_cache_free(h, ph[i]);
		}
		kmem_cache_destroy(a);
		kmem_cache_destroy(h);
	}
	size_t aligns[] = { 128, 256, 1024, 4096 };
	for (size_t i = 0; i < SM_ARRAY_SIZE(aligns); i++) {
		kmem_cache_t *c = kmem_cache_create("alb", 100, aligns[i], 0, NULL, NULL);
		void *p[30];
		for (int j = 0; j < 30; j++) {
			p[j] = kmem_cache_alloc(c, GFP_KERNEL);
			if ((uintptr_t)p[j] % aligns[i])
				goodbig = 0;
		}
		for (int j = 0; j < 30; j++)
			kmem_cache_free(c, p[j]);
		kmem_cache_destroy(c);
	}
	ok(good8, "objects are at least 8-byte aligned");
	ok(good16, "objects of 16 bytes or more are 16-byte aligned");
	ok(good64, "SLAB_HWCACHE_ALIGN objects start on a 64-byte cache line");
	ok(goodbig, "an explicit alignment up to a page is honoured");
}

/* ---- constructors and destructors ---- */

static long ctor_calls, dtor_calls, ctor_noflag, ctor_atomic, dtor_ctorflag;
#define CTOR_SIZE 96

static void ctor(void *obj, kmem_cache_t *c, unsigned long fl)
{
	(void)c;
	ctor_calls++;
	if (!(fl & SLAB_CTOR_CONSTRUCTOR))
		ctor_noflag++;
	if (fl & SLAB_CTOR_ATOMIC)
		ctor_atomic++;
	unsigned char *b = obj;
	memcpy(b, &obj, sizeof obj);
	for (int i = sizeof obj; i < CTOR_SIZE; i++)
		b[i] = (unsigned char)(0xA5 ^ i);
}

static void dtor(void *obj, kmem_cache_t *c, unsigned long fl)
{
	(void)obj;
	(void)c;
	dtor_calls++;
	if (fl & SLAB_CTOR_CONSTRUCTOR)
		dtor_ctorflag++;
}

static int constructed(void *obj)
{
	unsigned char *b = obj;
	void *self;
	memcpy(&self, b, sizeof self);
	if (self != obj)
		return 0;
	for (int i = sizeof obj; i < CTOR_SIZE; i++)
		if (b[i] != (unsigned char)(0xA5 ^ i))
			return 0;
	return 1;
}

static void test_ctor(void)
{
	ctor_calls = dtor_calls = ctor_noflag = ctor_atomic = dtor_ctorflag = 0;
	kmem_cache_t *c = kmem_cache_create("ctor", CTOR_SIZE, 0, 0, ctor, dtor);
	void *p = kmem_cache_alloc(c, GFP_KERNEL);
	ok(ctor_calls > 0 && ctor_calls == (long)(C(c)->nr_slabs * C(c)->objects),
	   "the constructor ran once per object of each new slab (%ld = %lu x %u)",
	   ctor_calls, C(c)->nr_slabs, C(c)->objects);
	ok(constructed(p), "a new object is in constructed state");
	kmem_cache_free(c, p);
	long before = ctor_calls;
	for (int i = 0; i < 1000; i++) {
		p = kmem_cache_alloc(c, GFP_KERNEL);
		kmem_cache_free(c, p);
	}
	ok(ctor_calls == before && dtor_calls == 0, "no constructor/destructor on alloc/free");

	enum { N = 3000 };
	static void *objs[N];
	int all = 1;
	for (int i = 0; i < N; i++) {
		objs[i] = kmem_cache_alloc(c, GFP_KERNEL);
		all &= constructed(objs[i]);
	}
	ok(all, "%d objects over many slabs are constructed", N);
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < N; i += 2)
			kmem_cache_free(c, objs[i]);
		for (int i = 0; i < N; i += 2) {
			objs[i] = kmem_cache_alloc(c, GFP_KERNEL);
			all &= constructed(objs[i]);
		}
	}
	for (int i = 0; i < N; i++)
		kmem_cache_free(c, objs[i]);
	mag_flush_own(C(c));
	for (int i = 0; i < N; i++) {
		objs[i] = kmem_cache_alloc(c, GFP_KERNEL);
		all &= constructed(objs[i]);
	}
	ok(all, "constructed state is intact after free/alloc cycles through magazines and slabs");
	for (int i = 0; i < N; i++)
		kmem_cache_free(c, objs[i]);
	ok(ctor_noflag == 0, "SLAB_CTOR_CONSTRUCTOR passed to every constructor call");
	ok(ctor_atomic == 0, "no SLAB_CTOR_ATOMIC for GFP_KERNEL");
	ok(slab_validate(C(c)) && mag_validate(C(c)), "validators pass");
	ok(kmem_cache_destroy(c) == 0, "destroy after everything was freed returns 0");
	ok(dtor_calls == ctor_calls, "the destructor ran once per constructed object (%ld/%ld)",
	   dtor_calls, ctor_calls);
	ok(dtor_ctorflag == 0, "no SLAB_CTOR_CONSTRUCTOR for the destructor");

	ctor_calls = ctor_atomic = 0;
	c = kmem_cache_create("ctor-atomic", CTOR_SIZE, 0, 0, ctor, NULL);
	p = kmem_cache_alloc(c, GFP_ATOMIC);
	ok(p && ctor_atomic == ctor_calls && ctor_calls > 0,
	   "SLAB_CTOR_ATOMIC for a slab made by a GFP_ATOMIC allocation");
	kmem_cache_free(c, p);
	ok(kmem_cache_destroy(c) == 0, "destroy of a cache without destructor");
}

/* ---- colouring, DMA ---- */

static void test_colour(void)
{
	kmem_cache_t *c = kmem_cache_create("colour", 200, 0, 0, NULL, NULL);
	struct kmem_cache *k = C(c);
	size_t bytes = SM_PAGE_SIZE << k->order;
	enum { N = 400 };
	void *p[N];
	uint64_t seen = 0;
	int bounds = 1;
	for (int i = 0; i < N; i++) {
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
		struct page *pg = sm_virt_to_page(p[i]);
		size_t off = pg->slab_base % bytes;
		if (off % SM_CACHELINE || off / SM_CACHELINE >= k->colour_range)
			bounds = 0;
		seen |= 1ull << ((off / SM_CACHELINE) % 64);
	}
	ok(k->colour_range > 1, "a 200-byte cache has %u colours", k->colour_range);
	ok(__builtin_popcountll(seen) >= 2 && bounds,
	   "object 0 of different slabs starts at different cache-line offsets (%d seen)",
	   __builtin_popcountll(seen));
	for (int i = 0; i < N; i++)
		kmem_cache_free(c, p[i]);
	ok(slab_validate(k), "colour bounds validated");
	kmem_cache_destroy(c);
}

static void test_dma(void)
{
	if (sm_zones[ZONE_DMA].zone_span == 0) {
		ok(1, "# SKIP no DMA zone on this system");
		return;
	}
	kmem_cache_t *c = kmem_cache_create("dma", 512, 0, SLAB_CACHE_DMA, NULL, NULL);
	int low = 1;
	void *p[100];
	for (int i = 0; i < 100; i++) {
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
		if (!p[i] || (uintptr_t)p[i] + 512 > (1ull << 32))
			low = 0;
	}
	for (int i = 0; i < 100; i++)
		kmem_cache_free(c, p[i]);
	ok(low, "SLAB_CACHE_DMA objects lie below 4 GiB");
	ok(kmem_cache_destroy(c) == 0, "DMA cache destroyed");
}

/* ---- API odds and ends ---- */

static void test_api(void)
{
	errno = 0;
	ok(!kmem_cache_create(NULL, 64, 0, 0, NULL, NULL) && errno == EINVAL, "NULL name: EINVAL");
	errno = 0;
	ok(!kmem_cache_create("x", 0, 0, 0, NULL, NULL) && errno == EINVAL, "size 0: EINVAL");
	errno = 0;
	ok(!kmem_cache_create("x", 64, 24, 0, NULL, NULL) && errno == EINVAL,
	   "alignment not a power of two: EINVAL");
	errno = 0;
	ok(!kmem_cache_create("x", 64, 8192, 0, NULL, NULL) && errno == EINVAL,
	   "alignment above a page: EINVAL");
	errno = 0;
	ok(!kmem_cache_create("x", SIZE_MAX, 0, 0, NULL, NULL) && errno == EINVAL,
	   "absurd size: EINVAL");

	kmem_cache_t *c = kmem_cache_create("a-very-long-cache-name-that-is-truncated", 40, 0, 0,
	                                    NULL, NULL);
	ok(c && strlen(kmem_cache_name(c)) == SM_CACHE_NAME_MAX - 1 &&
	   strncmp(kmem_cache_name(c), "a-very-long-cache-name", 22) == 0,
	   "names are copied and truncated");
	ok(kmem_cache_size(c) == 40, "kmem_cache_size is the size asked for");

	unsigned char *z = kmem_cache_alloc(c, GFP_KERNEL);
	memset(z, 0xff, 40);
	kmem_cache_free(c, z);
	z = kmem_cache_zalloc(c, GFP_KERNEL);
	int zero = 1;
	for (int i = 0; i < 40; i++)
		zero &= z[i] == 0;
	memset(z, 0xff, 40);
	kmem_cache_free(c, z);
	z = kmem_cache_alloc(c, GFP_KERNEL | __GFP_ZERO);
	for (int i = 0; i < 40; i++)
		zero &= z[i] == 0;
	kmem_cache_free(c, z);
	ok(zero, "kmem_cache_zalloc and __GFP_ZERO zero the object");

	enum { N = 5000 };
	static void *p[N];
	ok(kmem_cache_alloc_bulk(c, GFP_KERNEL, N, p) == N, "alloc_bulk of %d returns %d", N, N);
	int distinct = 1;
	for (int i = 0; i < N; i++)
		memset(p[i], i & 0xff, 40);
	for (int i = 0; i < N; i++)
		for (int j = 0; j < 40; j++)
			if (((unsigned char *)p[i])[j] != (i & 0xff))
				distinct = 0;
	ok(distinct, "bulk objects are distinct (no overlap)");
	ok(C(c)->active_objs >= N && slab_validate(C(c)), "bulk objects accounted");
	kmem_cache_free_bulk(c, N, p);
	ok(slab_validate(C(c)) && mag_validate(C(c)), "free_bulk leaves the cache valid");
	kmem_cache_free(c, NULL);
	ok(1, "kmem_cache_free(NULL) is a no-op");
	ok(kmem_cache_destroy(c) == 0, "destroy");
	ok(kmem_cache_destroy(NULL) == 0, "destroy(NULL) is a no-op");
}

/* ---- shrink and reap give pages back ---- */

static void test_shrink(void)
{
	kmem_cache_t *c = kmem_cache_create("shrink", 256, 0, 0, NULL, NULL);
	struct kmem_cache *k = C(c);
	enum { N = 20000 };
	static void *p[N];
	for (int i = 0; i < N; i++)
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
	size_t slabs_full = k->nr_slabs;
	for (int i = 0; i < N; i++)
		kmem_cache_free(c, p[i]);
	ok(k->depot.d_nfull > 0, "freed objects filled depot magazines (%u full)", k->depot.d_nfull);

	/* Working-set reaping: the first interval end sees the magazines as
	 * needed (fmin was 0); with no use in the next interval they go. */
	depot_reap(k, false);
	uint32_t nfull = k->depot.d_nfull;
	size_t before = free_pages_total();
	depot_reap(k, false);
	size_t after = free_pages_total();
	ok(nfull > 0 && k->depot.d_nfull == 0, "an idle interval reaps all full magazines (%u -> %u)",
	   nfull, k->depot.d_nfull);
	ok(after > before, "reaping gave pages to the page layer (%zu -> %zu free pages)",
	   before, after);
	ok(k->nr_slabs < slabs_full, "slabs released by reaping (%lu -> %lu)", slabs_full,
	   k->nr_slabs);

	for (int i = 0; i < N; i++)
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
	for (int i = 0; i < N; i++)
		kmem_cache_free(c, p[i]);
	before = free_pages_total();
	int r = kmem_cache_shrink(c);
	after = free_pages_total();
	ok(after > before, "kmem_cache_shrink gave pages back (%zu -> %zu)", before, after);
	ok(r == 1 && k->depot.d_nfull == 0 && k->nr_empty == 0,
	   "shrink: depot empty, no empty slab, returns 1 while the thread's magazines hold objects");
	mag_flush_own(k);
	r = kmem_cache_shrink(c);
	ok(r == 0 && k->nr_slabs == 0, "after flushing our magazines shrink frees every slab (returns 0)");
	ok(slab_validate(k) && mag_validate(k), "validators pass after shrink");
	kmem_cache_destroy(c);
}

/* ---- slabinfo ---- */

static void test_slabinfo(void)
{
	kmem_cache_t *c = kmem_cache_create("info-test", 300, 0, 0, NULL, NULL);
	enum { N = 777 };
	static void *p[N];
	for (int i = 0; i < N; i++)
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
	for (int i = 0; i < 100; i++)
		kmem_cache_free(c, p[i]);     /* now in our magazines: not active */

	FILE *f = tmpfile();
	slabmalloc_slabinfo(f);
	rewind(f);
	char line[512];
	int hdr = fgets(line, sizeof line, f) && strcmp(line, "slabinfo - version: 2.1\n") == 0;
	hdr &= fgets(line, sizeof line, f) &&
	       strcmp(line, "# name            <active_objs> <num_objs> <objsize> <objperslab> "
	                    "<pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : "
	                    "slabdata <active_slabs> <num_slabs> <sharedavail>\n") == 0;
	ok(hdr, "slabinfo header is the 2.1 format");
	int lines = 0, parsed = 1, found = 0;
	while (fgets(line, sizeof line, f)) {
		char name[64];
		unsigned long act, num, aslabs, nslabs, avail;
		unsigned int objsize, perslab, limit, batch, shared;
		int pages;
		lines++;
		if (sscanf(line, "%63s %lu %lu %u %u %d : tunables %u %u %u : slabdata %lu %lu %lu",
		           name, &act, &num, &objsize, &perslab, &pages, &limit, &batch, &shared,
		           &aslabs, &nslabs, &avail) != 12 || act > num || aslabs > nslabs) {
			diag("bad line: %s", line);
			parsed = 0;
			continue;
		}
		if (strcmp(name, "info-test") == 0) {
			struct kmem_cache *k = C(c);
			found = act == N - 100 && num == k->nr_slabs * k->objects &&
			        objsize == k->size && perslab == k->objects &&
			        pages == 1 << k->order && limit == k->depot.d_magsize &&
			        batch == (limit + 1) / 2 && nslabs == k->nr_slabs &&
			        avail == k->depot.d_rounds;
			if (!found)
				diag("line: %s", line);
		}
		if (strlen(name) <= 17 && line[17] != ' ')
			parsed = 0;
	}
	fclose(f);
	ok(parsed && lines >= 8, "every slabinfo line parses back (%d lines)", lines);
	ok(found, "the line of our cache has the right columns (active excludes magazines)");
	for (int i = 100; i < N; i++)
		kmem_cache_free(c, p[i]);
	kmem_cache_destroy(c);
}

/* ---- randomized steps with validation ---- */

static uint64_t rng = 88172645463325252ull;
static uint64_t xrand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_random(void)
{
	enum { NC = 5, SLOTS = 3000, STEPS = 60000 };
	size_t sizes[NC] = { 8, 48, 200, 1000, 5000 };
	kmem_cache_t *cs[NC];
	for (int i = 0; i < NC; i++)
		cs[i] = kmem_cache_create("rnd", sizes[i], 0, i == 2 ? SLAB_HWCACHE_ALIGN : 0,
		                          NULL, NULL);
	static unsigned char *slot[NC][SLOTS];
	int good = 1, valid = 1;
	for (int step = 0; step < STEPS; step++) {
		int ci = (int)(xrand() % NC), si = (int)(xrand() % SLOTS);
		unsigned char *p = slot[ci][si];
		if (p) {
			unsigned char v = (unsigned char)((uintptr_t)p >> 4);
			if (p[0] != v || p[sizes[ci] - 1] != v)
				good = 0;
			kmem_cache_free(cs[ci], p);
			slot[ci][si] = NULL;
		} else {
			p = kmem_cache_alloc(cs[ci], GFP_KERNEL);
			if (!p) {
				good = 0;
				continue;
			}
			memset(p, (unsigned char)((uintptr_t)p >> 4), sizes[ci]);
			slot[ci][si] = p;
		}
		if (xrand() % 5000 == 0)
			mag_flush_own(C(cs[ci]));
		if (xrand() % 7000 == 0)
			kmem_cache_shrink(cs[ci]);
		if (step % (config_debug ? 500 : 5000) == 0)
			for (int i = 0; i < NC; i++)
				valid &= slab_validate(C(cs[i])) && mag_validate(C(cs[i]));
	}
	ok(good, "randomized alloc/free: every object kept its bytes");
	ok(valid, "slab_validate and mag_validate after randomized steps");
	for (int i = 0; i < NC; i++) {
		ok(kmem_cache_destroy(cs[i]) == -EBUSY, "destroy with live objects is -EBUSY");
		for (int s = 0; s < SLOTS; s++)
			if (slot[i][s])
				kmem_cache_free(cs[i], slot[i][s]);
		ok(kmem_cache_destroy(cs[i]) == 0, "destroy once all are freed");
	}
}

int main(void)
{
	buddy_pcp_high = 0;     /* freed pages go straight to the free areas */
	test_index();
	test_layout();
	test_align();
	test_ctor();
	test_colour();
	test_dma();
	test_api();
	test_shrink();
	test_slabinfo();
	test_random();
	ok(buddy_validate(), "buddy_validate at the end");
	return done_testing();
}
