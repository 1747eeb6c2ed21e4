/* SPDX-License-Identifier: MIT */
/*
 * slab.c — the slab layer: kmem caches, slabs, constructed objects, slabinfo.
 *
 * 1. Overview. A kmem cache hands out objects of one size. Its memory comes
 *    in slabs: one buddy block of 2^order pages each, cut into objects. The
 *    magazine layer (magazine.c) sits on top and serves nearly every
 *    allocation; this layer is reached in bulk, to refill or flush magazines
 *    (slab_alloc_bulk/slab_free_bulk), and for the caches without magazines
 *    (SLAB_NOMAG: the "kmem_cache" cache of cache descriptors and the
 *    magazine caches).
 *
 * 2. Slab layout. For a slab at address base of S = PAGE_SIZE << order bytes:
 *
 *      base                base+colour                   bitmap_off      S
 *      | colour (unused) | obj 0 | obj 1 | ... | obj n-1 | (unused) | bitmap |
 *
 *    The free bitmap (one bit per object, set = free) lives at the end of the
 *    slab, or, for slabs of at most 64 objects, in the head page's
 *    descriptor (slab.bitmap; bitmap_off is then the slab size), which saves
 *    the object the bitmap would displace and leaves the slab's last page
 *    untouched until an object there is used. It is never inside an object: the allocator does not write into objects
 *    at all (Bonwick's constructed-object caching needs that for caches with
 *    a constructor; we do it for every cache). The bitmap is also the
 *    hardened free list: a forged pointer cannot be linked into it, since
 *    freeing checks the page descriptor (slab of this cache), the object
 *    index (slab_obj_index: object start, inside the slab) and the bit (set
 *    already = double free). It is the allocator's out-of-band proof that an
 *    object is free: magazine rounds are checked against it when they come
 *    back (slab_free_bulk), and kmalloc's classification of a pointer reads
 *    it without the lock (slab_obj_is_free: a live object's bit is clear and
 *    only its own free sets it, so a set bit proves a free).
 *
 * 3. Page descriptors. Every page of a slab has slab_cache = the cache and
 *    slab_base = the address of object 0, so an object maps to its cache and
 *    index in O(1) from any of its pages (kfree's fast path reads these).
 *    The head page (the block's first, found by aligning slab_base down to
 *    the slab size: buddy blocks are naturally aligned) carries PG_slab and
 *    the slab's state: inuse, colour, the list it is on and the list links.
 *
 * 4. Order. slab_calc_layout() picks, like SLUB's calculate_order(), the
 *    smallest order whose waste (bytes not in objects, bitmap included) is at
 *    most 1/8 of the slab while holding at least 8 objects, then relaxes the
 *    object count (4, 2, 1). Objects up to 4 KiB use orders 0..3; larger ones
 *    any order up to MAX_ORDER-1; if no order meets the waste bound the
 *    smallest order holding one object is used. Sizes that do not fit an
 *    order MAX_ORDER-1 slab are refused.
 *
 * 5. Colouring (Bonwick 1994). The leftover bytes of a slab give
 *    colour_range = leftover / colour_step + 1 colours (colour_step = the
 *    larger of a cache line and the alignment); successive slabs put object
 *    0 at offsets 0, step, 2*step, ... cycling, so the objects of different
 *    slabs do not all compete for the same cache sets.
 *
 * 6. Constructors. The constructor runs for every object when its slab is
 *    created, with SLAB_CTOR_CONSTRUCTOR (| SLAB_CTOR_ATOMIC when the
 *    allocation may not block); the destructor for every object when the
 *    slab is released (trim, shrink, reap, destroy), with flags 0. Neither
 *    runs on alloc/free. Both run with no slab lock held (a constructor may
 *    allocate from other caches): a new slab is built and constructed
 *    privately, then linked under the lock; a slab to release is unlinked
 *    under the lock, then destructed and freed.
 *
 * 7. Slab states. Each slab is on one list of its cache:
 *
 *      list      inuse               served first
 *      partial   0 < inuse < objects yes (LIFO: most recently freed into)
 *      empty     0                   when no partial slab
 *      full      objects             never
 *
 *    A few empty slabs are kept (2, or 1 for slabs of order >= 3, plus 1/8
 *    of the slabs in use) so a cache that oscillates does not rebuild and
 *    reconstruct slabs; the rest go back to the buddy allocator at once.
 *    slab_trim()/slab_shrink() release more on request (reaping, shrink).
 *
 * 8. Locks (internal.h ranks): sm_cache_list_lock (2) guards the cache list
 *    and the id map; slab_lock (5) guards one cache's lists, counts and the
 *    bitmaps of its slabs. No path holds two slab locks. Non-blocking
 *    callers (no __GFP_WAIT) only try-lock and fail fast.
 *
 * 9. Cache descriptors come from the "kmem_cache" cache, whose own
 *    descriptor is static (the kernel's bootstrap); nothing here calls
 *    malloc.
 *
 * 10. Fork: slab_prefork takes the list lock, slab_prefork_slabs every slab
 *    lock (after the depot locks, see slab_internal.h); the parent unlocks;
 *    the child re-initialises the locks (the state they guard is consistent
 *    because they were held across fork()).
 *
 * Floor 5 (src/layers.txt): calls the page floors and the base floor,
 * never the magazine layer above it; what needs both slabs and magazines
 * (destroy, shrink, slabinfo) is the magazine layer's, and the exported
 * kmem_cache_* functions are entry points in api/slab_api.c.
 */
#include "slab_internal.h"

#include <errno.h>
#include <string.h>

pthread_mutex_t sm_cache_list_lock = PTHREAD_MUTEX_INITIALIZER;
struct kmem_cache *sm_cache_list;

/* The cache of cache descriptors, bootstrapped statically. */
static struct kmem_cache slab_cache_cache;

/* Cache ids (indices of the per-thread cpu_cache slots), recycled. */
static uint64_t slab_id_map[SM_CACHE_ID_MAX / 64];

enum { SLAB_LIST_NONE = 0, SLAB_LIST_PARTIAL, SLAB_LIST_FULL, SLAB_LIST_EMPTY };

#define SLAB_MIN_OBJECTS 8
#define SLAB_SMALL_MAX_ORDER 3          /* objects <= 4 KiB */
#define SLAB_BITMAP_BYTES(n) ((((size_t)(n) + 63) / 64) * 8)

static inline size_t slab_bytes(const struct kmem_cache *c)
{
	return SM_PAGE_SIZE << c->order;
}

static inline uintptr_t slab_start(const struct kmem_cache *c, const struct page *pg)
{
	return SM_ALIGN_DOWN(pg->slab_base, slab_bytes(c));
}

/* The free bitmap of the slab whose head page is @head: in the head's
 * descriptor for slabs of at most 64 objects (bitmap_off is then the slab
 * size: nothing at the slab's end), else at the end of the slab. */
static inline uint64_t *slab_bitmap(const struct kmem_cache *c, struct page *head)
{
	if (c->bitmap_off == slab_bytes(c))
		return &head->slab.bitmap;
	return (uint64_t *)(slab_start(c, head) + c->bitmap_off);
}

/* ---- layout ---- */

/* Objects of @size that fit a slab of @bytes together with their bitmap:
 * up to 64 objects keep their bitmap in the head page's descriptor. */
static size_t slab_fit(size_t bytes, size_t size)
{
	if (bytes / size <= 64)
		return bytes / size;
	size_t n = (bytes * 8) / (size * 8 + 1);
	while (n > 0 && n * size + SLAB_BITMAP_BYTES(n) > bytes)
		n--;
	return n;
}

/* Stride and alignment of objects of @size bytes with @align (0 = default). */
static void slab_calc_size(size_t size, size_t align, unsigned long flags,
                           size_t *stride, size_t *ralign)
{
	size_t a = align ? align : sizeof(void *);
	if (a < sizeof(void *))
		a = sizeof(void *);
	if (size >= 16 && a < 16)
		a = 16;                 /* kmalloc relies on 16-byte alignment */
	if ((flags & SLAB_HWCACHE_ALIGN) && a < SM_CACHELINE)
		a = SM_CACHELINE;
	*ralign = a;
	*stride = SM_ALIGN_UP(size, a);
}

/* The order for objects of @stride bytes, or -1 if none holds one. */
static int slab_calc_order(size_t stride)
{
	unsigned int max_order = stride <= SM_PAGE_SIZE ? SLAB_SMALL_MAX_ORDER
	                                                : SM_MAX_ORDER - 1;
	for (size_t min = SLAB_MIN_OBJECTS; min >= 1; min /= 2) {
		for (unsigned int o = 0; o <= max_order; o++) {
			size_t bytes = SM_PAGE_SIZE << o;
			size_t n = slab_fit(bytes, stride);
			if (n < min)
				continue;
			if ((bytes - n * stride) * 8 <= bytes)
				return (int)o;
		}
	}
	for (unsigned int o = 0; o < SM_MAX_ORDER; o++)
		if (slab_fit(SM_PAGE_SIZE << o, stride) >= 1)
			return (int)o;
	return -1;
}

/* Fill in the geometry of @c for objects of @size/@align. False if the
 * object cannot fit a slab. */
static bool slab_calc_layout(struct kmem_cache *c, size_t size, size_t align)
{
	size_t stride, a;
	slab_calc_size(size + c->debug_pad, align, c->flags, &stride, &a);
	if (stride > UINT32_MAX)
		return false;
	int order = slab_calc_order(stride);
	if (order < 0)
		return false;
	size_t bytes = SM_PAGE_SIZE << order;
	size_t left = c->debug_pad ? SM_ALIGN_UP((size_t)c->debug_pad, a) : 0;
	if (left >= bytes)
		return false;
	size_t n = slab_fit(bytes - left, stride);
	if (n == 0)
		return false;

	c->object_size = (uint32_t)size;
	c->size = (uint32_t)stride;
	c->align = (uint32_t)a;
	c->order = (uint32_t)order;
	c->objects = (uint32_t)n;
	c->bitmap_words = (uint32_t)((n + 63) / 64);
	c->bitmap_off = (uint32_t)(n <= 64 ? bytes : bytes - SLAB_BITMAP_BYTES(n));
	c->colour_step = (uint32_t)(a > SM_CACHELINE ? a : SM_CACHELINE);
	c->colour_range = (uint32_t)((c->bitmap_off - left - n * stride) / c->colour_step + 1);
	c->colour_next = 0;

	/* slab_obj_index: stride = odd << k; inverse of odd by Newton's
	 * iteration (x = odd is right to 3 bits; each step doubles them). */
	uint32_t k = (uint32_t)__builtin_ctzll(stride);
	uint64_t odd = stride >> k, inv = odd;
	for (int i = 0; i < 5; i++)
		inv *= 2 - odd * inv;
	c->div_inv = inv;
	c->div_shift = k;
	c->div_limit = n - 1;
	return true;
}

/* True when an object of @size/@align could be cached (kmem_cache_create's
 * validation of user input). */
bool slab_size_ok(size_t size, size_t align, unsigned long flags)
{
	size_t stride, a;
	if (size == 0 || size > (SM_PAGE_SIZE << (SM_MAX_ORDER - 1)))
		return false;
	slab_calc_size(size, align, flags, &stride, &a);
	return slab_calc_order(stride) >= 0;
}

/* ---- slab lists (slab_lock held) ---- */

static struct page **slab_list_head(struct kmem_cache *c, uint32_t list)
{
	switch (list) {
	case SLAB_LIST_PARTIAL: return &c->partial;
	case SLAB_LIST_FULL:    return &c->full;
	default:                return &c->empty;
	}
}

static void slab_list_del(struct kmem_cache *c, struct page *pg)
{
	struct page **head = slab_list_head(c, pg->slab.list);
	if (pg->slab.prev)
		pg->slab.prev->slab.next = pg->slab.next;
	else
		*head = pg->slab.next;
	if (pg->slab.next)
		pg->slab.next->slab.prev = pg->slab.prev;
	if (pg->slab.list == SLAB_LIST_EMPTY)
		c->nr_empty--;
	else if (pg->slab.list == SLAB_LIST_PARTIAL)
		c->nr_partial--;
	pg->slab.next = pg->slab.prev = NULL;
	pg->slab.list = SLAB_LIST_NONE;
}

static void slab_list_add(struct kmem_cache *c, struct page *pg, uint32_t list)
{
	struct page **head = slab_list_head(c, list);
	pg->slab.prev = NULL;
	pg->slab.next = *head;
	if (*head)
		(*head)->slab.prev = pg;
	*head = pg;
	pg->slab.list = list;
	if (list == SLAB_LIST_EMPTY)
		c->nr_empty++;
	else if (list == SLAB_LIST_PARTIAL)
		c->nr_partial++;
}

static inline uint32_t slab_state(const struct kmem_cache *c, const struct page *pg)
{
	if (pg->slab.inuse == 0)
		return SLAB_LIST_EMPTY;
	return pg->slab.inuse == c->objects ? SLAB_LIST_FULL : SLAB_LIST_PARTIAL;
}

/* Move @pg to the list its inuse count calls for. */
static inline void slab_relist(struct kmem_cache *c, struct page *pg)
{
	uint32_t want = slab_state(c, pg);
	if (pg->slab.list == want && want != SLAB_LIST_PARTIAL)
		return;
	if (pg->slab.list == want && c->partial == pg)
		return;
	slab_list_del(c, pg);
	slab_list_add(c, pg, want);
}

static bool slab_lock_gfp(struct kmem_cache *c, gfp_t gfp)
{
	if (gfp & __GFP_WAIT) {
		sm_mutex_lock(&c->slab_lock);
		return true;
	}
	return sm_mutex_trylock(&c->slab_lock) == 0;
}

/* ---- slab creation and release (no lock held) ---- */

/* The slab_key of the pages of @c's slabs: its slot for kmalloc caches
 * (free() finds the class through it), SM_TC_NONE's for the others. */
static int32_t slab_page_key(const struct kmem_cache *c)
{
	if ((c->flags & SLAB_KMALLOC) && c->id < SM_TC_INLINE &&
	    !c->debug) {
#if SM_TC_SEG_FS
		if (sm_tls_dynamic)
			return SM_TC_KEY_DYN_KMALLOC;
#endif
		return sm_slot_key((uint32_t)(c->id * sizeof(struct cpu_cache)));
	}
	return buddy_slab_key_none;
}

static struct page *slab_new(struct kmem_cache *c, gfp_t gfp)
{
	gfp_t bg = gfp & ~__GFP_ZERO;
	if (c->flags & SLAB_CACHE_DMA)
		bg |= __GFP_DMA;
	struct page *pg = buddy_alloc(bg, c->order);
	if (!pg)
		return NULL;
	uintptr_t base = (uintptr_t)sm_page_to_virt(pg);
	sm_assert((base & (slab_bytes(c) - 1)) == 0);
	uint32_t colour = __atomic_fetch_add(&c->colour_next, 1, __ATOMIC_RELAXED) %
	                  c->colour_range * c->colour_step;
	uintptr_t obj0 = base + colour + slab_left_pad(c);
	size_t npages = (size_t)1 << c->order;

	/* kmalloc objects are freed by pointer alone: their pages name the
	 * class's slot for free()'s fast path. Written last, so a page never
	 * names a slot before it names its cache. */
	int32_t key = slab_page_key(c);
	for (size_t i = 0; i < npages; i++) {
		sm_assert(pg[i].slab_key == buddy_slab_key_none);
		pg[i].slab_cache = c;
		pg[i].slab_base = obj0;
		__atomic_store_n(&pg[i].slab_key, key, __ATOMIC_RELEASE);
	}
	pg->flags |= PG_slab;
	pg->slab.next = pg->slab.prev = NULL;
	pg->slab.inuse = 0;
	pg->slab.colour = colour;
	pg->slab.list = SLAB_LIST_NONE;

	uint64_t *bm = slab_bitmap(c, pg);
	for (uint32_t w = 0; w < c->bitmap_words; w++)
		bm[w] = ~(uint64_t)0;
	if (c->objects % 64)
		bm[c->bitmap_words - 1] = ((uint64_t)1 << (c->objects % 64)) - 1;

	if (c->ctor) {
		unsigned long fl = SLAB_CTOR_CONSTRUCTOR |
		                   ((gfp & __GFP_WAIT) ? 0 : SLAB_CTOR_ATOMIC);
		for (uint32_t i = 0; i < c->objects; i++)
			c->ctor((void *)(obj0 + (size_t)i * c->size), c, fl);
	}
	return pg;
}

/* Destruct the objects of an unlinked empty slab and give it back. */
static void slab_release(struct kmem_cache *c, struct page *pg)
{
	uintptr_t obj0 = pg->slab_base;
	size_t npages = (size_t)1 << c->order;
	void (*hook)(struct kmem_cache *, uintptr_t) =
		__atomic_load_n(&slab_release_hook, __ATOMIC_ACQUIRE);
	if (hook)
		hook(c, slab_start(c, pg));
	if (c->dtor)
		for (uint32_t i = 0; i < c->objects; i++)
			c->dtor((void *)(obj0 + (size_t)i * c->size), c, 0);
	pg->flags &= ~(uint32_t)PG_slab;
	pg->slab.next = pg->slab.prev = NULL;
	pg->slab.inuse = pg->slab.colour = pg->slab.list = 0;
	for (size_t i = 0; i < npages; i++) {
		pg[i].slab_key = buddy_slab_key_none;
		pg[i].slab_cache = NULL;
		pg[i].slab_base = SM_SLAB_BASE_NONE;
	}
	buddy_free(pg, c->order, "slab_release");
}

static void slab_release_chain(struct kmem_cache *c, struct page *chain)
{
	while (chain) {
		struct page *next = chain->slab.next;
		slab_release(c, chain);
		chain = next;
	}
}

/* Unlink empty slabs beyond @keep into a chain (slab_lock held). */
static struct page *slab_take_empty_locked(struct kmem_cache *c, unsigned long keep,
                                           size_t *bytes)
{
	struct page *chain = NULL;
	while (c->nr_empty > keep) {
		struct page *pg = c->empty;
		slab_list_del(c, pg);
		c->nr_slabs--;
		pg->slab.next = chain;
		chain = pg;
		*bytes += slab_bytes(c);
	}
	return chain;
}

/* Empty slabs kept after a free: enough to absorb oscillation. */
static inline unsigned long slab_keep_empty(const struct kmem_cache *c)
{
	unsigned long base = c->order >= 3 ? 1 : 2;
	return base + (c->nr_slabs - c->nr_empty) / 8;
}

size_t slab_trim(struct kmem_cache *c, unsigned long keep)
{
	size_t bytes = 0;
	sm_mutex_lock(&c->slab_lock);
	struct page *chain = slab_take_empty_locked(c, keep, &bytes);
	sm_mutex_unlock(&c->slab_lock);
	slab_release_chain(c, chain);
	return bytes;
}

size_t slab_shrink(struct kmem_cache *c)
{
	return slab_trim(c, 0);
}

/* ---- allocation and free in bulk ---- */

/* Take up to @n free objects out of the partial and empty slabs. */
static unsigned int slab_take_locked(struct kmem_cache *c, void **objs, unsigned int n)
{
	unsigned int got = 0;
	while (got < n) {
		struct page *pg = c->partial ? c->partial : c->empty;
		if (!pg)
			break;
		uint64_t *bm = slab_bitmap(c, pg);
		uintptr_t obj0 = pg->slab_base;
		unsigned int taken = 0;
		for (uint32_t w = 0; w < c->bitmap_words && got < n; w++) {
			uint64_t x = bm[w];
			if (!x)
				continue;
			while (x && got < n) {
				unsigned int b = (unsigned int)__builtin_ctzll(x);
				x &= x - 1;
				objs[got++] = (void *)(obj0 + ((size_t)w * 64 + b) * c->size);
				taken++;
			}
			bm[w] = x;
		}
		sm_assert(taken > 0);
		pg->slab.inuse += taken;
		slab_relist(c, pg);
	}
	c->active_objs += got;
	return got;
}

unsigned int slab_alloc_bulk(struct kmem_cache *c, gfp_t gfp, void **objs, unsigned int n)
{
	unsigned int got = 0;
	if (n == 0)
		return 0;
	if (!slab_lock_gfp(c, gfp))
		return 0;
	for (;;) {
		got += slab_take_locked(c, objs + got, n - got);
		sm_mutex_unlock(&c->slab_lock);
		if (got == n)
			return got;
		struct page *pg = slab_new(c, gfp);
		if (!pg)
			return got;
		if (!slab_lock_gfp(c, gfp)) {
			slab_release(c, pg);
			return got;
		}
		c->nr_slabs++;
		slab_list_add(c, pg, SLAB_LIST_EMPTY);
	}
}

void *slab_alloc_one(struct kmem_cache *c, gfp_t gfp)
{
	void *p;
	return slab_alloc_bulk(c, gfp, &p, 1) ? p : NULL;
}

/* Diagnose a pointer that failed the object checks of @c, then abort. */
SM_COLD SM_NORETURN
void slab_bad_free(const struct kmem_cache *c, const void *p, const char *caller)
{
	struct page *pg = sm_virt_to_page(p);
	if (!pg)
		slab_bug(c, "%s(): invalid pointer %p (not in the heap)", caller, p);
	const struct kmem_cache *o = pg->slab_cache;
	if (!o)
		slab_bug(c, "%s(): invalid pointer %p (not a slab object)", caller, p);
	if (o != c)
		slab_bug(c, "%s(): object %p belongs to cache %s", caller, p, o->name);
	slab_bug(c, "%s(): %p is not the start of an object (slab %p)", caller, p,
	         (void *)slab_start(c, pg));
}

/* The head page of the slab holding object @p of @c; aborts on bad input. */
static inline struct page *slab_obj_head(const struct kmem_cache *c, const void *p,
                                         uint64_t *idx, const char *caller)
{
	struct page *pg = sm_virt_to_page(p);
	if (unlikely(!pg) || unlikely(pg->slab_cache != c))
		slab_bad_free(c, p, caller);
	uint64_t i = slab_obj_index(c, pg, p);
	if (unlikely(i > c->div_limit))
		slab_bad_free(c, p, caller);
	*idx = i;
	uintptr_t start = slab_start(c, pg);
	struct page *head = pg - (((uintptr_t)p - start) >> SM_PAGE_SHIFT);
	if (unlikely(!(head->flags & PG_slab)) || unlikely(head->slab_cache != c))
		slab_bug(c, "%s(): slab %p of object %p is corrupted", caller, (void *)start, p);
	return head;
}

/* Object @p of @c was found free already (@bit_set: its free bit is set)
 * or its slab @head counts no object in use: report and abort. A kmalloc
 * object is reported as free() reports a double free, wherever it is
 * caught (a free of it, or a magazine leaving for the slabs). */
SM_COLD SM_NORETURN
static void slab_double_free(const struct kmem_cache *c, const struct page *head,
                             const void *p, bool bit_set)
{
	if (bit_set && (c->flags & SLAB_KMALLOC))
		sm_fatal("free(): double free detected (%p)", p);
	slab_bug(c, "double free or corruption of object %p (slab %p)", p,
	         (void *)slab_start(c, head));
}

bool slab_obj_is_free(const struct kmem_cache *c, const struct page *pg, const void *p)
{
	/* One read of slab_base: if the slab went away meanwhile (only in a
	 * program that freed @p already) the index or the head's check fails
	 * and nothing is proven; the addresses computed stay in the slab's
	 * block of the zone, which is never unmapped. */
	uintptr_t base = SM_READ_ONCE(pg->slab_base);
	uint64_t idx = slab_index((uintptr_t)p - base, c->div_inv, c->div_shift);
	if (idx > c->div_limit)
		return false;
	uintptr_t start = SM_ALIGN_DOWN(base, slab_bytes(c));
	struct page *head = (struct page *)pg - (((uintptr_t)p - start) >> SM_PAGE_SHIFT);
	if (!(SM_READ_ONCE(head->flags) & PG_slab) || SM_READ_ONCE(head->slab_cache) != c)
		return false;
	const uint64_t *bm = slab_bitmap(c, head);
	return (__atomic_load_n(&bm[idx / 64], __ATOMIC_RELAXED) >> (idx % 64)) & 1;
}

void slab_free_bulk(struct kmem_cache *c, void **objs, unsigned int n)
{
	size_t bytes = 0;
	if (n == 0)
		return;
	sm_mutex_lock(&c->slab_lock);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t idx;
		struct page *head = slab_obj_head(c, objs[i], &idx, "kmem_cache_free");
		uint64_t *bm = slab_bitmap(c, head);
		uint64_t bit = (uint64_t)1 << (idx % 64);
		if (unlikely(bm[idx / 64] & bit) || unlikely(head->slab.inuse == 0))
			slab_double_free(c, head, objs[i], (bm[idx / 64] & bit) != 0);
		bm[idx / 64] |= bit;
		head->slab.inuse--;
		slab_relist(c, head);
	}
	c->active_objs -= n;
	struct page *chain = NULL;
	if (c->nr_empty > slab_keep_empty(c))
		chain = slab_take_empty_locked(c, slab_keep_empty(c), &bytes);
	sm_mutex_unlock(&c->slab_lock);
	slab_release_chain(c, chain);
}

/* Is object @p of @c free in its slab's bitmap? */
bool slab_obj_free(struct kmem_cache *c, const void *p)
{
	uint64_t idx;
	sm_mutex_lock(&c->slab_lock);
	struct page *head = slab_obj_head(c, p, &idx, "kmem_cache_free");
	bool free = (slab_bitmap(c, head)[idx / 64] >> (idx % 64)) & 1;
	sm_mutex_unlock(&c->slab_lock);
	return free;
}

/* ---- slub_debug selection ---- */

static sm_slot_key_t slab_fast_key(const struct kmem_cache *c);

void (*slab_release_hook)(struct kmem_cache *c, uintptr_t start);

/* The selection (slab_internal.h), written under sm_cache_list_lock. */
static unsigned long slab_dbg_flags;
static char slab_dbg_names[256];

void slab_debug_select(unsigned long flags, const char *names, size_t len)
{
	if (len >= sizeof slab_dbg_names)
		len = sizeof slab_dbg_names - 1;
	sm_mutex_lock(&sm_cache_list_lock);
	slab_dbg_flags = flags & SLAB_DEBUG_FLAGS;
	memcpy(slab_dbg_names, names, len);
	slab_dbg_names[len] = 0;
	sm_mutex_unlock(&sm_cache_list_lock);
}

/* Does @name match one of the '/'-separated patterns of @list? */
static bool slab_dbg_name_match(const char *list, const char *name)
{
	size_t nlen = strlen(name);
	for (const char *p = list; *p;) {
		const char *e = p;
		while (*e && *e != '/')
			e++;
		size_t len = (size_t)(e - p);
		if (len && p[len - 1] == '*') {
			if (len - 1 <= nlen && memcmp(p, name, len - 1) == 0)
				return true;
		} else if (len == nlen && memcmp(p, name, len) == 0) {
			return true;
		}
		p = *e ? e + 1 : e;
	}
	return false;
}

/* The selection's flags for @name; sm_cache_list_lock held. */
static unsigned long slab_dbg_selected_locked(const char *name, unsigned long cflags)
{
	if (cflags & SLAB_NOMAG)
		return 0;        /* the allocator's own caches are never debugged */
	unsigned long f = cflags & SLAB_DEBUG_FLAGS;
	if (slab_dbg_flags && (!slab_dbg_names[0] || slab_dbg_name_match(slab_dbg_names, name)))
		f |= slab_dbg_flags;
	return f;
}

unsigned long slab_debug_selected(const char *name, unsigned long cflags)
{
	sm_mutex_lock(&sm_cache_list_lock);
	unsigned long f = slab_dbg_selected_locked(name, cflags);
	sm_mutex_unlock(&sm_cache_list_lock);
	return f;
}

/* Set @c's debug flags; sm_cache_list_lock held. */
static void slab_debug_set_locked(struct kmem_cache *c, unsigned long flags)
{
	sm_mutex_lock(&c->slab_lock);
	__atomic_store_n(&c->debug, flags & SLAB_DEBUG_FLAGS, __ATOMIC_RELEASE);
	int32_t key = slab_page_key(c);
	struct page *lists[3] = { c->partial, c->full, c->empty };
	for (int l = 0; l < 3; l++)
		for (struct page *pg = lists[l]; pg; pg = pg->slab.next)
			for (size_t i = 0; i < ((size_t)1 << c->order); i++)
				__atomic_store_n(&pg[i].slab_key, key, __ATOMIC_RELEASE);
	sm_mutex_unlock(&c->slab_lock);
	__atomic_store_n(&c->cc_key, slab_fast_key(c), __ATOMIC_RELEASE);
}

void slab_debug_apply(void (*turned_off)(struct kmem_cache *c))
{
	sm_mutex_lock(&sm_cache_list_lock);
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next) {
		unsigned long was = c->debug;
		unsigned long f = slab_dbg_selected_locked(c->name, c->flags);
		if (f == was)
			continue;
		slab_debug_set_locked(c, f);
		if (!f && turned_off)
			turned_off(c);
	}
	sm_mutex_unlock(&sm_cache_list_lock);
}

/* ---- caches ---- */

static void slab_cache_init_fields(struct kmem_cache *c, const char *name,
                                   unsigned long flags, kmem_cache_ctor_t ctor,
                                   kmem_cache_ctor_t dtor)
{
	size_t i;
	for (i = 0; i + 1 < SM_CACHE_NAME_MAX && name[i]; i++)
		c->name[i] = name[i];
	c->name[i] = 0;
	c->flags = flags;
	c->ctor = ctor;
	c->dtor = dtor;
	c->id = SM_CACHE_NO_ID;
	pthread_mutex_init(&c->slab_lock, NULL);
	pthread_mutex_init(&c->depot.d_lock, NULL);
	c->partial = c->full = c->empty = NULL;
	c->nr_slabs = c->nr_empty = c->nr_partial = 0;
	c->active_objs = 0;
}

/* The fast-path slot key of @c: its inline slot, or SM_TC_NONE for caches
 * without one and while fault injection is on; the zero key with dynamic
 * TLS. */
static sm_slot_key_t slab_fast_key(const struct kmem_cache *c)
{
#if SM_TC_SEG_FS
	if (sm_tls_dynamic)
		return SM_TC_KEY_DYN_NONE;
#endif
	uint32_t slot = c->id >= SM_TC_INLINE || SM_READ_ONCE(sm_fault_active) ||
	                SM_READ_ONCE(c->debug) ?
	                SM_TC_NONE : c->id;
	return sm_slot_key((uint32_t)(slot * sizeof(struct cpu_cache)));
}

void slab_update_fast_paths(void)
{
	sm_mutex_lock(&sm_cache_list_lock);
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next)
		__atomic_store_n(&c->cc_key, slab_fast_key(c), __ATOMIC_RELAXED);
	sm_mutex_unlock(&sm_cache_list_lock);
}

/* Link @c on the cache list (and give it an id unless SLAB_NOMAG); list
 * lock held. False when the ids are exhausted. */
static bool slab_cache_link_locked(struct kmem_cache *c)
{
	/* The SM_TC_NONE slot is never a cache's (see slab_internal.h). */
	slab_id_map[SM_TC_NONE / 64] |= (uint64_t)1 << (SM_TC_NONE % 64);
	if (!(c->flags & SLAB_NOMAG)) {
		uint32_t id = SM_CACHE_NO_ID;
		for (size_t w = 0; w < SM_ARRAY_SIZE(slab_id_map); w++) {
			if (slab_id_map[w] != ~(uint64_t)0) {
				unsigned int b = (unsigned int)__builtin_ctzll(~slab_id_map[w]);
				slab_id_map[w] |= (uint64_t)1 << b;
				id = (uint32_t)(w * 64 + b);
				break;
			}
		}
		if (id == SM_CACHE_NO_ID)
			return false;
		c->id = id;
	}
	c->cc_key = slab_fast_key(c);
	/* Append, so list order is creation order (internal caches first). */
	c->next = NULL;
	c->prev = NULL;
	if (!sm_cache_list) {
		sm_cache_list = c;
	} else {
		struct kmem_cache *t = sm_cache_list;
		while (t->next)
			t = t->next;
		t->next = c;
		c->prev = t;
	}
	return true;
}

void slab_cache_unlink_locked(struct kmem_cache *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		sm_cache_list = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	if (c->id != SM_CACHE_NO_ID)
		slab_id_map[c->id / 64] &= ~((uint64_t)1 << (c->id % 64));
}

/* Magazine capacity a new cache starts with (magazine.c adapts it). */
static uint32_t slab_initial_magsize(size_t size)
{
	if (size <= 256)
		return 126;      /* <= 32 KiB of objects per magazine */
	if (size <= 4096)
		return 62;       /* <= 248 KiB: two absorb a burst of 64 */
	return 6;
}

struct kmem_cache *slab_cache_create(const char *name, size_t size, size_t align,
                                     unsigned long flags, kmem_cache_ctor_t ctor,
                                     kmem_cache_ctor_t dtor)
{
	struct kmem_cache *c = slab_alloc_one(&slab_cache_cache, GFP_KERNEL);
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	slab_cache_init_fields(c, name, flags, ctor, dtor);
	/* slub_debug: the selection in effect now, with the debug layout (a
	 * red zone after every object) when it includes SLAB_RED_ZONE. */
	c->debug = slab_debug_selected(c->name, flags);
	if (c->debug & SLAB_RED_ZONE) {
		c->debug_pad = SLAB_DEBUG_PAD;
		if (!slab_calc_layout(c, size, align))
			c->debug_pad = 0;        /* no room: zones in the slack only */
	}
	if (!c->debug_pad && !slab_calc_layout(c, size, align)) {
		slab_free_bulk(&slab_cache_cache, (void **)&c, 1);
		errno = EINVAL;
		return NULL;
	}
	uint32_t ms = slab_initial_magsize(c->size);
	c->depot.d_magsize = ms;
	c->depot.d_magsize_max = SM_MAG_MAX;
	c->depot.d_reap_ns = os_now_ns();

	sm_mutex_lock(&sm_cache_list_lock);
	bool ok = slab_cache_link_locked(c);
	sm_mutex_unlock(&sm_cache_list_lock);
	if (!ok) {
		slab_free_bulk(&slab_cache_cache, (void **)&c, 1);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

/*
 * Key 0 is the slab_key of sm_page_none, the window's one descriptor before
 * it opens (page_alloc.h): it must name a slot that is always full, so that
 * a free that comes before initialisation takes the slow path. Elsewhere 0
 * is SM_TC_NONE's offset in sm_tc. On x86-64 a key is an offset from the
 * thread pointer and 0 names the thread control block, whose first and third
 * words (glibc's tcb and self) both point to the block itself: a "slot"
 * whose top equals its end. slab_init checks it.
 */
_Static_assert(SM_TC_NONE == 0, "sm_page_none: SM_TC_NONE is slot 0");

/* The calling thread's slots, one per cache id (slab_internal.h). Defined
 * on this floor because the slab layer names them: each slab page records
 * the key of its cache's slot (slab_key) and each cache the key its fast
 * paths use (cc_key). The magazine layer above fills and empties them. */
SM_TLS struct thread_cache sm_tc;

#if SM_TC_SEG_FS
/* With dynamic TLS: do the two zero slots (slab_internal.h) read zero? */
static bool slab_tcb_zero_ok(void)
{
	if (!sm_tls_dynamic)
		return true;
	uint64_t any = 0;
	for (uintptr_t off = SM_TC_KEY_DYN_NONE; off < SM_TC_KEY_DYN_KMALLOC + 64; off += 8)
		any |= *(const uint64_t SM_TC_SEG *)off;
	return any == 0;
}
#endif

void slab_init(void)
{
	struct kmem_cache *c = &slab_cache_cache;
#if SM_TC_SEG_FS
	{
		/* cc_top and cc_hi of "slot" 0: %fs:0 and %fs:16. */
		uintptr_t top, hi;
		__asm__("movq %%fs:0, %0\n\tmovq %%fs:16, %1" : "=r"(top), "=r"(hi));
		if (sm_page_none.slab_key != 0 || top != hi || !slab_tcb_zero_ok())
			sm_fatal("slabmalloc: unsupported thread control block layout "
			         "(a glibc x86-64 TCB is needed)");
	}
	if (sm_tls_dynamic)
		buddy_set_slab_key_none(SM_TC_KEY_DYN_NONE);
	else
#endif
	buddy_set_slab_key_none(sm_slot_key(SM_TC_NONE * sizeof(struct cpu_cache)));
	slab_cache_init_fields(c, "kmem_cache", SLAB_NOMAG | SLAB_HWCACHE_ALIGN, NULL, NULL);
	if (!slab_calc_layout(c, sizeof(struct kmem_cache), 0))
		sm_fatal("slabmalloc: cannot lay out the kmem_cache cache");
	sm_mutex_lock(&sm_cache_list_lock);
	slab_cache_link_locked(c);
	sm_mutex_unlock(&sm_cache_list_lock);
}

void slab_cache_free(struct kmem_cache *c)
{
	sm_mutex_lock(&c->slab_lock);
	if (c->active_objs != 0 || c->partial || c->full)
		slab_bug(c, "kmem_cache_destroy(): objects allocated while destroying");
	size_t bytes = 0;
	struct page *chain = slab_take_empty_locked(c, 0, &bytes);
	sm_mutex_unlock(&c->slab_lock);
	slab_release_chain(c, chain);
	pthread_mutex_destroy(&c->slab_lock);
	slab_free_bulk(&slab_cache_cache, (void **)&c, 1);
}

void slab_for_each_cache(void (*fn)(struct kmem_cache *, void *), void *arg)
{
	sm_mutex_lock(&sm_cache_list_lock);
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next)
		fn(c, arg);
	sm_mutex_unlock(&sm_cache_list_lock);
}

/* ---- validation ---- */

static bool slab_validate_slab(struct kmem_cache *c, struct page *pg, uint32_t list,
                               unsigned long *inuse_sum)
{
	bool ok = true;
	uintptr_t start = (uintptr_t)sm_page_to_virt(pg);
	size_t npages = (size_t)1 << c->order;
#define BAD(...) do { sm_dprintf(2, __VA_ARGS__); ok = false; } while (0)
	if (!(pg->flags & PG_slab))
		BAD("slab_validate %s: slab %p without PG_slab\n", c->name, (void *)start);
	if (pg->slab.list != list)
		BAD("slab_validate %s: slab %p on list %u says %u\n", c->name, (void *)start,
		    list, pg->slab.list);
	if (start & (slab_bytes(c) - 1))
		BAD("slab_validate %s: slab %p misaligned\n", c->name, (void *)start);
	if (pg->slab.colour % c->colour_step ||
	    pg->slab.colour / c->colour_step >= c->colour_range)
		BAD("slab_validate %s: slab %p colour %u out of range\n", c->name,
		    (void *)start, pg->slab.colour);
	if (pg->slab.colour + slab_left_pad(c) + (size_t)c->objects * c->size > c->bitmap_off)
		BAD("slab_validate %s: slab %p objects overlap the bitmap\n", c->name,
		    (void *)start);
	for (size_t i = 0; i < npages; i++) {
		if (pg[i].slab_cache != c ||
		    pg[i].slab_base != start + pg->slab.colour + slab_left_pad(c) ||
		    pg[i].slab_key != slab_page_key(c)) {
			BAD("slab_validate %s: page %lu of slab %p: cache %p base %lx key %d\n",
			    c->name, (unsigned long)i, (void *)start, (void *)pg[i].slab_cache,
			    (unsigned long)pg[i].slab_base, pg[i].slab_key);
			break;
		}
	}
	if (sm_virt_to_page((void *)start) != pg)
		BAD("slab_validate %s: slab %p: descriptor mismatch\n", c->name, (void *)start);
	uint64_t *bm = slab_bitmap(c, pg);
	unsigned long nfree = 0;
	for (uint32_t w = 0; w < c->bitmap_words; w++)
		nfree += (unsigned long)__builtin_popcountll(bm[w]);
	if (c->objects % 64 &&
	    bm[c->bitmap_words - 1] >> (c->objects % 64))
		BAD("slab_validate %s: slab %p: bits set beyond the last object\n", c->name,
		    (void *)start);
	if (nfree + pg->slab.inuse != c->objects)
		BAD("slab_validate %s: slab %p: inuse %u but %lu free bits of %u\n", c->name,
		    (void *)start, pg->slab.inuse, nfree, c->objects);
	if (slab_state(c, pg) != list)
		BAD("slab_validate %s: slab %p with inuse %u on list %u\n", c->name,
		    (void *)start, pg->slab.inuse, list);
	*inuse_sum += pg->slab.inuse;
#undef BAD
	return ok;
}

bool slab_validate(struct kmem_cache *c)
{
	bool ok = true;
	unsigned long count[4] = { 0 }, inuse = 0;
	const unsigned long limit = 1ul << 40;

	sm_mutex_lock(&c->slab_lock);
	for (uint32_t list = SLAB_LIST_PARTIAL; list <= SLAB_LIST_EMPTY; list++) {
		struct page *prev = NULL;
		for (struct page *pg = *slab_list_head(c, list); pg; pg = pg->slab.next) {
			if (pg->slab.prev != prev) {
				sm_dprintf(2, "slab_validate %s: broken back link on list %u\n",
				           c->name, list);
				ok = false;
			}
			if (!slab_validate_slab(c, pg, list, &inuse))
				ok = false;
			prev = pg;
			if (++count[list] > limit) {
				sm_dprintf(2, "slab_validate %s: cycle on list %u\n", c->name, list);
				ok = false;
				break;
			}
		}
	}
	if (count[SLAB_LIST_PARTIAL] != c->nr_partial || count[SLAB_LIST_EMPTY] != c->nr_empty ||
	    count[1] + count[2] + count[3] != c->nr_slabs) {
		sm_dprintf(2, "slab_validate %s: counts partial %lu/%lu empty %lu/%lu slabs %lu/%lu\n",
		           c->name, count[1], c->nr_partial, count[3], c->nr_empty,
		           count[1] + count[2] + count[3], c->nr_slabs);
		ok = false;
	}
	if (inuse != c->active_objs) {
		sm_dprintf(2, "slab_validate %s: active_objs %lu but slabs hold %lu\n",
		           c->name, c->active_objs, inuse);
		ok = false;
	}
	if (c->objects == 0 || c->size < c->object_size || c->size % c->align ||
	    (size_t)c->objects * c->size +
	    (c->bitmap_off == slab_bytes(c) ? 0 : SLAB_BITMAP_BYTES(c->objects)) > slab_bytes(c) ||
	    (c->bitmap_off == slab_bytes(c)) != (c->objects <= 64)) {
		sm_dprintf(2, "slab_validate %s: bad geometry\n", c->name);
		ok = false;
	}
	sm_mutex_unlock(&c->slab_lock);
	return ok;
}

/* ---- fork ---- */

void slab_prefork(void)
{
	sm_mutex_lock(&sm_cache_list_lock);
}

void slab_prefork_slabs(void)
{
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next)
		sm_mutex_lock(&c->slab_lock);
}

void slab_postfork_parent_slabs(void)
{
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next)
		sm_mutex_unlock(&c->slab_lock);
}

void slab_postfork_parent(void)
{
	sm_mutex_unlock(&sm_cache_list_lock);
}

void slab_postfork_child(void)
{
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next)
		pthread_mutex_init(&c->slab_lock, NULL);
	pthread_mutex_init(&sm_cache_list_lock, NULL);
}
