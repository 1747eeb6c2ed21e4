/* SPDX-License-Identifier: MIT */
/*
 * buddy.c — the page allocator: a binary buddy system of 4 KiB pages, after
 * the kernel's mm/page_alloc.c, and the exported kernel page API
 * (alloc_pages, __get_free_pages, free_pages, alloc_pages_exact, ...).
 *
 * Theory.
 *
 *  1. Zones, placed but not mapped. Nothing is mapped at init: buddy_init
 *     only chooses addresses (zones_place). ZONE_NORMAL gets a span of
 *     64 GiB (less on a small address space) aligned to the span (for the
 *     window, 2.), in a part of the address space that the kernel does not
 *     hand out to ordinary mmap: the user address space's size T is
 *     os_user_top() (2^47 on x86-64), the kernel maps top-down from just
 *     below the stack (near T) and, in the legacy layout, bottom-up from
 *     T/3 (T/4 on arm64), PIE programs load near 2T/3 and non-PIE ones
 *     near 4 MiB, so [T/8, T/4) is left alone; the span is a random slot
 *     there (about 250 on x86-64: the heap's address is not predictable),
 *     whose first and last pages are checked to be unmapped. Its mem_map
 *     (below) follows it, then the DMA zone's. ZONE_DMA gets 256 MiB
 *     below 4 GiB, a random section-aligned slot of [2 GiB, 4 GiB) (the
 *     kernel's MAP_32BIT mappings, bootmem's low regions among them, take
 *     [1 GiB, 2 GiB); a non-PIE program and its break sit near 4 MiB).
 *     A zone grows by one section (4 MiB) at a time (zone_grow, under the
 *     zone lock): the section is mapped at its fixed address with
 *     MAP_FIXED_NOREPLACE, which never replaces another mapping, so that
 *     address space is taken as the heap grows (the kernel's SPARSEMEM
 *     sections) and RLIMIT_AS (ulimit -v) keeps its meaning, whether set
 *     before start or lowered after. zone_limit is then published with a
 *     release store after the section's descriptors are initialised, and
 *     never shrinks (offline sections, 10., stay below it). Growth needs
 *     that system call, so only callers that may block (__GFP_WAIT) grow a
 *     zone; GFP_ATOMIC takes what is there.
 *     When RLIMIT_AS is finite, a zone grows only while the process keeps
 *     room for what else it must map (thread stacks, libraries, files): a
 *     reserve of limit/32, at least 16 MiB and at most 128 MiB (and never
 *     above limit/8), the kernel's user_reserve_kbytes idea; a limit set
 *     after start is read at the next growth. A section that cannot be
 *     mapped (ENOMEM: the limit or the system; EEXIST: another mapping sits
 *     at the address, which is reported once) fails the growth, and the
 *     allocation that needed it fails with NULL (errno ENOMEM); nothing
 *     else changes and a later growth tries again. Freed memory goes back
 *     with madvise (5.); a section that is then wholly free goes offline,
 *     unmapped, and a growth maps an offline section again before it
 *     extends the zone (10.).
 *
 *  2. mem_map. Each zone's descriptors (struct page, 64 bytes per 4 KiB
 *     page) form one array, mem_map, at a fixed address beside ZONE_NORMAL
 *     (span/64 set aside, not mapped), mapped on demand with the zone
 *     (zone_map_cover, MAP_FIXED_NOREPLACE, zone_map_bytes): 64 KiB per
 *     section, 1/64 of the memory it describes, so mem_map stays
 *     proportional to the mapped heap. sm_virt_to_page() (page_alloc.h) is
 *     one subtraction and compare per zone: the SPARSEMEM/vmemmap idea,
 *     with no access to user memory, and an address outside every grown
 *     part is recognised as not ours.
 *     The free fast paths use a cheaper lookup with no compare, the window
 *     (sm_page_window): ZONE_NORMAL's base is a multiple of its span, so
 *     for an address of the zone (addr >> 6) & mask, with mask = (W - 1)
 *     << 6 for a power of two W of pages, is its descriptor's offset in
 *     mem_map. Every descriptor of the first W pages is mapped and
 *     initialised (those beyond zone_limit get the "none" slab_key), so any
 *     other address lands on an initialised descriptor too, an alias that
 *     the caller's object-start proof rejects. W starts at one section when
 *     the slab layer opens the window (buddy_set_slab_key_none: before, the
 *     window is one static descriptor) and doubles as the zone outgrows it,
 *     the mem_map being mapped up to W descriptors first (a growth that
 *     cannot map them fails); the map is published before the first mask,
 *     each mask after the descriptors it covers.
 *     Descriptors that describe nothing cost no RSS: the descriptors of one
 *     section as every page of ZONE_NORMAL that holds nothing reads them
 *     (flags 0, the zone, the "none" slab key) are kept once, in shared
 *     memory made read-only (desc_tmpl), and the mem_map past the grown
 *     part is mapped as views of it (os_alias: mremap of a shared mapping
 *     with an old size of 0), as are all but the first page of the
 *     descriptors of a wholly free section: of a section grown and not
 *     used yet, and of one whose pages a purge gave back (section_release,
 *     from zone_purge). Such a section has PG_tmpl on its head, which
 *     stays private (it is on the free lists). A view reads as a valid
 *     free state, so the lock-free readers (the window, the bad-free
 *     reports, buddy_block_of) need no change; before any descriptor of a
 *     PG_tmpl section is written, the allocation that takes pages from it
 *     gives it private pages again (section_materialize, zone lock held:
 *     written in a fresh mapping, then moved over the view in one step,
 *     so that a lock-free reader never sees zeros), and fails like a
 *     refused growth when the system refuses. Cost: one mremap per purged
 *     section and an mmap and an mremap per section used again, and
 *     a VMA per view, of which at most buddy_desc_views_max (4096) are made
 *     (past it, descriptors stay private as without a template), far
 *     below the kernel's per-process limit on mappings (vm.max_map_count,
 *     65530 by default); a freed and purged heap keeps 4 KiB of descriptors
 *     per 4 MiB section resident (a 1 GiB heap: 1 MiB instead of 16 MiB,
 *     and none of the window's).
 *
 *  3. Free areas and coalescing. A free block of 2^order pages (order 0..
 *     MAX_ORDER-1, 4 KiB..4 MiB) has PG_buddy and .order on its head
 *     descriptor (every other page of it has flags 0) and sits on
 *     zone_free_area[order], a doubly linked list. Blocks are naturally
 *     aligned (page index a multiple of 2^order; the zone base is section
 *     aligned, so addresses are too). The buddy of block i at order o is
 *     i ^ (1 << o); on free the block merges with its buddy while that buddy
 *     is a free block of the same order, so no two free buddies of the same
 *     order ever coexist (buddy_validate() checks it). Allocation takes the
 *     smallest order with a free block and splits it, putting the upper
 *     halves back ("expand" in the kernel). A section is one MAX_ORDER-1
 *     block, so merging never crosses a section.
 *     Allocated heads have PG_head and .order; alloc_pages_exact ranges have
 *     PG_head|PG_exact, exact.npages and .order = get_order of the range
 *     (the tail beyond the request went back to the free areas as maximal
 *     aligned blocks); every other page of a range has flags 0, and the
 *     head is aligned to its order unless the range was grown in place
 *     (8.) or packed into a run (9.). Upper layers OR in PG_slab/PG_large
 *     and set slab_cache; buddy_free() clears them.
 *
 *  4. Per-thread page lists (the kernel's per-CPU pagesets; a thread is our
 *     CPU). For orders 0..SM_PCP_MAX_ORDER of ZONE_NORMAL each thread keeps
 *     one list per order in TLS (buddy_pcp), with PG_pcp heads. Allocation
 *     pops the head (hot: most recently freed) or, for __GFP_COLD, the tail;
 *     free_hot_page() pushes the head, free_cold_page() the tail. No lock
 *     and no atomic on either path. An empty list is refilled with a batch
 *     taken under one zone lock acquisition; a list longer than its high
 *     mark (buddy_pcp_high pages, i.e. buddy_pcp_high >> order blocks) is
 *     drained by a batch from its cold end. Thread exit drains everything
 *     (buddy_drain_local, from init.c's thread destructor; malloc_trim
 *     drains the caller's too); a thread that is
 *     exiting, or that runs before initialisation completes, bypasses its
 *     lists. buddy_pcp_high = 0 disables the lists. The lists of all
 *     threads share a budget of PCP_BUDGET_PAGES (32 MiB): each list's
 *     high mark is at most buddy_pcp_cap, that budget over the lists of
 *     the threads attached now (sm_nr_attached), recomputed on the lists'
 *     slow paths (attach, refill, drain). Up to 16 threads it leaves
 *     buddy_pcp_high alone; with a thousand threads alive each keeps a
 *     couple of pages (an order whose blocks do not fit goes to the zone at
 *     every call), not 2 MiB each. A list above a lowered mark is drained
 *     by its next free. The hot paths reach
 *     the calling thread's lists through a TLS key (internal.h); with
 *     dynamic TLS (a dlopened library) they have none and every thread
 *     bypasses its lists.
 *
 *  5. Decay: dirty and clean. A free block is dirty (PG_dirty: its memory
 *     may be resident and non-zero) or clean (fresh from zone growth, or
 *     purged with MADV_DONTNEED since: it reads as zeros and costs no RSS).
 *     Splitting keeps the state, merging is dirty if either part is.
 *     Dirty free blocks are also on the zone's dirty list, oldest first
 *     (buddy.free_ns: when the block became dirty; halves of a split block
 *     take their parent's place and time; merged blocks go to the tail
 *     with the current time). buddy_purge() takes dirty blocks older than
 *     buddy_decay_ns (default 1 s) off the free lists onto zone_purging
 *     (PG_purge), drops the lock, madvises them, and frees them back clean,
 *     in batches of at most BUDDY_PURGE_BATCH blocks and a section's worth
 *     of pages (zone_purge_seq counts the batches given back). While a
 *     batch is in flight its pages are free but not on the free lists: an
 *     allocation that may block and finds no room waits for the batch
 *     (zone_wait_purge, a few times at most) rather than grow the zone for
 *     memory it has. On each free list dirty blocks come first and clean
 *     ones last (fa_add), so allocations reuse resident memory before
 *     memory given back, and a purge leaves the dirty blocks' order alone.
 *     The background purge thread (base/bgthread.c) runs buddy_decay_tick
 *     every decay/BUDDY_DECAY_STEPS while anything is dirty: the smooth
 *     decay of zone_decay_tick purges, oldest first, what exceeds the
 *     weight of the dirty pages by age (jemalloc's decay curve, linear), so
 *     memory goes back within one decay period even if the program makes
 *     no further call. A holder of the zone lock that makes the dirty list
 *     non-empty sets zone_kick, and zone_unlock wakes the thread after the
 *     lock is dropped. A purge is also tried, rate-limited to one
 *     per decay/8, when a slow path that holds the zone lock anyway (free
 *     to the zone, pcp drain, zone allocation that may reclaim) sees that
 *     the oldest dirty block is past due; the fast paths never look at the
 *     clock. Counters: zone_free_pages (free-area pages; pcp pages are not
 *     free, as in the kernel), zone_dirty_pages (an upper bound: a purged
 *     block that merges with a dirty buddy is counted dirty again) and
 *     zone_purged_bytes. __GFP_ZERO skips the zeroing for a clean block, so
 *     get_zeroed_page() is free for fresh memory and still zero after a
 *     dirty free; a dirty range of 64 KiB or more is zeroed by giving it
 *     back to the OS (buddy_zero_pages) when the caller may block.
 *
 *  6. GFP. __GFP_DMA selects ZONE_DMA (no pcp lists there). Without
 *     __GFP_WAIT (GFP_ATOMIC, GFP_NOWAIT) zone locks are only try-locked,
 *     a busy lock fails the call with NULL, and a zone does not grow (that
 *     maps a section: 1.). buddy_reserve_pages free pages of each zone
 *     are an emergency reserve that only __GFP_HIGH (GFP_ATOMIC)
 *     allocations may take: the others grow the zone rather than go below
 *     it, and fail when it cannot grow (its span used up, RLIMIT_AS, a
 *     mapping in the way, or no __GFP_WAIT), so the reserve is there when
 *     the address space runs out too. Decay purges are only
 *     started from allocations that may block and may call the OS
 *     (__GFP_IO|__GFP_FS). The public entry points test fault injection
 *     first and retry failures as gfp_retry() (gfp.c) decides, so
 *     __GFP_NOFAIL/__GFP_REPEAT/__GFP_NORETRY behave as documented; a
 *     __GFP_NOFAIL request that can never succeed (order >= MAX_ORDER, no
 *     DMA zone) stops with a message instead of looping forever.
 *
 *  7. Bad input. The free entry points check the descriptor: an address
 *     outside our zones, not page aligned, not the head of an allocated
 *     block (an interior page, a page inside a free block), a wrong order,
 *     a block already free (PG_buddy, PG_pcp, PG_purge) or of the wrong
 *     kind (slab, kmalloc, alloc_pages_exact) stop the program with one line
 *     naming the function and the address. Requests that cannot be met
 *     return NULL (0), never crash.
 *
 *  8. In-place resizing (buddy_resize_exact, for kmalloc's realloc of
 *     large blocks). An exact range is freed page-run by page-run
 *     (zone_free_range decomposes it greedily into aligned blocks), so
 *     nothing but its head describes it and it may change length in place.
 *     Shrinking frees the pages past the new end (dirty, coalescing with
 *     free neighbours). Growing needs every page of [old end, new end) in
 *     a free block: the block holding a page is found by rounding its
 *     index down order by order (free blocks are aligned), and since the
 *     page before is allocated the block starts at that page, so the walk
 *     goes block to block. Pages on per-thread lists or being purged are
 *     not free: the resize fails rather than reach into another thread's
 *     list. The range may run past zone_limit by growing the zone one
 *     section, as zone_rmqueue does. Blocks are checked first, then taken
 *     whole; the part of the last one past the new end goes back as
 *     increasing aligned pieces that cannot merge (the buddy of each holds
 *     the page before it) in that block's place and age on the dirty list.
 *     The head then gets the new npages and order; it is no longer aligned
 *     to that order in general, which only the exact-range checks of
 *     buddy_validate() and bad_free() need to know. The emergency reserve
 *     and the trylock rule of allocations apply; __GFP_ZERO zeroes the
 *     added pages unless they all came from clean blocks. A range at the
 *     end of the grown part grows the zone only while the zone's free pages
 *     could not hold the whole new range: otherwise the caller moves it,
 *     and a steady load keeps a steady heap.
 *
 *  9. Exact ranges packed into runs (buddy_alloc_range, for kmalloc's large
 *     and aligned blocks). alloc_pages_exact's way, a 2^order block and its
 *     tail given back, leaves tails that no later request of the same size
 *     can use (a 10-page range takes a 16-page block and leaves a 2- and a
 *     4-page block: a heap of such ranges is 10/16 full) and needs an
 *     aligned free block for every range (a 3 MiB range needs a whole free
 *     section), so a heap of mixed sizes keeps growing while its free pages
 *     sit in pieces. A range is instead taken from a run of free pages:
 *     consecutive free blocks, whatever their orders, possibly across
 *     sections (an exact range may cross one; it is freed page-run by
 *     page-run). The free blocks of a run are its maximal aligned pieces
 *     (no two free buddies of one order coexist), so a run of n pages holds
 *     a block of order floor(log2(n + 1)) - 1 or more, and below the
 *     request's order; a run is found from such a block by walking back
 *     (free_block_of on the page before, a bounded number of blocks) and
 *     forward (the block after a free block starts where it ends). The
 *     search, zone lock held: first the fragments, RUN_CANDIDATES blocks of
 *     each of those orders from the heads of their lists (all of them for
 *     a range of RUN_ALL_PAGES pages, 256 KiB, or more), best fit (the
 *     shortest run that holds the range, aligned as asked); then a block of
 *     the request's order or above, the range placed at the start of its
 *     run (free pages before it are used first); then every fragment; then,
 *     if a purge has blocks in flight (5.), the allocation waits for them;
 *     and only then the zone grows.
 *     The range takes the pages from the start
 *     of the run (or the first aligned page), so what is left of the run
 *     stays in one piece; the blocks it covers leave the free areas whole,
 *     and the parts of the first and the last one outside the range go
 *     back in their place and age on the dirty list (give_back_head,
 *     give_back_tail: the pieces cannot merge, their buddies hold the
 *     range). Freed, the range goes back page-run by page-run and merges
 *     with its free neighbours. Measured: 40000-byte blocks fill 92 % of
 *     what glibc fits under RLIMIT_AS (57 % with whole blocks), and a
 *     steady mix of 32 KiB - 4 MiB blocks keeps a heap of 1.6 times the
 *     most bytes live instead of 3.6 times and growing. A large range that
 *     splits a whole block while a run of fragments would hold it leaves
 *     the big free runs that the next large ranges need in pieces: under
 *     bench/steady's mix the page allocator's part of the heap was 360 -
 *     420 MiB with 8 candidates per order and 290 - 340 MiB looking at
 *     every fragment from 256 KiB on, which costs about 1.2 us more per
 *     such allocation in a fragmented heap (each of them faults in 64
 *     pages or more when it is used; smaller ranges keep the short
 *     search).
 *
 * 10. Offline sections (the kernel's memory hot-remove, at section grain).
 *     A purge (5.) that leaves a section wholly free and clean, its
 *     descriptors views (2., PG_tmpl), unmaps it (section_offline): the
 *     section leaves the free lists for zone_offline (kept by address) with
 *     PG_offline on its head, and zone_offline_pages counts it. So a heap
 *     whose load falls gives its address space back, not only its pages: it
 *     no longer counts in mallinfo2().arena (zone_heap_bytes: the grown
 *     part less the offline sections), in the process's VmSize or against
 *     RLIMIT_AS, and the heap figure follows the load instead of its
 *     highest point so far. The emergency reserve (6.) is never taken
 *     offline; ZONE_DMA, whose descriptors are never views, keeps its
 *     sections. A growth (zone_grow) first maps the lowest offline section
 *     again (section_online: MAP_FIXED_NOREPLACE at its address, under the
 *     RLIMIT_AS reserve of 1.) and frees it as one clean block whose
 *     descriptors are still views; only with none left does the zone
 *     extend (zone_extend). An in-place growth of an exact range past
 *     zone_limit (8.) extends only. A mapping of someone else's that took
 *     an offline section's address meanwhile (MAP_FIXED, or the kernel
 *     short of room) is never replaced: that section is lost
 *     (zone_lost_pages, off the list, never tried again) and the growth
 *     tries the next. The descriptors of an offline or lost section read
 *     as a free section's, so no lock-free reader changes; an address
 *     there is no memory of ours (buddy_addr_offline): kmalloc's
 *     classification judges it like an address outside the heap, and a
 *     page-API free of it says "memory given back to the system". Cost: a
 *     munmap per section a purge empties and an mmap per section used
 *     again, both rare beside the madvise and the page faults they come
 *     with. buddy_offline_sections (on) turns it off for tests.
 *
 *  Locks: one zone_lock per zone (rank 6 in internal.h; DMA before NORMAL,
 *  though no path holds both except fork and buddy_validate). Nothing is
 *  taken under a zone lock; madvise runs with it dropped.
 *  Fork: buddy_prefork() takes both zone locks in order; the parent
 *  releases them; the child re-initialises them and frees back (dirty)
 *  any block another thread was purging, so nothing leaks (the forking
 *  thread has none there: zone_purge's unlocked madvise window counts as
 *  holding the zone lock, and a fork from a signal handler inside it
 *  leaves the zones alone, see init.c). The forking thread keeps its page
 *  lists (its TLS is copied).
 *
 * Floor 3 (src/layers.txt): calls gfp.c, bootmem.c and the base floor.
 * The exported page API is in api/page_api.c, on the entry-point floor.
 */
#include "page_alloc.h"

#include <errno.h>
#include <string.h>

_Static_assert(sizeof(struct page) <= SM_CACHELINE, "struct page fits a cache line");
_Static_assert(SM_SECTION_SIZE == ((size_t)4 << 20), "a section is 4 MiB");
_Static_assert(SM_PAGE_SIZE == 4096, "the buddy allocator manages 4 KiB pages");

struct zone sm_zones[SM_NR_ZONES] = {
	[ZONE_DMA]    = { .zone_lock = PTHREAD_MUTEX_INITIALIZER, .zone_name = "DMA" },
	[ZONE_NORMAL] = { .zone_lock = PTHREAD_MUTEX_INITIALIZER, .zone_name = "Normal" },
};

uint64_t buddy_decay_ns = 1000ull * 1000000ull;
unsigned int buddy_pcp_high = 128;
unsigned int buddy_pcp_cap = ~0u;
unsigned long buddy_reserve_pages = 64;

static int buddy_ready;                 /* zones placed (release store) */

#define NPAGES(order)   ((size_t)1 << (order))
#define BUDDY_PURGE_BATCH 32
/* Pages a purge batch holds off the free lists at most (one section's
 * worth, unless one block is larger): what it hides, and for how long. */
#define BUDDY_PURGE_BATCH_PAGES 1024
/* Purge batches an allocation waits for before it grows the zone, and how
 * long it waits for one (a batch's madvise takes well under that). */
#define BUDDY_PURGE_WAITS 8
#define BUDDY_PURGE_WAIT_NS (20ull * 1000000ull)

SM_TLS struct pcp_list buddy_pcp[SM_PCP_MAX_ORDER + 1];
#if SM_TC_SEG_FS
sm_tls_key_t buddy_pcp_key;
#endif

/* ---- small helpers ---- */

/* Grown pages; read without the lock on the free path (it only grows). */
static inline size_t zone_npages(const struct zone *z)
{
	return SM_READ_ONCE(z->zone_limit) >> SM_PAGE_SHIFT;
}

static inline size_t page_index(const struct zone *z, const struct page *pg)
{
	return (size_t)(pg - z->zone_mem_map);
}

static inline void *zone_page_addr(const struct zone *z, size_t idx)
{
	return (void *)(z->zone_base + (idx << SM_PAGE_SHIFT));
}

static inline struct zone *page_zone(const struct page *pg)
{
	return &sm_zones[pg->zone];
}

/* The zone whose grown mem_map holds @pg, or NULL (a pointer that is not
 * one of our descriptors). */
struct zone *page_zone_checked(const struct page *pg)
{
	for (int i = 0; i < SM_NR_ZONES; i++) {
		struct zone *z = &sm_zones[i];
		uintptr_t off = (uintptr_t)pg - (uintptr_t)z->zone_mem_map;
		if (z->zone_mem_map &&
		    off < zone_npages(z) * sizeof(struct page) &&
		    off % sizeof(struct page) == 0)
			return z;
	}
	return NULL;
}

static inline bool zone_lock(struct zone *z, gfp_t gfp)
{
	if (gfp & __GFP_WAIT) {
		sm_mutex_lock(&z->zone_lock);
		return true;
	}
	return sm_mutex_trylock(&z->zone_lock) == 0;
}

/* Unlock, and wake the background purge thread when this holder made the
 * dirty list non-empty (theory 5): after the unlock, so that the wake-up
 * never runs under the zone lock. */
static inline void zone_unlock(struct zone *z)
{
	bool kick = z->zone_kick;
	if (unlikely(kick))
		z->zone_kick = false;
	sm_mutex_unlock(&z->zone_lock);
	if (unlikely(kick))
		sm_bg_wake(os_now_ns() + SM_READ_ONCE(buddy_decay_ns) / BUDDY_DECAY_STEPS);
}

/* ---- free areas and the dirty list (zone lock held) ---- */

/* A free block goes on its list: at the head when it is dirty, at the
 * tail when it is clean, so that allocations, which take from the head,
 * use memory that is resident already before memory given back to the OS
 * (the order of the dirty blocks, most recently freed first, is kept:
 * taking a block off for a purge and freeing it back clean moves it to
 * the tail, with the other clean ones, not before the dirty ones). */
static void fa_add(struct zone *z, struct page *pg, unsigned int order)
{
	struct free_area *fa = &z->zone_free_area[order];
	if (!(pg->flags & PG_dirty) && fa->fa_tail) {
		pg->buddy.next = NULL;
		pg->buddy.prev = fa->fa_tail;
		fa->fa_tail->buddy.next = pg;
		fa->fa_tail = pg;
	} else {
		pg->buddy.prev = NULL;
		pg->buddy.next = fa->fa_head;
		if (fa->fa_head)
			fa->fa_head->buddy.prev = pg;
		else
			fa->fa_tail = pg;
		fa->fa_head = pg;
	}
	fa->fa_nr_free++;
	z->zone_free_pages += NPAGES(order);
}

static void fa_del(struct zone *z, struct page *pg, unsigned int order)
{
	struct free_area *fa = &z->zone_free_area[order];
	if (pg->buddy.prev)
		pg->buddy.prev->buddy.next = pg->buddy.next;
	else
		fa->fa_head = pg->buddy.next;
	if (pg->buddy.next)
		pg->buddy.next->buddy.prev = pg->buddy.prev;
	else
		fa->fa_tail = pg->buddy.prev;
	fa->fa_nr_free--;
	z->zone_free_pages -= NPAGES(order);
}

/* Insert @pg into the dirty list after @anchor (NULL: at the head). */
static void dl_insert_after(struct zone *z, struct page *anchor, struct page *pg)
{
	struct page *next = anchor ? anchor->buddy.dnext : z->zone_dirty_head;
	pg->buddy.dprev = anchor;
	pg->buddy.dnext = next;
	if (anchor)
		anchor->buddy.dnext = pg;
	else
		z->zone_dirty_head = pg;
	if (next)
		next->buddy.dprev = pg;
	else
		z->zone_dirty_tail = pg;
	z->zone_dirty_pages += NPAGES(pg->order);
}

static void dl_del(struct zone *z, struct page *pg)
{
	if (pg->buddy.dprev)
		pg->buddy.dprev->buddy.dnext = pg->buddy.dnext;
	else
		z->zone_dirty_head = pg->buddy.dnext;
	if (pg->buddy.dnext)
		pg->buddy.dnext->buddy.dprev = pg->buddy.dprev;
	else
		z->zone_dirty_tail = pg->buddy.dprev;
	z->zone_dirty_pages -= NPAGES(pg->order);
}

/* ---- the window (theory 2) ---- */

/*
 * sm_page_none - the one descriptor of the window before it opens: all zero,
 * so its slab_key is 0. The slab layer makes key 0 name a slot that is
 * always full (slab_init checks it), so that a free that comes before
 * initialisation takes the slow path.
 */
const struct page sm_page_none;
struct page *sm_window_map = (struct page *)&sm_page_none;
uintptr_t sm_window_mask;
static size_t window_pages;      /* W; 0 until the window opens */

static bool window_wanted;       /* the slab key is known: keep it open */

/*
 * The descriptor template (theory 2): the descriptors of one section as
 * every page of ZONE_NORMAL that holds nothing reads them (flags 0, the
 * zone, the "none" slab key), in shared memory made read-only. Parts of
 * mem_map past the grown part, and all but the first page of the
 * descriptors of a free section that has been purged (PG_tmpl on its
 * head), are views of it: they read as a valid free state and cost no RSS.
 * A view is replaced by private pages (section_materialize) before any of
 * its descriptors is written. tmpl_from: the first page of ZONE_NORMAL
 * whose descriptors were mapped once the template existed (SIZE_MAX: no
 * template), i.e. the part where views may be.
 */
#define DESC_SECTION (NPAGES(SM_SECTION_ORDER) * sizeof(struct page))   /* 64 KiB */
#define DESC_HEAD    SM_PAGE_SIZE   /* a section's first descriptors, kept private */
#define DESC_HEAD_N  (DESC_HEAD / sizeof(struct page))
static struct page *desc_tmpl;
static size_t tmpl_from = SIZE_MAX;
/* Each view is a mapping of its own (and may split the one it lands in):
 * at most buddy_desc_views_max (4096) are made, far below the kernel's
 * limit on a process's mappings (vm.max_map_count, 65530 by default), so that the
 * program's own mmap calls and the system calls that replace a view never
 * meet that limit because of them; past it, descriptors stay private, as
 * without a template. ZONE_NORMAL's lock. */
unsigned int buddy_desc_views_max = 4096;
unsigned int buddy_desc_views;

/* May the descriptor of page @idx of @z be a view? */
static inline bool desc_may_view(const struct zone *z, size_t idx)
{
	return z == &sm_zones[ZONE_NORMAL] && idx >= tmpl_from;
}

/* Make the template once the slab key is known. Zone lock of ZONE_NORMAL
 * held; without it (the system refused) nothing is a view. */
static void tmpl_init(struct zone *z, int32_t key)
{
	if (desc_tmpl || z != &sm_zones[ZONE_NORMAL])
		return;
	struct page *t = os_map_shared(DESC_SECTION);
	if (!t)
		return;
	for (size_t i = 0; i < NPAGES(SM_SECTION_ORDER); i++) {
		t[i].zone = ZONE_NORMAL;
		t[i].slab_key = key;
	}
	if (!os_seal(t, DESC_SECTION)) {
		os_unmap(t, DESC_SECTION);
		return;
	}
	desc_tmpl = t;
	tmpl_from = z->zone_map_bytes / sizeof(struct page);
}

/* Write what the template holds into @n private descriptors at @pg. */
static void desc_init(struct zone *z, struct page *pg, size_t n)
{
	uint8_t zi = (uint8_t)(z - sm_zones);
	int32_t key = SM_READ_ONCE(buddy_slab_key_none);
	for (size_t i = 0; i < n; i++) {
		pg[i].zone = zi;
		pg[i].slab_key = key;
	}
}

/* Private descriptors that hold what the template holds, over the @bytes
 * at @pg: written in a fresh mapping first, then moved into place in one
 * step (os_move), so that a lock-free reader (a window lookup of an
 * address outside the zone lands on any descriptor) sees the view or the
 * private pages, never zeros. False, nothing changed, when the system
 * refuses. */
static bool desc_private(struct zone *z, struct page *pg, size_t bytes)
{
	struct page *tmp = os_map(bytes);
	if (!tmp)
		return false;
	desc_init(z, tmp, bytes / sizeof(struct page));
	if (os_move(pg, tmp, bytes))
		return true;
	os_unmap(tmp, bytes);
	return false;
}

/* Make the @bytes of descriptors at @pg (a multiple of DESC_HEAD, within
 * one section's) a view of the template at the same offset, replacing
 * what is mapped there. Should the system refuse after taking the old
 * pages away, private pages with the same contents take their place. */
static void desc_view(struct zone *z, struct page *pg, size_t bytes)
{
	size_t off = ((uintptr_t)pg - (uintptr_t)z->zone_mem_map) % DESC_SECTION;
	if (buddy_desc_views < SM_READ_ONCE(buddy_desc_views_max) &&
	    os_alias(pg, (char *)desc_tmpl + off, bytes)) {
		buddy_desc_views++;
		return;
	}
	if (!desc_private(z, pg, bytes))
		sm_fatal("slabmalloc: cannot map the page descriptors at %p", (void *)pg);
}

/* The first page of the section that holds page @idx. */
static inline size_t section_start(size_t idx)
{
	return idx & ~(NPAGES(SM_SECTION_ORDER) - 1);
}

/* Is the section holding page @idx of @z offline or lost (theory 10)?
 * Its head's flags, read without the lock. */
static inline bool section_is_offline(const struct zone *z, size_t idx)
{
	return (SM_READ_ONCE(z->zone_mem_map[section_start(idx)].flags) & PG_offline) != 0;
}

/* A wholly free, clean section at page @idx (or the one holding it) whose
 * descriptors may be views becomes PG_tmpl: all but its first descriptor
 * page turn into a view of the template. Zone lock held. */
static void section_release(struct zone *z, size_t idx)
{
	size_t s = section_start(idx);
	struct page *h = &z->zone_mem_map[s];
	if (!desc_may_view(z, s) || h->flags != PG_buddy || h->order != SM_SECTION_ORDER ||
	    buddy_desc_views >= SM_READ_ONCE(buddy_desc_views_max))
		return;
	desc_view(z, h + DESC_HEAD_N, DESC_SECTION - DESC_HEAD);
	h->flags |= PG_tmpl;
}

/* Private descriptors again for the PG_tmpl section at @h, before any of
 * them is written. Zone lock held. False (still PG_tmpl, its descriptors
 * readable) when the system refuses. */
static bool section_materialize(struct zone *z, struct page *h)
{
	if (!desc_private(z, h + DESC_HEAD_N, DESC_SECTION - DESC_HEAD)) {
		desc_view(z, h + DESC_HEAD_N, DESC_SECTION - DESC_HEAD);
		return false;
	}
	h->flags &= (uint16_t)~PG_tmpl;
	if (buddy_desc_views)
		buddy_desc_views--;
	return true;
}

/* ---- offline sections (theory 10) ---- */

bool buddy_offline_sections = true;

static bool zone_as_room(size_t bytes);

/* The offline section at @h joins the zone's list, which is kept by
 * address (lowest first). */
static void offline_add(struct zone *z, struct page *h)
{
	struct page *prev = NULL, *next = z->zone_offline;
	while (next && next < h) {
		prev = next;
		next = next->buddy.next;
	}
	h->buddy.prev = prev;
	h->buddy.next = next;
	if (prev)
		prev->buddy.next = h;
	else
		z->zone_offline = h;
	if (next)
		next->buddy.prev = h;
	z->zone_offline_pages += NPAGES(SM_SECTION_ORDER);
}

static void offline_del(struct zone *z, struct page *h)
{
	if (h->buddy.prev)
		h->buddy.prev->buddy.next = h->buddy.next;
	else
		z->zone_offline = h->buddy.next;
	if (h->buddy.next)
		h->buddy.next->buddy.prev = h->buddy.prev;
	h->buddy.prev = h->buddy.next = NULL;
	z->zone_offline_pages -= NPAGES(SM_SECTION_ORDER);
}

/* The section holding page @idx, if it is wholly free and given back to
 * the OS (PG_tmpl: purged, descriptors views), goes offline: unmapped, off
 * the free lists, on zone_offline. The emergency reserve stays free. Zone
 * lock held. */
static void section_offline(struct zone *z, size_t idx)
{
	size_t s = section_start(idx);
	struct page *h = &z->zone_mem_map[s];
	if (!SM_READ_ONCE(buddy_offline_sections) || h->flags != (PG_buddy | PG_tmpl) ||
	    z->zone_free_pages < NPAGES(SM_SECTION_ORDER) + buddy_reserve_pages)
		return;
	if (os_unmap(zone_page_addr(z, s), SM_SECTION_SIZE) != 0)
		return;
	fa_del(z, h, SM_SECTION_ORDER);
	h->flags = PG_offline | PG_tmpl;
	offline_add(z, h);
}

/* A clean free at page @idx of @z may have left its section wholly free
 * and clean: its descriptors become views (theory 2), and it goes offline.
 * Zone lock held. */
static void section_settle(struct zone *z, size_t idx)
{
	section_release(z, idx);
	section_offline(z, idx);
}

/* Bring the lowest offline section of @z back: mapped again at its
 * address (MAP_FIXED_NOREPLACE) and freed as one clean block whose
 * descriptors stay views. A section whose address another mapping took
 * meanwhile is lost: off the list, counted in zone_lost_pages, never
 * tried again. Zone lock held. RETURNS: 1 when a section came back, 0 when
 * none is left to try, -1 (errno ENOMEM) when the address space is
 * refused. */
static int section_online(struct zone *z)
{
	while (z->zone_offline) {
		struct page *h = z->zone_offline;
		if (!zone_as_room(SM_SECTION_SIZE)) {
			errno = ENOMEM;
			return -1;
		}
		if (!os_map_fixed(zone_page_addr(z, page_index(z, h)), SM_SECTION_SIZE)) {
			if (errno != EEXIST) {
				errno = ENOMEM;
				return -1;
			}
			offline_del(z, h);
			z->zone_lost_pages += NPAGES(SM_SECTION_ORDER);
			continue;
		}
		offline_del(z, h);
		h->flags = PG_buddy | PG_tmpl;
		h->order = SM_SECTION_ORDER;
		fa_add(z, h, SM_SECTION_ORDER);
		return 1;
	}
	return 0;
}

/* Is @addr, an address of the grown part of a zone, in an offline or lost
 * section, i.e. no memory of ours? */
bool buddy_addr_offline(const void *addr)
{
	struct page *pg = sm_virt_to_page(addr);
	if (!pg)
		return false;
	struct zone *z = page_zone(pg);
	return section_is_offline(z, page_index(z, pg));
}

/* Map @z's mem_map up to @bytes (a multiple of the page size). Zone lock
 * held (or init). False, errno set, when the system refuses. */
static bool zone_map_cover(struct zone *z, size_t bytes)
{
	size_t have = z->zone_map_bytes;
	if (bytes <= have)
		return true;
	char *base = (char *)z->zone_mem_map;
	if (!os_map_fixed(base + have, bytes - have))
		return false;
	/* Past the grown part nothing is described yet: views of the
	 * template, until a growth needs them (the address range is ours
	 * now, so the views replace only our own pages). */
	if (desc_tmpl && z == &sm_zones[ZONE_NORMAL])
		for (size_t off = have; off < bytes; off += DESC_SECTION)
			desc_view(z, (struct page *)(base + off), DESC_SECTION);
	z->zone_map_bytes = bytes;
	return true;
}

/* W for a window that covers @need pages. */
static size_t window_size(size_t need)
{
	size_t w = window_pages ? window_pages : 1;
	while (w < need)
		w *= 2;
	return w;
}

/* Make the window of ZONE_NORMAL cover at least @need pages: map and
 * initialise the descriptors it gains beyond zone_limit, then publish.
 * Zone lock held. False (nothing changed) when the mem_map cannot be
 * mapped that far. */
static bool window_cover(struct zone *z, size_t need)
{
	size_t w = window_size(need);
	if (w == window_pages)
		return true;
	if (!zone_map_cover(z, w * sizeof(struct page)))
		return false;
	size_t from = z->zone_limit >> SM_PAGE_SHIFT;
	if (from < window_pages)
		from = window_pages;
	int32_t key = SM_READ_ONCE(buddy_slab_key_none);
	for (size_t i = from; i < w && from < tmpl_from; i++)
		z->zone_mem_map[i].slab_key = key;      /* views hold it already */
	if (!window_pages)
		__atomic_store_n(&sm_window_map, z->zone_mem_map, __ATOMIC_RELEASE);
	window_pages = w;
	__atomic_store_n(&sm_window_mask, (uintptr_t)(w - 1) << SM_PAGE_DESC_SHIFT,
	                 __ATOMIC_RELEASE);
	return true;
}

/* The address-space reserve under a finite RLIMIT_AS (theory 1). */
#define AS_RESERVE_MIN ((size_t)16 << 20)
#define AS_RESERVE_MAX ((size_t)128 << 20)

/* May the process map @bytes more and keep the reserve for the rest of
 * the program? Free of system calls when RLIMIT_AS is unlimited. */
static bool zone_as_room(size_t bytes)
{
	size_t limit = os_as_limit();
	if (limit == SIZE_MAX)
		return true;
	size_t reserve = limit / 32;
	if (reserve > AS_RESERVE_MAX)
		reserve = AS_RESERVE_MAX;
	if (reserve < AS_RESERVE_MIN)
		reserve = AS_RESERVE_MIN;
	if (reserve > limit / 8)
		reserve = limit / 8;
	size_t vm = os_vm_bytes();
	return vm <= limit && reserve <= limit - vm && bytes <= limit - vm - reserve;
}

/* A growth of @z failed in a system call (errno): report a range taken by
 * another mapping once per zone. RETURNS: false, errno ENOMEM. */
static SM_COLD bool zone_grow_failed(struct zone *z)
{
	static bool reported[SM_NR_ZONES];
	int zi = (int)(z - sm_zones);
	if (errno == EEXIST && !reported[zi]) {
		reported[zi] = true;
		sm_warn("zone %s: another mapping sits in its address range; the zone "
		        "cannot grow past %zu MiB while it is there", z->zone_name,
		        z->zone_limit >> 20);
	}
	errno = ENOMEM;
	return false;
}

/* Extend @z by one section at zone_limit: map it (and the descriptors it
 * and the window need), then add it as one free, clean block of order
 * MAX_ORDER-1.
 * Zone lock held. False when @z is at its span, when @gfp may not block
 * (mapping is a system call), or when the address space is refused. */
static bool zone_extend(struct zone *z, gfp_t gfp)
{
	size_t limit = z->zone_limit;
	if (z->zone_span - limit < SM_SECTION_SIZE || !(gfp & __GFP_WAIT))
		return false;
	size_t pages = (limit + SM_SECTION_SIZE) >> SM_PAGE_SHIFT;
	bool win = z == &sm_zones[ZONE_NORMAL] && window_wanted;
	size_t map_bytes = (win ? window_size(pages) : pages) * sizeof(struct page);
	size_t add = SM_SECTION_SIZE +
	             (map_bytes > z->zone_map_bytes ? map_bytes - z->zone_map_bytes : 0);
	if (!zone_as_room(add)) {
		errno = ENOMEM;
		return false;
	}
	if (win ? !window_cover(z, pages) : !zone_map_cover(z, map_bytes))
		return zone_grow_failed(z);
	if (!os_map_fixed((void *)(z->zone_base + limit), SM_SECTION_SIZE))
		return zone_grow_failed(z);
	size_t first = limit >> SM_PAGE_SHIFT;
	struct page *map = &z->zone_mem_map[first];
	/* A fresh mem_map reads as zeros: only the zone index and the slab
	 * key need setting. Where the descriptors are views of the template,
	 * the first page becomes private (the head is written) and the rest
	 * stay views: the section is PG_tmpl until it is first used. */
	bool view = desc_may_view(z, first);
	if (view && !desc_private(z, map, DESC_HEAD)) {
		desc_view(z, map, DESC_HEAD);
		os_unmap((void *)(z->zone_base + limit), SM_SECTION_SIZE);
		errno = ENOMEM;
		return false;
	}
	if (!view)
		desc_init(z, map, NPAGES(SM_SECTION_ORDER));
	map->flags = PG_buddy | (view ? PG_tmpl : 0);
	map->order = SM_SECTION_ORDER;
	fa_add(z, map, SM_SECTION_ORDER);
	__atomic_store_n(&z->zone_limit, limit + SM_SECTION_SIZE, __ATOMIC_RELEASE);
	return true;
}

/* One more free section for @z: an offline one mapped again (theory 10),
 * else the zone extended. Zone lock held. False as zone_extend. */
static bool zone_grow(struct zone *z, gfp_t gfp)
{
	if (!(gfp & __GFP_WAIT))
		return false;
	int on = z->zone_offline ? section_online(z) : 0;
	if (on)
		return on > 0;
	return zone_extend(z, gfp);
}

/*
 * Blocks that a purge took off the free lists while it madvises them
 * (zone_purging, the zone lock dropped) are free again in a moment: an
 * allocation that finds no room and may block waits for the batch in
 * flight to come back rather than grow the heap for memory it has (a
 * steady load then keeps a steady heap). Unlock, yield until the purge
 * gives its batch back (zone_purge_seq moves) or BUDDY_PURGE_WAIT_NS have
 * passed, lock. False, without waiting, when nothing is being purged, the
 * caller may not block, or it has waited BUDDY_PURGE_WAITS times (counted
 * in *@waits).
 */
static bool zone_wait_purge(struct zone *z, gfp_t gfp, unsigned int *waits)
{
	if (!(gfp & __GFP_WAIT) || !z->zone_purging_pages || *waits >= BUDDY_PURGE_WAITS)
		return false;
	++*waits;
	unsigned long seq = z->zone_purge_seq;
	zone_unlock(z);
	uint64_t until = os_now_ns() + BUDDY_PURGE_WAIT_NS;
	do
		os_yield();
	while (SM_READ_ONCE(z->zone_purge_seq) == seq && os_now_ns() < until);
	zone_lock(z, gfp);
	return true;
}

static bool zone_take_run(struct zone *z, size_t start, size_t end);
static struct page *free_block_of(struct zone *z, size_t idx);

/* Private descriptors for every PG_tmpl section among the free blocks of
 * [start, end), before they are taken. Zone lock held. False when the
 * system refuses (nothing taken yet). */
static bool run_materialize(struct zone *z, size_t start, size_t end)
{
	for (size_t j = start; j < end;) {
		struct page *b = free_block_of(z, j);
		if ((b->flags & PG_tmpl) && !section_materialize(z, b))
			return false;
		j = page_index(z, b) + NPAGES(b->order);
	}
	return true;
}

/*
 * Take a block of @order off the free areas (growing the zone if needed),
 * respecting the emergency reserve. The head is returned with flags 0;
 * *@dirty tells whether its memory may be non-zero.
 */
static struct page *zone_rmqueue(struct zone *z, unsigned int order, gfp_t gfp,
                                 bool *dirty)
{
	size_t need = NPAGES(order);
	unsigned int waits = 0;
	/* The emergency reserve stays free in the grown part: grow rather
	 * than go below it, or fail (theory 6). */
	while (!(gfp & __GFP_HIGH) && z->zone_free_pages < need + buddy_reserve_pages) {
		if (zone_wait_purge(z, gfp, &waits))
			continue;
		size_t avail = z->zone_free_pages + z->zone_offline_pages +
		               ((z->zone_span - z->zone_limit) >> SM_PAGE_SHIFT);
		if (avail < need + buddy_reserve_pages || !zone_grow(z, gfp))
			return NULL;
	}
	unsigned int o;
	for (;;) {
		o = order;
		while (o < SM_MAX_ORDER && !z->zone_free_area[o].fa_head)
			o++;
		if (o < SM_MAX_ORDER || !zone_wait_purge(z, gfp, &waits))
			break;
	}
	if (o == SM_MAX_ORDER) {
		if (!zone_grow(z, gfp))
			return NULL;
		o = SM_SECTION_ORDER;
	}
	struct page *pg = z->zone_free_area[o].fa_head;
	if ((pg->flags & PG_tmpl) && !section_materialize(z, pg))
		return NULL;
	bool d = pg->flags & PG_dirty;
	uint64_t t = pg->buddy.free_ns;
	struct page *anchor = NULL;
	fa_del(z, pg, o);
	if (d) {
		anchor = pg->buddy.dprev;
		dl_del(z, pg);
	}
	/* Split: the upper halves go back, in the parent's place on the dirty
	 * list (same age), so the list stays sorted. */
	while (o > order) {
		o--;
		struct page *b = pg + NPAGES(o);
		b->flags = PG_buddy | (d ? PG_dirty : 0);
		b->order = (uint8_t)o;
		fa_add(z, b, o);
		if (d) {
			b->buddy.free_ns = t;
			dl_insert_after(z, anchor, b);
			anchor = b;
		}
	}
	pg->flags = 0;
	pg->order = (uint8_t)order;
	*dirty = d;
	return pg;
}

/*
 * Put a block back on the free areas, merging with its buddies. @now is
 * the time a dirty result is stamped with.
 */
static void zone_free_one(struct zone *z, struct page *pg, unsigned int order,
                          bool dirty, uint64_t now)
{
	struct page *map = z->zone_mem_map;
	size_t idx = page_index(z, pg);

	pg->flags = 0;
	pg->order = 0;
	while (order < SM_SECTION_ORDER) {
		size_t bidx = idx ^ NPAGES(order);
		struct page *b = &map[bidx];
		sm_assert(bidx < zone_npages(z));
		if (!(b->flags & PG_buddy) || b->order != order)
			break;
		fa_del(z, b, order);
		if (b->flags & PG_dirty) {
			dl_del(z, b);
			dirty = true;
		}
		b->flags = 0;
		b->order = 0;
		idx &= ~NPAGES(order);
		order++;
	}
	struct page *head = &map[idx];
	head->flags = PG_buddy | (dirty ? PG_dirty : 0);
	head->order = (uint8_t)order;
	fa_add(z, head, order);
	if (dirty) {
		/* Keep the list sorted even if @now was read before the lock. */
		if (z->zone_dirty_tail && now < z->zone_dirty_tail->buddy.free_ns)
			now = z->zone_dirty_tail->buddy.free_ns;
		head->buddy.free_ns = now;
		if (!z->zone_dirty_tail)
			z->zone_kick = true;
		dl_insert_after(z, z->zone_dirty_tail, head);
	}
}

/* Free [idx, idx + npages) of @z as maximal naturally aligned blocks. */
static void zone_free_range(struct zone *z, size_t idx, size_t npages,
                            bool dirty, uint64_t now)
{
	size_t off = 0;
	while (off < npages) {
		size_t i = idx + off;
		unsigned int k = i ? (unsigned int)__builtin_ctzl(i) : SM_SECTION_ORDER;
		if (k > SM_SECTION_ORDER)
			k = SM_SECTION_ORDER;
		while (NPAGES(k) > npages - off)
			k--;
		zone_free_one(z, &z->zone_mem_map[i], k, dirty, now);
		off += NPAGES(k);
	}
}

/* ---- decay ---- */

/* Zone lock held. True when the oldest dirty block is past its decay and no
 * purge was started recently; claims the purge for the caller. */
static bool zone_decay_due(struct zone *z, uint64_t now)
{
	const struct page *h = z->zone_dirty_head;
	uint64_t decay = SM_READ_ONCE(buddy_decay_ns);
	if (!h || now <= h->buddy.free_ns || now - h->buddy.free_ns < decay ||
	    now < z->zone_next_decay_ns)
		return false;
	z->zone_next_decay_ns = now + decay / 8;
	return true;
}

static void purging_add(struct zone *z, struct page *pg)
{
	pg->buddy.prev = NULL;
	pg->buddy.next = z->zone_purging;
	if (z->zone_purging)
		z->zone_purging->buddy.prev = pg;
	z->zone_purging = pg;
	z->zone_purging_pages += NPAGES(pg->order);
}

static void purging_del(struct zone *z, struct page *pg)
{
	if (pg->buddy.prev)
		pg->buddy.prev->buddy.next = pg->buddy.next;
	else
		z->zone_purging = pg->buddy.next;
	if (pg->buddy.next)
		pg->buddy.next->buddy.prev = pg->buddy.prev;
	z->zone_purging_pages -= NPAGES(pg->order);
}

/* Return dirty free blocks of @z to the OS, oldest first: all of them
 * (@all), else those older than the decay period and at least @npages
 * pages more. RETURNS: bytes madvised. */
static size_t zone_purge_n(struct zone *z, bool all, size_t npages)
{
	struct page *batch[BUDDY_PURGE_BATCH];
	size_t bytes = 0;

	if (!z->zone_span)
		return 0;
	sm_mutex_lock(&z->zone_lock);
	uint64_t now = os_now_ns();
	uint64_t decay = SM_READ_ONCE(buddy_decay_ns);
	uint64_t cutoff = all ? now : (now > decay ? now - decay : 0);
	for (;;) {
		unsigned int n = 0;
		size_t held = 0;
		struct page *h;
		while (n < BUDDY_PURGE_BATCH && held < BUDDY_PURGE_BATCH_PAGES &&
		       (h = z->zone_dirty_head) != NULL &&
		       (h->buddy.free_ns <= cutoff || npages)) {
			unsigned int o = h->order;
			held += NPAGES(o);
			npages -= npages < NPAGES(o) ? npages : NPAGES(o);
			fa_del(z, h, o);
			dl_del(z, h);
			h->flags = PG_purge;
			purging_add(z, h);
			batch[n++] = h;
		}
		if (n == 0)
			break;
		/* The batch stays ours on zone_purging while the lock is
		 * dropped: sm_lock_depth keeps counting the zone lock, so a
		 * fork from a signal handler here neither waits for the lock
		 * nor lets the child sweep zone_purging (init.c, fork). */
		pthread_mutex_unlock(&z->zone_lock);
		size_t done = 0;
		for (unsigned int i = 0; i < n; i++) {
			size_t len = SM_PAGE_SIZE << batch[i]->order;
			if (os_purge(zone_page_addr(z, page_index(z, batch[i])), len) == 0)
				done += len;
		}
		pthread_mutex_lock(&z->zone_lock);
		now = os_now_ns();
		for (unsigned int i = 0; i < n; i++) {
			size_t bi = page_index(z, batch[i]);
			purging_del(z, batch[i]);
			zone_free_one(z, batch[i], batch[i]->order, false, now);
			section_settle(z, bi);
		}
		SM_WRITE_ONCE(z->zone_purge_seq, z->zone_purge_seq + 1);
		z->zone_purged_bytes += done;
		bytes += done;
	}
	zone_unlock(z);
	return bytes;
}

static size_t zone_purge(struct zone *z, bool all)
{
	return zone_purge_n(z, all, 0);
}

/*
 * The background thread's task for @z (theory 5): the smooth decay. Time
 * is cut into epochs of decay/BUDDY_DECAY_STEPS; zone_backlog[i] holds the
 * pages that became dirty i+1 epochs ago (the growth of zone_dirty_pages
 * over that epoch, jemalloc's measure). A page of age a may stay dirty
 * with weight 1 - a/decay, so the zone keeps at most
 *   limit = sum of backlog[i] * (STEPS - 1 - i) / STEPS
 * dirty pages and purges the surplus, oldest first: memory freed at once
 * goes back in equal parts over one decay period instead of all at its
 * end. RETURNS: the next epoch's end, or 0 when nothing is dirty.
 */
static uint64_t zone_decay_tick(struct zone *z, uint64_t now)
{
	if (!z->zone_span)
		return 0;
	uint64_t decay = SM_READ_ONCE(buddy_decay_ns);
	uint64_t step = decay / BUDDY_DECAY_STEPS ? decay / BUDDY_DECAY_STEPS : 1;
	size_t surplus = 0;
	bool all = decay == 0;

	sm_mutex_lock(&z->zone_lock);
	uint64_t k = now > z->zone_epoch_ns ? (now - z->zone_epoch_ns) / step : 0;
	if (k > BUDDY_DECAY_STEPS) {
		/* Back from an idle sleep: nothing of the old backlog is left
		 * to weigh, and the pages dirtied since are young. */
		memset(z->zone_backlog, 0, sizeof z->zone_backlog);
		z->zone_epoch_ns = now;
	} else if (k) {
		memmove(&z->zone_backlog[k], &z->zone_backlog[0],
		        (BUDDY_DECAY_STEPS - k) * sizeof z->zone_backlog[0]);
		memset(&z->zone_backlog[1], 0, (k - 1) * sizeof z->zone_backlog[0]);
		z->zone_backlog[0] = z->zone_dirty_pages > z->zone_epoch_dirty ?
		                     z->zone_dirty_pages - z->zone_epoch_dirty : 0;
		z->zone_epoch_ns += k * step;
		size_t limit = 0;
		for (unsigned int i = 0; i < BUDDY_DECAY_STEPS; i++)
			limit += z->zone_backlog[i] * (BUDDY_DECAY_STEPS - 1 - i) /
			         BUDDY_DECAY_STEPS;
		if (z->zone_dirty_pages > limit)
			surplus = z->zone_dirty_pages - limit;
	}
	sm_mutex_unlock(&z->zone_lock);

	if (surplus || all || z->zone_dirty_head)
		zone_purge_n(z, all, surplus);

	sm_mutex_lock(&z->zone_lock);
	z->zone_epoch_dirty = z->zone_dirty_pages;
	bool busy = z->zone_dirty_head != NULL;
	for (unsigned int i = 0; i < BUDDY_DECAY_STEPS && !busy; i++)
		busy = z->zone_backlog[i] != 0;
	uint64_t next = busy ? z->zone_epoch_ns + step : 0;
	sm_mutex_unlock(&z->zone_lock);
	return next;
}

/* The page layer's task of the background thread (bgthread.c). */
static uint64_t buddy_decay_tick(uint64_t now)
{
	uint64_t next = 0;
	for (int i = 0; i < SM_NR_ZONES; i++) {
		uint64_t t = zone_decay_tick(&sm_zones[i], now);
		if (t && (!next || t < next))
			next = t;
	}
	return next;
}

/**
 * buddy_purge - return free memory to the OS.
 * @all: every dirty free block now, not only those past the decay period
 *
 * CONTEXT: may block (zone locks, madvise). Not for GFP_NOFS/NOIO reclaim.
 * RETURNS: bytes given back.
 */
size_t buddy_purge(bool all)
{
	size_t bytes = 0;
	if (!__atomic_load_n(&buddy_ready, __ATOMIC_ACQUIRE))
		return 0;
	for (int i = 0; i < SM_NR_ZONES; i++)
		bytes += zone_purge(&sm_zones[i], all);
	return bytes;
}

/* ---- per-thread page lists ---- */

/* The pages all threads' lists may hold together (theory 4). */
#define PCP_BUDGET_PAGES ((unsigned int)((32u << 20) / SM_PAGE_SIZE))

/* buddy_pcp_cap for the threads attached now; from the lists' slow paths. */
static void pcp_cap_update(void)
{
	unsigned int n = SM_READ_ONCE(sm_nr_attached);
	unsigned int cap = PCP_BUDGET_PAGES / ((n ? n : 1) * (SM_PCP_MAX_ORDER + 1));
	if (SM_READ_ONCE(buddy_pcp_cap) != cap)
		SM_WRITE_ONCE(buddy_pcp_cap, cap);
}

static inline unsigned int pcp_batch(unsigned int order)
{
	unsigned int b = pcp_high(order) / 4;
	return b ? b : 1;
}

static inline void pcp_push_tail(struct pcp_list *l, struct page *pg)
{
	pg->pcp.next = NULL;
	pg->pcp.prev = l->pl_tail;
	if (l->pl_tail)
		l->pl_tail->pcp.next = pg;
	else
		l->pl_head = pg;
	l->pl_tail = pg;
	l->pl_count++;
}

static inline struct page *pcp_pop_tail(struct pcp_list *l)
{
	struct page *pg = l->pl_tail;
	l->pl_tail = pg->pcp.prev;
	if (l->pl_tail)
		l->pl_tail->pcp.next = NULL;
	else
		l->pl_head = NULL;
	l->pl_count--;
	return pg;
}

/* First use of the lists by this thread: arm its exit hook. Threads that
 * are exiting, or that run while the allocator is still initialising (the
 * init path must not recurse into sm_init_slow), go to the zone, as do
 * orders above SM_PCP_MAX_ORDER and everything while the lists are off or
 * the library's TLS is dynamic (pcp_fast cannot reach the lists then). */
static SM_NOINLINE struct pcp_list *pcp_attach_slow(unsigned int order)
{
	if (order > SM_PCP_MAX_ORDER || !SM_READ_ONCE(buddy_pcp_high) ||
	    sm_thread_state != SM_THREAD_NEW || sm_tls_dynamic ||
	    !__atomic_load_n(&sm_initialized, __ATOMIC_ACQUIRE))
		return NULL;
	sm_thread_attach();
	pcp_cap_update();
	return sm_thread_state == SM_THREAD_ATTACHED ? &buddy_pcp[order] : NULL;
}

/* pcp_fast; a thread not attached yet is attached first (pcp_attach_slow). */
static inline struct pcp_list *pcp_get(unsigned int order)
{
	struct pcp_list *l = pcp_fast(order);
	return likely(l) ? l : pcp_attach_slow(order);
}

/* Refill an empty list with a batch from ZONE_NORMAL. */
static SM_NOINLINE bool pcp_refill(struct pcp_list *l, unsigned int order, gfp_t gfp)
{
	struct zone *z = &sm_zones[ZONE_NORMAL];
	pcp_cap_update();
	if (!zone_lock(z, gfp))
		return false;
	unsigned int n = pcp_batch(order);
	for (unsigned int i = 0; i < n; i++) {
		bool dirty;
		struct page *pg = zone_rmqueue(z, order, gfp, &dirty);
		if (!pg)
			break;
		pg->flags = PG_pcp | (dirty ? PG_dirty : 0);
		pcp_push_tail(l, pg);
	}
	zone_unlock(z);
	return l->pl_head != NULL;
}

/* Give up to @n blocks from the cold end of @l back to ZONE_NORMAL. */
static SM_NOINLINE void pcp_drain(struct pcp_list *l, unsigned int order, unsigned int n)
{
	struct zone *z = &sm_zones[ZONE_NORMAL];
	pcp_cap_update();
	sm_mutex_lock(&z->zone_lock);
	uint64_t now = os_now_ns();
	while (n-- && l->pl_tail) {
		struct page *pg = pcp_pop_tail(l);
		bool dirty = (pg->flags & PG_dirty) != 0;
		size_t idx = page_index(z, pg);
		zone_free_one(z, pg, order, dirty, now);
		if (!dirty)          /* a clean block may complete a clean section */
			section_settle(z, idx);
	}
	bool due = zone_decay_due(z, now);
	zone_unlock(z);
	if (due)
		zone_purge(z, false);
}

/**
 * buddy_drain_local - give the calling thread's page lists back (the
 * kernel's drain_local_pages).
 *
 * CONTEXT: thread exit (init.c's destructor), or any time; may block.
 */
void buddy_drain_local(void)
{
	for (unsigned int o = 0; o <= SM_PCP_MAX_ORDER; o++)
		if (buddy_pcp[o].pl_count)
			pcp_drain(&buddy_pcp[o], o, ~0u);
}

/* Bytes of free blocks on the calling thread's page lists (no lock: they
 * are the caller's own). */
size_t buddy_pcp_bytes(void)
{
	size_t pages = 0;
	for (unsigned int o = 0; o <= SM_PCP_MAX_ORDER; o++)
		pages += (size_t)buddy_pcp[o].pl_count << o;
	return pages << SM_PAGE_SHIFT;
}

/* ---- allocation and free ---- */

static struct page *buddy_alloc_block(gfp_t gfp, unsigned int order, bool *dirty)
{
	if (unlikely(order >= SM_MAX_ORDER ||
	             !__atomic_load_n(&buddy_ready, __ATOMIC_ACQUIRE)))
		return NULL;
	struct zone *z = &sm_zones[(gfp & __GFP_DMA) ? ZONE_DMA : ZONE_NORMAL];
	struct page *pg;

	if (!(gfp & __GFP_DMA)) {
		struct pcp_list *l = pcp_get(order);
		if (l) {
			if (unlikely(!l->pl_head) && !pcp_refill(l, order, gfp))
				return NULL;
			pg = (gfp & __GFP_COLD) ? pcp_pop_tail(l) : pcp_pop_head(l);
			*dirty = (pg->flags & PG_dirty) != 0;
			pg->flags = PG_head;
			return pg;
		}
	}
	if (!z->zone_span || !zone_lock(z, gfp))
		return NULL;
	pg = zone_rmqueue(z, order, gfp, dirty);
	if (pg)
		pg->flags = PG_head;
	bool due = false;
	if ((gfp & (__GFP_WAIT | __GFP_IO | __GFP_FS)) ==
	    (__GFP_WAIT | __GFP_IO | __GFP_FS) && z->zone_dirty_head)
		due = zone_decay_due(z, os_now_ns());
	zone_unlock(z);
	if (due)
		zone_purge(z, false);
	return pg;
}

/*
 * Zero @npages pages of ours at @addr for __GFP_ZERO. From 64 KiB up, a
 * caller that may block gives the pages back to the OS instead (they then
 * read as zeros and cost nothing until touched: jemalloc's choice for
 * recycled memory, and cheaper than a memset unless every page is written
 * at once); smaller ranges and non-blocking callers get a memset. The
 * first page is always zeroed in place: programs nearly always touch the
 * start of a block, and kmalloc's per-thread cache links a freed large
 * block through its first word, so a purged first page would cost two
 * page faults (a read of the zero page, then a copy on write) per calloc.
 */
#define BUDDY_ZERO_PURGE_PAGES 16
void buddy_zero_pages(void *addr, size_t npages, gfp_t gfp)
{
	if (npages >= BUDDY_ZERO_PURGE_PAGES && (gfp & __GFP_WAIT) &&
	    os_purge((char *)addr + SM_PAGE_SIZE, (npages - 1) << SM_PAGE_SHIFT) == 0) {
		memset(addr, 0, SM_PAGE_SIZE);
		return;
	}
	memset(addr, 0, npages << SM_PAGE_SHIFT);
}

struct page *buddy_alloc(gfp_t gfp, unsigned int order)
{
	bool dirty;
	struct page *pg = buddy_alloc_block(gfp, order, &dirty);
	if (pg && (gfp & __GFP_ZERO) && dirty)
		buddy_zero_pages(sm_page_to_virt(pg), NPAGES(order), gfp);
	return pg;
}

/* A freed block (head already checked) goes to the thread's list or the zone. */
static void buddy_free_block(struct zone *z, struct page *pg, unsigned int order,
                             bool cold)
{
	if (z == &sm_zones[ZONE_NORMAL]) {
		struct pcp_list *l = pcp_get(order);
		if (l) {
			pg->flags = PG_pcp | PG_dirty;
			if (cold)
				pcp_push_tail(l, pg);
			else
				pcp_push_head(l, pg);
			unsigned int high = pcp_high(order);
			if (unlikely(l->pl_count > high))   /* down to below the mark */
				pcp_drain(l, order, l->pl_count - high - 1 + pcp_batch(order));
			return;
		}
	}
	sm_mutex_lock(&z->zone_lock);
	uint64_t now = os_now_ns();
	zone_free_one(z, pg, order, true, now);
	bool due = zone_decay_due(z, now);
	zone_unlock(z);
	if (due)
		zone_purge(z, false);
}

/* The block around page @idx of @z: found at the aligned index of each
 * order (free blocks and blocks from buddy_alloc are naturally aligned), or
 * for an exact range grown in place, which need not be, at the nearest
 * head below. */
static enum sm_block_state block_around(const struct zone *z, size_t idx,
                                           size_t *head, size_t *npages)
{
	for (unsigned int k = 0; k < SM_MAX_ORDER; k++) {
		size_t h = idx & ~(NPAGES(k) - 1);
		const struct page *hp = &z->zone_mem_map[h];
		if ((hp->flags & (PG_buddy | PG_pcp | PG_purge)) && hp->order >= k) {
			*head = h;
			*npages = NPAGES(hp->order);
			return SM_BLOCK_FREE;
		}
		if (hp->flags & PG_head) {
			size_t n = (hp->flags & PG_exact) ? hp->exact.npages : NPAGES(hp->order);
			if (idx < h + n) {
				*head = h;
				*npages = n;
				return (hp->flags & PG_lcached) ? SM_BLOCK_FREE : SM_BLOCK_USED;
			}
		}
	}
	for (size_t h = idx, lo = idx > NPAGES(SM_SECTION_ORDER) ?
	                         idx - NPAGES(SM_SECTION_ORDER) : 0; h-- > lo;) {
		const struct page *hp = &z->zone_mem_map[h];
		if (!(hp->flags & (PG_head | PG_buddy | PG_pcp | PG_purge)))
			continue;
		if ((hp->flags & (PG_head | PG_exact)) == (PG_head | PG_exact) &&
		    idx < h + hp->exact.npages) {
			*head = h;
			*npages = hp->exact.npages;
			return (hp->flags & PG_lcached) ? SM_BLOCK_FREE : SM_BLOCK_USED;
		}
		break;
	}
	return SM_BLOCK_NONE;
}

enum sm_block_state buddy_block_of(const void *addr, void **start, size_t *npages)
{
	struct page *pg = sm_virt_to_page(addr);
	if (!pg)
		return SM_BLOCK_NONE;
	const struct zone *z = page_zone(pg);
	size_t head = 0;
	enum sm_block_state st = block_around(z, page_index(z, pg), &head, npages);
	if (st != SM_BLOCK_NONE)
		*start = zone_page_addr(z, head);
	return st;
}

/* Why @pg (in zone @z) cannot be freed as a block of @order: one line. */
static SM_COLD SM_NORETURN void bad_free(struct zone *z, struct page *pg,
                                         unsigned int order, const char *caller)
{
	size_t idx = page_index(z, pg);
	void *addr = zone_page_addr(z, idx);

	if (pg->flags & (PG_buddy | PG_pcp | PG_purge | PG_lcached))
		sm_fatal("%s(): double free of %p (order %u)", caller, addr,
		         (unsigned int)pg->order);
	if (pg->flags & PG_head) {
		if (pg->flags & PG_exact)
			sm_fatal("%s(): invalid address %p (allocated by alloc_pages_exact)",
			         caller, addr);
		sm_fatal("%s(): wrong order %u for block of order %u at %p", caller,
		         order, (unsigned int)pg->order, addr);
	}
	if (section_is_offline(z, idx))
		sm_fatal("%s(): invalid address %p (not allocated: memory given back to "
		         "the system)", caller, addr);
	/* Not a head: the block around it. */
	size_t h = 0, n = 0;
	switch (block_around(z, idx, &h, &n)) {
	case SM_BLOCK_FREE:
		/* A head is an exact range in a thread's large cache: "inside". */
		if (!(z->zone_mem_map[h].flags & PG_head))
			sm_fatal("%s(): double free of %p (inside a free block of order %u at %p)",
			         caller, addr, (unsigned int)z->zone_mem_map[h].order,
			         zone_page_addr(z, h));
		/* fall through */
	case SM_BLOCK_USED:
		sm_fatal("%s(): invalid address %p (inside the block at %p)",
		         caller, addr, zone_page_addr(z, h));
	case SM_BLOCK_NONE:
		break;
	}
	sm_fatal("%s(): invalid address %p", caller, addr);
}

/* Upper layers left their marks on the block: wipe them (slab pages carry
 * slab_cache on every page, which kfree reads). */
static void clear_upper_marks(struct page *pg, size_t npages)
{
	pg->flags &= ~(uint32_t)(PG_slab | PG_large | PG_lcached);
	for (size_t i = 0; i < npages; i++) {
		pg[i].slab_key = buddy_slab_key_none;
		pg[i].slab_cache = NULL;
		pg[i].slab_base = SM_SLAB_BASE_NONE;
	}
}

void buddy_free_common(struct page *pg, unsigned int order,
                              const char *caller, bool cold)
{
	struct zone *z = page_zone_checked(pg);
	if (unlikely(!z))
		sm_fatal("%s(): invalid page %p", caller, (void *)pg);
	if (unlikely((pg->flags & (PG_head | PG_buddy | PG_pcp | PG_purge | PG_exact |
	                           PG_lcached)) != PG_head || pg->order != order))
		bad_free(z, pg, order, caller);
	if (pg->slab_cache || (pg->flags & (PG_slab | PG_large)))
		clear_upper_marks(pg, NPAGES(order));
	buddy_free_block(z, pg, order, cold);
}

void buddy_free(struct page *pg, unsigned int order, const char *caller)
{
	buddy_free_common(pg, order, caller, false);
}

/* ---- alloc_pages_exact ---- */

void *buddy_alloc_exact(size_t size, gfp_t gfp)
{
	if (size == 0 || size > SM_SECTION_SIZE ||
	    !__atomic_load_n(&buddy_ready, __ATOMIC_ACQUIRE))
		return NULL;
	size_t npages = (size + SM_PAGE_SIZE - 1) >> SM_PAGE_SHIFT;
	unsigned int order = (unsigned int)get_order(size);
	struct zone *z = &sm_zones[(gfp & __GFP_DMA) ? ZONE_DMA : ZONE_NORMAL];
	bool dirty = false;

	if (!z->zone_span || !zone_lock(z, gfp))
		return NULL;
	struct page *pg = zone_rmqueue(z, order, gfp, &dirty);
	if (pg) {
		/* The tail was never handed out: it keeps the block's state. */
		if (npages < NPAGES(order))
			zone_free_range(z, page_index(z, pg) + npages,
			                NPAGES(order) - npages, dirty, os_now_ns());
		pg->flags = PG_head | PG_exact;
		pg->order = (uint8_t)order;
		pg->exact.npages = npages;
	}
	zone_unlock(z);
	if (!pg)
		return NULL;
	void *addr = sm_page_to_virt(pg);
	if ((gfp & __GFP_ZERO) && dirty)
		buddy_zero_pages(addr, npages, gfp);
	return addr;
}

/* Descriptor of a page-aligned address of ours that the caller may free. */
struct page *free_addr_to_page(const void *addr, const char *caller)
{
	struct page *pg = sm_virt_to_page(addr);
	if (unlikely(!pg || ((uintptr_t)addr & (SM_PAGE_SIZE - 1))))
		sm_fatal("%s(): invalid address %p", caller, addr);
	return pg;
}

void buddy_free_exact(void *addr, size_t size, const char *caller)
{
	struct page *pg = free_addr_to_page(addr, caller);
	struct zone *z = page_zone(pg);
	if (unlikely((pg->flags & (PG_head | PG_exact | PG_buddy | PG_pcp | PG_purge |
	                           PG_lcached)) != (PG_head | PG_exact))) {
		if ((pg->flags & (PG_head | PG_buddy | PG_pcp | PG_purge | PG_lcached)) ==
		    PG_head)
			sm_fatal("%s(): invalid address %p (not allocated by alloc_pages_exact)",
			         caller, addr);
		bad_free(z, pg, pg->order, caller);
	}
	size_t npages = (size + SM_PAGE_SIZE - 1) >> SM_PAGE_SHIFT;
	if (unlikely(size == 0 || size > SM_SECTION_SIZE || npages != pg->exact.npages))
		sm_fatal("%s(): wrong size %zu for the range of %zu pages at %p", caller,
		         size, pg->exact.npages, addr);
	clear_upper_marks(pg, npages);
	sm_mutex_lock(&z->zone_lock);
	uint64_t now = os_now_ns();
	zone_free_range(z, page_index(z, pg), npages, true, now);
	bool due = zone_decay_due(z, now);
	zone_unlock(z);
	if (due)
		zone_purge(z, false);
}

/* ---- in-place resizing of exact ranges ---- */

/*
 * The free block (PG_buddy head) holding page @idx of @z, or NULL when the
 * page is allocated, on a per-thread list or being purged. Free blocks are
 * naturally aligned, so the head is @idx rounded down to the block's order:
 * try the orders upwards (the kernel's __find_buddy arithmetic). A head
 * found at order k with a smaller order covers other pages, never @idx (it
 * would have been found at its own order). Zone lock held, @idx grown.
 */
static struct page *free_block_of(struct zone *z, size_t idx)
{
	for (unsigned int k = 0; k < SM_MAX_ORDER; k++) {
		struct page *h = &z->zone_mem_map[idx & ~(NPAGES(k) - 1)];
		if ((h->flags & PG_buddy) && h->order >= k)
			return h;
	}
	return NULL;
}

/* The free block of order @k at page @idx: on its free list, and when
 * @dirty on the dirty list after @anchor with age @t. RETURNS: the anchor
 * for the next piece (this one when dirty, else @anchor). */
static struct page *give_back_piece(struct zone *z, size_t idx, unsigned int k, bool dirty,
                                    uint64_t t, struct page *anchor)
{
	struct page *b = &z->zone_mem_map[idx];
	b->flags = PG_buddy | (dirty ? PG_dirty : 0);
	b->order = (uint8_t)k;
	fa_add(z, b, k);
	if (!dirty)
		return anchor;
	b->buddy.free_ns = t;
	dl_insert_after(z, anchor, b);
	return b;
}

/*
 * Give [idx, end) back as free blocks, where end is the (aligned) end of a
 * free block that was just taken whole and [.., idx) is allocated. Greedy
 * from the left, the pieces grow in size and the buddy of each one holds
 * page idx - 1, so none can merge: they go straight to the free areas and,
 * when dirty, into the taken block's place on the dirty list (after
 * @anchor) with its age @t, as the halves of a split do in zone_rmqueue.
 */
static void give_back_tail(struct zone *z, size_t idx, size_t end, bool dirty,
                           uint64_t t, struct page *anchor)
{
	while (idx < end) {
		unsigned int k = (unsigned int)__builtin_ctzl(idx);
		while (NPAGES(k) > end - idx)
			k--;
		anchor = give_back_piece(z, idx, k, dirty, t, anchor);
		idx += NPAGES(k);
	}
}

/*
 * Give [idx, end) back as free blocks, where [idx, end) is the start of a
 * free block that was just taken whole (its pages from @end on are
 * allocated now). Greedy from the left, the pieces shrink and the buddy of
 * each holds page end, so none can merge; on the dirty list they take the
 * block's place and age, as in give_back_tail. RETURNS: the last piece put
 * on the dirty list (the anchor for what follows), or @anchor.
 */
static struct page *give_back_head(struct zone *z, size_t idx, size_t end, bool dirty,
                                   uint64_t t, struct page *anchor)
{
	while (idx < end) {
		unsigned int k = (unsigned int)(63 - __builtin_clzl(end - idx));
		anchor = give_back_piece(z, idx, k, dirty, t, anchor);
		idx += NPAGES(k);
	}
	return anchor;
}

/*
 * Take the pages [start, end) of @z, every one of them in a free block:
 * whole blocks off the free areas, the part of the first one before @start
 * and of the last one from @end on back (give_back_head, give_back_tail).
 * Their heads become interior pages (flags 0). Zone lock held. RETURNS:
 * whether some page taken may be non-zero (a dirty block).
 */
static bool zone_take_run(struct zone *z, size_t start, size_t end)
{
	bool dirty = false;
	for (size_t j = start; j < end;) {
		struct page *b = free_block_of(z, j);
		sm_assert(b && (j == start || page_index(z, b) == j) && !(b->flags & PG_tmpl));
		size_t bstart = page_index(z, b);
		unsigned int o = b->order;
		bool d = (b->flags & PG_dirty) != 0;
		uint64_t t = b->buddy.free_ns;
		struct page *anchor = NULL;
		fa_del(z, b, o);
		if (d) {
			anchor = b->buddy.dprev;
			dl_del(z, b);
			dirty = true;
		}
		b->flags = 0;
		b->order = 0;
		if (bstart < j)
			anchor = give_back_head(z, bstart, j, d, t, anchor);
		size_t bend = bstart + NPAGES(o);
		if (bend > end)
			give_back_tail(z, end, bend, d, t, anchor);
		j = bend;
	}
	return dirty;
}

/*
 * Grow the exact range at @head from @old_n to @new_n pages when every page
 * of [old_end, new_end) is free in the buddy. Zone lock held. All or
 * nothing: the checks run before anything is changed. *@dirty tells whether
 * some page taken may be non-zero.
 */
static bool exact_grow_locked(struct zone *z, struct page *head, size_t old_n,
                              size_t new_n, gfp_t gfp, bool *dirty)
{
	size_t idx = page_index(z, head);
	size_t start = idx + old_n, end = idx + new_n, need = new_n - old_n;
	size_t np = zone_npages(z);

	*dirty = false;
	/* The emergency reserve, as zone_rmqueue keeps it: free afterwards,
	 * counting the section grown below when the range runs past. */
	if (!(gfp & __GFP_HIGH)) {
		size_t avail = z->zone_free_pages +
		               (end > np ? NPAGES(SM_SECTION_ORDER) : 0);
		if (avail < need + buddy_reserve_pages)
			return false;
	}
	/* Pass 1: every grown page of the range lies in a free block. A free
	 * block holding page j starts at j (page j - 1 is allocated: ours, or
	 * taken below), so the walk jumps from block end to block end. */
	for (size_t j = start; j < end && j < np;) {
		struct page *b = free_block_of(z, j);
		if (!b)
			return false;
		j = page_index(z, b) + NPAGES(b->order);
	}
	/* Past the grown part: zones grow by appending one free section at
	 * zone_limit (the range spans under one section, so one suffices),
	 * exactly what zone_rmqueue would do when it runs out; but not while
	 * the zone's free pages could hold the whole range elsewhere (the
	 * caller then moves it): a heap must not grow under a steady load. */
	if (end > np && (z->zone_free_pages >= new_n + buddy_reserve_pages ||
	                 !zone_extend(z, gfp)))
		return false;

	/* Pass 2: take the blocks. */
	if (!run_materialize(z, start, end))
		return false;
	*dirty = zone_take_run(z, start, end);
	return true;
}

/**
 * buddy_resize_exact - resize an alloc_pages_exact range in place.
 * @addr: start of the range (from buddy_alloc_exact, or resized before)
 * @old_size: the size it has now (PAGE_ALIGN(@old_size) = its pages)
 * @new_size: the size wanted, 1..4 MiB
 * @gfp: __GFP_WAIT (else the zone lock is only try-locked), __GFP_HIGH (may
 *       take the emergency reserve), __GFP_ZERO (the pages added read as
 *       zeros)
 *
 * Shrinking gives the pages past PAGE_ALIGN(@new_size) back to the buddy
 * (dirty, coalescing). Growing takes the pages after the range when every
 * one of them is in a free block of the buddy (not on a per-thread list,
 * not being purged, not allocated), growing the zone by a section when the
 * range runs past its grown part. The head keeps its flags (PG_large ...)
 * and gets the new exact.npages and .order, so buddy_free_exact(@addr,
 * @new_size) frees exactly the new range. A wrong @old_size or an address
 * that is not a live exact range stops the program with one line.
 *
 * CONTEXT: any thread; blocks only if @gfp allows it.
 * RETURNS: true when the range now has PAGE_ALIGN(@new_size) pages; false
 * (nothing changed) when the pages are not free, the lock is busy without
 * __GFP_WAIT, or @new_size is 0 or above 4 MiB.
 */
bool buddy_resize_exact(void *addr, size_t old_size, size_t new_size, gfp_t gfp)
{
	static const char caller[] = "buddy_resize_exact";
	struct page *pg = free_addr_to_page(addr, caller);
	struct zone *z = page_zone(pg);

	if (unlikely((pg->flags & (PG_head | PG_exact | PG_buddy | PG_pcp | PG_purge |
	                           PG_lcached)) != (PG_head | PG_exact)))
		sm_fatal("%s(): %p is not a live alloc_pages_exact range (flags 0x%x)",
		         caller, addr, pg->flags);
	size_t old_n = (old_size + SM_PAGE_SIZE - 1) >> SM_PAGE_SHIFT;
	if (unlikely(old_size == 0 || old_size > SM_SECTION_SIZE ||
	             old_n != pg->exact.npages))
		sm_fatal("%s(): wrong size %zu for the range of %zu pages at %p", caller,
		         old_size, pg->exact.npages, addr);
	if (new_size == 0 || new_size > SM_SECTION_SIZE)
		return false;
	size_t new_n = (new_size + SM_PAGE_SIZE - 1) >> SM_PAGE_SHIFT;
	if (new_n == old_n)
		return true;
	if (!zone_lock(z, gfp))
		return false;

	bool dirty = false, due = false;
	if (new_n < old_n) {
		size_t tail = page_index(z, pg) + new_n;
		for (size_t i = 0; i < old_n - new_n; i++) {
			z->zone_mem_map[tail + i].slab_key = buddy_slab_key_none;
			z->zone_mem_map[tail + i].slab_cache = NULL;
			z->zone_mem_map[tail + i].slab_base = SM_SLAB_BASE_NONE;
		}
		uint64_t now = os_now_ns();
		zone_free_range(z, tail, old_n - new_n, true, now);
		if ((gfp & (__GFP_WAIT | __GFP_IO | __GFP_FS)) ==
		    (__GFP_WAIT | __GFP_IO | __GFP_FS))
			due = zone_decay_due(z, now);
	} else if (!exact_grow_locked(z, pg, old_n, new_n, gfp, &dirty)) {
		zone_unlock(z);
		return false;
	}
	pg->order = (uint8_t)get_order(new_n << SM_PAGE_SHIFT);
	pg->exact.npages = new_n;
	zone_unlock(z);
	if (due)
		zone_purge(z, false);
	if (new_n > old_n && (gfp & __GFP_ZERO) && dirty)
		buddy_zero_pages((char *)addr + (old_n << SM_PAGE_SHIFT), new_n - old_n, gfp);
	return true;
}

/* ---- exact ranges packed into runs of free pages (theory 9) ---- */

#define RUN_CANDIDATES 8         /* free blocks looked at per order */
#define RUN_LEFT_STEPS 24        /* free blocks walked back to a run's start */
/* Ranges of this many pages or more (256 KiB) look at every fragment
 * before they split a block of their order (theory 9). */
#define RUN_ALL_PAGES  64

/* The first page of the run of free pages that holds the free block at
 * @idx: free blocks are walked back while the page before is free (at most
 * RUN_LEFT_STEPS of them; the run then starts a little later). */
static size_t run_start(struct zone *z, size_t idx)
{
	for (unsigned int s = 0; s < RUN_LEFT_STEPS && idx > 0; s++) {
		struct page *b = free_block_of(z, idx - 1);
		if (!b)
			break;
		idx = page_index(z, b);
	}
	return idx;
}

/* Free pages from @idx (the head of a free block) onwards, block after
 * block, counted up to @cap: a free block holding the page after a free
 * block starts at that page. */
static size_t run_length(struct zone *z, size_t idx, size_t cap)
{
	size_t np = zone_npages(z), j = idx;
	while (j < np && j - idx < cap && (z->zone_mem_map[j].flags & PG_buddy))
		j += NPAGES(z->zone_mem_map[j].order);
	return j - idx;
}

/*
 * The run of free pages that holds the free block at @idx, as a place for
 * @npages pages aligned to @align pages: the aligned start, or SIZE_MAX
 * when the run is too short; *@len is the run's length (counted up to
 * @cap past the start), for best fit.
 */
static size_t run_fit(struct zone *z, size_t idx, size_t npages, size_t align,
                      size_t cap, size_t *len)
{
	size_t st = run_start(z, idx);
	size_t s = (st + align - 1) & ~(align - 1);
	size_t l = run_length(z, st, cap + (s - st));
	*len = l;
	return l >= s - st + npages ? s : SIZE_MAX;
}

/*
 * The best place among runs through free blocks smaller than the request:
 * the aligned start in the shortest run that holds @npages pages (lengths
 * counted up to npages + 2^order), looking at @per_order blocks of each
 * order that such a run must contain; or SIZE_MAX. The free blocks of a
 * run are its maximal aligned pieces (no two free buddies of one order
 * coexist), so a run of n pages holds a block of order
 * floor(log2(n + 1)) - 1 or more. Zone lock held.
 */
static size_t run_find_fragments(struct zone *z, size_t npages, size_t align,
                                 unsigned int order, size_t per_order)
{
	size_t best = SIZE_MAX, best_len = SIZE_MAX, cap = npages + NPAGES(order);
	unsigned int kmin = (unsigned int)(63 - __builtin_clzl(npages + 1));
	kmin = kmin ? kmin - 1 : 0;
	for (unsigned int k = order; k-- > kmin;) {
		struct page *b = z->zone_free_area[k].fa_head;
		for (size_t c = 0; b && c < per_order; c++, b = b->buddy.next) {
			size_t len;
			size_t st = run_fit(z, page_index(z, b), npages, align, cap, &len);
			if (st != SIZE_MAX && len < best_len) {
				best = st;
				best_len = len;
				if (len == npages)
					return best;
			}
		}
	}
	return best;
}

/*
 * Where @npages pages aligned to @align pages go (@order: the order of
 * both, so a free block of that order holds them): the start of a run of
 * free pages that holds them, or SIZE_MAX. Fragments first (a few blocks
 * of each order), then a block of @order or above, taken from the start
 * of its own run (so free pages before it are used first), and only when
 * there is none, every fragment. Zone lock held.
 */
static size_t run_find(struct zone *z, size_t npages, size_t align, unsigned int order)
{
	size_t len, st = run_find_fragments(z, npages, align, order,
	                                    npages >= RUN_ALL_PAGES ? SIZE_MAX : RUN_CANDIDATES);
	if (st != SIZE_MAX)
		return st;
	for (unsigned int o = order; o < SM_MAX_ORDER; o++) {
		struct page *b = z->zone_free_area[o].fa_head;
		if (b)
			return run_fit(z, page_index(z, b), npages, align, npages, &len);
	}
	return run_find_fragments(z, npages, align, order, SIZE_MAX);
}

/**
 * buddy_alloc_range - an exact range packed into the free pages.
 * @size: bytes, 1 .. 4 MiB; the range has PAGE_ALIGN(@size) pages
 * @align: its alignment in bytes, a power of two up to 4 MiB (a page or
 *         less: page aligned)
 * @gfp: __GFP_DMA (zone), __GFP_WAIT (else trylock, no growth), __GFP_HIGH
 *       (may take the emergency reserve), __GFP_ZERO
 *
 * Like buddy_alloc_exact(), but aligned to @align only: the pages are
 * taken from a run of free pages, fragments first (theory 9), so that
 * ranges which are not a power of two of pages fill the heap instead of
 * leaving tails that nothing can use. The zone grows only when no run is
 * long enough. Free it with buddy_free_exact(); buddy_resize_exact()
 * resizes it.
 *
 * CONTEXT: any thread; blocks only if @gfp allows it.
 * RETURNS: the start of the range, or NULL (errno ENOMEM when a growth was
 * refused).
 */
void *buddy_alloc_range(size_t size, size_t align, gfp_t gfp)
{
	if (size == 0 || size > SM_SECTION_SIZE || align > SM_SECTION_SIZE ||
	    (align & (align - 1)) || !__atomic_load_n(&buddy_ready, __ATOMIC_ACQUIRE))
		return NULL;
	size_t npages = (size + SM_PAGE_SIZE - 1) >> SM_PAGE_SHIFT;
	size_t apages = align > SM_PAGE_SIZE ? align >> SM_PAGE_SHIFT : 1;
	unsigned int order = (unsigned int)get_order(size);
	unsigned int worder = (unsigned int)get_order(apages > npages ?
	                                              apages << SM_PAGE_SHIFT : size);
	struct zone *z = &sm_zones[(gfp & __GFP_DMA) ? ZONE_DMA : ZONE_NORMAL];

	if (!z->zone_span || !zone_lock(z, gfp))
		return NULL;
	/* A purge in flight is waited for before the zone grows. */
	unsigned int waits = 0;
	/* The emergency reserve stays free, as in zone_rmqueue. */
	while (!(gfp & __GFP_HIGH) && z->zone_free_pages < npages + buddy_reserve_pages) {
		if (zone_wait_purge(z, gfp, &waits))
			continue;
		size_t avail = z->zone_free_pages + z->zone_offline_pages +
		               ((z->zone_span - z->zone_limit) >> SM_PAGE_SHIFT);
		if (avail < npages + buddy_reserve_pages || !zone_grow(z, gfp))
			goto fail;
	}
	size_t start = run_find(z, npages, apages, worder);
	while (start == SIZE_MAX && zone_wait_purge(z, gfp, &waits))
		start = run_find(z, npages, apages, worder);
	if (start == SIZE_MAX) {
		if (!zone_grow(z, gfp))
			goto fail;
		start = run_find(z, npages, apages, worder);
		sm_assert(start != SIZE_MAX);
	}
	if (!run_materialize(z, start, start + npages))
		goto fail;
	bool dirty = zone_take_run(z, start, start + npages);
	struct page *pg = &z->zone_mem_map[start];
	pg->flags = PG_head | PG_exact;
	pg->order = (uint8_t)order;
	pg->exact.npages = npages;
	zone_unlock(z);
	void *addr = sm_page_to_virt(pg);
	if ((gfp & __GFP_ZERO) && dirty)
		buddy_zero_pages(addr, npages, gfp);
	return addr;
fail:
	zone_unlock(z);
	return NULL;
}

/* ---- initialisation and fork ---- */

/* Where the zones go (theory 1). */
#define NORMAL_SPAN_MAX ((size_t)64 << 30)
#define DMA_SPAN        ((size_t)256 << 20)
#define DMA_LOW         ((uintptr_t)2 << 30)     /* DMA slots: [2 GiB, 4 GiB) */
#define DMA_HIGH        ((uintptr_t)4 << 30)
#define PLACE_TRIES     16

static size_t map_bytes_for(size_t span)
{
	return (span >> SM_PAGE_SHIFT) * sizeof(struct page);
}

/* Nothing is mapped at the first and last page of [@a, @a + @len). */
static bool range_unmapped(uintptr_t a, size_t len)
{
	return !os_is_mapped((void *)a) && !os_is_mapped((void *)(a + len - SM_PAGE_SIZE));
}

/* Choose the zones' addresses and their mem_maps' without mapping
 * anything. A zone that finds no place stays empty (zone_span 0). */
static void zones_place(void)
{
	struct zone *n = &sm_zones[ZONE_NORMAL], *d = &sm_zones[ZONE_DMA];
	uintptr_t top = os_user_top();
	size_t span = NORMAL_SPAN_MAX;
	while (span > SM_SECTION_SIZE && span > top / 64)
		span >>= 1;
	/* Slots of the span in [top/8, top/4); the first is left out (it
	 * borders what lies below) and the last holds the mem_maps of a zone
	 * in the slot before it. */
	size_t nslots = (size_t)(top / 8 / span);
	size_t maps = map_bytes_for(span) + map_bytes_for(DMA_SPAN);
	if (nslots >= 3) {
		size_t k0 = (size_t)os_random();
		for (size_t t = 0; t < PLACE_TRIES; t++) {
			uintptr_t base = top / 8 + (1 + (k0 + t) % (nslots - 2)) * span;
			if (!range_unmapped(base, span) || !range_unmapped(base + span, maps))
				continue;
			n->zone_base = base;
			n->zone_span = span;
			n->zone_mem_map = (struct page *)(base + span);
			d->zone_mem_map = (struct page *)(base + span + map_bytes_for(span));
			break;
		}
	}
	if (!n->zone_span) {
		sm_warn("no address range for the page allocator");
		return;
	}
	if (top <= DMA_HIGH)
		return;
	size_t dslots = (DMA_HIGH - DMA_LOW) / DMA_SPAN;
	size_t k0 = (size_t)os_random();
	for (size_t t = 0; t < dslots; t++) {
		uintptr_t base = DMA_LOW + ((k0 + t) % dslots) * DMA_SPAN;
		if (range_unmapped(base, DMA_SPAN)) {
			d->zone_base = base;
			d->zone_span = DMA_SPAN;
			return;
		}
	}
}

/**
 * buddy_init - place the zones (theory 1); nothing is mapped yet.
 *
 * CONTEXT: sm_init_layers(), once, under sm_init_lock.
 */
int32_t buddy_slab_key_none;

void buddy_set_slab_key_none(int32_t key)
{
	/* Before any kmalloc slab exists: restamp what the zones have grown. */
	for (int i = 0; i < SM_NR_ZONES; i++) {
		struct zone *z = &sm_zones[i];
		sm_mutex_lock(&z->zone_lock);
		if (i == 0)
			SM_WRITE_ONCE(buddy_slab_key_none, key);
		size_t n = z->zone_limit >> SM_PAGE_SHIFT;
		if (i == ZONE_NORMAL && window_pages > n)
			n = window_pages;
		for (size_t j = 0; j < n; j++)
			z->zone_mem_map[j].slab_key = key;
		if (i == ZONE_NORMAL && z->zone_span)
			tmpl_init(z, key);
		/* The key is known: the fast paths' window opens (or, when
		 * its descriptors cannot be mapped now, with the next growth). */
		if (i == ZONE_NORMAL && z->zone_span) {
			window_wanted = true;
			window_cover(z, z->zone_limit ? z->zone_limit >> SM_PAGE_SHIFT
			                               : NPAGES(SM_SECTION_ORDER));
		}
		sm_mutex_unlock(&z->zone_lock);
	}
}

void buddy_init(void)
{
	if (__atomic_load_n(&buddy_ready, __ATOMIC_ACQUIRE))
		return;
#if SM_TC_SEG_FS
	if (!sm_tls_dynamic)
		buddy_pcp_key = SM_TLS_KEY_OF(buddy_pcp);
#endif
	zones_place();
	sm_bg_register(buddy_decay_tick);
	__atomic_store_n(&buddy_ready, 1, __ATOMIC_RELEASE);
}

void buddy_prefork(void)
{
	sm_mutex_lock(&sm_zones[ZONE_DMA].zone_lock);
	sm_mutex_lock(&sm_zones[ZONE_NORMAL].zone_lock);
}

void buddy_postfork_parent(void)
{
	sm_mutex_unlock(&sm_zones[ZONE_NORMAL].zone_lock);
	sm_mutex_unlock(&sm_zones[ZONE_DMA].zone_lock);
}

void buddy_postfork_child(void)
{
	for (int i = 0; i < SM_NR_ZONES; i++) {
		struct zone *z = &sm_zones[i];
		pthread_mutex_init(&z->zone_lock, NULL);
		/* Blocks another thread was madvising: that thread does not
		 * exist here. They may or may not have been purged: dirty. */
		uint64_t now = os_now_ns();
		while (z->zone_purging) {
			struct page *pg = z->zone_purging;
			purging_del(z, pg);
			zone_free_one(z, pg, pg->order, true, now);
		}
	}
}

/* ---- introspection ---- */

/**
 * buddy_print_buddyinfo - free blocks per order per zone, /proc/buddyinfo
 * layout ("Node 0, zone   Normal" then one %6lu column per order).
 * @out: where to print
 *
 * CONTEXT: may block. The counts are copied under the zone lock and
 * printed after it is released (fprintf may allocate).
 */
void buddy_print_buddyinfo(FILE *out)
{
	unsigned long nr[SM_NR_ZONES][SM_MAX_ORDER];
	bool present[SM_NR_ZONES] = { false };

	for (int i = 0; i < SM_NR_ZONES; i++) {
		struct zone *z = &sm_zones[i];
		if (!z->zone_span)
			continue;
		present[i] = true;
		sm_mutex_lock(&z->zone_lock);
		for (int o = 0; o < SM_MAX_ORDER; o++)
			nr[i][o] = z->zone_free_area[o].fa_nr_free;
		zone_unlock(z);
	}
	for (int i = 0; i < SM_NR_ZONES; i++) {
		if (!present[i])
			continue;
		fprintf(out, "Node %d, zone %8s ", 0, sm_zones[i].zone_name);
		for (int o = 0; o < SM_MAX_ORDER; o++)
			fprintf(out, "%6lu ", nr[i][o]);
		fputc('\n', out);
	}
}

#define VBAD(...) do { sm_dprintf(2, "buddy_validate: " __VA_ARGS__); ok = false; } while (0)

static bool zone_validate(struct zone *z)
{
	bool ok = true;
	const char *zn = z->zone_name;
	struct page *map = z->zone_mem_map;
	size_t np = zone_npages(z);
	uint8_t zi = (uint8_t)(z - sm_zones);
	size_t nfree[SM_MAX_ORDER] = { 0 };
	size_t free_pages = 0, dirty_pages = 0, dirty_blocks = 0, purging = 0, offline = 0;

	if (!z->zone_span) {
		if (z->zone_limit || z->zone_free_pages)
			VBAD("zone %s: empty zone with limit %zu, %zu free pages\n", zn,
			     z->zone_limit, z->zone_free_pages);
		return ok;
	}
	if (z->zone_limit % SM_SECTION_SIZE || z->zone_limit > z->zone_span ||
	    z->zone_base % SM_SECTION_SIZE)
		VBAD("zone %s: base %p limit %zu span %zu not section aligned\n", zn,
		     (void *)z->zone_base, z->zone_limit, z->zone_span);
	/* The mem_map is mapped for at least the grown part, within what was
	 * set aside for it (theory 2). */
	if (z->zone_map_bytes < np * sizeof(struct page) ||
	    z->zone_map_bytes > map_bytes_for(z->zone_span) ||
	    z->zone_map_bytes % SM_PAGE_SIZE)
		VBAD("zone %s: %zu bytes of mem_map mapped for %zu pages grown\n", zn,
		     z->zone_map_bytes, np);

	/* Walk the grown part block by block: every page is covered. */
	for (size_t i = 0; i < np && ok;) {
		struct page *pg = &map[i];
		unsigned int o = pg->order;
		if (pg->zone != zi)
			VBAD("zone %s: page %zu has zone %u\n", zn, i, (unsigned)pg->zone);
		if (pg->flags & PG_buddy) {
			if (o >= SM_MAX_ORDER || (i & (NPAGES(o) - 1)) || i + NPAGES(o) > np) {
				VBAD("zone %s: free block %zu has bad order %u or alignment\n",
				     zn, i, o);
				break;
			}
			if (pg->flags & ~(uint32_t)(PG_buddy | PG_dirty | PG_tmpl) ||
			    ((pg->flags & PG_tmpl) &&
			     (pg->flags != (PG_buddy | PG_tmpl) || o != SM_SECTION_ORDER ||
			      !desc_may_view(z, i))))
				VBAD("zone %s: free block %zu has flags 0x%x\n", zn, i, pg->flags);
			if (pg->slab_cache || pg->slab_key != buddy_slab_key_none)
				VBAD("zone %s: free block %zu has a slab cache or key\n", zn, i);
			/* A stale head inside a free block sits at the start of
			 * a sub-block: check every page of small blocks, the
			 * halves' heads of big ones (cost O(order), not O(pages)).
			 * A PG_tmpl section's are views of the template (checked
			 * once, by window_validate): reading them would map them. */
			size_t jend = (pg->flags & PG_tmpl) ? DESC_HEAD_N : NPAGES(o);
			for (size_t j = 1; j < jend; j = o <= 4 ? j + 1 : j << 1)
				if (map[i + j].flags || map[i + j].slab_cache ||
				    map[i + j].slab_key != buddy_slab_key_none ||
				    map[i + j].zone != zi) {
					VBAD("zone %s: tail page %zu of free block %zu has flags 0x%x\n",
					     zn, i + j, i, map[i + j].flags);
					break;
				}
			if (o < SM_SECTION_ORDER) {
				size_t b = i ^ NPAGES(o);
				if (b > i && (map[b].flags & PG_buddy) && map[b].order == o)
					VBAD("zone %s: free buddies %zu and %zu of order %u not merged\n",
					     zn, i, b, o);
			}
			nfree[o]++;
			free_pages += NPAGES(o);
			if (pg->flags & PG_dirty) {
				dirty_pages += NPAGES(o);
				dirty_blocks++;
			}
			i += NPAGES(o);
		} else if ((pg->flags & (PG_head | PG_exact)) == (PG_head | PG_exact)) {
			/* An exact range: .order is get_order of its pages, but
			 * after in-place growth the head need not be aligned to
			 * it. Its other pages are plain (flags 0). */
			size_t n = pg->exact.npages;
			if (o >= SM_MAX_ORDER || n == 0 || n > NPAGES(o) ||
			    (o > 0 && n <= NPAGES(o - 1)) || i + n > np) {
				VBAD("zone %s: exact range %zu has %zu pages (order %u)\n",
				     zn, i, n, o);
				break;
			}
			if (pg->flags & (PG_pcp | PG_buddy | PG_purge))
				VBAD("zone %s: block %zu has flags 0x%x\n", zn, i, pg->flags);
			for (size_t j = 1; j < n; j++)
				if (map[i + j].flags || map[i + j].zone != zi) {
					VBAD("zone %s: page %zu of exact range %zu has flags 0x%x\n",
					     zn, i + j, i, map[i + j].flags);
					break;
				}
			i += n;
		} else if (pg->flags & (PG_head | PG_pcp | PG_purge)) {
			size_t n = NPAGES(o);
			if (o >= SM_MAX_ORDER || (i & (NPAGES(o) - 1))) {
				VBAD("zone %s: block %zu has bad order %u or alignment\n", zn, i, o);
				break;
			}
			if ((pg->flags & PG_pcp) && (pg->flags & (PG_head | PG_buddy)))
				VBAD("zone %s: block %zu has flags 0x%x\n", zn, i, pg->flags);
			if (pg->flags & PG_purge)
				purging += NPAGES(o);
			i += n;
		} else if (pg->flags & PG_offline) {
			/* An offline section (theory 10): unmapped unless lost,
			 * its descriptors those of a free section. */
			if (pg->flags != (PG_offline | PG_tmpl) || o != SM_SECTION_ORDER ||
			    (i & (NPAGES(SM_SECTION_ORDER) - 1)) ||
			    i + NPAGES(SM_SECTION_ORDER) > np || !desc_may_view(z, i)) {
				VBAD("zone %s: offline section %zu has flags 0x%x order %u\n",
				     zn, i, pg->flags, o);
				break;
			}
			if (pg->slab_cache || pg->slab_key != buddy_slab_key_none)
				VBAD("zone %s: offline section %zu has a slab cache or key\n", zn, i);
			for (size_t j = 1; j < DESC_HEAD_N; j++)
				if (map[i + j].flags || map[i + j].slab_cache ||
				    map[i + j].zone != zi) {
					VBAD("zone %s: page %zu of offline section %zu has flags 0x%x\n",
					     zn, i + j, i, map[i + j].flags);
					break;
				}
			offline += NPAGES(SM_SECTION_ORDER);
			i += NPAGES(SM_SECTION_ORDER);
		} else {
			VBAD("zone %s: page %zu (%p) is in no block (flags 0x%x)\n", zn, i,
			     zone_page_addr(z, i), pg->flags);
			break;
		}
	}

	for (unsigned int o = 0; o < SM_MAX_ORDER; o++) {
		const struct free_area *fa = &z->zone_free_area[o];
		size_t count = 0;
		struct page *prev = NULL;
		for (struct page *p = fa->fa_head; p; p = p->buddy.next) {
			if (page_zone_checked(p) != z) {
				VBAD("zone %s: free list %u holds a foreign pointer %p\n", zn, o,
				     (void *)p);
				break;
			}
			if (p->buddy.prev != prev)
				VBAD("zone %s: free list %u: bad prev link at %zu\n", zn, o,
				     page_index(z, p));
			if (!(p->flags & PG_buddy) || p->order != o)
				VBAD("zone %s: free list %u holds page %zu (flags 0x%x order %u)\n",
				     zn, o, page_index(z, p), p->flags, (unsigned)p->order);
			if (++count > np) {
				VBAD("zone %s: free list %u has a cycle\n", zn, o);
				break;
			}
			prev = p;
		}
		if (prev != fa->fa_tail)
			VBAD("zone %s: free list %u: tail mismatch\n", zn, o);
		if (count != fa->fa_nr_free || count != nfree[o])
			VBAD("zone %s: order %u: list has %zu, nr_free %lu, map has %zu\n", zn,
			     o, count, fa->fa_nr_free, nfree[o]);
	}
	if (free_pages != z->zone_free_pages)
		VBAD("zone %s: zone_free_pages %zu, counted %zu\n", zn, z->zone_free_pages,
		     free_pages);
	if (dirty_pages != z->zone_dirty_pages)
		VBAD("zone %s: zone_dirty_pages %zu, counted %zu\n", zn,
		     z->zone_dirty_pages, dirty_pages);
	if (purging != z->zone_purging_pages)
		VBAD("zone %s: zone_purging_pages %zu, counted %zu\n", zn,
		     z->zone_purging_pages, purging);

	/* The offline list: by address; with the lost sections, every
	 * PG_offline head of the map. (Whether a section is unmapped is not
	 * checked: another mapping may have taken its address, which the
	 * next growth finds.) */
	size_t count = 0;
	struct page *prev = NULL;
	for (struct page *p = z->zone_offline; p; p = p->buddy.next) {
		if (page_zone_checked(p) != z || p->buddy.prev != prev ||
		    p->flags != (PG_offline | PG_tmpl) || (prev && p <= prev)) {
			VBAD("zone %s: offline list: bad entry %p\n", zn, (void *)p);
			break;
		}
		if (++count > np) {
			VBAD("zone %s: offline list has a cycle\n", zn);
			break;
		}
		prev = p;
	}
	if (count * NPAGES(SM_SECTION_ORDER) != z->zone_offline_pages ||
	    offline != z->zone_offline_pages + z->zone_lost_pages)
		VBAD("zone %s: offline list has %zu sections, zone_offline_pages %zu, "
		     "lost %zu, map has %zu pages offline\n", zn, count,
		     z->zone_offline_pages, z->zone_lost_pages, offline);

	count = 0;
	uint64_t last = 0;
	prev = NULL;
	for (struct page *p = z->zone_dirty_head; p; p = p->buddy.dnext) {
		if (page_zone_checked(p) != z) {
			VBAD("zone %s: dirty list holds a foreign pointer %p\n", zn, (void *)p);
			break;
		}
		if (p->buddy.dprev != prev)
			VBAD("zone %s: dirty list: bad prev link at %zu\n", zn, page_index(z, p));
		if (p->flags != (PG_buddy | PG_dirty))
			VBAD("zone %s: dirty list holds page %zu with flags 0x%x\n", zn,
			     page_index(z, p), p->flags);
		if (p->buddy.free_ns < last)
			VBAD("zone %s: dirty list not oldest first at %zu\n", zn,
			     page_index(z, p));
		last = p->buddy.free_ns;
		if (++count > np) {
			VBAD("zone %s: dirty list has a cycle\n", zn);
			break;
		}
		prev = p;
	}
	if (prev != z->zone_dirty_tail)
		VBAD("zone %s: dirty list tail mismatch\n", zn);
	if (count != dirty_blocks)
		VBAD("zone %s: dirty list has %zu blocks, map has %zu\n", zn, count,
		     dirty_blocks);
	return ok;
}

static bool pcp_validate(void)
{
	bool ok = true;
	struct zone *z = &sm_zones[ZONE_NORMAL];
	for (unsigned int o = 0; o <= SM_PCP_MAX_ORDER; o++) {
		const struct pcp_list *l = &buddy_pcp[o];
		unsigned int count = 0;
		struct page *prev = NULL;
		for (struct page *p = l->pl_head; p; p = p->pcp.next) {
			if (page_zone_checked(p) != z) {
				VBAD("pcp list %u holds a foreign pointer %p\n", o, (void *)p);
				break;
			}
			if (p->pcp.prev != prev)
				VBAD("pcp list %u: bad prev link\n", o);
			if ((p->flags & ~(uint32_t)PG_dirty) != PG_pcp || p->order != o)
				VBAD("pcp list %u holds page %zu (flags 0x%x order %u)\n", o,
				     page_index(z, p), p->flags, (unsigned)p->order);
			if (++count > l->pl_count)
				break;
			prev = p;
		}
		if (count != l->pl_count || prev != l->pl_tail)
			VBAD("pcp list %u: %u blocks linked, count %u\n", o, count, l->pl_count);
	}
	return ok;
}

/* The window (theory 2): published map and mask agree with window_pages,
 * which covers the grown part of ZONE_NORMAL, whose base it divides; the
 * descriptors past the grown part are blank but for the "none" key. */
static bool window_validate(void)
{
	bool ok = true;
	const struct zone *z = &sm_zones[ZONE_NORMAL];
	size_t w = window_pages, n = z->zone_limit >> SM_PAGE_SHIFT;
	if (!w) {
		if (sm_window_map != (struct page *)&sm_page_none || sm_window_mask)
			VBAD("window: closed but map %p mask %lx\n", (void *)sm_window_map,
			     (unsigned long)sm_window_mask);
		return ok;
	}
	if (sm_window_map != z->zone_mem_map || (w & (w - 1)) || w < n ||
	    (w << SM_PAGE_SHIFT) > z->zone_span || z->zone_base % z->zone_span ||
	    w * sizeof(struct page) > z->zone_map_bytes ||
	    sm_window_mask != (uintptr_t)(w - 1) << SM_PAGE_DESC_SHIFT) {
		VBAD("window: %zu pages, mask %lx, map %p, %zu pages grown\n", w,
		     (unsigned long)sm_window_mask, (void *)sm_window_map, n);
		return ok;
	}
	/* Views of the template are checked through the template itself:
	 * reading them would map them (RSS). */
	if (desc_tmpl) {
		for (size_t i = 0; i < NPAGES(SM_SECTION_ORDER); i++) {
			const struct page *pg = &desc_tmpl[i];
			if (pg->slab_key != buddy_slab_key_none || pg->slab_cache || pg->flags ||
			    pg->zone != ZONE_NORMAL || pg->order || pg->slab_base) {
				VBAD("template: descriptor %zu has key %d, flags 0x%x\n", i,
				     pg->slab_key, pg->flags);
				break;
			}
		}
	}
	for (size_t i = n; i < w && i < tmpl_from; i++) {
		const struct page *pg = &z->zone_mem_map[i];
		if (pg->slab_key != buddy_slab_key_none || pg->slab_cache || pg->flags) {
			VBAD("window: page %zu past the grown part has key %d, flags 0x%x\n",
			     i, pg->slab_key, pg->flags);
			break;
		}
	}
	return ok;
}

/**
 * buddy_validate - check every invariant of the page allocator.
 *
 * Both zones (locked in order) and the calling thread's page lists.
 * CONTEXT: may block; debug and test use (cost linear in free memory).
 * RETURNS: true when all hold; otherwise prints each violation on stderr.
 */
bool buddy_validate(void)
{
	bool ok = true;
	if (!__atomic_load_n(&buddy_ready, __ATOMIC_ACQUIRE))
		return true;
	sm_mutex_lock(&sm_zones[ZONE_DMA].zone_lock);
	sm_mutex_lock(&sm_zones[ZONE_NORMAL].zone_lock);
	for (int i = 0; i < SM_NR_ZONES; i++)
		ok &= zone_validate(&sm_zones[i]);
	ok &= pcp_validate();
	ok &= window_validate();
	sm_mutex_unlock(&sm_zones[ZONE_NORMAL].zone_lock);
	sm_mutex_unlock(&sm_zones[ZONE_DMA].zone_lock);
	return ok;
}
