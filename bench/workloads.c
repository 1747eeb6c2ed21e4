/* SPDX-License-Identifier: MIT */
/*
 * bench/workloads.c — single-threaded malloc-family workloads and the
 * process memory probes.
 *
 * Theory
 * ------
 * Each workload performs @iters operations of one allocation pattern and
 * nothing else; the caller (Google Benchmark through bench_main.cc, or any
 * other driver) owns the clock. Three rules keep the numbers honest:
 *
 *  1. Memory is touched, a little: a few bytes of every block are written,
 *     so an allocator cannot win by handing out memory nobody could use,
 *     and wl_escape() stops the compiler from deleting malloc/free pairs.
 *  2. Every allocator runs the same job: the size mixes and the free
 *     permutations come from a fixed xorshift seed, computed before the
 *     timed loop, never from rand() (which may lock or allocate).
 *  3. The harness's own bookkeeping never calls the allocator under test:
 *     pointer arrays are static or mmap'd, /proc is read with open/read.
 *
 * Nothing here is thread-safe except wl_rss_kb()/wl_peak_rss_kb(): Google
 * Benchmark runs single-threaded benchmarks on one thread at a time. The
 * multi-threaded workloads live in wl_threads.c.
 */
#include "config.h"
#include "workloads.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void die(const char *what)
{
	/* The benchmark is meaningless once an allocation fails; say which. */
	fprintf(stderr, "bench: %s\n", what);
	abort();
}

/* Write a few bytes of a block: first, middle and last. */
static inline void touch(char *p, size_t size)
{
	p[0] = 1;
	p[size / 2] = 2;
	p[size - 1] = 3;
}

void wl_pair(size_t iters, size_t size)
{
	for (size_t i = 0; i < iters; i++) {
		char *p = malloc(size);

		if (!p)
			die("malloc failed in wl_pair");
		touch(p, size);
		wl_escape(p);
		free(p);
	}
}

/* Batch state: the size mix (16..512 bytes, multiples of 8 and odd sizes
 * alike, as real programs ask) and the random free permutation. */
static size_t batch_sizes[WL_BATCH_MAX];
static unsigned int batch_perm[WL_BATCH_MAX];
static size_t batch_perm_n;             /* batch the permutation is for */
static void *batch_ptrs[WL_BATCH_MAX];

static void batch_prepare(size_t batch)
{
	unsigned int seed = 0x9e3779b9u;

	if (batch_sizes[0] == 0)
		for (size_t i = 0; i < WL_BATCH_MAX; i++)
			batch_sizes[i] = 16 + wl_xorshift32(&seed) % (512 - 16 + 1);
	if (batch_perm_n == batch)
		return;
	seed = 0x85ebca6bu;
	for (size_t i = 0; i < batch; i++)
		batch_perm[i] = (unsigned int)i;
	for (size_t i = batch - 1; i > 0; i--) {  /* Fisher-Yates */
		size_t j = wl_xorshift32(&seed) % (i + 1);
		unsigned int t = batch_perm[i];

		batch_perm[i] = batch_perm[j];
		batch_perm[j] = t;
	}
	batch_perm_n = batch;
}

void wl_batch(size_t iters, size_t batch, enum wl_order order)
{
	if (batch == 0 || batch > WL_BATCH_MAX)
		die("wl_batch: batch out of range");
	batch_prepare(batch);
	for (size_t done = 0; done < iters; done += batch) {
		for (size_t i = 0; i < batch; i++) {
			char *p = malloc(batch_sizes[i]);

			if (!p)
				die("malloc failed in wl_batch");
			touch(p, batch_sizes[i]);
			batch_ptrs[i] = p;
		}
		wl_escape(batch_ptrs);
		switch (order) {
		case WL_LIFO:
			for (size_t i = batch; i-- > 0;)
				free(batch_ptrs[i]);
			break;
		case WL_FIFO:
			for (size_t i = 0; i < batch; i++)
				free(batch_ptrs[i]);
			break;
		case WL_RANDOM:
			for (size_t i = 0; i < batch; i++)
				free(batch_ptrs[batch_perm[i]]);
			break;
		}
	}
}

void wl_realloc_growth(size_t iters, size_t max_size)
{
	if (max_size < 16)
		die("wl_realloc_growth: max_size < 16");
	for (size_t i = 0; i < iters; i++) {
		size_t n = 16;
		char *p = malloc(n);

		if (!p)
			die("malloc failed in wl_realloc_growth");
		memset(p, 'a', n);
		while (n < max_size) {
			size_t nn = n + n / 8 + 16;
			char *q;

			if (nn > max_size)
				nn = max_size;
			q = realloc(p, nn);
			if (!q)
				die("realloc failed in wl_realloc_growth");
			/* realloc must have kept the old contents. */
			if (q[0] != 'a' || q[n - 1] != 'a')
				die("realloc lost the contents in wl_realloc_growth");
			memset(q + n, 'a', nn - n);
			p = q;
			n = nn;
		}
		wl_escape(p);
		free(p);
	}
}

void wl_calloc(size_t iters, size_t size)
{
	for (size_t i = 0; i < iters; i++) {
		volatile char *p = calloc(1, size);

		if (!p)
			die("calloc failed in wl_calloc");
		if (p[0] || p[size / 2] || p[size - 1])
			die("calloc returned memory that is not zero");
		p[size / 2] = 1;
		free((void *)p);
	}
}

/* Fragmentation object sizes: 70% 16..256, 25% 257..2048, 5% 2049..8192
 * bytes, the skew of a typical heap (many small nodes, some buffers). */
static size_t frag_size(unsigned int *seed)
{
	uint32_t r = wl_xorshift32(seed) % 100;

	if (r < 70)
		return 16 + wl_xorshift32(seed) % (256 - 16 + 1);
	if (r < 95)
		return 257 + wl_xorshift32(seed) % (2048 - 257 + 1);
	return 2049 + wl_xorshift32(seed) % (8192 - 2049 + 1);
}

/* The survivors of the scattered free: one object in 16, chosen by a hash
 * of its index so that they land all over the heap rather than in a run. */
static int frag_keep(size_t i)
{
	uint32_t h = (uint32_t)i * 0x9e3779b1u;

	return (h >> 28) == 0;
}

void wl_fragmentation(size_t iters, size_t nr_objects, struct wl_frag_result *res)
{
	size_t map_len = nr_objects * (sizeof(void *) + sizeof(uint32_t));
	void **ptrs;
	uint32_t *sizes;

	if (nr_objects == 0)
		die("wl_fragmentation: no objects");
	/* The bookkeeping arrays come from mmap so they are not part of the
	 * heap being measured. */
	ptrs = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ptrs == MAP_FAILED)
		die("mmap failed in wl_fragmentation");
	sizes = (uint32_t *)(ptrs + nr_objects);
	for (size_t it = 0; it < iters; it++) {
		unsigned int seed = 0x2545f491u;
		size_t total = 0, live = 0;

		memset(res, 0, sizeof(*res));
		res->fr_rss_base_kb = wl_rss_kb();
		for (size_t i = 0; i < nr_objects; i++) {
			sizes[i] = (uint32_t)frag_size(&seed);
			ptrs[i] = malloc(sizes[i]);
			if (!ptrs[i])
				die("malloc failed in wl_fragmentation");
			memset(ptrs[i], (int)(i & 0xff), sizes[i]);
			total += sizes[i];
		}
		res->fr_rss_full_kb = wl_rss_kb();
		res->fr_total_kb = (long)(total / 1024);
		for (size_t i = 0; i < nr_objects; i++) {
			if (frag_keep(i)) {
				live += sizes[i];
				continue;
			}
			free(ptrs[i]);
			ptrs[i] = NULL;
		}
		res->fr_rss_after_free_kb = wl_rss_kb();
		res->fr_live_kb = (long)(live / 1024);
		for (size_t i = 0; i < nr_objects; i++) {
			if (!ptrs[i])
				continue;
			/* The survivors must be intact after their neighbours left. */
			if (((unsigned char *)ptrs[i])[sizes[i] - 1] != (i & 0xff))
				die("an object changed while others were freed");
			free(ptrs[i]);
		}
		res->fr_rss_end_kb = wl_rss_kb();
	}
	munmap(ptrs, map_len);
}

/* Read one "Name:   N kB" field of a /proc/self file without allocating. */
static long proc_field_kb(const char *file, const char *field)
{
	char buf[4096];
	size_t flen = strlen(field);
	ssize_t n;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (char *line = buf; line && *line;) {
		char *next = strchr(line, '\n');

		if (strncmp(line, field, flen) == 0 && line[flen] == ':')
			return strtol(line + flen + 1, NULL, 10);
		line = next ? next + 1 : NULL;
	}
	return -1;
}

long wl_rss_kb(void)
{
	/* smaps_rollup walks the page tables: exact, where VmRSS comes from
	 * per-CPU counters that may lag by hundreds of KiB. */
	long kb = proc_field_kb("/proc/self/smaps_rollup", "Rss");

	return kb >= 0 ? kb : proc_field_kb("/proc/self/status", "VmRSS");
}

long wl_peak_rss_kb(void)
{
	return proc_field_kb("/proc/self/status", "VmHWM");
}

int wl_reset_peak_rss(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, "5", 1) == 1;
	close(fd);
	return ok ? 0 : -1;
}
