/* SPDX-License-Identifier: MIT */
/*
 * buddy_resize.t — in-place resizing of alloc_pages_exact ranges
 * (buddy_resize_exact) and realloc of large kmalloc blocks on top of it:
 * growth into free pages keeps the address and the contents, growth is
 * refused (nothing changed) by an allocated neighbour, a page on a
 * per-thread list and a wrong size; shrinking gives pages back and the
 * range then frees with its new size; __GFP_ZERO zeroes dirty pages taken;
 * a randomized resize sequence keeps buddy_validate() happy after every
 * step; a realloc growth loop mostly stays in place.
 *
 * The layouts are built deterministically: a whole 4 MiB section is taken
 * as one exact range and shrunk, which puts the freed pieces at the heads
 * of their free lists, so the next allocation of such an order lands right
 * after the range. Per-thread page lists are switched off except where a
 * test needs them, and nothing allocates in between.
 */
#include <slabmalloc.h>
#include "page_alloc.h"
#include "tap.h"
#include "no_bg_purge.h"
#include <malloc.h>

#include <stdint.h>
#include <string.h>

#define KB(x) ((size_t)(x) << 10)
#define MB(x) ((size_t)(x) << 20)
#define PAGES(n) ((size_t)(n) << PAGE_SHIFT)

static struct zone *const zn = &sm_zones[ZONE_NORMAL];

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	return tap_rand(&rng_state);
}

static unsigned char pat(size_t i, unsigned int seed)
{
	return (unsigned char)((i * 131u + seed * 7u) >> 3 ^ seed);
}

static void fill(unsigned char *p, size_t from, size_t to, unsigned int seed)
{
	for (size_t i = from; i < to; i++)
		p[i] = pat(i, seed);
}

static bool check(const unsigned char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pat(i, seed))
			return false;
	return true;
}

/* First/last byte of every page: the cheap check of the random sequence. */
static void mark_pages(unsigned char *p, size_t from_page, size_t to_page,
                       unsigned char tag)
{
	for (size_t i = from_page; i < to_page; i++) {
		p[PAGES(i)] = tag;
		p[PAGES(i) + PAGE_SIZE - 1] = (unsigned char)~tag;
	}
}

static bool marks_ok(const unsigned char *p, size_t npages, unsigned char tag)
{
	for (size_t i = 0; i < npages; i++)
		if (p[PAGES(i)] != tag || p[PAGES(i) + PAGE_SIZE - 1] != (unsigned char)~tag)
			return false;
	return true;
}

static struct page *head_of(void *p)
{
	return sm_virt_to_page(p);
}

/*
 * A range of @keep pages at the start of a fresh 4 MiB section, the rest
 * of the section free (just pushed on the free lists). The section comes
 * out of one buddy_alloc_exact(4 MiB), so it is aligned to 4 MiB.
 */
static unsigned char *section_range(size_t keep)
{
	unsigned char *s = buddy_alloc_exact(MB(4), GFP_KERNEL);
	if (!s)
		return NULL;
	if (!buddy_resize_exact(s, MB(4), PAGES(keep), GFP_KERNEL))
		return NULL;
	return s;
}

/* ---- grow into free pages ---- */

static void test_grow_free(void)
{
	unsigned int saved = buddy_pcp_high;
	buddy_pcp_high = 0;
	buddy_drain_local();
	unsigned char *r = section_range(10);
	if (!r) {
		ok(0, "setup: a 4 MiB section shrunk to 10 pages");
		buddy_pcp_high = saved;
		return;
	}
	fill(r, 0, PAGES(10), 1);
	size_t free_before = zn->zone_free_pages;
	bool grew = buddy_resize_exact(r, PAGES(10) - 100, PAGES(100) - 5, GFP_KERNEL);
	ok(grew, "grow 10 -> 100 pages into free pages succeeds");
	ok(head_of(r)->exact.npages == 100 && head_of(r)->order == 7,
	   "the head records 100 pages, order 7 (npages %zu, order %u)",
	   head_of(r)->exact.npages, (unsigned)head_of(r)->order);
	ok(zn->zone_free_pages + 90 == free_before,
	   "zone_free_pages fell by the 90 pages taken (%zu -> %zu)", free_before,
	   zn->zone_free_pages);
	ok(check(r, PAGES(10), 1), "the first 10 pages kept their contents");
	fill(r, PAGES(10), PAGES(100), 2);     /* the new pages are ours */
	ok(buddy_validate(), "buddy_validate after the growth");

	/* Grow across orders up to the whole section again, one step per
	 * order boundary and a few odd sizes. */
	static const size_t steps[] = { 129, 255, 256, 257, 600, 1000, 1024 };
	bool all = true, valid = true;
	size_t cur = 100;
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		all &= buddy_resize_exact(r, PAGES(cur), PAGES(steps[i]), GFP_KERNEL);
		cur = steps[i];
		valid &= buddy_validate();
	}
	ok(all && valid, "grow 100 -> 129 -> ... -> 1024 pages in place, valid after each");
	ok(check(r, PAGES(10), 1), "contents kept through the growth");
	ok(!buddy_resize_exact(r, PAGES(1024), MB(4) + 1, GFP_KERNEL),
	   "growing beyond 4 MiB is refused");
	ok(!buddy_resize_exact(r, PAGES(1024), 0, GFP_KERNEL), "resizing to 0 is refused");
	ok(head_of(r)->exact.npages == 1024, "refused resizes changed nothing");
	buddy_free_exact(r, MB(4), "test");
	ok(buddy_validate(), "the grown range frees with its new size");
	buddy_pcp_high = saved;
}

/* ---- grow blocked by an allocated neighbour, a pcp page ---- */

static void test_grow_blocked(void)
{
	unsigned int saved = buddy_pcp_high;
	buddy_pcp_high = 0;
	buddy_drain_local();
	unsigned char *r = section_range(10);
	if (!r) {
		ok(0, "setup: section range");
		buddy_pcp_high = saved;
		return;
	}
	fill(r, 0, PAGES(10), 3);
	/* The order-1 block [10, 12) was pushed last on its list. */
	struct page *nb = buddy_alloc(GFP_KERNEL, 1);
	bool adjacent = nb && sm_page_to_virt(nb) == r + PAGES(10);
	ok(adjacent, "setup: an order-1 block allocated right after the range");
	size_t free_before = zn->zone_free_pages, limit_before = zn->zone_limit;
	bool grew = buddy_resize_exact(r, PAGES(10), PAGES(11), GFP_KERNEL);
	ok(!grew, "growth into an allocated neighbour fails");
	ok(!buddy_resize_exact(r, PAGES(10), PAGES(500), GFP_KERNEL),
	   "a larger growth over the neighbour fails too");
	ok(zn->zone_free_pages == free_before && zn->zone_limit == limit_before &&
	   head_of(r)->exact.npages == 10 && head_of(r)->order == 4 &&
	   (head_of(r)->flags & (PG_head | PG_exact)) == (PG_head | PG_exact),
	   "nothing changed (free pages, limit, head)");
	ok(check(r, PAGES(10), 3) && buddy_validate(), "contents intact, buddy valid");
	ok(buddy_resize_exact(r, PAGES(10), PAGES(10) - 1, GFP_KERNEL),
	   "a resize within the same pages succeeds without touching anything");
	if (nb)
		buddy_free(nb, 1, "test");
	ok(buddy_resize_exact(r, PAGES(10), PAGES(300), GFP_KERNEL),
	   "after the neighbour is freed the growth succeeds");
	ok(check(r, PAGES(10), 3) && buddy_validate(), "contents intact, buddy valid");
	buddy_free_exact(r, PAGES(300), "test");

	/* A page on this thread's per-thread list is not free in the buddy. */
	buddy_pcp_high = saved ? saved : 128;
	buddy_drain_local();
	r = section_range(10);
	if (!r) {
		ok(0, "setup: section range");
		buddy_pcp_high = saved;
		return;
	}
	/* The refill takes [10, 12) first and the allocation pops it; freed,
	 * it sits on the list as PG_pcp. */
	nb = buddy_alloc(GFP_KERNEL, 1);
	adjacent = nb && sm_page_to_virt(nb) == r + PAGES(10);
	if (nb)
		buddy_free(nb, 1, "test");
	ok(adjacent && (nb->flags & PG_pcp) != 0,
	   "setup: the block after the range is on a per-thread list");
	free_before = zn->zone_free_pages;
	ok(!buddy_resize_exact(r, PAGES(10), PAGES(12), GFP_KERNEL),
	   "growth into a per-thread list page fails");
	ok(zn->zone_free_pages == free_before && head_of(r)->exact.npages == 10 &&
	   nb && (nb->flags & PG_pcp) && buddy_validate(),
	   "nothing changed: the page stays on the list, buddy valid");
	buddy_drain_local();      /* the list goes back to the zone */
	ok(buddy_resize_exact(r, PAGES(10), PAGES(12), GFP_KERNEL) && buddy_validate(),
	   "once the list is drained the growth succeeds");
	buddy_free_exact(r, PAGES(12), "test");
	buddy_pcp_high = saved;
}

/* ---- shrink ---- */

static unsigned char *g_shrunk;

static void free_old_size(void *arg)
{
	(void)arg;
	buddy_free_exact(g_shrunk, KB(512), "free_pages_exact");
}

static void resize_wrong_size(void *arg)
{
	(void)arg;
	buddy_resize_exact(g_shrunk, KB(512), KB(600), GFP_KERNEL);
}

static void resize_not_exact(void *arg)
{
	(void)arg;
	struct page *pg = buddy_alloc(GFP_KERNEL, 2);
	buddy_resize_exact(sm_page_to_virt(pg), PAGES(4), PAGES(8), GFP_KERNEL);
}

static unsigned char *g_unaligned;

static void free_inside_unaligned(void *arg)
{
	(void)arg;
	free_pages((unsigned long)(g_unaligned + PAGES(20)), 0);
}

static void test_shrink(void)
{
	unsigned int saved = buddy_pcp_high;
	buddy_pcp_high = 0;
	buddy_drain_local();
	unsigned char *r = buddy_alloc_exact(KB(512), GFP_KERNEL | __GFP_ZERO);
	if (!r) {
		ok(0, "setup: 512 KiB exact range");
		buddy_pcp_high = saved;
		return;
	}
	fill(r, 0, KB(512), 4);
	size_t free_before = zn->zone_free_pages;
	ok(buddy_resize_exact(r, KB(512), KB(100), GFP_KERNEL), "shrink 512 KiB -> 100 KiB");
	ok(zn->zone_free_pages == free_before + 128 - 25,
	   "zone_free_pages rose by the 103 pages given back (%zu -> %zu)", free_before,
	   zn->zone_free_pages);
	ok(head_of(r)->exact.npages == 25 && head_of(r)->order == 5,
	   "the head records 25 pages, order 5");
	ok(check(r, KB(100), 4), "the kept pages kept their contents");
	ok(buddy_validate(), "buddy_validate after the shrink");
	g_shrunk = r;
	expect_death(free_old_size, NULL, "wrong size 524288 for the range of 25 pages",
	             "freeing the shrunk range with its old size dies");
	expect_death(resize_wrong_size, NULL,
	             "buddy_resize_exact(): wrong size 524288 for the range of 25 pages",
	             "resizing with a wrong old size dies");
	expect_death(resize_not_exact, NULL, "is not a live alloc_pages_exact range",
	             "resizing an alloc_pages block dies");
	size_t fp = zn->zone_free_pages;
	buddy_free_exact(r, KB(100), "test");
	ok(zn->zone_free_pages == fp + 25 && buddy_validate(),
	   "the shrunk range frees exactly its 25 pages with the new size");

	/* A range that grew past its alignment: validate accepts it, and a
	 * free of an interior page names the range. */
	r = section_range(16);
	unsigned char *u = r ? buddy_alloc_exact(PAGES(10), GFP_KERNEL) : NULL;
	ok(u == r + PAGES(16), "setup: a 10-page range at page 16 of a section");
	if (u) {
		fill(u, 0, PAGES(10), 5);
		ok(buddy_resize_exact(u, PAGES(10), PAGES(40), GFP_KERNEL) &&
		   head_of(u)->order == 6 && buddy_validate(),
		   "grown to 40 pages (order 6) at page 16: valid though unaligned");
		ok(check(u, PAGES(10), 5), "contents kept");
		g_unaligned = u;
		expect_death(free_inside_unaligned, NULL, "(inside the block at",
		             "free_pages inside the unaligned range names the range");
		ok(buddy_resize_exact(u, PAGES(40), PAGES(3), GFP_KERNEL) &&
		   head_of(u)->order == 2 && buddy_validate(),
		   "shrunk back to 3 pages");
		buddy_free_exact(u, PAGES(3), "test");
	}
	if (r)
		buddy_free_exact(r, PAGES(16), "test");
	ok(buddy_validate(), "buddy valid after freeing both");

	/* __GFP_ZERO: pages taken from dirty blocks are zeroed. */
	r = buddy_alloc_exact(MB(4), GFP_KERNEL);
	if (r) {
		memset(r, 0xa5, MB(4));
		ok(buddy_resize_exact(r, MB(4), PAGES(10), GFP_KERNEL), "setup: shrink to 10");
		bool grew = buddy_resize_exact(r, PAGES(10), PAGES(200),
		                               GFP_KERNEL | __GFP_ZERO);
		bool zero = true;
		for (size_t i = PAGES(10); i < PAGES(200) && zero; i++)
			zero = r[i] == 0;
		ok(grew && zero, "__GFP_ZERO growth over dirty pages reads as zeros");
		ok(r[PAGES(10) - 1] == 0xa5, "the old pages are not zeroed");
		buddy_free_exact(r, PAGES(200), "test");
	}
	buddy_pcp_high = saved;
}

/* ---- randomized sequence ---- */

static size_t rand_size(void)
{
	/* 33 KiB .. 4 MiB, biased towards small ones half of the time. */
	size_t lo = KB(33), hi = MB(4);
	if (rnd() & 1)
		hi = KB(512);
	return lo + rnd() % (hi - lo + 1);
}

static void test_random(void)
{
	enum { SLOTS = 24, STEPS = 3000 };
	static struct { unsigned char *p; size_t size; unsigned char tag; } s[SLOTS];
	static struct page *small[8];
	unsigned int grows = 0, grow_fail = 0, shrinks = 0, frees = 0, allocs = 0;
	bool valid = true, intact = true, same = true, counted = true;
	int step;

	buddy_drain_local();
	for (step = 0; step < STEPS && valid && intact && counted; step++) {
		int i = (int)(rnd() % SLOTS);
		unsigned int r = (unsigned int)(rnd() % 16);
		if (r == 0) {
			/* Order-0..3 blocks through the per-thread lists, so some
			 * neighbours are PG_pcp. */
			int k = (int)(rnd() % 8);
			if (small[k]) {
				buddy_free(small[k], (unsigned)(k & 3), "test");
				small[k] = NULL;
			} else {
				small[k] = buddy_alloc(GFP_KERNEL, (unsigned)(k & 3));
			}
		} else if (!s[i].p) {
			size_t sz = rand_size();
			s[i].p = buddy_alloc_exact(sz, GFP_KERNEL);
			if (s[i].p) {
				s[i].size = sz;
				s[i].tag = (unsigned char)(rnd() | 1);
				mark_pages(s[i].p, 0, PAGE_ALIGN(sz) >> PAGE_SHIFT, s[i].tag);
				allocs++;
			}
		} else if (r < 4) {
			buddy_free_exact(s[i].p, s[i].size, "test");
			s[i].p = NULL;
			frees++;
		} else {
			size_t ns = rand_size();
			size_t on = PAGE_ALIGN(s[i].size) >> PAGE_SHIFT;
			size_t nn = PAGE_ALIGN(ns) >> PAGE_SHIFT;
			size_t fb = zn->zone_free_pages, lb = zn->zone_limit;
			bool done = buddy_resize_exact(s[i].p, s[i].size, ns, GFP_KERNEL);
			size_t fa = zn->zone_free_pages, la = zn->zone_limit;
			size_t have = done ? nn : on;
			same &= head_of(s[i].p)->exact.npages == have;
			intact &= marks_ok(s[i].p, on < have ? on : have, s[i].tag);
			/* Pages leave or join the free areas one for one (plus a
			 * whole section when the zone grew under the range). */
			counted &= (ptrdiff_t)(fa - fb) ==
			           (ptrdiff_t)((la - lb) >> PAGE_SHIFT) -
			           (done ? (ptrdiff_t)nn - (ptrdiff_t)on : 0);
			if (done) {
				s[i].size = ns;
				if (nn > on) {
					grows++;
					mark_pages(s[i].p, on, nn, s[i].tag);
				} else if (nn < on) {
					shrinks++;
				}
			} else {
				grow_fail++;
			}
		}
		valid = buddy_validate();
	}
	ok(valid, "buddy_validate after each of %d random steps", step);
	ok(intact, "contents kept through every resize");
	ok(same, "exact.npages is the new size after success, the old after failure");
	ok(counted, "zone_free_pages moves by exactly the pages taken or given back");
	ok(step == STEPS, "all %d steps ran", STEPS);
	ok(grows > 50 && shrinks > 50 && grow_fail > 0,
	   "the sequence exercised %u growths, %u shrinks, %u refused growths (%u allocs, %u frees)",
	   grows, shrinks, grow_fail, allocs, frees);
	for (int i = 0; i < SLOTS; i++)
		if (s[i].p)
			buddy_free_exact(s[i].p, s[i].size, "test");
	for (int k = 0; k < 8; k++)
		if (small[k])
			buddy_free(small[k], (unsigned)(k & 3), "test");
	ok(buddy_validate(), "valid after freeing everything");
}

/* ---- through realloc ---- */

static void test_realloc(void)
{
	buddy_drain_local();
	size_t n = KB(40);
	unsigned char *p = malloc(n);
	ok(p && head_of(p) && (head_of(p)->flags & PG_large),
	   "malloc(40 KiB) is a large kmalloc block");
	if (!p)
		return;
	fill(p, 0, n, 6);
	unsigned int steps = 0, kept = 0;
	bool contents = true;
	while (n < MB(3)) {
		size_t nn = n + n / 8;
		if (nn > MB(3))
			nn = MB(3);
		uintptr_t old = (uintptr_t)p;     /* compared, never used */
		unsigned char *q = realloc(p, nn);
		if (!q) {
			contents = false;
			break;
		}
		steps++;
		kept += (uintptr_t)q == old;
		contents &= check(q, n, 6);
		fill(q, n, nn, 6);
		p = q;
		n = nn;
	}
	ok(contents, "realloc 40 KiB -> 3 MiB by 12.5%% steps keeps every byte");
	ok(kept * 2 > steps, "the block stayed in place in %u of %u steps", kept, steps);
	ok(malloc_usable_size(p) == MB(3), "usable size is 3 MiB");

	uintptr_t old = (uintptr_t)p;
	unsigned char *q = realloc(p, KB(100));
	ok((uintptr_t)q == old && malloc_usable_size(q) == KB(100),
	   "realloc down to 100 KiB shrinks in place (usable %zu)", malloc_usable_size(q));
	ok(check(q, KB(100), 6), "the kept bytes are intact");
	q = realloc(q, KB(100) + 1);
	ok(malloc_usable_size(q) == KB(104) && check(q, KB(100), 6),
	   "one byte more: one page more, bytes intact");
	free(q);
	ok(buddy_validate(), "buddy valid after the realloc sequence");

	/* krealloc with __GFP_ZERO: the added bytes read as zeros. */
	unsigned char *k = kmalloc(KB(64), GFP_KERNEL);
	memset(k, 0x5a, KB(64));
	k = krealloc(k, KB(256), GFP_KERNEL | __GFP_ZERO);
	bool zero = k != NULL;
	for (size_t i = KB(64); zero && i < KB(256); i++)
		zero = k[i] == 0;
	ok(zero && k[KB(64) - 1] == 0x5a, "krealloc(__GFP_ZERO) growth zeroes the new bytes");
	kfree(k);
}

int main(void)
{
	sm_ensure_init();
	/* stdio allocates its buffer at the first print: before any layout is
	 * built, so that no slab lands in the pages a test wants free. */
	diag("in-place resizing of exact page ranges");
	test_grow_free();
	test_grow_blocked();
	test_shrink();
	test_random();
	test_realloc();
	return done_testing();
}
