/* SPDX-License-Identifier: MIT */
/*
 * bench/workloads.h — the C shim: allocation workloads as plain C functions.
 *
 * Every workload is a function that takes an iteration count and its
 * parameters and performs that many operations, nothing else: no timing, no
 * reporting. bench_main.cc registers them with Google Benchmark, which owns
 * the clock. Keeping them in C keeps the measured code free of C++ runtime
 * allocations and lets callgrind_pair.c and other drivers reuse them.
 *
 * The benchmark binary never links libslabmalloc: it runs under every
 * allocator through LD_PRELOAD. Workloads that exercise slabmalloc's
 * kernel-style API (kmem_cache, mempool, page orders) find it at run time
 * with dlsym(RTLD_DEFAULT, "slabmalloc_...") and, under any other allocator,
 * run the equivalent job on the malloc family (the "baseline"), under the
 * same benchmark name so that ratios compare the same job.
 *
 * "One operation" is what the benchmark's iteration counts; each prototype
 * says what it is, so the reported time per iteration is time per operation.
 */
#ifndef SLABMALLOC_BENCH_WORKLOADS_H
#define SLABMALLOC_BENCH_WORKLOADS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Orders in which wl_batch() frees a batch. */
enum wl_order {
	WL_LIFO,                        /* last allocated, first freed */
	WL_FIFO,                        /* first allocated, first freed */
	WL_RANDOM,                      /* a fixed pseudo-random permutation */
};

/* ---- single-threaded malloc family (workloads.c) ---- */

/* One op: p = malloc(size), write three bytes (start, middle, end), free. */
void wl_pair(size_t iters, size_t size);

/* One op: one object of a batch of @batch objects (16..512 bytes, a fixed
 * mix) allocated, written, and freed in @order. @iters is rounded up to a
 * whole number of batches. @batch is at most WL_BATCH_MAX. */
#define WL_BATCH_MAX 4096
void wl_batch(size_t iters, size_t batch, enum wl_order order);

/* One op: a buffer grown by realloc from 16 bytes to @max_size bytes in
 * steps of about 1/8 (about 90 reallocs for 1 MiB), writing the new tail
 * after each step as a string builder would, then freed. */
void wl_realloc_growth(size_t iters, size_t max_size);

/* One op: p = calloc(1, size), check that three bytes read zero, write one
 * byte, free. */
void wl_calloc(size_t iters, size_t size);

/* Fragmentation: allocate @nr_objects objects of mixed sizes (16 bytes to
 * 8 KiB, small ones most frequent), write every byte, free 15 of every 16
 * in a scattered pattern, measure, then free the rest. One op is the whole
 * cycle. The memory figures are those of the last cycle, in KiB. */
struct wl_frag_result {
	long fr_rss_base_kb;            /* VmRSS before the first allocation */
	long fr_rss_full_kb;            /* VmRSS with every object live */
	long fr_rss_after_free_kb;      /* VmRSS after freeing 15/16 of them */
	long fr_rss_end_kb;             /* VmRSS after freeing everything */
	long fr_live_kb;                /* bytes still live after the 15/16 free */
	long fr_total_kb;               /* bytes live at the peak */
};
void wl_fragmentation(size_t iters, size_t nr_objects, struct wl_frag_result *res);

/* ---- threads (wl_threads.c) ---- */

/* Producer/consumer: the calling thread allocates objects of @size bytes
 * and passes the pointers through a single-producer single-consumer ring to
 * a consumer thread, which reads and frees them (remote frees). One op is
 * one object handed over. Start once, run any number of times, stop. */
struct wl_prodcons;
struct wl_prodcons *wl_prodcons_start(size_t size);
void wl_prodcons_run(struct wl_prodcons *pc, size_t iters);
void wl_prodcons_stop(struct wl_prodcons *pc);

/* Churn: a working set of 256 slots; each op frees a random slot and
 * allocates a new object (16 bytes to 2 KiB, skewed small) into it. Every
 * thread running it has its own slots and its own random stream (@seed).
 * The slots are filled before and emptied after the @iters ops. */
void wl_churn(size_t iters, unsigned seed);

/* ---- slabmalloc's kernel API or its baseline (wl_kernel.c) ---- */

/* True when the process runs under slabmalloc (its exported API is found
 * with dlsym). Resolves every symbol the workloads below need. */
int wl_have_slabmalloc(void);

/* Name of the allocator serving malloc in this process: "slabmalloc",
 * "jemalloc", "mimalloc", "tcmalloc" or "glibc", found from the symbols
 * each one exports. */
const char *wl_allocator_name(void);

/* kmem_cache with a constructor: objects of @size bytes (>= 128) holding a
 * mutex, a list head and a zeroed buffer. Under slabmalloc they come from a
 * cache whose constructor builds that state once per object; otherwise from
 * malloc followed by the same initialisation on every allocation (and
 * pthread_mutex_destroy before free). One op is one object allocated, used
 * and freed, in batches of 32. Returns 1 if the slabmalloc API was used, 0
 * for the baseline, -1 (nothing run) if slabmalloc is loaded without its
 * kmem_cache API. The same holds for wl_mempool() and wl_pages(). Called
 * with @iters 0 it only reports the path (and creates the cache). */
int wl_kmem_cache_ctor(size_t iters, size_t size);

/* mempool: a pool with a reserve of 16 elements of @size bytes; one op is
 * one mempool_alloc + mempool_free, in batches of 8. Baseline: the kernel's
 * algorithm on malloc (try malloc first, fall back to a locked free list of
 * reserved elements; on free refill the reserve first). Returns as
 * wl_kmem_cache_ctor(). */
int wl_mempool(size_t iters, size_t size);

/* Page blocks of 2^@order pages: one op is one block allocated, written and
 * freed, in batches of 8. slabmalloc: __get_free_pages/free_pages;
 * baseline: posix_memalign(4096 << order, 4096 << order) and free. Returns
 * as wl_kmem_cache_ctor(). */
int wl_pages(size_t iters, unsigned int order);

/* One op: kmem_cache_alloc + write + kmem_cache_free of a @size-byte object
 * from a cache without constructor (the slab fast path; used by
 * callgrind_pair). Returns 0 if slabmalloc is not loaded. */
int wl_kmem_cache_pair(size_t iters, size_t size);

/* ---- memory given back and reused (wl_memory.c) ---- */

/* Resident set (KiB) at the steps of wl_idle and wl_threads_rss. */
struct wl_idle_result {
	long ir_rss_base_kb;            /* before */
	long ir_rss_full_kb;            /* all allocated (threads: all alive) */
	long ir_rss_freed_kb;           /* all freed (threads: all joined) */
	long ir_rss_idle_kb;            /* after the pause, with no call made */
};

/* One op: @total bytes allocated in 64 KiB blocks and written, all freed,
 * then @pause ms without any call. */
void wl_idle(size_t iters, size_t total, unsigned int pause, struct wl_idle_result *res);

/* One op: @nthreads threads alive at once, each having done 3000 mixed
 * allocations (16 B..64 KiB) and holding 64; then they free and exit, are
 * joined, and @pause ms pass without any call. */
void wl_threads_rss(size_t iters, unsigned int nthreads, unsigned int pause,
                    struct wl_idle_result *res);

/* One op: @nthreads threads (at most 64) at once, each replacing a random
 * one of its 256 slots @steps times with a block of 8 B..64 KiB
 * (log-uniform) written whole; then they free everything and exit, are
 * joined, and @pause ms pass without any call. Full: at the end of the
 * churn, every thread alive. */
void wl_churn_peak(size_t iters, unsigned int nthreads, size_t steps, unsigned int pause,
                   struct wl_idle_result *res);

/* One op: one of 20 live blocks of 5..25 MiB freed, another allocated and
 * each of its pages written once. */
void wl_huge(size_t iters);

/* ---- process memory (workloads.c) ---- */

/* Resident set (Rss of /proc/self/smaps_rollup, else VmRSS) and its peak
 * (VmHWM of /proc/self/status) of this process in KiB; -1 if unavailable. */
long wl_rss_kb(void);
long wl_peak_rss_kb(void);

/* Reset the peak RSS (VmHWM) to the current RSS by writing 5 to
 * /proc/self/clear_refs (Linux >= 4.0), so that each benchmark reports its
 * own peak. Returns 0 on success, -1 if the kernel refused. */
int wl_reset_peak_rss(void);

/* ---- threads that free each other's objects (wl_threads.c) ---- */

/* Teams of threads that free each other's objects (8..1024 bytes): the
 * calling thread and @nthreads - 1 helpers (2..WL_TEAM_MAX in all), started
 * once and living across runs. One op is one object allocated by one
 * member, handed to another (or kept) and freed; a run of @iters ops gives
 * each member @iters / nthreads (rounded up) and returns when every object
 * handed over has been freed.
 *   WL_TEAM_HANDOFF: a ring; each member passes batches of
 *                    WL_HANDOFF_BATCH objects to the next, which reads and
 *                    frees them.
 *   WL_TEAM_SERVER:  each member holds 1024 live requests; a new one
 *                    replaces a random one of its own or, one time in two,
 *                    goes to a random other member, which puts it in a slot
 *                    of its own and frees the one it replaces. */
#define WL_TEAM_MAX 8
#define WL_HANDOFF_BATCH 16
enum wl_team_kind { WL_TEAM_HANDOFF, WL_TEAM_SERVER };
struct wl_team;
struct wl_team *wl_team_start(enum wl_team_kind kind, unsigned int nthreads);
void wl_team_run(struct wl_team *t, size_t iters);
void wl_team_stop(struct wl_team *t);

/* ---- single-threaded programs with many sizes (wl_single.c) ---- */

/* One op: one step of a Barnes-Hut simulation of @nbodies bodies: the
 * octree is rebuilt from malloc'd nodes (internal nodes, and leaves of
 * 1..4 bodies grown by realloc: several sizes), walked once per body for
 * its force, and freed; bodies are a linked list of malloc'd records, and
 * one in 32 is replaced by a new record each step. Start builds the bodies
 * (not timed), stop frees them. */
struct wl_nbody;
struct wl_nbody *wl_nbody_start(size_t nbodies);
void wl_nbody_run(struct wl_nbody *nb, size_t iters);
void wl_nbody_stop(struct wl_nbody *nb);

/* One op: one instruction of an interpreter-like program: boxed numbers,
 * strings of 1..300 bytes, lists grown by realloc and hash tables, held in
 * WL_INTERP_VARS variables and released by reference counting (a container
 * freed releases what it holds), so frees come in mixed order and sizes.
 * Start fills the variables (not timed), stop releases them. */
#define WL_INTERP_VARS 4096
struct wl_interp;
struct wl_interp *wl_interp_start(void);
void wl_interp_run(struct wl_interp *in, size_t iters);
void wl_interp_stop(struct wl_interp *in);

/* xorshift32: a deterministic random stream that neither locks nor
 * allocates, so every allocator sees the same sizes in the same order. */
static inline unsigned int wl_xorshift32(unsigned int *state)
{
	unsigned int x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

/* Keep the compiler from optimising an allocation away: the pointer escapes
 * and memory is assumed read and written. */
static inline void wl_escape(void *p)
{
	__asm__ __volatile__("" : : "g"(p) : "memory");
}

#ifdef __cplusplus
}
#endif
#endif /* SLABMALLOC_BENCH_WORKLOADS_H */
