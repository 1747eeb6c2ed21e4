/* SPDX-License-Identifier: MIT */
/*
 * debug.c — slub_debug for user space: sanity checks (F), red zones (Z),
 * poisoning (P) and owner tracking (U) per cache, switchable at run time,
 * and the leak report.
 *
 * 1. Off the fast paths. A cache with any debug flag has its fast-path slot
 *    key (cc_key) and the slab_key of its pages pointed at the always-empty
 *    SM_TC_NONE slot (slab.c: slab_debug_apply), and kmalloc's fast limits
 *    are closed while a kmalloc-N cache is debugged: every allocation and
 *    free of such a cache reaches a slow path, which calls here. The fast
 *    paths pay nothing. A debugged cache bypasses its magazines: objects go
 *    straight out of and back into their slab's free bitmap, so that the
 *    bitmap proves every free (a double free is caught at the second free
 *    however long after, whatever the program wrote into the object).
 *
 * 2. Records, out of band. Each object of a slab that a debugged cache has
 *    used has a record (struct dbg_obj): its state (allocated, free, or
 *    unknown for objects that left the slab before debugging began), the
 *    size asked for (orig_size: kmalloc serves a 24-byte request from a
 *    32-byte class, and bytes 24..31 are red zone), what was written into
 *    it (red zone, poison), and the call sites and times of its last
 *    allocation and free. The records of a slab are one array, found by
 *    the slab's address in an open-addressing table (dbg_table), made when
 *    a debugged cache first touches the slab and dropped when the slab goes
 *    back to the page layer (slab_release_hook). Nothing is stored in or
 *    around the objects, so debugging can be switched on and off at run
 *    time for caches full of live objects.
 *
 * 3. Red zones. An object's red zone is every byte from its orig_size to
 *    the end of its stride (the distance between two objects). A cache
 *    created while SLAB_RED_ZONE is selected for it gets the debug layout:
 *    SLAB_DEBUG_PAD more bytes per object, so that even a request of the
 *    whole object size has a red zone. A cache switched on at run time
 *    keeps its layout: its zones are the slack it has (kmalloc requests
 *    below their class size, alignment padding). Allocation fills the zone
 *    with 0xcc; a free, and slabmalloc_debug_check, look for any other byte
 *    there ("Right Redzone overwritten"). With the debug layout the last
 *    SLAB_DEBUG_PAD bytes of a stride are also the left red zone of the
 *    next object (and a pad before object 0 is the first object's), which
 *    its free checks against what the object below holds by its record
 *    ("Left Redzone overwritten"); without it an underflow shows as the
 *    zone of the object below overwritten (or as its poison, when free).
 *
 * 4. Poison. A free fills the object with 0x6b and its last byte with 0xa5
 *    (and the zone past object_size with 0xbb); the next allocation of the
 *    object checks every byte ("Poison overwritten": a write after free),
 *    and a read after free sees the poison, not the old data. Caches with
 *    a constructor keep the kernel's rule: their objects hold constructed
 *    state between uses, so poisoning does not apply to the object, only
 *    to the zone after it.
 *
 * 5. Reports, in the kernel's form: a line of '=', "BUG <cache> (pid N):
 *    <what>", the offending bytes and their offset in the object, the
 *    object, the call sites of its last allocation and free (symbolised
 *    with dladdr), and a hex dump; then abort(). Call sites are return
 *    addresses: the entry points (malloc.c, slab_api.c) store theirs in
 *    sm_debug_ra on their slow side, for the kmalloc family; kmem_cache
 *    paths use the return address of the magazine layer's slow path.
 *
 * 6. Leak report (leak=, or L in debug=): at exit, every object that a
 *    debugged cache with owner tracking handed out and nobody freed, grouped
 *    by cache and allocation site, with counts and bytes.
 *
 * 7. valgrind (configure finds valgrind/memcheck.h): a program run under
 *    memcheck (not another valgrind tool) gets debug=F for every cache unless it chose a selection
 *    (options.c asks slab_debug_valgrind), so that every block passes
 *    here, and each is described with client requests: MALLOCLIKE at
 *    allocation for the size asked for (its red zone NOACCESS), FREELIKE
 *    at free (the object NOACCESS); the checks here mark what they read
 *    DEFINED first. The fast paths carry no request.
 *
 * 8. Locks: dbg_lock (rank 4b of internal.h: after the depot locks, before
 *    the slab locks) guards the table and the records. The magazine and
 *    kmalloc layers call here with no lock held; no slab or page function
 *    that may release a slab (which calls back into slab_release_hook) is
 *    called with dbg_lock held. Fork: taken in prefork, re-initialised in
 *    the child.
 *
 * Floor 6 (src/layers.txt): calls slab.c, the page floors and the base
 * floor; the magazine layer and kmalloc call it on their slow paths, the
 * options (SLABMALLOC_OPTIONS debug=, leak=) configure it.
 */
#include "slab_internal.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#if defined(SM_VALGRIND)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MALLOCLIKE_BLOCK(p, n, rz, z) ((void)0)
#define VALGRIND_FREELIKE_BLOCK(p, rz) ((void)0)
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)0)
#define VALGRIND_MAKE_MEM_NOACCESS(p, n) ((void)0)
#endif

#define DBG_POISON_FREE  0x6b
#define DBG_POISON_END   0xa5
#define DBG_RZ_ACTIVE    0xcc
#define DBG_RZ_INACTIVE  0xbb

enum { DBG_UNKNOWN = 0, DBG_ALLOCATED, DBG_FREE };
#define DBG_F_ZONE     1        /* the zone holds DBG_RZ_ACTIVE (allocated) */
#define DBG_F_POISON   2        /* the object holds poison (free) */
#define DBG_F_IZONE    4        /* the zone past object_size holds 0xbb (free) */
#define DBG_F_TRACKED  8        /* owner tracking was on at the allocation */

struct dbg_track {
	const void *t_addr;              /* call site (a return address) */
	int32_t     t_tid;               /* thread */
	int32_t     t_cpu;               /* CPU */
	uint64_t    t_ns;                /* CLOCK_MONOTONIC */
};

struct dbg_obj {
	uint32_t o_orig;                 /* bytes asked for */
	uint8_t  o_state;                /* DBG_UNKNOWN / ALLOCATED / FREE */
	uint8_t  o_flags;                /* DBG_F_* */
	uint16_t o_pad;
	struct dbg_track o_alloc, o_free;
};

struct dbg_slab {
	uintptr_t          ds_start;     /* slab address; 0: empty entry */
	struct kmem_cache *ds_cache;
	struct dbg_obj    *ds_obj;       /* one record per object */
	size_t             ds_bytes;     /* mapped bytes of ds_obj */
};

#define DBG_TABLE_ORDER 18               /* slots; 8 MiB of address space */
#define DBG_TABLE_SIZE  ((size_t)1 << DBG_TABLE_ORDER)

static pthread_mutex_t dbg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dbg_slab *dbg_table;
static size_t dbg_used;
static bool dbg_full_warned;

SM_TLS const void *sm_debug_ra;
char sm_leak_target[256];

/* ---- the table of slabs ---- */

static size_t dbg_hash(uintptr_t start)
{
	return (size_t)(((start >> SM_PAGE_SHIFT) * 0x9e3779b97f4a7c15ull) >>
	                (64 - DBG_TABLE_ORDER));
}

static struct dbg_slab *dbg_find(uintptr_t start)
{
	if (!dbg_table)
		return NULL;
	for (size_t i = dbg_hash(start);; i = (i + 1) & (DBG_TABLE_SIZE - 1)) {
		struct dbg_slab *e = &dbg_table[i];
		if (e->ds_start == start)
			return e;
		if (!e->ds_start)
			return NULL;
	}
}

/* Drop the records of the slab at @start (dbg_lock held): backward-shift
 * deletion keeps every probe sequence unbroken. */
static void dbg_drop_locked(uintptr_t start)
{
	struct dbg_slab *e = dbg_find(start);
	if (!e)
		return;
	os_unmap(e->ds_obj, e->ds_bytes);
	size_t i = (size_t)(e - dbg_table);
	for (size_t j = (i + 1) & (DBG_TABLE_SIZE - 1);; j = (j + 1) & (DBG_TABLE_SIZE - 1)) {
		if (!dbg_table[j].ds_start)
			break;
		size_t h = dbg_hash(dbg_table[j].ds_start);
		/* Move j into the hole at i unless its home lies in (i, j]. */
		bool keep = i <= j ? (h > i && h <= j) : (h > i || h <= j);
		if (!keep) {
			dbg_table[i] = dbg_table[j];
			i = j;
		}
	}
	memset(&dbg_table[i], 0, sizeof dbg_table[i]);
	dbg_used--;
}

static void dbg_release(struct kmem_cache *c, uintptr_t start)
{
	(void)c;
	sm_mutex_lock(&dbg_lock);
	dbg_drop_locked(start);
	sm_mutex_unlock(&dbg_lock);
}

/* The record of object @p of @c (a proven object start), made with its
 * slab's array if needed; NULL when the table is full (the object is then
 * checked by the bitmap only). dbg_lock held. */
static struct dbg_obj *dbg_record(struct kmem_cache *c, const void *p)
{
	struct page *pg = sm_virt_to_page(p);
	uintptr_t start = SM_ALIGN_DOWN(pg->slab_base, slab_size_bytes(c));
	uint64_t idx = slab_obj_index(c, pg, p);
	struct dbg_slab *e = dbg_find(start);
	if (e && e->ds_cache != c) {
		dbg_drop_locked(start);  /* a slab of a destroyed cache, reused */
		e = NULL;
	}
	if (!e) {
		if (!dbg_table) {
			dbg_table = os_map(DBG_TABLE_SIZE * sizeof *dbg_table);
			if (!dbg_table)
				return NULL;
			__atomic_store_n(&slab_release_hook, dbg_release, __ATOMIC_RELEASE);
		}
		if (dbg_used >= DBG_TABLE_SIZE / 8 * 7) {
			if (!dbg_full_warned)
				sm_warn("debug: record table full; new slabs are checked by "
				        "their bitmaps only");
			dbg_full_warned = true;
			return NULL;
		}
		size_t bytes = SM_ALIGN_UP((size_t)c->objects * sizeof(struct dbg_obj),
		                           SM_PAGE_SIZE);
		struct dbg_obj *objs = os_map(bytes);
		if (!objs)
			return NULL;
		size_t i = dbg_hash(start);
		while (dbg_table[i].ds_start)
			i = (i + 1) & (DBG_TABLE_SIZE - 1);
		e = &dbg_table[i];
		e->ds_start = start;
		e->ds_cache = c;
		e->ds_obj = objs;
		e->ds_bytes = bytes;
		dbg_used++;
		/* The left red zone of object 0 (debug layout): the allocator
		 * never writes there otherwise. */
		if (c->debug_pad)
			memset((uint8_t *)pg->slab_base - SLAB_DEBUG_PAD, DBG_RZ_ACTIVE,
			       SLAB_DEBUG_PAD);
	}
	return &e->ds_obj[idx];
}

static void dbg_track_set(struct dbg_track *t, const void *ra)
{
	t->t_addr = ra;
	t->t_tid = os_gettid();
	t->t_cpu = os_cpu_id();
	t->t_ns = os_now_ns();
}

/* ---- reports ---- */

/* "sym+0xoff (file)" for a code address. */
static void dbg_print_site(const char *label, const struct dbg_track *t)
{
	Dl_info di;
	uint64_t now = os_now_ns();
	unsigned long age = t->t_ns && now >= t->t_ns ? (unsigned long)((now - t->t_ns) / 1000000) : 0;
	if (!t->t_addr) {
		sm_dprintf(2, "INFO: %s from an unknown site\n", label);
		return;
	}
	if (dladdr(t->t_addr, &di) && di.dli_fname) {
		if (di.dli_sname)
			sm_dprintf(2, "INFO: %s in %s+0x%lx (%s) age=%lu ms cpu=%d tid=%d\n", label,
			           di.dli_sname,
			           (unsigned long)((uintptr_t)t->t_addr - (uintptr_t)di.dli_saddr),
			           di.dli_fname, age, t->t_cpu, t->t_tid);
		else
			sm_dprintf(2, "INFO: %s in %s+0x%lx age=%lu ms cpu=%d tid=%d\n", label,
			           di.dli_fname,
			           (unsigned long)((uintptr_t)t->t_addr - (uintptr_t)di.dli_fbase),
			           age, t->t_cpu, t->t_tid);
		return;
	}
	sm_dprintf(2, "INFO: %s in %p age=%lu ms cpu=%d tid=%d\n", label, t->t_addr, age,
	           t->t_cpu, t->t_tid);
}

/* Hex dump of @n bytes at @p, 16 a line, labelled. */
static void dbg_hexdump(const char *label, const uint8_t *p, size_t n)
{
	for (size_t off = 0; off < n; off += 16) {
		char line[128];
		size_t k = 0;
		size_t m = n - off < 16 ? n - off : 16;
		for (size_t i = 0; i < m; i++) {
			line[k++] = "0123456789abcdef"[p[off + i] >> 4];
			line[k++] = "0123456789abcdef"[p[off + i] & 15];
			line[k++] = ' ';
		}
		for (size_t i = m; i < 16; i++) {
			line[k++] = ' ';
			line[k++] = ' ';
			line[k++] = ' ';
		}
		line[k++] = ' ';
		for (size_t i = 0; i < m; i++) {
			uint8_t ch = p[off + i];
			line[k++] = ch >= 32 && ch < 127 ? (char)ch : '.';
		}
		line[k] = 0;
		sm_dprintf(2, "%-8s %p: %s\n", off ? "" : label, (const void *)(p + off), line);
	}
}

static const char dbg_rule_eq[] =
	"=============================================================================\n";
static const char dbg_rule_dash[] =
	"-----------------------------------------------------------------------------\n";

/* The head of a report. */
static void dbg_report_head(const struct kmem_cache *c, const char *what)
{
	sm_dprintf(2, "%s", dbg_rule_eq);
	sm_dprintf(2, "BUG %s (pid %d): %s\n", c->name, os_getpid(), what);
	sm_dprintf(2, "%s", dbg_rule_dash);
}

/* The object's description, tracks and dump. */
static void dbg_report_object(const struct kmem_cache *c, const uint8_t *obj,
                              const struct dbg_obj *r, const uint8_t *bad)
{
	size_t orig = r && r->o_state == DBG_ALLOCATED ? r->o_orig : c->object_size;
	struct page *pg = sm_virt_to_page(obj);
	if (pg && pg->slab_cache == c) {
		uintptr_t start = SM_ALIGN_DOWN(pg->slab_base, slab_size_bytes(c));
		sm_dprintf(2, "INFO: Object %p @offset=%lu size=%zu (object size %u, stride %u) "
		           "slab %p\n", (const void *)obj, (unsigned long)((uintptr_t)obj - start),
		           orig, c->object_size, c->size, (void *)start);
	} else {
		sm_dprintf(2, "INFO: Block %p size=%zu (%u bytes mapped)\n", (const void *)obj,
		           orig, c->size);
	}
	if (r && r->o_state != DBG_UNKNOWN) {
		if (r->o_flags & DBG_F_TRACKED || r->o_alloc.t_addr)
			dbg_print_site("Allocated", &r->o_alloc);
		if (r->o_free.t_ns)
			dbg_print_site("Freed", &r->o_free);
	} else {
		sm_dprintf(2, "INFO: allocated before debugging began (no record)\n");
	}
	size_t shown = orig < 64 ? orig : 64;
	if (bad && (size_t)(bad - obj) < c->size && (size_t)(bad - obj) >= 64 + 16) {
		size_t from = SM_ALIGN_DOWN((size_t)(bad - obj), 16) - 16;
		size_t end = c->size - from < 48 ? c->size : from + 48;
		dbg_hexdump("Object", obj, 32);
		sm_dprintf(2, "         ...\n");
		if (from < orig)
			dbg_hexdump("Object", obj + from, (end < orig ? end : orig) - from);
		if (end > orig)
			dbg_hexdump("Redzone", obj + (from > orig ? from : orig),
			            end - (from > orig ? from : orig));
		return;
	}
	dbg_hexdump("Object", obj, shown);
	if (orig > shown)
		sm_dprintf(2, "         ... (%zu more bytes)\n", orig - shown);
	if (c->size > orig) {
		size_t z = c->size - orig < 64 ? c->size - orig : 64;
		dbg_hexdump("Redzone", obj + orig, z);
	}
}

SM_COLD SM_NORETURN
static void dbg_bug_bytes(const struct kmem_cache *c, const uint8_t *obj,
                          const struct dbg_obj *r, const char *what,
                          const uint8_t *bad, size_t len, unsigned expect)
{
	dbg_report_head(c, what);
	sm_dprintf(2, "INFO: %p-%p @offset=%ld. First byte 0x%x instead of 0x%x\n",
	           (const void *)bad, (const void *)(bad + len - 1),
	           (long)(bad - obj), (unsigned)*bad, expect);
	dbg_report_object(c, obj, r, bad);
	sm_dprintf(2, "%s", dbg_rule_eq);
	abort();
}

SM_COLD SM_NORETURN
static void dbg_bug_object(const struct kmem_cache *c, const uint8_t *obj,
                           const struct dbg_obj *r, const char *what, const char *caller)
{
	dbg_report_head(c, what);
	sm_dprintf(2, "INFO: %s(%p)\n", caller, (const void *)obj);
	dbg_report_object(c, obj, r, NULL);
	sm_dprintf(2, "%s", dbg_rule_eq);
	abort();
}

/* A pointer that is not an object start of @c. */
SM_COLD SM_NORETURN
static void dbg_bug_pointer(const struct kmem_cache *c, const void *p, const char *caller)
{
	struct page *pg = sm_virt_to_page(p);
	dbg_report_head(c, "Invalid object pointer");
	if (!pg || !pg->slab_cache) {
		sm_dprintf(2, "INFO: %s(%p): not a slab object\n", caller, p);
	} else if (pg->slab_cache != c) {
		sm_dprintf(2, "INFO: %s(%p): the object belongs to cache %s\n", caller, p,
		           pg->slab_cache->name);
	} else {
		uintptr_t start = SM_ALIGN_DOWN(pg->slab_base, slab_size_bytes(c));
		uintptr_t off = (uintptr_t)p - pg->slab_base;
		uintptr_t obj = pg->slab_base + off / c->size * c->size;
		sm_dprintf(2, "INFO: %s(%p): not the start of an object: %lu bytes into "
		           "object %p (slab %p, stride %u)\n", caller, p,
		           (unsigned long)((uintptr_t)p - obj), (void *)obj, (void *)start, c->size);
		if ((uintptr_t)p >= pg->slab_base && off / c->size < c->objects) {
			struct dbg_obj *r = NULL;
			sm_mutex_lock(&dbg_lock);
			struct dbg_slab *e = dbg_find(start);
			if (e && e->ds_cache == c)
				r = &e->ds_obj[off / c->size];
			sm_mutex_unlock(&dbg_lock);
			dbg_report_object(c, (const uint8_t *)obj, r, NULL);
		}
	}
	sm_dprintf(2, "%s", dbg_rule_eq);
	abort();
}

/* ---- checks ---- */

/* The first byte of [p, p+n) that is not @v, or NULL. */
static const uint8_t *dbg_first_not(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return p + i;
	return NULL;
}

/* Length of the run of bytes other than @v starting at @bad, within @end. */
static size_t dbg_run(const uint8_t *bad, const uint8_t *end, uint8_t v)
{
	const uint8_t *q = bad;
	while (q < end && *q != v)
		q++;
	return (size_t)(q - bad);
}

/* The active red zone of an allocated object. */
static void dbg_check_zone(const struct kmem_cache *c, const uint8_t *obj,
                           const struct dbg_obj *r)
{
	if (!(r->o_flags & DBG_F_ZONE))
		return;
	const uint8_t *end = obj + c->size;
	const uint8_t *bad = dbg_first_not(obj + r->o_orig, c->size - r->o_orig, DBG_RZ_ACTIVE);
	if (bad)
		dbg_bug_bytes(c, obj, r, "Right Redzone overwritten", bad,
		              dbg_run(bad, end, DBG_RZ_ACTIVE), DBG_RZ_ACTIVE);
}

/* The left red zone of an allocated object of a cache with the debug
 * layout: the SLAB_DEBUG_PAD bytes before it, which are the end of the
 * zone of the object below (whatever it holds by that object's record)
 * or, for object 0, the slab's left pad. */
static void dbg_check_left(const struct kmem_cache *c, const uint8_t *obj,
                           const struct dbg_obj *r)
{
	if (!c->debug_pad || !(r->o_flags & DBG_F_ZONE))
		return;
	struct page *pg = sm_virt_to_page(obj);
	uint8_t expect;
	if ((uintptr_t)obj == pg->slab_base) {
		expect = DBG_RZ_ACTIVE;
	} else {
		const struct dbg_obj *below = r - 1;
		if (below->o_state == DBG_ALLOCATED && (below->o_flags & DBG_F_ZONE))
			expect = DBG_RZ_ACTIVE;
		else if (below->o_state == DBG_FREE && (below->o_flags & DBG_F_IZONE))
			expect = DBG_RZ_INACTIVE;
		else
			return;          /* not known: never used, or unchecked */
	}
	const uint8_t *bad = dbg_first_not(obj - SLAB_DEBUG_PAD, SLAB_DEBUG_PAD, expect);
	if (bad)
		dbg_bug_bytes(c, obj, r, "Left Redzone overwritten", bad,
		              dbg_run(bad, obj, expect), expect);
}

/* The poison and inactive zone of a free object. */
static void dbg_check_free(const struct kmem_cache *c, const uint8_t *obj,
                           const struct dbg_obj *r)
{
	size_t os = c->object_size;
	if (r->o_flags & DBG_F_POISON) {
		const uint8_t *bad = dbg_first_not(obj, os - 1, DBG_POISON_FREE);
		if (bad)
			dbg_bug_bytes(c, obj, r, "Poison overwritten (write after free)", bad,
			              dbg_run(bad, obj + os - 1, DBG_POISON_FREE), DBG_POISON_FREE);
		if (obj[os - 1] != DBG_POISON_END)
			dbg_bug_bytes(c, obj, r, "Poison overwritten (write after free)",
			              obj + os - 1, 1, DBG_POISON_END);
	}
	if (r->o_flags & DBG_F_IZONE) {
		const uint8_t *bad = dbg_first_not(obj + os, c->size - os, DBG_RZ_INACTIVE);
		if (bad)
			dbg_bug_bytes(c, obj, r, "Redzone overwritten (free object)", bad,
			              dbg_run(bad, obj + c->size, DBG_RZ_INACTIVE), DBG_RZ_INACTIVE);
	}
}

void *slab_debug_alloc(struct kmem_cache *c, gfp_t gfp, size_t orig, const void *ra)
{
	void *p = slab_alloc_one(c, gfp);
	if (!p)
		return NULL;
	unsigned long f = SM_READ_ONCE(c->debug);
	uint8_t *o = p;
	if (orig > c->object_size)
		orig = c->object_size;
	VALGRIND_MAKE_MEM_DEFINED(p, c->size);
	sm_mutex_lock(&dbg_lock);
	struct dbg_obj *r = dbg_record(c, p);
	if (r) {
		if (r->o_state == DBG_FREE)
			dbg_check_free(c, o, r);
		r->o_state = DBG_ALLOCATED;
		r->o_orig = (uint32_t)orig;
		r->o_flags = (f & SLAB_RED_ZONE) && orig < c->size ? DBG_F_ZONE : 0;
		memset(&r->o_free, 0, sizeof r->o_free);
		if (f & SLAB_STORE_USER) {
			r->o_flags |= DBG_F_TRACKED;
			dbg_track_set(&r->o_alloc, ra);
		} else {
			memset(&r->o_alloc, 0, sizeof r->o_alloc);
		}
	}
	/* A kmalloc object leaves with no free tag in its first word, as on
	 * the fast path (it may have been freed by the fast path before). */
	if ((c->flags & SLAB_KMALLOC) && !(gfp & __GFP_ZERO))
		memset(o, 0, c->object_size < sizeof(uintptr_t) ? c->object_size
		                                                : sizeof(uintptr_t));
	if (gfp & __GFP_ZERO)
		memset(o, 0, orig);
	/* The zone is written before the lock is dropped: the free of the
	 * object above reads its end as its left red zone, by this record. */
	if (r && (r->o_flags & DBG_F_ZONE))
		memset(o + orig, DBG_RZ_ACTIVE, c->size - orig);
	sm_mutex_unlock(&dbg_lock);
	VALGRIND_MALLOCLIKE_BLOCK(p, orig, 0, (gfp & __GFP_ZERO) || c->ctor);
	VALGRIND_MAKE_MEM_NOACCESS(o + orig, c->size - orig);
	return p;
}

/* The F checks of a free of @p through @c: an object start of @c (or a
 * report), not free already (or a report). RETURNS: its size as asked
 * for (object_size without a record). */
size_t slab_debug_check(struct kmem_cache *c, const void *p, const char *caller)
{
	struct page *pg = sm_virt_to_page(p);
	if (!pg || pg->slab_cache != c || !slab_is_obj_start(c, pg, p))
		dbg_bug_pointer(c, p, caller);
	sm_mutex_lock(&dbg_lock);
	struct dbg_obj *r = dbg_record(c, p);
	if ((r && r->o_state == DBG_FREE) || slab_obj_free(c, p))
		dbg_bug_object(c, p, r, "Object already free (double free)", caller);
	size_t orig = r && r->o_state == DBG_ALLOCATED ? r->o_orig : c->object_size;
	sm_mutex_unlock(&dbg_lock);
	return orig;
}

void slab_debug_free(struct kmem_cache *c, void *p, const char *caller, const void *ra)
{
	uint8_t *o = p;
	unsigned long f = SM_READ_ONCE(c->debug);
	struct page *pg = sm_virt_to_page(p);
	if (!pg || pg->slab_cache != c || !slab_is_obj_start(c, pg, p))
		dbg_bug_pointer(c, p, caller);
	sm_mutex_lock(&dbg_lock);
	struct dbg_obj *r = dbg_record(c, p);
	if ((r && r->o_state == DBG_FREE) || slab_obj_free(c, p))
		dbg_bug_object(c, o, r, "Object already free (double free)", caller);
	VALGRIND_MAKE_MEM_DEFINED(p, c->size);
	if (r) {
		if (r->o_state == DBG_ALLOCATED) {
			dbg_check_zone(c, o, r);
			dbg_check_left(c, o, r);
		} else
			memset(&r->o_alloc, 0, sizeof r->o_alloc);
		r->o_state = DBG_FREE;
		r->o_flags = 0;
		dbg_track_set(&r->o_free, ra);
		if ((f & SLAB_POISON) && !c->ctor) {
			memset(o, DBG_POISON_FREE, c->object_size - 1);
			o[c->object_size - 1] = DBG_POISON_END;
			r->o_flags |= DBG_F_POISON;
		}
		if ((f & (SLAB_RED_ZONE | SLAB_POISON)) && c->size > c->object_size) {
			memset(o + c->object_size, DBG_RZ_INACTIVE, c->size - c->object_size);
			r->o_flags |= DBG_F_IZONE;
		}
	}
	sm_mutex_unlock(&dbg_lock);
	VALGRIND_FREELIKE_BLOCK(p, 0);
	VALGRIND_MAKE_MEM_NOACCESS(p, c->size);
	slab_free_bulk(c, &p, 1);
}

/* Under memcheck only: another tool (callgrind counting the fast paths)
 * answers the memcheck request below with its default, 0. */
bool slab_debug_valgrind(void)
{
#if defined(SM_VALGRIND)
	if (!RUNNING_ON_VALGRIND)
		return false;
	char byte = 0, vbits = 0;
	return VALGRIND_GET_VBITS(&byte, &vbits, 1) == 1;
#else
	return false;
#endif
}

/* ---- large and huge blocks ----
 *
 * Blocks above the slab sizes are "objects" of two pseudo caches,
 * kmalloc-large (buddy blocks, up to 4 MiB) and kmalloc-huge (mappings),
 * which the selection names like any cache. Their record is the only one
 * of its table entry (keyed by the block's address). With Z, kmalloc asks
 * for 16 more bytes than the request, so a block always has a red zone up
 * to its page end. With P, a freed large block is poisoned and kept in a
 * quarantine (a FIFO of up to DBG_QUAR_BLOCKS blocks, DBG_QUAR_BYTES in
 * all) before it goes back to the buddy allocator, its poison checked on
 * the way out: a write after free is caught, a read after free sees
 * poison, and a second free finds the record free. Huge blocks are
 * unmapped (or kept unreadable by the mapping cache) at once. */

#define DBG_QUAR_BLOCKS 64
#define DBG_QUAR_BYTES  (32u << 20)

static struct { void *q_blk; size_t q_bytes; } dbg_quar[DBG_QUAR_BLOCKS];
static unsigned int dbg_quar_head, dbg_quar_n;
static size_t dbg_quar_bytes;

/* A stand-in cache for the reports and checks of one block. */
static void dbg_block_cache(struct kmem_cache *bc, bool huge, size_t orig, size_t usable)
{
	memset(bc, 0, sizeof *bc);
	memcpy(bc->name, huge ? "kmalloc-huge" : "kmalloc-large", huge ? 13 : 14);
	bc->object_size = (uint32_t)orig;
	bc->size = (uint32_t)usable;
	bc->objects = 1;
}

/* The record of block @p; @create makes it. dbg_lock held. */
static struct dbg_obj *dbg_block_record(const void *p, bool create)
{
	struct dbg_slab *e = dbg_find((uintptr_t)p);
	if (e && e->ds_cache)
		return NULL;             /* a slab's entry, not a block's */
	if (e || !create)
		return e ? e->ds_obj : NULL;
	if (!dbg_table) {
		dbg_table = os_map(DBG_TABLE_SIZE * sizeof *dbg_table);
		if (!dbg_table)
			return NULL;
		__atomic_store_n(&slab_release_hook, dbg_release, __ATOMIC_RELEASE);
	}
	if (dbg_used >= DBG_TABLE_SIZE / 8 * 7)
		return NULL;
	struct dbg_obj *r = os_map(SM_PAGE_SIZE);
	if (!r)
		return NULL;
	size_t i = dbg_hash((uintptr_t)p);
	while (dbg_table[i].ds_start)
		i = (i + 1) & (DBG_TABLE_SIZE - 1);
	dbg_table[i].ds_start = (uintptr_t)p;
	dbg_table[i].ds_cache = NULL;    /* a block */
	dbg_table[i].ds_obj = r;
	dbg_table[i].ds_bytes = SM_PAGE_SIZE;
	dbg_used++;
	return r;
}

void debug_block_alloc(void *p, size_t orig, size_t usable, bool huge,
                       unsigned long flags, const void *ra)
{
	sm_mutex_lock(&dbg_lock);
	struct dbg_obj *r = dbg_block_record(p, true);
	if (r) {
		r->o_state = DBG_ALLOCATED;
		r->o_orig = (uint32_t)(orig < UINT32_MAX ? orig : UINT32_MAX);
		r->o_flags = (flags & SLAB_RED_ZONE) && orig < usable ? DBG_F_ZONE : 0;
		r->o_pad = huge;
		memset(&r->o_free, 0, sizeof r->o_free);
		if (flags & SLAB_STORE_USER) {
			r->o_flags |= DBG_F_TRACKED;
			dbg_track_set(&r->o_alloc, ra);
		} else {
			memset(&r->o_alloc, 0, sizeof r->o_alloc);
		}
	}
	/* under the lock, as slab_debug_alloc: slabmalloc_debug_check on
	 * another thread reads the zone by this record */
	if (r && (r->o_flags & DBG_F_ZONE))
		memset((uint8_t *)p + orig, DBG_RZ_ACTIVE, usable - orig);
	sm_mutex_unlock(&dbg_lock);
	VALGRIND_MALLOCLIKE_BLOCK(p, orig, 0, 1);
	VALGRIND_MAKE_MEM_NOACCESS((uint8_t *)p + orig, usable - orig);
}

size_t debug_block_check(const void *p, size_t usable, bool huge, const char *caller)
{
	struct kmem_cache bc;
	sm_mutex_lock(&dbg_lock);
	struct dbg_obj *r = dbg_block_record(p, false);
	size_t orig = r && r->o_state == DBG_ALLOCATED ? r->o_orig : usable;
	if (r && r->o_state == DBG_FREE) {
		dbg_block_cache(&bc, huge, usable, usable);
		dbg_bug_object(&bc, p, r, "Object already free (double free)", caller);
	}
	sm_mutex_unlock(&dbg_lock);
	return orig;
}

/* Take the oldest block out of the quarantine, its poison checked, and
 * give it back to the buddy allocator. dbg_lock held on entry and exit. */
static void dbg_quar_evict_locked(void)
{
	struct kmem_cache bc;
	unsigned int i = dbg_quar_head;
	void *b = dbg_quar[i].q_blk;
	size_t bytes = dbg_quar[i].q_bytes;
	dbg_quar_head = (i + 1) % DBG_QUAR_BLOCKS;
	dbg_quar_n--;
	dbg_quar_bytes -= bytes;
	struct dbg_obj *r = dbg_block_record(b, false);
	VALGRIND_MAKE_MEM_DEFINED(b, bytes);
	if (r) {
		dbg_block_cache(&bc, false, bytes, bytes);
		dbg_check_free(&bc, b, r);
		dbg_drop_locked((uintptr_t)b);
	}
	sm_mutex_unlock(&dbg_lock);
	sm_virt_to_page(b)->flags &= ~PG_large;
	buddy_free_exact(b, bytes, "kfree");
	sm_mutex_lock(&dbg_lock);
}

bool debug_block_free(void *p, size_t usable, bool huge, unsigned long flags,
                      const char *caller, const void *ra)
{
	struct kmem_cache bc;
	uint8_t *o = p;
	sm_mutex_lock(&dbg_lock);
	struct dbg_obj *r = dbg_block_record(p, false);
	if (r && r->o_state == DBG_FREE) {
		dbg_block_cache(&bc, huge, usable, usable);
		dbg_bug_object(&bc, p, r, "Object already free (double free)", caller);
	}
	VALGRIND_MAKE_MEM_DEFINED(p, usable);
	if (r && r->o_state == DBG_ALLOCATED) {
		dbg_block_cache(&bc, huge, r->o_orig, usable);
		dbg_check_zone(&bc, o, r);
	}
	VALGRIND_FREELIKE_BLOCK(p, 0);
	bool keep = !huge && (flags & SLAB_POISON) && usable <= DBG_QUAR_BYTES / 4 && r;
	if (!keep) {
		if (r)
			dbg_drop_locked((uintptr_t)p);
		sm_mutex_unlock(&dbg_lock);
		return false;
	}
	r->o_state = DBG_FREE;
	r->o_orig = (uint32_t)usable;
	r->o_flags = DBG_F_POISON;
	dbg_track_set(&r->o_free, ra);
	memset(o, DBG_POISON_FREE, usable - 1);
	o[usable - 1] = DBG_POISON_END;
	VALGRIND_MAKE_MEM_NOACCESS(p, usable);
	while (dbg_quar_n == DBG_QUAR_BLOCKS || dbg_quar_bytes + usable > DBG_QUAR_BYTES)
		dbg_quar_evict_locked();
	unsigned int t = (dbg_quar_head + dbg_quar_n) % DBG_QUAR_BLOCKS;
	dbg_quar[t].q_blk = p;
	dbg_quar[t].q_bytes = usable;
	dbg_quar_n++;
	dbg_quar_bytes += usable;
	sm_mutex_unlock(&dbg_lock);
	return true;
}

/* Empty the quarantine (when large-block debugging ends). */
static void dbg_quar_flush(void)
{
	sm_mutex_lock(&dbg_lock);
	while (dbg_quar_n)
		dbg_quar_evict_locked();
	sm_mutex_unlock(&dbg_lock);
}

unsigned long debug_block_flags(bool huge)
{
	unsigned long f = slab_debug_selected(huge ? "kmalloc-huge" : "kmalloc-large", 0);
	if (!huge && !(f & SLAB_POISON))
		dbg_quar_flush();
	if (!f) {
		/* Blocks freed from now on are not looked at: drop the
		 * records of this kind. */
		sm_mutex_lock(&dbg_lock);
		for (size_t i = 0; dbg_table && i < DBG_TABLE_SIZE;) {
			struct dbg_slab *e = &dbg_table[i];
			if (e->ds_start && !e->ds_cache && e->ds_obj->o_pad == huge)
				dbg_drop_locked(e->ds_start);
			else
				i++;
		}
		sm_mutex_unlock(&dbg_lock);
	}
	return f;
}

/* ---- configuration ---- */

/* Debugging of @c ends: its records are dropped (the objects it handed out
 * are freed through the fast paths from now on). sm_cache_list_lock held. */
static void dbg_forget(struct kmem_cache *c)
{
	sm_mutex_lock(&dbg_lock);
	if (dbg_table) {
		for (size_t i = 0; i < DBG_TABLE_SIZE;) {
			if (dbg_table[i].ds_start && dbg_table[i].ds_cache == c && c)
				dbg_drop_locked(dbg_table[i].ds_start);   /* may refill slot i */
			else
				i++;
		}
	}
	sm_mutex_unlock(&dbg_lock);
}

int slab_debug_active;

void slab_debug_configure(unsigned long flags, const char *names, size_t len)
{
	SM_WRITE_ONCE(slab_debug_active, flags != 0);
	slab_debug_select(flags, names, len);
	slab_debug_apply(dbg_forget);
}

size_t slab_debug_size_of(const void *p)
{
	size_t asked = 0;
	struct page *pg = sm_virt_to_page(p);
	struct kmem_cache *c = pg ? pg->slab_cache : NULL;
	sm_mutex_lock(&dbg_lock);
	if (c && SM_READ_ONCE(c->debug) && slab_is_obj_start(c, pg, p)) {
		uintptr_t start = SM_ALIGN_DOWN(pg->slab_base, slab_size_bytes(c));
		struct dbg_slab *e = dbg_find(start);
		if (e && e->ds_cache == c) {
			struct dbg_obj *r = &e->ds_obj[slab_obj_index(c, pg, p)];
			if (r->o_state == DBG_ALLOCATED)
				asked = r->o_orig;
		}
	} else if (!c) {
		struct dbg_obj *r = dbg_block_record(p, false);
		if (r && r->o_state == DBG_ALLOCATED)
			asked = r->o_orig;
	}
	sm_mutex_unlock(&dbg_lock);
	return asked;
}

/* ---- on demand: every record checked ---- */

int slab_debug_check_all(void)
{
	int n = 0;
	sm_mutex_lock(&dbg_lock);
	for (size_t i = 0; dbg_table && i < DBG_TABLE_SIZE; i++) {
		struct dbg_slab *e = &dbg_table[i];
		if (!e->ds_start)
			continue;
		struct kmem_cache *c = e->ds_cache;
		if (!c) {
			struct dbg_obj *r = e->ds_obj;
			struct kmem_cache bc;
			uint8_t *o = (uint8_t *)e->ds_start;
			size_t usable = r->o_pad ? vmap_size(o)
			                         : sm_virt_to_page(o)->exact.npages << SM_PAGE_SHIFT;
			if (r->o_state == DBG_ALLOCATED) {
				dbg_block_cache(&bc, r->o_pad, r->o_orig, usable);
				dbg_check_zone(&bc, o, r);
			} else if (r->o_state == DBG_FREE) {
				dbg_block_cache(&bc, false, r->o_orig, r->o_orig);
				dbg_check_free(&bc, o, r);
			}
			n++;
			continue;
		}
		struct page *pg = sm_virt_to_page((void *)e->ds_start);
		uintptr_t obj0 = pg->slab_base;
		for (uint32_t k = 0; k < c->objects; k++) {
			struct dbg_obj *r = &e->ds_obj[k];
			const uint8_t *o = (const uint8_t *)(obj0 + (size_t)k * c->size);
			if (r->o_state == DBG_ALLOCATED) {
				dbg_check_zone(c, o, r);
				dbg_check_left(c, o, r);
			} else if (r->o_state == DBG_FREE) {
				dbg_check_free(c, o, r);
			}
			n++;
		}
	}
	sm_mutex_unlock(&dbg_lock);
	return n;
}

/* ---- leak report ---- */

struct dbg_leak {
	const struct kmem_cache *l_cache;
	const void *l_site;
	unsigned long l_count;
	size_t l_bytes;
};

void slab_debug_leak_report(int fd)
{
	static struct dbg_leak groups[512];
	size_t ng = 0;
	unsigned long total = 0, lost = 0;
	size_t total_bytes = 0;
	sm_mutex_lock(&dbg_lock);
	for (size_t i = 0; dbg_table && i < DBG_TABLE_SIZE; i++) {
		struct dbg_slab *e = &dbg_table[i];
		if (!e->ds_start)
			continue;
		static struct kmem_cache large = { .name = "kmalloc-large", .objects = 1 };
		static struct kmem_cache huge = { .name = "kmalloc-huge", .objects = 1 };
		const struct kmem_cache *ec = e->ds_cache ? e->ds_cache :
		                              e->ds_obj->o_pad ? &huge : &large;
		for (uint32_t k = 0; k < ec->objects; k++) {
			struct dbg_obj *r = &e->ds_obj[k];
			if (r->o_state != DBG_ALLOCATED || !(r->o_flags & DBG_F_TRACKED))
				continue;
			total++;
			total_bytes += r->o_orig;
			size_t g;
			for (g = 0; g < ng; g++)
				if (groups[g].l_cache == ec && groups[g].l_site == r->o_alloc.t_addr)
					break;
			if (g == ng) {
				if (ng == SM_ARRAY_SIZE(groups)) {
					lost++;
					continue;
				}
				groups[ng].l_cache = ec;
				groups[ng].l_site = r->o_alloc.t_addr;
				groups[ng].l_count = 0;
				groups[ng].l_bytes = 0;
				ng++;
			}
			groups[g].l_count++;
			groups[g].l_bytes += r->o_orig;
		}
	}
	sm_mutex_unlock(&dbg_lock);
	/* Largest first (insertion sort: few groups). */
	for (size_t i = 1; i < ng; i++) {
		struct dbg_leak t = groups[i];
		size_t j = i;
		while (j > 0 && groups[j - 1].l_bytes < t.l_bytes) {
			groups[j] = groups[j - 1];
			j--;
		}
		groups[j] = t;
	}
	sm_dprintf(fd, "slabmalloc: leak report: %lu objects, %zu bytes still allocated "
	           "(pid %d)\n", total, total_bytes, os_getpid());
	for (size_t g = 0; g < ng; g++) {
		Dl_info di;
		const void *a = groups[g].l_site;
		if (a && dladdr(a, &di) && di.dli_fname && di.dli_sname)
			sm_dprintf(fd, "  %8zu bytes in %6lu objects of %-20s allocated in %s+0x%lx (%s)\n",
			           groups[g].l_bytes, groups[g].l_count, groups[g].l_cache->name,
			           di.dli_sname, (unsigned long)((uintptr_t)a - (uintptr_t)di.dli_saddr),
			           di.dli_fname);
		else if (a && dladdr(a, &di) && di.dli_fname)
			sm_dprintf(fd, "  %8zu bytes in %6lu objects of %-20s allocated in %s+0x%lx\n",
			           groups[g].l_bytes, groups[g].l_count, groups[g].l_cache->name,
			           di.dli_fname, (unsigned long)((uintptr_t)a - (uintptr_t)di.dli_fbase));
		else
			sm_dprintf(fd, "  %8zu bytes in %6lu objects of %-20s allocated in %p\n",
			           groups[g].l_bytes, groups[g].l_count, groups[g].l_cache->name, a);
	}
	if (lost)
		sm_dprintf(fd, "  (%lu objects at further sites not grouped)\n", lost);
}

/* The report for `leak=` (or L in `debug=`), at exit: a destructor here,
 * in a file every program linked with the allocator pulls in, so that a
 * static link has it too. */
__attribute__((destructor))
static void dbg_leak_at_exit(void)
{
	if (!sm_leak_target[0] || !sm_initialized)
		return;
	if (strcmp(sm_leak_target, "stderr") == 0) {
		slab_debug_leak_report(2);
		return;
	}
	FILE *f = fopen(sm_leak_target, "a");
	if (!f) {
		sm_warn("leak: cannot open '%s'", sm_leak_target);
		return;
	}
	fflush(f);
	slab_debug_leak_report(fileno(f));
	fclose(f);
}

/* ---- fork ---- */

void slab_debug_prefork(void)
{
	sm_mutex_lock(&dbg_lock);
}

void slab_debug_postfork_parent(void)
{
	sm_mutex_unlock(&dbg_lock);
}

void slab_debug_postfork_child(void)
{
	pthread_mutex_init(&dbg_lock, NULL);
}
