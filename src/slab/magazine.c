/* SPDX-License-Identifier: MIT */
/*
 * magazine.c — per-thread magazines and the per-cache depot
 * (Bonwick & Adams, "Magazines and Vmem", USENIX 2001).
 *
 * 1. Overview. A magazine is a stack of M free objects ("rounds"). Each
 *    thread has, per cache, a loaded and a previous magazine (struct
 *    cpu_cache in the TLS block sm_tc; a thread is our CPU).
 *    kmem_cache_alloc pops a round from the loaded magazine, free pushes one;
 *    those fast paths are inline (slab_internal.h) and take no lock and no
 *    atomic read-modify-write. Each cache has a depot of full and empty
 *    magazines; the slow paths below trade magazines with it and, when it has
 *    none, refill from or flush to the slab layer in bulk.
 *
 * 2. Slow paths.
 *    alloc, loaded empty:  previous has rounds -> swap them. Else, under the
 *                          depot lock: a full magazine there -> the empty
 *                          previous goes to the depot's empty list, previous
 *                          = loaded, loaded = the full one. Else refill the
 *                          loaded magazine with half its limit (section 3)
 *                          from the slabs (one slab_alloc_bulk, one slab
 *                          lock).
 *    free, loaded full:    previous empty -> swap. Else, under the depot
 *                          lock: the full previous goes to the depot's full
 *                          list, previous = loaded, loaded = an empty
 *                          magazine from the depot or a new one. With no
 *                          magazine to be had, the object goes straight back
 *                          to its slab.
 *    Magazines come from internal slab caches (kmem_magazine_N, one per
 *    capacity, SLAB_NOMAG: no magazines of their own), never from malloc.
 *
 * 3. Capacity and the per-thread budget. Capacities are 6, 14, 30, 62,
 *    126, 254 rounds (a 16-byte header plus 8 bytes a round: 64 .. 2048
 *    bytes). A cache starts at a size-dependent capacity (126 for objects up
 *    to 256 bytes, so that a thread's two magazines absorb a burst of 64
 *    allocations and frees without the depot; 62 up to 4 KiB, which does the
 *    same with at most 248 KiB of objects a magazine; else 6). The depot lock
 *    is taken with trylock first; a failure counts as contention, and
 *    DEPOT_CONTENTION_LIMIT contended acquisitions within one interval grow
 *    d_magsize to the next capacity, up to slab_mag_max (default 254,
 *    rounded down to a capacity).
 *
 *    What a thread may hold is bounded in bytes, by a budget shared by all
 *    threads (as tcmalloc's thread caches share one): each registered
 *    thread's share is slab_mag_budget (option mag_budget_mb, 32 MiB, as
 *    tcmalloc's overall thread-cache size) divided
 *    by the number of registered threads, between MAG_SHARE_MIN (32 KiB)
 *    and MAG_SHARE_MAX (4 MiB). A slot that has been through a budgeted slow
 *    path is active; its limit cc_lim is the number of rounds each of its two
 *    magazines may hold, and it is charged 2 * cc_lim * object size. The
 *    limit is set (cc_budget) whenever both magazines are found empty (alloc)
 *    or full (free), i.e. on every visit to the depot and only there:
 *    d_magsize if the share leaves room for it beside the other slots'
 *    charges; else (under pressure) the fair part of the share (the share
 *    over the thread's active slots), no more than that room. The charges
 *    of a thread's slots therefore never exceed its share; a slot whose
 *    limit went down gives the rounds above it back to the slabs (cc_fit),
 *    a magazine from the depot that holds more is cut down the same way,
 *    and a limit of 0 (objects above the fair part, or no room) leaves the
 *    slot without magazines: its allocations and frees go to the slabs
 *    directly until the budget has room again. Non-blocking allocations
 *    keep the limit they find (a lower one would take slab locks). The fast paths are
 *    unchanged: the limit only sets where cc_hi points when a magazine is
 *    loaded (cc_load), and refills take half the limit. With a few threads
 *    (up to 8) the share is 4 MiB and most slots keep their full capacity
 *    (with 16 MiB, eight threads trading 8 B - 1 KiB objects ran at half
 *    speed: bench handoff/ and server/); with a thousand threads alive it
 *    is 32 KiB, so their magazines hold at most 32 MiB together instead of
 *    several MiB each. A limit follows the thread
 *    count at the slot's next depot visit, so after threads were added the
 *    older ones give back their surplus as they run; the caches of exited
 *    threads go back at their exit (section 5).
 *
 *    Magazines of different capacities coexist: each records its own
 *    mag_size; a slot takes the smallest capacity that holds its limit (at
 *    most d_magsize), and an empty magazine smaller than that is freed
 *    instead of reused.
 *
 * 4. Working-set reaping. Each depot tracks d_fmin/d_emin, the fewest full
 *    and empty magazines it held during the current interval
 *    (depot_reap_interval_ns, default 10 s). Those were not needed: when an
 *    interval ends, that many full magazines (the least recently used, at the
 *    tail) give their rounds back to the slabs and that many empty magazines
 *    are freed; then surplus empty slabs go back to the page layer. The check
 *    is a clock read in the depot slow paths (no cost on the fast paths);
 *    SLAB_NO_REAP caches skip it. depot_reap(c, true) (kmem_cache_shrink,
 *    the reclaim hook) empties a depot at once. The background purge thread
 *    (base/bgthread.c) runs mag_reap_tick, which ends the interval of every
 *    depot that holds magazines when it is due, so caches that went quiet
 *    are reaped too; a depot that receives its first full magazine wakes
 *    it.
 *
 * 5. Threads. The first slow path of a thread arms its exit hook
 *    (sm_thread_attach) and registers its thread_cache on sm_thread_list.
 *    At exit (mag_thread_exit) its magazines go back to the slabs (rounds
 *    to their slabs, the magazines freed, surplus empty slabs to the page
 *    layer: the caches of exited threads do not stay resident), its slots
 *    are zeroed and it leaves the list. Afterwards (SM_THREAD_EXITING) the slow paths bypass
 *    magazines: objects come from and go to the slabs directly.
 *    Slots for cache ids >= SM_TC_INLINE are in tc_ext, an os_map()ed array
 *    grown on demand under the thread-list lock (other threads read it under
 *    that lock: mag_count_cached, mag_flush_all).
 *
 * 6. Destroy. kmem_cache_destroy counts (mag_count_cached) the rounds every
 *    registered thread and the depot hold for the cache, with relaxed loads
 *    of the other threads' slots under the thread-list lock, and flushes
 *    them (mag_flush_all) only if no object is allocated. Flushing another
 *    thread's slots is safe because a correct program does not use a cache
 *    while destroying it: any thread still using it would hold an object.
 *
 * 7. Locks: sm_cache_list_lock (2) while iterating caches (thread exit,
 *    reclaim, reaper), sm_thread_list_lock (3), d_lock (4), then the slab
 *    layer's slab locks (5). No path holds two depot locks. Objects and
 *    magazines are given back to the slabs after the depot lock is dropped.
 *    Non-blocking callers only try-lock and fall back to the slabs (which
 *    try-lock too) or fail.
 *
 * 8. Fork: mag_prefork takes the thread-list lock and every depot lock (in
 *    cache-list order, after the cache-list lock); the parent unlocks. In the
 *    child only the forking thread exists: the other threads' thread caches
 *    are dropped from the list (their rounds are leaked in the child, like
 *    their stacks) and the locks are re-initialised (the background thread
 *    is the base floor's business).
 *
 * 9. Double free. Rounds are pointers only: nothing is written into the
 *    objects, and nothing in them is trusted. A free is pushed without a
 *    check of its own here (kmalloc's free refuses the round already on top
 *    of the loaded magazine, its thread's immediate repeat); an object freed
 *    twice is otherwise held twice, and it is proven when its rounds go back
 *    to the slabs: slab_free_bulk finds its bit in the slab's free bitmap
 *    set already and stops the program. Every way out of a magazine other
 *    than an allocation leads there (mag_chain_free from flushes, reaping
 *    and destroy; the bypass of an exiting thread or of a failed magazine
 *    allocation); the magazines of an exited thread wait in the depot until
 *    it is reaped.
 *
 * Floor 7 (src/layers.txt): calls debug.c, slab.c, the page floors and the base
 * floor. It also holds the cache life cycle that needs both magazines and
 * slabs (cache_destroy, cache_shrink, cache_print_slabinfo), as libumem's
 * umem_cache_* functions do above its slab and depot layers.
 */
#include "slab_internal.h"

#include <errno.h>
#include <string.h>

pthread_mutex_t sm_thread_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct thread_cache *sm_thread_list;

unsigned int slab_mag_max = 254;
uint64_t depot_reap_interval_ns = 10ull * 1000000000ull;

/* The per-thread budget (section 3): bytes of all threads together, and
 * the bounds of one thread's share. */
#define MAG_BUDGET_DEFAULT ((size_t)32 << 20)
#define MAG_SHARE_MIN      ((size_t)32 << 10)
#define MAG_SHARE_MAX      ((size_t)4 << 20)
size_t slab_mag_budget = MAG_BUDGET_DEFAULT;

/* Contended depot acquisitions per interval that grow the magazine size. */
#define DEPOT_CONTENTION_LIMIT 16

/* An all-zero slot for threads without one: both fast paths see no room and
 * no rounds and take the slow path, which never writes here. */
static struct cpu_cache mag_cc_none;

static const uint32_t mag_sizes[] = { 6, 14, 30, 62, 126, 254 };
#define MAG_NR_SIZES SM_ARRAY_SIZE(mag_sizes)
static struct kmem_cache *mag_caches[MAG_NR_SIZES];

_Static_assert(sizeof(struct magazine) == 16, "magazine header is 16 bytes");

/* ---- magazines ---- */

static unsigned int mag_size_index(uint32_t size)
{
	for (unsigned int i = 0; i < MAG_NR_SIZES; i++)
		if (mag_sizes[i] == size)
			return i;
	sm_fatal("slabmalloc: magazine of bad capacity %u", size);
}

/* Largest capacity not above @limit (at least the smallest). */
static uint32_t mag_size_floor(uint32_t limit)
{
	uint32_t s = mag_sizes[0];
	for (unsigned int i = 0; i < MAG_NR_SIZES; i++)
		if (mag_sizes[i] <= limit)
			s = mag_sizes[i];
	return s;
}

/* Smallest capacity of at least @rounds rounds, at most @max (a capacity). */
static uint32_t mag_size_ceil(uint32_t rounds, uint32_t max)
{
	for (unsigned int i = 0; i < MAG_NR_SIZES; i++)
		if (mag_sizes[i] >= rounds || mag_sizes[i] >= max)
			return mag_sizes[i] < max ? mag_sizes[i] : max;
	return max;
}

static struct magazine *mag_new(uint32_t size, gfp_t gfp)
{
	struct magazine *m = slab_alloc_one(mag_caches[mag_size_index(size)], gfp);
	if (m) {
		m->mag_next = NULL;
		m->mag_size = size;
		m->mag_rounds = 0;
	}
	return m;
}

static void mag_delete(struct magazine *m)
{
	slab_free_bulk(mag_caches[mag_size_index(m->mag_size)], (void **)&m, 1);
}

/* Give the rounds of a chain of magazines back to the slabs of @c and free
 * the magazines. RETURNS: the rounds given back. */
static unsigned long mag_chain_free(struct kmem_cache *c, struct magazine *m)
{
	unsigned long rounds = 0;
	while (m) {
		struct magazine *next = m->mag_next;
		if (m->mag_rounds) {
			slab_free_bulk(c, m->mag_round, m->mag_rounds);
			rounds += m->mag_rounds;
		}
		mag_delete(m);
		m = next;
	}
	return rounds;
}

/* ---- the depot (d_lock held unless said otherwise) ---- */

uint32_t mag_size_limit(const struct kmem_cache *c)
{
	uint32_t max = SM_READ_ONCE(slab_mag_max);
	return mag_size_floor(max < c->depot.d_magsize_max ? max : c->depot.d_magsize_max);
}

static void depot_grow(struct kmem_cache *c)
{
	struct depot *d = &c->depot;
	uint32_t limit = mag_size_limit(c);
	for (unsigned int i = 0; i < MAG_NR_SIZES; i++) {
		if (mag_sizes[i] > d->d_magsize) {
			if (mag_sizes[i] <= limit) {
				d->d_magsize = mag_sizes[i];
				d->d_grown++;
			}
			return;
		}
	}
}

/* Lock the depot; count contention and adapt the magazine size. False only
 * for a non-blocking caller that found the lock busy. */
static bool depot_lock(struct kmem_cache *c, gfp_t gfp)
{
	struct depot *d = &c->depot;
	if (likely(sm_mutex_trylock(&d->d_lock) == 0))
		return true;
	if (!(gfp & __GFP_WAIT))
		return false;
	sm_mutex_lock(&d->d_lock);
	if (++d->d_contended >= DEPOT_CONTENTION_LIMIT) {
		d->d_contended = 0;
		depot_grow(c);
	}
	return true;
}

static void depot_unlock(struct kmem_cache *c)
{
	sm_mutex_unlock(&c->depot.d_lock);
}

static void depot_push_full(struct depot *d, struct magazine *m, uint32_t rounds)
{
	m->mag_rounds = rounds;
	m->mag_next = d->d_full;
	d->d_full = m;
	d->d_nfull++;
	d->d_rounds += rounds;
}

static void depot_push_empty(struct depot *d, struct magazine *m)
{
	m->mag_rounds = 0;
	m->mag_next = d->d_empty;
	d->d_empty = m;
	d->d_nempty++;
}

static struct magazine *depot_pop_full(struct depot *d)
{
	struct magazine *m = d->d_full;
	if (m) {
		d->d_full = m->mag_next;
		d->d_nfull--;
		d->d_rounds -= m->mag_rounds;
		if (d->d_nfull < d->d_fmin)
			d->d_fmin = d->d_nfull;
		m->mag_next = NULL;
	}
	return m;
}

static struct magazine *depot_pop_empty(struct depot *d)
{
	struct magazine *m = d->d_empty;
	if (m) {
		d->d_empty = m->mag_next;
		d->d_nempty--;
		if (d->d_nempty < d->d_emin)
			d->d_emin = d->d_nempty;
		m->mag_next = NULL;
	}
	return m;
}

/* Detach the last @n magazines of a list (the least recently pushed). */
static struct magazine *depot_cut_tail(struct magazine **head, uint32_t len, uint32_t n)
{
	if (n == 0)
		return NULL;
	if (n >= len) {
		struct magazine *all = *head;
		*head = NULL;
		return all;
	}
	struct magazine *m = *head;
	for (uint32_t i = 1; i < len - n; i++)
		m = m->mag_next;
	struct magazine *tail = m->mag_next;
	m->mag_next = NULL;
	return tail;
}

/* What an interval's end or a full reap takes out of a depot. */
struct depot_reaped {
	struct magazine *full, *empty;
};

/* End the working-set interval: detach the magazines not needed during it
 * (unless the cache opted out) and start a new interval at @now. */
static void depot_interval_end(struct kmem_cache *c, uint64_t now, bool reap,
                               struct depot_reaped *r)
{
	struct depot *d = &c->depot;
	if (reap) {
		uint32_t nf = d->d_fmin < d->d_nfull ? d->d_fmin : d->d_nfull;
		uint32_t ne = d->d_emin < d->d_nempty ? d->d_emin : d->d_nempty;
		struct magazine *f = depot_cut_tail(&d->d_full, d->d_nfull, nf);
		for (struct magazine *m = f; m; m = m->mag_next)
			d->d_rounds -= m->mag_rounds;
		d->d_nfull -= nf;
		r->full = f;
		r->empty = depot_cut_tail(&d->d_empty, d->d_nempty, ne);
		d->d_nempty -= ne;
		d->d_reaped += nf + ne;
	}
	d->d_fmin = d->d_nfull;
	d->d_emin = d->d_nempty;
	d->d_contended = 0;
	d->d_reap_ns = now;
}

/* The time check of the slow paths: end the interval if it is over. */
static inline void depot_tick(struct kmem_cache *c, struct depot_reaped *r)
{
	uint64_t now = os_now_ns();
	if (unlikely(now - c->depot.d_reap_ns >= SM_READ_ONCE(depot_reap_interval_ns)))
		depot_interval_end(c, now, !(c->flags & SLAB_NO_REAP), r);
}

/* After the depot lock is dropped: free what was reaped. */
static SM_NOINLINE size_t depot_reaped_free_slow(struct kmem_cache *c, struct depot_reaped *r,
                                                 unsigned long keep)
{
	mag_chain_free(c, r->full);
	mag_chain_free(c, r->empty);
	r->full = r->empty = NULL;
	return slab_trim(c, keep);
}

static inline size_t depot_reaped_free(struct kmem_cache *c, struct depot_reaped *r,
                                       unsigned long keep)
{
	if (likely(!r->full && !r->empty))
		return 0;
	return depot_reaped_free_slow(c, r, keep);
}

size_t depot_reap(struct kmem_cache *c, bool all)
{
	struct depot_reaped r = { NULL, NULL };
	struct depot *d = &c->depot;
	if (c->flags & SLAB_NOMAG)
		return slab_trim(c, all ? 0 : 1);
	sm_mutex_lock(&d->d_lock);
	if (all) {
		r.full = d->d_full;
		r.empty = d->d_empty;
		d->d_reaped += d->d_nfull + d->d_nempty;
		d->d_full = d->d_empty = NULL;
		d->d_nfull = d->d_nempty = 0;
		d->d_rounds = 0;
		d->d_fmin = d->d_emin = 0;
	} else {
		depot_interval_end(c, os_now_ns(), true, &r);
	}
	sm_mutex_unlock(&d->d_lock);
	mag_chain_free(c, r.full);
	mag_chain_free(c, r.empty);
	return slab_trim(c, all ? 0 : 1);
}

/* ---- thread registration and slots ---- */

static unsigned int mag_nthreads;        /* threads on sm_thread_list */

/* Threads that hold per-thread caches now (a snapshot, for budgets that
 * scale with the thread count). */
unsigned int mag_nr_threads(void)
{
	return SM_READ_ONCE(mag_nthreads);
}

static void mag_thread_link_locked(struct thread_cache *tc)
{
	SM_WRITE_ONCE(mag_nthreads, mag_nthreads + 1);
	tc->tc_prev = NULL;
	tc->tc_next = sm_thread_list;
	if (sm_thread_list)
		sm_thread_list->tc_prev = tc;
	sm_thread_list = tc;
	tc->tc_registered = 1;
}

static void mag_thread_unlink_locked(struct thread_cache *tc)
{
	SM_WRITE_ONCE(mag_nthreads, mag_nthreads - 1);
	if (tc->tc_prev)
		tc->tc_prev->tc_next = tc->tc_next;
	else
		sm_thread_list = tc->tc_next;
	if (tc->tc_next)
		tc->tc_next->tc_prev = tc->tc_prev;
	tc->tc_next = tc->tc_prev = NULL;
	tc->tc_registered = 0;
}

static bool mag_thread_register(gfp_t gfp)
{
	if (gfp & __GFP_WAIT)
		sm_mutex_lock(&sm_thread_list_lock);
	else if (sm_mutex_trylock(&sm_thread_list_lock) != 0)
		return false;
	if (!sm_tc.tc_registered)
		mag_thread_link_locked(&sm_tc);
	sm_mutex_unlock(&sm_thread_list_lock);
	return true;
}

struct cpu_cache *mag_cc_ext(uint32_t id)
{
	uint32_t i = id - SM_TC_INLINE;
	if (likely(i < sm_tc.tc_ext_n))
		return &sm_tc.tc_ext[i];
	return &mag_cc_none;
}

/* Slot @id of thread @tc, or NULL if it has none (thread-list lock held or
 * @tc is the caller's). */
static struct cpu_cache *mag_tc_slot(struct thread_cache *tc, uint32_t id)
{
	if (id < SM_TC_INLINE)
		return &tc->tc_cc[id];
	uint32_t i = id - SM_TC_INLINE;
	return i < SM_READ_ONCE(tc->tc_ext_n) ? &SM_READ_ONCE(tc->tc_ext)[i] : NULL;
}

/* The calling (registered) thread's slot for @c, growing tc_ext if needed.
 * NULL when it cannot be had (no memory, or a non-blocking caller). */
static struct cpu_cache *mag_cc_slot(struct kmem_cache *c, gfp_t gfp)
{
	uint32_t id = c->id;
	if (likely(id < SM_TC_INLINE)) {
		/* Before any magazine is loaded: the constants free() reads. */
		struct cpu_cache *cc = &sm_tc.tc_cc[id];
		cc->cc_div_inv = c->div_inv;
		cc->cc_div_limit = c->div_limit;
		cc->cc_div_shift = c->div_shift;
		return cc;
	}
	uint32_t i = id - SM_TC_INLINE;
	if (likely(i < sm_tc.tc_ext_n))
		return &sm_tc.tc_ext[i];
	if (!(gfp & __GFP_WAIT) || id >= SM_CACHE_ID_MAX)
		return NULL;
	size_t n = sm_tc.tc_ext_n ? sm_tc.tc_ext_n : SM_PAGE_SIZE / sizeof(struct cpu_cache);
	while (n <= i)
		n *= 2;
	struct cpu_cache *ext = os_map(n * sizeof(struct cpu_cache));
	if (!ext)
		return NULL;
	sm_mutex_lock(&sm_thread_list_lock);
	struct cpu_cache *old = sm_tc.tc_ext;
	size_t oldn = sm_tc.tc_ext_n;
	if (old)
		memcpy(ext, old, oldn * sizeof(struct cpu_cache));
	SM_WRITE_ONCE(sm_tc.tc_ext, ext);
	SM_WRITE_ONCE(sm_tc.tc_ext_n, (uint32_t)n);
	sm_mutex_unlock(&sm_thread_list_lock);
	if (old)
		os_unmap(old, oldn * sizeof(struct cpu_cache));
	return &sm_tc.tc_ext[i];
}

/* ---- the per-thread budget (section 3) ---- */

size_t mag_thread_share(void)
{
	unsigned int n = mag_nr_threads();
	size_t share = SM_READ_ONCE(slab_mag_budget) / (n ? n : 1);
	if (share > MAG_SHARE_MAX)
		share = MAG_SHARE_MAX;
	if (share < MAG_SHARE_MIN)
		share = MAG_SHARE_MIN;
	return share;
}

/*
 * Set the round limit of the calling thread's slot @cc for @c: @magsize
 * (the depot's capacity) if the share leaves room for it beside the other
 * slots' charges; else the fair part of the share (the share over the
 * thread's active slots), no more than that room. The slot's charge
 * follows, so the charges of all slots never exceed the share.
 * RETURNS: the limit; 0: the slot holds no magazine (objects go to and
 * from the slabs directly).
 */
static uint32_t cc_budget(struct kmem_cache *c, struct cpu_cache *cc, uint32_t magsize)
{
	struct thread_cache *tc = &sm_tc;
	if (!cc->cc_active) {
		cc->cc_active = 1;
		tc->tc_nactive++;
	}
	size_t share = mag_thread_share();
	size_t others = tc->tc_charge - cc->cc_charge;
	size_t allow = share > others ? share - others : 0;
	size_t lim = magsize;
	if (2 * (size_t)magsize * c->size > allow) {
		/* Under pressure: no more than the fair part. */
		size_t fair = share / tc->tc_nactive;
		if (allow > fair)
			allow = fair;
		lim = allow / (2 * (size_t)c->size);
	}
	uint32_t charge = (uint32_t)(2 * lim * c->size);
	tc->tc_charge = others + charge;
	cc->cc_charge = charge;
	cc->cc_lim = (uint32_t)lim;
	return (uint32_t)lim;
}

/* Give back to the slabs of @c the rounds of slot @cc above @lim (> 0), in
 * the loaded and the previous magazine, after a limit went down. */
static void cc_fit(struct kmem_cache *c, struct cpu_cache *cc, uint32_t lim)
{
	struct magazine *l = cc_loaded(cc);
	struct magazine *p = cc->cc_ploaded;
	if (l) {
		uint32_t r = cc_rounds(cc);
		if (r > lim) {
			slab_free_bulk(c, l->mag_round + lim, r - lim);
			r = lim;
		}
		cc_load(cc, l, r);
	}
	if (p && p->mag_rounds > lim) {
		slab_free_bulk(c, p->mag_round + lim, p->mag_rounds - lim);
		p->mag_rounds = lim;
	}
}

/* ---- the background thread's task ---- */

/*
 * End the interval of every depot whose interval is over, as the slow
 * paths do, so that caches that went quiet are reaped too (bgthread.c runs
 * it). RETURNS: when the next interval of a depot that holds magazines
 * ends, 0 if none holds any.
 */
static uint64_t mag_reap_tick(uint64_t now)
{
	uint64_t iv = SM_READ_ONCE(depot_reap_interval_ns), next = 0;
	sm_mutex_lock(&sm_cache_list_lock);
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next) {
		if (c->flags & (SLAB_NOMAG | SLAB_NO_REAP))
			continue;
		struct depot *d = &c->depot;
		if (!SM_READ_ONCE(d->d_nfull) && !SM_READ_ONCE(d->d_nempty))
			continue;
		struct depot_reaped r = { NULL, NULL };
		sm_mutex_lock(&d->d_lock);
		depot_tick(c, &r);
		bool held = d->d_nfull || d->d_nempty;
		uint64_t t = d->d_reap_ns + iv;
		sm_mutex_unlock(&d->d_lock);
		depot_reaped_free(c, &r, 1);
		if (held && (!next || t < next))
			next = t > now ? t : now + 1;
	}
	sm_mutex_unlock(&sm_cache_list_lock);
	return next;
}

/* ---- slow paths ---- */

static void mag_flush_slot(struct kmem_cache *c, struct cpu_cache *cc);

/* Make the calling thread able to hold magazines. False: bypass them. */
static inline bool mag_thread_ready(gfp_t gfp)
{
	if (likely(sm_thread_state == SM_THREAD_ATTACHED && sm_tc.tc_registered))
		return true;
	if (sm_thread_state == SM_THREAD_EXITING)
		return false;
	if (sm_thread_state == SM_THREAD_NEW)
		sm_thread_attach();
	if (sm_thread_state != SM_THREAD_ATTACHED)
		return false;
	return mag_thread_register(gfp);
}

/* An empty magazine of at least @need rounds: from the depot's empty list
 * (depot locked; it stays locked) or, failing that, NULL. A smaller empty
 * magazine found there is handed back in *@stale to be freed. */
static struct magazine *depot_take_empty(struct depot *d, struct magazine **stale,
                                         uint32_t need)
{
	struct magazine *m = depot_pop_empty(d);
	if (m && m->mag_size < need) {
		m->mag_next = *stale;
		*stale = m;
		m = NULL;
	}
	return m;
}

static void mag_stale_free(struct magazine *stale)
{
	while (stale) {
		struct magazine *next = stale->mag_next;
		mag_delete(stale);
		stale = next;
	}
}

void *mag_alloc_slow(struct kmem_cache *c, gfp_t gfp)
{
	if (unlikely(SM_READ_ONCE(c->debug))) {
		const void *ra = sm_debug_ra ? sm_debug_ra : __builtin_return_address(0);
		sm_debug_ra = NULL;
		return slab_debug_alloc(c, gfp, c->object_size, ra);
	}
	if (unlikely(c->flags & SLAB_NOMAG) || !mag_thread_ready(gfp))
		return slab_alloc_one(c, gfp);
	sm_bg_poll();
	sm_introspect_poll();
	struct cpu_cache *cc = mag_cc_slot(c, gfp);
	if (!cc)
		return slab_alloc_one(c, gfp);
	__atomic_fetch_add(&c->stat_alloc_slow, 1, __ATOMIC_RELAXED);

	if (unlikely(cc->cc_top != cc->cc_lo))  /* reached without the fast path */
		return *--cc->cc_top;
	/* The loaded magazine (if any) is empty from here on. */
	struct magazine *p = cc->cc_ploaded;
	if (p && p->mag_rounds > 0) {
		uint32_t r = p->mag_rounds;
		cc_rotate(cc, p, r - 1);
		return p->mag_round[r - 1];
	}

	struct depot *d = &c->depot;
	struct depot_reaped reaped = { NULL, NULL };
	struct magazine *stale = NULL;
	/* Both magazines are empty: the thread's budget sets this slot's
	 * limit. A non-blocking caller keeps the limit it finds (lowering one
	 * gives rounds back to the slabs, under their locks). */
	uint32_t lim;
	if (likely(gfp & __GFP_WAIT)) {
		lim = cc_budget(c, cc, SM_READ_ONCE(d->d_magsize));
		if (unlikely(!lim)) {
			mag_flush_slot(c, cc);
			return slab_alloc_one(c, gfp);
		}
		cc_fit(c, cc, lim);
	} else {
		lim = cc->cc_lim;
		if (!lim)
			return slab_alloc_one(c, gfp);
	}
	if (!depot_lock(c, gfp))
		return slab_alloc_one(c, gfp);
	depot_tick(c, &reaped);
	struct magazine *full = depot_pop_full(d);
	if (full) {
		if (cc->cc_ploaded)
			depot_push_empty(d, cc->cc_ploaded);
		depot_unlock(c);
		uint32_t r = full->mag_rounds;
		if (unlikely(r > lim) && (gfp & __GFP_WAIT)) {  /* filled under a
		                                                 * larger limit */
			slab_free_bulk(c, full->mag_round + lim, r - lim);
			r = lim;
		}
		cc_rotate(cc, full, r - 1);
		depot_reaped_free(c, &reaped, 1);
		return full->mag_round[r - 1];
	}

	/* No full magazine: refill the loaded one from the slabs. Replace it
	 * first if there is none or it is smaller than the limit needs. */
	struct magazine *m = cc_loaded(cc);
	uint32_t magsize = mag_size_ceil(lim, d->d_magsize);
	if (!m || m->mag_size < magsize) {
		struct magazine *e = depot_take_empty(d, &stale, magsize);
		if (m) {
			m->mag_next = stale;
			stale = m;
			cc_load(cc, NULL, 0);
		}
		m = e;
	}
	depot_unlock(c);
	depot_reaped_free(c, &reaped, 1);
	mag_stale_free(stale);
	if (!m) {
		m = mag_new(magsize, gfp);
		if (!m)
			return slab_alloc_one(c, gfp);
	}
	unsigned int want = ((m->mag_size < lim ? m->mag_size : lim) + 1) / 2;
	unsigned int n = slab_alloc_bulk(c, gfp, m->mag_round, want);
	__atomic_fetch_add(&c->stat_refill, 1, __ATOMIC_RELAXED);
	if (n == 0) {
		cc_load(cc, m, 0);
		return NULL;
	}
	cc_load(cc, m, n - 1);
	return m->mag_round[n - 1];
}

void mag_free_slow(struct kmem_cache *c, void *obj)
{
	if (unlikely(SM_READ_ONCE(c->debug))) {
		slab_debug_free(c, obj, "kmem_cache_free", __builtin_return_address(0));
		return;
	}
	if (unlikely(c->flags & SLAB_NOMAG) || !mag_thread_ready(GFP_KERNEL)) {
		slab_free_bulk(c, &obj, 1);
		return;
	}
	sm_bg_poll();
	sm_introspect_poll();
	struct cpu_cache *cc = mag_cc_slot(c, GFP_KERNEL);
	if (!cc) {
		slab_free_bulk(c, &obj, 1);
		return;
	}
	__atomic_fetch_add(&c->stat_free_slow, 1, __ATOMIC_RELAXED);

	if (unlikely(cc->cc_top != cc->cc_hi)) {  /* reached without the fast path */
		*cc->cc_top++ = obj;
		return;
	}
	/* The loaded magazine (if any) is full from here on. */
	struct magazine *p = cc->cc_ploaded;
	if (p && p->mag_rounds == 0) {
		p->mag_round[0] = obj;
		cc_rotate(cc, p, 1);
		return;
	}

	/* Both magazines are full: the thread's budget sets this slot's
	 * limit; a lower one leaves room in the loaded magazine. */
	struct depot *d = &c->depot;
	uint32_t lim = cc_budget(c, cc, SM_READ_ONCE(d->d_magsize));
	if (unlikely(!lim)) {
		mag_flush_slot(c, cc);
		slab_free_bulk(c, &obj, 1);
		return;
	}
	cc_fit(c, cc, lim);
	if (cc->cc_top != cc->cc_hi) {
		*cc->cc_top++ = obj;
		return;
	}
	struct depot_reaped reaped = { NULL, NULL };
	struct magazine *stale = NULL;
	depot_lock(c, GFP_KERNEL);
	depot_tick(c, &reaped);
	uint32_t magsize = mag_size_ceil(lim, d->d_magsize);
	struct magazine *e = depot_take_empty(d, &stale, magsize);
	if (!e) {
		depot_unlock(c);
		mag_stale_free(stale);
		stale = NULL;
		e = mag_new(magsize, GFP_KERNEL);
		if (!e) {
			depot_reaped_free(c, &reaped, 1);
			slab_free_bulk(c, &obj, 1);
			return;
		}
		depot_lock(c, GFP_KERNEL);
	}
	/* The previous magazine is full (else we swapped above): to the depot.
	 * A depot that held none starts to age: the background thread reaps
	 * it if the cache goes quiet. */
	bool first = cc->cc_ploaded && !d->d_nfull && !d->d_nempty;
	if (cc->cc_ploaded)
		depot_push_full(d, cc->cc_ploaded, cc->cc_ploaded->mag_rounds);
	depot_unlock(c);
	if (unlikely(first))
		sm_bg_wake(os_now_ns() + SM_READ_ONCE(depot_reap_interval_ns));
	__atomic_fetch_add(&c->stat_flush, 1, __ATOMIC_RELAXED);
	e->mag_round[0] = obj;
	cc_rotate(cc, e, 1);
	depot_reaped_free(c, &reaped, 1);
	mag_stale_free(stale);
}

/* ---- flushing ---- */

/* Take the magazines out of slot @cc onto a chain (rounds recorded). */
static void mag_slot_take(struct cpu_cache *cc, struct magazine **chain)
{
	void **lo = SM_READ_ONCE(cc->cc_lo);
	void **top = SM_READ_ONCE(cc->cc_top);
	struct magazine *p = SM_READ_ONCE(cc->cc_ploaded);
	if (lo) {
		struct magazine *l = (struct magazine *)((char *)lo -
		                                         offsetof(struct magazine, mag_round));
		l->mag_rounds = (uint32_t)(top - lo);
		l->mag_next = *chain;
		*chain = l;
	}
	if (p) {
		p->mag_next = *chain;
		*chain = p;
	}
	SM_WRITE_ONCE(cc->cc_top, NULL);
	SM_WRITE_ONCE(cc->cc_lo, NULL);
	SM_WRITE_ONCE(cc->cc_hi, NULL);
	SM_WRITE_ONCE(cc->cc_ploaded, NULL);
}

/* Give the magazines of the calling thread's slot @cc for @c back. */
static void mag_flush_slot(struct kmem_cache *c, struct cpu_cache *cc)
{
	struct magazine *chain = NULL;
	mag_slot_take(cc, &chain);
	mag_chain_free(c, chain);
}

void mag_flush_own(struct kmem_cache *c)
{
	if (c->flags & SLAB_NOMAG)
		return;
	struct cpu_cache *cc = mag_cc(c);
	if (cc == &mag_cc_none)
		return;
	mag_flush_slot(c, cc);
}

/* Rounds of @c in the registered threads' magazines; thread-list lock
 * held. */
static unsigned long mag_count_threads_locked(struct kmem_cache *c)
{
	unsigned long n = 0;
	for (struct thread_cache *tc = sm_thread_list; tc; tc = tc->tc_next) {
		struct cpu_cache *cc = mag_tc_slot(tc, c->id);
		if (!cc)
			continue;
		void **lo = SM_READ_ONCE(cc->cc_lo);
		struct magazine *p = SM_READ_ONCE(cc->cc_ploaded);
		if (lo)
			n += (unsigned long)(SM_READ_ONCE(cc->cc_top) - lo);
		if (p)
			n += SM_READ_ONCE(p->mag_rounds);
	}
	return n;
}

unsigned long mag_count_cached(struct kmem_cache *c)
{
	if (c->flags & SLAB_NOMAG)
		return 0;
	sm_mutex_lock(&sm_thread_list_lock);
	unsigned long n = mag_count_threads_locked(c);
	sm_mutex_lock(&c->depot.d_lock);
	n += (unsigned long)c->depot.d_rounds;
	sm_mutex_unlock(&c->depot.d_lock);
	sm_mutex_unlock(&sm_thread_list_lock);
	return n;
}

/**
 * mag_count_cached_try - mag_count_cached without waiting
 * @c: the cache
 * @n: the rounds, when it returns true
 *
 * For statistics published from a slow path, which may be reached with
 * any allocator lock held: it only try-locks, and reads the depot's count
 * without its lock (a snapshot).
 * RETURNS: false if the thread-list lock was busy (*@n untouched).
 */
bool mag_count_cached_try(struct kmem_cache *c, unsigned long *n)
{
	if (c->flags & SLAB_NOMAG) {
		*n = 0;
		return true;
	}
	if (sm_mutex_trylock(&sm_thread_list_lock) != 0)
		return false;
	*n = mag_count_threads_locked(c) +
	     (unsigned long)SM_READ_ONCE(c->depot.d_rounds);
	sm_mutex_unlock(&sm_thread_list_lock);
	return true;
}

size_t mag_thread_cached_bytes(void)
{
	size_t bytes = 0;
	sm_mutex_lock(&sm_cache_list_lock);
	sm_mutex_lock(&sm_thread_list_lock);
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next)
		if (!(c->flags & SLAB_NOMAG))
			bytes += mag_count_threads_locked(c) * (size_t)c->size;
	sm_mutex_unlock(&sm_thread_list_lock);
	sm_mutex_unlock(&sm_cache_list_lock);
	return bytes;
}

void mag_flush_all(struct kmem_cache *c)
{
	struct magazine *chain = NULL;
	if (c->flags & SLAB_NOMAG)
		return;
	sm_mutex_lock(&sm_thread_list_lock);
	for (struct thread_cache *tc = sm_thread_list; tc; tc = tc->tc_next) {
		struct cpu_cache *cc = mag_tc_slot(tc, c->id);
		if (cc)
			mag_slot_take(cc, &chain);
	}
	struct depot *d = &c->depot;
	sm_mutex_lock(&d->d_lock);
	struct magazine *f = d->d_full, *e = d->d_empty;
	d->d_full = d->d_empty = NULL;
	d->d_nfull = d->d_nempty = 0;
	d->d_rounds = 0;
	d->d_fmin = d->d_emin = 0;
	sm_mutex_unlock(&d->d_lock);
	sm_mutex_unlock(&sm_thread_list_lock);
	mag_chain_free(c, chain);
	mag_chain_free(c, f);
	mag_chain_free(c, e);
}

void mag_thread_exit(void)
{
	if (!sm_tc.tc_registered)
		return;
	sm_mutex_lock(&sm_cache_list_lock);
	sm_mutex_lock(&sm_thread_list_lock);
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next) {
		if (c->flags & SLAB_NOMAG)
			continue;
		struct cpu_cache *cc = mag_tc_slot(&sm_tc, c->id);
		if (!cc || (!cc->cc_lo && !cc->cc_ploaded))
			continue;
		struct magazine *chain = NULL;
		mag_slot_take(cc, &chain);
		mag_chain_free(c, chain);
		slab_trim(c, 1);
	}
	mag_thread_unlink_locked(&sm_tc);
	struct cpu_cache *ext = sm_tc.tc_ext;
	size_t extn = sm_tc.tc_ext_n;
	sm_tc.tc_ext = NULL;
	sm_tc.tc_ext_n = 0;
	sm_mutex_unlock(&sm_thread_list_lock);
	sm_mutex_unlock(&sm_cache_list_lock);
	memset(sm_tc.tc_cc, 0, sizeof(sm_tc.tc_cc));
	sm_tc.tc_nactive = 0;
	sm_tc.tc_charge = 0;
	if (ext)
		os_unmap(ext, extn * sizeof(struct cpu_cache));
}

/* ---- validation ---- */

bool mag_validate(struct kmem_cache *c)
{
	bool ok = true;
	struct depot *d = &c->depot;
	if (c->flags & SLAB_NOMAG)
		return true;
	sm_mutex_lock(&d->d_lock);
	uint32_t nf = 0, ne = 0;
	uint64_t rounds = 0;
	for (struct magazine *m = d->d_full; m && nf <= d->d_nfull; m = m->mag_next, nf++) {
		if (m->mag_rounds == 0 || m->mag_rounds > m->mag_size) {
			sm_dprintf(2, "mag_validate %s: full magazine %p: %u of %u rounds\n",
			           c->name, (void *)m, m->mag_rounds, m->mag_size);
			ok = false;
			continue;
		}
		rounds += m->mag_rounds;
		for (uint32_t i = 0; i < m->mag_rounds; i++) {
			struct page *pg = sm_virt_to_page(m->mag_round[i]);
			if (!pg || pg->slab_cache != c || !slab_is_obj_start(c, pg, m->mag_round[i])) {
				sm_dprintf(2, "mag_validate %s: round %p is not an object\n",
				           c->name, m->mag_round[i]);
				ok = false;
				break;
			}
		}
	}
	for (struct magazine *m = d->d_empty; m && ne <= d->d_nempty; m = m->mag_next, ne++) {
		if (m->mag_rounds != 0) {
			sm_dprintf(2, "mag_validate %s: empty magazine %p holds %u rounds\n",
			           c->name, (void *)m, m->mag_rounds);
			ok = false;
		}
	}
	if (nf != d->d_nfull || ne != d->d_nempty || rounds != d->d_rounds ||
	    d->d_fmin > d->d_nfull || d->d_emin > d->d_nempty) {
		sm_dprintf(2, "mag_validate %s: depot full %u/%u empty %u/%u rounds %lu/%lu "
		           "fmin %u emin %u\n", c->name, nf, d->d_nfull, ne, d->d_nempty,
		           (unsigned long)rounds, (unsigned long)d->d_rounds, d->d_fmin, d->d_emin);
		ok = false;
	}
	if (d->d_magsize > SM_MAG_MAX) {
		sm_dprintf(2, "mag_validate %s: magazine size %u\n", c->name, d->d_magsize);
		ok = false;
	}
	sm_mutex_unlock(&d->d_lock);
	return ok;
}

/* ---- the cache life cycle: destroy, shrink, slabinfo ----
 *
 * What needs both the slabs and the magazines, as libumem's umem_cache_*:
 * the slab layer below knows nothing of magazines. */

void cache_print_slabinfo(FILE *out)
{
	fprintf(out, "slabinfo - version: 2.1\n");
	fprintf(out, "# name            <active_objs> <num_objs> <objsize> <objperslab> "
	             "<pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : "
	             "slabdata <active_slabs> <num_slabs> <sharedavail>\n");
	sm_mutex_lock(&sm_cache_list_lock);
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next) {
		unsigned long cached = 0, avail = 0;
		unsigned int limit = 0, batch = 0, factor = 0;
		if (!(c->flags & SLAB_NOMAG)) {
			cached = mag_count_cached(c);
			sm_mutex_lock(&c->depot.d_lock);
			limit = c->depot.d_magsize;
			batch = (limit + 1) / 2;
			factor = mag_size_limit(c);
			avail = (unsigned long)c->depot.d_rounds;
			sm_mutex_unlock(&c->depot.d_lock);
		}
		sm_mutex_lock(&c->slab_lock);
		unsigned long active = c->active_objs;
		unsigned long slabs = c->nr_slabs, empty = c->nr_empty;
		sm_mutex_unlock(&c->slab_lock);
		active = active > cached ? active - cached : 0;
		fprintf(out, "%-17s %6lu %6lu %6u %4u %4d : tunables %4u %4u %4u : "
		             "slabdata %6lu %6lu %6lu\n",
		        c->name, active, slabs * c->objects, c->size, c->objects,
		        1 << c->order, limit, batch, factor, slabs - empty, slabs, avail);
	}
	sm_mutex_unlock(&sm_cache_list_lock);
}

/**
 * cache_destroy - destroy a kmem cache (kmem_cache_destroy's work)
 * @c: the cache
 *
 * Objects free in magazines (of any thread, running or not) and in the depot
 * are not allocated: they are counted, and if every object of the cache is
 * one of them, flushed back to the slabs; then every slab is released
 * (destructors run) and the cache is freed. A correct program does not use a
 * cache while destroying it, and any thread still using it would hold an
 * allocated object, so the other threads' magazines can be flushed from here.
 *
 * CONTEXT: may block; takes the cache-list, thread-list, depot and slab
 * locks in the lock order.
 * RETURNS: 0, or -EBUSY if objects are still allocated (then nothing has been
 * freed and the cache stays fully usable) or @c is an internal cache.
 */
int cache_destroy(struct kmem_cache *c)
{
	if (c->flags & SLAB_NOMAG)
		return -EBUSY;          /* internal caches are never destroyed */

	sm_mutex_lock(&sm_cache_list_lock);
	unsigned long cached = mag_count_cached(c);
	sm_mutex_lock(&c->slab_lock);
	unsigned long active = c->active_objs;
	sm_mutex_unlock(&c->slab_lock);
	if (active > cached) {
		sm_mutex_unlock(&sm_cache_list_lock);
		return -EBUSY;
	}
	mag_flush_all(c);
	slab_cache_unlink_locked(c);
	sm_mutex_unlock(&sm_cache_list_lock);
	pthread_mutex_destroy(&c->depot.d_lock);
	slab_cache_free(c);
	return 0;
}

/**
 * cache_shrink - give idle memory of @c back to the page layer
 *
 * Reaps every magazine of the depot and releases every empty slab
 * (destructors run). The magazines loaded in threads are left alone.
 *
 * CONTEXT: may block.
 * RETURNS: 0 if the cache holds no slab any more, 1 otherwise.
 */
int cache_shrink(struct kmem_cache *c)
{
	if (!(c->flags & SLAB_NOMAG))
		depot_reap(c, true);
	slab_shrink(c);
	sm_mutex_lock(&c->slab_lock);
	int busy = c->nr_slabs != 0;
	sm_mutex_unlock(&c->slab_lock);
	return busy;
}

/* ---- reclaim, init, fork ---- */

/* sm_reclaim_hook: reap every depot, release every empty slab, and give
 * free pages and kept huge mappings to the OS if allowed. Try-locks the
 * cache list, so an allocation failing inside a destructor run under it
 * cannot deadlock. */
static size_t mag_reclaim(bool may_call_os)
{
	size_t bytes = 0;
	if (may_call_os)
		bytes += vmap_cache_purge(true);
	if (sm_mutex_trylock(&sm_cache_list_lock) != 0)
		return bytes + (may_call_os ? buddy_purge(true) : 0);
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next)
		if (!(c->flags & SLAB_NOMAG))
			bytes += depot_reap(c, true);
	/* Second pass: the magazine caches' slabs emptied by the first. */
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next)
		bytes += slab_trim(c, 0);
	sm_mutex_unlock(&sm_cache_list_lock);
	if (may_call_os)
		bytes += buddy_purge(true);
	return bytes;
}

void mag_init(void)
{
	for (unsigned int i = 0; i < MAG_NR_SIZES; i++) {
		char name[SM_CACHE_NAME_MAX] = "kmem_magazine_";
		size_t n = 14;
		uint32_t v = mag_sizes[i];
		char digits[4];
		size_t k = 0;
		do {
			digits[k++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		while (k)
			name[n++] = digits[--k];
		name[n] = 0;
		mag_caches[i] = slab_cache_create(name, sizeof(struct magazine) +
		                                  mag_sizes[i] * sizeof(void *), 0,
		                                  SLAB_NOMAG, NULL, NULL);
		if (!mag_caches[i])
			sm_fatal("slabmalloc: cannot create the magazine cache %s", name);
	}
	sm_reclaim_hook = mag_reclaim;
	sm_bg_register(mag_reap_tick);
}

void mag_prefork(void)
{
	sm_mutex_lock(&sm_thread_list_lock);
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next)
		sm_mutex_lock(&c->depot.d_lock);
}

void mag_postfork_parent(void)
{
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next)
		sm_mutex_unlock(&c->depot.d_lock);
	sm_mutex_unlock(&sm_thread_list_lock);
}

void mag_postfork_child(void)
{
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next)
		pthread_mutex_init(&c->depot.d_lock, NULL);
	sm_thread_list = NULL;
	mag_nthreads = 0;
	if (sm_tc.tc_registered) {
		sm_tc.tc_registered = 0;
		mag_thread_link_locked(&sm_tc);
	}
	pthread_mutex_init(&sm_thread_list_lock, NULL);
}
