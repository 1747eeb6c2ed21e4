/* SPDX-License-Identifier: MIT */
/*
 * bootmem.c — boot-time memory: the allocator of last resort that works
 * before anything else (the kernel's bootmem/memblock).
 *
 * Theory.
 *
 *  1. Purpose. Other libraries' constructors, dlsym() and TLS set-up may ask
 *     for memory before slabmalloc has initialised; the allocator's own
 *     layers need small metadata (cache descriptors, tables) while they
 *     bootstrap. Bootmem serves both without calling malloc and without
 *     depending on any other layer: only os_map()/os_reserve_low() and a
 *     mutex with a static initialiser.
 *
 *  2. Regions. The first region is a static 256 KiB array in .bss, so the
 *     very first requests need no system call at all. When no region has
 *     room, a new one is mapped (at least 1 MiB; below 4 GiB for the *_low
 *     requests, via os_reserve_low) and pushed on the region list. Each
 *     region is bump-allocated (r_next), in units of a cache line; r_hwm
 *     remembers the highest bump ever, so memory above it is known to be
 *     untouched zeros and needs no memset.
 *
 *  3. Freeing. free_bootmem(addr, size) gives back the whole pages inside
 *     [addr, addr + size), like the kernel's (PFN_UP(addr)..PFN_DOWN(end));
 *     the unallocated rest of the page holding the bump pointer counts as
 *     inside, so a freed page-sized allocation at the top is always a whole
 *     page. Each region has a bitmap with one bit per page: set = freed and
 *     reusable. Freed pages at the top of a region lower the bump pointer
 *     instead. Requests of a page or more (or page aligned) look for a run
 *     of freed pages first; smaller ones bump first and fall back to freed
 *     pages. Reused memory is zeroed. Freeing a page twice, or a range that
 *     bootmem never handed out, stops the program with one line.
 *
 *  4. Properties. Zeroed, SM_CACHELINE aligned at least (alignment is a
 *     power of two; *_pages: PAGE_SIZE), *_low entirely below 4 GiB (the
 *     static region counts as low only when the binary was loaded low).
 *
 *  Locks: bm_lock (rank 8, a leaf: nothing is taken under it; os_map may
 *  be called under it). bootmem_owns() is lock-free: regions are published
 *  with a release store and their bounds never change.
 *  Fork: bootmem_prefork() takes bm_lock after every other allocator lock
 *  (the vmalloc layer's fork handlers call it, in lock order); the child
 *  re-initialises it.
 *
 * Floor 1 (src/layers.txt): calls the base floor only (os.c, report.c).
 */
#include "page_alloc.h"

#include <errno.h>
#include <string.h>

#define BM_PAGE          SM_PAGE_SIZE
#define BM_STATIC_SIZE   ((size_t)256 << 10)
#define BM_GROW_MIN      ((size_t)1 << 20)
#define BM_4GIB          ((uintptr_t)1 << 32)

struct bm_region {
	uintptr_t         r_base;     /* first usable byte, page aligned */
	size_t            r_size;     /* usable bytes, whole pages */
	size_t            r_next;     /* bump offset: [0, r_next) handed out */
	size_t            r_hwm;      /* highest r_next ever: above is untouched */
	size_t            r_freed;    /* pages with their bit set in r_map */
	bool              r_low;      /* ends at or below 4 GiB */
	struct bm_region *r_link;     /* next region (older) */
	uint64_t         *r_map;      /* one bit per page: 1 = freed, reusable */
};

static char bm_static_area[BM_STATIC_SIZE] __attribute__((aligned(4096)));
static uint64_t bm_static_map[BM_STATIC_SIZE / BM_PAGE / 64];
static struct bm_region bm_static;
static struct bm_region *bm_regions;   /* newest first; NULL until first use */
static pthread_mutex_t bm_lock = PTHREAD_MUTEX_INITIALIZER;

static inline bool bm_bit(const struct bm_region *r, size_t i)
{
	return (r->r_map[i / 64] >> (i % 64)) & 1;
}

static inline void bm_set(struct bm_region *r, size_t i, bool v)
{
	if (v)
		r->r_map[i / 64] |= (uint64_t)1 << (i % 64);
	else
		r->r_map[i / 64] &= ~((uint64_t)1 << (i % 64));
}

static void bm_publish(struct bm_region *r)
{
	r->r_link = bm_regions;
	__atomic_store_n(&bm_regions, r, __ATOMIC_RELEASE);
}

/* The static region goes on the list on first use (a constant initialiser
 * cannot compute "is it below 4 GiB"). Called with bm_lock held. */
static void bm_setup(void)
{
	if (bm_regions)
		return;
	bm_static.r_base = (uintptr_t)bm_static_area;
	bm_static.r_size = BM_STATIC_SIZE;
	bm_static.r_low = bm_static.r_base + BM_STATIC_SIZE <= BM_4GIB;
	bm_static.r_map = bm_static_map;
	bm_publish(&bm_static);
}

/* Zero [p, p + size) where it may have been used before. */
static void bm_zero(struct bm_region *r, uintptr_t p, size_t size)
{
	size_t off = p - r->r_base;
	if (off < r->r_hwm) {
		size_t n = r->r_hwm - off;
		memset((void *)p, 0, n < size ? n : size);
	}
}

static void *bm_bump(struct bm_region *r, size_t size, size_t align)
{
	uintptr_t start = SM_ALIGN_UP(r->r_base + r->r_next, align);
	if (start < r->r_base + r->r_next || start - r->r_base > r->r_size ||
	    size > r->r_size - (start - r->r_base))
		return NULL;
	bm_zero(r, start, size);
	r->r_next = start - r->r_base + size;
	if (r->r_next > r->r_hwm)
		r->r_hwm = r->r_next;
	return (void *)start;
}

/* A run of freed pages for @size bytes aligned to @align. */
static void *bm_take_freed(struct bm_region *r, size_t size, size_t align)
{
	size_t npages = (size + BM_PAGE - 1) / BM_PAGE;
	size_t limit = r->r_next / BM_PAGE;   /* freed pages are all below */
	if (r->r_freed < npages)
		return NULL;
	for (size_t i = 0; i + npages <= limit; i++) {
		uintptr_t p = r->r_base + i * BM_PAGE;
		if (!bm_bit(r, i) || (p & (align - 1)))
			continue;
		size_t k = 1;
		while (k < npages && bm_bit(r, i + k))
			k++;
		if (k < npages) {
			i += k;
			continue;
		}
		for (k = 0; k < npages; k++)
			bm_set(r, i + k, false);
		r->r_freed -= npages;
		memset((void *)p, 0, size);
		return (void *)p;
	}
	return NULL;
}

/* Map a new region able to hold @size bytes at @align. */
static struct bm_region *bm_grow(size_t size, size_t align, bool low)
{
	size_t usable = size + (align > BM_PAGE ? align : 0);
	if (usable < size || usable > ((size_t)1 << 46))
		return NULL;
	usable = SM_ALIGN_UP(usable, BM_PAGE);
	if (usable < BM_GROW_MIN)
		usable = BM_GROW_MIN;
	size_t words = (usable / BM_PAGE + 63) / 64;
	size_t head = SM_ALIGN_UP(sizeof(struct bm_region) + words * 8, BM_PAGE);
	size_t len = head + usable;
	char *m = low ? os_reserve_low(len) : os_map(len);
	if (!m)
		return NULL;
	struct bm_region *r = (struct bm_region *)m;
	r->r_map = (uint64_t *)(m + sizeof(struct bm_region));
	r->r_base = (uintptr_t)m + head;
	r->r_size = usable;
	r->r_low = r->r_base + usable <= BM_4GIB;
	bm_publish(r);
	return r;
}

void *bootmem_alloc(size_t size, size_t align, bool low)
{
	void *p = NULL;
	struct bm_region *r;

	if (size == 0 || (align & (align - 1)))
		goto fail;
	if (align < SM_CACHELINE)
		align = SM_CACHELINE;
	if (size > SIZE_MAX - SM_CACHELINE)
		goto fail;
	size = SM_ALIGN_UP(size, SM_CACHELINE);
	bool pagey = size >= BM_PAGE || align >= BM_PAGE;

	sm_mutex_lock(&bm_lock);
	bm_setup();
	for (r = bm_regions; pagey && !p && r; r = r->r_link)
		if (r->r_low || !low)
			p = bm_take_freed(r, size, align);
	for (r = bm_regions; !p && r; r = r->r_link)
		if (r->r_low || !low)
			p = bm_bump(r, size, align);
	for (r = bm_regions; !pagey && !p && r; r = r->r_link)
		if (r->r_low || !low)
			p = bm_take_freed(r, size, align);
	if (!p && (r = bm_grow(size, align, low)) != NULL)
		p = bm_bump(r, size, align);
	sm_mutex_unlock(&bm_lock);
	if (p)
		return p;
fail:
	errno = ENOMEM;
	return NULL;
}

static struct bm_region *bm_find(uintptr_t a)
{
	for (struct bm_region *r = __atomic_load_n(&bm_regions, __ATOMIC_ACQUIRE);
	     r; r = r->r_link)
		if (a - r->r_base < r->r_size)
			return r;
	return NULL;
}

bool bootmem_owns(const void *addr)
{
	return bm_find((uintptr_t)addr) != NULL;
}

static void bm_free(uintptr_t addr, size_t size, const char *caller)
{
	sm_mutex_lock(&bm_lock);
	struct bm_region *r = bm_find(addr);
	/* The range must lie in what was handed out; the unallocated tail of
	 * the page holding the bump pointer counts as handed out. */
	uintptr_t top = r ? r->r_base + SM_ALIGN_UP(r->r_next, BM_PAGE) : 0;
	if (!r || addr >= top || size > top - addr) {
		/* Between the bump pointer and its high-water mark lies memory
		 * that was handed out and already given back. */
		bool freed = r && addr >= top && addr < r->r_base + r->r_hwm;
		sm_mutex_unlock(&bm_lock);
		if (freed)
			sm_fatal("%s(): double free of %p", caller, (void *)addr);
		sm_fatal("%s(): invalid range %p (+%zu)", caller, (void *)addr, size);
	}
	uintptr_t end = addr + size;
	if (end >= r->r_base + r->r_next)
		end = top;
	size_t first = (SM_ALIGN_UP(addr, BM_PAGE) - r->r_base) / BM_PAGE;
	size_t last = (SM_ALIGN_DOWN(end, BM_PAGE) - r->r_base) / BM_PAGE;
	for (size_t i = first; i < last; i++) {
		if (bm_bit(r, i)) {
			sm_mutex_unlock(&bm_lock);
			sm_fatal("%s(): double free of %p", caller,
			         (void *)(r->r_base + i * BM_PAGE));
		}
	}
	for (size_t i = first; i < last; i++)
		bm_set(r, i, true);
	if (last > first)
		r->r_freed += last - first;
	/* Freed pages at the top give the bump pointer back. */
	while (r->r_next > 0) {
		size_t top_page = (r->r_next - 1) / BM_PAGE;
		if (!bm_bit(r, top_page))
			break;
		bm_set(r, top_page, false);
		r->r_freed--;
		r->r_next = top_page * BM_PAGE;
	}
	sm_mutex_unlock(&bm_lock);
}

void bootmem_free(void *addr, size_t size)
{
	if (size)
		bm_free((uintptr_t)addr, size, "bootmem_free");
}

void bootmem_stats(size_t *total, size_t *used)
{
	size_t t = 0, u = 0;
	sm_mutex_lock(&bm_lock);
	for (struct bm_region *r = bm_regions; r; r = r->r_link) {
		t += r->r_size;
		u += r->r_next - r->r_freed * BM_PAGE;
	}
	sm_mutex_unlock(&bm_lock);
	if (total)
		*total = t;
	if (used)
		*used = u;
}

void bootmem_prefork(void)
{
	sm_mutex_lock(&bm_lock);
}

void bootmem_postfork_parent(void)
{
	sm_mutex_unlock(&bm_lock);
}

void bootmem_postfork_child(void)
{
	pthread_mutex_init(&bm_lock, NULL);
}

/* ---- the public bootmem API (<slabmalloc/bootmem.h>) ---- */

/**
 * slabmalloc_alloc_bootmem - zeroed memory, usable before initialisation.
 * @size: bytes wanted
 *
 * CONTEXT: any, including before the allocator initialises; may block.
 * RETURNS: cache-line aligned zeroed memory, or NULL (size 0, no memory).
 */
SM_EXPORT void *slabmalloc_alloc_bootmem(unsigned long size)
{
	return size ? bootmem_alloc(size, SM_CACHELINE, false) : NULL;
}

/**
 * slabmalloc_alloc_bootmem_low - like alloc_bootmem, below 4 GiB.
 * @size: bytes wanted
 *
 * CONTEXT: any; may block.
 * RETURNS: zeroed memory ending at or below 4 GiB, or NULL.
 */
SM_EXPORT void *slabmalloc_alloc_bootmem_low(unsigned long size)
{
	return size ? bootmem_alloc(size, SM_CACHELINE, true) : NULL;
}

/**
 * slabmalloc_alloc_bootmem_pages - page-aligned boot memory.
 * @size: bytes wanted
 *
 * CONTEXT: any; may block.
 * RETURNS: zeroed, PAGE_SIZE aligned memory, or NULL.
 */
SM_EXPORT void *slabmalloc_alloc_bootmem_pages(unsigned long size)
{
	return size ? bootmem_alloc(size, SM_PAGE_SIZE, false) : NULL;
}

/**
 * slabmalloc_alloc_bootmem_low_pages - page-aligned boot memory below 4 GiB.
 * @size: bytes wanted
 *
 * CONTEXT: any; may block.
 * RETURNS: zeroed, PAGE_SIZE aligned memory ending at or below 4 GiB, or NULL.
 */
SM_EXPORT void *slabmalloc_alloc_bootmem_low_pages(unsigned long size)
{
	return size ? bootmem_alloc(size, SM_PAGE_SIZE, true) : NULL;
}

/**
 * slabmalloc_free_bootmem - give back the whole pages of a boot range.
 * @addr: start of the range (from an alloc_bootmem* call)
 * @size: its length in bytes
 *
 * Pages only partly inside the range stay allocated (as in the kernel).
 * CONTEXT: any; may block. A range bootmem did not hand out, or a page
 * freed twice, stops the program with a one-line message.
 */
SM_EXPORT void slabmalloc_free_bootmem(unsigned long addr, unsigned long size)
{
	if (size)
		bm_free((uintptr_t)addr, size, "free_bootmem");
}
