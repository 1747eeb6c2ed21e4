/* SPDX-License-Identifier: MIT */
/*
 * bench/callgrind_pair.c — a fixed number of allocation pairs, for counting
 * instructions with valgrind --tool=callgrind.
 *
 *   callgrind_pair SIZE MODE ITERATIONS
 *
 * MODE is
 *   tight    malloc(SIZE), write one byte, free: the hottest possible path;
 *   batch64  64 mallocs, then the 64 frees: the per-thread cache has to
 *            hold 64 objects and give them back (ITERATIONS is rounded up
 *            to a multiple of 64);
 *   kmem     slabmalloc_kmem_cache_alloc + write + slabmalloc_kmem_cache_free
 *            from a cache of SIZE-byte objects (the slab fast path, looked
 *            up with dlsym: exit status 77 when slabmalloc is not loaded).
 *
 * Instructions per pair are measured by difference: run with N1 and N2
 * iterations and divide Ir(N2) - Ir(N1) by N2 - N1. Program start-up,
 * allocator initialisation and the first slab of each size cost the same in
 * both runs and cancel, so no client request or toggle is needed and the
 * program runs unchanged under every allocator (callgrind, unlike memcheck,
 * does not replace malloc, so LD_PRELOAD works under it).
 *
 * Like bench_alloc, this program does not link libslabmalloc.
 */
#include "config.h"
#include "workloads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SKIP_STATUS 77                  /* the automake convention for "skipped" */

static int usage(void)
{
	fprintf(stderr, "usage: callgrind_pair SIZE tight|batch64|kmem ITERATIONS\n");
	return 2;
}

static void run_tight(size_t size, size_t iters)
{
	for (size_t i = 0; i < iters; i++) {
		char *p = malloc(size);

		if (!p) {
			fprintf(stderr, "callgrind_pair: malloc(%zu) failed\n", size);
			exit(1);
		}
		p[0] = 1;
		wl_escape(p);
		free(p);
	}
}

static void run_batch64(size_t size, size_t iters)
{
	void *ptrs[64];

	for (size_t done = 0; done < iters; done += 64) {
		for (int i = 0; i < 64; i++) {
			char *p = malloc(size);

			if (!p) {
				fprintf(stderr, "callgrind_pair: malloc(%zu) failed\n", size);
				exit(1);
			}
			p[0] = 1;
			ptrs[i] = p;
		}
		wl_escape(ptrs);
		for (int i = 0; i < 64; i++)
			free(ptrs[i]);
	}
}

int main(int argc, char **argv)
{
	char *end;
	unsigned long long size, iters;

	if (argc != 4)
		return usage();
	size = strtoull(argv[1], &end, 0);
	if (*end || size == 0)
		return usage();
	iters = strtoull(argv[3], &end, 0);
	if (*end)
		return usage();
	if (strcmp(argv[2], "tight") == 0) {
		run_tight(size, iters);
	} else if (strcmp(argv[2], "batch64") == 0) {
		run_batch64(size, iters);
	} else if (strcmp(argv[2], "kmem") == 0) {
		if (!wl_kmem_cache_pair(iters, size)) {
			fprintf(stderr, "callgrind_pair: slabmalloc's kmem_cache API is not loaded\n");
			return SKIP_STATUS;
		}
	} else {
		return usage();
	}
	return 0;
}
