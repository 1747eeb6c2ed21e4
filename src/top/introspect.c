/* SPDX-License-Identifier: MIT */
/*
 * introspect.c — live introspection of a running process from outside:
 * the statistics segment and the service thread behind slabmalloc-top and
 * slabmalloc-ctl (docs/introspection.md; the layout is introspect.h).
 *
 * 1. Rendezvous. The library constructor (init.c, introspect_start)
 *    creates /dev/shm/slabmalloc-UID/PID
 *    (0700 directory, 0600 file: only the process's user and root can open
 *    it), locks it with a whole-file fcntl write lock (so a tool can tell a
 *    live segment from a stale one with F_GETLK), maps it shared and
 *    publishes a first snapshot. That is all an uninspected process pays
 *    at start: a handful of system calls and a few pages of tmpfs. The
 *    library destructor unlinks the file at exit (introspect_exit).
 *
 * 2. Snapshot. The magazine layer's slow paths call sm_introspect_poll()
 *    before they touch anything (as they start the depot reaper). At most
 *    once per SMI_PUBLISH_NS (a coarse clock read on one slow path in
 *    SMI_CLOCK_EVERY of each thread decides) it
 *    fills the snapshot: per cache the /proc/slabinfo 2.1 figures and the
 *    rounds held in magazines, free blocks per order per zone, the meminfo
 *    totals. From a slow path the caller may hold any allocator lock, so
 *    it only try-locks (the cache list, the thread list) and reads the
 *    other counters without locks; if a lock is busy the publication waits
 *    for a later slow path. No fast path changes. The snapshot is a
 *    seqlock (smi_gen) so a tool never reads a half-written one. A process
 *    that makes no allocator call at all (blocked in read or sleep) keeps
 *    the snapshot of its last slow path, which is what the tools show it by
 *    (with its age) when nothing fresher can be had.
 *
 * 3. Requests. A tool writes a command into the segment, increments
 *    req_seq and wakes it (a futex word in a shared mapping: the wake needs
 *    no access to the process but the open file). The service thread
 *    serves it: a fresh snapshot taken with the locks (SNAPSHOT), malloc_trim
 *    (TRIM), kmem_cache_shrink of a named cache (SHRINK); it sets resp_seq
 *    and wakes it. There is no thread until a tool first asks: the slow
 *    path that sees req_seq != resp_seq starts it (detached, every signal
 *    blocked so the program's signals never land on it, named
 *    "slabmalloc-svc"), and it stays, asleep in FUTEX_WAIT, to answer every
 *    later request at once, idle process or not. No signal is sent and no
 *    signal handler is installed; nothing reads the process's memory from
 *    outside.
 *
 * 4. Stale files. A process killed by a signal (or by abort()) leaves its
 *    file, unlocked. One process start in SMI_SWEEP_ONE_IN removes up to
 *    SMI_SWEEP_MAX of those (os_seg_sweep), the tools remove all of them
 *    each time they run, and a new process with the same pid takes its
 *    file over.
 *
 * 5. Fork and exec. The segment belongs to the process that created it:
 *    the fork child handler (introspect_postfork_child, run by layers.c)
 *    unmaps and closes the parent's (the child has
 *    no record lock on it, and no service thread), and the child creates
 *    its own at its first slow path, under its own pid. exec closes the
 *    descriptor (close-on-exec), which drops the lock: the file left behind
 *    is recognised as stale by the tools, and taken over by the next
 *    process with that pid.
 *
 * Locks: smi_pub_lock serialises the writers of the snapshot. The service
 * thread takes it, then the cache-list, thread-list, depot, slab and
 * bootmem locks in their order (internal.h); a slow path, which may hold
 * any allocator lock, only try-locks it and everything under it, and skips
 * the publication when one is busy. The child of a fork re-initialises it.
 * All are taken through sm_mutex_* (internal.h), which keep sm_lock_depth.
 *
 * Floor 9 (src/layers.txt), beside options.c and stats.c: calls kmalloc.c,
 * magazine.c, slab.c, the page floors and the base floor. init.c starts
 * it from its constructor and ends it from its destructor (the file every
 * link pulls in, so static links have the service too), layers.c runs its
 * fork child handler; the magazine layer reaches it through the base
 * floor's sm_introspect_hook.
 */
#include "kmalloc.h"
#include "introspect.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#define SMI_SEG_BYTES SM_ALIGN_UP(sizeof(struct smi_segment), 4096)

static struct smi_segment *smi_seg;      /* published with a release store */
static int smi_fd = -1;
static int smi_pid;
static char smi_path[64];
static int smi_child_pending;            /* a fork child: open at a slow path */
static int smi_service_started;
static uint64_t smi_next_publish_ns;
static uint64_t smi_count;
static pthread_mutex_t smi_pub_lock = PTHREAD_MUTEX_INITIALIZER;
static struct smi_snapshot smi_buf;      /* filled under smi_pub_lock */
/* A thread's slow paths read the clock one time in SMI_CLOCK_EVERY. */
#define SMI_CLOCK_EVERY 16
/* Stale files swept at start: by one process in 32, 64 entries at most. */
#define SMI_SWEEP_ONE_IN 32
#define SMI_SWEEP_MAX 64
static SM_TLS unsigned int smi_tick;

/* ---- filling a snapshot ---- */

static void smi_name(char *dst, size_t cap, const char *src)
{
	size_t i = 0;
	for (; i + 1 < cap && src[i]; i++)
		dst[i] = src[i];
	for (; i < cap; i++)
		dst[i] = 0;
}

/* The per-cache rows and the slab totals. @may_block: the service thread
 * (takes the locks); else a slow path (try-locks only). */
static bool smi_fill_caches(struct smi_snapshot *ss, bool may_block,
                            uint64_t *slab_bytes, uint64_t *active_bytes)
{
	if (may_block)
		sm_mutex_lock(&sm_cache_list_lock);
	else if (sm_mutex_trylock(&sm_cache_list_lock) != 0)
		return false;
	unsigned int n = 0;
	for (struct kmem_cache *c = sm_cache_list; c && n < SMI_MAX_CACHES; c = c->next) {
		unsigned long cached = 0;
		if (may_block) {
			cached = mag_count_cached(c);
		} else if (!mag_count_cached_try(c, &cached)) {
			sm_mutex_unlock(&sm_cache_list_lock);
			return false;
		}
		unsigned long active, slabs, empty;
		if (may_block)
			sm_mutex_lock(&c->slab_lock);
		active = SM_READ_ONCE(c->active_objs);
		slabs = SM_READ_ONCE(c->nr_slabs);
		empty = SM_READ_ONCE(c->nr_empty);
		if (may_block)
			sm_mutex_unlock(&c->slab_lock);
		struct smi_cache *r = &ss->ss_caches[n++];
		smi_name(r->sc_name, sizeof r->sc_name, c->name);
		r->sc_limit = r->sc_batch = r->sc_sharedfactor = 0;
		r->sc_sharedavail = 0;
		if (!(c->flags & SLAB_NOMAG)) {
			r->sc_limit = SM_READ_ONCE(c->depot.d_magsize);
			r->sc_batch = (r->sc_limit + 1) / 2;
			r->sc_sharedfactor = mag_size_limit(c);
			r->sc_sharedavail = SM_READ_ONCE(c->depot.d_rounds);
		}
		r->sc_mag_rounds = cached;
		r->sc_active_objs = active > cached ? active - cached : 0;
		r->sc_num_objs = (uint64_t)slabs * c->objects;
		r->sc_objsize = c->size;
		r->sc_objperslab = c->objects;
		r->sc_pagesperslab = 1u << c->order;
		r->sc_num_slabs = slabs;
		r->sc_active_slabs = slabs >= empty ? slabs - empty : 0;
		*slab_bytes += (uint64_t)slabs << (c->order + SM_PAGE_SHIFT);
		*active_bytes += (uint64_t)active * c->size;
	}
	sm_mutex_unlock(&sm_cache_list_lock);
	ss->ss_nr_caches = n;
	return true;
}

static bool smi_fill(struct smi_snapshot *ss, bool may_block)
{
	uint64_t slab_bytes = 0, active_bytes = 0;
	if (!smi_fill_caches(ss, may_block, &slab_bytes, &active_bytes))
		return false;
	struct smi_mem *m = &ss->ss_mem;
	m->sm_heap_reserved = m->sm_heap_grown = m->sm_heap_offline = m->sm_pages_free = 0;
	m->sm_pages_dirty = m->sm_pages_purged = 0;
	ss->ss_nr_zones = SM_NR_ZONES < SMI_NR_ZONES ? SM_NR_ZONES : SMI_NR_ZONES;
	ss->ss_nr_orders = SM_MAX_ORDER < SMI_MAX_ORDER ? SM_MAX_ORDER : SMI_MAX_ORDER;
	for (unsigned int z = 0; z < ss->ss_nr_zones; z++) {
		struct zone *zn = &sm_zones[z];
		struct smi_zone *sz = &ss->ss_zones[z];
		smi_name(sz->sz_name, sizeof sz->sz_name, zn->zone_name ? zn->zone_name : "");
		sz->sz_present = zn->zone_span != 0;
		for (unsigned int o = 0; o < ss->ss_nr_orders; o++)
			sz->sz_nr_free[o] = SM_READ_ONCE(zn->zone_free_area[o].fa_nr_free);
		m->sm_heap_reserved += zn->zone_span;
		m->sm_heap_grown += SM_READ_ONCE(zn->zone_limit);
		m->sm_heap_offline += zone_offline_bytes(zn);
		m->sm_pages_free += (uint64_t)SM_READ_ONCE(zn->zone_free_pages) << SM_PAGE_SHIFT;
		m->sm_pages_dirty += (uint64_t)SM_READ_ONCE(zn->zone_dirty_pages) << SM_PAGE_SHIFT;
		m->sm_pages_purged += SM_READ_ONCE(zn->zone_purged_bytes);
	}
	m->sm_slab = slab_bytes;
	m->sm_slab_active = active_bytes;
	m->sm_vmalloc = vmap_total_bytes();
	m->sm_vmalloc_cached = vmap_cached_bytes();
	if (may_block) {        /* bootmem's lock is not to be waited for in a slow path */
		size_t t = 0, u = 0;
		bootmem_stats(&t, &u);
		m->sm_bootmem = t;
		m->sm_bootmem_used = u;
	}
	m->sm_rss = os_rss_bytes();
	return true;
}

/* Fill and publish a snapshot under the seqlock. RETURNS: whether it did. */
static bool smi_publish(struct smi_segment *s, uint32_t source, bool may_block)
{
	if (may_block)
		sm_mutex_lock(&smi_pub_lock);
	else if (sm_mutex_trylock(&smi_pub_lock) != 0)
		return false;
	bool done = smi_fill(&smi_buf, may_block);
	if (done) {
		smi_buf.ss_taken_ns = os_now_ns();
		smi_buf.ss_source = source;
		smi_buf.ss_count = ++smi_count;
		uint32_t g = SM_READ_ONCE(s->smi_gen);
		__atomic_store_n(&s->smi_gen, g + 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		memcpy(&s->snap, &smi_buf, sizeof smi_buf);
		__atomic_store_n(&s->smi_gen, g + 2, __ATOMIC_RELEASE);
	}
	sm_mutex_unlock(&smi_pub_lock);
	return done;
}

/* ---- the service thread ---- */

static struct kmem_cache *smi_find_cache(const char *name)
{
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next)
		if (strncmp(c->name, name, SM_CACHE_NAME_MAX) == 0)
			return c;
	return NULL;
}

static void smi_serve(struct smi_segment *s)
{
	char arg[SMI_ARG_MAX];
	memcpy(arg, s->req_arg, sizeof arg);
	arg[sizeof arg - 1] = 0;
	uint32_t cmd = SM_READ_ONCE(s->req_cmd);
	int status = 0;
	char *text = s->resp_text;
	text[0] = 0;
	switch (cmd) {
	case SMI_CMD_SNAPSHOT:
		break;
	case SMI_CMD_TRIM: {
		size_t before = os_rss_bytes();
		int r = kmalloc_trim();
		size_t after = os_rss_bytes();
		snprintf(text, SMI_TEXT_MAX, "trim: %s; RSS %zu kB -> %zu kB\n",
		         r ? "memory released" : "nothing to release",
		         before >> 10, after >> 10);
		break;
	}
	case SMI_CMD_SHRINK: {
		sm_mutex_lock(&sm_cache_list_lock);
		struct kmem_cache *c = smi_find_cache(arg);
		if (!c) {
			sm_mutex_unlock(&sm_cache_list_lock);
			status = -ENOENT;
			snprintf(text, SMI_TEXT_MAX, "no cache named '%s'\n", arg);
			break;
		}
		unsigned long before = SM_READ_ONCE(c->nr_slabs);
		cache_shrink(c);
		unsigned long after = SM_READ_ONCE(c->nr_slabs);
		sm_mutex_unlock(&sm_cache_list_lock);
		snprintf(text, SMI_TEXT_MAX, "shrink %s: %lu slabs -> %lu slabs\n",
		         arg, before, after);
		break;
	}
	case SMI_CMD_DEBUG: {
		/* The same string as SLABMALLOC_OPTIONS=debug=...: checked
		 * whole, applied all or nothing (options.c). */
		char opt[SMI_ARG_MAX + 8];
		snprintf(opt, sizeof opt, "debug=%s", arg);
		if (options_apply(opt, "slabmalloc-ctl") != 0) {
			status = -EINVAL;
			snprintf(text, SMI_TEXT_MAX, "bad debug setting '%s' (FLAGS of FZPUL, "
			         "optionally :CACHE/CACHE..., or off)\n", arg);
			break;
		}
		snprintf(text, SMI_TEXT_MAX, "debug=%s applied\n", arg);
		break;
	}
	case SMI_CMD_LEAKS: {
		/* The report into a pipe, then its start into the reply (the
		 * reply holds SMI_TEXT_MAX bytes; the largest groups come first). */
		int fds[2];
		if (os_pipe_nonblock(fds) != 0) {
			status = -errno;
			snprintf(text, SMI_TEXT_MAX, "leaks: no pipe\n");
			break;
		}
		slab_debug_leak_report(fds[1]);
		os_close(fds[1]);
		ssize_t n = os_read(fds[0], text, SMI_TEXT_MAX - 1);
		os_close(fds[0]);
		text[n > 0 ? n : 0] = 0;
		if (!SM_READ_ONCE(slab_debug_active))
			snprintf(text + strlen(text), SMI_TEXT_MAX - strlen(text),
			         "(owner tracking is off: only objects allocated while "
			         "debug=U or leak= was on are tracked)\n");
		break;
	}
	default:
		status = -EINVAL;
		snprintf(text, SMI_TEXT_MAX, "unknown request %u\n", cmd);
		break;
	}
	smi_publish(s, SMI_SRC_SERVICE, true);
	s->resp_status = status;
}

static void *smi_service_main(void *arg)
{
	struct smi_segment *s = arg;
	__atomic_store_n(&s->smi_service, 1, __ATOMIC_RELEASE);
	for (;;) {
		uint32_t req = __atomic_load_n(&s->req_seq, __ATOMIC_ACQUIRE);
		if (req == __atomic_load_n(&s->resp_seq, __ATOMIC_RELAXED)) {
			os_futex_wait(&s->req_seq, req);
			continue;
		}
		smi_serve(s);
		__atomic_store_n(&s->resp_seq, req, __ATOMIC_RELEASE);
		os_futex_wake(&s->resp_seq);
	}
	return NULL;
}

/* From a slow path that has touched nothing yet (pthread_create may
 * allocate: this path can recurse safely), once per process. */
static SM_NOINLINE void smi_start_service(struct smi_segment *s)
{
	int expect = 0;
	if (!__atomic_compare_exchange_n(&smi_service_started, &expect, 1, false,
	                                 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return;
	pthread_t t;
	pthread_attr_t attr;
	sigset_t all, old;
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_sigmask(SIG_SETMASK, &all, &old);   /* inherited by the thread */
	int err = pthread_create(&t, &attr, smi_service_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		sm_warn("slabmalloc: cannot start the introspection service thread");
		return;
	}
	pthread_setname_np(t, "slabmalloc-svc");
}

/* ---- the segment ---- */

static SM_NOINLINE void smi_open(uint32_t source, bool may_block)
{
	char dir[48], name[16];
	smi_pid = os_getpid();
	unsigned int uid = os_geteuid();
	snprintf(dir, sizeof dir, SMI_DIR_FMT, uid);
	snprintf(name, sizeof name, "%d", smi_pid);
	snprintf(smi_path, sizeof smi_path, "%s/%s", dir, name);
	/* One start in SMI_SWEEP_ONE_IN clears up to SMI_SWEEP_MAX stale files
	 * of processes that died without their destructor (killed, abort()):
	 * a few system calls on average, and the directory stays small. Before
	 * our own file exists, so that no lock of ours can be dropped. */
	if (source == SMI_SRC_START && (os_random() & (SMI_SWEEP_ONE_IN - 1)) == 0)
		os_seg_sweep(dir, SMI_SWEEP_MAX);
	void *map;
	int fd = os_seg_open(dir, name, SMI_SEG_BYTES, &map);
	if (fd < 0)
		return;
	struct smi_segment *s = map;
	s->smi_version = SMI_VERSION;
	s->smi_size = sizeof *s;
	s->smi_pid = smi_pid;
	s->smi_uid = uid;
	s->smi_start_ns = os_now_ns();
	smi_fd = fd;
	smi_publish(s, source, may_block);
	__atomic_store_n(&s->smi_magic, SMI_MAGIC, __ATOMIC_RELEASE);
	smi_next_publish_ns = os_now_coarse_ns() + SMI_PUBLISH_NS;
	__atomic_store_n(&smi_seg, s, __ATOMIC_RELEASE);
}

/* sm_introspect_hook: from the magazine slow paths. */
static void smi_poll(void)
{
	struct smi_segment *s = __atomic_load_n(&smi_seg, __ATOMIC_ACQUIRE);
	if (unlikely(!s)) {
		int one = 1;
		if (SM_READ_ONCE(smi_child_pending) &&
		    __atomic_compare_exchange_n(&smi_child_pending, &one, 0, false,
		                                __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			smi_open(SMI_SRC_SLOWPATH, false);
		return;
	}
	bool asked = SM_READ_ONCE(s->req_seq) != SM_READ_ONCE(s->resp_seq);
	if (unlikely(asked) && !SM_READ_ONCE(smi_service_started))
		smi_start_service(s);
	if (smi_tick++ & (SMI_CLOCK_EVERY - 1))
		return;
	uint64_t now = os_now_coarse_ns();
	if (now >= SM_READ_ONCE(smi_next_publish_ns) &&
	    smi_publish(s, SMI_SRC_SLOWPATH, false))
		SM_WRITE_ONCE(smi_next_publish_ns, now + SMI_PUBLISH_NS);
}

/* ---- fork, start, exit ---- */

/**
 * introspect_postfork_child - the fork child gives up its parent's segment
 *
 * The child has no record lock on it and no service thread; it makes its
 * own segment at its first slow path (smi_poll). The old mapping becomes
 * private memory rather than going away: a fork from a signal handler may
 * have interrupted this thread inside smi_poll or smi_publish, which then
 * finish writing there.
 * CONTEXT: the fork child handler (layers.c), single-threaded.
 */
void introspect_postfork_child(void)
{
	struct smi_segment *s = smi_seg;
	pthread_mutex_init(&smi_pub_lock, NULL);
	smi_service_started = 0;
	if (!s)
		return;
	smi_seg = NULL;
	os_seg_close(smi_fd, s, SMI_SEG_BYTES);
	smi_fd = -1;
	smi_path[0] = 0;
	smi_child_pending = 1;
}

/**
 * introspect_start - create the segment and arm the slow-path hook
 * CONTEXT: the library constructor (init.c), after initialisation.
 */
void introspect_start(void)
{
	if (smi_seg)
		return;
	smi_open(SMI_SRC_START, true);
	if (smi_seg) {
		__atomic_store_n(&sm_introspect_hook, smi_poll, __ATOMIC_RELEASE);
		__atomic_store_n(&sm_fatal_hook, introspect_exit, __ATOMIC_RELEASE);
	}
}

/**
 * introspect_exit - remove the segment's file
 *
 * The mapping stays (other threads may still be in a slow path). Also run
 * by sm_fatal before abort() (sm_fatal_hook): a report of bad input leaves
 * no file behind. A process that dies by a signal or _exit leaves a stale file, unlocked, which the
 * tools recognise and the next process with the same pid takes over.
 * CONTEXT: the library destructor (init.c).
 */
void introspect_exit(void)
{
	if (smi_seg && smi_path[0] && smi_pid == os_getpid())
		os_seg_unlink(smi_path);
}
