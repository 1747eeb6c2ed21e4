/* SPDX-License-Identifier: MIT */
/*
 * internal.h — what the layers of slabmalloc share.
 *
 * Layers, bottom-up (DESIGN.md §2). A file calls (or reads the data of)
 * files on its own floor or below, never above; src/layers.txt is the table
 * of floors, and tests/unit/layering.sh checks the built objects against it
 * (and for cycles) with nm.
 *
 *   floor  file              role
 *   0      base/os.c         system calls: mmap/munmap/madvise/mremap, CPU id
 *          base/report.c     sm_fatal, sm_warn, sm_dprintf (allocation-free)
 *          base/thread.c     init and thread state, leaf fork hooks
 *          base/bgthread.c   the background purge thread and its tasks
 *   1      page/bootmem.c    a static region usable before init, metadata
 *   2      page/gfp.c        GFP retry policy, fault injection
 *   3      page/buddy.c      zones, struct page (mem_map), free areas,
 *                            per-thread pagesets
 *   4      page/vmalloc.c    huge regions mapped directly, ioremap
 *          page/kfence.c     sampled guarded allocations
 *   5      slab/slab.c       kmem_cache: slabs, constructed objects
 *   6      slab/debug.c      slub_debug: checks, records, leak report
 *   7      slab/magazine.c   per-thread magazines, the depot, and the cache
 *                            life cycle (destroy, shrink, slabinfo)
 *   8      slab/kmalloc.c    size classes, the kmalloc-N caches, large blocks
 *   9      top/options.c     SLABMALLOC_OPTIONS: writes the layers' tunables
 *          top/stats.c       the meminfo summary and the exit reports
 *          top/introspect.c  the live statistics segment and service thread
 *                            (slabmalloc-top, slabmalloc-ctl)
 *   10     top/init.c        lazy initialisation, thread exit, fork handlers
 *          top/layers.c      the list of layers, in order
 *   11     api/ files        the entry points: malloc.c (the C/POSIX family),
 *                            slab_api.c, page_api.c, vmalloc_api.c,
 *                            control.c (slabmalloc_config, meminfo, debug
 *                            check), cxx.cc (operator new and delete)
 *   12     api/mempool.c     reserves and per-CPU variables, built on the
 *          api/percpu.c      entry points
 *
 * How a lower layer tells a higher one something without calling it up:
 * a hook the higher layer sets (sm_reclaim_hook, sm_fault_notify), state
 * in the base floor that the top writes and every layer reads
 * (sm_initialized, sm_thread_state), a registration (sm_fork_register), or
 * an argument (kmalloc_slow_body's @init). Entry points make sure the
 * allocator is initialised (sm_ensure_init); the layers below assume it.
 *
 * Lock order (outer first). Every path that takes two of these takes them in
 * this order; the fork handlers (init.c, layers.c) take all of them in this
 * order.
 *
 *   1. sm_init_lock           init.c: one-time initialisation
 *   2. sm_cache_list_lock     slab.c: the list of all kmem caches
 *   3. sm_thread_list_lock    magazine.c: the list of thread caches
 *   4. depot lock             magazine.c: one per cache (d_lock)
 *   4b. dbg_lock              debug.c: slub_debug records
 *   5. slab lock              slab.c: one per cache (slab_lock)
 *   6. zone lock              buddy.c: DMA before NORMAL
 *   7. vmalloc lock           vmalloc.c: registry of huge mappings (after
 *                             vm_purge_lock, which serialises arena purges)
 *   8. bootmem lock           bootmem.c
 *   9. kf_lock                kfence.c: the guarded pool (a leaf)
 *  10. bg_lock                bgthread.c: a leaf, nothing is taken under it
 *
 * The introspection service's publication lock (top/introspect.c) sits
 * between 1 and 2: its service thread takes it, then the cache-list,
 * thread-list, depot, slab and bootmem locks. Slow paths, which may hold
 * any lock, only try-lock it and everything under it. The fork handlers
 * leave it alone (the child re-initialises it).
 *
 * Mempool and percpu locks are leaves: no allocator lock is ever taken while
 * one is held (mempool calls its alloc_fn/free_fn with the pool unlocked),
 * so the fork handlers take the mempool locks last (through the hooks
 * mempool and percpu register: sm_fork_register).
 *
 * The C library's stdio locks rank before ours, and glibc's fork() takes
 * one of them only after the fork handlers have run:
 *
 *   a. the stdio list lock    fflush(NULL) takes it, then each FILE lock;
 *                             fork() takes it after the handlers
 *   b. a FILE lock            getline/getdelim realloc while holding it
 *   1.-8. the allocator locks above
 *
 * So the prepare handler takes the stdio list lock before lock 1 (init.c,
 * fork section): a thread that allocates while it holds a FILE lock can no
 * longer hold up a fork that holds our locks.
 *
 * Every allocator lock above (not the percpu slot locks, which a caller
 * holds between get_cpu() and put_cpu() in its own code) is taken and
 * released through sm_mutex_lock/sm_mutex_trylock/sm_mutex_unlock, which
 * keep sm_lock_depth: how many allocator locks the calling thread holds or
 * is acquiring. A fork() from a signal handler that interrupted the thread
 * inside a locked section sees it non-zero and must not wait for any lock
 * (init.c, fork section).
 */
#ifndef SM_INTERNAL_H
#define SM_INTERNAL_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <sys/types.h>
#include <signal.h>

#include <slabmalloc.h>

/* Everything declared from here on (and in the internal headers that
 * include this one) is internal to the library: hidden visibility lets the
 * compiler address globals directly instead of through the GOT. Exported
 * functions are declared in <slabmalloc.h> above or marked SM_EXPORT. */
#pragma GCC visibility push(hidden)

/* ---- compiler helpers ---- */

#define SM_EXPORT     __attribute__((visibility("default")))
#define SM_INLINE     static inline __attribute__((always_inline))
#define SM_NOINLINE   __attribute__((noinline))
#define SM_COLD       __attribute__((cold, noinline))
#define SM_NORETURN   __attribute__((noreturn))
/* Thread-local variables take the compiler's dynamic TLS model (TLS
 * descriptors on x86-64), so that the library needs no static TLS and can be
 * loaded with dlopen. Loaded at start-up (LD_PRELOAD, linked) the block is
 * in static TLS anyway and a descriptor resolves to its offset; the fast
 * paths never name a thread-local variable (slab_internal.h, slot keys). */
#define SM_TLS        __thread
/* x86-64 with gcc's named address spaces: the fast paths address the
 * calling thread's slots relative to the thread pointer (%fs), through slot
 * keys (slab_internal.h). Elsewhere a slot is an ordinary pointer. */
#if defined(__x86_64__) && defined(__SEG_FS)
#define SM_TC_SEG_FS  1
#else
#define SM_TC_SEG_FS  0
#endif
#define likely(x)     __builtin_expect(!!(x), 1)
#define unlikely(x)   __builtin_expect(!!(x), 0)
#define SM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SM_CACHELINE  64
#define SM_ALIGN_UP(x, a)   (((x) + ((a) - 1)) & ~((uintptr_t)(a) - 1))
#define SM_ALIGN_DOWN(x, a) ((x) & ~((uintptr_t)(a) - 1))
#define SM_READ_ONCE(x)     __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define SM_WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* config_debug is a constant, so debug code always compiles and is
 * optimised away in release builds (jemalloc's habit). */
#define config_debug SM_DEBUG

/* Three tiers of assertion (mimalloc's habit): sm_assert is cheap and on in
 * debug builds; sm_assert_internal checks layer invariants; expensive
 * whole-structure checks are the *_validate() functions, which debug tests
 * call after every randomized step. */
#define sm_assert(e) \
	do { if (config_debug && !(e)) sm_assert_fail(#e, __FILE__, __LINE__); } while (0)
#define sm_assert_internal(e) sm_assert(e)

SM_COLD SM_NORETURN void sm_assert_fail(const char *expr, const char *file, int line);

/* Reports (base/report.c). Bad input and corruption: one line on stderr,
 * then abort(). Formats with a tiny allocation-free printf (%s %d %u %lu
 * %zu %x %lx %p). */
SM_COLD SM_NORETURN void sm_fatal(const char *fmt, ...);
/* Set by a layer above that must clean up before the program stops (the
 * introspection service removes its file); called by sm_fatal before
 * abort(). It must not allocate or take a lock. */
extern void (*sm_fatal_hook)(void);
/* A warning on stderr (allocation-free), for unknown options and the like. */
void sm_warn(const char *fmt, ...);
/* Allocation-free formatted write to a file descriptor. */
void sm_dprintf(int fd, const char *fmt, ...);

/* ---- allocator locks (the count lives in the base floor: thread.c) ---- */

/* Allocator locks held or being acquired by the calling thread. It goes up
 * before the lock is acquired and down after it is released, so a signal
 * handler running at any instruction of a locked section, or of taking or
 * dropping its lock, sees it non-zero. Slow paths only: the fast paths take
 * no lock. */
extern SM_TLS unsigned int sm_lock_depth;

SM_INLINE void sm_mutex_lock(pthread_mutex_t *m)
{
	sm_lock_depth++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	pthread_mutex_lock(m);
}

/* RETURNS: 0 if the lock was taken (as pthread_mutex_trylock). */
SM_INLINE int sm_mutex_trylock(pthread_mutex_t *m)
{
	sm_lock_depth++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	int r = pthread_mutex_trylock(m);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (r != 0)
		sm_lock_depth--;
	return r;
}

SM_INLINE void sm_mutex_unlock(pthread_mutex_t *m)
{
	sm_assert(sm_lock_depth != 0);
	pthread_mutex_unlock(m);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	sm_lock_depth--;
}

/* ---- OS layer (os.c): the only file that makes system calls ---- */

void os_init(void);
size_t os_page_size(void);
/* Anonymous private read-write mapping. NULL on failure (errno kept). */
void *os_map(size_t size);
/* Read-write, MAP_NORESERVE (nothing committed until touched), below
 * 4 GiB (MAP_32BIT, then hints). NULL if none. */
void *os_reserve_low(size_t size);
/* Map read-write exactly at @addr, never over an existing mapping
 * (MAP_FIXED_NOREPLACE). NULL with errno EEXIST when something is there,
 * ENOMEM when RLIMIT_AS (or the system) refuses. */
void *os_map_fixed(void *addr, size_t size);
/* A power of two above every user address (from the initial stack): the
 * size of the user address space. */
uintptr_t os_user_top(void);
/* RLIMIT_AS now (it may change at any time), SIZE_MAX when unlimited. */
size_t os_as_limit(void);
/* Address space the process has mapped (VmSize), from /proc/self/statm;
 * 0 when unreadable. */
size_t os_vm_bytes(void);
/* Map a region aligned to @align (a power of two >= page size). */
void *os_map_aligned(size_t size, size_t align);
int os_unmap(void *addr, size_t size);
/* Give pages back to the OS; the next touch reads zeros (MADV_DONTNEED). */
int os_purge(void *addr, size_t size);
/* Make a range inaccessible (guard pages). */
int os_protect_none(void *addr, size_t size);
int os_protect_rw(void *addr, size_t size);
/* SIGSEGV handler @fn (SA_SIGINFO) installed, the previous one kept in
 * @old; @fn NULL restores @old. */
int os_segv_handler(void (*fn)(int, siginfo_t *, void *), struct sigaction *old);
void *os_remap(void *old, size_t old_size, size_t new_size);  /* mremap MAYMOVE */
void *os_map_phys(int fd, unsigned long offset, size_t size); /* MAP_SHARED */
int os_open_devmem(void);
void os_close(int fd);
int os_pipe_nonblock(int fds[2]);    /* pipe2(O_NONBLOCK | O_CLOEXEC) */
ssize_t os_read(int fd, void *buf, size_t len);   /* read(2), EINTR retried */
int os_cpu_id(void);                 /* rseq cpu_id when registered, else sched_getcpu */
int os_ncpus_configured(void);
uint64_t os_now_ns(void);            /* CLOCK_MONOTONIC */
uint64_t os_now_coarse_ns(void);     /* CLOCK_MONOTONIC_COARSE: cheaper */
void os_yield(void);
int os_getpid(void);
int os_gettid(void);                 /* the calling thread's kernel id */
void os_sleep_ns(uint64_t ns);
uintptr_t os_random(void);           /* from AT_RANDOM, then a mixer */
const char *os_getenv(const char *name); /* safe before libc init */
size_t os_rss_bytes(void);           /* resident set, from /proc/self/statm */
/* The program break's range [start_brk, current brk): where glibc's main
 * arena lives (slabmalloc never uses brk). */
void os_brk_range(uintptr_t *lo, uintptr_t *hi);
bool os_is_mapped(const void *addr);  /* the page of @addr is mapped */
/* Shared segments for the introspection service (docs/introspection.md):
 * create or take over @dir/@name (0700 directory, 0600 file, owned by the
 * effective user), locked for this process and mapped shared. RETURNS: the
 * descriptor (and *@map), or -1. */
int os_seg_open(const char *dir, const char *name, size_t size, void **map);
/* Close it; the mapping becomes private zero pages (async-signal-safe). */
void os_seg_close(int fd, void *map, size_t size);
/* Remove stale (unlocked, 2 s old) segments of @dir, @max entries at most. */
void os_seg_sweep(const char *dir, unsigned int max);
void os_seg_unlink(const char *path);
void os_futex_wait(uint32_t *addr, uint32_t val);   /* process-shared */
void os_futex_wake(uint32_t *addr);
unsigned int os_geteuid(void);

/* ---- bootmem (bootmem.c) ---- */

/* Bump allocation from a static region, zeroed, SM_CACHELINE aligned; the
 * region grows with os_map when exhausted. Never returns memory to anyone but
 * bootmem itself. Used for allocator metadata and the bootmem API. */
void *bootmem_alloc(size_t size, size_t align, bool low);
void bootmem_free(void *addr, size_t size);
bool bootmem_owns(const void *addr);
void bootmem_stats(size_t *total, size_t *used);
/* Fork handlers: bm_lock is rank 8, so they run after every other lock's
 * (vmap_prefork/vmap_postfork_* call them). */
void bootmem_prefork(void);
void bootmem_postfork_parent(void);
void bootmem_postfork_child(void);

/* ---- GFP policy and fault injection (gfp.c) ---- */

/* Non-zero while any fault injection is configured: entry points test it
 * (one predictable branch) before calling should_fail_*(). */
extern int sm_fault_active;
bool should_failslab(const char *cache_name, size_t size, gfp_t gfp);
bool should_fail_alloc_page(unsigned int order, gfp_t gfp);
/* Called by an allocating entry point whose attempt failed. Decides from the
 * GFP flags whether to try again (after reclaim and/or back-off): never for
 * __GFP_NORETRY or non-blocking calls, a few times for __GFP_REPEAT, always
 * for __GFP_NOFAIL. When it gives up it warns (unless __GFP_NOWARN) and
 * returns false. @what names the entry point. */
bool gfp_retry(gfp_t gfp, unsigned int *attempt, const char *what, size_t size);
/* Set by the kmalloc layer at its init; called, under the fault
 * configuration lock, whenever sm_fault_active may have changed, so that the
 * fast paths that fold it in (malloc's size limits, the caches' slot keys)
 * follow (the kernel's notifier idea: the layer below calls no one above). */
extern void (*sm_fault_notify)(void);
/* Reclaim hook set by the slab layer: reap depots and release empty slabs;
 * @may_call_os: also give free pages back to the OS. Returns bytes freed. */
extern size_t (*sm_reclaim_hook)(bool may_call_os);

/* Fault injection (fail_slab=SPEC, fail_page_alloc=SPEC; grammar in gfp.c
 * and docs/fault-injection.md). */
enum { FAULT_SLAB = 0, FAULT_PAGE_ALLOC = 1, FAULT_NR = 2 };
/* Parse @spec (@len bytes, need not be NUL-terminated) for fault kind
 * @which without allocating; when @apply, apply it if the whole spec is
 * valid (never a part of it). "0" and "off" disable. Fits the options
 * table: opt_fail_slab(val, apply, err, errlen) = fault_parse(FAULT_SLAB,
 * val.v, val.len, apply, err, errlen). RETURNS: 0, or -1 with a one-line
 * message in @err (no newline; the caller names the option). */
int fault_parse(int which, const char *spec, size_t len, bool apply,
                char *err, size_t errlen);
/* Failures injected / calls that passed the filters, since the last spec. */
unsigned long fault_injected(int which);
unsigned long fault_calls(int which);
/* Print the configuration and counters of both kinds (for stats). */
void fault_print(FILE *out);

/* ---- mempool.c and percpu.c ---- */

/* Elements in the pool's reserve, and threads waiting in mempool_alloc()
 * (snapshots, for tests and statistics). */
int mempool_reserved(const mempool_t *pool);
unsigned int mempool_waiting(const mempool_t *pool);

/* ---- initialisation and thread state (base floor: thread.c) ---- */

/* Written by init.c (top), read by any layer; see thread.c. */
extern int sm_initialized;           /* set once all layers are up */
extern int sm_init_running;          /* the layers are being brought up */
extern pthread_key_t sm_thread_key;  /* its destructor runs the exit hooks */
extern SM_TLS int sm_thread_state;   /* 0 new, 1 attached, 2 exiting */
/* Threads attached now (sm_thread_attach up to their exit hook): what the
 * per-thread caches' budgets are divided by. */
extern unsigned int sm_nr_attached;
void sm_thread_detach(void);         /* attached -> exiting, counted */
enum { SM_THREAD_NEW = 0, SM_THREAD_ATTACHED = 1, SM_THREAD_EXITING = 2 };
SM_INLINE bool sm_init_in_progress(void)
{
	return __atomic_load_n(&sm_init_running, __ATOMIC_RELAXED) != 0;
}
/* How the library's TLS block is placed (thread.c): 0 when it is in static
 * TLS, at the same offset from the thread pointer in every thread (the
 * library was loaded at start-up, or dlopen found room); 1 when it is
 * dynamic TLS, allocated per thread by the dynamic linker (dlopen with no
 * room in static TLS). sm_tls_probe() decides, once, from sm_init_slow(),
 * before the initialising thread touches any thread-local variable; the
 * layers that make slot keys (slab_internal.h) read it. Always 0 where the
 * slots are not addressed from the thread pointer. */
extern int sm_tls_dynamic;
void sm_tls_probe(void);

/*
 * TLS keys. Where the slots are addressed from the thread pointer, a hot
 * path reaches a thread-local variable in static TLS through its offset
 * from the thread pointer, kept in a global once measured (a key), at the
 * cost of an initial-exec access; the TLS descriptor that names it costs a
 * call. A key not measured yet, and every key with dynamic TLS, is
 * SM_TLS_KEY_ZERO: 64 bytes of glibc's x86-64 thread control block that are
 * reserved and always zero (tcbhead_t.__glibc_unused2 starts at 0x80; see
 * slab_internal.h), so a read through it sees 0, which every user of a key
 * takes as "not set up: take the slow path". Nothing is written through a
 * key unless it has been measured.
 */
typedef int32_t sm_tls_key_t;
#if SM_TC_SEG_FS
#define SM_TLS_KEY_ZERO 0x80
/* The calling thread's thread pointer: the x86-64 TLS ABI keeps it in the
 * first word of the thread control block. */
SM_INLINE uintptr_t sm_tp(void)
{
	uintptr_t tp;
	__asm__("movq %%fs:0, %0" : "=r"(tp));
	return tp;
}
/* The key of thread-local @var, measured in the calling thread. */
#define SM_TLS_KEY_OF(var) ((sm_tls_key_t)(intptr_t)((uintptr_t)&(var) - sm_tp()))
#endif

/* sm_thread_state as the hot paths read it: through sm_thread_state_key,
 * which reads SM_THREAD_NEW until the key is measured (init) and always
 * with dynamic TLS; those paths then ask sm_thread_state itself. */
extern sm_tls_key_t sm_thread_state_key;
SM_INLINE int sm_thread_state_fast(void)
{
#if SM_TC_SEG_FS
	return *(const int __seg_fs *)(intptr_t)sm_thread_state_key;
#else
	return sm_thread_state;
#endif
}
/* Make sure the calling thread's exit hook is armed (first slow path of a
 * thread that keeps per-thread state); nothing before initialisation. */
void sm_thread_attach(void);

/* Fork handlers of a facility above the API (mempool, percpu), which the
 * top's fork handlers cannot name: it registers them at its first use
 * (idempotent; thread.c). Their locks are leaves: prepare runs after every
 * allocator lock is taken, parent and child first. Any of the three may be
 * a no-op function, none NULL. */
struct sm_fork_ops {
	void (*prepare)(void);
	void (*parent)(void);
	void (*child)(void);
};
void sm_fork_register(const struct sm_fork_ops *ops);
void sm_fork_leaves_prepare(void);   /* init.c's fork handlers call these */
void sm_fork_leaves_parent(void);
void sm_fork_leaves_child(void);

/* The introspection service (top/introspect.c, docs/introspection.md) sets
 * this hook once its segment exists; the magazine layer's slow paths call
 * it (sm_introspect_poll) before they touch anything, so it may publish
 * statistics (try-locks only) and start the service thread when a tool
 * has asked. NULL (one predictable branch) in a process without one. */
extern void (*sm_introspect_hook)(void);
SM_INLINE void sm_introspect_poll(void)
{
	void (*h)(void) = __atomic_load_n(&sm_introspect_hook, __ATOMIC_RELAXED);
	if (unlikely(h != NULL))
		h();
}

/* ---- the background purge thread (base floor: bgthread.c) ---- */

/* A task of the thread: give back what is due at @now (CLOCK_MONOTONIC
 * ns). RETURNS: when it next has something to do, 0 for nothing to age. */
typedef uint64_t (*sm_bg_tick_fn)(uint64_t now);
void sm_bg_register(sm_bg_tick_fn tick);   /* idempotent, at a layer's init */
extern int sm_bg_enabled;            /* option reap_thread: 0 never starts it */
enum { BG_NONE, BG_PENDING, BG_RUNNING, BG_SLEEPING, BG_IDLE, BG_FAILED };
extern int sm_bg_state;              /* BG_*, written by bgthread.c */
/* A layer began to hold memory that ages and wants its task run by @due
 * (CLOCK_MONOTONIC ns): make sure the thread will (start it at the next
 * sm_bg_poll, or signal it out of a longer sleep). Any context; takes only
 * the leaf bg_lock, and only when the thread is absent or asleep too long. */
void sm_bg_wake(uint64_t due);
void sm_bg_wake_slow(uint64_t due);
SM_NOINLINE void sm_bg_start(void);
/* Start the thread if a wake asked for it. Only where the caller holds no
 * allocator lock: creating a thread allocates. */
SM_INLINE void sm_bg_poll(void)
{
	if (unlikely(__atomic_load_n(&sm_bg_state, __ATOMIC_RELAXED) == BG_PENDING))
		sm_bg_start();
}
bool sm_bg_running(void);            /* the thread exists */
unsigned long sm_bg_rounds(void);    /* task rounds it has run */
void sm_bg_prefork(void);            /* bg_lock is a leaf: taken last */
void sm_bg_postfork_parent(void);
void sm_bg_postfork_child(void);

/* ---- the top: options.c, stats.c, init.c, layers.c ---- */

void options_init(void);             /* options.c: SLABMALLOC_OPTIONS */
/* introspect.c: the live statistics segment (docs/introspection.md),
 * started and ended by init.c's constructor and destructor. */
void introspect_start(void);
void introspect_exit(void);
void introspect_postfork_child(void);
/* Parse "key=value,..." and apply it, all or nothing; @origin names the
 * string in messages. RETURNS: 0, or -1 (a one-line message was printed). */
int options_apply(const char *s, const char *origin);

/* stats.c: the meminfo-style summary, and the exit report of `stats=`
 * (slabinfo, buddyinfo, meminfo, fault injection) that init.c's library
 * destructor prints once the program has exited. sm_stats_target is where
 * it goes: "" none, "stderr", or a path (set by options.c; fixed-size so
 * that parsing the option does not allocate). */
extern char sm_stats_target[256];
void stats_meminfo(FILE *out);
void stats_at_exit(void);

/* Lazy initialisation (init.c). Only entry points, on the API floor, call
 * sm_ensure_init(); every layer below assumes it has run. While the
 * initialising thread is inside it, sm_init_slow() returns at once (the
 * layers serve such calls from bootmem). */
SM_NOINLINE void sm_init_slow(void);
SM_INLINE void sm_ensure_init(void)
{
	if (unlikely(!__atomic_load_n(&sm_initialized, __ATOMIC_ACQUIRE)))
		sm_init_slow();
}

/* layers.c: the one place that knows which layers exist, in order. */
void sm_init_layers(void);           /* bottom-up */
void sm_thread_exit_layers(void);    /* top-down */
void sm_prefork_layers(void);        /* in lock order */
void sm_postfork_parent_layers(void);
void sm_postfork_child_layers(void);

#pragma GCC visibility pop
#endif /* SM_INTERNAL_H */
