/* SPDX-License-Identifier: MIT */
/*
 * tests/preload/aslimit.c — the program aslimit.sh runs with and without
 * LD_PRELOAD=libslabmalloc.so (it does not link the allocator).
 *
 *   aslimit vmsize       print VmSize (kB) once the allocator has served a
 *                        few requests
 *   aslimit fill [KB [BYTES]]
 *                        with KB (not 0): allocate and free a little, then
 *                        lower RLIMIT_AS to KB (the limit set after start);
 *                        then malloc blocks of BYTES (default 1 MiB) until
 *                        NULL, and try a thread (default attributes) while
 *                        they are held and again after they are freed.
 *                        Prints "blocks N errno E held T freed T".
 *
 * Bounded by alarm(): a hang fails the test instead of stalling it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define BLOCK ((size_t)1 << 20)
#define MAX_BLOCKS 65536                /* far past any limit used */

static long vmsize_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "VmSize:", 7) == 0)
			kb = strtol(line + 7, NULL, 10);
	fclose(f);
	return kb;
}

static void *thread_main(void *arg)
{
	(void)arg;
	/* A thread's own small allocations, as a real one would make. */
	char *p = malloc(100);
	if (p)
		p[0] = 1;
	free(p);
	return (void *)1;
}

/* 1 when a thread can be created and joined. */
static int try_thread(void)
{
	pthread_t t;
	void *ret = NULL;
	if (pthread_create(&t, NULL, thread_main, NULL) != 0)
		return 0;
	pthread_join(t, &ret);
	return ret == (void *)1;
}

int main(int argc, char **argv)
{
	alarm(120);
	if (argc >= 2 && strcmp(argv[1], "vmsize") == 0) {
		void *keep[16];
		for (int i = 0; i < 16; i++)
			keep[i] = malloc((size_t)16 << i);
		printf("%ld\n", vmsize_kb());
		for (int i = 0; i < 16; i++)
			free(keep[i]);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "fill") != 0) {
		fprintf(stderr, "usage: aslimit vmsize | fill [KB [BYTES]]\n");
		return 2;
	}
	static void *blocks[MAX_BLOCKS];
	size_t size = argc >= 4 ? (size_t)strtoull(argv[3], NULL, 10) : BLOCK;
	if (size == 0)
		size = BLOCK;
	if (argc >= 3 && strtoull(argv[2], NULL, 10) != 0) {
		/* The allocator is running and has served large and small
		 * requests before the limit comes. */
		for (int i = 0; i < 64; i++)
			blocks[i] = malloc(BLOCK);
		for (int i = 0; i < 64; i++)
			free(blocks[i]);
		for (int i = 0; i < 1000; i++)
			blocks[i] = malloc(48);
		for (int i = 0; i < 1000; i++)
			free(blocks[i]);
		struct rlimit rl;
		rl.rlim_cur = rl.rlim_max = (rlim_t)strtoull(argv[2], NULL, 10) << 10;
		if (setrlimit(RLIMIT_AS, &rl) != 0) {
			perror("setrlimit");
			return 1;
		}
	}
	size_t n = 0;
	int err = 0;
	while (n < MAX_BLOCKS) {
		errno = 0;
		void *p = malloc(size);
		if (!p) {
			err = errno;
			break;
		}
		blocks[n++] = p;
	}
	int held = try_thread();
	for (size_t i = 0; i < n; i++)
		free(blocks[i]);
	int freed = try_thread();
	printf("blocks %zu errno %d held %d freed %d\n", n, err, held, freed);
	return 0;
}
