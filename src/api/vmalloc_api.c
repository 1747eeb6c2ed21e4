/* SPDX-License-Identifier: MIT */
/*
 * vmalloc_api.c — the exported kernel-style API of <slabmalloc/vmalloc.h>
 * and <slabmalloc/io.h>: vmalloc, vzalloc, vfree, ioremap, iounmap.
 *
 * API floor (internal.h): entry points that make sure the allocator is
 * initialised, then call the vmalloc layer (vmalloc.c), which maps, keeps
 * the registry of mappings and checks what is freed.
 */
#include "internal.h"
#include "page_alloc.h"

/* ---- vmalloc (<slabmalloc/vmalloc.h>) ---- */

/**
 * slabmalloc_vmalloc - a large, virtually contiguous region.
 * @size: bytes
 *
 * The region is its own mapping followed by a guard page.
 * CONTEXT: may block (mmap).
 * RETURNS: page-aligned memory (zero-filled, as fresh mappings are), or NULL
 * (size 0, no memory).
 */
SM_EXPORT void *slabmalloc_vmalloc(unsigned long size)
{
	sm_ensure_init();
	return vmap_alloc(size, true, false);
}

/**
 * slabmalloc_vzalloc - vmalloc, zeroed.
 * RETURNS: zeroed page-aligned memory, or NULL.
 */
SM_EXPORT void *slabmalloc_vzalloc(unsigned long size)
{
	sm_ensure_init();
	return vmap_alloc(size, true, true);
}

/**
 * slabmalloc_vfree - release a region from vmalloc/vzalloc.
 * @addr: the region, or NULL (no-op)
 *
 * CONTEXT: may block. Any other pointer stops the program with one line.
 */
SM_EXPORT void slabmalloc_vfree(const void *addr)
{
	if (!addr)
		return;
	vmap_free(addr, "vfree");
}

/* ---- ioremap (<slabmalloc/io.h>) ---- */

/**
 * slabmalloc_ioremap - map physical memory [@offset, @offset + @size).
 *
 * CONTEXT: may block. Needs access to /dev/mem.
 * RETURNS: the address of @offset in the mapping, or NULL with errno set:
 * EINVAL for a zero or overflowing range, otherwise open()'s or mmap()'s
 * error (ENOENT, EACCES, EPERM, ...), ENOMEM if it cannot be registered.
 */
SM_EXPORT void *slabmalloc_ioremap(unsigned long offset, unsigned long size)
{
	sm_ensure_init();
	return vmap_ioremap(offset, size);
}

/**
 * slabmalloc_iounmap - undo ioremap().
 * @addr: what ioremap returned, or NULL (no-op)
 *
 * CONTEXT: may block. Any other pointer stops the program with one line.
 */
SM_EXPORT void slabmalloc_iounmap(volatile void *addr)
{
	if (!addr)
		return;
	vmap_iounmap(addr);
}
