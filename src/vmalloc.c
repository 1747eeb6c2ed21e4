/* SPDX-License-Identifier: MIT */
/*
 * vmalloc.c — huge regions mapped directly (vmalloc, huge kmalloc) and
 * physical ranges mapped through /dev/mem (ioremap).
 *
 * Theory.
 *
 *  1. Mappings. Each vmalloc region is its own anonymous mapping of
 *     PAGE_ALIGN(size) bytes, optionally followed by one PROT_NONE guard
 *     page (vmalloc/vzalloc always ask for it, so an overrun faults at once;
 *     huge kmalloc does not, so it can be resized with mremap). A fresh
 *     anonymous mapping reads as zeros, so vzalloc costs nothing extra.
 *     ioremap maps the page-aligned physical range with MAP_SHARED from
 *     /dev/mem (O_SYNC: uncached, as drivers want) and returns the address
 *     of @offset itself inside it.
 *
 *  2. Registry. Every mapping is recorded in an open-addressing hash table
 *     (linear probing, keyed by the address handed out, never holding more
 *     than half its slots; deletion shifts the following entries back, so
 *     there are no tombstones). The table lives in os_map'd memory and is
 *     doubled by rehashing. It lets vfree/iounmap/kfree recognise their own
 *     pointers and reject everything else with a one-line message instead
 *     of unmapping memory that is not theirs.
 *
 *  3. Resizing (vmap_realloc). Mappings without a guard page are resized
 *     with mremap(MREMAP_MAYMOVE), which moves page tables instead of
 *     copying; guarded ones are reallocated, copied and freed (mremap
 *     cannot move the guard along safely).
 *
 *  Locks: vm_lock (rank 7) protects the registry; mmap/munmap/mremap of a
 *  region run with it dropped (a region belongs to its caller), only the
 *  table growth maps under it. Fork: vmap_prefork() takes vm_lock and then
 *  bootmem's lock (rank 8, the last of the lock order); the parent releases
 *  both, the child re-initialises both.
 */
#include "page_alloc.h"

#include <errno.h>
#include <string.h>

enum {
	VM_GUARD   = 1u << 0,   /* a PROT_NONE page follows the region */
	VM_IOREMAP = 1u << 1,   /* a /dev/mem mapping from ioremap() */
};

struct vm_entry {
	uintptr_t va_addr;       /* address handed out (key); 0 = empty slot */
	uintptr_t va_map;        /* start of the mapping */
	size_t    va_map_len;    /* mapped bytes, guard page included */
	size_t    va_size;       /* usable bytes (page multiple) from va_addr */
	uint32_t  va_flags;      /* VM_* */
};

static pthread_mutex_t vm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vm_entry *vm_table;        /* vm_cap slots, os_map'd */
static size_t vm_cap;                    /* power of two, or 0 */
static size_t vm_count;                  /* used slots */
static size_t vm_bytes;                  /* usable bytes of vmalloc/kmalloc maps */

#define VM_MIN_CAP 256

static inline size_t vm_hash(uintptr_t a, size_t cap)
{
	return (size_t)(((a >> SM_PAGE_SHIFT) * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

/* Slot of @a, or of the empty slot where it would go. vm_lock held. */
static size_t vm_slot(uintptr_t a)
{
	size_t i = vm_hash(a, vm_cap);
	while (vm_table[i].va_addr && vm_table[i].va_addr != a)
		i = (i + 1) & (vm_cap - 1);
	return i;
}

static struct vm_entry *vm_find(uintptr_t a)
{
	if (!vm_cap || !a)
		return NULL;
	struct vm_entry *e = &vm_table[vm_slot(a)];
	return e->va_addr ? e : NULL;
}

/* Make room for one more entry (load stays <= 1/2). vm_lock held. */
static bool vm_reserve_slot(void)
{
	if ((vm_count + 1) * 2 <= vm_cap)
		return true;
	size_t ncap = vm_cap ? vm_cap * 2 : VM_MIN_CAP;
	struct vm_entry *nt = os_map(ncap * sizeof(struct vm_entry));
	if (!nt)
		return false;
	struct vm_entry *old = vm_table;
	size_t ocap = vm_cap;
	vm_table = nt;
	vm_cap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].va_addr)
			vm_table[vm_slot(old[i].va_addr)] = old[i];
	if (old)
		os_unmap(old, ocap * sizeof(struct vm_entry));
	return true;
}

static bool vm_insert(const struct vm_entry *e)
{
	pthread_mutex_lock(&vm_lock);
	bool ok = vm_reserve_slot();
	if (ok) {
		vm_table[vm_slot(e->va_addr)] = *e;
		vm_count++;
		if (!(e->va_flags & VM_IOREMAP))
			vm_bytes += e->va_size;
	}
	pthread_mutex_unlock(&vm_lock);
	return ok;
}

/* Remove the entry in slot @i, shifting the cluster after it back (linear
 * probing deletion without tombstones). vm_lock held. */
static void vm_remove_slot(size_t i)
{
	if (!(vm_table[i].va_flags & VM_IOREMAP))
		vm_bytes -= vm_table[i].va_size;
	vm_table[i].va_addr = 0;
	vm_count--;
	size_t j = i;
	for (;;) {
		j = (j + 1) & (vm_cap - 1);
		if (!vm_table[j].va_addr)
			break;
		size_t home = vm_hash(vm_table[j].va_addr, vm_cap);
		/* Move j to the hole at i unless its home lies in (i, j]. */
		bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
		if (stays)
			continue;
		vm_table[i] = vm_table[j];
		vm_table[j].va_addr = 0;
		i = j;
	}
}

/* Take the entry for @a out of the registry if it has @flags' kind. */
static bool vm_take(uintptr_t a, bool ioremap, struct vm_entry *out)
{
	bool found = false;
	pthread_mutex_lock(&vm_lock);
	struct vm_entry *e = vm_find(a);
	if (e && !!(e->va_flags & VM_IOREMAP) == ioremap) {
		*out = *e;
		vm_remove_slot((size_t)(e - vm_table));
		found = true;
	}
	pthread_mutex_unlock(&vm_lock);
	return found;
}

void *vmap_alloc(size_t size, bool guard, bool zero)
{
	(void)zero;      /* fresh anonymous mappings are zero-filled */
	if (size == 0 || size > ((size_t)1 << 46))
		return NULL;
	size_t usable = SM_ALIGN_UP(size, SM_PAGE_SIZE);
	size_t len = usable + (guard ? SM_PAGE_SIZE : 0);
	char *p = os_map(len);
	if (!p)
		return NULL;
	if (guard && os_protect_none(p + usable, SM_PAGE_SIZE) != 0) {
		os_unmap(p, len);
		return NULL;
	}
	struct vm_entry e = {
		.va_addr = (uintptr_t)p, .va_map = (uintptr_t)p, .va_map_len = len,
		.va_size = usable, .va_flags = guard ? VM_GUARD : 0,
	};
	if (!vm_insert(&e)) {
		os_unmap(p, len);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void *vmap_alloc_aligned(size_t size, size_t align)
{
	if (size == 0 || size > ((size_t)1 << 46) || align > ((size_t)1 << 40) ||
	    (align & (align - 1)))
		return NULL;
	if (align <= SM_PAGE_SIZE)
		return vmap_alloc(size, false, true);
	size_t usable = SM_ALIGN_UP(size, SM_PAGE_SIZE);
	size_t len = usable + align;
	char *raw = os_map(len);
	if (!raw)
		return NULL;
	char *p = (char *)SM_ALIGN_UP((uintptr_t)raw, align);
	/* Give back the head before the aligned start and the tail after it,
	 * so that the mapping is exactly [p, p + usable). */
	if (p > raw)
		os_unmap(raw, (size_t)(p - raw));
	if (raw + len > p + usable)
		os_unmap(p + usable, (size_t)(raw + len - (p + usable)));
	struct vm_entry e = {
		.va_addr = (uintptr_t)p, .va_map = (uintptr_t)p, .va_map_len = usable,
		.va_size = usable, .va_flags = 0,
	};
	if (!vm_insert(&e)) {
		os_unmap(p, usable);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

size_t vmap_size(const void *addr)
{
	size_t s = 0;
	pthread_mutex_lock(&vm_lock);
	const struct vm_entry *e = vm_find((uintptr_t)addr);
	if (e && !(e->va_flags & VM_IOREMAP))
		s = e->va_size;
	pthread_mutex_unlock(&vm_lock);
	return s;
}

void vmap_free(const void *addr, const char *caller)
{
	struct vm_entry e;
	if (!vm_take((uintptr_t)addr, false, &e))
		sm_fatal("%s(): invalid address %p", caller, addr);
	os_unmap((void *)e.va_map, e.va_map_len);
}

void *vmap_realloc(void *addr, size_t new_size)
{
	if (new_size == 0 || new_size > ((size_t)1 << 46))
		return NULL;
	size_t usable = SM_ALIGN_UP(new_size, SM_PAGE_SIZE);
	struct vm_entry e;

	pthread_mutex_lock(&vm_lock);
	struct vm_entry *f = vm_find((uintptr_t)addr);
	bool ok = f && !(f->va_flags & VM_IOREMAP);
	if (ok)
		e = *f;
	pthread_mutex_unlock(&vm_lock);
	if (!ok)
		sm_fatal("vmap_realloc(): invalid address %p", addr);
	if (usable == e.va_size)
		return addr;

	if (e.va_flags & VM_GUARD) {
		void *q = vmap_alloc(new_size, true, false);
		if (!q)
			return NULL;
		memcpy(q, addr, usable < e.va_size ? usable : e.va_size);
		vmap_free(addr, "vmap_realloc");
		return q;
	}
	/* The new key replaces the old one: the table needs no new slot. */
	void *q = os_remap(addr, e.va_map_len, usable);
	if (!q)
		return NULL;
	pthread_mutex_lock(&vm_lock);
	f = vm_find((uintptr_t)addr);
	if (f)
		vm_remove_slot((size_t)(f - vm_table));
	struct vm_entry n = {
		.va_addr = (uintptr_t)q, .va_map = (uintptr_t)q, .va_map_len = usable,
		.va_size = usable, .va_flags = 0,
	};
	vm_table[vm_slot(n.va_addr)] = n;
	vm_count++;
	vm_bytes += usable;
	pthread_mutex_unlock(&vm_lock);
	return q;
}

size_t vmap_total_bytes(void)
{
	return SM_READ_ONCE(vm_bytes);
}

void vmap_prefork(void)
{
	pthread_mutex_lock(&vm_lock);
	bootmem_prefork();
}

void vmap_postfork_parent(void)
{
	bootmem_postfork_parent();
	pthread_mutex_unlock(&vm_lock);
}

void vmap_postfork_child(void)
{
	bootmem_postfork_child();
	pthread_mutex_init(&vm_lock, NULL);
}

/* ---- vmalloc API (<slabmalloc/vmalloc.h>) ---- */

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
	unsigned long in_page = offset & (SM_PAGE_SIZE - 1);
	unsigned long base = offset - in_page;

	sm_ensure_init();
	if (size == 0 || offset + size < offset ||
	    in_page + size < size || in_page + size > ~0ul - SM_PAGE_SIZE ||
	    offset > (unsigned long)INT64_MAX) {
		errno = EINVAL;
		return NULL;
	}
	size_t len = SM_ALIGN_UP(in_page + size, SM_PAGE_SIZE);
	int fd = os_open_devmem();
	if (fd < 0)
		return NULL;
	char *p = os_map_phys(fd, base, len);
	os_close(fd);            /* the mapping keeps its own reference */
	if (!p)
		return NULL;
	struct vm_entry e = {
		.va_addr = (uintptr_t)p + in_page, .va_map = (uintptr_t)p,
		.va_map_len = len, .va_size = len - in_page, .va_flags = VM_IOREMAP,
	};
	if (!vm_insert(&e)) {
		os_unmap(p, len);
		errno = ENOMEM;
		return NULL;
	}
	return p + in_page;
}

/**
 * slabmalloc_iounmap - undo ioremap().
 * @addr: what ioremap returned, or NULL (no-op)
 *
 * CONTEXT: may block. Any other pointer stops the program with one line.
 */
SM_EXPORT void slabmalloc_iounmap(volatile void *addr)
{
	struct vm_entry e;
	if (!addr)
		return;
	if (!vm_take((uintptr_t)addr, true, &e))
		sm_fatal("iounmap(): invalid address %p", (void *)addr);
	os_unmap((void *)e.va_map, e.va_map_len);
}
