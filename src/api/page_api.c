/* SPDX-License-Identifier: MIT */
/*
 * page_api.c — the exported kernel-style page API of <slabmalloc/mm.h>:
 * alloc_pages, alloc_pages_node, __get_free_pages, get_zeroed_page,
 * free_pages, __free_pages, free_hot_page/free_cold_page, page_address,
 * virt_to_page, alloc_pages_exact/free_pages_exact, and buddyinfo.
 *
 * API floor (internal.h): entry points check their arguments, make sure the
 * allocator is initialised (on their slow side: the fast paths pop from or
 * push onto the calling thread's page list, page_alloc.h, which is empty
 * until the thread has attached after initialisation), apply fault
 * injection and the GFP retry policy (gfp.c), and report bad input in one
 * line. The page allocator itself is buddy.c.
 */
#include "internal.h"
#include "page_alloc.h"

/* A request that no retry can satisfy. */
static SM_COLD void alloc_impossible(gfp_t gfp, size_t size, const char *what)
{
	if (gfp & __GFP_NOFAIL)
		sm_fatal("%s(): __GFP_NOFAIL request of %zu bytes can never be met%s",
		         what, size, (gfp & __GFP_DMA) ? " (no DMA zone)" : "");
	if (!(gfp & __GFP_NOWARN))
		sm_warn("%s(): request of %zu bytes can never be met, gfp 0x%x", what,
		        size, gfp);
}

static inline bool zone_usable(gfp_t gfp)
{
	return sm_zones[(gfp & __GFP_DMA) ? ZONE_DMA : ZONE_NORMAL].zone_span != 0;
}

static struct page *alloc_pages_common(gfp_t gfp, unsigned int order, const char *what)
{
	sm_ensure_init();
	if (unlikely(order >= SM_MAX_ORDER || !zone_usable(gfp))) {
		alloc_impossible(gfp, order < 64 ? SM_PAGE_SIZE << order : SIZE_MAX, what);
		return NULL;
	}
	if (unlikely(sm_fault_active) && should_fail_alloc_page(order, gfp))
		return NULL;
	unsigned int attempt = 0;
	for (;;) {
		struct page *pg = buddy_alloc(gfp, order);
		if (likely(pg))
			return pg;
		if (!gfp_retry(gfp, &attempt, what, SM_PAGE_SIZE << order))
			return NULL;
	}
}

/**
 * slabmalloc_alloc_pages - allocate 2^@order contiguous pages.
 * @gfp_mask: GFP flags (__GFP_DMA, __GFP_ZERO, __GFP_COLD, GFP_ATOMIC, ...)
 * @order: 0..MAX_ORDER-1
 *
 * CONTEXT: any thread; blocks only if @gfp_mask allows it.
 * RETURNS: the descriptor of the first page, or NULL.
 */
SM_EXPORT struct page *slabmalloc_alloc_pages(gfp_t gfp_mask, unsigned int order)
{
	struct page *pg = pcp_alloc_fast(gfp_mask, order);
	if (likely(pg))
		return pg;
	return alloc_pages_common(gfp_mask, order, "alloc_pages");
}

/**
 * slabmalloc_alloc_pages_node - alloc_pages on NUMA node @nid.
 * @nid: 0 or -1 (there is one node); any other value fails
 *
 * RETURNS: as alloc_pages(), NULL for an unknown node.
 */
SM_EXPORT struct page *slabmalloc_alloc_pages_node(int nid, gfp_t gfp_mask,
                                                   unsigned int order)
{
	if (nid != 0 && nid != -1)
		return NULL;
	return alloc_pages_common(gfp_mask, order, "alloc_pages_node");
}

/**
 * slabmalloc___get_free_pages - allocate 2^@order pages, return the address.
 *
 * CONTEXT: as alloc_pages().
 * RETURNS: the address of the block, or 0.
 */
SM_EXPORT unsigned long slabmalloc___get_free_pages(gfp_t gfp_mask, unsigned int order)
{
	struct page *pg = pcp_alloc_fast(gfp_mask, order);
	if (likely(pg))
		return (unsigned long)sm_page_to_virt(pg);
	pg = alloc_pages_common(gfp_mask, order, "__get_free_pages");
	return pg ? (unsigned long)sm_page_to_virt(pg) : 0;
}

/**
 * slabmalloc_get_zeroed_page - one zeroed page.
 *
 * Zero even when the page was freed dirty; clean pages skip the memset.
 * RETURNS: its address, or 0.
 */
SM_EXPORT unsigned long slabmalloc_get_zeroed_page(gfp_t gfp_mask)
{
	struct page *pg = alloc_pages_common(gfp_mask | __GFP_ZERO, 0, "get_zeroed_page");
	return pg ? (unsigned long)sm_page_to_virt(pg) : 0;
}

/* Descriptor from a struct page * argument, checked. */
static struct page *checked_page(const struct page *page, const char *caller)
{
	sm_ensure_init();
	if (unlikely(!page || !page_zone_checked(page)))
		sm_fatal("%s(): invalid page %p", caller, (const void *)page);
	return (struct page *)page;
}

/* The public free functions refuse blocks that belong to an upper layer. */
static void check_not_upper(struct page *pg, const char *caller)
{
	if (unlikely(pg->slab_cache || (pg->flags & (PG_slab | PG_large))))
		sm_fatal("%s(): invalid address %p (not a page block: kmalloc or slab memory)",
		         caller, sm_page_to_virt(pg));
}

/* free_pages() but its fast path. */
static SM_NOINLINE void free_pages_slow(unsigned long addr, unsigned int order)
{
	sm_ensure_init();
	struct page *pg = free_addr_to_page((const void *)addr, "free_pages");
	check_not_upper(pg, "free_pages");
	buddy_free_common(pg, order, "free_pages", false);
}

/**
 * slabmalloc_free_pages - free a block from __get_free_pages().
 * @addr: its address (0 is ignored)
 * @order: the order it was allocated with
 *
 * CONTEXT: any thread. Bad input stops the program with one line.
 */
SM_EXPORT void slabmalloc_free_pages(unsigned long addr, unsigned int order)
{
	if (!addr)
		return;
	const struct zone *z = &sm_zones[ZONE_NORMAL];
	uintptr_t off = addr - z->zone_base;
	if (likely(off < SM_READ_ONCE(z->zone_limit)) && likely(!(addr & (SM_PAGE_SIZE - 1))) &&
	    likely(pcp_free_fast(&z->zone_mem_map[off >> SM_PAGE_SHIFT], order)))
		return;
	free_pages_slow(addr, order);
}

/* __free_pages() but its fast path. */
static SM_NOINLINE void free_pages_desc_slow(struct page *page, unsigned int order)
{
	struct page *pg = checked_page(page, "__free_pages");
	check_not_upper(pg, "__free_pages");
	buddy_free_common(pg, order, "__free_pages", false);
}

/**
 * slabmalloc___free_pages - free a block from alloc_pages().
 * @page: its descriptor
 * @order: the order it was allocated with
 *
 * CONTEXT: any thread. Bad input stops the program with one line.
 */
SM_EXPORT void slabmalloc___free_pages(struct page *page, unsigned int order)
{
	const struct zone *z = &sm_zones[ZONE_NORMAL];
	uintptr_t off = (uintptr_t)page - (uintptr_t)z->zone_mem_map;
	if (likely(off < (SM_READ_ONCE(z->zone_limit) >> SM_PAGE_SHIFT) * sizeof(struct page)) &&
	    likely(off % sizeof(struct page) == 0) && likely(pcp_free_fast(page, order)))
		return;
	free_pages_desc_slow(page, order);
}

/**
 * slabmalloc_free_hot_page - free an order-0 page to the hot end of the
 * calling thread's page list (the next allocation gets it back).
 */
SM_EXPORT void slabmalloc_free_hot_page(struct page *page)
{
	struct page *pg = checked_page(page, "free_hot_page");
	check_not_upper(pg, "free_hot_page");
	buddy_free_common(pg, 0, "free_hot_page", false);
}

/**
 * slabmalloc_free_cold_page - free an order-0 page to the cold end of the
 * calling thread's page list (handed out last, or by __GFP_COLD).
 */
SM_EXPORT void slabmalloc_free_cold_page(struct page *page)
{
	struct page *pg = checked_page(page, "free_cold_page");
	check_not_upper(pg, "free_cold_page");
	buddy_free_common(pg, 0, "free_cold_page", true);
}

/**
 * slabmalloc_page_address - the address a page descriptor describes.
 * @page: a descriptor from alloc_pages()/virt_to_page(), or NULL
 *
 * RETURNS: the address, NULL for NULL. A pointer that is not one of our
 * descriptors stops the program with one line.
 */
SM_EXPORT void *slabmalloc_page_address(const struct page *page)
{
	if (!page)
		return NULL;
	return sm_page_to_virt(checked_page(page, "page_address"));
}

/**
 * slabmalloc_virt_to_page - the descriptor of the page holding @addr.
 *
 * RETURNS: the descriptor, or NULL when @addr is not in our page heap.
 */
SM_EXPORT struct page *slabmalloc_virt_to_page(const void *addr)
{
	sm_ensure_init();
	return sm_virt_to_page(addr);
}

/**
 * slabmalloc_alloc_pages_exact - whole pages for @size bytes, trimmed.
 * @size: bytes (at most 4 MiB)
 * @gfp_mask: GFP flags
 *
 * Allocates the enclosing power-of-two block and gives the pages beyond
 * PAGE_ALIGN(@size) back at once, so less than one page is wasted.
 * RETURNS: a page-aligned address, or NULL (also for size 0).
 */
SM_EXPORT void *slabmalloc_alloc_pages_exact(size_t size, gfp_t gfp_mask)
{
	sm_ensure_init();
	if (size == 0)
		return NULL;
	if (unlikely(size > SM_SECTION_SIZE || !zone_usable(gfp_mask))) {
		alloc_impossible(gfp_mask, size, "alloc_pages_exact");
		return NULL;
	}
	if (unlikely(sm_fault_active) &&
	    should_fail_alloc_page((unsigned int)get_order(size), gfp_mask))
		return NULL;
	unsigned int attempt = 0;
	for (;;) {
		void *p = buddy_alloc_exact(size, gfp_mask);
		if (likely(p))
			return p;
		if (!gfp_retry(gfp_mask, &attempt, "alloc_pages_exact", size))
			return NULL;
	}
}

/**
 * slabmalloc_free_pages_exact - free memory from alloc_pages_exact().
 * @virt: its address (NULL is ignored)
 * @size: the size it was allocated with
 *
 * CONTEXT: any thread. Bad input (wrong size included) stops the program.
 */
SM_EXPORT void slabmalloc_free_pages_exact(void *virt, size_t size)
{
	if (!virt)
		return;
	sm_ensure_init();
	struct page *pg = free_addr_to_page(virt, "free_pages_exact");
	check_not_upper(pg, "free_pages_exact");
	buddy_free_exact(virt, size, "free_pages_exact");
}

/**
 * slabmalloc_buddyinfo - print the buddy allocator's free blocks per order.
 * @out: where to print (a FILE the caller owns)
 *
 * CONTEXT: may block.
 */
SM_EXPORT void slabmalloc_buddyinfo(FILE *out)
{
	sm_ensure_init();
	buddy_print_buddyinfo(out);
}
