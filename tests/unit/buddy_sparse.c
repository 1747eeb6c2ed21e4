/* SPDX-License-Identifier: MIT */
/*
 * buddy_sparse.t — zones take address space section by section (buddy.c,
 * theory 1 and 2): nothing past the grown part is mapped, a growth whose
 * section or descriptors cannot be mapped (another mapping sits there)
 * fails the allocation cleanly, with NULL and errno ENOMEM, and leaves the
 * zone valid, and growth resumes once the range is free again.
 */
#include <slabmalloc.h>
#include "page_alloc.h"
#include "tap.h"
#include "no_bg_purge.h"

#include <errno.h>

#define SECTION_ORDER (MAX_ORDER - 1)
#define MAXBLK 4096

static unsigned long held[MAXBLK];
static size_t nheld;

/* Sections of @z's zone until NULL. RETURNS: errno of the NULL. */
static int fill(gfp_t zone_flag)
{
	for (;;) {
		errno = 0;
		unsigned long a = __get_free_pages(GFP_KERNEL | zone_flag | __GFP_NOWARN |
		                                   __GFP_NORETRY, SECTION_ORDER);
		if (!a || nheld == MAXBLK)
			return errno;
		held[nheld++] = a;
	}
}

static void release(void)
{
	while (nheld)
		free_pages(held[--nheld], SECTION_ORDER);
}

/* With @occupant mapped (a page of someone else's), @z cannot grow past
 * it: the fill ends in ENOMEM with the zone valid; then growth resumes. */
static void blocked_growth(struct zone *z, gfp_t zone_flag, char *occupant,
                           const char *what)
{
	size_t limit0 = z->zone_limit;
	int err = fill(zone_flag);
	size_t limit1 = z->zone_limit;
	ok(err == ENOMEM && limit1 <= (uintptr_t)occupant - z->zone_base + SM_SECTION_SIZE &&
	   buddy_validate(),
	   "%s: zone %s stops short of it with ENOMEM (%zu -> %zu MiB), valid", what,
	   z->zone_name, limit0 >> 20, limit1 >> 20);
	/* What is left in grown sections goes to kmalloc; then NULL, and the
	 * zone has not moved. */
	void *k[64];
	int nk = 0;
	while (nk < 64 && (k[nk] = kmalloc((size_t)1 << 20, GFP_KERNEL | zone_flag |
	                                   __GFP_NOWARN | __GFP_NORETRY)) != NULL)
		nk++;
	ok(nk < 64 && z->zone_limit == limit1 && buddy_validate(),
	   "%s: kmalloc of 1 MiB ends in NULL after %d, valid", what, nk);
	/* Pages one by one (no per-thread list on this path): ordinary
	 * requests stop at the emergency reserve, which GFP_ATOMIC may take. */
	static void *pg[8192];
	size_t np = 0;
	while (np < 8192 && (pg[np] = alloc_pages_exact(PAGE_SIZE, GFP_KERNEL | zone_flag |
	                                                __GFP_NOWARN | __GFP_NORETRY)) != NULL)
		np++;
	ok(np < 8192 && (z->zone_free_pages >= buddy_reserve_pages || limit1 == 0) &&
	   z->zone_limit == limit1,
	   "%s: single pages stop at the emergency reserve (%zu free, %lu kept)", what,
	   z->zone_free_pages, buddy_reserve_pages);
	void *at = alloc_pages_exact(PAGE_SIZE, GFP_ATOMIC | zone_flag | __GFP_NOWARN);
	ok(at != NULL || limit1 == 0, "%s: GFP_ATOMIC still gets a page from it", what);
	if (at)
		free_pages_exact(at, PAGE_SIZE);
	while (np)
		free_pages_exact(pg[--np], PAGE_SIZE);
	while (nk)
		kfree(k[--nk]);
	os_unmap(occupant, SM_PAGE_SIZE);
	unsigned long a = __get_free_pages(GFP_KERNEL | zone_flag, SECTION_ORDER);
	ok(a && z->zone_limit > limit1 && buddy_validate(),
	   "%s gone: zone %s grows again (%zu MiB)", what, z->zone_name, z->zone_limit >> 20);
	if (a)
		free_pages(a, SECTION_ORDER);
	release();
	ok(buddy_validate(), "valid after freeing everything");
}

int main(void)
{
	struct zone *n = &sm_zones[ZONE_NORMAL], *d = &sm_zones[ZONE_DMA];
	uintptr_t top = os_user_top();

	free(malloc(100));              /* the allocator is up */
	ok(n->zone_span && n->zone_base % n->zone_span == 0 && n->zone_base >= top / 8 &&
	   n->zone_base + n->zone_span <= top / 4,
	   "Normal: %zu GiB at %#lx, aligned to its span, in [top/8, top/4)",
	   n->zone_span >> 30, (unsigned long)n->zone_base);
	ok(!d->zone_span || d->zone_base + d->zone_span <= ((uintptr_t)4 << 30),
	   "DMA: %zu MiB at %#lx, below 4 GiB", d->zone_span >> 20, (unsigned long)d->zone_base);

	/* Only the grown part and its descriptors are mapped. */
	ok(n->zone_limit > 0 && os_is_mapped((void *)(n->zone_base + n->zone_limit - SM_PAGE_SIZE)) &&
	   !os_is_mapped((void *)(n->zone_base + n->zone_limit)) &&
	   !os_is_mapped((char *)n->zone_mem_map + n->zone_map_bytes) &&
	   n->zone_map_bytes <= 2 * (n->zone_limit >> SM_PAGE_SHIFT) * sizeof(struct page),
	   "Normal: %zu MiB mapped and %zu KiB of mem_map, nothing past them",
	   n->zone_limit >> 20, n->zone_map_bytes >> 10);
	ok(os_vm_bytes() < ((size_t)256 << 20), "VmSize %zu MiB, not the zones' spans",
	   os_vm_bytes() >> 20);

	/* A mapping in the way of the next section. */
	char *occ = os_map_fixed((void *)(n->zone_base + n->zone_limit), SM_PAGE_SIZE);
	ok(occ != NULL, "a page mapped where Normal's next section goes");
	if (occ)
		blocked_growth(n, 0, occ, "a page at the next section");

	/* A mapping in the way of the descriptors the next growths need. */
	occ = os_map_fixed((char *)n->zone_mem_map + n->zone_map_bytes, SM_PAGE_SIZE);
	ok(occ != NULL, "a page mapped where Normal's mem_map grows");
	if (occ) {
		size_t covered = (n->zone_map_bytes / sizeof(struct page)) << SM_PAGE_SHIFT;
		int err = fill(0);
		ok(err == ENOMEM && n->zone_limit <= covered && buddy_validate(),
		   "the zone stops at what its mapped mem_map covers (%zu of %zu MiB), "
		   "ENOMEM, valid", n->zone_limit >> 20, covered >> 20);
		os_unmap(occ, SM_PAGE_SIZE);
		unsigned long a = __get_free_pages(GFP_KERNEL, SECTION_ORDER);
		ok(a && n->zone_limit > covered && buddy_validate(),
		   "mem_map free again: the zone grows past it (%zu MiB)", n->zone_limit >> 20);
		if (a)
			free_pages(a, SECTION_ORDER);
		release();
	}

	if (d->zone_span) {
		occ = os_map_fixed((void *)(d->zone_base + d->zone_limit), SM_PAGE_SIZE);
		ok(occ != NULL, "a page mapped where DMA's next section goes");
		if (occ)
			blocked_growth(d, __GFP_DMA, occ, "a page at DMA's next section");
	}
	ok(buddy_validate(), "valid at the end");
	return done_testing();
}
