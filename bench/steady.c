/* SPDX-License-Identifier: MIT */
/*
 * bench/steady.c — a steady random workload over time: does the heap settle?
 *
 * Theory
 * ------
 * Two threads (option -t) each own 1024 slots (-s). Each step a thread
 * picks a random slot: an empty one gets a block of a random size, 1 byte
 * to 4 MiB, log-distributed (a random power of two 2^b, b uniform in
 * 0..21, plus a uniform part of up to 2^b), from malloc, calloc,
 * posix_memalign (alignment 16 B to 64 KiB) or realloc(NULL, n); a live one
 * is freed, resized by realloc to a new random size, or handed to the other
 * thread, which adopts it into a random slot of its own (freeing what was
 * there). Every byte of every block is written with a pattern of its
 * block's key and offset when it is made or grows, and checked before it is
 * freed, resized or adopted (calloc's bytes are checked to be zero first).
 * The distribution never changes, so the live set has a steady mean: an
 * allocator that reuses what it is given back reaches a steady heap.
 *
 * A time series is what matters, not a per-op time, so this is a program of
 * its own rather than a Google Benchmark workload. The main thread samples
 * once a second: the bytes live (each thread counts its own), the resident
 * set (wl_rss_kb), its peak (VmHWM), and the heap as the allocator reports
 * it: mallinfo2's arena + hblkhd under slabmalloc (the zone grown so far and
 * huge mappings) and glibc; jemalloc's stats.mapped; tcmalloc's
 * generic.heap_size minus pageheap_unmapped_bytes; mimalloc's committed
 * memory (mi_process_info). It prints a row every -r seconds and a summary
 * line at the end; the exit status is 1 when a byte was wrong or an
 * allocation failed.
 *
 *   steady [-d SECONDS] [-r SECONDS] [-t THREADS] [-s SLOTS] [-S SEED] [-v]
 *
 * Defaults: -d 30 -r 5 -t 2 -s 1024. The long mode is -d 900. With -v
 * under slabmalloc, its buddyinfo and meminfo are printed at the end while
 * the blocks are still live (slabmalloc_buddyinfo, slabmalloc_meminfo). The
 * harness's own memory (slot arrays, the hand-over rings) is mmap'd, never
 * from the allocator under test.
 */
#include "config.h"
#include "workloads.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS   16
#define INBOX         64                 /* hand-over ring per thread */
#define SIZE_BITS     22                 /* sizes up to 2^22 = 4 MiB */
#define ALIGN_MIN_LOG 4                  /* posix_memalign: 16 B ... */
#define ALIGN_MAX_LOG 16                 /* ... 64 KiB */
#define GOLDEN        0x9e3779b97f4a7c15ull

struct block {
	unsigned char *b_ptr;            /* NULL: empty slot */
	size_t b_size;                   /* bytes asked for */
	uint64_t b_key;                  /* pattern key */
};

/* A single-producer single-consumer ring: thread i hands to thread i+1. */
struct inbox {
	_Alignas(64) _Atomic size_t ib_head;
	_Alignas(64) _Atomic size_t ib_tail;
	struct block ib_ring[INBOX];
};

struct worker {
	_Alignas(64) _Atomic long w_live;        /* bytes held in its slots */
	_Atomic unsigned long w_ops;
	unsigned int w_id;
	uint64_t w_rng;
	struct block *w_slots;
	struct inbox w_inbox;                    /* blocks handed to it */
	pthread_t w_thread;
};

static unsigned int nthreads = 2, nslots = 1024;
static struct worker *workers;
static atomic_int stop;
static atomic_ulong errors;

static void fail(const char *what, const void *p, size_t size, size_t off)
{
	if (atomic_fetch_add(&errors, 1) < 10)
		fprintf(stderr, "steady: %s: block %p of %zu bytes, offset %zu\n", what, p,
		        size, off);
}

static uint64_t rng(uint64_t *s)
{
	/* xorshift64*: no lock, no allocation. */
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static size_t random_size(uint64_t *s)
{
	unsigned int b = (unsigned int)(rng(s) % SIZE_BITS);
	size_t base = (size_t)1 << b;
	return base + (size_t)(rng(s) % (base + 1));
}

/* The pattern: the 8-byte word at offset 8w is key ^ (w * GOLDEN). */
static inline uint64_t pat_word(uint64_t key, size_t w)
{
	return key ^ (w * GOLDEN);
}

static inline unsigned char pat_byte(uint64_t key, size_t off)
{
	uint64_t w = pat_word(key, off / 8);
	return (unsigned char)(w >> (8 * (off % 8)));
}

/* Write the pattern over [from, to) of @p. */
static void fill(unsigned char *p, size_t from, size_t to, uint64_t key)
{
	size_t i = from;
	for (; i < to && (i & 7); i++)
		p[i] = pat_byte(key, i);
	for (; i + 8 <= to; i += 8) {
		uint64_t w = pat_word(key, i / 8);
		memcpy(p + i, &w, 8);
	}
	for (; i < to; i++)
		p[i] = pat_byte(key, i);
}

/* Check the pattern over [0, to) of @p. */
static void check(const unsigned char *p, size_t to, uint64_t key, const char *when)
{
	size_t i = 0;
	for (; i + 8 <= to; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		if (w != pat_word(key, i / 8))
			goto bad;
	}
	for (; i < to; i++)
		if (p[i] != pat_byte(key, i))
			goto bad;
	return;
bad:
	fail(when, p, to, i);
}

static void check_zero(const unsigned char *p, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (p[i]) {
			fail("calloc'd byte not zero", p, size, i);
			return;
		}
}

static void release(struct worker *w, struct block *b, const char *when)
{
	check(b->b_ptr, b->b_size, b->b_key, when);
	free(b->b_ptr);
	atomic_fetch_sub_explicit(&w->w_live, (long)b->b_size, memory_order_relaxed);
	b->b_ptr = NULL;
}

static void make(struct worker *w, struct block *b)
{
	size_t size = random_size(&w->w_rng);
	unsigned int how = (unsigned int)(rng(&w->w_rng) % 10);
	unsigned char *p = NULL;

	if (how < 5) {
		p = malloc(size);
	} else if (how < 7) {
		p = calloc(1, size);
		if (p)
			check_zero(p, size);
	} else if (how < 9) {
		size_t align = (size_t)1 << (ALIGN_MIN_LOG + rng(&w->w_rng) %
		                             (ALIGN_MAX_LOG - ALIGN_MIN_LOG + 1));
		void *q = NULL;
		if (posix_memalign(&q, align, size) == 0) {
			p = q;
			if ((uintptr_t)p & (align - 1))
				fail("posix_memalign misaligned", p, size, 0);
		}
	} else {
		p = realloc(NULL, size);
	}
	if (!p) {
		fail("allocation failed", NULL, size, 0);
		return;
	}
	b->b_ptr = p;
	b->b_size = size;
	b->b_key = rng(&w->w_rng);
	fill(p, 0, size, b->b_key);
	atomic_fetch_add_explicit(&w->w_live, (long)size, memory_order_relaxed);
}

static void resize(struct worker *w, struct block *b)
{
	size_t size = random_size(&w->w_rng);
	check(b->b_ptr, b->b_size, b->b_key, "before realloc");
	unsigned char *p = realloc(b->b_ptr, size);
	if (!p) {
		fail("realloc failed", b->b_ptr, size, 0);
		return;
	}
	check(p, size < b->b_size ? size : b->b_size, b->b_key, "after realloc");
	if (size > b->b_size)
		fill(p, b->b_size, size, b->b_key);
	atomic_fetch_add_explicit(&w->w_live, (long)size - (long)b->b_size,
	                          memory_order_relaxed);
	b->b_ptr = p;
	b->b_size = size;
}

/* Hand @b to the next thread; false when its inbox is full. */
static bool hand_over(struct worker *w, struct block *b)
{
	struct worker *to = &workers[(w->w_id + 1) % nthreads];
	struct inbox *ib = &to->w_inbox;
	size_t head = atomic_load_explicit(&ib->ib_head, memory_order_relaxed);
	if (head - atomic_load_explicit(&ib->ib_tail, memory_order_acquire) == INBOX)
		return false;
	ib->ib_ring[head % INBOX] = *b;
	atomic_store_explicit(&ib->ib_head, head + 1, memory_order_release);
	atomic_fetch_sub_explicit(&w->w_live, (long)b->b_size, memory_order_relaxed);
	b->b_ptr = NULL;
	return true;
}

/* Adopt what other threads handed over, each into a random slot. */
static void adopt(struct worker *w)
{
	struct inbox *ib = &w->w_inbox;
	size_t tail = atomic_load_explicit(&ib->ib_tail, memory_order_relaxed);
	size_t head = atomic_load_explicit(&ib->ib_head, memory_order_acquire);
	for (; tail != head; tail++) {
		struct block nb = ib->ib_ring[tail % INBOX];
		struct block *b = &w->w_slots[rng(&w->w_rng) % nslots];
		check(nb.b_ptr, nb.b_size, nb.b_key, "handed over");
		if (b->b_ptr)
			release(w, b, "before free");
		*b = nb;
		atomic_fetch_add_explicit(&w->w_live, (long)nb.b_size, memory_order_relaxed);
	}
	atomic_store_explicit(&ib->ib_tail, tail, memory_order_release);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		adopt(w);
		struct block *b = &w->w_slots[rng(&w->w_rng) % nslots];
		if (!b->b_ptr) {
			make(w, b);
		} else {
			unsigned int what = (unsigned int)(rng(&w->w_rng) % 3);
			if (what == 0 || (what == 2 && !hand_over(w, b)))
				release(w, b, "before free");
			else if (what == 1)
				resize(w, b);
		}
		atomic_fetch_add_explicit(&w->w_ops, 1, memory_order_relaxed);
	}
	return NULL;
}

/* ---- the heap as each allocator reports it ---- */

struct mallinfo2_compat {
	size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks,
	       uordblks, fordblks, keepcost;
};

static const char *alloc_name;

/* glibc's statistics call, where the allocator has it (slabmalloc, glibc) */
static bool mallinfo2_of(struct mallinfo2_compat *m)
{
	struct mallinfo2_compat (*mi2)(void) =
		(struct mallinfo2_compat (*)(void))dlsym(RTLD_DEFAULT, "mallinfo2");
	if (!mi2)
		return false;
	*m = mi2();
	return true;
}

static long heap_kb(void)
{
	if (!strcmp(alloc_name, "slabmalloc") || !strcmp(alloc_name, "glibc")) {
		struct mallinfo2_compat m;
		if (!mallinfo2_of(&m))
			return -1;
		return (long)((m.arena + m.hblkhd) >> 10);
	}
	if (!strcmp(alloc_name, "jemalloc")) {
		int (*ctl)(const char *, void *, size_t *, void *, size_t) =
			(int (*)(const char *, void *, size_t *, void *, size_t))
			dlsym(RTLD_DEFAULT, "mallctl");
		uint64_t epoch = 1;
		size_t mapped = 0, len = sizeof mapped, elen = sizeof epoch;
		if (!ctl || ctl("epoch", &epoch, &elen, &epoch, elen) ||
		    ctl("stats.mapped", &mapped, &len, NULL, 0))
			return -1;
		return (long)(mapped >> 10);
	}
	if (!strcmp(alloc_name, "tcmalloc")) {
		int (*prop)(const char *, size_t *) = (int (*)(const char *, size_t *))
			dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty");
		size_t heap = 0, unmapped = 0;
		if (!prop || !prop("generic.heap_size", &heap) ||
		    !prop("tcmalloc.pageheap_unmapped_bytes", &unmapped))
			return -1;
		return (long)((heap - unmapped) >> 10);
	}
	if (!strcmp(alloc_name, "mimalloc")) {
		void (*info)(size_t *, size_t *, size_t *, size_t *, size_t *, size_t *,
		             size_t *, size_t *) =
			(void (*)(size_t *, size_t *, size_t *, size_t *, size_t *, size_t *,
			          size_t *, size_t *))dlsym(RTLD_DEFAULT, "mi_process_info");
		size_t e, u, s, rss, prss, commit = 0, pcommit, pf;
		if (!info)
			return -1;
		info(&e, &u, &s, &rss, &prss, &commit, &pcommit, &pf);
		return (long)(commit >> 10);
	}
	return -1;
}

static void *map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	               -1, 0);
	if (p == MAP_FAILED) {
		perror("steady: mmap");
		exit(2);
	}
	return p;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double mib(long kb)
{
	return kb < 0 ? -1.0 : (double)kb / 1024.0;
}

int main(int argc, char **argv)
{
	unsigned int seconds = 30, report = 5;
	uint64_t seed = 1;
	bool verbose = false;
	int c;

	while ((c = getopt(argc, argv, "d:r:t:s:S:v")) != -1) {
		switch (c) {
		case 'd': seconds = (unsigned int)strtoul(optarg, NULL, 10); break;
		case 'r': report = (unsigned int)strtoul(optarg, NULL, 10); break;
		case 't': nthreads = (unsigned int)strtoul(optarg, NULL, 10); break;
		case 's': nslots = (unsigned int)strtoul(optarg, NULL, 10); break;
		case 'S': seed = strtoull(optarg, NULL, 10); break;
		case 'v': verbose = true; break;
		default:
			fprintf(stderr, "usage: steady [-d SECONDS] [-r SECONDS] [-t THREADS] "
			        "[-s SLOTS] [-S SEED] [-v]\n");
			return 2;
		}
	}
	if (nthreads < 1 || nthreads > MAX_THREADS || nslots < 1 || !report) {
		fprintf(stderr, "steady: 1..%d threads, at least one slot, -r >= 1\n",
		        MAX_THREADS);
		return 2;
	}
	alloc_name = wl_allocator_name();
	workers = map(sizeof *workers * nthreads);
	for (unsigned int i = 0; i < nthreads; i++) {
		struct worker *w = &workers[i];
		w->w_id = i;
		w->w_rng = (seed + 1) * GOLDEN + i * 0x632be59bd9b4e019ull;
		if (!w->w_rng)
			w->w_rng = 1;
		w->w_slots = map(sizeof *w->w_slots * nslots);
	}
	printf("# steady: %s, %u threads x %u slots, sizes 1 B - 4 MiB "
	       "(log), seed %llu, %u s\n", alloc_name, nthreads, nslots,
	       (unsigned long long)seed, seconds);
	/* -v: the heap's parts as mallinfo2 gives them (arena, hblkhd, and
	 * fordblks, the free bytes inside them), and the most bytes live so
	 * far (sampled each second) */
	struct mallinfo2_compat parts;
	bool show_parts = verbose && mallinfo2_of(&parts);
	printf("# %6s %12s %10s %10s %10s %10s", "t_s", "ops", "live_mib", "rss_mib",
	       "peak_mib", "heap_mib");
	if (show_parts)
		printf(" %10s %10s %10s %10s", "arena_mib", "hblkhd_mib", "free_mib",
		       "most_live");
	printf("\n");
	fflush(stdout);

	double t0 = now_s();
	for (unsigned int i = 0; i < nthreads; i++)
		if (pthread_create(&workers[i].w_thread, NULL, worker_main, &workers[i])) {
			fprintf(stderr, "steady: pthread_create failed\n");
			return 2;
		}

	long live_max = 0, heap_q = -1, heap_h = -1, heap_end = -1, heap_max = -1;
	long rss_end = 0;
	for (unsigned int t = 1; t <= seconds; t++) {
		double wake = t0 + t;
		while (now_s() < wake)
			usleep((useconds_t)((wake - now_s()) * 1e6) + 1000);
		long live = 0;
		unsigned long ops = 0;
		for (unsigned int i = 0; i < nthreads; i++) {
			live += atomic_load_explicit(&workers[i].w_live, memory_order_relaxed);
			ops += atomic_load_explicit(&workers[i].w_ops, memory_order_relaxed);
		}
		long rss = wl_rss_kb(), peak = wl_peak_rss_kb(), heap = heap_kb();
		if (live > live_max)
			live_max = live;
		if (heap > heap_max)
			heap_max = heap;
		if (t == (seconds + 3) / 4)
			heap_q = heap;
		if (t == (seconds + 1) / 2)
			heap_h = heap;
		heap_end = heap;
		rss_end = rss;
		if (t % report == 0 || t == seconds) {
			printf("  %6u %12lu %10.1f %10.1f %10.1f %10.1f", t, ops,
			       (double)live / 1048576.0, mib(rss), mib(peak), mib(heap));
			if (show_parts && mallinfo2_of(&parts))
				printf(" %10.1f %10.1f %10.1f %10.1f",
				       mib((long)(parts.arena >> 10)),
				       mib((long)(parts.hblkhd >> 10)),
				       mib((long)(parts.fordblks >> 10)),
				       (double)live_max / 1048576.0);
			printf("\n");
			fflush(stdout);
		}
	}
	atomic_store(&stop, 1);
	unsigned long ops = 0;
	for (unsigned int i = 0; i < nthreads; i++) {
		pthread_join(workers[i].w_thread, NULL);
		ops += workers[i].w_ops;
	}
	if (verbose && !strcmp(alloc_name, "slabmalloc")) {
		static const char *const names[] = { "slabmalloc_buddyinfo",
		                                     "slabmalloc_meminfo" };
		fflush(stdout);
		for (unsigned int i = 0; i < 2; i++) {
			void (*fn)(FILE *) = (void (*)(FILE *))dlsym(RTLD_DEFAULT, names[i]);
			if (fn)
				fn(stdout);
		}
	}
	/* Empty everything (checking it): what is handed over and not adopted
	 * is adopted now, then every slot is freed. */
	for (unsigned int i = 0; i < nthreads; i++)
		adopt(&workers[i]);
	for (unsigned int i = 0; i < nthreads; i++)
		for (unsigned int j = 0; j < nslots; j++)
			if (workers[i].w_slots[j].b_ptr)
				release(&workers[i], &workers[i].w_slots[j], "at the end");
	/* heap growth over the second half: end / middle. */
	printf("summary allocator=%s seconds=%u ops=%lu errors=%lu live_max_mib=%.1f "
	       "peak_rss_mib=%.1f rss_end_mib=%.1f heap_q1_mib=%.1f heap_mid_mib=%.1f "
	       "heap_end_mib=%.1f heap_max_mib=%.1f\n", alloc_name, seconds, ops,
	       atomic_load(&errors), (double)live_max / 1048576.0, mib(wl_peak_rss_kb()),
	       mib(rss_end), mib(heap_q), mib(heap_h), mib(heap_end), mib(heap_max));
	return atomic_load(&errors) ? 1 : 0;
}
