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
 *  4. Cache of freed huge kmalloc mappings (the user-space analogue of the
 *     kernel's lazy vunmap and of jemalloc's retained extents). A program
 *     that mallocs and frees the same huge size in a loop would otherwise
 *     pay mmap + page faults + munmap every time (tens of microseconds).
 *     Mappings made for kmalloc (VM_KMALLOC: huge kmalloc, its aligned
 *     variant, and what vmap_realloc makes of them) are, when freed, taken
 *     out of the registry and kept mapped in vm_cache[], oldest first, at
 *     most VMAP_CACHE_SLOTS mappings and vmap_cache_max_bytes bytes (the
 *     oldest are evicted, i.e. unmapped, to make room; a mapping larger
 *     than the byte limit is never cached). vmalloc()'s guarded regions
 *     and ioremap are never cached. vmap_alloc_cached() takes the smallest
 *     cached mapping that holds the request: one at most a quarter larger
 *     is reused whole (the surplus shows in malloc_usable_size), a larger
 *     one has its tail unmapped, so the waste stays bounded either way. A
 *     zeroed request (calloc) madvises the reused mapping but its first
 *     page (os_purge, MADV_DONTNEED): the pages read as zeros again,
 *     faulted in on demand, and only the resident ones cost anything,
 *     unlike a memset; the first page, which programs nearly always touch,
 *     is zeroed in place, which is cheaper than the fault. When
 *     the system refuses a new mapping (mmap or growing mremap), the cache
 *     is emptied and the call retried once: cached memory never makes an
 *     allocation fail.
 *     Invariant: a cached mapping is not in the registry, so vmap_size()
 *     says 0 and every API rejects it; vmap_is_cached() lets kfree say
 *     "double free" for it rather than "invalid pointer".
 *
 *  5. Decay. A cached mapping lives at most buddy_decay_ns (the decay_ms
 *     option, shared with the page layer's dirty pages): every free, and
 *     every other vmap operation that finds the cache non-empty and is
 *     about to map or remap, compares the oldest entries' free times with
 *     the clock and unmaps what has expired; vmap_cache_purge() does the
 *     same (or empties the cache) for malloc_trim and reclaim. An
 *     allocation served from the cache reads no clock (it reuses the
 *     mapping whatever its age, which beats unmapping it; the free that
 *     follows expires the rest), so a malloc/free pair costs one clock
 *     read. A decay of 0 disables the cache. Nothing on the malloc fast
 *     paths (slab, large) looks at it.
 *
 *  Accounting: vmap_total_bytes() (meminfo "Vmalloc:") counts registered
 *  mappings only, i.e. memory handed out; the cache is reported apart by
 *  vmap_cached_bytes() ("VmallocCached:"), as the page layer reports dirty
 *  free pages apart. Cached bytes may be resident (they count in RSS) until
 *  decay, eviction or a purge unmaps them.
 *
 *  Locks: vm_lock (rank 7) protects the registry and the cache; mmap/
 *  munmap/mremap/madvise of a region run with it dropped (a region belongs
 *  to its caller, and a mapping taken off the cache belongs to whoever took
 *  it), only the table growth maps under it. Fork: vmap_prefork() takes
 *  vm_lock and then bootmem's lock (rank 8, the last of the lock order);
 *  the parent releases both, the child re-initialises both and keeps the
 *  cache (its mappings are inherited).
 *
 * Floor 4 (src/layers.txt): calls buddy.c (the decay period), bootmem.c
 * and the base floor. vmalloc/vfree/ioremap/iounmap themselves are entry
 * points in api/vmalloc_api.c.
 */
#include "page_alloc.h"

#include <errno.h>
#include <string.h>

enum {
	VM_GUARD   = 1u << 0,   /* a PROT_NONE page follows the region */
	VM_IOREMAP = 1u << 1,   /* a /dev/mem mapping from ioremap() */
	VM_KMALLOC = 1u << 2,   /* huge kmalloc: cached when freed */
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
static size_t vm_maps;                   /* vmalloc/kmalloc maps registered */
static size_t vm_max_maps, vm_max_bytes; /* the most there ever were */

#define VM_MIN_CAP 256

/* The cache of freed VM_KMALLOC mappings (theory 4), oldest first. */
#define VMAP_CACHE_SLOTS 8

struct vm_cached {
	uintptr_t vc_addr;       /* start of the mapping */
	size_t    vc_len;        /* its length (page multiple) */
	uint64_t  vc_free_ns;    /* when it was freed (os_now_ns) */
};

static struct vm_cached vm_cache[VMAP_CACHE_SLOTS];
static unsigned int vm_cache_n;          /* entries in vm_cache */
static size_t vm_cache_bytes;            /* sum of their vc_len */

size_t vmap_cache_max_bytes = (size_t)64 << 20;

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

/* Register @e in a slot that vm_reserve_slot made room for, and count it
 * (ioremaps are not memory of the heap). vm_lock held. */
static void vm_add_locked(const struct vm_entry *e)
{
	vm_table[vm_slot(e->va_addr)] = *e;
	vm_count++;
	if (e->va_flags & VM_IOREMAP)
		return;
	vm_bytes += e->va_size;
	vm_maps++;
	if (vm_maps > vm_max_maps)
		vm_max_maps = vm_maps;
	if (vm_bytes > vm_max_bytes)
		vm_max_bytes = vm_bytes;
}

static bool vm_insert(const struct vm_entry *e)
{
	sm_mutex_lock(&vm_lock);
	bool ok = vm_reserve_slot();
	if (ok)
		vm_add_locked(e);
	sm_mutex_unlock(&vm_lock);
	return ok;
}

/* Remove the entry in slot @i, shifting the cluster after it back (linear
 * probing deletion without tombstones). vm_lock held. */
static void vm_remove_slot(size_t i)
{
	if (!(vm_table[i].va_flags & VM_IOREMAP)) {
		vm_bytes -= vm_table[i].va_size;
		vm_maps--;
	}
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
	sm_mutex_lock(&vm_lock);
	struct vm_entry *e = vm_find(a);
	if (e && !!(e->va_flags & VM_IOREMAP) == ioremap) {
		*out = *e;
		vm_remove_slot((size_t)(e - vm_table));
		found = true;
	}
	sm_mutex_unlock(&vm_lock);
	return found;
}

/* ---- the cache of freed kmalloc mappings (theory 4, 5) ---- */

/* Mappings taken off the cache under vm_lock, unmapped after dropping it.
 * Whatever one operation takes off is at most what the cache held. */
struct vm_victims {
	struct vm_cached vv_map[VMAP_CACHE_SLOTS];
	unsigned int vv_n;
};

/* Take entry @i off the cache, keeping the order. vm_lock held. */
static struct vm_cached vc_remove(unsigned int i)
{
	struct vm_cached c = vm_cache[i];
	vm_cache_n--;
	memmove(&vm_cache[i], &vm_cache[i + 1],
	        (vm_cache_n - i) * sizeof(struct vm_cached));
	vm_cache_bytes -= c.vc_len;
	return c;
}

/* Move the oldest entries to @v: all of them with @all, else those freed at
 * least the decay period before @now. vm_lock held. */
static void vc_expire(uint64_t now, bool all, struct vm_victims *v)
{
	uint64_t decay = SM_READ_ONCE(buddy_decay_ns);
	while (vm_cache_n) {
		uint64_t t = vm_cache[0].vc_free_ns;
		uint64_t age = now > t ? now - t : 0;
		if (!all && age < decay)
			break;
		v->vv_map[v->vv_n++] = vc_remove(0);
	}
}

/* Unmap what vc_expire/vc_put took off. vm_lock not held. RETURNS: bytes. */
static size_t vc_release(const struct vm_victims *v)
{
	size_t bytes = 0;
	for (unsigned int i = 0; i < v->vv_n; i++) {
		os_unmap((void *)v->vv_map[i].vc_addr, v->vv_map[i].vc_len);
		bytes += v->vv_map[i].vc_len;
	}
	return bytes;
}

/* Keep the freed mapping [@addr, @addr + @len) in the cache, evicting
 * expired and then the oldest entries to respect both limits. vm_lock held.
 * RETURNS: false if it must be unmapped instead (too large, cache off). */
static bool vc_put(uintptr_t addr, size_t len, struct vm_victims *v)
{
	size_t max = SM_READ_ONCE(vmap_cache_max_bytes);
	uint64_t decay = SM_READ_ONCE(buddy_decay_ns);
	uint64_t now = os_now_ns();
	if (decay == 0 || len > max) {
		vc_expire(now, decay == 0, v);
		return false;
	}
	vc_expire(now, false, v);
	while (vm_cache_n && (vm_cache_n == VMAP_CACHE_SLOTS || vm_cache_bytes + len > max))
		v->vv_map[v->vv_n++] = vc_remove(0);
	vm_cache[vm_cache_n++] = (struct vm_cached){
		.vc_addr = addr, .vc_len = len, .vc_free_ns = now,
	};
	vm_cache_bytes += len;
	return true;
}

/* Index of the smallest cached mapping of at least @len bytes, or -1.
 * vm_lock held. */
static int vc_best_fit(size_t len)
{
	int best = -1;
	for (unsigned int i = 0; i < vm_cache_n; i++)
		if (vm_cache[i].vc_len >= len &&
		    (best < 0 || vm_cache[i].vc_len < vm_cache[best].vc_len))
			best = (int)i;
	return best;
}

/* os_map, and when the system refuses, once more after giving the cache
 * back: cached mappings must never make an allocation fail. */
static void *vm_os_map(size_t len)
{
	void *p = os_map(len);
	if (!p && vmap_cache_purge(true))
		p = os_map(len);
	return p;
}

/* A fresh mapping of @usable bytes (+ a guard page), registered. */
static void *vm_map_new(size_t usable, bool guard, uint32_t flags)
{
	size_t len = usable + (guard ? SM_PAGE_SIZE : 0);
	char *p = vm_os_map(len);
	if (!p)
		return NULL;
	if (guard && os_protect_none(p + usable, SM_PAGE_SIZE) != 0) {
		os_unmap(p, len);
		return NULL;
	}
	struct vm_entry e = {
		.va_addr = (uintptr_t)p, .va_map = (uintptr_t)p, .va_map_len = len,
		.va_size = usable, .va_flags = flags | (guard ? VM_GUARD : 0),
	};
	if (!vm_insert(&e)) {
		os_unmap(p, len);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void *vmap_alloc(size_t size, bool guard, bool zero)
{
	(void)zero;      /* fresh anonymous mappings are zero-filled */
	if (size == 0 || size > ((size_t)1 << 46))
		return NULL;
	return vm_map_new(SM_ALIGN_UP(size, SM_PAGE_SIZE), guard, 0);
}

/**
 * vmap_alloc_cached - a mapping for huge kmalloc, reusing a cached one.
 * @size: bytes
 * @zero: the memory must read as zeros
 *
 * Takes the smallest cached mapping of at least @size bytes (theory 4),
 * else maps a fresh one. The mapping is VM_KMALLOC: vmap_free caches it.
 * Expired cache entries are unmapped on the way.
 * CONTEXT: may block (mmap, munmap, madvise).
 * RETURNS: page-aligned memory, or NULL (size 0 or too large, no memory).
 */
void *vmap_alloc_cached(size_t size, bool zero)
{
	if (size == 0 || size > ((size_t)1 << 46))
		return NULL;
	size_t usable = SM_ALIGN_UP(size, SM_PAGE_SIZE);
	struct vm_victims v = { .vv_n = 0 };
	uintptr_t p = 0;
	size_t keep = 0, tail = 0;

	sm_mutex_lock(&vm_lock);
	int i = vm_cache_n ? vc_best_fit(usable) : -1;
	if (i >= 0 && vm_reserve_slot()) {
		/* A hit reads no clock: the mapping is reused whatever its age
		 * (better than unmapping it), and the free that follows expires
		 * the others. Reuse it whole if the surplus is small, else cut
		 * the tail off (after unlocking: the mapping is ours now). */
		struct vm_cached c = vc_remove((unsigned int)i);
		keep = c.vc_len - usable <= usable / 4 ? c.vc_len : usable;
		tail = c.vc_len - keep;
		p = c.vc_addr;
		struct vm_entry e = {
			.va_addr = p, .va_map = p, .va_map_len = keep,
			.va_size = keep, .va_flags = VM_KMALLOC,
		};
		vm_add_locked(&e);
	} else if (vm_cache_n) {
		/* About to map anyway: unmap what has expired first. */
		vc_expire(os_now_ns(), false, &v);
	}
	sm_mutex_unlock(&vm_lock);
	vc_release(&v);
	if (!p)
		return vm_map_new(usable, false, VM_KMALLOC);
	if (tail)
		os_unmap((void *)(p + keep), tail);
	if (zero) {
		/* As buddy_zero_pages: the first page in place (nearly always
		 * touched), the rest given back to the OS. */
		if (os_purge((void *)(p + SM_PAGE_SIZE), keep - SM_PAGE_SIZE) == 0)
			memset((void *)p, 0, SM_PAGE_SIZE);
		else
			memset((void *)p, 0, keep);
	}
	return (void *)p;
}

/*
 * A mapping of @size bytes (0 counts as one page, as malloc(0) returns a
 * block) whose start is a multiple of @align, any power of two: a mapping
 * of size + align bytes trimmed at both ends. The only limit on @align is
 * the system's: an alignment whose mapping it refuses fails with NULL.
 */
void *vmap_alloc_aligned(size_t size, size_t align)
{
	if (size > ((size_t)1 << 46) || align == 0 || (align & (align - 1)))
		return NULL;
	if (align <= SM_PAGE_SIZE)
		return vmap_alloc_cached(size ? size : 1, true);
	size_t usable = size ? SM_ALIGN_UP(size, SM_PAGE_SIZE) : SM_PAGE_SIZE;
	if (align > SIZE_MAX - usable)
		return NULL;
	size_t len = usable + align;
	char *raw = vm_os_map(len);
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
		.va_size = usable, .va_flags = VM_KMALLOC,
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
	sm_mutex_lock(&vm_lock);
	const struct vm_entry *e = vm_find((uintptr_t)addr);
	if (e && !(e->va_flags & VM_IOREMAP))
		s = e->va_size;
	sm_mutex_unlock(&vm_lock);
	return s;
}

enum sm_block_state vmap_block_of(const void *addr, void **start, size_t *size)
{
	uintptr_t a = (uintptr_t)addr;
	enum sm_block_state st = SM_BLOCK_NONE;
	sm_mutex_lock(&vm_lock);
	for (size_t i = 0; i < vm_cap && st == SM_BLOCK_NONE; i++) {
		const struct vm_entry *e = &vm_table[i];
		if (e->va_addr && !(e->va_flags & VM_IOREMAP) &&
		    a - e->va_addr < e->va_size) {
			*start = (void *)e->va_addr;
			*size = e->va_size;
			st = SM_BLOCK_USED;
		}
	}
	for (unsigned int i = 0; i < vm_cache_n && st == SM_BLOCK_NONE; i++) {
		if (a - vm_cache[i].vc_addr < vm_cache[i].vc_len) {
			*start = (void *)vm_cache[i].vc_addr;
			*size = vm_cache[i].vc_len;
			st = SM_BLOCK_FREE;
		}
	}
	sm_mutex_unlock(&vm_lock);
	return st;
}

/**
 * vmap_is_cached - @addr is the start of a freed mapping held in the cache.
 *
 * kfree's classification asks, after vmap_size() said 0, to report a
 * second free of a huge pointer as such.
 * CONTEXT: takes vm_lock.
 */
bool vmap_is_cached(const void *addr)
{
	bool found = false;
	if ((uintptr_t)addr & (SM_PAGE_SIZE - 1))
		return false;            /* every mapping starts on a page */
	sm_mutex_lock(&vm_lock);
	for (unsigned int i = 0; i < vm_cache_n && !found; i++)
		found = vm_cache[i].vc_addr == (uintptr_t)addr;
	sm_mutex_unlock(&vm_lock);
	return found;
}

void vmap_free(const void *addr, const char *caller)
{
	struct vm_victims v = { .vv_n = 0 };
	struct vm_entry e = { 0 };
	bool cached = false;

	sm_mutex_lock(&vm_lock);
	struct vm_entry *f = vm_find((uintptr_t)addr);
	bool ok = f && !(f->va_flags & VM_IOREMAP);
	if (ok) {
		e = *f;
		vm_remove_slot((size_t)(f - vm_table));
		if (e.va_flags & VM_KMALLOC)
			cached = vc_put(e.va_map, e.va_map_len, &v);
		else if (vm_cache_n)
			vc_expire(os_now_ns(), false, &v);
	}
	sm_mutex_unlock(&vm_lock);
	if (!ok)
		sm_fatal("%s(): invalid address %p", caller, addr);
	vc_release(&v);
	if (!cached)
		os_unmap((void *)e.va_map, e.va_map_len);
}

/**
 * vmap_cache_purge - unmap cached huge kmalloc mappings.
 * @all: every one now, not only those older than the decay period
 *
 * For malloc_trim and the reclaim path (theory 5).
 * CONTEXT: may block (munmap). Takes vm_lock.
 * RETURNS: bytes unmapped.
 */
size_t vmap_cache_purge(bool all)
{
	struct vm_victims v = { .vv_n = 0 };
	sm_mutex_lock(&vm_lock);
	if (vm_cache_n)
		vc_expire(os_now_ns(), all, &v);
	sm_mutex_unlock(&vm_lock);
	return vc_release(&v);
}

size_t vmap_cached_bytes(void)
{
	return SM_READ_ONCE(vm_cache_bytes);
}

void *vmap_realloc(void *addr, size_t new_size)
{
	if (new_size == 0 || new_size > ((size_t)1 << 46))
		return NULL;
	size_t usable = SM_ALIGN_UP(new_size, SM_PAGE_SIZE);
	struct vm_entry e = { 0 };

	struct vm_victims v = { .vv_n = 0 };
	sm_mutex_lock(&vm_lock);
	struct vm_entry *f = vm_find((uintptr_t)addr);
	bool ok = f && !(f->va_flags & VM_IOREMAP);
	if (ok)
		e = *f;
	if (vm_cache_n)
		vc_expire(os_now_ns(), false, &v);
	sm_mutex_unlock(&vm_lock);
	vc_release(&v);
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
	if (!q && usable > e.va_map_len && vmap_cache_purge(true))
		q = os_remap(addr, e.va_map_len, usable);
	if (!q)
		return NULL;
	sm_mutex_lock(&vm_lock);
	f = vm_find((uintptr_t)addr);
	if (f)
		vm_remove_slot((size_t)(f - vm_table));
	struct vm_entry n = {
		.va_addr = (uintptr_t)q, .va_map = (uintptr_t)q, .va_map_len = usable,
		.va_size = usable, .va_flags = e.va_flags & VM_KMALLOC,
	};
	vm_add_locked(&n);
	sm_mutex_unlock(&vm_lock);
	return q;
}

size_t vmap_total_bytes(void)
{
	return SM_READ_ONCE(vm_bytes);
}

void vmap_max_stats(size_t *max_maps, size_t *max_bytes)
{
	sm_mutex_lock(&vm_lock);
	*max_maps = vm_max_maps;
	*max_bytes = vm_max_bytes;
	sm_mutex_unlock(&vm_lock);
}

void vmap_prefork(void)
{
	sm_mutex_lock(&vm_lock);
	bootmem_prefork();
}

void vmap_postfork_parent(void)
{
	bootmem_postfork_parent();
	sm_mutex_unlock(&vm_lock);
}

void vmap_postfork_child(void)
{
	bootmem_postfork_child();
	pthread_mutex_init(&vm_lock, NULL);
}

/* ---- ioremap (<slabmalloc/io.h>) ---- */

/* ioremap()'s work (page_alloc.h). */
void *vmap_ioremap(unsigned long offset, unsigned long size)
{
	unsigned long in_page = offset & (SM_PAGE_SIZE - 1);
	unsigned long base = offset - in_page;

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

/* iounmap()'s work for a non-NULL @addr (page_alloc.h). */
void vmap_iounmap(volatile void *addr)
{
	struct vm_entry e;
	if (!vm_take((uintptr_t)addr, true, &e))
		sm_fatal("iounmap(): invalid address %p", (void *)addr);
	os_unmap((void *)e.va_map, e.va_map_len);
}
