/* SPDX-License-Identifier: MIT */
/*
 * page_alloc.h — the page layer's contract with the layers above it:
 * struct page, zones, and the buddy allocator's internal entry points.
 *
 * Memory layout (the SPARSEMEM/vmemmap idea): each zone has a range of
 * address space chosen at init but not mapped, and a mem_map array with one
 * struct page per 4 KiB page of that range, also set aside unmapped. Zones
 * grow by whole MAX_ORDER blocks ("sections"), each mapped at its place
 * with its descriptors when the buddy allocator needs it, so the process
 * holds only the address space its heap uses. The descriptor of any
 * address is mem_map[(addr - base) >> PAGE_SHIFT], found in O(1) without
 * touching the memory it describes; an address outside every zone's grown
 * part is not ours.
 */
#ifndef SM_PAGE_ALLOC_H
#define SM_PAGE_ALLOC_H

#include "internal.h"

#pragma GCC visibility push(hidden)   /* see internal.h */

#define SM_PAGE_SHIFT     PAGE_SHIFT
#define SM_PAGE_SIZE      ((size_t)1 << SM_PAGE_SHIFT)
#define SM_MAX_ORDER      MAX_ORDER
#define SM_SECTION_ORDER  (SM_MAX_ORDER - 1)
#define SM_SECTION_SIZE   (SM_PAGE_SIZE << SM_SECTION_ORDER)   /* 4 MiB */
#define SM_PCP_MAX_ORDER  3     /* orders 0..3 have per-thread page lists */

struct kmem_cache;

/* Page flags (struct page.flags, 16 bits). */
enum {
	PG_buddy   = 1u << 0,   /* head of a free block in a free_area */
	PG_head    = 1u << 1,   /* head of an allocated block (order in .order) */
	PG_pcp     = 1u << 2,   /* head of a block held on a per-thread list */
	PG_slab    = 1u << 3,   /* page belongs to a slab (slab_cache set) */
	PG_large   = 1u << 4,   /* head of a kmalloc large allocation */
	PG_dirty   = 1u << 5,   /* free block whose memory may be resident */
	PG_exact   = 1u << 6,   /* first block of an alloc_pages_exact range */
	PG_lcached = 1u << 7,   /* PG_exact block held in a thread's large cache */
	PG_purge   = 1u << 8,   /* free block being madvised (on zone_purging) */
	PG_tmpl    = 1u << 9,   /* free section (PG_buddy, order MAX_ORDER-1)
	                         * whose other descriptors are a read-only view
	                         * of the template (buddy.c, theory 2) */
	PG_offline = 1u << 10,  /* head of a section given back to the OS
	                         * (unmapped; buddy.c, theory 10) */
};

/*
 * struct page — one per 4 KiB page, out of band. At most 64 bytes.
 * slab_cache, slab_base and slab_key are what kfree/free read on the fast
 * path: slab_cache is non-NULL exactly for pages that belong to a slab
 * (every page of it, head and tail), slab_base is the address of object 0,
 * slab_key names the thread-cache slot of a kmalloc slab's class.
 */
struct page {
	struct kmem_cache *slab_cache;   /* owning cache, or NULL */
	uintptr_t          slab_base;    /* slab pages: address of object 0 */
	uint16_t           flags;        /* PG_* */
	uint8_t            order;        /* block order (head pages) */
	uint8_t            zone;         /* zone index */
	int32_t            slab_key;     /* pages of kmalloc slabs: the slot key
	                                  * of the class (slab_internal.h); every
	                                  * other page: buddy_slab_key_none */
	union {
		struct {                 /* PG_buddy head: free block */
			struct page *next, *prev;    /* free_area list */
			struct page *dnext, *dprev;  /* zone dirty list, oldest first */
			uint64_t free_ns;            /* when it became dirty */
		} buddy;
		struct {                 /* PG_pcp head: on a per-thread list */
			struct page *next, *prev;
		} pcp;
		struct {                 /* PG_slab head page: the slab */
			struct page *next, *prev;    /* cache's partial/full/free list */
			uint32_t inuse;              /* objects out of this slab */
			uint32_t colour;             /* colour offset in bytes */
			uint32_t list;               /* which list it is on */
			uint32_t _pad;
			uint64_t bitmap;             /* free bitmap of slabs of <= 64
			                              * objects (kmem_cache.bitmap_off
			                              * == slab size) */
		} slab;
		struct {                 /* PG_large head: kmalloc large */
			size_t size;                 /* usable bytes (whole pages) */
			size_t npages;
		} large;
		struct {                 /* PG_exact head: alloc_pages_exact */
			size_t npages;
		} exact;
	};
};
_Static_assert(sizeof(struct page) == 64, "struct page is 64 bytes (sm_page_window)");
#define SM_PAGE_DESC_SHIFT 6    /* log2(sizeof(struct page)) */

/* slab_base of a page that is no longer a slab's: far outside every zone and
 * above every user address, so that no address (NULL included) is an object
 * start of it (see sm_page_window). */
#define SM_SLAB_BASE_NONE ((uintptr_t)1 << 63)

enum { ZONE_DMA = 0, ZONE_NORMAL = 1, SM_NR_ZONES = 2 };

struct free_area {
	struct page *fa_head;            /* doubly linked via page->buddy: dirty
	                                  * blocks at the head, clean ones at
	                                  * the tail */
	struct page *fa_tail;
	unsigned long fa_nr_free;        /* blocks on this list */
};

/*
 * struct zone — the first three fields are read without the lock on the
 * free fast path (zone_limit only grows, and a pointer we handed out is
 * always below it).
 */
/* Epochs of one decay period in the smooth decay (buddy.c, theory 5). */
#define BUDDY_DECAY_STEPS 16

struct zone {
	uintptr_t          zone_base;    /* start of the zone's range */
	size_t             zone_limit;   /* bytes mapped and handed to the buddy */
	struct page       *zone_mem_map; /* descriptor of zone_base */
	size_t             zone_span;    /* bytes the zone may grow to (0: none) */
	size_t             zone_map_bytes; /* bytes of zone_mem_map mapped */
	pthread_mutex_t    zone_lock;
	const char        *zone_name;    /* "DMA", "Normal" */
	struct free_area   zone_free_area[SM_MAX_ORDER];
	struct page       *zone_dirty_head, *zone_dirty_tail;
	size_t             zone_free_pages;   /* pages in free blocks */
	size_t             zone_dirty_pages;  /* free pages possibly resident */
	size_t             zone_purged_bytes; /* total returned to the OS */
	struct page       *zone_purging;      /* PG_purge blocks (lock dropped) */
	size_t             zone_purging_pages;/* pages on zone_purging */
	unsigned long      zone_purge_seq;    /* purge batches given back so far */
	uint64_t           zone_next_decay_ns;/* rate limit of decay purges */
	bool               zone_kick;         /* dirty list became non-empty */
	uint64_t           zone_epoch_ns;     /* start of the decay epoch */
	size_t             zone_epoch_dirty;  /* dirty pages at its start */
	size_t             zone_backlog[BUDDY_DECAY_STEPS]; /* pages dirtied per epoch, newest first */
	struct page       *zone_offline;      /* offline sections, by address */
	size_t             zone_offline_pages;/* pages in them */
	size_t             zone_lost_pages;   /* pages of offline sections whose
	                                       * address another mapping took */
};

extern struct zone sm_zones[SM_NR_ZONES];

/* Bytes of @z's grown part given back to the system: its offline and lost
 * sections (buddy.c, theory 10). Read without the lock: a snapshot. */
SM_INLINE size_t zone_offline_bytes(const struct zone *z)
{
	return (SM_READ_ONCE(z->zone_offline_pages) + SM_READ_ONCE(z->zone_lost_pages))
	       << SM_PAGE_SHIFT;
}

/* Bytes of @z's heap mapped now: the grown part less its offline sections.
 * A snapshot, as zone_offline_bytes. */
SM_INLINE size_t zone_heap_bytes(const struct zone *z)
{
	size_t off = zone_offline_bytes(z), lim = SM_READ_ONCE(z->zone_limit);
	return lim > off ? lim - off : 0;
}

/* Descriptor of @addr, or NULL if the address is not in our heap. */
SM_INLINE struct page *sm_virt_to_page(const void *addr)
{
	uintptr_t a = (uintptr_t)addr;
	struct zone *z = &sm_zones[ZONE_NORMAL];
	uintptr_t off = a - z->zone_base;
	if (likely(off < SM_READ_ONCE(z->zone_limit)))
		return &z->zone_mem_map[off >> SM_PAGE_SHIFT];
	z = &sm_zones[ZONE_DMA];
	off = a - z->zone_base;
	if (off < SM_READ_ONCE(z->zone_limit))
		return &z->zone_mem_map[off >> SM_PAGE_SHIFT];
	return NULL;
}

/*
 * sm_page_window - the free fast paths' descriptor lookup: a shift, an AND
 * and an add, no compare (buddy.c, theory 2).
 *
 * ZONE_NORMAL is aligned to its span, and the descriptors of a prefix of it
 * whose size is a power of two (the window, at least the grown part) are all
 * initialised. For an address in the grown part the result is its
 * descriptor; for any other address (NULL, the stack, another zone, glibc's
 * heap) it is some initialised descriptor of the window, an alias. So the
 * caller may read the descriptor's slab_key and slab_base but must prove
 * @addr is an object start of that page (slab_obj_index: with slab_base in
 * the zone, or SM_SLAB_BASE_NONE, an address outside the page's slab never
 * passes) before it writes anything, and its slow path must check that
 * @addr is in the grown part of ZONE_NORMAL (kfree_page). Before the slab
 * layer's init the window is one descriptor, sm_page_none, whose slab_key
 * names the always-full slot.
 */
extern struct page *sm_window_map;
extern uintptr_t sm_window_mask;         /* (window pages - 1) << 6 */
extern const struct page sm_page_none;

SM_INLINE struct page *sm_page_window(const void *addr)
{
	/* The mask first: a mask is only published after the map it needs.
	 * Plain reads, so that each folds into its instruction; the compiler
	 * barrier keeps their order (x86-64 and the like keep loads in order;
	 * elsewhere the mask is read with acquire). */
#if defined(__x86_64__) || defined(__i386__)
	uintptr_t off = ((uintptr_t)addr >> (SM_PAGE_SHIFT - SM_PAGE_DESC_SHIFT)) & sm_window_mask;
	__asm__ volatile("" ::: "memory");
#else
	uintptr_t off = ((uintptr_t)addr >> (SM_PAGE_SHIFT - SM_PAGE_DESC_SHIFT)) &
	                __atomic_load_n(&sm_window_mask, __ATOMIC_ACQUIRE);
#endif
	return (struct page *)((char *)sm_window_map + off);
}

SM_INLINE void *sm_page_to_virt(const struct page *pg)
{
	const struct zone *z = &sm_zones[pg->zone];
	return (void *)(z->zone_base +
	                ((uintptr_t)(pg - z->zone_mem_map) << SM_PAGE_SHIFT));
}

/* ---- os.c: read-only views for the descriptors (buddy.c, theory 2) ----
 * A shared anonymous mapping (NULL on failure), made read-only by
 * os_seal(); os_alias() maps a read-only view of @size bytes of it from
 * @src at @addr, over a range of ours; os_move() moves the private
 * mapping @src over the range at @dst, in one step. False on failure,
 * errno set. */
void *os_map_shared(size_t size);
bool os_seal(void *addr, size_t size);
bool os_alias(void *addr, const void *src, size_t size);
bool os_move(void *dst, void *src, size_t size);

/* ---- buddy allocator (buddy.c) ---- */

void buddy_init(void);
/* The slab_key of every page that is not a kmalloc slab page: the slab
 * layer sets it (buddy_set_slab_key_none) before its first page allocation;
 * the page layer writes it into each descriptor when a zone grows and when
 * an upper layer's marks are wiped. */
extern int32_t buddy_slab_key_none;
void buddy_set_slab_key_none(int32_t key);
/* A block of 2^order pages (head descriptor), or NULL. Honours __GFP_DMA,
 * __GFP_ZERO, __GFP_COLD, __GFP_HIGH (emergency reserve) and non-blocking
 * calls (no __GFP_WAIT: trylock only, NULL if a zone lock is busy, and no
 * zone growth, which maps a section). NULL with errno ENOMEM when a growth
 * is refused (RLIMIT_AS, or another mapping in the zone's range).
 * The head comes back with flags == PG_head and .order set. Layers above may
 * OR in PG_slab/PG_large and set slab_cache/slab_base (on any page of the
 * block) and the union, but must keep PG_head and .order: buddy_free()
 * checks them, then clears the slab fields of every page of the block. */
struct page *buddy_alloc(gfp_t gfp, unsigned int order);
/* Free a block. @caller names the API function for error messages. Detects
 * a foreign address, a non-head page, a wrong order, a double free. */
void buddy_free(struct page *page, unsigned int order, const char *caller);
/* Whole pages, trimmed: returns size rounded up to pages, waste < 1 page.
 * The head page gets PG_exact and exact.npages. */
void *buddy_alloc_exact(size_t size, gfp_t gfp);
/* The same, but aligned to @align only (a power of two up to 4 MiB; a
 * page or less: page aligned): packed into runs of free pages (fragments
 * first), so sizes that are not a power of two of pages waste nothing.
 * Freed with buddy_free_exact(), resized by buddy_resize_exact(). */
void *buddy_alloc_range(size_t size, size_t align, gfp_t gfp);
void buddy_free_exact(void *addr, size_t size, const char *caller);
/* Resize an exact range in place: shrinking gives the pages past
 * PAGE_ALIGN(new_size) back; growing takes the following pages if all are
 * free in the buddy (not on per-thread lists). Honours __GFP_WAIT (trylock
 * without it), __GFP_HIGH and __GFP_ZERO. True when done; false, with
 * nothing changed, otherwise. Afterwards the range frees with new_size. */
bool buddy_resize_exact(void *addr, size_t old_size, size_t new_size, gfp_t gfp);
/* What holds an address, for the messages about a bad pointer
 * (buddy_block_of, vmap_block_of). */
enum sm_block_state {
	SM_BLOCK_NONE,           /* nothing found */
	SM_BLOCK_USED,           /* inside a block handed out */
	SM_BLOCK_FREE,           /* inside free or cached (freed) memory */
};
/* The block of the page allocator that holds @addr (an address of our
 * heap): SM_BLOCK_USED, an allocated block (a 2^order block or an exact
 * range) starting at *@start, *@npages long; SM_BLOCK_FREE, a free block,
 * one on a per-thread list or being purged, or an exact range in a
 * thread's large cache. Reads the descriptors without the zone lock: a
 * snapshot, fit for a message, not for a decision. */
enum sm_block_state buddy_block_of(const void *addr, void **start, size_t *npages);
/* Zero pages of ours for __GFP_ZERO: madvise from 64 KiB up when the caller
 * may block (they read as zeros, untouched until used), else memset. */
void buddy_zero_pages(void *addr, size_t npages, gfp_t gfp);
/* Return free memory older than the decay period to the OS (all: now). */
size_t buddy_purge(bool all);
void buddy_drain_local(void);        /* drain this thread's page lists */
size_t buddy_pcp_bytes(void);        /* free bytes on this thread's lists */
void buddy_print_buddyinfo(FILE *out);
bool buddy_validate(void);           /* invariants; prints what is wrong */
void buddy_prefork(void);
void buddy_postfork_parent(void);
void buddy_postfork_child(void);
/* Tunables (options.c sets them): decay period and per-thread list sizes. */
extern uint64_t buddy_decay_ns;       /* default 10 s, as jemalloc's */
extern unsigned int buddy_pcp_high;    /* pages per per-thread list (128) */
/* Pages per list that the lists' shared budget leaves each attached thread
 * (buddy.c, theory 4): below buddy_pcp_high only with many threads. */
extern unsigned int buddy_pcp_cap;
/* Views of the descriptor template made (buddy.c, theory 2), and the most
 * that may be (4096: each is a mapping of its own). */
extern unsigned int buddy_desc_views, buddy_desc_views_max;
/* Wholly free, purged sections are unmapped (buddy.c, theory 10); on by
 * default. */
extern bool buddy_offline_sections;
bool buddy_addr_offline(const void *addr);
extern unsigned long buddy_reserve_pages; /* emergency reserve per zone (64) */

/* For the page API's entry points (page_api.c), which check, report and
 * initialise before they call these: the zone whose grown mem_map holds
 * @pg, or NULL (not one of our descriptors); the descriptor of a
 * page-aligned address of ours (bad input stops the program, naming
 * @caller); the free of a block with its checks, to the cold end of the
 * thread's list when @cold. */
struct zone *page_zone_checked(const struct page *pg);
struct page *free_addr_to_page(const void *addr, const char *caller);
void buddy_free_common(struct page *pg, unsigned int order, const char *caller,
                       bool cold);

/* ---- per-thread page lists: the fast paths of the page API ----
 *
 * The calling thread's lists (the kernel's per-CPU pagesets), one per order
 * up to SM_PCP_MAX_ORDER: hot at the head, cold at the tail. buddy.c owns
 * them (refill, drain, thread exit); the inlines below are what the page
 * API's fast paths need: a pop from or a push onto the hot end, with
 * everything else (refill, drain, __GFP_COLD/__GFP_ZERO/__GFP_DMA, fault
 * injection, a thread that is not attached, bad input) left to the full
 * paths, which also report. */

/* One per-thread page list (a pageset). */
struct pcp_list {
	struct page  *pl_head;          /* hot end */
	struct page  *pl_tail;          /* cold end */
	unsigned int  pl_count;         /* blocks on the list */
};

extern SM_TLS struct pcp_list buddy_pcp[SM_PCP_MAX_ORDER + 1];   /* buddy.c */
/* The calling thread's buddy_pcp for the hot paths: through its TLS key
 * (internal.h), measured by buddy_init, where there is one. Used only once
 * sm_thread_state_fast() says the thread is attached, which it never says
 * before the key is measured or with dynamic TLS. */
#if SM_TC_SEG_FS
extern sm_tls_key_t buddy_pcp_key;
SM_INLINE struct pcp_list *buddy_pcp_self(void)
{
	return (struct pcp_list *)(sm_tp() + (intptr_t)buddy_pcp_key);
}
#else
SM_INLINE struct pcp_list *buddy_pcp_self(void)
{
	return buddy_pcp;
}
#endif

SM_INLINE unsigned int pcp_high(unsigned int order)
{
	unsigned int h = SM_READ_ONCE(buddy_pcp_high) >> order;
	unsigned int cap = SM_READ_ONCE(buddy_pcp_cap) >> order;
	h = h ? h : 1;
	return cap < h ? cap : h;
}

SM_INLINE void pcp_push_head(struct pcp_list *l, struct page *pg)
{
	pg->pcp.prev = NULL;
	pg->pcp.next = l->pl_head;
	if (l->pl_head)
		l->pl_head->pcp.prev = pg;
	else
		l->pl_tail = pg;
	l->pl_head = pg;
	l->pl_count++;
}

SM_INLINE struct page *pcp_pop_head(struct pcp_list *l)
{
	struct page *pg = l->pl_head;
	l->pl_head = pg->pcp.next;
	if (l->pl_head)
		l->pl_head->pcp.prev = NULL;
	else
		l->pl_tail = NULL;
	l->pl_count--;
	return pg;
}

/* The calling thread's list for @order, if the lists are on and the
 * thread is attached (no call: the public fast paths use it alone). */
SM_INLINE struct pcp_list *pcp_fast(unsigned int order)
{
	if (likely(order <= SM_PCP_MAX_ORDER) &&
	    likely(sm_thread_state_fast() == SM_THREAD_ATTACHED) &&
	    likely(SM_READ_ONCE(buddy_pcp_high) != 0))
		return buddy_pcp_self() + order;
	return NULL;
}

/*
 * The fast paths of the public entry points: a pop from or a push onto the
 * hot end of the calling thread's list, with everything else (refill,
 * drain, __GFP_COLD/__GFP_ZERO/__GFP_DMA, fault injection, a thread that is
 * not attached, bad input) left to the full paths, which also report.
 */
SM_INLINE struct page *pcp_alloc_fast(gfp_t gfp, unsigned int order)
{
	if (unlikely(gfp & (__GFP_DMA | __GFP_COLD | __GFP_ZERO)) ||
	    unlikely(SM_READ_ONCE(sm_fault_active)))
		return NULL;
	struct pcp_list *l = pcp_fast(order);
	if (unlikely(!l) || unlikely(!l->pl_head))
		return NULL;
	struct page *pg = pcp_pop_head(l);
	pg->flags = PG_head;            /* .order was kept */
	return pg;
}

/* @pg is a descriptor of ZONE_NORMAL's grown part: freed when it heads an
 * allocated page block of @order (not an upper layer's) and the list has
 * room. */
SM_INLINE bool pcp_free_fast(struct page *pg, unsigned int order)
{
	if (unlikely((pg->flags & (PG_head | PG_buddy | PG_pcp | PG_purge | PG_exact |
	                           PG_lcached | PG_slab | PG_large)) != PG_head) ||
	    unlikely(pg->order != order) || unlikely(pg->slab_cache != NULL))
		return false;
	struct pcp_list *l = pcp_fast(order);
	if (unlikely(!l) || unlikely(l->pl_count >= pcp_high(order)))
		return false;
	pg->flags = PG_pcp | PG_dirty;
	pcp_push_head(l, pg);
	return true;
}


/* ---- vmalloc (vmalloc.c) ---- */

/* A mapping of @size bytes registered as ours (huge kmalloc, vmalloc). With
 * guard: followed by a PROT_NONE page. NULL on failure. */
void *vmap_alloc(size_t size, bool guard, bool zero);
/* Like vmap_alloc (no guard, zeroed) with the start aligned to @align, any
 * power of two; @size 0 maps one page. */
void *vmap_alloc_aligned(size_t size, size_t align);
/* Size of the mapping at @addr (its start), or 0 if it is not one of ours. */
size_t vmap_size(const void *addr);
/* The huge kmalloc or vmalloc mapping that holds @addr, anywhere in it:
 * SM_BLOCK_USED, registered, starting at *@start, *@size usable bytes;
 * SM_BLOCK_FREE, a freed mapping kept in the cache. For messages. */
enum sm_block_state vmap_block_of(const void *addr, void **start, size_t *size);
void vmap_free(const void *addr, const char *caller);
/* Grow or shrink with mremap; the registry follows. NULL on failure. */
void *vmap_realloc(void *addr, size_t new_size);
/* Bytes of registered (handed out) vmalloc/kmalloc mappings; the cache
 * below is not included. */
size_t vmap_total_bytes(void);
/* The most vmalloc/kmalloc mappings, and bytes in them, registered at once
 * (malloc_stats' "max mmap regions" and "max mmap bytes"). */
void vmap_max_stats(size_t *max_maps, size_t *max_bytes);
/* Huge kmalloc: like vmap_alloc (no guard) but reuses a mapping from the
 * cache of freed ones; vmap_free caches it again. @zero: reads as zeros. */
void *vmap_alloc_cached(size_t size, bool zero);
/* @addr is the start of a freed mapping held in the cache. */
bool vmap_is_cached(const void *addr);
/* Unmap cached mappings older than buddy_decay_ns (all: every one).
 * RETURNS: bytes unmapped. */
size_t vmap_cache_purge(bool all);
size_t vmap_cached_bytes(void);       /* bytes held in the cache */
/* Bytes of the arenas' mappings not in use (free extents, dirty or
 * clean): with vmap_total_bytes, all that the huge blocks have mapped. */
size_t vmap_arena_free_bytes(void);
/* Tunable: most bytes the cache holds (64 MiB; 0 disables it). It also
 * holds at most 8 mappings. */
extern size_t vmap_cache_max_bytes;
/* ioremap/iounmap's work: map /dev/mem (errno set on failure, see
 * slabmalloc_ioremap), unmap a registered ioremap (bad input stops the
 * program with one line). */
void *vmap_ioremap(unsigned long offset, unsigned long size);
void vmap_iounmap(volatile void *addr);
extern size_t vmap_arena_max_block;  /* largest block carved from arenas */
void vmap_init(void);                /* registers the cache's decay task */
void vmap_prefork(void);
void vmap_postfork_parent(void);
void vmap_postfork_child(void);

/* ---- kfence.c: sampled guarded allocations ----
 *
 * kfence_sample: one kmalloc refill in this many is served from the
 * guarded pool (0: off; option sample=). kfence_alloc returns a guarded
 * object of @size bytes (zeroed), or NULL when the size does not fit a page
 * or the pool is full; kfence_owns says whether @p is in the pool;
 * kfence_size checks that @p is a live object start (or reports) and
 * returns its size; kfence_free checks its canaries, protects its page. */
extern unsigned int kfence_sample;
extern SM_TLS unsigned int kfence_countdown;
void *kfence_alloc(size_t size, const void *ra);
bool kfence_owns(const void *p);
size_t kfence_size(const void *p, const char *caller);
void kfence_free(void *p, const char *caller, const void *ra);
unsigned long kfence_allocations(void);
void kfence_prefork(void);
void kfence_postfork_parent(void);
void kfence_postfork_child(void);

#pragma GCC visibility pop
#endif /* SM_PAGE_ALLOC_H */
