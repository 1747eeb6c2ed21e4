/* SPDX-License-Identifier: MIT */
/*
 * <slabmalloc/mm.h> — the page allocator (a buddy system of 4 KiB pages).
 *
 * Blocks are 2^order pages, order 0..MAX_ORDER-1 (4 KiB .. 4 MiB), each
 * naturally aligned to its size. A struct page describes every page; it is
 * kept out of band, so page_address()/virt_to_page() are O(1) and never touch
 * the memory they describe.
 *
 * Kernel names are static inline wrappers over the exported slabmalloc_*
 * symbols, so a program that has its own alloc_pages() keeps it. Define
 * SLABMALLOC_NO_KERNEL_NAMES before including to get only the prefixed names.
 */
#ifndef SLABMALLOC_MM_H
#define SLABMALLOC_MM_H

#include <stddef.h>
#include <slabmalloc/gfp.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PAGE_SHIFT 12
#define PAGE_SIZE  (1UL << PAGE_SHIFT)
#define PAGE_MASK  (~(PAGE_SIZE - 1))
#define MAX_ORDER  11                    /* orders 0..10: up to 4 MiB */
#define PAGE_ALIGN(x) (((unsigned long)(x) + PAGE_SIZE - 1) & PAGE_MASK)

struct page;                             /* opaque: see page_address() */

struct page *slabmalloc_alloc_pages(gfp_t gfp_mask, unsigned int order);
struct page *slabmalloc_alloc_pages_node(int nid, gfp_t gfp_mask, unsigned int order);
unsigned long slabmalloc___get_free_pages(gfp_t gfp_mask, unsigned int order);
unsigned long slabmalloc_get_zeroed_page(gfp_t gfp_mask);
void slabmalloc_free_pages(unsigned long addr, unsigned int order);
void slabmalloc___free_pages(struct page *page, unsigned int order);
void slabmalloc_free_hot_page(struct page *page);
void slabmalloc_free_cold_page(struct page *page);
void *slabmalloc_page_address(const struct page *page);
struct page *slabmalloc_virt_to_page(const void *addr);
void *slabmalloc_alloc_pages_exact(size_t size, gfp_t gfp_mask);
void slabmalloc_free_pages_exact(void *virt, size_t size);

/* get_order - the order of the smallest block that holds @size bytes.
 * RETURNS: ceil(log2(size / PAGE_SIZE)), at least 0 (size 0 gives 0). */
static inline int get_order(unsigned long size)
{
	if (size <= PAGE_SIZE)
		return 0;
	return (int)(sizeof(unsigned long) * 8) -
	       __builtin_clzl((size - 1) >> PAGE_SHIFT);
}

#ifndef SLABMALLOC_NO_KERNEL_NAMES
static inline struct page *alloc_pages(gfp_t gfp_mask, unsigned int order)
{ return slabmalloc_alloc_pages(gfp_mask, order); }
static inline struct page *alloc_pages_node(int nid, gfp_t gfp_mask, unsigned int order)
{ return slabmalloc_alloc_pages_node(nid, gfp_mask, order); }
static inline struct page *alloc_page(gfp_t gfp_mask)
{ return slabmalloc_alloc_pages(gfp_mask, 0); }
static inline unsigned long __get_free_pages(gfp_t gfp_mask, unsigned int order)
{ return slabmalloc___get_free_pages(gfp_mask, order); }
static inline unsigned long __get_free_page(gfp_t gfp_mask)
{ return slabmalloc___get_free_pages(gfp_mask, 0); }
static inline unsigned long get_zeroed_page(gfp_t gfp_mask)
{ return slabmalloc_get_zeroed_page(gfp_mask); }
static inline void free_pages(unsigned long addr, unsigned int order)
{ slabmalloc_free_pages(addr, order); }
static inline void free_page(unsigned long addr)
{ slabmalloc_free_pages(addr, 0); }
static inline void __free_pages(struct page *page, unsigned int order)
{ slabmalloc___free_pages(page, order); }
static inline void __free_page(struct page *page)
{ slabmalloc___free_pages(page, 0); }
static inline void free_hot_page(struct page *page)
{ slabmalloc_free_hot_page(page); }
static inline void free_cold_page(struct page *page)
{ slabmalloc_free_cold_page(page); }
static inline void *page_address(const struct page *page)
{ return slabmalloc_page_address(page); }
static inline struct page *virt_to_page(const void *addr)
{ return slabmalloc_virt_to_page(addr); }
static inline void *alloc_pages_exact(size_t size, gfp_t gfp_mask)
{ return slabmalloc_alloc_pages_exact(size, gfp_mask); }
static inline void free_pages_exact(void *virt, size_t size)
{ slabmalloc_free_pages_exact(virt, size); }
#endif

#ifdef __cplusplus
}
#endif
#endif /* SLABMALLOC_MM_H */
