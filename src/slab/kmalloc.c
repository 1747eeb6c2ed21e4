/* SPDX-License-Identifier: MIT */
/*
 * kmalloc.c — general-purpose allocation by size: the kmalloc-N caches,
 * whole pages for larger sizes, direct mappings for huge ones.
 *
 * Size classes. Internal waste is bounded by having about four classes per
 * power of two, and every class of 16 bytes or more is a multiple of 16 so
 * that every object of 16 bytes or more is 16-byte aligned (what malloc
 * promises on x86-64):
 *
 *   8, 16                      the two smallest (8 holds a pointer)
 *   32, 48, 64                 step 16
 *   80, 96, 112, 128           step 16
 *   (2^k, 2^(k+1)], k = 7..14  step 2^k / 4: 160 192 224 256, 320 ... 512,
 *                              ..., 20480 24576 28672 32768
 *
 * 41 classes. The worst internal waste is a request one byte above a class:
 * under 16 bytes up to 128, and (2^k/4 - 1) / (5 * 2^k/4), just under 20%,
 * above; about 10% on average for uniformly distributed sizes. The
 * power-of-two classes are created with alignment min(size, PAGE_SIZE), as
 * the kernel's kmalloc guarantees, so aligned requests up to a page are
 * served from the classes. The lookup is a table of the key of the class's
 * thread-cache slot: indexed by the size itself up to 1 KiB (4 KiB of
 * table, no arithmetic on the fast path), by the size in 256-byte steps
 * above (every class above 1 KiB is a multiple of 256). Both are derived
 * from the class sizes at init and checked size by size in debug builds and
 * in tests/unit/kmalloc.c.
 *
 * Above 32 KiB: whole pages from the buddy allocator, exactly as many as the
 * request needs (waste under one page), packed into runs of free pages
 * (buddy_alloc_range: no power-of-two block per request, so the pages one
 * block leaves are used by the next), marked PG_large. Aligned requests
 * above a page take a run at an aligned page the same way. Blocks up to
 * 1 MiB are cached per thread (one list per page count, at most 4 MiB for
 * all threads together) so that a program that repeatedly allocates the
 * same large size takes no lock. realloc resizes such a block in place
 * while it stays in this range: shrinking gives the pages past the new size back, growing takes the pages
 * after the block when the buddy has them free (buddy_resize_exact); only
 * when they are not does it move the data to a new exact block.
 * Above half a section (KMALLOC_LARGE_MAX, 2 MiB; __GFP_DMA requests up
 * to the largest buddy block, 4 MiB): huge, from vmalloc.c, carved from its
 * arenas up to 32 MiB and a mapping of its own above; freed ones are kept
 * a while for reuse and returned to the OS on the decay curve. A block of
 * 2 to 4 MiB in the buddy needs most of a free section, which the small
 * blocks placed around it rarely leave: under a steady mix of sizes up to
 * 4 MiB the heap grew section by section for them while hundreds of MiB
 * were free in pieces (bench/steady); in the arenas, whose free extents
 * merge and whose empty arenas are unmapped, it does not.
 *
 * Double free. The allocator never reads or writes an object on its way in
 * or out (free from another thread costs no miss on the object's line, and
 * a live object may hold any bytes without being mistaken for a free one),
 * so a free is judged from out-of-band state only:
 *   - at free time, the round on top of the thread's loaded magazine: a
 *     pointer equal to it was the thread's last free of that class, so the
 *     repeat is reported at once ("free(): double free detected");
 *   - in the slow paths that classify a pointer (realloc, malloc_usable_size,
 *     frees that miss the fast path), the same round and the object's bit in
 *     its slab's free bitmap (slab_obj_is_free): set means free in the slab;
 *   - when a magazine's rounds go back to the slabs (flush, trim, reaping,
 *     thread exit followed by a reap, frees of an exiting thread), the bit:
 *     a round whose bit is set already was freed twice (slab_free_bulk).
 * Every path by which a free object can be handed out again goes through a
 * magazine or the slab layer, so a double free is reported at the second
 * free or at the latest when the object leaves the magazine for its slab;
 * until then, like any allocator without in-band metadata, the object may
 * be handed out twice. A live object is never reported: it is on no
 * magazine and its bit is clear until it is freed.
 *
 * slub_debug (debug.c): while a kmalloc-N cache is debugged the fast limits
 * are 0, so every size reaches kmalloc_slower, which hands a debugged
 * class to slab_debug_alloc with the size asked for (its orig_size); a
 * free reaches kfree_classified, which hands it to slab_debug_free. Large
 * and huge blocks under debugging (kmalloc_large_debug/kmalloc_huge_debug)
 * are asked 16 bytes larger for a red zone, recorded, and bypass the
 * per-thread lists. The entry points leave their return address in
 * sm_debug_ra for the records.
 *
 * The entry points above (malloc.c, slab_api.c) initialise the allocator
 * before they call down. A call from inside the initialising thread (a lower
 * layer's hook that mallocs) still finds the layers down, and is served from
 * bootmem with a small header; such blocks are recognised and handled by
 * free/realloc/usable-size.
 *
 * Floor 8 (src/layers.txt): calls magazine.c, debug.c, slab.c, the page floors and
 * the base floor. The exported kmalloc family is in api/slab_api.c and the
 * malloc family in api/malloc.c.
 */
#include "kmalloc.h"

#include <errno.h>
#include <string.h>

const uint32_t kmalloc_class_size[KMALLOC_NR_CLASSES] = {
	8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512,
	640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120,
	6144, 7168, 8192, 10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768,
};

/* The slot key of the class of every size: 0..1024 directly indexed, above
 * by (size + 255) >> 8 (every class above 1024 is a multiple of 256, so the
 * step loses nothing). Derived from kmalloc_class_size at init; one load on
 * the fast path, which is closed (the limits 0) until then. */
sm_slot_key_t kmalloc_slot_small[KMALLOC_SMALL_MAX + 1];
sm_slot_key_t kmalloc_slot_medium[KMALLOC_MAX_CACHE_SIZE / 256 + 1];
sm_slot_key_t kmalloc_slot_key0;
static bool kmalloc_ready;

struct kmem_cache *kmalloc_caches[KMALLOC_NR_CLASSES];
size_t kmalloc_small_limit, kmalloc_fast_limit;

/* Is a kmalloc-N cache debugged (debug.c)? Then every kmalloc size takes
 * the slow path, where the class's flags are looked at. */
static bool kmalloc_debug_any(void)
{
	for (unsigned int i = 0; i < KMALLOC_NR_CLASSES; i++)
		if (kmalloc_caches[i] && SM_READ_ONCE(kmalloc_caches[i]->debug))
			return true;
	return false;
}

int kmalloc_lcache_off;
unsigned long kmalloc_large_debug, kmalloc_huge_debug;

void kmalloc_update_fast_limit(void)
{
	SM_WRITE_ONCE(kmalloc_large_debug, debug_block_flags(false));
	SM_WRITE_ONCE(kmalloc_huge_debug, debug_block_flags(true));
	SM_WRITE_ONCE(kmalloc_lcache_off, SM_READ_ONCE(sm_fault_active) ||
	                                  SM_READ_ONCE(kmalloc_large_debug) != 0);
	bool open = __atomic_load_n(&kmalloc_ready, __ATOMIC_ACQUIRE) &&
	            !SM_READ_ONCE(sm_fault_active) && !sm_tls_dynamic && !kmalloc_debug_any();
	SM_WRITE_ONCE(kmalloc_small_limit, open ? KMALLOC_SMALL_MAX + 1 : 0);
	SM_WRITE_ONCE(kmalloc_fast_limit, open ? KMALLOC_MAX_CACHE_SIZE + 1 : 0);
	slab_update_fast_paths();
}

/* The slot key of the smallest class of at least @size bytes. */
static sm_slot_key_t kmalloc_class_key(size_t size)
{
	unsigned int c = 0;
	while (kmalloc_class_size[c] < size)
		c++;
	return kmalloc_slot_key0 + (sm_slot_key_t)(c * sizeof(struct cpu_cache));
}

/* ---- bootstrap: blocks served from bootmem during initialisation ---- */

#define BOOT_MAGIC 0x5ab0b007b007ab5ull
struct boot_hdr {
	uint64_t bh_magic;
	uint64_t bh_size;
};

static void *boot_alloc(size_t size)
{
	struct boot_hdr *h = bootmem_alloc(sizeof *h + size, 16, false);
	if (!h)
		return NULL;
	h->bh_magic = BOOT_MAGIC;
	h->bh_size = size;
	return h + 1;
}

static struct boot_hdr *boot_hdr_of(const void *p)
{
	if (!bootmem_owns(p) || ((uintptr_t)p & 15))
		return NULL;
	struct boot_hdr *h = (struct boot_hdr *)p - 1;
	return h->bh_magic == BOOT_MAGIC ? h : NULL;
}

/* ---- per-thread cache of large blocks ---- */

/* The lists themselves (struct large_cache) and their pop (lcache_take) are
 * in kmalloc.h, for the slow paths of malloc and kmalloc. */
SM_TLS struct large_cache sm_lcache;
size_t lcache_size_max;
#if SM_TC_SEG_FS
sm_slot_key_t lcache_key;
#endif

/* Open the lists' take and put (kmalloc_init), unless the TLS is dynamic. */
static void lcache_open(void)
{
#if SM_TC_SEG_FS
	if (sm_tls_dynamic)
		return;
	lcache_key = SM_TLS_KEY_OF(sm_lcache);
#endif
	__atomic_store_n(&lcache_size_max,
	                 (size_t)KMALLOC_LARGE_NPAGES_MAX << SM_PAGE_SHIFT, __ATOMIC_RELEASE);
}

uintptr_t lcache_secret;

void lcache_forged(const void *blk, const void *next, size_t npages)
{
	sm_fatal("malloc(): corrupted link in freed block %p of %zu pages (decodes to %p): "
	         "write after free", blk, npages, next);
}

static void lcache_release(void *blk, size_t npages)
{
	sm_virt_to_page(blk)->flags &= ~PG_lcached;
	buddy_free_exact(blk, npages << SM_PAGE_SHIFT, "kfree");
}

/* The lists of all threads together keep at most LCACHE_BUDGET: each
 * thread's share is LCACHE_BUDGET / threads, at most LCACHE_BYTES_MAX, so
 * that a thousand threads do not keep four MiB each (a single thread keeps
 * its four MiB; with more than 110 threads a share is below the smallest
 * large block, 36 KiB, and the lists keep nothing: a thread's large
 * blocks go back to the buddy allocator at once, as its magazines'
 * objects go back to the slabs under their budget). kmalloc_lcache_slack is LCACHE_BYTES_MAX minus that
 * share, set when a thread opens or closes its lists; lcache_put adds it
 * to what it needs. */
#define LCACHE_BUDGET    ((size_t)4 << 20)
static size_t kmalloc_lcache_slack;

static void lcache_budget_update(void)
{
	size_t n = mag_nr_threads();
	size_t share = LCACHE_BUDGET / (n ? n : 1);
	if (share > LCACHE_BYTES_MAX)
		share = LCACHE_BYTES_MAX;
	SM_WRITE_ONCE(kmalloc_lcache_slack, LCACHE_BYTES_MAX - share);
}

/* Open the calling thread's lists, once it is attached. */
static void lcache_arm(void)
{
	struct large_cache *lc = &sm_lcache;
	if (!lc->lc_armed && sm_thread_state == SM_THREAD_ATTACHED) {
		lc->lc_armed = true;
		lc->lc_room = LCACHE_BYTES_MAX;
		lcache_budget_update();
	}
}

/* Keep a freed block for this thread unless that would pass the byte
 * limit, or the thread's lists are not open; the caller then gives it to
 * the buddy allocator. */
static inline bool lcache_put(void *blk, size_t npages)
{
	size_t bytes = npages << SM_PAGE_SHIFT;
	if (bytes > SM_READ_ONCE(lcache_size_max))
		return false;
	large_cache_fast_t *lc = lcache_fast();
	if (bytes + SM_READ_ONCE(kmalloc_lcache_slack) > lc->lc_room)
		return false;
	*(void **)blk = lcache_link(blk, lc->lc_bin[npages]);
	lc->lc_bin[npages] = blk;
	lc->lc_room -= bytes;
	return true;
}

/* Bytes held in the calling thread's lists. */
static size_t lcache_bytes(void)
{
	return sm_lcache.lc_armed ? LCACHE_BYTES_MAX - sm_lcache.lc_room : 0;
}

static size_t lcache_flush(void)
{
	struct large_cache *lc = &sm_lcache;
	size_t freed = lcache_bytes();
	if (!freed)
		return 0;
	for (size_t n = 0; n <= KMALLOC_LARGE_NPAGES_MAX; n++) {
		while (lc->lc_bin[n]) {
			void *b = lc->lc_bin[n];
			void *next = lcache_link(b, *(void **)b);
			if (next && unlikely(!lcache_link_ok(next, n)))
				lcache_forged(b, next, n);
			lc->lc_bin[n] = next;
			lcache_release(b, n);
		}
	}
	lc->lc_room = LCACHE_BYTES_MAX;
	return freed;
}

void kmalloc_thread_exit(void)
{
	lcache_flush();
	sm_lcache.lc_armed = false;      /* closed for the thread's last calls */
	sm_lcache.lc_room = 0;
	lcache_budget_update();
}

/* ---- initialisation ---- */

/* Create the cache of class @i, "kmalloc-N", or for @dma "dma-kmalloc-N"
 * (slabs in ZONE_DMA); its name is left in @name. Power-of-two classes are
 * aligned to their size up to a page, as the kernel's kmalloc promises. */
static struct kmem_cache *kmalloc_class_create(unsigned int i, bool dma,
                                               char name[SM_CACHE_NAME_MAX])
{
	uint32_t size = kmalloc_class_size[i];
	size_t align = size < 16 ? 8 : 16;
	if ((size & (size - 1)) == 0)
		align = size < SM_PAGE_SIZE ? size : SM_PAGE_SIZE;
	size_t n = 0, d = 1;
	if (dma) {
		memcpy(name, "dma-", 4);
		n = 4;
	}
	memcpy(name + n, "kmalloc-", 8);
	n += 8;
	while (d * 10 <= size)
		d *= 10;
	for (; d; d /= 10)
		name[n++] = (char)('0' + size / d % 10);
	name[n] = 0;
	return slab_cache_create(name, size, align,
	                         SLAB_KMALLOC | (dma ? SLAB_CACHE_DMA : 0), NULL, NULL);
}

/* The dma-kmalloc-N caches, made on first use (a race loses nothing: the
 * loser destroys its empty cache). NULL when it cannot be made. */
static struct kmem_cache *kmalloc_dma_caches[KMALLOC_NR_CLASSES];

static SM_NOINLINE struct kmem_cache *kmalloc_dma_cache(unsigned int i, gfp_t gfp)
{
	struct kmem_cache *c = __atomic_load_n(&kmalloc_dma_caches[i], __ATOMIC_ACQUIRE);
	if (c || !(gfp & __GFP_WAIT))
		return c;
	char name[SM_CACHE_NAME_MAX];
	struct kmem_cache *mine = kmalloc_class_create(i, true, name);
	if (!mine)
		return NULL;
	if (__atomic_compare_exchange_n(&kmalloc_dma_caches[i], &c, mine, false,
	                                __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return mine;
	cache_destroy(mine);
	return c;
}

/* The cache that serves @size bytes (a slab size) with @gfp. */
static inline struct kmem_cache *kmalloc_cache(size_t size, gfp_t gfp)
{
	unsigned int i = kmalloc_class(size);
	if (likely(!(gfp & __GFP_DMA)))
		return kmalloc_caches[i];
	return kmalloc_dma_cache(i, gfp);
}

void kmalloc_init(void)
{
	char name[SM_CACHE_NAME_MAX];
	lcache_secret = os_random();
	for (unsigned int i = 0; i < KMALLOC_NR_CLASSES; i++) {
		struct kmem_cache *c = kmalloc_class_create(i, false, name);
		if (!c || c->id != KMALLOC_ID0 + i)
			sm_fatal("slabmalloc: cannot create cache %s (id %u)", name,
			         c ? c->id : 0u);
		kmalloc_caches[i] = c;
	}
	kmalloc_slot_key0 = sm_slot_key((uint32_t)(KMALLOC_ID0 * sizeof(struct cpu_cache)));
	for (size_t s = 0; s <= KMALLOC_SMALL_MAX; s++)
		kmalloc_slot_small[s] = kmalloc_class_key(s);
	for (size_t i = 0; i <= KMALLOC_MAX_CACHE_SIZE / 256; i++)
		kmalloc_slot_medium[i] = kmalloc_class_key(i * 256);
	lcache_open();
	__atomic_store_n(&kmalloc_ready, true, __ATOMIC_RELEASE);
	__atomic_store_n(&sm_fault_notify, kmalloc_update_fast_limit, __ATOMIC_RELEASE);
	kmalloc_update_fast_limit();
	if (config_debug) {
		for (size_t s = 0; s <= KMALLOC_MAX_CACHE_SIZE; s++) {
			unsigned int c = kmalloc_class(s);
			sm_assert(kmalloc_class_size[c] >= s);
			sm_assert(c == 0 || kmalloc_class_size[c - 1] < s);
		}
	}
}

/* ---- allocation ---- */

/* The call site for slub_debug, left by the entry point. */
static inline const void *kmalloc_debug_ra(void)
{
	const void *ra = sm_debug_ra;
	sm_debug_ra = NULL;
	return ra;
}

/* A large or huge block under slub_debug: 16 bytes more with Z, so that it
 * has a red zone, then recorded (debug.c). */
static SM_NOINLINE void *kmalloc_block_debug(size_t size, gfp_t gfp, bool huge)
{
	unsigned long f = huge ? kmalloc_huge_debug : kmalloc_large_debug;
	size_t need = size + ((f & SLAB_RED_ZONE) ? 16 : 0);
	void *p;
	size_t usable;
	if (!huge) {
		if (need > KMALLOC_MAX_PAGES_SIZE)
			need = size;
		p = buddy_alloc_exact(need, gfp);
		if (!p)
			return NULL;
		struct page *pg = sm_virt_to_page(p);
		pg->flags = (pg->flags & ~PG_lcached) | PG_large;
		usable = pg->exact.npages << SM_PAGE_SHIFT;
	} else {
		if (!(gfp & __GFP_WAIT))
			return NULL;
		p = vmap_alloc_cached(need, (gfp & __GFP_ZERO) != 0);
		if (!p)
			return NULL;
		usable = vmap_size(p);
	}
	debug_block_alloc(p, size, usable, huge, f, kmalloc_debug_ra());
	return p;
}

static void *kmalloc_large(size_t size, gfp_t gfp)
{
	if (unlikely(kmalloc_large_debug))
		return kmalloc_block_debug(size, gfp, false);
	size_t npages = (size + SM_PAGE_SIZE - 1) >> SM_PAGE_SHIFT;
	void *p = (gfp & __GFP_DMA) || size > SM_READ_ONCE(lcache_size_max) ?
	          NULL : lcache_take(npages);   /* Normal blocks */
	if (p) {
		if (gfp & __GFP_ZERO)
			buddy_zero_pages(p, npages, gfp);
	} else {
		p = buddy_alloc_range(size, 0, gfp);
		if (!p)
			return NULL;
	}
	struct page *pg = sm_virt_to_page(p);
	pg->flags = (pg->flags & ~PG_lcached) | PG_large;
	return p;
}

static void *kmalloc_huge(size_t size, gfp_t gfp)
{
	if (!(gfp & __GFP_WAIT))
		return NULL;             /* never map new memory without blocking */
	if (unlikely(kmalloc_huge_debug))
		return kmalloc_block_debug(size, gfp, true);
	return vmap_alloc_cached(size, (gfp & __GFP_ZERO) != 0);
}

/* An object @p of kmalloc cache @c leaving the allocator: zeroed for
 * __GFP_ZERO, otherwise not touched. */
static inline void kmalloc_obj_out(const struct kmem_cache *c, void *p, gfp_t gfp)
{
	if (gfp & __GFP_ZERO)
		memset(p, 0, c->object_size);
}

static void *kmalloc_try(size_t size, gfp_t gfp)
{
	void *p;
	if (size <= KMALLOC_MAX_CACHE_SIZE) {
		struct kmem_cache *c = kmalloc_cache(size, gfp);
		if (!c)
			return NULL;
		if (unlikely(SM_READ_ONCE(c->debug)))
			return slab_debug_alloc(c, gfp, size, kmalloc_debug_ra());
		p = mag_alloc(c, gfp);
		if (p)
			kmalloc_obj_out(c, p, gfp);
		return p;
	}
	if (size <= KMALLOC_LARGE_MAX || ((gfp & __GFP_DMA) && size <= KMALLOC_MAX_PAGES_SIZE))
		return kmalloc_large(size, gfp);
	return kmalloc_huge(size, gfp);
}

/* A slab size whose magazine is empty, while the fast path is open
 * (initialised, no fault injection): straight to the magazine layer; the
 * retry policy is kmalloc_slower's, if that fails. */
void *kmalloc_refill(size_t size, gfp_t gfp)
{
	/* kfence: one refill in kfence_sample is a guarded allocation. */
	if (unlikely(kfence_sample) && ++kfence_countdown >= SM_READ_ONCE(kfence_sample) &&
	    !(gfp & __GFP_DMA)) {
		kfence_countdown = 0;
		void *g = kfence_alloc(size, sm_debug_ra);
		if (g)
			return g;
	}
	struct kmem_cache *c = kmalloc_cache(size, gfp);
	if (unlikely(!c))
		return kmalloc_slower(size, gfp);
	void *p = mag_alloc_slow(c, gfp);
	if (likely(p != NULL)) {
		kmalloc_obj_out(c, p, gfp);
		return p;
	}
	return kmalloc_slower(size, gfp);
}

void *kmalloc_slow(size_t size, gfp_t gfp)
{
	return kmalloc_slow_body(size, gfp, NULL);
}

void *kmalloc_slower(size_t size, gfp_t gfp)
{
	/* Entry points initialise before they call down; a call that finds
	 * the layers not up comes from the initialising thread itself. */
	if (unlikely(!__atomic_load_n(&sm_initialized, __ATOMIC_ACQUIRE))) {
		sm_assert(sm_init_in_progress());
		void *p = boot_alloc(size);
		if (!p)
			errno = ENOMEM;
		return p;
	}
	if (unlikely(sm_fault_active) && !(gfp & __GFP_NOFAIL)) {
		const char *name = size <= KMALLOC_MAX_CACHE_SIZE ?
			kmalloc_caches[kmalloc_class(size)]->name : "kmalloc-large";
		if (should_failslab(name, size, gfp))
			goto fail;
	}
	if (unlikely(size > (size_t)PTRDIFF_MAX - SM_PAGE_SIZE)) {
		if (!(gfp & __GFP_NOWARN))
			sm_warn("kmalloc: size %zu too large", size);
		goto fail;
	}
	if (unlikely((gfp & __GFP_DMA) && size > KMALLOC_MAX_PAGES_SIZE)) {
		/* Above the largest buddy block memory is mapped anywhere. */
		if (gfp & __GFP_NOFAIL)
			sm_fatal("kmalloc(): __GFP_NOFAIL|__GFP_DMA request of %zu bytes "
			         "can never be met (above %zu bytes)", size,
			         (size_t)KMALLOC_MAX_PAGES_SIZE);
		if (!(gfp & __GFP_NOWARN))
			sm_warn("kmalloc: __GFP_DMA request of %zu bytes can never be met", size);
		goto fail;
	}
	unsigned int attempt = 0;
	for (;;) {
		void *p = kmalloc_try(size, gfp);
		if (likely(p != NULL))
			return p;
		if (!gfp_retry(gfp, &attempt, "kmalloc", size))
			goto fail;
	}
fail:
	errno = ENOMEM;          /* what malloc, which tail-calls here, owes */
	return NULL;
}

/*
 * Aligned allocation: power-of-two classes are naturally aligned up to a
 * page, large and huge allocations are page aligned, a buddy block is
 * aligned to its own size, which serves alignments above a page, and above
 * the largest block a mapping is trimmed to an aligned start.
 */
void *kmalloc_aligned(size_t align, size_t size, gfp_t gfp)
{
	if (align <= 16)
		return kmalloc_slow(size < align ? align : size, gfp);
	size_t need = size > align ? size : align;
	if (align <= SM_PAGE_SIZE) {
		if (need <= KMALLOC_MAX_CACHE_SIZE)
			return kmalloc_slow((size_t)1 << (64 - __builtin_clzl(need - 1)), gfp);
		return kmalloc_slow(size, gfp);
	}
	if (need > KMALLOC_MAX_PAGES_SIZE) {
		if (!(gfp & __GFP_WAIT) || (gfp & __GFP_DMA))
			return NULL;     /* never map new memory without blocking;
			                  * a mapping is not below 4 GiB */
		return vmap_alloc_aligned(size, align);
	}
	unsigned int attempt = 0;
	for (;;) {
		void *p = buddy_alloc_range(size ? size : 1, align, gfp);
		if (p) {
			sm_assert(((uintptr_t)p & (align - 1)) == 0);
			sm_virt_to_page(p)->flags |= PG_large;
			return p;
		}
		if (!gfp_retry(gfp, &attempt, "kmalloc_aligned", size))
			return NULL;
	}
}

/* ---- free ---- */

/* glibc's entry points, for pointers it handed out before we were in
 * charge. Weak: a static link must not pull glibc's malloc in. */
extern void __libc_free(void *) __attribute__((weak));

static bool glibc_owns(const void *p, size_t *usable)
{
	uintptr_t a = (uintptr_t)p, lo, hi;
	if (!__libc_free || (a & 15))
		return false;
	os_brk_range(&lo, &hi);
	if (a > lo + 16 && a < hi) {
		size_t sz = ((const size_t *)p)[-1] & ~(size_t)7;
		if (sz < 32 || a - 16 + sz > hi)
			return false;
		if (usable)
			*usable = sz - 8;
		return true;
	}
	/* A chunk of a glibc arena other than the main one (a thread's): the
	 * NON_MAIN_ARENA bit, inside its heap (64 MiB aligned, HEAP_MAX_SIZE
	 * on 64-bit systems). */
	const uintptr_t heap_max = (uintptr_t)64 << 20;
	if (os_is_mapped((const char *)p - 16)) {
		size_t sz = ((const size_t *)p)[-1];
		size_t n = sz & ~(size_t)7;
		uintptr_t heap = a & ~(heap_max - 1);
		if ((sz & 4) && !(sz & 2) && n >= 32 && a - 16 + n <= heap + heap_max &&
		    os_is_mapped((const void *)heap)) {
			if (usable)
				*usable = n - 8;
			return true;
		}
	}
	/* An mmapped glibc chunk: page-aligned header, IS_MMAPPED bit. */
	if ((a & (SM_PAGE_SIZE - 1)) == 16 && os_is_mapped(p)) {
		size_t sz = ((const size_t *)p)[-1];
		if ((sz & 2) && !(sz & 4) && ((sz & ~(size_t)7) % SM_PAGE_SIZE) == 0 &&
		    (sz & ~(size_t)7) >= SM_PAGE_SIZE) {
			if (usable)
				*usable = (sz & ~(size_t)7) - 16;
			return true;
		}
	}
	return false;
}

SM_COLD SM_NORETURN static void bad_pointer(const char *caller, const void *p,
                                            const char *what)
{
	sm_fatal("%s(): %s (%p)", caller, what, p);
}

/* @p lies inside the live @size-byte block at @start but is not its start. */
SM_COLD SM_NORETURN static void bad_interior(const char *caller, const void *p,
                                             const void *start, size_t size)
{
	sm_fatal("%s(): invalid pointer (not the start of an allocation: offset %zu "
	         "in the %zu-byte block at %p) (%p)", caller,
	         (size_t)((uintptr_t)p - (uintptr_t)start), size, start, p);
}

/* @p is in the page allocator's range but is no block malloc handed out:
 * say what holds it. */
SM_COLD SM_NORETURN static void bad_page_pointer(const char *caller, const void *p)
{
	void *start = NULL;
	size_t npages = 0;
	switch (buddy_block_of(p, &start, &npages)) {
	case SM_BLOCK_USED:
		if (sm_virt_to_page(start)->flags & PG_large)
			bad_interior(caller, p, start, npages << SM_PAGE_SHIFT);
		if (start == p)
			bad_pointer(caller, p, "invalid pointer (a block of the page "
			            "allocator, not allocated by malloc)");
		sm_fatal("%s(): invalid pointer (inside the block of the page allocator "
		         "at %p, not allocated by malloc) (%p)", caller, start, p);
	case SM_BLOCK_FREE:
		bad_pointer(caller, p, "invalid pointer (inside free memory)");
	case SM_BLOCK_NONE:
		break;
	}
	bad_pointer(caller, p, "invalid pointer (not the start of an allocation)");
}

/* @p is proven free: a double free if @caller was freeing it, else a use
 * of freed memory (realloc, malloc_usable_size, ksize). */
SM_COLD SM_NORETURN static void freed_pointer(const char *caller, const void *p,
                                              bool freeing)
{
	bad_pointer(caller, p, freeing ? "double free detected" : "use of freed memory");
}

bool kmalloc_freed(const struct kmem_cache *c, const struct page *pg, const void *p)
{
	const struct cpu_cache *cc = mag_cc(c);
	void **top = cc->cc_top;
	if (top != cc->cc_lo && top[-1] == p)
		return true;
	return slab_obj_is_free(c, pg, p);
}

/* The state of a pointer that lands in our heap, for free/realloc/usable. */
enum kobj_kind { KOBJ_SLAB, KOBJ_LARGE, KOBJ_HUGE, KOBJ_BOOT, KOBJ_GLIBC, KOBJ_KFENCE };

/* Classify @p for @caller, which frees it when @freeing; aborts for a
 * pointer that is not an allocation of ours or is proven free. */
static enum kobj_kind kobj_classify(const void *p, const char *caller, bool freeing,
                                    struct kmem_cache **cp, struct page **pgp,
                                    size_t *usable)
{
	struct page *pg = sm_virt_to_page(p);
	if (pg) {
		struct kmem_cache *c = pg->slab_cache;
		if (c) {
			if (unlikely(SM_READ_ONCE(c->debug))) {
				/* slub_debug: the checks, reported in its form. */
				*cp = c;
				*usable = slab_debug_check(c, p, caller);
				return KOBJ_SLAB;
			}
			if (!(c->flags & SLAB_KMALLOC))
				sm_fatal("%s(): pointer %p belongs to kmem cache '%s', not to malloc",
				         caller, p, c->name);
			if (!slab_is_obj_start(c, pg, p))
				bad_pointer(caller, p, "invalid pointer (not the start of an allocation)");
			if (kmalloc_freed(c, pg, p))
				freed_pointer(caller, p, freeing);
			*cp = c;
			*usable = c->object_size;
			return KOBJ_SLAB;
		}
		if (((uintptr_t)p & (SM_PAGE_SIZE - 1)) == 0) {
			if (pg->flags & PG_large) {
				*pgp = pg;
				*usable = pg->exact.npages << SM_PAGE_SHIFT;
				if (unlikely(kmalloc_large_debug))
					*usable = debug_block_check(p, *usable, false, caller);
				return KOBJ_LARGE;
			}
			if (pg->flags & (PG_buddy | PG_pcp | PG_lcached))
				freed_pointer(caller, p, freeing);
		}
		/* A section given back to the system holds nothing of the
		 * page allocator: whatever is mapped there now is judged
		 * below, like any address outside the heap. */
		if (!buddy_addr_offline(p))
			bad_page_pointer(caller, p);
	}
	if (kfence_owns(p)) {
		*usable = kfence_size(p, caller);
		return KOBJ_KFENCE;
	}
	size_t vs = vmap_size(p);
	if (vs) {
		*usable = vs;
		if (unlikely(kmalloc_huge_debug))
			*usable = debug_block_check(p, vs, true, caller);
		return KOBJ_HUGE;
	}
	if (vmap_is_cached(p))
		freed_pointer(caller, p, freeing);
	/* Inside a mapping of ours (before glibc's test, which reads the word
	 * before @p: inside our mapping that is user data). */
	void *start = NULL;
	switch (vmap_block_of(p, &start, &vs)) {
	case SM_BLOCK_USED:
		bad_interior(caller, p, start, vs);
	case SM_BLOCK_FREE:
		bad_pointer(caller, p, "invalid pointer (inside free memory)");
	case SM_BLOCK_NONE:
		break;
	}
	struct boot_hdr *h = boot_hdr_of(p);
	if (h) {
		*usable = h->bh_size;
		return KOBJ_BOOT;
	}
	if (glibc_owns(p, usable))
		return KOBJ_GLIBC;
	bad_pointer(caller, p, "invalid pointer");
}

static SM_NOINLINE void kfree_classified(const void *p, const char *caller);

/* The large-block fast path, kept apart from kfree_classified so that it
 * saves no registers; everything else goes there. @pg is the window's
 * descriptor for @p (sm_page_window): @p's own when @p is in ZONE_NORMAL's
 * grown part, which is checked first. */
void kfree_page(const void *p, const char *caller, struct page *pg)
{
	/* In the grown part of ZONE_NORMAL the window's descriptor is the
	 * real one; anywhere else it is an alias. */
	const struct zone *z = &sm_zones[ZONE_NORMAL];
	if (unlikely((uintptr_t)p - z->zone_base >= z->zone_limit)) {   /* grows only */
		kfree_classified(p, caller);
		return;
	}
	/* A live large block (PG_large is only ever set on the head page of
	 * one) goes onto the thread's list for its page count when it fits. */
	if (pg->flags & PG_large) {
		if (!((uintptr_t)p & (SM_PAGE_SIZE - 1)) && likely(!kmalloc_lcache_off) &&
		    lcache_put((void *)p, pg->exact.npages)) {
			pg->flags ^= PG_large | PG_lcached;
			return;
		}
	} else if (pg->slab_key != buddy_slab_key_none) {
		/* An object of a kmalloc slab that missed the fast path: its
		 * magazine is full, or it is the round on top (the thread's
		 * last free of the class: kfree_classified reports it). The
		 * first goes to the magazine layer's slow path. */
		if (slab_is_obj_start(pg->slab_cache, pg, p)) {
			cpu_cache_fast_t *cc = sm_slot_by_key(pg->slab_key);
			void **top = cc->cc_top;
			if (likely(top == cc->cc_lo || top[-1] != p)) {
				mag_free_slow(pg->slab_cache, (void *)p);
				return;
			}
		}
	}
	kfree_classified(p, caller);
}

void kfree_slow(const void *p, const char *caller)
{
	kfree_page(p, caller, sm_page_window(p));
}

static void kfree_classified(const void *p, const char *caller)
{
	if (!p)
		return;
	struct kmem_cache *c = NULL;
	struct page *pg = NULL;
	size_t usable = 0;
	switch (kobj_classify(p, caller, true, &c, &pg, &usable)) {
	case KOBJ_SLAB:
		if (unlikely(SM_READ_ONCE(c->debug))) {
			slab_debug_free(c, (void *)p, caller, kmalloc_debug_ra());
			return;
		}
		mag_free(c, (void *)p);
		return;
	case KOBJ_LARGE:
		usable = pg->exact.npages << SM_PAGE_SHIFT;
		if (unlikely(kmalloc_large_debug) &&
		    debug_block_free((void *)p, usable, false, kmalloc_large_debug, caller,
		                     kmalloc_debug_ra()))
			return;                  /* poisoned, in quarantine */
		pg->flags &= ~PG_large;
		if (sm_thread_state == SM_THREAD_NEW)
			sm_thread_attach();      /* the exit hook flushes the lists */
		lcache_arm();
		if (pg->zone == ZONE_NORMAL && likely(!kmalloc_lcache_off) &&
		    lcache_put((void *)p, pg->exact.npages)) {
			pg->flags |= PG_lcached;
			return;
		}
		buddy_free_exact((void *)p, usable, caller);
		sm_bg_poll();            /* no lock held: may start the purge thread */
		return;
	case KOBJ_HUGE:
		if (unlikely(kmalloc_huge_debug))
			debug_block_free((void *)p, vmap_size(p), true, kmalloc_huge_debug, caller,
			                 kmalloc_debug_ra());
		vmap_free(p, caller);
		sm_bg_poll();
		return;
	case KOBJ_BOOT:
		return;          /* bootstrap blocks are few and tiny: kept */
	case KOBJ_GLIBC:
		__libc_free((void *)p);
		return;
	case KOBJ_KFENCE:
		kfence_free((void *)p, caller, kmalloc_debug_ra());
		return;
	}
}

size_t kmalloc_usable(const void *p, const char *caller, bool freeing)
{
	if (!p)
		return 0;
	struct kmem_cache *c = NULL;
	struct page *pg = NULL;
	size_t usable = 0;
	kobj_classify(p, caller, freeing, &c, &pg, &usable);
	return usable;
}

/* ---- realloc ---- */

void *krealloc_slow(const void *p, size_t size, gfp_t gfp, const char *caller)
{
	struct kmem_cache *c = NULL;
	struct page *pg = NULL;
	size_t usable = 0;
	enum kobj_kind kind = kobj_classify(p, caller, false, &c, &pg, &usable);

	/* Keep the block when the new size still fits and would not waste
	 * more than half of it. */
	if (kind == KOBJ_SLAB && size <= usable &&
	    (size > usable / 2 || kmalloc_class(size) == kmalloc_class(usable)))
		return (void *)p;
	/* A large block that stays large changes length in place: shrinking
	 * gives the tail pages back, growing takes the pages after it when
	 * the buddy has them free. Otherwise it moves, to an exact block
	 * again (no headroom: waste stays under a page). A shrink fails only
	 * on a busy lock without __GFP_WAIT: then keep the block if moving
	 * would not save half of it. */
	if (kind == KOBJ_LARGE && size > KMALLOC_MAX_CACHE_SIZE &&
	    size <= KMALLOC_MAX_PAGES_SIZE && !kmalloc_large_debug) {
		if (buddy_resize_exact((void *)p, usable, size, gfp))
			return (void *)p;
		if (size <= usable && size > usable / 2)
			return (void *)p;
	}
	if (kind == KOBJ_HUGE && size > KMALLOC_MAX_PAGES_SIZE && !kmalloc_huge_debug) {
		void *q = vmap_realloc((void *)p, size);
		if (q)
			return q;
		if (!(gfp & __GFP_NOWARN))
			sm_warn("%s: cannot remap %zu bytes", caller, size);
		return NULL;
	}
	const void *ra = sm_debug_ra;            /* both halves are the caller's */
	void *q = kmalloc_slow(size, gfp & ~__GFP_ZERO);
	if (!q)
		return NULL;
	memcpy(q, p, size < usable ? size : usable);
	if ((gfp & __GFP_ZERO) && size > usable)
		memset((char *)q + usable, 0, size - usable);
	sm_debug_ra = ra;
	kfree_slow(p, caller);
	return q;
}

/* ---- maintenance and statistics ---- */

int kmalloc_trim(void)
{
	size_t before = os_rss_bytes();
	lcache_flush();
	for (unsigned int i = 0; i < KMALLOC_NR_CLASSES; i++) {
		if (kmalloc_caches[i])
			mag_flush_own(kmalloc_caches[i]);
		struct kmem_cache *d = __atomic_load_n(&kmalloc_dma_caches[i], __ATOMIC_ACQUIRE);
		if (d)
			mag_flush_own(d);
	}
	size_t freed = sm_reclaim_hook ? sm_reclaim_hook(true) : 0;
	buddy_drain_local();
	freed += buddy_purge(true);
	freed += vmap_cache_purge(true);
	return freed > 0 || os_rss_bytes() < before;
}

static void totals_cb(struct kmem_cache *c, void *arg)
{
	struct kmalloc_totals *t = arg;
	size_t slab_bytes = (size_t)c->nr_slabs << (c->order + SM_PAGE_SHIFT);
	t->slab_bytes += slab_bytes;
	t->slab_active_bytes += (size_t)c->active_objs * c->size;
	/* Objects out of their slabs but free in a magazine or the depot.
	 * The cache-list lock is held: the thread-list and depot locks come
	 * after it in the lock order. */
	if (!(c->flags & SLAB_NOMAG))
		t->mag_cached_bytes += (size_t)mag_count_cached(c) * c->size;
	else
		t->meta_bytes += (size_t)c->active_objs * c->size;
}

void kmalloc_totals(struct kmalloc_totals *t)
{
	memset(t, 0, sizeof *t);
	slab_for_each_cache(totals_cb, t);
	t->huge_bytes = vmap_total_bytes();
	t->cached_large_bytes = lcache_bytes();
}
