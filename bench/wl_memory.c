/* SPDX-License-Identifier: MIT */
/*
 * bench/wl_memory.c — workloads about memory given back and memory reused:
 * a heap freed before the program goes idle, many threads that come and
 * go, several threads churning mixed sizes at once, and huge blocks
 * replaced in a loop.
 *
 * Theory
 * ------
 * Idle. A program builds a large heap of 64 KiB blocks, frees all of it
 * and then makes no call for two seconds (a server between bursts, a tool
 * that keeps running after its big phase). What matters is the resident
 * set at the end of the pause: memory an allocator keeps for reuse is only
 * honest if it goes back on a time base, without waiting for a call that
 * never comes. The time of one op includes the pause (the same for all).
 *
 * Threads. Many threads are alive at once (they meet at a barrier), each
 * having done a few thousand mixed allocations and holding some of them:
 * the resident set then shows what the per-thread caches cost when they
 * are multiplied by the thread count. The threads then free what they hold
 * and exit, and after a two-second pause the resident set shows whether
 * the caches of exited threads went back.
 *
 * Churn peak. Eight threads run at once, each replacing a random one of
 * its 256 slots per step with a block of 8 B to 64 KiB (log-uniform, so
 * as many blocks below 256 B as between 2 and 64 KiB, as a server's
 * requests, headers and buffers), written whole; a short run of 20000
 * steps a thread. The live set is about 15 MiB; the peak resident set above
 * it is what the per-thread caches and the shared layers keep on top of it
 * while several threads churn at once. After the threads have freed
 * everything and exited the resident set is read at once and again after a
 * one-second pause: what freed pages stay dirty, and for how long.
 *
 * Huge. Twenty live blocks of random sizes between 5 and 25 MiB, built by
 * the first call and kept (so every op is a steady-state step); each op
 * frees a random one and allocates another, touching each of its
 * pages once (as a program that fills a buffer does). Served by a mapping
 * per block, each op costs an mmap, a munmap and a page fault per page;
 * an allocator that reuses freed regions (and grows them with mremap) pays
 * for the pages it did not have only.
 *
 * The bookkeeping arrays are static or on the stack, never from the
 * allocator under test. Fork: none of this state matters across fork.
 */
#include "config.h"
#include "workloads.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die(const char *what)
{
	fprintf(stderr, "bench: %s\n", what);
	abort();
}

static void pause_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* ---- idle ---- */

#define IDLE_BLOCK  (64u << 10)
#define IDLE_MAX_BLOCKS 65536

void wl_idle(size_t iters, size_t total, unsigned int pause, struct wl_idle_result *res)
{
	static void *blocks[IDLE_MAX_BLOCKS];
	size_t n = total / IDLE_BLOCK;

	if (n == 0 || n > IDLE_MAX_BLOCKS)
		die("wl_idle: total out of range");
	for (size_t it = 0; it < iters; it++) {
		memset(res, 0, sizeof(*res));
		res->ir_rss_base_kb = wl_rss_kb();
		for (size_t i = 0; i < n; i++) {
			blocks[i] = malloc(IDLE_BLOCK);
			if (!blocks[i])
				die("malloc failed in wl_idle");
			memset(blocks[i], (int)(i & 0xff), IDLE_BLOCK);
		}
		res->ir_rss_full_kb = wl_rss_kb();
		for (size_t i = 0; i < n; i++)
			free(blocks[i]);
		res->ir_rss_freed_kb = wl_rss_kb();
		pause_ms(pause);
		res->ir_rss_idle_kb = wl_rss_kb();
	}
}

/* ---- threads ---- */

#define THR_OPS    3000                 /* allocations per thread */
#define THR_SLOTS  64                   /* objects a thread holds */

struct thr_shared {
	pthread_barrier_t ts_met;           /* every thread has done its work */
	pthread_barrier_t ts_go;            /* the RSS was read: free and exit */
};

/* Sizes: 70% 16..256 bytes, 25% 257..4096, 5% 4 KiB..64 KiB. */
static size_t thr_size(unsigned int *seed)
{
	unsigned int r = wl_xorshift32(seed) % 20;

	if (r < 14)
		return 16 + wl_xorshift32(seed) % 241;
	if (r < 19)
		return 257 + wl_xorshift32(seed) % (4096 - 257 + 1);
	return 4097 + wl_xorshift32(seed) % (65536 - 4097 + 1);
}

static void *thr_main(void *arg)
{
	struct thr_shared *sh = arg;
	void *slots[THR_SLOTS] = { 0 };
	unsigned int seed = (unsigned int)(uintptr_t)&slots | 1u;

	for (unsigned int i = 0; i < THR_OPS; i++) {
		unsigned int j = wl_xorshift32(&seed) % THR_SLOTS;
		size_t size = thr_size(&seed);

		free(slots[j]);
		slots[j] = malloc(size);
		if (!slots[j])
			die("malloc failed in wl_threads_rss");
		memset(slots[j], 1, size);
	}
	pthread_barrier_wait(&sh->ts_met);
	pthread_barrier_wait(&sh->ts_go);
	for (unsigned int j = 0; j < THR_SLOTS; j++)
		free(slots[j]);
	return NULL;
}

void wl_threads_rss(size_t iters, unsigned int nthreads, unsigned int pause,
                    struct wl_idle_result *res)
{
	static pthread_t tids[4096];
	struct thr_shared sh;
	pthread_attr_t attr;

	if (nthreads == 0 || nthreads > 4096)
		die("wl_threads_rss: thread count out of range");
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, (size_t)256 << 10);
	for (size_t it = 0; it < iters; it++) {
		memset(res, 0, sizeof(*res));
		res->ir_rss_base_kb = wl_rss_kb();
		pthread_barrier_init(&sh.ts_met, NULL, nthreads + 1);
		pthread_barrier_init(&sh.ts_go, NULL, nthreads + 1);
		for (unsigned int t = 0; t < nthreads; t++)
			if (pthread_create(&tids[t], &attr, thr_main, &sh) != 0)
				die("pthread_create failed in wl_threads_rss");
		pthread_barrier_wait(&sh.ts_met);
		res->ir_rss_full_kb = wl_rss_kb();
		pthread_barrier_wait(&sh.ts_go);
		for (unsigned int t = 0; t < nthreads; t++)
			pthread_join(tids[t], NULL);
		res->ir_rss_freed_kb = wl_rss_kb();
		pthread_barrier_destroy(&sh.ts_met);
		pthread_barrier_destroy(&sh.ts_go);
		pause_ms(pause);
		res->ir_rss_idle_kb = wl_rss_kb();
	}
	pthread_attr_destroy(&attr);
}

/* ---- churn peak ---- */

#define CH8_SLOTS 256

struct ch8_shared {
	size_t            cs_steps;         /* steps per thread */
	pthread_barrier_t cs_done;          /* every thread has churned */
	pthread_barrier_t cs_go;            /* the RSS was read: free and exit */
};

/* 8 B .. 64 KiB, log-uniform: a power of two 2^3..2^15, then uniform in
 * [2^k, 2^(k+1)]. */
static size_t ch8_size(unsigned int *seed)
{
	unsigned int k = 3 + wl_xorshift32(seed) % 13;
	size_t lo = (size_t)1 << k;

	return lo + wl_xorshift32(seed) % (lo + 1);
}

static void *ch8_main(void *arg)
{
	struct ch8_shared *sh = arg;
	void *slots[CH8_SLOTS] = { 0 };
	unsigned int seed = (unsigned int)(uintptr_t)&slots | 1u;

	for (size_t i = 0; i < sh->cs_steps; i++) {
		unsigned int j = wl_xorshift32(&seed) % CH8_SLOTS;
		size_t size = ch8_size(&seed);

		free(slots[j]);
		slots[j] = malloc(size);
		if (!slots[j])
			die("malloc failed in wl_churn_peak");
		memset(slots[j], (int)(i & 0xff), size);
	}
	pthread_barrier_wait(&sh->cs_done);
	pthread_barrier_wait(&sh->cs_go);
	for (unsigned int j = 0; j < CH8_SLOTS; j++)
		free(slots[j]);
	return NULL;
}

void wl_churn_peak(size_t iters, unsigned int nthreads, size_t steps, unsigned int pause,
                   struct wl_idle_result *res)
{
	static pthread_t tids[64];
	struct ch8_shared sh;
	pthread_attr_t attr;

	if (nthreads == 0 || nthreads > 64)
		die("wl_churn_peak: thread count out of range");
	sh.cs_steps = steps;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, (size_t)256 << 10);
	for (size_t it = 0; it < iters; it++) {
		memset(res, 0, sizeof(*res));
		res->ir_rss_base_kb = wl_rss_kb();
		pthread_barrier_init(&sh.cs_done, NULL, nthreads + 1);
		pthread_barrier_init(&sh.cs_go, NULL, nthreads + 1);
		for (unsigned int t = 0; t < nthreads; t++)
			if (pthread_create(&tids[t], &attr, ch8_main, &sh) != 0)
				die("pthread_create failed in wl_churn_peak");
		pthread_barrier_wait(&sh.cs_done);
		res->ir_rss_full_kb = wl_rss_kb();
		pthread_barrier_wait(&sh.cs_go);
		for (unsigned int t = 0; t < nthreads; t++)
			pthread_join(tids[t], NULL);
		res->ir_rss_freed_kb = wl_rss_kb();
		pthread_barrier_destroy(&sh.cs_done);
		pthread_barrier_destroy(&sh.cs_go);
		pause_ms(pause);
		res->ir_rss_idle_kb = wl_rss_kb();
	}
	pthread_attr_destroy(&attr);
}

/* ---- huge ---- */

#define HUGE_LIVE 20
#define HUGE_MIN  (5u << 20)
#define HUGE_MAX  (25u << 20)

static char *huge_alloc(unsigned int *seed)
{
	size_t size = HUGE_MIN + (size_t)(wl_xorshift32(seed) % ((HUGE_MAX - HUGE_MIN) / 4096 + 1)) * 4096;
	char *p = malloc(size);

	if (!p)
		die("malloc failed in wl_huge");
	for (size_t off = 0; off < size; off += 4096)
		p[off] = 1;
	p[size - 1] = 2;
	return p;
}

void wl_huge(size_t iters)
{
	/* The live set is built by the first call and kept across calls (and
	 * timed runs), so that every op is a steady-state replacement. */
	static char *live[HUGE_LIVE];
	static unsigned int seed = 0x5bd1e995u;

	if (!live[0])
		for (unsigned int i = 0; i < HUGE_LIVE; i++)
			live[i] = huge_alloc(&seed);
	for (size_t i = 0; i < iters; i++) {
		unsigned int j = wl_xorshift32(&seed) % HUGE_LIVE;

		free(live[j]);
		live[j] = huge_alloc(&seed);
	}
	wl_escape(live);
}
