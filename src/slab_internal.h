/* SPDX-License-Identifier: MIT */
/*
 * slab_internal.h — the slab and magazine layers' contract with kmalloc,
 * malloc, mempool and stats: struct kmem_cache, magazines, the per-thread
 * cache, and the inline fast paths.
 */
#ifndef SM_SLAB_INTERNAL_H
#define SM_SLAB_INTERNAL_H

#include "page_alloc.h"

#define SM_CACHE_NAME_MAX 32
#define SM_TC_INLINE      64    /* cache ids below this live in the TLS array */
#define SM_MAG_MAX        255   /* largest magazine, in rounds */

/* A magazine: a stack of free objects (rounds). While loaded in a thread's
 * cpu_cache, the cpu_cache's rounds count is authoritative. */
struct magazine {
	struct magazine *mag_next;       /* depot list link */
	uint32_t         mag_size;       /* capacity in rounds */
	uint32_t         mag_rounds;     /* rounds held, while in the depot */
	void            *mag_round[];    /* the rounds */
};

/* A thread's cache for one kmem cache (libumem's cpu cache). 32 bytes. */
struct cpu_cache {
	uint32_t         cc_rounds;      /* rounds in cc_loaded */
	uint32_t         cc_magsize;     /* capacity of cc_loaded, 0 if none */
	struct magazine *cc_loaded;      /* magazine alloc/free work on */
	struct magazine *cc_ploaded;     /* the previous magazine */
	uint32_t         cc_prounds;     /* rounds in cc_ploaded */
	uint32_t         cc_pmagsize;    /* capacity of cc_ploaded */
};
_Static_assert(sizeof(struct cpu_cache) == 32, "cpu_cache is 32 bytes");

/* All of a thread's allocator state, in initial-exec TLS. */
struct thread_cache {
	struct cpu_cache     tc_cc[SM_TC_INLINE];  /* cache ids < SM_TC_INLINE */
	struct cpu_cache    *tc_ext;               /* ids >= SM_TC_INLINE */
	uint32_t             tc_ext_n;             /* entries in tc_ext */
	uint32_t             tc_registered;        /* on sm_thread_list */
	struct thread_cache *tc_next, *tc_prev;    /* sm_thread_list links */
};
extern SM_TLS struct thread_cache sm_tc;

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
};

/*
 * struct kmem_cache. The first line holds what the fast paths read.
 */
struct kmem_cache {
	uint32_t     id;                 /* index of this cache's cpu_cache */
	uint32_t     size;               /* object stride in bytes */
	uint32_t     object_size;        /* size the user asked for */
	uint32_t     align;
	uint64_t     div_inv;            /* object-start check: see slab_is_obj_start */
	uint32_t     div_shift;
	uint32_t     order;              /* slab is 2^order pages */
	uint64_t     div_limit;
	unsigned long flags;             /* SLAB_* */
	kmem_cache_ctor_t ctor, dtor;
	uint32_t     objects;            /* objects per slab */
	uint32_t     colour_range;       /* number of distinct colours */
	uint32_t     colour_next;        /* next colour to use */
	uint32_t     bitmap_off;         /* offset of the free bitmap in a slab */
	char         name[SM_CACHE_NAME_MAX];

	pthread_mutex_t slab_lock;
	struct page *partial, *full, *empty;   /* slab lists (head pages) */
	unsigned long nr_slabs, nr_empty, nr_partial;
	unsigned long active_objs;       /* objects out of slabs (incl. magazines) */

	struct depot depot;
	struct kmem_cache *next, *prev;  /* sm_cache_list */
	uint64_t     stat_alloc_slow, stat_free_slow, stat_refill, stat_flush;
};

/* True when @p is the start of an object of slab page @pg (which must belong
 * to @c): (p - base) divisible by c->size, via a modular inverse (one
 * multiply, one rotate, one compare). */
SM_INLINE bool slab_is_obj_start(const struct kmem_cache *c,
                                 const struct page *pg, const void *p)
{
	uint64_t off = (uint64_t)((uintptr_t)p - pg->slab_base);
	uint64_t q = off * c->div_inv;
	q = (q >> c->div_shift) | (q << ((64 - c->div_shift) & 63));
	return q <= c->div_limit;
}

/* ---- slab layer (slab.c) ---- */

void slab_init(void);
/* Create a cache without validation of user input (internal callers). */
struct kmem_cache *slab_cache_create(const char *name, size_t size, size_t align,
                                     unsigned long flags, kmem_cache_ctor_t ctor,
                                     kmem_cache_ctor_t dtor);
/* Take up to @n objects out of slabs into @objs (one lock acquisition).
 * Creates slabs as needed unless GFP_ATOMIC. Returns the count. */
unsigned int slab_alloc_bulk(struct kmem_cache *c, gfp_t gfp, void **objs, unsigned int n);
/* Give @n objects back to their slabs (one lock acquisition). Detects an
 * object freed twice ("BUG <cache>: double free ..."). */
void slab_free_bulk(struct kmem_cache *c, void **objs, unsigned int n);
/* Release empty slabs to the buddy allocator (destructors run). */
size_t slab_shrink(struct kmem_cache *c);
bool slab_validate(struct kmem_cache *c);
void slab_print_slabinfo(FILE *out);
/* Iterate caches under sm_cache_list_lock. */
void slab_for_each_cache(void (*fn)(struct kmem_cache *, void *), void *arg);
SM_COLD SM_NORETURN void slab_bug(const struct kmem_cache *c, const char *fmt, ...);
void slab_prefork(void);
void slab_postfork_parent(void);
void slab_postfork_child(void);

/* ---- magazine layer (magazine.c) ---- */

SM_NOINLINE void *mag_alloc_slow(struct kmem_cache *c, gfp_t gfp);
SM_NOINLINE void mag_free_slow(struct kmem_cache *c, void *obj);
struct cpu_cache *mag_cc_ext(uint32_t id);   /* ids >= SM_TC_INLINE */
void mag_thread_exit(void);          /* magazines back to the depots */
/* Flush every thread's magazines of @c (see kmem_cache_destroy). */
unsigned long mag_count_cached(struct kmem_cache *c);
void mag_flush_all(struct kmem_cache *c);
void mag_flush_own(struct kmem_cache *c);     /* the calling thread's */
size_t depot_reap(struct kmem_cache *c, bool all);
void mag_prefork(void);
void mag_postfork_parent(void);
void mag_postfork_child(void);

SM_INLINE struct cpu_cache *mag_cc(const struct kmem_cache *c)
{
	uint32_t id = c->id;
	if (likely(id < SM_TC_INLINE))
		return &sm_tc.tc_cc[id];
	return mag_cc_ext(id);
}

/* The fast paths: pop from / push onto the loaded magazine. No lock, no
 * atomic read-modify-write. Everything else is in the slow paths. */
SM_INLINE void *mag_alloc(struct kmem_cache *c, gfp_t gfp)
{
	struct cpu_cache *cc = mag_cc(c);
	uint32_t r = cc->cc_rounds;
	if (likely(r != 0)) {
		cc->cc_rounds = r - 1;
		return cc->cc_loaded->mag_round[r - 1];
	}
	return mag_alloc_slow(c, gfp);
}

SM_INLINE void mag_free(struct kmem_cache *c, void *obj)
{
	struct cpu_cache *cc = mag_cc(c);
	uint32_t r = cc->cc_rounds;
	if (likely(r < cc->cc_magsize)) {
		cc->cc_loaded->mag_round[r] = obj;
		cc->cc_rounds = r + 1;
		return;
	}
	mag_free_slow(c, obj);
}

#endif /* SM_SLAB_INTERNAL_H */
