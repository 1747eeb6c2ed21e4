/* SPDX-License-Identifier: MIT */
/*
 * <slabmalloc/io.h> — mapping physical address ranges.
 *
 * ioremap() maps [offset, offset + size) of physical memory through /dev/mem,
 * the way user-space drivers do (needs CAP_SYS_RAWIO, and the kernel's
 * CONFIG_STRICT_DEVMEM allows only device ranges). Where the mapping is not
 * permitted it returns NULL with errno set (EACCES, EPERM, ENOENT, EINVAL
 * for a zero or overflowing range). Unaligned offsets are handled: the
 * returned pointer addresses @offset itself.
 */
#ifndef SLABMALLOC_IO_H
#define SLABMALLOC_IO_H

#ifdef __cplusplus
extern "C" {
#endif

void *slabmalloc_ioremap(unsigned long offset, unsigned long size);
void slabmalloc_iounmap(volatile void *addr);

#ifndef SLABMALLOC_NO_KERNEL_NAMES
static inline void *ioremap(unsigned long offset, unsigned long size)
{ return slabmalloc_ioremap(offset, size); }
static inline void iounmap(volatile void *addr) { slabmalloc_iounmap(addr); }
#endif

#ifdef __cplusplus
}
#endif
#endif /* SLABMALLOC_IO_H */
