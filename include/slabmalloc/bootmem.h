/* SPDX-License-Identifier: MIT */
/*
 * <slabmalloc/bootmem.h> — boot-time allocation.
 *
 * Usable at any time, including before the allocator has initialised (from
 * constructors of other libraries). Memory is zeroed and aligned to a cache
 * line (pages: to PAGE_SIZE). The *_low variants return memory below 4 GiB.
 * free_bootmem() gives back the whole pages inside [addr, addr + size).
 * All return NULL when the request cannot be met.
 */
#ifndef SLABMALLOC_BOOTMEM_H
#define SLABMALLOC_BOOTMEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void *slabmalloc_alloc_bootmem(unsigned long size);
void *slabmalloc_alloc_bootmem_low(unsigned long size);
void *slabmalloc_alloc_bootmem_pages(unsigned long size);
void *slabmalloc_alloc_bootmem_low_pages(unsigned long size);
void slabmalloc_free_bootmem(unsigned long addr, unsigned long size);

#ifndef SLABMALLOC_NO_KERNEL_NAMES
static inline void *alloc_bootmem(unsigned long size)
{ return slabmalloc_alloc_bootmem(size); }
static inline void *alloc_bootmem_low(unsigned long size)
{ return slabmalloc_alloc_bootmem_low(size); }
static inline void *alloc_bootmem_pages(unsigned long size)
{ return slabmalloc_alloc_bootmem_pages(size); }
static inline void *alloc_bootmem_low_pages(unsigned long size)
{ return slabmalloc_alloc_bootmem_low_pages(size); }
static inline void free_bootmem(unsigned long addr, unsigned long size)
{ slabmalloc_free_bootmem(addr, size); }
#endif

#ifdef __cplusplus
}
#endif
#endif /* SLABMALLOC_BOOTMEM_H */
