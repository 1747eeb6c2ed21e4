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
 *     option, shared with the page layer's dirty pages). The background
 *     purge thread (base/bgthread.c) runs vmap_decay_tick every sixteenth
 *     of the period while anything is kept: the cache and the arenas' dirty
 *     extents decay smoothly (an item of age a weighs 1 - a/decay; the
 *     oldest go while the rest still weigh the whole), and all of it is
 *     back within one period with no call from the program. Every free, and
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
 *  6. Arenas (huge kmalloc blocks up to vmap_arena_max_block, 32 MiB). A
 *     loop that frees and allocates huge blocks of varying sizes misses a
 *     cache of whole mappings, and every miss faults all its pages in
 *     again. Such blocks are carved from arenas instead: mappings of
 *     VM_ARENA_SIZE (64 MiB) whose free space is a sorted array of free
 *     extents (vm_ext, by address), split on allocation and merged with
 *     free neighbours of the same state on free (the way jemalloc's and
 *     tcmalloc's page heaps coalesce). An extent is dirty (freed, maybe
 *     resident) or clean (never used, or purged with MADV_DONTNEED); an
 *     allocation takes the run of adjacent extents that covers the most
 *     dirty bytes, then the one that leaves the least of its last extent,
 *     so resident pages are reused before fresh ones are faulted. An arena
 *     stays one mapping (one VMA): nothing inside it is unmapped or
 *     remapped, so a realloc resizes in place when the pages after the
 *     block are free, else moves it (mremap would tear the arena).
 *     Dirty free bytes are bounded by arena_dirty_max() (huge_cache_mb, or
 *     the bytes of huge blocks in use if more): a free that exceeds it
 *     purges the excess from the oldest extent at once; the rest decays
 *     (5.). Purges take the extents off the array and madvise them with
 *     vm_lock dropped (vm_purge_lock serialises purges), then give them
 *     back clean; an arena that is wholly free and clean is unmapped. An
 *     arena counts whole in the heap (mallinfo2's hblkhd), so its size is
 *     the heap's step: under bench/steady's mix (up to 280 MiB of 2 - 4 MiB
 *     blocks live) arenas of 128 MiB held 384 MiB, arenas of 64 MiB 320.
 *     Larger blocks, and aligned ones, keep their own mappings and the
 *     cache of 4.; a cached mapping too small for a request is grown with
 *     mremap (its resident pages move with it), a larger one is split and
 *     the rest kept when it is at least VMAP_CACHE_MIN_PIECE.
 *
 *  Accounting: vmap_total_bytes() (meminfo "Vmalloc:") counts registered
 *  mappings only, i.e. memory handed out; the cache is reported apart by
 *  vmap_cached_bytes() ("VmallocCached:"), as the page layer reports dirty
 *  free pages apart. Cached bytes may be resident (they count in RSS) until
 *  decay, eviction or a purge unmaps them.
 *
 *  Locks: vm_purge_lock (taken before vm_lock, only by arena purges and
 *  fork) serialises purges; vm_lock (rank 7) protects the registry, the
 *  cache and the arenas; mmap/
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
	VM_ARENA   = 1u << 3,   /* carved from an arena (theory 6) */
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
#define VMAP_CACHE_SLOTS 32
/* A piece cut off a cached mapping is kept if at least this large (a
 * smaller one could only serve a huge request by growing). */
#define VMAP_CACHE_MIN_PIECE ((size_t)1 << 20)

struct vm_cached {
	uintptr_t vc_addr;       /* start of the mapping */
	size_t    vc_len;        /* its length (page multiple) */
	uint64_t  vc_free_ns;    /* when it was freed (os_now_ns) */
};

static struct vm_cached vm_cache[VMAP_CACHE_SLOTS];
static unsigned int vm_cache_n;          /* entries in vm_cache */
static size_t vm_cache_bytes;            /* sum of their vc_len */
static bool vm_cache_kick;               /* the cache became non-empty */

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
	struct vm_cached vv_map[VMAP_CACHE_SLOTS + 1];
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

/* Add [@addr, @addr + @len), freed at @t, to the cache, in order of free
 * time, evicting the oldest entries to respect both limits. vm_lock held. */
static void vc_insert(uintptr_t addr, size_t len, uint64_t t, size_t max,
                      struct vm_victims *v)
{
	while (vm_cache_n && (vm_cache_n == VMAP_CACHE_SLOTS || vm_cache_bytes + len > max))
		v->vv_map[v->vv_n++] = vc_remove(0);
	unsigned int i = vm_cache_n;
	while (i && vm_cache[i - 1].vc_free_ns > t)
		i--;
	memmove(&vm_cache[i + 1], &vm_cache[i], (vm_cache_n - i) * sizeof(struct vm_cached));
	vm_cache[i] = (struct vm_cached){ .vc_addr = addr, .vc_len = len, .vc_free_ns = t };
	vm_cache_n++;
	vm_cache_bytes += len;
	if (vm_cache_n == 1)
		vm_cache_kick = true;
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
	vc_insert(addr, len, now, max, v);
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

/* Index of the largest cached mapping, or -1. vm_lock held. */
static int vc_largest(void)
{
	int best = -1;
	for (unsigned int i = 0; i < vm_cache_n; i++)
		if (best < 0 || vm_cache[i].vc_len > vm_cache[best].vc_len)
			best = (int)i;
	return best;
}


/* ---- arenas of huge blocks (theory 6) ---- */

#define VM_ARENA_SIZE      ((size_t)64 << 20)   /* bytes of one arena */
/* Larger blocks get their own mapping; 0 keeps every block out of arenas. */
size_t vmap_arena_max_block = (size_t)32 << 20;
#define VM_ARENAS          128                  /* arenas at most (8 GiB) */
#define VM_EXTENTS         1024                 /* free extents at most */

struct vm_arena {
	uintptr_t ar_base;       /* start of its mapping (0: unused slot) */
	size_t    ar_free;       /* bytes of it in free extents */
};

struct vm_extent {
	uintptr_t ve_addr;       /* start (page aligned) */
	size_t    ve_len;        /* bytes */
	uint64_t  ve_free_ns;    /* when it last became dirty */
	bool      ve_dirty;      /* some page of it may be resident */
};

static struct vm_arena vm_arenas[VM_ARENAS];
static struct vm_extent vm_ext[VM_EXTENTS];    /* free extents, by address */
static unsigned int vm_next;                   /* entries of vm_ext */
static size_t vm_ext_dirty;                    /* bytes of dirty free extents */
static size_t vm_arena_blocks;                 /* live blocks in arenas */

static struct vm_arena *arena_of(uintptr_t a)
{
	for (unsigned int i = 0; i < VM_ARENAS; i++)
		if (vm_arenas[i].ar_base && a - vm_arenas[i].ar_base < VM_ARENA_SIZE)
			return &vm_arenas[i];
	return NULL;
}

/* First extent whose address is >= @a. vm_lock held. */
static unsigned int ext_lower(uintptr_t a)
{
	unsigned int lo = 0, hi = vm_next;
	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;
		if (vm_ext[mid].ve_addr < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void ext_remove(unsigned int i)
{
	if (vm_ext[i].ve_dirty)
		vm_ext_dirty -= vm_ext[i].ve_len;
	vm_next--;
	memmove(&vm_ext[i], &vm_ext[i + 1], (vm_next - i) * sizeof(struct vm_extent));
}

/* Give [@a, @a + @len) back to its arena's free extents, merging with free
 * neighbours of the same arena and state (dirty with dirty, taking the
 * newer time; clean with clean). vm_lock held. */
static void ext_free(uintptr_t a, size_t len, bool dirty, uint64_t now)
{
	struct vm_arena *ar = arena_of(a);
	struct vm_extent e = { .ve_addr = a, .ve_len = len, .ve_free_ns = dirty ? now : 0,
	                       .ve_dirty = dirty };
	ar->ar_free += len;
	unsigned int i = ext_lower(a);
	if (i < vm_next && vm_ext[i].ve_addr == a + len && vm_ext[i].ve_dirty == dirty &&
	    arena_of(vm_ext[i].ve_addr) == ar) {
		struct vm_extent n = vm_ext[i];
		ext_remove(i);
		e.ve_len += n.ve_len;
		if (n.ve_dirty) {
			e.ve_dirty = true;
			if (n.ve_free_ns > e.ve_free_ns)
				e.ve_free_ns = n.ve_free_ns;
		}
	}
	if (i > 0 && vm_ext[i - 1].ve_addr + vm_ext[i - 1].ve_len == a &&
	    vm_ext[i - 1].ve_dirty == dirty && arena_of(vm_ext[i - 1].ve_addr) == ar) {
		struct vm_extent p = vm_ext[i - 1];
		ext_remove(i - 1);
		i--;
		e.ve_addr = p.ve_addr;
		e.ve_len += p.ve_len;
		if (p.ve_dirty) {
			e.ve_dirty = true;
			if (p.ve_free_ns > e.ve_free_ns)
				e.ve_free_ns = p.ve_free_ns;
		}
	}
	memmove(&vm_ext[i + 1], &vm_ext[i], (vm_next - i) * sizeof(struct vm_extent));
	vm_ext[i] = e;
	vm_next++;
	if (e.ve_dirty)
		vm_ext_dirty += e.ve_len;
}

/* Take [@a, @a + @len) out of extent @i (which holds it). vm_lock held. */
static void ext_take(unsigned int i, uintptr_t a, size_t len)
{
	struct vm_extent e = vm_ext[i];
	arena_of(a)->ar_free -= len;
	ext_remove(i);
	/* What is left of it on either side stays free, in its state. */
	if (e.ve_addr < a) {
		struct vm_extent h = e;
		h.ve_len = a - e.ve_addr;
		memmove(&vm_ext[i + 1], &vm_ext[i], (vm_next - i) * sizeof(struct vm_extent));
		vm_ext[i++] = h;
		vm_next++;
		if (h.ve_dirty)
			vm_ext_dirty += h.ve_len;
	}
	if (a + len < e.ve_addr + e.ve_len) {
		struct vm_extent t = e;
		t.ve_addr = a + len;
		t.ve_len = e.ve_addr + e.ve_len - t.ve_addr;
		memmove(&vm_ext[i + 1], &vm_ext[i], (vm_next - i) * sizeof(struct vm_extent));
		vm_ext[i] = t;
		vm_next++;
		if (t.ve_dirty)
			vm_ext_dirty += t.ve_len;
	}
}

/* Extents @i and @i + 1 are adjacent in one arena. vm_lock held. */
static bool ext_adjacent(unsigned int i)
{
	return vm_ext[i].ve_addr + vm_ext[i].ve_len == vm_ext[i + 1].ve_addr &&
	       arena_of(vm_ext[i].ve_addr) == arena_of(vm_ext[i + 1].ve_addr);
}

/* Where to put @len bytes: the run of adjacent free extents starting at an
 * extent that covers the most dirty bytes (resident pages: no faults),
 * then wastes the least of its last extent. -1 if none. *@dirty tells
 * whether the run has dirty bytes. vm_lock held. */
static int ext_best_fit(size_t len, bool *dirty)
{
	int best = -1;
	size_t best_dirty = 0, best_left = 0;
	for (unsigned int i = 0; i < vm_next; i++) {
		size_t sum = 0, d = 0, left = 0;
		for (unsigned int j = i; j < vm_next && sum < len; j++) {
			if (j > i && !ext_adjacent(j - 1))
				break;
			size_t use = vm_ext[j].ve_len < len - sum ? vm_ext[j].ve_len : len - sum;
			sum += use;
			if (vm_ext[j].ve_dirty)
				d += use;
			left = vm_ext[j].ve_len - use;
		}
		if (sum < len)
			continue;
		if (best < 0 || d > best_dirty || (d == best_dirty && left < best_left)) {
			best = (int)i;
			best_dirty = d;
			best_left = left;
		}
	}
	*dirty = best_dirty != 0;
	return best;
}

/* Take @len bytes from the start of the run at extent @i. vm_lock held. */
static void ext_take_run(unsigned int i, size_t len)
{
	while (len) {
		size_t l = vm_ext[i].ve_len < len ? vm_ext[i].ve_len : len;
		ext_take(i, vm_ext[i].ve_addr, l);   /* the next extent moves to @i */
		len -= l;
	}
}

/* The most dirty free bytes the arenas keep between decay purges: the
 * huge_cache_mb option, or more with a larger working set of huge blocks
 * (VM_ARENA_LIVE_SHIFT: a share of the bytes in use), as glibc's trim
 * threshold follows the largest block freed. vm_lock held. */
#define VM_ARENA_LIVE_SHIFT 0
static size_t arena_dirty_max(void)
{
	size_t max = SM_READ_ONCE(vmap_cache_max_bytes);
	size_t live = vm_bytes >> VM_ARENA_LIVE_SHIFT;
	return max ? (live > max ? live : max) : 0;
}

/* Extents taken off to be purged with vm_lock dropped. */
struct vm_purge {
	struct vm_extent vp_ext[VM_EXTENTS];
	unsigned int vp_n;
};

static struct vm_purge vm_purge_buf;     /* used under vm_purge_lock */
static pthread_mutex_t vm_purge_lock = PTHREAD_MUTEX_INITIALIZER;

/* Take (the first @bytes, page-rounded, of) dirty extent @i off to be
 * purged. vm_lock held. */
static void ext_purge_take(unsigned int i, size_t bytes, struct vm_purge *p)
{
	struct vm_extent e = vm_ext[i];
	bytes = SM_ALIGN_UP(bytes, SM_PAGE_SIZE);
	if (bytes < e.ve_len)
		e.ve_len = bytes;
	ext_take(i, e.ve_addr, e.ve_len);
	p->vp_ext[p->vp_n++] = e;
}

/* Oldest dirty extent, or -1. vm_lock held. */
static int ext_oldest_dirty(void)
{
	int o = -1;
	for (unsigned int i = 0; i < vm_next; i++)
		if (vm_ext[i].ve_dirty && (o < 0 || vm_ext[i].ve_free_ns < vm_ext[o].ve_free_ns))
			o = (int)i;
	return o;
}

/* Choose what to purge: with @all every dirty extent; else the oldest ones
 * while dirty bytes exceed @max, those older than the decay, and (smooth
 * decay, @smooth) the oldest while the rest still weigh at least the limit
 * (an extent of age a weighs 1 - a/decay). vm_lock held. */
static void ext_choose_purge(uint64_t now, bool all, size_t max, bool smooth,
                             struct vm_purge *p)
{
	uint64_t decay = SM_READ_ONCE(buddy_decay_ns);
	for (;;) {
		int o = ext_oldest_dirty();
		if (o < 0)
			return;
		uint64_t age = now > vm_ext[o].ve_free_ns ? now - vm_ext[o].ve_free_ns : 0;
		if (!all && age < decay && vm_ext_dirty > max) {
			/* Over the limit: only the excess, from the oldest. */
			ext_purge_take((unsigned int)o, vm_ext_dirty - max, p);
			continue;
		}
		bool go = all || age >= decay;
		if (!go && smooth && decay) {
			double limit = 0;
			for (unsigned int i = 0; i < vm_next; i++) {
				if (!vm_ext[i].ve_dirty)
					continue;
				uint64_t a = now > vm_ext[i].ve_free_ns ? now - vm_ext[i].ve_free_ns : 0;
				limit += (double)vm_ext[i].ve_len * (1.0 - (double)a / (double)decay);
			}
			go = (double)(vm_ext_dirty - vm_ext[o].ve_len) >= limit &&
			     vm_ext_dirty > vm_ext[o].ve_len;
		}
		if (!go)
			return;
		ext_purge_take((unsigned int)o, vm_ext[o].ve_len, p);
	}
}

/* Purge what ext_choose_purge took off (vm_lock dropped), then give it
 * back clean and unmap arenas left wholly free and clean. RETURNS: bytes
 * purged or unmapped. */
static size_t ext_purge_finish(struct vm_purge *p)
{
	size_t bytes = 0;
	for (unsigned int i = 0; i < p->vp_n; i++)
		if (os_purge((void *)p->vp_ext[i].ve_addr, p->vp_ext[i].ve_len) == 0)
			bytes += p->vp_ext[i].ve_len;
	uintptr_t unmap[VM_ARENAS];
	unsigned int nun = 0;
	sm_mutex_lock(&vm_lock);
	for (unsigned int i = 0; i < p->vp_n; i++)
		ext_free(p->vp_ext[i].ve_addr, p->vp_ext[i].ve_len, false, 0);
	p->vp_n = 0;
	for (unsigned int i = 0; i < VM_ARENAS; i++) {
		struct vm_arena *ar = &vm_arenas[i];
		if (!ar->ar_base || ar->ar_free != VM_ARENA_SIZE)
			continue;
		/* Wholly free and wholly clean: one clean extent. */
		unsigned int k = ext_lower(ar->ar_base);
		if (k >= vm_next || vm_ext[k].ve_dirty || vm_ext[k].ve_len != VM_ARENA_SIZE)
			continue;
		ext_remove(k);
		unmap[nun++] = ar->ar_base;
		ar->ar_base = 0;
		ar->ar_free = 0;
	}
	sm_mutex_unlock(&vm_lock);
	for (unsigned int i = 0; i < nun; i++)
		os_unmap((void *)unmap[i], VM_ARENA_SIZE);
	return bytes;
}

/* Purge arenas' dirty extents (see ext_choose_purge). vm_lock not held. */
static size_t arena_purge(bool all, bool smooth)
{
	sm_mutex_lock(&vm_purge_lock);
	sm_mutex_lock(&vm_lock);
	ext_choose_purge(os_now_ns(), all, arena_dirty_max(), smooth, &vm_purge_buf);
	bool any = vm_purge_buf.vp_n != 0;
	sm_mutex_unlock(&vm_lock);
	size_t bytes = any ? ext_purge_finish(&vm_purge_buf) : 0;
	sm_mutex_unlock(&vm_purge_lock);
	return bytes;
}

/* A block of @usable bytes (<= vmap_arena_max_block) from an arena,
 * registered; NULL if the table or a new arena cannot be had. *@dirty
 * tells whether its memory may be non-zero. */
static void *arena_alloc(size_t usable, bool *dirty)
{
	sm_mutex_lock(&vm_lock);
	int i = vm_arena_blocks < VM_EXTENTS - VM_ARENAS - 1 ? ext_best_fit(usable, dirty) : -2;
	if (i == -1) {
		/* No room: a new arena, mapped with vm_lock dropped. */
		sm_mutex_unlock(&vm_lock);
		char *base = os_map(VM_ARENA_SIZE);
		if (!base)
			return NULL;
		sm_mutex_lock(&vm_lock);
		struct vm_arena *ar = NULL;
		for (unsigned int k = 0; k < VM_ARENAS && !ar; k++)
			if (!vm_arenas[k].ar_base)
				ar = &vm_arenas[k];
		if (!ar) {
			sm_mutex_unlock(&vm_lock);
			os_unmap(base, VM_ARENA_SIZE);
			return NULL;
		}
		ar->ar_base = (uintptr_t)base;
		ar->ar_free = 0;
		ext_free((uintptr_t)base, VM_ARENA_SIZE, false, 0);
		i = ext_best_fit(usable, dirty);
	}
	if (i < 0 || !vm_reserve_slot()) {
		sm_mutex_unlock(&vm_lock);
		return NULL;
	}
	uintptr_t p = vm_ext[i].ve_addr;
	ext_take_run((unsigned int)i, usable);
	vm_arena_blocks++;
	struct vm_entry e = {
		.va_addr = p, .va_map = p, .va_map_len = usable,
		.va_size = usable, .va_flags = VM_KMALLOC | VM_ARENA,
	};
	vm_add_locked(&e);
	sm_mutex_unlock(&vm_lock);
	return (void *)p;
}

/* Free an arena block whose entry @e is already out of the registry.
 * vm_lock held. RETURNS: the dirty free extents exceed the cache limit. */
static bool arena_free_locked(const struct vm_entry *e)
{
	if (!vm_ext_dirty)
		vm_cache_kick = true;
	ext_free(e->va_addr, e->va_size, true, os_now_ns());
	vm_arena_blocks--;
	return vm_ext_dirty > arena_dirty_max() || SM_READ_ONCE(buddy_decay_ns) == 0;
}

/* Grow arena block @e in place to @usable bytes when the extent after it
 * is free and large enough. vm_lock held. */
static bool arena_grow_locked(struct vm_entry *e, size_t usable)
{
	uintptr_t end = e->va_addr + e->va_size;
	unsigned int i = ext_lower(end);
	if (i >= vm_next || vm_ext[i].ve_addr != end || arena_of(end) != arena_of(e->va_addr) ||
	    vm_ext[i].ve_len < usable - e->va_size)
		return false;
	ext_take(i, end, usable - e->va_size);
	return true;
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
	if (usable <= SM_READ_ONCE(vmap_arena_max_block)) {
		bool dirty = false;
		char *a = arena_alloc(usable, &dirty);
		if (a) {
			if (zero && dirty) {
				if (usable <= SM_PAGE_SIZE ||
				    os_purge(a + SM_PAGE_SIZE, usable - SM_PAGE_SIZE) == 0)
					memset(a, 0, SM_PAGE_SIZE);
				else
					memset(a, 0, usable);
			}
			return a;
		}
	}
	struct vm_victims v = { .vv_n = 0 };
	struct vm_cached c = { 0 };
	size_t keep = 0;
	bool grow = false;

	sm_mutex_lock(&vm_lock);
	int i = vm_cache_n ? vc_best_fit(usable) : -1;
	if (i < 0 && vm_cache_n)
		grow = (i = vc_largest()) >= 0;
	if (i >= 0 && vm_reserve_slot()) {
		/* A hit reads no clock: the mapping is reused whatever its age
		 * (better than unmapping it), and the free that follows expires
		 * the others. Reuse it whole if the surplus is small, else cut
		 * the piece past the request off: back to the cache when it is
		 * worth keeping, else unmapped after unlocking. A mapping that
		 * is too small is grown below (mremap keeps its pages). */
		c = vc_remove((unsigned int)i);
		keep = grow ? c.vc_len : c.vc_len - usable <= usable / 4 ? c.vc_len : usable;
		size_t tail = c.vc_len - keep;
		if (tail >= VMAP_CACHE_MIN_PIECE) {
			vc_insert(c.vc_addr + keep, tail, c.vc_free_ns,
			          SM_READ_ONCE(vmap_cache_max_bytes), &v);
			c.vc_len = keep;
		}
		if (!grow) {
			struct vm_entry e = {
				.va_addr = c.vc_addr, .va_map = c.vc_addr, .va_map_len = keep,
				.va_size = keep, .va_flags = VM_KMALLOC,
			};
			vm_add_locked(&e);
		}
	} else {
		i = -1;
		if (vm_cache_n)  /* about to map anyway: unmap what has expired */
			vc_expire(os_now_ns(), false, &v);
	}
	sm_mutex_unlock(&vm_lock);
	vc_release(&v);
	if (i < 0)
		return vm_map_new(usable, false, VM_KMALLOC);
	if (c.vc_len > keep)
		os_unmap((void *)(c.vc_addr + keep), c.vc_len - keep);
	uintptr_t p = c.vc_addr;
	if (grow) {
		/* Too small for the request: grow it. Its resident pages move
		 * with it (no copy, no new faults); only the rest is fresh. */
		void *q = os_remap((void *)p, keep, usable);
		if (!q) {
			os_unmap((void *)p, keep);
			return vm_map_new(usable, false, VM_KMALLOC);
		}
		struct vm_entry e = {
			.va_addr = (uintptr_t)q, .va_map = (uintptr_t)q, .va_map_len = usable,
			.va_size = usable, .va_flags = VM_KMALLOC,
		};
		if (!vm_insert(&e)) {
			os_unmap(q, usable);
			errno = ENOMEM;
			return NULL;
		}
		p = (uintptr_t)q;
	}
	if (zero) {
		/* As buddy_zero_pages: the first page in place (nearly always
		 * touched), the rest of the reused part given back to the OS
		 * (a grown part is fresh, hence zero). */
		if (keep <= SM_PAGE_SIZE ||
		    os_purge((void *)(p + SM_PAGE_SIZE), keep - SM_PAGE_SIZE) == 0)
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
	for (unsigned int i = 0; i < vm_next && st == SM_BLOCK_NONE; i++) {
		if (a - vm_ext[i].ve_addr < vm_ext[i].ve_len) {
			*start = (void *)vm_ext[i].ve_addr;
			*size = vm_ext[i].ve_len;
			st = SM_BLOCK_FREE;
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
	for (unsigned int i = 0; i < vm_next && !found; i++)
		found = vm_ext[i].ve_addr == (uintptr_t)addr;
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
	bool over = false;
	if (ok) {
		e = *f;
		vm_remove_slot((size_t)(f - vm_table));
		if (e.va_flags & VM_ARENA)
			cached = true, over = arena_free_locked(&e);
		else if (e.va_flags & VM_KMALLOC)
			cached = vc_put(e.va_map, e.va_map_len, &v);
		else if (vm_cache_n)
			vc_expire(os_now_ns(), false, &v);
	}
	bool kick = vm_cache_kick;
	vm_cache_kick = false;
	sm_mutex_unlock(&vm_lock);
	if (!ok)
		sm_fatal("%s(): invalid address %p", caller, addr);
	vc_release(&v);
	if (!cached)
		os_unmap((void *)e.va_map, e.va_map_len);
	if (over)
		arena_purge(false, false);
	if (kick)
		sm_bg_wake(os_now_ns() + SM_READ_ONCE(buddy_decay_ns) / BUDDY_DECAY_STEPS);
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
	return vc_release(&v) + arena_purge(all, false);
}

/*
 * The background thread's task (theory 5): the cache decays smoothly. An
 * entry of age a weighs 1 - a/decay; the oldest entries are unmapped while
 * the others alone still weigh at least the whole limit (so a lone entry
 * stays its full decay period), and any entry older than the decay.
 * RETURNS: the next check, 0 when the cache is empty.
 */
static uint64_t vmap_decay_tick(uint64_t now)
{
	struct vm_victims v = { .vv_n = 0 };
	uint64_t decay = SM_READ_ONCE(buddy_decay_ns), next = 0;
	sm_mutex_lock(&vm_lock);
	vc_expire(now, decay == 0, &v);
	while (vm_cache_n > 1) {
		double limit = 0;
		for (unsigned int i = 0; i < vm_cache_n; i++) {
			uint64_t age = now > vm_cache[i].vc_free_ns ? now - vm_cache[i].vc_free_ns : 0;
			limit += (double)vm_cache[i].vc_len * (1.0 - (double)age / (double)decay);
		}
		if ((double)(vm_cache_bytes - vm_cache[0].vc_len) < limit)
			break;
		v.vv_map[v.vv_n++] = vc_remove(0);
	}
	if (vm_cache_n) {
		uint64_t step = decay / BUDDY_DECAY_STEPS ? decay / BUDDY_DECAY_STEPS : 1;
		uint64_t end = vm_cache[0].vc_free_ns + decay;
		next = now + step < end ? now + step : end;
	}
	vm_cache_kick = false;
	sm_mutex_unlock(&vm_lock);
	vc_release(&v);
	arena_purge(decay == 0, true);
	sm_mutex_lock(&vm_lock);
	int o = ext_oldest_dirty();
	bool arenas = false;
	for (unsigned int i = 0; i < VM_ARENAS && !arenas; i++)
		arenas = vm_arenas[i].ar_base && vm_arenas[i].ar_free == VM_ARENA_SIZE;
	if (o >= 0 || arenas) {
		uint64_t step = decay / BUDDY_DECAY_STEPS ? decay / BUDDY_DECAY_STEPS : 1;
		if (!next || now + step < next)
			next = now + step;
	}
	sm_mutex_unlock(&vm_lock);
	return next;
}

size_t vmap_cached_bytes(void)
{
	return SM_READ_ONCE(vm_cache_bytes) + SM_READ_ONCE(vm_ext_dirty);
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

	if (e.va_flags & VM_ARENA) {
		/* Inside one mapping: resized in place when the pages after it
		 * are free, else moved (mremap would tear the arena). */
		bool done = false;
		sm_mutex_lock(&vm_lock);
		f = vm_find((uintptr_t)addr);
		if (f && usable < f->va_size) {
			ext_free(f->va_addr + usable, f->va_size - usable, true, os_now_ns());
			done = true;
		} else if (f) {
			done = arena_grow_locked(f, usable);
		}
		if (done) {
			vm_bytes += usable - f->va_size;   /* modular: shrinking too */
			f->va_size = f->va_map_len = usable;
			if (vm_bytes > vm_max_bytes)
				vm_max_bytes = vm_bytes;
		}
		sm_mutex_unlock(&vm_lock);
		if (done)
			return addr;
		void *q = vmap_alloc_cached(new_size, false);
		if (!q)
			return NULL;
		memcpy(q, addr, e.va_size);
		vmap_free(addr, "vmap_realloc");
		return q;
	}

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

size_t vmap_arena_free_bytes(void)
{
	size_t bytes = 0;
	sm_mutex_lock(&vm_lock);
	for (unsigned int i = 0; i < VM_ARENAS; i++)
		if (vm_arenas[i].ar_base)
			bytes += vm_arenas[i].ar_free;
	sm_mutex_unlock(&vm_lock);
	return bytes;
}

void vmap_max_stats(size_t *max_maps, size_t *max_bytes)
{
	sm_mutex_lock(&vm_lock);
	*max_maps = vm_max_maps;
	*max_bytes = vm_max_bytes;
	sm_mutex_unlock(&vm_lock);
}

void vmap_init(void)
{
	sm_bg_register(vmap_decay_tick);
}

void vmap_prefork(void)
{
	sm_mutex_lock(&vm_purge_lock);
	sm_mutex_lock(&vm_lock);
	bootmem_prefork();
}

void vmap_postfork_parent(void)
{
	bootmem_postfork_parent();
	sm_mutex_unlock(&vm_lock);
	sm_mutex_unlock(&vm_purge_lock);
}

void vmap_postfork_child(void)
{
	bootmem_postfork_child();
	pthread_mutex_init(&vm_lock, NULL);
	pthread_mutex_init(&vm_purge_lock, NULL);
	/* A purge another thread had taken off: its extents go back dirty. */
	for (unsigned int i = 0; i < vm_purge_buf.vp_n; i++)
		ext_free(vm_purge_buf.vp_ext[i].ve_addr, vm_purge_buf.vp_ext[i].ve_len, true,
		         os_now_ns());
	vm_purge_buf.vp_n = 0;
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
