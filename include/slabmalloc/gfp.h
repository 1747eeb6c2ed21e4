/* SPDX-License-Identifier: MIT */
/*
 * <slabmalloc/gfp.h> — Get Free Page flags: how an allocation may behave.
 *
 * The kernel's three tiers, with their user-space meaning:
 *
 *  1. ___GFP_* raw bits. Never use them directly.
 *  2. __GFP_* modifiers, grouped by purpose (zone, watermark, reclaim,
 *     action).
 *  3. GFP_* combinations: start from one of these and add modifiers.
 *
 * Where user space differs from the kernel:
 *  - "Sleeping" means blocking the calling thread: waiting on a mutex held by
 *    another thread, mapping memory with mmap(), giving memory back with
 *    madvise(). GFP_ATOMIC callers never block: locks are only try-locked,
 *    no new memory is mapped, and the call fails fast with NULL.
 *  - There is no file system or block I/O inside the allocator, so
 *    GFP_NOFS/GFP_NOIO only mean that reclaim done on the caller's behalf
 *    does not call back into the operating system to return memory (no
 *    madvise from inside that allocation).
 *  - GFP_NOWAIT never blocks either, but unlike GFP_ATOMIC it may not use
 *    the emergency reserve. GFP_ATOMIC (__GFP_HIGH) may take the last pages
 *    of a zone's reserve (64 pages per zone by default).
 *  - Growing a zone maps its next section (address space is taken as the
 *    heap grows), so non-blocking calls do not grow zones: they are served
 *    from what the zones already hold, and huge allocations (their own
 *    mapping) are refused to them.
 *  - __GFP_NOFAIL calls are never failed by fault injection (fail_slab=,
 *    fail_page_alloc=), and retry with back-off until they succeed.
 *  - ZONE_DMA is memory below 4 GiB (useful for 32-bit device registers
 *    and for code that stores pointers in 32 bits); HIGHMEM does not exist,
 *    every byte of a process is directly addressable, so __GFP_HIGHMEM is
 *    accepted and ignored.
 */
#ifndef SLABMALLOC_GFP_H
#define SLABMALLOC_GFP_H

#ifdef __cplusplus
extern "C" {
#endif

typedef unsigned int gfp_t;

/* Tier 1: raw bits. */
#define ___GFP_DMA            0x0001u
#define ___GFP_HIGHMEM        0x0002u
#define ___GFP_WAIT           0x0010u
#define ___GFP_HIGH           0x0020u
#define ___GFP_IO             0x0040u
#define ___GFP_FS             0x0080u
#define ___GFP_COLD           0x0100u
#define ___GFP_NOWARN         0x0200u
#define ___GFP_REPEAT         0x0400u
#define ___GFP_NOFAIL         0x0800u
#define ___GFP_NORETRY        0x1000u
#define ___GFP_HARDWALL       0x2000u
#define ___GFP_ZERO           0x8000u
#define ___GFP_BITS_SHIFT     16

/* Tier 2: modifiers. */

/* Zone modifiers: where the memory comes from. */
#define __GFP_DMA       ((gfp_t)___GFP_DMA)     /* below 4 GiB (ZONE_DMA) */
#define __GFP_HIGHMEM   ((gfp_t)___GFP_HIGHMEM) /* accepted; no effect */

/* Watermark modifiers: access to the emergency reserve. */
#define __GFP_HIGH      ((gfp_t)___GFP_HIGH)    /* may dip into the reserve */

/* Reclaim modifiers: what the allocator may do to find memory. */
#define __GFP_WAIT      ((gfp_t)___GFP_WAIT)    /* may block (locks, mmap) */
#define __GFP_DIRECT_RECLAIM __GFP_WAIT         /* the modern kernel's name */
#define __GFP_IO        ((gfp_t)___GFP_IO)      /* reclaim may call the OS */
#define __GFP_FS        ((gfp_t)___GFP_FS)      /* reclaim may call the OS */
#define __GFP_REPEAT    ((gfp_t)___GFP_REPEAT)  /* retry harder before failing */
#define __GFP_NORETRY   ((gfp_t)___GFP_NORETRY) /* fail at once, no reclaim */
#define __GFP_NOFAIL    ((gfp_t)___GFP_NOFAIL)  /* never NULL: retry with back-off */

/* Action modifiers. */
#define __GFP_COLD      ((gfp_t)___GFP_COLD)    /* cache-cold page (pcp tail) */
#define __GFP_NOWARN    ((gfp_t)___GFP_NOWARN)  /* no warning on failure */
#define __GFP_ZERO      ((gfp_t)___GFP_ZERO)    /* return zeroed memory */
#define __GFP_HARDWALL  ((gfp_t)___GFP_HARDWALL)/* accepted; no effect */

/* Tier 3: what callers should start from (least to most restricted). */
#define GFP_USER     (__GFP_WAIT | __GFP_IO | __GFP_FS | __GFP_HARDWALL)
#define GFP_KERNEL   (__GFP_WAIT | __GFP_IO | __GFP_FS)
#define GFP_NOFS     (__GFP_WAIT | __GFP_IO)
#define GFP_NOIO     (__GFP_WAIT)
#define GFP_ATOMIC   (__GFP_HIGH)
#define GFP_NOWAIT   ((gfp_t)0)
#define GFP_DMA      __GFP_DMA
#define GFP_HIGHUSER (GFP_USER | __GFP_HIGHMEM)

/* True when the flags allow the call to block. */
static inline int gfpflags_allow_blocking(gfp_t gfp)
{
	return (gfp & __GFP_WAIT) != 0;
}

#ifdef __cplusplus
}
#endif
#endif /* SLABMALLOC_GFP_H */
