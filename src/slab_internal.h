/* SPDX-License-Identifier: MIT */
/*
 * slab_internal.h — the slab and magazine layers' contract with kmalloc,
 * malloc, mempool and stats: struct kmem_cache, magazines, the per-thread
 * cache, and the inline fast paths.
 */
#ifndef SM_SLAB_INTERNAL_H
#define SM_SLAB_INTERNAL_H

#include "page_alloc.h"

#pragma GCC visibility push(hidden)   /* see internal.h */

#define SM_CACHE_NAME_MAX 32
#define SM_TC_INLINE      64    /* cache ids below this live in the TLS array */
/* The first inline slot is never a cache's: it stays all zero (no rounds, no
 * room), and everything that must not take a fast path points there: caches
 * whose slot is elsewhere (ids >= SM_TC_INLINE, caches without magazines,
 * every cache while fault injection is on) through their cc_key, and pages
 * that are not kmalloc slab pages through their struct page.slab_key. Their
 * fast paths then fall through to the slow paths without a separate test. */
#define SM_TC_NONE        0
#define SM_MAG_MAX        254   /* largest magazine, in rounds */
#define SM_CACHE_ID_MAX   65536 /* cache ids are 0 .. SM_CACHE_ID_MAX-1 */
#define SM_CACHE_NO_ID    UINT32_MAX  /* id of caches without magazines */

/* Internal cache flag (never accepted from kmem_cache_create): the cache has
 * no magazine layer; its objects are taken with slab_alloc_bulk() and given
 * back with slab_free_bulk() (the kmem_cache and magazine caches). */
#define SLAB_NOMAG          0x40000000UL
/* Internal cache flag: a kmalloc-N cache. Its slab pages name the class's
 * slot (struct page.slab_key) for free(), and an object freed twice is
 * reported as free() reports it ("free(): double free detected"). */
#define SLAB_KMALLOC        0x80000000UL
/* The slub_debug flags (debug.c): F, Z, P, U. */
#define SLAB_DEBUG_FLAGS (SLAB_DEBUG_FREE | SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER)
/* Red-zone bytes added after each object of a cache created with
 * SLAB_RED_ZONE in effect (the debug layout). */
#define SLAB_DEBUG_PAD      16
/* The flags kmem_cache_create() accepts; other bits are ignored. */
#define SLAB_USER_FLAGS (SLAB_DEBUG_FREE | SLAB_RED_ZONE | SLAB_POISON | \
                         SLAB_HWCACHE_ALIGN | SLAB_CACHE_DMA | SLAB_STORE_USER | \
                         SLAB_NO_REAP | SLAB_PANIC)

/* A magazine: a stack of free objects (rounds). While loaded in a thread's
 * cpu_cache, the cpu_cache's pointers are authoritative and mag_rounds is
 * stale. */
struct magazine {
	struct magazine *mag_next;       /* depot list link */
	uint32_t         mag_size;       /* capacity in rounds */
	uint32_t         mag_rounds;     /* rounds held, while not loaded */
	void            *mag_round[];    /* the rounds */
};

/*
 * A thread's cache for one kmem cache (libumem's cpu cache): one cache line.
 * The loaded magazine is described by three pointers into its rounds, so
 * that the fast paths are one load and one compare: pop when cc_top !=
 * cc_lo, push when cc_top != cc_hi. With no magazine loaded all three are
 * NULL (no rounds, no room). The previous magazine keeps its round count in
 * its own mag_rounds. The cache's object-start constants (slab_obj_index)
 * are copied in whenever a magazine is loaded, so that free() proves a
 * pointer with what it already has at hand: the slot and the descriptor.
 */
struct cpu_cache {
	void           **cc_top;         /* next free round slot of the loaded */
	void           **cc_lo;          /* &loaded->mag_round[0], or NULL */
	void           **cc_hi;          /* &loaded->mag_round[mag_size] */
	struct magazine *cc_ploaded;     /* the previous magazine, or NULL */
	uint64_t         cc_div_inv;     /* kmem_cache.div_inv */
	uint64_t         cc_div_limit;   /* kmem_cache.div_limit */
	uint32_t         cc_div_shift;   /* kmem_cache.div_shift */
	uint32_t         cc_lim;         /* rounds a magazine may hold while in
	                                  * this slot (the thread's budget), 0
	                                  * before the first budgeted slow path */
	uint32_t         cc_charge;      /* bytes of the thread's budget this
	                                  * slot holds: 2 * cc_lim * object size */
	uint32_t         cc_active;      /* counted in tc_nactive */
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct cpu_cache) == 64, "cpu_cache is one cache line");

/* The loaded magazine of @cc, or NULL. */
SM_INLINE struct magazine *cc_loaded(const struct cpu_cache *cc)
{
	void **lo = cc->cc_lo;
	return lo ? (struct magazine *)((char *)lo - offsetof(struct magazine, mag_round))
	          : NULL;
}

/* Rounds in the loaded magazine of @cc. */
SM_INLINE uint32_t cc_rounds(const struct cpu_cache *cc)
{
	return (uint32_t)(cc->cc_top - cc->cc_lo);
}

/* Load @m (or nothing, for NULL) holding @rounds rounds into @cc. The
 * fast free path fills it up to the slot's limit (cc_lim, when set) or its
 * capacity, whichever is less, and never below @rounds. */
SM_INLINE void cc_load(struct cpu_cache *cc, struct magazine *m, uint32_t rounds)
{
	if (m) {
		uint32_t room = m->mag_size;
		if (cc->cc_lim && cc->cc_lim < room)
			room = cc->cc_lim > rounds ? cc->cc_lim : rounds;
		cc->cc_lo = m->mag_round;
		cc->cc_hi = m->mag_round + room;
		cc->cc_top = m->mag_round + rounds;
	} else {
		cc->cc_lo = cc->cc_hi = cc->cc_top = NULL;
	}
}

/* The loaded magazine of @cc (if any) becomes the previous one, its rounds
 * recorded in it, and @m is loaded holding @rounds rounds. */
SM_INLINE void cc_rotate(struct cpu_cache *cc, struct magazine *m, uint32_t rounds)
{
	struct magazine *l = cc_loaded(cc);
	if (l)
		l->mag_rounds = cc_rounds(cc);
	cc->cc_ploaded = l;
	cc_load(cc, m, rounds);
}

/* All of a thread's allocator state, in TLS (see sm_slot_key). Defined in
 * slab.c, whose pages and caches carry the keys of its slots; filled by the
 * magazine layer. */
struct thread_cache {
	struct cpu_cache     tc_cc[SM_TC_INLINE];  /* cache ids < SM_TC_INLINE */
	struct cpu_cache    *tc_ext;               /* ids >= SM_TC_INLINE */
	uint32_t             tc_ext_n;             /* entries in tc_ext */
	uint32_t             tc_registered;        /* on sm_thread_list */
	uint32_t             tc_nactive;           /* slots that hold a charge */
	size_t               tc_charge;            /* bytes charged by all slots */
	struct thread_cache *tc_next, *tc_prev;    /* sm_thread_list links */
};
extern SM_TLS struct thread_cache sm_tc;

/*
 * Fast-path access to a slot of sm_tc. On x86-64 the slot is addressed
 * through %fs, so the thread pointer itself is never read: when sm_tc is in
 * static TLS, a slot's offset from the thread pointer is the same in every
 * thread, so the kmalloc size table, the caches (cc_key) and the page
 * descriptors (slab_key) store that, as a slot key, and a fast path reaches
 * the slot with %fs-relative operands on the key. The offset of sm_tc is
 * measured once, when a key is made. Elsewhere a key is the offset in sm_tc
 * and slots are ordinary pointers.
 *
 * Dynamic TLS (sm_tls_dynamic: the library was dlopened and its TLS block
 * did not fit in static TLS) has no offset common to all threads. Then the
 * fast paths are closed at no cost to them: kmalloc's size limits are 0, and
 * every cc_key and slab_key is one of the two keys below, which name 64
 * bytes each of glibc's x86-64 thread control block that are reserved and
 * always zero (tcbhead_t.__glibc_unused2, 0x80-0x27f, kept for the programs
 * that depend on the block's size; SM_TLS_KEY_ZERO in internal.h). A zero slot has no rounds and no room, so
 * every allocation and free falls through to the slow paths, which find the
 * thread's real slots through ordinary TLS access; nothing is ever written
 * through these keys. slab_init checks that the area reads zero.
 * SM_TC_KEY_DYN_KMALLOC marks the pages of kmalloc slabs (kfree tells them
 * from other pages by their key), SM_TC_KEY_DYN_NONE everything else.
 */
typedef int32_t sm_slot_key_t;

#if SM_TC_SEG_FS
#define SM_TC_SEG __seg_fs
#define SM_TC_KEY_DYN_NONE     SM_TLS_KEY_ZERO
#define SM_TC_KEY_DYN_KMALLOC  (SM_TLS_KEY_ZERO + 0x40)
/* The offset of sm_tc from the calling thread's thread pointer. */
SM_INLINE intptr_t sm_tc_tpoff(void)
{
	return (intptr_t)((uintptr_t)&sm_tc - sm_tp());
}
#else
#define SM_TC_SEG
#endif
typedef struct cpu_cache SM_TC_SEG cpu_cache_fast_t;

/* The key of the slot at byte offset @off of sm_tc. With dynamic TLS it is
 * the offset itself, which only the slow paths use (kmalloc_class); the
 * fast paths see the zero keys above instead. */
SM_INLINE sm_slot_key_t sm_slot_key(uint32_t off)
{
#if SM_TC_SEG_FS
	if (!sm_tls_dynamic)
		return (sm_slot_key_t)(sm_tc_tpoff() + (intptr_t)off);
#endif
	return (sm_slot_key_t)off;
}

/* The slot named by @key. */
SM_INLINE cpu_cache_fast_t *sm_slot_by_key(sm_slot_key_t key)
{
#if SM_TC_SEG_FS
	return (cpu_cache_fast_t *)(intptr_t)key;
#else
	return (cpu_cache_fast_t *)((char *)&sm_tc + key);
#endif
}

/*
 * Move the top of a slot's loaded magazine by one round, after a pop
 * (cc_top_dec) or a push (cc_top_inc): on x86-64 one read-modify-write
 * instruction on the %fs-relative slot, with no lock prefix (the slot is the
 * thread's own). The caller has compared the old top against cc_lo or
 * cc_hi. Which paths use them was measured (AMD EPYC, tight loops): the
 * kmem_cache pair is fastest with both (4.4 ns, against 4.7-5.0 with plain
 * stores); malloc/free with the pop only: with both, pair/16 of bench_alloc
 * took 8.3 ns, with either one alone 6.6-6.9 ns, so kfree_fast stores its
 * new top from a register.
 */
SM_INLINE void cc_top_dec(cpu_cache_fast_t *cc)
{
#if SM_TC_SEG_FS
	__asm__("subq %1, %0" : "+m"(cc->cc_top) : "i"(sizeof(void *)));
#else
	cc->cc_top--;
#endif
}

SM_INLINE void cc_top_inc(cpu_cache_fast_t *cc)
{
#if SM_TC_SEG_FS
	__asm__("addq %1, %0" : "+m"(cc->cc_top) : "i"(sizeof(void *)));
#else
	cc->cc_top++;
#endif
}

/* The round below @top (a pop's result). On x86-64 it is loaded straight
 * into %rax, the return register: left to itself gcc 12 picks another one
 * and adds a move to malloc's fast path. */
SM_INLINE void *cc_round_below(void **top)
{
#if SM_TC_SEG_FS
	void *p;
	__asm__("movq %1, %0" : "=a"(p) : "m"(top[-1]));
	return p;
#else
	return top[-1];
#endif
}

/* The depot of one cache (Bonwick & Adams 2001, §3.3). */
struct depot {
	pthread_mutex_t  d_lock;
	struct magazine *d_full;         /* full magazines */
	struct magazine *d_empty;        /* empty magazines */
	uint32_t         d_nfull, d_nempty;
	uint32_t         d_fmin, d_emin; /* working-set minima this interval */
	uint32_t         d_magsize;      /* capacity of new magazines */
	uint32_t         d_magsize_max;  /* limit for adaptation */
	uint64_t         d_contended;    /* lock contention this interval */
	uint64_t         d_reap_ns;      /* start of the current interval */
	uint64_t         d_rounds;       /* rounds in the full magazines */
	uint64_t         d_grown;        /* times d_magsize grew */
	uint64_t         d_reaped;       /* magazines reaped, in total */
};

/*
 * struct kmem_cache. The first line holds what the fast paths read.
 */
struct kmem_cache {
	uint32_t     id;                 /* index of this cache's cpu_cache */
	sm_slot_key_t cc_key;            /* fast-path slot: this cache's, or
	                                  * SM_TC_NONE (slab_update_fast_paths) */
	uint32_t     size;               /* object stride in bytes */
	uint32_t     object_size;        /* size the user asked for */
	uint32_t     div_shift;
	uint64_t     div_inv;            /* object-start check: see slab_obj_index */
	uint64_t     div_limit;          /* objects - 1 */
	uint32_t     order;              /* slab is 2^order pages */
	uint32_t     align;
	unsigned long flags;             /* SLAB_* */
	kmem_cache_ctor_t ctor, dtor;
	uint32_t     objects;            /* objects per slab */
	uint32_t     colour_range;       /* number of distinct colours */
	uint32_t     colour_next;        /* next colour to use */
	uint32_t     bitmap_off;         /* offset of the free bitmap in a slab */
	uint32_t     colour_step;        /* bytes between two colours */
	uint32_t     bitmap_words;       /* 64-bit words of the free bitmap */
	char         name[SM_CACHE_NAME_MAX];

	pthread_mutex_t slab_lock;
	struct page *partial, *full, *empty;   /* slab lists (head pages) */
	unsigned long nr_slabs, nr_empty, nr_partial;
	unsigned long active_objs;       /* objects out of slabs (incl. magazines) */

	struct depot depot;
	struct kmem_cache *next, *prev;  /* sm_cache_list */
	unsigned long debug;             /* SLAB_DEBUG_FLAGS in effect (debug.c):
	                                  * non-zero takes the cache off the
	                                  * fast paths */
	uint32_t     debug_pad;          /* red-zone bytes added to each object
	                                  * at creation (0 without the layout) */
	uint64_t     stat_alloc_slow, stat_free_slow, stat_refill, stat_flush;
};

/*
 * Object index of @p in the slab of page @pg (which must belong to @c), or a
 * value > c->div_limit when @p is not an object start of that slab.
 *
 * With size = d_odd << k, div_inv = d_odd^-1 mod 2^64 and div_shift = k:
 * for off = m * size the product off * div_inv is m << k (mod 2^64), and
 * rotating right by k gives m. For an off that is not a multiple of size the
 * rotated product exceeds UINT64_MAX / size (the divisibility test of
 * Granlund & Montgomery). div_limit is objects - 1, not UINT64_MAX / size, so
 * the same compare also rejects offsets before object 0 (the colour area, a
 * "negative" off) and after the last object (the bitmap): one multiply, one
 * rotate, one compare prove "p is one of this slab's objects".
 */
SM_INLINE uint64_t slab_index(uint64_t off, uint64_t inv, uint32_t shift)
{
#if defined(__x86_64__)
	/* The same. Stating the registers (the count in %cl, the product in
	 * %rdx) spares the free fast paths a move that gcc 12 adds when it
	 * chooses them itself. */
	__asm__("imulq %1, %0\n\trorq %%cl, %0" : "+d"(off) : "rm"(inv), "c"(shift));
	return off;
#else
	uint64_t q = off * inv;
	return (q >> shift) | (q << ((64 - shift) & 63));
#endif
}

SM_INLINE uint64_t slab_obj_index(const struct kmem_cache *c,
                                  const struct page *pg, const void *p)
{
	return slab_index((uintptr_t)p - pg->slab_base, c->div_inv, c->div_shift);
}

/* True when @p is the start of an object of slab page @pg (which must belong
 * to @c). See slab_obj_index. */
SM_INLINE bool slab_is_obj_start(const struct kmem_cache *c,
                                 const struct page *pg, const void *p)
{
	return slab_obj_index(c, pg, p) <= c->div_limit;
}

/* Is @p an object of @c? @pg is its page's descriptor, or any initialised
 * descriptor (a window alias): the object-start proof rejects an alias. */
SM_INLINE bool slab_owns(const struct kmem_cache *c, const struct page *pg, const void *p)
{
	return likely(pg->slab_cache == c) && likely(slab_is_obj_start(c, pg, p));
}

/* ---- slab layer (slab.c) ---- */

/* Rank 2 of the lock order: the list of all caches (sm_cache_list, linked by
 * next/prev). Held while iterating caches, so a cache on the list cannot be
 * destroyed under the iterator. */
extern pthread_mutex_t sm_cache_list_lock;
extern struct kmem_cache *sm_cache_list;

void slab_init(void);
/* Point every cache's cc_key at its slot, or at the SM_TC_NONE slot while
 * fault injection is on (sm_fault_active), so that kmem_cache_alloc's fast
 * path needs no test of its own: the slow path asks should_failslab. */
void slab_update_fast_paths(void);
/* Create a cache without validation of user input (internal callers). */
struct kmem_cache *slab_cache_create(const char *name, size_t size, size_t align,
                                     unsigned long flags, kmem_cache_ctor_t ctor,
                                     kmem_cache_ctor_t dtor);
/* Take up to @n objects out of slabs into @objs (one lock acquisition).
 * Creates slabs as needed unless GFP_ATOMIC. Returns the count. */
unsigned int slab_alloc_bulk(struct kmem_cache *c, gfp_t gfp, void **objs, unsigned int n);
/* Give @n objects back to their slabs (one lock acquisition). Detects an
 * object freed twice: its bit in the free bitmap is set already ("BUG
 * <cache>: double free ...", or for kmalloc caches "free(): double free
 * detected (<address>)"). */
void slab_free_bulk(struct kmem_cache *c, void **objs, unsigned int n);
/* Is object @p of @c (an object start proven against @pg, its own page's
 * descriptor) free in its slab? Reads its bit in the slab's free bitmap
 * without the slab lock: a set bit proves it free (a live object's bit is
 * clear, and only its free sets it, so a valid program never sees it set);
 * a clear bit proves nothing (it may be free in a magazine). */
bool slab_obj_is_free(const struct kmem_cache *c, const struct page *pg, const void *p);
/* One object out of a slab (no magazine), NULL if none could be had. */
void *slab_alloc_one(struct kmem_cache *c, gfp_t gfp);
/* Release empty slabs to the buddy allocator (destructors run), keeping at
 * most @keep of them. RETURNS: bytes given back to the page layer. */
size_t slab_trim(struct kmem_cache *c, unsigned long keep);
/* Release all empty slabs: slab_trim(c, 0). */
size_t slab_shrink(struct kmem_cache *c);
bool slab_validate(struct kmem_cache *c);
/* Would a cache of @size bytes aligned to @align with @flags fit a slab? */
bool slab_size_ok(size_t size, size_t align, unsigned long flags);
/* Diagnose a pointer that failed the object checks of @c (kmem_cache_free
 * and friends, named by @caller), then abort with a BUG line. */
SM_COLD SM_NORETURN void slab_bad_free(const struct kmem_cache *c, const void *p,
                                       const char *caller);
/* ---- slub_debug state (slab.c; the checks are debug.c's) ----
 *
 * The selection: @flags for every cache when @names is empty, else for the
 * caches named in @names ('/'-separated, a trailing '*' matches a prefix).
 * slab_cache_create applies it to each new cache (with the debug layout
 * when it includes SLAB_RED_ZONE); debug.c applies it to existing ones. */
void slab_debug_select(unsigned long flags, const char *names, size_t len);
/* The slub_debug flags the selection gives a cache named @name with cache
 * flags @cflags (its own SLAB_DEBUG_FLAGS included). */
unsigned long slab_debug_selected(const char *name, unsigned long cflags);
/* Give every cache the flags of the selection: its fast-path key and the
 * slab_key of every page of its slabs follow (SM_TC_NONE's while any flag
 * is set); @turned_off (if not NULL) is called, under sm_cache_list_lock,
 * for each cache whose debugging ends. */
void slab_debug_apply(void (*turned_off)(struct kmem_cache *c));
/* Called with the start of each slab of a cache released to the page
 * layer, once set (debug.c drops the slab's records). */
extern void (*slab_release_hook)(struct kmem_cache *c, uintptr_t start);
/* Is object @p of @c free in its slab's bitmap? (slab lock taken) */
bool slab_obj_free(struct kmem_cache *c, const void *p);
/* Bytes before object 0 of each slab of a cache with the debug layout: a
 * left red zone for it (SLAB_DEBUG_PAD, rounded up to the alignment). */
SM_INLINE size_t slab_left_pad(const struct kmem_cache *c)
{
	return c->debug_pad ? SM_ALIGN_UP((size_t)c->debug_pad, c->align) : 0;
}
/* Bytes of a slab of @c. */
SM_INLINE size_t slab_size_bytes(const struct kmem_cache *c)
{
	return SM_PAGE_SIZE << c->order;
}

/* Take @c off the cache list and give back its id; list lock held. */
void slab_cache_unlink_locked(struct kmem_cache *c);
/* Release every slab of an unlinked cache @c that has no object allocated
 * (destructors run), then free @c itself. */
void slab_cache_free(struct kmem_cache *c);
/* Iterate caches under sm_cache_list_lock. */
void slab_for_each_cache(void (*fn)(struct kmem_cache *, void *), void *arg);
/* Corruption or bad input seen through cache @c: one line
 * "BUG <cache>: <message>" on stderr, then abort(). @fmt must be a string
 * literal; the formats are sm_fatal's. */
#define slab_bug(c, fmt, ...) \
	sm_fatal("BUG %s: " fmt, (c)->name, ##__VA_ARGS__)
/* Fork handlers. The lock order puts every depot lock (rank 4) between the
 * cache-list lock (rank 2) and the slab locks (rank 5), so the slab layer's
 * prefork comes in two steps around mag_prefork():
 *   slab_prefork (2), mag_prefork (3, 4), slab_prefork_slabs (5);
 * the parent unlocks in the reverse order; the child re-initialises. */
void slab_prefork(void);
void slab_prefork_slabs(void);
void slab_postfork_parent_slabs(void);
void slab_postfork_parent(void);
void slab_postfork_child(void);

/* ---- slub_debug checks (debug.c) ----
 *
 * For caches with c->debug set, which the fast paths never serve. */
/* One object of @c out of its slab, checked (poison, zone of its last
 * free), recorded as allocated with @orig bytes asked for and call site
 * @ra, its red zone filled. NULL if the slab layer has none. */
void *slab_debug_alloc(struct kmem_cache *c, gfp_t gfp, size_t orig, const void *ra);
/* Free @p through @c (named @caller in reports) with every check, then
 * back to its slab. Reports and aborts on bad input. */
void slab_debug_free(struct kmem_cache *c, void *p, const char *caller, const void *ra);
/* The F checks alone; RETURNS: the size asked for. */
size_t slab_debug_check(struct kmem_cache *c, const void *p, const char *caller);
/* Select @flags for the caches named in @names (every cache if @len is 0)
 * and apply the selection to every existing cache. */
void slab_debug_configure(unsigned long flags, const char *names, size_t len);
/* Check the red zones of every allocated and the poison of every free
 * object with a record; reports and aborts on the first fault.
 * RETURNS: the objects checked. */
int slab_debug_check_all(void);
/* Non-zero while a debug selection is in effect (sized frees are then
 * checked against the size asked for). */
extern int slab_debug_active;
/* The size asked for of allocation @p if a debug record knows it, else 0. */
size_t slab_debug_size_of(const void *p);
/* Is the program running under valgrind (and the library built with its
 * client requests)? */
bool slab_debug_valgrind(void);
/* The leak report onto @fd. */
void slab_debug_leak_report(int fd);
/* Blocks above the slab sizes (kmalloc-large: @huge false; kmalloc-huge:
 * true): the flags the selection gives them (ending large-block debugging
 * empties the quarantine and drops the blocks' records); record an
 * allocation of @orig bytes in a block of @usable bytes (its red zone
 * filled); the F checks of a free (RETURNS: the size asked for); a free:
 * checks, then true if the block was kept (poisoned, in quarantine), false
 * if the caller gives it back. */
unsigned long debug_block_flags(bool huge);
void debug_block_alloc(void *p, size_t orig, size_t usable, bool huge,
                       unsigned long flags, const void *ra);
size_t debug_block_check(const void *p, size_t usable, bool huge, const char *caller);
bool debug_block_free(void *p, size_t usable, bool huge, unsigned long flags,
                      const char *caller, const void *ra);
void slab_debug_prefork(void);
void slab_debug_postfork_parent(void);
void slab_debug_postfork_child(void);
/* The call site the entry points of the kmalloc family leave for the
 * debug checks, on their slow sides; consumed (reset) by the kmalloc
 * layer. */
extern SM_TLS const void *sm_debug_ra;
/* Record the caller of an entry point for slub_debug's owner tracking, on
 * its slow side; only while debugging is on, so that a release run pays a
 * predictable branch, not a store into TLS. */
#define SM_DEBUG_RA() do { \
	if (unlikely(SM_READ_ONCE(slab_debug_active))) \
		sm_debug_ra = __builtin_return_address(0); \
} while (0)
/* Where the leak report goes at exit: "" none, "stderr", or a path. */
extern char sm_leak_target[256];

/* ---- magazine layer (magazine.c) ---- */

/* Tunables (options.c may set them; docs/slab.md):
 *   slab_mag_max            largest magazine capacity adaptation may reach
 *                           (rounded down to a magazine size; default 254)
 *   slab_mag_budget         bytes the magazines of all threads may hold
 *                           together (default 32 MiB; each thread's share
 *                           is this over the thread count, 32 KiB..4 MiB)
 *   depot_reap_interval_ns  working-set interval of the depots (default 10 s);
 *                           the background thread (bgthread.c, option
 *                           reap_thread) ends the intervals of quiet depots */
extern unsigned int slab_mag_max;
extern uint64_t depot_reap_interval_ns;

/* Rank 3 of the lock order: the list of registered thread caches. */
extern pthread_mutex_t sm_thread_list_lock;

/* Creates the magazine caches and sets sm_reclaim_hook (after slab_init). */
void mag_init(void);
/* The slow paths. mag_alloc_slow makes one attempt (magazine exchange,
 * depot, slabs, a new slab); on NULL the caller applies the GFP retry policy
 * (gfp_retry), as kmem_cache_alloc and kmalloc do. mag_free_slow never
 * fails. */
SM_NOINLINE void *mag_alloc_slow(struct kmem_cache *c, gfp_t gfp);
SM_NOINLINE void mag_free_slow(struct kmem_cache *c, void *obj);
/* ids >= SM_TC_INLINE: the calling thread's slot, or a shared all-zero slot
 * (no magazine: both fast paths fall through to the slow paths). */
struct cpu_cache *mag_cc_ext(uint32_t id);
void mag_thread_exit(void);          /* magazines back to the depots */
/* Rounds of @c held in every registered thread's magazines plus the depot's
 * (see kmem_cache_destroy); takes the thread-list and depot locks. */
unsigned long mag_count_cached(struct kmem_cache *c);
bool mag_count_cached_try(struct kmem_cache *c, unsigned long *n);
unsigned int mag_nr_threads(void);   /* threads holding magazines now */
/* The per-thread magazine budget (magazine.c, section 3): every thread's
 * share is slab_mag_budget / threads, between MAG_SHARE_MIN and
 * MAG_SHARE_MAX bytes. mag_thread_share is the share now;
 * mag_thread_cached_bytes the bytes of objects held in the magazines of
 * every registered thread (depots not counted; takes the cache-list and
 * thread-list locks). */
extern size_t slab_mag_budget;
size_t mag_thread_share(void);
size_t mag_thread_cached_bytes(void);
/* Flush every thread's magazines of @c and the depot back to the slabs,
 * free the magazines, reset every thread's slot for c->id. */
void mag_flush_all(struct kmem_cache *c);
void mag_flush_own(struct kmem_cache *c);     /* the calling thread's */
/* Reap the depot of @c: @all, every magazine; otherwise end the working-set
 * interval now (free the magazines not needed during it). Then release
 * surplus empty slabs. RETURNS: bytes given back to the page layer. */
size_t depot_reap(struct kmem_cache *c, bool all);
/* The cache life cycle, which needs both magazines and slabs (kernel-doc
 * in magazine.c): kmem_cache_destroy's and kmem_cache_shrink's work, and
 * /proc/slabinfo 2.1 for every cache (magazine figures included). */
int cache_destroy(struct kmem_cache *c);
int cache_shrink(struct kmem_cache *c);
void cache_print_slabinfo(FILE *out);
/* The largest magazine capacity contention may grow @c's to. */
uint32_t mag_size_limit(const struct kmem_cache *c);
/* Depot invariants (list lengths, counts, rounds are allocated objects of
 * @c); prints what is wrong. */
bool mag_validate(struct kmem_cache *c);
void mag_prefork(void);
void mag_postfork_parent(void);
void mag_postfork_child(void);

/* The calling thread's slot for @c (the shared zero slot if it has none). */
SM_INLINE struct cpu_cache *mag_cc(const struct kmem_cache *c)
{
	uint32_t id = c->id;
	if (likely(id < SM_TC_INLINE))
		return &sm_tc.tc_cc[id];
	return mag_cc_ext(id);
}

/* The slot the fast paths use: the cache's own inline slot, or the
 * always-empty SM_TC_NONE slot (then the slow paths find the real one). */
SM_INLINE cpu_cache_fast_t *mag_cc_fast(const struct kmem_cache *c)
{
	return sm_slot_by_key(c->cc_key);
}

/* The fast paths: pop from / push onto the loaded magazine. No lock, no
 * atomic read-modify-write. Everything else is in the slow paths.
 * mag_alloc_or pops, or calls @slow (a constant: inlined as a direct tail
 * call); a popped round is never NULL, so the result is not tested. */
SM_INLINE void *mag_alloc_or(struct kmem_cache *c, gfp_t gfp,
                             void *(*slow)(struct kmem_cache *, gfp_t))
{
	cpu_cache_fast_t *cc = mag_cc_fast(c);
	void **top = cc->cc_top;
	if (likely(top != cc->cc_lo)) {
		void *p = cc_round_below(top);
		cc_top_dec(cc);
		return p;
	}
	return slow(c, gfp);
}

SM_INLINE void *mag_alloc(struct kmem_cache *c, gfp_t gfp)
{
	return mag_alloc_or(c, gfp, mag_alloc_slow);
}

SM_INLINE void mag_free(struct kmem_cache *c, void *obj)
{
	cpu_cache_fast_t *cc = mag_cc_fast(c);
	void **top = cc->cc_top;
	if (likely(top != cc->cc_hi)) {
		*top = obj;
		cc_top_inc(cc);
		return;
	}
	mag_free_slow(c, obj);
}

#pragma GCC visibility pop
#endif /* SM_SLAB_INTERNAL_H */
