/* SPDX-License-Identifier: MIT */
/*
 * <slabmalloc/vmalloc.h> — large, virtually contiguous regions.
 *
 * Each region is its own mapping followed by an inaccessible guard page, so
 * an overrun faults at once. vfree(NULL) is a no-op; vfree() of anything
 * that vmalloc() did not return stops the program with a clear message.
 */
#ifndef SLABMALLOC_VMALLOC_H
#define SLABMALLOC_VMALLOC_H

#ifdef __cplusplus
extern "C" {
#endif

void *slabmalloc_vmalloc(unsigned long size);
void *slabmalloc_vzalloc(unsigned long size);
void slabmalloc_vfree(const void *addr);

#ifndef SLABMALLOC_NO_KERNEL_NAMES
static inline void *vmalloc(unsigned long size) { return slabmalloc_vmalloc(size); }
static inline void *vzalloc(unsigned long size) { return slabmalloc_vzalloc(size); }
static inline void vfree(const void *addr) { slabmalloc_vfree(addr); }
#endif

#ifdef __cplusplus
}
#endif
#endif /* SLABMALLOC_VMALLOC_H */
