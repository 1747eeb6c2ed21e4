/* SPDX-License-Identifier: MIT */
/*
 * pages_api.t — the kernel page API through <slabmalloc.h>: get_order,
 * alloc_pages_exact trimming (waste under one page), get_zeroed_page after
 * a dirty free, hot/cold page lists, alloc_pages_node, requests that cannot
 * be met, and the buddyinfo layout parsed back.
 */
#include <slabmalloc.h>
#include "page_alloc.h"
#include "tap.h"
#include "no_bg_purge.h"

#include <stdint.h>
#include <string.h>

static size_t used_pages(const struct zone *z)
{
	return (z->zone_limit >> PAGE_SHIFT) - z->zone_free_pages - z->zone_offline_pages -
	       z->zone_lost_pages;
}

static void test_get_order(void)
{
	ok(get_order(0) == 0 && get_order(1) == 0 && get_order(PAGE_SIZE) == 0 &&
	   get_order(PAGE_SIZE + 1) == 1 && get_order(2 * PAGE_SIZE) == 1 &&
	   get_order(33 * 1024) == 4 && get_order(4ul << 20) == 10 &&
	   get_order((4ul << 20) + 1) == 11, "get_order matches the kernel's");
}

static void test_exact(void)
{
	static const size_t sizes[] = {
		1, 100, 4095, 4096, 4097, 3 * 4096, 5 * 4096 + 1, 33 * 1024, 100000,
		7 * 4096, 129 * 4096, 513 * 4096 - 7, 1000000, (4u << 20) - 1, 4u << 20,
	};
	struct zone *z = &sm_zones[ZONE_NORMAL];
	bool waste_ok = true, aligned = true, written = true, marked = true;
	for (size_t i = 0; i < SM_ARRAY_SIZE(sizes); i++) {
		size_t sz = sizes[i];
		size_t before = used_pages(z);
		unsigned char *p = alloc_pages_exact(sz, GFP_KERNEL);
		if (!p) {
			ok(0, "alloc_pages_exact(%zu)", sz);
			continue;
		}
		size_t used = (used_pages(z) - before) * PAGE_SIZE;
		if (used < sz || used - sz >= PAGE_SIZE) {
			waste_ok = false;
			diag("size %zu took %zu bytes", sz, used);
		}
		if ((uintptr_t)p % PAGE_SIZE)
			aligned = false;
		struct page *pg = virt_to_page(p);
		if (!(pg->flags & PG_exact) || pg->exact.npages != PAGE_ALIGN(sz) / PAGE_SIZE)
			marked = false;
		memset(p, 0xee, PAGE_ALIGN(sz));
		written &= p[PAGE_ALIGN(sz) - 1] == 0xee;
		free_pages_exact(p, sz);
		if (used_pages(z) != before) {
			waste_ok = false;
			diag("size %zu: %zu pages not given back", sz, used_pages(z) - before);
		}
	}
	ok(waste_ok, "alloc_pages_exact: waste under one page for %zu sizes, all given back",
	   SM_ARRAY_SIZE(sizes));
	ok(aligned && written, "exact ranges are page aligned and writable");
	ok(marked, "the head descriptor records PG_exact and the page count");
	void *z0 = alloc_pages_exact(100, GFP_KERNEL | __GFP_ZERO);
	void *z1 = alloc_pages_exact(3 * PAGE_SIZE, GFP_KERNEL | __GFP_ZERO);
	bool zero = z0 && z1;
	for (size_t k = 0; zero && k < 3 * PAGE_SIZE; k++)
		zero &= ((unsigned char *)z1)[k] == 0 && (k >= PAGE_SIZE || ((unsigned char *)z0)[k] == 0);
	ok(zero, "alloc_pages_exact with __GFP_ZERO (after dirty frees) is zeroed");
	free_pages_exact(z0, 100);
	free_pages_exact(z1, 3 * PAGE_SIZE);
	ok(alloc_pages_exact(0, GFP_KERNEL) == NULL, "alloc_pages_exact(0) is NULL");
	ok(alloc_pages_exact((4u << 20) + 1, GFP_KERNEL | __GFP_NOWARN) == NULL,
	   "alloc_pages_exact beyond 4 MiB is NULL");
	free_pages_exact(NULL, 10);
	ok(buddy_validate(), "valid after the exact tests");
}

static void test_zeroed(void)
{
	bool zero = true, same = false;
	for (int round = 0; round < 8; round++) {
		unsigned long a = __get_free_page(GFP_KERNEL);
		memset((void *)a, 0xab, PAGE_SIZE);
		free_page(a);
		unsigned long b = get_zeroed_page(GFP_KERNEL);
		same |= a == b;
		for (size_t k = 0; k < PAGE_SIZE; k++)
			if (((unsigned char *)b)[k]) {
				zero = false;
				break;
			}
		free_page(b);
	}
	ok(same, "the page freed dirty comes straight back (hot page list)");
	ok(zero, "get_zeroed_page is zero even right after a dirty free");

	for (unsigned int o = 0; o < MAX_ORDER; o += 3) {
		struct page *pg = alloc_pages(GFP_KERNEL, o);
		memset(page_address(pg), 0x77, PAGE_SIZE << o);
		__free_pages(pg, o);
		pg = alloc_pages(GFP_KERNEL | __GFP_ZERO, o);
		unsigned char *p = page_address(pg);
		bool z = true;
		for (size_t k = 0; k < (PAGE_SIZE << o); k += 97)
			z &= p[k] == 0;
		z &= p[(PAGE_SIZE << o) - 1] == 0;
		ok(z, "order %u with __GFP_ZERO after a dirty free is zero", o);
		__free_pages(pg, o);
	}
}

static void test_hot_cold(void)
{
	buddy_drain_local();
	struct page *a = alloc_page(GFP_KERNEL);
	struct page *b = alloc_page(GFP_KERNEL);
	free_hot_page(a);
	free_cold_page(b);
	struct page *c = alloc_pages(GFP_KERNEL | __GFP_COLD, 0);
	struct page *d = alloc_page(GFP_KERNEL);
	ok(c == b, "__GFP_COLD takes the page freed cold (the list's tail)");
	ok(d == a, "a plain allocation takes the page freed hot (the list's head)");
	__free_page(c);
	__free_page(d);
	/* Orders 1..3 have page lists too. */
	struct page *e = alloc_pages(GFP_KERNEL, 3);
	__free_pages(e, 3);
	ok(alloc_pages(GFP_KERNEL, 3) == e, "order-3 blocks are recycled hot as well");
	__free_pages(e, 3);
}

static void test_misc(void)
{
	struct page *p = alloc_pages_node(0, GFP_KERNEL, 2);
	struct page *q = alloc_pages_node(-1, GFP_KERNEL, 0);
	ok(p && q, "alloc_pages_node accepts nid 0 and -1");
	__free_pages(p, 2);
	__free_pages(q, 0);
	ok(alloc_pages_node(1, GFP_KERNEL, 0) == NULL, "alloc_pages_node(1) is NULL: one node");
	ok(alloc_pages(GFP_KERNEL | __GFP_NOWARN, MAX_ORDER) == NULL &&
	   __get_free_pages(GFP_KERNEL | __GFP_NOWARN, 40) == 0,
	   "orders >= MAX_ORDER give NULL/0");
	int local;
	ok(virt_to_page(&local) == NULL && virt_to_page(NULL) == NULL,
	   "virt_to_page of an address that is not ours is NULL");
	ok(page_address(NULL) == NULL, "page_address(NULL) is NULL");
	free_pages(0, 3);
	ok(1, "free_pages(0) is a no-op");
	unsigned long h = __get_free_pages(GFP_KERNEL | __GFP_HIGHMEM | __GFP_REPEAT, 1);
	ok(h != 0, "__GFP_HIGHMEM and __GFP_REPEAT are accepted");
	free_pages(h, 1);
}

static void test_buddyinfo(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	slabmalloc_buddyinfo(f);
	fclose(f);
	diag("buddyinfo:\n%s", buf);
	int lines = 0;
	bool layout = true, counts = true;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char name[16];
		int node, n;
		unsigned long v[MAX_ORDER];
		if (sscanf(line, "Node %d, zone %15s%n", &node, name, &n) != 2 || node != 0) {
			layout = false;
			continue;
		}
		/* "Node 0, zone %8s " then "%6lu " per order, as in the kernel. */
		layout &= strlen(line) == 13 + 8 + 1 + 7 * MAX_ORDER;
		layout &= line[13 + 8] == ' ';
		const char *s = line + 22;
		for (int o = 0; o < MAX_ORDER; o++, s += 7) {
			layout &= s[6] == ' ';
			if (sscanf(s, "%6lu", &v[o]) != 1)
				layout = false;
		}
		int zi = strcmp(name, "DMA") == 0 ? ZONE_DMA :
		         strcmp(name, "Normal") == 0 ? ZONE_NORMAL : -1;
		if (zi < 0) {
			layout = false;
			continue;
		}
		for (int o = 0; o < MAX_ORDER; o++)
			counts &= v[o] == sm_zones[zi].zone_free_area[o].fa_nr_free;
		lines++;
	}
	free(buf);
	int zones = (sm_zones[ZONE_DMA].zone_span != 0) + (sm_zones[ZONE_NORMAL].zone_span != 0);
	ok(lines == zones, "buddyinfo has one line per zone (%d)", lines);
	ok(layout, "buddyinfo lines have the /proc/buddyinfo layout");
	ok(counts, "buddyinfo counts match the free areas");
}

int main(void)
{
	test_get_order();
	test_exact();
	test_zeroed();
	test_hot_cold();
	test_misc();
	test_buddyinfo();
	ok(buddy_validate(), "valid at the end");
	return done_testing();
}
